"""The netcode lab's model: the real server and two real clients in one process, stepped by ``now``.

Theory of operation
-------------------
The lab wires the real pieces together the way ``tools/scenarios.py`` does, but lets the caller's
clock drive them (the window's monotonic clock, or a test's ``FakeClock``): one ``ServerSession``
and two ``GameClient``s on a ``MemoryNetwork``, each client's endpoint wrapped in its own seeded
``LinkConditioner``. A conditioner on the client's end gives that client's link its whole lag,
both ways, so one client's network can be changed live (``set_link``) without touching the other.

* ``pump(now)`` is the network and the server: hand the datagrams that are due to the server, let
  it read them, and run the server ticks that are due on a fixed-timestep schedule (tick *n* at
  ``start + n / tick_rate``, as ``netcode.server_loop`` does), so the server ticks at its own rate
  whatever the frame rate. A window loop calls it between frames, at ``next_due_s()``.
* ``step(now, sources)`` pumps, then runs one frame of each client with its input source (keys or
  a bot) and keeps the ``FrameView`` each client would draw on its own screen.
* Client 2 joins once client 1 has its player id, so client 1 is always player 0 and the colours
  on screen never swap between runs.

Every datagram's fate is reported by the conditioners (``LinkConditioner.watch``) and kept as a
``Packet``: whose link, which way, what type, when sent, when released (None: lost). A drawing
places each one at ``progress(now)`` of its way, so latency becomes something you see; a lost one
stops half way. Packets are forgotten shortly after they land or fade.

The server's side of each client (input buffer lead and target, inputs applied on the last tick)
comes from the session's per-tick trace record. The four views of compare mode are built here
from one client's ``FrameFacts`` and session, as plain ``FrameView``s: nothing here imports pygame.
"""
from __future__ import annotations

import dataclasses
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from netcode.client_frame import InputSource
from netcode.conditioner import Fate, LinkConditioner, LinkSettings
from netcode.protocol import PacketError, PacketType, decode_header
from netcode.server import ServerConfig, ServerSession
from netcode.server_loop import MAX_CATCHUP_TICKS
from netcode.switches import Switches
from netcode.transport import Address, MemoryNetwork

from .client import ClientOptions, GameClient
from .netgame import SimRules
from .view import DrawnPlayer, FrameView

SERVER: Address = ("10.0.0.1", 7777)
CLIENTS = 2
JOIN_PATIENCE_S = 2.0  # client 2 joins anyway if client 1 has no id by then (a very lossy link)
ARRIVED_LINGER_S = 0.12  # a landed packet stays this long at its end, so a LAN's packets show too
LOST_AT = 0.5  # a lost packet is drawn as lost this far along its way
LOST_FADE_S = 1.0  # and fades out over this long
MAX_PACKETS_KEPT = 4000  # per client: bounded even at the longest lag the keys allow
TRAIL_FRAMES = 24  # compare mode: drawn positions remembered per player (0.4 s at 60 fps)

#: What the keys may set live, and by how much one press changes it: (step, lowest, highest).
LINK_STEPS: dict[str, tuple[float, float, float]] = {
    "lag_ms": (50.0, 0.0, 1000.0),
    "jitter_ms": (10.0, 0.0, 200.0),
    "loss_pct": (5.0, 0.0, 50.0),  # beyond about half, connections start to time out
}

PACKET_KINDS = {value: name.lower() for name, value in vars(PacketType).items() if name.isupper()}
PACKET_KINDS[PacketType.DELTA_SNAPSHOT] = "snapshot"  # delta or full, a snapshot on the strip


@dataclass(frozen=True)
class Packet:
    """One datagram (or one copy of a duplicated one) on one client's link."""

    client_index: int
    upstream: bool  # True: client to server (inputs); False: server to client (snapshots)
    kind: str  # "input", "snapshot", "roster", "keepalive", ... from the packet type
    serial: int  # counts datagrams per link and direction (copies share it): picks a drawing row
    sent_s: float
    release_s: float | None  # None: lost
    copy: int = 0  # 1: the second copy of a duplicated datagram
    nominal_s: float = 0.0  # the link's mean one-way delay when it was sent (paces a lost one)

    @property
    def lost(self) -> bool:
        return self.release_s is None

    def progress(self, now: float) -> float:
        """How far along its way at ``now``: 0 at the sender, 1 at the receiver, ``LOST_AT`` if lost."""
        end_s = self.sent_s + self.nominal_s * LOST_AT if self.release_s is None else self.release_s
        limit = LOST_AT if self.release_s is None else 1.0
        if end_s <= self.sent_s:
            return limit
        return max(0.0, min(limit, limit * (now - self.sent_s) / (end_s - self.sent_s)))

    def lost_since_s(self) -> float:
        """When a lost packet reaches the point where it is drawn as lost."""
        return self.sent_s + self.nominal_s * LOST_AT

    def in_flight(self, now: float) -> bool:
        return self.release_s is not None and now < self.release_s

    def done(self, now: float) -> bool:
        if self.release_s is None:
            return now > self.lost_since_s() + LOST_FADE_S
        return now > self.release_s + ARRIVED_LINGER_S


