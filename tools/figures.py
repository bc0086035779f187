"""The figures of the docs, regenerated from seeded runs of the real code.

    python -m tools.figures [--out docs/figures] [--only NAME]

Theory of operation
-------------------
Every picture in the docs is a measurement, not a drawing: a seeded game from
``tools.scenarios.run_game`` (the real ``ServerSession`` and ``GameClient``\\ s over an in-memory
network, behind seeded link conditioners, on a fake clock), read back through what the code
itself writes down: the server's per-tick trace (true positions, inputs applied, input buffer),
the clients' per-frame traces (predicted, drawn, render clock, time dilation) and the
conditioners' fate of every datagram (sent, released or lost). One figure needs no network:
``snapshot_bandwidth`` runs the simulation directly and encodes its states with every snapshot
codec (``tools.bench_codec``), because what it measures is bytes, not timing. Two set up their
own fake-clock game: ``lag_compensation`` needs server bots and a tagger client that reads its own
screen, which ``run_game`` does not offer, and records each rewind of the server's
``LagCompensator``; ``frame_sync_timeline`` runs the server in frame sync (lockstep, then
rollback) and records, frame by frame, one client's ``FrameSyncEngine``: its newest and confirmed
frames, its stalls, and each rollback as it happens.

Each figure is two functions and a caption:

* a **scenario** (``local_correction()``, ...) runs the game(s) and returns a small dataclass of
  arrays and the numbers its caption states. It needs numpy, never matplotlib, so the tests
  (``tests/test_figures.py``) run every scenario and check those numbers;
* a **draw** function (``draw_local_correction(data)``, ...) turns that dataclass into a
  matplotlib ``Figure`` and does nothing else;
* the dataclass's ``caption()`` is a sentence built from its numbers, so the text the docs quote
  can never drift from the picture: ``docs/figures/captions.md`` lists them all.

Same seed, same picture: the runs repeat exactly (fake clock, seeded links), and the PNGs are
written with a fixed size and dpi, a fixed ``svg.hashsalt`` and no software or date metadata,
so two runs with the same matplotlib give byte-identical files. matplotlib is an optional
extra (``pip install -e ".[docs]"``) imported only when drawing.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from game import bots, sim, tag
from game.bots import Bot
from game.client import ClientOptions, GameClient, Switches
from game.netgame import SimRules
from game.server_app import add_server_bots
from game.tag_bots import tagger_bot
from netcode.clock import FakeClock
from netcode.conditioner import PROFILES, Fate, LinkConditioner, LinkSettings
from netcode.frame_sync import MAX_FRAMES_PER_TICK
from netcode.interpolation import OFFSET_WINDOW_S, SLEW, InterpolationSettings
from netcode.lag_compensation import DEFAULT_CAP_MS, LagCompensator
from netcode.protocol import MAX_PACKET_BYTES, PacketError, PacketType, decode_header
from netcode.server import ServerConfig, ServerSession
from netcode.transport import MemoryNetwork

from . import bench_codec
from .scenarios import FPS, SERVER, WIFI, Run, run_game
from .trace_analysis import HISTOGRAM_KEYS, TOP_SPEED_PX_S, input_track, one_input_pct, server_track

if TYPE_CHECKING:
    from matplotlib.figure import Figure

SEED = 1
TICK_RATE = 60  # the server's default tick rate, which every scenario uses
SMOOTH_MS = 100.0  # ClientOptions' default smoothing time
MAX_EXTRAPOLATION_MS = InterpolationSettings().max_extrapolation_s * 1000
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "docs" / "figures"
INSTALL_HINT = 'matplotlib is needed to draw the figures: pip install -e ".[docs]"'

Points = np.ndarray  # shape (n, 2), px; NaN rows where nothing was drawn


# --- shared helpers -----------------------------------------------------------------------------


def _traced(players: list[tuple[Switches, Bot]], **kwargs: Any) -> Run:
    """``run_game`` with client and server traces (written to a scratch folder, read back)."""
    with tempfile.TemporaryDirectory(prefix="figures-") as scratch:
        return run_game(players, trace_dir=Path(scratch), seed=SEED, **kwargs)


def _column(frames: Sequence[dict], key: str) -> np.ndarray:
    return np.array([np.nan if f.get(key) is None else f[key] for f in frames], dtype=float)


def _points(frames: Sequence[dict], key: str) -> Points:
    return np.array([f.get(key) or (np.nan, np.nan) for f in frames], dtype=float).reshape(-1, 2)


def _remote_points(frames: Sequence[dict], player_id: int) -> Points:
    pid = str(player_id)
    return np.array([(f.get("remotes") or {}).get(pid) or (np.nan, np.nan) for f in frames],
                    dtype=float).reshape(-1, 2)


def _player_id(run: Run, client_index: int) -> int:
    return int(run.clients[client_index].session.player_id)


def _input_places(frames: Sequence[dict]) -> np.ndarray:
    """Where each frame's blend sits on the input-number axis: ``input_seq - 1 + alpha``."""
    return _column(frames, "input_seq") - 1 + _column(frames, "alpha")


def _between(t: np.ndarray, span: tuple[float, float]) -> np.ndarray:
    return (t >= span[0]) & (t <= span[1])


def _packet(data: bytes) -> tuple[int, int] | None:
    """(packet type, its number: an input's newest seq or a snapshot's tick); None for others."""
    try:
        ptype, _header, body = decode_header(data)
    except PacketError:
        return None
    if ptype == PacketType.DELTA_SNAPSHOT:
        ptype = PacketType.SNAPSHOT  # a snapshot either way; the codec does not matter here
    if ptype in (PacketType.INPUT, PacketType.SNAPSHOT) and body and isinstance(body[0], int):
        return ptype, body[0]
    return None


