"""LAN discovery: the codec and its strict decoding, the responder and the browser on a fake clock,
and a real server found over loopback, in process and by ``run_client.py --list``.

Every socket here is on loopback, every discovery port but the last test's is chosen by the OS (so
parallel runs and a real server on 7778 do not clash), and every loop has a wall-clock deadline.
"""
from __future__ import annotations

import subprocess
import sys

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from game.server_app import HostedServer, discovery_hosts, game_name
from game.sim import RULES_HASH
from netcode.client_session import ClientSession, ClientState
from netcode.clock import FakeClock, MonotonicClock
from netcode.discovery import (DISCOVERY_MAGIC, DISCOVERY_VERSION, FORGET_AFTER_S, KIND_REPLY, KIND_REQUEST,
                               MAX_REPLY_BYTES, MAX_REQUEST_BYTES, MAX_REQUESTS_PER_POLL, REPLIES_PER_IP_PER_S,
                               REQUEST_BYTES, REQUEST_INTERVAL_S, Browser, GameInfo, Reply, Request, Responder,
                               decode_reply, decode_request, encode_reply, encode_request)
from netcode.protocol import (MAX_NAME_CHARS, MAX_PLAYERS_ON_WIRE, PROTOCOL_VERSION, U32, U64, ConnectRequest,
                              Header, PacketError, encode)
from netcode.server import ServerConfig
from netcode.transport import MemoryNetwork, UdpTransport
from tools.procs import ROOT

SLOW = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])
KNOWN_REASONS = {"oversized", "unpadded", "not_ours", "bad_header", "undecodable", "version", "wrong_kind",
                 "bad_body"}
PREFIX = RULES_HASH[:8]
INFO = GameInfo("arena", 7777, 3, 16, PROTOCOL_VERSION, PREFIX)


# =============================================================================================
# the codec
# =============================================================================================

names = st.text(st.characters(codec="utf-8").filter(str.isprintable), min_size=1, max_size=MAX_NAME_CHARS)
replies = st.builds(Reply, st.integers(0, U64), st.integers(0, U32), names, st.integers(1, 65535),
                    st.just(0), st.integers(1, MAX_PLAYERS_ON_WIRE), st.integers(0, U32),
                    st.text("0123456789abcdef", min_size=8, max_size=8)).map(
    lambda r: r._replace(players=r.max_players // 2))


@settings(max_examples=100, **SLOW)
@given(nonce=st.integers(0, U64))
def test_a_request_is_padded_to_exactly_request_bytes_and_round_trips(nonce: int) -> None:
    data = encode_request(Request(nonce))
    assert len(data) == REQUEST_BYTES
    assert decode_request(data) == Request(nonce)


@settings(max_examples=100, **SLOW)
@given(reply=replies)
def test_a_reply_round_trips_and_is_never_larger_than_any_request(reply: Reply) -> None:
    data = encode_reply(reply)
    assert decode_reply(data) == reply
    assert len(data) <= MAX_REPLY_BYTES < REQUEST_BYTES


def test_the_largest_possible_reply_fits_in_the_smallest_request() -> None:
    largest = Reply(U64, U32, "\U0001F600" * MAX_NAME_CHARS, 65535, MAX_PLAYERS_ON_WIRE, MAX_PLAYERS_ON_WIRE,
                    U32, "ffffffff")
    smallest_request = min(len(encode_request(Request(n))) for n in (0, 1, 255, U32, U64))
    assert len(encode_reply(largest)) <= MAX_REPLY_BYTES < smallest_request


def test_the_encoder_refuses_a_reply_a_browser_would_drop() -> None:
    for bad in (INFO._replace(name=""), INFO._replace(name="x" * 17), INFO._replace(name="a\nb"),
                INFO._replace(players=17), INFO._replace(game_port=0), INFO._replace(rules_prefix="ABCDEF01")):
        with pytest.raises(ValueError):
            encode_reply(Reply(1, 2, *bad))


def reason(decoder, data: bytes) -> str:
    with pytest.raises(PacketError) as info:
        decoder(data)
    return info.value.reason


def decode_safely(data: bytes) -> None:
    """Both decoders: a valid message or PacketError with a known reason, nothing else."""
    for decoder in (decode_request, decode_reply):
        try:
            decoder(data)
        except PacketError as exc:
            assert exc.reason in KNOWN_REASONS, exc


@settings(max_examples=300, **SLOW)
@given(data=st.binary(max_size=MAX_REQUEST_BYTES + 20))
def test_random_bytes_never_raise_anything_but_packet_error(data: bytes) -> None:
    decode_safely(data)


msgpack_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(1 << 63), (1 << 64) - 1), st.floats(),
              st.text(max_size=20), st.binary(max_size=20)),
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(st.text(max_size=4), children,
                                                                                 max_size=2)),
    max_leaves=8,
)


