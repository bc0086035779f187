"""Keyboard to input bits, and the live switch keys. Only this, render and the app import pygame.

Theory of operation: movement is *sampled* once per client tick from the keys held down at that
moment (not from key events), so a press is seen by the very next tick and a held key moves the
player every tick. Toggles, in contrast, act on the key-down *event*, once per press.
"""
from __future__ import annotations

import pygame

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


def help_lines() -> list[str]:
    lines = ["WASD / arrows  move", "F1  show or hide this help", "G  ghosts: server positions",
             "N  net graph", "M  sound on / off", "Esc  quit", ""]
    for key, (_, text) in TOGGLE_KEYS.items():
        lines.append(f"{pygame.key.name(key)}  toggle {text}")
    return lines
