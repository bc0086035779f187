"""The arena game's client: the netcode's ``ClientFrame`` plus what this game draws and reports.

Theory of operation: all the netcode techniques and their wiring live in
``netcode.client_frame.ClientFrame``, which knows nothing about this game beyond its
``GameRules``. ``GameClient.frame`` runs one of those frames, lets the feel meter measure it,
writes the trace line if asked, and turns the plain positions into a ``FrameView`` for the
renderer: names from the roster, ghosts from the newest snapshot, a status banner. It also takes
the server's events (joins, leaves) from the session: a line each in the message feed for
``MESSAGE_SHOWN_S``, and a chime to play when it is somebody else who came or went.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from pathlib import Path

from netcode.client_session import ClientState
from netcode.client_frame import ClientFrame, FrameFacts, FrameOptions, InputSource
from netcode.feel import FeelMeter, LinkFacts
from netcode.protocol import Accept
from netcode.switches import Switches
from netcode.trace import JsonlTrace, client_record
from netcode.transport import Address, Transport

from . import sim
from .netgame import SimRules
from .view import DrawnPlayer, FrameView, Ghost

__all__ = ["ClientOptions", "GameClient", "InputSource", "Switches"]


@dataclass
class ClientOptions(FrameOptions):
    name: str = "player"
    trace_path: str | Path | None = None  # write one JSON line per drawn frame here


MESSAGE_SHOWN_S = 5.0  # how long "alice joined" stays on screen
MESSAGES_SHOWN = 4  # at most this many at once, newest last


def event_text(event: list) -> str | None:
    """The words for one of the server's events; None for kinds this client does not know."""
    if (isinstance(event, list) and len(event) == 3 and event[0] in ("join", "leave")
            and isinstance(event[2], str) and event[2].isprintable()):
        return f"{event[2]} {'joined' if event[0] == 'join' else 'left'}"
    return None


def make_rules(accept: Accept) -> SimRules:
    return SimRules(accept.tick_rate)


class GameClient:
    def __init__(self, transport: Transport, server: Address, options: ClientOptions,
                 switches: Switches, now: float) -> None:
        self.options = options
        self.switches = switches
        self.net = ClientFrame(transport, server, options.name, sim.RULES_HASH, make_rules, options, switches, now)
        self.session = self.net.session
        self.feel = FeelMeter()
        self.trace = JsonlTrace(options.trace_path) if options.trace_path else None
        self.last_facts: FrameFacts | None = None
        self.messages: deque[tuple[float, str]] = deque(maxlen=MESSAGES_SHOWN)  # (shown until, text)
        self.events_heard: deque[list] = deque(maxlen=256)  # the server's newest events, for tests and tools

    def frame(self, now: float, dt_s: float, input_source: InputSource) -> FrameView:
        facts = self.net.frame(now, dt_s, input_source)
        self.feel.on_frame(facts, self._link_facts(now), self.net.interpolator)
        if self.trace is not None and facts.playing:
            self.trace.write(client_record(facts, self.session.player_id, self.net.rules.tick_rate,
                                           self.feel.corrections_px.count, self.session.snapshots_received))
        self.last_facts = facts
        view = self._build_view(facts)
        view.sounds = self._take_events(now)
        view.messages = [text for _, text in self.messages]
        return view

    def _take_events(self, now: float) -> list[str]:
        """The server's new events into the message feed; returns the sounds they call for."""
        sounds = []
        for event in self.session.take_events():
            self.events_heard.append(event)
            text = event_text(event)
            if text is not None:
                self.messages.append((now + MESSAGE_SHOWN_S, text))
                if event[1] != self.session.player_id:  # our own arrival needs no chime
                    sounds.append(event[0])  # "join" or "leave"
        while self.messages and self.messages[0][0] <= now:
            self.messages.popleft()
        return sounds

    def _link_facts(self, now: float) -> LinkFacts:
        session = self.session
        return LinkFacts(session.conn.rtt_ms, session.snapshots_lost(), session.rate_in.per_s(now),
                         session.rate_out.per_s(now))

    # --- the view ------------------------------------------------------------------------------

    def _build_view(self, facts: FrameFacts) -> FrameView:
        view = FrameView(switches=self.switches.as_dict(), status=self._status())
        if not facts.playing:
            return view
        names = self.session.roster
        me = self.session.player_id
        if facts.local_drawn is not None:
            view.players.append(DrawnPlayer(me, names.get(me, self.options.name), *facts.local_drawn, is_local=True))
        for pid, (x, y) in sorted(facts.remotes.items()):
            view.players.append(DrawnPlayer(pid, names.get(pid, f"player{pid}"), x, y))
        view.ghosts = self._ghosts()
        return view

    def _ghosts(self) -> list[Ghost]:
        world = self.session.newest_world
        return [Ghost(pid, e.x_px, e.y_px, is_local=pid == self.session.player_id)
                for pid, e in sorted(self.net.rules.entities(world).items())]

    def _status(self) -> str:
        state = self.session.state
        host, port = self.session.server
        if state is ClientState.CONNECTING:
            return f"Connecting to {host}:{port}..."
        if state is ClientState.CONNECTED and self.session.newest is None:
            return "Connected, waiting for the first snapshot..."
        if state in (ClientState.REFUSED, ClientState.DISCONNECTED):
            return self.session.reason
        return ""

    # --- the end -------------------------------------------------------------------------------

    def stats(self) -> dict[str, object]:
        """Every figure of this client, for ``--stats-json``."""
        ended = {"ended": self.session.reason or None}  # "quit" when the player (or --duration) ended it
        return self.feel.stats() | self.session.figures(self.feel.elapsed_s) | self.net.final_figures() | ended

    def close(self) -> None:
        if self.trace is not None:
            self.trace.close()

    @property
    def finished(self) -> bool:
        return self.net.finished
