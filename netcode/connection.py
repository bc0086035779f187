"""One end of a connection: sequence numbers, acks, round-trip time, keep-alives and timeouts.

Theory of operation
-------------------
A ``Connection`` does no I/O. ``build(message, now)`` stamps a message with our next ``seq`` and
the acks of what we received and the session's ``token``, and remembers when that seq left; ``on_receive(header, size, now)``
records the peer's seq and reads its acks. When one of our packets is acked, the round trip is
``now - sent_at - ack_delay`` (the time the peer sat on it before replying is not network time),
and feeds a smoothed RTT (the TCP/RFC 6298 ``srtt`` with gain 1/8) plus a window of samples for
percentiles. A peer that says nothing for ``TIMEOUT_S`` is gone: its slot is freed. If we have
sent nothing for ``KEEPALIVE_INTERVAL_S`` we send a keep-alive so the peer does not free ours.
"""
from __future__ import annotations

from collections import deque

from .protocol import PROTOCOL_VERSION, TOKEN_NONE, Header, Message, encode
from .sequence import ReceivedWindow, acked_sequences, seq_next
from .transport import Address

TIMEOUT_S = 5.0
KEEPALIVE_INTERVAL_S = 0.25
SENT_HISTORY = 256  # how many of our recent packets we can still match to an ack
SENT_FORGET_S = 2.0  # a packet unacknowledged this long was lost: stop waiting for its ack
RTT_SAMPLES_KEPT = 512  # the percentiles cover the last 512 round trips (about 20 s)
RTT_GAIN = 1 / 8


class Connection:
    def __init__(self, addr: Address, now: float, token: int = TOKEN_NONE) -> None:
        self.addr = addr
        self.token = token  # the session's secret, stamped on every packet we build
        self.local_seq = 0
        self.received = ReceivedWindow()
        self.sent_at_s: dict[int, float] = {}
        self.peer_seq_received_at_s = now
        self.last_receive_s = now
        self.last_send_s = float("-inf")
        self.srtt_s: float | None = None
        self.rtt_samples_ms: deque[float] = deque(maxlen=RTT_SAMPLES_KEPT)
        self.bytes_in = self.bytes_out = 0
        self.packets_in = self.packets_out = 0

    # --- sending -------------------------------------------------------------------------------

    def build(self, message: Message, now: float) -> bytes:
        """Frame ``message`` as our next packet and remember when it left."""
        ack, ack_bits = self.received.ack_fields()
        # round, not int: float deltas such as 0.04 s come out as 0.0399999 and would truncate.
        delay_100us = round(max(0.0, now - self.peer_seq_received_at_s) * 10_000)
        data = encode(message, Header(PROTOCOL_VERSION, self.local_seq, ack, ack_bits, delay_100us, self.token))
        self._remember_sent(self.local_seq, now)
        self.local_seq = seq_next(self.local_seq)
        self.last_send_s = now
        self.bytes_out += len(data)
        self.packets_out += 1
        return data

    def _remember_sent(self, seq: int, now: float) -> None:
        self.sent_at_s[seq] = now
        # Dicts keep insertion order: the first key is the oldest packet still unacked.
        while self.sent_at_s and (len(self.sent_at_s) > SENT_HISTORY
                                  or next(iter(self.sent_at_s.values())) < now - SENT_FORGET_S):
            del self.sent_at_s[next(iter(self.sent_at_s))]

    def needs_keepalive(self, now: float) -> bool:
        return now - self.last_send_s >= KEEPALIVE_INTERVAL_S

    # --- receiving -----------------------------------------------------------------------------

    def on_receive(self, header: Header, size_bytes: int, now: float) -> bool:
        """Account for a received packet. False means a duplicate or stale packet: drop it."""
        if not self.received.record(header.seq):
            return False
        if self.received.newest == header.seq:
            self.peer_seq_received_at_s = now
        self.last_receive_s = now
        self.bytes_in += size_bytes
        self.packets_in += 1
        self._read_acks(header, now)
        return True

    def _read_acks(self, header: Header, now: float) -> None:
        for seq in acked_sequences(header.ack, header.ack_bits):
            sent_at = self.sent_at_s.pop(seq, None)
            if sent_at is None:
                continue
            if seq == header.ack:
                # Only the newest ack knows its own ack delay; older bits would overstate RTT.
                self._add_rtt_sample(now - sent_at - header.ack_delay_100us / 10_000)

    def _add_rtt_sample(self, rtt_s: float) -> None:
        rtt_s = max(0.0, rtt_s)
        self.rtt_samples_ms.append(rtt_s * 1000)
        if self.srtt_s is None:
            self.srtt_s = rtt_s
        else:
            self.srtt_s += RTT_GAIN * (rtt_s - self.srtt_s)

    # --- health --------------------------------------------------------------------------------

    def timed_out(self, now: float) -> bool:
        return now - self.last_receive_s > TIMEOUT_S

    @property
    def rtt_ms(self) -> float:
        return 0.0 if self.srtt_s is None else self.srtt_s * 1000
