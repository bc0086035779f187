"""Attacks from someone off the path: forged source addresses, guessed tokens, replayed datagrams.

Each test runs a real ``ServerSession`` (the arena's ``SimRules``) and real ``ClientSession`` s over
an in-memory network with a fake clock, and adds an attacker: a ``MemoryTransport`` built with any
address it likes as its own, so every datagram it sends arrives with that forged source. The
attacker can send from a victim's address but never reads what is sent to it (it is off the
path): it knows addresses, can guess sequence numbers, and can replay what it recorded earlier,
but it never learns a session token or a cookie. Each test checks the victim is unaffected and
that the server's ``dropped`` counters name the reason every forged datagram was thrown away.
"""
from __future__ import annotations

import random

import msgpack
from collections import Counter, defaultdict
from typing import Callable, Mapping, Sequence

from game import sim
from game.netgame import SimRules
from netcode.client_session import ClientSession, ClientState
from netcode.clock import FakeClock
from netcode.handshake import COOKIE_BUCKET_S, CONNECTS_PER_ADDR_PER_S
from netcode.protocol import (COOKIE_BYTES, PROTOCOL_VERSION, TOKEN_NONE, U64, Accept, Challenge, ConnectRequest,
                              Disconnect, Header, Inputs, KeepAlive, Message, PacketType, Refuse, decode,
                              decode_header, encode)
from netcode.sequence import SEQ_MODULO
from netcode.server import ClientSlot, ServerConfig, ServerSession
from netcode.transport import Address, MemoryNetwork, MemoryTransport

TICK_RATE = 60
SNAPSHOT_RATE = 30
DT = 1 / TICK_RATE
SERVER: Address = ("10.0.0.1", 5000)
ALICE: Address = ("10.0.0.2", 6001)
BOB: Address = ("10.0.0.3", 6002)
SECRET = b"attack-test-secret"
OTHER_RULES = "0123456789abcdef"
assert OTHER_RULES != sim.RULES_HASH


class RecordingRules(SimRules):
    """The arena's rules, plus the inputs the server applied: ``applied[player] = [bits...]``."""

    def __init__(self, tick_rate: int) -> None:
        super().__init__(tick_rate)
        self.applied: dict[int, list[int]] = defaultdict(list)

    def step(self, world: sim.World, inputs: Mapping[int, Sequence[int]], views=None) -> sim.World:
        for pid, bits in inputs.items():
            self.applied[pid].extend(bits)
        return super().step(world, inputs, views)


class Tap:
    """A client's transport that records every datagram the client sends (for a later replay)."""

    def __init__(self, inner: MemoryTransport) -> None:
        self.inner = inner
        self.local_address = inner.local_address
        self.sent: list[bytes] = []

    def send(self, data: bytes, addr: Address, now: float) -> None:
        self.sent.append(data)
        self.inner.send(data, addr, now)

    def receive(self, now: float) -> list[tuple[bytes, Address]]:
        return self.inner.receive(now)

    def wait(self, timeout_s: float, now: float) -> None:
        return None

    def close(self) -> None:
        self.inner.close()


