"""Tests of 128 players: the spawn table, the grid broad phase for pushes, and the fast movement.

``game/sim.py`` finds the pairs of players that may push each other with a uniform grid instead
of looking at all n^2 pairs, and moves players with plain integers instead of copying a frozen
dataclass for every change. Both are checked here against a straightforward reference: the rules
written the way they were before (``dataclasses.replace`` everywhere, every wall tested, an
all-pairs loop), which can optionally skip the pairs that are not grid candidates. The grid must equal that reference
restricted to the candidates on any world, and equal the full all-pairs loop whenever no push
shoves a non-candidate pair into contact (the one documented approximation).
"""
from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from game import sim
from game.netgame import MAX_PLAYER_ID, SimRules
from game.sim import (ARENA_H_PX, ARENA_W_PX, DOWN, LEFT, PLAYER_RADIUS_PX, RIGHT, SOLIDS, SUBPX, UP, WALL_PX,
                      Physics, Player, World, add_player, state_hash, step)

PHYS = Physics.for_tick_rate(60)
R = PHYS.radius
CELL = 2 * R
REPO = Path(__file__).resolve().parents[1]

#: The hand-placed spawns of the 16-player game, which the 128-spawn table keeps as its start.
FIRST_16_SPAWNS_PX = (
    (100, 100), (1180, 620), (1180, 100), (100, 620),
    (640, 100), (640, 620), (400, 360), (880, 360),
    (240, 240), (1040, 480), (1040, 240), (240, 480),
    (500, 100), (780, 620), (780, 100), (500, 620),
)


# --- the reference: the rules written the slow, obvious way -----------------------------------

def ref_accelerate(p: Player, bits: int, phys: Physics) -> Player:
    dx = (1 if bits & RIGHT else 0) - (1 if bits & LEFT else 0)
    dy = (1 if bits & DOWN else 0) - (1 if bits & UP else 0)
    accel = phys.accel * sim.DIAGONAL_256 // 256 if dx and dy else phys.accel
    vx = p.vx + dx * accel if dx else (max(0, p.vx - phys.friction) if p.vx > 0 else min(0, p.vx + phys.friction))
    vy = p.vy + dy * accel if dy else (max(0, p.vy - phys.friction) if p.vy > 0 else min(0, p.vy + phys.friction))
    speed_sq = vx * vx + vy * vy
    if speed_sq > phys.max_speed * phys.max_speed:
        speed = math.isqrt(speed_sq - 1) + 1
        vx = sim.div_trunc(vx * phys.max_speed, speed)
        vy = sim.div_trunc(vy * phys.max_speed, speed)
    return replace(p, vx=vx, vy=vy)


def ref_apply_push(p: Player, push_x: int, push_y: int, nx: int, ny: int) -> Player:
    vx = 0 if nx * p.vx < 0 else p.vx
    vy = 0 if ny * p.vy < 0 else p.vy
    return replace(p, x=p.x + push_x, y=p.y + push_y, vx=vx, vy=vy)


def ref_push_out_of_rect(p: Player, r: sim.Rect, radius: int) -> Player:
    cx = min(max(p.x, r.x0), r.x1)
    cy = min(max(p.y, r.y0), r.y1)
    dx, dy = p.x - cx, p.y - cy
    dist_sq = dx * dx + dy * dy
    if dist_sq >= radius * radius:
        return p
    if dist_sq == 0:
        exits = ((p.x - r.x0, -1, 0), (r.x1 - p.x, 1, 0), (p.y - r.y0, 0, -1), (r.y1 - p.y, 0, 1))
        depth, nx, ny = min(exits)
        return ref_apply_push(p, nx * (depth + radius), ny * (depth + radius), nx, ny)
    dist = math.isqrt(dist_sq)
    overlap = radius - dist
    push_x, push_y = sim.div_trunc(dx * overlap, dist), sim.div_trunc(dy * overlap, dist)
    push_x += (dx > 0) - (dx < 0)
    push_y += (dy > 0) - (dy < 0)
    return ref_apply_push(p, push_x, push_y, dx, dy)


