"""Server and client sessions joined over an in-memory network with a fake clock.

Everything runs in one process and one thread: the harness advances the fake clock one tick at a
time, lets clients send, lets the server drain its queue and tick, then lets clients read. A small
``Link`` wrapper between a client and the network can lose, duplicate and delay datagrams
deterministically, and a ``RecordingRules`` wrapper writes down exactly which inputs the server
applied to each player on each tick. The server has a fixed secret, so its cookies and tokens
repeat from run to run; every harness client shares one IP address, so the per-IP cap is raised
to the most allowed unless a test asks for the default.
"""
from __future__ import annotations

import random
import re
from collections import defaultdict
from typing import Callable, Mapping, Sequence

import msgpack
import pytest

from game import sim
from game.netgame import SimRules
from netcode.client_session import ClientSession, ClientState
from netcode.clock import FakeClock
from netcode.connection import TIMEOUT_S
from netcode.handshake import CONNECTS_PER_ADDR_PER_S
from netcode.protocol import (CONNECT_REQUEST_MIN_BYTES, MAX_NAME_CHARS, MAX_REDUNDANT_INPUTS, PROTOCOL_ID,
                              PROTOCOL_VERSION, TOKEN_NONE, Challenge, ConnectRequest, Header, Inputs, PacketType,
                              Refuse, Snapshot, decode, decode_header, encode)
from netcode.input_buffer import (GAP_PATIENCE_TICKS, MAX_BACKLOG_INPUTS, MAX_CATCHUP_CREDIT, BufferPolicy,
                                  InputBuffer)
from netcode.server import ServerConfig, ServerSession
from netcode.transport import Address, MemoryNetwork, MemoryTransport

TICK_RATE = 60
DT = 1 / TICK_RATE
SERVER: Address = ("10.0.0.1", 5000)
CLIENT_IP = "10.0.0.2"  # every harness client's IP address (each gets its own port)
SECRET = b"test-secret"
HARNESS_MAX_PER_IP = 64  # the most ServerConfig allows: the harness clients share one IP


class RecordingRules(SimRules):
    """The real rules, plus a log of the inputs the server applied: ``applied[player] = [bits...]``."""

    def __init__(self, tick_rate: int) -> None:
        super().__init__(tick_rate)
        self.applied: dict[int, list[int]] = defaultdict(list)
        self.per_tick: list[dict[int, int]] = []

    def step(self, world: sim.World, inputs: Mapping[int, Sequence[int]], views=None) -> sim.World:
        self.per_tick.append({pid: len(bits) for pid, bits in inputs.items()})
        for pid, bits in inputs.items():
            self.applied[pid].extend(bits)
        return super().step(world, inputs, views)


class Link:
    """A client's transport with a scripted network in front of it: loss, duplicates, delay.

    ``plan(data)`` returns the delays in ticks of each copy to deliver (empty list: lost).
    Datagrams addressed to the client are passed through untouched, and every one is tapped.
    """

    def __init__(self, inner: MemoryTransport) -> None:
        self.inner = inner
        self.local_address = inner.local_address
        self.plan: Callable[[bytes], list[int]] = lambda data: [0]
        self.held: list[tuple[int, bytes, Address]] = []
        self.tick = 0
        self.sent: list[bytes] = []
        self.received_types: list[int] = []
        self.drop_incoming: set[int] = set()  # packet types lost on the way to the client

    def send(self, data: bytes, addr: Address, now: float) -> None:
        self.sent.append(data)
        for delay in self.plan(data):
            self.held.append((self.tick + delay, data, addr))

    def flush(self, now: float) -> None:
        """Hand over every datagram whose delay has passed (called once per tick)."""
        due = [h for h in self.held if h[0] <= self.tick]
        self.held = [h for h in self.held if h[0] > self.tick]
        for _, data, addr in due:
            self.inner.send(data, addr, now)
        self.tick += 1

    def receive(self, now: float) -> list[tuple[bytes, Address]]:
        datagrams = [d for d in self.inner.receive(now) if decode_header(d[0])[0] not in self.drop_incoming]
        for data, _ in datagrams:
            self.received_types.append(decode_header(data)[0])
        return datagrams

    def wait(self, timeout_s: float, now: float) -> None:
        return None

    def close(self) -> None:
        self.inner.close()


