"""Client-side prediction and server reconciliation.

Theory of operation
-------------------
*Prediction*: the moment an input is sampled, the client applies it to its own copy of the world
with the game's one ``step`` function (the same code the server runs), so the local player moves
the same frame the key is pressed instead of a round trip later. Only the local player's input is
given to ``step``; the other players in the predicted world stay where the last snapshot put them.

*Reconciliation*: each snapshot is the server's truth as of our input ``last_input_seq``. We
rewind to that state and replay every input the server has not applied yet ("we simulate all
unacknowledged commands each time", Quake III ``cg_predict.c``). If our own code and inputs
were all that mattered, the replayed state equals what we had predicted, to the bit. When it
differs, another player pushed us (or an input was lost): that is a *correction*, reported as
the jump in the local player's position so the smoother can hide it.

With reconciliation switched off, the client adopts each snapshot as is and predicts on from
there without replaying (Gambetta's demo): the player is yanked back by a round trip's worth of
movement at every snapshot, which is exactly the problem replaying solves. With prediction off, the local
player is simply drawn from snapshots.
"""
from __future__ import annotations

import math
from collections import deque
from typing import NamedTuple

from .game_api import EntityState, GameRules, World


class Correction(NamedTuple):
    dx_px: float  # new predicted position minus the old one
    dy_px: float

    @property
    def size_px(self) -> float:
        return math.hypot(self.dx_px, self.dy_px)


class Predictor:
    def __init__(self, rules: GameRules, player_id: int) -> None:
        self.rules = rules
        self.player_id = player_id
        self.world: World | None = None  # our predicted world; None until the first snapshot
        self.pending: deque[tuple[int, int]] = deque()  # (input seq, bits) not yet applied by the server
        self.replayed_inputs = 0

    def apply_input(self, seq: int, bits: int) -> None:
        """Predict one input now; remember it for replay until the server confirms it."""
        self.pending.append((seq, bits))
        if self.world is not None:
            self.world = self._step_local(self.world, bits)

    def _step_local(self, world: World, bits: int) -> World:
        return self.rules.step(world, {self.player_id: (bits,)})

    def reconcile(self, server_world: World, last_input_seq: int, replay: bool = True) -> Correction | None:
        """Adopt a snapshot: rewind to it and replay pending inputs. Returns the correction, if any."""
        while self.pending and self.pending[0][0] <= last_input_seq:
            self.pending.popleft()
        before = self.local_entity()
        world = server_world
        if replay:
            for _, bits in self.pending:
                world = self._step_local(world, bits)
            self.replayed_inputs += len(self.pending)
        self.world = world
        after = self.local_entity()
        if before is None or after is None or (before.x_px, before.y_px) == (after.x_px, after.y_px):
            return None
        return Correction(after.x_px - before.x_px, after.y_px - before.y_px)

    def local_entity(self) -> EntityState | None:
        if self.world is None:
            return None
        return self.rules.entities(self.world).get(self.player_id)
