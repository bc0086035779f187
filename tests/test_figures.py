"""The docs' figures: every scenario runs (no drawing, no matplotlib) and states what it shows.

``tools/figures.py`` splits each figure into a scenario (a seeded game of the real code on a fake
clock, reduced to a small dataclass of numbers) and a draw function (matplotlib only). These tests
run the scenarios with matplotlib made unimportable, and check the numbers each caption quotes:
if a change to the netcode changes what a figure shows, the test says which claim broke. The
pictures themselves are not compared (their bytes depend on the matplotlib version); the
numbers are, run against run.
"""
from __future__ import annotations

import functools
from pathlib import Path
import math
import sys

import numpy as np
import pytest

from game import bots, sim, tag
from netcode.conditioner import PROFILES
from netcode.interpolation import SLEW
from netcode.time_dilation import MAX_DILATION
from tools import figures

WIFI = PROFILES["wifi"]


@functools.cache
def scenario(name: str):
    """Each scenario once per test session, with matplotlib unimportable: the scenarios must not need it."""
    spec = next(s for s in figures.FIGURES if s.name == name)
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sys.modules, "matplotlib", None)
        return spec.scenario()


# --- what each figure shows -----------------------------------------------------------------------


def test_local_correction_smoothing_spreads_the_largest_correction() -> None:
    d = scenario("local_correction")
    assert d.corrections > 10 and d.correction_px_max > 5.0
    # The correction sizes recovered from the two runs are the feel meter's own.
    assert d.correction_px.max() == pytest.approx(d.correction_px_max, abs=0.01)
    assert d.smoothed_jump_px <= 0.4 * d.correction_px_max  # smoothing: a fraction of it
    assert d.snapped_jump_px >= 0.95 * d.correction_px_max  # no smoothing: all of it, in one frame
    assert d.t_s[0] <= d.largest_t_s <= d.t_s[-1]
    assert 1.3 <= d.t_s[-1] - d.t_s[0] <= 1.6
    # Without smoothing the drawn player jumps by the correction; with it, it glides.
    frame = int(np.argmin(np.abs(d.t_s - d.largest_t_s)))
    snap_jump = np.hypot(*(d.drawn_snap_px[frame] - d.drawn_snap_px[frame - 1]))
    smooth_jump = np.hypot(*(d.drawn_smooth_px[frame] - d.drawn_smooth_px[frame - 1]))
    assert smooth_jump < snap_jump
    for number in (f"{d.correction_px_max:.1f} px", f"{d.smoothed_jump_px:.1f} px", f"{d.snapped_jump_px:.1f} px"):
        assert number in d.caption()


def test_remote_interpolation_on_the_track_off_ahead_and_extrapolation_capped() -> None:
    d = scenario("remote_interpolation")
    assert d.error_on_px <= 1.0
    assert d.error_off_px >= 5.0 and d.error_off_px >= 10 * max(d.error_on_px, 0.1)
    # The burst is bridged by extrapolation for the 250 ms cap, then the remote is held.
    assert d.on_extrapolated.any()
    assert d.extrapolated_ms == pytest.approx(d.cap_ms, abs=5.0)
    extrapolated_x = d.on_x_px[d.on_extrapolated]
    peak = int(np.argmax(extrapolated_x))
    assert peak < len(extrapolated_x) - 5  # it reached the cap well before the burst ended ...
    assert np.all(extrapolated_x[peak:] == extrapolated_x[peak])  # ... and stayed there
    # The server held the player (its inputs were lost too), so the guess missed.
    assert d.burst_error_px >= 20.0
    assert f"{d.error_off_px:.1f} px" in d.caption() and f"{d.extrapolated_ms:.0f} ms" in d.caption()


def test_sequence_diagram_draws_real_datagrams_with_losses() -> None:
    d = scenario("sequence_diagram")
    assert d.window_s[1] - d.window_s[0] == pytest.approx(0.3)
    assert d.inputs_lost >= 1 and d.snapshots_lost >= 1
    assert d.other_datagrams == 0  # "every datagram": inputs and snapshots are all there is
    assert 15 <= len(d.input_seq) <= 21  # one input packet per 60 Hz client tick
    assert 8 <= len(d.snapshot_tick) <= 11  # one snapshot every second tick
    assert np.all(np.diff(d.input_seq) == 1)
    assert np.all(np.diff(d.snapshot_tick) == 2)
    # One way is lag/2 +- jitter; in-order release can only hold a packet back within that range.
    low, high = WIFI.one_way_ms - WIFI.jitter_ms, WIFI.one_way_ms + WIFI.jitter_ms
    assert low <= d.one_way_ms_min <= d.one_way_ms_max <= high + 1e-6
    for sent, released in ((d.input_sent_s, d.input_release_s), (d.snapshot_sent_s, d.snapshot_release_s)):
        delivered = np.isfinite(released)
        assert np.all(released[delivered] > sent[delivered])
    assert f"({d.inputs_lost} lost)" in d.caption()