def as_plain(data: Any) -> Any:
    """A scenario's dataclass as plain lists and numbers (NaN as None), for equality and JSON."""
    if dataclasses.is_dataclass(data) and not isinstance(data, type):
        return {f.name: as_plain(getattr(data, f.name)) for f in dataclasses.fields(data)}
    if isinstance(data, np.ndarray):
        return as_plain(data.tolist())
    if isinstance(data, dict):
        return {key: as_plain(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [as_plain(item) for item in data]
    if isinstance(data, (float, np.floating)):
        return None if math.isnan(data) else float(data)
    if isinstance(data, (np.integer, np.bool_)):
        return data.item()
    return data


def pushers(switches: Switches) -> list[tuple[Switches, Bot]]:
    """Two pusher bots that walk to the same spot and shove each other: corrections happen."""
    return [(dataclasses.replace(switches), bots.pusher_bot()),
            (dataclasses.replace(switches), bots.pusher_bot())]


# --- 1. local_correction ------------------------------------------------------------------------

CORRECTION_SECONDS = 6.0
CORRECTION_WINDOW_S = (-0.5, 1.0)  # around the largest correction


@dataclass
class LocalCorrection:
    t_s: np.ndarray  # client clock of each frame in the window
    server_px: Points  # the server's position after the same inputs as the drawn blend
    predicted_px: Points  # the newest predicted tick
    drawn_smooth_px: Points  # drawn with smoothing on
    drawn_snap_px: Points  # drawn with smoothing off (a second run, same seed)
    correction_t_s: np.ndarray  # frames in the window with a correction
    correction_px: np.ndarray  # and its size
    largest_t_s: float
    correction_px_max: float  # the feel meter's figure, whole run
    corrections: int
    smoothed_jump_px: float  # visible_snap_px_max with smoothing: the largest drawn jump
    snapped_jump_px: float  # the same without smoothing
    player_id: int
    seconds: float = CORRECTION_SECONDS
    smooth_ms: float = SMOOTH_MS

    def caption(self) -> str:
        return (f"Two pusher bots shove each other under the wifi profile: player {self.player_id} is "
                f"corrected {self.corrections} times in {self.seconds:g} s. Smoothing spreads the largest "
                f"correction, {self.correction_px_max:.1f} px, over {self.smooth_ms:.0f} ms: the largest "
                f"jump of the drawn player beyond its own motion is {self.smoothed_jump_px:.1f} px with "
                f"smoothing and {self.snapped_jump_px:.1f} px without.")


def correction_sizes(t_s: np.ndarray, corrections: np.ndarray, drawn_smooth: Points, drawn_snap: Points,
                     smooth_ms: float = SMOOTH_MS) -> tuple[np.ndarray, np.ndarray]:
    """(frame indices, correction vectors) recovered from two runs that differ only in smoothing.

    Without smoothing the drawn player is the predicted blend; with it, the blend plus the
    smoother's offset, so their difference *is* the offset. A correction ``d`` on frame ``k``
    (before that frame's decay of ``dt / smooth``) leaves ``offset_k = (offset_{k-1} - d) *
    (1 - dt / smooth)``, so ``d = offset_{k-1} - offset_k / (1 - dt / smooth)``.
    """
    offset = drawn_smooth - drawn_snap
    frames = np.flatnonzero(np.diff(corrections) > 0) + 1
    keep = (1 - np.diff(t_s)[frames - 1] * 1000 / smooth_ms)[:, None]
    return frames, offset[frames - 1] - offset[frames] / keep


def local_correction() -> LocalCorrection:
    smooth = _traced(pushers(Switches()), seconds=CORRECTION_SECONDS)
    snap = _traced(pushers(Switches(smoothing=False)), seconds=CORRECTION_SECONDS)
    # The player with the larger correction; the other one is the pusher it collided with.
    client = max(range(2), key=lambda i: (smooth.stats[i]["correction_px_max"], -i))
    frames, snap_frames = smooth.client_traces[client], snap.client_traces[client]
    if [f["predicted"] for f in frames] != [f["predicted"] for f in snap_frames]:
        raise AssertionError("smoothing changed the simulation: the two runs must predict alike")
    t_s = _column(frames, "t")
    drawn_smooth, drawn_snap = _points(frames, "local"), _points(snap_frames, "local")
    which, vectors = correction_sizes(t_s, _column(frames, "corrections"), drawn_smooth, drawn_snap)
    sizes = np.hypot(vectors[:, 0], vectors[:, 1])
    largest_t = float(t_s[which[np.argmax(sizes)]])
    span_s = CORRECTION_WINDOW_S[1] - CORRECTION_WINDOW_S[0]
    start_s = min(largest_t + CORRECTION_WINDOW_S[0], float(np.nanmax(t_s)) - span_s)  # near the end: shift back
    window = _between(t_s, (start_s, start_s + span_s))
    in_window = window[which]
    track = input_track(smooth.server_trace, _player_id(smooth, client))
    places = _input_places(frames)[window]
    server_px = np.where(track.covers(places)[:, None], track.position_px(places), np.nan)
    return LocalCorrection(
        t_s=t_s[window], server_px=server_px, predicted_px=_points(frames, "predicted")[window],
        drawn_smooth_px=drawn_smooth[window], drawn_snap_px=drawn_snap[window],
        correction_t_s=t_s[which][in_window], correction_px=sizes[in_window], largest_t_s=largest_t,
        correction_px_max=float(smooth.stats[client]["correction_px_max"]),
        corrections=int(smooth.stats[client]["corrections"]),
        smoothed_jump_px=float(smooth.stats[client]["visible_snap_px_max"]),
        snapped_jump_px=float(snap.stats[client]["visible_snap_px_max"]),
        player_id=_player_id(smooth, client))


# --- 2. remote_interpolation ----------------------------------------------------------------------

REMOTE_SECONDS = 4.4
REMOTE_BURST_S = (3.0, 3.5)  # 500 ms without a datagram, either way, for every client
REMOTE_WINDOW_S = (2.5, 4.2)  # server time shown
RECOVERY_S = 0.5  # after the burst, frames still catching up are left out of the calm errors


@dataclass
class RemoteInterpolation:
    server_t_s: np.ndarray  # tick / tick rate
    server_x_px: np.ndarray  # the line bot's true x after each tick
    on_t_s: np.ndarray  # the server time each frame showed (render clock), interpolation on
    on_x_px: np.ndarray
    on_extrapolated: np.ndarray  # bool per frame
    off_t_s: np.ndarray  # interpolation off: drawn at the newest snapshot
    off_x_px: np.ndarray
    burst_s: tuple[float, float]
    error_on_px: float  # mean |drawn - truth at the shown time|, outside the burst and its recovery
    error_off_px: float
    overshoot_px: float  # the furthest the drawn remote ran past the newest snapshot it had
    extrapolated_ms: float  # that distance at the speed the newest snapshot showed
    burst_error_px: float  # the largest miss against the truth during the burst
    cap_ms: float = MAX_EXTRAPOLATION_MS

    def caption(self) -> str:
        burst_ms = (self.burst_s[1] - self.burst_s[0]) * 1000
        return (f"An idle observer draws a line bot (wifi). Interpolated, the remote stays on the server's "
                f"per-tick track (mean error {self.error_on_px:.1f} px); drawn at the newest snapshot "
                f"instead, it runs ahead in 30 Hz steps (mean error {self.error_off_px:.1f} px). In a "
                f"{burst_ms:.0f} ms loss burst it is extrapolated {self.overshoot_px:.0f} px past the "
                f"newest snapshot ({self.extrapolated_ms:.0f} ms at its speed, the {self.cap_ms:.0f} ms cap), "
                f"then held while the line bot, whose own link is fine, moves on: the drawing is up to "
                f"{self.burst_error_px:.0f} px off until snapshots return.")


def _remote_run(interpolation: bool) -> tuple[Run, list[dict]]:
    run = _traced([(Switches(), bots.line_bot()), (Switches(interpolation=interpolation), bots.idle_bot())],
                  link=WIFI, seconds=REMOTE_SECONDS, loss_burst_s=REMOTE_BURST_S, burst_clients=(1,))
    return run, run.client_traces[1]


def remote_interpolation() -> RemoteInterpolation:
    on_run, on_frames = _remote_run(True)
    _, off_frames = _remote_run(False)
    line_id = _player_id(on_run, 0)
    track = server_track(on_run.server_trace, line_id)

    def series(frames: list[dict]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        shown_s = _column(frames, "render_time_s")
        x = _remote_points(frames, line_id)[:, 0]
        truth = np.interp(shown_s * TICK_RATE, track.key, track.x_px)
        calm = ~_between(_column(frames, "t"), (REMOTE_BURST_S[0], REMOTE_BURST_S[1] + RECOVERY_S))
        judged = calm & np.isfinite(x) & track.covers(shown_s * TICK_RATE)
        return shown_s, x, np.abs(x - truth), judged

    on_t, on_x, on_miss, on_judged = series(on_frames)
    off_t, off_x, off_miss, off_judged = series(off_frames)
    extrapolated = np.array([bool(f.get("extrapolated")) for f in on_frames])
    newest_tick = _column(on_frames, "snapshot_tick")
    newest_x = np.interp(newest_tick, track.key, track.x_px)  # a snapshot is the server's state at its tick
    speed_px_s = np.abs(newest_x - np.interp(newest_tick - 1, track.key, track.x_px)) * TICK_RATE
    ahead_px = np.where(extrapolated, np.abs(on_x - newest_x), 0.0)
    worst = int(np.argmax(ahead_px))
    in_burst = _between(_column(on_frames, "t"), REMOTE_BURST_S)
    keep_on = _between(on_t, REMOTE_WINDOW_S)
    keep_off = _between(off_t, REMOTE_WINDOW_S)
    keep_server = _between(track.key / TICK_RATE, REMOTE_WINDOW_S)
    return RemoteInterpolation(
        server_t_s=track.key[keep_server] / TICK_RATE, server_x_px=track.x_px[keep_server],
        on_t_s=on_t[keep_on], on_x_px=on_x[keep_on], on_extrapolated=extrapolated[keep_on],
        off_t_s=off_t[keep_off], off_x_px=off_x[keep_off], burst_s=REMOTE_BURST_S,
        error_on_px=float(on_miss[on_judged].mean()), error_off_px=float(off_miss[off_judged].mean()),
        overshoot_px=float(ahead_px[worst]),
        extrapolated_ms=float(ahead_px[worst] / speed_px_s[worst] * 1000) if speed_px_s[worst] else 0.0,
        burst_error_px=float(np.nanmax(np.where(in_burst, on_miss, np.nan))))


# --- 3. sequence_diagram --------------------------------------------------------------------------

SEQUENCE_SECONDS = 6.0
SEQUENCE_SPAN_S = 0.3
SEQUENCE_EARLIEST_S = 2.0  # past the handshake and the clocks settling


@dataclass
class SequenceDiagram:
    window_s: tuple[float, float]
    input_seq: np.ndarray  # newest input number each input packet carries
    input_sent_s: np.ndarray
    input_release_s: np.ndarray  # NaN: lost
    snapshot_tick: np.ndarray
    snapshot_sent_s: np.ndarray
    snapshot_release_s: np.ndarray  # NaN: lost
    one_way_ms_min: float  # delivered packets in the window
    one_way_ms_max: float
    other_datagrams: int  # anything else in the window (none once playing: the diagram is complete)
    link: LinkSettings = WIFI

    @property
    def inputs_lost(self) -> int:
        return int(np.isnan(self.input_release_s).sum())

    @property
    def snapshots_lost(self) -> int:
        return int(np.isnan(self.snapshot_release_s).sum())

    def caption(self) -> str:
        span_ms = (self.window_s[1] - self.window_s[0]) * 1000
        return (f"{span_ms:.0f} ms of a wifi game ({self.link.lag_ms:.0f} ms lag, {self.link.jitter_ms:.0f} ms "
                f"jitter, {self.link.loss_pct:.0f}% loss), every arrow a real datagram: "
                f"{len(self.input_seq)} input packets go to the server ({self.inputs_lost} lost) and "
                f"{len(self.snapshot_tick)} snapshots come back ({self.snapshots_lost} lost), each taking "
                f"{self.one_way_ms_min:.0f} to {self.one_way_ms_max:.0f} ms one way. A lost input costs "
                f"nothing: the next packet repeats it.")


def _pick_window(times: dict[str, np.ndarray], lost: dict[str, np.ndarray], earliest_s: float,
                 span_s: float) -> float:
    """Where a window opens: centred on the first lost input and lost snapshot that fit in it together
    (after ``earliest_s``); else on the first loss of either kind; else at ``earliest_s``."""
    lost_inputs = times["input"][lost["input"] & (times["input"] >= earliest_s)]
    lost_snapshots = times["snapshot"][lost["snapshot"] & (times["snapshot"] >= earliest_s)]
    for when in sorted(np.concatenate((lost_inputs, lost_snapshots))):
        others = lost_snapshots if when in lost_inputs else lost_inputs
        partner = others[np.abs(others - when) <= 0.7 * span_s]
        if len(partner):
            return max(earliest_s, float((when + partner[0]) / 2 - span_s / 2))
    first = np.concatenate((lost_inputs, lost_snapshots))
    return max(earliest_s, float(first.min() - span_s / 2)) if len(first) else earliest_s


def sequence_diagram() -> SequenceDiagram:
    fates: list[Fate] = []
    run_game([(Switches(), bots.circle_bot())], link=WIFI, seconds=SEQUENCE_SECONDS, seed=SEED,
             on_fate=lambda client, fate: fates.append(fate))
    rows: dict[str, list[tuple[int, float, float]]] = {"input": [], "snapshot": []}
    others = []  # send times of every other datagram (handshake, roster, keep-alive)
    for fate in fates:
        packet = _packet(fate.data)
        if packet is None:
            others.append(fate.sent_s)
            continue
        kind = "input" if packet[0] == PacketType.INPUT else "snapshot"
        if (kind == "input") != (fate.direction == "out"):
            continue
        rows[kind].append((packet[1], fate.sent_s, np.nan if fate.release_s is None else fate.release_s))
    arrays = {kind: np.array(r, dtype=float).reshape(-1, 3) for kind, r in rows.items()}
    times = {kind: a[:, 1] for kind, a in arrays.items()}
    lost = {kind: np.isnan(a[:, 2]) for kind, a in arrays.items()}
    start = _pick_window(times, lost, SEQUENCE_EARLIEST_S, SEQUENCE_SPAN_S)
    window = (start, start + SEQUENCE_SPAN_S)
    chosen = {kind: a[_between(a[:, 1], window)] for kind, a in arrays.items()}
    delivered = np.concatenate([a[:, 2] - a[:, 1] for a in chosen.values()]) * 1000
    delivered = delivered[np.isfinite(delivered)]
    return SequenceDiagram(
        window_s=window,
        input_seq=chosen["input"][:, 0].astype(int), input_sent_s=chosen["input"][:, 1],
        input_release_s=chosen["input"][:, 2],
        snapshot_tick=chosen["snapshot"][:, 0].astype(int), snapshot_sent_s=chosen["snapshot"][:, 1],
        snapshot_release_s=chosen["snapshot"][:, 2],
        one_way_ms_min=float(delivered.min()), one_way_ms_max=float(delivered.max()),
        other_datagrams=int(_between(np.array(others), window).sum()))


# --- 4. render_clock ------------------------------------------------------------------------------

RENDER_SECONDS = 6.0
RENDER_EARLIEST_S = 2.5  # the window opens 0.5 s before the first snapshot lost after this
RENDER_SPAN_S = 1.5


@dataclass
class RenderClock:
    t_s: np.ndarray  # client clock of each frame in the window
    render_ms: np.ndarray  # render time minus client clock (ms)
    newest_ms: np.ndarray  # newest snapshot's server time minus client clock (ms)
    server_now_ms: np.ndarray  # the interpolator's estimate of server now, minus client clock (ms)
    arrival_t_s: np.ndarray  # the frame each snapshot was read on
    arrival_ms: np.ndarray  # its tick's server time minus that frame's clock (ms)
    delay_ms_mean: float  # newest snapshot time minus render time, over the window
    delay_ms_min: float
    delay_ms_max: float
    rate_off_pct_max: float  # the render clock's largest deviation from real-time speed
    snapshots_lost: int  # in the window
    lost_tick_s: np.ndarray  # server time of the lost ones
    slew_pct: float = SLEW * 100

    def caption(self) -> str:
        return (f"The observer's render clock (wifi, server time minus client time). Snapshots of tick T "
                f"are read {-self.arrival_ms.max():.0f} to {-self.arrival_ms.min():.0f} ms after server "
                f"time T/60, and {self.snapshots_lost} in this window are lost. Remote players are drawn "
                f"{self.delay_ms_mean:.0f} ms (mean; {self.delay_ms_min:.0f} to {self.delay_ms_max:.0f}) "
                f"behind the newest snapshot, and the render clock never runs more than "
                f"{self.rate_off_pct_max:.1f}% fast or slow (the limit is {self.slew_pct:.0f}%).")


def render_clock() -> RenderClock:
    fates: list[Fate] = []
    run = _traced([(Switches(), bots.line_bot()), (Switches(), bots.idle_bot())], link=WIFI,
                  seconds=RENDER_SECONDS, on_fate=lambda client, fate: client == 1 and fates.append(fate))
    frames = run.client_traces[1]
    t_s = _column(frames, "t")
    render_s = _column(frames, "render_time_s")
    newest_s = _column(frames, "snapshot_tick") / TICK_RATE
    arrived = []  # (frame time it was read, tick) for each snapshot that arrived
    lost_ticks = []
    for fate in fates:
        packet = _packet(fate.data)
        if fate.direction != "in" or packet is None or packet[0] != PacketType.SNAPSHOT:
            continue
        if fate.release_s is None:
            lost_ticks.append(packet[1])
            continue
        frame = int(np.searchsorted(t_s, fate.release_s - 1e-6))  # read on the first frame at or after release
        if frame < len(t_s):
            arrived.append((t_s[frame], packet[1]))
    arrival = np.array(arrived, dtype=float).reshape(-1, 2)
    arrival_offset_s = arrival[:, 1] / TICK_RATE - arrival[:, 0]
    # The interpolator's estimate of "now on the server": the fastest snapshot of the last 2 s.
    server_now_s = np.full(len(t_s), np.nan)
    for k, t in enumerate(t_s):
        recent = arrival_offset_s[_between(arrival[:, 0], (t - OFFSET_WINDOW_S, t))]
        if len(recent):
            server_now_s[k] = recent.max()
    lost_s = np.array(sorted(lost_ticks), dtype=float) / TICK_RATE
    first_lost = lost_s[lost_s >= RENDER_EARLIEST_S + 0.5]
    start = float(first_lost[0]) - 0.5 if len(first_lost) else RENDER_EARLIEST_S
    span = (start, min(start + RENDER_SPAN_S, RENDER_SECONDS))
    window = _between(t_s, span)
    in_window = _between(arrival[:, 0], span)
    delay_ms = (newest_s - render_s)[window] * 1000
    rate = np.diff(render_s[window]) / np.diff(t_s[window])
    lost_in_window = lost_s[_between(lost_s, span)]
    return RenderClock(
        t_s=t_s[window], render_ms=(render_s - t_s)[window] * 1000, newest_ms=(newest_s - t_s)[window] * 1000,
        server_now_ms=server_now_s[window] * 1000, arrival_t_s=arrival[in_window, 0],
        arrival_ms=arrival_offset_s[in_window] * 1000, delay_ms_mean=float(delay_ms.mean()),
        delay_ms_min=float(delay_ms.min()), delay_ms_max=float(delay_ms.max()),
        rate_off_pct_max=float(np.abs(rate - 1).max() * 100),
        snapshots_lost=len(lost_in_window), lost_tick_s=lost_in_window)


# --- 5. inputs_per_tick ---------------------------------------------------------------------------

INPUTS_SECONDS = 20.0
INPUT_PROFILES = ("lan", "wifi", "bad")
INPUT_POLICIES = ("off", "adaptive")


@dataclass
class InputsPerTick:
    profiles: tuple[str, ...]
    policies: tuple[str, ...]
    shares_pct: np.ndarray  # [profile, policy, {0, 1, 2, 3+}] share of counted ticks, %
    ticks: np.ndarray  # [profile, policy] ticks counted
    seconds: float = INPUTS_SECONDS

    def one_input_pct(self, profile: str, policy: str) -> float:
        return float(self.shares_pct[self.profiles.index(profile), self.policies.index(policy), 1])

    def caption(self) -> str:
        parts = ", ".join(f"{p} {self.one_input_pct(p, 'off'):.0f}% / {self.one_input_pct(p, 'adaptive'):.1f}%"
                          for p in self.profiles)
        return (f"Inputs the server applied per tick to a line bot that sends one input every tick "
                f"({self.seconds:g} s, the first 2 s not counted). Share of ticks with exactly one input, "
                f"input buffer off / adaptive: {parts}. Without the buffer, jitter turns a steady player "
                f"into 0, 2, 1, 0, 2 inputs per tick: a staircase every other player draws.")


def inputs_per_tick() -> InputsPerTick:
    shares = np.zeros((len(INPUT_PROFILES), len(INPUT_POLICIES), len(HISTOGRAM_KEYS)))
    ticks = np.zeros((len(INPUT_PROFILES), len(INPUT_POLICIES)), dtype=int)
    for i, profile in enumerate(INPUT_PROFILES):
        for j, policy in enumerate(INPUT_POLICIES):
            run = run_game([(Switches(), bots.line_bot())], link=PROFILES[profile], seconds=INPUTS_SECONDS,
                           seed=SEED, input_buffer=policy)
            line_id = _player_id(run, 0)
            slot = next(s for s in run.session.clients.values() if s.player_id == line_id)
            histogram = slot.inputs.histogram.as_dict()
            counts = np.array([histogram[key] for key in HISTOGRAM_KEYS], dtype=float)
            ticks[i, j] = int(counts.sum())
            shares[i, j] = 100 * counts / counts.sum()
            assert math.isclose(shares[i, j, 1], one_input_pct(histogram))
    return InputsPerTick(INPUT_PROFILES, INPUT_POLICIES, shares, ticks)


# --- 6. arena_trails ------------------------------------------------------------------------------

TRAILS_SECONDS = 4.0
ZOOM_HALF_PX = (48.0, 30.0)


@dataclass
class Trail:
    player_id: int
    server_px: Points  # every tick
    predicted_px: Points  # every frame, up to the last input the server applied
    drawn_px: Points  # the same frames


@dataclass
class ArenaTrails:
    walls_px: np.ndarray  # [x0, y0, x1, y1] per wall
    obstacles_px: np.ndarray
    arena_px: tuple[int, int]
    trails: list[Trail]
    zoom_px: tuple[float, float, float, float]  # x0, y0, x1, y1 of the detail view
    misprediction_px_max: float  # predicted vs server after the same inputs, player 0
    drawn_off_px_max: float  # drawn vs predicted blend offset (smoothing), player 0
    seconds: float = TRAILS_SECONDS

    def caption(self) -> str:
        return (f"The arena (walls and obstacles of game/sim.py) and {self.seconds:g} s of two pusher bots "
                f"under wifi: each walks from its spawn to the meeting point above the centre block and "
                f"shoves. Player {self.trails[0].player_id}'s prediction leaves the server's path (after the "
                f"same inputs) by up to {self.misprediction_px_max:.1f} px where it is pushed; the drawn path "
                f"(prediction plus the smoother's offset, at most {self.drawn_off_px_max:.1f} px) cuts the "
                f"corrections' corners.")


def _rects_px(rects: Sequence[sim.Rect]) -> np.ndarray:
    return np.array([(r.x0, r.y0, r.x1, r.y1) for r in rects], dtype=float).reshape(-1, 4) / sim.SUBPX


def arena_trails() -> ArenaTrails:
    run = _traced(pushers(Switches()), seconds=TRAILS_SECONDS)
    trails = []
    for client, frames in enumerate(run.client_traces):
        pid = _player_id(run, client)
        track = server_track(run.server_trace, pid)
        # The client predicts a round trip ahead of the server: stop where the server stopped.
        same_inputs = _column(frames, "input_seq") <= input_track(run.server_trace, pid).key[-1]
        trails.append(Trail(pid, np.column_stack((track.x_px, track.y_px)), _points(frames, "predicted")[same_inputs],
                            _points(frames, "local")[same_inputs]))
    frames = run.client_traces[0]
    track = input_track(run.server_trace, trails[0].player_id)
    seqs = _column(frames, "input_seq")
    known = track.covers(seqs)
    miss = _points(frames, "predicted")[known] - track.position_px(seqs[known])
    drawn_off = _drawn_offsets(run)
    cx, cy = bots.MEETING_POINT_PX
    return ArenaTrails(
        walls_px=_rects_px(sim.WALLS), obstacles_px=_rects_px(sim.OBSTACLES),
        arena_px=(sim.ARENA_W_PX, sim.ARENA_H_PX), trails=trails,
        zoom_px=(cx - ZOOM_HALF_PX[0], cy - ZOOM_HALF_PX[1], cx + ZOOM_HALF_PX[0], cy + ZOOM_HALF_PX[1]),
        misprediction_px_max=float(np.hypot(miss[:, 0], miss[:, 1]).max()),
        drawn_off_px_max=drawn_off)


def _drawn_offsets(run: Run) -> float:
    """The largest smoothing offset player 0 was drawn with: drawn minus the unsmoothed drawing."""
    snap = _traced(pushers(Switches(smoothing=False)), seconds=TRAILS_SECONDS)
    offset = _points(run.client_traces[0], "local") - _points(snap.client_traces[0], "local")
    return float(np.nanmax(np.hypot(offset[:, 0], offset[:, 1])))


# --- 7. input_buffer_lead -------------------------------------------------------------------------

LEAD_SECONDS = 14.0
SETTLED_AFTER_S = 4.0
LAG_DROP_S = 6.0  # wifi until then, a clean link after: 50 ms less each way
AFTER_DROP_S = 10.0  # "long after the drop": the lead from here to the end
MS_PER_TICK = 1000 / TICK_RATE


@dataclass
class InputBufferLead:
    t_s: np.ndarray  # server time (tick / tick rate)
    lead_on_ms: np.ndarray  # mean lead of the line bot's inputs, time dilation on
    target_on_ms: np.ndarray
    lead_off_ms: np.ndarray  # time dilation off
    target_off_ms: np.ndarray
    frame_t_s: np.ndarray  # client clock
    dilation_on_pct: np.ndarray
    dilation_off_pct: np.ndarray
    miss_on_ms: float  # mean |lead - target| once settled
    miss_off_ms: float
    wait_on_ms: float  # the server's mean input wait (input_buffer_ms_mean)
    wait_off_ms: float
    dilation_pct_max: float  # largest |dilation| once settled
    lead_after_on_ms: float  # mean lead from AFTER_DROP_S to the end
    lead_after_off_ms: float
    settled_after_s: float = SETTLED_AFTER_S
    lag_drop_s: float = LAG_DROP_S

    def caption(self) -> str:
        return (f"The input buffer at work for a line bot: wifi, then at {self.lag_drop_s:g} s a clean link (50 ms "
                f"less each way). With time dilation the client runs its ticks up to {self.dilation_pct_max:.1f}% "
                f"fast or slow, and its inputs' lead follows the target the server learns, "
                f"{self.miss_on_ms:.1f} ms from it on average (after {self.settled_after_s:g} s); after the drop "
                f"the lead comes down with the target, to {self.lead_after_on_ms:.0f} ms. Without it the lead "
                f"stays wherever the client's clock put it, {self.miss_off_ms:.1f} ms off the target on average, "
                f"and after the drop every input waits {self.lead_after_off_ms:.0f} ms: delay that other players "
                f"see.")


def _lead_run(time_dilation: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict], float]:
    lan = LinkSettings()
    run = _traced([(Switches(time_dilation=time_dilation), bots.line_bot())], link=WIFI, seconds=LEAD_SECONDS,
                  link_at=lambda now, client: lan if now >= LAG_DROP_S else None)
    pid = str(_player_id(run, 0))
    rows = np.array([(r["tick"], *(np.nan if v is None else v for v in r["buffer"][pid]))
                     for r in run.server_trace if pid in r.get("buffer", {})], dtype=float)
    rows[:np.flatnonzero(rows[:, 1] != 0)[0], 1] = np.nan  # no lead before the first input arrives
    return (rows[:, 0] / TICK_RATE, rows[:, 1] * MS_PER_TICK, rows[:, 2] * MS_PER_TICK, run.client_traces[0],
            float(run.session.stats()["input_buffer_ms_mean"]))


def input_buffer_lead() -> InputBufferLead:
    t_on, lead_on, target_on, frames_on, wait_on = _lead_run(True)
    t_off, lead_off, target_off, frames_off, wait_off = _lead_run(False)
    n = min(len(t_on), len(t_off))
    if not np.array_equal(t_on[:n], t_off[:n]):
        raise AssertionError("the two runs should trace the same ticks")
    n_frames = min(len(frames_on), len(frames_off))
    frame_t = _column(frames_on[:n_frames], "t")
    dilation_on = _column(frames_on[:n_frames], "dilation_pct")
    settled = t_on[:n] >= SETTLED_AFTER_S
    return InputBufferLead(
        t_s=t_on[:n], lead_on_ms=lead_on[:n], target_on_ms=target_on[:n], lead_off_ms=lead_off[:n],
        target_off_ms=target_off[:n], frame_t_s=frame_t, dilation_on_pct=dilation_on,
        dilation_off_pct=_column(frames_off[:n_frames], "dilation_pct"),
        miss_on_ms=float(np.abs(lead_on[:n] - target_on[:n])[settled].mean()),
        miss_off_ms=float(np.abs(lead_off[:n] - target_off[:n])[settled].mean()),
        wait_on_ms=wait_on, wait_off_ms=wait_off,
        dilation_pct_max=float(np.abs(dilation_on[frame_t >= SETTLED_AFTER_S]).max()),
        lead_after_on_ms=float(np.nanmean(lead_on[:n][t_on[:n] >= AFTER_DROP_S])),
        lead_after_off_ms=float(np.nanmean(lead_off[:n][t_on[:n] >= AFTER_DROP_S])))


# --- 8. local_blend_144fps ------------------------------------------------------------------------

BLEND_FPS = 144
BLEND_SECONDS = 4.0
BLEND_WINDOW_S = 0.1
STILL_PX = 0.01  # a frame that moves the player less than this shows no motion
MOVING_HALF_WINDOW_S = 0.15


@dataclass
class LocalBlend:
    t_s: np.ndarray  # client clock, frames in the window
    drawn_x_px: np.ndarray  # the blend of the last two predicted ticks (trace "local")
    newest_x_px: np.ndarray  # the newest predicted tick (trace "predicted")
    fps: int
    moving_frames: int  # frames counted: the player runs at full speed around them
    still_blended_pct: float  # of those, frames where the drawn player did not move
    still_newest_pct: float
    step_blended_px_mean: float
    step_newest_px_max: float

    def caption(self) -> str:
        return (f"The local line bot at {self.fps} fps, 60 Hz ticks. Drawn at the newest predicted tick it "
                f"stands still on {self.still_newest_pct:.0f}% of {self.moving_frames} frames at full speed "
                f"and jumps up to {self.step_newest_px_max:.1f} px on the others; drawn between the last two "
                f"ticks it moves on every frame ({self.still_blended_pct:.0f}% still), "
                f"{self.step_blended_px_mean:.1f} px each.")


def local_blend_144fps() -> LocalBlend:
    run = _traced([(Switches(), bots.line_bot())], link=WIFI, seconds=BLEND_SECONDS, fps=BLEND_FPS)
    frames = run.client_traces[0]
    t_s = _column(frames, "t")
    drawn, newest = _points(frames, "local"), _points(frames, "predicted")
    # Frames in the middle of a stretch at full speed (away from the turns at the walls).
    before = np.column_stack([np.interp(t_s - MOVING_HALF_WINDOW_S, t_s, newest[:, k]) for k in (0, 1)])
    after = np.column_stack([np.interp(t_s + MOVING_HALF_WINDOW_S, t_s, newest[:, k]) for k in (0, 1)])
    covered = np.hypot(*(after - before).T) / (2 * MOVING_HALF_WINDOW_S)
    inside = _between(t_s, (t_s[0] + MOVING_HALF_WINDOW_S, t_s[-1] - MOVING_HALF_WINDOW_S))
    moving = (inside & (covered >= 0.9 * TOP_SPEED_PX_S))[1:]
    step_drawn = np.hypot(*np.diff(drawn, axis=0).T)[moving]
    step_newest = np.hypot(*np.diff(newest, axis=0).T)[moving]
    # Show a stretch of frames from the middle of the first long run at full speed.
    first = int(np.flatnonzero(moving)[0]) + 1
    start = t_s[first] + 0.5
    window = _between(t_s, (start, start + BLEND_WINDOW_S))
    return LocalBlend(
        t_s=t_s[window], drawn_x_px=drawn[window, 0], newest_x_px=newest[window, 0], fps=BLEND_FPS,
        moving_frames=int(moving.sum()),
        still_blended_pct=float(100 * (step_drawn < STILL_PX).mean()),
        still_newest_pct=float(100 * (step_newest < STILL_PX).mean()),
        step_blended_px_mean=float(step_drawn.mean()), step_newest_px_max=float(step_newest.max()))


# --- 9. snapshot_bandwidth ------------------------------------------------------------------------

BANDWIDTH_PLAYERS = (6, 16, 64, 128)
BANDWIDTH_SECONDS = 3.0
BANDWIDTH_AGO_TICKS = 2  # a LAN: the baseline is the snapshot before


@dataclass
class SnapshotBandwidth:
    players: np.ndarray  # the player counts
    codecs: tuple[str, ...]  # bench_codec.CODECS: json, full, delta, delta0
    moving_b_per_player: np.ndarray  # [codec, players]: datagram bytes / players, random bots
    idle_b_per_player: np.ndarray  # the same, everyone idle
    state_b_per_player: np.ndarray  # moving, the state alone (no header, no snapshot fields)
    other_b: np.ndarray  # [codec, players]: bytes per datagram that are not state (moving)
    max_datagram_b: np.ndarray  # [codec, players]: the largest datagram, moving or idle
    ago_ticks: int
    seconds: float = BANDWIDTH_SECONDS
    limit_b: int = MAX_PACKET_BYTES

    def at(self, table: str, codec: str, players: int) -> float:
        """``table`` (a field name) for one codec and player count."""
        values = getattr(self, table)
        return float(values[self.codecs.index(codec), list(self.players).index(players)])

    def caption(self) -> str:
        few, many = int(self.players[0]), int(self.players[-1])
        moving = {codec: self.at("moving_b_per_player", codec, many) for codec in self.codecs}
        largest = {codec: self.at("max_datagram_b", codec, many) for codec in self.codecs}
        header_b = self.at("other_b", "delta", few)
        state_b = self.at("state_b_per_player", "delta", few)
        full_fits = "fits" if largest["full"] <= self.limit_b else "does not fit"
        return (f"Bytes per player per snapshot (30 a second, datagram headers included) for {few} to {many} "
                f"players driven by random bots, and idle. At {many} players a JSON broadcast of float pixels "
                f"costs {moving['json']:.1f} B, our full msgpack snapshot {moving['full']:.1f} B, and a delta "
                f"against the snapshot {self.ago_ticks} ticks older {moving['delta']:.1f} B moving and "
                f"{self.at('idle_b_per_player', 'delta', many):.2f} B idle; against nothing (a client's first "
                f"snapshot) {moving['delta0']:.1f} B. The largest {many}-player datagram is "
                f"{largest['json']:,.0f} B as JSON and {largest['full']:,.0f} B full ({full_fits} one "
                f"{self.limit_b:,}-byte datagram), {largest['delta']:,.0f} B as a delta and "
                f"{largest['delta0']:,.0f} B against nothing. At {few} players the delta's {header_b:.0f} bytes "
                f"of header and snapshot fields are {header_b / few:.1f} B per player, "
                f"{'more' if header_b / few > state_b else 'less'} than its {state_b:.1f} B of state.")


def snapshot_bandwidth() -> SnapshotBandwidth:
    codecs = bench_codec.CODECS
    rows = {(r.codec, r.players): r for n in BANDWIDTH_PLAYERS
            for r in bench_codec.measure(n, BANDWIDTH_SECONDS, BANDWIDTH_AGO_TICKS, timing=False, seed=SEED)}

    def table(field: str) -> np.ndarray:
        return np.array([[getattr(rows[c, n], field) for n in BANDWIDTH_PLAYERS] for c in codecs], dtype=float)

    return SnapshotBandwidth(
        players=np.array(BANDWIDTH_PLAYERS), codecs=codecs,
        moving_b_per_player=table("moving_b_per_player"), idle_b_per_player=table("idle_b_per_player"),
        state_b_per_player=table("moving_state_b_per_player"), other_b=table("other_b"),
        max_datagram_b=table("max_datagram_b"), ago_ticks=bench_codec.snapshot_grid(BANDWIDTH_AGO_TICKS))


# --- 10. lag_compensation ------------------------------------------------------------------------

LAG_SECONDS = 30.0
LAG_SERVER_BOTS = 3  # tools.bench_lag's game: three server bots that play tag, and one tagger client
LAG_MIN_RANGE_PX = 4 * sim.PLAYER_RADIUS_PX  # a shot drawn with the runner clear of the shooter
LAG_TRACK_EXTRA_S = 0.2  # the runner's track is drawn from this long before the cap


@dataclass
class LagCompensation:
    shooter_id: int
    target_id: int
    shooter_px: tuple[float, float]  # where the server had the shooter when the beam fired
    beam_end_px: tuple[float, float]
    drawn_px: tuple[float, float]  # the runner as the shooter's screen drew it (the client's ShotBook)
    rewound_px: tuple[float, float]  # the runner where the server judged it (LagCompensator.view)
    now_px: tuple[float, float]  # the runner in the server's world when the shot was judged
    cap_px: tuple[float, float]  # the runner cap_ms before the shot's tick: no rewind reaches further
    track_px: Points  # the runner's true track, every tick, up to the world the shot was judged in (server trace)
    snapshot_ticks: np.ndarray  # the snapshots the server remembered over that span ...
    snapshots_px: Points  # ... and the runner in each of them
    view_tick: float  # the view time the input carried, in ticks
    judged_tick: int
    rewind_ms: float
    drawn_off_px: float  # |drawn - rewound|
    moved_px: float  # |now - rewound|
    off_miss_px: float  # judged against the runner where the server had it (the switch off): how far it misses
    verdict: int  # the server's verdict: the player hit (-1: nobody)
    fired: int  # the client's counts over the whole run (ShotBook)
    hits_on_screen: int
    confirmed: int
    unanswered: int  # shots without a verdict: 0 means the server fired every shot the prediction fired
    rejected_start_off_px: list[float]  # each rejected hit: its beam's start, server against the client's prediction
    obstacles_px: np.ndarray
    walls_px: np.ndarray
    cap_ms: int = DEFAULT_CAP_MS
    seconds: float = LAG_SECONDS

    def caption(self) -> str:
        return (f"One tag beam of a tagger client under wifi playing {LAG_SERVER_BOTS} server bots (the game "
                f"of tools.bench_lag, {self.seconds:g} s on the fake clock; of its confirmed shots, the one whose "
                f"runner got furthest away). The client fired at player {self.target_id} where its screen drew "
                f"it, interpolated at a server time {self.rewind_ms:.0f} ms before the tick that judged the "
                f"shot. The server blended the two snapshots it had sent around that view time, as the client's "
                f"interpolation does, and judged the beam there: the rewound hitbox is {self.drawn_off_px:.2f} px "
                f"from the drawn one, and the hit is confirmed. By then the runner was {self.moved_px:.0f} px "
                f"from there; judged where the server had it, as with the switch off, the beam misses it by "
                f"{self.off_miss_px:.0f} px. No rewind reaches further back than the {self.cap_ms} ms cap. Of the "
                f"client's {self.fired} shots in the run, {self.hits_on_screen} were hits on its screen and the "
                f"server confirmed {self.confirmed}.")


class _RecordingCompensator(LagCompensator):
    """The server's own lag compensator, also keeping what each rewind saw: (judged tick, view
    time, rewound players, the world before the step, the remembered snapshots)."""

    def __init__(self, session_world: Callable[[], Any], *args: Any) -> None:
        super().__init__(*args)
        self.session_world = session_world
        self.rewinds: list[tuple[int, int, Any, Any, list]] = []

    def view(self, view_256: int, now_tick: int) -> Any:
        seen = super().view(view_256, now_tick)
        self.rewinds.append((now_tick, view_256, seen, self.session_world(), list(self.history)))
        return seen


def _miss_px(shot: Any, target: tuple[int, int]) -> float:
    """How far outside the beam's reach a player at ``target`` (subpx) is, in px (tag.beam_target's geometry)."""
    ux, uy = tag.AIM_VECTORS_256[shot.aim]
    rx, ry = target[0] - shot.x, target[1] - shot.y
    along, across = (rx * ux + ry * uy) / 256, abs(rx * uy - ry * ux) / 256
    radius = sim.PLAYER_RADIUS_PX * sim.SUBPX
    reach = tag.BEAM_RANGE_PX * sim.SUBPX
    off_along = max(0.0, -radius - along, along - reach - radius)
    off_across = max(0.0, across - radius - tag.BEAM_HALF_WIDTH_PX * sim.SUBPX)
    return math.hypot(off_along, off_across) / sim.SUBPX


def lag_compensation() -> LagCompensation:
    """A tagger client (``run_client.py --bot tagger``) under wifi against server bots that play
    tag, on the fake clock; the server's ``LagCompensator`` records each rewind. ``run_game`` has
    no server bots and hands its bots no client, so this game is set up here."""
    rules = SimRules(TICK_RATE)
    config = ServerConfig(tick_rate=TICK_RATE)
    clock, network = FakeClock(), MemoryNetwork()
    session = ServerSession(rules, network.endpoint(SERVER), config, clock.now())
    session.lag = _RecordingCompensator(lambda: session.world, rules, config.tick_rate, config.lag_cap_ms)
    add_server_bots(session, LAG_SERVER_BOTS)
    trace: list[dict] = []
    session.tracer = trace.append
    link = LinkConditioner(network.endpoint(("10.0.0.2", 5000)), WIFI, SEED * 100)
    client = GameClient(link, SERVER, ClientOptions(name="tagger"), Switches(), clock.now())
    bot = tagger_bot(client.scene)
    fired: dict[int, Any] = {}  # the client's shots by input number, as fired (ShotBook forgets them)
    judged: dict[int, Any] = {}  # the server's shots of the client by tick (sim.World.shots)
    ticks = frames = 0
    while ticks < round(LAG_SECONDS * TICK_RATE):  # as run_game: server first when both are due
        tick_at, frame_at = ticks * FPS, frames * TICK_RATE
        clock.advance(min(tick_at, frame_at) / (TICK_RATE * FPS) - clock.now())
        if tick_at <= frame_at:
            session.receive(clock.now())
            session.tick_once(clock.now())
            ticks += 1
            mine = [s for s in session.world.shots if s.shooter == client.session.player_id]
            if mine:
                judged[session.tick] = mine
        else:
            client.frame(clock.now(), 1 / FPS, bot)
            frames += 1
            for seq, shot in client.shots.shots.items():
                fired.setdefault(seq, shot)
    counts = client.shots.figures()
    client.close()
    applied = {record["tick"]: record["inputs"].get(str(client.session.player_id), []) for record in trace}
    candidates, rejected_start_off_px = [], []
    for tick, view_256, seen, before, history in session.lag.rewinds:
        (shot,) = judged[tick]  # one input a tick: at most one shot of the client
        seq = applied[tick][shot.input_index][0]
        drawn = fired[seq]
        if shot.target != drawn.target:  # a rejected hit: where did its beam start?
            rejected_start_off_px.append(math.dist((shot.x / sim.SUBPX, shot.y / sim.SUBPX), drawn.origin))
        if shot.target < 0 or shot.target != drawn.target:
            continue  # only confirmed hits
        shooter = (shot.x / sim.SUBPX, shot.y / sim.SUBPX)
        if math.dist(shooter, drawn.target_px) < LAG_MIN_RANGE_PX:
            continue
        rewound = tuple(v / sim.SUBPX for v in seen[shot.target])
        now = tuple(v / sim.SUBPX for v in rules.positions(before)[shot.target])
        candidates.append((math.dist(rewound, now), tick, view_256, shot, drawn, rewound, now, before, history))
    moved, tick, view_256, shot, drawn, rewound, now, before, history = max(candidates, key=lambda c: (c[0], -c[1]))
    target = shot.target
    track = server_track(trace, target)
    cap_ticks = config.lag_cap_ms * TICK_RATE // 1000
    span = (track.key >= tick - cap_ticks - LAG_TRACK_EXTRA_S * TICK_RATE) & (track.key <= tick - 1)  # up to `now`
    ux, uy = tag.AIM_VECTORS_256[shot.aim]
    kept = [(t, w) for t, w in history if t >= tick - cap_ticks - LAG_TRACK_EXTRA_S * TICK_RATE]
    return LagCompensation(
        shooter_id=shot.shooter, target_id=target, shooter_px=(shot.x / sim.SUBPX, shot.y / sim.SUBPX),
        beam_end_px=((shot.x + ux * tag.BEAM_RANGE_PX) / sim.SUBPX, (shot.y + uy * tag.BEAM_RANGE_PX) / sim.SUBPX),
        drawn_px=tuple(drawn.target_px), rewound_px=rewound, now_px=now,
        cap_px=(float(np.interp(tick - cap_ticks, track.key, track.x_px)),
                float(np.interp(tick - cap_ticks, track.key, track.y_px))),
        track_px=np.column_stack((track.x_px[span], track.y_px[span])),
        snapshot_ticks=np.array([t for t, _ in kept]),
        snapshots_px=np.array([rules.positions(w)[target] for t, w in kept], dtype=float).reshape(-1, 2) / sim.SUBPX,
        view_tick=view_256 / 256, judged_tick=tick, rewind_ms=(tick * 256 - view_256) / 256 * 1000 / TICK_RATE,
        drawn_off_px=math.dist(drawn.target_px, rewound), moved_px=moved,
        off_miss_px=_miss_px(shot, rules.positions(before)[target]), verdict=shot.target,
        fired=counts["tags_fired"], hits_on_screen=counts["tags_hit_on_screen"], confirmed=counts["tags_confirmed"],
        unanswered=counts["tags_unanswered"], rejected_start_off_px=rejected_start_off_px,
        obstacles_px=_rects_px(sim.OBSTACLES), walls_px=_rects_px(sim.WALLS), cap_ms=config.lag_cap_ms)


# --- 11. frame_sync_timeline ---------------------------------------------------------------------

FRAME_SYNC_SECONDS = 8.0
FRAME_SYNC_BOTS = ("circle", "zigzag")  # tools.bench_sync --families' pair: the same two bots in every family
FRAME_SYNC_MODES = (("lockstep", 3), ("rollback", 1))  # (mode, input delay): two rows of bench_sync --families
FRAME_SYNC_MAX_ROLLBACK = 8  # run_server.py's default, and bench_sync's
FRAME_SYNC_WINDOW_S = 1.0  # the time shown
FRAME_SYNC_EARLIEST_S = 2.0  # past the handshake and the first sets


@dataclass
class SyncPanel:
    """One frame-sync run, as the first bot's client lived it: every client frame of the window
    (frame numbers as they are) and the whole run's figures."""

    mode: str
    input_delay: int
    max_rollback: int  # the engine's: 0 in lockstep
    t_s: np.ndarray  # each client frame in the window (fake clock)
    head: np.ndarray  # the newest frame simulated after that frame (confirmed or predicted)
    confirmed: np.ndarray  # the newest frame whose input set had arrived and been simulated
    input_frame: np.ndarray  # the frame our newest sampled input is for
    stalled: np.ndarray  # bool: the frame clock was held this frame (lockstep: no set; rollback: the cap)
    rollback_t_s: np.ndarray  # each rollback in the window: when ...
    rollback_head: np.ndarray  # ... the newest frame then (it is re-simulated too) ...
    rollback_frames: np.ndarray  # ... and how many frames were simulated again
    frames_per_s: float  # frames simulated per second over the run, from the first FullState on
    stalled_pct: float  # share of the run's frames (ticks) on which the clock was held
    ahead_mean: float  # head - confirmed, mean over the run's frames: frames shown on a guess
    ahead_max: int
    rollbacks: int  # over the run
    rollback_frames_mean: float
    rollback_frames_max: int
    set_back_ms: float  # mean time from sampling our input for a frame to confirming that frame
    rtt_ms: float  # the client's rtt_ms_mean
    input_to_render_frames: float  # the feel meter's
    hash_checks: int  # the server's
    desyncs: int


@dataclass
class FrameSyncTimeline:
    panels: list[SyncPanel]  # lockstep, then rollback
    window_s: tuple[float, float]
    seconds: float = FRAME_SYNC_SECONDS

    def caption(self) -> str:
        lock, roll = self.panels
        return (f"Two bots ({' and '.join(FRAME_SYNC_BOTS)}) under wifi, {self.seconds:g} s on the fake clock "
                f"with the same seeds, once in each frame-sync family; the lines are the {FRAME_SYNC_BOTS[0]}'s "
                f"client, frame by frame. Lockstep, input delay {lock.input_delay}: a frame is simulated only "
                f"once its input set is back, {lock.set_back_ms:.0f} ms on average after our input for it was "
                f"sampled (round trip by acks: {lock.rtt_ms:.0f} ms), so the frame clock is held on "
                f"{lock.stalled_pct:.0f}% of the ticks and the game advances about {lock.input_delay + 1} frames "
                f"(the {lock.input_delay} of delay, and the next) per such cycle: {lock.frames_per_s:.1f} frames a "
                f"second. Rollback, input delay {roll.input_delay}, max rollback {roll.max_rollback}: the client "
                f"simulates on guesses, {roll.ahead_mean:.1f} frames past the last confirmed one on average; it is "
                f"held only at that cap (on {roll.stalled_pct:.0f}% of the ticks; the clock keeps up to "
                f"{MAX_FRAMES_PER_TICK} frames of the time it owes, to catch up), {roll.frames_per_s:.1f} frames a "
                f"second. {roll.rollbacks} times in the run "
                f"a set proved a guess wrong and the client re-simulated {roll.rollback_frames_mean:.1f} frames on "
                f"average (at most {roll.rollback_frames_max}) within one tick. Both agreed with the server at "
                f"every hash check ({lock.hash_checks} and {roll.hash_checks}; {lock.desyncs + roll.desyncs} "
                f"desyncs).")


def _frame_sync_run(mode: str, input_delay: int) -> tuple[dict[str, np.ndarray], list[tuple[float, int, int]],
                                                          dict, dict]:
    """One frame-sync game on the fake clock: the server relaying, the two bots' clients behind
    seeded wifi conditioners. Returns client 0's frames, its rollbacks (time, head, frames redone),
    its stats, and the server's."""
    clock, network = FakeClock(), MemoryNetwork()
    rows: list[tuple[float, int, int, int, bool]] = []
    rollbacks: list[tuple[float, int, int]] = []
    with tempfile.TemporaryDirectory(prefix="figures-") as scratch:  # desync reports would go here (none)
        config = ServerConfig(sync=mode, input_delay=input_delay, max_rollback=FRAME_SYNC_MAX_ROLLBACK,
                              desync_dir=scratch)
        session = ServerSession(SimRules(TICK_RATE), network.endpoint(SERVER), config, clock.now())
        players = []
        for i, name in enumerate(FRAME_SYNC_BOTS):
            link = LinkConditioner(network.endpoint((f"10.0.0.{i + 2}", 5000)), WIFI, SEED * 100 + i)
            players.append((GameClient(link, SERVER, ClientOptions(name=f"{name}{i}"), Switches(), clock.now()),
                            bots.make_bot(name, i + 1)))
        watched = None
        ticks = frames = 0
        while ticks < round(FRAME_SYNC_SECONDS * TICK_RATE):  # as run_game: server first when both are due
            tick_at, frame_at = ticks * FPS, frames * TICK_RATE
            clock.advance(min(tick_at, frame_at) / (TICK_RATE * FPS) - clock.now())
            now = clock.now()
            if tick_at <= frame_at:
                session.receive(now)
                session.tick_once(now)
                ticks += 1
                continue
            for client, bot in players:
                client.frame(now, 1 / FPS, bot)
            frames += 1
            driver = players[0][0].net.frame_sync
            if driver is None or not driver.engine.started:
                continue
            engine = driver.engine
            if watched is not engine:  # record each rollback as it happens, inside the engine's advance
                watched = engine
                _record_rollbacks(engine, clock, rollbacks)
            rows.append((now, engine.head, engine.confirmed, engine.next_input_frame - 1, driver.stalled))
        stats = players[0][0].stats()
        server = session.stats()
        for client, _ in players:
            client.close()
    t, head, confirmed, sampled, stalled = (np.array(column) for column in zip(*rows))
    run = {"t_s": t.astype(float), "head": head.astype(int), "confirmed": confirmed.astype(int),
           "input_frame": sampled.astype(int), "stalled": stalled.astype(bool)}
    return run, rollbacks, stats, server


def _record_rollbacks(engine: Any, clock: FakeClock, out: list[tuple[float, int, int]]) -> None:
    """Wrap ``engine.confirm_available`` (where a rollback happens) to note each one: when, the
    head then, and the frames it simulated again (the engine's own ``rollback_frames``)."""
    real = engine.confirm_available

    def confirm_available(*args, **kwargs) -> None:
        before = engine.stats.rollbacks
        real(*args, **kwargs)
        if engine.stats.rollbacks != before:
            out.append((clock.now(), engine.head, int(engine.stats.rollback_frames.recent[-1])))

    engine.confirm_available = confirm_available


def _set_back_ms(run: dict[str, np.ndarray]) -> float:
    """Mean time from the frame our input for frame f was sampled on to the frame f was confirmed on."""
    frames = np.arange(run["input_frame"][0] + 1, run["confirmed"][-1] + 1)
    sampled = np.searchsorted(run["input_frame"], frames)  # the first client frame whose input reached f
    confirmed = np.searchsorted(run["confirmed"], frames)
    return float(np.mean(run["t_s"][confirmed] - run["t_s"][sampled]) * 1000)


def frame_sync_timeline() -> FrameSyncTimeline:
    runs = [(mode, delay, *_frame_sync_run(mode, delay)) for mode, delay in FRAME_SYNC_MODES]
    # The window: the second (after the start) with the most rollbacks in the rollback run.
    roll_times = np.array([t for t, _, _ in runs[1][3]], dtype=float)
    end_s = float(min(run["t_s"][-1] for _, _, run, _, _, _ in runs))
    starts = np.arange(FRAME_SYNC_EARLIEST_S, end_s - FRAME_SYNC_WINDOW_S + 1e-9, 0.25)
    counts = [int(_between(roll_times, (s, s + FRAME_SYNC_WINDOW_S)).sum()) for s in starts]
    start = float(starts[int(np.argmax(counts))])
    window = (start, start + FRAME_SYNC_WINDOW_S)
    panels = []
    for mode, delay, run, rollbacks, stats, server in runs:
        keep = _between(run["t_s"], window)
        events = np.array(rollbacks, dtype=float).reshape(-1, 3)
        shown = _between(events[:, 0], window)
        ahead = run["head"] - run["confirmed"]
        span_s = run["t_s"][-1] - run["t_s"][0]
        panels.append(SyncPanel(
            mode=mode, input_delay=delay, max_rollback=int(stats["max_rollback"]),
            t_s=run["t_s"][keep], head=run["head"][keep], confirmed=run["confirmed"][keep],
            input_frame=run["input_frame"][keep], stalled=run["stalled"][keep],
            rollback_t_s=events[shown, 0], rollback_head=events[shown, 1].astype(int),
            rollback_frames=events[shown, 2].astype(int),
            frames_per_s=float((run["head"][-1] - run["head"][0]) / span_s),
            stalled_pct=float(100 * run["stalled"].mean()),
            ahead_mean=float(ahead.mean()), ahead_max=int(ahead.max()),
            rollbacks=int(stats["rollbacks"]), rollback_frames_mean=float(stats["rollback_frames_mean"]),
            rollback_frames_max=int(stats["rollback_frames_max"]), set_back_ms=_set_back_ms(run),
            rtt_ms=float(stats["rtt_ms_mean"]), input_to_render_frames=float(stats["input_to_render_frames"]),
            hash_checks=int(server["hash_checks"]), desyncs=int(server["desyncs"])))
    return FrameSyncTimeline(panels=panels, window_s=window)


# --- drawing (matplotlib only below) ------------------------------------------------------------

WIDTH_IN, HEIGHT_IN, DPI = 10.0, 5.6, 100  # 1000 x 560 px
COLORS = {"server": "#222222", "predicted": "#1f77b4", "smooth": "#2ca02c", "snap": "#d62728",
          "input": "#1f77b4", "snapshot": "#ff7f0e", "lost": "#d62728", "band": "#9ecae1",
          "off": "#d62728", "on": "#2ca02c", "other": "#9467bd"}
STYLE = {
    "svg.hashsalt": "netcode-figures", "font.size": 11, "axes.titlesize": 13, "axes.labelsize": 11,
    "legend.fontsize": 10, "axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False,
    "axes.spines.right": False, "figure.dpi": DPI, "savefig.dpi": DPI, "path.simplify": False,
}


def _new_figure(rows: int = 1, cols: int = 1, height_in: float = HEIGHT_IN, **kwargs: Any) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH_IN, height_in), dpi=DPI, layout="constrained")
    return fig, fig.subplots(rows, cols, squeeze=False, **kwargs)


