#!/usr/bin/env python3
"""Play: ``python run_client.py`` opens a start screen listing the games on the LAN (Enter joins
one, H hosts one here and joins it); ``--host H`` joins a friend's directly; ``--serve`` hosts here
directly.

Parses flags, builds the real UDP transport (optionally behind the link conditioner), starts a
local server in the background when hosting, and runs the window or the headless bot loop. With
no ``--host`` and a window, the start screen comes first, in the same window. ``--headless`` and
``--bot`` (nobody at the keyboard to choose) host directly, as ``--serve`` does.
All logic lives in importable modules (``game.client``, ``game.app``; the start screen:
``game.app_start``; ``--lab``: ``game.app_lab``; ``--list``, the games found on the LAN:
``netcode.discovery``).
"""
from __future__ import annotations

import argparse
import socket
import sys

from game.app import LoopOptions, close_window, open_window, run_headless, run_window
from game.app_lab import MODES as LAB_MODES
from game.app_lab import LabOptions, run_lab
from game.app_start import StartOptions, run_start_screen, why_not_joinable
from game.bots import BOT_NAMES, make_bot
from game.inject_desync import CAUSES
from game.tag_bots import tagger_bot
from game.cli import DEFAULT_PORT, player_name, port_number, positive_ms, printable
from game.client import ClientOptions, GameClient
from game.server_app import HostedServer, discovery_hosts, lan_addresses
from netcode.clock import MonotonicClock
from netcode.conditioner import LinkConditioner
from netcode.conditioner_cli import add_link_arguments, settings_or_error
from netcode.discovery import DISCOVERY_PORT, Browser, FoundGame
from netcode.protocol import MAX_NAME_CHARS
from netcode.server import ServerConfig
from netcode.stats import write_stats_json
from netcode.switches import NAMES as SWITCH_NAMES
from netcode.switches import Switches
from netcode.transport import UdpTransport

LIST_DURATION_S = 1.5  # --list without --duration: three rounds of requests