class Harness:
    def __init__(self, max_players: int = 16, snapshot_rate: int = 30, input_buffer: str = "adaptive",
                 max_per_ip: int = HARNESS_MAX_PER_IP) -> None:
        self.clock = FakeClock(100.0)
        self.net = MemoryNetwork()
        self.rules = RecordingRules(TICK_RATE)
        config = ServerConfig(tick_rate=TICK_RATE, snapshot_rate=snapshot_rate, max_players=max_players,
                              input_buffer=BufferPolicy.parse(input_buffer), max_per_ip=max_per_ip)
        self.server = ServerSession(self.rules, self.net.endpoint(SERVER), config, self.clock.now(), secret=SECRET)
        self.clients: list[ClientSession] = []
        self.links: dict[int, Link] = {}
        self.snapshots: dict[int, list[Snapshot]] = defaultdict(list)
        self.silent: set[int] = set()  # clients that stopped running entirely
        self._port = 6000

    @property
    def now(self) -> float:
        return self.clock.now()

    def client(self, name: str = "p", rules_hash: str | None = None, ip: str = CLIENT_IP) -> ClientSession:
        self._port += 1
        link = Link(self.net.endpoint((ip, self._port)))
        client = ClientSession(link, SERVER, name, sim.RULES_HASH if rules_hash is None else rules_hash, self.now)
        self.clients.append(client)
        self.links[id(client)] = link
        return client

    def link(self, client: ClientSession) -> Link:
        return self.links[id(client)]

    def tick(self, send: Callable[[float], None] | None = None) -> None:
        """One frame: clients send, the network moves, the server ticks, clients read."""
        self.clock.advance(DT)
        now = self.now
        running = [c for c in self.clients if id(c) not in self.silent]
        for c in running:
            c.update(now)
        if send is not None:
            send(now)
        for c in self.clients:
            self.link(c).flush(now)
        self.server.receive(now)
        self.server.tick_once(now)
        for c in running:
            self.snapshots[id(c)] += [r.snapshot for r in c.receive(now)]

    def ticks(self, n: int, send: Callable[[float], None] | None = None) -> None:
        for _ in range(n):
            self.tick(send)

    def connect(self, name: str = "p", ip: str = CLIENT_IP) -> ClientSession:
        client = self.client(name, ip=ip)
        for _ in range(3):  # request, challenge; request with the cookie, accept; one spare
            self.tick()
        assert client.state is ClientState.CONNECTED, client.reason
        return client

    def slot(self, client: ClientSession):
        return self.server.clients[self.link(client).local_address]

    def counts_since_join(self, player_id: int) -> list[int]:
        """Inputs applied to ``player_id`` on each server tick since it joined."""
        ticks = [c for c in self.rules.per_tick if player_id in c]
        return [c[player_id] for c in ticks]


def assert_credit_rule(counts: list[int]) -> None:
    """At most two inputs in one tick, and never more inputs than ticks so far."""
    total = 0
    for n_ticks, count in enumerate(counts, start=1):
        total += count
        assert count <= 2
        assert total <= n_ticks


# =============================================================================================
# handshake
# =============================================================================================

def test_handshake_accept() -> None:
    h = Harness(snapshot_rate=20)
    a = h.client("alice")
    assert a.state is ClientState.CONNECTING
    h.tick()  # the request gets only a challenge, whose cookie the client echoes at once
    assert a.state is ClientState.CONNECTING and a.cookie
    assert not h.server.clients
    h.tick()
    assert a.state is ClientState.CONNECTED
    assert a.conn.token != TOKEN_NONE and a.conn.token == h.slot(a).conn.token
    assert a.accept is not None
    assert (a.player_id, a.accept.tick_rate, a.accept.snapshot_rate) == (0, TICK_RATE, 20)
    assert a.accept.rules_hash == sim.RULES_HASH
    b = h.connect("bob")
    assert b.player_id == 1
    assert [p.id for p in h.server.world.players] == [0, 1]
    assert sorted(s.name for s in h.server.clients.values()) == ["alice", "bob"]
    assert any("'alice' joined" in e for e in h.server.events)  # names are quoted in the log


def test_connect_request_is_resent_until_answered() -> None:
    h = Harness()
    a = h.client()
    h.link(a).plan = lambda data: []  # the first requests are lost
    h.ticks(20)
    assert a.state is ClientState.CONNECTING
    requests = [d for d in h.link(a).sent if decode_header(d)[0] == PacketType.CONNECT_REQUEST]
    assert 2 <= len(requests) <= 3  # every 0.25 s, not every frame
    h.link(a).plan = lambda data: [0]
    h.ticks(20)
    assert a.state is ClientState.CONNECTED


def test_lost_accept_is_sent_again() -> None:
    h = Harness()
    a = h.client()
    link = h.link(a)
    a.update(h.now)
    link.flush(h.now)
    h.server.receive(h.now)  # a challenge
    assert not h.server.clients
    a.receive(h.now)  # the client echoes the cookie at once
    link.flush(h.now)
    h.server.receive(h.now)
    assert len(h.server.clients) == 1
    h.net.queues[link.local_address].clear()  # the accept is lost
    h.ticks(20)  # the client asks again; the server recognises it and repeats the accept
    assert a.state is ClientState.CONNECTED and a.player_id == 0
    assert len(h.server.clients) == 1
    assert [p.id for p in h.server.world.players] == [0]
    assert link.received_types.count(PacketType.ACCEPT) == 1
    assert link.received_types.count(PacketType.CHALLENGE) == 1