def test_render_clock_runs_smoothly_behind_the_newest_snapshot() -> None:
    d = scenario("render_clock")
    assert np.all(d.newest_ms > d.render_ms)  # always something to interpolate towards
    assert 40.0 <= d.delay_ms_mean <= 120.0
    assert d.rate_off_pct_max <= d.slew_pct == SLEW * 100
    assert d.snapshots_lost >= 1  # the window shows what a lost snapshot does
    # No snapshot arrives "earlier" than the fastest one the estimate is built from.
    estimate_at_arrival = np.interp(d.arrival_t_s, d.t_s, d.server_now_ms)
    assert np.all(d.arrival_ms <= estimate_at_arrival + 1e-6)
    assert f"{d.delay_ms_mean:.0f} ms" in d.caption()


def test_inputs_per_tick_the_buffer_gives_one_input_per_tick() -> None:
    d = scenario("inputs_per_tick")
    assert np.allclose(d.shares_pct.sum(axis=2), 100.0)
    assert np.all(d.ticks >= 300)
    assert d.one_input_pct("lan", "off") == d.one_input_pct("lan", "adaptive") == 100.0
    assert d.one_input_pct("wifi", "adaptive") >= 99.0
    assert d.one_input_pct("wifi", "off") <= 60.0
    assert d.one_input_pct("bad", "adaptive") >= 90.0 > 30.0 >= d.one_input_pct("bad", "off")
    assert f"wifi {d.one_input_pct('wifi', 'off'):.0f}% / {d.one_input_pct('wifi', 'adaptive'):.1f}%" in d.caption()


def test_arena_trails_show_prediction_leaving_the_server_path_when_pushed() -> None:
    d = scenario("arena_trails")
    assert len(d.walls_px) == len(sim.WALLS) and len(d.obstacles_px) == len(sim.OBSTACLES)
    assert tuple(d.walls_px[0]) == (0, 0, sim.ARENA_W_PX, sim.WALL_PX)
    x0, y0, x1, y1 = d.zoom_px
    assert x0 < bots.MEETING_POINT_PX[0] < x1 and y0 < bots.MEETING_POINT_PX[1] < y1
    for trail in d.trails:
        assert tuple(trail.server_px[0]) == sim.SPAWNS_PX[trail.player_id]  # each starts at its spawn
        for points in (trail.server_px, trail.predicted_px, trail.drawn_px):
            inside = points[np.isfinite(points[:, 0])]
            assert np.all((inside >= sim.WALL_PX) & (inside <= (sim.ARENA_W_PX, sim.ARENA_H_PX)))
        # Both end near the meeting point, where the shoving is.
        assert math.dist(trail.server_px[-1], bots.MEETING_POINT_PX) <= 60
    assert d.misprediction_px_max >= 5.0
    assert 0.0 < d.drawn_off_px_max < d.misprediction_px_max
    assert f"{d.misprediction_px_max:.1f} px" in d.caption()


def test_input_buffer_lead_follows_the_target_only_with_time_dilation() -> None:
    d = scenario("input_buffer_lead")
    assert d.miss_on_ms < d.miss_off_ms
    assert d.lead_after_off_ms >= d.lead_after_on_ms + 40.0  # the lag drop, as test_switches checks it
    assert np.all(d.dilation_off_pct == 0.0)
    assert 0.0 < d.dilation_pct_max <= MAX_DILATION * 100
    settled = d.t_s >= d.settled_after_s
    assert np.all(np.isfinite(d.lead_on_ms[settled])) and np.all(np.isfinite(d.target_on_ms[settled]))
    assert f"{d.miss_off_ms:.1f} ms off" in d.caption()


def test_local_blend_at_144_fps_moves_every_frame_and_the_newest_tick_does_not() -> None:
    d = scenario("local_blend_144fps")
    assert d.fps == 144 and d.moving_frames >= 300
    assert d.still_blended_pct == 0.0  # blended: the player moves on every frame
    assert d.still_newest_pct >= 30.0  # newest tick: 60 Hz steps over 144 frames a second
    tick_px = sim.Physics.for_tick_rate(60).max_speed / sim.SUBPX
    assert d.step_newest_px_max == pytest.approx(tick_px, abs=0.05)
    assert d.step_blended_px_mean == pytest.approx(tick_px * 60 / d.fps, rel=0.05)
    assert np.all(np.diff(d.drawn_x_px) != 0) and np.any(np.diff(d.newest_x_px) == 0)
    assert f"{d.still_newest_pct:.0f}%" in d.caption()


