"""A link conditioner: a Transport that makes a LAN behave like the internet.

Theory of operation
-------------------
A LAN delivers a datagram in well under a millisecond and almost never loses one, so prediction,
interpolation and input redundancy have nothing to hide. ``LinkConditioner`` wraps any
``Transport`` and is itself a ``Transport``; sessions cannot tell it is there. Every datagram that
goes through it, in either direction, gets the same treatment:

1. **Loss**: with probability ``loss_pct`` it is dropped and counted.
2. **Duplication**: with probability ``dup_pct`` a second copy is made; each copy gets its own
   delay below, so the copy may arrive a little after the original.
3. **Delay**: one-way delay = ``lag_ms / 2`` varied uniformly by ``+/- jitter_ms`` and clamped at
   zero. ``lag_ms`` is a *round trip*: half of it is added on the way out, half on the way in, so a
   conditioner on one end of a link gives that link ``lag_ms`` of extra RTT. (Wrapping both ends
   adds the two up.)
4. **Order**: real links keep packets in order most of the time, so jitter alone never reorders.
   A packet is released no earlier than the previous packet on the same path (same peer, same
   direction): ``release = max(own time, previous release)``. A packet picked for reordering
   (``reorder_pct``) skips that rule *and* waits an extra one to two times the largest normal
   one-way delay (at least ``REORDER_MIN_EXTRA_MS``), so it lands after packets sent later.

Held datagrams sit in a min-heap keyed by ``(release time, sequence number)``; the sequence number
breaks ties so equal release times keep send order. Nothing here reads a clock: outbound packets
that are due at or before ``now`` go to the inner transport on every ``send``, ``receive`` and
``flush``; inbound ones are handed out by ``receive(now)``. ``wait`` never sleeps past the next
release, so a loop that waits on the transport still delivers held packets on time.

A consequence of the ordering rule worth knowing: when packets on one path are sent faster than
the jitter window (``2 * jitter_ms``), a late packet holds back the ones behind it, so the mean
delay rises above ``lag_ms / 2`` (towards, never beyond, ``lag_ms / 2 + jitter_ms``). That is how
a real FIFO link with jitter behaves too.

Randomness comes from a private ``random.Random(seed)``, never the global generator, so the same
seed and the same call sequence give the same losses, delays and reorders on every run. Under a
fake clock (the tests) that makes whole runs repeat exactly; over real UDP the call sequence
depends on when packets really arrive, so runs with the same seed are alike, not identical.
The command-line flags for all this live in ``conditioner_cli.py``.
"""
from __future__ import annotations

import dataclasses
import heapq
import random
from dataclasses import dataclass
from typing import Callable, NamedTuple

from netcode.transport import Address, Transport

MAX_DELAY_MS = 10_000.0
MAX_PCT = 100.0
#: A reordered packet is held at least this much longer than a normal one, so that it really
#: lands behind later packets even on a link configured with little or no lag.
REORDER_MIN_EXTRA_MS = 20.0
#: Held datagrams per direction; beyond this the conditioner drops (and counts) like a full
#: router queue, so a flood cannot grow memory without bound.
MAX_HELD_DATAGRAMS = 10_000
#: Remember the last release time per peer; forget peers with nothing in flight once there are
#: more than this many, so spoofed source addresses cannot grow the table without bound.
PEER_TABLE_PRUNE_AT = 256