def _refused(h: Harness, client: ClientSession) -> tuple[bytes, bytes]:
    """Run until ``client`` is refused; return (its last connect request, the refusal datagram).

    A refusal only comes once the client has proven its address: first a challenge, then the
    request again with the cookie, then the refusal.
    """
    link = h.link(client)
    before = len(link.received_types)
    inbox = h.net.queues[link.local_address]
    client.update(h.now)
    link.flush(h.now)
    first = link.sent[-1]
    h.server.receive(h.now)
    (challenge, _), = list(inbox)
    assert len(challenge) <= len(first)
    client.receive(h.now)  # reads the challenge and asks again at once, with the cookie
    assert client.state is ClientState.CONNECTING
    link.flush(h.now)
    request = link.sent[-1]
    assert decode(request)[1].cookie == decode(challenge)[1].cookie
    h.server.receive(h.now)
    (reply, _), = list(inbox)
    client.receive(h.now)
    assert client.state is ClientState.REFUSED
    assert link.received_types[before:] == [PacketType.CHALLENGE, PacketType.REFUSE]
    return request, reply


def test_refused_when_server_full() -> None:
    h = Harness(max_players=1)
    h.connect("first")
    second = h.client("second")
    request, reply = _refused(h, second)
    assert "full" in second.reason
    assert len(reply) <= len(request)
    assert len(h.server.clients) == 1
    assert [p.id for p in h.server.world.players] == [0]
    h.ticks(30)
    assert second.state is ClientState.REFUSED  # a refusal is final, not retried


def test_refused_on_rules_mismatch_naming_both_hashes() -> None:
    h = Harness()
    other = "0000111122223333"
    client = h.client(rules_hash=other)
    request, reply = _refused(h, client)
    assert "rules" in client.reason
    assert sim.RULES_HASH in client.reason and other in client.reason
    assert len(reply) <= len(request)
    assert not h.server.clients


@pytest.mark.parametrize("rules_hash", ["0000000000000000", "ffffffffffffffff", "0123456789abcdef"])
def test_refusal_is_never_larger_than_the_request(rules_hash: str) -> None:
    """Whatever (well-formed) hash a client claims, the refusal it provokes is no larger than its request."""
    h = Harness()
    client = h.client(rules_hash=rules_hash)
    request, reply = _refused(h, client)
    assert len(reply) <= len(request)
    assert isinstance(decode(reply)[1], Refuse)
    assert client.reason.startswith("refused by server: rules mismatch")


@pytest.mark.parametrize("rules_hash", ["é" * 64, "😀" * 64, "x" * 64, "", "😀" * 60 + "\n\t\0",
                                        "0123456789ABCDEF", "0123456789abcde"])
def test_a_malformed_rules_hash_gets_no_reply_at_all(rules_hash: str) -> None:
    """A hash that is not 16 lowercase hex digits makes the request malformed: dropped, never answered."""
    h = Harness()
    client = h.client(rules_hash=rules_hash)
    h.ticks(20)
    requests = [d for d in h.link(client).sent if decode_header(d)[0] == PacketType.CONNECT_REQUEST]
    assert len(requests) >= 2
    assert h.link(client).received_types == []  # no challenge, no refusal: nothing at all
    assert client.state is ClientState.CONNECTING
    # Dropped unread: as a malformed body, or already by the byte count before msgpack (emoji).
    assert sum(h.server.dropped.values()) == len(requests)
    assert set(h.server.dropped) <= {"bad_body", "too_nested"}
    assert not h.server.clients


def test_per_ip_cap_with_the_default_config() -> None:
    """A few people behind one router may play; a fifth session from the same IP is refused."""
    default = ServerConfig().max_per_ip
    assert default == 4
    h = Harness(max_per_ip=default)
    for i in range(default):
        h.connect(f"home{i}")
    fifth = h.client("home4")
    request, reply = _refused(h, fifth)
    assert f"too many players from {CLIENT_IP}" in fifth.reason
    assert len(reply) <= len(request)
    assert dict(h.server.refusals) == {"per_ip": 1}
    assert len(h.server.clients) == default
    other = h.connect("elsewhere", ip="10.0.0.3")  # another IP address is not affected
    assert other.player_id == default


def test_names_are_made_unique() -> None:
    h = Harness()
    long = "x" * MAX_NAME_CHARS
    for name in ("p", "p", "p", long, long):
        h.connect(name)
    names = [s.name for s in sorted(h.server.clients.values(), key=lambda s: s.player_id)]
    assert names == ["p", "p-2", "p-3", long, long[:MAX_NAME_CHARS - 2] + "-2"]
    h.ticks(3)
    assert sorted(h.clients[0].roster.values()) == sorted(names)


