"""The netcode lab's window: its keys, its real-time loop, and its two modes.

Theory of operation
-------------------
One process, one window. The model (``game.lab.Lab``: the real server and two real clients over
an in-memory network, each client behind its own link conditioner) is stepped by the monotonic
clock, through ``LabTime`` so that Space can stop time. Each frame: apply the key presses, run one
lab step (the server's due ticks, then a frame of each client), draw, and sleep until the next
frame. The sleep wakes early whenever the lab has work due (a server tick, a datagram a
conditioner releases), so the server ticks at its own rate and packets leave on time, as they
would with a separate server process, instead of in bursts at frame boundaries.

* ``panels``: client 1, the server's truth and client 2 side by side, packet strips between.
  Each client has its own key set (switches, link, ghosts, net graph); see ``KEY_SETS``.
* ``compare``: client 1's frame drawn four ways from the same facts (``Lab.compare_views``);
  client 2 is a bot, by default a pusher, so pushes cause corrections worth looking at. The
  switch keys are left out here so that the fourth view stays "everything on".

Keys are given by name (``pygame.key.key_code``), so the table, the legend and the help overlay
are one piece of data, and this module imports pygame only once the window is wanted.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable

from netcode.clock import MonotonicClock
from netcode.conditioner import LinkSettings
from netcode.switches import NAMES as SWITCH_NAMES
from netcode.switches import Switches

from .bots import Bot, make_bot
from .lab import Lab, LabSetup, LabTime, Trails, nudged
from .sim import DOWN, LEFT, RIGHT, UP

MODES = ("panels", "compare")
COMPARE_DEFAULT_BOT = "pusher"  # it shoves whoever else is a pusher: corrections to look at
LINK_LABELS = {"lag_ms": "lag", "jitter_ms": "jitter", "loss_pct": "loss"}


@dataclass(frozen=True)
class KeySet:
    """One client's keys, by pygame key name."""

    move_label: str
    move: dict[int, str]  # input bit -> key
    switches: tuple[str, ...]  # one per ``netcode.switches.NAMES``, in order
    link: dict[str, tuple[str, str]]  # link field -> (more, less)
    ghosts: str
    graph: str


KEY_SETS = (
    KeySet("WASD", {UP: "w", DOWN: "s", LEFT: "a", RIGHT: "d"}, ("1", "2", "3", "4", "5", "6"),
           {"lag_ms": ("r", "f"), "jitter_ms": ("t", "g"), "loss_pct": ("y", "h")}, "c", "v"),
    KeySet("arrows", {UP: "up", DOWN: "down", LEFT: "left", RIGHT: "right"}, ("7", "8", "9", "0", "-", "="),
           {"lag_ms": ("u", "j"), "jitter_ms": ("i", "k"), "loss_pct": ("o", "l")}, "m", "n"),
)
HELP_KEY, PAUSE_KEY, QUIT_KEY, TRAILS_KEY, CLOSE_UP_KEY = "f1", "space", "escape", "x", "z"


@dataclass
class LabOptions:
    mode: str = "panels"
    link: LinkSettings = field(default_factory=LinkSettings)  # the starting link of both clients
    net_seed: int = 1
    bot: str | None = None  # client 1 (the client compare mode shows)
    lab_bot: str | None = None  # client 2
    seed: int = 1  # for the random bot
    fps: int = 60
    duration_s: float | None = None
    screenshot_path: str | None = None
    switches: dict[str, bool] = field(default_factory=dict)  # starting switches of both clients
    smooth_ms: float = 100.0
    interp_ms: float | None = None

    def bot_names(self) -> tuple[str | None, str | None]:
        second = self.lab_bot or (COMPARE_DEFAULT_BOT if self.mode == "compare" else None)
        return self.bot, second


def _label(key: str) -> str:
    return key.upper() if len(key) == 1 else key.capitalize()


def _pair(keys: tuple[str, str]) -> str:
    return "/".join(_label(k) for k in keys)


# --- what the keys are, in words -----------------------------------------------------------------


def legend_rows(options: LabOptions) -> list[list[tuple[str, str]]]:
    """The on-screen legend: per client, ``(key, what it does)`` pairs."""
    rows = []
    for index, (keys, bot) in enumerate(zip(KEY_SETS, options.bot_names())):
        if options.mode == "compare" and index == 1:
            break
        row = [("", f"client {index + 1}:"), ("", f"bot {bot} plays") if bot else (keys.move_label, "move")]
        if options.mode == "panels":
            row.append((" ".join(_label(k) for k in keys.switches), "switches"))
        row += [(_pair(pair), f"{LINK_LABELS[name]} +/-") for name, pair in keys.link.items()]
        row.append((_label(keys.ghosts), "ghosts"))
        if options.mode == "panels":
            row.append((_label(keys.graph), "net graph"))
        else:
            row += [(_label(TRAILS_KEY), "trails"), (_label(CLOSE_UP_KEY), "close-up / whole arena")]
        rows.append(row)
    return rows


