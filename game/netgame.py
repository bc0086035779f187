"""Our arena game seen through the netcode's ``GameRules`` contract, plus its snapshot codec.

Theory of operation: the snapshot state is a flat list of integers, five per entity, sorted by
entity id, in the simulation's own fixed-point units:

* ``[id, x, y, vx, vy]`` for each player (ids 0..127);
* ``[128 + id, flags, score, immune until, boost]``, a player's tag record (``tag.Tag``; flags are
  ``it | shield << 1 | reload << 2 | wins << 12``), sent **only when it differs from the default**
  (a runner with no score, timers or wins), so a quiet player costs nothing for it;
* ``[256, round start tick, round number, generator state, 0]``, the round;
* ``[257 + slot, x, y, kind, spawned tick]`` for each pickup on the floor.

Sending the exact integers (no float rounding) matters: the client rewinds its prediction to this
state and replays its inputs, so the state must be bit-identical to the server's or every
snapshot would look like a misprediction. Decoding validates every value, because the integers
come off the network.

On the wire those integers usually travel as a delta (``netcode/snapshot_codec.py``):
``STATE_LAYOUT`` tells the codec that each entity is five integers and that, for players (ids
below 128), x and y advance by vx and vy, so a player who keeps running costs one bit per
snapshot. Records, the round and pickups stand still: unchanged, they cost one bit each.

The rest of ``SimRules`` serves lag compensation: ``blend`` draws the world between two snapshots
the way a client's interpolation does, ``step`` passes the server's ``views`` to the tag beam,
and ``shots``/``events`` report what a step did.
"""
from __future__ import annotations

from typing import Mapping, Sequence

from netcode.game_api import EntityState, ShotVerdict
from netcode.snapshot_codec import StateLayout

from . import sim, tag

INTS_PER_ENTITY = 5
MAX_PLAYER_ID = 127  # player ids 0..127: up to 128 players
RECORD_BASE = 128  # a player's tag record is entity 128 + id
ROUND_ID = 256
PICKUP_BASE = 257  # pickup slot k is entity 257 + k
#: For delta snapshots: x is advanced by vx and y by vy (fields 1, 2 by fields 3, 4), for players.
STATE_LAYOUT = StateLayout(INTS_PER_ENTITY, dead_reckoning=((1, 3), (2, 4)), moving_below=RECORD_BASE)
WINS_SHIFT = 12  # flags: it, shield, then 10 bits of reload (2 s at 240 Hz fits), then wins
MAX_RELOAD = (1 << (WINS_SHIFT - 2)) - 1
MAX_WINS = (1 << 18) - 1


