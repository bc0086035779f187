"""The techniques a player can switch on and off, live: one shared object, read where each acts.

Theory of operation: every technique of the client is a field here. One ``Switches`` value is
shared by the pieces of a client (``ClientFrame`` hands it to each), and each piece reads *its*
field at the moment it acts: the predictor when it reconciles, the smoother when it decays, the
interpolator when it samples, the clock when it dilates. So a key press that flips a field takes
effect on the next frame, and no piece keeps a stale copy.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

NAMES = ("prediction", "reconciliation", "smoothing", "interpolation", "extrapolation", "time_dilation")


@dataclass
class Switches:
    prediction: bool = True  # draw our own player from local prediction (else from snapshots)
    reconciliation: bool = True  # replay unacknowledged inputs on each snapshot
    smoothing: bool = True  # spread a correction over ``smooth_ms`` instead of one frame
    interpolation: bool = True  # draw remote players between snapshots, in the past
    extrapolation: bool = True  # run them on along their velocity when snapshots stop
    time_dilation: bool = True  # run our ticks slightly fast or slow to keep the server's buffer right

    def as_dict(self) -> dict[str, bool]:
        return asdict(self)

    def toggle(self, name: str) -> None:
        if name not in NAMES:
            raise ValueError(f"unknown switch {name!r}; choose from {', '.join(NAMES)}")
        setattr(self, name, not getattr(self, name))