HOSTED_BOTS = 3  # the company a lone host gets


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Netcode arena client. With no --host it opens a start screen that lists the games "
                    "found on the LAN: Enter joins the chosen one, H hosts a game on this machine and joins "
                    "it. --host H joins H directly; --serve hosts here directly.",
        epilog="Start screen keys: Up/Down choose, Enter join, H host a game here, F1 help, Esc quit. "
               "Game keys: WASD/arrows move, 1-6 toggle techniques, G ghosts, N net graph, F1 help, Esc quit. "
               "--lab opens the netcode lab instead (its keys are on screen).")
    parser.add_argument("--host", help="server to join directly (default: the start screen; with --headless "
                                       "or --bot: host a game here)")
    parser.add_argument("--serve", action="store_true",
                        help="host a game on this machine and join it at once, without the start screen "
                             "(what --headless and --bot do with no --host)")
    parser.add_argument("--bots", type=int, metavar="N",
                        help=f"when hosting: players the server plays itself, one leaving as each friend joins you "
                             f"(default {HOSTED_BOTS} in a window, 0 with --headless or --bot)")
    parser.add_argument("--port", type=port_number, default=DEFAULT_PORT,
                        help="the game's UDP port: to join with --host, or to host on (default %(default)s)")
    parser.add_argument("--name", type=player_name, default=socket.gethostname()[:MAX_NAME_CHARS] or "player",
                        help="your name on screen (default: this computer's name)")
    parser.add_argument("--headless", action="store_true", help="no window and no sound (tests, benchmarks)")
    parser.add_argument("--mute", action="store_true", help="start with sound off (M toggles it)")
    parser.add_argument("--bot", choices=BOT_NAMES + ("tagger",),
                        help="let a bot play instead of the keyboard (tagger: chases, fires the tag beam at "
                             "players as drawn, and walks into the it when it is not it; for measurements)")
    parser.add_argument("--inject-desync", choices=CAUSES, metavar="CAUSE",
                        help="frame sync demonstration: simulate with a deliberately wrong step, one of "
                             f"{', '.join(CAUSES)} (see game/inject_desync.py); the server reports the desync")
    parser.add_argument("--seed", type=int, default=1, help="seed for the random bot (default %(default)s)")
    parser.add_argument("--duration", type=float, metavar="S",
                        help="quit by itself after S seconds of play (on the start screen: after S seconds "
                             "without a choice)")
    parser.add_argument("--fps", type=int, default=60, help="frames per second (default %(default)s)")
    parser.add_argument("--stats-json", metavar="PATH", help="write this client's figures to PATH at exit")
    parser.add_argument("--trace", metavar="PATH", help="write one JSON line per drawn frame (positions drawn, "
                                                        "render time, corrections) to PATH")
    parser.add_argument("--screenshot", metavar="PNG",
                        help="save the last frame to PNG at exit (window mode; the start screen's if you quit there)")
    group = parser.add_argument_group("techniques (each can also be toggled live, see F1)")
    for name in SWITCH_NAMES:
        flag = name.replace("_", "-")
        group.add_argument(f"--no-{flag}", action="store_true", help=f"switch {name.replace('_', ' ')} off")
    group.add_argument("--smooth-ms", type=positive_ms, default=100.0, help="time to smooth a correction away (default %(default)s)")
    group.add_argument("--interp-ms", type=positive_ms, help="fixed interpolation delay (default: adaptive)")
    lab = parser.add_argument_group("lab (one window: the real server and two clients in one process)")
    lab.add_argument("--lab", nargs="?", const="panels", choices=LAB_MODES,
                     help="panels (default): client 1, the server's truth and client 2 side by side with the "
                          "packets between them; compare: one client's frame drawn four ways")
    lab.add_argument("--lab-bot", choices=BOT_NAMES, metavar="NAME",
                     help="let a bot play client 2 (compare mode: default pusher); --bot plays client 1; "
                          f"NAME is one of {', '.join(BOT_NAMES)}")
    lan = parser.add_argument_group("finding games on the LAN")
    lan.add_argument("--list", action="store_true",
                     help="list the games on this machine and its networks, then exit (no window): "
                          "asks by broadcast every 0.5 s for --duration seconds (default "
                          f"{LIST_DURATION_S:g}), or asks only --host if given. Prints one game per line, "
                          "four fields with two spaces between each: HOST:PORT, the game's NAME "
                          "(printable, may hold single spaces), PLAYERS/MAX, and the ping as 'MS ms' with "
                          "one decimal. A game you cannot join has a fifth field, '(protocol N)' or '(other "
                          "rules)'. Exits 0 if any game answered, else 1 with the reason on stderr")
    lan.add_argument("--discovery-port", type=port_number, default=DISCOVERY_PORT, metavar="PORT",
                     help="UDP port servers answer discovery on (default %(default)s)")
    add_link_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list:
        return list_games(args, parser)
    link = settings_or_error(args, parser)
    if args.lab is not None:
        return open_lab(args, link, parser)
    if args.lab_bot:
        parser.error("--lab-bot needs --lab")
    if args.headless and not args.bot:
        parser.error("--headless needs --bot (nobody is at the keyboard)")
    if args.serve and args.host is not None:
        parser.error("--serve hosts a game here and --host joins one elsewhere: use one of them")
    if args.fps < 1 or args.fps > 1000:
        parser.error(f"--fps must be 1..1000, got {args.fps}")
    if args.bots is None:  # a lone player gets company; scripts and tests get an empty arena
        args.bots = 0 if (args.headless or args.bot) else HOSTED_BOTS
    if not 0 <= args.bots < ServerConfig().max_players:
        parser.error(f"--bots must be 0..{ServerConfig().max_players - 1} (a slot stays free for you), got {args.bots}")
    if args.host is None and not (args.serve or args.headless or args.bot):
        return from_start_screen(args, link)
    hosted, host, join_hint = None, args.host, ""
    if host is None:
        hosted, join_hint = start_local_server(args.port, parser, args.bots)
        host = "127.0.0.1"
    try:
        return play(args, link, host, hosted.port if hosted else args.port, join_hint)
    finally:
        if hosted is not None:
            hosted.stop()


