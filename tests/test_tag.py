"""The rules of tag (game/tag.py) as the simulation runs them: beam, touch, pickups, rounds."""
from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from game import sim, tag
from game.bots import random_bot
from game.netgame import PICKUP_BASE, RECORD_BASE, ROUND_ID, SimRules
from game.sim import SUBPX, Player, World
from game.tag import Pickup, Round, Tag

RULES = SimRules(60)
PHYS = RULES.physics
TIMES = PHYS.times
R = PHYS.radius


def px(x: float, y: float) -> tuple[int, int]:
    return round(x * SUBPX), round(y * SUBPX)


def world_of(*players: Player, tick: int = 100, **kw) -> World:
    return World(tick=tick, players=tuple(sorted(players, key=lambda p: p.id)), **kw)


def current(world: World):
    """A judge that sees the world as it is (no lag): the view lockstep or a bot would have."""
    return lambda shooter, index: RULES.positions(world)


UP_AIM = 48  # 0 is +x, counting clockwise on screen: 16 down, 32 left, 48 up


# --- the beam --------------------------------------------------------------------------------

def test_aim_table_points_the_documented_ways() -> None:
    assert tag.AIM_VECTORS_256[0] == (256, 0)
    assert tag.AIM_VECTORS_256[16] == (0, 256)  # down the screen
    assert tag.AIM_VECTORS_256[UP_AIM] == (0, -256)
    assert tag.aim_towards(0, -5) == UP_AIM and tag.aim_towards(-1, 0) == 32
    assert tag.aim_of(tag.fire_bits(37) | sim.LEFT) == 37 and tag.fire_bits(5) & tag.FIRE
    assert tag.fire_bits(63) | sim.INPUT_MASK <= sim.MAX_INPUT_BITS


def test_beam_hits_the_first_player_along_it_within_reach_and_width() -> None:
    x, y = px(640, 600)
    reach = tag.BEAM_RANGE_PX * SUBPX
    width = R + tag.BEAM_HALF_WIDTH_PX * SUBPX

    def hit(*others: tuple[int, int, int]) -> int:
        return tag.beam_target(x, y, UP_AIM, others, R, SUBPX)

    assert hit((1, x, y - reach)) == 1  # the far end
    assert hit((1, x, y - reach - R - SUBPX)) == tag.MISSED  # beyond the end and a radius
    assert hit((1, x + width, y - 50 * SUBPX)) == 1  # grazing the side
    assert hit((1, x + width + SUBPX, y - 50 * SUBPX)) == tag.MISSED
    assert hit((1, x, y + 3 * R)) == tag.MISSED  # behind
    assert hit((2, x, y - 90 * SUBPX), (1, x, y - 120 * SUBPX)) == 2  # the nearer one, whatever its id
    assert hit((2, x, y - 90 * SUBPX), (1, x - SUBPX, y - 90 * SUBPX)) == 1  # a tie: the lower id


def shooter_and_runner(gap_px: int = 100, **tags) -> World:
    sx, sy = px(640, 620)
    return world_of(Player(0, sx, sy, tag=Tag(it=True, **tags)), Player(1, sx, sy - gap_px * SUBPX))


def test_a_judged_beam_tags_swaps_roles_and_scores() -> None:
    world = shooter_and_runner()
    after = sim.step(world, {0: [tag.fire_bits(UP_AIM)]}, PHYS, current(world))
    shooter, runner = after.players
    assert [s.target for s in after.shots] == [1]
    assert not shooter.tag.it and shooter.tag.score == tag.TAG_POINTS
    assert shooter.tag.immune_until == after.tick + TIMES.immune
    assert runner.tag.it and runner.tag.score == tag.TAGGED_POINTS and runner.tag.reload == TIMES.freeze
    assert ("tag", 0, 1, "beam") in after.happened


def test_without_a_judge_a_shot_fires_but_tags_nobody() -> None:
    """A client predicting itself: the reload starts, nobody is tagged (only the server judges)."""
    world = shooter_and_runner(gap_px=2 * 16)  # touching, too
    after = sim.step(world, {0: [tag.fire_bits(UP_AIM)]}, PHYS)
    assert [s.target for s in after.shots] == [tag.UNJUDGED]
    assert after.players[0].tag.it and after.players[0].tag.reload == TIMES.cooldown
    assert not after.players[1].tag.it and not after.happened


