"""Tests of the wire layer: wrapping sequence numbers and acks, the packet codec and its strict
decoder, and the per-connection bookkeeping (RTT, timeouts, keep-alives) under a fake clock.
"""
from __future__ import annotations

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from netcode.clock import FakeClock
from netcode.reliable import EventBatch
from netcode.connection import KEEPALIVE_INTERVAL_S, SENT_HISTORY, TIMEOUT_S, Connection
from netcode.protocol import (COOKIE_BYTES, MAX_BASELINE_AGO, MAX_INPUT_BITS, DeltaSnapshot, LEAD_TARGET_NONE, MAX_LEAD_CTICKS, RULES_HASH_CHARS, U64, Challenge, CONNECT_REQUEST_MIN_BYTES, MAX_ACK_DELAY_100US, MAX_HASH_CHARS, MAX_NAME_CHARS,
                              MAX_PACKET_BYTES, MAX_PLAYERS_ON_WIRE, MAX_REASON_CHARS, MAX_REDUNDANT_INPUTS,
                              PROTOCOL_ID, PROTOCOL_VERSION, U32, Accept, ConnectRequest, Disconnect, Header,
                              Inputs, KeepAlive, PacketError, PacketType, Refuse, Roster, Snapshot, decode,
                              decode_header, encode, FrameInput, FrameSet, FrameSets, FullState, SnapshotFragment, StateDump)
from netcode.sequence import (ACK_BITS, MAX_SEQ_JUMP, NO_ACK, SEQ_MODULO, ReceivedWindow, acked_sequences, seq_diff,
                              seq_greater, seq_next)

SLOW = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])
KNOWN_REASONS = {"oversized", "undecodable", "bad_header", "wrong_protocol", "bad_body", "unknown_type",
                 "version"}


# =============================================================================================
# sequence numbers
# =============================================================================================

def test_seq_next_wraps() -> None:
    assert seq_next(0) == 1
    assert seq_next(65534) == 65535
    assert seq_next(65535) == 0


def test_seq_compare_across_the_wrap() -> None:
    assert seq_greater(0, 65535)
    assert not seq_greater(65535, 0)
    assert seq_greater(5, 65530)
    assert not seq_greater(7, 7)
    assert seq_diff(0, 65535) == 1
    assert seq_diff(65535, 0) == -1
    assert seq_diff(3, 65533) == 6
    assert seq_diff(65533, 3) == -6
    # The half-range edge: 32767 ahead is newer, 32768 ahead reads as older.
    assert seq_greater(32767, 0) and seq_diff(32767, 0) == 32767
    assert not seq_greater(32768, 0) and seq_diff(32768, 0) == -32768


@given(a=st.integers(0, SEQ_MODULO - 1), d=st.integers(-32768, 32767))
def test_seq_diff_and_greater_agree_with_unwrapped_distance(a: int, d: int) -> None:
    b = (a + d) % SEQ_MODULO
    assert seq_diff(b, a) == d
    assert seq_greater(b, a) == (d > 0)
    if d != -32768:
        assert seq_diff(a, b) == -d
        assert seq_greater(a, b) == (d < 0)


class WindowModel:
    """The obvious reference: unwrapped sequence numbers and a set."""

    def __init__(self) -> None:
        self.newest: int | None = None
        self.received: set[int] = set()

    def record(self, seq: int) -> bool:
        if self.newest is not None and seq - self.newest > MAX_SEQ_JUMP:
            return False
        if self.newest is None or seq > self.newest:
            self.newest = seq
            self.received.add(seq)
            return True
        if seq in self.received or self.newest - seq > ACK_BITS:
            return False
        self.received.add(seq)
        return True

    def ack_bits(self) -> int:
        assert self.newest is not None
        return sum(1 << i for i in range(ACK_BITS) if self.newest - 1 - i in self.received)


@settings(max_examples=150, **SLOW)
@given(base=st.integers(0, SEQ_MODULO - 1),
       steps=st.lists(st.one_of(st.integers(-40, 40), st.integers(-3000, 30000)), min_size=1, max_size=80))
def test_received_window_matches_model(base: int, steps: list[int]) -> None:
    window, model = ReceivedWindow(), WindowModel()
    current = base
    for step in steps:
        # Stay within half the range of the newest, where "newer" is well defined.
        newest = model.newest if model.newest is not None else base
        current = max(newest - 32000, min(newest + 32000, current + step))
        assert window.record(current % SEQ_MODULO) == model.record(current)
        ack, bits = window.ack_fields()
        assert ack == model.newest % SEQ_MODULO
        assert bits == model.ack_bits()
        expected = [model.newest - i for i in range(ACK_BITS + 1) if model.newest - i in model.received]
        assert acked_sequences(ack, bits) == [s % SEQ_MODULO for s in expected]


