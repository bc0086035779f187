"""The deterministic simulation: one pure ``step(world, inputs) -> world``.

Theory of operation
-------------------
The server and every client's prediction run this same module (Quake III's shared ``bg_pmove``
idea), so a client can only mispredict what it cannot know: other players. To make "the same
inputs give the same state, bit for bit" true on every machine:

* All positions and velocities are integers in fixed-point units of 1/256 pixel (``SUBPX``).
  Square roots use ``math.isqrt``; divisions truncate toward zero. No floats touch the state.
* Players are kept sorted by id and always processed in that order, never in hash or identity
  order. The one source of chance (pickups, who starts a round as it) is a generator whose state
  lives in the world (``World.round.rng``), so it travels in snapshots like any other state.
* Nothing here reads a clock, the frame rate or which player is local.

The game played on top of the movement, tag, is in ``tag.py``: ``step`` moves everyone, pushes
them apart, then runs tag's phases (beam shots, touches, pickups, the round clock).

Movement is driven per *input*, not per tick: ``step`` moves each player once for every input it
is given (usually one; none when that player's input has not arrived; two during a bounded
catch-up). A player's own motion is therefore a pure function of the sequence of its inputs,
whatever tick they land on, which is what lets a lone player predict with zero corrections. After
everyone has moved, overlapping players push each other apart; that push is the only thing a
client cannot predict.

The push is a *broad phase* then a *narrow phase*. Checking every pair is O(n^2): 8128 pairs at
128 players, most of the tick. Instead the moved positions are dropped into a uniform grid of
cells one player-diameter (``2 * radius``) wide, a dict keyed by integer cell coordinates. Two
players can only touch if their centres are less than a diameter apart on each axis, so they sit
in the same or neighbouring cells: those are the *candidate pairs*. The candidates are then
pushed apart by ``_separate`` one pair at a time, in exactly the order the old all-pairs loop
used, sorted by ``(i, j)`` with ``i < j`` (indexes in id order), skipping the pairs that are not
candidates. Nothing depends on hashing an object or on a set's iteration order.

The one approximation: the grid is built once, from the positions before any push. A pair that
was further apart than neighbouring cells then, but is shoved into contact by an earlier push in
the same pass, is not looked at this tick; it is separated on the next tick, when the new grid
has them as neighbours. A pass over all pairs would have caught it in the same tick. It takes a
crowd of three or more to cascade like that, and the difference is one push a tick late.

Rule constants are per second; ``Physics.for_tick_rate`` turns them into per-tick integers, so the
game plays at the same speed at any tick rate. ``RULES_HASH`` fingerprints the constants and the
rules version so that mismatched client and server refuse to play together.
"""
from __future__ import annotations

import hashlib
import math
import struct
from dataclasses import dataclass, field, replace
from typing import Mapping, Sequence

from . import tag
from .tag import Pickup, Round, Shot, Tag, TagTimes

SUBPX = 256  # fixed-point units per pixel

ARENA_W_PX = 1280
ARENA_H_PX = 720
WALL_PX = 16
PLAYER_RADIUS_PX = 16

MAX_SPEED_PX_S = 320
ACCEL_PX_S2 = 2400
FRICTION_PX_S2 = 1600

# 2: speed clamp rounds the root up; players are kept inside the arena.
# 3: player pushes come from a grid broad phase, so a pair shoved into contact by an earlier push
#    in the same tick waits for the next tick (see the module docstring); 128 spawn points; a push
#    between players is rounded away from the other player (a sub-pixel overlap used to get none).
# 4: the game of tag (tag.py): fire and aim bits, tag state, rounds, pickups, boosted speed.
RULES_VERSION = 4

# Input bits: one per direction (opposite directions cancel); bit 4 fires the tag beam and bits
# 5..10 aim it (``tag.fire_bits``).
UP, DOWN, LEFT, RIGHT = 1, 2, 4, 8
INPUT_MASK = UP | DOWN | LEFT | RIGHT
MAX_INPUT_BITS = (1 << 11) - 1

# 1/sqrt(2) in 1/256 units, so a diagonal accelerates no faster than a straight line.
DIAGONAL_256 = 181


