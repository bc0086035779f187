"""The game client's frame logic, without a window: network, prediction, smoothing, interpolation.

Theory of operation
-------------------
``GameClient.frame(now, dt_s)`` is one rendered frame, the same for the pygame window and for a
headless bot:

1. Drive the handshake and read every datagram that arrived. Each new snapshot is given to the
   interpolator (remote players) and, if it is the newest, reconciles the local prediction; a
   correction moves the simulated player and is handed to the smoother.
2. Run as many fixed client ticks as the frame's time covers (an accumulator, so the simulation
   rate never depends on the frame rate). Each tick samples the input, sends it (with the
   unconfirmed ones) and predicts it at once.
3. Decide where everything is *drawn*: the local player at prediction + smoothing offset (or at
   the server's position when prediction is off), remote players interpolated in the past.
4. Measure how it felt (``feel.py``) and return a ``FrameView`` for the renderer.

Every technique is a switch in ``Switches`` that can change between frames.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from netcode.client import ClientSession, ClientState
from netcode.interpolation import InterpolationSettings, Interpolator
from netcode.prediction import Predictor
from netcode.protocol import Snapshot
from netcode.smoothing import ErrorSmoother
from netcode.transport import Address, Transport

from . import sim
from .feel import FeelMeter
from .netgame import SimRules
from .view import DrawnPlayer, FrameView, Ghost

MAX_TICKS_PER_FRAME = 8  # after a long stall, drop time rather than spiral
InputSource = Callable[[int, "tuple[float, float] | None"], int]


@dataclass
class Switches:
    prediction: bool = True
    reconciliation: bool = True
    smoothing: bool = True
    interpolation: bool = True
    extrapolation: bool = True

    def as_dict(self) -> dict[str, bool]:
        return dict(self.__dict__)


@dataclass
class ClientOptions:
    name: str = "player"
    smooth_ms: float = 100.0
    interp_ms: float | None = None
    teleport_px: float = 96.0


class GameClient:
    def __init__(self, transport: Transport, server: Address, options: ClientOptions,
                 switches: Switches, now: float) -> None:
        self.options = options
        self.switches = switches
        self.session = ClientSession(transport, server, options.name, sim.RULES_HASH, now)
        self.rules: SimRules | None = None
        self.predictor: Predictor | None = None
        self.interpolator: Interpolator | None = None
        self.smoother = ErrorSmoother(options.smooth_ms, options.teleport_px, switches.smoothing)
        self.newest: Snapshot | None = None
        self.newest_world: sim.World | None = None
        self.accumulator_s = 0.0
        self.feel = FeelMeter()

    # --- one frame -----------------------------------------------------------------------------

    def frame(self, now: float, dt_s: float, input_source: InputSource) -> FrameView:
        self.session.update(now)
        self.feel.begin_frame(now, dt_s)
        for snapshot in self.session.receive(now):
            self._on_snapshot(snapshot, now)
        if self.session.state is ClientState.CONNECTED and self.rules is None:
            self._start_game()
        before = self._local_predicted()
        self._run_ticks(dt_s, now, input_source)
        self.smoother.enabled = self.switches.smoothing
        self.smoother.update(dt_s)
        return self._build_view(now, dt_s, before)

    def _start_game(self) -> None:
        accept = self.session.accept
        self.rules = SimRules(accept.tick_rate)
        self.predictor = Predictor(self.rules, accept.client_id)
        self.interpolator = Interpolator(accept.tick_rate, accept.snapshot_rate, InterpolationSettings())

    # --- snapshots -----------------------------------------------------------------------------

    def _on_snapshot(self, snapshot: Snapshot, now: float) -> None:
        if self.rules is None:
            self._start_game()
        try:
            world = self.rules.decode_state(snapshot.tick, snapshot.state)
        except ValueError:
            self.session.dropped.add("bad_state")
            return
        self.interpolator.add(snapshot.tick, self._remote_entities(world), now)
        self.feel.on_snapshot()
        if self.newest is not None and snapshot.tick <= self.newest.tick:
            return  # late and reordered: fine for interpolation, too old to reconcile with
        self.newest, self.newest_world = snapshot, world
        correction = self.predictor.reconcile(world, snapshot.last_input_seq,
                                              replay=self.switches.reconciliation)
        if correction is not None and self.switches.prediction:
            self.feel.on_correction(correction.size_px)
            self.smoother.on_correction(correction.dx_px, correction.dy_px)

    def _remote_entities(self, world: sim.World):
        entities = self.rules.entities(world)
        entities.pop(self.session.player_id, None)
        return entities

    # --- ticks ---------------------------------------------------------------------------------

    def _run_ticks(self, dt_s: float, now: float, input_source: InputSource) -> None:
        if self.session.state is not ClientState.CONNECTED or self.rules is None:
            return
        tick_dt_s = 1.0 / self.rules.tick_rate
        self.accumulator_s = min(self.accumulator_s + dt_s, MAX_TICKS_PER_FRAME * tick_dt_s)
        while self.accumulator_s >= tick_dt_s:
            self.accumulator_s -= tick_dt_s
            position = self._local_predicted() if self.switches.prediction else self._local_server()
            bits = input_source(self.session.next_input_seq, position)
            seq = self.session.send_input(bits, now)
            self.predictor.apply_input(seq, bits)
            self.feel.on_input(seq, bits)

    # --- where things are ----------------------------------------------------------------------

    def _local_predicted(self) -> tuple[float, float] | None:
        entity = self.predictor.local_entity() if self.predictor else None
        return None if entity is None else (entity.x_px, entity.y_px)

    def _local_server(self) -> tuple[float, float] | None:
        if self.newest_world is None:
            return None
        entity = self.rules.entities(self.newest_world).get(self.session.player_id)
        return None if entity is None else (entity.x_px, entity.y_px)

    def _local_drawn(self) -> tuple[float, float] | None:
        if not self.switches.prediction:
            return self._local_server()
        predicted = self._local_predicted()
        return None if predicted is None else self.smoother.apply(*predicted)

    def drawn_state_input_seq(self) -> int:
        """The newest of our inputs whose effect the drawn local player shows."""
        if self.switches.prediction:
            return self.session.next_input_seq - 1
        return self.newest.last_input_seq if self.newest else -1

    # --- the view ------------------------------------------------------------------------------

    def _build_view(self, now: float, dt_s: float, before: tuple[float, float] | None) -> FrameView:
        view = FrameView(switches=self.switches.as_dict(), status=self._status())
        if self.interpolator is None or self.newest is None:
            return view
        local = self._local_drawn()
        sample = self._sample_remote(now, dt_s)
        names = self.session.roster
        me = self.session.player_id
        if local is not None:
            view.players.append(DrawnPlayer(me, names.get(me, self.options.name), *local, is_local=True))
        for pid, (x, y) in sorted(sample.positions.items()):
            view.players.append(DrawnPlayer(pid, names.get(pid, f"player{pid}"), x, y))
        view.ghosts = self._ghosts()
        self.feel.end_frame(self, local, before, self._local_predicted(), sample)
        return view

    def _sample_remote(self, now: float, dt_s: float):
        settings = self.interpolator.settings
        settings.enabled = self.switches.interpolation
        settings.extrapolation = self.switches.extrapolation
        settings.fixed_delay_ms = self.options.interp_ms
        return self.interpolator.sample(now, dt_s)

    def _ghosts(self) -> list[Ghost]:
        ghosts = []
        for pid, e in sorted(self.rules.entities(self.newest_world).items()):
            ghosts.append(Ghost(pid, e.x_px, e.y_px, is_local=pid == self.session.player_id))
        return ghosts

    def _status(self) -> str:
        state = self.session.state
        host, port = self.session.server
        if state is ClientState.CONNECTING:
            return f"Connecting to {host}:{port}..."
        if state is ClientState.CONNECTED and self.newest is None:
            return "Connected, waiting for the first snapshot..."
        if state in (ClientState.REFUSED, ClientState.DISCONNECTED):
            return self.session.reason
        return ""

    def final_figures(self) -> dict[str, object]:
        """Where this client ended, for comparing with the server's own record of it."""
        predicted, server = self._local_predicted(), self._local_server()
        return {
            "player_id": self.session.player_id,
            "final_position_px": list(predicted) if predicted else None,
            "final_server_position_px": list(server) if server else None,
            "roster": sorted(self.session.roster.values()),
            "remote_players_drawn": len(self.feel.remote_ids_seen),
        }

    @property
    def finished(self) -> bool:
        return self.session.state in (ClientState.REFUSED, ClientState.DISCONNECTED)
