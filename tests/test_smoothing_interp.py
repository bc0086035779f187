"""Unit tests of the three client-side techniques, each driven by hand with fake times.

* ``ErrorSmoother``: a correction becomes a visual offset that decays linearly to nothing.
* ``Interpolator``: remote players drawn between hand-fed snapshots on a render clock that runs a
  measured delay behind the server and slews instead of jumping.
* ``Predictor``: local inputs applied at once; reconciliation rewinds to the server state and
  replays what the server has not applied yet.

No sockets and no clock: every call gets ``now`` (or nothing) from the test.
"""
from __future__ import annotations

import dataclasses
import math
import random

import pytest

from game import sim
from game.netgame import SimRules
from netcode.game_api import EntityState
from netcode.interpolation import SLEW, InterpolationSettings, Interpolator
from netcode.prediction import Predictor
from netcode.smoothing import ErrorSmoother
from netcode.switches import Switches
from netcode.client_session import UnackedInputs

TICK_RATE = 60
SNAPSHOT_RATE = 30
TICKS_PER_SNAPSHOT = TICK_RATE // SNAPSHOT_RATE
INTERVAL_S = 1 / SNAPSHOT_RATE
FRAME_S = 1 / 60


# --- ErrorSmoother --------------------------------------------------------------------------------


def test_correction_keeps_the_drawn_position_unchanged_that_frame() -> None:
    smoother = ErrorSmoother(smooth_ms=100, teleport_px=96)
    drawn_before = smoother.apply(50.0, 50.0)
    assert drawn_before == (50.0, 50.0)
    # The server corrects us: the simulated position jumps by (+10, -5).
    smoother.on_correction(10.0, -5.0)
    assert smoother.offset == pytest.approx((-10.0, 5.0))
    assert smoother.apply(60.0, 45.0) == pytest.approx(drawn_before)


def test_offset_decays_linearly_to_zero_over_smooth_ms() -> None:
    smooth_ms = 100.0
    smoother = ErrorSmoother(smooth_ms=smooth_ms, teleport_px=96)
    smoother.on_correction(12.0, 0.0)
    offsets = [smoother.offset[0]]
    for _ in range(12):
        smoother.update(FRAME_S)
        offsets.append(smoother.offset[0])
    step_px = 12.0 * FRAME_S * 1000 / smooth_ms  # offset * dt / smooth_ms
    # Linear: every frame moves the drawn player by the same small amount...
    for k, offset in enumerate(offsets[:6]):
        assert offset == pytest.approx(-12.0 + k * step_px)
    moves = [b - a for a, b in zip(offsets, offsets[1:6])]
    assert moves == pytest.approx([step_px] * 5)
    # ...and after smooth_ms it is gone for good.
    for offset in offsets[6:]:
        assert offset == pytest.approx(0.0, abs=1e-9)


def test_per_frame_movement_is_offset_times_dt_over_smooth_ms() -> None:
    smoother = ErrorSmoother(smooth_ms=200, teleport_px=96)
    smoother.on_correction(-8.0, 6.0)  # offset (8, -6), 10 px
    before = smoother.apply(0.0, 0.0)
    smoother.update(0.010)
    after = smoother.apply(0.0, 0.0)
    moved_px = math.hypot(after[0] - before[0], after[1] - before[1])
    assert moved_px == pytest.approx(10.0 * 10 / 200)


def test_a_second_correction_folds_into_the_first_and_restarts_the_decay() -> None:
    smoother = ErrorSmoother(smooth_ms=100, teleport_px=96)
    smoother.on_correction(10.0, 0.0)
    for _ in range(3):  # 50 ms: half of the offset is gone
        smoother.update(FRAME_S)
    assert smoother.offset[0] == pytest.approx(-5.0)
    drawn = smoother.apply(110.0, 0.0)
    smoother.on_correction(4.0, 0.0)  # simulated position now 114
    assert smoother.apply(114.0, 0.0) == pytest.approx(drawn)
    assert smoother.offset[0] == pytest.approx(-9.0)
    for _ in range(3):  # the decay restarted: 50 ms later half of -9 is left, not 0
        smoother.update(FRAME_S)
    assert smoother.offset[0] == pytest.approx(-4.5)


