"""The seam between the netcode and a game: what the netcode needs to know, and nothing more.

Theory of operation: the netcode is game-agnostic. A server session needs to create a world, add
and remove players, step it with inputs and serialise it; a client needs to read a serialised
world back, step it the same way for prediction, and know where each entity is to draw or
interpolate it. ``GameRules`` is that contract; ``game.netgame.SimRules`` implements it for our
arena game. Worlds are opaque values to the netcode and are never mutated in place.
"""
from __future__ import annotations

from typing import Any, Mapping, NamedTuple, Protocol, Sequence

from .snapshot_codec import StateLayout

World = Any  # opaque to the netcode


class EntityState(NamedTuple):
    """Where an entity is and how fast it moves, in pixels and pixels per second."""

    x_px: float
    y_px: float
    vx_px_s: float
    vy_px_s: float


class GameRules(Protocol):
    rules_hash: str
    tick_rate: int
    state_layout: StateLayout  # how ``encode_state``'s integers split into entities (delta snapshots)

    def new_world(self) -> World: ...

    def add_player(self, world: World, player_id: int) -> World: ...

    def remove_player(self, world: World, player_id: int) -> World: ...

    def step(self, world: World, inputs: Mapping[int, Sequence[int]]) -> World: ...

    def encode_state(self, world: World) -> tuple[int, ...]: ...

    def decode_state(self, tick: int, state: Sequence[int]) -> World:
        """Rebuild a world from ``encode_state``'s integers; ValueError if they are invalid."""

    def entities(self, world: World) -> dict[int, EntityState]: ...

    def state_hash(self, world: World) -> str: ...
