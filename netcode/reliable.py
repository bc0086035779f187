"""A reliable, ordered channel for events, riding on the packets a connection sends anyway.

Theory of operation
-------------------
Most of what the server says is *state*: where everyone is. State needs only its latest value, so
a lost snapshot is simply replaced by the next one and nothing is ever resent. An *event* (a hit,
a pickup, a chat line, "player 3 scored") is different: each one must arrive exactly once and in
order, and no later packet makes it redundant. This module delivers such events over the
existing unreliable packets, using the acks every packet already carries (``sequence.py``).

Each connection numbers its events 0, 1, 2, ... in each direction (``ReliableSender.push``).
Before a packet is built, ``events_for_packet(packet_seq, budget_bytes)`` picks events for it and
remembers which event ids went in packet ``packet_seq``. When the peer's ``ack``/``ack_bits``
show that packet arrived (``on_packet_acked``, or ``on_acks`` for a whole header), those events
are delivered and forgotten. On the wire a packet's events are one contiguous run,
``[first_id, [event, ...]]`` (``encode_events`` / ``decode_events``).

*What goes in a packet.* Every unacknowledged event goes in every packet until it is acked,
oldest first. Gaffer On Games' *Reliable Ordered Messages* works the same way but waits a resend
interval before including a message again; we keep no timer: events are rare and small, packets
leave 30 to 60 times a second, and a lost event goes again in the very next packet, one packet
interval later instead of a round trip plus a timeout later, with no round-trip estimate to get
wrong. It is what the inputs already do (``client_session``).
Only when the unacknowledged events no longer fit the packet's ``budget_bytes`` (a burst) does
the sender take turns: each packet carries the next run after the previous packet's, wrapping
to the oldest, so a burst drains at one budget per packet rather than one budget per round trip.

*The receiver* (``ReliableReceiver.receive``) hands each event on exactly once, in id order:
ids below the next expected one are duplicates and dropped; later ones wait in a buffer until the
gap before them fills. Nothing is ever acked here: the connection acks *packets*, and an acked
packet's events have been handed to ``receive``. So a session must pass the events of every
packet its ``Connection.on_receive`` accepted, before anything else about that packet can fail.

*Bounds.* A sender holds at most ``EVENT_WINDOW`` (256) unacknowledged events. The 257th
``push`` raises ``EventOverflow`` instead of dropping anything: a real game must not lose an
event silently, and a peer that has not acknowledged the oldest of 256 events, through every
packet that carried it (seconds of packets, at the rate a game makes events), is gone or broken:
drop the connection. Because of that bound a
sender never sends an id ``EVENT_WINDOW`` or more beyond its oldest unacknowledged one, so the
receiver buffers at most ``EVENT_WINDOW - 1`` events. The sender remembers what went in its last
``MAX_PACKETS_TRACKED`` packets only (as ``Connection`` does); an ack for an older packet is
ignored, which is safe: its events are still unacknowledged and go again.

*Missed events.* When an event ``EVENT_WINDOW`` or more beyond the receiver's next expected id
arrives, the sender must already have seen every id at least ``EVENT_WINDOW`` below it acked, and
will never send those again: the receiver delivers what it holds of them, counts the rest in
``events_missed`` and moves on rather than waiting forever. Between a correct sender and a
correct session that cannot happen, under any loss, duplication or reordering; a non-zero count
means a packet was acked whose events never reached ``receive`` (a wiring bug) or a peer broke
the contract (a hostile one can jump ids at will, so a session may drop it).

Event ids are integers from 0 to 2**32 - 1 and never wrap: at 100 events a second that lasts
over a year, so ``push`` raises ``EventOverflow`` instead. Nothing here reads a clock or does I/O.
"""
from __future__ import annotations

from collections import deque
from typing import Any, NamedTuple, Sequence

import msgpack

from .sequence import acked_sequences

