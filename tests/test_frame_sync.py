"""Frame sync: lockstep and rollback over the relay, late join, stalls, and desync detection."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from game import sim
from game.bots import make_bot
from game.client import ClientOptions, GameClient
from game.inject_desync import CAUSES, FaultyRules
from game.netgame import SimRules
from netcode.clock import FakeClock
from netcode.conditioner import PROFILES, LinkConditioner
from netcode.frame_sync import FrameSyncEngine
from netcode.protocol import FrameSet
from netcode.server import ServerConfig, ServerSession
from netcode.switches import Switches
from netcode.transport import MemoryNetwork

SERVER = ("10.0.0.1", 7777)
DT = 1 / 60
RULES = SimRules(60)


class Match:
    """A frame-sync server and bot clients on a memory network, each client behind a conditioner."""

    def __init__(self, tmp_path: Path, sync: str, input_delay: int, bots: list[str], net: str = "wifi",
                 inject: dict[int, str] | None = None, **config) -> None:
        self.clock = FakeClock(10.0)
        self.net = MemoryNetwork()
        self.profile = PROFILES[net]
        self.server = ServerSession(RULES, self.net.endpoint(SERVER),
                                    ServerConfig(sync=sync, input_delay=input_delay, desync_dir=str(tmp_path), **config),
                                    self.clock.now())
        self.inject = inject or {}
        self.clients: list[tuple[GameClient, object]] = []
        for bot in bots:
            self.join(bot)

    def join(self, bot: str) -> GameClient:
        i = len(self.clients)
        transport = LinkConditioner(self.net.endpoint((f"10.0.1.{i + 1}", 5000)), self.profile, i + 1)
        client = GameClient(transport, SERVER, ClientOptions(name=f"{bot}{i}", inject_desync=self.inject.get(i)),
                            Switches(), self.clock.now())
        self.clients.append((client, make_bot(bot, i + 1)))
        return client

    def run(self, seconds: float, paused: set[int] = frozenset()) -> None:
        for _ in range(round(seconds / DT)):
            self.clock.advance(DT)
            now = self.clock.now()
            for i, (client, bot) in enumerate(self.clients):
                if i not in paused:
                    client.frame(now, DT, bot)
            self.server.receive(now)
            self.server.tick_once(now)

    def stats(self) -> tuple[dict, list[dict]]:
        return self.server.stats(), [c.stats() for c, _ in self.clients]


# --- the engine alone ------------------------------------------------------------------------------

def two_players() -> sim.World:
    return RULES.add_player(RULES.add_player(RULES.new_world(), 0), 1)


def test_lockstep_never_guesses_and_rollback_ends_where_lockstep_does() -> None:
    sets = {f: FrameSet((), (), ((0, sim.RIGHT), (1, sim.DOWN if f < 20 else sim.LEFT))) for f in range(1, 41)}
    lockstep = FrameSyncEngine(RULES, 0, input_delay=0, max_rollback=0, hash_every=4)
    rollback = FrameSyncEngine(RULES, 0, input_delay=0, max_rollback=8, hash_every=4)
    for engine in (lockstep, rollback):
        engine.start(0, two_players())
        for _ in range(40):
            engine.add_input(sim.RIGHT)
    assert not lockstep.advance()  # no set yet: lockstep stalls
    for _ in range(8):
        assert rollback.advance()  # rollback runs ahead on guesses, up to max_rollback frames
    assert not rollback.advance() and rollback.head == 8 and rollback.confirmed == 0
    for frame in range(1, 41):  # the sets arrive one a frame; player 1 turns at frame 20
        for engine in (lockstep, rollback):
            engine.on_set(frame, sets[frame])
            engine.advance()
    for engine in (lockstep, rollback):
        while engine.advance() and engine.head < 40:
            pass
    assert lockstep.stats.rollbacks == 0
    assert rollback.stats.rollbacks >= 1  # the turn at frame 20 was guessed wrong
    assert 1 <= rollback.stats.rollback_frames.max <= 9
    assert lockstep.confirmed == rollback.confirmed == 40
    assert RULES.state_hash(lockstep.confirmed_world) == RULES.state_hash(rollback.confirmed_world)
    assert [f for f, _, _ in lockstep.hashes_out] == [f for f, _, _ in rollback.hashes_out] == list(range(4, 41, 4))


def test_a_guess_that_was_right_costs_no_rollback() -> None:
    engine = FrameSyncEngine(RULES, 0, input_delay=0, max_rollback=4, hash_every=4)
    engine.start(0, two_players())
    engine.on_set(1, FrameSet((), (), ((0, 0), (1, sim.UP))))
    engine.add_input(0)
    engine.advance()  # frame 1 confirmed: player 1 holds UP
    for _ in range(3):
        engine.add_input(0)
        engine.advance()  # frames 2-4 guessed: player 1 still holds UP
    for frame in (2, 3, 4):
        engine.on_set(frame, FrameSet((), (), ((0, 0), (1, sim.UP))))
    engine.confirm_available()
    assert engine.confirmed == 4 and engine.stats.rollbacks == 0


# --- over the relay ------------------------------------------------------------------------------

def test_lockstep_under_wifi_stays_in_sync(tmp_path) -> None:
    match = Match(tmp_path, "lockstep", 3, ["circle", "zigzag"])
    match.run(8.0)
    server, clients = match.stats()
    assert server["desyncs"] == 0 and server["hash_checks"] >= 60 and server["hash_unchecked"] == 0
    assert all(c["sync"] == "lockstep" and c["rollbacks"] == 0 and c["stall_frames"] > 0 for c in clients)
    # A press shows when its frame is simulated: the input delay, plus the stalls of a 100 ms link.
    assert all(3 <= c["input_to_render_frames"] for c in clients)
    assert all(c["events_missed"] == 0 for c in clients)


def test_rollback_with_one_frame_of_delay_rolls_back_and_stays_in_sync(tmp_path) -> None:
    match = Match(tmp_path, "rollback", 1, ["random", "zigzag"])
    match.run(8.0)
    server, clients = match.stats()
    assert server["desyncs"] == 0 and server["hash_checks"] >= 100
    assert all(c["rollbacks"] > 0 and 1 <= c["rollback_frames_max"] <= 8 for c in clients)
    assert all(c["input_to_render_frames"] <= 2.0 for c in clients)


@pytest.mark.parametrize("sync", ["lockstep", "rollback"])
def test_a_late_joiner_starts_from_the_full_state_and_follows(tmp_path, sync: str) -> None:
    match = Match(tmp_path, sync, 2, ["circle", "zigzag"], net="lan")
    match.run(3.0)
    late = match.join("random")
    match.run(4.0)
    server, clients = match.stats()
    assert server["desyncs"] == 0 and server["hash_unchecked"] == 0
    assert late.net.frame_sync.engine.stats.hashes_sent >= 20  # it checked in, and agreed, many times
    assert len(late.net.frame_sync.engine.world.players) == 3


def test_a_stall_names_whom_it_waits_for(tmp_path) -> None:
    match = Match(tmp_path, "lockstep", 2, ["circle", "zigzag"], net="lan")
    match.run(2.0)
    match.run(0.5, paused={1})  # the second client stops sending (a hitch, a debugger)
    first = match.clients[0][0].net.frame_sync
    assert first.stalled and first.waiting == (match.clients[1][0].session.player_id,)
    assert match.server.frames.waiting == first.waiting
    head = first.engine.head
    match.run(1.0)
    assert first.engine.head >= head + 50 and match.server.stats()["desyncs"] == 0  # it plays on


# --- desync detection ------------------------------------------------------------------------------

@pytest.mark.parametrize("cause, bots", [
    ("wall-clock", ["circle", "zigzag"]),
    ("per-player", ["circle", "line"]),
    ("iteration-order", ["pusher", "pusher", "pusher", "pusher"]),  # order shows in a crowd
])
def test_each_injected_cause_is_caught_within_hash_every_frames(tmp_path, cause: str, bots: list[str]) -> None:
    match = Match(tmp_path, "lockstep", 2, bots, net="lan", inject={1: cause})
    match.run(12.0)
    server, clients = match.stats()
    faulty = match.clients[1][0].net.rules
    assert isinstance(faulty, FaultyRules) and faulty.first_divergence is not None
    assert server["desyncs"] >= 1
    first = server["first_desync_tick"]
    assert faulty.first_divergence <= first < faulty.first_divergence + match.server.config.hash_every
    report = json.loads(Path(server["desync_report"]).read_text())
    assert report["frame"] == first
    assert report["players_differing"] == [match.clients[1][0].session.name]
    faulty_entry = next(p for p in report["players"] if p["name"] == match.clients[1][0].session.name)
    assert faulty_entry["hash_agrees"] is False and faulty_entry["differences"]
    assert all(line.startswith("player ") for line in faulty_entry["differences"])  # a player's field, named
    honest = [p for p in report["players"] if p["name"] != match.clients[1][0].session.name]
    assert all(p["differences"] == [] for p in honest)


def test_on_desync_stop_ends_the_game(tmp_path) -> None:
    match = Match(tmp_path, "lockstep", 2, ["circle", "line"], net="lan", inject={1: "per-player"}, on_desync="stop")
    match.run(10.0)
    assert match.server.stop_reason is not None and "desync at frame" in match.server.stop_reason
    assert all("desync" in (c.session.reason or "") for c, _ in match.clients)


def test_causes_are_the_three_of_the_issue() -> None:
    assert set(CAUSES) == {"iteration-order", "wall-clock", "per-player"}


def test_lockstep_takes_one_new_frame_a_tick_however_many_sets_wait() -> None:
    engine = FrameSyncEngine(RULES, 0, input_delay=0, max_rollback=0, hash_every=4)
    engine.start(0, two_players())
    for frame in range(1, 11):
        engine.on_set(frame, FrameSet((), (), ((1, sim.UP),)))
    assert engine.advance() and engine.head == 1  # ten sets are here; the frame clock paces them
    assert engine.advance() and engine.head == 2


def test_frames_nobody_owes_close_at_the_tick_rate(tmp_path) -> None:
    match = Match(tmp_path, "lockstep", 2, [], net="lan")
    match.server.add_bot("bot", lambda n, world, pid: sim.RIGHT)
    match.run(1.0)
    assert 55 <= match.server.frames.frames_closed <= 62  # one a tick, not eight


def test_a_player_everyone_waits_for_too_long_is_dropped(tmp_path) -> None:
    match = Match(tmp_path, "lockstep", 2, ["circle", "zigzag"], net="lan")
    match.run(2.0)
    silent = match.clients[1][0]
    silent.net.frame_sync.engine.wants_input = lambda: False  # connected, answering, sending no inputs
    match.run(7.0)
    assert silent.session.state.name == "DISCONNECTED" and "no input for frame" in silent.session.reason
    head = match.clients[0][0].net.frame_sync.engine.head
    match.run(1.0)
    assert match.clients[0][0].net.frame_sync.engine.head >= head + 50  # the game goes on without it


def test_input_delay_auto_follows_the_round_trip_and_stops_the_stalls(tmp_path) -> None:
    fixed = Match(tmp_path, "lockstep", 3, ["circle", "zigzag"])
    fixed.run(8.0)
    auto = Match(tmp_path, "lockstep", -1, ["circle", "zigzag"])
    auto.run(8.0)
    (_, fixed_clients), (server, auto_clients) = fixed.stats(), auto.stats()
    assert server["input_delay"] == "auto" and server["desyncs"] == 0
    for client in auto_clients:
        engine_delay = client["input_delay"]
        assert client["input_delay_auto"] and client["input_delay_changes"] >= 1
        assert 6 <= engine_delay <= 12  # a 100 ms round trip plus jitter, in 60 Hz frames, plus one
    # Covering the round trip, lockstep runs at the tick rate instead of waiting every frame.
    assert sum(c["stall_frames"] for c in auto_clients) < sum(c["stall_frames"] for c in fixed_clients) / 2
    assert auto.server.frames.frames_closed > 1.5 * fixed.server.frames.frames_closed


def test_a_longer_delay_fills_the_frames_it_skips() -> None:
    engine = FrameSyncEngine(RULES, 0, input_delay=2, max_rollback=0, hash_every=4)
    engine.start(10, two_players())
    engine.add_input(sim.UP)  # frame 13
    engine.set_input_delay(5)
    assert list(engine.own.items()) == [(13, sim.UP), (14, sim.UP), (15, sim.UP)]
    assert engine.next_input_frame == 16 == engine.head + 1 + 5
    engine.set_input_delay(1)
    assert not engine.wants_input()  # nothing new until the frame clock reaches the inputs sent


def test_an_id_freed_and_taken_again_in_one_frame_does_not_crash_anyone(tmp_path) -> None:
    """A person joining sends a server bot away and gets its id in the same frame: the set
    carries that id as a leave and a join, applied in that order everywhere."""
    match = Match(tmp_path, "lockstep", 2, [], net="lan")
    for name in ("bot a", "bot b"):
        match.server.add_bot(name, lambda n, world, pid: sim.RIGHT)
    match.run(0.5)
    match.join("circle")
    match.join("zigzag")
    match.run(3.0)
    server, clients = match.stats()
    assert server["desyncs"] == 0 and all(c["ended"] is None for c in clients)
    ids = sorted(p.id for p in match.server.world.players)
    assert ids == sorted([c.session.player_id for c, _ in match.clients] + list(match.server.bots))
    for client, _ in match.clients:
        assert sorted(p.id for p in client.net.frame_sync.engine.world.players) == ids


def test_after_a_hiccup_the_oldest_inputs_are_resent_even_beyond_32(tmp_path) -> None:
    match = Match(tmp_path, "rollback", 3, ["random", "zigzag"], net="lan", max_rollback=45)
    match.run(2.0)
    transport = match.clients[0][0].session.transport
    real_send = transport.send
    transport.send = lambda *args, **kwargs: None  # 0.8 s of lost uplink: 48 frames of inputs pile up
    match.run(0.8)
    transport.send = real_send
    match.run(8.0)
    server, clients = match.stats()
    assert all(c["ended"] is None for c in clients)  # nobody was dropped as a laggard
    assert server["frames"] > 500 and server["desyncs"] == 0


class _FakeSession:
    def __init__(self) -> None:
        self.last_tick_s, self.clients, self.told, self.logged = 0.0, {}, [], []
        self.config = ServerConfig(sync="lockstep")

    def _tell_everyone(self, event) -> None:
        self.told.append(event)

    def _log(self, line, level=0) -> None:
        self.logged.append(line)

    def roster(self):
        from netcode.protocol import Roster
        return Roster(1, ((0, "ada"),))


def test_a_report_keeps_the_servers_state_even_when_the_dumps_are_slow(tmp_path) -> None:
    from netcode.desync import WORLDS_KEPT, DesyncReports
    reports, session = DesyncReports(RULES, tmp_path), _FakeSession()
    world = RULES.add_player(RULES.new_world(), 0)
    reports.remember(4, world)
    reports.check(0, "ada", 4, "0" * 32, RULES.state_hash(world), session)
    assert session.told == [["dump", 4]]
    for frame in range(5, 5 + 2 * WORLDS_KEPT):  # the server moves on; frame 4 leaves its memory
        reports.remember(frame, world)
    reports.tick(10.0, session)  # no dump came: written at the deadline
    report = json.loads(Path(reports.figures()["desync_report"]).read_text())
    assert report["server_hash"] == RULES.state_hash(world) and report["players_differing"] == ["ada"]


def test_in_frame_sync_our_beam_is_drawn_and_our_own_confirmed_frame_is_its_verdict(tmp_path) -> None:
    from game.tag_bots import tagger_bot
    match = Match(tmp_path, "lockstep", 2, ["random"], net="lan")
    tagger = match.join("idle")
    match.clients[-1] = (tagger, tagger_bot(tagger.scene))
    match.run(25.0)
    stats = tagger.stats()
    assert stats["tags_fired"] >= 1 and stats["tags_unanswered"] == 0
    # Lockstep simulates only confirmed frames: what we saw is what happened, every time.
    assert stats["tags_confirmed"] == stats["tags_hit_on_screen"] and stats["tags_rejected"] == 0


def test_a_player_who_holds_every_frame_just_under_the_limit_is_dropped_too(tmp_path) -> None:
    match = Match(tmp_path, "lockstep", 2, ["circle", "zigzag"], net="lan")
    match.run(2.0)
    slow = match.clients[1][0]
    engine = slow.net.frame_sync.engine
    real = engine.unconfirmed_inputs
    calls = {"n": 0}

    def now_and_then():  # sends its inputs once every 4.5 s (270 frames), nothing in between
        calls["n"] += 1
        return real() if calls["n"] % 270 == 0 else (engine.next_input_frame, [])

    engine.unconfirmed_inputs = now_and_then
    match.run(40.0)
    assert slow.session.state.name == "DISCONNECTED" and "held the game alone" in slow.session.reason


def test_an_honest_slower_link_is_not_blamed(tmp_path) -> None:
    """Two clients, one on wifi and one on the LAN: the wifi one is always the last to arrive,
    for about half of each cycle, and stays."""
    match = Match(tmp_path, "lockstep", 3, ["circle"], net="lan")
    match.profile = PROFILES["wifi"]
    match.join("zigzag")
    match.run(40.0)
    server, clients = match.stats()
    assert all(c["ended"] is None for c in clients) and len(match.server.clients) == 2
    assert all(len(s.holds) == 0 for s in match.server.frames.slots.values())


def test_a_long_frame_sync_game_holds_no_more_than_a_short_one(tmp_path) -> None:
    """As ``tests/test_bounded_memory.py`` does for state sync: every container reachable from the
    server and the clients, after 40 s and after 120 s of rollback play."""
    from test_bounded_memory import held_items

    def sizes(seconds: float) -> tuple[int, list[int]]:
        match = Match(tmp_path, "rollback", 2, ["random", "zigzag"], net="wifi")
        match.run(seconds)
        return held_items(match.server), [held_items(client) for client, _ in match.clients]

    (server_short, clients_short), (server_long, clients_long) = sizes(40.0), sizes(120.0)
    assert server_long <= server_short * 1.1 + 50
    for short, long in zip(clients_short, clients_long):
        assert long <= short * 1.1 + 50


def test_a_pause_of_the_server_itself_is_nobodys_hold(tmp_path) -> None:
    """The server stalls (a hitch on its machine) for 2.5 s, three times: the player whose input
    it then lacks alone did nothing wrong, and a pause counts as one server tick."""
    match = Match(tmp_path, "lockstep", 3, ["circle"], net="lan")
    match.profile = PROFILES["wifi"]
    match.join("zigzag")
    for _ in range(3):
        match.run(5.0)
        for _ in range(round(2.5 / DT)):  # the clients go on; the server does not run
            match.clock.advance(DT)
            for client, bot in match.clients:
                client.frame(match.clock.now(), DT, bot)
    match.run(5.0)
    assert len(match.server.clients) == 2
    assert all(len(s.holds) == 0 for s in match.server.frames.slots.values())
