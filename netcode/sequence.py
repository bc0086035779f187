"""16-bit packet sequence numbers that wrap, and the ack bitfield.

Theory of operation: every datagram carries ``seq`` (its own number, +1 per packet, mod 65536),
``ack`` (the newest seq received from the peer) and ``ack_bits`` (bit *i* set means ``ack - 1 - i``
was received too). Thirty-two packets of history ride in every packet, so an ack survives the
loss of many packets without any retransmission. Because numbers wrap, "newer" is decided over
half the range: ``a`` is newer than ``b`` when it is ahead by less than 32768 (Fiedler's
``sequence_greater_than``). A jump of more than ``MAX_SEQ_JUMP`` ahead is refused rather than
believed: a forged packet far ahead would otherwise make every genuine one look stale. (The
sessions also check the session token before any packet reaches this window.)
"""
from __future__ import annotations

SEQ_MODULO = 1 << 16
HALF_RANGE = SEQ_MODULO // 2
ACK_BITS = 32
ALL_ACK_BITS = (1 << ACK_BITS) - 1
NO_ACK = -1  # the ack field before any packet from the peer has arrived
MAX_SEQ_JUMP = 1024  # a peer never skips more (17 s of packets at 60 a second, beyond any timeout)


def seq_next(seq: int) -> int:
    return (seq + 1) % SEQ_MODULO


def seq_greater(a: int, b: int) -> bool:
    """True when ``a`` is newer than ``b``, across the wrap."""
    return a != b and ((a - b) % SEQ_MODULO) < HALF_RANGE


def seq_diff(a: int, b: int) -> int:
    """Signed distance from ``b`` to ``a`` in -32768..32767, across the wrap."""
    d = (a - b) % SEQ_MODULO
    return d - SEQ_MODULO if d >= HALF_RANGE else d


class ReceivedWindow:
    """Which of the peer's recent sequence numbers arrived: produces ``ack`` and ``ack_bits``."""

    def __init__(self) -> None:
        self.newest: int | None = None
        self.bits = 0  # bit i: newest - 1 - i received

    def record(self, seq: int) -> bool:
        """Note that ``seq`` arrived. Returns False for a duplicate or a packet too old to track."""
        if self.newest is None:
            self.newest = seq
            return True
        d = seq_diff(seq, self.newest)
        if d > MAX_SEQ_JUMP:
            return False  # a forged far jump would make every real packet look old: refuse it
        if d > 0:
            # Shift the window forward; the old newest becomes bit d-1.
            self.bits = ((self.bits << d) | (1 << (d - 1))) & ((1 << ACK_BITS) - 1) if d <= ACK_BITS else 0
            self.newest = seq
            return True
        if d == 0 or -d > ACK_BITS:
            return False
        mask = 1 << (-d - 1)
        if self.bits & mask:
            return False
        self.bits |= mask
        return True

    def ack_fields(self) -> tuple[int, int]:
        """``(ack, ack_bits)`` for the next outgoing packet; ack is -1 until anything arrived."""
        if self.newest is None:
            return NO_ACK, 0
        return self.newest, self.bits


def acked_sequences(ack: int, ack_bits: int) -> list[int]:
    """Every sequence number an (ack, ack_bits) pair acknowledges, newest first."""
    if ack == NO_ACK:
        return []
    if ack_bits == ALL_ACK_BITS:  # the usual case (nothing lost), on every packet: no bit tests
        return [(ack - i) % SEQ_MODULO for i in range(ACK_BITS + 1)]
    acked = [ack]
    for i in range(ACK_BITS):
        if ack_bits & (1 << i):
            acked.append((ack - 1 - i) % SEQ_MODULO)
    return acked
