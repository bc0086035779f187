"""Smoothness figures measured against the server's truth, by joining client and server traces.

Theory of operation
-------------------
A figure that compares what a client drew with the snapshots it drew from can only see errors
the client added. If the snapshots themselves are a staircase (the server applied 0, 2, 0, 2
inputs per tick because they arrived in bursts, and 30 Hz snapshots caught that unevenly), the
drawing follows the staircase faithfully and such a figure reports perfection while the player
on screen visibly stutters. So every figure here compares the drawing with the server's
*per-tick truth* instead:

* ``run_server.py --trace`` writes, per tick ``T``, every player's true position after that
  tick's step (server time ``T / tick_rate``) and the inputs applied to each player in it.
* ``run_client.py --trace`` writes, per drawn frame, the client clock, the drawn positions and
  where on the server's timeline they were meant to be: ``render_time_s`` for remote players
  (interpolated in the past), ``input_seq`` and ``alpha`` for the local, predicted player.

Both figures come in two kinds:

* **Error** (remote players): the distance between the drawn remote and the true track at the
  rendered server time, linearly interpolated between ticks.
* **Speed off** (remote and local): a player moving at a constant speed must also *look* like it
  moves at that speed. For each frame the drawn speed ``|Δdrawn| / Δt`` (client clock, from the
  previous frame) is compared with the true speed at that frame's place on the track. It counts
  as off when it differs by more than 15 %. The true speed is taken over a window
  (``± 0.05 s`` for remotes, ``± 3 inputs`` for the local player) so that a staircase in the
  truth itself does not pass for a stop; a drawing that reproduces the staircase is then
  penalised through its own jumpy drawn speed. Only frames *away from turns* are counted: the
  true track must cover at least 90 % of the top speed's distance over ``± 0.15 s`` around the
  frame's place, which leaves out the time around each reversal or stop (about 0.3 s for a
  reversal at a wall), where "the right speed" is ill defined.

The local player's truth is indexed by input number, not by tick: a lone player moves once per
input, wherever the input lands in time, so its motion is a pure function of its inputs. The
position after input ``n`` is the server's position after the tick that applied ``n``. When a
tick applied several inputs, that position is exact for the last of them only; the earlier ones
are interpolated between the neighbouring exact points (exact for straight-line motion). A
frame's place on that track is ``input_seq - 1 + alpha`` (the blend the client drew).

Everything is vectorised with numpy: a track is a few arrays, and ``np.interp`` evaluates it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

TOP_SPEED_PX_S = 320.0
SPEED_HALF_WINDOW_S = 0.05  # true remote speed: |p(r + 0.05 s) - p(r - 0.05 s)| / 0.1 s
SPEED_HALF_WINDOW_INPUTS = 3  # true local speed: over ± 3 inputs
TURN_HALF_WINDOW_S = 0.15  # a counted frame's true track covers >= 90 % of top speed over ± 0.15 s
STEADY_SPEED_FRACTION = 0.90  # "not slow": at least 90 % of the top speed
SPEED_OFF_FRACTION = 0.15  # a drawn speed more than 15 % away from the true one is "off"
HISTOGRAM_KEYS = ("0", "1", "2", "3+")

Frame = dict
TickRecord = dict


def load_jsonl(path: str | Path) -> list[dict]:
    """One dict per line; blank lines are skipped, and so is a cut-off last line (a killed writer)."""
    lines = [line for line in Path(path).read_text().splitlines() if line.strip()]
    records = []
    for number, line in enumerate(lines):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if number != len(lines) - 1:
                raise
    return records


# --- tracks ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Track:
    """One player's positions sampled at increasing keys (server ticks, or input numbers)."""

    key: np.ndarray  # float, strictly increasing
    x_px: np.ndarray
    y_px: np.ndarray

    def __len__(self) -> int:
        return len(self.key)

    def covers(self, at: np.ndarray) -> np.ndarray:
        """True where ``at`` lies inside the sampled span (NaN is never covered)."""
        if not len(self):
            return np.zeros(np.shape(at), dtype=bool)
        return (at >= self.key[0]) & (at <= self.key[-1])

    def position_px(self, at: np.ndarray) -> np.ndarray:
        """Linearly interpolated positions, shape (len(at), 2)."""
        return np.column_stack((np.interp(at, self.key, self.x_px), np.interp(at, self.key, self.y_px)))

    def windowed_speed_px_per_key(self, at: np.ndarray, half_window: float) -> np.ndarray:
        """``|p(at + h) - p(at - h)| / 2h``; NaN where the window leaves the track."""
        before, after = at - half_window, at + half_window
        step = self.position_px(after) - self.position_px(before)
        speed = np.hypot(step[:, 0], step[:, 1]) / (2 * half_window)
        return np.where(self.covers(before) & self.covers(after), speed, np.nan)

    def steady(self, at: np.ndarray, turn_half_window: float, min_speed_px_per_key: float) -> np.ndarray:
        """True where the track's mean speed over ``at ± turn_half_window`` is at least the minimum.

        A turn or a stop inside the window shortens the distance covered, so it fails; a
        staircase (0, 2, 1 inputs per tick) does not, because over the whole window it still
        covers the full distance. NaN (the window leaves the track) is never steady.
        """
        speed = self.windowed_speed_px_per_key(np.asarray(at, dtype=float), turn_half_window)
        return np.nan_to_num(speed, nan=-1.0) >= min_speed_px_per_key


