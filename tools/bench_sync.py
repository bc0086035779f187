"""Benchmark the predictive-sync techniques: one row per switch combination, under a network profile.

Usage::

    python -m tools.bench_sync --families --net wifi # state sync, lockstep and rollback side by side
    python -m tools.bench_sync --net wifi            # the profile's lag, jitter and loss
    python -m tools.bench_sync --net wifi --loss 0   # same, without loss
    python -m tools.bench_sync --duration 5          # shorter rows
    python -m tools.bench_sync --only line --fps 144 # the line rows, clients drawing at 144 fps

Theory of operation: each row starts a real server and headless bot clients as separate
processes on loopback (``tools.procs``); every client runs the link conditioner with the chosen
profile on its own socket (so the round trip gets the profile's lag once). The scenarios are
chosen so each technique has something to show:

* ``alone``: one circling bot. Prediction makes a press show at once; a lone player is never
  corrected, because only other players can make the server disagree.
* ``push``: two ``pusher`` bots shoving each other. Corrections are unavoidable; smoothing hides
  them (``visible_snap_px_max`` far below ``correction_px_max``).
* ``pair``: a circling and a zigzagging bot watching each other: remote interpolation figures.
* ``line``: a ``line`` bot (one direction at full speed, reversing at walls) watched by an
  ``idle`` one: is constant-speed motion drawn at a constant speed, for the remote watcher and
  for the mover itself? Rows with time dilation off (client) and the input buffer off (server).

The first columns are the clients' own figures (docs/measuring.md); with two clients, counts are
summed, maxima are the larger, and means are averaged over the two.

The other columns come from traces: every process runs with ``--trace``, and
``tools.trace_analysis`` joins each client's drawn frames with the server's per-tick track (the
true positions after every tick, and which inputs each tick applied). They are measured against
that truth, not against the snapshots a client drew from, so a staircase in the snapshots shows:

* ``remote_true_error_px_mean`` / ``_p95``: distance between a drawn remote player and its true
  position at the server time it was drawn for (mean, and 95th percentile).
* ``remote_speed_off_pct``: share of frames, away from turns and stops, whose drawn remote speed
  (movement since the previous frame / client time) is more than 15 % off the true speed.
* ``local_speed_off_pct``: the same for the player's own drawn position, against its true track
  indexed by input number (what ``--fps 144`` with alpha blending is about).
* ``one_input_pct``: share of steady server ticks that applied exactly one input of the moving
  player(s) (from the server trace; 0 or 2 inputs make the truth itself a staircase).
* ``input_buffer_ms_mean``: the server's mean input buffer, from its stats.

Remote figures cover each client's view of every other *moving* player (the idle watcher's view
of the line bot; both views in ``push`` and ``pair``; none when ``alone``), local figures cover
every moving bot; shares are pooled over counted frames, error means over judged frames, and the
p95 is the larger of the views'. A figure with nothing to measure prints ``-``.
"""
from __future__ import annotations

import argparse
import math
import sys

from netcode.conditioner import PROFILES

from . import trace_analysis as ta
from .procs import BotSpec, RunResult, run_match

COLUMNS = ("corrections", "correction_px_max", "visible_snap_px_max", "input_to_render_frames",
           "remote_error_px_mean", "interp_delay_ms_mean", "extrapolated_frames", "rtt_ms_mean",
           "snapshot_loss_pct")
TRACE_COLUMNS = ("remote_true_error_px_mean", "remote_true_error_px_p95", "remote_speed_off_pct",
                 "local_speed_off_pct", "one_input_pct", "input_buffer_ms_mean")
SUMMED = {"corrections", "extrapolated_frames"}
MAXED = {"correction_px_max", "visible_snap_px_max"}
DEFAULT_TICK_RATE = 60

