"""One process, many clients: a load generator that plays the real client sessions against a server.

Usage::

    python -m tools.loadgen --host 127.0.0.1 --port 7777 --clients 64 --duration 20
    python -m tools.loadgen --port 7777 --clients 32 --duration 20 --net wifi --predict 4 --stats-json load.json

Theory of operation
-------------------
A benchmark that starts one process per bot measures the operating system's scheduler as much as
the server: 64 Python interpreters on two cores fight for the CPU and their lateness looks like
the server's. Here one process runs N real client sessions, each with its own UDP socket
(``UdpTransport``, behind its own seeded ``LinkConditioner`` when link flags are given, as
``run_client.py`` does for one client), each driven by a scripted bot (``game.bots``).

* **Two kinds of client.** The first ``--predict K`` clients run the whole client frame
  (``game.client.GameClient``: prediction, reconciliation, smoothing, interpolation, time dilation
  and the feel meter), so they report ``corrections`` like a player would. The others run only the
  session (``netcode.client_session.ClientSession``, set up on accept by a ``ClientFrame`` as a
  player's is): the handshake, one input per tick with its redundancy, and every snapshot received
  and decoded off the wire; that is all the server sees of a client. They skip turning each
  snapshot into the game's world objects (``--decode-state`` puts it back), and by default a delta
  snapshot that the server sent to many clients is decoded once for all of them
  (``SharedDecodes``; ``--no-shared-decode`` makes each decode its own). Both only save work that
  N separate machines would each do, and change nothing on the wire.
* **One loop, one schedule.** Iteration *n* is due at ``start + n / tick_rate`` (the tick rate
  from the server's accept; 60 Hz until the first accept arrives). Each iteration starts the next
  ``--ramp`` clients joining, then for every client reads its socket, runs the session (connect
  retries, keep-alives, timeouts) and sends one input. A late iteration is caught up at once (each
  session client still sends exactly one input per tick); after a stall of more than
  ``MAX_CATCHUP_TICKS`` the lost time is skipped and counted, as the server's loop does. Between
  iterations it sleeps, waking early only to let the link conditioners send held datagrams on time
  (``HeldSends``).
* **A short ramp.** Each client has its own socket, so the server's connect limiter (8 requests a
  second per *address*, which is IP and port) never holds one back, and 16 joins a tick are 32
  connect requests, well inside the server's 512 datagrams a tick. What a slow ramp costs is the
  player list: every join changes it, and the server sends it again with every snapshot until the
  client's inputs acknowledge it, so while clients keep joining every snapshot brings the list
  (128 names, in parts) to every client. At 128 clients, 4 a tick sometimes tipped the generator
  into falling behind for good (late acknowledgements, so more lists, so later still); 16 a tick
  (``DEFAULT_RAMP``) is over in 8 ticks.
* **The generator's own lateness.** Every iteration records how late it began against its
  deadline (``Schedule``). A generator that cannot keep up shows it in ``loadgen_late_ms_p99``,
  ``loadgen_late_ms_max`` and ``loadgen_late_pct`` (iterations more than one tick late), and in
  ``loadgen_busy_pct`` (the share of the time spent working, not sleeping), so a slow generator is
  never mistaken for a slow server: compare them with the server's ``tick_overruns``. When
  ``loadgen_busy_pct`` is well above ``loadgen_cpu_pct`` (the CPU time the process used), the
  generator was not slow but starved: other processes held the cores.

At the end every client disconnects politely, and the figures are printed as JSON and, with
``--stats-json``, written there. Ctrl-C (or SIGTERM) stops the run at the end of the current
iteration, with figures. Progress lines go to stderr, the figures to stdout; the exit status is 1
(with the reasons on stderr) when a client was not connected at the end.

The figures, with the client names of ``docs/measuring.md`` where there is one:

* ``clients`` (asked), ``clients_started``, ``clients_joined`` (accepted at some point),
  ``clients_connected`` (still connected at the end), ``ended`` (why the others were not, counted),
  ``join_ms_max`` (the slowest handshake).
* ``snapshots_received`` (sum); ``snapshot_loss_pct`` over all clients, from each session's
  expected and received snapshots; ``rtt_ms_mean``, ``rtt_ms_p95`` over every client's samples;
  ``bytes_in_per_s``, ``bytes_out_per_s``: each joined client's bytes over its own time, averaged;
  ``inputs_sent``, ``dropped_packets`` (by reason, summed).
* ``predicting_clients``; ``corrections`` (summed over them) and ``correction_px_max``.
* ``tick_rate``, ``snapshot_rate`` (from the accept), ``duration_s``, ``fps_mean`` (iterations per
  second: every client is stepped once per iteration).
* The generator itself: ``loadgen_late_ms_p99``, ``loadgen_late_ms_max``, ``loadgen_late_pct``,
  ``loadgen_ticks_skipped``, ``loadgen_iterations``, ``loadgen_busy_pct``, ``loadgen_cpu_pct``,
  ``loadgen_predicting_client_pct`` and ``loadgen_session_client_pct`` (the wall time spent stepping
  one client of each kind, in percent of one core), ``loadgen_decodes_shared_pct``.

What it costs (measured on a two-core VM, the server on the other core; 20 s runs): a
session-only client 0.33 to 0.42% of a core at 128 players (60 inputs and 30 snapshots a second,
a few system calls each), so 128 of them 43 to 51% in CPU time; a predicting client about 20% more
at 128 players (about 8% at 64), most of it the game's ``step`` over all the players for every
predicted and replayed input. In the quietest runs at 128 clients in all: none predicting, 51%
CPU, 2% of iterations more than a tick late, none skipped; one predicting, 72% CPU, 24% late and 90
ticks skipped; two, 87% CPU, 33% late. So at 128 one core affords no predicting client; at 64
clients one predicting client used 30% CPU and no iteration was late. Hence the default
(``default_predict``): one predicting client up to ``ONE_PREDICTING_UP_TO`` clients, none above.
"""
from __future__ import annotations

