"""Snapshot codecs side by side: what a snapshot costs per player, and how long it takes.

Usage::

    python -m tools.bench_codec                          # 6, 16, 64 and 128 players, 10 s each
    python -m tools.bench_codec --players 16 64 128 --seconds 5 --ago-ticks 9 --json codec.json
    python -m tools.bench_codec --example                # the worked example of docs/wire-format.md

Theory of operation
-------------------
No network and no processes. For each player count the simulation itself
(``game.netgame.SimRules`` at 60 Hz) runs twice from the spawn points: once with every player
driven by its own ``game.bots.random_bot`` (*moving*: running, turning, stopping and shoving each
other), once with every player idle after spawning. The state is recorded every second tick: 30
snapshots a second, the server's defaults. Every recorded snapshot is then encoded by each codec,
on the same integers:

* ``json``: a reconstruction of the broadcast a first networked game typically sends (not the
  code of any particular game): ``json.dumps({"tick": t, "players": [{"id": i, "x": x, "y": y,
  "vx": vx, "vy": vy}, ...]})`` with positions in pixels and velocities in pixels per second as
  floats rounded to 2 decimals, and no header at all.
* ``full``: our ``Snapshot`` datagram (packet type 5): every integer, every time.
* ``delta``: our ``DeltaSnapshot`` datagram (type 10), its payload ``snapshot_codec.encode``
  against the snapshot ``--ago-ticks`` earlier: the baseline a client would have echoed, about a
  round trip old, rounded to the snapshot grid (every second tick).
* ``delta0``: the same datagram against nothing (``baseline_ago`` 0): what a client gets first,
  or when the server no longer has its baseline.

The datagrams carry a realistic header, as ``Connection.build`` would stamp it for a session ten
minutes in: ticks and input numbers in the tens of thousands, seq and ack in the thousands, every
packet acknowledged, an ack delay within one tick and a random 64-bit token (seeded, so the bytes
repeat). ``datagram()`` builds them: it is ``protocol.encode`` without the 1,200-byte check, so
that a full snapshot of 128 players, which does not fit, can be measured rather than refused
(``tests/test_bench_codec.py`` checks that the two agree byte for byte on everything that fits).

Each delta is decoded again as the client does it (``protocol.decode``, then
``snapshot_codec.decode_rows`` against the rows decoded earlier) and compared with the server's
integers; one that differs stops the bench. Encode and decode times are means over every moving
snapshot, timed with ``time.perf_counter``; they depend on the machine, the sizes do not.

Where numpy helps: ``bit_packing`` times the delta's bit packing alone on the same bits two ways,
numpy (``snapshot_codec.BitWriter``, what the server runs) and ``pack_bits_python``, a plain loop
that shifts each value into one Python int. That loop is a comparison baseline and lives only here.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence
from unittest import mock

import msgpack
import numpy as np

from game import bots, sim
from game.netgame import STATE_LAYOUT, SimRules
from game.tag import TagTimes
from netcode import protocol, snapshot_codec
from netcode.protocol import (ACK_BITS_ALL, MAX_BASELINE_AGO, MAX_PACKET_BYTES, MAX_PLAYERS_ON_WIRE, PROTOCOL_ID,
                              PROTOCOL_VERSION, DeltaSnapshot, Header, PacketType, Snapshot)
from netcode.reliable import EventBatch

TICK_RATE = 60
SNAPSHOT_EVERY = 2  # ticks: 30 snapshots a second at 60 Hz, the server's defaults
DEFAULT_PLAYERS = (6, 16, 64, 128)
DEFAULT_SECONDS = 10.0
DEFAULT_AGO_TICKS = 2  # a LAN: the client's newest snapshot is the one before this one
SEED = 1
CODECS = ("json", "full", "delta", "delta0")

# A session ten minutes into a game: the header and snapshot fields as they would be then.
START_TICK = 36_000  # 10 min at 60 Hz
JOINED_AT_TICK = 600  # the client joined 10 s after the server started
INPUT_LEAD_CTICKS = 190  # about 32 ms at 60 Hz: the wifi lead of docs/netcode.md, section 4
INPUT_TARGET_CTICKS = 180
ACK_DELAY_MAX_100US = 167  # the client sends an input every tick (16.7 ms): the ack is that fresh
#: The worked example's reliable events: the leave and the join between its baseline and its
#: snapshot, the 10th and 11th events on this client's channel, not acknowledged yet.
EXAMPLE_FIRST_EVENT_ID = 9
EXAMPLE_EVENTS = [["leave", 5, "eve"], ["join", 3, "dave"]]


WARMUP_TICKS = TagTimes.for_tick_rate(TICK_RATE).grace + TICK_RATE // 2


# --- recording -----------------------------------------------------------------------------------

def record(players: int, seconds: float, moving: bool, seed: int = SEED) -> list[tuple[int, tuple[int, ...]]]:
    """``(tick, state)`` of every snapshot of a game of ``players``, moving or idle, from the end
    of the round's start grace (``WARMUP_TICKS``: until then the it's countdown changes its record
    every tick, which is the game's state, not the players')."""
    rules = SimRules(TICK_RATE)
    world = rules.new_world()
    for pid in range(players):
        world = rules.add_player(world, pid)
    drivers = [bots.random_bot(seed * 1000 + pid) if moving else bots.idle_bot() for pid in range(players)]
    snapshots = []
    for n in range(WARMUP_TICKS + round(seconds * TICK_RATE)):
        world = rules.step(world, {pid: [bot(n, None)] for pid, bot in enumerate(drivers)})
        tick = START_TICK + n + 1
        if n >= WARMUP_TICKS and tick % SNAPSHOT_EVERY == 0:
            snapshots.append((tick, rules.encode_state(world)))
    return snapshots


def snapshot_grid(ago_ticks: int) -> int:
    """``ago_ticks`` rounded (half up) to a whole number of snapshot intervals, at least one."""
    return max(1, (ago_ticks + SNAPSHOT_EVERY // 2) // SNAPSHOT_EVERY) * SNAPSHOT_EVERY


# --- the encodings ---------------------------------------------------------------------------------

def json_players(state: Sequence[int]) -> list[dict]:
    """The state as a first networked game would write it: floats in pixels, rounded to 2 decimals."""
    px, px_s = 1 / sim.SUBPX, TICK_RATE / sim.SUBPX
    return [{"id": pid, "x": round(x * px, 2), "y": round(y * px, 2), "vx": round(vx * px_s, 2),
             "vy": round(vy * px_s, 2)} for pid, x, y, vx, vy in zip(*[iter(state)] * 5)]


def json_datagram(tick: int, state: Sequence[int]) -> bytes:
    return json.dumps({"tick": tick, "players": json_players(state)}).encode()


def session_header(tick: int, rng: random.Random, token: int) -> Header:
    """The header of the server's snapshot at ``tick`` to a client that joined at ``JOINED_AT_TICK``."""
    since_join = tick - JOINED_AT_TICK
    return Header(PROTOCOL_VERSION, (since_join // SNAPSHOT_EVERY) & 0xFFFF, since_join & 0xFFFF, ACK_BITS_ALL,
                  rng.randrange(ACK_DELAY_MAX_100US), token)


def full_message(tick: int, state: tuple[int, ...], players: int) -> Snapshot:
    return Snapshot(tick, tick - JOINED_AT_TICK, players, state, INPUT_LEAD_CTICKS, INPUT_TARGET_CTICKS)


def delta_message(tick: int, payload: bytes, baseline_ago: int, players: int) -> DeltaSnapshot:
    return DeltaSnapshot(tick, tick - JOINED_AT_TICK, players, baseline_ago, payload, INPUT_LEAD_CTICKS,
                         INPUT_TARGET_CTICKS)


def datagram(message: Snapshot | DeltaSnapshot, header: Header) -> bytes:
    """``protocol.encode`` of a snapshot without its size check: an oversized one is measured, not refused.
    Events are left out: the bench measures snapshots, and the rare ones carrying events cost a few
    bytes more (the worked example shows how many)."""
    m = message
    if isinstance(m, Snapshot):
        ptype, body = PacketType.SNAPSHOT, [m.tick, m.last_input_seq, m.roster_version, m.input_lead_cticks,
                                            m.input_target_cticks, list(m.state)]
    else:
        ptype, body = PacketType.DELTA_SNAPSHOT, [m.tick, m.last_input_seq, m.roster_version, m.input_lead_cticks,
                                                  m.input_target_cticks, m.baseline_ago, m.payload]
    return msgpack.packb([PROTOCOL_ID, header.version, ptype, header.seq, header.ack,
                          header.ack_bits ^ ACK_BITS_ALL, header.ack_delay_100us, header.token, body])


# --- measuring -------------------------------------------------------------------------------------

@dataclass
class Row:
    """One codec at one player count. Bytes are means per snapshot; "state" leaves out everything
    else (header, snapshot fields, msgpack framing): the JSON players list, the msgpack state
    array, the delta payload."""

    codec: str
    players: int
    snapshots: int  # moving snapshots measured (the same number idle)
    moving_b_per_player: float  # datagram bytes / players
    moving_state_b_per_player: float
    idle_b_per_player: float
    idle_state_b_per_player: float
    other_b: float  # datagram bytes that are not state, per datagram (moving)
    max_datagram_b: int  # the largest datagram, moving or idle
    encode_us: float | None  # mean per moving snapshot; None when not timed
    decode_us: float | None  # None when not timed, or (full) when a datagram does not fit

    @property
    def fits(self) -> bool:
        return self.max_datagram_b <= MAX_PACKET_BYTES


class _Tally:
    def __init__(self) -> None:
        self.count = 0
        self.datagram_b = 0
        self.state_b = 0
        self.max_b = 0
        self.encode_s = 0.0
        self.decode_s = 0.0
        self.decoded = 0

    def add(self, datagram_b: int, state_b: int) -> None:
        self.count += 1
        self.datagram_b += datagram_b
        self.state_b += state_b
        self.max_b = max(self.max_b, datagram_b)


def _encode_all(snapshots: list[tuple[int, tuple[int, ...]]], players: int, ago: int,
                timing: bool, seed: int) -> dict[str, _Tally]:
    """Every snapshot that has a baseline ``ago`` ticks earlier, through every codec."""
    tallies = {codec: _Tally() for codec in CODECS}
    rng = random.Random(seed)
    token = rng.getrandbits(64)
    layout = STATE_LAYOUT
    by_tick = dict(snapshots)
    empty = np.zeros((0, layout.ints_per_entity), dtype=np.int64)
    rows_by_tick = {}  # what the client decoded, by tick: its baselines
    clock = time.perf_counter
    for tick, state in snapshots:
        base_tick = tick - ago
        if base_tick not in by_tick:
            rows_by_tick[tick] = snapshot_codec.as_rows(layout, state)  # the client's first snapshots
            continue
        header = session_header(tick, rng, token)

        t0 = clock()
        data = json_datagram(tick, state)
        t1 = clock()
        json.loads(data)
        t2 = clock()
        tallies["json"].add(len(data), len(json.dumps(json_players(state)).encode()))
        tallies["json"].encode_s += t1 - t0
        tallies["json"].decode_s += t2 - t1
        tallies["json"].decoded += 1

        t0 = clock()
        data = datagram(full_message(tick, state, players), header)
        t1 = clock()
        tallies["full"].add(len(data), len(msgpack.packb(list(state))))
        tallies["full"].encode_s += t1 - t0
        if len(data) <= MAX_PACKET_BYTES:
            t1 = clock()
            _, message = protocol.decode(data)
            t2 = clock()
            if message.state != state:
                raise AssertionError(f"full snapshot of tick {tick} did not decode to the server's state")
            tallies["full"].decode_s += t2 - t1
            tallies["full"].decoded += 1

        for codec, baseline, baseline_ago in (("delta", by_tick[base_tick], ago), ("delta0", None, 0)):
            t0 = clock()
            payload = snapshot_codec.encode(layout, state, baseline, baseline_ago)
            data = datagram(delta_message(tick, payload, baseline_ago, players), header)
            t1 = clock()
            _, message = protocol.decode(data)
            base = rows_by_tick[base_tick] if message.baseline_ago else empty
            rows = snapshot_codec.decode_rows(layout, message.payload, base, message.baseline_ago)
            decoded = tuple(rows.ravel().tolist())
            t2 = clock()
            if decoded != state:
                raise AssertionError(f"{codec} snapshot of tick {tick} did not decode to the server's state")
            if codec == "delta":
                rows_by_tick[tick] = rows
            tallies[codec].add(len(data), len(payload))
            tallies[codec].encode_s += t1 - t0
            tallies[codec].decode_s += t2 - t1
            tallies[codec].decoded += 1
    if not timing:
        for tally in tallies.values():
            tally.encode_s = tally.decode_s = 0.0
            tally.decoded = 0
    return tallies


def measure(players: int, seconds: float = DEFAULT_SECONDS, ago_ticks: int = DEFAULT_AGO_TICKS,
            timing: bool = True, seed: int = SEED) -> list[Row]:
    """One row per codec (``CODECS``) for a game of ``players``: moving and idle recordings."""
    ago = snapshot_grid(ago_ticks)
    moving = _encode_all(record(players, seconds, True, seed), players, ago, timing, seed)
    idle = _encode_all(record(players, seconds, False, seed), players, ago, False, seed)
    if moving["json"].count == 0:
        raise ValueError(f"{seconds} s holds no snapshot with a baseline {ago} ticks older")
    rows = []
    for codec in CODECS:
        m, i = moving[codec], idle[codec]
        rows.append(Row(
            codec=codec, players=players, snapshots=m.count,
            moving_b_per_player=m.datagram_b / m.count / players,
            moving_state_b_per_player=m.state_b / m.count / players,
            idle_b_per_player=i.datagram_b / i.count / players,
            idle_state_b_per_player=i.state_b / i.count / players,
            other_b=(m.datagram_b - m.state_b) / m.count,
            max_datagram_b=max(m.max_b, i.max_b),
            encode_us=m.encode_s / m.count * 1e6 if timing else None,
            decode_us=m.decode_s / m.count * 1e6 if timing and m.decoded == m.count else None))
    return rows


# --- where numpy helps: the bit packing alone --------------------------------------------------------

class _RecordingWriter(snapshot_codec.BitWriter):
    """A ``BitWriter`` that also keeps every run of (values, widths) the encoder gives it."""

    latest: "_RecordingWriter | None" = None

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[tuple[np.ndarray, np.ndarray]] = []
        _RecordingWriter.latest = self

    def put(self, values: np.ndarray, widths: np.ndarray | int) -> None:
        super().put(values, widths)
        values = np.asarray(values, dtype=np.uint64)
        self.runs.append((values.ravel(), np.broadcast_to(np.asarray(widths, dtype=np.int64), values.shape).ravel()))


def bit_runs(state: Sequence[int], baseline: Sequence[int] | None,
             ticks: int) -> tuple[bytes, list[tuple[np.ndarray, np.ndarray]]]:
    """``snapshot_codec.encode``'s payload and the (values, widths) runs it packed, in order."""
    with mock.patch.object(snapshot_codec, "BitWriter", _RecordingWriter):
        payload = snapshot_codec.encode(STATE_LAYOUT, state, baseline, ticks)
    assert _RecordingWriter.latest is not None
    return payload, _RecordingWriter.latest.runs


def pack_numpy(runs: list[tuple[np.ndarray, np.ndarray]]) -> bytes:
    """What the server runs: the runs into ``snapshot_codec.BitWriter``, packed in one numpy pass."""
    writer = snapshot_codec.BitWriter()
    for values, widths in runs:
        writer.put(values, widths)
    return writer.to_bytes()


def pack_bits_python(pairs: Sequence[tuple[int, int]]) -> bytes:
    """COMPARISON BASELINE ONLY (not used by the game): the same bits as ``BitWriter``, most
    significant first, zero-padded to a byte, by shifting each value into one Python int."""
    acc = total = 0
    for value, width in pairs:
        acc = (acc << width) | value
        total += width
    pad = -total % 8
    return (acc << pad).to_bytes((total + pad) // 8, "big")


@dataclass
class BitPacking:
    case: str  # "moving", "idle" or "no baseline"
    players: int
    bits: float  # mean bits packed per snapshot
    values: float  # mean values (runs' items) per snapshot
    numpy_us: float
    python_us: float


def bit_packing(players: int = 128, seconds: float = DEFAULT_SECONDS, ago_ticks: int = DEFAULT_AGO_TICKS,
                seed: int = SEED) -> list[BitPacking]:
    """numpy's ``BitWriter`` against the pure-Python loop, on the runs of every snapshot."""
    ago = snapshot_grid(ago_ticks)
    results = []
    moving, idle = record(players, seconds, True, seed), record(players, seconds, False, seed)
    for case, snapshots, against_nothing in (("moving", moving, False), ("idle", idle, False),
                                             ("no baseline", moving, True)):
        by_tick = dict(snapshots)
        numpy_s = python_s = 0.0
        bits = values = count = 0
        for tick, state in snapshots:
            if tick - ago not in by_tick:
                continue
            baseline = None if against_nothing else by_tick[tick - ago]
            payload, runs = bit_runs(state, baseline, 0 if against_nothing else ago)
            pairs = [(int(v), int(w)) for vs, ws in runs for v, w in zip(vs.tolist(), ws.tolist())]
            t0 = time.perf_counter()
            packed_numpy = pack_numpy(runs)
            t1 = time.perf_counter()
            packed_python = pack_bits_python(pairs)
            t2 = time.perf_counter()
            if not packed_numpy == packed_python == payload:
                raise AssertionError(f"the two packings of tick {tick} differ")
            numpy_s += t1 - t0
            python_s += t2 - t1
            bits += sum(w for _, w in pairs)
            values += len(pairs)
            count += 1
        results.append(BitPacking(case, players, bits / count, values / count, numpy_s / count * 1e6,
                                  python_s / count * 1e6))
    return results


# --- the worked example of docs/wire-format.md ------------------------------------------------------

@dataclass
class Example:
    baseline_tick: int
    baseline: tuple[int, ...]
    tick: int
    state: tuple[int, ...]
    message: DeltaSnapshot
    header: Header
    datagram: bytes


def worked_example() -> Example:
    """A small real delta: four players; between the baseline and now one leaves, one joins, one turns.

    Players 0, 1, 2 and 5 play for a second (0 idle, 1 running left, 2 running down-left, 5
    running up); that is the baseline. Then 5 leaves, 3 joins, and two ticks later (2 has turned
    upwards meanwhile) is the snapshot, encoded against the baseline. The server told every client
    of the leave and the join on its reliable channel, and this is the first packet since: it
    carries both events (protocol version 5)."""
    rules = SimRules(TICK_RATE)
    world = rules.new_world()
    for pid in (0, 1, 2, 5):
        world = rules.add_player(world, pid)
    keys = {0: 0, 1: sim.LEFT, 2: sim.DOWN | sim.LEFT, 5: sim.UP}
    for _ in range(TICK_RATE):
        world = rules.step(world, {pid: [bits] for pid, bits in keys.items()})
    baseline = rules.encode_state(world)
    world = rules.add_player(rules.remove_player(world, 5), 3)
    keys = {0: 0, 1: sim.LEFT, 2: sim.UP | sim.LEFT, 3: 0}
    for _ in range(SNAPSHOT_EVERY):
        world = rules.step(world, {pid: [bits] for pid, bits in keys.items()})
    state = rules.encode_state(world)
    tick = START_TICK + SNAPSHOT_EVERY
    payload = snapshot_codec.encode(STATE_LAYOUT, state, baseline, SNAPSHOT_EVERY)
    message = DeltaSnapshot(tick, tick - JOINED_AT_TICK, 7, SNAPSHOT_EVERY, payload, INPUT_LEAD_CTICKS,
                            INPUT_TARGET_CTICKS, EventBatch(EXAMPLE_FIRST_EVENT_ID, EXAMPLE_EVENTS))
    header = Header(PROTOCOL_VERSION, 17_701, 35_402, ACK_BITS_ALL, 83, 0x9E3779B97F4A7C15)
    return Example(START_TICK, baseline, tick, state, message, header, protocol.encode(message, header))


def hex_dump(data: bytes, width: int = 16) -> str:
    return "\n".join(f"{i:04x}  " + " ".join(f"{b:02x}" for b in data[i:i + width])
                     for i in range(0, len(data), width))


def print_example() -> None:
    ex = worked_example()
    print(f"baseline (tick {ex.baseline_tick}): {ex.baseline}")
    print(f"state    (tick {ex.tick}): {ex.state}")
    print(f"header: {ex.header}")
    print(f"message: {ex.message}")
    print(f"payload bits: {''.join(f'{b:08b}' for b in ex.message.payload)}")
    print(f"datagram, {len(ex.datagram)} bytes:")
    print(hex_dump(ex.datagram))
    header, message = protocol.decode(ex.datagram)
    rebuilt = snapshot_codec.decode(STATE_LAYOUT, message.payload, ex.baseline, message.baseline_ago)
    print(f"decoded: {header}, {message.tick=}, {message.baseline_ago=}, state exact: {rebuilt == ex.state}")


# --- the command -----------------------------------------------------------------------------------

COLUMNS = ("codec", "players", "moving B/player", "moving state B/player", "idle B/player",
           "idle state B/player", "other B/datagram", "largest datagram B", "fits 1200 B", "encode µs",
           "decode µs")


def _cells(row: Row) -> list[str]:
    def us(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f}"

    return [row.codec, str(row.players), f"{row.moving_b_per_player:.2f}", f"{row.moving_state_b_per_player:.2f}",
            f"{row.idle_b_per_player:.2f}", f"{row.idle_state_b_per_player:.2f}", f"{row.other_b:.1f}",
            f"{row.max_datagram_b:,}", "yes" if row.fits else "no", us(row.encode_us), us(row.decode_us)]


def table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join(" --- " for _ in COLUMNS) + "|"]
    lines += ["| " + " | ".join(_cells(row)) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_codec", description=__doc__.split("\n\n")[0])
    parser.add_argument("--players", type=int, nargs="+", default=list(DEFAULT_PLAYERS),
                        help="player counts (default %(default)s)")
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS,
                        help="seconds of game recorded per player count, moving and idle each (default %(default)s)")
    parser.add_argument("--ago-ticks", type=int, default=DEFAULT_AGO_TICKS,
                        help="how old the delta's baseline is, in ticks, rounded to the snapshot grid "
                             "(default %(default)s: a LAN; about 9 for the wifi profile)")
    parser.add_argument("--seed", type=int, default=SEED, help="bots' and header's seed (default %(default)s)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write every figure to PATH as JSON")
    parser.add_argument("--example", action="store_true", help="print the worked example of docs/wire-format.md")
    args = parser.parse_args(argv)
    if args.example:
        print_example()
        return 0
    if any(not 1 <= n <= MAX_PLAYERS_ON_WIRE for n in args.players):
        parser.error(f"--players takes counts from 1 to {MAX_PLAYERS_ON_WIRE}")
    if not 1 <= args.ago_ticks or snapshot_grid(args.ago_ticks) > MAX_BASELINE_AGO:
        parser.error(f"--ago-ticks must be 1..{MAX_BASELINE_AGO} once rounded to whole snapshot intervals")
    ago = snapshot_grid(args.ago_ticks)
    if args.seconds * TICK_RATE < ago + 2 * SNAPSHOT_EVERY:
        parser.error("--seconds is too short for a single snapshot with a baseline")
    players = sorted(set(args.players))
    print(f"{args.seconds:g} s per recording at {TICK_RATE} Hz, {TICK_RATE // SNAPSHOT_EVERY} snapshots/s; "
          f"delta baseline {ago} ticks old; seed {args.seed}", flush=True)
    rows = [row for n in players for row in measure(n, args.seconds, args.ago_ticks, seed=args.seed)]
    rows.sort(key=lambda r: (CODECS.index(r.codec), r.players))
    print()
    print(table(rows))
    print()
    smallest, largest = players[0], players[-1]
    delta_small = next(r for r in rows if r.codec == "delta" and r.players == smallest)
    print(f"{smallest} players: a delta datagram carries {delta_small.other_b:.1f} bytes besides its state "
          f"({delta_small.other_b / smallest:.1f} B per player), its state {delta_small.moving_state_b_per_player:.2f} "
          f"B per player moving, {delta_small.idle_state_b_per_player:.2f} B idle.")
    print(f"{largest} players, the largest datagram against the {MAX_PACKET_BYTES}-byte limit:")
    for r in rows:
        if r.players == largest:
            print(f"  {r.codec:>6}: {r.max_datagram_b:,} B, {'fits' if r.fits else 'does not fit'}")
    packing = bit_packing(largest, args.seconds, args.ago_ticks, args.seed)
    print(f"{largest} players, the delta's bit packing alone, per snapshot (the pure-Python loop is a "
          f"comparison baseline in tools/bench_codec.py only):")
    for p in packing:
        print(f"  {p.case:>11}: {p.bits:,.0f} bits in {p.values:,.0f} values: numpy BitWriter {p.numpy_us:.0f} µs, "
              f"pure-Python loop {p.python_us:.0f} µs")
    if args.json:
        args.json.write_text(json.dumps({
            "seconds": args.seconds, "ago_ticks": ago, "seed": args.seed, "tick_rate": TICK_RATE,
            "snapshot_rate": TICK_RATE // SNAPSHOT_EVERY, "max_packet_bytes": MAX_PACKET_BYTES,
            "rows": [asdict(r) | {"fits": r.fits} for r in rows],
            "bit_packing": [asdict(p) for p in packing]}, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
