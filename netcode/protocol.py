"""The wire format: every datagram, its msgpack framing, and strict decoding.

Theory of operation
-------------------
A datagram is one msgpack array::

    [PROTOCOL_ID, PROTOCOL_VERSION, type, seq, ack, ack_bits, ack_delay_100us, token, body]

The first three fields never change shape between versions, and the body is always the *last*
item, so a server can always read a newer or older client's version and refuse it with a message
naming both versions, and a client can read that refusal. ``token`` is the session's secret, 0
until the accept: see "Proof of address" below. ``seq`` /
``ack`` / ``ack_bits`` are the 16-bit reliability header of ``sequence.py`` (``ack`` is -1 before
anything arrived). ``ack_delay_100us`` is how long the sender held ``ack`` before this reply
(QUIC's ack delay), so the peer can subtract it and measure the true round trip rather than
the round trip plus our send interval. ``body`` is an array whose layout depends on ``type`` (see the message
classes below). A snapshot's state travels either as plain integers (``Snapshot``) or as a
``DeltaSnapshot``: bytes that only a client holding the named baseline can read
(``snapshot_codec.py``), which is why the accept tells the client the state's layout. The
server's snapshots and keep-alives may carry one more, last body item: a batch of reliable events
(``reliable.py``), present only when there are events to send.

Proof of address (as in netcode.io): a connect request gets nothing but a ``Challenge`` carrying a
*cookie*, an HMAC of the sender's address and the current time bucket under a secret only the
server knows, so the server stores nothing for it. Only a request that echoes a valid cookie
proves the sender can read what is sent to its address; only then is a slot taken and an
``Accept`` sent, whose header carries the session ``token``. The challenge and the accept echo the
request's ``nonce``, a random number only the real client and the server have seen, so a spoofer
cannot hand a connecting client a fake challenge or a fake accept. The token is a random 64-bit
number that every later packet, both ways, must carry. A packet with the wrong token is dropped before it touches
anything (its sequence number included), so an off-path spoofer who knows a player's address can
neither kick nor drive it, and datagrams recorded from another session are useless.

Decoding trusts nothing: the size is checked *before* msgpack sees a byte, msgpack runs with
explicit limits on every length and with ext types refused, and every field is then checked for
type and range. Anything wrong raises ``PacketError`` with a short machine-readable ``reason``
that the caller counts and drops; it never escapes the receive loop. A connect request is padded
to ``CONNECT_REQUEST_MIN_BYTES`` so that no reply to it (challenge or refusal) is larger than the
request that caused it, and nothing but those goes to an address that has not answered a
challenge: a forged source address gets back at most the bytes it sent.
"""
from __future__ import annotations

from typing import Any, NamedTuple, Union

import msgpack

from .reliable import EventBatch, decode_events, encode_events

PROTOCOL_ID = 0x4E43  # "NC"
PROTOCOL_VERSION = 6  # 2: input lead and target; 3: challenge, cookie, token; 4: delta snapshots,
#                       ack bits sent inverted, roster in parts; 5: reliable events on server packets;
#                       6: inputs carry the view time (lag compensation) and 16 bits each; the state
#                       layout names the moving entities; frame sync (types 11-14, the accept's sync)
MAX_INPUT_BITS = 0xFFFF  # an input is up to 16 bits; the game decides what they mean
MAX_PACKET_BYTES = 1200  # below a typical 1500-byte MTU minus IP/UDP headers
CONNECT_REQUEST_MIN_BYTES = 300
MAX_NAME_CHARS = 16
MAX_REASON_CHARS = 200
MAX_HASH_CHARS = 64
RULES_HASH_CHARS = 16  # the rules hash is 16 lowercase hex digits
MAX_REDUNDANT_INPUTS = 32
MAX_STATE_INTS = 1024
MAX_PLAYERS_ON_WIRE = 128
MAX_ROSTER_PARTS = 16
U32 = (1 << 32) - 1
ACK_BITS_ALL = U32  # the 32 ack bits, all set
MAX_BASELINE_AGO = 255  # ticks
MAX_INTS_PER_ENTITY = 64
MAX_DEAD_RECKONING_PAIRS = 8
U64 = (1 << 64) - 1
COOKIE_BYTES = 16
TOKEN_NONE = 0  # the token field before a session exists
INPUT_SEQ_NONE = -1  # "no input processed yet"
LEAD_TARGET_NONE = -1  # "the server does not schedule inputs: keep your clock as it is"
MAX_LEAD_CTICKS = 100_000


