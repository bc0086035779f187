"""Remote-player interpolation: draw other players a little in the past, between two snapshots.

Theory of operation
-------------------
Snapshots arrive 20-30 times a second, late by a varying amount, and sometimes not at all. If
remote players were drawn at the newest snapshot, they would move in jerks and freeze on every
loss. Instead we keep a *render clock* that runs in server time, a fixed ``delay`` behind our
best estimate of "now on the server", and draw each remote player interpolated between the two
snapshots around that render time (Valve's ``cl_interp``; Gambetta's "entity interpolation").

Estimating server time: a snapshot of tick ``T`` arriving at local time ``t`` says that
``offset = T / tick_rate - t`` at most (it may have been delayed). The *largest* offset seen over
the last ``OFFSET_WINDOW_S`` belongs to the fastest packet, so ``now + max_offset`` is the server
time as the fastest packet would show it. Every other snapshot is *late* by
``max_offset - its offset``.

The delay (``adaptive_delay_s``) is ``2 * interval + late_p90``:

* one ``interval`` (the measured mean gap between received snapshot ticks, which grows with
  loss) because to interpolate toward a snapshot it must already be here, and it arrives up to one
  interval after the one before;
* a second ``interval`` so that one lost snapshot is bridged by interpolating across the gap
  instead of running off the end;
* ``late_p90``, the 90th percentile of lateness over the last ``LATE_WINDOW`` snapshots: the
  jitter. Nine snapshots in ten arrive in time; the tenth is covered by the spare interval.

``--interp-ms`` fixes the delay instead. The render clock does not jump to follow the target; it
runs up to ``SLEW`` (10%) fast or slow until it meets it, so small changes of the delay never
make remote players skip. Only when the clock is more than ``RESYNC_S`` (250 ms) off the target
(the first snapshot, a long outage, the server restarting) does it jump, and then remote players
do visibly skip, once. When the render time passes the newest snapshot (a burst of loss), players
are *extrapolated* along their last velocity for at most ``max_extrapolation_s`` (250 ms), then
held where they are.

How smooth remote players look depends on the snapshots too: they are drawn faithfully between
the server's positions, so if the server's own track hitches (a tick with no input from that
player, then one with two), interpolation draws the hitch. The server's input buffer
(``input_buffer.py``) is what keeps that track even.

The ``interpolation`` and ``extrapolation`` switches are read here, when a frame is sampled.
"""
from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass, field

from .game_api import EntityState
from .stats import percentile
from .switches import Switches

OFFSET_WINDOW_S = 2.0
LATE_WINDOW = 64
SLEW = 0.10
SLEW_TIME_S = 0.5  # a render-clock error is worked off over about this long
RESYNC_S = 0.25  # further off than this, jump rather than slew
HISTORY_S = 1.5


@dataclass
class InterpolationSettings:
    fixed_delay_ms: float | None = None  # None: adaptive
    max_extrapolation_s: float = 0.25


@dataclass
class Sample:
    """What to draw this frame."""

    positions: dict[int, tuple[float, float]] = field(default_factory=dict)
    render_time_s: float = 0.0  # server time being shown
    delay_s: float = 0.0  # newest snapshot time minus the shown time
    extrapolated: bool = False