def ref_collide_static(p: Player, phys: Physics) -> Player:
    r = phys.radius
    x = min(max(p.x, WALL_PX * SUBPX + r), (ARENA_W_PX - WALL_PX) * SUBPX - r)
    y = min(max(p.y, WALL_PX * SUBPX + r), (ARENA_H_PX - WALL_PX) * SUBPX - r)
    if (x, y) != (p.x, p.y):
        p = ref_apply_push(p, x - p.x, y - p.y, x - p.x, y - p.y)
    for rect in SOLIDS:  # every rectangle, no early rejection
        p = ref_push_out_of_rect(p, rect, r)
    return p


def ref_move_player(p: Player, bits: int, phys: Physics) -> Player:
    p = ref_accelerate(p, bits & sim.INPUT_MASK, phys)
    p = replace(p, x=p.x + p.vx, y=p.y + p.vy)
    return ref_collide_static(p, phys)


def ref_separate(a: Player, b: Player, radius: int) -> tuple[Player, Player]:
    dx, dy = b.x - a.x, b.y - a.y
    dist_sq = dx * dx + dy * dy
    if dist_sq >= (2 * radius) ** 2:
        return a, b
    dist = math.isqrt(dist_sq)
    if dist == 0:
        dx, dy, dist = 1, 0, 1
    half = (2 * radius - dist) // 2 + 1
    push_x = sim.div_trunc(dx * half, dist) + (dx > 0) - (dx < 0)
    push_y = sim.div_trunc(dy * half, dist) + (dy > 0) - (dy < 0)
    return replace(a, x=a.x - push_x, y=a.y - push_y), replace(b, x=b.x + push_x, y=b.y + push_y)