def test_error_beyond_teleport_px_snaps_at_once() -> None:
    smoother = ErrorSmoother(smooth_ms=100, teleport_px=96)
    smoother.on_correction(200.0, 0.0)
    assert smoother.offset == (0.0, 0.0)
    assert smoother.apply(300.0, 40.0) == (300.0, 40.0)
    assert smoother.snaps == 1
    # Just below the threshold is still smoothed.
    smoother.on_correction(95.0, 0.0)
    assert smoother.offset[0] == pytest.approx(-95.0)
    assert smoother.snaps == 1


def test_disabled_smoother_adds_no_offset() -> None:
    smoother = ErrorSmoother(smooth_ms=100, teleport_px=96, switches=Switches(smoothing=False))
    smoother.on_correction(10.0, 10.0)
    assert smoother.offset == (0.0, 0.0)
    smoother.update(FRAME_S)
    assert smoother.apply(1.0, 2.0) == (1.0, 2.0)


def test_switching_smoothing_off_mid_decay_clears_the_offset() -> None:
    smoother = ErrorSmoother(smooth_ms=100, teleport_px=96)
    smoother.on_correction(10.0, 0.0)
    smoother.update(FRAME_S)
    assert smoother.offset[0] != 0.0
    smoother.switches.smoothing = False
    smoother.update(FRAME_S)
    assert smoother.offset == (0.0, 0.0)


def test_negative_smooth_ms_is_refused() -> None:
    with pytest.raises(ValueError):
        ErrorSmoother(smooth_ms=-1)


# --- Interpolator ---------------------------------------------------------------------------------


def entity(x: float, y: float = 50.0, vx: float = 0.0, vy: float = 0.0) -> dict[int, EntityState]:
    return {1: EntityState(x, y, vx, vy)}


def mover(tick: int, v_px_s: float = 120.0) -> dict[int, EntityState]:
    """Entity 1 moving right at a constant speed; its position at ``tick``."""
    return {1: EntityState(100.0 + v_px_s * tick / TICK_RATE, 50.0, v_px_s, 0.0)}


def make_interp(enabled: bool = True, extrapolation: bool = True, **settings) -> Interpolator:
    switches = Switches(interpolation=enabled, extrapolation=extrapolation)
    return Interpolator(TICK_RATE, SNAPSHOT_RATE, InterpolationSettings(**settings), switches)


def test_positions_are_linear_between_two_snapshots_at_the_render_time() -> None:
    a, b = (100.0, 200.0), (112.0, 188.0)
    for delay_ms in (2.0, 8.0, 16.0, 25.0, 31.0):
        interp = make_interp(fixed_delay_ms=delay_ms)
        # Both snapshots arrive with the same latency, so the server clock estimate is exact.
        interp.add(10, {1: EntityState(*a, 0, 0)}, now=1.0)
        interp.add(12, {1: EntityState(*b, 0, 0)}, now=1.0 + 2 / TICK_RATE)
        sample = interp.sample(1.0 + 2 / TICK_RATE, FRAME_S)
        assert sample.render_time_s == pytest.approx(12 / TICK_RATE - delay_ms / 1000)
        f = (sample.render_time_s * TICK_RATE - 10) / 2
        assert 0 < f < 1
        x, y = sample.positions[1]
        assert x == pytest.approx(a[0] + (b[0] - a[0]) * f)
        assert y == pytest.approx(a[1] + (b[1] - a[1]) * f)
        assert not sample.extrapolated
        assert sample.delay_s == pytest.approx(delay_ms / 1000)


