"""The authoritative server session: handshake, input buffers, the tick, and snapshots.

Theory of operation
-------------------
The server owns the only true world. Between ticks it drains the socket: a connect request gets
an accept (client id, tick rate, snapshot rate, rules hash) or a refusal with a readable reason;
input packets fill that client's *input buffer*; anything malformed or unexpected is counted by
reason in ``dropped`` and otherwise ignored.

Each client numbers its inputs 0, 1, 2, ... one per client tick, and every packet repeats the
last few inputs the server has not yet confirmed, so a lost packet costs nothing. The buffer
applies each input number exactly once and in order, one per server tick. A tick on which the
next input has not arrived yet (jitter) gives the client one *credit*; while it holds credit and
has inputs waiting, it may apply a second input in a later tick to catch up. So over any span a
client has at most as many inputs applied as ticks have passed: it cannot move faster than the
rules allow however many packets it sends, yet jitter never costs it an input. If an input is
lost beyond all redundancy, the buffer waits ``GAP_PATIENCE_TICKS`` and then skips it. After a
long outage more inputs may be queued than the credit can catch up; every queued input is
latency the player feels on every later move, so beyond ``MAX_BACKLOG_INPUTS`` the oldest are
dropped (counted in ``skipped``; the client sees one correction instead of lasting lag).

Every ``tick_rate / snapshot_rate`` ticks each client gets a snapshot: the server tick, the
newest input number of *that* client applied (so it can reconcile), and the whole state.
A client silent for ``TIMEOUT_S`` is dropped and its slot freed; the player list ("roster") is
versioned and resent with snapshots until the client echoes the version back.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .connection import Connection
from .game_api import GameRules, World
from .protocol import (CONNECT_REQUEST_MIN_BYTES, INPUT_SEQ_NONE, MAX_REASON_CHARS, PROTOCOL_VERSION, Accept,
                       ConnectRequest, Disconnect, Header, Inputs, KeepAlive, Message, PacketError, PacketType,
                       Refuse, Roster, Snapshot, decode_body, decode_header, encode)
from .stats import DropCounter, mean
from .transport import Address, Transport

MAX_INPUTS_AHEAD = 120  # inputs further ahead than this (2 s at 60 Hz) are refused
MAX_CATCHUP_CREDIT = 8  # ticks of lateness a client may make up, at one extra input per tick
GAP_PATIENCE_TICKS = 6  # how long to wait for a lost input before skipping it
MAX_BACKLOG_INPUTS = 12  # 200 ms at 60 Hz: more than jitter ever queues, less than a stall does


@dataclass(frozen=True)
class ServerConfig:
    tick_rate: int = 60
    snapshot_rate: int = 30
    max_players: int = 16

    def __post_init__(self) -> None:
        if not 1 <= self.tick_rate <= 240:
            raise ValueError(f"tick rate must be 1..240 Hz, got {self.tick_rate}")
        if not 1 <= self.snapshot_rate <= self.tick_rate:
            raise ValueError(f"snapshot rate must be 1..tick rate ({self.tick_rate}), got {self.snapshot_rate}")
        if not 1 <= self.max_players <= 64:
            raise ValueError(f"max players must be 1..64, got {self.max_players}")


@dataclass
class InputBuffer:
    """One client's inputs waiting to be applied, keyed by input number."""

    next_seq: int = 0  # the next input number to apply
    waiting: dict[int, int] = field(default_factory=dict)
    credit: int = 0
    gap_ticks: int = 0
    applied: int = 0
    skipped: int = 0

    def add(self, inputs: Inputs) -> None:
        first = inputs.newest_seq - len(inputs.bits) + 1
        for offset, bits in enumerate(inputs.bits):
            seq = first + offset
            if self.next_seq <= seq < self.next_seq + MAX_INPUTS_AHEAD:
                self.waiting.setdefault(seq, bits)

    def take_for_tick(self) -> list[int]:
        """The inputs to apply this tick: usually one, none when late, two while catching up."""
        taken = self._take_one()
        if not taken:
            self.credit = min(MAX_CATCHUP_CREDIT, self.credit + 1)
            self._skip_gap_if_stale()
        elif self.credit > 0 and self.next_seq in self.waiting:
            self.credit -= 1
            taken += self._take_one()
        self._trim_backlog()
        return taken

    def _trim_backlog(self) -> None:
        while len(self.waiting) > MAX_BACKLOG_INPUTS and self.credit == 0:
            self.waiting.pop(self.next_seq, None)
            self.next_seq += 1
            self.skipped += 1

    def _take_one(self) -> list[int]:
        bits = self.waiting.pop(self.next_seq, None)
        if bits is None:
            return []
        self.next_seq += 1
        self.applied += 1
        self.gap_ticks = 0
        return [bits]

    def _skip_gap_if_stale(self) -> None:
        if not self.waiting:
            self.gap_ticks = 0
            return
        self.gap_ticks += 1
        if self.gap_ticks >= GAP_PATIENCE_TICKS:
            oldest = min(self.waiting)
            self.skipped += oldest - self.next_seq
            self.next_seq = oldest
            self.gap_ticks = 0

    @property
    def last_applied_seq(self) -> int:
        return self.next_seq - 1 if self.applied else INPUT_SEQ_NONE