def test_received_window_cases() -> None:
    w = ReceivedWindow()
    assert w.ack_fields() == (NO_ACK, 0)
    assert w.record(65534)
    assert not w.record(65534)  # duplicate
    assert w.record(1)  # across the wrap: 65535 and 0 missing
    assert w.ack_fields() == (1, 0b100)  # bit 2: 1 - 1 - 2 = 65534
    assert w.record(65535)  # late, out of order
    assert not w.record(65535)  # and its duplicate
    assert w.ack_fields() == (1, 0b110)
    assert w.record(0)
    assert w.ack_fields() == (1, 0b111)
    assert acked_sequences(*w.ack_fields()) == [1, 0, 65535, 65534]
    # A large jump forward forgets everything behind the window.
    assert w.record(1 + 100)
    assert w.ack_fields() == (101, 0)
    assert not w.record(1)  # too old to track
    assert w.record(101 - ACK_BITS)  # the oldest still tracked
    assert w.ack_fields() == (101, 1 << (ACK_BITS - 1))
    assert not w.record(100 - ACK_BITS)
    # A jump of exactly ACK_BITS keeps the old newest in the top bit.
    assert w.record(101 + ACK_BITS)
    assert w.ack_fields() == (101 + ACK_BITS, 1 << (ACK_BITS - 1))


def test_acked_sequences() -> None:
    assert acked_sequences(NO_ACK, 0xFFFFFFFF) == []
    assert acked_sequences(10, 0) == [10]
    assert acked_sequences(1, 0b11) == [1, 0, 65535]
    assert acked_sequences(0, 1 << 31) == [0, 65535 - 31]
    assert len(acked_sequences(500, 0xFFFFFFFF)) == ACK_BITS + 1


# =============================================================================================
# codec round trips
# =============================================================================================

u32 = st.integers(0, U32)
printable_name = st.text(st.characters(codec="utf-8"), max_size=MAX_NAME_CHARS).filter(str.isprintable)
any_text = st.text(st.characters(codec="utf-8"), max_size=MAX_REASON_CHARS)
hash_text = st.text("0123456789abcdef", min_size=RULES_HASH_CHARS, max_size=RULES_HASH_CHARS)
cookies = st.binary(min_size=COOKIE_BYTES, max_size=COOKIE_BYTES)
HASH = "0123456789abcdef"
headers = st.builds(Header, st.just(PROTOCOL_VERSION), st.integers(0, 0xFFFF), st.integers(-1, 0xFFFF),
                    u32, st.integers(0, MAX_ACK_DELAY_100US), st.integers(0, U64))


@st.composite
def inputs_messages(draw) -> Inputs:
    bits = tuple(draw(st.lists(st.integers(0, MAX_INPUT_BITS), min_size=1, max_size=MAX_REDUNDANT_INPUTS)))
    return Inputs(draw(st.integers(len(bits) - 1, U32)), bits, draw(st.integers(-1, U32)), draw(st.integers(-1, U32)),
                  draw(st.integers(-1, U32 * 256)))


#: None (no events), or a batch of one to five small events, as a server sends them.
event_batches = st.one_of(st.none(), st.builds(
    EventBatch, st.integers(0, U32 - 64),
    st.lists(st.lists(st.one_of(st.integers(-1000, 1000), st.text(max_size=8)), max_size=3), min_size=1, max_size=5)))