def test_plain_connect_request_from_a_connected_address_is_dropped() -> None:
    """A request without the cookie never replaces (or answers for) a session already there."""
    h = Harness()
    a = h.connect("alice")
    slot = h.slot(a)
    addr = h.link(a).local_address
    h.link(a).inner.send(encode(ConnectRequest("mallory", sim.RULES_HASH), Header(PROTOCOL_VERSION, 0, -1, 0)),
                         SERVER, h.now)
    h.server.receive(h.now)
    assert dict(h.server.dropped) == {"connected_peer": 1}
    assert not h.net.queues[addr]  # no challenge, no accept
    assert h.server.clients == {addr: slot} and slot.name == "alice"
    h.ticks(10)
    assert a.state is ClientState.CONNECTED and h.slot(a) is slot


def test_connect_requests_are_rate_limited_per_address() -> None:
    h = Harness()
    raw = h.net.endpoint(("10.0.0.9", 9999))
    request = encode(ConnectRequest("flood", sim.RULES_HASH), Header(PROTOCOL_VERSION, 0, -1, 0))
    for _ in range(20):
        raw.send(request, SERVER, h.now)
    h.server.receive(h.now)
    replies = raw.receive(h.now)
    assert len(replies) == CONNECTS_PER_ADDR_PER_S
    assert all(isinstance(decode(data)[1], Challenge) for data, _ in replies)
    assert dict(h.server.dropped) == {"rate_limited": 20 - CONNECTS_PER_ADDR_PER_S}
    b = h.connect("bob")  # another address is not affected
    assert b.state is ClientState.CONNECTED
    h.clock.advance(1.0)  # the next second, the flooding address is answered again
    raw.send(request, SERVER, h.now)
    h.server.receive(h.now)
    assert len(raw.receive(h.now)) == 1


def test_refused_on_version_mismatch_naming_both_versions() -> None:
    h = Harness()
    raw = h.net.endpoint(("10.0.0.9", 9999))
    request = encode(ConnectRequest("future", sim.RULES_HASH), Header(99, 0, -1, 0))
    raw.send(request, SERVER, h.now)
    h.server.receive(h.now)
    (reply, addr), = raw.receive(h.now)
    assert addr == SERVER
    header, message = decode(reply)
    assert isinstance(message, Refuse)
    assert "version" in message.reason
    assert re.search(rf"\b{PROTOCOL_VERSION}\b", message.reason) and re.search(r"\b99\b", message.reason)
    assert len(reply) <= len(request)
    assert h.server.dropped["version"] == 1
    assert not h.server.clients


def test_a_client_shows_the_refusal_of_a_server_of_another_version() -> None:
    net = MemoryNetwork()
    clock = FakeClock()
    server = net.endpoint(SERVER)
    client = ClientSession(net.endpoint(("10.0.0.2", 6000)), SERVER, "me", sim.RULES_HASH, clock.now())
    client.update(clock.now())  # sends its connect request
    (_, addr), = server.receive(clock.now())
    reason = f"version mismatch: server speaks protocol 7, client speaks {PROTOCOL_VERSION}"
    server.send(encode(Refuse(reason), Header(7, 0, -1, 0)), addr, clock.now())
    client.receive(clock.now())
    assert client.state is ClientState.REFUSED
    assert "protocol 7" in client.reason and f"client speaks {PROTOCOL_VERSION}" in client.reason
    # Anything else from that server is dropped and counted, as before.
    server.send(encode(Snapshot(1, -1, 0, ()), Header(7, 1, -1, 0)), addr, clock.now())
    client.receive(clock.now())
    assert client.dropped["version"] == 1


def test_version_mismatch_other_packets_get_no_reply() -> None:
    h = Harness()
    raw = h.net.endpoint(("10.0.0.9", 9999))
    raw.send(encode(Inputs(0, (1,), -1, -1), Header(99, 0, -1, 0)), SERVER, h.now)
    h.server.receive(h.now)
    assert raw.receive(h.now) == []
    assert h.server.dropped["version"] == 1