@settings(max_examples=100, **SLOW)
@given(kind=st.integers(-1, 3), items=st.lists(msgpack_values, max_size=9), pad=st.integers(0, 140))
def test_well_framed_garbage_never_raises_anything_but_packet_error(kind: int, items: list, pad: int) -> None:
    data = msgpack.packb([DISCOVERY_MAGIC, DISCOVERY_VERSION, kind] + items)
    decode_safely(data)
    decode_safely(data + b"\0" * pad)  # long enough to pass the request's size check
    decode_safely(msgpack.packb([DISCOVERY_MAGIC, DISCOVERY_VERSION, kind] + items + [b"\0" * pad]))


@settings(max_examples=100, **SLOW)
@given(reply=replies, nonce=st.integers(0, U64),
       flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=4))
def test_mutated_datagrams_never_raise_anything_but_packet_error(reply: Reply, nonce: int, flips) -> None:
    for data in (bytearray(encode_reply(reply)), bytearray(encode_request(Request(nonce)))):
        for where, value in flips:
            data[where % len(data)] = value
        decode_safely(bytes(data))


def test_every_truncation_is_rejected() -> None:
    request, reply = encode_request(Request(U64)), encode_reply(Reply(U64, 1, "arena", 7777, 1, 16, 4, PREFIX))
    for length in range(len(request)):
        assert reason(decode_request, request[:length]) in {"unpadded"}
    for length in range(len(reply)):
        assert reason(decode_reply, reply[:length]) in {"not_ours", "undecodable", "bad_header"}


def test_size_magic_version_and_kind_are_checked_and_counted_apart() -> None:
    request = encode_request(Request(5))
    assert reason(decode_request, request + b"\0" * (MAX_REQUEST_BYTES + 1 - REQUEST_BYTES)) == "oversized"
    assert reason(decode_reply, encode_reply(Reply(1, 1, "a", 1, 0, 1, 4, PREFIX)) + b"\0" * 100) == "oversized"
    unpadded = msgpack.packb([DISCOVERY_MAGIC, DISCOVERY_VERSION, KIND_REQUEST, 5, b""])
    assert reason(decode_request, unpadded) == "unpadded"
    # The game protocol's padded connect request is not a discovery request (and vice versa).
    assert reason(decode_request, encode(ConnectRequest("x", "0" * 16), Header(PROTOCOL_VERSION, 0, -1, 0))) \
        in {"not_ours", "oversized"}
    assert reason(decode_request, b"\x95" + b"\0" * 200) == "not_ours"
    def padded(*items) -> bytes:
        data = msgpack.packb(list(items) + [b""])
        return msgpack.packb(list(items) + [b"\0" * (REQUEST_BYTES - len(data))])
    assert reason(decode_request, padded(DISCOVERY_MAGIC, DISCOVERY_VERSION + 1, KIND_REQUEST, 5)) == "version"
    assert reason(decode_request, padded(DISCOVERY_MAGIC, True, KIND_REQUEST, 5)) == "version"
    assert reason(decode_request, padded(DISCOVERY_MAGIC, DISCOVERY_VERSION, KIND_REPLY, 5)) == "wrong_kind"
    assert reason(decode_request, padded(DISCOVERY_MAGIC, DISCOVERY_VERSION, KIND_REQUEST, -1)) == "bad_body"
    assert reason(decode_request, padded(DISCOVERY_MAGIC, DISCOVERY_VERSION, KIND_REQUEST, 5.0)) == "bad_body"
    assert reason(decode_request, padded(DISCOVERY_MAGIC, DISCOVERY_VERSION, KIND_REQUEST, 5, 6)) == "bad_header"
    with_map = msgpack.packb([DISCOVERY_MAGIC, DISCOVERY_VERSION, KIND_REQUEST, 5, {"a": b"\0" * 120}])
    assert reason(decode_request, with_map) == "undecodable"
    # A request a reply is no answer to: the reply decoder refuses it, and the other way round.
    assert reason(decode_reply, request) in {"oversized", "not_ours", "bad_header"}