messages = st.one_of(
    st.builds(ConnectRequest, printable_name, hash_text, st.one_of(st.just(b""), cookies), st.integers(0, U64)),
    st.builds(Challenge, cookies, st.integers(0, U64)),
    st.builds(Accept, st.integers(0, MAX_PLAYERS_ON_WIRE - 1), st.integers(1, 1000), st.integers(1, 1000),
              hash_text, u32, st.integers(0, U64), st.sampled_from([(), (5, 128, 1, 3, 2, 4), (2, 0), (64, 2**31 - 1, 63, 1)]),
              st.sampled_from([(), (1, 3, 0, 4), (2, 0, 60, 600)])),
    st.builds(Refuse, any_text),
    inputs_messages(),
    st.builds(FrameInput, st.integers(1, U32), st.lists(st.integers(0, MAX_INPUT_BITS), max_size=MAX_REDUNDANT_INPUTS).map(tuple),
              st.integers(-1, U32), st.lists(st.tuples(st.integers(0, U32), st.text("0123456789abcdef", min_size=32, max_size=32)),
                                             max_size=8).map(tuple), st.integers(-1, U32)),
    st.builds(FrameSets, st.integers(1, U32), st.lists(st.builds(
        FrameSet, st.lists(st.integers(0, MAX_PLAYERS_ON_WIRE - 1), max_size=3).map(tuple),
        st.lists(st.integers(0, MAX_PLAYERS_ON_WIRE - 1), max_size=3).map(tuple),
        st.dictionaries(st.integers(0, MAX_PLAYERS_ON_WIRE - 1), st.integers(0, MAX_INPUT_BITS), max_size=16).map(
            lambda d: tuple(sorted(d.items())))), max_size=8).map(tuple),
        st.lists(st.integers(0, MAX_PLAYERS_ON_WIRE - 1), max_size=4).map(tuple), event_batches),
    st.builds(FullState, u32, st.lists(st.integers(-U32, U32), max_size=100).map(tuple)),
    st.builds(SnapshotFragment, u32, st.integers(-1, U32), u32, st.integers(-MAX_LEAD_CTICKS, MAX_LEAD_CTICKS),
              st.integers(LEAD_TARGET_NONE, MAX_LEAD_CTICKS), st.just(1), st.integers(2, 4), st.binary(min_size=1, max_size=500)),
    st.builds(StateDump, u32, st.lists(st.integers(-U32, U32), max_size=100).map(tuple)),
    st.builds(Snapshot, u32, st.integers(-1, U32), u32,
              st.lists(st.integers(-U32, U32), max_size=100).map(tuple),
              st.integers(-MAX_LEAD_CTICKS, MAX_LEAD_CTICKS), st.integers(LEAD_TARGET_NONE, MAX_LEAD_CTICKS),
              event_batches),
    st.builds(DeltaSnapshot, u32, st.integers(-1, U32), u32, st.integers(0, MAX_BASELINE_AGO),
              st.binary(max_size=1000), st.integers(-MAX_LEAD_CTICKS, MAX_LEAD_CTICKS),
              st.integers(LEAD_TARGET_NONE, MAX_LEAD_CTICKS), event_batches),
    st.builds(Roster, u32, st.lists(st.tuples(st.integers(0, MAX_PLAYERS_ON_WIRE - 1),
                                              st.text(st.characters(codec="ascii"), max_size=MAX_NAME_CHARS)
                                              .filter(str.isprintable)),
                                    max_size=16).map(tuple), st.just(1), st.just(3)),
    st.builds(Roster, u32, st.just(((0, "a"),)), st.just(0), st.just(1)),
    st.builds(KeepAlive, event_batches),
    st.builds(Disconnect, any_text),
)


@settings(max_examples=300, **SLOW)
@given(message=messages, header=headers)
def test_every_message_round_trips(message, header: Header) -> None:
    data = encode(message, header)
    assert len(data) <= MAX_PACKET_BYTES
    assert decode(data) == (header, message)
    assert type(decode(data)[1]) is type(message)


def test_each_message_type_has_its_own_type_number() -> None:
    h = Header(PROTOCOL_VERSION, 0, -1, 0)
    samples = {ConnectRequest("a", HASH): PacketType.CONNECT_REQUEST, Accept(1, 60, 30, HASH, 5): PacketType.ACCEPT,
               Challenge(b"c" * COOKIE_BYTES): PacketType.CHALLENGE,
               Refuse("x"): PacketType.REFUSE, Inputs(0, (1,), -1, -1): PacketType.INPUT,
               Snapshot(1, -1, 0, ()): PacketType.SNAPSHOT, Roster(1, ((0, "a"),)): PacketType.ROSTER,
               DeltaSnapshot(9, 3, 1, 2, b"\x80"): PacketType.DELTA_SNAPSHOT,
               KeepAlive(): PacketType.KEEPALIVE, Disconnect("bye"): PacketType.DISCONNECT}
    for message, ptype in samples.items():
        assert decode_header(encode(message, h))[0] == ptype
        assert decode(encode(message, h))[1] == message


def test_ack_delay_is_clamped_not_rejected() -> None:
    data = encode(KeepAlive(), Header(PROTOCOL_VERSION, 1, 2, 3, MAX_ACK_DELAY_100US * 10))
    assert decode(data)[0].ack_delay_100us == MAX_ACK_DELAY_100US


def test_encode_refuses_packets_over_the_limit() -> None:
    with pytest.raises(ValueError):
        encode(Snapshot(1, -1, 0, tuple([-U32] * 200)), Header(PROTOCOL_VERSION, 0, -1, 0))