import argparse
import heapq
import json
import math
import signal
import socket
import sys
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Protocol, Sequence

from game import sim
from game.bots import BOT_NAMES, Bot, make_bot
from game.cli import port_number, printable
from game.client import ClientOptions, GameClient, make_rules
from game.netgame import INTS_PER_ENTITY
from netcode import snapshot_codec
from netcode.client_frame import ClientFrame, FrameOptions
from netcode.client_session import ClientSession, ClientState
from netcode.clock import MonotonicClock
from netcode.conditioner import LinkConditioner, LinkSettings
from netcode.conditioner_cli import add_link_arguments, settings_or_error
from netcode.protocol import MAX_NAME_CHARS
from netcode.stats import Summary, mean, percentile, write_stats_json
from netcode.switches import Switches
from netcode.transport import Address, Transport, UdpTransport

DEFAULT_PERIOD_S = 1 / 60  # the loop's period until the server's accept tells the tick rate
DEFAULT_RAMP = 16  # clients that start joining per loop iteration (see the module docstring)
#: One predicting client by default up to this many clients in all, none above: at 128 clients one
#: core kept up only with none (measured, see the module docstring and --help).
ONE_PREDICTING_UP_TO = 64
MAX_CATCHUP_TICKS = 30  # past this many ticks behind, skip the lost time instead of racing
LATE_WINDOW = 1 << 16  # iterations kept for the lateness percentile (18 min at 60 Hz): bounded
WAKE_GRANULARITY_S = 0.001  # at most one wake-up per ms for held datagrams: one leaves at most 1 ms late
PROGRESS_EVERY_S = 5.0
FLUSH_AHEAD_S = 10.0  # at the end, let every held goodbye out at once


def cpu_seconds() -> float | None:
    """CPU time this process has used (user and system), or None where the OS does not say.

    Not a clock: it runs only while we run, so against the wall time it tells working from waiting
    for a core that another process holds.
    """
    try:
        import resource
    except ImportError:
        return None
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def default_predict(clients: int) -> int:
    """How many clients predict unless ``--predict`` says: what one core keeps up with."""
    return 1 if clients <= ONE_PREDICTING_UP_TO else 0


