"""Tests of the deterministic simulation (``game/sim.py``).

The determinism tests follow GGPO's synctest: record a run, rewind to recorded states and replay
the recorded inputs, and demand bit-identical state hashes. The physical invariants (walls, top
speed, per-input movement) are checked with hypothesis over random inputs and start positions.
"""
from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from game import sim
from game.netgame import SimRules
from game.sim import (ARENA_H_PX, ARENA_W_PX, DOWN, LEFT, OBSTACLES, RIGHT, SOLIDS, SUBPX, UP, WALL_PX,
                      Physics, Player, World, add_player, state_hash, step)

PHYS = Physics.for_tick_rate(60)
R = PHYS.radius
REPO = Path(__file__).resolve().parents[1]

Inputs = dict[int, list[int]]

input_bits = st.integers(min_value=0, max_value=15)


# --- helpers -----------------------------------------------------------------------------------

def new_world(n_players: int) -> World:
    world = World()
    for pid in range(n_players):
        world = add_player(world, pid)
    return world


def input_script(seed: int, n_players: int, ticks: int) -> list[Inputs]:
    """Keys held for a while then changed, sometimes late (no input) or doubled (catch-up)."""
    rng = random.Random(seed)
    held = [rng.randrange(16) for _ in range(n_players)]
    script: list[Inputs] = []
    for _ in range(ticks):
        tick_inputs: Inputs = {}
        for pid in range(n_players):
            count = rng.choices((0, 1, 2), weights=(1, 8, 1))[0]
            entries = []
            for _ in range(count):
                if rng.random() < 0.08:
                    held[pid] = rng.randrange(16)
                entries.append(held[pid])
            if count:
                tick_inputs[pid] = entries
        script.append(tick_inputs)
    return script


def run(world: World, script: list[Inputs], phys: Physics = PHYS) -> list[World]:
    """Every world of the run, the start included."""
    worlds = [world]
    for tick_inputs in script:
        worlds.append(step(worlds[-1], tick_inputs, phys))
    return worlds


def rect_dist_sq(p: Player, r: sim.Rect) -> int:
    cx = min(max(p.x, r.x0), r.x1)
    cy = min(max(p.y, r.y0), r.y1)
    return (p.x - cx) ** 2 + (p.y - cy) ** 2


def assert_in_free_space(world: World, phys: Physics = PHYS) -> None:
    lo_x, hi_x = WALL_PX * SUBPX + phys.radius, (ARENA_W_PX - WALL_PX) * SUBPX - phys.radius
    lo_y, hi_y = WALL_PX * SUBPX + phys.radius, (ARENA_H_PX - WALL_PX) * SUBPX - phys.radius
    for p in world.players:
        assert lo_x <= p.x <= hi_x and lo_y <= p.y <= hi_y, f"player left the arena: {p}"
        for rect in SOLIDS:
            assert rect_dist_sq(p, rect) >= phys.radius ** 2, f"{p} overlaps {rect}"


def free_position(x: int, y: int) -> bool:
    """Inside the arena and clear of every wall and obstacle."""
    inside = (WALL_PX * SUBPX + R <= x <= (ARENA_W_PX - WALL_PX) * SUBPX - R
              and WALL_PX * SUBPX + R <= y <= (ARENA_H_PX - WALL_PX) * SUBPX - R)
    p = Player(0, x, y)
    return inside and all(rect_dist_sq(p, rect) >= R * R for rect in SOLIDS)


X_RANGE = st.integers(WALL_PX * SUBPX + R, (ARENA_W_PX - WALL_PX) * SUBPX - R)
Y_RANGE = st.integers(WALL_PX * SUBPX + R, (ARENA_H_PX - WALL_PX) * SUBPX - R)


@st.composite
def valid_player(draw, pid: int) -> Player:
    x, y = draw(X_RANGE), draw(Y_RANGE)
    assume(free_position(x, y))
    limit = PHYS.max_speed
    vx = draw(st.integers(-limit, limit))
    vy = draw(st.integers(-limit, limit))
    assume(vx * vx + vy * vy <= limit * limit)
    return Player(pid, x, y, vx, vy)


# --- determinism -------------------------------------------------------------------------------

def test_same_inputs_same_hashes_twice() -> None:
    script = input_script(seed=7, n_players=4, ticks=600)
    hashes_a = [state_hash(w) for w in run(new_world(4), script)]
    hashes_b = [state_hash(w) for w in run(new_world(4), script)]
    assert hashes_a == hashes_b
    # The run must actually exercise the sim: states keep changing.
    assert len(set(hashes_a)) == len(hashes_a)
    final = run(new_world(4), script)[-1]
    assert final != new_world(4)