def draw_local_correction(data: LocalCorrection) -> "Figure":
    fig, axes = _new_figure(3, 1, height_in=7.2, sharex=True, height_ratios=[3, 3, 1.3])
    t = data.t_s
    largest = int(np.argmax(data.correction_px))
    when = data.correction_t_s[largest]
    for row, (ax, axis) in enumerate(zip(axes[:2, 0], ("x", "y"))):
        ax.axvspan(when, when + data.smooth_ms / 1000, color=COLORS["band"], alpha=0.35, lw=0,
                   label=f"{data.smooth_ms:.0f} ms after the largest correction")
        ax.plot(t, data.server_px[:, row], color=COLORS["server"], lw=4, alpha=0.25,
                label="server (after the same inputs)")
        ax.plot(t, data.predicted_px[:, row], color=COLORS["predicted"], lw=1, ls="--",
                label="predicted (newest tick)")
        ax.plot(t, data.drawn_snap_px[:, row], color=COLORS["snap"], lw=1.3, drawstyle="steps-post",
                label="drawn, smoothing off")
        ax.plot(t, data.drawn_smooth_px[:, row], color=COLORS["smooth"], lw=2, drawstyle="steps-post",
                label="drawn, smoothing on")
        ax.set_ylabel(f"{axis} (px)")
    axes[0, 0].set_title(f"The local player (pusher {data.player_id}, wifi) through its largest correction, "
                         f"{data.correction_px_max:.1f} px")
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside lower center", ncols=3)
    stems = axes[2, 0]
    stems.vlines(data.correction_t_s, 0, data.correction_px, color=COLORS["snap"], lw=2)
    stems.plot(data.correction_t_s, data.correction_px, "o", color=COLORS["snap"], markersize=4)
    stems.set_ylim(0, data.correction_px.max() * 1.25)
    stems.set_ylabel("correction (px)")
    stems.set_xlabel("client time (s)")
    return fig


