"""Putting a server together: socket, link conditioner, session, loop; and the LAN addresses to share.

Theory of operation: ``run_server.py`` (a dedicated server) and the client's host mode both build
the same ``HostedServer``: a real UDP socket, optionally wrapped in the link conditioner, a
``ServerSession`` of our arena rules, and the fixed-timestep loop on the monotonic clock, run in
the calling thread or in a background one. ``lan_addresses`` lists this machine's IPv4 addresses
by asking the network interfaces (no packet is sent), so friends know what to type.
"""
from __future__ import annotations

import socket
import struct
import sys
import threading

from netcode.clock import MonotonicClock
from netcode.conditioner import LinkConditioner, LinkSettings
from netcode.server import ServerConfig, ServerSession
from netcode.server_loop import LoopStats, run_server_loop
from netcode.trace import JsonlTrace
from netcode.transport import UdpTransport

from .netgame import SimRules


class HostedServer:
    def __init__(self, port: int, config: ServerConfig, link: LinkSettings | None = None,
                 net_seed: int = 1, bind_host: str = "0.0.0.0", trace_path: str | None = None) -> None:
        self.clock = MonotonicClock()
        self.udp = UdpTransport(bind_host, port)
        transport = LinkConditioner(self.udp, link, net_seed) if link and link.is_active else self.udp
        self.session = ServerSession(SimRules(config.tick_rate), transport, config, self.clock.now())
        self.trace = JsonlTrace(trace_path) if trace_path else None
        if self.trace is not None:
            self.session.tracer = self.trace.write
        self.stop_event = threading.Event()
        self.loop_stats: LoopStats | None = None
        self.thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.udp.local_address[1]

    def run(self, duration_s: float | None = None) -> LoopStats:
        """Tick in this thread until stopped (``stop()``, Ctrl-C) or ``duration_s`` passes."""
        try:
            self.loop_stats = run_server_loop(self.session, self.clock, self.stop_event, duration_s)
        finally:
            self.session.shutdown(self.clock.now())
            self._flush_and_close()
        return self.loop_stats

    def _flush_and_close(self) -> None:
        transport = self.session.transport
        if hasattr(transport, "flush"):
            transport.flush(self.clock.now() + 10.0)  # let held goodbyes out before closing
        self.udp.close()
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
        return figures


def lan_addresses() -> list[str]:
    """This machine's non-loopback IPv4 addresses, best effort, without sending anything."""
    found: list[str] = []
    if sys.platform.startswith("linux"):
        found = _linux_interface_addresses()
    if not found:
        try:
            found = [a for a in socket.gethostbyname_ex(socket.gethostname())[2]]
        except OSError:
            found = []
    return sorted({a for a in found if not a.startswith("127.")})


def _linux_interface_addresses() -> list[str]:
    import fcntl  # Linux/Unix only, hence imported here

    siocgifaddr = 0x8915
    addresses = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for _, name in socket.if_nameindex():
            try:
                packed = fcntl.ioctl(probe.fileno(), siocgifaddr, struct.pack("256s", name.encode()[:15]))
            except OSError:
                continue  # interface without an IPv4 address
            addresses.append(socket.inet_ntoa(packed[20:24]))
    return addresses
