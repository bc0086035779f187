"""The start screen: pick a game found on the LAN, or host one here, before the game window plays.

Theory of operation
-------------------
``python3 run_client.py`` with a window and no ``--host`` opens here. A ``netcode.discovery.Browser``
asks the LAN every half second which games are running; each frame the screen reads what it has
heard (``Browser.games``: a game quiet for 3 s has gone) and lists it: name, players/max, ping,
address:port. Up/Down choose, Enter joins the chosen game, H hosts a game on this machine and joins
it (what ``run_client.py`` used to do at once, so a lone player is one key from playing), F1 shows
the help, Esc quits. The choice is a ``Choice``; the caller then runs the ordinary game loop in the
same window (``game.app.run_window(..., screen=...)``).

Two halves, as in the rest of ``game/``:

* ``StartScreen`` is the model, pure logic with no pygame and no clock: it takes the list of games
  (``update``) and actions by name (``act("up")``, ...), keeps the selection on the same *server*
  while the list reorders, grows and shrinks, refuses to join a game this client cannot play (another
  protocol version, other rules) with a message saying why, and describes one frame as a
  ``StartView`` of plain strings. The tests drive it directly.
* ``run_start_screen`` is the window loop: pygame key events through ``controls.START_KEYS``, the
  browser polled between frames, ``render_start.StartRenderer`` to draw. Between frames it sleeps
  *in the browser's socket*, reading each reply as it arrives, so the ping shown is the network's
  and not the frame interval's.

Hosting can fail (UDP port 7777 already taken, usually by a game already running on this machine:
which is then in the list). The loop asks the caller's ``host_game`` to open the server while the
screen is still up, and on failure shows the reason and stays, instead of closing the window.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

from netcode.clock import MonotonicClock
from netcode.discovery import FORGET_AFTER_S, RULES_PREFIX_CHARS, REQUEST_INTERVAL_S, Browser, FoundGame
from netcode.protocol import PROTOCOL_VERSION

from .cli import printable
from .sim import RULES_HASH

ACTIONS = ("up", "down", "join", "host", "help", "quit")
MAX_VISIBLE_ROWS = 8  # more games than this scroll, keeping the chosen one in view
START_FPS_MAX = 60  # a list needs no more; the game loop uses --fps

TITLE = "netcode arena"
SEARCHING_TEXT = "Looking for games on the LAN..."
HOST_KEY_TEXT = ("H", "host a game on this machine and play it: friends on the LAN will see it in their list")
#: The key line at the bottom of the screen, as (key, what it does); controls.START_KEYS binds them.
KEY_PAIRS = (("Up/Down", "choose"), ("Enter", "join"), ("H", "host a game here"), ("F1", "help"), ("Esc", "quit"))


def help_lines(discovery_port: int) -> list[str]:
    """The F1 overlay: "key  description" lines (two spaces split the columns), then plain notes."""
    return [
        "Up / Down  choose a game (W / S work too)",
        "Enter  join the chosen game",
        "H  host a game on this machine and join it",
        "F1  show or hide this help",
        "Esc  quit",
        "",
        f"Games answer on UDP port {discovery_port}; the list asks again every {REQUEST_INTERVAL_S:g} s,",
        f"and a game silent for {FORGET_AFTER_S:g} s leaves it. Ping: request to reply, this machine to the game.",
        "Not listed? Routers do not pass broadcasts, and a firewall or Wi-Fi client isolation can stop them:",
        "quit and join by address:  python3 run_client.py --host ADDRESS --port PORT",
    ]


def why_not_joinable(game: FoundGame, protocol_version: int = PROTOCOL_VERSION,
                     rules_prefix: str = RULES_HASH[:RULES_PREFIX_CHARS]) -> str:
    """"" if this client can play ``game``; else a short reason: "protocol N" or "other rules"."""
    if game.protocol_version != protocol_version:
        return f"protocol {game.protocol_version}"
    if game.rules_prefix != rules_prefix:
        return "other rules"
    return ""


@dataclass(frozen=True)
class Choice:
    """What the player chose: ``join`` (``host``, ``port``), ``host`` (a game here) or ``quit``."""

    action: str
    host: str = ""
    port: int = 0
    name: str = ""  # the chosen game's name, for the window title and messages


@dataclass
class StartRow:
    name: str
    players: str  # "2/16"
    ping: str  # "0.8 ms"
    address: str  # "192.168.1.20:7777"
    note: str = ""  # why it cannot be joined ("protocol 5", "other rules"); "" when it can
    selected: bool = False


@dataclass
class StartView:
    """One frame of the start screen, as strings: ``render_start.StartRenderer`` only paints it."""

    player_name: str
    rows: list[StartRow] = field(default_factory=list)  # the visible window of the list
    games_found: int = 0
    more_above: int = 0  # rows scrolled off the top / bottom
    more_below: int = 0
    searching: str = SEARCHING_TEXT  # shown when there are no rows
    host_line: tuple[str, str] = HOST_KEY_TEXT
    message: str = ""  # the answer to the last key, e.g. why a game cannot be joined
    notice: str = ""  # a standing problem, e.g. discovery unavailable
    key_pairs: Sequence[tuple[str, str]] = KEY_PAIRS
    help_lines: list[str] = field(default_factory=list)  # the overlay, shown when not empty


class StartScreen:
    """The start screen's state and rules; no pygame, no clock, no sockets."""

    def __init__(self, player_name: str = "", discovery_port: int = 0, notice: str = "",
                 protocol_version: int = PROTOCOL_VERSION,
                 rules_prefix: str = RULES_HASH[:RULES_PREFIX_CHARS]) -> None:
        self.player_name = player_name
        self.discovery_port = discovery_port
        self.notice = notice
        self.protocol_version, self.rules_prefix = protocol_version, rules_prefix
        self.games: list[FoundGame] = []
        self.selected_id: int | None = None  # the chosen game's server id: stays put as the list moves
        self.top = 0  # the first visible row
        self.message = ""
        self.show_help = False
        self.choice: Choice | None = None

    # --- the list ------------------------------------------------------------------------------

    @property
    def selected(self) -> int | None:
        """The chosen game's index in ``games``, or None when the list is empty."""
        for index, game in enumerate(self.games):
            if game.server_id == self.selected_id:
                return index
        return None

    def update(self, games: Sequence[FoundGame]) -> None:
        """The browser's newest list. The selection follows its server; if that server has gone,
        it moves to the game now in the same place (or the last one), never off the list."""
        before = self.selected
        self.games = list(games)
        if self.selected is None:
            if not self.games:
                self.selected_id = None
            else:
                index = min(before if before is not None else 0, len(self.games) - 1)
                self.selected_id = self.games[index].server_id
        self._scroll()

    def _select(self, index: int) -> None:
        self.selected_id = self.games[index].server_id
        self._scroll()

    def _scroll(self) -> None:
        index = self.selected or 0
        self.top = min(self.top, index)
        self.top = max(self.top, index - MAX_VISIBLE_ROWS + 1)
        self.top = max(0, min(self.top, len(self.games) - MAX_VISIBLE_ROWS))

    # --- the keys ------------------------------------------------------------------------------

    def act(self, action: str) -> Choice | None:
        """Apply one key's action (one of ``ACTIONS``); the choice once there is one."""
        if action not in ACTIONS:
            raise ValueError(f"unknown start screen action {action!r}; one of {', '.join(ACTIONS)}")
        if action == "help":
            self.show_help = not self.show_help
            return None
        self.message = ""
        if action in ("up", "down"):
            if self.games:
                index = self.selected or 0
                self._select(max(0, min(len(self.games) - 1, index + (1 if action == "down" else -1))))
        elif action == "join":
            self._join()
        elif action == "host":
            self.choice = Choice("host")
        else:
            self.choice = Choice("quit")
        return self.choice

    def _join(self) -> None:
        index = self.selected
        if index is None:
            self.message = "No game found yet to join: press H to host one here"
            return
        game = self.games[index]
        reason = why_not_joinable(game, self.protocol_version, self.rules_prefix)
        if reason == "other rules":
            self.message = f"Cannot join {printable(game.name)}: it plays other rules (another version of the game)"
        elif reason:
            self.message = (f"Cannot join {printable(game.name)}: it speaks protocol {game.protocol_version}, "
                            f"this client {self.protocol_version}")
        else:
            self.choice = Choice("join", game.host, game.port, game.name)

    def refuse(self, reason: str) -> None:
        """The chosen action could not be carried out (hosting failed): stay, and say why."""
        self.choice = None
        self.message = reason

    # --- one frame -----------------------------------------------------------------------------

    def view(self) -> StartView:
        selected = self.selected
        visible = self.games[self.top:self.top + MAX_VISIBLE_ROWS]
        rows = [StartRow(printable(g.name), f"{g.players}/{g.max_players}", f"{g.ping_ms:.1f} ms",
                         f"{g.host}:{g.port}", why_not_joinable(g, self.protocol_version, self.rules_prefix),
                         selected == self.top + i)
                for i, g in enumerate(visible)]
        return StartView(player_name=self.player_name, rows=rows, games_found=len(self.games),
                         more_above=self.top, more_below=max(0, len(self.games) - self.top - len(rows)),
                         message=self.message, notice=self.notice,
                         help_lines=help_lines(self.discovery_port) if self.show_help else [])


