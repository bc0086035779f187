"""Putting a server together: socket, link conditioner, session, loop; and the LAN addresses to share.

Theory of operation: ``run_server.py`` (a dedicated server) and the client's host mode both build
the same ``HostedServer``: a real UDP socket, optionally wrapped in the link conditioner, a
``ServerSession`` of our arena rules, and the fixed-timestep loop on the monotonic clock, run in
the calling thread or in a background one. ``lan_addresses`` lists this machine's IPv4 addresses
by asking the network interfaces (no packet is sent), so friends know what to type.
``add_server_bots`` gives the session its bots that play tag (``--bots``, ``game.tag_bots``).

LAN discovery (``netcode/discovery.py``): the server also binds the discovery port, shared with
any other server on this machine, and a small thread of its own answers "which games are here?"
with the game's name, port and player count. A thread rather than the tick loop, so a reply never
waits for the next tick (the ping a browser shows is the network's) and a tick never waits for a
reply; all it reads of the session is the number of players. If the port cannot be bound the
game runs anyway, undiscoverable, and says so when it starts. ``discovery_hosts`` is the
browser's half: every interface's broadcast address, the limited broadcast, and loopback.
"""
from __future__ import annotations

import ipaddress
import logging
import socket
import struct
import sys
import threading

from netcode.clock import MonotonicClock
from netcode.conditioner import LinkConditioner, LinkSettings
from netcode.discovery import DISCOVERY_PORT, RULES_PREFIX_CHARS, GameInfo, Responder
from netcode.protocol import MAX_NAME_CHARS, PROTOCOL_VERSION
from netcode.server import ServerConfig, ServerSession
from netcode.server_loop import LoopStats, run_server_loop
from netcode.trace import JsonlTrace
from netcode.transport import UdpTransport

LOG = logging.getLogger("game.server_app")
DISCOVERY_WAIT_S = 0.25  # how often the discovery thread looks at its stop flag
DISCOVERY_FLOOD_PAUSE_S = 0.05  # after a poll that hit the budget: a flood costs at most 64 decodes per 50 ms
ASSUMED_PREFIX = 24  # when an interface's netmask is unknown: most home networks are a /24

from .tag_bots import tag_brain
from .netgame import SimRules


BOT_NAMES = ("Ada", "Boole", "Church", "Dijkstra", "Euler", "Fermat", "Gauss", "Hopper")


def add_server_bots(session: ServerSession, count: int) -> None:
    """``count`` bots that play tag, played by the server itself (``ServerSession.add_bot``)."""
    for i in range(count):
        if session.add_bot(f"bot {BOT_NAMES[i % len(BOT_NAMES)]}", tag_brain(1000 + i)) is None:
            break  # the server is full


class HostedServer:
    """``discovery_port``: where to answer LAN discovery (0: any free port, for tests; None: not at
    all). ``name``: the game's name in a browser's list (default: this computer's name)."""

    def __init__(self, port: int, config: ServerConfig, link: LinkSettings | None = None,
                 net_seed: int = 1, bind_host: str = "0.0.0.0", trace_path: str | None = None,
                 discovery_port: int | None = DISCOVERY_PORT, name: str | None = None, bots: int = 0) -> None:
        self.clock = MonotonicClock()
        self.udp = UdpTransport(bind_host, port)
        transport = LinkConditioner(self.udp, link, net_seed) if link and link.is_active else self.udp
        self.session = ServerSession(SimRules(config.tick_rate), transport, config, self.clock.now())
        self.trace = JsonlTrace(trace_path) if trace_path else None
        if self.trace is not None:
            self.session.tracer = self.trace.write
        add_server_bots(self.session, bots)
        self.stop_event = threading.Event()
        self.loop_stats: LoopStats | None = None
        self.thread: threading.Thread | None = None
        self.name = game_name(name)
        self.discovery: Responder | None = None
        self.discovery_error = ""  # why this server cannot be discovered, if it cannot
        self._discovery_stop = threading.Event()
        self._discovery_thread: threading.Thread | None = None
        if discovery_port is not None:
            try:
                self.discovery = Responder(UdpTransport(bind_host, discovery_port, shared=True), self._game_info)
            except OSError as exc:
                self.discovery_error = (f"cannot answer LAN discovery on UDP {bind_host}:{discovery_port} "
                                        f"({exc.strerror or exc}); friends must type the address")

    @property
    def port(self) -> int:
        return self.udp.local_address[1]

    @property
    def discovery_port(self) -> int | None:
        """The port discovery is answered on, or None if it is not."""
        return self.discovery.transport.local_address[1] if self.discovery is not None else None

    def _game_info(self) -> GameInfo:
        # Called from the discovery thread: len() of the session's dict is one atomic read.
        return GameInfo(self.name, self.port, len(self.session.clients), self.session.config.max_players,
                        PROTOCOL_VERSION, self.session.rules.rules_hash[:RULES_PREFIX_CHARS])

    def run(self, duration_s: float | None = None) -> LoopStats:
        """Tick in this thread until stopped (``stop()``, Ctrl-C) or ``duration_s`` passes."""
        try:
            self._start_discovery()
            self.loop_stats = run_server_loop(self.session, self.clock, self.stop_event, duration_s)
        finally:
            self.session.shutdown(self.clock.now())
            self._flush_and_close()
        return self.loop_stats

    def _start_discovery(self) -> None:
        # Said here rather than in __init__, so that it follows the program's own first lines.
        if self.discovery is None:
            if self.discovery_error:
                LOG.warning(self.discovery_error)
            return
        LOG.info(f"LAN discovery: answering on UDP port {self.discovery_port} as {self.name!r}")
        self._discovery_thread = threading.Thread(target=self._answer_discovery, name="discovery", daemon=True)
        self._discovery_thread.start()

    def _answer_discovery(self) -> None:
        responder = self.discovery
        assert responder is not None
        while not self._discovery_stop.is_set():
            responder.transport.wait(DISCOVERY_WAIT_S, self.clock.now())
            if responder.poll(self.clock.now()):
                self._discovery_stop.wait(DISCOVERY_FLOOD_PAUSE_S)

    def _flush_and_close(self) -> None:
        transport = self.session.transport
        if hasattr(transport, "flush"):
            transport.flush(self.clock.now() + 10.0)  # let held goodbyes out before closing
        self.udp.close()
        self._discovery_stop.set()
        if self._discovery_thread is not None:
            self._discovery_thread.join(DISCOVERY_WAIT_S * 4)
        if self.discovery is not None:
            self.discovery.transport.close()
        if self.trace is not None:
            self.trace.close()

    def start_in_background(self) -> None:
        self.thread = threading.Thread(target=self.run, name="server", daemon=True)
        self.thread.start()

    def stop(self, timeout_s: float = 2.0) -> None:
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join(timeout_s)

    def stats(self) -> dict[str, object]:
        figures = dict(self.session.stats())
        if self.loop_stats is not None:
            figures.update(self.loop_stats.as_dict(self.session.config.tick_rate))
        figures["tick_rate"] = self.session.config.tick_rate
        figures["snapshot_rate"] = self.session.config.snapshot_rate
        if self.discovery is not None:
            figures.update(self.discovery.stats())
        return figures