def help_text(options: LabOptions) -> tuple[list[str], list[list[str]]]:
    """The F1 overlay: what is on screen, then the keys in columns (two spaces split key and meaning)."""
    if options.mode == "panels":
        intro = ["Left and right: each client's own screen, drawn by the game's renderer.",
                 "Middle: the server's world as it is, and how each client's inputs reach it.",
                 "Strips: every datagram on that client's link, moving at its real delay:",
                 "squares are inputs, dots snapshots, a red cross a loss, a doubled mark a duplicate.",
                 "Outlines (ghosts): where the newest snapshot puts each player."]
    else:
        intro = ["One client's frame, four ways, from the same snapshots and inputs.",
                 "Dots trail each player one frame apart: even dots are smooth motion,",
                 "bunched dots are steps at the snapshot rate, a gap is a jump.",
                 "Outlines (ghosts): where the newest snapshot puts each player."]
    columns = [_client_help(index, keys, options.mode) for index, keys in
               enumerate(KEY_SETS[:2 if options.mode == "panels" else 1])]
    general = []
    if options.mode == "compare":
        general += [f"{_label(TRAILS_KEY)}  trails: one dot per frame",
                    f"{_label(CLOSE_UP_KEY)}  close-up, or the whole arena"]
    general += [f"{_label(PAUSE_KEY)}  pause: packets freeze mid-flight", f"{_label(HELP_KEY)}  this help",
                "Esc  quit"]
    return intro, columns + [general]


def _client_help(index: int, keys: KeySet, mode: str) -> list[str]:
    who = f"client {index + 1}"
    lines = [f"{keys.move_label}  move {who} (unless a bot plays)"]
    if mode == "panels":
        lines += [f"{_label(key)}  {who}: {name.replace('_', ' ')}" for key, name in zip(keys.switches, SWITCH_NAMES)]
    lines += [f"{_pair(pair)}  {who}: {LINK_LABELS[name]} up / down" for name, pair in keys.link.items()]
    lines.append(f"{_label(keys.ghosts)}  {who}: ghosts (newest snapshot)")
    if mode == "panels":
        lines.append(f"{_label(keys.graph)}  {who}: net graph")
    return lines


# --- the window ----------------------------------------------------------------------------------


def run_lab(options: LabOptions) -> int:
    """Open the lab window and run it until Esc, the close button, or the duration passes."""
    if options.mode not in MODES:
        raise ValueError(f"unknown lab mode {options.mode!r}; choose from {', '.join(MODES)}")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")  # we have no sound; keep SDL quiet about it
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame

    from .render_lab import COMPARE_WINDOW_H_PX, PANELS_WINDOW_H_PX, WINDOW_W_PX

    pygame.display.init()
    pygame.font.init()
    height = PANELS_WINDOW_H_PX if options.mode == "panels" else COMPARE_WINDOW_H_PX
    screen = pygame.display.set_mode((WINDOW_W_PX, height))
    pygame.display.set_caption(f"netcode lab: {options.mode}")
    try:
        _run(screen, options)
    finally:
        pygame.quit()
    return 0


def _run(screen, options: LabOptions) -> None:
    from .render_lab import LabRenderer

    clock = MonotonicClock()
    time = LabTime()
    switches = Switches(**options.switches)
    setup = LabSetup(link=options.link, net_seed=options.net_seed, smooth_ms=options.smooth_ms,
                     interp_ms=options.interp_ms, switches=lambda: Switches(**switches.as_dict()))
    lab = Lab(time.now(clock.now()), setup)
    ui = _make_ui(options)
    loop = _Loop(clock, time, lab, LabRenderer(screen), ui, options)
    try:
        loop.run()
    except KeyboardInterrupt:
        pass  # Ctrl-C in the terminal: still save the screenshot and leave politely
    if options.screenshot_path:
        import pygame

        pygame.image.save(screen, options.screenshot_path)
    lab.close(time.now(clock.now()))


def _make_ui(options: LabOptions):
    from .render_lab import ClientUi, LabUi

    clients = []
    for keys, bot in zip(KEY_SETS, options.bot_names()):
        clients.append(ClientUi(control=f"bot {bot}" if bot else keys.move_label,
                                switch_keys=tuple(_label(k) for k in keys.switches) if options.mode == "panels" else (),
                                link_keys={name: _pair(pair) for name, pair in keys.link.items()}))
    intro, columns = help_text(options)
    return LabUi(options.mode, clients, legend_rows(options), intro, columns)