class Clock(Protocol):
    """What the loop needs of ``netcode.clock``: ``MonotonicClock`` or a test's ``FakeClock``."""

    def now(self) -> float: ...

    def sleep(self, duration_s: float) -> None: ...


# --- the schedule and its lateness ---------------------------------------------------------------


class Schedule:
    """Iterations on a fixed grid, ``start + n * period``, and how late each one began.

    ``next_due_s`` is the next iteration's deadline; ``begin(now)`` records that iteration as
    started at ``now``. An iteration that begins more than ``MAX_CATCHUP_TICKS`` periods late moves
    the grid forward instead (the lost ticks are counted in ``skipped``, not run).
    """

    def __init__(self, period_s: float, start_s: float, window: int = LATE_WINDOW) -> None:
        self.period_s = period_s
        self.start_s = start_s
        self.n = 0
        self.iterations = 0
        self.late_ms = Summary(window)
        self.late_iterations = 0  # began more than one period after their deadline
        self.skipped = 0
        self.recent_late_max_ms = 0.0  # since the last progress line

    @property
    def next_due_s(self) -> float:
        return self.start_s + self.n * self.period_s

    def begin(self, now: float) -> float:
        """Record the iteration due at ``next_due_s`` as begun at ``now``; returns its lateness, s."""
        late_s = max(0.0, now - self.next_due_s)
        behind = late_s / self.period_s
        if behind > MAX_CATCHUP_TICKS:
            lost = int(behind)
            self.skipped += lost
            self.start_s += lost * self.period_s  # forget the lost time
        self.late_ms.add(late_s * 1000)
        self.recent_late_max_ms = max(self.recent_late_max_ms, late_s * 1000)
        if late_s > self.period_s:
            self.late_iterations += 1
        self.n += 1
        self.iterations += 1
        return late_s

    def retime(self, period_s: float) -> None:
        """Run at a new period from the next deadline on (the server's tick rate, once known)."""
        if not math.isclose(period_s, self.period_s):
            self.start_s, self.n, self.period_s = self.next_due_s, 0, period_s

    def figures(self) -> dict[str, float | int]:
        count = max(1, self.iterations)
        return {
            "loadgen_late_ms_p99": round(self.late_ms.percentile(99), 3),
            "loadgen_late_ms_max": round(self.late_ms.max, 3),
            "loadgen_late_pct": round(100 * self.late_iterations / count, 3),
            "loadgen_ticks_skipped": self.skipped,
            "loadgen_iterations": self.iterations,
        }


class HeldSends:
    """Wakes the sleeping loop when a link conditioner's held outbound datagram is due.

    Without it, a datagram held for 47.3 ms would leave at the next iteration, up to a tick later:
    jitter a real network would not add (``game.app.sleep_until`` does the same for one client).
    A min-heap of ``(due time, client index)``, rebuilt after every iteration.
    """

    def __init__(self) -> None:
        self.heap: list[tuple[float, int]] = []
        self.last_wake_s = float("-inf")

    def rebuild(self, clients: list["LoadClient"]) -> None:
        self.heap = [(due, i) for i, c in enumerate(clients) if (due := c.next_send_due_s()) is not None]
        heapq.heapify(self.heap)

    def sleep_until(self, clock: Clock, deadline_s: float, clients: list["LoadClient"]) -> None:
        while (now := clock.now()) < deadline_s:
            if not self.heap or self.heap[0][0] >= deadline_s:
                clock.sleep(deadline_s - now)
                continue
            # At most one wake-up per WAKE_GRANULARITY_S: a datagram leaves at most that late.
            wake_s = min(deadline_s, max(self.heap[0][0], now, self.last_wake_s + WAKE_GRANULARITY_S))
            clock.sleep(wake_s - now)
            now = self.last_wake_s = clock.now()
            flushed: set[int] = set()
            while self.heap and self.heap[0][0] <= now:
                _, index = heapq.heappop(self.heap)
                if index not in flushed:
                    flushed.add(index)
                    clients[index].flush(now)
            for index in flushed:
                due = clients[index].next_send_due_s()
                if due is not None:
                    heapq.heappush(self.heap, (due, index))


