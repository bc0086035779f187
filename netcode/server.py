"""The authoritative server session: handshake, input buffers, the tick, and snapshots.

Theory of operation
-------------------
The server owns the only true world. Between ticks it drains the socket. A connect request gets
a challenge until it echoes a valid cookie (``handshake.py``: proof that the sender owns its
address); then it gets an accept (client id, tick rate, snapshot rate, rules hash, and in its
header the session token) or a refusal with a readable reason. Every later packet must carry the
token; anything with the wrong one, malformed or unexpected is counted by reason in ``dropped``
and otherwise ignored. Junk and deeply nested datagrams are turned away by ``protocol.precheck``
before msgpack sees them, and between two ticks at most ``MAX_DATAGRAMS_PER_TICK`` datagrams from
addresses without a session are looked at, so a flood cannot starve the tick.

Inputs go to that client's ``InputBuffer`` (``input_buffer.py``), which applies each input number
exactly once, in order, on a schedule of one per tick, and measures how early inputs arrive so
the client can steer its clock to keep that margin small but sufficient.

Every ``tick_rate / snapshot_rate`` ticks each client gets a snapshot: the server tick, the
newest input number of *that* client applied (so it can reconcile), its input lead and target
lead, and the state. With the delta codec (the default, ``snapshot_codec.py``) the state is
encoded against the newest snapshot the client says it has (its inputs echo that tick), if the
server still remembers it (the newest ``BASELINES_KEPT`` snapshots, as many as a client keeps),
the wire can name it (``MAX_BASELINE_AGO`` ticks) and the delta fits a datagram; else against
nothing. Clients that hold the same baseline get the same bytes, so each snapshot is encoded once
per distinct baseline (at most ``MAX_ENCODINGS_PER_SNAPSHOT``), not once per client. With the
full codec the state goes as plain integers. With a ``tracer`` set, every tick is also written
down (the true positions and the inputs applied), so tools can compare what clients drew with
the truth.

A client silent for ``TIMEOUT_S`` is dropped and its slot freed; the player list ("roster") is
versioned and resent, in parts, with snapshots until the client echoes the version back. Events
(a player joined or left) go on each client's reliable channel (``reliable.py``): they ride the
snapshots and keep-alives until the client's acks show a packet carrying them arrived.

Server bots (``add_bot``) are players the server plays itself: each tick, before the step, each
bot's brain gives one input, which goes into ``step`` beside the clients' inputs, so everyone sees
bots as ordinary remote players. A person joining while another is connected sends one away.
"""
from __future__ import annotations

import logging
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from .connection import Connection
from .game_api import GameRules, World
from .handshake import ConnectLimiter, Cookies
from .input_buffer import BufferPolicy, InputBuffer
from .frame_relay import SYNC_MODES, FrameRelay
from .lag_compensation import DEFAULT_CAP_MS, LagCompensator, view_for
from . import snapshot_codec
from .protocol import (CONNECT_REQUEST_MIN_BYTES, LEAD_TARGET_NONE, MAX_ACK_DELAY_100US, MAX_BASELINE_AGO,
                       MAX_FRAME_PLAYERS, MAX_LEAD_CTICKS, MAX_NAME_CHARS,
                       MAX_PACKET_BYTES, MAX_PLAYERS_ON_WIRE, MAX_REASON_CHARS, MAX_ROSTER_PARTS, PROTOCOL_VERSION,
                       TOKEN_NONE, U32, U64, Accept, Challenge,
                       ConnectRequest, DeltaSnapshot, Disconnect, FrameInput, FrameSets, Header, Inputs, KeepAlive,
                       Message, SnapshotFragment, StateDump, MAX_SNAPSHOT_FRAGMENTS,
                       PacketError, PacketType, Refuse, Roster, Snapshot, decode_body, decode_header, encode,
                       precheck)
from .reliable import EventOverflow, ReliableSender
from .stats import DropCounter, RunningMean
from .transport import Address, Transport

LOG = logging.getLogger("netcode.server")
STEADY_AFTER_S = 2.0  # a client's first seconds (its clock still settling) are not histogrammed
DEPARTED_KEPT = 64  # final positions remembered for players who left (bounded: names churn)
MAX_DATAGRAMS_PER_TICK = 512  # 128 players send about 1 each per tick: a wide margin, a firm bound
REFUSAL_LOG_INTERVAL_S = 1.0  # a flood of refusals is logged as one line a second, with a count
# Plain integers: a player at top speed is about 17 bytes of msgpack and its tag record up to 16
# more, so about 34 players fill a 1,200-byte datagram; the full codec stops at 32.
FULL_CODEC_MAX_PLAYERS = 32
ROSTER_NAMES_PER_PART = 16  # 16 names of 16 characters of up to 4 bytes each fit one datagram
SNAPSHOT_CODECS = ("delta", "full")
WHOLE = -2  # the key of the unlimited payload against nothing, in a tick's payloads (fragments)
MAX_ENCODINGS_PER_SNAPSHOT = 8  # distinct delta encodings per snapshot tick, "against nothing" included
#: The largest header a packet can have: what events may not push a datagram past the limit.
WORST_HEADER = Header(PROTOCOL_VERSION, 0xFFFF, 0xFFFF, 0, MAX_ACK_DELAY_100US, U64)
EVENT_CARRIERS = (Snapshot, DeltaSnapshot, KeepAlive, FrameSets)
#: What a delta payload may take: the datagram limit minus the largest header and snapshot fields.
MAX_DELTA_PAYLOAD_BYTES = MAX_PACKET_BYTES - len(encode(
    DeltaSnapshot(U32, U32, U32, MAX_BASELINE_AGO, b"", -MAX_LEAD_CTICKS, MAX_LEAD_CTICKS), WORST_HEADER)) - 2