def test_every_reply_field_is_checked() -> None:
    good = [DISCOVERY_MAGIC, DISCOVERY_VERSION, KIND_REPLY, 1, 2, "arena", 7777, 3, 16, 4, PREFIX]
    assert decode_reply(msgpack.packb(good)) == Reply(1, 2, "arena", 7777, 3, 16, 4, PREFIX)
    for index, value in [(3, -1), (3, 1.5), (4, U32 + 1), (5, ""), (5, "x" * 17), (5, "\x1b[2J"), (5, b"name"),
                         (6, 0), (6, 65536), (7, 17), (7, -1), (8, 0), (8, MAX_PLAYERS_ON_WIRE + 1),
                         (9, -1), (9, "4"), (10, "0123456"), (10, "0123456G"), (10, 12345678), (7, True)]:
        bad = list(good)
        bad[index] = value
        assert reason(decode_reply, msgpack.packb(bad)) in {"bad_body", "undecodable"}, (index, value)


# =============================================================================================
# responder and browser, in memory, on a fake clock
# =============================================================================================

SERVER = ("10.0.0.1", 7778)
BROWSER = ("10.0.0.2", 5000)


def test_the_responder_answers_with_its_game_and_never_more_bytes_than_asked() -> None:
    net = MemoryNetwork()
    responder = Responder(net.endpoint(SERVER), lambda: INFO, server_id=42)
    asker = net.endpoint(BROWSER)
    request = encode_request(Request(99))
    asker.send(request, SERVER, 0.0)
    assert responder.poll(0.0) is False
    [(data, addr)] = asker.receive(0.0)
    assert addr == SERVER and len(data) <= len(request)
    assert decode_reply(data) == Reply(99, 42, *INFO)


def test_the_responder_drops_junk_and_rate_limits_each_address() -> None:
    net = MemoryNetwork()
    responder = Responder(net.endpoint(SERVER), lambda: INFO)
    askers = [net.endpoint(("10.0.0.2", 5000 + i)) for i in range(3)]  # one IP, three ports
    for junk in (b"", b"\x95junk" * 40, encode_request(Request(1))[:100], msgpack.packb([1, 2, 3])):
        askers[0].send(junk, SERVER, 0.0)
    for i in range(REPLIES_PER_IP_PER_S + 5):
        askers[i % 3].send(encode_request(Request(i)), SERVER, 0.5)
    responder.poll(0.5)
    assert sum(len(a.receive(0.5)) for a in askers) == REPLIES_PER_IP_PER_S
    assert responder.dropped["rate_limited"] == 5
    assert sum(responder.dropped[r] for r in KNOWN_REASONS) == 4
    other = net.endpoint(("10.0.0.3", 5000))  # another address is not held back by the first
    other.send(encode_request(Request(7)), SERVER, 0.6)
    askers[0].send(encode_request(Request(8)), SERVER, 1.2)  # next second: allowed again
    responder.poll(1.2)
    assert len(other.receive(1.2)) == 1 and len(askers[0].receive(1.2)) == 1


def test_a_flood_is_looked_at_a_budget_at_a_time() -> None:
    net = MemoryNetwork()
    responder = Responder(net.endpoint(SERVER), lambda: INFO)
    flooder = net.endpoint(BROWSER)
    for _ in range(MAX_REQUESTS_PER_POLL + 100):
        flooder.send(b"\x00" * 150, SERVER, 0.0)
    assert responder.poll(0.0) is True
    assert responder.dropped["over_budget"] == 100 and responder.dropped["not_ours"] == MAX_REQUESTS_PER_POLL