def test_snapshot_bandwidth_delta_beats_full_beats_json_and_only_the_deltas_fit_128_players() -> None:
    d = scenario("snapshot_bandwidth")
    assert list(d.players) == [6, 16, 64, 128] and d.codecs == ("json", "full", "delta", "delta0")
    for n in d.players:
        assert d.at("moving_b_per_player", "delta", n) < d.at("moving_b_per_player", "full", n) \
            < d.at("moving_b_per_player", "json", n)
        assert d.at("idle_b_per_player", "delta", n) < d.at("moving_b_per_player", "delta", n)
        assert d.at("moving_b_per_player", "delta", n) < d.at("moving_b_per_player", "delta0", n)
    # One bit per idle player: with many players the idle delta is mostly its header.
    assert d.at("idle_b_per_player", "delta", 128) < 0.5
    assert d.at("max_datagram_b", "full", 128) > d.limit_b > d.at("max_datagram_b", "delta0", 128) \
        > d.at("max_datagram_b", "delta", 128)
    assert d.at("max_datagram_b", "json", 64) > d.limit_b
    # The header is shared: per player it shrinks with more players, and at 6 it outweighs the state.
    assert d.at("other_b", "delta", 6) / 6 > d.at("state_b_per_player", "delta", 6)
    assert d.at("moving_b_per_player", "delta", 128) < d.at("moving_b_per_player", "delta", 6) / 1.5
    assert 30 <= d.at("other_b", "delta", 6) <= 45
    caption = d.caption()
    for number in (f"{d.at('moving_b_per_player', 'delta', 128):.1f} B moving",
                   f"{d.at('max_datagram_b', 'full', 128):,.0f} B full (does not fit"):
        assert number in caption


def test_lag_compensation_rewinds_the_target_to_where_the_shooter_drew_it() -> None:
    d = scenario("lag_compensation")
    assert d.verdict == d.target_id != d.shooter_id  # a confirmed hit
    # The server's rewound hitbox is the client's drawing: the same blend of the same snapshots.
    assert d.drawn_off_px <= 1.0
    # The view time lies between two remembered snapshots, and the rewind is inside the cap.
    assert d.snapshot_ticks.min() <= d.view_tick <= d.snapshot_ticks.max() < d.judged_tick
    assert 0 < d.rewind_ms <= d.cap_ms
    # The runner moved on by more than its own diameter, and there the beam misses it.
    assert d.moved_px >= 2 * sim.PLAYER_RADIUS_PX and d.off_miss_px > 0
    assert math.dist(d.track_px[-1], d.now_px) == pytest.approx(0, abs=1e-9)
    # The beam is the rules' beam: its length and its start at the shooter.
    assert math.dist(d.shooter_px, d.beam_end_px) == pytest.approx(tag.BEAM_RANGE_PX, rel=0.01)
    # Lag compensation on: nearly every hit on screen is confirmed.
    assert d.fired >= 5 and d.hits_on_screen >= 5 and d.confirmed >= 0.8 * d.hits_on_screen
    assert d.unanswered == 0  # the server fired every shot the client's prediction fired
    # A hit on screen the server rejected anyway had its beam start elsewhere: the shooter's own
    # prediction was off (a push), which a rewind of the others cannot mend.
    assert len(d.rejected_start_off_px) == d.hits_on_screen - d.confirmed
    assert all(off >= 2.0 for off in d.rejected_start_off_px)
    for number in (f"{d.rewind_ms:.0f} ms before", f"{d.drawn_off_px:.2f} px", f"misses it by {d.off_miss_px:.0f} px",
                   f"confirmed {d.confirmed}."):
        assert number in d.caption()