class Arena:
    """One server, its honest clients, and a clock; ``tick(forge)`` lets an attacker act each frame."""

    def __init__(self, max_players: int = 16) -> None:
        self.clock = FakeClock(100.0)
        self.net = MemoryNetwork()
        self.rules = RecordingRules(TICK_RATE)
        config = ServerConfig(tick_rate=TICK_RATE, snapshot_rate=SNAPSHOT_RATE, max_players=max_players)
        self.server = ServerSession(self.rules, self.net.endpoint(SERVER), config, self.now, secret=SECRET)
        self.clients: list[ClientSession] = []
        self.taps: dict[int, Tap] = {}
        self.bits: dict[int, int] = {}  # id(client) -> the input it sends every frame once connected
        self.snapshots: dict[int, int] = defaultdict(int)  # id(client) -> snapshots received

    @property
    def now(self) -> float:
        return self.clock.now()

    def client(self, name: str, addr: Address, bits: int | None = None) -> ClientSession:
        tap = Tap(self.net.endpoint(addr))
        client = ClientSession(tap, SERVER, name, sim.RULES_HASH, self.now)
        self.clients.append(client)
        self.taps[id(client)] = tap
        if bits is not None:
            self.bits[id(client)] = bits
        return client

    def connect(self, name: str, addr: Address, bits: int | None = None) -> ClientSession:
        client = self.client(name, addr, bits)
        self.ticks(3)
        assert client.state is ClientState.CONNECTED, client.reason
        return client

    def forger(self, source: Address) -> MemoryTransport:
        """An attacker's socket whose datagrams claim to come from ``source`` (it never reads)."""
        return MemoryTransport(self.net, source)  # unlike ``endpoint``, leaves that address's inbox alone

    def tick(self, forge: Callable[[float], None] | None = None) -> None:
        """One frame: the attacker sends first (its datagrams arrive first), then clients, then the server."""
        self.clock.advance(DT)
        now = self.now
        if forge is not None:
            forge(now)
        for c in self.clients:
            c.update(now)
            if c.state is ClientState.CONNECTED and id(c) in self.bits:
                c.send_input(self.bits[id(c)], now)
        self.server.receive(now)
        self.server.tick_once(now)
        for c in self.clients:
            self.snapshots[id(c)] += len(c.receive(now))

    def ticks(self, n: int, forge: Callable[[float], None] | None = None) -> None:
        for _ in range(n):
            self.tick(forge)

    def slot(self, client: ClientSession):
        return self.server.clients[self.taps[id(client)].local_address]


def guessed_tokens(*real: int) -> list[int]:
    """What an attacker who never saw a token can put in the field: none, small numbers, random ones."""
    rng = random.Random(2024)
    guesses = [TOKEN_NONE, 1, 2, U64] + [rng.getrandbits(64) for _ in range(4)]
    assert not set(guesses) & set(real)
    return guesses


def packet(message: Message, seq: int = 0, token: int = TOKEN_NONE, ack: int = -1, ack_bits: int = 0) -> bytes:
    return encode(message, Header(PROTOCOL_VERSION, seq % SEQ_MODULO, ack, ack_bits, 0, token))


def keeps_playing(arena: Arena, client: ClientSession, forge: Callable[[float], None],
                  seconds: float = 1.0) -> None:
    """Run ``seconds`` under attack: ``client`` keeps >= 90% of its snapshots and its inputs are applied."""
    ticks = round(seconds * TICK_RATE)
    snapshots, applied = arena.snapshots[id(client)], len(arena.rules.applied[client.player_id])
    arena.ticks(ticks, forge)
    assert client.state is ClientState.CONNECTED, client.reason
    assert arena.snapshots[id(client)] - snapshots >= 0.9 * ticks * SNAPSHOT_RATE / TICK_RATE
    if id(client) in arena.bits:
        assert len(arena.rules.applied[client.player_id]) - applied >= 0.9 * ticks
        assert set(arena.rules.applied[client.player_id]) == {arena.bits[id(client)]}  # only its own inputs


# =============================================================================================
# before a session exists: reflection and squatting
# =============================================================================================

def playing_victim(bits: int, forged_from: Address = ALICE) -> tuple[Arena, ClientSession, ClientSlot, MemoryTransport]:
    """An arena whose victim has played for half a second, and a forger sending from ``forged_from``."""
    arena = Arena()
    victim = arena.connect("victim", ALICE, bits)
    arena.ticks(30)
    return arena, victim, arena.slot(victim), arena.forger(forged_from)


