"""Measuring how the game *feels*: the client figures of DESIGN.md, and the net graph's series.

Theory of operation: every figure is taken from what the player actually sees, frame by frame.

* ``visible_snap_px``: how far the drawn local player moved this frame *beyond* what its own
  predicted motion explains, i.e. ``|(drawn_now - drawn_before) - (predicted_after_ticks -
  predicted_before_ticks)|``. A correction drawn in one frame shows in full; smoothing spreads it.
* ``input_to_render_frames``: a *press* is an input whose keys differ from the previous one (and
  are not all released). It has rendered once a drawn frame shows a state that includes that
  input: at once with prediction, a round trip later without it.
* ``remote_error_px``: for every frame we remember the server time it showed and where each
  remote player was drawn. Once the snapshots around that time have arrived (two intervals later)
  we compare with the server's track at that time, interpolated between its snapshots.
* ``interp_delay_ms``: how far behind the newest snapshot remote players are drawn.
"""
from __future__ import annotations

import math
from collections import deque
from typing import TYPE_CHECKING

from netcode.stats import mean, percentile

from .view import NetGraph

if TYPE_CHECKING:
    from netcode.interpolation import Sample

    from .client import GameClient

GRAPH_SAMPLES = 240


class FeelMeter:
    def __init__(self) -> None:
        self.frames = 0
        self.now = 0.0
        self.frame_ms: list[float] = []
        self.elapsed_s = 0.0
        self.corrections_px: list[float] = []
        self.visible_snap_px_max = 0.0
        self.input_to_render: list[int] = []
        self.pending_presses: deque[tuple[int, int]] = deque()  # (input seq, frame of the press)
        self.last_bits = 0
        self.remote_records: deque[tuple[float, dict[int, tuple[float, float]]]] = deque()
        self.remote_errors_px: list[float] = []
        self.interp_delay_ms: list[float] = []
        self.extrapolated_frames = 0
        self.remote_ids_seen: set[int] = set()
        self.prev_drawn: tuple[float, float] | None = None
        self.graph = NetGraph()
        self._frame_arrivals = 0
        self._frame_correction_px = 0.0
        self._lost_before = 0

    # --- events during a frame -------------------------------------------------------------------

    def begin_frame(self, now: float, dt_s: float) -> None:
        self.now = now
        self.frames += 1
        if self.frames > 1:
            self.frame_ms.append(dt_s * 1000)
            self.elapsed_s += dt_s
        self._frame_arrivals = 0
        self._frame_correction_px = 0.0

    def on_snapshot(self) -> None:
        self._frame_arrivals += 1

    def on_correction(self, size_px: float) -> None:
        self.corrections_px.append(size_px)
        self._frame_correction_px = max(self._frame_correction_px, size_px)

    def on_input(self, seq: int, bits: int) -> None:
        if bits != self.last_bits and bits != 0:
            self.pending_presses.append((seq, self.frames))
        self.last_bits = bits

    # --- the end of a frame ------------------------------------------------------------------------

    def end_frame(self, client: "GameClient", drawn: tuple[float, float] | None,
                  predicted_before: tuple[float, float] | None,
                  predicted_after: tuple[float, float] | None, sample: "Sample") -> None:
        self._visible_snap(client, drawn, predicted_before, predicted_after)
        self._input_to_render(client.drawn_state_input_seq())
        self._remote(client, sample)
        self._graph(client)

    def _visible_snap(self, client: "GameClient", drawn, before, after) -> None:
        if client.switches.prediction and drawn and before and after and self.prev_drawn:
            moved_x, moved_y = drawn[0] - self.prev_drawn[0], drawn[1] - self.prev_drawn[1]
            explained_x, explained_y = after[0] - before[0], after[1] - before[1]
            jump = math.hypot(moved_x - explained_x, moved_y - explained_y)
            self.visible_snap_px_max = max(self.visible_snap_px_max, jump)
        self.prev_drawn = drawn

    def _input_to_render(self, drawn_seq: int) -> None:
        while self.pending_presses and self.pending_presses[0][0] <= drawn_seq:
            _, press_frame = self.pending_presses.popleft()
            self.input_to_render.append(self.frames - press_frame)

    def _remote(self, client: "GameClient", sample: "Sample") -> None:
        interp = client.interpolator
        if not sample.positions:
            return
        self.remote_ids_seen.update(sample.positions)
        self.interp_delay_ms.append(sample.delay_s * 1000)
        self.extrapolated_frames += sample.extrapolated
        self.remote_records.append((sample.render_time_s, dict(sample.positions)))
        settle_s = 2 * interp.measured_interval_s()
        while self.remote_records and self.remote_records[0][0] + settle_s <= interp.newest_time_s():
            shown_s, drawn = self.remote_records.popleft()
            truth = interp.reference_at(shown_s)
            for pid, (x, y) in drawn.items():
                if pid in truth:
                    self.remote_errors_px.append(math.hypot(x - truth[pid][0], y - truth[pid][1]))

    def _graph(self, client: "GameClient") -> None:
        session = client.session
        lost = session.snapshots_lost()
        series = self.graph
        series.rtt_ms.append(session.conn.rtt_ms)
        series.snapshot_arrivals.append(self._frame_arrivals)
        series.snapshot_losses.append(max(0, lost - self._lost_before))
        series.corrections_px.append(self._frame_correction_px)
        series.bytes_in_per_s.append(session.rate_in.per_s(self.now))
        series.bytes_out_per_s.append(session.rate_out.per_s(self.now))
        self._lost_before = max(self._lost_before, lost)
        for values in (series.rtt_ms, series.snapshot_arrivals, series.snapshot_losses,
                       series.corrections_px, series.bytes_in_per_s, series.bytes_out_per_s):
            del values[:-GRAPH_SAMPLES]

    # --- the report ------------------------------------------------------------------------------

    def stats(self, client: "GameClient") -> dict[str, object]:
        session = client.session
        elapsed_s = max(1e-9, self.elapsed_s)
        rtt = list(session.conn.rtt_samples_ms)
        return {
            "fps_mean": round(len(self.frame_ms) / elapsed_s, 2),
            "frame_ms_p99": round(percentile(self.frame_ms, 99), 2),
            "rtt_ms_mean": round(mean(rtt), 2),
            "rtt_ms_p95": round(percentile(rtt, 95), 2),
            "snapshots_received": session.snapshots_received,
            "snapshot_loss_pct": round(session.snapshot_loss_pct(), 2),
            "bytes_in_per_s": round(session.conn.bytes_in / elapsed_s, 1),
            "bytes_out_per_s": round(session.conn.bytes_out / elapsed_s, 1),
            "corrections": len(self.corrections_px),
            "correction_px_max": round(max(self.corrections_px, default=0.0), 3),
            "correction_px_mean": round(mean(self.corrections_px), 3),
            "visible_snap_px_max": round(self.visible_snap_px_max, 3),
            "input_to_render_frames": round(mean(self.input_to_render), 2),
            "input_to_render_frames_max": max(self.input_to_render, default=0),
            "remote_error_px_mean": round(mean(self.remote_errors_px), 3),
            "interp_delay_ms_mean": round(mean(self.interp_delay_ms), 2),
            "extrapolated_frames": self.extrapolated_frames,
            "frames": self.frames,
            "dropped_packets": dict(session.dropped),
        }
