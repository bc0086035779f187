"""Deliberately wrong simulation steps: the three classic causes of a frame-sync desync.

Theory of operation: ``run_client.py --inject-desync CAUSE`` gives that client rules whose
``step`` breaks one determinism rule, as a real bug would; its rules hash is unchanged (the bug is
in the code, not in the constants), so the handshake lets it in. Each cause comes from the field
(FAForever's desync hunts):

* ``iteration-order``: players are processed in the order of a ``set`` of objects hashed by
  *identity* (memory addresses), not in id order. Set order differs between machines and runs,
  and so does everything that depends on order: pushes in a crowd of three or more, who is drawn
  to be it, who gets a contested pickup. Two players bumping alone push each other the same way in
  any order, so this one can take a while to show.
* ``wall-clock``: the step reads the real clock. Movement is scaled by the measured time since the
  last step (as a game that multiplies by its frame time would), so every machine moves a moving
  player a slightly different distance.
* ``per-player``: the step uses a value that differs per player: the local player's id. Here the
  local player is allowed one more subpixel per tick of top speed, a "client setting" that only
  this machine applies.

``FaultyRules.first_divergence`` is the first frame whose state the fault changed (the fault runs
the correct step too, to know): a test can then check the server caught it within ``hash_every``
frames.
"""
from __future__ import annotations

from dataclasses import replace

from netcode.clock import MonotonicClock

from . import sim
from .netgame import SimRules

CAUSES = ("iteration-order", "wall-clock", "per-player")


class _Handle:
    """A player behind an identity-hashed object (the default ``object.__hash__``)."""

    __slots__ = ("player",)

    def __init__(self, player: sim.Player) -> None:
        self.player = player


class FaultyRules(SimRules):
    def __init__(self, tick_rate: int, cause: str, local_id: int) -> None:
        if cause not in CAUSES:
            raise ValueError(f"unknown desync cause {cause!r}; choose from {', '.join(CAUSES)}")
        super().__init__(tick_rate)
        self.cause = cause
        self.local_id = local_id
        self.first_divergence: int | None = None
        self._last_step_s: float | None = None
        self._clock = MonotonicClock()  # the bug: a real clock read inside the simulation

    def step(self, world: sim.World, inputs, views=None) -> sim.World:
        right = super().step(world, inputs, views)
        wrong = getattr(self, "_" + self.cause.replace("-", "_"))(world, right, inputs, views)
        if wrong != right and self.first_divergence is None:
            self.first_divergence = right.tick
        return wrong

    def _iteration_order(self, world: sim.World, right: sim.World, inputs, views) -> sim.World:
        """The same step, but with the players in the order of a set of identity-hashed handles:
        pushes in a crowd, the draw of who is it and contested pickups all go by that order."""
        shuffled = replace(world, players=tuple(h.player for h in {_Handle(p) for p in world.players}))
        wrong = super().step(shuffled, inputs, views)
        return replace(wrong, players=tuple(sorted(wrong.players, key=lambda p: p.id)))

    def _wall_clock(self, world: sim.World, right: sim.World, inputs, views) -> sim.World:
        """Movement scaled by the real time since the last step, not by the fixed tick."""
        now = self._clock.now()
        ratio = 1.0 if self._last_step_s is None else (now - self._last_step_s) * self.tick_rate
        self._last_step_s = now
        players = tuple(replace(p, x=p.x + round(p.vx * (ratio - 1.0)), y=p.y + round(p.vy * (ratio - 1.0)))
                        for p in right.players)
        return replace(right, players=players)

    def _per_player(self, world: sim.World, right: sim.World, inputs, views) -> sim.World:
        """The local player runs one subpixel a tick faster at top speed than everyone else."""
        players = []
        for p in right.players:
            if p.id == self.local_id and (p.vx or p.vy) and abs(p.vx) + abs(p.vy) >= self.physics.max_speed:
                p = replace(p, x=p.x + (1 if p.vx > 0 else -1 if p.vx < 0 else 0))
            players.append(p)
        return replace(right, players=tuple(players))
