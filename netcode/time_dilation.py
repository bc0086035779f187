"""Client time dilation: run our ticks a little fast or slow so our inputs reach the server just in time.

Theory of operation
-------------------
The server applies our input ``s`` at its tick ``s + offset`` (``input_buffer.py``). Whether the
input is there in time depends on when we produce it, and we produce one input per *client* tick.
Every snapshot reports the mean *lead* of our recent inputs (how many ticks before their due tick
they arrived) and the *target* lead the server wants, which covers the jitter it has measured.
If we are ahead of the target, our inputs wait in the buffer, and every tick of waiting is delay
that other players see; if we are behind it, some inputs arrive late and the server has a tick
with nothing to apply, then one with two: a hitch in our track that everyone else draws.

So we steer: with ``error = lead - target`` (ticks), we run our fixed-step clock at
``1 - error / (tick_rate * CONVERGE_S)`` times the normal rate, within ``MAX_DILATION``. Too
early by one tick at 60 Hz means 1/120 slower, about 0.8%, which works the tick off in about
two seconds, gently enough that the lead does not overshoot while the report is on its way.
Because producing inputs faster raises the lead directly, a proportional controller is enough
(the lead integrates the rate), and the change is too small for a player to feel: the local
player really does move that much faster or slower in wall-clock time, at most 5%.

A target of ``None`` means the server does not schedule inputs (``--input-buffer off``): we keep
the normal rate. So do we when the ``time_dilation`` switch is off.
"""
from __future__ import annotations

from .switches import Switches

MAX_DILATION = 0.05  # at most 5% faster or slower than the nominal tick rate
CONVERGE_S = 2.0  # an error is worked off over about this long (slower would lag; faster overshoots)


class TimeDilation:
    def __init__(self, tick_rate: int, switches: Switches) -> None:
        self.tick_rate = tick_rate
        self.switches = switches
        self.lead_ticks = 0.0
        self.target_ticks: float | None = None
        self._rate = 0.0  # the steering wanted by the newest feedback, before the switch

    def on_feedback(self, lead_ticks: float, target_ticks: float | None) -> None:
        """The server's report from the newest snapshot."""
        self.lead_ticks, self.target_ticks = lead_ticks, target_ticks
        if target_ticks is None:
            self._rate = 0.0
            return
        wanted = -(lead_ticks - target_ticks) / (self.tick_rate * CONVERGE_S)
        self._rate = max(-MAX_DILATION, min(MAX_DILATION, wanted))

    @property
    def rate(self) -> float:
        """How much faster than nominal our ticks run now: +0.02 is 2% faster."""
        return self._rate if self.switches.time_dilation else 0.0

    def tick_dt_s(self) -> float:
        """The length of our next fixed tick, in seconds of our own clock."""
        return 1.0 / (self.tick_rate * (1.0 + self.rate))