class PacketType:
    CONNECT_REQUEST = 1
    ACCEPT = 2
    REFUSE = 3
    INPUT = 4
    SNAPSHOT = 5
    ROSTER = 6
    KEEPALIVE = 7
    DISCONNECT = 8
    CHALLENGE = 9
    DELTA_SNAPSHOT = 10
    FRAME_INPUT = 11  # frame sync (frame_sync.py): client -> server
    FRAME_SETS = 12  # server -> client
    FULL_STATE = 13  # server -> client, once, when joining
    STATE_DUMP = 14  # client -> server, when asked after a desync
    SNAPSHOT_FRAGMENT = 15  # a delta against nothing too big for one datagram, in parts


class PacketError(Exception):
    """A datagram that must be dropped; ``reason`` names the counter it goes to."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


class Header(NamedTuple):
    version: int
    seq: int
    ack: int
    ack_bits: int
    ack_delay_100us: int = 0
    token: int = TOKEN_NONE


MAX_ACK_DELAY_100US = 0xFFFF

# --- messages: one per packet type -----------------------------------------------------------

class ConnectRequest(NamedTuple):
    name: str
    rules_hash: str
    cookie: bytes = b""  # empty the first time; then the server's challenge cookie, echoed
    nonce: int = 0  # the client's random number: the challenge and the accept must echo it


class Challenge(NamedTuple):
    """The only answer to a connect request without a valid cookie: prove you read your mail."""

    cookie: bytes
    nonce: int = 0  # the request's nonce: proof, to the client, that this answers *its* request


class Accept(NamedTuple):
    client_id: int
    tick_rate: int
    snapshot_rate: int
    rules_hash: str
    server_tick: int
    nonce: int = 0  # the connect request's nonce, echoed
    # How the state splits into entities, for delta snapshots: [ints per entity, moving ids below,
    # then (position field, velocity field) pairs flattened]; empty: no delta snapshots.
    state_layout: tuple[int, ...] = ()
    # Frame sync: [mode (1 lockstep, 2 rollback), input delay, max rollback, hash every K frames];
    # empty: state sync (snapshots). See frame_sync.py.
    sync: tuple[int, ...] = ()


class Refuse(NamedTuple):
    reason: str


class Inputs(NamedTuple):
    """The newest input and the ones before it, oldest first: ``bits[-1]`` is ``newest_seq``."""

    newest_seq: int
    bits: tuple[int, ...]
    roster_version: int  # the roster the client has, so the server stops resending it
    snapshot_tick: int  # newest snapshot tick the client has (-1 none): a baseline for later use
    view_256: int = -1  # the server time, in 1/256 tick, its screen showed when the newest input
    #                     was sampled (-1: none yet): what lag compensation rewinds to


class Snapshot(NamedTuple):
    tick: int
    last_input_seq: int  # the newest input of *this* client the server has applied (-1 none)
    roster_version: int
    state: tuple[int, ...]  # game-defined flat integers (see the game's snapshot codec)
    input_lead_cticks: int = 0  # how early this client's inputs arrive, in 1/100 tick (input_buffer.py)
    input_target_cticks: int = LEAD_TARGET_NONE  # the lead its clock should aim for; -1: do not steer
    events: EventBatch | None = None  # reliable events riding along (reliable.py); on the wire only if any


class DeltaSnapshot(NamedTuple):
    """A snapshot on the wire whose state is a ``snapshot_codec`` payload against a baseline."""

    tick: int
    last_input_seq: int
    roster_version: int
    baseline_ago: int  # the baseline is the snapshot of tick ``tick - baseline_ago``; 0: none
    payload: bytes  # snapshot_codec.encode's bits: only the client holding the baseline can read it
    input_lead_cticks: int = 0
    input_target_cticks: int = LEAD_TARGET_NONE
    events: EventBatch | None = None


MAX_SNAPSHOT_FRAGMENTS = 4


class SnapshotFragment(NamedTuple):
    """One part of a delta snapshot against nothing (``baseline_ago`` 0) whose payload does not fit
    one datagram (a big game whose every player has a record). The client joins the parts of a
    tick in order and reads them as one ``DeltaSnapshot``; a lost part loses that snapshot."""

    tick: int
    last_input_seq: int
    roster_version: int
    input_lead_cticks: int
    input_target_cticks: int
    part: int  # 0..parts-1
    parts: int  # 2..MAX_SNAPSHOT_FRAGMENTS
    chunk: bytes  # the payload's bytes, part ``part`` of ``parts``


class Roster(NamedTuple):
    """The player list, or one part of it: 128 names do not fit one datagram."""

    version: int
    players: tuple[tuple[int, str], ...]  # (player id, name), sorted by id
    part: int = 0  # this is part ``part`` of ``parts``; the list is known once all have arrived
    parts: int = 1


class KeepAlive(NamedTuple):
    events: EventBatch | None = None


# --- frame sync (frame_sync.py) ----------------------------------------------------------------

MAX_FRAME_SETS = 32  # input sets in one FrameSets packet (fewer when they would not fit)
MAX_FRAME_HASHES = 8
MAX_FRAME_PLAYERS = 16  # frame sync is for small games: every input of every player goes to everyone
STATE_HASH_CHARS = 32
SYNC_LOCKSTEP, SYNC_ROLLBACK = 1, 2
INPUT_DELAY_AUTO = 61  # in the accept's sync: start at AUTO_START_DELAY, then follow the round trip
AUTO_START_DELAY = 3


class FrameSet(NamedTuple):
    """Everything that changes the world in one frame: who joins, who leaves, and every input."""

    joins: tuple[int, ...] = ()
    leaves: tuple[int, ...] = ()
    inputs: tuple[tuple[int, int], ...] = ()  # (player id, bits), sorted by player id


class FrameInput(NamedTuple):
    """Client to server: our inputs for frames ``first_frame``..., oldest first, resent until a
    frame set carrying them comes back; the newest frame set we hold; and our state hashes."""

    first_frame: int
    bits: tuple[int, ...]  # may be empty (nothing new to send, hashes or a keepalive only)
    have_frame: int  # the newest frame whose set we hold (-1: none): the server resends after it
    hashes: tuple[tuple[int, str], ...] = ()  # (frame, state hash), every ``hash_every`` frames
    roster_version: int = -1  # the roster we have, so the server stops resending it


class FrameSets(NamedTuple):
    """Server to client: the input sets of frames ``first_frame``..., and whose input the next
    frame is waiting for (so a stalled client can say who it waits for)."""

    first_frame: int
    sets: tuple[FrameSet, ...]
    waiting: tuple[int, ...] = ()
    events: EventBatch | None = None


class FullState(NamedTuple):
    """Server to a joining client: the whole world after ``frame``; it follows the sets from there."""

    frame: int
    state: tuple[int, ...]


class StateDump(NamedTuple):
    """Client to server, after a desync: our world after ``frame``, for the report."""

    frame: int
    state: tuple[int, ...]


class Disconnect(NamedTuple):
    reason: str


Message = Union[ConnectRequest, Challenge, Accept, Refuse, Inputs, Snapshot, DeltaSnapshot, Roster,
                KeepAlive, Disconnect, FrameInput, FrameSets, FullState, StateDump, SnapshotFragment]

_TYPE_OF: dict[type, int] = {
    ConnectRequest: PacketType.CONNECT_REQUEST, Accept: PacketType.ACCEPT, Refuse: PacketType.REFUSE,
    Inputs: PacketType.INPUT, Snapshot: PacketType.SNAPSHOT, Roster: PacketType.ROSTER,
    KeepAlive: PacketType.KEEPALIVE, Disconnect: PacketType.DISCONNECT, Challenge: PacketType.CHALLENGE,
    DeltaSnapshot: PacketType.DELTA_SNAPSHOT, FrameInput: PacketType.FRAME_INPUT, FrameSets: PacketType.FRAME_SETS,
    FullState: PacketType.FULL_STATE, StateDump: PacketType.STATE_DUMP,
    SnapshotFragment: PacketType.SNAPSHOT_FRAGMENT,
}


# --- encoding --------------------------------------------------------------------------------

def _body(message: Message) -> list[Any]:
    body = _body_without_events(message)
    events = getattr(message, "events", None)
    if events is not None and events.events:
        body.append(encode_events(events.first_id, events.events))
    return body


def _body_without_events(message: Message) -> list[Any]:
    if isinstance(message, Inputs):
        return [message.newest_seq, list(message.bits), message.roster_version, message.snapshot_tick,
                message.view_256]
    if isinstance(message, Snapshot):
        return [message.tick, message.last_input_seq, message.roster_version, message.input_lead_cticks,
                message.input_target_cticks, list(message.state)]
    if isinstance(message, KeepAlive):
        return []
    if isinstance(message, Accept):
        return list(message[:6]) + [list(message.state_layout), list(message.sync)]
    if isinstance(message, FrameInput):
        return [message.first_frame, list(message.bits), message.have_frame, [list(h) for h in message.hashes],
                message.roster_version]
    if isinstance(message, FrameSets):
        return [message.first_frame, [[list(s.joins), list(s.leaves), [list(i) for i in s.inputs]] for s in message.sets],
                list(message.waiting)]
    if isinstance(message, (FullState, StateDump)):
        return [message.frame, list(message.state)]
    if isinstance(message, DeltaSnapshot):
        return [message.tick, message.last_input_seq, message.roster_version, message.input_lead_cticks,
                message.input_target_cticks, message.baseline_ago, message.payload]
    if isinstance(message, Roster):
        return [message.version, [list(p) for p in message.players], message.part, message.parts]
    return list(message)


def encode(message: Message, header: Header) -> bytes:
    """Frame ``message``; raises ValueError if it would exceed ``MAX_PACKET_BYTES``."""
    body = _body(message)
    # Ack bits go inverted (1 = *missing*): nearly always all received, so the field is a 1-byte 0.
    fields = [PROTOCOL_ID, header.version, _TYPE_OF[type(message)], header.seq, header.ack,
              header.ack_bits ^ ACK_BITS_ALL, min(header.ack_delay_100us, MAX_ACK_DELAY_100US), header.token]
    data = msgpack.packb(fields + [body])
    if isinstance(message, ConnectRequest) and len(data) < CONNECT_REQUEST_MIN_BYTES:
        body.append(b"\0" * (CONNECT_REQUEST_MIN_BYTES - len(data)))
        data = msgpack.packb(fields + [body])
    if len(data) > MAX_PACKET_BYTES:
        raise ValueError(f"{type(message).__name__} packet is {len(data)} bytes, over {MAX_PACKET_BYTES}")
    return data


# --- decoding --------------------------------------------------------------------------------

_UNPACK_LIMITS = dict(
    max_str_len=MAX_REASON_CHARS * 4, max_bin_len=MAX_PACKET_BYTES, max_array_len=MAX_STATE_INTS,
    max_map_len=0, max_ext_len=0, raw=False, strict_map_key=True, use_list=True,
)


def _int(value: Any, lo: int, hi: int, field: str) -> int:
    # bool is an int subclass in Python; a real peer never sends one for a number.
    if type(value) is not int or not lo <= value <= hi:
        raise PacketError("bad_body", f"{field}={value!r} not an integer in {lo}..{hi}")
    return value


def _str(value: Any, max_chars: int, field: str) -> str:
    if not isinstance(value, str) or len(value) > max_chars:
        raise PacketError("bad_body", f"{field} is not a string of at most {max_chars} chars")
    return value


def _name(value: Any, field: str) -> str:
    name = _str(value, MAX_NAME_CHARS, field)
    if not name.isprintable():
        raise PacketError("bad_body", f"{field} has control characters")
    return name


def _list(value: Any, lo: int, hi: int, field: str) -> list[Any]:
    if not isinstance(value, list) or not lo <= len(value) <= hi:
        raise PacketError("bad_body", f"{field} is not a list of {lo}..{hi} items")
    return value


_PREFIX = msgpack.packb(PROTOCOL_ID)  # b"\xcd\x4e\x43": item 0 of every datagram of ours
_ARRAY_MARKERS = bytes(range(0x90, 0xA0)) + b"\xdc\xdd"  # fixarray, array 16, array 32
MAX_ARRAY_MARKERS = 96  # far above any request a client sends (a name and a cookie hold at most ~50)


def precheck(data: bytes) -> None:
    """Cheap checks before msgpack sees a byte, for datagrams a server receives from anyone.

    A datagram of ours starts with a short array (4 to 15 items) whose first item is the
    protocol id; junk fails here at once. And msgpack builds one list per array, so a datagram of
    a thousand nested arrays costs it far more than junk: counting the bytes that could start an
    array (at C speed) turns those away before that work. A client's packets never come close.
    """
    if len(data) < 4 or not 0x94 <= data[0] <= 0x9F or data[1:4] != _PREFIX:
        raise PacketError("not_ours")
    if len(data) - len(data.translate(None, _ARRAY_MARKERS)) > MAX_ARRAY_MARKERS:  # one pass, in C
        raise PacketError("too_nested")


def decode_header(data: bytes) -> tuple[int, Header, list[Any]]:
    """Check size, framing and the fixed header; returns (type, header, raw body)."""
    if len(data) > MAX_PACKET_BYTES:
        raise PacketError("oversized", f"{len(data)} bytes")
    try:
        packet = msgpack.unpackb(data, **_UNPACK_LIMITS)
    except Exception as exc:  # msgpack raises several unrelated types for bad input
        raise PacketError("undecodable", type(exc).__name__) from None
    if not isinstance(packet, list) or len(packet) < 4:
        raise PacketError("bad_header", "not an array of at least 4 items")
    if packet[0] != PROTOCOL_ID:
        raise PacketError("wrong_protocol", f"id {packet[0]!r}")
    version = _int(packet[1], 0, U32, "version")
    ptype = _int(packet[2], 1, 255, "type")
    if version != PROTOCOL_VERSION:
        # Another version: only items 0-2 and the last (the body) are known to mean anything.
        header = Header(version, 0, -1, 0)
    elif len(packet) != 9:
        raise PacketError("bad_header", "not a 9-item array")
    else:
        header = Header(version, _int(packet[3], 0, 0xFFFF, "seq"), _int(packet[4], -1, 0xFFFF, "ack"),
                        _int(packet[5], 0, U32, "ack_bits") ^ ACK_BITS_ALL,
                        _int(packet[6], 0, MAX_ACK_DELAY_100US, "ack_delay"), _int(packet[7], 0, U64, "token"))
    body = packet[-1]
    if not isinstance(body, list):
        raise PacketError("bad_body", "body is not an array")
    return ptype, header, body


def decode_body(ptype: int, body: list[Any]) -> Message:
    decoder = _DECODERS.get(ptype)
    if decoder is None:
        raise PacketError("unknown_type", str(ptype))
    return decoder(body)


def decode(data: bytes) -> tuple[Header, Message]:
    """Decode one datagram of *our* version, or raise PacketError."""
    ptype, header, body = decode_header(data)
    if header.version != PROTOCOL_VERSION:
        raise PacketError("version", f"peer {header.version}, ours {PROTOCOL_VERSION}")
    return header, decode_body(ptype, body)


def _decode_connect(body: list[Any]) -> ConnectRequest:
    _list(body, 4, 5, "connect body")  # the optional fifth item is padding
    return ConnectRequest(_name(body[0], "name"), _hash(body[1]), _cookie(body[2], allow_empty=True),
                          _int(body[3], 0, U64, "nonce"))


def _decode_challenge(body: list[Any]) -> Challenge:
    _list(body, 2, 2, "challenge body")
    return Challenge(_cookie(body[0], allow_empty=False), _int(body[1], 0, U64, "nonce"))


def _cookie(value: Any, allow_empty: bool) -> bytes:
    if not isinstance(value, bytes) or len(value) not in ((0, COOKIE_BYTES) if allow_empty else (COOKIE_BYTES,)):
        raise PacketError("bad_body", f"cookie is not {COOKIE_BYTES} bytes")
    return value


def _hash(value: Any) -> str:
    """A rules hash: lowercase hex of a fixed length, nothing a terminal could misread."""
    text = _str(value, MAX_HASH_CHARS, "rules_hash")
    if len(text) != RULES_HASH_CHARS or any(c not in "0123456789abcdef" for c in text):
        raise PacketError("bad_body", f"rules_hash is not {RULES_HASH_CHARS} hex digits")
    return text


def _decode_accept(body: list[Any]) -> Accept:
    _list(body, 8, 8, "accept body")
    return Accept(_int(body[0], 0, MAX_PLAYERS_ON_WIRE - 1, "client_id"), _int(body[1], 1, 1000, "tick_rate"),
                  _int(body[2], 1, 1000, "snapshot_rate"), _hash(body[3]),
                  _int(body[4], 0, U32, "server_tick"), _int(body[5], 0, U64, "nonce"), _state_layout(body[6]),
                  _sync(body[7]))


def _sync(value: Any) -> tuple[int, ...]:
    items = _list(value, 0, 4, "sync")
    if not items:
        return ()
    if len(items) != 4:
        raise PacketError("bad_body", "sync is not [mode, input delay, max rollback, hash every]")
    return (_int(items[0], SYNC_LOCKSTEP, SYNC_ROLLBACK, "sync mode"), _int(items[1], 0, INPUT_DELAY_AUTO, "input delay"),
            _int(items[2], 0, 60, "max rollback"), _int(items[3], 1, 600, "hash every"))


def _frame_input(body: list[Any]) -> FrameInput:
    _list(body, 5, 5, "frame input body")
    bits = _list(body[1], 0, MAX_REDUNDANT_INPUTS, "frame input bits")
    hashes = []
    for item in _list(body[3], 0, MAX_FRAME_HASHES, "frame hashes"):
        _list(item, 2, 2, "frame hash")
        text = _str(item[1], STATE_HASH_CHARS, "state hash")
        if len(text) != STATE_HASH_CHARS or any(c not in "0123456789abcdef" for c in text):
            raise PacketError("bad_body", "a state hash is not 32 hex digits")
        hashes.append((_int(item[0], 0, U32, "hash frame"), text))
    return FrameInput(_int(body[0], 1, U32, "first frame"), tuple(_int(b, 0, MAX_INPUT_BITS, "input bits") for b in bits),
                      _int(body[2], -1, U32, "have frame"), tuple(hashes), _int(body[4], -1, U32, "roster_version"))


def _frame_set(value: Any) -> FrameSet:
    _list(value, 3, 3, "frame set")
    ids = [_player_ids(value[0], "joins"), _player_ids(value[1], "leaves")]
    inputs = []
    for item in _list(value[2], 0, MAX_FRAME_PLAYERS, "frame inputs"):
        _list(item, 2, 2, "frame input")
        inputs.append((_int(item[0], 0, MAX_PLAYERS_ON_WIRE - 1, "player id"), _int(item[1], 0, MAX_INPUT_BITS, "bits")))
    if [pid for pid, _ in inputs] != sorted({pid for pid, _ in inputs}):
        raise PacketError("bad_body", "frame inputs are not one per player, sorted")
    return FrameSet(ids[0], ids[1], tuple(inputs))


def _player_ids(value: Any, field: str) -> tuple[int, ...]:
    return tuple(_int(v, 0, MAX_PLAYERS_ON_WIRE - 1, field) for v in _list(value, 0, MAX_FRAME_PLAYERS, field))


def _frame_sets(body: list[Any]) -> FrameSets:
    _list(body, 3, 4, "frame sets body")
    sets = tuple(_frame_set(v) for v in _list(body[1], 0, MAX_FRAME_SETS, "frame sets"))
    return FrameSets(_int(body[0], 1, U32, "first frame"), sets, _player_ids(body[2], "waiting"), _events(body, 3))


def _frame_state(body: list[Any], kind: type) -> Any:
    _list(body, 2, 2, "frame state body")
    state = _list(body[1], 0, MAX_STATE_INTS, "state")
    return kind(_int(body[0], 0, U32, "frame"), tuple(_int(v, -U32, U32, "state") for v in state))


def _state_layout(value: Any) -> tuple[int, ...]:
    items = _list(value, 0, 2 + 2 * MAX_DEAD_RECKONING_PAIRS, "state layout")
    if not items:
        return ()
    if len(items) % 2:
        raise PacketError("bad_body", "state layout is not [ints per entity, moving ids below, pairs...]")
    ints_per_entity = _int(items[0], 2, MAX_INTS_PER_ENTITY, "ints per entity")
    moving_below = _int(items[1], 0, 2**31 - 1, "moving ids below")
    fields = tuple(_int(f, 1, ints_per_entity - 1, "state field") for f in items[2:])
    if len(set(fields)) != len(fields):
        raise PacketError("bad_body", "a state field appears twice in the layout")
    return (ints_per_entity, moving_below) + fields


def _decode_refuse(body: list[Any]) -> Refuse:
    _list(body, 1, 1, "refuse body")
    return Refuse(_str(body[0], MAX_REASON_CHARS, "reason"))


def _decode_inputs(body: list[Any]) -> Inputs:
    _list(body, 5, 5, "input body")
    bits = _list(body[1], 1, MAX_REDUNDANT_INPUTS, "input bits")
    newest = _int(body[0], len(bits) - 1, U32, "newest_seq")
    return Inputs(newest, tuple(_int(b, 0, MAX_INPUT_BITS, "input bits") for b in bits),
                  _int(body[2], -1, U32, "roster_version"), _int(body[3], -1, U32, "snapshot_tick"),
                  _int(body[4], -1, U32 * 256, "view_256"))


def _events(body: list[Any], fixed_items: int) -> EventBatch | None:
    """The optional last item of an event carrier: ``[first_id, [event, ...]]``."""
    if len(body) == fixed_items:
        return None
    try:
        batch = decode_events(body[fixed_items])
    except ValueError as exc:
        raise PacketError("bad_body", f"events: {exc}") from None
    if not batch.events:
        raise PacketError("bad_body", "an empty event list is sent as no item")
    return batch


def _decode_snapshot(body: list[Any]) -> Snapshot:
    _list(body, 6, 7, "snapshot body")
    state = _list(body[5], 0, MAX_STATE_INTS, "state")
    return Snapshot(_int(body[0], 0, U32, "tick"), _int(body[1], INPUT_SEQ_NONE, U32, "last_input_seq"),
                    _int(body[2], 0, U32, "roster_version"),
                    tuple(_int(v, -U32, U32, "state") for v in state),
                    _int(body[3], -MAX_LEAD_CTICKS, MAX_LEAD_CTICKS, "input_lead"),
                    _int(body[4], LEAD_TARGET_NONE, MAX_LEAD_CTICKS, "input_target"), _events(body, 6))


def _decode_delta_snapshot(body: list[Any]) -> DeltaSnapshot:
    _list(body, 7, 8, "delta snapshot body")
    if not isinstance(body[6], bytes):
        raise PacketError("bad_body", "delta payload is not bytes")
    return DeltaSnapshot(_int(body[0], 0, U32, "tick"), _int(body[1], INPUT_SEQ_NONE, U32, "last_input_seq"),
                         _int(body[2], 0, U32, "roster_version"), _int(body[5], 0, MAX_BASELINE_AGO, "baseline_ago"),
                         body[6], _int(body[3], -MAX_LEAD_CTICKS, MAX_LEAD_CTICKS, "input_lead"),
                         _int(body[4], LEAD_TARGET_NONE, MAX_LEAD_CTICKS, "input_target"), _events(body, 7))


def _decode_fragment(body: list[Any]) -> SnapshotFragment:
    _list(body, 8, 8, "snapshot fragment body")
    if not isinstance(body[7], bytes) or not body[7]:
        raise PacketError("bad_body", "fragment chunk is not bytes")
    parts = _int(body[6], 2, MAX_SNAPSHOT_FRAGMENTS, "fragment parts")
    return SnapshotFragment(_int(body[0], 0, U32, "tick"), _int(body[1], INPUT_SEQ_NONE, U32, "last_input_seq"),
                            _int(body[2], 0, U32, "roster_version"),
                            _int(body[3], -MAX_LEAD_CTICKS, MAX_LEAD_CTICKS, "input_lead"),
                            _int(body[4], LEAD_TARGET_NONE, MAX_LEAD_CTICKS, "input_target"),
                            _int(body[5], 0, parts - 1, "fragment part"), parts, body[7])


def _decode_roster(body: list[Any]) -> Roster:
    _list(body, 4, 4, "roster body")
    entries = _list(body[1], 0, MAX_PLAYERS_ON_WIRE, "roster players")
    players = []
    for entry in entries:
        _list(entry, 2, 2, "roster entry")
        players.append((_int(entry[0], 0, MAX_PLAYERS_ON_WIRE - 1, "player id"), _name(entry[1], "name")))
    parts = _int(body[3], 1, MAX_ROSTER_PARTS, "roster parts")
    return Roster(_int(body[0], 0, U32, "roster version"), tuple(players), _int(body[2], 0, parts - 1, "roster part"),
                  parts)


def _decode_keepalive(body: list[Any]) -> KeepAlive:
    _list(body, 0, 1, "keepalive body")
    return KeepAlive(_events(body, 0))


def _decode_disconnect(body: list[Any]) -> Disconnect:
    _list(body, 1, 1, "disconnect body")
    return Disconnect(_str(body[0], MAX_REASON_CHARS, "reason"))


_DECODERS = {
    PacketType.CONNECT_REQUEST: _decode_connect, PacketType.ACCEPT: _decode_accept,
    PacketType.REFUSE: _decode_refuse, PacketType.INPUT: _decode_inputs,
    PacketType.SNAPSHOT: _decode_snapshot, PacketType.ROSTER: _decode_roster,
    PacketType.KEEPALIVE: _decode_keepalive, PacketType.DISCONNECT: _decode_disconnect,
    PacketType.CHALLENGE: _decode_challenge, PacketType.DELTA_SNAPSHOT: _decode_delta_snapshot,
    PacketType.FRAME_INPUT: _frame_input, PacketType.FRAME_SETS: _frame_sets,
    PacketType.FULL_STATE: lambda body: _frame_state(body, FullState),
    PacketType.STATE_DUMP: lambda body: _frame_state(body, StateDump),
    PacketType.SNAPSHOT_FRAGMENT: _decode_fragment,
}
