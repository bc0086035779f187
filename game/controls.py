"""Keyboard to input bits, and the live switch keys. Only this, render and the app import pygame.

Theory of operation: movement is *sampled* once per client tick from the keys held down at that
moment (not from key events), so a press is seen by the very next tick and a held key moves the
player every tick. Space (fire) is sampled the same way and carries the aim: towards the mouse
while the mouse is in use, else the way the player last moved (``Aim``). Toggles, in contrast,
act on the key-down *event*, once per press. Tab shows the scoreboard while it is held.
"""
from __future__ import annotations

import pygame

import math

from . import tag
from .sim import DOWN, LEFT, RIGHT, UP

MOVE_KEYS = {
    UP: (pygame.K_w, pygame.K_UP),
    DOWN: (pygame.K_s, pygame.K_DOWN),
    LEFT: (pygame.K_a, pygame.K_LEFT),
    RIGHT: (pygame.K_d, pygame.K_RIGHT),
}

#: Live toggles: key -> (switch name, what the help overlay says).
TOGGLE_KEYS = {
    pygame.K_1: ("prediction", "client prediction"),
    pygame.K_2: ("reconciliation", "server reconciliation"),
    pygame.K_3: ("smoothing", "error smoothing"),
    pygame.K_4: ("interpolation", "remote interpolation"),
    pygame.K_5: ("extrapolation", "extrapolation when snapshots stop"),
    pygame.K_6: ("time_dilation", "time dilation (inputs reach the server just in time)"),
}
GHOSTS_KEY = pygame.K_g
GRAPH_KEY = pygame.K_n
HELP_KEY = pygame.K_F1
MUTE_KEY = pygame.K_m
FIRE_KEY = pygame.K_SPACE
SCOREBOARD_KEY = pygame.K_TAB
MOUSE_AIM_S = 2.0  # the mouse aims for this long after it last moved; then the facing does

#: The start screen (``game.app_start``): key -> action, one per key press. Esc and F1 do there
#: what they do in the game; W/S choose too, for hands already on WASD.
START_KEYS = {
    pygame.K_UP: "up", pygame.K_w: "up",
    pygame.K_DOWN: "down", pygame.K_s: "down",
    pygame.K_RETURN: "join", pygame.K_KP_ENTER: "join",
    pygame.K_h: "host",
    HELP_KEY: "help",
    pygame.K_ESCAPE: "quit",
}


def input_bits(pressed: pygame.key.ScancodeWrapper) -> int:
    """The direction bits for the keys held now (WASD or arrows)."""
    bits = 0
    for bit, keys in MOVE_KEYS.items():
        if any(pressed[k] for k in keys):
            bits |= bit
    return bits


class Aim:
    """Which way the beam fires: at the mouse while it is in use, else the way we last moved."""

    def __init__(self) -> None:
        self.step = 0  # tag.AIM_STEPS directions, 0 = right
        self.mouse_moved_s = float("-inf")

    def update(self, now: float, bits: int, mouse_px: tuple[int, int] | None, mouse_moved: bool,
               me_px: tuple[float, float] | None) -> int:
        if mouse_moved:
            self.mouse_moved_s = now
        if mouse_px is not None and me_px is not None and now - self.mouse_moved_s < MOUSE_AIM_S:
            dx, dy = mouse_px[0] - me_px[0], mouse_px[1] - me_px[1]
            if math.hypot(dx, dy) > 4:
                self.step = tag.aim_towards(dx, dy)
        else:
            dx = (1 if bits & RIGHT else 0) - (1 if bits & LEFT else 0)
            dy = (1 if bits & DOWN else 0) - (1 if bits & UP else 0)
            if dx or dy:
                self.step = tag.aim_towards(dx, dy)
        return self.step


def game_bits(pressed: pygame.key.ScancodeWrapper, aim: int) -> int:
    """Movement, plus the fire bits (with the aim) while Space is held."""
    bits = input_bits(pressed)
    return bits | tag.fire_bits(aim) if pressed[FIRE_KEY] else bits


RULES_LINES = (
    "TAG: one player (two from 6 players) is IT, marked in red.",
    "IT tags a runner by touching them or with the beam: Space fires",
    f"  ({tag.BEAM_RANGE_PX} px, every {tag.COOLDOWN_MS / 1000:g} s), aimed with the mouse or where you walk.",
    "Tagger +1 point, tagged -1; whoever is IT when the round ends -3.",
    f"Rounds last {tag.ROUND_S} s; the top score wins. A new IT waits {tag.FREEZE_MS / 1000:g} s,",
    f"  and a runner who just tagged cannot be tagged for {tag.IMMUNE_MS / 1000:g} s.",
    "Pickups: yellow boost (faster for 3 s), blue shield (stops one tag).",
)


def help_lines() -> list[str]:
    lines = list(RULES_LINES) + ["", "WASD / arrows  move", "Space  fire the tag beam (when you are IT)",
                                 "Mouse  aim (else you aim where you walk)", "Tab  scoreboard",
                                 "F1  show or hide this help", "G  ghosts: server positions",
                                 "N  net graph", "M  sound on / off", "Esc  quit", ""]
    for key, (_, text) in TOGGLE_KEYS.items():
        lines.append(f"{pygame.key.name(key)}  toggle {text}")
    return lines