def neighbours(a: Player, b: Player) -> bool:
    """Same or adjacent grid cells, worked out pair by pair (no grid)."""
    return abs(a.x // CELL - b.x // CELL) <= 1 and abs(a.y // CELL - b.y // CELL) <= 1


def ref_resolve(players: list[Player], phys: Physics, only_candidates: bool) -> tuple[list[Player], bool]:
    """The all-pairs loop in (i, j) order. Returns the players and whether a pair that was not a
    candidate (judged on the positions before any push) was touching when the loop reached it."""
    players = list(players)
    candidate = [[neighbours(a, b) for b in players] for a in players]
    missed = False
    for i in range(len(players)):
        for j in range(i + 1, len(players)):
            if not candidate[i][j]:
                a, b = players[i], players[j]
                if (a.x - b.x) ** 2 + (a.y - b.y) ** 2 < (2 * phys.radius) ** 2:
                    missed = True
                if only_candidates:
                    continue
            players[i], players[j] = ref_separate(players[i], players[j], phys.radius)
    return [ref_collide_static(p, phys) for p in players], missed


def ref_step(world: World, inputs: dict[int, list[int]], phys: Physics,
             only_candidates: bool = False) -> tuple[World, bool]:
    moved = []
    for p in world.players:
        for bits in inputs.get(p.id, ()):
            p = ref_move_player(p, bits, phys)
        moved.append(p)
    resolved, missed = ref_resolve(moved, phys, only_candidates) if len(moved) > 1 else (moved, False)
    return World(tick=world.tick + 1, players=tuple(resolved)), missed


# --- helpers -----------------------------------------------------------------------------------

def bodies(world: World) -> tuple:
    """The tick and every player's movement: what the reference (movement only, no tag) computes."""
    return world.tick, [(p.id, p.x, p.y, p.vx, p.vy) for p in world.players]


def all_players(n: int = sim.SPAWN_COUNT) -> World:
    world = World()
    for pid in range(n):
        world = add_player(world, pid)
    return world


def towards_centre(world: World) -> dict[int, list[int]]:
    """Everyone heads for the middle of the arena: a scrum, so pushes cascade."""
    inputs = {}
    for p in world.players:
        dx, dy = ARENA_W_PX // 2 * SUBPX - p.x, ARENA_H_PX // 2 * SUBPX - p.y
        bits = (RIGHT if dx > 0 else LEFT if dx < 0 else 0) | (DOWN if dy > 0 else UP if dy < 0 else 0)
        inputs[p.id] = [bits]
    return inputs


def random_inputs(rng: random.Random, world: World) -> dict[int, list[int]]:
    return {p.id: [rng.randrange(16) for _ in range(rng.choice((0, 1, 1, 1, 2)))] for p in world.players}


def overlapping_pairs(world: World) -> int:
    ps = world.players
    return sum((a.x - b.x) ** 2 + (a.y - b.y) ** 2 < (2 * R) ** 2 for i, a in enumerate(ps) for b in ps[i + 1:])


def rect_dist_sq(x: int, y: int, r: sim.Rect) -> int:
    cx = min(max(x, r.x0), r.x1)
    cy = min(max(y, r.y0), r.y1)
    return (x - cx) ** 2 + (y - cy) ** 2


def assert_in_free_space(world: World) -> None:
    for p in world.players:
        assert WALL_PX * SUBPX + R <= p.x <= (ARENA_W_PX - WALL_PX) * SUBPX - R, p
        assert WALL_PX * SUBPX + R <= p.y <= (ARENA_H_PX - WALL_PX) * SUBPX - R, p
        for rect in SOLIDS:
            assert rect_dist_sq(p.x, p.y, rect) >= R * R, (p, rect)


# --- spawn points ------------------------------------------------------------------------------

def test_128_spawns_distinct_and_clear_of_each_other_and_of_every_solid() -> None:
    spawns = sim.SPAWNS_PX
    assert len(spawns) == sim.SPAWN_COUNT == MAX_PLAYER_ID + 1 == 128
    assert len(set(spawns)) == 128
    assert spawns[:16] == FIRST_16_SPAWNS_PX  # small games look as they always did
    clearance = 2 * PLAYER_RADIUS_PX + 4  # a player's width of floor between any two, and more
    for i, (x, y) in enumerate(spawns):
        assert all(isinstance(n, int) for n in (x, y))
        for (ox, oy) in spawns[i + 1:]:
            assert math.dist((x, y), (ox, oy)) >= clearance, ((x, y), (ox, oy))
        for rect in SOLIDS:  # the border walls and every obstacle
            dist = math.sqrt(rect_dist_sq(x * SUBPX, y * SUBPX, rect)) / SUBPX
            assert dist >= clearance, ((x, y), rect)


def test_every_player_spawns_on_its_own_point() -> None:
    world = all_players()
    assert [(p.x, p.y) for p in world.players] == [(x * SUBPX, y * SUBPX) for x, y in sim.SPAWNS_PX]
    assert overlapping_pairs(world) == 0
    assert_in_free_space(world)


def test_the_first_spawns_spread_over_the_whole_floor() -> None:
    """Ids past 16 are not packed into one corner: each quarter of the arena gets its share."""
    for n in (32, 64, 128):
        quarters = [0, 0, 0, 0]
        for x, y in sim.SPAWNS_PX[:n]:
            quarters[(x >= ARENA_W_PX // 2) + 2 * (y >= ARENA_H_PX // 2)] += 1
        assert min(quarters) >= n // 4 - n // 8, (n, quarters)


def test_spawn_table_is_in_the_rules_hash(monkeypatch) -> None:
    monkeypatch.setattr(sim, "SPAWNS_PX", sim.SPAWNS_PX[:-1] + ((64, 72),))
    assert sim._rules_fingerprint() != sim.RULES_HASH


# --- the broad phase ---------------------------------------------------------------------------

positions = st.tuples(st.integers(0, ARENA_W_PX * SUBPX), st.integers(0, ARENA_H_PX * SUBPX))


@settings(max_examples=60, deadline=None)
@given(st.lists(positions, min_size=0, max_size=40), st.integers(1, 6))
def test_candidate_pairs_are_the_neighbouring_pairs_in_index_order(xys, squeeze: int) -> None:
    # ``squeeze`` packs the same points into a smaller area so that cells fill up.
    players = [Player(i, x // squeeze, y // squeeze) for i, (x, y) in enumerate(xys)]
    expected = [(i, j) for i in range(len(players)) for j in range(i + 1, len(players))
                if neighbours(players[i], players[j])]
    assert sim._candidate_pairs(players, CELL) == expected


def test_spread_out_players_are_not_all_candidates() -> None:
    """The point of the grid: 128 players at their spawns give a handful of pairs, not 8128."""
    assert len(sim._candidate_pairs(list(all_players().players), CELL)) <= 16


@st.composite
def crowded_world(draw) -> World:
    """Up to 40 players in a box a few diameters across, anywhere, so pushes cascade."""
    n = draw(st.integers(2, 40))
    side = draw(st.integers(2 * R, 16 * R))
    x0 = draw(st.integers(0, ARENA_W_PX * SUBPX - side))
    y0 = draw(st.integers(0, ARENA_H_PX * SUBPX - side))
    limit = PHYS.max_speed
    players = tuple(Player(pid, draw(st.integers(x0, x0 + side)), draw(st.integers(y0, y0 + side)),
                           draw(st.integers(-limit, limit)) * 7 // 10, draw(st.integers(-limit, limit)) * 7 // 10)
                    for pid in range(n))
    return World(tick=draw(st.integers(0, 10 ** 6)), players=players)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(crowded_world(), st.randoms(use_true_random=False))
def test_grid_equals_brute_force_over_the_same_candidate_pairs(world: World, rng: random.Random) -> None:
    inputs = random_inputs(rng, world)
    expected, missed = ref_step(world, inputs, PHYS, only_candidates=True)
    assert bodies(step(world, inputs, PHYS)) == bodies(expected)
    full, _ = ref_step(world, inputs, PHYS)
    if not missed:  # no push shoved a non-candidate pair into contact: the old rules exactly
        assert bodies(step(world, inputs, PHYS)) == bodies(full)


@st.composite
def sparse_world(draw) -> World:
    """Clusters of one or two players (the two may overlap, even exactly) on a lattice 12 radii
    apart: pushes happen, but no push can reach another cluster for a few ticks."""
    players = []
    spacing = 12 * R
    for gx in range(WALL_PX * SUBPX + 2 * R, (ARENA_W_PX - WALL_PX) * SUBPX - 2 * R, spacing):
        for gy in range(WALL_PX * SUBPX + 2 * R, (ARENA_H_PX - WALL_PX) * SUBPX - 2 * R, spacing):
            for _ in range(draw(st.integers(0, 2))):
                x = gx + draw(st.integers(-R, R))
                y = gy + draw(st.integers(-R, R))
                players.append((x, y))
    limit = PHYS.max_speed
    return World(players=tuple(Player(pid, x, y, draw(st.integers(-limit, limit)) * 7 // 10,
                                      draw(st.integers(-limit, limit)) * 7 // 10)
                               for pid, (x, y) in enumerate(players)))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(sparse_world(), st.randoms(use_true_random=False))
def test_grid_equals_the_old_all_pairs_loop_when_pushes_do_not_cascade(world: World, rng: random.Random) -> None:
    old = new = world
    for _ in range(3):
        inputs = {pid: bits[:1] for pid, bits in random_inputs(rng, new).items()}
        old, missed = ref_step(old, inputs, PHYS)
        assert not missed  # the clusters are far enough apart: this checks the generator
        new = step(new, inputs, PHYS)
        assert bodies(new) == bodies(old)


def test_a_push_into_a_far_player_waits_for_the_next_tick() -> None:
    """The documented approximation, pinned. 0 and 1 overlap and push 0 left into 2, which sat
    two cells away when the grid was built: the all-pairs loop separates 0 and 2 in the same tick,
    the grid a tick later."""
    y = 600 * SUBPX  # open floor
    x0 = 20 * CELL  # the left edge of a cell, so 2 can be two cells away but only just out of reach
    world = World(players=(Player(0, x0, y), Player(1, x0 + SUBPX, y), Player(2, x0 - CELL - 1, y)))
    assert (0, 2) not in sim._candidate_pairs(list(world.players), CELL)

    def touching(w: World, i: int, j: int) -> bool:
        a, b = w.players[i], w.players[j]
        return (a.x - b.x) ** 2 + (a.y - b.y) ** 2 < (2 * R) ** 2

    old, missed = ref_step(world, {}, PHYS)
    assert missed and not touching(old, 0, 2)
    new = step(world, {}, PHYS)
    assert touching(new, 0, 2) and not touching(new, 0, 1)
    assert bodies(new) == bodies(ref_step(world, {}, PHYS, only_candidates=True)[0])
    assert not touching(step(new, {}, PHYS), 0, 2)


# --- movement with locals is bit-identical -------------------------------------------------------

@st.composite
def any_player(draw) -> Player:
    """Anywhere: on open floor, near or inside an obstacle or a wall, or past the arena edge."""
    if draw(st.booleans()):
        x, y = draw(positions)
    else:
        rect = draw(st.sampled_from(SOLIDS))
        x = draw(st.integers(rect.x0 - 2 * R, rect.x1 + 2 * R))
        y = draw(st.integers(rect.y0 - 2 * R, rect.y1 + 2 * R))
    limit = PHYS.max_speed + 2 * PHYS.accel  # a little over the limit too
    return Player(draw(st.integers(0, MAX_PLAYER_ID)), x, y, draw(st.integers(-limit, limit)),
                  draw(st.integers(-limit, limit)))


@settings(max_examples=250, deadline=None)
@given(any_player(), st.integers(0, 255), st.sampled_from([20, 30, 60, 64, 144]))
def test_move_player_equals_the_reference(p: Player, bits: int, tick_rate: int) -> None:
    phys = Physics.for_tick_rate(tick_rate)
    assert sim.move_player(p, bits, phys) == ref_move_player(p, bits, phys)


def test_move_player_equals_the_reference_hugging_every_solid() -> None:
    """A sweep along every side of every solid, just inside touching range and just out of it."""
    rng = random.Random(9)
    for rect in SOLIDS:
        for t in range(0, 101, 5):
            for off in (-R - 1, -R, -R + 1, -R + 300, 0, 200):
                xs = (rect.x0 + (rect.x1 - rect.x0) * t // 100,)
                ys = (rect.y0 + (rect.y1 - rect.y0) * t // 100,)
                for x, y in ((xs[0], rect.y0 + off), (xs[0], rect.y1 - off), (rect.x0 + off, ys[0]),
                             (rect.x1 - off, ys[0])):
                    p = Player(0, x, y, rng.randint(-1400, 1400), rng.randint(-1400, 1400))
                    bits = rng.randrange(16)
                    assert sim.move_player(p, bits, PHYS) == ref_move_player(p, bits, PHYS), (p, bits)


# --- 128 players -------------------------------------------------------------------------------

def test_128_players_join_in_any_order_and_play() -> None:
    rng = random.Random(4)
    order = list(range(128))
    rng.shuffle(order)
    world = World()
    for pid in order:
        world = add_player(world, pid)
    assert world == all_players()
    for _ in range(60):
        world = step(world, random_inputs(rng, world), PHYS)
        assert_in_free_space(world)
    assert [p.id for p in world.players] == list(range(128))
    rules = SimRules(60)
    assert rules.decode_state(world.tick, rules.encode_state(world)) == world  # id 127 is in range


def run_scrum(ticks: int) -> list[str]:
    """128 players from their spawns into the middle: the hashes of every tick."""
    world = all_players()
    hashes = []
    for _ in range(ticks):
        world = step(world, towards_centre(world), PHYS)
        hashes.append(state_hash(world))
    return hashes


def test_128_player_scrum_is_deterministic() -> None:
    world = all_players()
    for _ in range(60):
        world = step(world, towards_centre(world), PHYS)
        assert_in_free_space(world)
    assert overlapping_pairs(world) > 20  # really a scrum: the pushes are exercised
    assert run_scrum(60) == run_scrum(60)


_SUBPROCESS_SCRUM = """
import json, sys
sys.path.insert(0, {repo!r})
sys.path.insert(0, {tests!r})
from test_broad_phase import run_scrum
print(json.dumps(run_scrum(60)[-1]))
"""


def test_128_player_scrum_is_the_same_with_other_hash_seeds() -> None:
    """The grid is a dict; nothing may depend on Python's per-process hash randomisation."""
    code = _SUBPROCESS_SCRUM.format(repo=str(REPO), tests=str(REPO / "tests"))
    procs = [subprocess.Popen([sys.executable, "-c", code], env=dict(os.environ, PYTHONHASHSEED=seed),
                              stdout=subprocess.PIPE, text=True) for seed in ("0", "12345")]
    local = run_scrum(60)[-1]
    outputs = []
    for proc in procs:
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0
        outputs.append(json.loads(out))
    assert outputs[0] == outputs[1] == local