@dataclass(frozen=True)
class Rect:
    """An axis-aligned solid rectangle in fixed-point units."""

    x0: int
    y0: int
    x1: int
    y1: int


def _px_rect(x: int, y: int, w: int, h: int) -> Rect:
    return Rect(x * SUBPX, y * SUBPX, (x + w) * SUBPX, (y + h) * SUBPX)


#: Border walls first, then obstacles. Shared with the renderer, which draws exactly these.
WALLS: tuple[Rect, ...] = (
    _px_rect(0, 0, ARENA_W_PX, WALL_PX),
    _px_rect(0, ARENA_H_PX - WALL_PX, ARENA_W_PX, WALL_PX),
    _px_rect(0, 0, WALL_PX, ARENA_H_PX),
    _px_rect(ARENA_W_PX - WALL_PX, 0, WALL_PX, ARENA_H_PX),
)
OBSTACLES: tuple[Rect, ...] = (
    _px_rect(300, 160, 120, 40),
    _px_rect(860, 160, 120, 40),
    _px_rect(590, 300, 100, 120),
    _px_rect(300, 520, 120, 40),
    _px_rect(860, 520, 120, 40),
    _px_rect(170, 330, 40, 60),
    _px_rect(1070, 330, 40, 60),
)
SOLIDS: tuple[Rect, ...] = WALLS + OBSTACLES

#: The first 16 spawn points, in pixels, placed by hand: corners and edges first, then inwards.
_FIRST_SPAWNS_PX: tuple[tuple[int, int], ...] = (
    (100, 100), (1180, 620), (1180, 100), (100, 620),
    (640, 100), (640, 620), (400, 360), (880, 360),
    (240, 240), (1040, 480), (1040, 240), (240, 480),
    (500, 100), (780, 620), (780, 100), (500, 620),
)
SPAWN_COUNT = 128  # one spawn point per player id 0..127
#: Every spawn's centre is at least this far from every other spawn and from every solid.
SPAWN_CLEARANCE_PX = 2 * PLAYER_RADIUS_PX + 4
_SPAWN_GRID_PX = 64  # the pitch of the grid the other spawns are picked from


def _dist_sq_to_rect(x: int, y: int, r: Rect) -> int:
    """Squared distance from a point to a rectangle, both in fixed-point units."""
    cx = min(max(x, r.x0), r.x1)
    cy = min(max(y, r.y0), r.y1)
    return (x - cx) ** 2 + (y - cy) ** 2


def _spawn_points() -> tuple[tuple[int, int], ...]:
    """The hand-placed 16, then the rest picked from a grid, farthest from those taken first.

    The grid (19 by 10 points, 64 px apart, centred in the arena) keeps the points that are
    ``SPAWN_CLEARANCE_PX`` clear of every solid and of the hand-placed spawns. Then, repeatedly,
    the point whose nearest spawn so far is farthest away comes next (ties to the first in row
    order), so any number of players is spread over the whole floor rather than filling it row by
    row. Integers only, so every machine computes the same table (and ``RULES_HASH`` covers it).
    """
    clear_sq = SPAWN_CLEARANCE_PX * SPAWN_CLEARANCE_PX
    cols, rows = ARENA_W_PX // _SPAWN_GRID_PX - 1, ARENA_H_PX // _SPAWN_GRID_PX - 1
    x0 = (ARENA_W_PX - (cols - 1) * _SPAWN_GRID_PX) // 2
    y0 = (ARENA_H_PX - (rows - 1) * _SPAWN_GRID_PX) // 2
    spawns = list(_FIRST_SPAWNS_PX)
    candidates = [(x0 + c * _SPAWN_GRID_PX, y0 + r * _SPAWN_GRID_PX) for r in range(rows) for c in range(cols)]
    candidates = [(x, y) for x, y in candidates
                  if all(_dist_sq_to_rect(x * SUBPX, y * SUBPX, rect) >= clear_sq * SUBPX * SUBPX
                         for rect in SOLIDS)]
    # Squared distance from each candidate to its nearest spawn so far.
    nearest = [min((x - sx) ** 2 + (y - sy) ** 2 for sx, sy in spawns) for x, y in candidates]
    while len(spawns) < SPAWN_COUNT:
        best = max(range(len(candidates)), key=lambda k: (nearest[k], -k))
        if nearest[best] < clear_sq:
            raise RuntimeError("not enough room for the spawn points")
        bx, by = candidates[best]
        spawns.append((bx, by))
        nearest = [min(d, (x - bx) ** 2 + (y - by) ** 2) for d, (x, y) in zip(nearest, candidates)]
    return tuple(spawns)


