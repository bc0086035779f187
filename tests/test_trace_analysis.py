"""Trace analysis on synthetic client and server traces: no processes, known answers.

Each test builds the server's per-tick truth and a client's drawn frames by hand, so the figure
it checks has an exact expected value (or a clear side of the 15 % line).
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tools import trace_analysis as ta

TICK_RATE = 60
SPEED_PX_S = 320.0
MOVER, OBSERVER = 2, 1
RIGHT = 8


def line_x_px(tick: float) -> float:
    """A player moving right at exactly 320 px/s, at x = 100 px on tick 0."""
    return 100.0 + SPEED_PX_S * tick / TICK_RATE


def server_trace(x_of_tick, ticks: int = 600, inputs_per_tick=None) -> list[dict]:
    """Per-tick truth: MOVER at (x_of_tick(T), 300), OBSERVER parked; one input per tick unless told."""
    records, seq = [], 0
    for tick in range(1, ticks + 1):
        count = 1 if inputs_per_tick is None else inputs_per_tick(tick)
        applied = [[seq + i, RIGHT] for i in range(count)]
        seq += count
        records.append({"tick": tick, "players": {str(MOVER): [x_of_tick(tick), 300.0], str(OBSERVER): [50.0, 50.0]},
                        "inputs": {str(MOVER): applied, str(OBSERVER): [[tick - 1, 0]]}})
    return records


def remote_frames(drawn_of_render_tick, fps: float = 60.0, seconds: float = 8.0,
                  delay_ticks: float = 6.0) -> list[dict]:
    """OBSERVER's frames: the client clock runs from 0; the remote is drawn ``delay_ticks`` in the past."""
    frames = []
    for i in range(int(seconds * fps)):
        t_s = 0.25 + i / fps
        render_tick = t_s * TICK_RATE - delay_ticks
        x, y = drawn_of_render_tick(render_tick)
        frames.append({"t": t_s, "player_id": OBSERVER, "render_time_s": render_tick / TICK_RATE,
                       "remotes": {str(MOVER): [x, y]}, "local": [50.0, 50.0], "tick_rate": TICK_RATE})
    return frames


def test_load_jsonl_reads_records_and_tolerates_a_cut_off_last_line(tmp_path):
    path = tmp_path / "trace.jsonl"
    path.write_text(json.dumps({"tick": 1}) + "\n\n" + json.dumps({"tick": 2}) + "\n" + '{"tick": 3, "pla')
    assert ta.load_jsonl(path) == [{"tick": 1}, {"tick": 2}]
    path.write_text('{"tick": 1, "pla\n' + json.dumps({"tick": 2}) + "\n")
    with pytest.raises(json.JSONDecodeError):
        ta.load_jsonl(path)  # only the last line may be cut off


def test_remote_drawn_exactly_on_the_truth_has_no_error_and_no_speed_off():
    figures = ta.remote_figures(remote_frames(lambda r: (line_x_px(r), 300.0)), server_trace(line_x_px),
                                MOVER, TICK_RATE)
    assert figures["remote_true_error_px_mean"] == pytest.approx(0.0, abs=1e-9)
    assert figures["remote_true_error_px_p95"] == pytest.approx(0.0, abs=1e-9)
    assert figures["remote_speed_off_pct"] == 0.0
    assert figures["remote_speed_frames"] > 400  # 8 s at 60 fps, minus the ends of the trace


def test_remote_drawn_from_a_staircase_is_caught_by_speed_though_its_error_is_small():
    # The server applied 1, 0, 2, 1 inputs per tick (held for one tick, then two ticks' worth at once);
    # 30 Hz snapshots on odd ticks give steps of 3 and 1 ticks' worth, which the client interpolates.
    # (On even ticks the same staircase would alias away into steps of 2: the phase decides.)
    pattern = (1, 0, 2, 1)
    applied = np.concatenate(([0], np.cumsum([pattern[t % 4] for t in range(1, 700)])))  # inputs after tick T
    snapshot_ticks = np.arange(1, 700, 2)
    snapshot_x = [line_x_px(applied[t]) for t in snapshot_ticks]
    frames = remote_frames(lambda r: (float(np.interp(r, snapshot_ticks, snapshot_x)), 300.0))
    figures = ta.remote_figures(frames, server_trace(line_x_px), MOVER, TICK_RATE)
    assert figures["remote_speed_off_pct"] > 80.0  # drawn at 0.5x and 1.5x the true speed, turn by turn
    assert figures["remote_speed_frames"] > 400
    assert figures["remote_true_error_px_mean"] < 6.0  # within about a tick of motion: error alone looks fine