def test_reference_at_is_exact_at_and_between_snapshot_ticks() -> None:
    interp = make_interp()
    interp.add(10, entity(100.0), now=1.0)
    interp.add(12, entity(110.0), now=1.03)
    assert interp.reference_at(10 / TICK_RATE)[1][0] == pytest.approx(100.0)
    assert interp.reference_at(11 / TICK_RATE)[1][0] == pytest.approx(105.0)
    assert interp.reference_at(11.5 / TICK_RATE)[1][0] == pytest.approx(107.5)
    assert interp.reference_at(12 / TICK_RATE)[1][0] == pytest.approx(110.0)


def feed_with_jitter(interp: Interpolator, seed: int, seconds: float, latency_s: float,
                     jitter_s: float, loss: float = 0.0, v_px_s: float = 120.0) -> None:
    """Deliver snapshots of a constant-velocity mover, each late by latency + U(0, jitter)."""
    rng = random.Random(seed)
    arrivals = []
    for tick in range(0, int(seconds * TICK_RATE), TICKS_PER_SNAPSHOT):
        if rng.random() < loss:
            continue
        arrivals.append((tick / TICK_RATE + latency_s + rng.uniform(0, jitter_s), tick))
    for arrival_s, tick in sorted(arrivals):
        interp.add(tick, mover(tick, v_px_s), arrival_s)


def test_adaptive_delay_is_two_intervals_without_jitter() -> None:
    interp = make_interp()
    feed_with_jitter(interp, seed=1, seconds=5, latency_s=0.05, jitter_s=0.0)
    assert interp.measured_interval_s() == pytest.approx(INTERVAL_S)
    assert interp.adaptive_delay_s() == pytest.approx(2 * INTERVAL_S, abs=1e-6)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_adaptive_delay_follows_two_intervals_plus_p90_lateness(seed: int) -> None:
    jitter_s = 0.030
    interp = make_interp()
    feed_with_jitter(interp, seed=seed, seconds=8, latency_s=0.05, jitter_s=jitter_s)
    delay_s = interp.adaptive_delay_s()
    assert 2 * INTERVAL_S <= delay_s <= 2 * INTERVAL_S + jitter_s
    # The 90th percentile of a uniform lateness sits near its top: jitter really is covered.
    assert delay_s >= 2 * INTERVAL_S + 0.6 * jitter_s


def test_adaptive_delay_grows_with_loss() -> None:
    clean, lossy = make_interp(), make_interp()
    feed_with_jitter(clean, seed=4, seconds=6, latency_s=0.05, jitter_s=0.0)
    feed_with_jitter(lossy, seed=4, seconds=6, latency_s=0.05, jitter_s=0.0, loss=0.3)
    assert lossy.measured_interval_s() > 1.2 * INTERVAL_S
    assert lossy.adaptive_delay_s() > clean.adaptive_delay_s()


def run_frames(interp: Interpolator, start_s: float, frames: int, dt_s: float = FRAME_S):
    samples = []
    for k in range(frames):
        samples.append(interp.sample(start_s + k * dt_s, dt_s))
    return samples


def test_fixed_delay_is_honoured() -> None:
    interp = make_interp(fixed_delay_ms=150.0)
    now = 0.0
    tick = 0
    samples = []
    for frame in range(300):
        now = frame * FRAME_S
        while tick / TICK_RATE + 0.04 <= now:  # constant latency: offset known exactly
            interp.add(tick, mover(tick), now)
            tick += TICKS_PER_SNAPSHOT
        samples.append(interp.sample(now, FRAME_S))
    assert interp.adaptive_delay_s() == pytest.approx(0.150)
    server_now_s = now + interp.server_offset_s()
    assert samples[-1].render_time_s == pytest.approx(server_now_s - 0.150, abs=1e-3)