# =============================================================================================
# strict decoding: PacketError with a reason, never anything else
# =============================================================================================

def packet(*fields) -> bytes:
    return msgpack.packb(list(fields))


def good_fields(ptype: int = PacketType.KEEPALIVE, body=None) -> list:
    return [PROTOCOL_ID, PROTOCOL_VERSION, ptype, 1, 0, 0, 0, 0, [] if body is None else body]


def decode_reason(data: bytes) -> str:
    """Decode ``data`` expecting a PacketError; return its reason. Any other exception fails."""
    with pytest.raises(PacketError) as info:
        decode(data)
    assert isinstance(info.value.reason, str) and info.value.reason
    return info.value.reason


def decode_safely(data: bytes) -> None:
    """Either a valid packet or PacketError with a known reason; nothing else may escape."""
    try:
        header, message = decode(data)
    except PacketError as exc:
        assert exc.reason in KNOWN_REASONS
        return
    assert isinstance(header, Header)
    assert len(encode(message, header)) <= MAX_PACKET_BYTES


@settings(max_examples=300, **SLOW)
@given(data=st.binary(max_size=MAX_PACKET_BYTES + 50))
def test_random_bytes_never_raise_anything_but_packet_error(data: bytes) -> None:
    decode_safely(data)


msgpack_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(1 << 63), (1 << 64) - 1), st.floats(),
              st.text(max_size=20), st.binary(max_size=20)),
    lambda children: st.one_of(st.lists(children, max_size=6),
                               st.dictionaries(st.text(max_size=5), children, max_size=3)),
    max_leaves=12,
)


@settings(max_examples=150, **SLOW)
@given(ptype=st.integers(-2, 10), fields=st.lists(msgpack_values, max_size=9),
       body=st.lists(msgpack_values, max_size=6))
def test_well_framed_garbage_never_raises_anything_but_packet_error(ptype: int, fields: list, body: list) -> None:
    decode_safely(msgpack.packb(fields))
    decode_safely(msgpack.packb([PROTOCOL_ID, PROTOCOL_VERSION, ptype, 1, 0, 0, 0, body]))


@settings(max_examples=200, **SLOW)
@given(message=messages, header=headers, flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)),
                                                          min_size=1, max_size=4))
def test_mutated_valid_packets_never_raise_anything_but_packet_error(message, header, flips) -> None:
    data = bytearray(encode(message, header))
    for where, value in flips:
        data[where % len(data)] = value
    decode_safely(bytes(data))


@pytest.mark.parametrize("message", [
    ConnectRequest("alice", "0123456789abcdef"), Accept(3, 60, 30, "0123456789abcdef", 1234),
    Refuse("server full"), Inputs(100, (1, 2, 3, 4), 2, 99), Snapshot(77, 70, 2, (1, 2, 3, -4, 5), -250, 180),
    Roster(2, ((0, "a"), (1, "b"))), KeepAlive(), Disconnect("quit"),
])
def test_every_truncation_of_a_valid_packet_is_rejected(message) -> None:
    data = encode(message, Header(PROTOCOL_VERSION, 65535, 65534, 0xFFFFFFFF, 100))
    for length in range(len(data)):
        assert decode_reason(data[:length]) in {"undecodable", "bad_header"}


def test_oversized_datagrams_are_rejected_before_decoding() -> None:
    assert decode_reason(b"\0" * (MAX_PACKET_BYTES + 1)) == "oversized"
    big = msgpack.packb(good_fields(PacketType.SNAPSHOT, [1, -1, 0, 0, -1, [U32] * 300]))
    assert len(big) > MAX_PACKET_BYTES
    assert decode_reason(big) == "oversized"
    # Exactly at the limit is still looked at (and here rejected only for its content).
    at_limit = msgpack.packb(good_fields(PacketType.DISCONNECT, [b"x" * 1100]))
    at_limit = msgpack.packb(good_fields(PacketType.DISCONNECT, [b"x" * (1100 + MAX_PACKET_BYTES - len(at_limit))]))
    assert len(at_limit) == MAX_PACKET_BYTES
    assert decode_reason(at_limit) == "bad_body"


