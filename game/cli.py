"""Command-line value checks shared by ``run_client.py`` and ``run_server.py``.

Theory of operation: each function is an argparse ``type=``: it turns the text of one flag into
a value or raises ``ArgumentTypeError`` with a message that names what is wrong and the value
given, which argparse prints with the flag's name and exits with status 2. ``printable`` escapes
text that came off the network before it reaches a terminal.
"""
from __future__ import annotations

import argparse

from netcode.input_buffer import BufferPolicy
from netcode.protocol import MAX_NAME_CHARS

DEFAULT_PORT = 7777


def port_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"port must be a whole number 0..65535, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0..65535, got {value}")
    return value


def player_name(text: str) -> str:
    if not text.strip() or len(text) > MAX_NAME_CHARS or not text.isprintable():
        raise argparse.ArgumentTypeError(f"name must be 1..{MAX_NAME_CHARS} printable characters, got {text!r}")
    return text.strip()


def positive_ms(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of ms 0..5000, got {text!r}") from None
    if not 0 <= value <= 5000:
        raise argparse.ArgumentTypeError(f"must be 0..5000 ms, got {text}")
    return value


def buffer_policy(text: str) -> BufferPolicy:
    try:
        return BufferPolicy.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def printable(text: str) -> str:
    """``text`` with every character a terminal could act on escaped (escape codes, newlines)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