def test_extrapolates_along_velocity_when_snapshots_stop_then_holds() -> None:
    v = 120.0
    interp = make_interp(fixed_delay_ms=50.0, max_extrapolation_s=0.25)
    last_tick = 60
    for tick in range(0, last_tick + 1, TICKS_PER_SNAPSHOT):
        interp.add(tick, mover(tick, v), tick / TICK_RATE)
    newest_x = mover(last_tick, v)[1][0]
    samples = run_frames(interp, last_tick / TICK_RATE, 60)
    extrapolating = [s for s in samples if s.render_time_s > last_tick / TICK_RATE]
    assert extrapolating, "the render clock should run past the newest snapshot"
    held = 0
    for s in extrapolating:
        ahead_s = s.render_time_s - last_tick / TICK_RATE
        x = s.positions[1][0]
        if ahead_s <= 0.25:
            assert s.extrapolated
            assert x == pytest.approx(newest_x + v * ahead_s)
        else:
            held += 1
            assert x == pytest.approx(newest_x + v * 0.25)  # capped, then held
    assert held > 0
    # Before the newest snapshot, still plain interpolation on the same line.
    for s in samples:
        if s.render_time_s < last_tick / TICK_RATE:
            assert not s.extrapolated
            assert s.positions[1][0] == pytest.approx(100.0 + v * s.render_time_s)


def test_extrapolation_off_holds_at_the_newest_snapshot() -> None:
    interp = make_interp(fixed_delay_ms=50.0, extrapolation=False)
    last_tick = 60
    for tick in range(0, last_tick + 1, TICKS_PER_SNAPSHOT):
        interp.add(tick, mover(tick), tick / TICK_RATE)
    newest_x = mover(last_tick)[1][0]
    samples = run_frames(interp, last_tick / TICK_RATE, 40)
    past = [s for s in samples if s.render_time_s > last_tick / TICK_RATE]
    assert past
    for s in past:
        assert not s.extrapolated
        assert s.positions[1][0] == pytest.approx(newest_x)


def test_interpolation_off_draws_the_newest_snapshot() -> None:
    interp = make_interp(enabled=False)
    interp.add(10, entity(100.0), now=1.0)
    interp.add(14, entity(140.0), now=1.05)
    interp.add(12, entity(120.0), now=1.06)  # reordered: older than the newest
    sample = interp.sample(1.06, FRAME_S)
    assert sample.positions == {1: (140.0, 50.0)}
    assert sample.delay_s == 0.0
    assert not sample.extrapolated


def test_out_of_order_snapshots_are_inserted_in_tick_order() -> None:
    interp = make_interp()
    interp.add(10, entity(100.0), now=1.00)
    interp.add(14, entity(200.0), now=1.05)
    interp.add(12, entity(120.0), now=1.08)  # arrives last, belongs in the middle
    interp.add(12, entity(999.0), now=1.09)  # a duplicate is ignored
    assert [t for t, _ in interp.snapshots] == [10, 12, 14]
    # Between 12 and 14, not between 10 and 14 (which would give 175).
    assert interp.reference_at(13 / TICK_RATE)[1][0] == pytest.approx(160.0)
    assert interp.reference_at(11 / TICK_RATE)[1][0] == pytest.approx(110.0)


