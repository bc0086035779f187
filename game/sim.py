"""The deterministic simulation: one pure ``step(world, inputs) -> world``.

Theory of operation
-------------------
The server and every client's prediction run this same module (Quake III's shared ``bg_pmove``
idea), so a client can only mispredict what it cannot know: other players. To make "the same
inputs give the same state, bit for bit" true on every machine:

* All positions and velocities are integers in fixed-point units of 1/256 pixel (``SUBPX``).
  Square roots use ``math.isqrt``; divisions truncate toward zero. No floats touch the state.
* Players are kept sorted by id and always processed in that order, never in hash or identity
  order. There is no randomness yet; when there is, its generator state will live in ``World``.
* Nothing here reads a clock, the frame rate or which player is local.

Movement is driven per *input*, not per tick: ``step`` moves each player once for every input it
is given (usually one; none when that player's input has not arrived; two during a bounded
catch-up). A player's own motion is therefore a pure function of the sequence of its inputs,
whatever tick they land on, which is what lets a lone player predict with zero corrections. After
everyone has moved, overlapping players push each other apart; that push is the only thing a
client cannot predict.

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

SUBPX = 256  # fixed-point units per pixel

ARENA_W_PX = 1280
ARENA_H_PX = 720
WALL_PX = 16
PLAYER_RADIUS_PX = 16

MAX_SPEED_PX_S = 320
ACCEL_PX_S2 = 2400
FRICTION_PX_S2 = 1600

RULES_VERSION = 2  # 2: speed clamp rounds the root up; players are kept inside the arena

# Input bits: one per direction. Opposite directions cancel.
UP, DOWN, LEFT, RIGHT = 1, 2, 4, 8
INPUT_MASK = UP | DOWN | LEFT | RIGHT

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

#: Spawn points in pixels, chosen by player id so spawning is deterministic.
SPAWNS_PX: tuple[tuple[int, int], ...] = (
    (100, 100), (1180, 620), (1180, 100), (100, 620),
    (640, 100), (640, 620), (400, 360), (880, 360),
    (240, 240), (1040, 480), (1040, 240), (240, 480),
    (500, 100), (780, 620), (780, 100), (500, 620),
)


@dataclass(frozen=True)
class Physics:
    """Per-tick integer constants derived from the per-second rules."""

    tick_rate: int
    max_speed: int  # subpx per tick
    accel: int  # subpx per tick per tick
    friction: int  # subpx per tick per tick
    radius: int  # subpx

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
        )


@dataclass(frozen=True)
class Player:
    id: int
    x: int  # subpx, centre
    y: int
    vx: int = 0  # subpx per tick
    vy: int = 0


@dataclass(frozen=True)
class World:
    tick: int = 0
    players: tuple[Player, ...] = field(default_factory=tuple)  # always sorted by id

    def player(self, player_id: int) -> Player | None:
        for p in self.players:
            if p.id == player_id:
                return p
        return None


def _rules_fingerprint() -> str:
    numbers = (RULES_VERSION, SUBPX, ARENA_W_PX, ARENA_H_PX, PLAYER_RADIUS_PX, MAX_SPEED_PX_S,
               ACCEL_PX_S2, FRICTION_PX_S2, DIAGONAL_256)
    solids = tuple(n for r in SOLIDS for n in (r.x0, r.y0, r.x1, r.y1))
    spawns = tuple(n for s in SPAWNS_PX for n in s)
    data = struct.pack(f"<{len(numbers) + len(solids) + len(spawns)}q", *numbers, *solids, *spawns)
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

def _accelerate(p: Player, bits: int, phys: Physics) -> Player:
    dx = (1 if bits & RIGHT else 0) - (1 if bits & LEFT else 0)
    dy = (1 if bits & DOWN else 0) - (1 if bits & UP else 0)
    accel = phys.accel * DIAGONAL_256 // 256 if dx and dy else phys.accel
    vx = p.vx + dx * accel if dx else _approach_zero(p.vx, phys.friction)
    vy = p.vy + dy * accel if dy else _approach_zero(p.vy, phys.friction)
    speed_sq = vx * vx + vy * vy
    if speed_sq > phys.max_speed * phys.max_speed:
        # Round the root *up*: dividing by a floored root would scale to just over the limit.
        speed = math.isqrt(speed_sq - 1) + 1
        vx = div_trunc(vx * phys.max_speed, speed)
        vy = div_trunc(vy * phys.max_speed, speed)
    return replace(p, vx=vx, vy=vy)


def _push_out_of_rect(p: Player, r: Rect, radius: int) -> Player:
    """Move a circle out of a rectangle and cancel the velocity that pointed into it."""
    cx = min(max(p.x, r.x0), r.x1)
    cy = min(max(p.y, r.y0), r.y1)
    dx, dy = p.x - cx, p.y - cy
    dist_sq = dx * dx + dy * dy
    if dist_sq >= radius * radius:
        return p
    if dist_sq == 0:
        # Centre inside the rectangle: leave along the shortest way out.
        exits = ((p.x - r.x0, -1, 0), (r.x1 - p.x, 1, 0), (p.y - r.y0, 0, -1), (r.y1 - p.y, 0, 1))
        depth, nx, ny = min(exits)
        return _apply_push(p, nx * (depth + radius), ny * (depth + radius), nx, ny)
    dist = math.isqrt(dist_sq)
    overlap = radius - dist
    push_x, push_y = div_trunc(dx * overlap, dist), div_trunc(dy * overlap, dist)
    # Round the push away from the surface so integer truncation never leaves us touching.
    push_x += (dx > 0) - (dx < 0)
    push_y += (dy > 0) - (dy < 0)
    return _apply_push(p, push_x, push_y, dx, dy)


def _apply_push(p: Player, push_x: int, push_y: int, nx: int, ny: int) -> Player:
    vx, vy = p.vx, p.vy
    if nx * vx < 0:
        vx = 0
    if ny * vy < 0:
        vy = 0
    return replace(p, x=p.x + push_x, y=p.y + push_y, vx=vx, vy=vy)


_INNER_X0, _INNER_Y0 = WALL_PX * SUBPX, WALL_PX * SUBPX
_INNER_X1, _INNER_Y1 = (ARENA_W_PX - WALL_PX) * SUBPX, (ARENA_H_PX - WALL_PX) * SUBPX


def _keep_in_arena(p: Player, radius: int) -> Player:
    """Clamp a centre to the floor. A crowd can shove a player past a thin wall's midline, from
    where the wall's own shortest way out would be *outward*; the arena edge settles it first."""
    x = min(max(p.x, _INNER_X0 + radius), _INNER_X1 - radius)
    y = min(max(p.y, _INNER_Y0 + radius), _INNER_Y1 - radius)
    if (x, y) == (p.x, p.y):
        return p
    return _apply_push(p, x - p.x, y - p.y, x - p.x, y - p.y)


