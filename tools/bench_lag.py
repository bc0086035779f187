"""Lag compensation, measured: a tagger bot fires at what its screen shows; does the server agree?

Theory of operation: for each network profile, with lag compensation on and then off, this
starts a real server with three tag-playing server bots (``run_server.py --bots 3``) and one
``run_client.py --bot tagger`` behind the link conditioner, for ``--duration`` seconds, as
separate processes on loopback (``tools.procs``). The tagger only fires when its beam crosses a
runner *as drawn*, so every "hit on screen" is a shot the player would swear was a hit. The
figure is ``confirmed_pct``: the share of those the server confirmed.

It also checks the reliable channel and state sync against the truth: ``events_missed`` (event
gaps that never filled: must be 0), and whether the scores the tagger showed at its last snapshot
equal the server's own scores at that same tick, read from the server's per-tick trace.

    python -m tools.bench_lag                     # wifi, on and off, 20 s each
    python -m tools.bench_lag --net wifi bad --duration 60
"""
from __future__ import annotations

import argparse
import json
import sys

from .procs import BotSpec, run_match

COLUMNS = ("net", "lag comp", "fired", "hit on screen", "confirmed", "confirmed %", "rewind ms mean",
           "rewind ms max", "clamped", "events missed", "scores match")


def measure(net: str, lag_compensation: bool, duration_s: float, bots: int = 3) -> dict:
    server_flags = ["--bots", str(bots)] + ([] if lag_compensation else ["--no-lag-compensation"])
    result = run_match([BotSpec("tagger", ["--net", net], "tagger")], duration_s, server_flags, trace=True)
    client, server = result.clients[0], result.server
    on_screen = client["tags_hit_on_screen"]
    return {
        "net": net, "lag_compensation": lag_compensation,
        "tags_fired": client["tags_fired"], "tags_hit_on_screen": on_screen,
        "tags_confirmed": client["tags_confirmed"],
        "confirmed_pct": round(100 * client["tags_confirmed"] / on_screen, 1) if on_screen else None,
        "tags_rejected": client["tags_rejected"], "tags_unanswered": client["tags_unanswered"],
        "server_tags_confirmed": server["tags_confirmed"], "server_tags_rejected": server["tags_rejected"],
        "rewind_ms_mean": server["rewind_ms_mean"], "rewind_ms_max": server["rewind_ms_max"],
        "rewinds_clamped_to_cap": server["rewinds_clamped_to_cap"],
        "events_received": client["events_received"], "events_missed": client["events_missed"],
        "scores_shown": client["scores_shown"], "scores_tick": client["scores_tick"],
        "server_scores": scores_at(result.server_trace, client["scores_tick"]),
    } | {"scores_match": client["scores_shown"] == scores_at(result.server_trace, client["scores_tick"])}


def scores_at(trace: list[dict], tick: int) -> dict | None:
    """The server's scores after ``tick``, from its per-tick trace (None if the trace lacks it)."""
    for record in trace:
        if record["tick"] == tick:
            return record["game"]["scores"]
    return None


def row_cells(row: dict) -> list[str]:
    pct = "-" if row["confirmed_pct"] is None else f"{row['confirmed_pct']:.1f}"
    return [row["net"], "on" if row["lag_compensation"] else "off", str(row["tags_fired"]),
            str(row["tags_hit_on_screen"]), str(row["tags_confirmed"]), pct, f"{row['rewind_ms_mean']:.0f}",
            f"{row['rewind_ms_max']:.0f}", str(row["rewinds_clamped_to_cap"]), str(row["events_missed"]),
            "yes" if row["scores_match"] else "NO"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--net", nargs="+", default=["wifi"], help="link profiles to measure (default wifi)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per run (default %(default)s)")
    parser.add_argument("--only", choices=("on", "off"), help="only this lag compensation setting")
    parser.add_argument("--json", metavar="PATH", help="also write the rows as JSON")
    args = parser.parse_args(argv)
    settings = [True, False] if args.only is None else [args.only == "on"]
    rows = [measure(net, on, args.duration) for net in args.net for on in settings]
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + "---|" * len(COLUMNS))
    for row in rows:
        print("| " + " | ".join(row_cells(row)) + " |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
