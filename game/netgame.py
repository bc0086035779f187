"""Our arena game seen through the netcode's ``GameRules`` contract, plus its snapshot codec.

Theory of operation: the snapshot state is a flat list of integers, five per player
``[id, x, y, vx, vy]`` in the simulation's own fixed-point units, sorted by id. Sending the exact
integers (no float rounding) matters: the client rewinds its prediction to this state and replays
its inputs, so the state must be bit-identical to the server's or every snapshot would look like
a misprediction. Decoding validates every value against the arena and the speed limit, because
the integers come off the network.

On the wire those integers usually travel as a delta (``netcode/snapshot_codec.py``):
``STATE_LAYOUT`` tells the codec that each player is five integers and that x and y advance by
vx and vy, so a player who keeps running costs one bit per snapshot.
"""
from __future__ import annotations

from typing import Mapping, Sequence

from netcode.game_api import EntityState
from netcode.snapshot_codec import StateLayout

from . import sim

INTS_PER_PLAYER = 5
#: For delta snapshots: x is advanced by vx and y by vy (fields 1, 2 by fields 3, 4).
STATE_LAYOUT = StateLayout(INTS_PER_PLAYER, dead_reckoning=((1, 3), (2, 4)))
MAX_PLAYER_ID = 127  # player ids 0..127: up to 128 players


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

    def step(self, world: sim.World, inputs: Mapping[int, Sequence[int]]) -> sim.World:
        return sim.step(world, inputs, self.physics)

    def encode_state(self, world: sim.World) -> tuple[int, ...]:
        return tuple(n for p in world.players for n in (p.id, p.x, p.y, p.vx, p.vy))

    def decode_state(self, tick: int, state: Sequence[int]) -> sim.World:
        if len(state) % INTS_PER_PLAYER:
            raise ValueError(f"state has {len(state)} ints, not a multiple of {INTS_PER_PLAYER}")
        players = [self._decode_player(state[i:i + INTS_PER_PLAYER])
                   for i in range(0, len(state), INTS_PER_PLAYER)]
        ids = [p.id for p in players]
        if ids != sorted(set(ids)):
            raise ValueError("player ids are not unique and sorted")
        return sim.World(tick=tick, players=tuple(players))

    def _decode_player(self, ints: Sequence[int]) -> sim.Player:
        pid, x, y, vx, vy = ints
        limit = self.physics.max_speed
        if not (0 <= pid <= MAX_PLAYER_ID and 0 <= x <= sim.ARENA_W_PX * sim.SUBPX
                and 0 <= y <= sim.ARENA_H_PX * sim.SUBPX and abs(vx) <= limit and abs(vy) <= limit):
            raise ValueError(f"player values out of range: {tuple(ints)}")
        return sim.Player(pid, x, y, vx, vy)

    def entities(self, world: sim.World) -> dict[int, EntityState]:
        scale_v = self.tick_rate / sim.SUBPX
        return {p.id: EntityState(p.x / sim.SUBPX, p.y / sim.SUBPX, p.vx * scale_v, p.vy * scale_v)
                for p in world.players}

    def state_hash(self, world: sim.World) -> str:
        return sim.state_hash(world)