#: Spawn points in pixels, indexed by player id so spawning is deterministic. The first 16 are
#: the hand-placed ones, so small games look as they always did.
SPAWNS_PX: tuple[tuple[int, int], ...] = _spawn_points()


@dataclass(frozen=True)
class Physics:
    """Per-tick integer constants derived from the per-second rules."""

    tick_rate: int
    max_speed: int  # subpx per tick
    accel: int  # subpx per tick per tick
    friction: int  # subpx per tick per tick
    radius: int  # subpx
    boost_max_speed: int  # subpx per tick, while a boost pickup lasts
    boost_accel: int
    times: TagTimes  # the game's timers, in ticks

    @staticmethod
    def for_tick_rate(tick_rate: int) -> "Physics":
        if not 1 <= tick_rate <= 1000:
            raise ValueError(f"tick rate must be 1..1000 Hz, got {tick_rate}")
        return Physics(
            tick_rate=tick_rate,
            max_speed=MAX_SPEED_PX_S * SUBPX // tick_rate,
            accel=max(1, ACCEL_PX_S2 * SUBPX // (tick_rate * tick_rate)),
            friction=max(1, FRICTION_PX_S2 * SUBPX // (tick_rate * tick_rate)),
            radius=PLAYER_RADIUS_PX * SUBPX,
            boost_max_speed=MAX_SPEED_PX_S * tag.BOOST_PERCENT * SUBPX // (100 * tick_rate),
            boost_accel=max(1, ACCEL_PX_S2 * tag.BOOST_PERCENT * SUBPX // (100 * tick_rate * tick_rate)),
            times=TagTimes.for_tick_rate(tick_rate),
        )


@dataclass(frozen=True)
class Player:
    id: int
    x: int  # subpx, centre
    y: int
    vx: int = 0  # subpx per tick
    vy: int = 0
    tag: Tag = Tag()  # "it", score, timers: see tag.py


@dataclass(frozen=True)
class World:
    tick: int = 0
    players: tuple[Player, ...] = field(default_factory=tuple)  # always sorted by id
    round: Round = Round()
    pickups: tuple[Pickup, ...] = ()  # sorted by slot
    # What the step that made this world did: not state (never sent, hashed or compared).
    happened: tuple[tuple, ...] = field(default=(), compare=False)
    shots: tuple[Shot, ...] = field(default=(), compare=False)

    def player(self, player_id: int) -> Player | None:
        for p in self.players:
            if p.id == player_id:
                return p
        return None


def _rules_fingerprint() -> str:
    numbers = (RULES_VERSION, SUBPX, ARENA_W_PX, ARENA_H_PX, PLAYER_RADIUS_PX, MAX_SPEED_PX_S,
               ACCEL_PX_S2, FRICTION_PX_S2, DIAGONAL_256)
    game = (tag.ROUND_S, tag.INTERMISSION_S, tag.START_GRACE_MS, tag.COOLDOWN_MS, tag.FREEZE_MS, tag.IMMUNE_MS,
            tag.SHIELD_IMMUNE_MS, tag.BOOST_MS, tag.BOOST_PERCENT, tag.BEAM_RANGE_PX, tag.BEAM_HALF_WIDTH_PX,
            tag.TOUCH_SLACK_PX, tag.PICKUP_REACH_PX, tag.PICKUP_EVERY_S, tag.MAX_PICKUPS, tag.TAG_POINTS,
            tag.TAGGED_POINTS, tag.IT_AT_END_POINTS, tag.RNG_SEED, *(n for v in tag.AIM_VECTORS_256 for n in v))
    solids = tuple(n for r in SOLIDS for n in (r.x0, r.y0, r.x1, r.y1))
    spawns = tuple(n for s in SPAWNS_PX for n in s)
    data = struct.pack(f"<{len(numbers) + len(game) + len(solids) + len(spawns)}q",
                       *numbers, *game, *solids, *spawns)
    return hashlib.blake2b(data, digest_size=8).hexdigest()


#: Fingerprint of the rules; the handshake refuses a peer whose fingerprint differs.
RULES_HASH: str = _rules_fingerprint()


# --- players joining and leaving -------------------------------------------------------------

def add_player(world: World, player_id: int) -> World:
    """Return ``world`` with a new player at its spawn point (id order is kept)."""
    if world.player(player_id) is not None:
        raise ValueError(f"player {player_id} already exists")
    sx, sy = SPAWNS_PX[player_id % len(SPAWNS_PX)]
    new = Player(player_id, sx * SUBPX, sy * SUBPX)
    return replace(world, players=tuple(sorted(world.players + (new,), key=lambda p: p.id)))


def remove_player(world: World, player_id: int) -> World:
    return replace(world, players=tuple(p for p in world.players if p.id != player_id))


# --- integer helpers -------------------------------------------------------------------------

def div_trunc(a: int, b: int) -> int:
    """Integer division rounding toward zero, so +v and -v behave as mirror images."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def _approach_zero(v: int, amount: int) -> int:
    if v > 0:
        return max(0, v - amount)
    return min(0, v + amount)


# --- one player's own movement ---------------------------------------------------------------
#
# These work on plain integers ``x, y, vx, vy`` and build one ``Player`` at the end: copying a
# frozen dataclass for every small change (``dataclasses.replace``) used to be most of a tick.

def _accelerate(vx: int, vy: int, bits: int, phys: Physics, boosted: bool) -> tuple[int, int]:
    dx = (1 if bits & RIGHT else 0) - (1 if bits & LEFT else 0)
    dy = (1 if bits & DOWN else 0) - (1 if bits & UP else 0)
    accel, max_speed = (phys.boost_accel, phys.boost_max_speed) if boosted else (phys.accel, phys.max_speed)
    accel = accel * DIAGONAL_256 // 256 if dx and dy else accel
    vx = vx + dx * accel if dx else _approach_zero(vx, phys.friction)
    vy = vy + dy * accel if dy else _approach_zero(vy, phys.friction)
    speed_sq = vx * vx + vy * vy
    if speed_sq > max_speed * max_speed:
        # Round the root *up*: dividing by a floored root would scale to just over the limit.
        speed = math.isqrt(speed_sq - 1) + 1
        vx = div_trunc(vx * max_speed, speed)
        vy = div_trunc(vy * max_speed, speed)
    return vx, vy


_State = tuple[int, int, int, int]  # x, y, vx, vy of one player


def _push_out_of_rect(x: int, y: int, vx: int, vy: int, r: Rect, radius: int) -> _State:
    """Move a circle out of a rectangle and cancel the velocity that pointed into it."""
    cx = min(max(x, r.x0), r.x1)
    cy = min(max(y, r.y0), r.y1)
    dx, dy = x - cx, y - cy
    dist_sq = dx * dx + dy * dy
    if dist_sq >= radius * radius:
        return x, y, vx, vy
    if dist_sq == 0:
        # Centre inside the rectangle: leave along the shortest way out.
        exits = ((x - r.x0, -1, 0), (r.x1 - x, 1, 0), (y - r.y0, 0, -1), (r.y1 - y, 0, 1))
        depth, nx, ny = min(exits)
        return _apply_push(x, y, vx, vy, nx * (depth + radius), ny * (depth + radius), nx, ny)
    dist = math.isqrt(dist_sq)
    overlap = radius - dist
    push_x, push_y = div_trunc(dx * overlap, dist), div_trunc(dy * overlap, dist)
    # Round the push away from the surface so integer truncation never leaves us touching.
    push_x += (dx > 0) - (dx < 0)
    push_y += (dy > 0) - (dy < 0)
    return _apply_push(x, y, vx, vy, push_x, push_y, dx, dy)


def _apply_push(x: int, y: int, vx: int, vy: int, push_x: int, push_y: int, nx: int, ny: int) -> _State:
    if nx * vx < 0:
        vx = 0
    if ny * vy < 0:
        vy = 0
    return x + push_x, y + push_y, vx, vy


_INNER_X0, _INNER_Y0 = WALL_PX * SUBPX, WALL_PX * SUBPX
_INNER_X1, _INNER_Y1 = (ARENA_W_PX - WALL_PX) * SUBPX, (ARENA_H_PX - WALL_PX) * SUBPX


def _keep_in_arena(x: int, y: int, vx: int, vy: int, radius: int) -> _State:
    """Clamp a centre to the floor. A crowd can shove a player past a thin wall's midline, from
    where the wall's own shortest way out would be *outward*; the arena edge settles it first."""
    cx = min(max(x, _INNER_X0 + radius), _INNER_X1 - radius)
    cy = min(max(y, _INNER_Y0 + radius), _INNER_Y1 - radius)
    if cx == x and cy == y:
        return x, y, vx, vy
    return _apply_push(x, y, vx, vy, cx - x, cy - y, cx - x, cy - y)


def _collide_static(x: int, y: int, vx: int, vy: int, radius: int) -> _State:
    x, y, vx, vy = _keep_in_arena(x, y, vx, vy, radius)
    for rect in SOLIDS:
        # A centre a radius or more beyond any side cannot touch the rectangle: skip the full
        # test. (Exactly the cases where ``_push_out_of_rect`` would return its input.)
        if rect.x0 - radius < x < rect.x1 + radius and rect.y0 - radius < y < rect.y1 + radius:
            x, y, vx, vy = _push_out_of_rect(x, y, vx, vy, rect, radius)
    return x, y, vx, vy


def move_player(p: Player, bits: int, phys: Physics, boosted: bool = False) -> Player:
    """Apply one input to one player: accelerate, move, slide off walls and obstacles."""
    vx, vy = _accelerate(p.vx, p.vy, bits & INPUT_MASK, phys, boosted)
    x, y, vx, vy = _collide_static(p.x + vx, p.y + vy, vx, vy, phys.radius)
    return Player(p.id, x, y, vx, vy, p.tag)


# --- players pushing each other --------------------------------------------------------------

def _separate(ax: int, ay: int, bx: int, by: int, radius: int) -> tuple[int, int]:
    """How far to push player b (and a the opposite way) so two circles stop overlapping;
    ``(0, 0)`` when they do not."""
    dx, dy = bx - ax, by - ay
    min_dist = 2 * radius
    dist_sq = dx * dx + dy * dy
    if dist_sq >= min_dist * min_dist:
        return 0, 0
    dist = math.isqrt(dist_sq)
    if dist == 0:
        dx, dy, dist = 1, 0, 1  # exactly on top: the lower id goes left, deterministically
    half = (min_dist - dist) // 2 + 1
    push_x, push_y = div_trunc(dx * half, dist), div_trunc(dy * half, dist)
    # Round the push away from the other player, as for walls: truncation alone turns the push
    # for a sub-pixel diagonal overlap into (0, 0), and the two would stay touching.
    return push_x + (dx > 0) - (dx < 0), push_y + (dy > 0) - (dy < 0)


def _candidate_pairs(players: Sequence[Player], cell: int) -> list[tuple[int, int]]:
    """The broad phase: index pairs ``(i, j)``, ``i < j``, of players in the same or neighbouring
    cells of a grid of ``cell``-sized squares, sorted. With ``cell >= 2 * radius`` every pair that
    overlaps now is among them.

    The grid is a dict from integer cell coordinates to the indexes in it, in index order; it is
    only ever looked up, never iterated, and the pairs are sorted, so no order here depends on
    hashing or identity.
    """
    grid: dict[tuple[int, int], list[int]] = {}
    cells = []
    for i, p in enumerate(players):
        key = (p.x // cell, p.y // cell)
        cells.append(key)
        grid.setdefault(key, []).append(i)
    pairs = []
    for i, (cx, cy) in enumerate(cells):
        for gx in (cx - 1, cx, cx + 1):
            for gy in (cy - 1, cy, cy + 1):
                for j in grid.get((gx, gy), ()):
                    if j > i:
                        pairs.append((i, j))
    pairs.sort()
    return pairs


def _resolve_players(players: list[Player], phys: Physics) -> list[Player]:
    """Push overlapping players apart, pair by pair in ``(i, j)`` order, then off the walls.

    The candidate pairs come from the positions *before* any push (see the module docstring for
    the one thing that costs); each push uses the positions as the earlier pushes left them,
    exactly as the all-pairs loop did. Positions are plain integers until the end.
    """
    radius = phys.radius
    xs = [p.x for p in players]
    ys = [p.y for p in players]
    for i, j in _candidate_pairs(players, 2 * radius):
        push_x, push_y = _separate(xs[i], ys[i], xs[j], ys[j], radius)
        if push_x or push_y:
            xs[i] -= push_x
            ys[i] -= push_y
            xs[j] += push_x
            ys[j] += push_y
    resolved = []
    for p, x, y in zip(players, xs, ys):
        x, y, vx, vy = _collide_static(x, y, p.vx, p.vy, radius)
        resolved.append(Player(p.id, x, y, vx, vy, p.tag))
    return resolved


# --- the step --------------------------------------------------------------------------------

def step(world: World, inputs: Mapping[int, Sequence[int]], phys: Physics,
         views: tag.Views | None = None) -> World:
    """Advance the world one tick.

    ``inputs`` maps a player id to the inputs to apply to that player this tick, in order.
    A player missing from ``inputs`` does not move by itself this tick (its input is late),
    but can still be pushed by others. ``views`` judges tag beams (see ``tag.py``): without it,
    shots fire but hit nobody.
    """
    tick = world.tick + 1
    playing = world.round.playing(tick, phys.times)
    moved, shots = [], []
    for p in world.players:
        for k, bits in enumerate(inputs.get(p.id, ())):
            p = move_player(p, bits, phys, p.tag.boost > 0)
            if bits & tag.FIRE or p.tag.reload or p.tag.boost:
                state, fired = tag.after_input(p.tag, bits, playing, phys.times)
                p = replace(p, tag=state)
                if fired:
                    shots.append(Shot(p.id, k, tag.aim_of(bits), p.x, p.y, tag.UNJUDGED))
        moved.append(p)
    resolved = _resolve_players(moved, phys) if len(moved) > 1 else moved
    return _play_tag(world, resolved, shots, tick, phys, views)


def _play_tag(world: World, players: list[Player], shots: list[Shot], tick: int, phys: Physics,
              views: tag.Views | None) -> World:
    """Tag's phases on the moved players; only players whose tag state changed are rebuilt."""
    table = tag.Table([p.id for p in players], [p.x for p in players], [p.y for p in players],
                      [p.tag for p in players], tick, phys.times)
    playing = world.round.playing(tick, phys.times)
    # A beam starts where its shooter ends the step (after pushes), as the client's prediction has it.
    if shots:  # (most ticks fire none: no table of positions then)
        at = {pid: (x, y) for pid, x, y in zip(table.ids, table.xs, table.ys)}
        shots = [s._replace(x=at[s.shooter][0], y=at[s.shooter][1]) for s in shots]
    judged = tag.judge_shots(table, shots, views, phys.radius, SUBPX)
    if playing and views is not None:  # only a judge tags (a client's prediction does not)
        tag.touch_tags(table, phys.radius, SUBPX)
    pickups = tag.take_pickups(table, world.pickups, SUBPX)
    tag.expire_timers(table)
    rnd, pickups = tag.run_round(table, world.round, pickups, _PICKUP_SPOTS)
    players = [p if p.tag is t else replace(p, tag=t) for p, t in zip(players, table.tags)]
    return World(tick, tuple(players), rnd, pickups, tuple(table.happened), tuple(judged))


#: Pickups appear on spawn points (clear of every solid), in subpx.
_PICKUP_SPOTS: tuple[tuple[int, int], ...] = tuple((x * SUBPX, y * SUBPX) for x, y in SPAWNS_PX)


def state_hash(world: World) -> str:
    """A stable fingerprint of the whole state, equal on every machine for equal states."""
    r = world.round
    numbers = [world.tick, len(world.players), r.start_tick, r.number, r.rng, len(world.pickups)]
    for p in world.players:
        numbers += (p.id, p.x, p.y, p.vx, p.vy, *p.tag)
    for k in world.pickups:
        numbers += k
    data = struct.pack(f"<{len(numbers)}q", *numbers)
    return hashlib.blake2b(data, digest_size=16).hexdigest()