class SharedDecodes:
    """``snapshot_codec.decode_rows`` done once per distinct delta snapshot for all clients here.

    The server sends the same delta payload to every client that holds the same baseline, and
    decoding it is a pure function of the payload, the baseline rows and the tick gap. N machines
    would each decode it; one process playing N clients need not, so each session's
    ``decode_delta`` is this memo (keyed on all the inputs, so the rows are exactly what the
    decoder returns; each caller gets its own copy). Bounded: the ``size`` newest keys.
    """

    def __init__(self, size: int = 256) -> None:
        self.decode = snapshot_codec.decode_rows
        self.size = size
        self.rows: OrderedDict[tuple, object] = OrderedDict()
        self.calls = self.decoded = 0

    def __call__(self, layout, payload: bytes, base, ticks: int):
        self.calls += 1
        key = (layout, payload, ticks, base.shape, base.tobytes())
        rows = self.rows.get(key)
        if rows is None:
            rows = self.decode(layout, payload, base, ticks)  # a bad payload raises, and is not kept
            self.decoded += 1
            self.rows[key] = rows
            if len(self.rows) > self.size:
                self.rows.popitem(last=False)
        return rows.copy()

    def figures(self) -> dict[str, float]:
        return {"loadgen_decodes_shared_pct": round(100 * (1 - self.decoded / self.calls), 2) if self.calls else 0.0}


# --- the clients ---------------------------------------------------------------------------------


class LoadClient:
    """One client of the load: its socket (maybe behind a conditioner), its bot, its session."""

    predicting = False

    def __init__(self, index: int, transport: Transport, udp: Transport, bot: Bot, now: float) -> None:
        self.index = index
        self.transport = transport
        self.udp = udp
        self.bot = bot
        self.started_s = now
        self.accepted_s: float | None = None
        self.connected_at_end = False
        self.end_reason = ""  # why a client that was not connected at the end was not

    @property
    def session(self) -> ClientSession:
        raise NotImplementedError

    def step(self, now: float, dt_s: float) -> None:
        raise NotImplementedError

    def next_send_due_s(self) -> float | None:
        due = getattr(self.transport, "next_send_due_s", None)
        return due() if due is not None else None

    def flush(self, now: float) -> None:
        if hasattr(self.transport, "flush"):
            self.transport.flush(now)

    def finish(self, now: float) -> None:
        """Leave politely and close the socket; remembers whether we were still in."""
        state = self.session.state
        self.connected_at_end = state is ClientState.CONNECTED
        self.end_reason = "still connecting at the end" if state is ClientState.CONNECTING else self.session.reason
        self.session.disconnect(now)
        if hasattr(self.transport, "flush"):
            self.transport.flush(now + FLUSH_AHEAD_S)  # held goodbyes leave now, not never
        self.udp.close()

    def note_accept(self, now: float) -> None:
        if self.accepted_s is None and self.session.accept is not None:
            self.accepted_s = now


class SessionClient(LoadClient):
    """The session alone: handshake, one input per tick, every snapshot received and decoded.

    The session is the one a ``ClientFrame`` builds and sets up on accept (whatever the snapshots
    need to be read), so it reads the wire exactly as a player's does; only the frame (prediction,
    interpolation, time dilation) is never run. Turning each snapshot's integers into the game's
    world objects costs as much again and the server cannot tell, so it is left out unless
    ``decode_state``.
    """

    def __init__(self, index: int, transport: Transport, udp: Transport, server: Address, name: str, bot: Bot,
                 now: float, decode_state: bool = False) -> None:
        super().__init__(index, transport, udp, bot, now)
        self.frame = ClientFrame(transport, server, name, sim.RULES_HASH, make_rules, FrameOptions(), Switches(), now)
        self._session = self.frame.session
        self._position: tuple[float, float] | None = None
        self._position_tick = -1
        if not decode_state:
            set_up = self._session.on_accept

            def on_accept(accept) -> None:
                set_up(accept)
                self._session.state_decoder = None  # wire decoding only: no world objects

            self._session.on_accept = on_accept

    @property
    def session(self) -> ClientSession:
        return self._session

    def step(self, now: float, dt_s: float) -> None:
        session = self._session
        session.update(now)
        session.receive(now)  # counts, decodes, drops duplicates, trims the unacknowledged inputs
        if session.state is ClientState.CONNECTED:
            self.note_accept(now)
            session.send_input(self.bot(session.next_input_seq, self._our_position()), now)

    def _our_position(self) -> tuple[float, float] | None:
        """Our player in the newest snapshot (what a bot that looks sees), found once per snapshot."""
        session = self._session
        if session.newest is not None and session.newest.tick != self._position_tick:
            self._position_tick = session.newest.tick
            self._position = _player_position(session.newest.state, session.player_id)
        return self._position