def test_header_checks() -> None:
    assert decode_reason(packet(0x1234, 1, 7, 1, 0, 0, 0, 0, [])) == "wrong_protocol"
    assert decode_reason(packet("NC", 1, 7, 1, 0, 0, 0, 0, [])) == "wrong_protocol"
    assert decode_reason(packet(*good_fields()[:8])) == "bad_header"
    assert decode_reason(packet(PROTOCOL_ID, PROTOCOL_VERSION, 7)) == "bad_header"
    assert decode_reason(packet(*good_fields(), 0)) == "bad_header"
    assert decode_reason(msgpack.packb(5)) == "bad_header"
    assert decode_reason(msgpack.packb("hello")) == "bad_header"
    assert decode_reason(packet(PROTOCOL_ID, 99, 7, 1, 0, 0, 0, 0, [])) == "version"
    assert decode_reason(packet(PROTOCOL_ID, 2, 7, 1, 0, 0, 0, [])) == "version"  # the 8-item layout of 2
    assert decode_reason(packet(PROTOCOL_ID, PROTOCOL_VERSION, 99, 1, 0, 0, 0, 0, [])) == "unknown_type"
    assert decode_reason(packet(PROTOCOL_ID, PROTOCOL_VERSION, 0, 1, 0, 0, 0, 0, [])) == "bad_body"
    assert decode_reason(packet(PROTOCOL_ID, PROTOCOL_VERSION, 7, 1, 0, 0, 0, 0, "body")) == "bad_body"


@pytest.mark.parametrize("index,value", [
    (1, True), (2, True), (3, True), (4, False), (5, True), (6, True), (7, True),  # bool is not an int
    (3, 1.0), (3, "1"), (3, None), (3, [1]), (3, b"\x01"), (7, "token"),  # other wrong types
    (3, -1), (3, 65536), (4, -2), (4, 65536), (5, -1), (5, U32 + 1), (6, -1), (6, MAX_ACK_DELAY_100US + 1),
    (7, -1),
])
def test_header_field_types_and_ranges(index: int, value) -> None:
    fields = good_fields()
    fields[index] = value
    assert decode_reason(msgpack.packb(fields)) == "bad_body"


