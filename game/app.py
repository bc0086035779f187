"""The client's outer loops: a pygame window for people, a headless loop for bots and benchmarks.

Theory of operation: both loops do the same three things every frame: measure the frame time on
the monotonic clock, call ``GameClient.frame`` (network, fixed ticks, prediction, smoothing,
interpolation, time dilation) and show the result. The window samples the keyboard at each client tick,
renders with ``Renderer`` and plays the sounds the view asks for (``render_sounds.Sounds``,
silent without an audio device; M mutes); the headless loop asks a bot for input, paces itself to the same frame
rate with sleeps, and never imports pygame, so it runs on a machine with no display or sound. A
timed headless run releases the keys for its last ``SETTLE_S``, so every player ends at rest and
its final position can be compared exactly with the server's.

There is one window per run: ``open_window`` opens it, the start screen (``game.app_start``) may
use it first, and ``run_window`` then plays in it and closes it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from netcode.clock import MonotonicClock

from .bots import Bot
from .client import GameClient
from .view import FrameView

HUD_SMOOTHING = 0.1  # share of a new frame's rate in the displayed FPS (a steady number)
SETTLE_S = 1.0  # a timed bot run releases the keys for this long at the end, so it ends at rest
# (long enough to stop, and for the last inputs to leave even a deep input buffer)


@dataclass
class LoopOptions:
    fps: int = 60
    duration_s: float | None = None
    join_hint: str = ""  # shown on the HUD when hosting: how friends join (one HUD line per line)
    mute: bool = False  # start with sound off (M toggles it live)


def hud_lines(client: GameClient, fps: float, join_hint: str) -> list[str]:
    session, feel, facts = client.session, client.feel, client.last_facts
    now = feel.now
    if client.net.frame_sync is not None:
        return _frame_sync_hud(client, fps, join_hint)
    lines = [f"FPS {fps:4.0f}   RTT {session.conn.rtt_ms:5.1f} ms   server tick {max(0, session.newest_snapshot_tick)}"
             f"   players {len(session.roster)}",
             f"snapshot loss {session.snapshot_loss_pct():4.1f}%   in {session.rate_in.per_s(now) / 1000:5.1f} kB/s"
             f"   out {session.rate_out.per_s(now) / 1000:5.1f} kB/s"]
    delay_ms = facts.interp_delay_s * 1000 if facts else 0.0
    lines.append(f"unacked inputs {len(session.unacked):3d}   corrections {feel.corrections_px.count}"
                 f"   interp delay {delay_ms:5.1f} ms")
    if facts is not None:
        aim = "no aim" if facts.input_target_ms is None else f"aim {facts.input_target_ms:4.1f} ms"
        lines.append(f"input buffer {facts.input_lead_ms:5.1f} ms ({aim})   clock {facts.dilation_pct:+4.1f}%")
    lines.extend(join_hint.splitlines())
    lines.append("F1 help   G ghosts   N net graph   Esc quit")
    return lines


def _frame_sync_hud(client: GameClient, fps: float, join_hint: str) -> list[str]:
    """Frame sync's HUD: the mode, the input delay, rollbacks, and whom a stall is waiting for."""
    session, sync = client.session, client.net.frame_sync
    engine, now = sync.engine, client.feel.now
    lines = [f"FPS {fps:4.0f}   RTT {session.conn.rtt_ms:5.1f} ms   frame {max(0, engine.head)}"
             f" (confirmed {max(0, engine.confirmed)})   players {len(session.roster)}",
             f"{sync.mode}   input delay {engine.input_delay} frames ({engine.input_delay * 1000 * sync.tick_len_s:.0f} ms)"
             f"   in {session.rate_in.per_s(now) / 1000:5.1f} kB/s   out {session.rate_out.per_s(now) / 1000:5.1f} kB/s",
             f"rollbacks {engine.stats.rollbacks}   stalled frames {engine.stats.stall_frames}"
             f"   input to render {client.feel.input_to_render.mean:4.1f} frames"]
    if sync.stalled and sync.waiting:
        names = ", ".join(session.roster.get(pid, f"player {pid}") for pid in sync.waiting)
        lines.append(f"WAITING FOR {names}")
    lines.extend(join_hint.splitlines())
    lines.append("F1 help   N net graph   Esc quit")
    return lines


def run_headless(client: GameClient, bot: Bot, options: LoopOptions) -> None:
    """Play with a bot, no window, until the duration passes or the connection ends."""
    clock = MonotonicClock()
    start_s = last_s = clock.now()
    pacer = FramePacer(clock, options.fps, client.session.transport)
    settle_at_s = None if options.duration_s is None else start_s + options.duration_s - SETTLE_S
    while options.duration_s is None or last_s - start_s < options.duration_s:
        now = clock.now()
        settling = settle_at_s is not None and now >= settle_at_s
        client.frame(now, now - last_s, (lambda n, pos: 0) if settling else bot)
        last_s = now
        if client.finished:
            break
        pacer.wait_for_next_frame()


class FramePacer:
    """Frames on a fixed grid of deadlines (no drift), without bursts to catch up after a stall.

    Frame *n* is due at ``start + n / fps``. After a stall longer than a frame, the grid restarts
    from now instead of drawing the missed frames back to back: a frame drawn late is not worth
    drawing twice, and a burst would only skew the frame-time figures.
    """

    def __init__(self, clock: MonotonicClock, fps: int, transport: object) -> None:
        self.clock, self.frame_s, self.transport = clock, 1.0 / fps, transport
        self.start_s = clock.now()
        self.frames = 0

    def wait_for_next_frame(self) -> None:
        self.frames += 1
        now = self.clock.now()
        if now > self.start_s + (self.frames + 1) * self.frame_s:
            self.start_s, self.frames = now, 0
            return
        sleep_until(self.clock, self.start_s + self.frames * self.frame_s, self.transport)


