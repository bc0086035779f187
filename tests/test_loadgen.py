"""The load generator (``tools/loadgen.py``): many real client sessions in one process.

End to end, a real server process and ``python -m tools.loadgen`` on loopback: every client joins,
snapshots flow, nothing is lost, the figures are all there, every client leaves politely, and the
run stops by itself (or on Ctrl-C). On a fake clock: the lateness the generator measures of its
own loop, and the join ramp.
"""
from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from netcode.clock import FakeClock
from netcode.conditioner import LinkConditioner, LinkSettings
from netcode.protocol import PacketType, decode_header
from netcode.transport import MemoryNetwork
from tools.loadgen import MAX_CATCHUP_TICKS, LoadGenerator, LoadOptions, Schedule, parse_options
from tools.procs import ROOT, _load, _wait, start_server

FIELDS = ("clients", "clients_connected", "snapshots_received", "snapshot_loss_pct", "rtt_ms_mean", "rtt_ms_p95",
          "corrections", "predicting_clients", "bytes_in_per_s", "bytes_out_per_s", "loadgen_late_ms_p99",
          "loadgen_late_ms_max", "loadgen_late_pct", "loadgen_busy_pct", "loadgen_cpu_pct", "tick_rate",
          "snapshot_rate")


def _loadgen(port: int, *flags: str) -> list[str]:
    return [sys.executable, "-m", "tools.loadgen", "--host", "127.0.0.1", "--port", str(port), "--quiet", *flags]


@pytest.mark.e2e
def test_six_clients_join_play_and_leave_a_real_server(tmp_path: Path) -> None:
    server, port = start_server(15.0, tmp_path / "server.json", ["--max-players", "8", "--max-per-ip", "8",
                                                                  "--log-level", "warning"])
    try:
        done = subprocess.run(_loadgen(port, "--clients", "6", "--duration", "3", "--predict", "2",
                                       "--stats-json", str(tmp_path / "load.json")),
                              cwd=ROOT, capture_output=True, text=True, timeout=20)
    finally:
        server.send_signal(signal.SIGINT)  # Ctrl-C: it stops now and writes its figures
        _wait(server, 10.0)
    assert done.returncode == 0, done.stderr
    figures = json.loads((tmp_path / "load.json").read_text())
    assert json.loads(done.stdout) == figures, "the figures printed are the figures written"
    assert set(FIELDS) <= set(figures), sorted(set(FIELDS) - set(figures))
    assert figures["clients"] == figures["clients_connected"] == 6, figures
    assert figures["predicting_clients"] == 2
    assert figures["tick_rate"] == 60 and figures["snapshot_rate"] == 30
    # About 30 snapshots a second each for most of 3 s (at least a second's worth, on a busy machine);
    # none lost on loopback.
    assert figures["snapshots_received"] > 6 * 30, figures
    assert figures["snapshot_loss_pct"] < 5.0, figures
    assert 0 < figures["rtt_ms_mean"] < 500, figures
    assert figures["bytes_in_per_s"] > 0 and figures["bytes_out_per_s"] > 0, figures
    assert figures["loadgen_decodes_shared_pct"] > 0, "clients with the same baseline share a decode"
    # The generator's own lateness is measured (its size depends on how busy the machine is).
    assert 0 <= figures["loadgen_late_ms_p99"] <= figures["loadgen_late_ms_max"], figures
    assert 0 <= figures["loadgen_late_pct"] <= 100 and figures["loadgen_busy_pct"] > 0, figures
    server_figures = _load(tmp_path / "server.json")
    assert server_figures["clients"] == 6, server_figures
    assert server_figures["clients_at_end"] == 0, "every client said goodbye"


@pytest.mark.e2e
def test_ctrl_c_stops_the_generator_cleanly_with_figures(tmp_path: Path) -> None:
    server, port = start_server(15.0, tmp_path / "server.json", ["--max-players", "4", "--max-per-ip", "4",
                                                                  "--log-level", "warning"])
    try:
        command = [flag for flag in _loadgen(port, "--clients", "2", "--duration", "60", "--predict", "0",
                                             "--stats-json", str(tmp_path / "load.json")) if flag != "--quiet"]
        generator = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert generator.stderr.readline().startswith("loadgen: 2 clients"), "started, and Ctrl-C is handled"
        try:
            generator.wait(timeout=1.5)  # still running: it was told 60 s
        except subprocess.TimeoutExpired:
            pass
        generator.send_signal(signal.SIGINT)
        _, errors = generator.communicate(timeout=10)
    finally:
        server.send_signal(signal.SIGINT)
        _wait(server, 10.0)
    assert generator.returncode == 0, errors
    figures = json.loads((tmp_path / "load.json").read_text())
    assert figures["clients_connected"] == 2 and figures["snapshots_received"] > 0, figures
    assert figures["duration_s"] < 15, figures
    assert _load(tmp_path / "server.json")["clients_at_end"] == 0


