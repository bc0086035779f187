"""The arena game's client: the netcode's ``ClientFrame`` plus what this game draws and reports.

Theory of operation: all the netcode techniques and their wiring live in
``netcode.client_frame.ClientFrame``, which knows nothing about this game beyond its
``GameRules``. ``GameClient.frame`` runs one of those frames, lets the feel meter measure it,
writes the trace line if asked, and turns the plain positions into a ``FrameView`` for the
renderer: names from the roster, ghosts from the newest snapshot, a status banner. It also takes
the server's events (joins, leaves, tags, pickups, rounds) from the session: a line each in the
message feed for ``MESSAGE_SHOWN_S``, and a sound cue.

Tag (``client_tag.py``): who is it, shields, scores, pickups and the round clock are drawn from the
newest snapshot's state, the server's word; our own shots are judged on our screen the moment our
prediction fires them, then marked with the server's verdict.
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

from . import client_tag, sim, tag
from .client_tag import ShotBook
from .inject_desync import FaultyRules
from .netgame import SimRules
from .tag_bots import Scene
from .view import DrawnPickup, DrawnPlayer, FrameView, Ghost

__all__ = ["ClientOptions", "GameClient", "InputSource", "Switches"]


@dataclass
class ClientOptions(FrameOptions):
    name: str = "player"
    trace_path: str | Path | None = None  # write one JSON line per drawn frame here
    inject_desync: str | None = None  # frame sync demonstrations: a wrong step (game/inject_desync.py)


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


def rules_maker(options: ClientOptions):
    """The rules this client simulates with: the real ones, or a deliberately wrong step."""
    if options.inject_desync is None:
        return make_rules
    return lambda accept: FaultyRules(accept.tick_rate, options.inject_desync, accept.client_id)


class GameClient:
    def __init__(self, transport: Transport, server: Address, options: ClientOptions,
                 switches: Switches, now: float) -> None:
        self.options = options
        self.switches = switches
        self.net = ClientFrame(transport, server, options.name, sim.RULES_HASH, rules_maker(options), options,
                               switches, now)
        self.session = self.net.session
        self.feel = FeelMeter()
        self.trace = JsonlTrace(options.trace_path) if options.trace_path else None
        self.last_facts: FrameFacts | None = None
        self.messages: deque[tuple[float, str]] = deque(maxlen=MESSAGES_SHOWN)  # (shown until, text)
        self.events_heard: deque[list] = deque(maxlen=256)  # the server's newest events, for tests and tools
        self.shots = ShotBook()
        self.aim = 0  # the direction our beam fires in (tag.AIM_STEPS steps), set by whoever drives the keys
        self.show_scoreboard = False  # Tab held
        self.drawn_before: dict[int, tuple[float, float]] = {}  # remote players as the last frame drew them
        self.taggable_before: frozenset[int] = frozenset()  # ... and who could be tagged in that frame's state

    def frame(self, now: float, dt_s: float, input_source: InputSource) -> FrameView:
        facts = self.net.frame(now, dt_s, input_source)
        self.feel.on_frame(facts, self._link_facts(now), self.net.interpolator)
        if self.trace is not None and facts.playing:
            self.trace.write(client_record(facts, self.session.player_id, self.net.rules.tick_rate,
                                           self.feel.corrections_px.count, self.session.snapshots_received))
        self._judge_our_shots(facts, now)
        if facts.playing:
            self.drawn_before = dict(facts.remotes)
            world = self.net.shown_world
            self.taggable_before = client_tag.taggable_ids(world) if world is not None else frozenset()
        self.last_facts = facts
        view = self._build_view(facts)
        view.sounds = self._take_events(now)
        view.messages = [text for _, text in self.messages]
        if facts.playing:
            self._add_tag_view(view, facts, now)
        return view

    def _judge_our_shots(self, facts: FrameFacts, now: float) -> None:
        """Each shot our prediction fired this frame, against what the last frame showed (its
        players where they were drawn, and who could be tagged in its state)."""
        for seq, origin, bits in facts.shots:
            self.shots.on_fire(seq, origin, tag.aim_of(bits), self.drawn_before, self.taggable_before, now)
        for seq, target in facts.verdicts:  # frame sync: our own confirmed frame is the verdict
            self.shots.on_verdict(seq, target)
        self.shots.expire(now)

    def _take_events(self, now: float) -> list[str]:
        """The server's new events into the message feed; returns the sounds they call for."""
        sounds = []
        for event in self.session.take_events():
            self.events_heard.append(event)
            text, sound = self._words_for(event)
            if text is not None:
                self.messages.append((now + MESSAGE_SHOWN_S, text))
            if sound is not None:
                sounds.append(sound)
        while self.messages and self.messages[0][0] <= now:
            self.messages.popleft()
        return sounds

    def _words_for(self, event: list) -> tuple[str | None, str | None]:
        me = self.session.player_id
        if isinstance(event, list) and len(event) == 3 and event[0] == "shot":
            return None, self.shots.on_verdict(event[1], event[2])
        text = event_text(event)
        if text is not None:  # a join or a leave: our own arrival needs no chime
            return text, None if event[1] == me else event[0]
        if isinstance(event, list) and event and all(isinstance(v, (int, str)) for v in event):
            return client_tag.event_words(event, self.session.roster, me)
        return None, None

    def _link_facts(self, now: float) -> LinkFacts:
        session = self.session
        return LinkFacts(session.conn.rtt_ms, session.snapshots_lost(), session.rate_in.per_s(now),
                         session.rate_out.per_s(now))

    # --- the view ------------------------------------------------------------------------------

    def _build_view(self, facts: FrameFacts) -> FrameView:
        # The switches are state sync's techniques: frame sync has none of them to switch.
        switches = self.switches.as_dict() if self.net.frame_sync is None else {}
        view = FrameView(switches=switches, status=self._status())
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

    def _add_tag_view(self, view: FrameView, facts: FrameFacts, now: float) -> None:
        """Tag's part of the picture, from the newest snapshot (the server's state)."""
        world, names, me = self.net.shown_world, self.session.roster, self.session.player_id
        phys = self.net.rules.physics
        by_id = {p.id: p for p in world.players}
        for drawn in view.players:
            p = by_id.get(drawn.player_id)
            if p is not None:
                drawn.it, drawn.shield, drawn.boosted = p.tag.it, p.tag.shield, p.tag.boost > 0
                drawn.immune = p.tag.immune_until > world.tick
        view.pickups = [DrawnPickup(k.x / sim.SUBPX, k.y / sim.SUBPX, "boost" if k.kind == tag.BOOST else "shield")
                        for k in world.pickups]
        view.beams = self.shots.beams(now)
        view.round_line, view.round_banner = client_tag.round_words(world, phys, names, me)
        if self.show_scoreboard or view.round_banner:
            view.scoreboard = client_tag.scoreboard(world, names, me)
        mine = self._predicted_me()
        if mine is not None and mine.tag.it and facts.local_drawn is not None:
            view.aim_px = client_tag.beam_end(facts.local_drawn, self.aim)

    def _predicted_me(self) -> sim.Player | None:
        world = self.net.own_world
        return None if world is None else world.player(self.session.player_id)

    def scene(self) -> Scene | None:
        """What a client bot may know (``tag_bots.tagger_bot``): our screen and our tag state."""
        facts, world, mine = self.last_facts, self.net.shown_world, self._predicted_me()
        if facts is None or not facts.playing or world is None or mine is None:
            return None
        return Scene(facts.local_drawn, dict(self.drawn_before), mine.tag.it, mine.tag.reload == 0,
                     client_tag.its(world), client_tag.taggable_ids(world))

    def _ghosts(self) -> list[Ghost]:
        world = self.session.newest_world
        if world is None:
            return []  # frame sync: there are no snapshots to compare with
        return [Ghost(pid, e.x_px, e.y_px, is_local=pid == self.session.player_id)
                for pid, e in sorted(self.net.rules.entities(world).items())]

    def _status(self) -> str:
        state = self.session.state
        host, port = self.session.server
        if state is ClientState.CONNECTING:
            return f"Connecting to {host}:{port}..."
        sync = self.net.frame_sync
        if state is ClientState.CONNECTED and sync is not None and not sync.engine.started:
            return "Connected, waiting for the game's state..."
        if state is ClientState.CONNECTED and sync is None and self.session.newest is None:
            return "Connected, waiting for the first snapshot..."
        if state in (ClientState.REFUSED, ClientState.DISCONNECTED):
            return self.session.reason
        return ""

    # --- the end -------------------------------------------------------------------------------

    def stats(self) -> dict[str, object]:
        """Every figure of this client, for ``--stats-json``."""
        ended = {"ended": self.session.reason or None}  # "quit" when the player (or --duration) ended it
        if isinstance(self.net.rules, FaultyRules):
            ended["injected_desync"] = self.net.rules.cause
            ended["injected_desync_first_frame"] = self.net.rules.first_divergence
        world = self.net.shown_world
        shown = {"scores_shown": client_tag.scores_by_name(world, self.session.roster) if world else {},
                 "scores_tick": world.tick if world else -1}  # the snapshot those scores are from
        return (self.feel.stats() | self.session.figures(self.feel.elapsed_s) | self.net.final_figures()
                | self.shots.figures() | shown | ended)

    def close(self) -> None:
        if self.trace is not None:
            self.trace.close()

    @property
    def finished(self) -> bool:
        return self.net.finished