def draw_remote_interpolation(data: RemoteInterpolation) -> "Figure":
    fig, axes = _new_figure()
    ax = axes[0, 0]
    ax.axvspan(*data.burst_s, color="#dddddd", zorder=0, label="loss burst (no datagrams)")
    ax.plot(data.server_t_s, data.server_x_px, color=COLORS["server"], lw=4, alpha=0.3, label="server, every tick")
    ax.plot(data.off_t_s, data.off_x_px, color=COLORS["off"], lw=1.2, drawstyle="steps-post",
            label="drawn, interpolation off (newest snapshot)")
    ax.plot(data.on_t_s, data.on_x_px, color=COLORS["on"], lw=1.6, label="drawn, interpolation on")
    extrapolated = np.where(data.on_extrapolated, data.on_x_px, np.nan)
    ax.plot(data.on_t_s, extrapolated, color=COLORS["other"], lw=3,
            label=f"extrapolated (at most {data.cap_ms:.0f} ms, then held)")
    moving = np.flatnonzero(data.on_extrapolated & np.isfinite(data.on_x_px))
    if len(moving):
        first, held = moving[0], moving[np.argmax(data.on_x_px[moving])]
        top = data.on_x_px[held]
        ax.annotate("", xy=(data.on_t_s[first], top + 25), xytext=(data.on_t_s[first] + data.cap_ms / 1000, top + 25),
                    arrowprops=dict(arrowstyle="<->", color=COLORS["other"], lw=1.2))
        ax.text(data.on_t_s[first] + data.cap_ms / 2000, top + 32, f"{data.extrapolated_ms:.0f} ms",
                ha="center", va="bottom", color=COLORS["other"])
        ax.annotate("the observer's link is down;\nthe player moves on",
                    xy=(data.burst_s[0] + 0.3, data.server_x_px[np.searchsorted(data.server_t_s, data.burst_s[0] + 0.3)]),
                    xytext=(0, -60), textcoords="offset points", ha="center", fontsize=10,
                    arrowprops=dict(arrowstyle="->", color="#555555"))
    ax.set_xlabel("server time shown (s)")
    ax.set_ylabel("x (px)")
    ax.set_title("A remote player (line bot) as an idle observer draws it: wifi, 500 ms loss on the observer's link")
    ax.legend(loc="upper left")
    return fig


