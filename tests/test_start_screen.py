"""The start screen: its model (pure logic), its drawing, its window loop, and a real game found on it.

``python3 run_client.py`` with a window and no ``--host`` opens here; ``--host`` joins directly, and
``--serve``, ``--headless`` and ``--bot`` host directly. The model is driven by action names; the
drawing is checked on pixels of a saved PNG (SDL's dummy video driver: no real window); the loop
gets real pygame key events; the end-to-end tests use a real server and browser on loopback (the
discovery port chosen by the OS) and ``run_client.main`` itself. Every loop has a deadline.
"""
from __future__ import annotations

import copy
import os
import subprocess
import sys

# Before pygame is imported: no window, no sound device, so the tests run headless in CI.
os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ["SDL_AUDIODRIVER"] = "dummy"

import pygame  # noqa: E402
import pytest  # noqa: E402

import run_client  # noqa: E402
from game import controls  # noqa: E402
from game.app_start import (ACTIONS, MAX_VISIBLE_ROWS, SEARCHING_TEXT, Choice, StartOptions,  # noqa: E402
                            StartScreen, run_start_screen, why_not_joinable)
from game.render import PANEL_BORDER, STATUS_TEXT  # noqa: E402
from game.render_start import SELECTED_BG, TABLE_ROWS, StartRenderer  # noqa: E402
from game.server_app import HostedServer  # noqa: E402
from game.sim import ARENA_H_PX, ARENA_W_PX, RULES_HASH  # noqa: E402
from netcode.client_session import ClientState  # noqa: E402
from netcode.clock import MonotonicClock  # noqa: E402
from netcode.discovery import Browser, FoundGame  # noqa: E402
from netcode.protocol import PROTOCOL_VERSION  # noqa: E402
from netcode.server import ServerConfig  # noqa: E402
from netcode.transport import UdpTransport  # noqa: E402
from tools.procs import ROOT  # noqa: E402

FOUND_WITHIN_S = 2.0


def game(server_id: int, name: str = "arena", host: str = "192.168.1.20", port: int = 7777, players: int = 1,
         ping_ms: float = 0.8, protocol: int = PROTOCOL_VERSION, rules: str = RULES_HASH[:8]) -> FoundGame:
    return FoundGame(host, port, name, players, 16, ping_ms, protocol, rules, server_id, 0.0, 0.0)


@pytest.fixture()
def display():
    pygame.display.init()
    pygame.font.init()
    yield
    pygame.quit()


# =============================================================================================
# the model
# =============================================================================================

def test_an_empty_list_says_it_is_looking_and_that_h_hosts() -> None:
    screen = StartScreen("alice")
    view = screen.view()
    assert view.rows == [] and view.searching == SEARCHING_TEXT and view.games_found == 0
    assert view.host_line[0] == "H" and "host" in view.host_line[1]
    assert screen.selected is None
    assert screen.act("up") is None and screen.act("down") is None and screen.selected is None
    assert screen.act("join") is None and "H" in screen.message  # nothing to join: says how to host


def test_up_and_down_move_the_selection_and_stop_at_the_ends() -> None:
    screen = StartScreen()
    screen.update([game(1, "a"), game(2, "b"), game(3, "c")])
    assert screen.selected == 0, "the first game is chosen as soon as there is one"
    screen.act("down")
    screen.act("down")
    screen.act("down")
    assert screen.selected == 2
    screen.act("up")
    assert screen.selected == 1
    assert [row.selected for row in screen.view().rows] == [False, True, False]
    for _ in range(5):
        screen.act("up")
    assert screen.selected == 0


def test_the_selection_follows_its_game_as_the_list_changes() -> None:
    screen = StartScreen()
    screen.update([game(1, "a"), game(2, "b", host="192.168.1.30")])
    screen.act("down")
    assert screen.games[screen.selected].name == "b"
    # A new game sorts in before it: the selection stays on "b".
    screen.update([game(1, "a"), game(3, "new", host="192.168.1.25"), game(2, "b", host="192.168.1.30")])
    assert screen.games[screen.selected].name == "b"
    # Its numbers change (players, ping): still the same game.
    screen.update([game(1, "a"), game(3, "new", host="192.168.1.25"),
                   game(2, "b", host="192.168.1.30", players=5, ping_ms=3.0)])
    view = screen.view()
    assert [r.name for r in view.rows if r.selected] == ["b"] and view.rows[2].players == "5/16"
    # "b" goes away: the selection moves to the game now in its place, never off the list.
    screen.update([game(1, "a"), game(3, "new", host="192.168.1.25")])
    assert screen.games[screen.selected].name == "new"
    screen.update([game(1, "a")])
    assert screen.selected == 0
    screen.update([])
    assert screen.selected is None and screen.view().rows == []
    screen.update([game(7, "back")])
    assert screen.selected == 0