def test_the_browser_sends_rounds_measures_ping_and_lists_each_server_once() -> None:
    net, clock = MemoryNetwork(), FakeClock(10.0)
    nonces = iter(range(1000, 2000))
    browser = Browser(net.endpoint(BROWSER), ["10.0.0.255", "255.255.255.255", "10.0.0.255"], 7778,
                      nonce=lambda: next(nonces))
    lan, loop = net.endpoint(("10.0.0.255", 7778)), net.endpoint(("255.255.255.255", 7778))
    browser.poll(clock.now())
    assert browser.rounds == 1 and len(lan.receive(0)) == 1 and len(loop.receive(0)) == 1  # targets deduplicated
    clock.advance(0.004)
    # The same server (id 7) answers through two addresses; a stranger answers a nonce never sent.
    lan.send(encode_reply(Reply(1000, 7, "arena", 7777, 2, 16, PROTOCOL_VERSION, PREFIX)), BROWSER, clock.now())
    browser.poll(clock.now())
    clock.advance(0.002)
    loop.send(encode_reply(Reply(1000, 7, "arena", 7777, 2, 16, PROTOCOL_VERSION, PREFIX)), BROWSER, clock.now())
    loop.send(encode_reply(Reply(5, 8, "liar", 7777, 2, 16, PROTOCOL_VERSION, PREFIX)), BROWSER, clock.now())
    loop.send(b"junk", BROWSER, clock.now())
    browser.poll(clock.now())
    [game] = browser.games(clock.now())
    assert (game.host, game.port, game.name, game.players, game.max_players) == ("10.0.0.255", 7777, "arena", 2, 16)
    assert game.ping_ms == pytest.approx(4.0)  # the fastest answer of the round
    assert browser.dropped == {"unknown_nonce": 1, "not_ours": 1}
    # Half a second later a new round goes out; its answer gives the ping and the player count.
    clock.advance(REQUEST_INTERVAL_S)
    browser.poll(clock.now())
    assert browser.rounds == 2
    clock.advance(0.010)
    lan.send(encode_reply(Reply(1001, 7, "arena", 7777, 3, 16, PROTOCOL_VERSION, PREFIX)), BROWSER, clock.now())
    browser.poll(clock.now())
    [game] = browser.games(clock.now())
    assert game.players == 3 and game.ping_ms == pytest.approx(10.0)
    # A server that stops answering is forgotten.
    clock.advance(FORGET_AFTER_S + 0.1)
    assert browser.games(clock.now()) == []


def test_the_browser_prefers_a_lan_address_to_loopback_for_the_same_server() -> None:
    net = MemoryNetwork()
    browser = Browser(net.endpoint(BROWSER), ["127.0.0.1"], 7778, nonce=lambda: 1)
    local, lan = net.endpoint(("127.0.0.1", 7778)), net.endpoint(("192.168.1.20", 7778))
    browser.poll(0.0)
    for sender in (local, lan):
        sender.send(encode_reply(Reply(1, 9, "arena", 7777, 0, 16, PROTOCOL_VERSION, PREFIX)), BROWSER, 0.001)
    browser.poll(0.001)
    assert [g.host for g in browser.games(0.001)] == ["192.168.1.20"]


def test_the_browser_lists_a_bounded_number_of_games_whoever_answers() -> None:
    from netcode.discovery import MAX_GAMES_FOUND
    net = MemoryNetwork()
    browser = Browser(net.endpoint(BROWSER), ["127.0.0.1"], 7778, nonce=lambda: 1)
    liar = net.endpoint(("192.168.1.66", 7778))  # anyone on the LAN sees our broadcast's nonce
    browser.poll(0.0)
    for server_id in range(MAX_GAMES_FOUND + 44):
        liar.send(encode_reply(Reply(1, server_id, "fake", 7777, 0, 16, PROTOCOL_VERSION, PREFIX)), BROWSER, 0.001)
        if server_id % 32 == 31:
            browser.poll(0.001)
    browser.poll(0.001)
    assert len(browser.games(0.001)) == MAX_GAMES_FOUND
    assert browser.dropped["too_many_games"] == 44


def test_discovery_hosts_and_game_name() -> None:
    hosts = discovery_hosts()
    assert hosts[-3:] == ["255.255.255.255", "127.255.255.255", "127.0.0.1"]
    assert all(len(h.split(".")) == 4 for h in hosts)
    assert game_name("alice") == "alice" and game_name("\x1b[31mred\n") == "[31mred"
    assert game_name("") == "arena" and len(game_name("x" * 40)) == MAX_NAME_CHARS


# =============================================================================================
# a real server over loopback
# =============================================================================================

DEADLINE_S = 5.0


