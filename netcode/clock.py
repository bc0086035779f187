"""The only module that reads the system time.

Theory of operation: every session object (server, client, connection, conditioner) receives
``now`` as an argument instead of asking the operating system. Production code passes
``MonotonicClock().now()``; tests pass a ``FakeClock`` they advance by hand, which makes timeouts,
RTT and jitter reproducible to the microsecond.
"""
from __future__ import annotations

import time


class MonotonicClock:
    """Seconds since an arbitrary start, never going backwards (immune to wall-clock changes)."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, duration_s: float) -> None:
        if duration_s > 0:
            time.sleep(duration_s)


class FakeClock:
    """A clock that only moves when told to; ``sleep`` advances it instantly."""

    def __init__(self, start_s: float = 0.0) -> None:
        self.time_s = start_s

    def now(self) -> float:
        return self.time_s

    def advance(self, duration_s: float) -> None:
        self.time_s += duration_s

    def sleep(self, duration_s: float) -> None:
        if duration_s > 0:
            self.time_s += duration_s