def test_a_row_shows_name_players_ping_and_address() -> None:
    screen = StartScreen()
    screen.update([game(1, "alice-laptop", "192.168.1.20", 7777, players=2, ping_ms=0.84),
                   game(2, "bad\x1bname", "10.0.0.5", 7790, players=0, ping_ms=12.0)])
    first, second = screen.view().rows
    assert (first.name, first.players, first.ping, first.address, first.note) == \
        ("alice-laptop", "2/16", "0.8 ms", "192.168.1.20:7777", "")
    assert second.name == "bad\\x1bname", "a name off the network is made printable"
    assert second.address == "10.0.0.5:7790" and second.ping == "12.0 ms"


def test_enter_joins_the_chosen_game_h_hosts_esc_quits() -> None:
    screen = StartScreen()
    screen.update([game(1, "a", "192.168.1.20", 7777), game(2, "b", "192.168.1.31", 7780)])
    screen.act("down")
    assert screen.act("join") == Choice("join", "192.168.1.31", 7780, "b")
    assert StartScreen().act("host") == Choice("host")
    assert StartScreen().act("quit") == Choice("quit")
    refused = StartScreen()
    refused.act("host")
    refused.refuse("port taken")
    assert refused.choice is None and refused.view().message == "port taken"
    refused.act("down")
    assert refused.view().message == "", "the next key clears the last answer"
    with pytest.raises(ValueError):
        StartScreen().act("jump")


def test_a_game_this_client_cannot_play_is_listed_but_not_joined() -> None:
    old = game(1, "old", protocol=PROTOCOL_VERSION + 1)
    other = game(2, "other", host="192.168.1.40", rules="0" * 8 if RULES_HASH[:8] != "0" * 8 else "1" * 8)
    assert why_not_joinable(old) == f"protocol {PROTOCOL_VERSION + 1}"
    assert why_not_joinable(other) == "other rules" and why_not_joinable(game(3)) == ""
    screen = StartScreen()
    screen.update([old, other])
    assert [r.note for r in screen.view().rows] == [f"protocol {PROTOCOL_VERSION + 1}", "other rules"]
    assert screen.act("join") is None and "protocol" in screen.message
    screen.act("down")
    assert screen.act("join") is None and "other rules" in screen.message


def test_a_long_list_scrolls_to_keep_the_selection_in_view() -> None:
    assert MAX_VISIBLE_ROWS == TABLE_ROWS, "the model and the renderer agree on the table's height"
    screen = StartScreen()
    screen.update([game(i, f"g{i:02d}", host=f"10.0.0.{i}") for i in range(1, MAX_VISIBLE_ROWS + 5)])
    view = screen.view()
    assert len(view.rows) == MAX_VISIBLE_ROWS and view.more_above == 0 and view.more_below == 4
    for _ in range(MAX_VISIBLE_ROWS + 1):
        screen.act("down")
    view = screen.view()
    assert len(view.rows) == MAX_VISIBLE_ROWS and view.rows[-1].selected and view.rows[-1].name == "g10"
    assert (view.more_above, view.more_below) == (2, 2)
    screen.update(screen.games[:3])  # most go away: the window follows
    view = screen.view()
    assert len(view.rows) == 3 and view.more_above == 0 and view.rows[-1].selected


def test_f1_toggles_the_help_and_every_key_maps_to_an_action() -> None:
    screen = StartScreen(discovery_port=7778)
    screen.act("help")
    assert any("Enter" in line for line in screen.view().help_lines)
    assert any("7778" in line for line in screen.view().help_lines)
    screen.act("help")
    assert screen.view().help_lines == []
    assert set(controls.START_KEYS.values()) == set(ACTIONS)
    assert controls.START_KEYS[pygame.K_h] == "host" and controls.START_KEYS[pygame.K_RETURN] == "join"
    assert controls.START_KEYS[pygame.K_ESCAPE] == "quit" and controls.START_KEYS[controls.HELP_KEY] == "help"


# =============================================================================================
# drawing
# =============================================================================================

