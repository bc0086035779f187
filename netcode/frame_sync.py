"""Frame sync on the client: deterministic lockstep, and its predictive variant, rollback.

Theory of operation
-------------------
In state sync the server simulates and sends the world. In **frame sync** every client runs the
same deterministic simulation from the same inputs, and the server only relays them: for each
frame ``f`` it collects every player's input and sends the full **input set** of ``f`` (with who
joins and who leaves at ``f``) to everyone (``frame_relay.py``). Equal inputs in equal order on
equal states give equal states, bit for bit, so nobody ever sends a position.

**Input delay.** A key pressed while frame ``f`` is the next to simulate is scheduled for frame
``f + N``: our input then has ``N`` frames of time to reach the server and come back in a set
before anyone needs it. ``N`` frames of delay hide up to ``N`` frames of round trip.

**Lockstep** (``max_rollback`` 0) never guesses: frame ``f`` is simulated when its set has
arrived, not before. When a set is late the game **stalls** (the frame clock stops, input
sampling stops with it, and the HUD names whose input the server is waiting for). With a round
trip longer than the input delay, every frame waits: the game runs at about ``N + 1`` frames per
round trip (our input for a frame leaves one frame before the ``N`` frames of delay begin).

**Rollback** (GGPO) does not wait. A frame whose set has not arrived is simulated anyway, with
each remote player's input *predicted* as the last one we know (players hold keys for many
frames, so that is usually right), and our own input as it is. When the real set arrives:

* it matches what we predicted: the predicted frame simply becomes confirmed;
* it does not: **roll back** to the last confirmed state, re-simulate that frame with the real
  set and every later frame with fresh predictions, all within this tick, and count it.

We never run more than ``max_rollback`` frames past the last confirmed one: beyond that a
mistake would cost too many re-simulations in one tick, so the game stalls instead.

Lockstep is rollback with ``max_rollback`` 0, and this class is both.

**Desync detection.** Every ``hash_every`` frames, once a frame is confirmed (never a
predicted one), we hash its state and send the hash to the server, which compares it with its
own (``frame_relay.py``). We keep the states of our last ``CHECK_STATES_KEPT`` checked frames, so
that when the server asks (a ``["dump", frame]`` event) we can send it the whole state for its
report.

Everything here is game-agnostic: it needs only the game's ``step``, ``add_player``,
``remove_player``, ``positions`` and ``state_hash``. Shots are judged against the world before
the step (every machine sees the same world, so no lag compensation is needed or possible).
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable

from .game_api import GameRules, World
from .protocol import FrameSet
from .stats import Summary

HASH_SENDS = 3  # each hash rides this many packets (one may be lost; the server counts it once)
CHECK_STATES_KEPT = 64  # states of checked frames kept for a desync report
MAX_FRAMES_PER_TICK = 4  # catching up after a stall: at most this many frames a tick
MAX_SETS_AHEAD = 600  # sets further ahead of our confirmed frame than this are dropped (bounded)
MAX_OWN_INPUTS = 600  # our own inputs kept for prediction and resending (bounded)


@dataclass
class Predicted:
    frame: int
    world: World
    used: FrameSet  # the set we simulated it with (our guess at the real one)


@dataclass
class FrameSyncStats:
    rollbacks: int = 0
    rollback_frames: Summary = field(default_factory=Summary)  # frames re-simulated per rollback
    stall_frames: int = 0  # ticks the frame clock wanted to advance and could not
    frames_confirmed: int = 0
    hashes_sent: int = 0


class FrameSyncEngine:
    def __init__(self, rules: GameRules, player_id: int, input_delay: int, max_rollback: int,
                 hash_every: int, step: Callable[[World, dict, object], World] | None = None) -> None:
        self.rules = rules
        self.player_id = player_id
        self.input_delay = input_delay
        self.max_rollback = max_rollback
        self.hash_every = hash_every
        self.step_fn = step or rules.step  # a wrong step can be injected (desync demonstrations)
        self.confirmed = -1  # newest confirmed frame (-1: no state yet)
        self.confirmed_world: World | None = None
        self.predicted: list[Predicted] = []  # frames after ``confirmed``, oldest first
        self.sets: dict[int, FrameSet] = {}  # received sets not yet confirmed
        self.own: OrderedDict[int, int] = OrderedDict()  # frame -> our input bits
        self.next_input_frame = 0  # the frame our next sampled input is for
        self.last_bits: dict[int, int] = {}  # each player's newest confirmed input: the prediction
        self.check_states: OrderedDict[int, World] = OrderedDict()
        self.own_verdicts: list[tuple[int, int]] = []  # (frame, target or -1) of our shots, once confirmed
        self.hashes_out: list[list] = []  # [frame, hash, sends left]: each goes out HASH_SENDS times
        self.stats = FrameSyncStats()

    # --- state ---------------------------------------------------------------------------------

    @property
    def started(self) -> bool:
        return self.confirmed_world is not None

    @property
    def head(self) -> int:
        """The newest frame simulated (confirmed or predicted)."""
        return self.predicted[-1].frame if self.predicted else self.confirmed

    @property
    def world(self) -> World | None:
        """The newest simulated world: what is drawn."""
        return self.predicted[-1].world if self.predicted else self.confirmed_world

    def start(self, frame: int, world: World) -> None:
        """Begin from a full state (joining, or joining late): we follow the sets after ``frame``."""
        if self.started:
            return
        self.confirmed, self.confirmed_world = frame, world
        self.next_input_frame = frame + 1 + self.input_delay  # the server expects nothing earlier from us
        self.sets = {f: s for f, s in self.sets.items() if f > frame}

    def on_set(self, frame: int, frame_set: FrameSet) -> None:
        if not self.started:  # before our full state we cannot tell which sets we will need: keep a few
            if len(self.sets) < MAX_SETS_AHEAD or frame in self.sets:
                self.sets.setdefault(frame, frame_set)
        elif self.confirmed < frame <= self.confirmed + MAX_SETS_AHEAD:
            self.sets.setdefault(frame, frame_set)

    @property
    def have_frame(self) -> int:
        """The newest frame up to which we hold every set (confirmed, or waiting in ``sets``)."""
        frame = self.confirmed
        while frame + 1 in self.sets:
            frame += 1
        return frame

    # --- our inputs ----------------------------------------------------------------------------

    def wants_input(self) -> bool:
        """Our input for the frame ``input_delay`` after the next one to simulate is due."""
        return self.started and self.next_input_frame <= self.head + 1 + self.input_delay

    def add_input(self, bits: int) -> int:
        frame = self.next_input_frame
        self.own[frame] = bits
        self.next_input_frame += 1
        while len(self.own) > MAX_OWN_INPUTS:
            self.own.popitem(last=False)
        return frame

    def set_input_delay(self, frames: int) -> None:
        """Change our input delay live (once started: the first input frame must be the one the
        server assumes). Longer: the frames skipped over get our last input again
        (the server expects an input from us for every frame, and lockstep would wait for them);
        shorter: we sample nothing until the frame clock has caught up with the inputs sent."""
        if self.started:
            last = next(reversed(self.own.values()), 0) if self.own else 0
            while self.next_input_frame < self.head + 1 + frames:
                self.add_input(last)
        self.input_delay = frames

    def unconfirmed_inputs(self) -> tuple[int, list[int]]:
        """(first frame, bits) of our inputs the server has not shown back to us in a set."""
        have = self.have_frame
        frames = [f for f in self.own if f > have]
        return (frames[0] if frames else self.next_input_frame), [self.own[f] for f in frames]

    # --- advancing -----------------------------------------------------------------------------

    def confirm_available(self, max_new: int = MAX_SETS_AHEAD) -> None:
        """Take the sets that continue our confirmed frames; roll back if one proves us wrong.
        Frames we have simulated already are confirmed all at once; at most ``max_new`` frames
        beyond them (each one a new frame simulated now, which the frame clock must pace)."""
        wrong_from, redone, new = None, 0, 0
        while self.confirmed + 1 in self.sets:
            frame = self.confirmed + 1
            if frame > self.head:
                if new >= max_new:
                    break
                new += 1
            real = self.sets.pop(frame)
            guess = self.predicted.pop(0) if self.predicted and self.predicted[0].frame == frame else None
            if guess is not None and guess.used == real and wrong_from is None:
                world = guess.world
            else:
                if guess is not None and wrong_from is None:
                    wrong_from = frame
                redone += wrong_from is not None
                world = self._apply(self.confirmed_world, real)
            self._confirm(frame, world, real)
        if wrong_from is not None:
            self._resimulate(redone)

    def _confirm(self, frame: int, world: World, real: FrameSet) -> None:
        self.confirmed, self.confirmed_world = frame, world
        self.stats.frames_confirmed += 1
        for shot in self.rules.shots(world):
            if shot.shooter == self.player_id and len(self.own_verdicts) < MAX_OWN_INPUTS:
                self.own_verdicts.append((frame, shot.target if shot.target >= 0 else -1))
        for pid in real.leaves:
            self.last_bits.pop(pid, None)
        self.last_bits.update(dict(real.inputs))
        if frame % self.hash_every == 0:
            self.check_states[frame] = world
            while len(self.check_states) > CHECK_STATES_KEPT:
                self.check_states.popitem(last=False)
            self.hashes_out.append([frame, self.rules.state_hash(world), HASH_SENDS])
            self.stats.hashes_sent += 1
        while self.own and next(iter(self.own)) <= frame - self.max_rollback - 1:
            self.own.popitem(last=False)  # confirmed long ago: never predicted or resent again

    def _resimulate(self, redone: int) -> None:
        """Our guesses after the confirmed frame were built on a wrong one: redo them all.
        ``redone``: frames already simulated again with their real sets on the way here."""
        frames = [p.frame for p in self.predicted]
        self.predicted = []
        world = self.confirmed_world
        for frame in frames:
            guess = self._guess(frame)
            world = self._apply(world, guess)
            self.predicted.append(Predicted(frame, world, guess))
        self.stats.rollbacks += 1
        self.stats.rollback_frames.add(redone + len(frames))  # the wrong frame, and every one after

    def advance(self) -> bool:
        """Simulate the next frame if we may: confirmed sets first, then a prediction (rollback).
        Returns False (a stall) when we may not."""
        before = self.head
        self.confirm_available(max_new=1)  # one new frame per due tick, confirmed or guessed
        if self.head > before:
            return True
        frame = self.head + 1
        if frame > self.confirmed + self.max_rollback:
            return False
        guess = self._guess(frame)
        self.predicted.append(Predicted(frame, self._apply(self.world, guess), guess))
        return True

    def _guess(self, frame: int) -> FrameSet:
        """The set we expect for ``frame``: everyone repeats their last input; ours is known."""
        inputs = dict(self.last_bits)
        if frame in self.own:
            inputs[self.player_id] = self.own[frame]
        else:
            inputs.pop(self.player_id, None)  # before our first input: the server has none from us
        return FrameSet((), (), tuple(sorted(inputs.items())))

    def _apply(self, world: World, frame_set: FrameSet) -> World:
        """One frame: leaves, joins, then the step, exactly as the server's relay does it. (Leaves
        first: an id freed this frame may be taken again. A join of an id already here, which no
        honest server sends, is ignored rather than allowed to crash us: the hash check will tell.)"""
        for pid in frame_set.leaves:
            world = self.rules.remove_player(world, pid)
        if frame_set.joins:
            present = self.rules.positions(world)
            for pid in frame_set.joins:
                if pid not in present:
                    world = self.rules.add_player(world, pid)
        before = world
        return self.step_fn(world, {pid: (bits,) for pid, bits in frame_set.inputs},
                            lambda shooter, index: self.rules.positions(before))

    def take_hashes(self, limit: int) -> list[tuple[int, str]]:
        """The hashes to send in this packet (newest ``limit``); each is sent ``HASH_SENDS`` times."""
        out = self.hashes_out[-limit:]
        for item in out:
            item[2] -= 1
        self.hashes_out = [item for item in self.hashes_out[-4 * limit:] if item[2] > 0]
        return [(frame, text) for frame, text, _ in out]