EVENT_WINDOW = 256  # unacknowledged events a sender holds; events a receiver can place
MAX_PACKETS_TRACKED = 256  # packets whose event ids the sender remembers (like Connection's)
MAX_EVENTS_PER_PACKET = 64
MAX_EVENT_BYTES = 128  # one event, msgpack-encoded
MAX_EVENT_DEPTH = 4  # lists inside lists, counting the event itself when it is a list
MAX_EVENT_ID = (1 << 32) - 1
_INT_MIN, _INT_MAX = -(1 << 63), (1 << 64) - 1  # what msgpack can encode


class EventOverflow(Exception):
    """``push`` on a full sender: the peer has stopped acknowledging, the connection is broken."""


class EventBatch(NamedTuple):
    """The events of one packet: ids ``first_id``, ``first_id + 1``, ..."""

    first_id: int
    events: list[Any]


# --- events and their wire shape ---------------------------------------------------------------

def _check_value(value: Any, depth: int, allow_tuples: bool) -> None:
    """Raise ValueError unless ``value`` is an event: None, bool, int, str, bytes and lists."""
    kind = type(value)
    if value is None or kind is bool:
        return
    if kind in (str, bytes):
        if len(value) > MAX_EVENT_BYTES:  # checked in full below; this spares packing a huge one
            raise ValueError(f"event {kind.__name__} of length {len(value)} is over {MAX_EVENT_BYTES} bytes")
        return
    if kind is int:
        if not _INT_MIN <= value <= _INT_MAX:
            raise ValueError(f"event integer {value} is outside msgpack's range")
        return
    if kind is list or (allow_tuples and kind is tuple):
        if depth >= MAX_EVENT_DEPTH:
            raise ValueError(f"event nested deeper than {MAX_EVENT_DEPTH} lists")
        if len(value) > MAX_EVENT_BYTES:  # every item costs at least a byte
            raise ValueError(f"event list of {len(value)} items is over {MAX_EVENT_BYTES} bytes")
        for item in value:
            _check_value(item, depth + 1, allow_tuples)
        return
    raise ValueError(f"{kind.__name__} is not an event value (None, bool, int, str, bytes, list)")


def _event_bytes(event: Any, allow_tuples: bool) -> bytes:
    """The event, msgpack-encoded, once it is known to be a valid event of at most MAX_EVENT_BYTES."""
    _check_value(event, 0, allow_tuples)
    try:
        data = msgpack.packb(event)
    except (ValueError, TypeError, OverflowError, UnicodeError) as exc:  # e.g. a lone surrogate
        raise ValueError(f"event does not encode: {type(exc).__name__}") from None
    if len(data) > MAX_EVENT_BYTES:
        raise ValueError(f"event is {len(data)} bytes, over {MAX_EVENT_BYTES}")
    return data


def _check_run(first_id: Any, count: int) -> None:
    if type(first_id) is not int or not 0 <= first_id <= MAX_EVENT_ID:
        raise ValueError(f"first_id={first_id!r} is not an integer in 0..{MAX_EVENT_ID}")
    if count > MAX_EVENTS_PER_PACKET:
        raise ValueError(f"{count} events, over {MAX_EVENTS_PER_PACKET} per packet")
    if first_id + count - 1 > MAX_EVENT_ID:
        raise ValueError(f"event ids run past {MAX_EVENT_ID}")


def _overhead_bytes(first_id: int, count: int) -> int:
    """Bytes of ``[first_id, [...]]`` around ``count`` events: two array headers and the id."""
    return 1 + len(msgpack.packb(first_id)) + _list_header_bytes(count)


def _list_header_bytes(count: int) -> int:
    return 1 if count < 16 else 3  # msgpack fixarray, then array 16 (MAX_EVENTS_PER_PACKET < 65536)


def encode_events(first_id: int, events: Sequence[Any]) -> list[Any]:
    """``[first_id, [event, ...]]`` for a message body; ValueError if ``decode_events`` would refuse it."""
    if not isinstance(events, (list, tuple)):
        raise ValueError("events must be a list")
    _check_run(first_id, len(events))
    # Round-trip through msgpack so that tuples become lists: what the peer will decode.
    return [first_id, [msgpack.unpackb(_event_bytes(e, True), raw=False) for e in events]]