class SimRules:
    """``GameRules`` for the arena game at one tick rate."""

    def __init__(self, tick_rate: int) -> None:
        self.tick_rate = tick_rate
        self.physics = sim.Physics.for_tick_rate(tick_rate)
        self.rules_hash = sim.RULES_HASH
        self.state_layout = STATE_LAYOUT

    def new_world(self) -> sim.World:
        return sim.World()

    def add_player(self, world: sim.World, player_id: int) -> sim.World:
        return sim.add_player(world, player_id)

    def remove_player(self, world: sim.World, player_id: int) -> sim.World:
        return sim.remove_player(world, player_id)

    def step(self, world: sim.World, inputs: Mapping[int, Sequence[int]], views=None) -> sim.World:
        return sim.step(world, inputs, self.physics, views)

    # --- the snapshot state --------------------------------------------------------------------

    def encode_state(self, world: sim.World) -> tuple[int, ...]:
        out = [n for p in world.players for n in (p.id, p.x, p.y, p.vx, p.vy)]
        for p in world.players:
            if p.tag != _DEFAULT_TAG:
                t = p.tag
                flags = int(t.it) | int(t.shield) << 1 | t.reload << 2 | t.wins << WINS_SHIFT
                out += (RECORD_BASE + p.id, flags, t.score, t.immune_until, t.boost)
        r = world.round
        out += (ROUND_ID, r.start_tick, r.number, r.rng, 0)
        for k in world.pickups:
            out += (PICKUP_BASE + k.slot, k.x, k.y, k.kind, k.spawned_tick)
        return tuple(out)

    def decode_state(self, tick: int, state: Sequence[int]) -> sim.World:
        if len(state) % INTS_PER_ENTITY:
            raise ValueError(f"state has {len(state)} ints, not a multiple of {INTS_PER_ENTITY}")
        rows = [tuple(state[i:i + INTS_PER_ENTITY]) for i in range(0, len(state), INTS_PER_ENTITY)]
        ids = [row[0] for row in rows]
        if ids != sorted(set(ids)):
            raise ValueError("entity ids are not unique and sorted")
        players = [self._decode_player(row) for row in rows if row[0] <= MAX_PLAYER_ID]
        records = {row[0] - RECORD_BASE: _decode_record(row) for row in rows if RECORD_BASE <= row[0] < ROUND_ID}
        if not set(records) <= {p.id for p in players}:
            raise ValueError("a tag record for a player who is not there")
        rounds = [_decode_round(row) for row in rows if row[0] == ROUND_ID]
        if len(rounds) != 1:
            raise ValueError("the state has no round")
        pickups = tuple(_decode_pickup(row) for row in rows if row[0] >= PICKUP_BASE)
        players = tuple(sim.Player(p.id, p.x, p.y, p.vx, p.vy, records.get(p.id, _DEFAULT_TAG)) for p in players)
        return sim.World(tick=tick, players=players, round=rounds[0], pickups=pickups)

    def _decode_player(self, ints: Sequence[int]) -> sim.Player:
        pid, x, y, vx, vy = ints
        limit = self.physics.boost_max_speed
        if not (0 <= pid <= MAX_PLAYER_ID and 0 <= x <= sim.ARENA_W_PX * sim.SUBPX
                and 0 <= y <= sim.ARENA_H_PX * sim.SUBPX and abs(vx) <= limit and abs(vy) <= limit):
            raise ValueError(f"player values out of range: {tuple(ints)}")
        return sim.Player(pid, x, y, vx, vy)

    # --- lag compensation and what a step did --------------------------------------------------

    def positions(self, world: sim.World) -> dict[int, tuple[int, int]]:
        """Every player's centre in subpx: what the tag beam is judged against."""
        return {p.id: (p.x, p.y) for p in world.players}

    def blend(self, a: sim.World, b: sim.World, num: int, den: int) -> dict[int, tuple[int, int]]:
        """Players ``num/den`` of the way from ``a`` to ``b``, as a client's interpolation draws them:
        one who left is held where ``a`` had them, one who joined appears where ``b`` has them."""
        pa, pb = self.positions(a), self.positions(b)
        out = {}
        for pid, (xa, ya) in pa.items():
            xb, yb = pb.get(pid, (xa, ya))
            out[pid] = (xa + (xb - xa) * num // den, ya + (yb - ya) * num // den)
        for pid, xy in pb.items():
            out.setdefault(pid, xy)
        return out

    def shots(self, world: sim.World) -> list[ShotVerdict]:
        return [ShotVerdict(s.shooter, s.input_index, s.target) for s in world.shots]

    def summary(self, world: sim.World, names: Mapping[int, str]) -> dict:
        """Scores and wins by name, and the round: what every client's scoreboard should show."""
        def name(pid: int) -> str:
            return names.get(pid, f"player {pid}")

        return {"scores": {name(p.id): p.tag.score for p in world.players},
                "wins": {name(p.id): p.tag.wins for p in world.players}, "round": world.round.number}

    def describe_differences(self, ours: sim.World, theirs: sim.World) -> list[str]:
        """Every field that differs between two worlds, in words: what a desync report shows."""
        lines = [f"{name}: {a} != {b}" for name, a, b in (("tick", ours.tick, theirs.tick),
                                                           ("round", tuple(ours.round), tuple(theirs.round)),
                                                           ("pickups", ours.pickups, theirs.pickups)) if a != b]
        mine, other = {p.id: p for p in ours.players}, {p.id: p for p in theirs.players}
        for pid in sorted(set(mine) | set(other)):
            a, b = mine.get(pid), other.get(pid)
            if a is None or b is None:
                lines.append(f"player {pid}: {'missing' if b is None else 'extra'} in theirs")
                continue
            fields = (("x", a.x, b.x), ("y", a.y, b.y), ("vx", a.vx, b.vx), ("vy", a.vy, b.vy)) + tuple(
                (name, getattr(a.tag, name), getattr(b.tag, name)) for name in tag.Tag._fields)
            lines += [f"player {pid}: {name} {va} != {vb}" for name, va, vb in fields if va != vb]
        if [p.id for p in theirs.players] != sorted(other):
            lines.append(f"player order: {[p.id for p in theirs.players]} (not sorted by id)")
        return lines

    def events(self, world: sim.World) -> list[list]:
        """What the step that made ``world`` did, as events for every client (msgpack-ready)."""
        return [list(e) for e in world.happened]

    def entities(self, world: sim.World) -> dict[int, EntityState]:
        scale_v = self.tick_rate / sim.SUBPX
        return {p.id: EntityState(p.x / sim.SUBPX, p.y / sim.SUBPX, p.vx * scale_v, p.vy * scale_v)
                for p in world.players}

    def state_hash(self, world: sim.World) -> str:
        return sim.state_hash(world)


_DEFAULT_TAG = tag.Tag()


def _decode_record(row: Sequence[int]) -> tag.Tag:
    _, flags, score, immune_until, boost = row
    if not (0 <= flags <= MAX_WINS << WINS_SHIFT | (1 << WINS_SHIFT) - 1 and abs(score) < 1 << 20
            and immune_until >= 0 and 0 <= boost < 1 << 16):
        raise ValueError(f"tag record out of range: {tuple(row)}")
    return tag.Tag(bool(flags & 1), bool(flags & 2), flags >> WINS_SHIFT, score, (flags >> 2) & MAX_RELOAD,
                   boost, immune_until)


def _decode_round(row: Sequence[int]) -> tag.Round:
    _, start_tick, number, rng, zero = row
    if not (start_tick >= 0 and number >= 1 and 0 <= rng < tag.RNG_MODULUS and zero == 0):
        raise ValueError(f"round out of range: {tuple(row)}")
    return tag.Round(start_tick, number, rng)


def _decode_pickup(row: Sequence[int]) -> tag.Pickup:
    pid, x, y, kind, spawned_tick = row
    slot = pid - PICKUP_BASE
    if not (0 <= slot < tag.MAX_PICKUPS and 0 <= x <= sim.ARENA_W_PX * sim.SUBPX
            and 0 <= y <= sim.ARENA_H_PX * sim.SUBPX and kind in tag.PICKUP_KINDS and spawned_tick >= 0):
        raise ValueError(f"pickup out of range: {tuple(row)}")
    return tag.Pickup(slot, x, y, kind, spawned_tick)