def _keyboard_source(keys: KeySet) -> Bot:
    """Input bits from this client's own movement keys, sampled at each of its ticks."""
    import pygame

    codes = {bit: pygame.key.key_code(name) for bit, name in keys.move.items()}

    def source(n: int, pos) -> int:
        pressed = pygame.key.get_pressed()
        bits = 0
        for bit, code in codes.items():
            if pressed[code]:
                bits |= bit
        return bits

    return source


class _Loop:
    def __init__(self, clock: MonotonicClock, time: LabTime, lab: Lab, renderer, ui, options: LabOptions) -> None:
        self.clock, self.time, self.lab, self.renderer, self.ui, self.options = clock, time, lab, renderer, ui, options
        self.sources = [make_bot(bot, options.seed + i) if bot else _keyboard_source(keys)
                        for i, (keys, bot) in enumerate(zip(KEY_SETS, options.bot_names()))]
        self.trails = Trails(4)
        self.actions = self._key_actions()

    def run(self) -> None:
        import pygame

        start_s = self.clock.now()
        frames = 0
        while self._handle_events():
            real_s = self.clock.now()
            if not self.time.paused:
                self.lab.step(self.time.now(real_s), self.sources)
            self._draw()
            pygame.display.flip()
            if self.options.duration_s is not None and real_s - start_s >= self.options.duration_s:
                break
            frames += 1
            self._wait_for_frame(start_s + frames / self.options.fps)  # deadline-based: no drift

    def _draw(self) -> None:
        now = self.time.now(self.clock.now())
        if self.options.mode == "panels":
            self.renderer.draw_panels(self.lab, self.ui, now)
            return
        views = self.lab.compare_views(0)
        if not self.time.paused:
            self.trails.add(views)
        self.renderer.draw_compare(self.lab, 0, views, [self.trails.of(i) for i in range(len(views))], self.ui, now)

    def _wait_for_frame(self, deadline_s: float) -> None:
        """Sleep until the next frame, waking on time for each server tick and held datagram."""
        while (real_s := self.clock.now()) < deadline_s:
            wake_s = deadline_s
            if not self.time.paused:
                wake_s = min(deadline_s, max(real_s, self.time.real(self.lab.next_due_s())))
            self.clock.sleep(wake_s - real_s)
            if not self.time.paused:
                self.lab.pump(self.time.now(self.clock.now()))

    # --- keys ----------------------------------------------------------------------------------

    def _handle_events(self) -> bool:
        """Run the action of each key pressed; False when asked to quit."""
        import pygame

        for event in pygame.event.get():
            if event.type == pygame.QUIT:
                return False
            if event.type != pygame.KEYDOWN:
                continue
            if event.key == pygame.key.key_code(QUIT_KEY):
                return False
            action = self.actions.get(event.key)
            if action is not None:
                action()
        return True

    def _key_actions(self) -> dict[int, Callable[[], None]]:
        import pygame

        actions: dict[str, Callable[[], None]] = {HELP_KEY: self._toggle_help, PAUSE_KEY: self._toggle_pause}
        shown = KEY_SETS if self.options.mode == "panels" else KEY_SETS[:1]
        for index, keys in enumerate(shown):
            actions.update(self._client_actions(index, keys))
        if self.options.mode == "compare":
            actions[TRAILS_KEY] = self._toggle_trails
            actions[CLOSE_UP_KEY] = self._toggle_close_up
        return {pygame.key.key_code(name): action for name, action in actions.items()}

    def _client_actions(self, index: int, keys: KeySet) -> dict[str, Callable[[], None]]:
        client_ui = self.ui.clients[index]
        actions: dict[str, Callable[[], None]] = {keys.ghosts: lambda: _flip(client_ui, "ghosts")}
        if self.options.mode == "panels":
            actions[keys.graph] = lambda: _flip(client_ui, "graph")
            switches = self.lab.clients[index].switches
            for key, name in zip(keys.switches, SWITCH_NAMES):
                actions[key] = lambda name=name: switches.toggle(name)
        for name, (more, less) in keys.link.items():
            actions[more] = lambda name=name: self._nudge(index, name, +1)
            actions[less] = lambda name=name: self._nudge(index, name, -1)
        return actions

    def _nudge(self, index: int, name: str, presses: int) -> None:
        self.lab.set_link(index, nudged(self.lab.clients[index].link, name, presses))

    def _toggle_help(self) -> None:
        _flip(self.ui, "help")

    def _toggle_pause(self) -> None:
        self.time.toggle(self.clock.now())
        self.ui.paused = self.time.paused

    def _toggle_trails(self) -> None:
        _flip(self.ui, "trails")

    def _toggle_close_up(self) -> None:
        _flip(self.ui, "close_up")


def _flip(target: object, name: str) -> None:
    setattr(target, name, not getattr(target, name))