def test_a_runner_cannot_fire_and_an_it_must_reload() -> None:
    world = shooter_and_runner(gap_px=200)  # out of reach: misses
    fire = tag.fire_bits(UP_AIM)
    not_it = replace(world, players=(replace(world.players[0], tag=Tag()), world.players[1]))
    assert sim.step(not_it, {0: [fire]}, PHYS, current(not_it)).shots == ()
    shots = []
    for _ in range(TIMES.cooldown * 2 + 1):
        world = sim.step(world, {0: [fire]}, PHYS, current(world))
        shots += [world.tick for _ in world.shots]
    assert len(shots) == 3 and shots[1] - shots[0] == TIMES.cooldown


def test_reload_counts_the_players_own_inputs_not_ticks() -> None:
    """A client runs ahead of the server by a few ticks; its shots must land on the same inputs."""
    fire = tag.fire_bits(UP_AIM)
    pattern = [fire if i % 7 == 0 else 0 for i in range(200)]
    fired_on = []
    for gaps in (0, 3):  # a server that gets no input from us on some ticks
        world, fired, n = shooter_and_runner(gap_px=300), [], 0
        for i, bits in enumerate(pattern):
            if gaps and i % 5 == 0:
                world = sim.step(world, {}, PHYS)  # a tick without our input: nothing counts down
            world = sim.step(world, {0: [bits]}, PHYS)
            fired += [i for _ in world.shots]
        fired_on.append(fired)
    assert fired_on[0] == fired_on[1] and len(fired_on[0]) > 3


# --- touches, shields, immunity ----------------------------------------------------------------

def test_a_touch_tags_but_not_a_runner_who_is_immune_or_an_it_reloading() -> None:
    world = shooter_and_runner(gap_px=2 * 16)
    assert sim.step(world, {}, PHYS, current(world)).players[1].tag.it
    immune = replace(world, players=(world.players[0], replace(world.players[1], tag=Tag(immune_until=world.tick + 10))))
    assert not sim.step(immune, {}, PHYS, current(immune)).players[1].tag.it
    frozen = shooter_and_runner(gap_px=2 * 16, reload=5)
    assert not sim.step(frozen, {}, PHYS, current(frozen)).players[1].tag.it


def test_a_shield_absorbs_one_tag() -> None:
    world = shooter_and_runner()
    world = replace(world, players=(world.players[0], replace(world.players[1], tag=Tag(shield=True))))
    after = sim.step(world, {0: [tag.fire_bits(UP_AIM)]}, PHYS, current(world))
    shooter, runner = after.players
    assert shooter.tag.it and not runner.tag.it and not runner.tag.shield
    assert runner.tag.immune_until == after.tick + TIMES.shield_immune
    assert ("shield", 0, 1, "beam") in after.happened


# --- pickups -------------------------------------------------------------------------------------

def test_pickups_appear_on_schedule_from_the_worlds_generator_and_are_taken() -> None:
    world = world_of(Player(0, *px(100, 100)), Player(1, *px(1180, 620)), tick=0)
    for _ in range(TIMES.pickup_every):
        world = sim.step(world, {}, PHYS)
    assert len(world.pickups) == 1 and world.round.rng != tag.RNG_SEED
    again = world_of(Player(0, *px(100, 100)), Player(1, *px(1180, 620)), tick=0)
    for _ in range(TIMES.pickup_every):
        again = sim.step(again, {}, PHYS)
    assert again.pickups == world.pickups  # the same seed, the same spot and kind
    pickup = world.pickups[0]
    on_it = replace(world, players=(replace(world.players[0], x=pickup.x, y=pickup.y), world.players[1]))
    after = sim.step(on_it, {}, PHYS)
    assert after.pickups == () and ("pickup", 0, pickup.kind) in after.happened


def test_a_boost_is_faster_for_its_inputs_then_ends() -> None:
    plain = boosted = world_of(Player(0, *px(200, 450)))
    boosted = replace(boosted, players=(replace(boosted.players[0], tag=Tag(boost=60)),))
    for _ in range(60):
        plain = sim.step(plain, {0: [sim.RIGHT]}, PHYS)
        boosted = sim.step(boosted, {0: [sim.RIGHT]}, PHYS)
    assert plain.players[0].vx == PHYS.max_speed and boosted.players[0].vx == PHYS.boost_max_speed
    assert boosted.players[0].tag.boost == 0
    assert sim.step(boosted, {0: [sim.RIGHT]}, PHYS).players[0].vx == PHYS.max_speed


# --- rounds ---------------------------------------------------------------------------------------

