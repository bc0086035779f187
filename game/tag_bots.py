"""Bots that play tag: the server's own players, and a client-side ``tagger`` for measurements.

Theory of operation: both decide from positions alone, each tick, with no memory but a seeded
generator for wandering and ``Unstick``: a bot that heads straight for someone behind an obstacle
stops against it, so after ``STUCK_INPUTS`` inputs without moving it walks sideways for a while.

* ``tag_brain`` plays inside the server (``run_server.py --bots N``) and reads the world as it
  is: an it chases the nearest runner it may tag and fires the beam when that runner is in range;
  a runner flees from the nearest it when one comes close, grabs a pickup nearby, and otherwise
  wanders like the random bot.
* ``tagger_bot`` plays a client (``run_client.py --bot tagger``) and sees only what that client
  draws: other players interpolated in the past. When it is it, it chases the nearest drawn runner
  and fires when the beam would cross that runner *on its screen*, which is exactly the case lag
  compensation is for. When it is not it, it walks into the nearest it to be tagged again, so a
  short run fires many shots (it is a measuring instrument, not a good player).
"""
from __future__ import annotations

import math
from typing import Callable, NamedTuple

from . import sim, tag
from .bots import Bot, random_bot

Point = tuple[float, float]
FLEE_RADIUS_PX = 260.0  # a runner runs once an it is this close
PICKUP_GREED_PX = 200.0  # a runner fetches a pickup this close
FIRE_MARGIN_PX = 8.0  # fire when the target is this far inside the beam's reach
STUCK_INPUTS = 12  # this many inputs of pushing without moving 2 px means a wall is in the way
SIDESTEP_INPUTS = 30  # then walk sideways (a quarter turn) this long
#: A quarter turn clockwise of each direction's bits (screen coordinates: +y is down).
_QUARTER_TURN = {sim.RIGHT: sim.DOWN, sim.DOWN: sim.LEFT, sim.LEFT: sim.UP, sim.UP: sim.RIGHT,
                 sim.RIGHT | sim.DOWN: sim.DOWN | sim.LEFT, sim.DOWN | sim.LEFT: sim.LEFT | sim.UP,
                 sim.LEFT | sim.UP: sim.UP | sim.RIGHT, sim.UP | sim.RIGHT: sim.RIGHT | sim.DOWN}


class Unstick:
    """Turns a bot's direction a quarter for a while when it has pushed against a wall too long."""

    def __init__(self) -> None:
        self.anchor: Point | None = None
        self.pushing = 0
        self.sidestep = 0

    def __call__(self, here: Point, bits: int) -> int:
        move = bits & sim.INPUT_MASK
        if self.sidestep:
            self.sidestep -= 1
            return (bits & ~sim.INPUT_MASK) | _QUARTER_TURN.get(move, move)
        if not move or self.anchor is None or math.dist(here, self.anchor) > 2.0:
            self.anchor, self.pushing = here, 0
        else:
            self.pushing += 1
            if self.pushing >= STUCK_INPUTS:
                self.sidestep, self.pushing = SIDESTEP_INPUTS, 0
        return bits


def steer(frm: Point, to: Point, away: bool = False) -> int:
    """Direction bits from ``frm`` towards ``to`` (or away), eight ways."""
    dx, dy = to[0] - frm[0], to[1] - frm[1]
    if away:
        dx, dy = -dx, -dy
    size = math.hypot(dx, dy) or 1.0
    bits = 0
    if dx / size > 0.38:
        bits |= sim.RIGHT
    elif dx / size < -0.38:
        bits |= sim.LEFT
    if dy / size > 0.38:
        bits |= sim.DOWN
    elif dy / size < -0.38:
        bits |= sim.UP
    return bits


def _nearest(me: Point, others: dict[int, Point]) -> tuple[int, Point] | None:
    if not others:
        return None
    pid = min(others, key=lambda k: (math.dist(me, others[k]), k))
    return pid, others[pid]


