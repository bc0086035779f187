"""Delta snapshots: the world encoded against a baseline the client already has, bit-packed.

Theory of operation
-------------------
A snapshot's state is a flat list of integers, ``ints_per_entity`` per entity, the first of them
the entity id, entities sorted by id (the game's ``encode_state``). Sent whole, every integer
costs one to five bytes of msgpack whether it changed or not. Most of a fast game's state is
*predictable*: a player standing still stays put, a player running keeps running. So the server
encodes each snapshot against a **baseline**, an older snapshot the client told us it holds (its
inputs echo the newest snapshot tick it has), and sends only what the baseline does not predict:

1. **Dead reckoning.** Each entity of the baseline is advanced by its own velocity to the new
   tick. Velocity fields are predicted unchanged; a position field ``p`` with its velocity field
   ``v`` (the game's ``StateLayout.dead_reckoning`` pairs) is predicted as
   ``p + ((v_then + v_now) * ticks + (v_now - v_then)) // 2``. The velocity is decoded first, so
   the position's guess can use the old and the new one: a simulation that adds the velocity to
   the position after each tick's acceleration moves ``ticks * v_then + a * ticks * (ticks + 1) / 2``
   under a constant acceleration ``a``, which is exactly that formula. Steady motion and steady
   speeding up or slowing down cost nothing; only a change of acceleration (a key pressed or
   released, a wall, a push) leaves a residual.
2. **Residuals.** ``actual - predicted``, zigzag-mapped to unsigned (0, -1, 1, -2, ... -> 0, 1, 2,
   3, ...) so that small magnitudes of either sign have few significant bits.
3. **Bit packing.** One bit per entity says "exactly as predicted". An entity that differs sends a
   4-bit width class per field (``WIDTHS``) and then each residual in that many bits. A standing
   or steadily moving player therefore costs one bit.
4. **Joins and leaves** since the baseline are part of the delta: a count and a bitmap of the
   baseline entities that left; a count of joined entities and their whole records, packed as
   columns (ids as the gaps between them, every column as offsets from its smallest value, in
   the fewest bits that hold them all, or *sparse* when most of a column is its minimum;
   movers and the other entities are two groups of columns, see ``StateLayout``). With no
   baseline (the first snapshot, or a baseline too old) every entity is a join, which is a full
   snapshot in about 8.5 bytes per moving entity: 128 players at top speed fit one 1,200-byte
   datagram at 60 Hz. (A delta against a baseline can be *larger* than that, after a second of
   lost snapshots; the server then sends against nothing instead. And a game's other entities
   can make even that too large: the server then sends it in parts, ``SnapshotFragment``.)

The decoder runs the same prediction on its own copy of the baseline and adds the residuals, so
it rebuilds the *exact* integers the server has: nothing is rounded. That matters because the
client rewinds its prediction to this state and replays inputs; a state off by one unit would be
a misprediction on every snapshot. (Our "quantization" is the simulation's own fixed point, 1/256
pixel, chosen once in the rules, so the wire never needs to round.)

The residuals and the bit packing are vectorized with numpy: the packing is one pass over all
values, however many entities there are. The payload is data from the network, so the decoder
checks every count against what the payload can hold and raises ``ValueError`` on anything
inconsistent; the caller drops the snapshot and counts it.
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

#: Residual width classes: a 4-bit class ``c`` means the residual takes ``WIDTHS[c]`` bits.
WIDTHS = np.array((0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 18, 33), dtype=np.int64)
CLASS_BITS = 4
COLUMN_WIDTH_BITS = 6  # a join column's width, 0..33
MAX_VALUE_BITS = 33  # a velocity's residual always fits; a far-guessed position's may not (ValueError)
MAX_ABS_VALUE = (1 << 31) - 1  # the codec carries int32 state values
MAX_ENTITIES = 1024
BASELINES_KEPT = 32  # the newest snapshots a server may encode against and a client keeps (>1 s at 30/s)


class StateLayout(NamedTuple):
    """How a game's flat state splits into entities, and which fields dead reckoning advances.

    Entities with ids below ``moving_below`` move (dead reckoning applies to them); the others
    (a game's records, counters, items on the floor) are predicted unchanged. Joined entities are
    packed as two column groups, movers and the rest, so a record's small numbers never share a
    column width with a mover's positions."""

    ints_per_entity: int  # field 0 of every entity is its id
    dead_reckoning: tuple[tuple[int, int], ...] = ()  # (position field, velocity field) pairs
    moving_below: int = MAX_ABS_VALUE  # entity ids below this move

    def flat(self) -> tuple[int, ...]:
        """As the accept carries it: ints per entity, the moving id bound, then the pairs."""
        return (self.ints_per_entity, self.moving_below) + tuple(f for pair in self.dead_reckoning for f in pair)

    @staticmethod
    def from_flat(flat: Sequence[int]) -> "StateLayout | None":
        if not flat:
            return None
        if len(flat) < 2 or len(flat) % 2:
            raise ValueError(f"state layout {tuple(flat)} is not ints, bound, pairs")
        return StateLayout(flat[0], tuple(zip(flat[2::2], flat[3::2])), flat[1]).checked()

    def checked(self) -> "StateLayout":
        """Itself, if the decoder can undo it: velocities are decoded before the positions they
        move, so no field may be both, or appear twice. ValueError otherwise."""
        fields = [f for pair in self.dead_reckoning for f in pair]
        if len(set(fields)) != len(fields) or not all(0 < f < self.ints_per_entity for f in fields):
            raise ValueError(f"state layout {self} has a field twice, the id, or one out of range")
        if not (2 <= self.ints_per_entity <= 64 and 0 <= self.moving_below <= MAX_ABS_VALUE):
            raise ValueError(f"state layout {self} is out of range")
        return self


# --- bit streams -----------------------------------------------------------------------------

class BitWriter:
    """Collects (value, width) runs and packs them, most significant bit first, in one pass."""

    def __init__(self) -> None:
        self._values: list[np.ndarray] = []
        self._widths: list[np.ndarray] = []

    def put(self, values: np.ndarray, widths: np.ndarray | int) -> None:
        values = np.asarray(values, dtype=np.uint64)
        widths = np.broadcast_to(np.asarray(widths, dtype=np.int64), values.shape)
        self._values.append(values.ravel())
        self._widths.append(widths.ravel())

    def put_count(self, n: int) -> None:
        """Exp-Golomb: ``n + 1`` in ``2 * bit_length - 1`` bits, so small counts are short."""
        u = n + 1
        self.put(np.array([u]), 2 * u.bit_length() - 1)

    def to_bytes(self) -> bytes:
        if not self._values:
            return b""
        values, widths = np.concatenate(self._values), np.concatenate(self._widths)
        total = int(widths.sum())
        if total == 0:
            return b""
        starts = np.cumsum(widths) - widths
        offsets = np.arange(total, dtype=np.int64) - np.repeat(starts, widths)
        shifts = (np.repeat(widths, widths) - 1 - offsets).astype(np.uint64)
        bits = (np.repeat(values, widths) >> shifts) & np.uint64(1)
        return np.packbits(bits.astype(np.uint8)).tobytes()


class BitReader:
    """Reads what ``BitWriter`` wrote; ``ValueError`` when asked for more bits than there are."""

    def __init__(self, payload: bytes) -> None:
        self._bits = np.unpackbits(np.frombuffer(payload, dtype=np.uint8)).astype(np.uint64)
        self._pos = 0

    def take(self, widths: np.ndarray) -> np.ndarray:
        widths = np.asarray(widths, dtype=np.int64)
        total = int(widths.sum())
        if self._pos + total > len(self._bits):
            raise ValueError("delta payload ends early")
        values = np.zeros(len(widths), dtype=np.uint64)
        nonzero = widths > 0
        if total:
            w = widths[nonzero]
            starts = np.cumsum(w) - w
            offsets = np.arange(total, dtype=np.int64) - np.repeat(starts, w)
            shifts = (np.repeat(w, w) - 1 - offsets).astype(np.uint64)
            bits = self._bits[self._pos:self._pos + total] << shifts
            values[nonzero] = np.add.reduceat(bits, starts)
        self._pos += total
        return values

    def take_one(self, width: int) -> int:
        return int(self.take(np.array([width]))[0])

    def take_count(self, limit: int) -> int:
        zeros = 0
        while self.take_one(1) == 0:
            zeros += 1
            if zeros > limit.bit_length():
                raise ValueError("count too large")
        n = ((1 << zeros) | self.take_one(zeros)) - 1
        if n > limit:
            raise ValueError(f"count {n} over the limit {limit}")
        return n

    def check_padding(self) -> None:
        """Only zero padding may follow the last field (at most 7 bits)."""
        rest = self._bits[self._pos:]
        if len(rest) > 7 or rest.any():
            raise ValueError("delta payload has trailing data")


def zigzag(values: np.ndarray) -> np.ndarray:
    v = values.astype(np.int64)
    return ((v << 1) ^ (v >> 63)).view(np.uint64)


def unzigzag(values: np.ndarray) -> np.ndarray:
    u = values.astype(np.uint64)
    return ((u >> np.uint64(1)).view(np.int64)) ^ -((u & np.uint64(1)).view(np.int64))


def bit_widths(values: np.ndarray) -> np.ndarray:
    """Significant bits of each unsigned value (0 for 0)."""
    widths = np.zeros(values.shape, dtype=np.int64)
    v = values.astype(np.uint64)
    for shift in (32, 16, 8, 4, 2, 1):
        big = v >= np.uint64(1 << shift)
        widths += big * shift
        v = np.where(big, v >> np.uint64(shift), v)
    return widths + (v > 0)


# --- the codec -------------------------------------------------------------------------------

def as_rows(layout: StateLayout, state: Sequence[int]) -> np.ndarray:
    """The flat state as an (entities, fields) int64 array, checked for the codec's limits."""
    rows = np.asarray(state, dtype=np.int64).reshape(-1, layout.ints_per_entity)
    if len(rows) > MAX_ENTITIES or (rows.size and np.abs(rows).max() > MAX_ABS_VALUE):
        raise ValueError("state is outside the delta codec's limits")
    ids = rows[:, 0]
    if len(ids) > 1 and not (np.diff(ids) > 0).all():
        raise ValueError("entity ids are not unique and sorted")
    return rows


def predict(layout: StateLayout, baseline: np.ndarray, now: np.ndarray, ticks: int) -> np.ndarray:
    """Dead reckoning: the baseline advanced ``ticks`` under a constant acceleration.

    ``now`` supplies the current velocity fields (the decoder has them before the positions)."""
    guess = baseline.copy()
    movers = baseline[:, 0] < layout.moving_below
    for p, v in layout.dead_reckoning:
        then, later = baseline[movers, v], now[movers, v]
        guess[movers, p] = baseline[movers, p] + ((then + later) * ticks + (later - then)) // 2
    return guess


def encode(layout: StateLayout, state: Sequence[int], baseline: Sequence[int] | None,
           ticks: int) -> bytes:
    """``state`` as a delta against ``baseline`` (``None``: against nothing), ``ticks`` later."""
    rows = as_rows(layout, state)
    base = as_rows(layout, baseline if baseline is not None else ())
    out = BitWriter()
    kept_mask = np.isin(base[:, 0], rows[:, 0], assume_unique=True)
    out.put_count(int((~kept_mask).sum()))
    if not kept_mask.all():
        out.put(kept_mask.astype(np.uint64), 1)
    staying = np.isin(rows[:, 0], base[:, 0], assume_unique=True)
    joins = rows[~staying]
    out.put_count(len(joins))
    if len(joins):
        movers = joins[:, 0] < layout.moving_below
        out.put_count(int(movers.sum()))  # the movers come first: ids are sorted
        for group in (joins[movers], joins[~movers]):
            if len(group):
                _put_columns(out, group)
    _put_residuals(out, layout, base[kept_mask], rows[staying], ticks)
    return out.to_bytes()


def _put_columns(out: BitWriter, joins: np.ndarray) -> None:
    """Joined records as columns: ids as gaps, then each column as offsets from its minimum."""
    columns = joins.copy()
    columns[:, 0] = np.diff(joins[:, 0], prepend=-1) - 1  # sorted ids: 0, 1, 2 costs 0 bits each
    lows = columns.min(axis=0)
    offsets = (columns - lows).astype(np.uint64)
    low_codes = zigzag(lows)
    out.put(bit_widths(low_codes).astype(np.uint64), COLUMN_WIDTH_BITS)
    out.put(low_codes, bit_widths(low_codes))
    column_widths = bit_widths(offsets).max(axis=0)
    out.put(column_widths.astype(np.uint64), COLUMN_WIDTH_BITS)
    # A column that is mostly at its minimum (a timer that is usually off) goes *sparse*: one bit
    # per row says "not the minimum", and only those rows carry the offset.
    nonzero = offsets != 0
    sparse = len(joins) + nonzero.sum(axis=0) * column_widths < len(joins) * column_widths
    out.put(sparse.astype(np.uint64), 1)
    out.put(nonzero[:, sparse].T.astype(np.uint64), 1)
    out.put(offsets, _element_widths(column_widths, sparse, nonzero))


def _put_residuals(out: BitWriter, layout: StateLayout, base: np.ndarray, now: np.ndarray,
                   ticks: int) -> None:
    residuals = zigzag((now - predict(layout, base, now, ticks))[:, 1:])
    widths = bit_widths(residuals)
    if widths.size and widths.max() > MAX_VALUE_BITS:  # a far-fetched guess: send against nothing
        raise ValueError("a residual is wider than the codec carries")
    changed = residuals.any(axis=1)
    out.put(changed.astype(np.uint64), 1)
    residuals = residuals[changed]
    classes = np.searchsorted(WIDTHS, widths[changed])
    out.put(classes.astype(np.uint64), CLASS_BITS)
    out.put(residuals, WIDTHS[classes])


def decode(layout: StateLayout, payload: bytes, baseline: Sequence[int] | None,
           ticks: int) -> tuple[int, ...]:
    """The exact state ``encode`` was given; ``ValueError`` if the payload is inconsistent."""
    base = as_rows(layout, baseline if baseline is not None else ())
    return tuple(decode_rows(layout, payload, base, ticks).ravel().tolist())


def decode_rows(layout: StateLayout, payload: bytes, base: np.ndarray, ticks: int) -> np.ndarray:
    """``decode`` for a baseline already in rows (``as_rows``), giving rows: what a client keeps."""
    fields = layout.ints_per_entity
    reader = BitReader(payload)
    leaves = reader.take_count(len(base))
    kept_mask = np.ones(len(base), dtype=bool)
    if leaves:
        kept_mask = reader.take(np.ones(len(base), dtype=np.int64)).astype(bool)
        if int((~kept_mask).sum()) != leaves:
            raise ValueError("leave bitmap disagrees with its count")
    joins = _take_joins(reader, reader.take_count(MAX_ENTITIES - len(base)), fields, layout)
    kept = base[kept_mask]
    now = kept.copy()
    changed = reader.take(np.ones(len(kept), dtype=np.int64)).astype(bool)
    classes = reader.take(np.full(int(changed.sum()) * (fields - 1), CLASS_BITS)).astype(np.int64)
    residuals = np.zeros((len(kept), fields - 1), dtype=np.int64)
    residuals[changed] = unzigzag(reader.take(WIDTHS[classes])).reshape(int(changed.sum()), fields - 1)
    reader.check_padding()
    now[:, 1:] = residuals + kept[:, 1:]  # velocities (and fields without dead reckoning) first
    now[:, 1:] = residuals + predict(layout, kept, now, ticks)[:, 1:]
    return _merge(now, joins)


def _take_joins(reader: BitReader, count: int, fields: int, layout: StateLayout) -> np.ndarray:
    if not count:
        return np.zeros((0, fields), dtype=np.int64)
    movers = reader.take_count(count)
    joins = np.concatenate([_take_columns(reader, movers, fields), _take_columns(reader, count - movers, fields)])
    if len(joins) > 1 and not (np.diff(joins[:, 0]) > 0).all():
        raise ValueError("joined ids are not sorted")
    if ((joins[:, 0] < layout.moving_below) != (np.arange(count) < movers)).any():
        raise ValueError("joined movers and the rest disagree with their ids")
    return joins


def _take_columns(reader: BitReader, count: int, fields: int) -> np.ndarray:
    if not count:
        return np.zeros((0, fields), dtype=np.int64)
    lows = unzigzag(reader.take(_widths(reader, fields)))
    column_widths = _widths(reader, fields)
    sparse = reader.take(np.ones(fields, dtype=np.int64)).astype(bool)
    nonzero = np.ones((count, fields), dtype=bool)
    nonzero[:, sparse] = reader.take(np.ones(count * int(sparse.sum()), dtype=np.int64)).reshape(
        int(sparse.sum()), count).T.astype(bool)
    offsets = reader.take(_element_widths(column_widths, sparse, nonzero).ravel()).reshape(count, fields)
    columns = offsets.astype(np.int64) + lows
    columns[:, 0] = np.cumsum(columns[:, 0] + 1) - 1
    return columns


def _element_widths(column_widths: np.ndarray, sparse: np.ndarray, nonzero: np.ndarray) -> np.ndarray:
    """The bits each joined value takes: its column's width, or none for a sparse column's minimum."""
    return np.where(sparse[None, :] & ~nonzero, 0, column_widths[None, :])


def _widths(reader: BitReader, fields: int) -> np.ndarray:
    widths = reader.take(np.full(fields, COLUMN_WIDTH_BITS)).astype(np.int64)
    if (widths > MAX_VALUE_BITS).any():
        raise ValueError("join column wider than the codec allows")
    return widths


def _merge(kept: np.ndarray, joins: np.ndarray) -> np.ndarray:
    rows = np.concatenate([kept, joins]) if len(joins) else kept
    rows = rows[np.argsort(rows[:, 0], kind="stable")]
    if len(rows) > 1 and not (np.diff(rows[:, 0]) > 0).all():
        raise ValueError("a joined entity id is already present")
    if rows.size and np.abs(rows).max() > MAX_ABS_VALUE:
        raise ValueError("decoded value outside the codec's limits")
    return rows
