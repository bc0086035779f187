"""Server bots: players the server plays itself, through the same tick as everyone's inputs."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from game import bots, sim
from game.netgame import SimRules
from game.server_app import add_server_bots
from netcode.client_session import ClientSession, ClientState
from netcode.clock import FakeClock
from netcode.server import ServerConfig, ServerSession
from netcode.transport import MemoryNetwork

ROOT = Path(__file__).resolve().parents[1]
SERVER = ("10.0.0.1", 7777)
DT = 1 / 60


class Game:
    def __init__(self, config: ServerConfig = ServerConfig(), bot_count: int = 3) -> None:
        self.clock = FakeClock(10.0)
        self.net = MemoryNetwork()
        self.server = ServerSession(SimRules(60), self.net.endpoint(SERVER), config, self.clock.now())
        add_server_bots(self.server, bot_count)
        self.clients: list[ClientSession] = []

    def join(self, name: str) -> ClientSession:
        client = ClientSession(self.net.endpoint((f"10.0.1.{len(self.clients) + 1}", 5000)), SERVER, name,
                               sim.RULES_HASH, self.clock.now())
        self.clients.append(client)
        return client

    def run(self, seconds: float) -> None:
        for _ in range(round(seconds / DT)):
            self.clock.advance(DT)
            now = self.clock.now()
            for c in self.clients:
                c.update(now)
                if c.state is ClientState.CONNECTED:
                    c.send_input(0, now)
            self.server.receive(now)
            self.server.tick_once(now)
            for c in self.clients:
                c.receive(now)


def test_bots_are_players_everyone_sees_and_they_move() -> None:
    game = Game(ServerConfig(keep_bots=True))
    start = dict(game.server.rules.entities(game.server.world))
    alice = game.join("alice")
    game.run(3.0)
    assert alice.state is ClientState.CONNECTED
    assert sorted(alice.roster.values()) == ["alice", "bot Ada", "bot Boole", "bot Church"]
    state_ids = alice.newest.state[0::5]
    assert {pid for pid in state_ids if pid < 128} == set(alice.roster)  # the bots are in every snapshot, like players
    now = game.server.rules.entities(game.server.world)
    moved = [pid for pid in game.server.bots if (now[pid].x_px, now[pid].y_px) != (start[pid].x_px, start[pid].y_px)]
    assert len(moved) == 3
    assert game.server.stats()["bots"] == 3


def test_the_first_person_plays_with_the_bots_and_each_friend_after_sends_one_away() -> None:
    game = Game(bot_count=3)
    game.join("alice")
    game.run(1.0)
    assert len(game.server.bots) == 3
    game.join("bob")
    game.run(1.0)
    assert len(game.server.bots) == 2
    assert sorted(game.clients[0].roster.values()) == ["alice", "bob", "bot Ada", "bot Boole"]
    assert ["leave", 2, "bot Church"] in list(game.clients[0].events)  # alice was told
    kept = Game(ServerConfig(keep_bots=True), bot_count=3)
    kept.join("alice")
    kept.join("bob")
    kept.run(1.0)
    assert len(kept.server.bots) == 3


def test_a_full_server_makes_room_for_a_person_by_sending_a_bot_away() -> None:
    game = Game(ServerConfig(max_players=3, keep_bots=True), bot_count=5)
    assert len(game.server.bots) == 3  # no more than the slots
    alice = game.join("alice")
    game.run(1.0)
    assert alice.state is ClientState.CONNECTED, alice.reason
    assert len(game.server.bots) == 2


def test_bot_moves_repeat_exactly() -> None:
    worlds = []
    for _ in range(2):
        game = Game(bot_count=4)
        game.run(2.0)
        worlds.append(sim.state_hash(game.server.world))
    assert worlds[0] == worlds[1]


def test_run_server_bots_flag_over_real_udp(tmp_path: Path) -> None:
    stats_path = tmp_path / "server.json"
    server = subprocess.Popen([sys.executable, str(ROOT / "run_server.py"), "--port", "0", "--bind", "127.0.0.1",
                               "--bots", "2", "--duration", "4", "--stats-json", str(stats_path),
                               "--log-level", "warning"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    port = int(server.stdout.readline().split("UDP port ")[1].split(",")[0])
    client_stats = tmp_path / "client.json"
    subprocess.run([sys.executable, str(ROOT / "run_client.py"), "--host", "127.0.0.1", "--port", str(port),
                    "--headless", "--bot", "idle", "--duration", "2", "--stats-json", str(client_stats)],
                   cwd=ROOT, check=True, timeout=30, capture_output=True)
    server.wait(timeout=30)
    served = json.loads(stats_path.read_text())
    played = json.loads(client_stats.read_text())
    assert served["bots"] == 2  # the first person plays with them all
    assert played["events_received"] >= 1 and played["events_missed"] == 0  # at least our own join


def test_bad_bot_counts_are_refused_with_a_message() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "run_server.py"), "--bots", "40"], cwd=ROOT,
                          capture_output=True, text=True, timeout=20)
    assert done.returncode == 2 and "bots must be 0..16" in done.stderr


def test_a_random_bot_remembers_a_bounded_plan() -> None:
    bot = bots.random_bot(3)
    first = [bot(n, None) for n in range(100)]
    for n in range(100, 200_000):
        bot(n, None)
    assert bots.random_bot(3)(99, None) == first[99]
    closure = dict(zip(bot.__code__.co_freevars, (c.cell_contents for c in bot.__closure__)))
    assert len(closure["runs"]) <= bots.RANDOM_RUNS_KEPT + 1


def test_a_removal_that_removes_another_client_never_removes_it_twice() -> None:
    from netcode.connection import TIMEOUT_S
    game = Game(bot_count=0)
    game.join("alice"), game.join("bob")
    game.run(1.0)
    bob_slot = next(s for s in game.server.clients.values() if s.name == "bob")
    while bob_slot.events_out.pending < 256:  # bob has acknowledged nothing for a long time
        bob_slot.events_out.push(["x"])
    game.clients.clear()  # both go silent
    game.clock.advance(TIMEOUT_S + 1)
    game.server.tick_once(game.clock.now())  # alice times out; telling bob overflows him: both go
    assert not game.server.clients


def test_a_baseline_beyond_what_the_wire_can_name_is_not_used() -> None:
    from netcode.protocol import MAX_BASELINE_AGO, DeltaSnapshot
    game = Game(ServerConfig(snapshot_rate=6), bot_count=1)  # 32 baselines span 320 ticks
    game.join("alice")
    game.run(6.0)
    slot = next(iter(game.server.clients.values()))
    oldest = next(iter(game.server.sent_states))
    assert game.server.tick - oldest > MAX_BASELINE_AGO
    slot.snapshot_tick_known = oldest
    server = game.server
    message = server._snapshot_for(slot, server.rules.encode_state(server.world), {}, server._baselines_worth_encoding())
    assert isinstance(message, DeltaSnapshot) and message.baseline_ago == 0


def test_clients_claiming_many_baselines_cannot_buy_more_than_a_few_encodings(monkeypatch) -> None:
    from netcode import snapshot_codec
    from netcode.server import MAX_ENCODINGS_PER_SNAPSHOT
    game = Game(ServerConfig(max_per_ip=16), bot_count=0)
    for i in range(12):
        game.join(f"p{i}")
    game.run(2.0)
    kept = list(game.server.sent_states)
    calls = []
    real = snapshot_codec.encode
    monkeypatch.setattr(snapshot_codec, "encode", lambda *a: calls.append(a[3]) or real(*a))
    for slot, tick in zip(game.server.clients.values(), kept[-12:]):
        slot.snapshot_tick_known = tick  # twelve different claims, all of ticks we still hold
    game.server._send_snapshots(game.clock.now())
    assert len(calls) == MAX_ENCODINGS_PER_SNAPSHOT  # seven baselines and one "against nothing"


def crowded_with_records(world: sim.World) -> sim.World:
    """Every player at top speed with a tag record (scores, wins, some timers): the largest
    state the tag game makes, whose delta against nothing does not fit one datagram at 128."""
    from dataclasses import replace

    from game.tag import Tag
    players = []
    for p in world.players:
        vx, vy = ((1365, 0), (-965, 965), (0, -1365))[p.id % 3]
        players.append(replace(p, vx=vx, vy=vy, tag=Tag(it=p.id < 4, wins=p.id % 7, score=p.id % 9 - 4,
                                                          boost=60 if p.id % 10 == 0 else 0)))
    return replace(world, players=tuple(players))


def test_a_state_too_big_for_one_datagram_goes_in_fragments_and_arrives_exact() -> None:
    from game.netgame import STATE_LAYOUT
    from netcode import snapshot_codec
    from netcode.server import MAX_DELTA_PAYLOAD_BYTES
    game = Game(ServerConfig(max_players=128, keep_bots=True, max_per_ip=1), bot_count=0)
    for i in range(127):
        game.server.add_bot(f"b{i}", lambda n, world, pid: 0)
    game.server.world = crowded_with_records(game.server.world)
    state = game.server.rules.encode_state(game.server.world)
    assert len(snapshot_codec.encode(STATE_LAYOUT, state, None, 0)) > MAX_DELTA_PAYLOAD_BYTES
    alice = game.join("alice")
    game.run(1.0)
    assert alice.state is ClientState.CONNECTED and alice.newest is not None
    assert game.server.stats()["snapshots_fragmented"] >= 1
    assert game.server.stats()["dropped_packets"].get("too_big_to_send", 0) == 0
    # Later snapshots are deltas against the joined one; the client's state is the server's, exactly.
    sent = game.server.sent_states[alice.newest.tick]
    assert list(alice.newest.state) == sent.ravel().tolist()
    assert len(alice.baselines) >= 2 and game.server.snapshots_full < game.server.snapshots_sent