def test_players_joining_and_leaving_between_snapshots() -> None:
    interp = make_interp()
    interp.add(10, {1: EntityState(100.0, 0, 0, 0), 2: EntityState(10.0, 0, 0, 0)}, now=1.0)
    interp.add(12, {1: EntityState(110.0, 0, 0, 0), 3: EntityState(30.0, 0, 0, 0)}, now=1.03)
    positions = interp.reference_at(11 / TICK_RATE)
    assert positions[1][0] == pytest.approx(105.0)
    assert positions[2] == (10.0, 0)  # left: held where last seen
    assert positions[3] == (30.0, 0)  # joined: appears at once


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_render_clock_slews_and_never_stalls_under_loss_and_jitter(seed: int) -> None:
    """5% loss and +/-20 ms jitter: a constant-velocity player advances ~v*dt every frame."""
    v = 120.0
    rng = random.Random(seed)
    arrivals = []
    seconds = 10
    for tick in range(0, seconds * TICK_RATE, TICKS_PER_SNAPSHOT):
        if rng.random() < 0.05:
            continue
        arrivals.append((tick / TICK_RATE + 0.05 + rng.uniform(-0.02, 0.02), tick))
    arrivals.sort()
    interp = make_interp()
    lost = seconds * SNAPSHOT_RATE - len(arrivals)
    assert lost >= 5  # the loss really happened
    previous = None
    checked = 0
    for frame in range((seconds - 1) * 60):
        now = frame * FRAME_S
        while arrivals and arrivals[0][0] <= now:
            arrival_s, tick = arrivals.pop(0)
            interp.add(tick, mover(tick, v), now)
        sample = interp.sample(now, FRAME_S)
        if not sample.positions:
            continue
        if previous is not None and now > 1.0:  # after the first second's warm-up
            step_s = sample.render_time_s - previous.render_time_s
            moved_px = sample.positions[1][0] - previous.positions[1][0]
            assert FRAME_S * (1 - SLEW) - 1e-9 <= step_s <= FRAME_S * (1 + SLEW) + 1e-9
            # No freeze and no skip: the drawn player moves about v*dt every single frame.
            assert v * FRAME_S * (1 - SLEW) - 1e-6 <= moved_px <= v * FRAME_S * (1 + SLEW) + 1e-6
            checked += 1
        previous = sample
    assert checked > 400


def test_render_clock_resyncs_after_a_large_jump() -> None:
    interp = make_interp(fixed_delay_ms=100.0)
    interp.add(0, mover(0), now=0.0)
    first = interp.sample(0.0, FRAME_S)
    # The server's clock is suddenly 2 s ahead of what we thought (a long stall): jump, no slew.
    interp.add(180, mover(180), now=1.0 / 60)
    second = interp.sample(1.0 / 60, FRAME_S)
    assert second.render_time_s - first.render_time_s > 1.0


# --- Predictor ------------------------------------------------------------------------------------

RULES = SimRules(TICK_RATE)
ME, OTHER = 0, 1


class Pred:
    """A predictor with the unacknowledged-input list it replays, as ``ClientFrame`` pairs them."""

    def __init__(self) -> None:
        self.unacked = UnackedInputs()
        self.predictor = Predictor(RULES, ME, Switches())

    def apply_input(self, seq: int, bits: int) -> None:
        self.unacked.add(seq, bits)
        self.predictor.apply_input(bits)

    def reconcile(self, world: sim.World, last_input_seq: int, replay: bool = True):
        self.unacked.trim_through(last_input_seq)
        self.predictor.switches.reconciliation = replay
        return self.predictor.reconcile(world, self.unacked)

    def __getattr__(self, name: str):
        return getattr(self.predictor, name)


def two_player_world(gap_px: int = 40) -> sim.World:
    world = RULES.add_player(RULES.add_player(RULES.new_world(), ME), OTHER)
    me = world.player(ME)
    other = dataclasses.replace(world.player(OTHER), x=me.x + gap_px * sim.SUBPX, y=me.y)
    return dataclasses.replace(world, players=(me, other))


def my_position(world: sim.World) -> tuple[float, float]:
    e = RULES.entities(world)[ME]
    return e.x_px, e.y_px


def test_apply_input_moves_the_local_player_at_once() -> None:
    predictor = Pred()
    predictor.reconcile(two_player_world(gap_px=200), last_input_seq=-1)
    start = predictor.local_entity()
    predictor.apply_input(0, sim.DOWN)
    after = predictor.local_entity()
    assert after.y_px > start.y_px
    assert after.x_px == start.x_px
    assert list(predictor.unacked) == [(0, sim.DOWN)]