class LinkSettingsError(ValueError):
    """An out-of-range link setting; ``field`` names the offending ``LinkSettings`` field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class LinkSettings:
    """What the conditioner does to each direction. All zero means a clean pass-through link."""

    lag_ms: float = 0.0  # added round-trip time: half on the way out, half on the way in
    jitter_ms: float = 0.0  # each one-way delay varies uniformly by +/- this, never below 0
    loss_pct: float = 0.0  # per direction
    dup_pct: float = 0.0  # per direction
    reorder_pct: float = 0.0  # per direction

    def __post_init__(self) -> None:
        for name in ("lag_ms", "jitter_ms"):
            _check_range(name, getattr(self, name), MAX_DELAY_MS, "ms")
        for name in ("loss_pct", "dup_pct", "reorder_pct"):
            _check_range(name, getattr(self, name), MAX_PCT, "percent")

    @property
    def is_active(self) -> bool:
        """True if the conditioner would change anything at all."""
        return any(getattr(self, f.name) > 0 for f in dataclasses.fields(self))

    @property
    def one_way_ms(self) -> float:
        """The mean added one-way delay before clamping."""
        return self.lag_ms / 2


def _check_range(name: str, value: float, maximum: float, unit: str) -> None:
    # Written so that NaN fails too (every comparison with NaN is false).
    if not (isinstance(value, (int, float)) and 0 <= value <= maximum):
        raise LinkSettingsError(
            name, f"{name} must be between 0 and {maximum:g} {unit}, got {value!r}"
        )


PROFILES: dict[str, LinkSettings] = {
    "lan": LinkSettings(),
    "wifi": LinkSettings(lag_ms=100, jitter_ms=20, loss_pct=5),
    "bad": LinkSettings(lag_ms=250, jitter_ms=50, loss_pct=15, dup_pct=5, reorder_pct=5),
}


# --- the conditioner ----------------------------------------------------------------------------


@dataclass(order=True)
class _Held:
    release_s: float
    seq: int  # tie-breaker: equal release times keep the order packets entered
    data: bytes = dataclasses.field(compare=False)
    addr: Address = dataclasses.field(compare=False)


class Fate(NamedTuple):
    """What the conditioner decided for one datagram (or one copy of it), for a watcher."""

    direction: str  # "out" (sent by this end) or "in" (arriving at this end)
    data: bytes
    peer: Address
    sent_s: float
    release_s: float | None  # None: lost
    copy: int = 0  # 1 for the second copy of a duplicated datagram


Observer = Callable[[Fate], None]


class _Path:
    """One direction's queue: loss, duplication, delay and ordering for its datagrams."""

    def __init__(self, direction: str) -> None:
        self.direction = direction
        self.observer: Observer | None = None  # told every datagram's fate (the lab draws them)
        self.heap: list[_Held] = []
        self.last_release_s: dict[Address, float] = {}
        self.next_seq = 0
        self.dropped = 0
        self.duplicated = 0
        self.reordered = 0

    def admit(self, data: bytes, addr: Address, now: float,
              settings: LinkSettings, rng: random.Random) -> None:
        """Decide this datagram's fate; ``addr`` is the peer (destination out, source in)."""
        if _chance(rng, settings.loss_pct):
            self.dropped += 1
            self.tell(data, addr, now, None)
            return
        copies = 1
        if _chance(rng, settings.dup_pct):
            copies = 2
            self.duplicated += 1
        for copy in range(copies):
            release_s = self._release_time_s(addr, now, settings, rng)
            self._hold(data, addr, release_s)
            self.tell(data, addr, now, release_s, copy)

    def tell(self, data: bytes, addr: Address, now: float, release_s: float | None, copy: int = 0) -> None:
        if self.observer is not None:
            self.observer(Fate(self.direction, data, addr, now, release_s, copy))

    def _release_time_s(self, addr: Address, now: float,
                        settings: LinkSettings, rng: random.Random) -> float:
        delay_s = _one_way_delay_ms(settings, rng) / 1000
        if _chance(rng, settings.reorder_pct):
            # Skip the ordering rule and do not become the new "previous packet": later
            # packets must be free to overtake this one.
            self.reordered += 1
            return now + delay_s + _reorder_extra_ms(settings, rng) / 1000
        release_s = max(now + delay_s, self.last_release_s.get(addr, now))
        self.last_release_s[addr] = release_s
        return release_s

    def _hold(self, data: bytes, addr: Address, release_s: float) -> None:
        if len(self.heap) >= MAX_HELD_DATAGRAMS:
            self.dropped += 1
            return
        heapq.heappush(self.heap, _Held(release_s, self.next_seq, data, addr))
        self.next_seq += 1

    def pop_due(self, now: float) -> list[tuple[bytes, Address]]:
        """Remove and return, in release order, every datagram due at or before ``now``."""
        due: list[tuple[bytes, Address]] = []
        while self.heap and self.heap[0].release_s <= now:
            held = heapq.heappop(self.heap)
            due.append((held.data, held.addr))
        if len(self.last_release_s) > PEER_TABLE_PRUNE_AT:
            self._forget_idle_peers(now)
        return due

    def _forget_idle_peers(self, now: float) -> None:
        # A release time in the past can no longer hold anything back: max(own, past) == own.
        self.last_release_s = {a: t for a, t in self.last_release_s.items() if t > now}

    def next_due_s(self) -> float | None:
        return self.heap[0].release_s if self.heap else None

    def clear(self) -> None:
        self.heap.clear()
        self.last_release_s.clear()


