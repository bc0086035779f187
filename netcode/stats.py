"""Small measuring tools shared by server and client, and the stats JSON writer.

Theory of operation: figures are gathered as plain numbers while the program runs and turned
into the named fields of the stats JSON (``docs/measuring.md`` lists them) only when asked, so
the hot loops pay for an addition, not for statistics. A program may run for days, so nothing
here grows with time: ``RunningMean`` keeps a count and a sum, ``Summary`` adds the maximum and
a fixed-size window of recent values for percentiles. The field names are a stable interface:
benchmarks and reports read them.
"""
from __future__ import annotations

import json
import math
from collections import Counter, deque
from pathlib import Path
from typing import Any, Iterable


def percentile(values: Iterable[float], pct: float) -> float:
    """The nearest-rank percentile (0 for no values)."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return float(ordered[min(rank, len(ordered)) - 1])


def mean(values: Iterable[float]) -> float:
    items = list(values)
    return float(sum(items) / len(items)) if items else 0.0


class RunningMean:
    """The mean of everything added, in constant memory."""

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0

    def add(self, value: float) -> None:
        self.count += 1
        self.total += value

    def merge(self, other: "RunningMean") -> None:
        self.count += other.count
        self.total += other.total

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0


class Summary(RunningMean):
    """Count, mean and maximum of everything added; percentiles over the last ``window`` values."""

    def __init__(self, window: int = 4096) -> None:
        super().__init__()
        self.max = 0.0
        self.recent: deque[float] = deque(maxlen=window)

    def add(self, value: float) -> None:
        super().add(value)
        self.max = max(self.max, value) if self.count > 1 else value
        self.recent.append(value)

    def percentile(self, pct: float) -> float:
        return percentile(self.recent, pct)


class DropCounter(Counter):
    """Dropped datagrams by reason: ``drops.add("undecodable")``."""

    def add(self, reason: str) -> None:
        self[reason] += 1

    @property
    def total(self) -> int:
        return sum(self.values())


class RateMeter:
    """Bytes (or anything) per second over a sliding window, for the HUD and the net graph."""

    def __init__(self, window_s: float = 1.0) -> None:
        self.window_s = window_s
        self.events: deque[tuple[float, int]] = deque()
        self.total = 0

    def add(self, amount: int, now: float) -> None:
        self.events.append((now, amount))
        self.total += amount
        self._expire(now)

    def _expire(self, now: float) -> None:
        while self.events and self.events[0][0] < now - self.window_s:
            self.events.popleft()

    def per_s(self, now: float) -> float:
        self._expire(now)
        return sum(a for _, a in self.events) / self.window_s


def write_stats_json(path: str | Path, stats: dict[str, Any]) -> None:
    """Write ``stats`` as pretty JSON, creating parent folders."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(stats, indent=2, sort_keys=True) + "\n")