def draw_sequence_diagram(data: SequenceDiagram) -> "Figure":
    fig, axes = _new_figure(height_in=5.0)
    ax = axes[0, 0]
    t0 = data.window_s[0]
    client_y, server_y = 1.0, 0.0
    ms = lambda s: (np.asarray(s) - t0) * 1000  # noqa: E731
    for y, name in ((client_y, "client"), (server_y, "server")):
        ax.axhline(y, color="#444444", lw=2)
        ax.text(-4, y, name, ha="right", va="center", fontsize=12, fontweight="bold")
    nominal_s = data.link.one_way_ms / 1000
    kinds = (("input", data.input_seq, data.input_sent_s, data.input_release_s, client_y, server_y, "#"),
             ("snapshot", data.snapshot_tick, data.snapshot_sent_s, data.snapshot_release_s, server_y, client_y,
              "tick "))
    for kind, numbers, sent, released, y0, y1, prefix in kinds:
        color = COLORS[kind]
        for number, s, r in zip(numbers, sent, released):
            lost = np.isnan(r)
            end_s = s + nominal_s / 2 if lost else r
            end_y = (y0 + y1) / 2 if lost else y1
            if lost:
                ax.plot([ms(s), ms(end_s)], [y0, end_y], color=color, lw=1.2, ls=(0, (3, 2)))
                ax.plot(ms(end_s), end_y, marker="X", color=COLORS["lost"], markersize=11)
            else:
                ax.annotate("", xy=(ms(end_s), end_y), xytext=(ms(s), y0),
                            arrowprops=dict(arrowstyle="-|>", color=color, lw=1.1, shrinkA=0, shrinkB=0))
            label_y = y0 + (0.04 if y0 > y1 else -0.04)
            ax.text(ms(s), label_y, f"{prefix}{number}", rotation=90, fontsize=7, color=color,
                    ha="center", va="bottom" if y0 > y1 else "top")
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=COLORS["input"], label="input packet (client → server)"),
               Line2D([], [], color=COLORS["snapshot"], label="snapshot (server → client)"),
               Line2D([], [], color=COLORS["lost"], marker="X", ls="", markersize=9, label="lost")]
    fig.legend(handles=handles, loc="outside lower center", ncols=3)
    ax.set_xlim(-2, (data.window_s[1] - t0) * 1000 + nominal_s * 1000 + 15)
    ax.set_ylim(-0.35, 1.35)
    ax.set_yticks([])
    ax.grid(axis="y", visible=False)
    ax.set_xlabel(f"time (ms after {t0:.3f} s); an arrow ends when the conditioner releases the datagram")
    ax.set_title("Every datagram of 300 ms of a wifi game, from the link conditioner's send and release times")
    return fig