@dataclass
class ClientSlot:
    player_id: int
    name: str
    conn: Connection
    inputs: InputBuffer = field(default_factory=InputBuffer)
    roster_version_known: int = -1


class ServerSession:
    """All server state except the loop that calls it: give it ``now``, it does the rest."""

    def __init__(self, rules: GameRules, transport: Transport, config: ServerConfig, now: float) -> None:
        self.rules = rules
        self.transport = transport
        self.config = config
        self.world: World = rules.new_world()
        self.tick = 0
        self.clients: dict[Address, ClientSlot] = {}
        self.roster_version = 0
        self.dropped = DropCounter()
        self.peak_clients = 0
        self.snapshot_bytes: list[float] = []  # bytes per player of each snapshot packet
        self.final_positions_px: dict[str, list[float]] = {}  # where each departed player was last
        self.events: list[str] = []  # joins, leaves, timeouts, refusals
        self.on_event: Callable[[str], None] | None = None  # e.g. print, for a live console log

    # --- receiving -----------------------------------------------------------------------------

    def receive(self, now: float) -> None:
        for data, addr in self.transport.receive(now):
            try:
                self._handle(data, addr, now)
            except PacketError as exc:
                self.dropped.add(exc.reason)

    def _handle(self, data: bytes, addr: Address, now: float) -> None:
        ptype, header, body = decode_header(data)
        slot = self.clients.get(addr)
        if ptype == PacketType.CONNECT_REQUEST and len(data) < CONNECT_REQUEST_MIN_BYTES:
            # Unpadded: any answer (even an accept) could be larger than the request.
            raise PacketError("short_request", f"{len(data)} bytes")
        if header.version != PROTOCOL_VERSION:
            if ptype == PacketType.CONNECT_REQUEST and slot is None:
                self._refuse(addr, f"version mismatch: server speaks protocol {PROTOCOL_VERSION}, "
                                   f"client speaks {header.version}", len(data), now)
            raise PacketError("version", f"{header.version}")
        message = decode_body(ptype, body)
        if slot is None:
            if not isinstance(message, ConnectRequest):
                raise PacketError("unknown_peer", type(message).__name__)
            self._on_connect_request(message, header, len(data), addr, now)
            return
        if not slot.conn.on_receive(header, len(data), now):
            raise PacketError("duplicate")
        self._on_message(slot, message, now)

    def _on_message(self, slot: ClientSlot, message: Message, now: float) -> None:
        if isinstance(message, Inputs):
            slot.inputs.add(message)
            slot.roster_version_known = message.roster_version
        elif isinstance(message, ConnectRequest):
            self._send(slot, self._accept_for(slot), now)  # our accept was lost: say it again
        elif isinstance(message, Disconnect):
            self._remove(slot, f"{slot.name} left ({message.reason})")
        elif not isinstance(message, KeepAlive):
            raise PacketError("unexpected", type(message).__name__)

    # --- handshake -----------------------------------------------------------------------------

    def _on_connect_request(self, request: ConnectRequest, header: Header, size_bytes: int,
                            addr: Address, now: float) -> None:
        if request.rules_hash != self.rules.rules_hash:
            self._refuse(addr, f"rules mismatch: server rules {self.rules.rules_hash}, "
                               f"client rules {request.rules_hash}", size_bytes, now)
            return
        player_id = self._free_player_id()
        if player_id is None:
            self._refuse(addr, f"server full ({self.config.max_players} players)", size_bytes, now)
            return
        name = request.name.strip() or f"player{player_id}"
        slot = ClientSlot(player_id, name, Connection(addr, now))
        slot.conn.on_receive(header, size_bytes, now)
        self.clients[addr] = slot
        self.world = self.rules.add_player(self.world, player_id)
        self.roster_version += 1
        self.peak_clients = max(self.peak_clients, len(self.clients))
        self._log(f"{name} joined from {addr[0]}:{addr[1]} as player {player_id}")
        self._send(slot, self._accept_for(slot), now)

    def _log(self, event: str) -> None:
        self.events.append(event)
        del self.events[:-100]
        if self.on_event is not None:
            self.on_event(event)

    def _accept_for(self, slot: ClientSlot) -> Accept:
        return Accept(slot.player_id, self.config.tick_rate, self.config.snapshot_rate,
                      self.rules.rules_hash, self.tick)

    def _free_player_id(self) -> int | None:
        used = {slot.player_id for slot in self.clients.values()}
        for player_id in range(self.config.max_players):
            if player_id not in used:
                return player_id
        return None

    def _refuse(self, addr: Address, reason: str, request_bytes: int, now: float) -> None:
        # A stateless reply (seq 0, no acks), never larger than the request: a client-chosen rules
        # hash of multi-byte characters could otherwise grow the reason past the padding.
        header = Header(PROTOCOL_VERSION, 0, -1, 0)
        budget = request_bytes - len(encode(Refuse(""), header)) - 2  # 2: a long string's length prefix
        text = reason[:MAX_REASON_CHARS].encode()[:max(0, budget)].decode("utf-8", "ignore")
        data = encode(Refuse(text), header)
        if len(data) <= request_bytes:
            self.transport.send(data, addr, now)
        self._log(f"refused {addr[0]}:{addr[1]}: {reason}")

    def _remove(self, slot: ClientSlot, event: str) -> None:
        self.final_positions_px[slot.name] = self._position_px(slot)
        self.clients.pop(slot.conn.addr, None)
        self.world = self.rules.remove_player(self.world, slot.player_id)
        self.roster_version += 1
        self._log(event)

    # --- the tick ------------------------------------------------------------------------------

    def tick_once(self, now: float) -> None:
        """Advance the world one tick, then send what is due."""
        inputs = {slot.player_id: slot.inputs.take_for_tick() for slot in self._slots_by_id()}
        self.world = self.rules.step(self.world, inputs)
        self.tick += 1
        if self._snapshot_due():
            self._send_snapshots(now)
        self._expire_and_keepalive(now)

    def _slots_by_id(self) -> list[ClientSlot]:
        return sorted(self.clients.values(), key=lambda s: s.player_id)

    def _snapshot_due(self) -> bool:
        rate, tick_rate = self.config.snapshot_rate, self.config.tick_rate
        return (self.tick * rate) // tick_rate != ((self.tick - 1) * rate) // tick_rate

    def _send_snapshots(self, now: float) -> None:
        state = self.rules.encode_state(self.world)
        players = max(1, len(self.clients))
        for slot in self._slots_by_id():
            snapshot = Snapshot(self.tick, slot.inputs.last_applied_seq, self.roster_version, state)
            size = self._send(slot, snapshot, now)
            self.snapshot_bytes.append(size / players)
            if slot.roster_version_known != self.roster_version:
                self._send(slot, self.roster(), now)

    def roster(self) -> Roster:
        return Roster(self.roster_version, tuple(sorted((s.player_id, s.name) for s in self.clients.values())))

    def _expire_and_keepalive(self, now: float) -> None:
        for slot in list(self.clients.values()):
            if slot.conn.timed_out(now):
                self._remove(slot, f"{slot.name} timed out (silent for {now - slot.conn.last_receive_s:.1f} s)")
            elif slot.conn.needs_keepalive(now):
                self._send(slot, KeepAlive(), now)

    def _send(self, slot: ClientSlot, message: Message, now: float) -> int:
        data = slot.conn.build(message, now)
        self.transport.send(data, slot.conn.addr, now)
        return len(data)

    def shutdown(self, now: float, reason: str = "server shutting down") -> None:
        """Tell every client we are going, twice (one may be lost), and forget them."""
        for slot in list(self.clients.values()):
            for _ in range(2):
                self._send(slot, Disconnect(reason), now)
        self.clients.clear()

    # --- figures -------------------------------------------------------------------------------

    def stats(self) -> dict[str, object]:
        return {
            "clients": self.peak_clients,
            "clients_at_end": len(self.clients),
            "ticks": self.tick,
            "snapshot_bytes_per_player": round(mean(self.snapshot_bytes), 1),
            "dropped_packets": dict(self.dropped),
            "dropped_packets_total": self.dropped.total,
            "inputs_skipped": sum(s.inputs.skipped for s in self.clients.values()),
            "final_positions_px": self.final_positions_px | {s.name: self._position_px(s) for s in self._slots_by_id()},
        }

    def _position_px(self, slot: ClientSlot) -> list[float]:
        entity = self.rules.entities(self.world)[slot.player_id]
        return [entity.x_px, entity.y_px]
