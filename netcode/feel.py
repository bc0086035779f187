"""Measuring how a client *feels*, frame by frame, from the ``FrameFacts`` of each frame.

Theory of operation: every figure is taken from what the player actually sees, and each keeps
constant memory (a running summary, never a list of every frame), so a client can run for hours.

* ``visible_snap_px``: how far the drawn local player moved this frame *beyond* what its own
  predicted motion explains: ``|(drawn_now - drawn_before) - (blend_now - blend_before)|``, where
  the blend is the predicted position between ticks and ``blend_before`` already includes this
  frame's corrections. A correction drawn in one frame shows in full; smoothing spreads it.
* ``input_to_render_frames``: a *press* is an input whose keys differ from the previous one (and
  are not all released). It has rendered once a drawn frame shows a state that includes that
  input: at once with prediction, a round trip later without it. Presses before the first
  snapshot are not counted: nothing at all is drawn then.
* ``remote_error_px``: for every frame we remember the server time it showed and where each
  remote player was drawn. Once the snapshots around that time have arrived (two intervals later)
  we compare with the snapshots' track at that time. This measures interpolation against the
  snapshots it had, *not* against the truth: between snapshots the client cannot know the true
  track, so a hitch that is in the snapshots themselves reads 0 here. The honest figures
  (``remote_true_error_px_*``, ``remote_speed_off_pct``) come from joining a client trace with the
  server's per-tick trace (``tools/trace_analysis.py``).
* ``interp_delay_ms``: how far behind the newest snapshot remote players are drawn.

The net graph's series (one sample per frame, the newest ``GRAPH_SAMPLES``) live here too.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .stats import Summary

if TYPE_CHECKING:
    from .client_frame import FrameFacts
    from .interpolation import Interpolator

GRAPH_SAMPLES = 240
MAX_PENDING_PRESSES = 256  # presses waiting to be drawn (prediction off and no snapshots: bounded)
MAX_REMOTE_RECORDS = 256  # frames waiting for the snapshots around them


@dataclass
class NetGraph:
    """Rolling series, oldest first, one sample per rendered frame, at most ``GRAPH_SAMPLES`` each."""

    rtt_ms: deque = field(default_factory=lambda: deque(maxlen=GRAPH_SAMPLES))
    snapshot_arrivals: deque = field(default_factory=lambda: deque(maxlen=GRAPH_SAMPLES))
    snapshot_losses: deque = field(default_factory=lambda: deque(maxlen=GRAPH_SAMPLES))
    corrections_px: deque = field(default_factory=lambda: deque(maxlen=GRAPH_SAMPLES))
    bytes_in_per_s: deque = field(default_factory=lambda: deque(maxlen=GRAPH_SAMPLES))
    bytes_out_per_s: deque = field(default_factory=lambda: deque(maxlen=GRAPH_SAMPLES))
    input_lead_ms: deque = field(default_factory=lambda: deque(maxlen=GRAPH_SAMPLES))
    input_target_ms: deque = field(default_factory=lambda: deque(maxlen=GRAPH_SAMPLES))
    dilation_pct: deque = field(default_factory=lambda: deque(maxlen=GRAPH_SAMPLES))


@dataclass
class LinkFacts:
    """The session's side of a frame, for the net graph."""

    rtt_ms: float
    snapshots_lost: int
    bytes_in_per_s: float
    bytes_out_per_s: float