def _player_position(state: Sequence[int], player_id: int | None) -> tuple[float, float] | None:
    """Our player's position from a snapshot's integers (``game.netgame``: id, x, y, vx, vy each)."""
    for i in range(0, len(state) - INTS_PER_ENTITY + 1, INTS_PER_ENTITY):
        if state[i] == player_id:
            return state[i + 1] / sim.SUBPX, state[i + 2] / sim.SUBPX
    return None


class PredictingClient(LoadClient):
    """The whole client frame (``GameClient``), one frame per loop iteration, as a headless bot."""

    predicting = True

    def __init__(self, index: int, transport: Transport, udp: Transport, server: Address, name: str, bot: Bot,
                 now: float) -> None:
        super().__init__(index, transport, udp, bot, now)
        self.client = GameClient(transport, server, ClientOptions(name=name), Switches(), now)

    @property
    def session(self) -> ClientSession:
        return self.client.session

    def step(self, now: float, dt_s: float) -> None:
        self.client.frame(now, dt_s, self.bot)
        if self.session.state is ClientState.CONNECTED:
            self.note_accept(now)

    def finish(self, now: float) -> None:
        super().finish(now)
        self.client.close()


# --- the generator -------------------------------------------------------------------------------


@dataclass
class LoadOptions:
    server: Address
    clients: int
    duration_s: float
    predict: int = 0
    bot: str = "random"
    seed: int = 1
    link: LinkSettings = field(default_factory=LinkSettings)
    net_seed: int = 1
    ramp: int = DEFAULT_RAMP
    name_prefix: str = "load"
    decode_state: bool = False  # session-only clients also build the game's world from each snapshot
    shared_decode: bool = True  # decode each distinct delta snapshot once for all clients (SharedDecodes)
    progress: Callable[[str], None] | None = None  # told a line every PROGRESS_EVERY_S


TransportFactory = Callable[[int], tuple[Transport, Transport]]  # client index -> (transport, udp socket)


def udp_transports(link: LinkSettings, net_seed: int) -> TransportFactory:
    """Each client its own UDP socket, behind its own conditioner (seed ``net_seed + index``) if any."""

    def make(index: int) -> tuple[Transport, Transport]:
        udp = UdpTransport("0.0.0.0", 0)
        return (LinkConditioner(udp, link, net_seed + index) if link.is_active else udp), udp

    return make


