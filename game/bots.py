"""Scripted players: input bits as a pure function of the input number (and a seed).

Theory of operation: a bot answers "which keys are down for input number ``n``, with my player
at ``pos``?" and nothing else, so a bot run is repeatable and drives a headless client exactly
like a person at the keyboard would. Periods are in inputs (client ticks), so a bot behaves the
same on every machine. Only ``pusher`` and ``line`` look at their position (``None`` before the
first snapshot).

* ``circle``: turns through the eight directions, an eighth of a turn every ``turn_inputs``.
* ``zigzag``: runs diagonally, flipping the vertical direction every ``leg_inputs``.
* ``random``: holds a random direction for a random time, from its own seeded generator.
* ``idle``: presses nothing.
* ``pusher``: walks to a meeting point above the centre block and keeps pushing there, so two
  pushers shove each other (the one thing prediction cannot foresee: corrections happen).
* ``stopgo``: walks right, stops, walks left, stops: key presses from rest, for reaction timing.
* ``line``: holds one direction (right) at full speed and reverses when it stops moving (a wall
  or an obstacle), so its speed is constant away from the turns: the cleanest thing to measure
  smoothness on.
"""
from __future__ import annotations

import random
from collections import deque
from typing import Callable

from .sim import DOWN, LEFT, RIGHT, UP

#: Eight directions in turning order (right, down-right, down, ...).
DIRECTIONS = (RIGHT, RIGHT | DOWN, DOWN, DOWN | LEFT, LEFT, LEFT | UP, UP, UP | RIGHT)

Position = tuple[float, float] | None
Bot = Callable[[int, Position], int]
MEETING_POINT_PX = (640.0, 250.0)
DEADZONE_PX = 3.0


def circle_bot(turn_inputs: int = 20) -> Bot:
    return lambda n, pos: DIRECTIONS[(n // turn_inputs) % len(DIRECTIONS)]


def zigzag_bot(leg_inputs: int = 45, sweep_inputs: int = 240) -> Bot:
    def bot(n: int, pos: Position) -> int:
        vertical = DOWN if (n // leg_inputs) % 2 == 0 else UP
        horizontal = RIGHT if (n // sweep_inputs) % 2 == 0 else LEFT
        return vertical | horizontal

    return bot


RANDOM_RUNS_KEPT = 64  # a random bot remembers its newest runs only (a server bot plays for days)


def random_bot(seed: int) -> Bot:
    rng = random.Random(seed)  # the bot's own generator, never the global one
    runs: deque[tuple[int, int, int]] = deque()  # (first input, last input + 1, bits), oldest first
    next_start = 0

    def bot(n: int, pos: Position) -> int:
        nonlocal next_start
        while next_start <= n:  # the same draws, in the same order, whatever n is asked first
            bits = rng.choice(DIRECTIONS + (0,))
            length = rng.randint(10, 60)
            runs.append((next_start, next_start + length, bits))
            next_start += length
        while len(runs) > RANDOM_RUNS_KEPT and runs[0][1] <= n:
            runs.popleft()
        for start, end, bits in runs:
            if start <= n < end:
                return bits
        raise ValueError(f"random bot asked for input {n}, older than the runs it remembers")

    return bot


def idle_bot() -> Bot:
    return lambda n, pos: 0


def pusher_bot() -> Bot:
    def bot(n: int, pos: Position) -> int:
        if pos is None:
            return 0
        dx, dy = MEETING_POINT_PX[0] - pos[0], MEETING_POINT_PX[1] - pos[1]
        bits = RIGHT if dx > DEADZONE_PX else LEFT if dx < -DEADZONE_PX else 0
        return bits | (DOWN if dy > DEADZONE_PX else UP if dy < -DEADZONE_PX else 0)

    return bot


def stopgo_bot(leg_inputs: int = 30) -> Bot:
    phases = (RIGHT, 0, LEFT, 0)
    return lambda n, pos: phases[(n // leg_inputs) % len(phases)]


STUCK_INPUTS = 8  # a position unchanged this long means a wall (snapshots come every 2 inputs)


def line_bot() -> Bot:
    state = {"direction": RIGHT, "last": None, "still": 0}

    def bot(n: int, pos: Position) -> int:
        if pos is not None:
            still = state["last"] is not None and abs(pos[0] - state["last"][0]) < 0.01
            state["still"] = state["still"] + 1 if still else 0
            state["last"] = pos
            if state["still"] >= STUCK_INPUTS:
                state["direction"] = LEFT if state["direction"] == RIGHT else RIGHT
                state["still"] = 0
        return state["direction"]

    return bot


BOT_NAMES = ("circle", "zigzag", "random", "idle", "pusher", "stopgo", "line")


def make_bot(name: str, seed: int = 1) -> Bot:
    if name == "circle":
        return circle_bot()
    if name == "zigzag":
        return zigzag_bot()
    if name == "random":
        return random_bot(seed)
    if name == "idle":
        return idle_bot()
    if name == "pusher":
        return pusher_bot()
    if name == "stopgo":
        return stopgo_bot()
    if name == "line":
        return line_bot()
    raise ValueError(f"unknown bot {name!r}; choose from {', '.join(BOT_NAMES)}")