def test_spoofed_connect_requests_are_never_amplified_towards_the_forged_address() -> None:
    """Requests forged from a victim's address earn it at most the bytes the attacker spent."""
    arena = Arena()
    victim: Address = ("10.0.0.66", 7000)
    inbox = arena.net.endpoint(victim)  # a real machine, which never answers a challenge
    forger = arena.forger(victim)
    rng = random.Random(5)
    variants = [
        packet(ConnectRequest("", sim.RULES_HASH)),  # the smallest request
        packet(ConnectRequest("mallory", sim.RULES_HASH, rng.randbytes(COOKIE_BYTES))),  # a guessed cookie
        packet(ConnectRequest("x", OTHER_RULES)),  # rules mismatch
        encode(ConnectRequest("", sim.RULES_HASH), Header(PROTOCOL_VERSION - 1, 0, -1, 0)),  # version refusal
    ]
    spent = {"bytes": 0, "requests": 0, "old_version": 0}

    def forge(now: float) -> None:
        for data in rng.sample(variants, 3):  # 180 requests a second, from the victim's address
            forger.send(data, SERVER, now)
            spent["bytes"] += len(data)
            spent["requests"] += 1
            spent["old_version"] += data is variants[-1]

    arena.ticks(2 * TICK_RATE, forge)
    replies = [data for data, source in inbox.receive(arena.now) if source == SERVER]
    reflected = sum(len(data) for data in replies)
    assert spent["bytes"] > 0 and reflected <= spent["bytes"]  # ratio <= 1 (in fact far below)
    assert reflected / spent["bytes"] < 0.2
    assert {decode_header(data)[0] for data in replies} <= {PacketType.CHALLENGE, PacketType.REFUSE}
    assert len(replies) <= 3 * CONNECTS_PER_ADDR_PER_S  # the rate limit, over the (at most 3) seconds touched
    refusals = [decode(data)[1] for data in replies if decode_header(data)[0] == PacketType.REFUSE]
    assert all("version" in r.reason for r in refusals)  # only the version refusal needs no cookie
    challenges = len(replies) - len(refusals)
    assert not arena.server.clients and arena.server.world.players == ()
    # Every request of another version is dropped as such (refused, if the rate allowed); of the
    # others, all but the few challenged were dropped as over the rate.
    assert dict(arena.server.dropped) == {"version": spent["old_version"],
                                          "rate_limited": spent["requests"] - spent["old_version"] - challenges}