def test_unpadded_connect_request_gets_no_reply() -> None:
    """An attacker skipping the padding must not get an accept larger than what it sent."""
    h = Harness()
    raw = h.net.endpoint(("10.0.0.9", 9999))

    def short(cookie: bytes) -> bytes:
        return msgpack.packb([PROTOCOL_ID, PROTOCOL_VERSION, PacketType.CONNECT_REQUEST, 0, -1, 0, 0, TOKEN_NONE,
                              ["", sim.RULES_HASH, cookie]])

    assert len(short(b"")) < CONNECT_REQUEST_MIN_BYTES
    raw.send(short(b""), SERVER, h.now)
    h.server.receive(h.now)
    assert raw.receive(h.now) == []  # not even a challenge
    # Even with a valid cookie (got with a padded request), an unpadded request gets nothing.
    raw.send(encode(ConnectRequest("", sim.RULES_HASH), Header(PROTOCOL_VERSION, 0, -1, 0)), SERVER, h.now)
    h.server.receive(h.now)
    (reply, _), = raw.receive(h.now)
    challenge = decode(reply)[1]
    assert isinstance(challenge, Challenge)
    assert len(short(challenge.cookie)) < CONNECT_REQUEST_MIN_BYTES
    raw.send(short(challenge.cookie), SERVER, h.now)
    h.server.receive(h.now)
    assert raw.receive(h.now) == []
    assert not h.server.clients
    assert dict(h.server.dropped) == {"short_request": 2}


# =============================================================================================
# malformed datagrams
# =============================================================================================

def test_malformed_datagrams_are_dropped_counted_and_harmless() -> None:
    h = Harness()
    a = h.connect("alice")
    raw = h.net.endpoint(("10.0.0.9", 9999))
    raw.send(b"\xff\x00garbage", SERVER, h.now)
    raw.send(b"", SERVER, h.now)
    raw.send(b"\x00" * 5000, SERVER, h.now)
    raw.send(encode(Inputs(5, (1, 2), -1, -1), Header(PROTOCOL_VERSION, 0, -1, 0)), SERVER, h.now)
    raw.send(msgpack.packb([PROTOCOL_ID, PROTOCOL_VERSION, 4, 0, -1, 0, 0, TOKEN_NONE, [True, [1], -1, -1]]),
             SERVER, h.now)
    # The connected client's own address sending garbage is dropped too, without losing its slot.
    h.link(a).inner.send(b"\x93\x01\x02", SERVER, h.now)
    h.server.receive(h.now)
    # Junk is turned away by its first bytes before msgpack sees it (garbage, empty, 5000 zeros, a
    # 3-item array from the connected client).
    assert dict(h.server.dropped) == {"not_ours": 4, "unknown_peer": 1, "bad_body": 1}
    assert raw.receive(h.now) == []  # nothing answered
    assert len(h.server.clients) == 1
    # ... and the server keeps working: inputs still flow, a new client can join.
    h.ticks(10, send=lambda now: a.send_input(sim.RIGHT, now))
    assert h.slot(a).inputs.applied >= 8
    b = h.connect("bob")
    assert b.player_id == 1


# =============================================================================================
# timeouts and disconnects
# =============================================================================================

def test_silent_client_times_out_and_frees_its_slot() -> None:
    h = Harness(max_players=1)
    a = h.connect("alice")
    h.silent.add(id(a))
    silent_since = h.slot(a).conn.last_receive_s
    while h.now < silent_since + TIMEOUT_S - 0.05:
        h.tick()
    assert len(h.server.clients) == 1
    while h.now < silent_since + TIMEOUT_S + 2 * DT:
        h.tick()
    assert h.server.clients == {}
    assert h.server.world.players == ()
    assert any("timed out" in e for e in h.server.events)
    b = h.connect("bob")
    assert b.player_id == 0


def test_idle_but_running_client_is_kept_alive() -> None:
    h = Harness()
    a = h.connect()
    h.ticks(int(3 * TIMEOUT_S * TICK_RATE))  # no inputs: keep-alives alone keep both ends up
    assert a.state is ClientState.CONNECTED
    assert len(h.server.clients) == 1


def test_client_notices_a_silent_server() -> None:
    h = Harness()
    a = h.connect()
    h.net.queues.pop(SERVER)  # the server vanishes
    for _ in range(int((TIMEOUT_S + 0.2) * TICK_RATE)):
        h.clock.advance(DT)
        a.update(h.now)
        a.receive(h.now)
    assert a.state is ClientState.DISCONNECTED
    assert "timed out" in a.reason


def test_clean_disconnect_frees_the_slot_at_once() -> None:
    h = Harness(max_players=1)
    a = h.connect("alice")
    version = h.server.roster_version
    a.disconnect(h.now)
    h.link(a).flush(h.now)
    h.server.receive(h.now)
    assert h.server.clients == {}
    assert h.server.world.players == ()
    assert h.server.roster_version == version + 1
    assert any("left" in e for e in h.server.events)
    h.silent.add(id(a))
    b = h.connect("bob")
    assert b.player_id == 0


def test_server_shutdown_tells_clients() -> None:
    h = Harness()
    a = h.connect()
    h.server.shutdown(h.now)
    a.receive(h.now)
    assert a.state is ClientState.DISCONNECTED
    assert "shutting down" in a.reason