def test_different_inputs_give_different_hashes() -> None:
    """Guard against a hash that ignores the state."""
    a = run(new_world(4), input_script(1, 4, 60))[-1]
    b = run(new_world(4), input_script(2, 4, 60))[-1]
    assert a != b and state_hash(a) != state_hash(b)


_SUBPROCESS_RUN = """
import json, sys
sys.path.insert(0, {repo!r})
sys.path.insert(0, {tests!r})
from test_sim import input_script, new_world, run
from game import sim
worlds = run(new_world(4), input_script(seed=7, n_players=4, ticks=300))
print(json.dumps([sim.RULES_HASH, sim.state_hash(worlds[-1])]))
"""


def test_hashes_identical_across_processes_with_different_hash_seeds() -> None:
    """Iteration order must not depend on Python's per-process hash randomisation."""
    code = _SUBPROCESS_RUN.format(repo=str(REPO), tests=str(REPO / "tests"))
    outputs = []
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        outputs.append(json.loads(out.stdout))
    local = [sim.RULES_HASH, state_hash(run(new_world(4), input_script(seed=7, n_players=4, ticks=300))[-1])]
    assert outputs[0] == outputs[1] == local


def test_synctest_rewind_and_replay_matches_recording() -> None:
    """GGPO synctest: from every Nth recorded world, replay the recorded inputs bit for bit."""
    script = input_script(seed=11, n_players=4, ticks=600)
    recorded = run(new_world(4), script)
    recorded_hashes = [state_hash(w) for w in recorded]
    window = 90
    for start in range(0, len(script), 10):
        world = recorded[start]
        for t in range(start, min(start + window, len(script))):
            world = step(world, script[t], PHYS)
            assert state_hash(world) == recorded_hashes[t + 1], f"desync replaying from {start} at {t + 1}"


def test_synctest_through_snapshot_codec() -> None:
    """A world rebuilt from its snapshot integers replays exactly like the original (reconciliation)."""
    rules = SimRules(60)
    script = input_script(seed=5, n_players=4, ticks=300)
    recorded = run(new_world(4), script)
    for start in range(0, len(script), 30):
        world = rules.decode_state(recorded[start].tick, rules.encode_state(recorded[start]))
        assert state_hash(world) == state_hash(recorded[start])
        for t in range(start, min(start + 60, len(script))):
            world = rules.step(world, script[t])
        assert state_hash(world) == state_hash(recorded[min(start + 60, len(script))])


def test_input_dict_order_and_join_order_do_not_matter() -> None:
    world_a = new_world(4)
    world_b = World()
    for pid in (3, 1, 0, 2):
        world_b = add_player(world_b, pid)
    assert world_a == world_b
    script = input_script(seed=3, n_players=4, ticks=200)
    reversed_script = [dict(reversed(list(t.items()))) for t in script]
    assert state_hash(run(world_a, script)[-1]) == state_hash(run(world_b, reversed_script)[-1])


# --- invariants under random inputs ------------------------------------------------------------

@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data(), n_players=st.integers(1, 5))
def test_players_stay_in_the_arena_and_out_of_solids(data, n_players: int) -> None:
    players = [data.draw(valid_player(pid)) for pid in range(n_players)]
    if data.draw(st.booleans()):
        # A crowd: everyone within a couple of radii of the first player, possibly on top of it.
        x0, y0 = players[0].x, players[0].y
        crowd = [players[0]]
        for p in players[1:]:
            x = data.draw(st.integers(x0 - 2 * R, x0 + 2 * R))
            y = data.draw(st.integers(y0 - 2 * R, y0 + 2 * R))
            assume(free_position(x, y))
            crowd.append(Player(p.id, x, y, p.vx, p.vy))
        players = crowd
    world = World(players=tuple(players))
    ticks = data.draw(st.lists(
        st.dictionaries(st.integers(0, n_players - 1), st.lists(input_bits, max_size=2), max_size=n_players),
        min_size=1, max_size=40))
    for tick_inputs in ticks:
        world = step(world, tick_inputs, PHYS)
        assert_in_free_space(world)


@pytest.mark.parametrize("n_players", [3, 5, 8])
def test_players_stacked_against_a_wall_stay_inside(n_players: int) -> None:
    """A scrum piled on one spot next to a wall must not shove anyone through it."""
    for x_px, y_px in ((WALL_PX + 17, 300), (ARENA_W_PX - WALL_PX - 17, 300), (640, WALL_PX + 17),
                       (640, ARENA_H_PX - WALL_PX - 17), (WALL_PX + 17, WALL_PX + 17)):
        world = World(players=tuple(Player(pid, x_px * SUBPX, y_px * SUBPX) for pid in range(n_players)))
        for _ in range(3):
            world = step(world, {}, PHYS)
            assert_in_free_space(world)


