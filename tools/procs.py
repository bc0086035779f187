"""Start a real server and headless bot clients as separate processes on loopback, collect figures.

Theory of operation: a benchmark must measure the same programs a player runs, so this module
only builds command lines for ``run_server.py`` and ``run_client.py``, starts them with
``subprocess``, reads the server's chosen port from its first line of output, waits for them to
stop by themselves (``--duration``), and loads the stats JSON each wrote. Every process has a
hard timeout, so a hung child can never hang the benchmark.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PORT_LINE = re.compile(r"Server on UDP port (\d+)")
GRACE_S = 20.0  # how long past its duration a process may take before it is killed


@dataclass
class BotSpec:
    bot: str
    flags: list[str] = field(default_factory=list)  # extra run_client.py flags (switches, --net ...)
    name: str = ""


@dataclass
class RunResult:
    server: dict
    clients: list[dict]


def start_server(duration_s: float, stats_path: Path, extra: list[str] | None = None) -> tuple[subprocess.Popen, int]:
    cmd = [sys.executable, str(ROOT / "run_server.py"), "--port", "0", "--bind", "127.0.0.1",
           "--duration", str(duration_s), "--stats-json", str(stats_path)] + (extra or [])
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    first = proc.stdout.readline()
    match = PORT_LINE.search(first)
    if not match:
        proc.kill()
        raise RuntimeError(f"server did not start: {first!r}")
    return proc, int(match.group(1))


def client_command(port: int, spec: BotSpec, duration_s: float, stats_path: Path, seed: int) -> list[str]:
    return [sys.executable, str(ROOT / "run_client.py"), "--host", "127.0.0.1", "--port", str(port),
            "--headless", "--bot", spec.bot, "--seed", str(seed), "--name", spec.name or spec.bot,
            "--duration", str(duration_s), "--stats-json", str(stats_path), "--net-seed", str(seed)] + spec.flags


def run_match(bots: list[BotSpec], duration_s: float, server_flags: list[str] | None = None) -> RunResult:
    """One server and the given bots, all for ``duration_s``; returns every stats JSON."""
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        folder = Path(tmp)
        server, port = start_server(duration_s + 2.0, folder / "server.json", server_flags)
        clients = [subprocess.Popen(client_command(port, spec, duration_s, folder / f"client{i}.json", i + 1),
                                    cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                   for i, spec in enumerate(bots)]
        for proc in clients + [server]:
            _wait(proc, duration_s + GRACE_S)
        return RunResult(_load(folder / "server.json"), [_load(folder / f"client{i}.json") for i in range(len(bots))])


def _wait(proc: subprocess.Popen, timeout_s: float) -> None:
    try:
        proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()


def _load(path: Path) -> dict:
    if not path.exists():
        raise RuntimeError(f"{path.name} was not written: a process failed")
    return json.loads(path.read_text())