def test_schedule_measures_how_late_each_iteration_began() -> None:
    """A loop on a fake clock, 10 ms a tick: one iteration's work takes 35 ms, the rest none."""
    clock = FakeClock(100.0)
    schedule = Schedule(0.010, clock.now())
    for i in range(100):
        clock.sleep(schedule.next_due_s - clock.now())  # the loop sleeps to the deadline, if it is ahead
        schedule.begin(clock.now())
        if i == 50:
            clock.advance(0.035)  # a slow iteration: the next ones start late and catch up at once
    figures = schedule.figures()
    # The four iterations due during the slow one begin 25, 15 and 5 ms late, then on time again.
    assert figures["loadgen_late_ms_max"] == pytest.approx(25.0)
    assert figures["loadgen_late_ms_p99"] == pytest.approx(15.0)
    assert figures["loadgen_late_pct"] == pytest.approx(2.0)  # 25 and 15 ms are more than a tick late
    assert figures["loadgen_iterations"] == 100 and figures["loadgen_ticks_skipped"] == 0
    # Caught up: the grid did not move, the last iteration was due 990 ms after the start.
    assert schedule.next_due_s == pytest.approx(101.0)


def test_schedule_skips_a_long_stall_instead_of_racing() -> None:
    clock = FakeClock()
    schedule = Schedule(0.010, clock.now())
    schedule.begin(clock.now())
    clock.advance(1.0)  # a suspended machine: the iteration due at 10 ms begins 99 ticks late
    assert schedule.begin(clock.now()) == pytest.approx(0.990)
    assert schedule.skipped == 99 > MAX_CATCHUP_TICKS
    assert schedule.late_ms.max == pytest.approx(990.0)  # the stall still shows in the lateness
    assert schedule.next_due_s == pytest.approx(1.010)  # the next is due a tick from now, not 98 ticks ago
    schedule.retime(1 / 30)
    assert schedule.period_s == pytest.approx(1 / 30)


def test_clients_join_in_a_ramp_and_give_up_on_a_silent_server() -> None:
    """No server answers: the connect requests come a few per tick, and every client times out."""
    network = MemoryNetwork()
    server = network.endpoint(("10.0.0.1", 7777))
    clock = FakeClock()
    transports = [network.endpoint(("10.0.0.2", 5000 + i)) for i in range(10)]
    options = LoadOptions(server=("10.0.0.1", 7777), clients=10, duration_s=6.0, predict=3, ramp=4)
    generator = LoadGenerator(options, clock, lambda i: (transports[i], transports[i]))
    first_requests = []
    step = generator._iteration

    def iteration(now: float, dt_s: float) -> None:
        step(now, dt_s)
        if len(first_requests) < 3:
            datagrams = server.receive(now)
            first_requests.append(sum(decode_header(d)[0] == PacketType.CONNECT_REQUEST for d, _ in datagrams))

    generator._iteration = iteration
    figures = generator.run()
    assert first_requests == [4, 4, 2]
    assert figures["clients_started"] == 10 and figures["clients_connected"] == 0
    assert sum(figures["ended"].values()) == 10 and all("no answer" in reason for reason in figures["ended"])
    assert figures["loadgen_late_ms_max"] == 0.0  # a fake clock: nothing ever runs late
    assert figures["predicting_clients"] == 3


def test_held_datagrams_leave_when_due_not_at_the_next_iteration() -> None:
    """Behind a 50 ms conditioner the connect request is held 25 ms: it must leave at 25 ms, not at
    the first iteration after that (33.3 ms at 60 Hz)."""
    network = MemoryNetwork()
    network.endpoint(("10.0.0.1", 7777))
    clock = FakeClock()
    inner = network.endpoint(("10.0.0.2", 5000))
    sent_at: list[float] = []
    send = inner.send
    inner.send = lambda data, addr, now: (sent_at.append(now), send(data, addr, now))
    link = LinkConditioner(inner, LinkSettings(lag_ms=50), seed=1)
    options = LoadOptions(server=("10.0.0.1", 7777), clients=1, duration_s=0.05, predict=0)
    LoadGenerator(options, clock, lambda i: (link, inner)).run()
    assert sent_at and sent_at[0] == pytest.approx(0.025)


@pytest.mark.parametrize("flags, message", [
    (["--clients", "0"], "--clients"),
    (["--clients", "3", "--predict", "4"], "--predict"),
    (["--clients", "3", "--loss", "200"], "--loss"),
    (["--clients", "3", "--duration", "-1"], "--duration"),
    (["--clients", "3", "--bot", "nobody"], "--bot"),
])
def test_bad_flags_are_refused_the_argparse_way(flags, message, capsys) -> None:
    argv = ["--port", "7777", "--duration", "1", *flags]
    with pytest.raises(SystemExit) as exit_info:
        parse_options(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_default_predicting_clients_are_what_one_core_keeps_up_with() -> None:
    options, _ = parse_options(["--port", "7777", "--clients", "2", "--duration", "1"])
    assert options.predict == 1 and options.server == ("127.0.0.1", 7777)
    assert parse_options(["--port", "7777", "--clients", "128", "--duration", "1"])[0].predict == 0
    assert parse_options(["--port", "7777", "--clients", "128", "--duration", "1", "--predict", "3"])[0].predict == 3