@pytest.mark.parametrize("ptype,body", [
    # wrong types: bool instead of int, str instead of list, bytes instead of str, floats
    (PacketType.INPUT, [True, [1], -1, -1, -1]),
    (PacketType.INPUT, [0, [True], -1, -1, -1]),
    (PacketType.INPUT, [0, "abc", -1, -1, -1]),
    (PacketType.INPUT, [0, [1.0], -1, -1, -1]),
    (PacketType.INPUT, [0, [MAX_INPUT_BITS + 1], -1, -1, -1]),
    (PacketType.INPUT, [0, [1], -1, -1, -2]),  # a view time before the start
    (PacketType.INPUT, [0, [-1], -1, -1, -1]),
    (PacketType.INPUT, [0, [], -1, -1, -1]),  # no input at all
    (PacketType.INPUT, [1, [1, 2, 3], -1, -1, -1]),  # newest_seq would make the first input negative
    (PacketType.INPUT, [0, [1] * (MAX_REDUNDANT_INPUTS + 1), -1, -1, -1]),  # too long
    (PacketType.INPUT, [0, [[[[1]]]], -1, -1, -1]),  # nested too deep
    (PacketType.INPUT, [0, [1], -2, -1, -1]),
    (PacketType.INPUT, [0, [1], -1, -1]),  # too few fields (the protocol 5 layout)
    (PacketType.INPUT, [0, [1], -1, -1, -1, 0]),  # too many fields
    (PacketType.CONNECT_REQUEST, [b"alice", HASH, b"", 0]),
    (PacketType.CONNECT_REQUEST, ["alice", 5, b"", 0]),
    (PacketType.CONNECT_REQUEST, ["a" * (MAX_NAME_CHARS + 1), HASH, b"", 0]),
    (PacketType.CONNECT_REQUEST, ["alice", "h" * (MAX_HASH_CHARS + 1), b"", 0]),
    (PacketType.CONNECT_REQUEST, ["alice", "hash", b"", 0]),  # not 16 hex digits
    (PacketType.CONNECT_REQUEST, ["alice", HASH.upper(), b"", 0]),
    (PacketType.CONNECT_REQUEST, ["alice", "\x1b[31m" + HASH[:11], b"", 0]),
    (PacketType.CONNECT_REQUEST, ["alice", HASH, b""]),  # no nonce field
    (PacketType.CONNECT_REQUEST, ["alice", HASH, b"short", 0]),
    (PacketType.CONNECT_REQUEST, ["alice", HASH, b"", -1]),
    (PacketType.CONNECT_REQUEST, ["alice", HASH, b"", 0, b"", b""]),
    (PacketType.CHALLENGE, [b"", 0]),
    (PacketType.CHALLENGE, [b"x" * (COOKIE_BYTES + 1), 0]),
    (PacketType.CHALLENGE, ["text", 0]),
    (PacketType.CHALLENGE, [b"x" * COOKIE_BYTES]),
    (PacketType.ACCEPT, [MAX_PLAYERS_ON_WIRE, 60, 30, HASH, 0, 0]),
    (PacketType.ACCEPT, [0, 0, 30, HASH, 0, 0]),
    (PacketType.ACCEPT, [0, 60, 1001, HASH, 0, 0]),
    (PacketType.ACCEPT, [0, 60, 30, HASH, -1, 0]),
    (PacketType.REFUSE, [["nested"]]),
    (PacketType.REFUSE, ["x" * (MAX_REASON_CHARS + 1)]),
    (PacketType.SNAPSHOT, [1, -1, 0, []]),  # the old, shorter layout
    (PacketType.SNAPSHOT, [1, -2, 0, 0, -1, []]),
    (PacketType.SNAPSHOT, [1, -1, 0, 0, -1, "state"]),
    (PacketType.SNAPSHOT, [1, -1, 0, 0, -1, [U32 + 1]]),
    (PacketType.SNAPSHOT, [1, -1, 0, 0, -1, [True]]),
    (PacketType.SNAPSHOT, [1, -1, 0, 0, -1, [[1]]]),
    (PacketType.SNAPSHOT, [1, -1, 0, MAX_LEAD_CTICKS + 1, -1, []]),
    (PacketType.SNAPSHOT, [1, -1, 0, 0, -2, []]),
    (PacketType.SNAPSHOT, [1, -1, 0, 0.5, -1, []]),
    (PacketType.ROSTER, [1, [[0]]]),
    (PacketType.ROSTER, [1, [[MAX_PLAYERS_ON_WIRE, "a"]]]),
    (PacketType.ROSTER, [1, [[0, "a", "b"]]]),
    (PacketType.ROSTER, [1, "players"]),
    (PacketType.ROSTER, [1, [[0, "a"]] * (MAX_PLAYERS_ON_WIRE + 1)]),
    (PacketType.SNAPSHOT_FRAGMENT, [1, -1, 0, 0, -1, 0, 1, b"x"]),  # one part is not a fragment
    (PacketType.SNAPSHOT_FRAGMENT, [1, -1, 0, 0, -1, 5, 5, b"x"]),  # more parts than allowed
    (PacketType.SNAPSHOT_FRAGMENT, [1, -1, 0, 0, -1, 2, 2, b"x"]),  # part beyond the parts
    (PacketType.SNAPSHOT_FRAGMENT, [1, -1, 0, 0, -1, 0, 2, b""]),  # an empty chunk
    (PacketType.FRAME_INPUT, [1, [1], -1, [[4, "0" * 31]], -1]),  # a hash of 31 digits
    (PacketType.FRAME_SETS, [1, [[[], [], [[1, 2], [1, 3]]]], []]),  # two inputs of one player
    (PacketType.KEEPALIVE, [0]),  # an extra item must be an event batch
    (PacketType.KEEPALIVE, [[0, []]]),  # an empty event list is sent as no item
    (PacketType.KEEPALIVE, [[0, [1], 2]]),
    (PacketType.SNAPSHOT, [1, -1, 0, 0, -1, [], [0, [1.5]]]),
    (PacketType.DISCONNECT, []),
    (PacketType.DISCONNECT, [None]),
])
def test_body_field_types_and_ranges(ptype: int, body: list) -> None:
    assert decode_reason(msgpack.packb(good_fields(ptype, body))) == "bad_body"


@pytest.mark.parametrize("name", ["a\nb", "\x00", "\x1b[31mred", "tab\t", "\x7f", "rtl\u202e", "nul\u0000x",
                                  "line\u2028"])
def test_names_with_control_characters_are_rejected(name: str) -> None:
    assert decode_reason(msgpack.packb(good_fields(PacketType.CONNECT_REQUEST, [name, HASH, b"", 0]))) == "bad_body"
    assert decode_reason(msgpack.packb(good_fields(PacketType.ROSTER, [1, [[0, name]]]))) == "bad_body"


def test_printable_names_are_accepted() -> None:
    for name in ("alice", "Zoë", "玩家", "a b", ""):
        data = msgpack.packb(good_fields(PacketType.CONNECT_REQUEST, [name, HASH, b"", 0]))
        assert decode(data)[1] == ConnectRequest(name, HASH)