class LoadGenerator:
    def __init__(self, options: LoadOptions, clock: Clock, transports: TransportFactory | None = None) -> None:
        self.options = options
        self.clock = clock
        self.transports = transports or udp_transports(options.link, options.net_seed)
        self.clients: list[LoadClient] = []
        self.schedule: Schedule | None = None
        self.held = HeldSends()
        self.busy_s = 0.0  # working, not sleeping: joining, stepping every client, bookkeeping
        self.predicting_busy_s = self.session_busy_s = 0.0  # stepping the clients of each kind
        self.tick_rate: int | None = None
        self.snapshot_rate: int | None = None
        self.started_s = self.ended_s = 0.0
        self.started_cpu_s: float | None = None
        self.cpu_s: float | None = None  # CPU time the run used (not the goodbyes)
        self.stop_requested = False
        self.shared = SharedDecodes() if options.shared_decode else None

    def stop(self) -> None:
        """Ask the run to end after the current iteration (signal handlers, tests)."""
        self.stop_requested = True

    def run(self) -> dict[str, object]:
        return self._run()

    def _run(self) -> dict[str, object]:
        clock = self.clock
        self.started_s = last_s = clock.now()
        self.started_cpu_s = cpu_seconds()
        self.schedule = Schedule(DEFAULT_PERIOD_S, self.started_s)
        self._progress_s, self._progress_busy_s = self.started_s, 0.0
        next_progress_s = self.started_s + PROGRESS_EVERY_S
        try:
            while not self.stop_requested:
                self.held.sleep_until(clock, self.schedule.next_due_s, self.clients)
                now = clock.now()
                if now - self.started_s >= self.options.duration_s:
                    break
                self.schedule.begin(now)
                self._iteration(now, now - last_s)
                last_s = now
                self.held.rebuild(self.clients)
                self.busy_s += clock.now() - now
                if self.options.progress is not None and now >= next_progress_s:
                    next_progress_s += PROGRESS_EVERY_S
                    self.options.progress(self._progress_line(now))
        except KeyboardInterrupt:
            pass  # a second Ctrl-C (the first only asks to stop): still end cleanly, with figures
        self.ended_s = clock.now()
        ended_cpu_s = cpu_seconds()
        if self.started_cpu_s is not None and ended_cpu_s is not None:
            self.cpu_s = ended_cpu_s - self.started_cpu_s
        for client in self.clients:
            client.finish(self.ended_s)
        return self.figures()

    def _iteration(self, now: float, dt_s: float) -> None:
        self._join_more(now)
        predicting = self.options.predict  # the first clients; timed apart, for what each kind costs
        start_s = self.clock.now()
        for client in self.clients[:predicting]:
            client.step(now, dt_s)
        split_s = self.clock.now()
        for client in self.clients[predicting:]:
            client.step(now, dt_s)
        self.predicting_busy_s += split_s - start_s
        self.session_busy_s += self.clock.now() - split_s
        if self.tick_rate is None:
            self._learn_rates()

    def _join_more(self, now: float) -> None:
        options = self.options
        for _ in range(min(options.ramp, options.clients - len(self.clients))):
            index = len(self.clients)
            transport, udp = self.transports(index)
            name = f"{options.name_prefix}{index}"[:MAX_NAME_CHARS]
            bot = make_bot(options.bot, options.seed + index)
            if index < options.predict:
                client = PredictingClient(index, transport, udp, options.server, name, bot, now)
            else:
                client = SessionClient(index, transport, udp, options.server, name, bot, now, options.decode_state)
            if self.shared is not None:
                client.session.decode_delta = self.shared
            self.clients.append(client)

    def _learn_rates(self) -> None:
        for client in self.clients:
            accept = client.session.accept
            if accept is not None:
                self.tick_rate, self.snapshot_rate = accept.tick_rate, accept.snapshot_rate
                self.schedule.retime(1.0 / accept.tick_rate)
                return

    def _progress_line(self, now: float) -> str:
        connected = sum(c.session.state is ClientState.CONNECTED for c in self.clients)
        schedule = self.schedule
        busy_pct = 100 * (self.busy_s - self._progress_busy_s) / max(1e-9, now - self._progress_s)
        line = (f"loadgen: {now - self.started_s:5.1f} s  connected {connected}/{self.options.clients}  "
                f"since the last line: late max {schedule.recent_late_max_ms:.1f} ms, busy {busy_pct:.0f}%")
        schedule.recent_late_max_ms = 0.0
        self._progress_s, self._progress_busy_s = now, self.busy_s
        return line

    # --- the figures -----------------------------------------------------------------------------

    def figures(self) -> dict[str, object]:
        clients = self.clients
        joined = [c for c in clients if c.session.accept is not None]
        sessions = [c.session for c in clients]
        expected = sum(s.snapshots_expected() for s in sessions)
        lost = sum(s.snapshots_lost() for s in sessions)
        rtt = [sample for s in sessions for sample in s.conn.rtt_samples_ms]
        predicting = [c for c in clients if c.predicting]
        feel = [c.client.feel for c in predicting]
        elapsed_s = max(1e-9, self.ended_s - self.started_s)
        dropped: Counter = Counter()
        for s in sessions:
            dropped.update(s.dropped)
        ended = Counter(c.end_reason or c.session.state.value for c in clients if not c.connected_at_end)
        if len(clients) < self.options.clients:
            ended["not started (stopped while joining)"] = self.options.clients - len(clients)
        join_ms = [1000 * (c.accepted_s - c.started_s) for c in joined if c.accepted_s is not None]
        figures: dict[str, object] = {
            "clients": self.options.clients,
            "clients_started": len(clients),
            "clients_joined": len(joined),
            "clients_connected": sum(c.connected_at_end for c in clients),
            "predicting_clients": len(predicting),
            "snapshots_received": sum(s.snapshots_received for s in sessions),
            "snapshot_loss_pct": round(100 * lost / expected, 2) if expected else 0.0,
            "rtt_ms_mean": round(mean(rtt), 2),
            "rtt_ms_p95": round(percentile(rtt, 95), 2),
            "corrections": sum(f.corrections_px.count for f in feel),
            "correction_px_max": round(max((f.corrections_px.max for f in feel), default=0.0), 3),
            "bytes_in_per_s": round(mean(c.session.conn.bytes_in / max(1e-9, self.ended_s - c.started_s)
                                         for c in joined), 1),
            "bytes_out_per_s": round(mean(c.session.conn.bytes_out / max(1e-9, self.ended_s - c.started_s)
                                          for c in joined), 1),
            "inputs_sent": sum(s.next_input_seq for s in sessions),
            "join_ms_max": round(max(join_ms, default=0.0), 1),
            "dropped_packets": dict(dropped),
            "ended": dict(ended),
            "tick_rate": self.tick_rate,
            "snapshot_rate": self.snapshot_rate,
            "duration_s": round(elapsed_s, 3),
            # Every client is stepped once per iteration: this is each one's frame rate.
            "fps_mean": round((self.schedule.iterations if self.schedule else 0) / elapsed_s, 2),
            "loadgen_busy_pct": round(100 * self.busy_s / elapsed_s, 2),
            # Busy well above CPU: the generator was waiting for a core that other processes held.
            "loadgen_cpu_pct": None if self.cpu_s is None else round(100 * self.cpu_s / elapsed_s, 2),
            # What one client of each kind costs, in percent of one core (wall time while stepping it).
            "loadgen_predicting_client_pct": round(100 * self.predicting_busy_s / elapsed_s / len(predicting), 3)
            if predicting else None,
            "loadgen_session_client_pct": round(100 * self.session_busy_s / elapsed_s / (len(clients) - len(predicting)), 3)
            if len(clients) > len(predicting) else None,
        }
        if self.schedule is not None:
            figures.update(self.schedule.figures())
        if self.shared is not None:
            figures.update(self.shared.figures())
        return figures


