"""LAN discovery: "which games are running on this network?", asked by broadcast and answered by servers.

Theory of operation
-------------------
A browsing client sends a small ``Request`` to the broadcast address of every network it is on,
and to loopback, every ``REQUEST_INTERVAL_S``. Every server on those networks answers with a
``Reply``: its name, game port, players, max players, protocol version and the first digits of
its rules hash. The client lists what came back; joining is then the ordinary handshake of
``protocol.py`` on the game port, so nothing in a reply is trusted for more than a menu line.

Discovery has its own well-known UDP port, ``DISCOVERY_PORT``, next to the game's 7777, rather
than the game port itself: a broadcast must go to a port the browser knows in advance, and game
ports differ (``--port``, or 0 in tests), so one fixed port can find games on any port. Servers
bind it *shared* (``SO_REUSEADDR``, plus ``SO_REUSEPORT`` where it exists), so two servers on one
machine both receive a broadcast request and both answer. A unicast request, such as the one to
127.0.0.1, reaches only one of them; the broadcast to 127.255.255.255 (Linux) reaches them all.

Each datagram is one msgpack array::

    request: [DISCOVERY_MAGIC, DISCOVERY_VERSION, KIND_REQUEST, nonce, padding]
    reply:   [DISCOVERY_MAGIC, DISCOVERY_VERSION, KIND_REPLY, nonce, server_id, name, game_port,
              players, max_players, protocol_version, rules_prefix]

The magic differs from the game protocol's id, so a discovery datagram sent to a game port (or a
game datagram sent here) is dropped at the first bytes. The ``nonce`` is the browser's random
number for one round of requests; a reply must echo one it sent in the last few rounds, and the
time since that round was sent is the ping. ``server_id`` is a random number per server, so a
server found through two addresses (loopback and the LAN) is listed once.

Decoding is as strict as ``protocol.py``'s: the size is checked before msgpack sees a byte, then
the magic's bytes, then msgpack runs with explicit limits (no maps, no ext types, short strings),
then every field's type and range. Anything wrong raises ``PacketError`` with a ``reason`` that
the caller counts; nothing else escapes ``Responder.poll`` or ``Browser.poll``.

No amplification. A request is padded to ``REQUEST_BYTES`` and a reply is at most
``MAX_REPLY_BYTES`` (smaller), and the responder checks that each reply is no longer than the
request it answers before sending it. So a request forged with a victim's source address makes a
server send the victim no more bytes than the forger sent, and ``ReplyLimiter`` caps that at
``REPLIES_PER_IP_PER_S`` replies per source address. The responder's socket is not allowed to
broadcast, so a request forged *from* a broadcast address is answered to nobody.
"""
from __future__ import annotations

import secrets
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Iterable, NamedTuple, Protocol

import msgpack

from .handshake import RateLimiter
from .protocol import MAX_NAME_CHARS, MAX_PLAYERS_ON_WIRE, U32, U64, PacketError
from .transport import Address, Transport

DISCOVERY_PORT = 7778  # the game's default is 7777
DISCOVERY_MAGIC = 0x4E434C44  # "NCLD": not the game protocol's 0x4E43, so neither mistakes the other
DISCOVERY_VERSION = 1
KIND_REQUEST = 1
KIND_REPLY = 2
REQUEST_BYTES = 128  # every request is padded to at least this
MAX_REQUEST_BYTES = 256  # a request is looked at only up to this size
MAX_REPLY_BYTES = 120  # the largest reply (16 four-byte characters in the name) is 109 bytes
RULES_PREFIX_CHARS = 8  # hex digits of the rules hash in a reply: enough to tell versions apart
REQUEST_INTERVAL_S = 0.5
NONCES_KEPT = 4  # a reply may answer any of the last 4 rounds (2 s)
FORGET_AFTER_S = 3.0  # a game not heard from for 6 rounds has gone
REPLIES_PER_IP_PER_S = 10  # a browser reaches a server by at most 2 targets from one address: 4/s
MAX_GAMES_FOUND = 256  # games a browser lists at once (the rest are dropped until some go quiet)
MAX_REQUESTS_PER_POLL = 64  # a flood is looked at 64 datagrams at a time; the rest are dropped