# --- the window loop ---------------------------------------------------------------------------

@dataclass
class StartOptions:
    player_name: str = ""
    fps: int = 60
    duration_s: float | None = None  # with no choice by then, quit (scripts, screenshots)
    screenshot_path: str | None = None  # saved when the screen is left by quitting
    discovery_port: int = 0
    notice: str = ""  # shown all the time, e.g. why discovery is unavailable


def run_start_screen(screen, browser: Browser | None, options: StartOptions,
                     host_game: Callable[[], str]) -> Choice:
    """Show the start screen in ``screen`` (an open pygame window) until the player chooses.

    ``browser`` may be None (discovery could not start: the list stays empty, H still hosts).
    ``host_game`` is called when H is pressed; it returns "" once the server is open, else the
    reason it could not be, which is shown while the screen stays up.
    """
    import pygame

    from . import controls
    from .render_start import StartRenderer

    clock = MonotonicClock()
    model = StartScreen(options.player_name, options.discovery_port, options.notice)
    renderer = StartRenderer(screen)
    frame_s = 1.0 / max(1, min(options.fps, START_FPS_MAX))
    start_s = clock.now()
    while model.choice is None:
        for event in pygame.event.get():
            if event.type == pygame.QUIT:
                model.act("quit")
            elif event.type == pygame.KEYDOWN and event.key in controls.START_KEYS:
                model.act(controls.START_KEYS[event.key])
            if model.choice is not None and model.choice.action == "host":
                error = host_game()
                if error:
                    model.refuse(error)
            if model.choice is not None:
                break
        now = clock.now()
        if browser is not None:
            browser.poll(now)
            model.update(browser.games(now))
        renderer.draw(model.view())
        pygame.display.flip()
        if model.choice is None and options.duration_s is not None and now - start_s >= options.duration_s:
            model.act("quit")
        if model.choice is None:
            _wait_for_next_frame(clock, browser, now + frame_s)
    if model.choice.action == "quit" and options.screenshot_path:
        pygame.image.save(screen, options.screenshot_path)
    return model.choice


def _wait_for_next_frame(clock: MonotonicClock, browser: Browser | None, deadline_s: float) -> None:
    """Sleep until ``deadline_s`` in the browser's socket, reading each reply as it arrives."""
    if browser is None:
        clock.sleep(deadline_s - clock.now())
        return
    while (now := clock.now()) < deadline_s:
        browser.transport.wait(deadline_s - now, now)
        browser.poll(clock.now())

