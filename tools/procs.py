"""Start a real server and headless bot clients as separate processes on loopback, collect figures.

Theory of operation: a benchmark must measure the same programs a player runs, so this module
only builds command lines for ``run_server.py`` and ``run_client.py``, starts them with
``subprocess``, reads the server's chosen port from its first line of output, waits for them to
stop by themselves (``--duration``), and loads the stats JSON each wrote. Every process has a
hard timeout, so a hung child can never hang the benchmark.

Asked for traces (``run_match(..., trace=True)``), it also passes ``--trace`` to the server and
to every client and returns the JSON Lines they wrote (one record per server tick, one per drawn
client frame) for ``tools.trace_analysis`` to join.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .trace_analysis import load_jsonl

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
    server_trace: list[dict] | None = None  # one record per server tick, when traced
    client_traces: list[list[dict]] | None = None  # per client, in ``clients`` order: one record per frame


def start_server(duration_s: float, stats_path: Path, extra: list[str] | None = None) -> tuple[subprocess.Popen, int]:
    # Every bot connects from 127.0.0.1: lift the per-address cap meant for a LAN.
    cmd = [sys.executable, str(ROOT / "run_server.py"), "--port", "0", "--bind", "127.0.0.1", "--max-per-ip", "64",
           "--duration", str(duration_s), "--stats-json", str(stats_path)] + (extra or [])
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    first = proc.stdout.readline()
    match = PORT_LINE.search(first)
    if not match:
        proc.kill()
        raise RuntimeError(f"server did not start: {first!r}")
    return proc, int(match.group(1))


def client_command(port: int, spec: BotSpec, duration_s: float, stats_path: Path, seed: int,
                   trace_path: Path | None = None) -> list[str]:
    trace = ["--trace", str(trace_path)] if trace_path is not None else []
    return [sys.executable, str(ROOT / "run_client.py"), "--host", "127.0.0.1", "--port", str(port),
            "--headless", "--bot", spec.bot, "--seed", str(seed), "--name", spec.name or spec.bot,
            "--duration", str(duration_s), "--stats-json", str(stats_path), "--net-seed", str(seed)] + trace + spec.flags


def run_match(bots: list[BotSpec], duration_s: float, server_flags: list[str] | None = None,
              trace: bool = False) -> RunResult:
    """One server and the given bots, all for ``duration_s``; returns every stats JSON (and trace)."""
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        folder = Path(tmp)
        client_traces = [folder / f"client{i}.jsonl" if trace else None for i in range(len(bots))]
        server_extra = list(server_flags or []) + (["--trace", str(folder / "server.jsonl")] if trace else [])
        server, port = start_server(duration_s + 2.0, folder / "server.json", server_extra)
        clients = [subprocess.Popen(client_command(port, spec, duration_s, folder / f"client{i}.json", i + 1,
                                                   client_traces[i]),
                                    cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                   for i, spec in enumerate(bots)]
        for proc in clients + [server]:
            _wait(proc, duration_s + GRACE_S)
        result = RunResult(_load(folder / "server.json"), [_load(folder / f"client{i}.json") for i in range(len(bots))])
        if trace:
            result.server_trace = _load_trace(folder / "server.jsonl")
            result.client_traces = [_load_trace(path) for path in client_traces]
        return result


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


def _load_trace(path: Path) -> list[dict]:
    if not path.exists():
        raise RuntimeError(f"{path.name} was not written: a process failed or does not know --trace")
    return load_jsonl(path)