@dataclass(frozen=True)
class ServerConfig:
    tick_rate: int = 60
    snapshot_rate: int = 30
    max_players: int = 16
    input_buffer: BufferPolicy = BufferPolicy()
    max_per_ip: int = 4  # sessions from one IP address (a few people behind one router)
    snapshot_codec: str = "delta"  # "delta": against the client's newest snapshot; "full": plain ints
    keep_bots: bool = False  # False: a server bot leaves each time a second, third... person joins
    lag_compensation: bool = True  # judge shots against what the shooter saw (lag_compensation.py)
    lag_cap_ms: int = DEFAULT_CAP_MS  # rewind no further back than this
    sync: str = "state"  # "state": snapshots; "lockstep" or "rollback": frame sync (frame_relay.py)
    input_delay: int = 3  # frame sync: frames between a key press and the frame it acts in (-1: auto)
    max_rollback: int = 8  # rollback: frames a client may run ahead of the confirmed one
    hash_every: int = 4  # frame sync: frames between state hash checks (desync detection)
    on_desync: str = "continue"  # or "stop": end the game after writing the report
    desync_dir: str = "desync-reports"  # where desync reports are written

    def __post_init__(self) -> None:
        if not 1 <= self.tick_rate <= 240:
            raise ValueError(f"tick rate must be 1..240 Hz, got {self.tick_rate}")
        if not 1 <= self.snapshot_rate <= self.tick_rate:
            raise ValueError(f"snapshot rate must be 1..tick rate ({self.tick_rate}), got {self.snapshot_rate}")
        if self.snapshot_codec not in SNAPSHOT_CODECS:
            raise ValueError(f"snapshot codec must be one of {', '.join(SNAPSHOT_CODECS)}, got {self.snapshot_codec!r}")
        limit = FULL_CODEC_MAX_PLAYERS if self.snapshot_codec == "full" else MAX_PLAYERS_ON_WIRE
        if not 1 <= self.max_players <= limit:
            raise ValueError(f"max players must be 1..{limit} with the {self.snapshot_codec} snapshot codec, "
                             f"got {self.max_players}")
        if self.sync not in ("state",) + tuple(SYNC_MODES):
            raise ValueError(f"sync must be state, lockstep or rollback, got {self.sync!r}")
        if self.sync != "state" and self.max_players > MAX_FRAME_PLAYERS:
            raise ValueError(f"frame sync is for small games: max players 1..{MAX_FRAME_PLAYERS}, got {self.max_players}")
        if not (-1 <= self.input_delay <= 60 and 0 <= self.max_rollback <= 60 and 1 <= self.hash_every <= 600):
            raise ValueError(f"input delay (or auto) and max rollback must be 0..60 frames and hash every 1..600, got "
                             f"{self.input_delay}, {self.max_rollback}, {self.hash_every}")
        if self.on_desync not in ("continue", "stop"):
            raise ValueError(f"on desync must be continue or stop, got {self.on_desync!r}")
        if not 0 <= self.lag_cap_ms <= 2000:
            raise ValueError(f"lag compensation cap must be 0..2000 ms, got {self.lag_cap_ms}")
        if not 1 <= self.max_per_ip <= MAX_PLAYERS_ON_WIRE:
            raise ValueError(f"max players per IP address must be 1..{MAX_PLAYERS_ON_WIRE}, got {self.max_per_ip}")


#: A server bot's brain: (its input number, the world now, its player id) -> input bits.
BotBrain = Callable[[int, World, int], int]


@dataclass
class BotSlot:
    """A player the server plays itself, through the same tick and input path as a client's."""

    player_id: int
    name: str
    brain: BotBrain
    inputs_made: int = 0


@dataclass
class ClientSlot:
    player_id: int
    name: str
    conn: Connection
    inputs: InputBuffer
    roster_version_known: int = -1
    snapshot_tick_known: int = -1  # the newest snapshot the client says it has: its baseline
    view_seq: int = -1  # the newest input whose view time we know ...
    view_256: int = -1  # ... and that view time, in 1/256 tick (lag compensation)
    events_out: ReliableSender = field(default_factory=ReliableSender)  # joins, leaves: resent until acked


