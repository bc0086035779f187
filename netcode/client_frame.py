"""One client frame, for any game: network, fixed ticks, prediction, smoothing, interpolation.

Theory of operation
-------------------
This module is where the client techniques meet, in the order a frame needs them.
``ClientFrame.frame(now, dt_s, input_source)`` is one rendered frame, the same for a window and
for a headless bot, and returns ``FrameFacts``: plain positions and numbers, nothing drawn.

1. **Network.** Drive the handshake and read what arrived. Every snapshot goes to the
   interpolator (remote players); the newest one also reconciles the local prediction (rewind and
   replay the session's unacknowledged inputs); a correction moves the predicted player and goes
   to the smoother, and the server's report of our input lead steers the time dilation.
2. **Fixed ticks.** Run client ticks for the time the frame covers, with an accumulator, so the
   simulation never depends on the frame rate. Each tick samples the input, sends it (with the
   unacknowledged ones) and predicts it at once. A tick starts as soon as its time *begins*
   (the accumulator runs ahead, into ``(-tick, 0]``), so a key press is simulated on the frame it
   is sampled. The tick length comes from ``TimeDilation``: a few percent shorter or longer, so
   our inputs reach the server's buffer just in time.
3. **Drawing positions.** The local player is drawn between the last two predicted ticks,
   ``alpha`` of the way (Fix Your Timestep's blend; ``alpha`` is the share of the newest tick that
   has elapsed, in ``(0, 1]``), plus the smoothing offset; so its motion is even at any frame rate
   and the newest input always shows. With prediction off it is drawn at the newest snapshot.
   Remote players are interpolated in the past (``interpolation.py``). The server time they are
   drawn at goes out with the next inputs (``view_256``): what the player was looking at when
   pressing the keys, which the server rewinds to when it judges a shot (``lag_compensation.py``).

Each technique reads its own field of the shared ``Switches`` where it acts, so switches can flip
between frames. The game supplies only its ``GameRules`` (made from the server's accept).

When the accept announces frame sync (lockstep or rollback), none of the above runs: the frames
go to ``frame_sync_client.FrameSyncDriver``, which fills the same ``FrameFacts``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .client_session import ClientSession, ClientState, Received
from .frame_sync_client import FrameSyncDriver
from .game_api import GameRules
from .interpolation import InterpolationSettings, Interpolator, Sample
from .prediction import Predictor
from .protocol import LEAD_TARGET_NONE, Accept
from .smoothing import ErrorSmoother
from .switches import Switches
from .time_dilation import TimeDilation
from .transport import Address, Transport

MAX_TICKS_PER_FRAME = 8  # after a long stall, drop time rather than spiral
Point = tuple[float, float]
InputSource = Callable[[int, "Point | None"], int]  # (input number, our position) -> input bits
RulesFactory = Callable[[Accept], GameRules]


@dataclass
class FrameOptions:
    smooth_ms: float = 100.0
    interp_ms: float | None = None  # None: adaptive interpolation delay
    teleport_px: float = 96.0


@dataclass
class FrameFacts:
    """What one frame did and where it draws things: the only thing the feel meter and traces read."""

    now: float
    dt_s: float
    playing: bool = False  # connected, and a first snapshot has arrived
    prediction_on: bool = True  # the local player is drawn from prediction (else from snapshots)
    local_drawn: Point | None = None  # where our player is drawn
    local_blend: Point | None = None  # the blend of the last two predicted ticks, before smoothing
    local_blend_before: Point | None = None  # the same before this frame's ticks (after corrections)
    local_predicted: Point | None = None  # the newest predicted tick
    local_server: Point | None = None  # our player in the newest snapshot
    alpha: float = 1.0
    input_seq: int = -1  # the newest input predicted
    drawn_input_seq: int = -1  # the newest input whose effect the drawn player shows
    inputs: list[tuple[int, int]] = field(default_factory=list)  # (seq, bits) sampled this frame
    shots: list[tuple[int, Point, int]] = field(default_factory=list)  # (input, where we were, its bits): we fired
    verdicts: list[tuple[int, int]] = field(default_factory=list)  # frame sync: (input, target or -1), confirmed
    corrections_px: list[float] = field(default_factory=list)  # corrections the player could see
    snapshots_arrived: int = 0
    snapshot_tick: int = -1
    remotes: dict[int, Point] = field(default_factory=dict)
    render_time_s: float = 0.0  # the server time remote players are drawn at
    view_tick: float = -1.0  # the server tick the remote players drawn show (sent with inputs)
    interp_delay_s: float = 0.0
    extrapolated: bool = False
    dilation_pct: float = 0.0
    input_lead_ms: float = 0.0
    input_target_ms: float | None = None


class ClientFrame:
    def __init__(self, transport: Transport, server: Address, name: str, rules_hash: str,
                 make_rules: RulesFactory, options: FrameOptions, switches: Switches, now: float) -> None:
        self.options = options
        self.switches = switches
        self.make_rules = make_rules
        self.session = ClientSession(transport, server, name, rules_hash, now, on_accept=self._start)
        self.rules: GameRules | None = None
        self.predictor: Predictor | None = None
        self.interpolator: Interpolator | None = None
        self.dilation: TimeDilation | None = None
        self.smoother = ErrorSmoother(options.smooth_ms, options.teleport_px, switches)
        self.accumulator_s = 0.0
        self.tick_len_s = 1.0
        self.tick_positions: tuple[Point, Point] | None = None  # our player after the last two ticks
        self.view_256 = -1  # the server time the last frame drew remote players at, 1/256 tick
        self.frame_sync: FrameSyncDriver | None = None  # set when the server plays frame sync

    def _start(self, accept: Accept) -> None:
        """We are in: build the game's rules and the techniques that need its tick rate."""
        self.rules = self.make_rules(accept)
        self.session.state_decoder = self.rules.decode_state
        self.predictor = Predictor(self.rules, accept.client_id, self.switches)
        self.interpolator = Interpolator(accept.tick_rate, accept.snapshot_rate,
                                         InterpolationSettings(self.options.interp_ms), self.switches)
        self.dilation = TimeDilation(accept.tick_rate, self.switches)
        self.tick_len_s = 1.0 / accept.tick_rate
        if accept.sync:  # frame sync: no snapshots to predict against or interpolate between
            self.frame_sync = FrameSyncDriver(self.session, self.rules, accept)
            self.predictor = self.interpolator = None

    # --- one frame -----------------------------------------------------------------------------

    def frame(self, now: float, dt_s: float, input_source: InputSource) -> FrameFacts:
        facts = FrameFacts(now, dt_s)
        self.session.update(now)
        for received in self.session.receive(now):
            self._on_snapshot(received, now, facts)
        if self.session.state is not ClientState.CONNECTED or self.rules is None:
            return facts
        if self.frame_sync is not None:
            self.frame_sync.frame(now, dt_s, input_source, facts)
            return facts
        facts.local_blend_before = self._blend()
        self._run_ticks(dt_s, now, input_source, facts)
        self.smoother.update(dt_s)
        if self.session.newest is not None:
            self._fill_facts(facts, self.interpolator.sample(now, dt_s))
        return facts

    # --- snapshots -----------------------------------------------------------------------------

    def _on_snapshot(self, received: Received, now: float, facts: FrameFacts) -> None:
        snapshot, world = received.snapshot, received.world
        self.interpolator.add(snapshot.tick, self._remote_entities(world), now)
        facts.snapshots_arrived += 1
        if received.snapshot is not self.session.newest:
            return  # late, or overtaken by a newer one in the same batch: only the newest reconciles
        target = None if snapshot.input_target_cticks == LEAD_TARGET_NONE else snapshot.input_target_cticks / 100
        self.dilation.on_feedback(snapshot.input_lead_cticks / 100, target)
        correction = self.predictor.reconcile(world, self.session.unacked)
        if self.tick_positions is None or correction is not None:
            self._shift_tick_positions(correction)
        if correction is not None:
            self.smoother.on_correction(correction.dx_px, correction.dy_px)
            if self.switches.prediction:  # only a drawn correction is one the player could see
                facts.corrections_px.append(correction.size_px)

    def _remote_entities(self, world):
        entities = self.rules.entities(world)
        entities.pop(self.session.player_id, None)
        return entities

    def _shift_tick_positions(self, correction) -> None:
        """Move the blend's two ends with a correction, so only the smoother decides what shows."""
        predicted = self._local_predicted()
        if self.tick_positions is None or predicted is None:
            self.tick_positions = None if predicted is None else (predicted, predicted)
            return
        (px, py), _ = self.tick_positions
        self.tick_positions = ((px + correction.dx_px, py + correction.dy_px), predicted)

    # --- ticks ---------------------------------------------------------------------------------

    def _run_ticks(self, dt_s: float, now: float, input_source: InputSource, facts: FrameFacts) -> None:
        limit_s = MAX_TICKS_PER_FRAME * self.dilation.tick_dt_s()
        self.accumulator_s = min(self.accumulator_s + dt_s, limit_s)
        while self.accumulator_s > 0:
            self.tick_len_s = self.dilation.tick_dt_s()
            self.accumulator_s -= self.tick_len_s
            self._one_tick(now, input_source, facts)

    def _one_tick(self, now: float, input_source: InputSource, facts: FrameFacts) -> None:
        position = self._local_predicted() if self.switches.prediction else self._local_server()
        bits = input_source(self.session.next_input_seq, position)
        seq = self.session.send_input(bits, now, self.view_256)
        self.predictor.apply_input(bits)
        facts.inputs.append((seq, bits))
        if self.predictor.world is not None and any(
                shot.shooter == self.session.player_id for shot in self.rules.shots(self.predictor.world)):
            facts.shots.append((seq, self._local_predicted(), bits))
        predicted = self._local_predicted()
        if predicted is not None:
            previous = self.tick_positions[1] if self.tick_positions else predicted
            self.tick_positions = (previous, predicted)

    @property
    def alpha(self) -> float:
        """How much of the newest tick has elapsed, in (0, 1]: where between its two ends to draw."""
        return min(1.0, max(0.0, 1.0 + self.accumulator_s / self.tick_len_s))

    # --- where things are ----------------------------------------------------------------------

    def _blend(self) -> Point | None:
        if self.tick_positions is None:
            return None
        (x0, y0), (x1, y1) = self.tick_positions
        a = self.alpha
        return x0 + (x1 - x0) * a, y0 + (y1 - y0) * a

    def _local_predicted(self) -> Point | None:
        entity = self.predictor.local_entity() if self.predictor else None
        return None if entity is None else (entity.x_px, entity.y_px)

    def _local_server(self) -> Point | None:
        if self.session.newest_world is None:
            return None
        entity = self.rules.entities(self.session.newest_world).get(self.session.player_id)
        return None if entity is None else (entity.x_px, entity.y_px)

    def _fill_facts(self, facts: FrameFacts, sample: Sample) -> None:
        facts.playing = True
        facts.local_blend = self._blend()
        facts.local_predicted = self._local_predicted()
        facts.local_server = self._local_server()
        facts.alpha = self.alpha
        facts.input_seq = self.session.next_input_seq - 1
        facts.prediction_on = self.switches.prediction
        if self.switches.prediction:
            facts.local_drawn = None if facts.local_blend is None else self.smoother.apply(*facts.local_blend)
            facts.drawn_input_seq = facts.input_seq  # alpha > 0: the newest tick always shows
        else:
            facts.local_drawn = facts.local_server
            facts.drawn_input_seq = self.session.last_applied_seq
        facts.snapshot_tick = self.session.newest_snapshot_tick
        facts.remotes = dict(sample.positions)
        facts.render_time_s, facts.interp_delay_s = sample.render_time_s, sample.delay_s
        # With interpolation off, remote players are drawn at the newest snapshot, whatever the clock.
        facts.view_tick = (sample.render_time_s * self.rules.tick_rate if self.switches.interpolation
                           else float(self.session.newest_snapshot_tick))
        self.view_256 = max(-1, int(facts.view_tick * 256))
        facts.extrapolated = sample.extrapolated
        self._fill_dilation(facts)

    def _fill_dilation(self, facts: FrameFacts) -> None:
        ms_per_tick = 1000 / self.rules.tick_rate
        facts.dilation_pct = self.dilation.rate * 100
        facts.input_lead_ms = self.dilation.lead_ticks * ms_per_tick
        target = self.dilation.target_ticks
        facts.input_target_ms = None if target is None else target * ms_per_tick

    # --- the end -------------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        return self.session.state in (ClientState.REFUSED, ClientState.DISCONNECTED)

    def final_figures(self) -> dict[str, object]:
        """Where this client ended, for comparing with the server's own record of it."""
        predicted, server = self._local_predicted(), self._local_server()
        if self.frame_sync is not None:
            drawn = self.frame_sync.positions.get(self.session.player_id)
            predicted = server = drawn
        return {
            "player_id": self.session.player_id,
            "final_position_px": list(predicted) if predicted else None,
            "final_server_position_px": list(server) if server else None,
            "roster": sorted(self.session.names_seen),
        } | (self.frame_sync.figures() if self.frame_sync is not None else {})

    @property
    def shown_world(self):
        """The world whose game state is shown: the newest snapshot, or in frame sync the newest
        simulated frame."""
        if self.frame_sync is not None:
            return self.frame_sync.engine.world
        return self.session.newest_world

    @property
    def own_world(self):
        """The world our own player's state comes from: the prediction, or the newest frame."""
        if self.frame_sync is not None:
            return self.frame_sync.engine.world
        return self.predictor.world if self.predictor is not None else None
