"""Error smoothing: hide a correction by spreading it over a short time instead of one frame.

Theory of operation: the *simulated* local position (prediction) must jump when the server
corrects us, or prediction would drift from the truth. The *drawn* position need not: it is the
simulated one plus a visual ``offset``. A correction of ``d`` adds ``-d`` to the offset, so the
player stays exactly where it was drawn this frame, and the offset then shrinks to zero along a
straight line over ``smooth_ms``: ``offset(t) = start * (1 - t / smooth_ms)``, where ``start`` is
the offset when the decay began (Quake III's ``cg.predictedError``, decayed over
``cg_errorDecay``). So each frame takes the same share of the *starting* offset,
``start * frame_time / smooth_ms``, which keeps the largest visible jump a fraction of the
correction. A correction that lands while an earlier one is still decaying folds into what is
left of it and restarts the decay from there.

Why linear and why 100 ms: a linear decay is easy to reason about (the error is gone after
exactly ``smooth_ms``) and moves the player at a constant extra speed; an exponential decay never
quite ends. 100 ms is about three snapshot intervals: short enough that the drawn player never
lags the truth for long, long enough that a typical push correction of 10 to 20 px is spread
over six frames at 60 fps.

An error larger than ``teleport_px`` is a real jump (a respawn, a huge lag spike): smoothing it
would draw the player sliding through walls, so it snaps at once and the offset is cleared.
"""
from __future__ import annotations

import math

from .switches import Switches


class ErrorSmoother:
    def __init__(self, smooth_ms: float = 100.0, teleport_px: float = 96.0, switches: Switches | None = None) -> None:
        if smooth_ms < 0:
            raise ValueError(f"smooth_ms must be >= 0, got {smooth_ms}")
        self.smooth_ms = smooth_ms
        self.teleport_px = teleport_px  # three player diameters: far more than a push moves us between snapshots
        self.switches = switches if switches is not None else Switches()
        self.error_x_px = 0.0  # the offset when the current decay started
        self.error_y_px = 0.0
        self.elapsed_ms = 0.0
        self.snaps = 0

    @property
    def offset(self) -> tuple[float, float]:
        if self.smooth_ms == 0 or self.elapsed_ms >= self.smooth_ms:
            return 0.0, 0.0
        left = 1.0 - self.elapsed_ms / self.smooth_ms
        return self.error_x_px * left, self.error_y_px * left

    def on_correction(self, dx_px: float, dy_px: float) -> None:
        """The simulated position just moved by (dx, dy) because of a server correction."""
        if not self.switches.smoothing or self.smooth_ms == 0:
            return
        ox, oy = self.offset
        new_x, new_y = ox - dx_px, oy - dy_px
        if math.hypot(new_x, new_y) > self.teleport_px:
            self.snaps += 1
            self.reset()
            return
        self.error_x_px, self.error_y_px, self.elapsed_ms = new_x, new_y, 0.0

    def update(self, dt_s: float) -> None:
        """Let one frame's worth of the offset go."""
        if not self.switches.smoothing:
            self.reset()
            return
        self.elapsed_ms += dt_s * 1000

    def reset(self) -> None:
        self.error_x_px = self.error_y_px = 0.0
        self.elapsed_ms = 0.0

    def apply(self, x_px: float, y_px: float) -> tuple[float, float]:
        ox, oy = self.offset
        return x_px + ox, y_px + oy
