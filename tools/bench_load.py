"""Benchmark server load: tick-rate accuracy and bandwidth per client at several bot counts.

Usage::

    python -m tools.bench_load --bots 2 8 --duration 60

Theory of operation: for each bot count, one real server process and that many headless bot
processes (cycling through circle, zigzag and random) play on loopback for ``--duration``
seconds. The server reports how many ticks it ran against the clock (``tick_rate_measured_hz``
and the error in percent: the fixed-timestep loop must not drift), its tick times and overruns;
each client reports the UDP payload bytes it received and sent per second, which grow with the
number of players in every snapshot.
"""
from __future__ import annotations

import argparse
import sys

from .procs import BotSpec, run_match

KINDS = ("circle", "zigzag", "random")


def run(bots: int, duration_s: float) -> dict[str, float]:
    specs = [BotSpec(KINDS[i % len(KINDS)], name=f"bot{i}") for i in range(bots)]
    result = run_match(specs, duration_s)
    server, clients = result.server, result.clients
    return {
        "bots": bots,
        "tick_rate_measured_hz": server["tick_rate_measured_hz"],
        "tick_rate_error_pct": server["tick_rate_error_pct"],
        "tick_ms_p50": server["tick_ms_p50"],
        "tick_ms_p99": server["tick_ms_p99"],
        "tick_overruns": server["tick_overruns"],
        "snapshot_bytes_per_player": server["snapshot_bytes_per_player"],
        "bytes_in_per_s": sum(c["bytes_in_per_s"] for c in clients) / len(clients),
        "bytes_out_per_s": sum(c["bytes_out_per_s"] for c in clients) / len(clients),
        "fps_mean": min(c["fps_mean"] for c in clients),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bots", type=int, nargs="+", default=[2, 8], help="bot counts to run (default 2 8)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per run (default %(default)s)")
    args = parser.parse_args(argv)
    if any(not 1 <= n <= 16 for n in args.bots):
        parser.error("--bots takes counts from 1 to 16 (the server's default slots)")
    rows = [run(n, args.duration) for n in args.bots]
    columns = list(rows[0])
    print("  ".join(f"{c:>{max(8, len(c))}}" for c in columns))
    for row in rows:
        print("  ".join(f"{row[c]:>{max(8, len(c))}.{0 if c in ('bots', 'tick_overruns') else 2}f}" for c in columns))
    return 0


if __name__ == "__main__":
    sys.exit(main())
