"""Traces: one JSON object per line, per drawn frame (client) or per tick (server).

Theory of operation: a figure that a program computes about itself can only see what that
program knows. A client cannot know where a remote player truly was between two snapshots; the
server can. So each side writes down what it did, as it did it, and tools join the two files
afterwards (``tools/trace_analysis.py``): the drawn position of a remote player at the server
time it was drawn, against the server's own per-tick position at that time. The field names are
a stable interface, documented in ``docs/measuring.md``; add fields, never rename them.

Writing is buffered by the file object and costs one ``json.dumps`` per record; a trace is only
written when asked for (``--trace PATH``).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from .client_frame import FrameFacts


class JsonlTrace:
    def __init__(self, path: str | Path) -> None:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        self.file: TextIO = target.open("w", encoding="utf-8")
        self.records = 0

    def write(self, record: dict[str, Any]) -> None:
        self.file.write(json.dumps(record, separators=(",", ":")) + "\n")
        self.records += 1

    def close(self) -> None:
        self.file.close()


def _point(p: tuple[float, float] | None) -> list[float] | None:
    return None if p is None else [round(p[0], 4), round(p[1], 4)]


def client_record(facts: "FrameFacts", player_id: int | None, tick_rate: int, corrections: int,
                  snapshots_received: int) -> dict[str, Any]:
    """One drawn frame. ``corrections`` and ``snapshots_received`` are running totals."""
    return {
        "t": round(facts.now, 6),
        "local": _point(facts.local_drawn),
        "remotes": {str(pid): _point(p) for pid, p in sorted(facts.remotes.items())},
        "player_id": player_id,
        "predicted": _point(facts.local_predicted),
        "server_local": _point(facts.local_server),
        "input_seq": facts.input_seq,
        "alpha": round(facts.alpha, 4),
        "render_time_s": round(facts.render_time_s, 6),
        "snapshot_tick": facts.snapshot_tick,
        "corrections": corrections,
        "snapshots_received": snapshots_received,
        "dilation_pct": round(facts.dilation_pct, 3),
        "input_lead_ms": round(facts.input_lead_ms, 2),
        "input_target_ms": None if facts.input_target_ms is None else round(facts.input_target_ms, 2),
        "extrapolated": facts.extrapolated,
        "tick_rate": tick_rate,
    }