def test_maps_and_ext_types_are_refused() -> None:
    assert decode_reason(msgpack.packb({"a": 1})) == "undecodable"
    assert decode_reason(msgpack.packb(good_fields(PacketType.DISCONNECT, [{"reason": "x"}]))) == "undecodable"
    assert decode_reason(msgpack.packb(good_fields(PacketType.DISCONNECT, [msgpack.ExtType(1, b"x")]))) \
        == "undecodable"
    timestamp = msgpack.packb(good_fields(PacketType.DISCONNECT, [msgpack.Timestamp(1, 0)]))
    assert decode_reason(timestamp) == "undecodable"
    empty_map = msgpack.packb(good_fields(PacketType.DISCONNECT, [{}]))
    with pytest.raises(PacketError):
        decode(empty_map)


def test_too_long_or_too_deep_msgpack_is_refused() -> None:
    too_many_items = msgpack.packb(good_fields(PacketType.SNAPSHOT, [1, -1, 0, 0, -1, [1] * 1100]))
    assert len(too_many_items) <= MAX_PACKET_BYTES
    assert decode_reason(too_many_items) == "undecodable"
    too_deep = b"\x91" * (MAX_PACKET_BYTES - 1) + b"\xc0"
    assert decode_reason(too_deep) == "undecodable"
    long_str = msgpack.packb(good_fields(PacketType.DISCONNECT, ["x" * (MAX_REASON_CHARS * 4 + 1)]))
    assert decode_reason(long_str) == "undecodable"


def test_packet_error_carries_reason_and_detail() -> None:
    exc = PacketError("bad_body", "seq=True")
    assert exc.reason == "bad_body" and "seq=True" in str(exc)
    assert str(PacketError("oversized")) == "oversized"


# =============================================================================================
# connect request padding: no reply is larger than the request
# =============================================================================================

@settings(max_examples=100, **SLOW)
@given(name=printable_name, rules_hash=hash_text, header=headers)
def test_connect_request_is_padded(name: str, rules_hash: str, header: Header) -> None:
    data = encode(ConnectRequest(name, rules_hash), header)
    assert len(data) >= CONNECT_REQUEST_MIN_BYTES
    assert decode(data) == (header, ConnectRequest(name, rules_hash))


def test_largest_accept_and_server_refusals_fit_in_the_smallest_request() -> None:
    smallest_request = len(encode(ConnectRequest("", HASH), Header(PROTOCOL_VERSION, 0, -1, 0)))
    challenge = encode(Challenge(b"c" * COOKIE_BYTES), Header(PROTOCOL_VERSION, 0, -1, 0))
    assert len(challenge) < smallest_request
    big_header = Header(PROTOCOL_VERSION, 0xFFFF, 0xFFFF, U32, MAX_ACK_DELAY_100US, U64)
    accept = encode(Accept(MAX_PLAYERS_ON_WIRE - 1, 1000, 1000, "f" * 16, U32), big_header)
    assert len(accept) < smallest_request
    for reason in ("server full (64 players)",
                   "version mismatch: server speaks protocol 1, client speaks 4294967295",
                   "rules mismatch: server rules 0123456789abcdef, client rules " + "x" * MAX_HASH_CHARS):
        refusal = encode(Refuse(reason), Header(PROTOCOL_VERSION, 0, -1, 0))
        assert len(refusal) < smallest_request, reason


# =============================================================================================
# Connection: RTT from acks, timeouts, keep-alives
# =============================================================================================

A = ("10.0.0.1", 1000)
B = ("10.0.0.2", 2000)


def deliver(data: bytes, receiver: Connection, now: float) -> bool:
    header, _ = decode(data)
    return receiver.on_receive(header, len(data), now)


def test_rtt_from_acks_subtracts_ack_delay() -> None:
    clock = FakeClock(10.0)
    a, b = Connection(B, clock.now()), Connection(A, clock.now())
    sent = a.build(KeepAlive(), clock.now())
    clock.advance(0.030)  # one way
    assert deliver(sent, b, clock.now())
    clock.advance(0.040)  # b sits on it before replying
    reply = b.build(KeepAlive(), clock.now())
    assert decode(reply)[0].ack_delay_100us == 400
    clock.advance(0.030)  # back
    assert a.srtt_s is None
    assert deliver(reply, a, clock.now())
    assert a.rtt_ms == pytest.approx(60.0, abs=0.2)  # 100 ms elapsed minus 40 ms held
    assert list(a.rtt_samples_ms) == [pytest.approx(60.0, abs=0.2)]
    assert a.sent_at_s == {}  # the acked packet is forgotten


