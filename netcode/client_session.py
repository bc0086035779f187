"""The client session: handshake, sending inputs with redundancy, receiving snapshots.

Theory of operation
-------------------
``ClientSession`` is the client's half of the protocol and nothing else: it does not predict or
draw. ``update(now)`` (re)sends the connect request every ``CONNECT_RETRY_S`` until an accept or
a refusal arrives, gives up after ``CONNECT_TIMEOUT_S``. The server first answers with a
challenge cookie; the session echoes it in its next request (at once), which proves we own our
address, and the accept then brings the session token that every later packet carries both ways
(a packet from the server without it is dropped as ``bad_token``). Once connected, the session
sends a keep-alive when nothing else went out for a while, and ends the session when the server
stops answering, stops sending snapshots, or stops applying our inputs. ``send_input(bits, now)`` numbers the input (0, 1, 2, ...) and
sends it together with every earlier input the server has not yet confirmed applying (up to
``MAX_REDUNDANT_INPUTS``), so one lost packet never loses an input. ``receive(now)`` returns the
snapshots that arrived, dropping duplicates and counting malformed datagrams; once the game's
``state_decoder`` is set, a snapshot whose state does not decode is malformed too (``bad_state``).

Each snapshot says which of our inputs the server has applied (``last_input_seq``). The inputs
after that are *unacknowledged*: ``UnackedInputs`` is the one list of them. The session sends its
newest ``MAX_REDUNDANT_INPUTS`` with every input packet, and prediction replays all of it on
each snapshot; the session trims it, once, when a snapshot turns out to be the newest so far.
Snapshots that arrive late (older than the newest) are still returned, because interpolation can
use them, but they never move ``newest``: the one snapshot the client reconciles to.

A delta snapshot (``snapshot_codec.py``) is decoded against the baseline it names, one of the
``snapshot_codec.BASELINES_KEPT`` newest states this session received (the server encodes against
no older one); each input tells the server the
newest one we have, and the server encodes against that. A delta whose baseline we no longer
hold is dropped (``no_baseline``); the next one, against a newer baseline, will do. The roster
may come in several parts (128 names do not fit one datagram): it changes once all have arrived.
Events from the server (a player joined or left) arrive on a reliable channel (``reliable.py``):
each exactly once and in order, whatever the link did; ``take_events`` hands them to the game.
"""
from __future__ import annotations

import enum
import secrets
from collections import OrderedDict, deque
from typing import Callable, NamedTuple, Sequence

import numpy as np

from . import snapshot_codec
from .connection import Connection
from .game_api import World
from .protocol import (INPUT_SEQ_NONE, MAX_REDUNDANT_INPUTS, PROTOCOL_VERSION, TOKEN_NONE, U32, Accept,
                       Challenge, ConnectRequest, DeltaSnapshot, Disconnect, FrameSets, FullState, Inputs, KeepAlive,
                       PacketError, PacketType, Refuse, Roster, Snapshot, SnapshotFragment, decode_body,
                       decode_header)
from .reliable import ReliableReceiver
from .snapshot_codec import StateLayout
from .stats import DropCounter, RateMeter, mean, percentile
from .transport import Address, Transport

CONNECT_RETRY_S = 0.25
CONNECT_TIMEOUT_S = 5.0
SNAPSHOT_TIMEOUT_S = 5.0  # keep-alives alone do not keep a session alive: a game needs snapshots
UNAPPLIED_INPUTS_S = 2.0  # snapshots that never apply our inputs: a broken or hostile server
INPUT_GAP_S = 0.5  # no input sent for this long: our own stall, which restarts that wait
MAX_EVENTS_WAITING = 256  # delivered events the game has not taken yet (``take_events``)
MAX_FRAME_MESSAGES = 256  # frame sync: received sets and states the frame loop has not taken yet
MAX_NAMES_SEEN = 256  # a bound on the names remembered for the final figures (joins churn)
MAX_UNACKED_INPUTS = 180  # 3 s at 60 Hz: a server that acknowledges nothing cannot grow it further