@settings(max_examples=60, deadline=None)
@given(tick_rate=st.sampled_from([20, 30, 60, 64, 120, 144, 240]),
       bits=st.lists(input_bits, min_size=1, max_size=120))
def test_top_speed_never_exceeded(tick_rate: int, bits: list[int]) -> None:
    phys = Physics.for_tick_rate(tick_rate)
    world = World(players=(Player(0, 640 * SUBPX, 600 * SUBPX),))
    for b in bits:
        world = step(world, {0: [b]}, phys)
        p = world.players[0]
        assert p.vx * p.vx + p.vy * p.vy <= phys.max_speed ** 2, (tick_rate, p)


@pytest.mark.parametrize("tick_rate", [20, 30, 60, 64, 120, 144, 240])
def test_top_speed_never_exceeded_turning_at_full_speed(tick_rate: int) -> None:
    """Every input from every velocity on (and just inside) the speed circle stays on or inside it."""
    phys = Physics.for_tick_rate(tick_rate)
    limit = phys.max_speed
    for vx in range(-limit, limit + 1, max(1, limit // 200)):
        edge = math.isqrt(limit * limit - vx * vx)
        for vy in (edge, -edge, edge - phys.accel // 2):
            for bits in range(16):
                p = sim.move_player(Player(0, 640 * SUBPX, 600 * SUBPX, vx, vy), bits, phys)
                assert p.vx * p.vx + p.vy * p.vy <= limit * limit, (tick_rate, vx, vy, bits, p)


def test_holding_a_key_reaches_but_does_not_pass_top_speed() -> None:
    world = World(players=(Player(0, 100 * SUBPX, 600 * SUBPX),))
    for _ in range(30):
        world = step(world, {0: [RIGHT]}, PHYS)
    assert world.players[0].vx == PHYS.max_speed
    assert world.players[0].vy == 0


@settings(max_examples=80, deadline=None)
@given(dx=st.integers(-2 * R, 2 * R), dy=st.integers(-2 * R, 2 * R))
def test_overlapping_players_get_pushed_apart(dx: int, dy: int) -> None:
    assume(dx * dx + dy * dy < (2 * R) ** 2)
    ax, ay = 640 * SUBPX, 600 * SUBPX  # open floor, far from every solid
    world = World(players=(Player(0, ax, ay), Player(1, ax + dx, ay + dy)))
    a, b = step(world, {}, PHYS).players
    dist = math.hypot(b.x - a.x, b.y - a.y)
    assert dist > math.hypot(dx, dy)
    assert dist >= 2 * R - 2  # separated up to integer truncation
    # Both give way equally: the midpoint stays where it was.
    assert (a.x + b.x, a.y + b.y) == (2 * ax + dx, 2 * ay + dy)


def test_a_sub_pixel_diagonal_overlap_is_pushed_apart() -> None:
    """Overlapping by less than a subpixel on a diagonal: truncating the push alone gives (0, 0)."""
    dx, dy = 5126, 6390  # 8191.95 subpx apart, 2R is 8192
    assert dx * dx + dy * dy < (2 * R) ** 2
    world = World(players=(Player(0, 640 * SUBPX, 600 * SUBPX), Player(1, 640 * SUBPX + dx, 600 * SUBPX + dy)))
    a, b = step(world, {}, PHYS).players
    assert (b.x - a.x) ** 2 + (b.y - a.y) ** 2 >= (2 * R) ** 2


def test_players_exactly_on_top_separate_deterministically() -> None:
    world = World(players=(Player(0, 640 * SUBPX, 600 * SUBPX), Player(1, 640 * SUBPX, 600 * SUBPX)))
    a, b = step(world, {}, PHYS).players
    assert a.x < b.x and a.y == b.y  # the lower id goes left
    assert b.x - a.x >= 2 * R


def test_players_not_overlapping_are_not_pushed() -> None:
    world = World(players=(Player(0, 640 * SUBPX, 600 * SUBPX), Player(1, 640 * SUBPX + 2 * R, 600 * SUBPX)))
    assert [(p.x, p.y, p.vx, p.vy) for p in step(world, {}, PHYS).players] == [(p.x, p.y, p.vx, p.vy) for p in world.players]


# --- movement is per input, not per tick -------------------------------------------------------

def test_no_input_means_no_movement_by_itself() -> None:
    world = World(players=(Player(0, 640 * SUBPX, 600 * SUBPX),))
    for _ in range(5):
        world = step(world, {0: [RIGHT | DOWN]}, PHYS)
    moving = world.players[0]
    assert moving.vx > 0 and moving.vy > 0
    for _ in range(3):
        world = step(world, {}, PHYS)
        assert world.players[0] == moving
    world = step(world, {0: []}, PHYS)
    assert world.players[0] == moving
    # Zero bits is a real input: friction applies and the player coasts.
    world = step(world, {0: [0]}, PHYS)
    assert world.players[0] != moving


@settings(max_examples=60, deadline=None)
@given(data=st.data(), bits=st.lists(input_bits, min_size=1, max_size=60))
def test_lone_player_state_depends_only_on_its_input_sequence(data, bits: list[int]) -> None:
    start = World(players=(Player(0, 640 * SUBPX, 160 * SUBPX),))
    one_per_tick = [{0: [b]} for b in bits]
    # The same inputs spread out with empty ticks between, and packed two to a tick.
    spread: list[Inputs] = []
    for b in bits:
        spread += [{} for _ in range(data.draw(st.integers(0, 3)))]
        spread.append({0: [b]})
    packed: list[Inputs] = []
    i = 0
    while i < len(bits):
        n = data.draw(st.integers(1, 2))
        packed.append({0: bits[i:i + n]})
        i += n
    finals = [run(start, script)[-1] for script in (one_per_tick, spread, packed)]
    player_states = {f.players[0] for f in finals}
    assert len(player_states) == 1
    assert [f.tick for f in finals] == [len(one_per_tick), len(spread), len(packed)]


# --- diagonal ----------------------------------------------------------------------------------

@pytest.mark.parametrize("straight,diagonal", [(RIGHT, RIGHT | DOWN), (LEFT, LEFT | UP), (DOWN, DOWN | LEFT),
                                               (UP, UP | RIGHT)])
def test_diagonal_is_not_faster_than_straight(straight: int, diagonal: int) -> None:
    start = World(players=(Player(0, 640 * SUBPX, 560 * SUBPX),))
    a = b = start
    for _ in range(20):
        a = step(a, {0: [straight]}, PHYS)
        b = step(b, {0: [diagonal]}, PHYS)
        pa, pb = a.players[0], b.players[0]
        assert pb.vx ** 2 + pb.vy ** 2 <= pa.vx ** 2 + pa.vy ** 2
    pa, pb = a.players[0], b.players[0]
    dist_a = math.hypot(pa.x - start.players[0].x, pa.y - start.players[0].y)
    dist_b = math.hypot(pb.x - start.players[0].x, pb.y - start.players[0].y)
    assert dist_b <= dist_a
    assert dist_b > 0.9 * dist_a  # but not crippled either
    assert pb.vx != 0 and pb.vy != 0  # it really moved diagonally, unobstructed


# --- rules fingerprint and tick rate -----------------------------------------------------------

def test_rules_hash_is_stable_within_a_process() -> None:
    assert sim._rules_fingerprint() == sim._rules_fingerprint() == sim.RULES_HASH
    assert len(sim.RULES_HASH) == 16 and int(sim.RULES_HASH, 16) >= 0
    assert SimRules(60).rules_hash == SimRules(30).rules_hash == sim.RULES_HASH


def test_rules_hash_changes_when_a_rule_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sim, "MAX_SPEED_PX_S", sim.MAX_SPEED_PX_S + 1)
    assert sim._rules_fingerprint() != sim.RULES_HASH
    monkeypatch.undo()
    monkeypatch.setattr(sim, "SOLIDS", sim.SOLIDS + (OBSTACLES[0],))
    assert sim._rules_fingerprint() != sim.RULES_HASH


@pytest.mark.parametrize("bad", [0, -1, 1001])
def test_physics_rejects_bad_tick_rates(bad: int) -> None:
    with pytest.raises(ValueError):
        Physics.for_tick_rate(bad)


def test_physics_scales_with_tick_rate() -> None:
    assert Physics.for_tick_rate(1).max_speed == sim.MAX_SPEED_PX_S * SUBPX
    p30, p60 = Physics.for_tick_rate(30), Physics.for_tick_rate(60)
    assert p30.max_speed == 2 * p60.max_speed
    assert p60.accel > 0 and p60.friction > 0 and p60.radius == sim.PLAYER_RADIUS_PX * SUBPX
