"""Frame sync over real UDP: a run_server.py relaying frames to run_client.py bots behind the
link conditioner. (The issue's 14 s figures come from ``python -m tools.bench_sync --families``.)"""
from __future__ import annotations

import json
from pathlib import Path

from tools.procs import BotSpec, run_match

WIFI = ["--net", "wifi"]


def test_lockstep_between_two_processes_under_wifi_checks_hashes_and_agrees(tmp_path) -> None:
    result = run_match([BotSpec("circle", WIFI, "a"), BotSpec("zigzag", WIFI, "b")], 6.0,
                       ["--sync", "lockstep", "--input-delay", "3", "--desync-dir", str(tmp_path)])
    assert result.server["sync"] == "lockstep" and result.server["desyncs"] == 0
    assert result.server["hash_checks"] >= 30 and result.server["desync_report"] is None
    for client in result.clients:
        assert client["sync"] == "lockstep" and client["hashes_sent"] >= 15 and client["stall_frames"] > 0


def test_an_injected_desync_between_processes_is_reported_with_the_field(tmp_path) -> None:
    result = run_match([BotSpec("circle", WIFI, "honest"), BotSpec("line", WIFI + ["--inject-desync", "per-player"], "faulty")],
                       6.0, ["--sync", "rollback", "--input-delay", "1", "--desync-dir", str(tmp_path)])
    assert result.server["desyncs"] >= 1
    report = json.loads(Path(result.server["desync_report"]).read_text())
    assert report["frame"] == result.server["first_desync_tick"] and report["players_differing"] == ["faulty"]
    faulty = next(p for p in report["players"] if p["name"] == "faulty")
    assert any(" x " in line for line in faulty["differences"])
    assert result.clients[1]["injected_desync"] == "per-player"
    assert report["frame"] - result.clients[1]["injected_desync_first_frame"] < 4  # within hash_every