def draw_render_clock(data: RenderClock) -> "Figure":
    fig, axes = _new_figure()
    ax = axes[0, 0]
    ax.fill_between(data.t_s, data.render_ms, data.newest_ms, step="post", color=COLORS["band"], alpha=0.5,
                    label="interpolation delay (newest snapshot − render time)")
    ax.plot(data.t_s, data.newest_ms, color=COLORS["snapshot"], lw=1.2, drawstyle="steps-post",
            label="newest snapshot's server time")
    ax.plot(data.arrival_t_s, data.arrival_ms, "o", color=COLORS["snapshot"], markersize=5,
            label="a snapshot arrives (its tick time)")
    typical_ms = float(np.median(data.arrival_ms))  # a lost snapshot is marked where it would typically land
    ax.plot(data.lost_tick_s - typical_ms / 1000, np.full(len(data.lost_tick_s), typical_ms), "X",
            color=COLORS["lost"], markersize=10, label="a snapshot is lost (where it was due)")
    ax.plot(data.t_s, data.server_now_ms, color=COLORS["server"], lw=1, ls="--",
            label="estimated server now (fastest snapshot, 2 s)")
    ax.plot(data.t_s, data.render_ms, color=COLORS["on"], lw=2, label="render clock (remote players drawn here)")
    ax.set_xlabel("client time (s)")
    ax.set_ylabel("server time − client time (ms)")
    ax.set_title("The interpolation render clock against snapshot arrivals (observer, wifi)")
    ax.legend(loc="lower left", ncols=2)
    low = min(np.nanmin(data.render_ms), np.nanmin(data.arrival_ms))
    ax.set_ylim(low - 45, max(np.nanmax(data.newest_ms), np.nanmax(data.server_now_ms)) + 10)
    return fig


