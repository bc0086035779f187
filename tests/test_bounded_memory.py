"""Nothing a server or client keeps grows with time: a game three times as long holds no more.

Every container (list, deque, dict, set) reachable from the server session and the clients is
counted after a short and a long game of the same seeded players. Windows fill up early and then
stay full; running figures are sums. A list that grows with every tick, frame or packet would
make the long game's total larger, so a server could not run for days.
"""
from __future__ import annotations

from collections import deque

from game import bots
from game.client import Switches
from tools.scenarios import run_game

CONTAINERS = (list, deque, dict, set, tuple)


def held_items(root: object) -> int:
    """Items in every container reachable through our own objects' attributes."""
    seen: set[int] = set()
    total = 0
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, CONTAINERS):
            # A deque with a maxlen is bounded by construction: count the room it may fill.
            total += obj.maxlen if isinstance(obj, deque) and obj.maxlen is not None else len(obj)
            stack.extend(obj.values() if isinstance(obj, dict) else obj)
        elif type(obj).__module__.split(".")[0] in ("netcode", "game"):
            stack.extend(getattr(obj, "__dict__", {}).values())
    return total


def sizes(seconds: float) -> tuple[int, list[int]]:
    players = [(Switches(), bots.pusher_bot()), (Switches(), bots.random_bot(3)), (Switches(), bots.circle_bot())]
    run = run_game(players, seconds=seconds)
    return held_items(run.session), [held_items(client) for client in run.clients]


def test_a_long_game_holds_no_more_than_a_short_one() -> None:
    server_short, clients_short = sizes(10.0)
    server_long, clients_long = sizes(30.0)
    # Small slack: a window can be a little fuller by chance (packets in flight, late snapshots).
    assert server_long <= server_short * 1.1 + 50
    for short, long in zip(clients_short, clients_long):
        assert long <= short * 1.1 + 50