class FeelMeter:
    def __init__(self) -> None:
        self.frames = 0
        self.now = 0.0
        self.frame_ms = Summary()
        self.elapsed_s = 0.0
        self.corrections_px = Summary()
        self.visible_snap_px_max = 0.0
        self.input_to_render = Summary()
        self.pending_presses: deque[tuple[int, int]] = deque(maxlen=MAX_PENDING_PRESSES)
        self.last_bits = 0
        self.remote_records: deque[tuple[float, dict[int, tuple[float, float]]]] = deque(maxlen=MAX_REMOTE_RECORDS)
        self.remote_errors_px = Summary()
        self.interp_delay_ms = Summary()
        self.extrapolated_frames = 0
        self.remote_ids_seen: set[int] = set()
        self.prev_drawn: tuple[float, float] | None = None
        self.played = False  # a frame has been drawn since the first snapshot
        self.graph = NetGraph()
        self._lost_before = 0

    def on_frame(self, facts: "FrameFacts", link: LinkFacts, track: "Interpolator | None") -> None:
        """Take in one frame; ``track`` is the interpolator whose snapshots remote errors use."""
        self.now = facts.now
        self.frames += 1
        if self.frames > 1:
            self.frame_ms.add(facts.dt_s * 1000)
            self.elapsed_s += facts.dt_s
        for size_px in facts.corrections_px:
            self.corrections_px.add(size_px)
        for seq, bits in facts.inputs:
            self._on_input(seq, bits)
        self.played |= facts.playing
        if facts.playing:
            self._visible_snap(facts)
            self._input_to_render(facts.drawn_input_seq)
            self._remote(facts, track)
        self._graph(facts, link)

    def _on_input(self, seq: int, bits: int) -> None:
        # Before the first snapshot nothing is drawn at all: a press then is not a reaction time.
        if bits != self.last_bits and bits != 0 and self.played:
            self.pending_presses.append((seq, self.frames))
        self.last_bits = bits

    def _visible_snap(self, facts: "FrameFacts") -> None:
        drawn, before, after = facts.local_drawn, facts.local_blend_before, facts.local_blend
        if facts.prediction_on and drawn and before and after and self.prev_drawn:
            moved_x, moved_y = drawn[0] - self.prev_drawn[0], drawn[1] - self.prev_drawn[1]
            explained_x, explained_y = after[0] - before[0], after[1] - before[1]
            jump = math.hypot(moved_x - explained_x, moved_y - explained_y)
            self.visible_snap_px_max = max(self.visible_snap_px_max, jump)
        self.prev_drawn = drawn

    def _input_to_render(self, drawn_seq: int) -> None:
        while self.pending_presses and self.pending_presses[0][0] <= drawn_seq:
            _, press_frame = self.pending_presses.popleft()
            self.input_to_render.add(self.frames - press_frame)

    def _remote(self, facts: "FrameFacts", track: "Interpolator | None") -> None:
        if not facts.remotes or track is None:
            return
        self.remote_ids_seen.update(facts.remotes)
        self.interp_delay_ms.add(facts.interp_delay_s * 1000)
        self.extrapolated_frames += facts.extrapolated
        self.remote_records.append((facts.render_time_s, dict(facts.remotes)))
        settle_s = 2 * track.measured_interval_s()
        while self.remote_records and self.remote_records[0][0] + settle_s <= track.newest_time_s():
            shown_s, drawn = self.remote_records.popleft()
            truth = track.reference_at(shown_s)
            for pid, (x, y) in drawn.items():
                if pid in truth:
                    self.remote_errors_px.add(math.hypot(x - truth[pid][0], y - truth[pid][1]))

    def _graph(self, facts: "FrameFacts", link: LinkFacts) -> None:
        series = self.graph
        series.rtt_ms.append(link.rtt_ms)
        series.snapshot_arrivals.append(facts.snapshots_arrived)
        series.snapshot_losses.append(max(0, link.snapshots_lost - self._lost_before))
        series.corrections_px.append(max(facts.corrections_px, default=0.0))
        series.bytes_in_per_s.append(link.bytes_in_per_s)
        series.bytes_out_per_s.append(link.bytes_out_per_s)
        series.input_lead_ms.append(facts.input_lead_ms)
        series.input_target_ms.append(facts.input_target_ms if facts.input_target_ms is not None else float("nan"))
        series.dilation_pct.append(facts.dilation_pct)
        self._lost_before = max(self._lost_before, link.snapshots_lost)

    # --- the report ------------------------------------------------------------------------------

    def stats(self) -> dict[str, object]:
        elapsed_s = max(1e-9, self.elapsed_s)
        return {
            "fps_mean": round(self.frame_ms.count / elapsed_s, 2),
            "frame_ms_p99": round(self.frame_ms.percentile(99), 2),
            "corrections": self.corrections_px.count,
            "correction_px_max": round(self.corrections_px.max, 3),
            "correction_px_mean": round(self.corrections_px.mean, 3),
            "visible_snap_px_max": round(self.visible_snap_px_max, 3),
            "input_to_render_frames": round(self.input_to_render.mean, 2),
            "input_to_render_frames_max": round(self.input_to_render.max),
            "remote_error_px_mean": round(self.remote_errors_px.mean, 3),
            "interp_delay_ms_mean": round(self.interp_delay_ms.mean, 2),
            "extrapolated_frames": self.extrapolated_frames,
            "remote_players_drawn": len(self.remote_ids_seen),
            "frames": self.frames,
        }
