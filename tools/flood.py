"""Flood a real server on loopback and print what it cost the game: tick overruns and tick rate.

Usage::

    python -m tools.flood --seconds 10 --kind junk      # random bytes
    python -m tools.flood --seconds 10 --kind nested    # msgpack nested a thousand arrays deep
    python -m tools.flood --seconds 10 --kind connect   # padded connect requests, one address

Theory of operation: a real ``run_server.py`` process runs on loopback (``tools.procs``); this
process sends it datagrams of one kind as fast as one socket can, for ``--seconds``, and then
reads the server's stats JSON. The server turns junk away by its first bytes, nested arrays by a
byte count before msgpack sees them, connect requests beyond 8 a second per address unanswered,
and never handles more than a fixed number of datagrams between two ticks. So the figures to
watch are the share of ticks that ran late (``tick_overruns`` / ticks) and the measured tick rate.
The flood goes to 127.0.0.1 only, stops by itself, and is bounded in time.
"""
from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

import msgpack

from netcode.protocol import PROTOCOL_VERSION, ConnectRequest, Header, encode

from .procs import GRACE_S, _load, _wait, start_server

KINDS = ("junk", "nested", "connect")


def payload(kind: str) -> bytes:
    if kind == "junk":
        return os.urandom(64)
    if kind == "nested":
        head = msgpack.packb([0x4E43, PROTOCOL_VERSION, 4, 0, -1, 0, 0, 0])[1:]
        return b"\x99" + head + b"\x91" * 1000 + b"\xc0"
    return encode(ConnectRequest("flood", "0123456789abcdef", b"", 1), Header(PROTOCOL_VERSION, 0, -1, 0))


def flood(port: int, kind: str, seconds: float) -> int:
    """Send as fast as we can for ``seconds``; returns the number of datagrams sent."""
    data, sent = payload(kind), 0
    end = time.monotonic() + seconds
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        while time.monotonic() < end:
            for _ in range(100):
                try:
                    sock.sendto(data, ("127.0.0.1", port))
                    sent += 1
                except OSError:
                    pass  # a full send buffer: the kernel is shedding the flood already
    return sent


def run(kind: str, seconds: float) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="flood-") as tmp:
        stats_path = Path(tmp) / "server.json"
        server, port = start_server(seconds + 2.0, stats_path)
        time.sleep(0.5)  # let it settle before the flood
        sent = flood(port, kind, seconds)
        _wait(server, seconds + GRACE_S)
        stats = _load(stats_path)
    ticks = max(1, int(stats["ticks"]))
    return {"kind": kind, "sent": sent, "ticks": ticks, "tick_overruns": stats["tick_overruns"],
            "overrun_pct": 100.0 * stats["tick_overruns"] / ticks,
            "tick_rate_error_pct": stats["tick_rate_error_pct"], "tick_ms_p99": stats["tick_ms_p99"],
            "dropped": stats["dropped_packets"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the flood (default %(default)s)")
    parser.add_argument("--kind", choices=KINDS, nargs="+", default=list(KINDS), help="what to send")
    args = parser.parse_args(argv)
    if not 0 < args.seconds <= 120:
        parser.error(f"--seconds must be 0..120, got {args.seconds}")
    print(f"{'kind':>8} {'sent':>9} {'ticks':>6} {'overruns':>8} {'overrun %':>9} {'rate err %':>10} "
          f"{'tick p99 ms':>11}  dropped by reason")
    for kind in args.kind:
        row = run(kind, args.seconds)
        print(f"{row['kind']:>8} {row['sent']:>9} {row['ticks']:>6} {row['tick_overruns']:>8} "
              f"{row['overrun_pct']:>9.2f} {row['tick_rate_error_pct']:>10.3f} {row['tick_ms_p99']:>11.3f}  "
              f"{row['dropped']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