def test_rtt_is_smoothed_with_gain_one_eighth() -> None:
    clock = FakeClock()
    a, b = Connection(B, 0.0), Connection(A, 0.0)
    for rtt_s in (0.100, 0.200):
        sent = a.build(KeepAlive(), clock.now())
        clock.advance(rtt_s / 2)
        deliver(sent, b, clock.now())
        reply = b.build(KeepAlive(), clock.now())
        clock.advance(rtt_s / 2)
        deliver(reply, a, clock.now())
    assert a.srtt_s == pytest.approx(0.100 + (0.200 - 0.100) / 8)
    assert list(a.rtt_samples_ms) == [pytest.approx(100.0), pytest.approx(200.0)]


def test_only_the_newest_ack_gives_an_rtt_sample() -> None:
    clock = FakeClock()
    a, b = Connection(B, 0.0), Connection(A, 0.0)
    first = a.build(KeepAlive(), clock.now())
    clock.advance(0.5)
    second = a.build(KeepAlive(), clock.now())
    clock.advance(0.01)
    deliver(first, b, clock.now())
    deliver(second, b, clock.now())
    reply = b.build(KeepAlive(), clock.now())
    clock.advance(0.01)
    deliver(reply, a, clock.now())
    # The first packet is acked through ack_bits, but its age includes time not spent on the wire.
    assert len(a.rtt_samples_ms) == 1
    assert a.rtt_ms == pytest.approx(20.0, abs=0.2)
    assert a.sent_at_s == {}


def test_duplicates_are_refused_and_not_counted() -> None:
    a, b = Connection(B, 0.0), Connection(A, 0.0)
    data = a.build(KeepAlive(), 0.0)
    assert deliver(data, b, 0.1)
    assert not deliver(data, b, 0.2)
    assert b.packets_in == 1 and b.bytes_in == len(data)
    assert b.last_receive_s == 0.1


def test_rtt_across_sequence_wrap() -> None:
    clock = FakeClock()
    a, b = Connection(B, 0.0), Connection(A, 0.0)
    a.local_seq = 65534
    for _ in range(4):  # seqs 65534, 65535, 0, 1
        sent = a.build(KeepAlive(), clock.now())
        clock.advance(0.025)
        assert deliver(sent, b, clock.now())
        reply = b.build(KeepAlive(), clock.now())
        clock.advance(0.025)
        assert deliver(reply, a, clock.now())
    assert a.local_seq == 2
    assert [round(s) for s in a.rtt_samples_ms] == [50, 50, 50, 50]


def test_sent_history_is_bounded() -> None:
    a = Connection(B, 0.0)
    for i in range(SENT_HISTORY + 50):
        a.build(KeepAlive(), i * 0.001)
    assert len(a.sent_at_s) == SENT_HISTORY
    assert min(a.sent_at_s) == 50  # the oldest were forgotten


def test_timeout_after_timeout_s_of_silence() -> None:
    a, b = Connection(B, 100.0), Connection(A, 100.0)
    assert not a.timed_out(100.0 + TIMEOUT_S)
    assert a.timed_out(100.0 + TIMEOUT_S + 0.001)
    deliver(b.build(KeepAlive(), 103.0), a, 103.0)
    assert not a.timed_out(103.0 + TIMEOUT_S)
    assert a.timed_out(103.0 + TIMEOUT_S + 0.001)
    # Sending does not count as hearing from the peer.
    a.build(KeepAlive(), 108.0)
    assert a.timed_out(108.5)


def test_keepalive_interval() -> None:
    a = Connection(B, 0.0)
    assert a.needs_keepalive(0.0)  # never sent anything
    a.build(KeepAlive(), 1.0)
    assert not a.needs_keepalive(1.0)
    assert not a.needs_keepalive(1.0 + KEEPALIVE_INTERVAL_S - 0.001)
    assert a.needs_keepalive(1.0 + KEEPALIVE_INTERVAL_S)
    a.build(Inputs(0, (1,), -1, -1), 1.2)  # any packet resets it, not only keep-alives
    assert not a.needs_keepalive(1.0 + KEEPALIVE_INTERVAL_S)


def test_build_stamps_seq_and_acks() -> None:
    a, b = Connection(B, 0.0), Connection(A, 0.0)
    first = decode(a.build(KeepAlive(), 0.0))[0]
    assert (first.seq, first.ack, first.ack_bits) == (0, NO_ACK, 0)
    for t in (0.0, 0.01, 0.02):
        deliver(b.build(KeepAlive(), t), a, t)
    second = decode(a.build(KeepAlive(), 0.05))[0]
    assert (second.seq, second.ack, second.ack_bits) == (1, 2, 0b11)
    assert second.ack_delay_100us == 300  # held since 0.02
