"""Benchmark server load: tick-rate accuracy and bandwidth per client at several client counts.

Usage::

    python -m tools.bench_load --clients 16 64 128 --duration 60
    python -m tools.bench_load --clients 64 --duration 20 --taskset --snapshot-codec delta

Theory of operation: for each client count, one real server process and one load generator
process (``tools.loadgen``: that many real client sessions in one process, each with its own UDP
socket, random bots with a seed each) play on loopback for ``--duration`` seconds. One generator
for any count, rather than one process per bot: 128 Python processes on a few cores would measure
the operating system's scheduler, and their lateness would look like the server's. The server
reports how many ticks it ran against the clock (``tick_rate_measured_hz`` and the error in
percent: the fixed-timestep loop must not drift), its tick times and overruns; the generator
reports the UDP payload bytes each client received and sent per second (they grow with the number
of players in every snapshot), snapshot loss, round trips, and its own lateness
(``loadgen_late_*``, ``loadgen_busy_pct``): when those are high, the generator could not keep up
and the other figures say little about the server. ``loadgen_busy_pct`` well above
``loadgen_cpu_pct`` means it was starved (other processes held the cores), not slow. ``fps_mean``
is now the generator's loop rate: every client is stepped once per iteration, so it is every
client's frame rate.

``--taskset`` pins the server to core 0 and the generator to core 1 (``taskset -c``), so neither
steals the other's time. ``--snapshot-codec`` is passed to the server as given (it is not passed
at all otherwise). ``--predict K`` is passed to the generator: its first K clients run the whole
client frame and report corrections.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .procs import GRACE_S, ROOT, _load, _wait, start_server

SERVER_MARGIN_S = 3.0  # the server outlives the generator's start-up, joining and goodbyes
SERVER_COLUMNS = ("tick_rate_measured_hz", "tick_rate_error_pct", "tick_ms_p50", "tick_ms_p99", "tick_overruns",
                  "snapshot_bytes_per_player")
CLIENT_COLUMNS = ("bytes_in_per_s", "bytes_out_per_s", "fps_mean")
LOADGEN_COLUMNS = ("clients_connected", "predicting_clients", "snapshot_loss_pct", "rtt_ms_mean", "rtt_ms_p95",
                   "corrections", "loadgen_late_ms_p99", "loadgen_late_ms_max", "loadgen_late_pct",
                   "loadgen_busy_pct", "loadgen_cpu_pct")
WHOLE_NUMBERS = ("bots", "tick_overruns", "clients_connected", "predicting_clients", "corrections")


def loadgen_command(port: int, clients: int, duration_s: float, stats_path: Path,
                    predict: int | None = None, extra: list[str] | None = None) -> list[str]:
    predict_flags = ["--predict", str(predict)] if predict is not None else []
    return [sys.executable, "-m", "tools.loadgen", "--host", "127.0.0.1", "--port", str(port),
            "--clients", str(clients), "--duration", str(duration_s), "--stats-json", str(stats_path),
            "--quiet"] + predict_flags + (extra or [])


def pin(pid: int, core: int) -> None:
    """Pin a running process, every thread of it, to one core."""
    subprocess.run(["taskset", "-a", "-p", "-c", str(core), str(pid)], check=True, stdout=subprocess.DEVNULL)


def run(clients: int, duration_s: float, taskset: bool = False, snapshot_codec: str | None = None,
        predict: int | None = None) -> dict[str, float]:
    server_flags = ["--max-players", str(clients), "--max-per-ip", str(clients), "--log-level", "warning"]
    if snapshot_codec is not None:
        server_flags += ["--snapshot-codec", snapshot_codec]
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        folder = Path(tmp)
        server, port = start_server(duration_s + SERVER_MARGIN_S, folder / "server.json", server_flags)
        try:
            if taskset:
                pin(server.pid, 0)
            command = loadgen_command(port, clients, duration_s, folder / "loadgen.json", predict)
            if taskset:
                command = ["taskset", "-c", "1"] + command
            generator = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                         text=True)
            try:
                _, errors = generator.communicate(timeout=duration_s + GRACE_S)
            except subprocess.TimeoutExpired:
                generator.kill()
                _, errors = generator.communicate()
        finally:
            # It stops by itself: stopped early, its measured tick rate would count a part tick.
            _wait(server, SERVER_MARGIN_S + GRACE_S)
        if not (folder / "loadgen.json").exists():
            raise RuntimeError(f"the load generator failed (status {generator.returncode}): {errors.strip()}")
        if generator.returncode != 0:
            print(f"bench_load: {clients} clients: {errors.strip()}", file=sys.stderr)
        figures = _load(folder / "loadgen.json")
        server_figures = _load(folder / "server.json")
    row: dict[str, float] = {"bots": clients}
    row.update({c: server_figures[c] for c in SERVER_COLUMNS})
    row.update({c: figures[c] for c in CLIENT_COLUMNS + LOADGEN_COLUMNS})
    return row


def print_table(rows: list[dict[str, float]], columns: list[str]) -> None:
    print("  ".join(f"{c:>{max(8, len(c))}}" for c in columns))
    for row in rows:
        print("  ".join(_cell(row[c], max(8, len(c)), 0 if c in WHOLE_NUMBERS else 2) for c in columns))


def _cell(value: float | None, width: int, decimals: int) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.{decimals}f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", "--bots", dest="clients", type=int, nargs="+", default=[2, 8], metavar="N",
                        help="client counts to run, one server and one load generator each (default 2 8)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per run (default %(default)s)")
    parser.add_argument("--predict", type=int, metavar="K",
                        help="clients per run that run the whole client frame (default: the generator's)")
    parser.add_argument("--taskset", action="store_true",
                        help="pin the server to core 0 and the load generator to core 1 (taskset -c)")
    parser.add_argument("--snapshot-codec", metavar="CODEC",
                        help="passed to the server as --snapshot-codec CODEC (full or delta); not passed if not given")
    args = parser.parse_args(argv)
    if any(n < 1 for n in args.clients):
        parser.error("--clients takes counts of at least 1")
    if not args.duration > 0:
        parser.error(f"--duration must be more than 0 s, got {args.duration}")
    if args.predict is not None and args.predict < 0:
        parser.error(f"--predict must be 0 or more, got {args.predict}")
    if args.taskset and (shutil.which("taskset") is None or (os.cpu_count() or 1) < 2):
        parser.error("--taskset needs the taskset program and at least two cores")
    rows = []
    for n in args.clients:
        try:
            rows.append(run(n, args.duration, args.taskset, args.snapshot_codec,
                            None if args.predict is None else min(args.predict, n)))
        except RuntimeError as exc:  # e.g. more players than the server (or its codec) allows
            print(f"bench_load: {n} clients: {exc} (run_server.py --max-players {n} "
                  f"{'--snapshot-codec ' + args.snapshot_codec + ' ' if args.snapshot_codec else ''}says why)",
                  file=sys.stderr)
    if not rows:
        return 1
    print_table(rows, ["bots", *SERVER_COLUMNS, *CLIENT_COLUMNS])
    print()
    print_table(rows, ["bots", *LOADGEN_COLUMNS])
    return 0


if __name__ == "__main__":
    sys.exit(main())