_MAGIC_BYTES = msgpack.packb(DISCOVERY_MAGIC)  # b"\xceNCLD"
_REQUEST_ITEMS = 5
_REPLY_ITEMS = 11
_UNPACK_LIMITS = dict(
    max_str_len=MAX_NAME_CHARS * 4, max_bin_len=MAX_REQUEST_BYTES, max_array_len=_REPLY_ITEMS,
    max_map_len=0, max_ext_len=0, raw=False, strict_map_key=True, use_list=True,
)


class Request(NamedTuple):
    nonce: int  # 0..U64: the browser's number for this round, echoed by the reply


class Reply(NamedTuple):
    nonce: int
    server_id: int  # 0..U32, random per server: the same server seen through two addresses
    name: str  # the game's name: printable, at most MAX_NAME_CHARS characters
    game_port: int  # 1..65535: where to send the connect request
    players: int  # 0..max_players
    max_players: int  # 1..MAX_PLAYERS_ON_WIRE
    protocol_version: int  # the game protocol's version (protocol.PROTOCOL_VERSION), 0..U32
    rules_prefix: str  # the first RULES_PREFIX_CHARS hex digits of the rules hash


# --- encoding --------------------------------------------------------------------------------

def encode_request(request: Request) -> bytes:
    """A request, padded with zero bytes to exactly ``REQUEST_BYTES``."""
    _u64(request.nonce, "nonce")
    items: list[Any] = [DISCOVERY_MAGIC, DISCOVERY_VERSION, KIND_REQUEST, request.nonce, b""]
    short = REQUEST_BYTES - len(msgpack.packb(items))
    items[-1] = b"\0" * short  # bin8 up to 255 bytes: the header stays 2 bytes, so the sum is exact
    data = msgpack.packb(items)
    assert len(data) == REQUEST_BYTES
    return data


def encode_reply(reply: Reply) -> bytes:
    """A reply; raises ValueError if a field is out of range (a browser would drop it)."""
    items = [DISCOVERY_MAGIC, DISCOVERY_VERSION, KIND_REPLY, *reply]
    try:
        _reply_from_items(items)
    except PacketError as exc:
        raise ValueError(f"reply would be refused: {exc}") from None
    data = msgpack.packb(items)
    if len(data) > MAX_REPLY_BYTES:
        raise ValueError(f"reply is {len(data)} bytes, over {MAX_REPLY_BYTES}")
    return data


# --- decoding --------------------------------------------------------------------------------

def _u64(value: Any, field: str) -> int:
    return _int(value, 0, U64, field)


def _int(value: Any, lo: int, hi: int, field: str) -> int:
    if type(value) is not int or not lo <= value <= hi:  # bool is an int: refused
        raise PacketError("bad_body", f"{field}={value!r} not an integer in {lo}..{hi}")
    return value


def _items(data: bytes, count: int, kind: int) -> list[Any]:
    """msgpack-decode ``data`` (its size already checked) into the ``count`` items of ``kind``."""
    # A short array whose first item is our magic, or junk (the game protocol's datagrams too):
    # checked on the bytes, before msgpack sees them.
    if len(data) < 1 + len(_MAGIC_BYTES) or not 0x93 <= data[0] <= 0x9F or not data.startswith(_MAGIC_BYTES, 1):
        raise PacketError("not_ours")
    try:
        items = msgpack.unpackb(data, **_UNPACK_LIMITS)
    except Exception as exc:  # msgpack raises several unrelated types for bad input
        raise PacketError("undecodable", type(exc).__name__) from None
    # Items 0-2 never change shape between versions: another version is counted as such.
    if type(items[1]) is not int or items[1] != DISCOVERY_VERSION:
        raise PacketError("version", f"discovery version {items[1]!r}, ours {DISCOVERY_VERSION}")
    if type(items[2]) is not int or items[2] != kind:
        raise PacketError("wrong_kind", f"kind {items[2]!r}")
    if len(items) != count:
        raise PacketError("bad_header", f"not a {count}-item array")
    return items


def decode_request(data: bytes) -> Request:
    """A request from anyone: size first, then the bytes of the magic, then msgpack, then fields."""
    if len(data) > MAX_REQUEST_BYTES:
        raise PacketError("oversized", f"{len(data)} bytes")
    if len(data) < REQUEST_BYTES:
        raise PacketError("unpadded", f"{len(data)} bytes, under {REQUEST_BYTES}")
    items = _items(data, _REQUEST_ITEMS, KIND_REQUEST)
    if not isinstance(items[4], bytes):
        raise PacketError("bad_body", "padding is not bytes")
    return Request(_u64(items[3], "nonce"))