#: (row label, scenario, client flags (switches turned off), server flags)
ROWS = (
    ("alone: all on", "alone", [], []),
    ("alone: no prediction", "alone", ["--no-prediction"], []),
    ("alone: no reconciliation", "alone", ["--no-reconciliation"], []),
    ("push: all on", "push", [], []),
    ("push: no smoothing", "push", ["--no-smoothing"], []),
    ("pair: all on", "pair", [], []),
    ("pair: no interpolation", "pair", ["--no-interpolation"], []),
    ("pair: no extrapolation", "pair", ["--no-extrapolation"], []),
    ("line: all on", "line", [], []),
    ("line: no time dilation", "line", ["--no-time-dilation"], []),
    ("line: input buffer off", "line", [], ["--input-buffer", "off"]),
)
SCENARIOS = {"alone": ("circle",), "push": ("pusher", "pusher"), "pair": ("circle", "zigzag"),
             "line": ("line", "idle")}
STILL_BOTS = {"idle"}


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


def pooled(figures: list[dict], value: str, weight: str) -> float:
    """Mean of ``value`` over the figures, weighted by their ``weight`` (frame counts); NaN if none."""
    total = sum(f[weight] for f in figures)
    return sum(f[value] * f[weight] for f in figures if f[weight]) / total if total else math.nan


def trace_figures(kinds: tuple[str, ...], result: RunResult) -> dict[str, float]:
    """Remote, local and inputs-per-tick figures from the traces, for the moving bots."""
    server, traces = result.server_trace, result.client_traces
    ids = [ta.player_id_of(trace) for trace in traces]
    tick_rate = next((int(f["tick_rate"]) for trace in traces for f in trace if f.get("tick_rate")), DEFAULT_TICK_RATE)
    moving = [i for i, kind in enumerate(kinds) if kind not in STILL_BOTS and ids[i] is not None]
    remote = [ta.remote_figures(traces[watcher], server, ids[mover], tick_rate)
              for mover in moving for watcher in range(len(kinds)) if watcher != mover]
    local = [ta.local_figures(traces[mover], server, ids[mover], tick_rate) for mover in moving]
    p95s = [f["remote_true_error_px_p95"] for f in remote if f["remote_error_frames"]]
    inputs = ta.merge_histograms(ta.input_ticks(server, ids[mover], tick_rate=tick_rate) for mover in moving)
    return {
        "remote_true_error_px_mean": pooled(remote, "remote_true_error_px_mean", "remote_error_frames"),
        "remote_true_error_px_p95": max(p95s) if p95s else math.nan,
        "remote_speed_off_pct": pooled(remote, "remote_speed_off_pct", "remote_speed_frames"),
        "local_speed_off_pct": pooled(local, "local_speed_off_pct", "local_speed_frames"),
        "one_input_pct": ta.one_input_pct(inputs),
    }


def run_row(scenario: str, off: list[str], server_flags: list[str], args: argparse.Namespace) -> dict[str, float]:
    kinds = SCENARIOS[scenario]
    client_flags = off + link_flags(args) + ["--fps", str(args.fps)]
    bots = [BotSpec(bot, client_flags, name=f"{bot}{i}") for i, bot in enumerate(kinds)]
    result = run_match(bots, args.duration, server_flags, trace=True)
    return (combine(result.clients) | trace_figures(kinds, result)
            | {"input_buffer_ms_mean": number_or_nan(result.server.get("input_buffer_ms_mean"))})


def number_or_nan(value: object) -> float:
    return float(value) if isinstance(value, (int, float)) else math.nan


def cell(column: str, value: float) -> str:
    width = max(8, len(column))
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return f"{'-':>{width}}"
    return f"{value:>{width}.{0 if column in SUMMED else 2}f}"


def print_table(rows: list[tuple[str, dict[str, float]]]) -> None:
    columns = COLUMNS + TRACE_COLUMNS
    width = max(len(label) for label, _ in rows)
    print(f"{'row':<{width}}  " + "  ".join(f"{c:>{max(8, len(c))}}" for c in columns))
    for label, row in rows:
        print(f"{label:<{width}}  " + "  ".join(cell(c, row[c]) for c in columns), flush=True)


