"""Lag compensation: judge a shot against the world its shooter saw, not the world of now.

Theory of operation
-------------------
A client draws other players interpolated about 100 ms in the past (``interpolation.py``), and
its input then takes half a round trip to reach the server. So when a player fires at someone
drawn under the crosshair, that someone has moved on by the time the server runs the shot:
judged against the present, a shot that was a hit on the shooter's screen misses. Valve's Source
engine (and every shooter since) instead **rewinds** the other players to where the shooter's
screen showed them, judges there, and applies the result now.

1. **History.** The server remembers the world of every snapshot it sent, for the last
   ``cap_ms`` plus one snapshot interval (``remember``). Those are exactly the states a client
   can draw: nothing in between, nothing newer.
2. **The view time.** Every input packet carries ``view_256``: the server time, in 1/256 tick,
   that the client's screen showed when its newest input was sampled (the render time of the
   previous frame, the one the player was looking at). Inputs are sampled one per client tick and
   the render clock advances one tick per tick, so an older input in the same packet saw one tick
   less per step back (``view_for``).
3. **Rewind.** ``view`` finds the two remembered snapshots around the view time and asks the game
   to ``blend`` them, the same linear interpolation the client drew. The view time is clamped:
   never later than the newest snapshot sent (state the shooter could not have seen), never
   earlier than ``cap_ms`` before now.
4. **The cap.** A rewind lets a victim be hit up to that long after it left the shooter's sight
   (ducking behind cover "too late" is the price of lag compensation, paid by the victim). Source
   allows 1 s, for players across the internet, and so do we: a rewind is a round trip, plus the
   interpolation delay, plus the input buffer, plus the frame on screen. Measured with
   ``python -m tools.bench_lag``: on the link conditioner's ``wifi`` profile (100 ms round trip)
   rewinds average 250-280 ms and reach about 400 ms; on ``bad`` (250 ms round trip, 15% loss)
   they average 480-620 ms and reach about 780 ms. A 500 ms cap would cut the bad link's shots
   short; 1 s covers both. The price: a runner can be tagged up to 1 s (320 px of running) after
   leaving the shooter's sight. Older views are judged at the cap, where the target has usually
   moved: a miss.

With the switch off (``run_server.py --no-lag-compensation``) shots are judged against the
world of the tick before the shot, which is what the server alone knows.
"""
from __future__ import annotations

from collections import deque
from typing import Any

from .game_api import GameRules, Positions, World
from .stats import Summary

DEFAULT_CAP_MS = 1000


class LagCompensator:
    """The worlds of the snapshots sent lately, and the rewound view of one shot."""

    def __init__(self, rules: GameRules, tick_rate: int, cap_ms: int = DEFAULT_CAP_MS) -> None:
        self.rules = rules
        self.tick_rate = tick_rate
        self.cap_ticks = max(1, cap_ms * tick_rate // 1000)
        self.history: deque[tuple[int, World]] = deque()  # (tick, world), oldest first
        self.rewind_ms = Summary()
        self.clamped_old = 0  # views older than the cap
        self.clamped_new = 0  # views newer than the newest snapshot sent

    def remember(self, tick: int, world: World) -> None:
        """Keep the world of a snapshot just sent; forget what even the cap cannot reach."""
        self.history.append((tick, world))
        while len(self.history) > 2 and self.history[1][0] <= tick - self.cap_ticks:
            self.history.popleft()

    def view(self, view_256: int, now_tick: int) -> Positions | None:
        """The players as a screen showing server time ``view_256`` drew them (None: no history)."""
        if not self.history:
            return None
        newest_256 = self.history[-1][0] * 256
        earliest_256 = max(self.history[0][0], now_tick - self.cap_ticks) * 256
        if view_256 > newest_256:
            self.clamped_new += 1
        if view_256 < earliest_256:
            self.clamped_old += 1
        view_256 = max(earliest_256, min(view_256, newest_256))
        self.rewind_ms.add((now_tick * 256 - view_256) * 1000 / (256 * self.tick_rate))
        return self._blend_at(view_256)

    def _blend_at(self, view_256: int) -> Positions:
        later = next(i for i, (tick, _) in enumerate(self.history) if tick * 256 >= view_256)
        tick_b, world_b = self.history[later]
        if tick_b * 256 == view_256 or later == 0:
            return self.rules.positions(world_b)
        tick_a, world_a = self.history[later - 1]
        return self.rules.blend(world_a, world_b, view_256 - tick_a * 256, (tick_b - tick_a) * 256)

    def figures(self) -> dict[str, Any]:
        return {"rewind_ms_mean": round(self.rewind_ms.mean, 1), "rewind_ms_max": round(self.rewind_ms.max, 1),
                "rewinds": self.rewind_ms.count,
                "rewinds_clamped_to_cap": self.clamped_old, "rewinds_clamped_to_newest": self.clamped_new}


def view_for(newest_seq: int, newest_view_256: int, seq: int) -> int:
    """The view time of input ``seq``, from the view sent with ``newest_seq`` (one tick a step)."""
    return newest_view_256 - (newest_seq - seq) * 256