def _make_track(keys: Sequence[float], positions_px: Sequence[Sequence[float]]) -> Track:
    if not len(keys):
        empty = np.zeros(0)
        return Track(empty, empty, empty)
    key = np.asarray(keys, dtype=float)
    xy = np.asarray(positions_px, dtype=float).reshape(-1, 2)
    order = np.argsort(key, kind="stable")
    return Track(key[order], xy[order, 0], xy[order, 1])


def server_track(server_ticks: Iterable[TickRecord], player_id: int) -> Track:
    """The player's true position after each tick it was present in, keyed by tick."""
    pid = str(player_id)
    rows = [(record["tick"], record["players"][pid]) for record in server_ticks
            if pid in record.get("players", {})]
    return _make_track([tick for tick, _ in rows], [xy for _, xy in rows])


def applied_inputs(server_ticks: Iterable[TickRecord], player_id: int) -> dict[int, int]:
    """input_seq -> the tick that applied it, for one player."""
    pid = str(player_id)
    return {int(seq): record["tick"] for record in server_ticks
            for seq, _bits in record.get("inputs", {}).get(pid, ())}


def input_track(server_ticks: Sequence[TickRecord], player_id: int) -> Track:
    """The player's true position after each input, keyed by input number.

    Exact for the last input a tick applied (the tick's position); inputs applied earlier in the
    same tick are left to interpolation between exact points.
    """
    last_input_of_tick: dict[int, int] = {}
    for seq, tick in applied_inputs(server_ticks, player_id).items():
        last_input_of_tick[tick] = max(seq, last_input_of_tick.get(tick, seq))
    track = server_track(server_ticks, player_id)
    ticks = np.array(sorted(last_input_of_tick), dtype=float)
    present = np.isin(ticks, track.key)
    ticks = ticks[present]
    seqs = [last_input_of_tick[int(tick)] for tick in ticks]
    return _make_track(seqs, track.position_px(ticks))


# --- client frames ---------------------------------------------------------------------------


def _float_or_nan(value: object) -> float:
    return float(value) if value is not None else np.nan