def game_name(name: str | None = None) -> str:
    """The name a browser lists: ``name``, else this computer's, made printable and short; else "arena"."""
    text = name if name is not None else socket.gethostname()
    text = "".join(c for c in text if c.isprintable()).strip()[:MAX_NAME_CHARS].strip()
    return text or "arena"


def lan_addresses() -> list[str]:
    """This machine's non-loopback IPv4 addresses, best effort, without sending anything."""
    return sorted({address for address, _ in _interfaces() if not address.startswith("127.")})


def discovery_hosts() -> list[str]:
    """Where a discovery browser sends its requests, without sending anything to find out.

    Each interface's own broadcast address (from its netmask on Linux; elsewhere the netmask is
    not known without extra packages, so a /24 is assumed, the usual home network), then
    255.255.255.255 (the limited broadcast: the kernel sends it out of one interface only, the
    default route's, hence the per-interface ones), 127.255.255.255 (loopback's broadcast: every
    server on this machine, on Linux) and 127.0.0.1 (one server on this machine, everywhere).
    """
    hosts = []
    for address, netmask in _interfaces():
        if address.startswith("127."):
            continue
        try:
            network = ipaddress.IPv4Interface(f"{address}/{netmask or ASSUMED_PREFIX}").network
        except ValueError:
            continue
        if network.prefixlen <= 30:  # a /31 or /32 (a point-to-point link, a VPN) has no broadcast
            hosts.append(str(network.broadcast_address))
    return sorted(set(hosts)) + ["255.255.255.255", "127.255.255.255", "127.0.0.1"]


def _interfaces() -> list[tuple[str, str | None]]:
    """(IPv4 address, netmask or None) of each interface, best effort."""
    found: list[tuple[str, str | None]] = []
    if sys.platform.startswith("linux"):
        found = _linux_interface_addresses()
    if not found:
        try:
            found = [(a, None) for a in socket.gethostbyname_ex(socket.gethostname())[2]]
        except OSError:
            found = []
    return found


def _linux_interface_addresses() -> list[tuple[str, str | None]]:
    import fcntl  # Linux/Unix only, hence imported here

    siocgifaddr = 0x8915
    siocgifnetmask = 0x891B
    addresses: list[tuple[str, str | None]] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for _, name in socket.if_nameindex():
            request = struct.pack("256s", name.encode()[:15])
            try:
                packed = fcntl.ioctl(probe.fileno(), siocgifaddr, request)
            except OSError:
                continue  # interface without an IPv4 address
            try:
                netmask: str | None = socket.inet_ntoa(fcntl.ioctl(probe.fileno(), siocgifnetmask, request)[20:24])
            except OSError:
                netmask = None
            addresses.append((socket.inet_ntoa(packed[20:24]), netmask))
    return addresses
