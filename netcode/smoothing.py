"""Error smoothing: hide a correction by spreading it over a short time instead of one frame.

Theory of operation: the *simulated* local position (prediction) must jump when the server
corrects us, or prediction would drift from the truth. The *drawn* position need not: it is the
simulated one plus a visual ``offset``. A correction of ``d`` adds ``-d`` to the offset, so the
player stays exactly where it was drawn this frame, and the offset then shrinks linearly to zero
over ``smooth_ms`` (Quake III's ``cg.predictedError``, decayed over ``cg_errorDecay``). Linear
decay moves the player the same small amount each frame, ``offset * frame_time / smooth_ms``,
which is what keeps the largest visible jump a fraction of the correction. A correction that
lands while an earlier one is still decaying folds into it and restarts the decay.

An error larger than ``teleport_px`` is a real jump (a respawn, a huge lag spike): smoothing it
would draw the player sliding through walls, so it snaps at once and the offset is cleared.
"""
from __future__ import annotations

import math


class ErrorSmoother:
    def __init__(self, smooth_ms: float = 100.0, teleport_px: float = 96.0, enabled: bool = True) -> None:
        if smooth_ms < 0:
            raise ValueError(f"smooth_ms must be >= 0, got {smooth_ms}")
        self.smooth_ms = smooth_ms
        self.teleport_px = teleport_px
        self.enabled = enabled
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
        if not self.enabled or self.smooth_ms == 0:
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
        if not self.enabled:
            self.reset()
            return
        self.elapsed_ms += dt_s * 1000

    def reset(self) -> None:
        self.error_x_px = self.error_y_px = 0.0
        self.elapsed_ms = 0.0

    def apply(self, x_px: float, y_px: float) -> tuple[float, float]:
        ox, oy = self.offset
        return x_px + ox, y_px + oy