# =============================================================================================
# the input buffer, through the whole stack
# =============================================================================================

def test_inputs_applied_exactly_once_in_order_despite_duplicates_loss_and_reordering() -> None:
    h = Harness()
    a = h.connect("alice")
    rng = random.Random(1234)
    lossy = {"on": True}

    def plan(data: bytes) -> list[int]:
        if decode_header(data)[0] != PacketType.INPUT:
            return [0]
        if lossy["on"] and rng.random() < 0.25:
            return []
        return [rng.choice((0, 0, 1)), rng.choice((0, 1, 2, 3))]  # every packet twice, some late

    h.link(a).plan = plan
    sent_bits: list[int] = []

    def send(now: float) -> None:
        bits = (len(sent_bits) * 7) % 256  # distinct neighbours, so order is visible
        sent_bits.append(bits)
        a.send_input(bits, now)

    h.ticks(300, send)
    lossy["on"] = False
    h.ticks(20, send)
    h.ticks(30)
    applied = h.rules.applied[a.player_id]
    assert applied == sent_bits
    assert h.slot(a).inputs.skipped == 0
    assert h.server.dropped["duplicate"] > 100
    assert a.last_applied_seq == len(sent_bits) - 1
    assert not a.unacked
    assert_credit_rule(h.counts_since_join(a.player_id))


def test_flooding_client_gets_no_more_inputs_than_ticks() -> None:
    h = Harness()
    a = h.connect("cheater")
    honest = h.connect("honest")

    def send(now: float) -> None:
        for _ in range(10):
            a.send_input(sim.RIGHT, now)  # ten inputs per tick, racing ahead
        honest.send_input(sim.LEFT, now)

    start = h.server.world.player(a.player_id)
    h.ticks(120, send)
    counts = h.counts_since_join(a.player_id)
    assert_credit_rule(counts)
    assert_credit_rule(h.counts_since_join(honest.player_id))
    assert h.slot(a).inputs.applied == sum(counts) <= len(counts)
    assert a.next_input_seq == 1200  # it really did send ten times as many
    # The cheater cannot outrun the speed limit: at most max_speed per tick since it joined.
    end = h.server.world.player(a.player_id)
    assert abs(end.x - start.x) <= len(counts) * h.rules.physics.max_speed


def test_catch_up_after_a_stall_is_bounded_with_the_buffer_off() -> None:
    h = Harness(input_buffer="off")
    a = h.connect()
    stall = {"until": 0}
    link = h.link(a)

    def plan(data: bytes) -> list[int]:
        if decode_header(data)[0] == PacketType.INPUT and link.tick < stall["until"]:
            return [stall["until"] - link.tick]  # held back, then released together
        return [0]

    link.plan = plan
    send = lambda now: a.send_input(sim.DOWN, now)  # noqa: E731
    h.ticks(30, send)  # steady state: one input per tick
    slot = h.slot(a)
    before = slot.inputs.applied
    stall_ticks = 20
    stall["until"] = link.tick + stall_ticks
    first = len(h.rules.per_tick)
    h.ticks(stall_ticks + 40, send)
    counts = [c.get(a.player_id, 0) for c in h.rules.per_tick[first:]]
    assert max(counts) == 2
    assert counts.count(2) == min(stall_ticks, MAX_CATCHUP_CREDIT)
    assert counts[:stall_ticks - 1].count(0) >= stall_ticks - 2  # nothing arrived during the stall
    assert slot.inputs.skipped == 0
    assert slot.inputs.applied - before == sum(counts)
    # Everything sent arrived and is either applied or still waiting, in order.
    assert slot.inputs.last_applied_seq + len(slot.inputs.waiting) == a.next_input_seq - 1


def test_gap_lost_beyond_redundancy_is_skipped_after_patience_with_the_buffer_off() -> None:
    h = Harness(input_buffer="off")
    a = h.connect()
    link = h.link(a)
    blackout = {"on": False}
    link.plan = lambda data: [] if blackout["on"] and decode_header(data)[0] == PacketType.INPUT else [0]
    bits_log: list[int] = []

    def send(now: float) -> None:
        bits_log.append(len(bits_log) % 256)
        a.send_input(bits_log[-1], now)

    h.ticks(10, send)
    slot = h.slot(a)
    first_lost = a.next_input_seq
    blackout["on"] = True
    lost_packets = MAX_REDUNDANT_INPUTS + 9
    h.ticks(lost_packets, send)
    blackout["on"] = False
    applied_before = list(h.rules.applied[a.player_id])
    assert slot.inputs.next_seq == first_lost
    h.ticks(GAP_PATIENCE_TICKS - 1, send)  # inputs arrive, but with a hole in front of them
    assert slot.inputs.skipped == 0
    assert h.rules.applied[a.player_id] == applied_before
    h.ticks(2, send)
    gap = lost_packets - MAX_REDUNDANT_INPUTS + 1
    assert slot.inputs.skipped >= gap  # the hole, plus any backlog trimmed beyond MAX_BACKLOG_INPUTS
    before = len(h.rules.applied[a.player_id])
    h.ticks(60, send)
    applied = h.rules.applied[a.player_id]
    assert len(applied) - before >= 60  # it moves on: at least one input per tick again
    assert applied[:first_lost] == bits_log[:first_lost]
    after_gap = applied[first_lost:]
    assert after_gap[0] >= first_lost + gap  # the lost inputs never show up
    assert all(b > a_ for a_, b in zip(after_gap, after_gap[1:]))  # then once each, in order
    assert len(slot.inputs.waiting) <= MAX_BACKLOG_INPUTS  # and the stall left no lasting lag
    assert slot.inputs.skipped == slot.inputs.next_seq - len(applied)
    assert_credit_rule(h.counts_since_join(a.player_id))