def server_run(world: sim.World, my_inputs: list[int], other_inputs: list[int] | None = None) -> sim.World:
    for k, bits in enumerate(my_inputs):
        inputs = {ME: (bits,)}
        if other_inputs is not None:
            inputs[OTHER] = (other_inputs[k],)
        world = RULES.step(world, inputs)
    return world


def test_reconcile_replays_pending_inputs_and_reports_no_correction_when_server_agrees() -> None:
    start = two_player_world(gap_px=200)
    predictor = Pred()
    predictor.reconcile(start, last_input_seq=-1)
    my_inputs = [sim.RIGHT] * 6 + [sim.DOWN] * 6
    for seq, bits in enumerate(my_inputs):
        predictor.apply_input(seq, bits)
    predicted = predictor.world
    # The server has applied inputs 0..4 (the other player idle) and says so.
    server_world = server_run(start, my_inputs[:5])
    correction = predictor.reconcile(server_world, last_input_seq=4)
    assert correction is None
    assert [seq for seq, _ in predictor.unacked] == list(range(5, 12))
    assert my_position(predictor.world) == my_position(predicted)
    assert predictor.replayed_inputs == 7
    # Replaying really happened: the result is the server state plus the 7 pending inputs.
    assert predictor.world == server_run(server_world, my_inputs[5:])


def test_reconcile_reports_a_correction_when_another_player_pushed_us() -> None:
    start = two_player_world(gap_px=40)
    predictor = Pred()
    predictor.reconcile(start, last_input_seq=-1)
    my_inputs = [sim.RIGHT] * 10
    for seq, bits in enumerate(my_inputs):
        predictor.apply_input(seq, bits)
    before = my_position(predictor.world)
    # What we could not know: the other player ran left into us at the same time.
    server_world = server_run(start, my_inputs[:6], [sim.LEFT] * 6)
    correction = predictor.reconcile(server_world, last_input_seq=5)
    assert correction is not None
    after = my_position(predictor.world)
    assert correction.dx_px == pytest.approx(after[0] - before[0])
    assert correction.dy_px == pytest.approx(after[1] - before[1])
    assert correction.size_px == pytest.approx(math.hypot(correction.dx_px, correction.dy_px))
    assert correction.dx_px < 0  # we were pushed back, to the left
    assert correction.size_px > 1.0
    assert len(predictor.unacked) == 4


def test_reconcile_without_replay_adopts_the_server_state() -> None:
    start = two_player_world(gap_px=200)
    predictor = Pred()
    predictor.reconcile(start, last_input_seq=-1)
    my_inputs = [sim.RIGHT] * 10
    for seq, bits in enumerate(my_inputs):
        predictor.apply_input(seq, bits)
    before = my_position(predictor.world)
    server_world = server_run(start, my_inputs[:4])
    correction = predictor.reconcile(server_world, last_input_seq=3, replay=False)
    assert predictor.world == server_world  # no replay: yanked back to the server's past
    assert predictor.replayed_inputs == 0
    assert correction is not None
    assert correction.dx_px == pytest.approx(my_position(server_world)[0] - before[0])
    assert correction.dx_px < 0
    assert [seq for seq, _ in predictor.unacked] == list(range(4, 10))
    # With replay, the same snapshot would have needed no correction at all.
    replaying = Pred()
    replaying.reconcile(start, last_input_seq=-1)
    for seq, bits in enumerate(my_inputs):
        replaying.apply_input(seq, bits)
    assert replaying.reconcile(server_world, last_input_seq=3) is None


def test_inputs_before_the_first_snapshot_are_replayed_onto_it() -> None:
    predictor = Pred()
    for seq in range(5):
        predictor.apply_input(seq, sim.RIGHT)
    assert predictor.local_entity() is None
    start = two_player_world(gap_px=200)
    server_world = server_run(start, [sim.RIGHT] * 2)
    assert predictor.reconcile(server_world, last_input_seq=1) is None  # nothing drawn before
    assert predictor.world == server_run(server_world, [sim.RIGHT] * 3)