def on_beam(me: Point, aim: int, target: Point) -> bool:
    """Would a beam from ``me`` along ``aim`` cross a player drawn at ``target`` (rules' geometry)?"""
    s = sim.SUBPX
    return tag.beam_target(round(me[0] * s), round(me[1] * s), aim, [(0, round(target[0] * s), round(target[1] * s))],
                           sim.PLAYER_RADIUS_PX * s, s) == 0


def chase_and_fire(me: Point, target: Point, may_fire: bool) -> int:
    """Run at ``target``; add the fire bits when a beam aimed at it would reach it."""
    bits = steer(me, target)
    aim = tag.aim_towards(target[0] - me[0], target[1] - me[1])
    in_reach = math.dist(me, target) <= tag.BEAM_RANGE_PX + sim.PLAYER_RADIUS_PX - FIRE_MARGIN_PX
    if may_fire and in_reach and on_beam(me, aim, target):
        bits |= tag.fire_bits(aim)
    return bits


# --- the server's bots -----------------------------------------------------------------------

def tag_brain(seed: int) -> Callable[[int, sim.World, int], int]:
    """A server bot's brain: (input number, the world now, its id) -> input bits."""
    wander = random_bot(seed)
    unstick = Unstick()

    def brain(n: int, world: sim.World, player_id: int) -> int:
        me = world.player(player_id)
        if me is None:
            return 0
        here = (me.x / sim.SUBPX, me.y / sim.SUBPX)
        return unstick(here, _decide(n, world, me, here))

    def _decide(n: int, world: sim.World, me: sim.Player, here: Point) -> int:
        player_id = me.id
        others = {p.id: (p.x / sim.SUBPX, p.y / sim.SUBPX, p.tag) for p in world.players if p.id != player_id}
        if me.tag.it:
            runners = {pid: (x, y) for pid, (x, y, t) in others.items() if not t.it and t.immune_until <= world.tick}
            found = _nearest(here, runners)
            return wander(n, here) if found is None else chase_and_fire(here, found[1], me.tag.reload == 0)
        its = {pid: (x, y) for pid, (x, y, t) in others.items() if t.it}
        threat = _nearest(here, its)
        if threat is not None and math.dist(here, threat[1]) < FLEE_RADIUS_PX:
            return steer(here, threat[1], away=True)
        pickups = {k.slot: (k.x / sim.SUBPX, k.y / sim.SUBPX) for k in world.pickups}
        treat = _nearest(here, pickups)
        if treat is not None and math.dist(here, treat[1]) < PICKUP_GREED_PX:
            return steer(here, treat[1])
        return wander(n, here)

    return brain


# --- the client's tagger ---------------------------------------------------------------------

class Scene(NamedTuple):
    """What a client bot may know: what its screen shows, and its own tag state."""

    me: Point | None  # our player as drawn
    drawn: dict[int, Point]  # other players as drawn (interpolated in the past)
    it: bool  # we are it (our prediction)
    may_fire: bool  # ... and our reload has run out
    its: frozenset[int]  # who else is it (the newest snapshot)
    taggable: frozenset[int]  # runners that may be tagged now (the newest snapshot)


def tagger_bot(scene: Callable[[], Scene | None]) -> Bot:
    """``run_client.py --bot tagger``: chase and fire at drawn runners; be tagged when not it."""

    unstick = Unstick()

    def bot(n: int, pos: Point | None) -> int:
        s = scene()
        if s is None or s.me is None:
            return 0
        return unstick(s.me, _decide(s))

    def _decide(s: Scene) -> int:
        if s.it:
            runners = {pid: xy for pid, xy in s.drawn.items() if pid in s.taggable}
            found = _nearest(s.me, runners)
            return 0 if found is None else chase_and_fire(s.me, found[1], s.may_fire)
        its = {pid: xy for pid, xy in s.drawn.items() if pid in s.its}
        found = _nearest(s.me, its)
        return 0 if found is None else steer(s.me, found[1])

    return bot
