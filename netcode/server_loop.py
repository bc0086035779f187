"""The server's fixed-timestep loop: tick exactly ``tick_rate`` times a second, without drift.

Theory of operation: tick *n* is due at ``start + n * TICK_DT``, computed from the start each
time rather than by adding ``TICK_DT`` to the previous deadline, so rounding and late wake-ups
never accumulate into drift. Between deadlines the loop sleeps *in the socket* (``wait``), so a
packet is read as soon as it lands. If a tick runs late (the machine was busy) the loop catches
up by ticking again at once, counting an overrun when it is more than a whole tick behind; after
a very long stall (a suspended laptop) it gives up on the lost time instead of fast-forwarding.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Protocol

from .server import ServerSession
from .stats import Summary

MAX_CATCHUP_TICKS = 30  # past this many ticks behind, skip the lost time instead of racing


class Clock(Protocol):
    """What the loop needs of ``netcode.clock``: a real ``MonotonicClock`` or a test's ``FakeClock``."""

    def now(self) -> float: ...


@dataclass
class LoopStats:
    tick_ms: Summary = field(default_factory=Summary)  # p50 and p99 over the last 4096 ticks
    overruns: int = 0
    ticks: int = 0
    started_s: float = 0.0
    ended_s: float = 0.0

    def as_dict(self, tick_rate: int) -> dict[str, float | int]:
        elapsed_s = max(1e-9, self.ended_s - self.started_s)
        measured_hz = self.ticks / elapsed_s
        return {
            "tick_ms_p50": round(self.tick_ms.percentile(50), 3),
            "tick_ms_p99": round(self.tick_ms.percentile(99), 3),
            "tick_ms_max": round(self.tick_ms.max, 3),
            "tick_overruns": self.overruns,
            "tick_rate_measured_hz": round(measured_hz, 3),
            "tick_rate_error_pct": round(100 * (measured_hz - tick_rate) / tick_rate, 3),
            "duration_s": round(elapsed_s, 3),
        }


def run_server_loop(session: ServerSession, clock: Clock, stop: threading.Event,
                    duration_s: float | None = None) -> LoopStats:
    """Tick ``session`` until ``stop`` is set, ``duration_s`` has passed, or Ctrl-C."""
    stats = LoopStats(started_s=clock.now())
    try:
        _loop(session, clock, stop, duration_s, stats)
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a person stops a server: finish cleanly, with figures
    stats.ended_s = clock.now()
    return stats


def _loop(session: ServerSession, clock: Clock, stop: threading.Event, duration_s: float | None,
          stats: LoopStats) -> None:
    dt_s = 1.0 / session.config.tick_rate
    start_s = stats.started_s
    while not stop.is_set() and session.stop_reason is None:
        now = clock.now()
        if duration_s is not None and now - stats.started_s >= duration_s:
            break
        due_s = start_s + stats.ticks * dt_s
        if now < due_s:
            session.transport.wait(due_s - now, now)
            session.receive(clock.now())
            continue
        behind_ticks = (now - due_s) / dt_s
        if behind_ticks > MAX_CATCHUP_TICKS:
            start_s += (int(behind_ticks) - 1) * dt_s  # forget the lost time
        elif behind_ticks >= 1:
            stats.overruns += 1
        session.receive(now)
        session.tick_once(now)
        stats.ticks += 1
        stats.tick_ms.add((clock.now() - now) * 1000)