def decode_events(value: Any) -> EventBatch:
    """Check a decoded ``[first_id, [event, ...]]`` from the network; anything else raises ValueError."""
    if type(value) is not list or len(value) != 2:
        raise ValueError("events field is not a 2-item list")
    first_id, events = value
    if type(events) is not list:
        raise ValueError("events is not a list")
    _check_run(first_id, len(events))
    for event in events:
        _event_bytes(event, False)
    return EventBatch(first_id, events)


# --- sending ---------------------------------------------------------------------------------

class _Pending:
    __slots__ = ("event", "size", "acked")

    def __init__(self, event: Any, size: int) -> None:
        self.event = event
        self.size = size
        self.acked = False


class ReliableSender:
    """Our events the peer has not acknowledged yet, and which packets carried which of them."""

    def __init__(self, window: int = EVENT_WINDOW, max_packets_tracked: int = MAX_PACKETS_TRACKED) -> None:
        if not 1 <= window <= EVENT_WINDOW or max_packets_tracked < 1:
            raise ValueError("window must be 1..EVENT_WINDOW and max_packets_tracked at least 1")
        self.window = window  # must not exceed the peer receiver's window
        self.max_packets_tracked = max_packets_tracked
        self._base = 0  # id of _queue[0]: the oldest unacknowledged event
        self._queue: deque[_Pending] = deque()  # ids _base, _base + 1, ... (acked ones only past the first)
        self._queue_bytes = 0
        self._cursor = 0  # where the previous packet's run ended, for taking turns in a burst
        self._in_flight: dict[int, tuple[int, int]] = {}  # packet seq -> event ids [start, end), oldest first
        self.events_acked = 0

    @property
    def next_id(self) -> int:
        """The id the next pushed event gets."""
        return self._base + len(self._queue)

    @property
    def oldest_unacked(self) -> int:
        """The oldest event not yet acknowledged (``next_id`` when there is none)."""
        return self._base

    @property
    def pending(self) -> int:
        """Events pushed and not yet known to have arrived (at most ``window``)."""
        return len(self._queue) - sum(1 for p in self._queue if p.acked)

    @property
    def packets_tracked(self) -> int:
        """Packets whose events we still wait to see acked (at most ``max_packets_tracked``)."""
        return len(self._in_flight)

    def push(self, event: Any) -> int:
        """Queue ``event``; returns its id. ValueError for a value that is not an event;
        ``EventOverflow`` when ``window`` events are unacknowledged (nothing is dropped: the
        connection is broken and should be closed) or ids would pass 2**32 - 1."""
        data = _event_bytes(event, True)
        if len(self._queue) >= self.window:
            raise EventOverflow(f"{self.window} events unacknowledged: the peer is not acknowledging")
        if self.next_id > MAX_EVENT_ID:
            raise EventOverflow("event ids exhausted")
        self._queue.append(_Pending(msgpack.unpackb(data, raw=False), len(data)))
        self._queue_bytes += len(data)
        return self.next_id - 1

    def events_for_packet(self, packet_seq: int, budget_bytes: int,
                          max_events: int = MAX_EVENTS_PER_PACKET) -> EventBatch:
        """The events for our packet ``packet_seq``: every unacknowledged one if they fit in
        ``budget_bytes`` (what ``encode_events`` of them takes) and ``max_events``, else the next
        run that does. Call it right before building that packet; the list may be empty."""
        self._in_flight.pop(packet_seq, None)  # a seq built again (the first build failed)
        max_events = min(max_events, MAX_EVENTS_PER_PACKET)
        if not self._queue:
            return EventBatch(self._base, [])
        count = len(self._queue)
        if count <= max_events and _overhead_bytes(self._base, count) + self._queue_bytes <= budget_bytes:
            start = self._base  # the usual case: all of them, in every packet
        else:
            start = self._cursor if self._base <= self._cursor < self.next_id else self._base
            while self._queue[start - self._base].acked:  # the oldest is never acked: this stops
                start = start + 1 if start + 1 < self.next_id else self._base
        events: list[Any] = []
        used = 1 + len(msgpack.packb(start))  # the outer list's header and first_id
        end = start
        while end < self.next_id and len(events) < max_events:
            item = self._queue[end - self._base]
            if item.acked and start != self._base:
                break  # taking turns: do not spend the budget on what already arrived
            if used + _list_header_bytes(len(events) + 1) + item.size > budget_bytes:
                break
            events.append(item.event)
            used += item.size
            end += 1
        if not events:
            return EventBatch(start, [])
        self._cursor = end
        self._in_flight[packet_seq] = (start, end)
        while len(self._in_flight) > self.max_packets_tracked:
            del self._in_flight[next(iter(self._in_flight))]  # its events go again anyway
        return EventBatch(start, events)

    def on_packet_acked(self, packet_seq: int) -> int:
        """Our packet ``packet_seq`` arrived: its events are delivered. Returns how many were new."""
        span = self._in_flight.pop(packet_seq, None)
        if span is None:
            return 0
        newly = 0
        for event_id in range(max(span[0], self._base), span[1]):
            item = self._queue[event_id - self._base]
            if not item.acked:
                item.acked = True
                newly += 1
        while self._queue and self._queue[0].acked:
            self._queue_bytes -= self._queue.popleft().size
            self._base += 1
        if not self._queue:
            self._in_flight.clear()  # every event arrived: what other packets carried is moot
        self.events_acked += newly
        return newly

    def on_acks(self, ack: int, ack_bits: int) -> int:
        """``on_packet_acked`` for every packet a received header's ``ack``/``ack_bits`` names."""
        if not self._in_flight:
            return 0  # the usual case: no events out, nothing to look up (this runs for every packet)
        return sum(self.on_packet_acked(seq) for seq in acked_sequences(ack, ack_bits))