def draw_inputs_per_tick(data: InputsPerTick) -> "Figure":
    fig, axes = _new_figure()
    ax = axes[0, 0]
    colors = ("#d62728", "#2ca02c", "#ff7f0e", "#7f3b08")
    positions, labels = [], []
    for i, profile in enumerate(data.profiles):
        for j, policy in enumerate(data.policies):
            positions.append(i * 3 + j)
            labels.append(f"buffer\n{policy}")
        link = PROFILES[profile]
        ax.text(i * 3 + 0.5, -0.13, f"{profile}\n{link.lag_ms:.0f} ms lag, ±{link.jitter_ms:.0f} ms, "
                f"{link.loss_pct:.0f}% loss", transform=ax.get_xaxis_transform(), ha="center", va="top",
                fontweight="bold")
    positions = np.array(positions, dtype=float)
    shares = data.shares_pct.reshape(-1, len(HISTOGRAM_KEYS))
    bottom = np.zeros(len(positions))
    for k, key in enumerate(HISTOGRAM_KEYS):
        ax.bar(positions, shares[:, k], bottom=bottom, width=0.8, color=colors[k],
               label=f"{key} input{'s' if key != '1' else ''} applied")
        bottom += shares[:, k]
    for x, share in zip(positions, shares[:, 1]):
        ax.text(x, 101.5, f"{share:.1f}%", ha="center", va="bottom", fontsize=10, color=colors[1],
                fontweight="bold")
    ax.set_xticks(positions, labels)
    ax.set_ylim(0, 112)
    ax.set_ylabel("share of server ticks (%)")
    ax.set_title("Inputs applied per server tick to one steady player (line bot), by link and input buffer")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def draw_arena_trails(data: ArenaTrails) -> "Figure":
    from matplotlib.patches import Rectangle

    fig, axes = _new_figure(1, 2, height_in=4.3, width_ratios=[1.55, 1])
    whole, zoom = axes[0]
    kinds = (("server_px", "server (every tick)", COLORS["server"], 4, 0.3),
             ("predicted_px", "predicted", COLORS["predicted"], 1.0, 1.0),
             ("drawn_px", "drawn (smoothed)", COLORS["smooth"], 1.5, 1.0))
    for ax in (whole, zoom):
        for rect, color in [(r, "#555555") for r in data.walls_px] + [(r, "#aaaaaa") for r in data.obstacles_px]:
            ax.add_patch(Rectangle((rect[0], rect[1]), rect[2] - rect[0], rect[3] - rect[1], color=color, lw=0))
        ax.set_aspect("equal")
        ax.set_xlabel("x (px)")
        ax.set_ylabel("y (px)")
        ax.grid(False)
    mine, *others = data.trails
    for other in others:  # the other pusher: only its true path, for where the shoves come from
        for ax in (whole, zoom):
            ax.plot(other.server_px[:, 0], other.server_px[:, 1], color=COLORS["other"], lw=1.2, alpha=0.6,
                    label=f"player {other.player_id} (server)")
        whole.annotate(f"player {other.player_id}", other.server_px[0], xytext=(-10, 10),
                       textcoords="offset points", ha="right", fontsize=10)
    for attr, label, color, width, alpha in kinds:
        points = getattr(mine, attr)
        for ax in (whole, zoom):
            ax.plot(points[:, 0], points[:, 1], color=color, lw=width, alpha=alpha,
                    label=f"player {mine.player_id}, {label}")
    whole.annotate(f"player {mine.player_id}", mine.server_px[0], xytext=(8, 8), textcoords="offset points",
                   fontsize=10)
    for trail in data.trails:
        whole.plot(*trail.server_px[0], "o", color=COLORS["server"], markersize=6)
    whole.set_xlim(0, data.arena_px[0])
    whole.set_ylim(data.arena_px[1], 0)  # screen coordinates: y grows downwards
    x0, y0, x1, y1 = data.zoom_px
    zoom.set_xlim(x0, x1)
    zoom.set_ylim(y1, y0)
    whole.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec="#d62728", lw=1.2))
    whole.set_title(f"The arena: {data.seconds:g} s of two pushers (wifi)")
    zoom.set_title("Detail (red box): where they shove")
    fig.legend(*zoom.get_legend_handles_labels(), loc="outside lower center", ncols=4)
    return fig


def draw_input_buffer_lead(data: InputBufferLead) -> "Figure":
    fig, axes = _new_figure(2, 1, height_in=6.4, sharex=True, height_ratios=[2, 1])
    top, bottom = axes[:, 0]
    top.plot(data.t_s, data.lead_off_ms, color=COLORS["off"], lw=1, label="lead, time dilation off")
    top.plot(data.t_s, data.target_off_ms, color=COLORS["off"], lw=1.5, ls="--", label="target, time dilation off")
    top.plot(data.t_s, data.lead_on_ms, color=COLORS["on"], lw=1.2, label="lead, time dilation on")
    top.plot(data.t_s, data.target_on_ms, color=COLORS["on"], lw=1.8, ls="--", label="target, time dilation on")
    top.set_ylabel("input lead (ms)")
    top.set_ylim(0, max(np.nanmax(data.lead_on_ms), np.nanmax(data.lead_off_ms)) + 8)
    top.set_title("The input buffer: how early the line bot's inputs reach the server")
    for ax in (top, bottom):
        ax.axvline(data.lag_drop_s, color="#888888", lw=1, ls=":")
    top.text(data.lag_drop_s + 0.1, top.get_ylim()[1] * 0.92, "the lag drops: 50 ms less each way",
             fontsize=9, color="#555555")
    top.legend(loc="center right", ncols=2)
    bottom.axhline(0, color="#888888", lw=0.8)
    bottom.plot(data.frame_t_s, data.dilation_off_pct, color=COLORS["off"], lw=1, label="time dilation off")
    bottom.plot(data.frame_t_s, data.dilation_on_pct, color=COLORS["on"], lw=1.2, label="time dilation on")
    bottom.set_ylabel("time dilation (%)")
    bottom.text(0.2, 0.85, "above 0: the client's ticks run faster than 60 Hz", transform=bottom.transAxes,
                fontsize=9, color="#555555")
    bottom.set_xlabel("time (s)")
    bottom.legend(loc="lower right", ncols=2)
    return fig


def draw_local_blend_144fps(data: LocalBlend) -> "Figure":
    fig, axes = _new_figure(2, 1, height_in=6.2, sharex=True, height_ratios=[2, 1])
    top, bottom = axes[:, 0]
    t_ms = (data.t_s - data.t_s[0]) * 1000
    top.plot(t_ms, data.newest_x_px, "s-", color=COLORS["snap"], markersize=5, lw=1, drawstyle="steps-post",
             label="drawn at the newest predicted tick")
    top.plot(t_ms, data.drawn_x_px, "o-", color=COLORS["smooth"], markersize=5, lw=1.2,
             label="drawn between the last two ticks (blend)")
    top.set_ylabel("x (px)")
    top.set_title(f"The local player at {data.fps} fps with 60 Hz ticks: one marker per drawn frame")
    top.legend(loc="upper left")
    width = 1000 / data.fps * 0.38
    steps = [np.diff(series, prepend=np.nan) for series in (data.newest_x_px, data.drawn_x_px)]
    bottom.bar(t_ms - width / 2, steps[0], width=width, color=COLORS["snap"], label="newest tick")
    bottom.bar(t_ms + width / 2, steps[1], width=width, color=COLORS["smooth"], label="blend")
    bottom.set_ylabel("moved this frame (px)")
    bottom.set_xlabel(f"client time (ms after {data.t_s[0]:.3f} s)")
    bottom.legend(loc="upper right", ncols=2)
    return fig


def draw_snapshot_bandwidth(data: SnapshotBandwidth) -> "Figure":
    fig, axes = _new_figure(1, 2, height_in=5.8)
    per_player, datagrams = axes[0]
    x = data.players
    styles = {"json": ("#8c564b", "JSON broadcast (float pixels)"), "full": (COLORS["snapshot"], "full msgpack snapshot"),
              "delta": (COLORS["on"], f"delta, baseline {data.ago_ticks} ticks old"),
              "delta0": (COLORS["predicted"], "delta against nothing (first snapshot)")}
    for k, codec in enumerate(data.codecs):
        color, label = styles[codec]
        per_player.plot(x, data.moving_b_per_player[k], "o-", color=color, lw=2, label=f"{label}, moving")
        if codec in ("full", "delta"):
            per_player.plot(x, data.idle_b_per_player[k], "s--", color=color, lw=1.2, label=f"{label}, idle")
        datagrams.plot(x, data.max_datagram_b[k], "o-", color=color, lw=2, label=label)
    delta = data.codecs.index("delta")
    per_player.plot(x, data.other_b[delta] / x, ":", color="#555555", lw=1.5,
                    label="the delta datagram's header and fields alone")
    for n, value in zip(x, data.moving_b_per_player[delta]):
        per_player.annotate(f"{value:.1f}", (n, value), xytext=(0, 7), textcoords="offset points", ha="center",
                            fontsize=9, color=COLORS["on"])
    per_player.set_ylabel("bytes per player per snapshot")
    per_player.set_title("What each player costs in every snapshot")
    datagrams.axhline(data.limit_b, color=COLORS["lost"], lw=1.5, ls="--")
    datagrams.text(x[0], data.limit_b * 1.08, f"one datagram: {data.limit_b:,} bytes", color=COLORS["lost"],
                   fontsize=10)
    datagrams.set_ylabel("largest datagram (bytes)")
    datagrams.set_title("The whole snapshot, against the datagram limit")
    for ax in (per_player, datagrams):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(x, [str(n) for n in x])
        ax.minorticks_off()
        ax.set_xlabel("players")
    fig.legend(*per_player.get_legend_handles_labels(), loc="outside lower center", ncols=3, fontsize=9)
    return fig