def join(server: HostedServer, clock: MonotonicClock) -> ClientSession:
    session = ClientSession(UdpTransport("127.0.0.1", 0), ("127.0.0.1", server.port), "bob", RULES_HASH, clock.now())
    start = clock.now()
    while session.state is not ClientState.CONNECTED and clock.now() - start < DEADLINE_S:
        session.update(clock.now())
        session.receive(clock.now())
        session.transport.wait(0.02, clock.now())
    assert session.state is ClientState.CONNECTED, session.reason
    return session


def test_a_real_server_is_found_over_loopback_with_its_port_and_players() -> None:
    server = HostedServer(0, ServerConfig(max_players=8), bind_host="127.0.0.1", discovery_port=0, name="testgame")
    assert server.discovery_port not in (None, 0)
    server.start_in_background()
    clock = MonotonicClock()
    try:
        player = join(server, clock)
        udp = UdpTransport("127.0.0.1", 0, broadcast=True)
        try:
            browser = Browser(udp, ["127.0.0.1"], server.discovery_port)
            games = browser.run(clock, 1.2)  # rounds at 0, 0.5 and 1.0 s
        finally:
            udp.close()
        player.disconnect(clock.now())
        player.transport.close()
    finally:
        server.stop()
    [game] = games
    assert (game.host, game.port, game.name, game.players, game.max_players) == \
        ("127.0.0.1", server.port, "testgame", 1, 8)
    assert game.protocol_version == PROTOCOL_VERSION and game.rules_prefix == PREFIX
    assert 0 <= game.ping_ms < 500  # loopback: under 1 ms, 0.0 when the reply came within the poll that asked
    assert browser.rounds >= 2 and not +browser.dropped
    assert server.discovery.answered >= 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="loopback broadcast (127.255.255.255) is Linux's")
def test_two_servers_on_one_machine_share_the_discovery_port_and_both_answer_a_broadcast() -> None:
    first = Responder(UdpTransport("0.0.0.0", 0, shared=True), lambda: INFO._replace(game_port=1000), server_id=1)
    port = first.transport.local_address[1]
    second = Responder(UdpTransport("0.0.0.0", port, shared=True), lambda: INFO._replace(game_port=2000),
                       server_id=2)
    udp = UdpTransport("127.0.0.1", 0, broadcast=True)
    clock = MonotonicClock()
    try:
        browser = Browser(udp, ["127.255.255.255"], port, interval_s=10.0)
        browser.poll(clock.now())
        start = clock.now()
        while len(browser.found) < 2 and clock.now() - start < DEADLINE_S:
            first.poll(clock.now())
            second.poll(clock.now())
            udp.wait(0.01, clock.now())
            browser.poll(clock.now())
    finally:
        for transport in (first.transport, second.transport, udp):
            transport.close()
    assert sorted(g.port for g in browser.games(clock.now())) == [1000, 2000]


def test_run_client_list_prints_the_running_server() -> None:
    server = HostedServer(0, ServerConfig(), bind_host="127.0.0.1", discovery_port=0, name="listed game")
    server.start_in_background()
    try:
        # Asked directly on loopback: tests stay off real interfaces (broadcast is tested above).
        done = subprocess.run([sys.executable, str(ROOT / "run_client.py"), "--list", "--duration", "2",
                               "--host", "127.0.0.1", "--discovery-port", str(server.discovery_port)],
                              cwd=ROOT, capture_output=True, text=True, timeout=20)
    finally:
        server.stop()
    assert done.returncode == 0, done.stderr
    assert f"127.0.0.1:{server.port}  listed game  0/16  " in done.stdout, done.stdout
    line = next(li for li in done.stdout.splitlines() if f":{server.port}  " in li)
    assert line.endswith(" ms") and "pygame" not in done.stdout


def test_run_client_list_exits_1_when_nobody_answers() -> None:
    udp = UdpTransport("127.0.0.1", 0)  # a port nobody answers on: ours, held open and never read
    try:
        done = subprocess.run([sys.executable, str(ROOT / "run_client.py"), "--list", "--host", "127.0.0.1",
                               "--duration", "0.5", "--discovery-port", str(udp.local_address[1])],
                              cwd=ROOT, capture_output=True, text=True, timeout=20)
    finally:
        udp.close()
    assert done.returncode == 1 and done.stdout == ""
    assert "no games answered" in done.stderr and "UDP port" in done.stderr