class Interpolator:
    def __init__(self, tick_rate: int, snapshot_rate: int, settings: InterpolationSettings,
                 switches: Switches | None = None) -> None:
        self.tick_rate = tick_rate
        self.nominal_interval_s = 1.0 / snapshot_rate
        self.settings = settings
        self.switches = switches if switches is not None else Switches()
        self.snapshots: list[tuple[int, dict[int, EntityState]]] = []  # sorted by tick
        self.offsets: deque[tuple[float, float]] = deque()  # (arrival time, offset sample)
        self.late_s: deque[float] = deque(maxlen=LATE_WINDOW)
        self.render_time_s: float | None = None

    # --- input ---------------------------------------------------------------------------------

    def add(self, tick: int, entities: dict[int, EntityState], now: float) -> None:
        """Store a snapshot (in any order) and learn from when it arrived."""
        ticks = [t for t, _ in self.snapshots]
        i = bisect.bisect_left(ticks, tick)
        if i < len(ticks) and ticks[i] == tick:
            return
        self.snapshots.insert(i, (tick, entities))
        sample = tick / self.tick_rate - now
        self.offsets.append((now, sample))
        while self.offsets and self.offsets[0][0] < now - OFFSET_WINDOW_S:
            self.offsets.popleft()
        self.late_s.append(self.server_offset_s() - sample)
        self._forget_old()

    def _forget_old(self) -> None:
        horizon_s = (self.render_time_s if self.render_time_s is not None else self.newest_time_s()) - HISTORY_S
        while len(self.snapshots) > 2 and self.snapshots[1][0] / self.tick_rate < horizon_s:
            self.snapshots.pop(0)

    # --- clock and delay -----------------------------------------------------------------------

    def server_offset_s(self) -> float:
        return max(sample for _, sample in self.offsets)

    def newest_time_s(self) -> float:
        return self.snapshots[-1][0] / self.tick_rate

    def measured_interval_s(self) -> float:
        ticks = [t for t, _ in self.snapshots[-LATE_WINDOW:]]
        if len(ticks) < 2:
            return self.nominal_interval_s
        return (ticks[-1] - ticks[0]) / (len(ticks) - 1) / self.tick_rate

    def adaptive_delay_s(self) -> float:
        if self.settings.fixed_delay_ms is not None:
            return self.settings.fixed_delay_ms / 1000
        return 2 * self.measured_interval_s() + percentile(self.late_s, 90)

    def _advance_clock(self, now: float, dt_s: float) -> None:
        target_s = now + self.server_offset_s() - self.adaptive_delay_s()
        if self.render_time_s is None or abs(target_s - self.render_time_s) > RESYNC_S:
            self.render_time_s = target_s
            return
        error_s = target_s - (self.render_time_s + dt_s)
        rate = max(-SLEW, min(SLEW, error_s / SLEW_TIME_S))
        self.render_time_s += dt_s * (1 + rate)

    # --- output --------------------------------------------------------------------------------

    def sample(self, now: float, dt_s: float) -> Sample:
        """Advance the render clock by one frame and return the positions to draw."""
        if not self.snapshots:
            return Sample()
        self._advance_clock(now, dt_s)
        if not self.switches.interpolation:
            tick, entities = self.snapshots[-1]
            return Sample({pid: (e.x_px, e.y_px) for pid, e in entities.items()},
                          self.render_time_s, 0.0, False)
        return self._interpolate(self.render_time_s)

    def _interpolate(self, render_time_s: float) -> Sample:
        newest_s = self.newest_time_s()
        if render_time_s >= newest_s:
            return self._extrapolate(render_time_s, newest_s)
        positions = self.reference_at(render_time_s)
        return Sample(positions, render_time_s, newest_s - render_time_s, False)

    def reference_at(self, time_s: float) -> dict[int, tuple[float, float]]:
        """Positions linearly interpolated between the stored snapshots around ``time_s``."""
        ticks = [t for t, _ in self.snapshots]
        i = bisect.bisect_right(ticks, time_s * self.tick_rate)
        if i == 0:
            return {pid: (e.x_px, e.y_px) for pid, e in self.snapshots[0][1].items()}
        if i == len(ticks):
            return {pid: (e.x_px, e.y_px) for pid, e in self.snapshots[-1][1].items()}
        (tick_a, a), (tick_b, b) = self.snapshots[i - 1], self.snapshots[i]
        f = (time_s * self.tick_rate - tick_a) / (tick_b - tick_a)
        positions = {}
        for pid, ea in a.items():
            eb = b.get(pid, ea)  # a player who left is held where last seen
            positions[pid] = (ea.x_px + (eb.x_px - ea.x_px) * f, ea.y_px + (eb.y_px - ea.y_px) * f)
        for pid, eb in b.items():
            positions.setdefault(pid, (eb.x_px, eb.y_px))  # one who just joined appears at once
        return positions

    def _extrapolate(self, render_time_s: float, newest_s: float) -> Sample:
        _, newest = self.snapshots[-1]
        ahead_s = render_time_s - newest_s
        if self.switches.extrapolation:
            ahead_s = min(ahead_s, self.settings.max_extrapolation_s)
        else:
            ahead_s = 0.0
        positions = {pid: (e.x_px + e.vx_px_s * ahead_s, e.y_px + e.vy_px_s * ahead_s)
                     for pid, e in newest.items()}
        return Sample(positions, render_time_s, newest_s - render_time_s, ahead_s > 0)