def draw_lag_compensation(data: LagCompensation) -> "Figure":
    from matplotlib.patches import Circle, Polygon, Rectangle

    fig, axes = _new_figure(2, 1, height_in=7.6, height_ratios=[4.2, 1])
    top, bottom = axes[:, 0]
    radius = sim.PLAYER_RADIUS_PX
    points = np.vstack([data.track_px, [data.shooter_px, data.beam_end_px, data.drawn_px, data.now_px]])
    x0, y0 = points.min(axis=0) - 2.6 * radius
    x1, y1 = points.max(axis=0) + 2.6 * radius
    for rect, color in [(r, "#555555") for r in data.walls_px] + [(r, "#aaaaaa") for r in data.obstacles_px]:
        top.add_patch(Rectangle((rect[0], rect[1]), rect[2] - rect[0], rect[3] - rect[1], color=color, lw=0))
    # The beam: a hit is a player whose circle comes within the beam's half width of the segment.
    (sx, sy), (ex, ey) = data.shooter_px, data.beam_end_px
    ux, uy = (ex - sx) / tag.BEAM_RANGE_PX, (ey - sy) / tag.BEAM_RANGE_PX
    for half, color, alpha, label in ((radius + tag.BEAM_HALF_WIDTH_PX, "#ffd27f", 0.35,
                                       "a centre in here is hit (radius + beam half width)"),
                                      (tag.BEAM_HALF_WIDTH_PX, "#ff7f0e", 0.9, f"the beam ({tag.BEAM_RANGE_PX} px)")):
        nx, ny = -uy * half, ux * half
        top.add_patch(Polygon([(sx + nx, sy + ny), (ex + nx, ey + ny), (ex - nx, ey - ny), (sx - nx, sy - ny)],
                              closed=True, color=color, alpha=alpha, lw=0, label=label))
    cap_tick = data.judged_tick - data.cap_ms * TICK_RATE / 1000
    first_tick = data.judged_tick - len(data.track_px)  # the track ends at the world before the judging tick
    ticks = np.arange(first_tick, data.judged_tick)
    older = ticks <= cap_tick
    top.plot(data.track_px[older, 0], data.track_px[older, 1], color="#bbbbbb", lw=1.2, ls="--")
    top.plot(data.track_px[~older, 0], data.track_px[~older, 1], color=COLORS["server"], lw=1.2, alpha=0.6,
             label=f"player {data.target_id}'s true track, the last {data.cap_ms} ms (every tick)")
    top.plot(data.snapshots_px[:, 0], data.snapshots_px[:, 1], "o", color=COLORS["snapshot"], markersize=3,
             label="its position in each snapshot the server remembers")
    top.plot(*data.cap_px, "D", color=COLORS["lost"], markersize=8,
             label=f"{data.cap_ms} ms before: the cap, no rewind reaches further")
    top.add_patch(Circle(data.now_px, radius, fill=False, ec=COLORS["lost"], lw=2.2,
                         label="where the server had it when it judged the shot"))
    top.add_patch(Circle(data.rewound_px, radius, color=COLORS["on"], alpha=0.45, lw=0,
                         label=f"rewound {data.rewind_ms:.0f} ms: the hitbox the server checked"))
    top.add_patch(Circle(data.drawn_px, radius, fill=False, ec=COLORS["predicted"], lw=2, ls="--",
                         label="where the shooter's screen drew it (interpolated)"))
    top.add_patch(Circle(data.shooter_px, radius, color="#ff6020", alpha=0.9, lw=0,
                         label=f"the shooter, player {data.shooter_id} (it)"))
    top.annotate("", xy=data.now_px, xytext=data.rewound_px,
                 arrowprops=dict(arrowstyle="-|>", color="#555555", lw=1.2, shrinkA=radius * 0.8, shrinkB=radius * 1.1))
    mid = ((data.now_px[0] + data.rewound_px[0]) / 2, (data.now_px[1] + data.rewound_px[1]) / 2)
    top.annotate(f"{data.moved_px:.0f} px\nfurther on", mid, xytext=(-10, 0), textcoords="offset points",
                 fontsize=10, color="#555555", va="center", ha="right")
    top.set_xlim(x0, x1)
    top.set_ylim(y1, y0)  # screen coordinates: y grows downwards
    top.set_aspect("equal")
    top.grid(False)
    top.set_xlabel("x (px)")
    top.set_ylabel("y (px)")
    top.set_title(f"A tag beam judged by the server, from above (wifi, tick {data.judged_tick})")
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, frameon=False)
    # The timeline: the remembered snapshots, the view time between two of them, and the cap.
    ms = lambda tick: (np.asarray(tick, dtype=float) - data.judged_tick) * 1000 / TICK_RATE  # noqa: E731
    left = ms(first_tick)
    bottom.axvspan(left, ms(cap_tick), color="#dddddd", lw=0, label="beyond the cap: judged at the cap")
    bottom.plot(ms(data.snapshot_ticks), np.zeros(len(data.snapshot_ticks)), "o", color=COLORS["snapshot"],
                markersize=4, label="snapshots sent and remembered")
    around = data.snapshot_ticks[np.argsort(np.abs(data.snapshot_ticks - data.view_tick))[:2]]
    bottom.plot(ms(around), np.zeros(2), "o", color=COLORS["on"], markersize=8, label="the two blended")
    bottom.axvline(ms(data.view_tick), color=COLORS["predicted"], lw=2,
                   label=f"view time the input carried: {data.rewind_ms:.0f} ms back")
    bottom.axvline(0, color=COLORS["server"], lw=1.5, label="the tick that judged the shot")
    bottom.set_xlim(left, 25)
    bottom.set_yticks([])
    bottom.grid(axis="y", visible=False)
    bottom.set_xlabel("server time, ms before the tick that judged the shot")
    bottom.legend(loc="upper left", bbox_to_anchor=(1.01, 1.15), fontsize=9, frameon=False)
    return fig


def draw_frame_sync_timeline(data: FrameSyncTimeline) -> "Figure":
    fig, axes = _new_figure(2, 1, height_in=8.0, sharex=True, sharey=True)
    start_s = data.window_s[0]
    for ax, panel in zip(axes[:, 0], data.panels):
        t_ms = (panel.t_s - start_s) * 1000
        base = int(panel.confirmed[0])  # frames are counted from the first confirmed frame shown
        ax.plot([t_ms[0], t_ms[-1]], [panel.head[0] - base, panel.head[0] - base + (t_ms[-1] - t_ms[0]) * TICK_RATE / 1000],
                color="#999999", lw=1.2, ls=":", label=f"the frame clock's pace: {TICK_RATE} frames a second")
        ax.plot(t_ms, panel.input_frame - base, color=COLORS["other"], lw=1.3, drawstyle="steps-post",
                label="the frame our newest input is for")
        if panel.max_rollback:
            ax.fill_between(t_ms, panel.confirmed - base, panel.head - base, step="post", color=COLORS["band"],
                            alpha=0.45, lw=0, label="simulated on a guess (rollback)")
            ax.plot(t_ms, panel.head - base, color=COLORS["predicted"], lw=1.8, drawstyle="steps-post",
                    label="newest frame simulated, drawn (rollback)")
        ax.plot(t_ms, panel.confirmed - base, color=COLORS["server"], lw=2, drawstyle="steps-post",
                label="newest confirmed frame (lockstep draws it)")
        held = t_ms[panel.stalled]
        ax.plot(held, np.full(len(held), -3.0), "|", color=COLORS["lost"], markersize=9, mew=1.5,
                label="a tick the frame clock was held (a stall)")
        for when, head, redone in zip(panel.rollback_t_s, panel.rollback_head, panel.rollback_frames):
            x = (when - start_s) * 1000
            ax.vlines(x, head - base - redone + 0.5, head - base + 0.5, color=COLORS["lost"], lw=3.5)
            ax.annotate(f"{redone} frames again", (x, head - base - redone / 2), xytext=(6, 0),
                        textcoords="offset points", ha="left", va="center", fontsize=9, color=COLORS["lost"],
                        bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.85))
        # One frame's round trip: its input sampled (purple) to its set back (black), drawn mid-window.
        frame = int(panel.input_frame[len(t_ms) * 2 // 5])
        sampled_ms = t_ms[np.searchsorted(panel.input_frame, frame)]
        back_ms = t_ms[min(np.searchsorted(panel.confirmed, frame), len(t_ms) - 1)]
        ax.annotate("", xy=(back_ms, frame - base), xytext=(sampled_ms, frame - base),
                    arrowprops=dict(arrowstyle="-|>", color="#333333", lw=1.8, shrinkA=0, shrinkB=0))
        ax.annotate(f"our input for frame {frame} sampled;\nits set back {back_ms - sampled_ms:.0f} ms later",
                    ((sampled_ms + back_ms) / 2, frame - base), xytext=(sampled_ms - 40, frame - base + 22),
                    textcoords="data", ha="right", va="center", fontsize=9, color="#555555",
                    arrowprops=dict(arrowstyle="-", color="#999999", lw=0.8))
        title = (f"Lockstep, input delay {panel.input_delay}" if not panel.max_rollback else
                 f"Rollback, input delay {panel.input_delay}, max rollback {panel.max_rollback}")
        ax.set_title(f"{title}: {panel.frames_per_s:.1f} frames a second")
        ax.set_ylabel("frame (from the first shown)")
    axes[1, 0].plot([], [], color=COLORS["lost"], lw=3.5, label="a rollback: frames simulated again")
    axes[1, 0].set_xlabel(f"client time (ms after {start_s:.2f} s), the {FRAME_SYNC_BOTS[0]}'s client, wifi")
    fig.legend(*axes[1, 0].get_legend_handles_labels(), loc="outside lower center", ncols=3, fontsize=9)
    return fig


# --- the command ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FigureSpec:
    name: str
    scenario: Callable[[], Any]
    draw: Callable[[Any], "Figure"]


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec("local_correction", local_correction, draw_local_correction),
    FigureSpec("remote_interpolation", remote_interpolation, draw_remote_interpolation),
    FigureSpec("sequence_diagram", sequence_diagram, draw_sequence_diagram),
    FigureSpec("render_clock", render_clock, draw_render_clock),
    FigureSpec("inputs_per_tick", inputs_per_tick, draw_inputs_per_tick),
    FigureSpec("arena_trails", arena_trails, draw_arena_trails),
    FigureSpec("input_buffer_lead", input_buffer_lead, draw_input_buffer_lead),
    FigureSpec("local_blend_144fps", local_blend_144fps, draw_local_blend_144fps),
    FigureSpec("snapshot_bandwidth", snapshot_bandwidth, draw_snapshot_bandwidth),
    FigureSpec("lag_compensation", lag_compensation, draw_lag_compensation),
    FigureSpec("frame_sync_timeline", frame_sync_timeline, draw_frame_sync_timeline),
)
NAMES = tuple(spec.name for spec in FIGURES)
CAPTIONS_FILE = "captions.md"


def save_png(fig: "Figure", path: Path) -> None:
    """Write a PNG that depends only on the figure (and the matplotlib version): no dates, no software."""
    fig.savefig(path, format="png", dpi=DPI, metadata={"Software": None})


def write_captions(out: Path, captions: dict[str, str]) -> Path:
    """``captions.md``: one list item per figure, in the order of ``FIGURES``; others kept."""
    path = out / CAPTIONS_FILE
    known = _read_captions(path) | captions
    lines = ["# Figure captions", "",
             "Generated by `python -m tools.figures` from seeded runs; the numbers are the scenario's own.", ""]
    lines += [f"- `{name}.png`: {known[name]}" for name in NAMES if name in known]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _read_captions(path: Path) -> dict[str, str]:
    captions = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("- `") and ".png`: " in line:
                name, text = line[3:].split(".png`: ", 1)
                captions[name] = text
    return captions


def _require_matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError:
        print(INSTALL_HINT, file=sys.stderr)
        raise SystemExit(2)
    matplotlib.use("Agg")
    return matplotlib


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.figures", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the PNGs and captions.md")
    parser.add_argument("--only", choices=NAMES, metavar="NAME", help=f"one figure: {', '.join(NAMES)}")
    args = parser.parse_args(argv)
    matplotlib = _require_matplotlib()
    args.out.mkdir(parents=True, exist_ok=True)
    captions = {}
    for spec in FIGURES:
        if args.only and spec.name != args.only:
            continue
        data = spec.scenario()
        captions[spec.name] = data.caption()
        with matplotlib.rc_context(STYLE):
            fig = spec.draw(data)
            path = args.out / f"{spec.name}.png"
            save_png(fig, path)
        print(f"{path}: {captions[spec.name]}")
    print(write_captions(args.out, captions))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
