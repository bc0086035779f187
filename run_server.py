#!/usr/bin/env python3
"""Run a dedicated authoritative server: ``python run_server.py --port 7777``.

Parses flags, builds the real UDP server (``game.server_app.HostedServer``) and runs its
fixed-timestep loop until Ctrl-C or ``--duration``. All logic lives in importable modules.
"""
from __future__ import annotations

import argparse
import logging
import sys

from game.cli import DEFAULT_PORT, buffer_policy, port_number
from game.server_app import HostedServer, lan_addresses
from netcode.conditioner_cli import add_link_arguments, settings_or_error
from netcode.frame_relay import SYNC_MODES
from netcode.lag_compensation import DEFAULT_CAP_MS
from netcode.server import SNAPSHOT_CODECS, ServerConfig
from netcode.stats import write_stats_json

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Authoritative UDP server for the netcode arena.")
    parser.add_argument("--port", type=port_number, default=DEFAULT_PORT, help="UDP port (default %(default)s; 0 = any free port)")
    parser.add_argument("--bind", default="0.0.0.0", help="address to listen on (default all interfaces)")
    parser.add_argument("--tick-rate", type=int, default=60, help="simulation ticks per second (default %(default)s)")
    parser.add_argument("--snapshot-rate", type=int, default=30, help="snapshots per second to each client (default %(default)s)")
    parser.add_argument("--max-players", type=int, default=16,
                        help="player slots, up to 128 with the delta codec, 32 with full (default %(default)s)")
    parser.add_argument("--snapshot-codec", choices=SNAPSHOT_CODECS, default="delta",
                        help="delta (default): each snapshot is bit-packed against the newest one the client "
                             "has, players advanced by their own velocity; full: every integer, every time")
    parser.add_argument("--max-per-ip", type=int, default=4, metavar="N",
                        help="players from one IP address (default %(default)s: a few people behind one router)")
    parser.add_argument("--bots", type=int, default=0, metavar="N",
                        help="players the server plays itself, seen by everyone like any other (default %(default)s); "
                             "after the first person, one leaves as each person joins")
    parser.add_argument("--keep-bots", action="store_true", help="bots stay when people join (until the server is full)")
    parser.add_argument("--no-lag-compensation", action="store_true",
                        help="judge tag beams against where players are now, not where the shooter's screen "
                             "showed them (the switch for lag compensation; see docs/netcode.md)")
    parser.add_argument("--lag-cap-ms", type=int, default=DEFAULT_CAP_MS, metavar="MS",
                        help="lag compensation rewinds at most this far (default %(default)s ms)")
    sync = parser.add_argument_group("frame sync (instead of snapshots: every client simulates, the server relays inputs)")
    sync.add_argument("--sync", choices=("state",) + tuple(SYNC_MODES), default="state",
                      help="state (default): the server simulates and sends snapshots; lockstep: clients step "
                           "each frame once everyone's input is in; rollback: clients predict missing inputs "
                           "and roll back when wrong (see docs/netcode.md)")
    sync.add_argument("--input-delay", type=input_delay, default=3, metavar="FRAMES|auto",
                      help="frame sync: a key acts this many frames after it is pressed (default %(default)s); "
                           "auto: each client follows its measured round trip (in frames, plus one)")
    sync.add_argument("--max-rollback", type=int, default=8, metavar="FRAMES",
                      help="rollback: how far a client may run ahead of the last confirmed frame (default %(default)s)")
    sync.add_argument("--hash-every", type=int, default=4, metavar="FRAMES",
                      help="frame sync: compare every client's state hash this often (default %(default)s)")
    sync.add_argument("--on-desync", choices=("continue", "stop"), default="continue",
                      help="frame sync: after a desync report, play on (default) or end the game")
    sync.add_argument("--desync-dir", default="desync-reports", metavar="DIR",
                      help="where desync reports are written (default %(default)s)")
    parser.add_argument("--duration", type=float, default=None, metavar="S", help="stop by itself after S seconds")
    parser.add_argument("--input-buffer", type=buffer_policy, default="adaptive", metavar="adaptive|off|TICKS",
                        help="how inputs are scheduled: adaptive (default) aims each client's inputs at just "
                             "enough lead to cover its jitter; TICKS aims at that many ticks; off applies "
                             "each input as soon as it arrives (the staircase, for comparison)")
    parser.add_argument("--stats-json", metavar="PATH", help="write the server's figures to PATH at exit")
    parser.add_argument("--log-level", choices=("debug", "info", "warning", "error"), default="info",
                        help="which server events to print: info shows joins and leaves, warning only "
                             "refusals (at most one line a second), error nothing (default %(default)s)")
    parser.add_argument("--trace", metavar="PATH", help="write one JSON line per tick (true positions, inputs applied)")
    add_link_arguments(parser)
    return parser


def input_delay(text: str) -> int:
    """``--input-delay``: a number of frames, or ``auto`` (-1)."""
    if text == "auto":
        return -1
    try:
        frames = int(text)
    except ValueError:
        frames = -1
    if frames < 0 or text.strip() != str(frames):
        raise argparse.ArgumentTypeError(f"must be a number of frames (0..60) or auto, got {text!r}")
    return frames


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    link = settings_or_error(args, parser)
    try:
        config = ServerConfig(args.tick_rate, args.snapshot_rate, args.max_players, args.input_buffer,
                              args.max_per_ip, args.snapshot_codec, args.keep_bots,
                              not args.no_lag_compensation, args.lag_cap_ms, args.sync, args.input_delay,
                              args.max_rollback, args.hash_every, args.on_desync, args.desync_dir)
        if not 0 <= args.bots <= config.max_players:
            raise ValueError(f"bots must be 0..{config.max_players} (the player slots), got {args.bots}")
    except ValueError as exc:
        parser.error(str(exc))
    try:
        server = HostedServer(args.port, config, link, args.net_seed, args.bind, args.trace, bots=args.bots)
    except OSError as exc:
        parser.exit(1, f"run_server.py: cannot listen on UDP {args.bind}:{args.port}: {exc.strerror or exc}\n")
    print(f"Server on UDP port {server.port}, {config.tick_rate} Hz, {config.snapshot_rate} snapshots/s, "
          f"{config.max_players} slots, input buffer {config.input_buffer}, "
          f"{config.snapshot_codec} snapshots, lag compensation "
          f"{f'up to {config.lag_cap_ms} ms' if config.lag_compensation else 'off'}"
          + (f", {config.sync} with input delay {'auto' if config.input_delay < 0 else config.input_delay}"
             if config.sync != "state" else "") + ".",
          flush=True)
    for address in lan_addresses() or ["127.0.0.1"]:
        print(f"  friends join with:  python run_client.py --host {address} --port {server.port}", flush=True)
    logging.basicConfig(level=args.log_level.upper(), format="  %(levelname)s %(message)s", stream=sys.stdout)
    server.run(args.duration)
    print("Server stopped.", flush=True)
    if args.stats_json:
        write_stats_json(args.stats_json, server.stats())
    return 0


if __name__ == "__main__":
    sys.exit(main())