def test_silent_squatters_cannot_fill_the_server() -> None:
    """Sixteen forged addresses asking for the four slots and never answering: an honest client joins."""
    arena = Arena(max_players=4)
    squatters = [arena.forger((f"10.0.1.{i}", 4000 + i)) for i in range(16)]
    rng = random.Random(9)

    def forge(now: float) -> None:
        for i, squatter in enumerate(squatters):
            cookie = rng.randbytes(COOKIE_BYTES) if i % 2 else b""  # half of them guess a cookie
            for _ in range(3):  # 180 requests a second each, far over the rate limit
                squatter.send(packet(ConnectRequest(f"squat{i}", sim.RULES_HASH, cookie)), SERVER, now)

    arena.ticks(TICK_RATE // 2, forge)
    assert not arena.server.clients
    honest = arena.client("honest", ALICE, sim.RIGHT)
    arena.ticks(3, forge)
    assert honest.state is ClientState.CONNECTED, honest.reason
    assert [s.name for s in arena.server.clients.values()] == ["honest"]
    keeps_playing(arena, honest, forge)
    assert len(arena.server.clients) == 1
    assert not arena.server.refusals  # never "full": no squatter ever held a slot
    assert set(arena.server.dropped) == {"rate_limited"}


# =============================================================================================
# a session exists: forged packets from (or to) a player's address
# =============================================================================================

def test_forged_disconnect_from_the_victims_address_does_not_kick_it() -> None:
    arena, victim, slot, forger = playing_victim(sim.RIGHT)
    guesses = guessed_tokens(slot.conn.token)

    def forge(now: float) -> None:
        for token in guesses:  # with the very seq the victim sends next, and its acks: all but the token
            ack, ack_bits = victim.conn.received.ack_fields()
            forger.send(packet(Disconnect("bye"), victim.conn.local_seq, token, ack, ack_bits), SERVER, now)

    keeps_playing(arena, victim, forge)
    assert arena.slot(victim) is slot and len(arena.server.clients) == 1
    assert not any("left" in e for e in arena.server.events)
    assert dict(arena.server.dropped) == {"bad_token": TICK_RATE * len(guesses)}


def test_forged_disconnect_from_the_servers_address_does_not_end_the_client_session() -> None:
    arena, victim, slot, fake_server = playing_victim(sim.RIGHT, forged_from=SERVER)
    guesses = guessed_tokens(victim.conn.token)

    def forge(now: float) -> None:
        for token in guesses:
            forger_seq = slot.conn.local_seq  # the server's next seq, guessed right
            fake_server.send(packet(Disconnect("server shutting down"), forger_seq, token), ALICE, now)
        # A refusal or a challenge means nothing to a connected client either.
        fake_server.send(packet(Refuse("server full")), ALICE, now)
        fake_server.send(packet(Challenge(b"c" * COOKIE_BYTES)), ALICE, now)

    keeps_playing(arena, victim, forge)
    assert victim.state is ClientState.CONNECTED and "closed" not in victim.reason
    assert victim.dropped["bad_token"] == TICK_RATE * len(guesses)
    assert victim.dropped["bad_nonce"] == TICK_RATE  # the challenges: not an answer to its request
    assert arena.slot(victim) is slot
    assert dict(arena.server.dropped) == {}  # the server never saw any of it


def test_forged_keepalives_far_ahead_do_not_stall_the_victim() -> None:
    """Sequence numbers s, s + 32768 and s + 2000 from the victim's address: dropped for their token."""
    arena, victim, slot, forger = playing_victim(sim.RIGHT)
    guesses = guessed_tokens(slot.conn.token)

    def forge(now: float) -> None:
        s = victim.conn.local_seq
        for token in guesses:
            for seq in (s, s + SEQ_MODULO // 2, s + 2000):
                forger.send(packet(KeepAlive(), seq, token), SERVER, now)

    keeps_playing(arena, victim, forge)
    assert slot.conn.received.newest == (victim.conn.local_seq - 1) % SEQ_MODULO  # the window follows the victim
    assert dict(arena.server.dropped) == {"bad_token": TICK_RATE * len(guesses) * 3}


def test_far_ahead_sequence_numbers_are_refused_even_with_the_right_token() -> None:
    """Behind the token, the sequence window refuses far jumps too: a leaked token cannot stall it."""
    arena, victim, slot, forger = playing_victim(sim.RIGHT)

    def forge(now: float) -> None:
        s = victim.conn.local_seq
        for seq in (s + SEQ_MODULO // 2, s + 2000):
            forger.send(packet(KeepAlive(), seq, slot.conn.token), SERVER, now)

    keeps_playing(arena, victim, forge)
    assert slot.conn.received.newest == (victim.conn.local_seq - 1) % SEQ_MODULO
    assert dict(arena.server.dropped) == {"duplicate": TICK_RATE * 2}


def test_another_sessions_datagrams_replayed_from_a_players_address_are_dropped() -> None:
    """Alice's real datagrams, replayed from Bob's address, carry Alice's token: useless to anyone."""
    arena = Arena()
    alice = arena.connect("alice", ALICE, sim.RIGHT)
    bob = arena.connect("bob", BOB, sim.LEFT)
    arena.ticks(TICK_RATE)
    recorded = list(arena.taps[id(alice)].sent)  # her connect requests, inputs and keep-alives
    connects = sum(1 for d in recorded if decode_header(d)[0] == PacketType.CONNECT_REQUEST)
    assert connects == 2 and len(recorded) > TICK_RATE  # the first request, and the one with her cookie
    forger = arena.forger(BOB)
    queue = list(recorded)

    def forge(now: float) -> None:
        for data in queue[:3]:
            forger.send(data, SERVER, now)
        del queue[:3]

    keeps_playing(arena, bob, forge)  # and bob's applied inputs are all his own (LEFT), never alice's
    assert not queue
    assert len(arena.server.clients) == 2 and len(arena.server.world.players) == 2
    assert set(arena.rules.applied[alice.player_id]) == {sim.RIGHT}
    # A connect request from a connected address is never answered without that address's cookie.
    assert dict(arena.server.dropped) == {"bad_token": len(recorded) - connects, "connected_peer": connects}


def test_a_session_replayed_after_it_ended_gets_only_challenges() -> None:
    """A whole recorded session replayed from its own address once it ended: the cookie expired."""
    arena = Arena()
    alice = arena.connect("alice", ALICE, sim.RIGHT)
    arena.ticks(TICK_RATE)
    alice.disconnect(arena.now)
    arena.tick()
    assert not arena.server.clients
    recorded = list(arena.taps[id(alice)].sent)  # connect, cookie, inputs, keep-alives, the disconnects
    arena.clients.remove(alice)  # she is gone; what reaches her address is read below
    applied = {pid: len(bits) for pid, bits in arena.rules.applied.items()}
    arena.ticks(round(2 * COOKIE_BUCKET_S * TICK_RATE) + 1)  # later: every cookie she had has expired
    dropped_before = Counter(arena.server.dropped)
    assert dropped_before == {"unknown_peer": 1}  # the second copy of her goodbye
    inbox = arena.net.queues[ALICE]
    inbox.clear()
    forger = arena.forger(ALICE)
    queue = list(recorded)

    def forge(now: float) -> None:
        for data in queue[:4]:
            forger.send(data, SERVER, now)
        del queue[:4]

    arena.ticks(len(recorded) // 4 + 2, forge)
    assert not queue
    assert not arena.server.clients and arena.server.world.players == ()
    assert {pid: len(bits) for pid, bits in arena.rules.applied.items()} == applied  # no input applied
    replies = [decode(data)[1] for data, source in inbox if source == SERVER]
    connects = sum(1 for d in recorded if decode_header(d)[0] == PacketType.CONNECT_REQUEST)
    assert connects == 2 and len(replies) == connects and all(isinstance(r, Challenge) for r in replies)
    assert Counter(arena.server.dropped) - dropped_before == {"unknown_peer": len(recorded) - connects}


def test_forged_inputs_ahead_of_the_victims_are_never_applied() -> None:
    arena, victim, slot, forger = playing_victim(sim.LEFT)
    guesses = guessed_tokens(slot.conn.token)

    def forge(now: float) -> None:
        ahead = victim.next_input_seq  # the victim's next inputs and beyond, all pressing RIGHT
        for k, token in enumerate(guesses):
            inputs = Inputs(ahead + k, (sim.RIGHT,) * 32, victim.roster_version, victim.newest_snapshot_tick)
            forger.send(packet(inputs, victim.conn.local_seq, token), SERVER, now)

    keeps_playing(arena, victim, forge)  # every applied input is the victim's own LEFT
    assert slot.inputs.last_applied_seq < victim.next_input_seq
    assert dict(arena.server.dropped) == {"bad_token": TICK_RATE * len(guesses)}


def test_a_fake_challenge_and_a_fake_accept_cannot_hijack_a_connecting_client() -> None:
    clock, net = FakeClock(100.0), MemoryNetwork()
    server = ServerSession(SimRules(TICK_RATE), net.endpoint(SERVER), ServerConfig(), clock.now(), secret=b"s")
    client = ClientSession(net.endpoint(ALICE), SERVER, "alice", sim.RULES_HASH, clock.now())
    fake_server = MemoryTransport(net, SERVER)  # the source address forged as the server's
    forged_token = 0xDEADBEEF
    client.update(clock.now())  # the real connect request is on its way
    # The spoofer knows the client's address and that it is connecting, not its request's nonce.
    for nonce in (0, 1, 12345):
        fake_server.send(encode(Challenge(b"\0" * COOKIE_BYTES, nonce), Header(PROTOCOL_VERSION, 0, -1, 0)),
                         ALICE, clock.now())
        fake_server.send(encode(Accept(7, 60, 30, sim.RULES_HASH, 0, nonce),
                                Header(PROTOCOL_VERSION, 0, -1, 0, 0, forged_token)), ALICE, clock.now())
    client.receive(clock.now())
    assert client.state is ClientState.CONNECTING and client.conn.token == TOKEN_NONE
    assert client.dropped["bad_nonce"] == 3 and client.dropped["bad_token"] == 3
    for _ in range(30):  # the real handshake goes on and succeeds
        clock.advance(1 / TICK_RATE)
        client.update(clock.now())
        server.receive(clock.now())
        server.tick_once(clock.now())
        client.receive(clock.now())
    assert client.state is ClientState.CONNECTED and client.player_id == 0
    assert client.conn.token == server.clients[ALICE].conn.token != forged_token


# --- a hostile server ------------------------------------------------------------------------------


class HostileServer:
    """A fake server that completes the handshake honestly, then misbehaves as told."""

    def __init__(self) -> None:
        self.clock, self.net = FakeClock(100.0), MemoryNetwork()
        self.endpoint = self.net.endpoint(SERVER)
        self.client = ClientSession(self.net.endpoint(ALICE), SERVER, "alice", sim.RULES_HASH, self.clock.now())
        self.token, self.seq = 0xC0FFEE, 0

    def send(self, message: Message) -> None:
        self.seq += 1
        self.endpoint.send(encode(message, Header(PROTOCOL_VERSION, self.seq, -1, 0, 0, self.token)), ALICE,
                           self.clock.now())

    def handshake(self) -> None:
        self.client.update(self.clock.now())
        (data, _), = self.endpoint.receive(self.clock.now())
        nonce = decode(data)[1].nonce
        self.endpoint.send(encode(Challenge(b"c" * COOKIE_BYTES, nonce), Header(PROTOCOL_VERSION, 0, -1, 0)),
                           ALICE, self.clock.now())
        self.client.receive(self.clock.now())  # answers with the cookie at once
        self.send(Accept(0, TICK_RATE, 30, sim.RULES_HASH, 0, nonce))
        self.client.receive(self.clock.now())
        assert self.client.state is ClientState.CONNECTED

    def run(self, seconds: float, each_tick: Callable[[int], None]) -> float:
        """Tick the fake clock; returns how long the client stayed connected."""
        start = self.clock.now()
        for tick in range(round(seconds * TICK_RATE)):
            self.clock.advance(1 / TICK_RATE)
            self.client.update(self.clock.now())
            if self.client.state is not ClientState.CONNECTED:
                break
            self.client.send_input(0, self.clock.now())
            each_tick(tick)
            self.client.receive(self.clock.now())
            self.endpoint.receive(self.clock.now())  # whatever the client sent, unread
        return self.clock.now() - start


def test_a_server_that_never_applies_our_inputs_is_left_after_about_two_seconds() -> None:
    from netcode.protocol import Snapshot

    hostile = HostileServer()
    hostile.handshake()
    connected_s = hostile.run(10.0, lambda tick: tick % 2 or hostile.send(Snapshot(tick, -1, 0, ())))
    assert 1.9 <= connected_s <= 2.5
    assert "applied none of our inputs" in hostile.client.reason
    assert len(hostile.client.unacked) <= 180  # and it never held more than its bound


def test_our_own_stall_is_not_blamed_on_an_honest_server() -> None:
    arena = Arena()
    client = arena.connect("sleepy", ALICE, sim.RIGHT)
    arena.ticks(TICK_RATE)
    tap = arena.taps[id(client)]
    tap.send = lambda data, addr, now: None  # its last input packets are lost...
    arena.ticks(3)
    assert client.unacked  # ...so some inputs wait for their next ride
    del arena.bits[id(client)]  # then the game loop hangs: no inputs, but snapshots still come in
    tap.send = tap.inner.send
    arena.ticks(round(2.5 * TICK_RATE))
    arena.bits[id(client)] = sim.RIGHT  # it wakes up and plays on; the old inputs ride along
    arena.ticks(2 * TICK_RATE)
    assert client.state is ClientState.CONNECTED, client.reason
    assert not [seq for seq, _ in client.unacked if seq < client.next_input_seq - 30]


def test_a_server_that_sends_one_snapshot_and_then_only_keepalives_times_out_in_five_seconds() -> None:
    from netcode.protocol import Snapshot

    hostile = HostileServer()
    hostile.handshake()
    hostile.send(Snapshot(1, 0, 0, ()))
    connected_s = hostile.run(10.0, lambda tick: hostile.send(KeepAlive()))
    assert 4.9 <= connected_s <= 5.2
    assert "no snapshot" in hostile.client.reason


# --- costly rejects and floods ---------------------------------------------------------------------


def nested_datagram(depth: int = 1000) -> bytes:
    """A datagram that starts like ours and then nests arrays a thousand deep: costly to unpack."""
    head = msgpack.packb([0x4E43, PROTOCOL_VERSION, 4, 0, -1, 0, 0, 0])[1:]  # the items, without their array
    return b"\x99" + head + b"\x91" * depth + b"\xc0"


def test_deeply_nested_datagrams_are_turned_away_before_msgpack() -> None:
    clock, net = FakeClock(100.0), MemoryNetwork()
    server = ServerSession(SimRules(TICK_RATE), net.endpoint(SERVER), ServerConfig(), clock.now(), secret=b"s")
    attacker = net.endpoint(("10.0.0.66", 4000))
    for _ in range(10):
        attacker.send(nested_datagram(), SERVER, clock.now())
    server.receive(clock.now())
    assert dict(server.dropped) == {"too_nested": 10}


def test_a_flood_is_cut_at_the_per_tick_budget_and_the_server_keeps_ticking() -> None:
    from netcode.server import MAX_DATAGRAMS_PER_TICK

    clock, net = FakeClock(100.0), MemoryNetwork()
    server = ServerSession(SimRules(TICK_RATE), net.endpoint(SERVER), ServerConfig(), clock.now(), secret=b"s")
    attacker = net.endpoint(("10.0.0.66", 4000))
    for _ in range(3 * MAX_DATAGRAMS_PER_TICK):
        attacker.send(b"junk", SERVER, clock.now())
    server.receive(clock.now())
    assert server.dropped["not_ours"] == MAX_DATAGRAMS_PER_TICK
    assert server.dropped["over_budget"] == 2 * MAX_DATAGRAMS_PER_TICK
    server.tick_once(clock.now())  # a new tick, a new budget
    attacker.send(b"junk", SERVER, clock.now())
    server.receive(clock.now())
    assert server.dropped["not_ours"] == MAX_DATAGRAMS_PER_TICK + 1


class LagSwitch(Tap):
    """A client's transport that holds everything it sends for 8 ticks of every 30, then lets go."""

    def __init__(self, inner: MemoryTransport) -> None:
        super().__init__(inner)
        self.frames = 0
        self.held: list[tuple[bytes, Address]] = []

    def send(self, data: bytes, addr: Address, now: float) -> None:
        self.held.append((data, addr))

    def flush_frame(self, now: float) -> None:
        self.frames += 1
        if self.frames % 30 >= 8:  # the switch is closed: everything held goes out at once
            for data, addr in self.held:
                self.inner.send(data, addr, now)
            self.held.clear()


def test_a_lag_switch_moves_no_faster_than_the_rules_over_any_second_of_the_server_trace() -> None:
    arena = Arena()
    track: list[float] = []
    arena.server.tracer = lambda record: "0" in record["players"] and track.append(record["players"]["0"][0])
    switch = LagSwitch(arena.net.endpoint(ALICE))
    cheater = ClientSession(switch, SERVER, "cheater", sim.RULES_HASH, arena.now)
    arena.clients.append(cheater)
    arena.bits[id(cheater)] = sim.RIGHT
    for _ in range(200):
        arena.tick(forge=lambda now: switch.flush_frame(now))
    assert cheater.state is ClientState.CONNECTED
    top_px_s = arena.rules.physics.max_speed / sim.SUBPX * TICK_RATE
    fastest_px = max(track[t + TICK_RATE] - track[t] for t in range(len(track) - TICK_RATE))
    assert fastest_px > 0.9 * top_px_s  # it did run at full speed for whole seconds
    assert fastest_px <= 1.02 * top_px_s  # and never faster than the rules allow, over any second


def test_players_datagrams_get_through_a_flood_past_the_budget() -> None:
    from netcode.server import MAX_DATAGRAMS_PER_TICK

    arena, victim, slot, _ = playing_victim(sim.RIGHT)
    flooder = arena.forger(("10.0.0.66", 4000))
    before = slot.inputs.applied

    def flood(now: float) -> None:
        for _ in range(2 * MAX_DATAGRAMS_PER_TICK):
            flooder.send(b"junk", SERVER, now)  # arrives before the victim's packet, every tick

    arena.ticks(60, flood)
    assert arena.server.dropped["over_budget"] >= 60 * MAX_DATAGRAMS_PER_TICK
    assert slot.inputs.applied - before >= 55  # the victim still plays: about one input a tick
    assert victim.state is ClientState.CONNECTED