# --- receiving -------------------------------------------------------------------------------

class ReliableReceiver:
    """The peer's events, handed on exactly once and in order."""

    def __init__(self, window: int = EVENT_WINDOW) -> None:
        if not 1 <= window:
            raise ValueError("window must be at least 1")
        self.window = window  # must be at least the peer sender's window
        self.next_id = 0  # the next event to hand on
        self._buffer: dict[int, Any] = {}  # arrived early: ids next_id + 1 .. next_id + window - 1
        self.events_received = 0  # handed on
        self.events_duplicate = 0  # arrived again, dropped
        self.events_missed = 0  # skipped for good (see the module docstring): 0 on a correct link

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def receive(self, first_id: int, events: Sequence[Any]) -> list[Any]:
        """Take the events of one accepted packet (as ``decode_events`` returned them); returns
        those that can now be handed on, oldest first, each exactly once."""
        if type(first_id) is not int or first_id < 0:
            raise ValueError(f"first_id={first_id!r} is not a non-negative integer")
        for event_id, event in enumerate(events, first_id):
            if event_id < self.next_id or event_id in self._buffer:
                self.events_duplicate += 1
            else:
                self._buffer[event_id] = event
        delivered: list[Any] = []
        newest = first_id + len(events) - 1
        if events and newest >= self.next_id + self.window:
            self._skip_to(newest - self.window + 1, delivered)
        while self.next_id in self._buffer:
            delivered.append(self._buffer.pop(self.next_id))
            self.next_id += 1
        self.events_received += len(delivered)
        return delivered

    def _skip_to(self, floor: int, delivered: list[Any]) -> None:
        """Ids below ``floor`` will never be sent again: hand on what we hold of them, count the rest."""
        below = sorted(i for i in self._buffer if i < floor)
        for event_id in below:
            delivered.append(self._buffer.pop(event_id))
        self.events_missed += floor - self.next_id - len(below)
        self.next_id = floor