def test_a_round_ends_with_a_winner_then_a_new_round_draws_its() -> None:
    end = TIMES.round_ticks
    players = (Player(0, *px(100, 100), tag=Tag(it=True, score=2)), Player(1, *px(1180, 620), tag=Tag(score=1)),
               Player(2, *px(1180, 100), tag=Tag(score=1, wins=4)))
    world = World(tick=end - 1, players=players, pickups=(Pickup(0, *px(640, 100), tag.BOOST, 5),))
    over = sim.step(world, {}, PHYS)
    assert [p.tag.score for p in over.players] == [2 + tag.IT_AT_END_POINTS, 1, 1]
    assert [p.tag.wins for p in over.players] == [0, 1, 4]  # a tie on 1: the lower id wins
    assert ("round_over", 1, 1, 1) in over.happened and over.pickups == ()
    fire = tag.fire_bits(0)
    assert sim.step(over, {0: [fire]}, PHYS).shots == ()  # no shooting in the intermission
    world = over
    while world.round.number == 1:
        world = sim.step(world, {}, PHYS)
    assert world.tick == end + TIMES.intermission_ticks and ("round_start", 2) in world.happened
    assert [p.tag.score for p in world.players] == [0, 0, 0] and [p.tag.wins for p in world.players] == [0, 1, 4]
    its = [p for p in world.players if p.tag.it]
    assert len(its) == tag.its_for(3) == 1 and its[0].tag.reload == TIMES.grace


def test_someone_is_it_whenever_two_play() -> None:
    world = world_of(Player(0, *px(100, 100)), Player(1, *px(1180, 620)))
    after = sim.step(world, {}, PHYS)
    assert sum(p.tag.it for p in after.players) == 1 and after.happened[0][0] == "it"
    alone = sim.step(world_of(Player(0, *px(100, 100))), {}, PHYS)
    assert not alone.players[0].tag.it
    six = world_of(*(Player(pid, *px(*sim.SPAWNS_PX[pid])) for pid in range(6)))
    assert sum(p.tag.it for p in sim.step(six, {}, PHYS).players) == tag.its_for(6) == 2  # as a round's start


@pytest.mark.parametrize("players, its", [(1, 0), (2, 1), (5, 1), (6, 2), (8, 2), (11, 3), (128, 4)])
def test_its_for(players: int, its: int) -> None:
    assert tag.its_for(players) == its


# --- the snapshot state ------------------------------------------------------------------------------

def played(seconds: float, players: int, seed: int) -> World:
    world = RULES.new_world()
    for pid in range(players):
        world = RULES.add_player(world, pid)
    brains = [random_bot(seed * 100 + pid) for pid in range(players)]
    for n in range(round(seconds * 60)):
        inputs = {pid: [brain(n, None) | (tag.fire_bits((n * 7 + pid) % 64) if n % 11 == pid else 0)]
                  for pid, brain in enumerate(brains)}
        world = RULES.step(world, inputs, current(world))
    return world


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.floats(0.5, 12.0), st.integers(1, 10), st.integers(0, 1000))
def test_the_state_round_trips_exactly_and_quiet_records_are_not_sent(seconds: float, players: int, seed: int) -> None:
    world = played(seconds, players, seed)
    state = RULES.encode_state(world)
    back = RULES.decode_state(world.tick, state)
    assert back == world and sim.state_hash(back) == sim.state_hash(world)
    ids = state[0::5]
    records = [i - RECORD_BASE for i in ids if RECORD_BASE <= i < ROUND_ID]
    assert records == [p.id for p in world.players if p.tag != Tag()]
    assert ids.count(ROUND_ID) == 1 and len([i for i in ids if i >= PICKUP_BASE]) == len(world.pickups)


def test_decoding_refuses_inconsistent_game_state() -> None:
    world = world_of(Player(0, *px(100, 100), tag=Tag(it=True)))
    state = list(RULES.encode_state(world))
    bad_record = state[:5] + [RECORD_BASE + 3, 1, 0, 0, 0] + state[10:]  # a record for nobody
    no_round = state[:10]
    bad_pickup = state + [PICKUP_BASE, *px(640, 100), 9, 0]  # kind 9
    for broken in (bad_record, no_round, bad_pickup):
        with pytest.raises(ValueError):
            RULES.decode_state(world.tick, broken)


def test_the_game_is_deterministic_and_the_hash_sees_tag_state() -> None:
    a, b = played(6.0, 6, 3), played(6.0, 6, 3)
    assert a == b and sim.state_hash(a) == sim.state_hash(b)
    changed = replace(a, players=(replace(a.players[0], tag=a.players[0].tag._replace(score=99)),) + a.players[1:])
    assert sim.state_hash(changed) != sim.state_hash(a)
    assert sim.state_hash(replace(a, round=a.round._replace(rng=a.round.rng + 1))) != sim.state_hash(a)