def decode_reply(data: bytes) -> Reply:
    """A reply from anyone on the network: checked as strictly as a request."""
    if len(data) > MAX_REPLY_BYTES:
        raise PacketError("oversized", f"{len(data)} bytes")
    return _reply_from_items(_items(data, _REPLY_ITEMS, KIND_REPLY))


def _reply_from_items(items: list[Any]) -> Reply:
    name = items[5]
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME_CHARS or not name.isprintable():
        raise PacketError("bad_body", f"name is not 1..{MAX_NAME_CHARS} printable characters")
    max_players = _int(items[8], 1, MAX_PLAYERS_ON_WIRE, "max_players")
    prefix = items[10]
    if not isinstance(prefix, str) or len(prefix) != RULES_PREFIX_CHARS or any(c not in "0123456789abcdef"
                                                                               for c in prefix):
        raise PacketError("bad_body", f"rules_prefix is not {RULES_PREFIX_CHARS} hex digits")
    return Reply(_u64(items[3], "nonce"), _int(items[4], 0, U32, "server_id"), name,
                 _int(items[6], 1, 65535, "game_port"), _int(items[7], 0, max_players, "players"), max_players,
                 _int(items[9], 0, U32, "protocol_version"), prefix)


# --- the server's side -------------------------------------------------------------------------

class GameInfo(NamedTuple):
    """What a server says about itself; asked for afresh for every reply (players change)."""

    name: str
    game_port: int
    players: int
    max_players: int
    protocol_version: int
    rules_prefix: str


class ReplyLimiter(RateLimiter):
    """At most ``REPLIES_PER_IP_PER_S`` replies to one IP address (any port) per second."""

    def __init__(self, per_second: int = REPLIES_PER_IP_PER_S) -> None:
        super().__init__(per_second)


class Responder:
    """Answers discovery requests arriving on ``transport`` (the server's discovery socket)."""

    def __init__(self, transport: Transport, info: Callable[[], GameInfo], server_id: int | None = None) -> None:
        self.transport = transport
        self.info = info
        self.server_id = secrets.randbits(32) if server_id is None else server_id
        self.limiter = ReplyLimiter()
        self.answered = 0
        self.dropped: Counter[str] = Counter()

    def poll(self, now: float) -> bool:
        """Answer what has arrived; True if the budget ran out (a flood: the caller may pause)."""
        datagrams = self.transport.receive(now)
        for data, addr in datagrams[:MAX_REQUESTS_PER_POLL]:
            self._on_datagram(data, addr, now)
        if len(datagrams) > MAX_REQUESTS_PER_POLL:
            self.dropped["over_budget"] += len(datagrams) - MAX_REQUESTS_PER_POLL
            return True
        return False

    def _on_datagram(self, data: bytes, addr: Address, now: float) -> None:
        try:
            request = decode_request(data)
        except PacketError as exc:
            self.dropped[exc.reason] += 1
            return
        if addr[1] == 0:
            self.dropped["bad_source"] += 1  # no real sender has port 0
            return
        if not self.limiter.allow(addr[0], now):
            self.dropped["rate_limited"] += 1
            return
        try:
            reply = encode_reply(Reply(request.nonce, self.server_id, *self.info()))
        except ValueError:
            self.dropped["bad_info"] += 1  # our own fields out of range: say nothing rather than lie
            return
        if len(reply) > len(data):  # cannot happen (MAX_REPLY_BYTES < REQUEST_BYTES); never amplify
            self.dropped["reply_too_big"] += 1
            return
        self.transport.send(reply, addr, now)
        self.answered += 1

    def stats(self) -> dict[str, object]:
        return {"discovery_answered": self.answered, "discovery_dropped": dict(self.dropped)}


# --- the browser's side ------------------------------------------------------------------------

@dataclass
class FoundGame:
    host: str  # the address the reply came from: what to join, with ``port``
    port: int  # the game port
    name: str
    players: int
    max_players: int
    ping_ms: float  # request to reply, the fastest answer of the newest round that was answered
    protocol_version: int
    rules_prefix: str
    server_id: int
    last_seen_s: float
    round_sent_s: float  # the newest round this game answered, whose fastest answer is ``ping_ms``


class Clock(Protocol):
    def now(self) -> float: ...


def _is_loopback(host: str) -> bool:
    return host.startswith("127.")


