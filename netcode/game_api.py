"""The seam between the netcode and a game: what the netcode needs to know, and nothing more.

Theory of operation: the netcode is game-agnostic. A server session needs to create a world, add
and remove players, step it with inputs and serialise it; a client needs to read a serialised
world back, step it the same way for prediction, and know where each entity is to draw or
interpolate it. ``GameRules`` is that contract; ``game.netgame.SimRules`` implements it for our
arena game. Worlds are opaque values to the netcode and are never mutated in place.

Lag compensation adds four things a game with hits provides: ``step`` takes ``views`` (for each
shot, the positions its shooter's screen showed), ``positions`` and ``blend`` say where players
are in a world or between two worlds (as a client's interpolation draws them), and ``shots``
reports each shot a step judged. ``events`` are what a step did, for every client to hear.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, NamedTuple, Protocol, Sequence

from .snapshot_codec import StateLayout

World = Any  # opaque to the netcode
Positions = Any  # where players are, in the game's units: opaque to the netcode
Views = Callable[[int, int], "Positions | None"]  # (shooter id, input index this tick) -> what it saw


class ShotVerdict(NamedTuple):
    """One shot a step judged: who fired, with which of its inputs that tick, and whom it hit."""

    shooter: int
    input_index: int  # index into the inputs the step was given for the shooter
    target: int  # the player hit; negative: nobody


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

    def step(self, world: World, inputs: Mapping[int, Sequence[int]], views: Views | None = None) -> World: ...

    def encode_state(self, world: World) -> tuple[int, ...]: ...

    def decode_state(self, tick: int, state: Sequence[int]) -> World:
        """Rebuild a world from ``encode_state``'s integers; ValueError if they are invalid."""

    def entities(self, world: World) -> dict[int, EntityState]: ...

    def state_hash(self, world: World) -> str: ...

    def positions(self, world: World) -> Positions: ...

    def blend(self, a: World, b: World, num: int, den: int) -> Positions:
        """Where players are ``num/den`` of the way from ``a`` to ``b``, as interpolation draws them."""

    def shots(self, world: World) -> list[ShotVerdict]: ...

    def events(self, world: World) -> list[list]: ...

    def summary(self, world: World, names: Mapping[int, str]) -> dict[str, Any]:
        """The game's own figures for the server's stats (scores, for example), by player name."""

    def describe_differences(self, ours: World, theirs: World) -> list[str]:
        """Every field that differs between two worlds, one line each (for desync reports)."""