def _collide_static(p: Player, phys: Physics) -> Player:
    p = _keep_in_arena(p, phys.radius)
    for rect in SOLIDS:
        p = _push_out_of_rect(p, rect, phys.radius)
    return p


def move_player(p: Player, bits: int, phys: Physics) -> Player:
    """Apply one input to one player: accelerate, move, slide off walls and obstacles."""
    p = _accelerate(p, bits & INPUT_MASK, phys)
    p = replace(p, x=p.x + p.vx, y=p.y + p.vy)
    return _collide_static(p, phys)


# --- players pushing each other --------------------------------------------------------------

def _separate(a: Player, b: Player, radius: int) -> tuple[Player, Player]:
    dx, dy = b.x - a.x, b.y - a.y
    min_dist = 2 * radius
    dist_sq = dx * dx + dy * dy
    if dist_sq >= min_dist * min_dist:
        return a, b
    dist = math.isqrt(dist_sq)
    if dist == 0:
        dx, dy, dist = 1, 0, 1  # exactly on top: the lower id goes left, deterministically
    half = (min_dist - dist) // 2 + 1
    push_x, push_y = div_trunc(dx * half, dist), div_trunc(dy * half, dist)
    a = replace(a, x=a.x - push_x, y=a.y - push_y)
    b = replace(b, x=b.x + push_x, y=b.y + push_y)
    return a, b


def _resolve_players(players: list[Player], phys: Physics) -> list[Player]:
    for i in range(len(players)):
        for j in range(i + 1, len(players)):
            players[i], players[j] = _separate(players[i], players[j], phys.radius)
    return [_collide_static(p, phys) for p in players]


# --- the step --------------------------------------------------------------------------------

def step(world: World, inputs: Mapping[int, Sequence[int]], phys: Physics) -> World:
    """Advance the world one tick.

    ``inputs`` maps a player id to the inputs to apply to that player this tick, in order.
    A player missing from ``inputs`` does not move by itself this tick (its input is late),
    but can still be pushed by others.
    """
    moved = []
    for p in world.players:
        for bits in inputs.get(p.id, ()):
            p = move_player(p, bits, phys)
        moved.append(p)
    resolved = _resolve_players(moved, phys) if len(moved) > 1 else moved
    return World(tick=world.tick + 1, players=tuple(resolved))


def state_hash(world: World) -> str:
    """A stable fingerprint of the whole state, equal on every machine for equal states."""
    numbers = [world.tick, len(world.players)]
    for p in world.players:
        numbers += (p.id, p.x, p.y, p.vx, p.vy)
    data = struct.pack(f"<{len(numbers)}q", *numbers)
    return hashlib.blake2b(data, digest_size=16).hexdigest()