def test_frame_sync_timeline_lockstep_waits_for_every_set_and_rollback_guesses_and_redoes() -> None:
    d = scenario("frame_sync_timeline")
    lock, roll = d.panels
    assert (lock.mode, lock.input_delay, lock.max_rollback) == ("lockstep", 3, 0)
    assert (roll.mode, roll.input_delay, roll.max_rollback) == ("rollback", 1, figures.FRAME_SYNC_MAX_ROLLBACK)
    assert d.window_s[1] - d.window_s[0] == pytest.approx(figures.FRAME_SYNC_WINDOW_S)
    for p in (lock, roll):
        assert np.all((p.t_s >= d.window_s[0]) & (p.t_s <= d.window_s[1])) and 55 <= len(p.t_s) <= 62
        assert np.all(np.diff(p.head) >= 0) and np.all(np.diff(p.confirmed) >= 0)
        # Our input is sampled as soon as it is due: for the frame the input delay after the next.
        ahead_of_head = p.input_frame - p.head
        assert np.all((ahead_of_head >= p.input_delay) & (ahead_of_head <= p.input_delay + 1))
        # A frame's set comes back a round trip (and the ticks waited at each end) after its input left.
        assert p.rtt_ms >= WIFI.lag_ms and p.rtt_ms <= p.set_back_ms <= p.rtt_ms + 50
        assert p.hash_checks >= 50 and p.desyncs == 0
    # Lockstep never guesses: it draws only confirmed frames, is held on (nearly) every tick, and
    # advances the input delay and one frame per cycle of an input and its set.
    assert np.all(lock.head == lock.confirmed) and lock.ahead_max == 0
    assert lock.rollbacks == 0 and len(lock.rollback_t_s) == 0
    assert lock.stalled_pct >= 90 and lock.stalled.mean() >= 0.9
    cycle_fps = (lock.input_delay + 1) * 1000 / lock.set_back_ms
    assert lock.frames_per_s == pytest.approx(cycle_fps, rel=0.1) and lock.frames_per_s < 35
    # Rollback runs ahead on guesses, never past the cap, and is held only there.
    ahead = roll.head - roll.confirmed
    assert np.all((ahead >= 0) & (ahead <= roll.max_rollback)) and roll.ahead_max == roll.max_rollback
    assert roll.stalled.any() and np.all(ahead[roll.stalled] == roll.max_rollback)
    assert roll.frames_per_s >= 55 and roll.frames_per_s > 2 * lock.frames_per_s
    assert roll.input_to_render_frames < lock.input_to_render_frames
    # Each rollback redid the wrong frame and every guess after it: at most the cap.
    assert roll.rollbacks >= 5 and len(roll.rollback_t_s) >= 2
    assert np.all((roll.rollback_frames >= 1) & (roll.rollback_frames <= roll.max_rollback))
    assert 1 <= roll.rollback_frames_mean <= roll.rollback_frames_max <= roll.max_rollback
    caption = d.caption()
    for number in (f"{lock.frames_per_s:.1f} frames a second", f"{lock.set_back_ms:.0f} ms on average",
                   f"{roll.ahead_mean:.1f} frames past", f"{roll.rollbacks} times in the run",
                   f"{roll.rollback_frames_mean:.1f} frames on average"):
        assert number in caption


# --- determinism, captions, the command -------------------------------------------------------------


@pytest.mark.parametrize("name", figures.NAMES)
def test_the_same_scenario_run_twice_gives_the_same_numbers(name: str) -> None:
    spec = next(s for s in figures.FIGURES if s.name == name)
    again = spec.scenario()
    assert figures.as_plain(again) == figures.as_plain(scenario(name))
    assert again.caption() == scenario(name).caption()


def test_captions_file_lists_every_figure_in_order_and_only_replaces_what_was_redrawn(tmp_path) -> None:
    first = {name: f"caption of {name}" for name in figures.NAMES}
    path = figures.write_captions(tmp_path, first)
    lines = [line for line in path.read_text().splitlines() if line.startswith("- ")]
    assert lines == [f"- `{name}.png`: caption of {name}" for name in figures.NAMES]
    figures.write_captions(tmp_path, {"render_clock": "new words"})  # as --only render_clock does
    again = figures._read_captions(path)
    assert again["render_clock"] == "new words"
    assert {k: v for k, v in again.items() if k != "render_clock"} == \
        {k: v for k, v in first.items() if k != "render_clock"}


def test_without_matplotlib_the_command_names_the_install_and_exits_2(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(SystemExit) as exit_info:
        figures.main(["--out", str(tmp_path), "--only", "sequence_diagram"])
    assert exit_info.value.code == 2
    assert 'pip install -e ".[docs]"' in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_every_figure_is_embedded_in_the_docs_with_its_caption_as_generated() -> None:
    """The docs quote the captions the figures tool wrote: regenerate both together or this fails."""
    import re

    docs = Path(__file__).resolve().parent.parent / "docs"
    text = " ".join((docs / "netcode.md").read_text().split())
    captions = [re.match(r"- `(.+?)`: (.*)", line.strip()) for line in (docs / "figures" / "captions.md").open()]
    captions = [m for m in captions if m]
    assert len(captions) >= 7
    for m in captions:
        assert f"figures/{m.group(1)}" in text, m.group(1)
        assert " ".join(m.group(2).split()) in text, m.group(1)
