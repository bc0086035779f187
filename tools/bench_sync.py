"""Benchmark the predictive-sync techniques: one row per switch combination, under a network profile.

Usage::

    python -m tools.bench_sync --net wifi            # the profile's lag, jitter and loss
    python -m tools.bench_sync --net wifi --loss 0   # same, without loss
    python -m tools.bench_sync --duration 5          # shorter rows

Theory of operation: each row starts a real server and headless bot clients as separate
processes on loopback (``tools.procs``); every client runs the link conditioner with the chosen
profile on its own socket (so the round trip gets the profile's lag once). The scenarios are
chosen so each technique has something to show:

* ``alone``: one circling bot. Prediction makes a press show at once; a lone player is never
  corrected, because only other players can make the server disagree.
* ``push``: two ``pusher`` bots shoving each other. Corrections are unavoidable; smoothing hides
  them (``visible_snap_px_max`` far below ``correction_px_max``).
* ``pair``: a circling and a zigzagging bot watching each other: remote interpolation figures.

Figures are those of DESIGN.md; with two clients, counts are summed, maxima are the larger, and
means are averaged over the two.
"""
from __future__ import annotations

import argparse
import sys

from netcode.conditioner import PROFILES

from .procs import BotSpec, run_match

COLUMNS = ("corrections", "correction_px_max", "visible_snap_px_max", "input_to_render_frames",
           "remote_error_px_mean", "interp_delay_ms_mean", "extrapolated_frames", "rtt_ms_mean",
           "snapshot_loss_pct")
SUMMED = {"corrections", "extrapolated_frames"}
MAXED = {"correction_px_max", "visible_snap_px_max"}

#: (row label, scenario, switches turned off)
ROWS = (
    ("alone: all on", "alone", []),
    ("alone: no prediction", "alone", ["--no-prediction"]),
    ("alone: no reconciliation", "alone", ["--no-reconciliation"]),
    ("push: all on", "push", []),
    ("push: no smoothing", "push", ["--no-smoothing"]),
    ("pair: all on", "pair", []),
    ("pair: no interpolation", "pair", ["--no-interpolation"]),
    ("pair: no extrapolation", "pair", ["--no-extrapolation"]),
)
SCENARIOS = {"alone": ("circle",), "push": ("pusher", "pusher"), "pair": ("circle", "zigzag")}


def link_flags(args: argparse.Namespace) -> list[str]:
    flags = ["--net", args.net]
    for name in ("lag", "jitter", "loss", "dup", "reorder"):
        value = getattr(args, name)
        if value is not None:
            flags += [f"--{name}", str(value)]
    return flags


def combine(clients: list[dict]) -> dict[str, float]:
    row = {}
    for column in COLUMNS:
        values = [c[column] for c in clients]
        if column in SUMMED:
            row[column] = sum(values)
        elif column in MAXED:
            row[column] = max(values)
        else:
            row[column] = sum(values) / len(values)
    return row


def run_row(scenario: str, off: list[str], args: argparse.Namespace) -> dict[str, float]:
    bots = [BotSpec(bot, off + link_flags(args), name=f"{bot}{i}") for i, bot in enumerate(SCENARIOS[scenario])]
    return combine(run_match(bots, args.duration).clients)


def print_table(rows: list[tuple[str, dict[str, float]]]) -> None:
    width = max(len(label) for label, _ in rows)
    print(f"{'row':<{width}}  " + "  ".join(f"{c:>{max(8, len(c))}}" for c in COLUMNS))
    for label, row in rows:
        cells = "  ".join(f"{row[c]:>{max(8, len(c))}.{0 if c in SUMMED else 2}f}" for c in COLUMNS)
        print(f"{label:<{width}}  {cells}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--net", choices=sorted(PROFILES), default="wifi", help="link profile (default %(default)s)")
    for name in ("lag", "jitter", "loss", "dup", "reorder"):
        parser.add_argument(f"--{name}", type=float, help=f"override the profile's {name}")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per row (default %(default)s)")
    parser.add_argument("--only", help="run only rows whose label contains this text")
    args = parser.parse_args(argv)
    print(f"profile {args.net} {PROFILES[args.net]}; overrides: {' '.join(link_flags(args)[2:]) or 'none'}; "
          f"{args.duration:.0f} s per row", flush=True)
    results = []
    for label, scenario, off in ROWS:
        if args.only and args.only not in label:
            continue
        results.append((label, run_row(scenario, off, args)))
    print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