# =============================================================================================
# the input buffer on its own, policy off (apply as soon as there, credit to catch up)
# =============================================================================================

class OffBuffer(InputBuffer):
    """The buffer with policy off, driven without ticks or clocks: ``add(inputs)``, ``take()``."""

    def __init__(self) -> None:
        super().__init__(BufferPolicy("off"))

    def add(self, inputs: Inputs, next_tick: int = 0, now: float = 0.0, next_tick_s=None) -> None:
        super().add(inputs, next_tick, now, next_tick_s)

    def take_for_tick(self, tick: int = 0, now: float = 0.0) -> list[int]:
        return [bits for _, bits in super().take_for_tick(tick, now)]


def test_input_buffer_credit_rule() -> None:
    buf = OffBuffer()
    buf.add(Inputs(9, tuple(range(10)), -1, -1))
    assert buf.take_for_tick() == [0]
    assert buf.take_for_tick() == [1]  # no credit yet: one per tick even with 8 waiting
    assert buf.credit == 0
    buf2 = OffBuffer()
    for _ in range(3):
        assert buf2.take_for_tick() == []
    assert buf2.credit == 3
    buf2.add(Inputs(9, tuple(range(10)), -1, -1))
    assert [len(buf2.take_for_tick()) for _ in range(6)] == [2, 2, 2, 1, 1, 1]
    assert buf2.applied == 9 and buf2.last_applied_seq == 8


def test_input_buffer_credit_is_capped() -> None:
    buf = OffBuffer()
    for _ in range(100):
        buf.take_for_tick()
    assert buf.credit == MAX_CATCHUP_CREDIT
    buf.add(Inputs(31, tuple(range(32)), -1, -1))
    counts = [len(buf.take_for_tick()) for _ in range(24)]
    # Eight catch-up ticks, then what is left beyond the backlog limit is dropped, not kept as lag.
    left = 32 - 2 * MAX_CATCHUP_CREDIT
    kept = min(left, MAX_BACKLOG_INPUTS)
    assert counts == [2] * MAX_CATCHUP_CREDIT + [1] * kept + [0] * (24 - MAX_CATCHUP_CREDIT - kept)
    assert buf.skipped == left - kept


def test_input_buffer_ignores_duplicates_old_and_far_future() -> None:
    buf = OffBuffer()
    buf.add(Inputs(2, (10, 11, 12), -1, -1))
    buf.add(Inputs(2, (90, 91, 92), -1, -1))  # the same numbers again: first copy wins
    assert [buf.take_for_tick() for _ in range(3)] == [[10], [11], [12]]
    buf.add(Inputs(1, (1, 1), -1, -1))  # already applied
    assert not buf.waiting
    buf.add(Inputs(10_000, (5,), -1, -1))  # absurdly far ahead
    assert not buf.waiting
    assert buf.last_applied_seq == 2


def test_input_buffer_skips_a_gap_after_patience() -> None:
    buf = OffBuffer()
    buf.add(Inputs(0, (1,), -1, -1))
    assert buf.take_for_tick() == [1]
    buf.add(Inputs(5, (6,), -1, -1))  # inputs 1..4 lost for good
    for _ in range(GAP_PATIENCE_TICKS - 1):
        assert buf.take_for_tick() == []
        assert buf.skipped == 0
    assert buf.take_for_tick() == []
    assert buf.skipped == 4 and buf.next_seq == 5
    assert buf.take_for_tick() == [6]


def test_empty_input_buffer_never_skips() -> None:
    buf = OffBuffer()
    for _ in range(GAP_PATIENCE_TICKS * 3):
        buf.take_for_tick()
    assert buf.skipped == 0 and buf.next_seq == 0 and buf.last_applied_seq == -1