@dataclass
class LabClient:
    """One client of the lab, with its own link and its record of packets."""

    index: int
    name: str
    address: Address
    conditioner: LinkConditioner
    switches: Switches
    client: GameClient | None = None  # built when its turn to join comes
    view: FrameView = field(default_factory=FrameView)  # what its own screen shows this frame
    packets: deque[Packet] = field(default_factory=lambda: deque(maxlen=MAX_PACKETS_KEPT))
    serials: list[int] = field(default_factory=lambda: [0, 0])  # [downstream, upstream]
    lost: list[int] = field(default_factory=lambda: [0, 0])  # datagrams lost: [downstream, upstream]
    duplicated: list[int] = field(default_factory=lambda: [0, 0])  # second copies made, likewise
    last_frame_s: float | None = None

    @property
    def player_id(self) -> int | None:
        return None if self.client is None else self.client.session.player_id

    @property
    def link(self) -> LinkSettings:
        return self.conditioner.settings


@dataclass(frozen=True)
class SlotFacts:
    """The server's side of one client: how its inputs reach the input buffer."""

    player_id: int
    name: str
    lead_ms: float  # how early its inputs arrive, on average
    target_ms: float | None  # how early the server asks them to arrive (None: unscheduled)
    applied_last_tick: int  # inputs applied on the newest tick (0: late, 2: catching up)
    last_applied_seq: int  # the number of the newest input applied (-1: none yet)


@dataclass
class LabSetup:
    link: LinkSettings = field(default_factory=LinkSettings)  # the starting link of every client
    net_seed: int = 1
    switches: Callable[[], Switches] = Switches  # each client gets its own
    smooth_ms: float = 100.0
    interp_ms: float | None = None
    server: ServerConfig = field(default_factory=ServerConfig)