def _frame_series(frames: Sequence[Frame], drawn: Callable[[Frame], object],
                  place: Callable[[Frame], float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(client clock s, drawn position px with NaN rows where not drawn, place on the track)."""
    clock_s = np.array([_float_or_nan(f.get("t")) for f in frames], dtype=float)
    xy = [drawn(f) for f in frames]
    drawn_px = np.array([p if p is not None else (np.nan, np.nan) for p in xy], dtype=float).reshape(-1, 2)
    return clock_s, drawn_px, np.array([place(f) for f in frames], dtype=float)


def _speed_off(clock_s: np.ndarray, drawn_px: np.ndarray, at: np.ndarray, track: Track,
               keys_per_s: float, speed_half_window: float, turn_half_window: float,
               top_speed_px_s: float) -> tuple[float, int]:
    """(% of counted frames whose drawn speed is off, number of counted frames)."""
    if len(clock_s) < 2 or len(track) < 2:
        return float("nan"), 0
    dt_s = np.diff(clock_s)
    step = np.diff(drawn_px, axis=0)
    moved_px = np.hypot(step[:, 0], step[:, 1])  # NaN unless drawn in both frames
    here = at[1:]
    steady = track.steady(here, turn_half_window, STEADY_SPEED_FRACTION * top_speed_px_s / keys_per_s)
    counted = (dt_s > 0) & np.isfinite(moved_px) & steady
    frames = int(counted.sum())
    if not frames:
        return float("nan"), 0
    drawn_px_s = moved_px[counted] / dt_s[counted]
    true_px_s = track.windowed_speed_px_per_key(here[counted], speed_half_window) * keys_per_s
    off = np.abs(drawn_px_s - true_px_s) > SPEED_OFF_FRACTION * true_px_s
    return float(100.0 * off.mean()), frames


def remote_figures(client_frames: Sequence[Frame], server_ticks: Sequence[TickRecord], player_id: int,
                   tick_rate: int, top_speed_px_s: float = TOP_SPEED_PX_S) -> dict[str, float]:
    """How one client drew remote player ``player_id``, against the server's per-tick truth."""
    pid = str(player_id)
    track = server_track(server_ticks, player_id)
    clock_s, drawn_px, at_tick = _frame_series(
        client_frames, lambda f: (f.get("remotes") or {}).get(pid),
        lambda f: _float_or_nan(f.get("render_time_s")) * tick_rate)
    judged = np.isfinite(drawn_px[:, 0]) & track.covers(at_tick)
    miss = drawn_px[judged] - track.position_px(at_tick[judged])
    error_px = np.hypot(miss[:, 0], miss[:, 1])
    off_pct, frames = _speed_off(clock_s, drawn_px, at_tick, track, tick_rate,
                                 SPEED_HALF_WINDOW_S * tick_rate, TURN_HALF_WINDOW_S * tick_rate, top_speed_px_s)
    return {
        "remote_true_error_px_mean": float(error_px.mean()) if len(error_px) else float("nan"),
        "remote_true_error_px_p95": float(np.percentile(error_px, 95)) if len(error_px) else float("nan"),
        "remote_error_frames": int(len(error_px)),
        "remote_speed_off_pct": off_pct,
        "remote_speed_frames": frames,
    }


def local_figures(client_frames: Sequence[Frame], server_ticks: Sequence[TickRecord], player_id: int,
                  tick_rate: int, top_speed_px_s: float = TOP_SPEED_PX_S) -> dict[str, float]:
    """How a client drew its own player ``player_id``, against the true track indexed by input."""
    track = input_track(server_ticks, player_id)
    clock_s, drawn_px, at_input = _frame_series(
        client_frames, lambda f: f.get("local"),
        lambda f: (f["input_seq"] - 1 + f["alpha"]) if f.get("input_seq") is not None
        and f.get("alpha") is not None else np.nan)
    off_pct, frames = _speed_off(clock_s, drawn_px, at_input, track, tick_rate, SPEED_HALF_WINDOW_INPUTS,
                                 TURN_HALF_WINDOW_S * tick_rate, top_speed_px_s)
    return {"local_speed_off_pct": off_pct, "local_speed_frames": frames}


# --- inputs per tick -------------------------------------------------------------------------


def input_ticks(server_ticks: Sequence[TickRecord], player_id: int, skip_first_s: float = 2.0,
                tick_rate: int = 60) -> dict[str, int]:
    """Histogram of inputs applied per tick to one player: {"0", "1", "2", "3+"} -> ticks.

    Counts the ticks from ``skip_first_s`` after the tick of its first applied input up to the
    tick of its last applied input, so joining and leaving are not counted.
    """
    pid = str(player_id)
    rows = np.array([(record["tick"], len(record["inputs"][pid])) for record in server_ticks
                     if pid in record.get("inputs", {})], dtype=int).reshape(-1, 2)
    ticks, applied = rows[:, 0], rows[:, 1]
    histogram = dict.fromkeys(HISTOGRAM_KEYS, 0)
    if not (applied > 0).any():
        return histogram
    first_tick, last_tick = ticks[applied > 0].min(), ticks[applied > 0].max()
    counted = applied[(ticks >= first_tick + skip_first_s * tick_rate) & (ticks <= last_tick)]
    for key, count in zip(HISTOGRAM_KEYS, np.bincount(np.minimum(counted, 3), minlength=4)):
        histogram[key] = int(count)
    return histogram


def merge_histograms(histograms: Iterable[dict[str, int]]) -> dict[str, int]:
    total = dict.fromkeys(HISTOGRAM_KEYS, 0)
    for histogram in histograms:
        for key in HISTOGRAM_KEYS:
            total[key] += histogram.get(key, 0)
    return total


def one_input_pct(hist: dict[str, int]) -> float:
    """Share of counted ticks, in %, that applied exactly one input (NaN when none counted)."""
    ticks = sum(hist.get(key, 0) for key in HISTOGRAM_KEYS)
    return 100.0 * hist.get("1", 0) / ticks if ticks else float("nan")


def player_id_of(client_frames: Sequence[Frame]) -> int | None:
    """The player id a client trace belongs to (None for an empty trace)."""
    return next((int(f["player_id"]) for f in client_frames if f.get("player_id") is not None), None)
