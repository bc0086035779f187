"""The client session: handshake, sending inputs with redundancy, receiving snapshots.

Theory of operation
-------------------
``ClientSession`` is the client's half of the protocol and nothing else: it does not predict or
draw. ``update(now)`` (re)sends the connect request every ``CONNECT_RETRY_S`` until an accept or
a refusal arrives, gives up after ``CONNECT_TIMEOUT_S``, and once connected sends a keep-alive when
nothing else went out for a while. ``send_input(bits, now)`` numbers the input (0, 1, 2, ...) and
sends it together with every earlier input the server has not yet confirmed applying (up to
``MAX_REDUNDANT_INPUTS``), so one lost packet never loses an input. ``receive(now)`` returns the
snapshots that arrived, newest last, dropping duplicates and counting malformed datagrams.

Each snapshot says which of our inputs the server has applied (``last_input_seq``); everything
after that is still *pending* and is what prediction must replay.
"""
from __future__ import annotations

import enum
from collections import deque

from .connection import Connection
from .protocol import (INPUT_SEQ_NONE, MAX_REDUNDANT_INPUTS, PROTOCOL_VERSION, Accept, ConnectRequest,
                       Disconnect, Inputs, KeepAlive, PacketError, Refuse, Roster, Snapshot, decode_header,
                       decode_body)
from .stats import DropCounter, RateMeter
from .transport import Address, Transport

CONNECT_RETRY_S = 0.25
CONNECT_TIMEOUT_S = 5.0


class ClientState(enum.Enum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    REFUSED = "refused"
    DISCONNECTED = "disconnected"


class ClientSession:
    def __init__(self, transport: Transport, server: Address, name: str, rules_hash: str, now: float) -> None:
        self.transport = transport
        self.server = server
        self.name = name
        self.rules_hash = rules_hash
        self.conn = Connection(server, now)
        self.state = ClientState.CONNECTING
        self.reason = ""  # why we were refused or disconnected, for the player
        self.accept: Accept | None = None
        self.started_s = now
        self.last_connect_s = float("-inf")
        self.next_input_seq = 0
        self.unconfirmed: deque[tuple[int, int]] = deque()  # (input seq, bits) not yet applied by the server
        self.last_applied_seq = INPUT_SEQ_NONE
        self.newest_snapshot_tick = -1
        self.roster: dict[int, str] = {}
        self.roster_version = -1
        self.dropped = DropCounter()
        self.snapshots_received = 0
        self.first_snapshot_tick: int | None = None
        self.rate_in = RateMeter()
        self.rate_out = RateMeter()

    # --- sending -------------------------------------------------------------------------------

    def update(self, now: float) -> None:
        """Drive the handshake and keep-alives; call once per frame."""
        if self.state is ClientState.CONNECTING:
            if now - self.started_s > CONNECT_TIMEOUT_S:
                self.state = ClientState.DISCONNECTED
                self.reason = f"no answer from {self.server[0]}:{self.server[1]} after {CONNECT_TIMEOUT_S:.0f} s"
            elif now - self.last_connect_s >= CONNECT_RETRY_S:
                self._send(ConnectRequest(self.name, self.rules_hash), now)
                self.last_connect_s = now
        elif self.state is ClientState.CONNECTED:
            if self.conn.timed_out(now):
                self.state = ClientState.DISCONNECTED
                self.reason = "server stopped answering (timed out)"
            elif self.conn.needs_keepalive(now):
                self._send(KeepAlive(), now)

    def send_input(self, bits: int, now: float) -> int:
        """Number ``bits`` as our next input, send it with the unconfirmed ones; returns its number."""
        seq = self.next_input_seq
        self.next_input_seq += 1
        self.unconfirmed.append((seq, bits))
        while len(self.unconfirmed) > MAX_REDUNDANT_INPUTS:
            self.unconfirmed.popleft()  # the server will skip these if it never got them
        message = Inputs(seq, tuple(b for _, b in self.unconfirmed), max(self.roster_version, -1),
                         self.newest_snapshot_tick)
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

    def receive(self, now: float) -> list[Snapshot]:
        snapshots: list[Snapshot] = []
        for data, addr in self.transport.receive(now):
            if addr != self.server:
                self.dropped.add("unknown_peer")
                continue
            try:
                message = self._decode(data, now)
            except PacketError as exc:
                self.dropped.add(exc.reason)
                continue
            if isinstance(message, Snapshot):
                snapshots.append(message)
        return snapshots

    def _decode(self, data: bytes, now: float):
        ptype, header, body = decode_header(data)
        if header.version != PROTOCOL_VERSION:
            raise PacketError("version", f"server {header.version}, client {PROTOCOL_VERSION}")
        message = decode_body(ptype, body)
        if isinstance(message, Refuse):
            self._on_refuse(message)
            return message
        if not self.conn.on_receive(header, len(data), now):
            raise PacketError("duplicate")
        self.rate_in.add(len(data), now)
        self._on_message(message)
        return message

    def _on_refuse(self, message: Refuse) -> None:
        if self.state is ClientState.CONNECTING:
            self.state = ClientState.REFUSED
            self.reason = f"refused by server: {message.reason}"

    def _on_message(self, message) -> None:
        if isinstance(message, Accept):
            if self.state is ClientState.CONNECTING:
                self.accept = message
                self.state = ClientState.CONNECTED
        elif isinstance(message, Snapshot):
            self._on_snapshot(message)
        elif isinstance(message, Roster):
            if message.version > self.roster_version:
                self.roster_version = message.version
                self.roster = dict(message.players)
        elif isinstance(message, Disconnect):
            self.state = ClientState.DISCONNECTED
            self.reason = f"server closed the connection: {message.reason}"
        elif not isinstance(message, KeepAlive):
            raise PacketError("unexpected", type(message).__name__)

    def _on_snapshot(self, snapshot: Snapshot) -> None:
        # Duplicated datagrams were already dropped by the connection's seq window.
        if self.state is not ClientState.CONNECTED:
            raise PacketError("unexpected_snapshot")
        self.snapshots_received += 1
        if self.first_snapshot_tick is None:
            self.first_snapshot_tick = snapshot.tick
        if snapshot.tick > self.newest_snapshot_tick:
            self.newest_snapshot_tick = snapshot.tick
            self.last_applied_seq = snapshot.last_input_seq
            while self.unconfirmed and self.unconfirmed[0][0] <= snapshot.last_input_seq:
                self.unconfirmed.popleft()

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

    def snapshots_lost(self) -> int:
        return max(0, self.snapshots_expected() - self.snapshots_received)

    def snapshot_loss_pct(self) -> float:
        """Share of the snapshots the server sent since our first one that never arrived."""
        expected = self.snapshots_expected()
        return 100.0 * self.snapshots_lost() / expected if expected else 0.0