def _draw(screen: StartScreen, path) -> pygame.Surface:
    surface = pygame.Surface((ARENA_W_PX, ARENA_H_PX))
    view = screen.view()
    before = copy.deepcopy(view)
    StartRenderer(surface).draw(view)
    assert view == before, "the renderer must only read the view"
    pygame.image.save(surface, str(path))
    return pygame.image.load(str(path))


def _differing(a: pygame.Surface, b: pygame.Surface, rect: pygame.Rect, step: int = 2) -> int:
    return sum(a.get_at((x, y)) != b.get_at((x, y))
               for x in range(rect.left, rect.right, step) for y in range(rect.top, rect.bottom, step))


def test_two_games_are_drawn_as_rows_and_the_chosen_one_is_highlighted(tmp_path, display) -> None:
    empty = _draw(StartScreen("alice"), tmp_path / "empty.png")
    listed = StartScreen("alice")
    listed.update([game(1, "alice-laptop", "192.168.1.20", players=2), game(2, "bob", "192.168.1.31", 7780)])
    listed.act("down")
    image = _draw(listed, tmp_path / "two.png")
    table = StartRenderer(pygame.Surface((ARENA_W_PX, ARENA_H_PX))).table
    row_h = table.height // TABLE_ROWS
    first, second = (pygame.Rect(table.x, table.y + i * row_h, table.width, row_h) for i in range(2))
    # Each row has text in every column where the empty list has none.
    for row in (first, second):
        for x0, x1 in ((table.x + 16, table.x + 300), (table.x + 400, table.x + 500), (table.x + 520, table.x + 620),
                       (table.x + 640, table.right)):
            assert _differing(image, empty, pygame.Rect(x0, row.y, x1 - x0, row.height)) > 10, (row, x0)
    # The chosen (second) row is filled and marked; the first is not.
    assert tuple(image.get_at((second.right - 4, second.centery)))[:3] == SELECTED_BG
    assert tuple(image.get_at((second.x + 1, second.centery)))[:3] == STATUS_TEXT
    assert tuple(image.get_at((first.right - 4, first.centery)))[:3] != SELECTED_BG
    # The empty list says it is looking, centred in the table, where the list has only its third row.
    looking = pygame.Rect(table.centerx - 150, table.y + row_h + row_h // 2, 300, row_h)
    assert _differing(empty, _draw(StartScreen("alice"), tmp_path / "again.png"), table) == 0, "drawing is stable"
    assert _differing(empty, image, looking) > 20
    blank = empty.get_at((table.x + 5, table.bottom - 5))
    assert sum(empty.get_at((x, y)) != blank for x in range(looking.left, looking.right, 2)
               for y in range(looking.top, looking.bottom, 2)) > 20, "the 'Looking for games' text is drawn"


def test_the_help_overlay_and_a_message_are_drawn(tmp_path, display) -> None:
    plain = StartScreen()
    plain.update([game(1)])
    base = _draw(plain, tmp_path / "plain.png")
    helped = StartScreen()
    helped.update([game(1)])
    helped.act("help")
    centre = pygame.Rect(ARENA_W_PX // 2 - 200, ARENA_H_PX // 2 - 60, 400, 120)
    assert _differing(base, _draw(helped, tmp_path / "help.png"), centre) > 50
    told = StartScreen()
    told.update([game(1, protocol=PROTOCOL_VERSION + 1)])
    told.act("join")
    image = _draw(told, tmp_path / "told.png")
    yellow = sum(tuple(image.get_at((x, y)))[:3] == STATUS_TEXT for x in range(200, 1100, 2) for y in range(530, 580))
    assert yellow > 30, "the reason a game cannot be joined is written out"
    assert tuple(image.get_at((StartRenderer(image).panel.x, ARENA_H_PX // 2)))[:3] == PANEL_BORDER


# =============================================================================================
# the window loop
# =============================================================================================

def _window() -> pygame.Surface:
    return pygame.display.set_mode((ARENA_W_PX, ARENA_H_PX))


def _press(*keys: int) -> None:
    for key in keys:
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key, mod=0, unicode="", scancode=0))


def test_the_loop_hosts_on_h_and_stays_up_with_the_reason_when_hosting_fails(display) -> None:
    screen = _window()
    calls = []
    _press(pygame.K_h)
    assert run_start_screen(screen, None, StartOptions(duration_s=5), lambda: calls.append(1) or "") == Choice("host")
    _press(pygame.K_h, pygame.K_ESCAPE)
    seen = []

    def busy() -> str:
        seen.append(1)
        return "Cannot host on UDP port 7777: Address already in use"
    assert run_start_screen(screen, None, StartOptions(duration_s=5), busy) == Choice("quit")
    assert calls == [1] and seen == [1]


def test_the_loop_quits_after_duration_and_saves_a_screenshot(tmp_path, display) -> None:
    clock = MonotonicClock()
    start = clock.now()
    png = tmp_path / "start.png"
    choice = run_start_screen(_window(), None, StartOptions(duration_s=0.3, screenshot_path=str(png)), lambda: "")
    assert choice == Choice("quit") and 0.25 < clock.now() - start < 3.0
    assert pygame.image.load(str(png)).get_size() == (ARENA_W_PX, ARENA_H_PX)


# =============================================================================================
# end to end: a real server on loopback
# =============================================================================================

def test_a_real_server_on_loopback_is_listed_within_two_seconds_and_joined_with_enter(display) -> None:
    server = HostedServer(0, ServerConfig(max_players=8), bind_host="127.0.0.1", discovery_port=0, name="start game")
    server.start_in_background()
    clock = MonotonicClock()
    udp = UdpTransport("127.0.0.1", 0, broadcast=True)
    try:
        browser = Browser(udp, ["127.0.0.1"], server.discovery_port)
        model = StartScreen("tester")
        start = clock.now()
        while not model.games and clock.now() - start < FOUND_WITHIN_S:
            browser.poll(clock.now())
            model.update(browser.games(clock.now()))
            udp.wait(0.02, clock.now())
        found_after_s = clock.now() - start
        assert model.games, f"not listed within {FOUND_WITHIN_S} s"
        [row] = model.view().rows
        assert (row.name, row.players, row.address, row.note, row.selected) == \
            ("start game", "0/8", f"127.0.0.1:{server.port}", "", True)
        assert found_after_s < FOUND_WITHIN_S
        assert model.act("join") == Choice("join", "127.0.0.1", server.port, "start game")

        # The same, through the window loop: Enter is pressed once the game is on the screen.
        class EnterWhenListed(Browser):
            def games(self, now):
                found = super().games(now)
                if found and not pressed:
                    pressed.append(now)
                    _press(pygame.K_RETURN)
                return found
        pressed: list[float] = []
        loop_browser = EnterWhenListed(udp, ["127.0.0.1"], server.discovery_port)
        start = clock.now()
        choice = run_start_screen(_window(), loop_browser, StartOptions(duration_s=FOUND_WITHIN_S + 1), lambda: "")
        assert choice == Choice("join", "127.0.0.1", server.port, "start game")
        assert pressed and pressed[0] - start < FOUND_WITHIN_S
    finally:
        udp.close()
        server.stop()


def test_run_client_with_no_host_opens_the_start_screen_and_h_starts_a_game(monkeypatch, capsys) -> None:
    """The README's play command: the start screen first; H hosts here and the game plays in the same
    window (here for --duration 1 s, then exits 0)."""
    real = run_client.run_start_screen
    windows = []

    def press_h_then_run(screen, browser, options, host_game):
        windows.append(screen)
        _press(pygame.K_h)
        return real(screen, browser, options, host_game)
    monkeypatch.setattr(run_client, "run_start_screen", press_h_then_run)
    opened = []
    real_run_window = run_client.run_window

    def run_window(client, loop, bot, screenshot, screen):
        opened.append(screen)
        real_run_window(client, loop, bot, screenshot, screen)
        states.append(client.session.state)
    states: list[ClientState] = []
    monkeypatch.setattr(run_client, "run_window", run_window)
    status = run_client.main(["--port", "0", "--duration", "1", "--name", "tester"])
    out = capsys.readouterr().out
    assert status == 0
    assert windows and opened == windows, "the game plays in the start screen's window"
    assert states == [ClientState.CONNECTED], "H hosted a game and the client joined it"
    assert "Hosting: friends join with" in out


def test_run_client_serve_and_headless_host_directly_and_serve_refuses_host(capsys) -> None:
    with pytest.raises(SystemExit):
        run_client.main(["--serve", "--host", "127.0.0.1"])
    assert "--serve" in capsys.readouterr().err
    assert "--serve" in run_client.build_parser().format_help()
    done = subprocess.run([sys.executable, str(ROOT / "run_client.py"), "--headless", "--bot", "idle", "--port", "0",
                           "--duration", "1.2", "--name", "solo"],
                          cwd=ROOT, capture_output=True, text=True, timeout=20)
    assert done.returncode == 0, done.stderr
    assert "Hosting: friends join with" in done.stdout
