"""Reliable events in a game: joins and leaves reach every client once, in order, on a bad link."""
from __future__ import annotations

from game import bots
from game.client import event_text
from netcode.conditioner import PROFILES
from netcode.switches import Switches
from tools.scenarios import run_game


def test_every_client_hears_every_join_once_and_in_order_on_a_bad_link() -> None:
    run = run_game([(Switches(), bots.circle_bot()) for _ in range(4)], link=PROFILES["bad"], seconds=4.0)
    stats = run.stats
    names = {pid: name for pid, name in run.clients[0].session.roster.items()}
    assert len(names) == 4
    for index, client in enumerate(run.clients):
        me = client.session.player_id
        joins = [e for e in client.events_heard if e[0] == "join"]
        # Everyone who joined at or after us, each once, in the order the server let them in.
        assert [e[1] for e in joins] == sorted(pid for pid in names if pid >= me)
        assert stats[index]["events_missed"] == 0
        # Every event, joins and the game's ("it", tags...), arrived once: none lost, none twice.
        assert stats[index]["events_received"] == len(client.events_heard) >= len(joins)
    assert any(s["snapshot_loss_pct"] > 5 for s in stats)  # the link really lost packets


def test_event_words() -> None:
    assert event_text(["join", 3, "alice"]) == "alice joined"
    assert event_text(["leave", 3, "alice"]) == "alice left"
    assert event_text(["confetti", 1]) is None  # a newer server's event: ignored, not a crash


def test_events_of_any_shape_the_channel_allows_are_ignored_not_fatal() -> None:
    for odd in (None, 7, True, b"x", [], ["join"], ["join", 1, 2], ["join", 1, "\x1b[2J"]):
        assert event_text(odd) is None


def test_a_friend_arriving_or_leaving_chimes_and_our_own_arrival_does_not() -> None:
    from game import sim
    from game.client import ClientOptions, GameClient
    from netcode.protocol import Accept
    from netcode.transport import MemoryNetwork

    client = GameClient(MemoryNetwork().endpoint(("10.0.0.2", 5000)), ("10.0.0.1", 7777), ClientOptions(name="me"),
                        Switches(), 0.0)
    client.session.accept = Accept(3, 60, 30, sim.RULES_HASH, 0)
    client.session.events.extend([["join", 3, "me"], ["join", 4, "bob"], ["leave", 4, "bob"], 7])
    assert client._take_events(1.0) == ["join", "leave"]
    assert [text for _, text in client.messages] == ["me joined", "bob joined", "bob left"]
    assert client._take_events(7.0) == [] and not client.messages  # shown for 5 s, then gone