def _chance(rng: random.Random, pct: float) -> bool:
    # No draw at all for a zero setting, so a clean link consumes no randomness.
    return pct > 0 and rng.random() * 100 < pct


def _one_way_delay_ms(settings: LinkSettings, rng: random.Random) -> float:
    jitter_ms = rng.uniform(-settings.jitter_ms, settings.jitter_ms) if settings.jitter_ms else 0
    return max(0.0, settings.one_way_ms + jitter_ms)


def _reorder_extra_ms(settings: LinkSettings, rng: random.Random) -> float:
    base_ms = max(settings.one_way_ms + settings.jitter_ms, REORDER_MIN_EXTRA_MS)
    return rng.uniform(1.0, 2.0) * base_ms


class LinkConditioner:
    """A ``Transport`` that adds lag, jitter, loss, duplication and reordering to ``inner``.

    ``settings`` may be replaced at any time (e.g. from a key press); packets already held keep
    the fate they were given, and new packets never overtake held ones on the same path.
    """

    def __init__(self, inner: Transport, settings: LinkSettings, seed: int) -> None:
        self.inner = inner
        self.settings = settings
        self.rng = random.Random(seed)
        self._out = _Path("out")
        self._in = _Path("in")

    def watch(self, observer: Observer | None) -> None:
        """Call ``observer`` with the fate of every datagram from now on (None to stop)."""
        self._out.observer = self._in.observer = observer

    @property
    def local_address(self) -> Address:
        return self.inner.local_address

    # Counters, for the HUD and the stats JSON.
    @property
    def dropped_out(self) -> int:
        return self._out.dropped

    @property
    def dropped_in(self) -> int:
        return self._in.dropped

    @property
    def duplicated(self) -> int:
        return self._out.duplicated + self._in.duplicated

    @property
    def reordered(self) -> int:
        return self._out.reordered + self._in.reordered

    @property
    def held_count(self) -> int:
        """Datagrams currently held back, both directions."""
        return len(self._out.heap) + len(self._in.heap)

    def send(self, data: bytes, addr: Address, now: float) -> None:
        if self._passes_through(self._out):
            self.flush(now)
            self.inner.send(data, addr, now)
            self._out.tell(data, addr, now, now)
            return
        self._out.admit(bytes(data), addr, now, self.settings, self.rng)
        self.flush(now)

    def receive(self, now: float) -> list[tuple[bytes, Address]]:
        self.flush(now)
        arrived = self.inner.receive(now)
        if self._passes_through(self._in):
            for data, addr in arrived:
                self._in.tell(data, addr, now, now)
            return arrived
        for data, addr in arrived:
            self._in.admit(data, addr, now, self.settings, self.rng)
        return self._in.pop_due(now)

    def flush(self, now: float) -> None:
        """Hand every outbound datagram due at or before ``now`` to the inner transport."""
        for data, addr in self._out.pop_due(now):
            self.inner.send(data, addr, now)

    def next_due_s(self) -> float | None:
        """The earliest release time of any held datagram, or None if nothing is held."""
        times = [t for t in (self._out.next_due_s(), self._in.next_due_s()) if t is not None]
        return min(times, default=None)

    def next_send_due_s(self) -> float | None:
        """When the next held *outbound* datagram is due: a loop that sleeps should wake then
        and ``flush``, so that a client reading the network once per frame still sends on time."""
        return self._out.next_due_s()

    def wait(self, timeout_s: float, now: float) -> None:
        """Wait on the inner transport, but never past the next held datagram's release."""
        due_s = self.next_due_s()
        if due_s is not None:
            timeout_s = min(timeout_s, max(0.0, due_s - now))
        self.inner.wait(timeout_s, now)

    def close(self) -> None:
        """Close the inner transport; datagrams still held are lost, as on a real link."""
        self._out.clear()
        self._in.clear()
        self.inner.close()

    def _passes_through(self, path: _Path) -> bool:
        # Fast path for a clean link. While anything is still held (settings just switched
        # off), keep queueing so the new packet cannot overtake the held ones.
        return not self.settings.is_active and not path.heap