# --- the command line ----------------------------------------------------------------------------


def _count(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
    if not 0 < value <= 86_400 or math.isnan(value):
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most 86400 s, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.loadgen",
        description="Many real client sessions in one process against a server: snapshot loss, round trip, "
                    "bytes per client and corrections, and the generator's own lateness.",
        epilog="--predict: a predicting client runs the whole client frame and costs as much as about 50 "
               "session-only clients at 128 players (about 20% of a core against 0.4%). At 128 clients in all "
               "one core affords 0 predicting clients: 128 session-only clients took 51% of a core and kept "
               "the schedule; with 1 predicting client the generator used 72% and fell behind (24% of "
               "iterations more than a tick late). At 64 clients, 1 predicting client used 30%. Check "
               "loadgen_late_pct, loadgen_busy_pct and loadgen_cpu_pct in the figures: a generator that falls "
               "behind is not a slow server.")
    parser.add_argument("--host", default="127.0.0.1", help="server address (default %(default)s)")
    parser.add_argument("--port", type=port_number, required=True, help="server UDP port")
    parser.add_argument("--clients", type=_count(1), required=True, metavar="N", help="clients to run")
    parser.add_argument("--duration", type=_seconds, required=True, metavar="S",
                        help="seconds to run, joining included; then every client disconnects")
    parser.add_argument("--predict", type=_count(0), metavar="K",
                        help=f"the first K clients run the whole client frame (prediction, reconciliation) "
                             f"and report corrections (default 1 up to {ONE_PREDICTING_UP_TO} clients, 0 above; "
                             f"see below)")
    parser.add_argument("--bot", choices=BOT_NAMES, default="random",
                        help="the bot every client plays (default %(default)s; random gets seed + client index)")
    parser.add_argument("--seed", type=int, default=1, help="first bot seed (default %(default)s)")
    parser.add_argument("--ramp", type=_count(1), default=DEFAULT_RAMP, metavar="PER_TICK",
                        help="clients that start joining per tick (default %(default)s)")
    parser.add_argument("--name-prefix", default="load", metavar="TEXT",
                        help="player names are TEXT0, TEXT1, ... (default %(default)s)")
    parser.add_argument("--decode-state", action="store_true",
                        help="session-only clients also turn every snapshot into the game's world, as a "
                             "player's client does (costs about as much again; the server cannot tell)")
    parser.add_argument("--no-shared-decode", dest="shared_decode", action="store_false",
                        help="every client decodes its own delta snapshots, as N machines would (by default "
                             "a snapshot the server sent to many clients is decoded once in this process)")
    parser.add_argument("--stats-json", metavar="PATH", help="also write the figures to PATH")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    add_link_arguments(parser)
    return parser