def test_a_staircase_truth_still_counts_as_moving_at_full_speed():
    # The truth itself applied 0, 2, 0, 2 inputs per tick; drawn exactly on that staircase.
    staircase_x = lambda tick: line_x_px(2 * (math.floor(tick) // 2))
    server = server_trace(staircase_x, inputs_per_tick=lambda t: 2 * (t % 2 == 0))
    ticks = np.arange(0, 700)
    stairs_x = [staircase_x(tick) for tick in ticks]
    frames = remote_frames(lambda r: (float(np.interp(r, ticks, stairs_x)), 300.0))
    figures = ta.remote_figures(frames, server, MOVER, TICK_RATE)
    assert figures["remote_speed_frames"] > 400  # the windowed true speed sees 320 px/s, not stops
    assert figures["remote_speed_off_pct"] > 80.0  # the drawing stutters with it
    assert figures["remote_true_error_px_mean"] == pytest.approx(0.0, abs=1e-9)


def test_a_constant_offset_is_the_error_and_does_not_change_the_speed():
    figures = ta.remote_figures(remote_frames(lambda r: (line_x_px(r), 310.0)), server_trace(line_x_px),
                                MOVER, TICK_RATE)
    assert figures["remote_true_error_px_mean"] == pytest.approx(10.0)
    assert figures["remote_true_error_px_p95"] == pytest.approx(10.0)
    assert figures["remote_speed_off_pct"] == 0.0


def bouncing_x_px(tick: float) -> float:
    """Right at 320 px/s until tick 240, then instantly back left at 320 px/s (a wall)."""
    return line_x_px(tick) if tick <= 240 else line_x_px(480 - tick)


def test_a_reversal_at_a_wall_is_left_out_by_the_turn_rule():
    server = server_trace(bouncing_x_px)
    straight = ta.remote_figures(remote_frames(lambda r: (line_x_px(r), 300.0)), server_trace(line_x_px),
                                 MOVER, TICK_RATE)
    bounced = ta.remote_figures(remote_frames(lambda r: (bouncing_x_px(r), 300.0)), server, MOVER, TICK_RATE)
    # Drawn exactly on the truth: frames at the turn, where the windowed true speed drops towards 0
    # while the drawing still moves at 320 px/s, would count as off if they were not left out.
    assert bounced["remote_speed_off_pct"] == 0.0
    left_out = straight["remote_speed_frames"] - bounced["remote_speed_frames"]
    assert 15 <= left_out <= 30  # about 0.3 s (plus the speed window) around the turn, at 60 fps
    # A drawing frozen for a few ticks right at the turn is not judged; the same freeze on the straight is.
    def frozen(first_tick: float, last_tick: float):
        return lambda r: (bouncing_x_px(first_tick if first_tick <= r <= last_tick else r), 300.0)

    at_turn = ta.remote_figures(remote_frames(frozen(236.0, 244.0)), server, MOVER, TICK_RATE)
    on_straight = ta.remote_figures(remote_frames(frozen(100.0, 108.0)), server, MOVER, TICK_RATE)
    assert at_turn["remote_speed_off_pct"] == 0.0
    assert on_straight["remote_speed_off_pct"] * on_straight["remote_speed_frames"] / 100 >= 8  # 8 still frames


def test_a_stopped_remote_is_not_counted_and_frames_outside_the_trace_are_not_judged():
    server = server_trace(lambda tick: 500.0)
    figures = ta.remote_figures(remote_frames(lambda r: (500.0, 300.0), seconds=12.0), server, MOVER, TICK_RATE)
    assert figures["remote_speed_frames"] == 0 and math.isnan(figures["remote_speed_off_pct"])
    assert figures["remote_error_frames"] == pytest.approx(600 - 9, abs=2)  # render ticks 9..600 of the trace


def test_frames_where_the_remote_was_not_drawn_before_are_skipped():
    frames = remote_frames(lambda r: (line_x_px(r), 300.0))
    for frame in frames[100:200:2]:
        frame["remotes"] = {}
    full = ta.remote_figures(remote_frames(lambda r: (line_x_px(r), 300.0)), server_trace(line_x_px), MOVER, TICK_RATE)
    gappy = ta.remote_figures(frames, server_trace(line_x_px), MOVER, TICK_RATE)
    assert gappy["remote_speed_frames"] == full["remote_speed_frames"] - 100  # 50 missing, 50 with no previous
    assert gappy["remote_speed_off_pct"] == 0.0


# --- the local player ------------------------------------------------------------------------

INPUT_LAG = 5  # the server applies input n on tick n + INPUT_LAG


def after_input_x_px(n: float) -> float:
    """The local player's true x after input n: one 320 px/s step per input."""
    return 100.0 + SPEED_PX_S * (n + 1) / TICK_RATE


def local_server_trace(jittery: bool) -> list[dict]:
    """MOVER alone; inputs one per tick, or (jittery) in the pattern 1, 0, 2, 1 per tick."""
    pattern = (1, 0, 2, 1) if jittery else (1,)
    records, seq = [], 0
    for tick in range(INPUT_LAG, 1200):
        count = pattern[tick % len(pattern)]
        applied = [[seq + i, RIGHT] for i in range(count)]
        seq += count
        records.append({"tick": tick, "players": {str(MOVER): [after_input_x_px(seq - 1), 300.0]},
                        "inputs": {str(MOVER): applied}})
    return records


def local_frames(blend: bool, fps: float = 144.0, seconds: float = 6.0) -> list[dict]:
    """Frames of MOVER's own client; its prediction is at input place t * 60 (input_seq - 1 + alpha)."""
    frames = []
    for i in range(int(seconds * fps)):
        t_s = 1.0 + i / fps
        place = t_s * TICK_RATE
        input_seq = math.floor(place) + 1
        alpha = place - math.floor(place)
        if alpha == 0.0:
            input_seq, alpha = input_seq - 1, 1.0
        if not blend:  # draw only the newest predicted tick
            input_seq, alpha = math.ceil(place), 1.0
        x = after_input_x_px(input_seq - 1 + alpha)
        frames.append({"t": t_s, "player_id": MOVER, "local": [x, 300.0], "input_seq": input_seq, "alpha": alpha,
                       "remotes": {}, "tick_rate": TICK_RATE})
    return frames


@pytest.mark.parametrize("jittery", [False, True])
def test_the_input_track_is_exact_even_when_a_tick_applies_two_inputs(jittery):
    track = ta.input_track(local_server_trace(jittery), MOVER)
    n = np.arange(10, 1000, 0.5)
    assert track.position_px(n)[:, 0] == pytest.approx([after_input_x_px(k) for k in n])
    applied = ta.applied_inputs(local_server_trace(jittery), MOVER)
    assert sorted(applied) == list(range(len(applied)))  # every input once
    if not jittery:
        assert applied[10] == 10 + INPUT_LAG


@pytest.mark.parametrize("jittery", [False, True])
def test_local_drawn_with_alpha_blending_at_144_fps_moves_at_the_true_speed(jittery):
    figures = ta.local_figures(local_frames(blend=True), local_server_trace(jittery), MOVER, TICK_RATE)
    assert figures["local_speed_frames"] > 800
    assert figures["local_speed_off_pct"] == pytest.approx(0.0, abs=0.5)


def test_local_drawn_at_the_newest_tick_only_at_144_fps_stutters():
    figures = ta.local_figures(local_frames(blend=False), local_server_trace(False), MOVER, TICK_RATE)
    assert figures["local_speed_frames"] > 800
    assert figures["local_speed_off_pct"] > 90.0  # still frames, then 2.4x jumps


def test_a_local_reversal_is_left_out_in_input_units():
    def trace(bounce_at: int | None) -> list[dict]:
        records = local_server_trace(False)
        for record in records:
            n = record["inputs"][str(MOVER)][0][0]
            if bounce_at is not None and n > bounce_at:
                record["players"][str(MOVER)] = [after_input_x_px(2 * bounce_at - n), 300.0]
        return records

    def drawn(frames: list[dict], bounce_at: int) -> list[dict]:
        for frame in frames:
            place = frame["input_seq"] - 1 + frame["alpha"]
            frame["local"] = [after_input_x_px(place if place <= bounce_at else 2 * bounce_at - place), 300.0]
        return frames

    straight = ta.local_figures(local_frames(blend=True), trace(None), MOVER, TICK_RATE)
    bounced = ta.local_figures(drawn(local_frames(blend=True), 240), trace(240), MOVER, TICK_RATE)
    assert bounced["local_speed_off_pct"] == pytest.approx(0.0, abs=0.5)
    left_out = straight["local_speed_frames"] - bounced["local_speed_frames"]
    assert 0.25 * 144 <= left_out <= 0.5 * 144


# --- inputs per tick -------------------------------------------------------------------------


def test_input_ticks_counts_steady_ticks_between_join_and_leave():
    pattern = (1, 1, 0, 2, 3, 1)
    records, seq = [], 0
    for tick in range(0, 560):
        if tick < 10:  # not joined yet
            records.append({"tick": tick, "players": {}, "inputs": {}})
            continue
        if tick < 130:
            count = 2 if tick % 2 == 0 else 0  # the first 2 s after the first input (tick 10): not counted
        elif tick < 130 + 60 * len(pattern):
            count = pattern[(tick - 130) % len(pattern)]
        else:
            count = 0  # stopped sending before leaving: not counted either
        records.append({"tick": tick, "players": {str(MOVER): [0.0, 0.0]},
                        "inputs": {str(MOVER): [[seq + i, 0] for i in range(count)]}})
        seq += count
    hist = ta.input_ticks(records, MOVER, skip_first_s=2.0, tick_rate=TICK_RATE)
    # Ticks 130 .. 489 hold 60 repeats of the pattern; the last applied input is on tick 489.
    assert hist == {"0": 60, "1": 180, "2": 60, "3+": 60}
    assert ta.one_input_pct(hist) == pytest.approx(50.0)
    assert math.isnan(ta.one_input_pct(ta.input_ticks(records, OBSERVER)))
    assert ta.merge_histograms([hist, hist])["1"] == 360