def sleep_until(clock: MonotonicClock, deadline_s: float, transport: object) -> None:
    """Sleep until ``deadline_s``, waking to let the link conditioner send held datagrams on time.

    Without this, a datagram the conditioner holds for 47.3 ms would leave at the next frame,
    up to a frame later: jitter that a real network would not add.
    """
    next_due = getattr(transport, "next_send_due_s", lambda: None)
    while (now := clock.now()) < deadline_s:
        due_s = next_due()
        wake_s = deadline_s if due_s is None else min(deadline_s, max(due_s, now))
        clock.sleep(wake_s - now)
        if due_s is not None and due_s <= wake_s:
            transport.flush(clock.now())


@dataclass
class UiToggles:
    ghosts: bool = False
    net_graph: bool = False
    help: bool = False
    mouse_moved: bool = False  # this frame: the mouse aims for a while after it moves


def open_window(title: str):
    """Open the game's one pygame window (the arena's size); the start screen and the game share it."""
    if os.environ.get("SDL_VIDEODRIVER") == "dummy":  # a screen nobody sees: a speaker nobody hears
        os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame

    from .sim import ARENA_H_PX, ARENA_W_PX

    pygame.display.init()
    pygame.font.init()
    screen = pygame.display.set_mode((ARENA_W_PX, ARENA_H_PX))
    pygame.display.set_caption(title)
    return screen


def close_window() -> None:
    """Close the window (if open); safe to call twice."""
    import pygame

    pygame.quit()


def run_window(client: GameClient, options: LoopOptions, bot: Bot | None = None,
               screenshot_path: str | None = None, screen=None) -> None:
    """Play in a pygame window until Esc, the close button, or the duration passes.

    ``screen``: a window already open (the start screen's), played in as it is; else one is opened.
    Either way it is closed at the end.
    """
    if screen is None:
        screen = open_window(f"netcode arena: {client.options.name}")
    import pygame

    from .render import Renderer
    from .render_sounds import Sounds

    pygame.display.set_caption(f"netcode arena: {client.options.name}")
    sounds = Sounds.create(mute=options.mute)  # never raises: silent without an audio device
    if sounds.reason:
        print(f"sound off: {sounds.reason}", flush=True)
    try:
        _window_loop(client, options, bot, screen, Renderer(screen), screenshot_path, sounds)
    finally:
        close_window()


def _window_loop(client, options, bot, screen, renderer, screenshot_path, sounds) -> None:
    import pygame

    from . import controls

    clock = MonotonicClock()
    toggles = UiToggles()
    aim = controls.Aim()
    start_s = last_s = clock.now()
    pacer = FramePacer(clock, options.fps, client.session.transport)
    fps = float(options.fps)
    while True:
        if not _handle_events(client, toggles, sounds):
            break
        now = clock.now()
        dt_s = now - last_s
        last_s = now
        if dt_s > 0:
            fps += HUD_SMOOTHING * (1.0 / dt_s - fps)
        source = bot or _keyboard(client, aim, toggles.mouse_moved, now)
        view = client.frame(now, dt_s, source)
        for name in view.sounds:
            sounds.play(name)
        _decorate(view, client, toggles, fps, options.join_hint)
        renderer.draw(view)
        pygame.display.flip()
        if options.duration_s is not None and now - start_s >= options.duration_s:
            break
        pacer.wait_for_next_frame()
    if screenshot_path:
        pygame.image.save(screen, screenshot_path)


def _keyboard(client: GameClient, aim, mouse_moved: bool, now: float):
    """The input source for a person: keys, Space to fire, aimed by ``aim`` (mouse or facing)."""
    import pygame

    from . import controls

    pressed = pygame.key.get_pressed()
    client.show_scoreboard = bool(pressed[controls.SCOREBOARD_KEY])
    mouse = pygame.mouse.get_pos() if pygame.mouse.get_focused() else None
    drawn = client.last_facts.local_drawn if client.last_facts is not None else None
    client.aim = aim.update(now, controls.input_bits(pressed), mouse, mouse_moved, drawn)
    return lambda n, pos: controls.game_bits(pygame.key.get_pressed(), client.aim)


def _handle_events(client: GameClient, toggles: UiToggles, sounds) -> bool:
    """Apply key toggles; False when the player asked to quit."""
    import pygame

    from . import controls

    toggles.mouse_moved = False
    for event in pygame.event.get():
        if event.type == pygame.MOUSEMOTION:
            toggles.mouse_moved = True
        if event.type == pygame.QUIT or (event.type == pygame.KEYDOWN and event.key == pygame.K_ESCAPE):
            return False
        if event.type != pygame.KEYDOWN:
            continue
        if event.key in controls.TOGGLE_KEYS:
            client.switches.toggle(controls.TOGGLE_KEYS[event.key][0])
        elif event.key == controls.GHOSTS_KEY:
            toggles.ghosts = not toggles.ghosts
        elif event.key == controls.GRAPH_KEY:
            toggles.net_graph = not toggles.net_graph
        elif event.key == controls.HELP_KEY:
            toggles.help = not toggles.help
        elif event.key == controls.MUTE_KEY:
            sounds.toggle_mute()
    return True


def _decorate(view: FrameView, client: GameClient, toggles: UiToggles, fps: float, join_hint: str) -> None:
    from . import controls

    view.hud_lines = hud_lines(client, fps, join_hint)
    if not toggles.ghosts:
        view.ghosts = []
    view.net_graph = client.feel.graph if toggles.net_graph else None
    view.help_lines = controls.help_lines() if toggles.help else []