# =============================================================================================
# snapshots and roster
# =============================================================================================

def test_snapshots_carry_tick_state_and_each_clients_last_applied_input() -> None:
    h = Harness(snapshot_rate=30)
    a = h.connect("alice")
    b = h.connect("bob")
    h.snapshots.clear()
    sent = {"b": 0}

    def send(now: float) -> None:
        a.send_input(sim.RIGHT, now)
        if len(h.rules.per_tick) % 3 == 0:  # bob sends a third as often
            b.send_input(sim.LEFT, now)
            sent["b"] += 1

    h.ticks(60, send)
    snaps_a, snaps_b = h.snapshots[id(a)], h.snapshots[id(b)]
    assert 28 <= len(snaps_a) <= 31  # 30 Hz of a 60 Hz server
    assert [s.tick for s in snaps_a] == sorted(s.tick for s in snaps_a)
    last_a, last_b = snaps_a[-1], snaps_b[-1]
    assert last_a.tick == last_b.tick == h.server.tick
    assert last_a.last_input_seq == h.slot(a).inputs.last_applied_seq == a.last_applied_seq
    assert last_b.last_input_seq == h.slot(b).inputs.last_applied_seq == b.last_applied_seq
    assert last_a.last_input_seq > last_b.last_input_seq >= sent["b"] - 3
    assert last_a.last_input_seq >= a.next_input_seq - 3
    world = h.rules.decode_state(last_a.tick, last_a.state)
    assert world == h.server.world
    assert last_a.roster_version == h.server.roster_version


def test_roster_is_resent_until_echoed() -> None:
    h = Harness()
    a = h.connect("alice")
    link = h.link(a)
    h.ticks(10)  # no inputs sent: the roster is never echoed
    rosters = link.received_types.count(PacketType.ROSTER)
    assert rosters >= 5
    assert a.roster == {a.player_id: "alice"}
    assert a.roster_version == h.server.roster_version
    send = lambda now: a.send_input(0, now)  # noqa: E731
    h.ticks(3, send)  # the inputs now echo the roster version
    mark = link.received_types.count(PacketType.ROSTER)
    h.ticks(30, send)
    assert link.received_types.count(PacketType.ROSTER) == mark
    assert h.slot(a).roster_version_known == h.server.roster_version
    # A new player changes the roster: it is resent to alice until she echoes the new version.
    h.connect("bob")
    h.ticks(5, send)
    assert a.roster == {0: "alice", 1: "bob"}
    mark = link.received_types.count(PacketType.ROSTER)
    h.ticks(30, send)
    assert link.received_types.count(PacketType.ROSTER) == mark


def test_lost_roster_is_resent() -> None:
    h = Harness()
    a = h.connect("alice")
    send = lambda now: a.send_input(0, now)  # noqa: E731
    h.ticks(5, send)
    h.link(a).drop_incoming.add(PacketType.ROSTER)
    h.connect("bob")
    h.ticks(10, send)
    assert a.roster == {0: "alice"}  # every copy lost so far
    assert h.slot(a).roster_version_known < h.server.roster_version
    h.link(a).drop_incoming.clear()
    h.ticks(5, send)
    assert a.roster == {0: "alice", 1: "bob"}
    assert h.slot(a).roster_version_known == h.server.roster_version


def test_backlog_after_a_long_outage_is_trimmed_not_kept_as_lag() -> None:
    from netcode.protocol import Inputs

    buffer = OffBuffer()
    for tick in range(60):  # a one-second outage: the server starves, credit caps out
        buffer.take_for_tick()
    # Then 60 inputs arrive at once (the client kept playing), in packets of 32 as sent.
    for newest in range(31, 60):
        buffer.add(Inputs(newest, tuple([1] * 32), 0, -1))
    for tick in range(40):
        buffer.take_for_tick()
        buffer.add(Inputs(60 + tick, tuple([1] * 32), 0, -1))  # and keeps sending one per tick
    assert len(buffer.waiting) <= MAX_BACKLOG_INPUTS + 1  # +1: the input added after the last tick
    assert buffer.skipped > 0
    assert buffer.applied <= 100  # never more inputs applied than ticks passed


def test_client_gives_up_on_a_silent_address_and_keeps_the_reason() -> None:
    net = MemoryNetwork()
    clock = FakeClock()
    client = ClientSession(net.endpoint(("127.0.0.1", 5000)), ("127.0.0.1", 7777), "x", sim.RULES_HASH, clock.now())
    for _ in range(int(6 / 0.05)):
        client.update(clock.now())
        clock.advance(0.05)
    assert client.state is ClientState.DISCONNECTED
    assert "no answer from 127.0.0.1:7777" in client.reason
    client.disconnect(clock.now())  # quitting afterwards must not hide why it ended
    assert "no answer" in client.reason