class Lab:
    """The server, the two clients and their links; see the module's theory of operation."""

    def __init__(self, now: float, setup: LabSetup | None = None) -> None:
        self.setup = setup or LabSetup()
        self.network = MemoryNetwork()
        config = self.setup.server
        self.session = ServerSession(SimRules(config.tick_rate), self.network.endpoint(SERVER), config, now)
        self.session.tracer = self._on_tick_record
        self.tick_dt_s = 1.0 / config.tick_rate
        self.started_s = now
        self.ticks = 0
        self.applied_last_tick: dict[int, int] = {}
        self.clients = [self._make_lab_client(i) for i in range(CLIENTS)]

    def _make_lab_client(self, index: int) -> LabClient:
        address = (f"10.0.0.{index + 2}", 5000)
        conditioner = LinkConditioner(self.network.endpoint(address), self.setup.link,
                                      self.setup.net_seed * 100 + index)
        lab_client = LabClient(index, f"client{index + 1}", address, conditioner, self.setup.switches())
        conditioner.watch(lambda fate: self._on_fate(lab_client, fate))
        return lab_client

    # --- the network and the server ------------------------------------------------------------

    def pump(self, now: float) -> None:
        """Deliver what is due to the server, let it read, and run the ticks that are due."""
        for lab_client in self.clients:
            lab_client.conditioner.flush(now)
        self.session.receive(now)
        behind_ticks = (now - self._next_tick_s()) / self.tick_dt_s
        if behind_ticks > MAX_CATCHUP_TICKS:
            self.started_s += (int(behind_ticks) - 1) * self.tick_dt_s  # a long stall: forget the lost time
        while now >= self._next_tick_s():
            self.session.tick_once(now)
            self.ticks += 1

    def _next_tick_s(self) -> float:
        # From the start each time, never by adding to the last deadline, so rounding cannot drift.
        return self.started_s + (self.ticks + 1) * self.tick_dt_s

    def next_due_s(self) -> float:
        """The next moment ``pump`` has work: a server tick, or a held datagram leaving a client."""
        times = [self._next_tick_s()] + [c.conditioner.next_send_due_s() for c in self.clients]
        return min(t for t in times if t is not None)

    def _on_tick_record(self, record: dict[str, Any]) -> None:
        self.applied_last_tick = {int(pid): len(inputs) for pid, inputs in record["inputs"].items()}

    # --- the clients ---------------------------------------------------------------------------

    def step(self, now: float, sources: Sequence[InputSource]) -> None:
        """One frame: the network and server first, then each client that has joined."""
        self.pump(now)
        self._join_next(now)
        for lab_client, source in zip(self.clients, sources):
            if lab_client.client is not None:
                self._frame(lab_client, now, source)
            self._forget_old_packets(lab_client, now)

    def _join_next(self, now: float) -> None:
        for previous, lab_client in zip([None] + self.clients, self.clients):
            if lab_client.client is not None:
                continue
            if previous is None or self._may_follow(previous, now):
                options = ClientOptions(name=lab_client.name, smooth_ms=self.setup.smooth_ms,
                                        interp_ms=self.setup.interp_ms)
                lab_client.client = GameClient(lab_client.conditioner, SERVER, options, lab_client.switches, now)
            return  # one join per frame, in order

    def _may_follow(self, previous: LabClient, now: float) -> bool:
        joined = previous.player_id is not None or (previous.client is not None and previous.client.finished)
        return joined or now - self.started_s > JOIN_PATIENCE_S

    def _frame(self, lab_client: LabClient, now: float, source: InputSource) -> None:
        dt_s = 0.0 if lab_client.last_frame_s is None else now - lab_client.last_frame_s
        lab_client.last_frame_s = now
        lab_client.view = lab_client.client.frame(now, dt_s, source)

    def set_link(self, index: int, settings: LinkSettings) -> None:
        """Give one client's link new settings; packets already on their way keep their fate."""
        self.clients[index].conditioner.settings = settings

    def close(self, now: float) -> None:
        """Leave politely, so a lab that is restarted never meets a half-open session."""
        for lab_client in self.clients:
            if lab_client.client is not None:
                lab_client.client.session.disconnect(now)
                lab_client.client.close()
        self.session.shutdown(now)

    # --- packets -------------------------------------------------------------------------------

    def _on_fate(self, lab_client: LabClient, fate: Fate) -> None:
        upstream = fate.direction == "out"  # the conditioner sits on the client's end
        if fate.copy == 0:
            lab_client.serials[upstream] += 1
        lab_client.lost[upstream] += fate.release_s is None
        lab_client.duplicated[upstream] += fate.copy
        packet = Packet(lab_client.index, upstream, packet_kind(fate.data), lab_client.serials[upstream],
                        fate.sent_s, fate.release_s, fate.copy, lab_client.link.one_way_ms / 1000)
        lab_client.packets.append(packet)

    @staticmethod
    def _forget_old_packets(lab_client: LabClient, now: float) -> None:
        if any(p.done(now) for p in lab_client.packets):
            kept = [p for p in lab_client.packets if not p.done(now)]
            lab_client.packets.clear()
            lab_client.packets.extend(kept)

    # --- what the panels show ------------------------------------------------------------------

    def truth_view(self) -> FrameView:
        """The server's world as it is: no delay, no prediction, nobody local."""
        names = {slot.player_id: slot.name for slot in self.session.clients.values()}
        view = FrameView()
        for pid, entity in sorted(self.session.rules.entities(self.session.world).items()):
            view.players.append(DrawnPlayer(pid, names.get(pid, f"player{pid}"), entity.x_px, entity.y_px))
        return view

    def slot_facts(self, index: int) -> SlotFacts | None:
        """The server's side of client ``index``; None until it has joined."""
        slot = self.session.clients.get(self.clients[index].address)
        if slot is None:
            return None
        ms_per_tick = 1000 * self.tick_dt_s
        target = slot.inputs.target_lead_ticks()
        return SlotFacts(slot.player_id, slot.name, slot.inputs.lead_ticks() * ms_per_tick,
                         None if target is None else target * ms_per_tick,
                         self.applied_last_tick.get(slot.player_id, 0), slot.inputs.last_applied_seq)

    def compare_views(self, index: int) -> list[FrameView]:
        """Client ``index``'s frame drawn four ways, from the same facts: see ``COMPARE_STAGES``."""
        lab_client = self.clients[index]
        client = lab_client.client
        facts = None if client is None else client.last_facts
        if facts is None or not facts.playing or client.session.newest_world is None:
            return [dataclasses.replace(lab_client.view) for _ in COMPARE_STAGES]
        session = client.session
        me = session.player_id
        newest = {pid: (e.x_px, e.y_px) for pid, e in client.net.rules.entities(session.newest_world).items()}
        remotes_newest = {pid: p for pid, p in newest.items() if pid != me}
        stages = [(newest.get(me), remotes_newest),  # 1: everything at the newest snapshot
                  (facts.local_server, facts.remotes),  # 2: remotes interpolated
                  (facts.local_predicted, facts.remotes)]  # 3: newest predicted tick, no smoothing
        views = [self._stage_view(lab_client, local, remotes) for local, remotes in stages]
        return views + [lab_client.view]  # 4: the client's own view, everything on

    @staticmethod
    def _stage_view(lab_client: LabClient, local, remotes: dict) -> FrameView:
        own = lab_client.view
        names, me = lab_client.client.session.roster, lab_client.player_id
        view = FrameView(ghosts=list(own.ghosts), switches=dict(own.switches), status=own.status)
        if local is not None:
            view.players.append(DrawnPlayer(me, names.get(me, lab_client.name), *local, is_local=True))
        for pid, (x, y) in sorted(remotes.items()):
            view.players.append(DrawnPlayer(pid, names.get(pid, f"player{pid}"), x, y))
        return view


