"""Datagram transports: real non-blocking UDP, and an in-memory link for tests.

Theory of operation: a transport moves whole datagrams and nothing else. It never parses them,
never retries and never blocks except in ``wait``. Every call receives ``now`` (seconds) so that a
wrapper such as the link conditioner can hold packets back and release them later without reading
a clock itself. Sessions talk to the ``Transport`` protocol, so a test can swap UDP for
``MemoryNetwork`` and run client and server in one process with a fake clock.
"""
from __future__ import annotations

import errno
import select
import socket
from collections import deque
from typing import Protocol

Address = tuple[str, int]

#: Larger than any datagram we send (the protocol caps packets well below this); anything
#: longer is truncated by the kernel and then rejected by the protocol's size check.
RECV_BUFFER_BYTES = 2048
#: Datagrams drained per ``receive`` call, so a flood cannot starve the tick loop.
MAX_DATAGRAMS_PER_RECEIVE = 1024


class Transport(Protocol):
    """What sessions need from a transport."""

    local_address: Address

    def send(self, data: bytes, addr: Address, now: float) -> None: ...

    def receive(self, now: float) -> list[tuple[bytes, Address]]: ...

    def wait(self, timeout_s: float, now: float) -> None:
        """Block until a datagram may be ready or ``timeout_s`` passes."""

    def close(self) -> None: ...


class UdpTransport:
    """A non-blocking UDP socket. ``port=0`` lets the OS pick a free port.

    Two options, both off by default, are for LAN discovery (``discovery.py``): ``broadcast``
    allows sending to a broadcast address (the kernel refuses it otherwise, with EACCES), and
    ``shared`` lets several sockets bind the same port (``SO_REUSEADDR``, and ``SO_REUSEPORT``
    where the platform has it), so that every server on one machine receives a broadcast to it.
    """

    def __init__(self, host: str = "0.0.0.0", port: int = 0, *, broadcast: bool = False,
                 shared: bool = False) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        try:
            if broadcast:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            if shared:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:  # BSD and macOS need it to share a port; Linux has it too; Windows has not
                    self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                except (AttributeError, OSError):
                    pass  # SO_REUSEADDR alone still shares the port on Linux and Windows
            self.sock.bind((host, port))
        except OSError:
            self.sock.close()
            raise
        self.local_address: Address = self.sock.getsockname()
        self.send_errors = 0

    def send(self, data: bytes, addr: Address, now: float) -> None:
        try:
            self.sock.sendto(data, addr)
        except OSError:
            # UDP is best-effort: a full buffer or an unreachable peer is a lost packet, which
            # the protocol already survives. Count it rather than crash the loop.
            self.send_errors += 1

    def receive(self, now: float) -> list[tuple[bytes, Address]]:
        datagrams: list[tuple[bytes, Address]] = []
        while len(datagrams) < MAX_DATAGRAMS_PER_RECEIVE:
            try:
                data, addr = self.sock.recvfrom(RECV_BUFFER_BYTES)
            except BlockingIOError:
                break
            except OSError as exc:
                # Linux reports an earlier ICMP "port unreachable" on the next recv
                # (ECONNREFUSED); it says nothing about this datagram, so keep draining.
                if exc.errno in (errno.ECONNREFUSED, errno.ECONNRESET):
                    continue
                break
            datagrams.append((data, addr))
        return datagrams

    def wait(self, timeout_s: float, now: float) -> None:
        if timeout_s <= 0:
            return
        select.select([self.sock], [], [], timeout_s)

    def close(self) -> None:
        self.sock.close()


class MemoryNetwork:
    """An in-process 'network' of endpoints, for tests: datagrams arrive on the next receive."""

    def __init__(self) -> None:
        self.queues: dict[Address, deque[tuple[bytes, Address]]] = {}

    def endpoint(self, addr: Address) -> "MemoryTransport":
        self.queues[addr] = deque()
        return MemoryTransport(self, addr)


class MemoryTransport:
    """One endpoint of a ``MemoryNetwork``; datagrams to unknown addresses vanish like UDP's."""

    def __init__(self, network: MemoryNetwork, addr: Address) -> None:
        self.network = network
        self.local_address = addr

    def send(self, data: bytes, addr: Address, now: float) -> None:
        queue = self.network.queues.get(addr)
        if queue is not None:
            queue.append((bytes(data), self.local_address))

    def receive(self, now: float) -> list[tuple[bytes, Address]]:
        queue = self.network.queues[self.local_address]
        datagrams = list(queue)
        queue.clear()
        return datagrams

    def wait(self, timeout_s: float, now: float) -> None:
        return None

    def close(self) -> None:
        self.network.queues.pop(self.local_address, None)