class Browser:
    """Sends a request to every target each ``interval_s`` and collects the replies as games.

    ``hosts`` are where requests go: broadcast addresses, loopback, or a single server's address.
    The transport must be allowed to broadcast (``UdpTransport(broadcast=True)``).
    """

    def __init__(self, transport: Transport, hosts: Iterable[str], port: int = DISCOVERY_PORT,
                 interval_s: float = REQUEST_INTERVAL_S, nonce: Callable[[], int] | None = None) -> None:
        self.transport = transport
        self.targets: list[Address] = [(host, port) for host in dict.fromkeys(hosts)]
        self.interval_s = interval_s
        self.new_nonce = nonce or (lambda: secrets.randbits(64))
        self.sent: dict[int, float] = {}  # nonce -> when its round was sent (the newest NONCES_KEPT)
        self.found: dict[int, FoundGame] = {}  # by server id
        self.next_send_s: float | None = None
        self.rounds = 0
        self.replies = 0
        self.dropped: Counter[str] = Counter()

    def poll(self, now: float) -> None:
        """Send a round of requests if one is due, then read every reply that has arrived."""
        if self.next_send_s is None or now >= self.next_send_s:
            self._send_round(now)
        for data, addr in self.transport.receive(now):
            self._on_datagram(data, addr, now)

    def _send_round(self, now: float) -> None:
        nonce = self.new_nonce()
        self.sent[nonce] = now
        while len(self.sent) > NONCES_KEPT:
            del self.sent[next(iter(self.sent))]  # dicts keep insertion order: the oldest round
        data = encode_request(Request(nonce))
        for target in self.targets:
            self.transport.send(data, target, now)
        self.rounds += 1
        self.next_send_s = now + self.interval_s

    def _on_datagram(self, data: bytes, addr: Address, now: float) -> None:
        try:
            reply = decode_reply(data)
        except PacketError as exc:
            self.dropped[exc.reason] += 1
            return
        sent_s = self.sent.get(reply.nonce)
        if sent_s is None:
            self.dropped["unknown_nonce"] += 1  # not an answer to us, or to a round long gone
            return
        self.replies += 1
        ping_ms = (now - sent_s) * 1000.0
        game = self.found.get(reply.server_id)
        if game is None and len(self.found) >= MAX_GAMES_FOUND:
            self.dropped["too_many_games"] += 1  # anyone on the LAN can answer: the list stays bounded
            return
        if game is None:
            self.found[reply.server_id] = FoundGame(addr[0], reply.game_port, reply.name, reply.players,
                                                    reply.max_players, ping_ms, reply.protocol_version,
                                                    reply.rules_prefix, reply.server_id, now, sent_s)
            return
        if _is_loopback(game.host) and not _is_loopback(addr[0]):
            game.host = addr[0]  # the LAN address is the one friends can use too
        if sent_s > game.round_sent_s:
            game.round_sent_s, game.ping_ms = sent_s, ping_ms
        elif sent_s == game.round_sent_s:
            game.ping_ms = min(game.ping_ms, ping_ms)
        game.port, game.name, game.players, game.max_players = (reply.game_port, reply.name, reply.players,
                                                                reply.max_players)
        game.protocol_version, game.rules_prefix, game.last_seen_s = reply.protocol_version, reply.rules_prefix, now

    def games(self, now: float) -> list[FoundGame]:
        """The games heard from in the last ``FORGET_AFTER_S``, by address and port."""
        for server_id in [sid for sid, g in self.found.items() if now - g.last_seen_s > FORGET_AFTER_S]:
            del self.found[server_id]
        return sorted(self.found.values(), key=lambda g: (_address_key(g.host), g.port, g.server_id))

    def run(self, clock: Clock, duration_s: float) -> list[FoundGame]:
        """Browse for ``duration_s`` seconds, sleeping in the socket between rounds; the games found."""
        end_s = clock.now() + duration_s
        while (now := clock.now()) < end_s:
            self.poll(now)
            due_s = min(self.next_send_s if self.next_send_s is not None else end_s, end_s)
            self.transport.wait(due_s - now, now)
        return self.games(clock.now())

    def stats(self) -> dict[str, object]:
        return {"rounds": self.rounds, "replies": self.replies, "dropped": dict(self.dropped)}


def _address_key(host: str) -> tuple[int, ...]:
    parts = host.split(".")
    return tuple(int(p) for p in parts) if len(parts) == 4 and all(p.isdigit() for p in parts) else (256,)
