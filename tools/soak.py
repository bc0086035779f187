"""Soak a real server: many bot clients for many minutes on a bad link; print what broke and what grew.

Usage::

    python -m tools.soak --clients 16 --minutes 10 --net bad
    python -m tools.soak --clients 4 --minutes 1            # a quick look

Theory of operation: a real ``run_server.py`` and ``--clients`` headless ``run_client.py`` bots
(cycling through the random, circle, zigzag and line bots, each behind the link conditioner with
the chosen profile) run on loopback for ``--minutes``. Memory is read from ``/proc/PID/status``
(resident set size, Linux) a few seconds in, once the imports and the first windows have filled,
and again just before the end, so "flat" means the second figure is within a few MB of the first.
A crash is a process that ended with a non-zero status or wrote a traceback; a disconnect is a
client whose stats say it ended for any reason but its duration running out. Bots draw at
``--fps`` (default 30) so that many of them fit on a small machine.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .procs import GRACE_S, ROOT, BotSpec, client_command, start_server

BOTS = ("random", "circle", "zigzag", "line")
WARM_S = 10.0  # memory is first read this long after the start


def rss_mb(pid: int) -> float:
    """The resident memory of a process in MB, from /proc (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def soak(clients: int, seconds: float, net: str, fps: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        folder = Path(tmp)
        server, port = start_server(seconds + 5.0, folder / "server.json", ["--log-level", "warning"])
        procs = [subprocess.Popen(client_command(port, BotSpec(BOTS[i % len(BOTS)], ["--net", net, "--fps", str(fps)],
                                                               name=f"soak{i}"),
                                                 seconds, folder / f"client{i}.json", i + 1),
                                  cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                 for i in range(clients)]
        time.sleep(min(WARM_S, seconds / 2))
        start = {p.pid: rss_mb(p.pid) for p in [server] + procs}
        time.sleep(max(0.0, seconds - min(WARM_S, seconds / 2) - 2.0))
        end = {p.pid: rss_mb(p.pid) for p in [server] + procs}
        errors = [_finish(p, seconds + GRACE_S) for p in procs + [server]]
        stats = [_read(folder / f"client{i}.json") for i in range(clients)]
        server_stats = _read(folder / "server.json")
    growth = [end[pid] - start[pid] for pid in start]
    return {
        "crashes": sum(1 for e in errors if e),
        "disconnects": sum(1 for s in stats if s is None or s.get("ended") not in (None, "quit")),
        "tick_overruns": server_stats.get("tick_overruns") if server_stats else None,
        "ticks": server_stats.get("ticks") if server_stats else None,
        "server_mb": (round(start[server.pid], 1), round(end[server.pid], 1)),
        "client_mb_max_growth": round(max(growth[1:], default=0.0), 1),
        "errors": [e for e in errors if e][:3],
    }


def _finish(proc: subprocess.Popen, timeout_s: float) -> str:
    """Wait for a process; returns what went wrong ("" if nothing)."""
    try:
        _, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        return "did not stop by itself"
    err = err or ""
    if proc.returncode != 0 or "Traceback" in err:
        return f"exit {proc.returncode}: {err.strip()[-300:]}"
    return ""


def _read(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16, help="bot clients (default %(default)s)")
    parser.add_argument("--minutes", type=float, default=10.0, help="how long (default %(default)s)")
    parser.add_argument("--net", default="bad", choices=("lan", "wifi", "bad"), help="link profile (default %(default)s)")
    parser.add_argument("--fps", type=int, default=30, help="bot frame rate (default %(default)s)")
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= 64:
        parser.error(f"--clients must be 1..64, got {args.clients}")
    if not 0 < args.minutes <= 120:
        parser.error(f"--minutes must be 0..120, got {args.minutes}")
    result = soak(args.clients, args.minutes * 60, args.net, args.fps)
    for key, value in result.items():
        print(f"{key:>22}: {value}")
    return 0 if not result["crashes"] and not result["disconnects"] else 1


if __name__ == "__main__":
    sys.exit(main())