class UnackedInputs:
    """Our inputs the server has not confirmed applying, oldest first: ``(input seq, bits)``."""

    def __init__(self, limit: int = MAX_UNACKED_INPUTS) -> None:
        self.items: deque[tuple[int, int]] = deque(maxlen=limit)

    def add(self, seq: int, bits: int) -> None:
        self.items.append((seq, bits))

    def trim_through(self, seq: int) -> None:
        """Forget every input up to and including ``seq``: the server has applied them."""
        while self.items and self.items[0][0] <= seq:
            self.items.popleft()

    def newest_bits(self, count: int) -> tuple[int, ...]:
        """The bits of the newest ``count`` inputs, oldest first, for one packet."""
        start = max(0, len(self.items) - count)
        return tuple(bits for i, (_, bits) in enumerate(self.items) if i >= start)

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


class Received(NamedTuple):
    """One snapshot that arrived: the message, its decoded state, and whether it is the newest."""

    snapshot: Snapshot
    world: World | None
    newest: bool


class ClientState(enum.Enum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    REFUSED = "refused"
    DISCONNECTED = "disconnected"


class ClientSession:
    def __init__(self, transport: Transport, server: Address, name: str, rules_hash: str, now: float,
                 on_accept: Callable[[Accept], None] | None = None, nonce: int | None = None) -> None:
        self.transport = transport
        self.on_accept = on_accept  # called once, as soon as we are in: set ``state_decoder`` there
        self.server = server
        self.name = name
        self.rules_hash = rules_hash
        self.conn = Connection(server, now)
        self.cookie = b""  # the server's challenge cookie, echoed in our connect requests
        # Ours alone: only answers echoing it are to *our* request (a spoofer never saw it).
        self.nonce = nonce if nonce is not None else secrets.randbits(64)
        self.last_snapshot_s = now
        self.inputs_applied_s = now  # when the server last showed progress on our inputs
        self.last_input_s = now  # when we last sent an input
        self.state = ClientState.CONNECTING
        self.reason = ""  # why we were refused or disconnected, for the player
        self.accept: Accept | None = None
        self.started_s = now
        self.last_connect_s = float("-inf")
        self.next_input_seq = 0
        self.unacked = UnackedInputs()
        self.newest: Snapshot | None = None  # the newest snapshot: the one truth we reconcile to
        self.newest_world: World | None = None  # its state, decoded (None without a decoder)
        self.state_decoder: Callable[[int, Sequence[int]], World] | None = None  # set once the rules are known
        self.state_layout: StateLayout | None = None  # from the accept: needed to read delta snapshots
        self.baselines: OrderedDict[int, np.ndarray] = OrderedDict()  # tick -> state rows, oldest first
        # How a delta becomes rows. A seam, not a switch: a load generator playing many clients in
        # one process may decode each distinct delta once for all of them (tools/loadgen.py).
        self.decode_delta = snapshot_codec.decode_rows
        self._roster_parts: dict[int, tuple[tuple[int, str], ...]] = {}  # of the version being assembled
        self._roster_parts_version = -1
        self.roster: dict[int, str] = {}
        self.names_seen: dict[str, None] = {}  # everyone on the roster while we played (first MAX_NAMES_SEEN)
        self.roster_version = -1
        self.dropped = DropCounter()
        self.snapshots_received = 0
        self.first_snapshot_tick: int | None = None
        self.rate_in = RateMeter()
        self.events_in = ReliableReceiver()  # the server's reliable events, in order, each once
        self.events: deque = deque(maxlen=MAX_EVENTS_WAITING)  # delivered, for the game to take
        self.frame_messages: deque = deque(maxlen=MAX_FRAME_MESSAGES)  # frame sync: sets and full states, to take
        self._fragments_tick = -1  # the tick whose snapshot parts are being collected ...
        self._fragments: dict[int, SnapshotFragment] = {}  # ... by part (at most MAX_SNAPSHOT_FRAGMENTS)
        self.rate_out = RateMeter()

    # --- sending -------------------------------------------------------------------------------

    def update(self, now: float) -> None:
        """Drive the handshake and keep-alives; call once per frame."""
        if self.state is ClientState.CONNECTING:
            if now - self.started_s > CONNECT_TIMEOUT_S:
                self.state = ClientState.DISCONNECTED
                self.reason = f"no answer from {self.server[0]}:{self.server[1]} after {CONNECT_TIMEOUT_S:.0f} s"
            elif now - self.last_connect_s >= CONNECT_RETRY_S:
                self._send_connect(now)
        elif self.state is ClientState.CONNECTED:
            problem = self._connected_problem(now)
            if problem:
                self.state, self.reason = ClientState.DISCONNECTED, problem
            elif self.conn.needs_keepalive(now):
                self._send(KeepAlive(), now)

    def _connected_problem(self, now: float) -> str:
        """Why a connected session must end now, or "" while it is healthy."""
        if self.conn.timed_out(now):
            return "server stopped answering (timed out)"
        if now - self.last_snapshot_s > SNAPSHOT_TIMEOUT_S:
            return f"no snapshot from the server for {SNAPSHOT_TIMEOUT_S:.0f} s"
        snapshots_flowing = now - self.last_snapshot_s < 0.5
        sending = now - self.last_input_s < INPUT_GAP_S  # while we send nothing, nothing is owed
        if self.unacked and snapshots_flowing and sending and now - self.inputs_applied_s > UNAPPLIED_INPUTS_S:
            return f"protocol error: the server applied none of our inputs for {UNAPPLIED_INPUTS_S:.0f} s"
        return ""

    def _send_connect(self, now: float) -> None:
        self._send(ConnectRequest(self.name, self.rules_hash, self.cookie, self.nonce), now)
        self.last_connect_s = now

    def send_input(self, bits: int, now: float, view_256: int = -1) -> int:
        """Number ``bits`` as our next input, send it with the unconfirmed ones; returns its number.
        ``view_256``: the server time our screen showed, in 1/256 tick (lag compensation)."""
        seq = self.next_input_seq
        self.next_input_seq += 1
        if not self.unacked or now - self.last_input_s > INPUT_GAP_S:
            # Nothing was pending, or *we* stalled (a hitch, a debugger): the wait starts now, so
            # our own pause is never blamed on the server.
            self.inputs_applied_s = now
        self.last_input_s = now
        self.unacked.add(seq, bits)
        # Older unacknowledged inputs ride along until acked; past the newest 32, if the server
        # never got them, it skips them.
        message = Inputs(seq, self.unacked.newest_bits(MAX_REDUNDANT_INPUTS), max(self.roster_version, -1),
                         self.newest_snapshot_tick, view_256)
        self._send(message, now)
        return seq

    def disconnect(self, now: float, reason: str = "quit") -> None:
        """Leave politely; a session that already ended keeps the reason it ended with."""
        if self.state in (ClientState.REFUSED, ClientState.DISCONNECTED):
            return
        if self.state is ClientState.CONNECTED:
            for _ in range(2):  # one may be lost; the server times us out anyway
                self._send(Disconnect(reason), now)
        self.state = ClientState.DISCONNECTED
        self.reason = reason

    def _send(self, message, now: float) -> None:
        data = self.conn.build(message, now)
        self.transport.send(data, self.server, now)
        self.rate_out.add(len(data), now)

    # --- receiving -----------------------------------------------------------------------------

    def receive(self, now: float) -> list[Received]:
        """The snapshots that arrived, in arrival order, each with its decoded world."""
        snapshots: list[Received] = []
        for data, addr in self.transport.receive(now):
            if addr != self.server:
                self.dropped.add("unknown_peer")
                continue
            try:
                message = self._decode(data, now)
            except PacketError as exc:
                self.dropped.add(exc.reason)
                continue
            if message is not None:
                snapshots.append(message)
        return snapshots

    def _decode(self, data: bytes, now: float) -> Received | None:
        ptype, header, body = decode_header(data)
        if header.version != PROTOCOL_VERSION:
            # A refusal's body is one string in every version, so a server of another version
            # can still tell us why (it names both versions); anything else of theirs is noise.
            if ptype == PacketType.REFUSE:
                self._on_refuse(decode_body(ptype, body))
                return None
            raise PacketError("version", f"server {header.version}, client {PROTOCOL_VERSION}")
        message = decode_body(ptype, body)
        if isinstance(message, Refuse):
            self._on_refuse(message)
            return None
        if isinstance(message, Challenge):
            self._on_challenge(message, now)
            return None
        self._check_token(header.token, message)
        if not self.conn.on_receive(header, len(data), now):
            raise PacketError("duplicate")
        self.rate_in.add(len(data), now)
        # This packet will be acked now, whatever follows: its events must be taken first.
        batch = getattr(message, "events", None)
        if batch is not None:
            self.events.extend(self.events_in.receive(batch.first_id, batch.events))
        return self._on_message(message, now)

    def take_events(self) -> list:
        """The server's events delivered since the last call, oldest first."""
        taken = list(self.events)
        self.events.clear()
        return taken

    def _check_token(self, token: int, message) -> None:
        """Only our session's packets are believed; the accept is the one that brings the token."""
        if (self.conn.token == TOKEN_NONE and isinstance(message, Accept) and token != TOKEN_NONE
                and message.nonce == self.nonce):
            self.conn.token = token
        elif token == TOKEN_NONE or token != self.conn.token:
            raise PacketError("bad_token")

    def _on_challenge(self, challenge: Challenge, now: float) -> None:
        if self.state is not ClientState.CONNECTING or challenge.nonce != self.nonce:
            raise PacketError("bad_nonce", "Challenge")
        self.cookie = challenge.cookie
        self._send_connect(now)  # answer at once: the cookie expires within seconds

    def _on_refuse(self, message: Refuse) -> None:
        if self.state is ClientState.CONNECTING:
            self.state = ClientState.REFUSED
            self.reason = f"refused by server: {message.reason}"

    def _on_message(self, message, now: float) -> Received | None:
        if isinstance(message, Accept):
            if self.state is ClientState.CONNECTING:
                self.accept = message
                self.state_layout = StateLayout.from_flat(message.state_layout)
                self.state = ClientState.CONNECTED
                self.last_snapshot_s = self.inputs_applied_s = now
                if self.on_accept is not None:
                    self.on_accept(message)
        elif isinstance(message, Snapshot):
            return self._on_snapshot(message, now)
        elif isinstance(message, DeltaSnapshot):
            snapshot, rows = self._undelta(message)
            received = self._on_snapshot(snapshot, now)
            self._keep_baseline(snapshot.tick, rows)  # only once it has proven a valid state
            return received
        elif isinstance(message, SnapshotFragment):
            whole = self._join_fragment(message)
            return None if whole is None else self._on_message(whole, now)
        elif isinstance(message, (FrameSets, FullState)):
            if self.state is not ClientState.CONNECTED or not self.accept.sync:
                raise PacketError("unexpected", type(message).__name__)
            self.last_snapshot_s = now  # the server's stream of frames, as snapshots are in state sync
            self.frame_messages.append(message)
        elif isinstance(message, Roster):
            self._on_roster_part(message)
        elif isinstance(message, Disconnect):
            self.state = ClientState.DISCONNECTED
            self.reason = f"server closed the connection: {message.reason}"
        elif not isinstance(message, KeepAlive):
            raise PacketError("unexpected", type(message).__name__)
        return None

    def _on_snapshot(self, snapshot: Snapshot, now: float) -> Received:
        # Duplicated datagrams were already dropped by the connection's seq window.
        if self.state is not ClientState.CONNECTED:
            raise PacketError("unexpected_snapshot")
        world = self._decode_state(snapshot)
        self.snapshots_received += 1
        if self.first_snapshot_tick is None:
            self.first_snapshot_tick = snapshot.tick
        self.last_snapshot_s = now
        newest = self.newest is None or snapshot.tick > self.newest.tick
        if newest:  # an older one (late, reordered) is fine for interpolation, too old to reconcile with
            if snapshot.last_input_seq > self.last_applied_seq:
                self.inputs_applied_s = now
            self.newest, self.newest_world = snapshot, world
            self.unacked.trim_through(snapshot.last_input_seq)
        return Received(snapshot, world, newest)

    def _join_fragment(self, fragment: SnapshotFragment) -> DeltaSnapshot | None:
        """Keep the parts of the newest fragmented tick; the whole delta once every part is here."""
        if self._fragments_tick != fragment.tick:
            if fragment.tick < self._fragments_tick:
                return None  # an older tick's part, after a newer one began: that snapshot is lost
            self._fragments_tick, self._fragments = fragment.tick, {}
        self._fragments[fragment.part] = fragment
        if len(self._fragments) < fragment.parts or any(f.parts != fragment.parts for f in self._fragments.values()):
            return None
        parts = [self._fragments[i] for i in range(fragment.parts)]
        self._fragments = {}
        return DeltaSnapshot(fragment.tick, fragment.last_input_seq, fragment.roster_version, 0,
                             b"".join(p.chunk for p in parts), fragment.input_lead_cticks, fragment.input_target_cticks)

    def _undelta(self, delta: DeltaSnapshot) -> tuple[Snapshot, np.ndarray]:
        """The plain snapshot a delta stands for, rebuilt from the baseline it names, and its rows."""
        if self.state_layout is None or self.state is not ClientState.CONNECTED:
            raise PacketError("unexpected_snapshot")
        base = np.zeros((0, self.state_layout.ints_per_entity), dtype=np.int64)
        if delta.baseline_ago:
            base = self.baselines.get((delta.tick - delta.baseline_ago) & U32)
            if base is None:
                raise PacketError("no_baseline")
        try:
            rows = self.decode_delta(self.state_layout, delta.payload, base, delta.baseline_ago)
        except ValueError:
            raise PacketError("bad_delta") from None
        return Snapshot(delta.tick, delta.last_input_seq, delta.roster_version, tuple(rows.ravel().tolist()),
                        delta.input_lead_cticks, delta.input_target_cticks), rows

    def _keep_baseline(self, tick: int, rows: np.ndarray) -> None:
        late = bool(self.baselines) and tick < next(reversed(self.baselines))
        self.baselines[tick] = rows
        if late:  # reordered: keep tick order, so the oldest is the one to forget
            self.baselines = OrderedDict(sorted(self.baselines.items()))
        while len(self.baselines) > snapshot_codec.BASELINES_KEPT:
            self.baselines.popitem(last=False)

    def _on_roster_part(self, part: Roster) -> None:
        if part.version <= self.roster_version or part.version < self._roster_parts_version:
            return
        if part.version > self._roster_parts_version:
            self._roster_parts_version, self._roster_parts = part.version, {}
        self._roster_parts[part.part] = part.players
        if len(self._roster_parts) < part.parts:
            return
        self.roster_version = part.version
        self.roster = {pid: name for i in sorted(self._roster_parts) for pid, name in self._roster_parts[i]}
        self._roster_parts = {}
        for name in self.roster.values():
            if len(self.names_seen) < MAX_NAMES_SEEN:
                self.names_seen.setdefault(name)

    def _decode_state(self, snapshot: Snapshot) -> World | None:
        if self.state_decoder is None:
            return None
        try:
            return self.state_decoder(snapshot.tick, snapshot.state)
        except ValueError:
            raise PacketError("bad_state") from None

    @property
    def newest_snapshot_tick(self) -> int:
        return self.newest.tick if self.newest is not None else -1

    @property
    def last_applied_seq(self) -> int:
        """The newest of our inputs the server has applied, as the newest snapshot says."""
        return self.newest.last_input_seq if self.newest is not None else INPUT_SEQ_NONE

    # --- figures -------------------------------------------------------------------------------

    @property
    def player_id(self) -> int | None:
        return self.accept.client_id if self.accept else None

    def snapshots_expected(self) -> int:
        """How many snapshots the server sent us from our first one to our newest."""
        if self.first_snapshot_tick is None or self.accept is None:
            return 0
        interval_ticks = self.accept.tick_rate / self.accept.snapshot_rate
        return round((self.newest_snapshot_tick - self.first_snapshot_tick) / interval_ticks) + 1

    def figures(self, elapsed_s: float) -> dict[str, object]:
        """The session's stats fields: round trip, snapshots, bytes, drops."""
        elapsed_s = max(1e-9, elapsed_s)
        rtt = list(self.conn.rtt_samples_ms)
        return {
            "rtt_ms_mean": round(mean(rtt), 2),
            "rtt_ms_p95": round(percentile(rtt, 95), 2),
            "snapshots_received": self.snapshots_received,
            "snapshot_loss_pct": round(self.snapshot_loss_pct(), 2),
            "bytes_in_per_s": round(self.conn.bytes_in / elapsed_s, 1),
            "bytes_out_per_s": round(self.conn.bytes_out / elapsed_s, 1),
            "dropped_packets": dict(self.dropped),
            "events_received": self.events_in.events_received,
            "events_missed": self.events_in.events_missed,
        }

    def snapshots_lost(self) -> int:
        return max(0, self.snapshots_expected() - self.snapshots_received)

    def snapshot_loss_pct(self) -> float:
        """Share of the snapshots the server sent since our first one that never arrived."""
        expected = self.snapshots_expected()
        return 100.0 * self.snapshots_lost() / expected if expected else 0.0