#: The two families side by side (``--families``): (label, server flags). The same two bots, the
#: same link; only how the game is kept in sync differs.
FAMILY_ROWS = (
    ("state sync (prediction, interpolation)", []),
    ("lockstep, input delay 3", ["--sync", "lockstep", "--input-delay", "3"]),
    ("lockstep, input delay 6", ["--sync", "lockstep", "--input-delay", "6"]),
    ("lockstep, input delay auto", ["--sync", "lockstep", "--input-delay", "auto"]),
    ("rollback, input delay 1", ["--sync", "rollback", "--input-delay", "1", "--max-rollback", "8"]),
    ("rollback, input delay 3", ["--sync", "rollback", "--input-delay", "3", "--max-rollback", "8"]),
)
FAMILY_COLUMNS = ("input_to_render_frames", "input_to_render_frames_max", "stall_frames", "rollbacks",
                  "rollback_frames_mean", "corrections", "kB_in_per_s", "kB_out_per_s", "hash_checks", "desyncs")


def run_family(server_flags: list[str], args: argparse.Namespace) -> dict[str, float]:
    """The ``pair`` scenario under one family; client figures averaged over the two clients."""
    client_flags = link_flags(args) + ["--fps", str(args.fps)]
    bots = [BotSpec(bot, client_flags, name=f"{bot}{i}") for i, bot in enumerate(SCENARIOS["pair"])]
    result = run_match(bots, args.duration, ["--hash-every", "4"] + server_flags)
    def mean_of(key: str) -> float:
        return sum(number_or_nan(c.get(key, 0)) for c in result.clients) / len(result.clients)
    return {"input_to_render_frames": mean_of("input_to_render_frames"),
            "input_to_render_frames_max": max(c["input_to_render_frames_max"] for c in result.clients),
            "stall_frames": mean_of("stall_frames"), "rollbacks": mean_of("rollbacks"),
            "rollback_frames_mean": mean_of("rollback_frames_mean"), "corrections": mean_of("corrections"),
            "kB_in_per_s": mean_of("bytes_in_per_s") / 1000, "kB_out_per_s": mean_of("bytes_out_per_s") / 1000,
            "hash_checks": number_or_nan(result.server.get("hash_checks")),
            "desyncs": number_or_nan(result.server.get("desyncs"))}


def print_family_table(results: list[tuple[str, dict[str, float]]]) -> None:
    width = max(len(label) for label, _ in results)
    print(f"{'':{width}}  " + "  ".join(f"{c:>{max(8, len(c))}}" for c in FAMILY_COLUMNS))
    for label, row in results:
        cells = []
        for c in FAMILY_COLUMNS:
            value = row[c]
            text = "-" if value != value else (f"{value:.0f}" if c in ("hash_checks", "desyncs") else f"{value:.2f}")
            cells.append(f"{text:>{max(8, len(c))}}")
        print(f"{label:{width}}  " + "  ".join(cells))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--net", choices=sorted(PROFILES), default="wifi", help="link profile (default %(default)s)")
    for name in ("lag", "jitter", "loss", "dup", "reorder"):
        parser.add_argument(f"--{name}", type=float, help=f"override the profile's {name}")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per row (default %(default)s)")
    parser.add_argument("--fps", type=int, default=60, help="frames per second of every client (default %(default)s)")
    parser.add_argument("--only", help="run only rows whose label contains this text")
    parser.add_argument("--families", action="store_true",
                        help="compare state sync, lockstep and rollback (two bots, same link) instead of the switches")
    args = parser.parse_args(argv)
    if not 1 <= args.fps <= 1000:
        parser.error(f"--fps must be 1..1000, got {args.fps}")
    print(f"profile {args.net} {PROFILES[args.net]}; overrides: {' '.join(link_flags(args)[2:]) or 'none'}; "
          f"{args.duration:.0f} s per row; clients at {args.fps} fps", flush=True)
    if args.families:
        rows = [(label, run_family(flags, args)) for label, flags in FAMILY_ROWS if not args.only or args.only in label]
        print_family_table(rows)
        return 0
    results = []
    for label, scenario, off, server_flags in ROWS:
        if args.only and args.only not in label:
            continue
        results.append((label, run_row(scenario, off, server_flags, args)))
    if results:
        print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