def parse_options(argv: list[str] | None) -> tuple[LoadOptions, argparse.Namespace]:
    parser = build_parser()
    args = parser.parse_args(argv)
    link = settings_or_error(args, parser)
    predict = default_predict(args.clients) if args.predict is None else args.predict
    if predict > args.clients:
        parser.error(f"argument --predict: at most --clients ({args.clients}), got {predict}")
    if not args.name_prefix.strip() or not args.name_prefix.isprintable() or len(args.name_prefix) > MAX_NAME_CHARS - 3:
        parser.error(f"argument --name-prefix: 1..{MAX_NAME_CHARS - 3} printable characters, got {args.name_prefix!r}")
    try:
        host = socket.gethostbyname(args.host)
    except OSError:
        parser.error(f"argument --host: cannot resolve {args.host!r}")
    options = LoadOptions(server=(host, args.port), clients=args.clients, duration_s=args.duration, predict=predict,
                          bot=args.bot, seed=args.seed, link=link, net_seed=args.net_seed, ramp=args.ramp,
                          name_prefix=args.name_prefix.strip(), decode_state=args.decode_state,
                          shared_decode=args.shared_decode)
    return options, args


def _enough_sockets(clients: int) -> str:
    """Raise the open-files limit for one socket per client if we may; "" if enough, else why not."""
    try:
        import resource
    except ImportError:  # not a Unix: nothing to check
        return ""
    needed = clients + 64  # the interpreter's own files, with room to spare
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return ""
    if hard == resource.RLIM_INFINITY or hard >= needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
        return ""
    return f"{clients} clients need {needed} open files, and this process may open at most {hard} (ulimit -n)"


def main(argv: list[str] | None = None) -> int:
    options, args = parse_options(argv)
    problem = _enough_sockets(options.clients)
    if problem:
        build_parser().error(f"argument --clients: {problem}")

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    if not args.quiet:
        options.progress = say
    generator = LoadGenerator(options, MonotonicClock())
    interrupts = {"count": 0}

    def on_signal(signum, frame) -> None:  # the first asks to stop cleanly; a second Ctrl-C forces it
        interrupts["count"] += 1
        generator.stop()
        if interrupts["count"] > 1 and signum == signal.SIGINT:
            raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    if not args.quiet:  # from here on, Ctrl-C stops the run cleanly
        say(f"loadgen: {options.clients} clients ({options.predict} predicting, bot {options.bot}) -> "
            f"{options.server[0]}:{options.server[1]} for {options.duration_s:g} s")
    try:
        figures = generator.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print(json.dumps(figures, indent=2, sort_keys=True), flush=True)
    if args.stats_json:
        write_stats_json(args.stats_json, figures)
    if figures["clients_connected"] < options.clients:
        for reason, count in sorted(figures["ended"].items()):
            say(f"loadgen: {count} client(s) not connected at the end: {printable(reason)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