#: Compare mode's four views, left to right: (title, what it shows).
COMPARE_STAGES: tuple[tuple[str, str], ...] = (
    ("1  snapshots as they arrive",
     "Every player at the newest snapshot: remote players step at the snapshot rate and freeze "
     "when one is lost; your own moves show a round trip late."),
    ("2  + interpolation",
     "Remote players drawn between two snapshots, a little in the past: smooth. "
     "You are still drawn at the newest snapshot, a round trip late."),
    ("3  + prediction, no smoothing",
     "You move the frame you press (the newest predicted tick). When the server disagrees "
     "(someone pushed you) the correction shows as a jump."),
    ("4  everything on",
     "The client's own view: prediction drawn between ticks, corrections smoothed away, "
     "remote players interpolated."),
)


def packet_kind(data: bytes) -> str:
    """The packet's type as a word ("input", "snapshot", ...), from its header."""
    try:
        ptype, _, _ = decode_header(data)
    except PacketError:
        return "malformed"
    return PACKET_KINDS.get(ptype, "unknown")


def nudged(settings: LinkSettings, name: str, presses: int) -> LinkSettings:
    """``settings`` with field ``name`` moved by ``presses`` steps of ``LINK_STEPS``, kept in range."""
    step, lowest, highest = LINK_STEPS[name]
    value = min(highest, max(lowest, getattr(settings, name) + presses * step))
    return dataclasses.replace(settings, **{name: value})


class LabTime:
    """The lab's own clock: real time minus the time spent paused.

    Every session gets ``now`` from here, so a pause freezes packets mid-flight and nobody times
    out while you read the screen; on resume the world carries on as if no time had passed.
    """

    def __init__(self) -> None:
        self.offset_s = 0.0
        self.paused_at_s: float | None = None

    @property
    def paused(self) -> bool:
        return self.paused_at_s is not None

    def now(self, real_s: float) -> float:
        return (real_s if self.paused_at_s is None else self.paused_at_s) - self.offset_s

    def real(self, lab_s: float) -> float:
        """The real time at which the lab's clock reads ``lab_s`` (when running)."""
        return lab_s + self.offset_s

    def toggle(self, real_s: float) -> None:
        if self.paused_at_s is None:
            self.paused_at_s = real_s
        else:
            self.offset_s += real_s - self.paused_at_s
            self.paused_at_s = None


Point = tuple[float, float]


class Trails:
    """The last ``TRAIL_FRAMES`` drawn positions of every player in each of several views.

    Dots one frame apart show what a still picture cannot: even spacing is smooth motion, dots
    piled up then far apart are a player stepping at the snapshot rate, a gap is a jump.
    """

    def __init__(self, views: int, frames: int = TRAIL_FRAMES) -> None:
        self.frames = frames
        self.points: list[dict[int, deque[Point]]] = [{} for _ in range(views)]

    def add(self, views: Sequence[FrameView]) -> None:
        for book, view in zip(self.points, views):
            present = {p.player_id for p in view.players}
            for pid in [pid for pid in book if pid not in present]:
                del book[pid]
            for p in view.players:
                book.setdefault(p.player_id, deque(maxlen=self.frames)).append((p.x_px, p.y_px))

    def of(self, view_index: int) -> dict[int, list[Point]]:
        return {pid: list(points) for pid, points in self.points[view_index].items()}