class ServerSession:
    """All server state except the loop that calls it: give it ``now``, it does the rest."""

    def __init__(self, rules: GameRules, transport: Transport, config: ServerConfig, now: float,
                 secret: bytes | None = None) -> None:
        self.rules = rules
        self.cookies = Cookies(secret)  # None: a fresh random secret for this process
        self.limiter = ConnectLimiter()
        self.refusals: Counter = Counter()  # by kind, for the stats
        self._refusal_log_s = float("-inf")
        self._refusals_unlogged = 0
        self.transport = transport
        self.config = config
        self.world: World = rules.new_world()
        self.tick = 0
        self.handled_this_tick = 0  # datagrams handled since the last tick (the flood budget)
        self.last_tick_s = now  # when the last tick ran: the next is due one tick later
        self.clients: dict[Address, ClientSlot] = {}
        self.bots: dict[int, BotSlot] = {}  # player id -> a player the server plays itself
        self.roster_version = 0
        self.dropped = DropCounter()
        self.peak_clients = 0
        self.snapshot_bytes = RunningMean()  # bytes per player of each snapshot packet
        self.sent_states: OrderedDict[int, np.ndarray] = OrderedDict()  # tick -> state rows: the baselines
        self.baselines_per_snapshot = RunningMean()  # distinct baselines (encodings) per snapshot tick
        self.snapshots_full = 0  # snapshots sent with no baseline
        self.snapshots_fragmented = 0  # ... of which too big for one datagram, sent in parts
        self.snapshots_sent = 0
        self.final_positions_px: OrderedDict[str, list[float]] = OrderedDict()  # departed players, newest last
        self.departed_input_ticks: Counter = Counter()  # histograms of clients who left
        self.departed_wait_ms = RunningMean()
        self.departed_skipped = 0
        self.events: list[str] = []  # joins, leaves, timeouts, refusals
        self.on_event: Callable[[str], None] | None = None  # also told every event (tests, tools)
        self.tracer: Callable[[dict[str, Any]], None] | None = None  # gets one record per tick
        self.lag = LagCompensator(rules, config.tick_rate, config.lag_cap_ms)
        self.tags_confirmed = 0  # clients' shots that hit someone
        self.tags_rejected = 0  # clients' shots that hit nobody
        self.frames: FrameRelay | None = FrameRelay(self) if config.sync != "state" else None
        self.stop_reason: str | None = None  # set when the game must end (a desync with --on-desync stop)

    # --- receiving -----------------------------------------------------------------------------

    def receive(self, now: float) -> None:
        """Handle what arrived, but never more than ``MAX_DATAGRAMS_PER_TICK`` between two ticks.

        A flood must not starve the tick: past the budget, datagrams from addresses without a
        session are dropped unread (counted as ``over_budget``), as a full socket buffer would
        drop them, until the next tick. The players' own datagrams still get through.
        """
        for data, addr in self.transport.receive(now):
            if self.handled_this_tick >= MAX_DATAGRAMS_PER_TICK and addr not in self.clients:
                self.dropped.add("over_budget")
                continue
            self.handled_this_tick += 1
            try:
                precheck(data)
                self._handle(data, addr, now)
            except PacketError as exc:
                self.dropped.add(exc.reason)

    def _handle(self, data: bytes, addr: Address, now: float) -> None:
        ptype, header, body = decode_header(data)
        slot = self.clients.get(addr)
        if ptype == PacketType.CONNECT_REQUEST and len(data) < CONNECT_REQUEST_MIN_BYTES:
            # Unpadded: any answer (even a challenge) could be larger than the request.
            raise PacketError("short_request", f"{len(data)} bytes")
        if header.version != PROTOCOL_VERSION:
            if ptype == PacketType.CONNECT_REQUEST and slot is None and self.limiter.allow(addr, now):
                self._refuse(addr, f"version mismatch: server speaks protocol {PROTOCOL_VERSION}, "
                                   f"client speaks {header.version}", len(data), now, "version")
            raise PacketError("version", f"{header.version}")
        if slot is not None and header.token != slot.conn.token:
            # Only a connect request repeated before our accept arrived may lack the token.
            if not (ptype == PacketType.CONNECT_REQUEST and header.token == TOKEN_NONE):
                raise PacketError("bad_token")
        message = decode_body(ptype, body)
        if slot is None:
            if not isinstance(message, ConnectRequest):
                raise PacketError("unknown_peer", type(message).__name__)
            self._on_connect_request(message, header, len(data), addr, now)
        elif isinstance(message, ConnectRequest):
            self._on_repeated_connect(slot, message, now)
        elif not slot.conn.on_receive(header, len(data), now):
            raise PacketError("duplicate")
        else:
            slot.events_out.on_acks(header.ack, header.ack_bits)
            self._on_message(slot, message, now)

    def _on_message(self, slot: ClientSlot, message: Message, now: float) -> None:
        if self.frames is not None and isinstance(message, FrameInput):
            self.frames.on_input(slot, message)
        elif self.frames is not None and isinstance(message, StateDump):
            self.frames.on_dump(slot, message)
        elif self.frames is None and isinstance(message, Inputs):
            slot.inputs.add(message, self.tick + 1, now, self.last_tick_s + 1 / self.config.tick_rate)
            slot.roster_version_known = message.roster_version
            if message.view_256 >= 0 and message.newest_seq > slot.view_seq:
                slot.view_seq, slot.view_256 = message.newest_seq, message.view_256
            if message.snapshot_tick <= self.tick:  # a claim from the future cannot be a baseline
                slot.snapshot_tick_known = max(slot.snapshot_tick_known, message.snapshot_tick)
        elif isinstance(message, Disconnect):
            self._remove(slot, f"{slot.name!r} left ({message.reason!r})")
        elif not isinstance(message, KeepAlive):
            raise PacketError("unexpected", type(message).__name__)

    # --- handshake -----------------------------------------------------------------------------

    def _on_connect_request(self, request: ConnectRequest, header: Header, size_bytes: int,
                            addr: Address, now: float) -> None:
        if not self.limiter.allow(addr, now):
            raise PacketError("rate_limited")
        if not (request.cookie and self.cookies.valid(addr, request.cookie, now)):
            self._challenge(addr, request.nonce, size_bytes, now)
            return
        # From here on the sender has proven it receives what is sent to ``addr``.
        refusal = self._refusal_for(request, addr)
        if refusal is not None:
            self._refuse(addr, refusal[1], size_bytes, now, refusal[0])
            return
        self._join(request, header, size_bytes, addr, now)

    def _challenge(self, addr: Address, nonce: int, request_bytes: int, now: float) -> None:
        data = encode(Challenge(self.cookies.cookie(addr, now), nonce), Header(PROTOCOL_VERSION, 0, -1, 0))
        if len(data) <= request_bytes:  # always, with the padding: never an amplifier
            self.transport.send(data, addr, now)

    def _refusal_for(self, request: ConnectRequest, addr: Address) -> tuple[str, str] | None:
        """(kind, reason) if this proven sender may not join, else None."""
        if request.rules_hash != self.rules.rules_hash:
            return "rules", f"rules mismatch: server rules {self.rules.rules_hash}, client rules {request.rules_hash}"
        if self._free_player_id() is None and not self.bots:
            return "full", f"server full ({self.config.max_players} players)"
        from_ip = sum(1 for a in self.clients if a[0] == addr[0])
        if from_ip >= self.config.max_per_ip:
            return "per_ip", f"too many players from {addr[0]} ({self.config.max_per_ip} at most)"
        return None

    def _join(self, request: ConnectRequest, header: Header, size_bytes: int, addr: Address, now: float) -> None:
        # The first person plays with the bots; each one after sends a bot away (the newest first).
        if self.bots and (self._free_player_id() is None or (self.clients and not self.config.keep_bots)):
            self.remove_bot(max(self.bots), "made room for a person")
        player_id = self._free_player_id()
        name = self._unique_name(request.name.strip() or f"player{player_id}")
        buffer = InputBuffer(self.config.input_buffer, self.config.tick_rate,
                             round(STEADY_AFTER_S * self.config.tick_rate))
        slot = ClientSlot(player_id, name, Connection(addr, now, self.cookies.token(addr)), buffer)
        slot.conn.on_receive(header, size_bytes, now)
        self.clients[addr] = slot
        self.peak_clients = max(self.peak_clients, len(self.clients))
        self._send(slot, self._accept_for(slot, request.nonce), now)
        self._player_entered(player_id, name, f"{name!r} joined from {addr[0]}:{addr[1]} as player {player_id}")

    def _player_entered(self, player_id: int, name: str, log_line: str) -> None:
        """A person or a bot is in: the world, the roster and everyone's event channel learn it.
        (In frame sync the world learns it at the next frame, like every client's world.)"""
        if self.frames is not None:
            self.frames.join(player_id, is_client=player_id not in self.bots)
        else:
            self.world = self.rules.add_player(self.world, player_id)
        self.roster_version += 1
        self._log(log_line)
        self._tell_everyone(["join", player_id, name])

    def _player_left(self, player_id: int, name: str, log_line: str) -> None:
        if self.frames is not None:
            self.frames.leave(player_id)
        else:
            self.world = self.rules.remove_player(self.world, player_id)
        self.roster_version += 1
        self._log(log_line)
        self._tell_everyone(["leave", player_id, name])

    def _on_repeated_connect(self, slot: ClientSlot, request: ConnectRequest, now: float) -> None:
        """Our accept was lost and the client asks again: answer, never start over."""
        if request.cookie and self.cookies.valid(slot.conn.addr, request.cookie, now):
            self._send(slot, self._accept_for(slot, request.nonce), now)
        else:
            raise PacketError("connected_peer")  # a plain request never replaces a session

    def _unique_name(self, name: str) -> str:
        taken = {slot.name for slot in self.clients.values()} | {bot.name for bot in self.bots.values()}
        candidate, n = name, 1
        while candidate in taken:
            n += 1
            suffix = f"-{n}"
            candidate = name[:MAX_NAME_CHARS - len(suffix)] + suffix
        return candidate

    def _log(self, event: str, level: int = logging.INFO) -> None:
        """Keep the last 100 events, and hand each to the ``logging`` module (joins and leaves at
        INFO, refusals at WARNING); ``run_server.py --log-level`` decides what is printed."""
        self.events.append(event)
        del self.events[:-100]
        LOG.log(level, event)
        if self.on_event is not None:
            self.on_event(event)

    def _accept_for(self, slot: ClientSlot, nonce: int) -> Accept:
        return Accept(slot.player_id, self.config.tick_rate, self.config.snapshot_rate,
                      self.rules.rules_hash, self.tick, nonce,
                      self.rules.state_layout.flat() if self.config.snapshot_codec == "delta" else (),
                      self.frames.sync_fields() if self.frames is not None else ())

    def _free_player_id(self) -> int | None:
        used = {slot.player_id for slot in self.clients.values()} | set(self.bots)
        for player_id in range(self.config.max_players):
            if player_id not in used:
                return player_id
        return None

    def _refuse(self, addr: Address, reason: str, request_bytes: int, now: float, kind: str) -> None:
        # A stateless reply (seq 0, no acks), never larger than the request: a client-chosen rules
        # hash of multi-byte characters could otherwise grow the reason past the padding.
        header = Header(PROTOCOL_VERSION, 0, -1, 0)
        budget = request_bytes - len(encode(Refuse(""), header)) - 2  # 2: a long string's length prefix
        text = reason[:MAX_REASON_CHARS].encode()[:max(0, budget)].decode("utf-8", "ignore")
        data = encode(Refuse(text), header)
        if len(data) <= request_bytes:
            self.transport.send(data, addr, now)
        self.refusals[kind] += 1
        self._log_refusal(f"refused {addr[0]}:{addr[1]}: {reason!r}", now)

    def _log_refusal(self, event: str, now: float) -> None:
        """At most one refusal line a second: a flood must not flood the console too."""
        if now - self._refusal_log_s < REFUSAL_LOG_INTERVAL_S:
            self._refusals_unlogged += 1
            return
        if self._refusals_unlogged:
            event += f" (and {self._refusals_unlogged} more refusals not shown)"
        self._refusal_log_s, self._refusals_unlogged = now, 0
        self._log(event, logging.WARNING)

    def _remove(self, slot: ClientSlot, event: str) -> None:
        if self.clients.get(slot.conn.addr) is not slot:
            return  # already gone: removing a client can remove others (``_tell_everyone``)
        self.final_positions_px.pop(slot.name, None)
        self.final_positions_px[slot.name] = self._position_px(slot)
        while len(self.final_positions_px) > DEPARTED_KEPT:
            self.final_positions_px.popitem(last=False)
        self.departed_input_ticks.update(slot.inputs.histogram.as_dict())
        self.departed_wait_ms.merge(slot.inputs.wait_ms)
        self.departed_skipped += slot.inputs.skipped
        self.clients.pop(slot.conn.addr, None)
        self._player_left(slot.player_id, slot.name, event)

    def _tell_everyone(self, event: list) -> None:
        """Queue ``event`` on every client's reliable channel; it rides their next packets."""
        self._tell(self._slots_by_id(), event)

    def _tell(self, slots: list[ClientSlot], event: list) -> None:
        stuck = []
        for slot in slots:
            try:
                slot.events_out.push(event)
            except EventOverflow:  # hundreds of events never acknowledged: that client is gone
                stuck.append(slot)
        for slot in stuck:
            self._remove(slot, f"{slot.name!r} dropped: it acknowledges none of our events")

    # --- the tick ------------------------------------------------------------------------------

    def tick_once(self, now: float) -> None:
        """Advance the world one tick, then send what is due."""
        self.handled_this_tick = 0
        if self.frames is not None:  # frame sync: close the frames whose inputs are all here, relay them
            self.frames.tick(now)
            self.last_tick_s = now
            if self.tracer is not None:  # the newest frame closed (inputs and buffers: none, see the sets)
                self.tracer(self._trace_record({}) | {"buffer": {}})
            self._expire_and_keepalive(now)
            return
        tick = self.tick + 1
        taken = {slot.player_id: slot.inputs.take_for_tick(tick, now) for slot in self._slots_by_id()}
        taken.update(self._bot_inputs())
        self.world = self.rules.step(self.world, {pid: tuple(bits for _, bits in inputs)
                                                  for pid, inputs in taken.items()}, self._views(taken, tick))
        self.tick = tick
        self._report_shots(taken)
        for event in self.rules.events(self.world):
            self._tell_everyone(event)
        self.last_tick_s = now
        if self.tracer is not None:
            self.tracer(self._trace_record(taken))
        if self._snapshot_due():
            self._send_snapshots(now)
        self._expire_and_keepalive(now)

    def _views(self, taken: dict[int, list[tuple[int, int]]], tick: int):
        """What each shooter saw, for the step's shots: rewound for clients (lag compensation on),
        the world before this tick for bots and with the switch off."""
        slots = {slot.player_id: slot for slot in self.clients.values()}
        before = self.world
        now_cache: list = []

        def views(shooter: int, input_index: int):
            slot = slots.get(shooter)
            if slot is None or not self.config.lag_compensation or slot.view_256 < 0:
                if not now_cache:
                    now_cache.append(self.rules.positions(before))
                return now_cache[0]
            seq = taken[shooter][input_index][0]
            return self.lag.view(view_for(slot.view_seq, slot.view_256, seq), tick)

        return views

    def _report_shots(self, taken: dict[int, list[tuple[int, int]]]) -> None:
        """Each client's shot verdict to that client (``["shot", input seq, target or -1]``)."""
        slots = {slot.player_id: slot for slot in self.clients.values()}
        for verdict in self.rules.shots(self.world):
            slot = slots.get(verdict.shooter)
            if slot is None:
                continue  # a bot's shot
            hit = verdict.target >= 0
            self.tags_confirmed += hit
            self.tags_rejected += not hit
            seq = taken[verdict.shooter][verdict.input_index][0]
            self._tell([slot], ["shot", seq, verdict.target if hit else -1])

    def _slots_by_id(self) -> list[ClientSlot]:
        return sorted(self.clients.values(), key=lambda s: s.player_id)

    def _snapshot_due(self) -> bool:
        rate, tick_rate = self.config.snapshot_rate, self.config.tick_rate
        return (self.tick * rate) // tick_rate != ((self.tick - 1) * rate) // tick_rate

    def _send_snapshots(self, now: float) -> None:
        self.lag.remember(self.tick, self.world)  # what clients can draw, for rewinding shots
        state = self.rules.encode_state(self.world)
        self._remember_state(state)
        players = max(1, len(self.clients))
        payloads: dict[int, bytes | None] = {}  # baseline tick (-1: none) -> payload, shared by its clients
        encodable = self._baselines_worth_encoding()
        for slot in self._slots_by_id():
            message = self._snapshot_for(slot, state, payloads, encodable)
            if message is None:
                size = self._send_fragments(slot, payloads, now)
                if not size:
                    self.dropped.add("too_big_to_send")
                    continue
            else:
                size = self._send(slot, message, now)
            self.snapshot_bytes.add(size / players)
            self.snapshots_sent += 1
            if slot.roster_version_known != self.roster_version:
                for part in self.roster_parts():
                    self._send(slot, part, now)
        encodings = len([base for base in payloads if base != WHOLE])
        if encodings:
            self.baselines_per_snapshot.add(encodings)

    def _send_fragments(self, slot: ClientSlot, payloads: dict, now: float) -> int:
        """A delta against nothing too big for one datagram, in parts (``SnapshotFragment``); the
        whole payload is encoded once a tick (``payloads[WHOLE]``) for every client that needs it."""
        if WHOLE not in payloads:
            try:
                payloads[WHOLE] = snapshot_codec.encode(self.rules.state_layout, self.sent_states[self.tick], None, 0)
            except ValueError:
                payloads[WHOLE] = None
        payload = payloads[WHOLE]
        if payload is None:
            return 0
        parts = -(-len(payload) // MAX_DELTA_PAYLOAD_BYTES)
        if parts > MAX_SNAPSHOT_FRAGMENTS:
            return 0
        target = slot.inputs.target_lead_ticks()
        lead, aim = round(slot.inputs.lead_ticks() * 100), LEAD_TARGET_NONE if target is None else round(target * 100)
        chunk = -(-len(payload) // parts)
        self.snapshots_full += 1
        self.snapshots_fragmented += 1
        return sum(self._send(slot, SnapshotFragment(self.tick, slot.inputs.last_applied_seq, self.roster_version,
                                                     lead, aim, part, parts, payload[part * chunk:(part + 1) * chunk]),
                              now) for part in range(parts))

    def _delta_payload(self, state: Sequence[int] | np.ndarray, base_tick: int) -> bytes | None:
        """``state`` against the baseline of ``base_tick`` (-1: nothing); None if it cannot fit.

        A baseline long ago (a client that lost a second of snapshots, or one that lies about what
        it holds) can cost more bits than no baseline at all; then the caller uses none."""
        try:
            payload = snapshot_codec.encode(self.rules.state_layout, state, self.sent_states.get(base_tick),
                                            (self.tick - base_tick) & U32)
        except ValueError:
            return None
        return payload if len(payload) <= MAX_DELTA_PAYLOAD_BYTES else None

    def _remember_state(self, state: tuple[int, ...]) -> None:
        if self.config.snapshot_codec != "delta":
            return
        # As rows, once: every encoding this tick (and later, as a baseline) reads them.
        self.sent_states[self.tick] = snapshot_codec.as_rows(self.rules.state_layout, state)
        while len(self.sent_states) > snapshot_codec.BASELINES_KEPT:
            self.sent_states.popitem(last=False)

    def _usable_baseline(self, slot: ClientSlot) -> int:
        """The client's newest snapshot, if we still have it and the wire can name it; else -1."""
        known = slot.snapshot_tick_known
        return known if known in self.sent_states and self.tick - known <= MAX_BASELINE_AGO else -1

    def _baselines_worth_encoding(self) -> set[int]:
        """At most ``MAX_ENCODINGS_PER_SNAPSHOT`` baselines, the most shared first: honest clients
        share a handful, and clients claiming every tick we kept must not buy 32 encodings a tick."""
        if self.config.snapshot_codec != "delta":
            return set()
        counts = Counter(self._usable_baseline(slot) for slot in self.clients.values())
        counts.pop(-1, None)
        ranked = sorted(counts, key=lambda tick: (-counts[tick], -tick))
        return set(ranked[:MAX_ENCODINGS_PER_SNAPSHOT - 1])  # one more encoding: against nothing

    def _snapshot_for(self, slot: ClientSlot, state: tuple[int, ...], payloads: dict[int, bytes | None],
                      encodable: set[int]) -> Snapshot | DeltaSnapshot | None:
        target = slot.inputs.target_lead_ticks()
        lead_cticks = round(slot.inputs.lead_ticks() * 100)
        target_cticks = LEAD_TARGET_NONE if target is None else round(target * 100)
        if self.config.snapshot_codec == "full":
            self.snapshots_full += 1
            return Snapshot(self.tick, slot.inputs.last_applied_seq, self.roster_version, state,
                            lead_cticks, target_cticks)
        base_tick = self._usable_baseline(slot)
        if base_tick not in encodable:
            base_tick = -1
        if base_tick not in payloads:
            payloads[base_tick] = self._delta_payload(self.sent_states[self.tick], base_tick)
        if payloads[base_tick] is None:  # the delta would not fit a datagram: send against nothing
            base_tick = -1
            if -1 not in payloads:
                payloads[-1] = self._delta_payload(self.sent_states[self.tick], -1)
            if payloads[-1] is None:
                return None  # not even that fits: nothing to send this time
        self.snapshots_full += base_tick == -1
        return DeltaSnapshot(self.tick, slot.inputs.last_applied_seq, self.roster_version,
                             0 if base_tick == -1 else (self.tick - base_tick) & U32, payloads[base_tick],
                             lead_cticks, target_cticks)

    def _trace_record(self, taken: dict[int, list[tuple[int, int]]]) -> dict[str, Any]:
        """One tick as the truth: where every player is, which inputs moved it, and the game's
        figures (scores, wins, round) by player name."""
        return {"tick": self.tick,
                "players": {str(pid): [e.x_px, e.y_px] for pid, e in sorted(self.rules.entities(self.world).items())},
                "inputs": {str(pid): [list(i) for i in inputs] for pid, inputs in taken.items()},
                "buffer": {str(s.player_id): self._buffer_figures(s) for s in self._slots_by_id()},
                "game": self.rules.summary(self.world, dict(self.roster().players))}

    @staticmethod
    def _buffer_figures(slot: ClientSlot) -> list[float | None]:
        """[mean lead, target lead] in ticks: what the client is told about its inputs."""
        target = slot.inputs.target_lead_ticks()
        return [round(slot.inputs.lead_ticks(), 3), None if target is None else round(target, 3)]

    def roster(self) -> Roster:
        people = [(s.player_id, s.name) for s in self.clients.values()]
        bots = [(b.player_id, b.name) for b in self.bots.values()]
        return Roster(self.roster_version, tuple(sorted(people + bots)))

    # --- server bots ---------------------------------------------------------------------------

    def add_bot(self, name: str, brain: BotBrain) -> int | None:
        """A player the server plays itself; None if there is no free slot. Everyone sees it as a
        remote player like any other: it is in the world, the roster and every snapshot."""
        player_id = self._free_player_id()
        if player_id is None:
            return None
        bot = BotSlot(player_id, self._unique_name(name), brain)
        self.bots[player_id] = bot
        self._player_entered(player_id, bot.name, f"bot {bot.name!r} joined as player {player_id}")
        return player_id

    def remove_bot(self, player_id: int, why: str) -> None:
        bot = self.bots.pop(player_id)
        self._player_left(player_id, bot.name, f"bot {bot.name!r} left ({why})")

    def _bot_inputs(self) -> dict[int, list[tuple[int, int]]]:
        """One input per bot per tick, numbered like a client's: the same path through ``step``."""
        taken = {}
        for player_id in sorted(self.bots):
            bot = self.bots[player_id]
            bits = bot.brain(bot.inputs_made, self.world, player_id)
            taken[player_id] = [(bot.inputs_made, bits)]
            bot.inputs_made += 1
        return taken

    def roster_parts(self) -> list[Roster]:
        """The roster in parts small enough for a datagram each (up to 16 players a part)."""
        players = self.roster().players
        chunks = [players[i:i + ROSTER_NAMES_PER_PART] for i in range(0, len(players), ROSTER_NAMES_PER_PART)] or [()]
        assert len(chunks) <= MAX_ROSTER_PARTS
        return [Roster(self.roster_version, chunk, part, len(chunks)) for part, chunk in enumerate(chunks)]

    def _expire_and_keepalive(self, now: float) -> None:
        for slot in list(self.clients.values()):
            if self.clients.get(slot.conn.addr) is not slot:
                continue  # removed by an earlier removal in this loop
            if slot.conn.timed_out(now):
                self._remove(slot, f"{slot.name!r} timed out (silent for {now - slot.conn.last_receive_s:.1f} s)")
            elif slot.conn.needs_keepalive(now):
                self._send(slot, KeepAlive(), now)

    def _send(self, slot: ClientSlot, message: Message, now: float) -> int:
        if isinstance(message, EVENT_CARRIERS) and slot.events_out.pending:
            room_bytes = MAX_PACKET_BYTES - len(encode(message, WORST_HEADER))
            batch = slot.events_out.events_for_packet(slot.conn.local_seq, room_bytes)
            if batch.events:
                message = message._replace(events=batch)
        try:
            data = slot.conn.build(message, now)
        except ValueError:  # over the datagram limit (e.g. a state too big even for a full delta)
            self.dropped.add("too_big_to_send")
            return 0
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
            "bots": len(self.bots),
            "clients_at_end": len(self.clients),
            "ticks": self.tick,
            "snapshot_bytes_per_player": round(self.snapshot_bytes.mean, 2),
            "snapshot_codec": self.config.snapshot_codec,
            "snapshot_baselines_mean": round(self.baselines_per_snapshot.mean, 2),
            "snapshot_full_pct": round(100 * self.snapshots_full / max(1, self.snapshots_sent), 2),
            "snapshots_fragmented": self.snapshots_fragmented,
            "dropped_packets": dict(self.dropped),
            "dropped_packets_total": self.dropped.total,
            "inputs_skipped": self.departed_skipped + sum(s.inputs.skipped for s in self.clients.values()),
            "input_buffer": str(self.config.input_buffer),
            "refusals": dict(self.refusals),
            "input_ticks": self.input_ticks(),
            "input_buffer_ms_mean": round(self._wait_ms().mean, 2),
            "lag_compensation": self.config.lag_compensation,
            "tags_confirmed": self.tags_confirmed,
            "tags_rejected": self.tags_rejected,
            **self.lag.figures(),
            **(self.frames.figures() if self.frames is not None else {"sync": "state"}),
            "game": self.rules.summary(self.world, dict(self.roster().players)),
            "final_positions_px": dict(self.final_positions_px) | {s.name: self._position_px(s) for s in self._slots_by_id()},
        }

    def input_ticks(self) -> dict[str, int]:
        """Inputs applied per client per steady tick, summed over clients, departed ones included."""
        total = Counter(self.departed_input_ticks)
        for slot in self.clients.values():
            total.update(slot.inputs.histogram.as_dict())
        return {key: total[key] for key in ("0", "1", "2", "3+")}

    def _wait_ms(self) -> RunningMean:
        waits = RunningMean()
        for part in [self.departed_wait_ms] + [s.inputs.wait_ms for s in self.clients.values()]:
            waits.merge(part)
        return waits

    def _position_px(self, slot: ClientSlot) -> list[float] | None:
        entity = self.rules.entities(self.world).get(slot.player_id)  # None: never in a frame (frame sync)
        return None if entity is None else [entity.x_px, entity.y_px]

    def stop(self, reason: str) -> None:
        """End the game: tell everyone why; the server loop sees ``stop_reason`` and returns."""
        self.stop_reason = reason
        self._log(f"stopping: {reason}", logging.WARNING)
        self.shutdown(self.last_tick_s, reason)

    def _bot_frame_inputs(self, frame: int) -> dict[int, int]:
        """Frame sync: each server bot's input for ``frame``, decided from the world before it."""
        present = {p for p in self.rules.positions(self.world)}
        out = {}
        for player_id in sorted(self.bots):
            if player_id in present:
                bot = self.bots[player_id]
                out[player_id] = bot.brain(bot.inputs_made, self.world, player_id)
                bot.inputs_made += 1
        return out