def open_lab(args: argparse.Namespace, link, parser: argparse.ArgumentParser) -> int:
    """The lab runs its own server and clients in one window: no --host, no --headless."""
    if args.host is not None or args.headless or args.serve:
        parser.error("--lab runs its own server and two clients in one window; "
                     "it cannot be combined with --host, --serve or --headless")
    if args.fps < 1 or args.fps > 1000:
        parser.error(f"--fps must be 1..1000, got {args.fps}")
    switches = {name: not getattr(args, f"no_{name}") for name in SWITCH_NAMES}
    return run_lab(LabOptions(mode=args.lab, link=link, net_seed=args.net_seed, bot=args.bot, lab_bot=args.lab_bot,
                              seed=args.seed, fps=args.fps, duration_s=args.duration,
                              screenshot_path=args.screenshot, switches=switches, smooth_ms=args.smooth_ms,
                              interp_ms=args.interp_ms))


def list_games(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """--list: browse for games, print one line each, exit. Nothing here touches pygame."""
    if args.lab is not None or args.headless or args.bot or args.serve:
        parser.error("--list only lists games; it cannot be combined with --lab, --headless, --bot or --serve")
    duration_s = LIST_DURATION_S if args.duration is None else args.duration
    if not 0 < duration_s <= 60:
        parser.error(f"--duration with --list must be more than 0 and at most 60 s, got {duration_s:g}")
    hosts = [resolve(args.host)] if args.host else discovery_hosts()
    try:
        udp = UdpTransport("0.0.0.0", 0, broadcast=True)
    except OSError as exc:
        parser.exit(1, f"run_client.py: cannot open a UDP socket: {exc.strerror or exc}\n")
    try:
        games = Browser(udp, hosts, args.discovery_port).run(MonotonicClock(), duration_s)
    finally:
        udp.close()
    for game in games:
        print(game_line(game), flush=True)
    if not games:
        hint = (f"is a server running there, and is UDP port {args.discovery_port} open?" if args.host else
                "a firewall, or a Wi-Fi network that isolates its clients, can block discovery; "
                "--host ADDRESS always works")
        print(f"run_client.py: no games answered on UDP port {args.discovery_port} from "
              f"{args.host or 'this machine or its networks'} in {duration_s:g} s ({hint})", file=sys.stderr)
        return 1
    return 0


def game_line(game: FoundGame) -> str:
    line = (f"{game.host}:{game.port}  {printable(game.name)}  {game.players}/{game.max_players}  "
            f"{game.ping_ms:.1f} ms")
    reason = why_not_joinable(game)
    return f"{line}  ({reason})" if reason else line


def from_start_screen(args: argparse.Namespace, link) -> int:
    """No --host, a window: the start screen lists the LAN's games; Enter joins one, H hosts one here.
    The window stays open from the start screen into the game."""
    screen = open_window(f"netcode arena: {args.name}")
    hosted: list[HostedServer] = []

    def host_game() -> str:
        try:
            hosted.append(HostedServer(args.port, ServerConfig(), bots=args.bots))
        except OSError as exc:
            return (f"Cannot host on UDP port {args.port}: {exc.strerror or exc}. Is a game already running "
                    f"here? Join it from the list, or quit and pick --port.")
        return ""

    try:
        browser, notice = open_browser(args.discovery_port)
        options = StartOptions(player_name=args.name, fps=args.fps, duration_s=args.duration,
                               screenshot_path=args.screenshot, discovery_port=args.discovery_port, notice=notice)
        try:
            choice = run_start_screen(screen, browser, options, host_game)
        except KeyboardInterrupt:
            return 0
        finally:
            if browser is not None:
                browser.transport.close()
        if choice.action == "host":
            return play(args, link, "127.0.0.1", hosted[0].port, announce(hosted[0]), screen)
        if choice.action == "join":
            print(f"Joining {printable(choice.name)} at {choice.host}:{choice.port}", flush=True)
            return play(args, link, choice.host, choice.port, "", screen)
        return 0
    finally:
        for server in hosted:
            server.stop()
        close_window()


def open_browser(discovery_port: int) -> tuple[Browser | None, str]:
    """A LAN browser for the start screen, or None and why not (the screen then only hosts)."""
    try:
        udp = UdpTransport("0.0.0.0", 0, broadcast=True)
    except OSError as exc:
        return None, (f"LAN discovery is off: cannot open a UDP socket ({exc.strerror or exc}). "
                      f"H still hosts; --host ADDRESS joins.")
    return Browser(udp, discovery_hosts(), discovery_port), ""


def start_local_server(port: int, parser: argparse.ArgumentParser, bots: int) -> tuple[HostedServer, str]:
    try:
        server = HostedServer(port, ServerConfig(), bots=bots)
    except OSError as exc:
        parser.exit(1, f"run_client.py: cannot host on UDP port {port}: {exc.strerror or exc}. "
                       f"Is a server already running? Join it with --host 127.0.0.1, or pick --port.\n")
    return server, announce(server)


def announce(server: HostedServer) -> str:
    """Start a hosted server in the background; print (and return, for the HUD) how friends join."""
    server.start_in_background()
    address = (lan_addresses() or ["127.0.0.1"])[0]
    hint = f"Hosting: friends join with  --host {address} --port {server.port}"
    if server.discovery is not None:
        hint += f"\n  or pick {server.name!r} from the list on their start screen"
    print(hint, flush=True)
    return hint


def play(args: argparse.Namespace, link, host: str, port: int, join_hint: str, screen=None) -> int:
    """Join ``host:port`` and play: in the window (``screen`` if one is already open), or headless."""
    clock = MonotonicClock()
    udp = UdpTransport("0.0.0.0", 0)
    transport = LinkConditioner(udp, link, args.net_seed) if link.is_active else udp
    switches = Switches(**{name: not getattr(args, f"no_{name}") for name in SWITCH_NAMES})
    options = ClientOptions(name=args.name, smooth_ms=args.smooth_ms, interp_ms=args.interp_ms,
                            trace_path=args.trace, inject_desync=args.inject_desync)
    client = GameClient(transport, (resolve(host), port), options, switches, clock.now())
    loop = LoopOptions(fps=args.fps, duration_s=args.duration, join_hint=join_hint, mute=args.mute)
    bot = None
    if args.bot == "tagger":
        bot = tagger_bot(client.scene)
    elif args.bot:
        bot = make_bot(args.bot, args.seed)
    try:
        if args.headless:
            run_headless(client, bot, loop)
        else:
            run_window(client, loop, bot, args.screenshot, screen)
    except KeyboardInterrupt:
        pass
    client.session.disconnect(clock.now())
    if hasattr(transport, "flush"):
        transport.flush(clock.now() + 10.0)
    udp.close()
    client.close()
    if args.stats_json:
        write_stats_json(args.stats_json, client.stats() | {"name": args.name, "switches": switches.as_dict()})
    # Status 0 only when the player quit or --duration ran out; a refusal, a timeout or the server
    # closing the connection is a failure a script must be able to see.
    if client.session.reason and client.session.reason != "quit":
        print(f"run_client.py: {printable(client.session.reason)}", file=sys.stderr)
        return 1
    return 0


def resolve(host: str) -> str:
    try:
        return socket.gethostbyname(host)
    except OSError:
        sys.exit(f"run_client.py: cannot resolve host {host!r}")


if __name__ == "__main__":
    sys.exit(main())
