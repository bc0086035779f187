"""The renderer draws what the view says, where it says, without a real window.

Each test renders a hand-made ``FrameView`` off-screen (SDL's dummy video driver), saves it as
PNG, reloads it and checks pixels, so a renderer that silently drew nothing would fail.
"""
from __future__ import annotations

import copy
import os

# Before pygame is imported: no window, no sound device, so the tests run headless in CI.
os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ["SDL_AUDIODRIVER"] = "dummy"

import pygame  # noqa: E402
import pytest  # noqa: E402

from game.render import WALL_COLOUR, Renderer, load_palette  # noqa: E402
from game.sim import ARENA_H_PX, ARENA_W_PX, PLAYER_RADIUS_PX  # noqa: E402
from game.view import DrawnPlayer, FrameView, Ghost, NetGraph  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def _pygame_display():
    pygame.display.init()
    pygame.font.init()
    yield
    pygame.quit()


def _net_graph() -> NetGraph:
    n = 240
    return NetGraph(
        rtt_ms=[40.0 + (i % 30) for i in range(n)],
        snapshot_arrivals=[1 if i % 3 == 0 else 0 for i in range(n)],
        snapshot_losses=[1 if i % 47 == 0 else 0 for i in range(n)],
        corrections_px=[3.5 if i % 53 == 0 else 0.0 for i in range(n)],
        bytes_in_per_s=[9000.0 + 20 * i for i in range(n)],
        bytes_out_per_s=[2500.0 + (i % 10) * 10 for i in range(n)],
    )


def _view(with_ghosts: bool = True) -> FrameView:
    # Positions are clear of obstacles and overlays, so each centre pixel is the player's own.
    players = [
        DrawnPlayer(0, "alice", 500.0, 300.0, is_local=True),
        DrawnPlayer(1, "bob", 800.4, 420.0),
        DrawnPlayer(2, "carol", 1000.0, 250.0),
    ]
    ghosts = [Ghost(1, 830.0, 420.0), Ghost(2, 1000.0, 290.0)] if with_ghosts else []
    return FrameView(
        players=players,
        ghosts=ghosts,
        hud_lines=["RTT 42 ms", "tick 1234", "unacked inputs 3"],
        switches={"prediction": True, "reconciliation": True, "smoothing": False,
                  "interpolation": True},
        net_graph=_net_graph(),
    )


def _draw_and_reload(view: FrameView, path) -> pygame.Surface:
    surface = pygame.Surface((ARENA_W_PX, ARENA_H_PX))
    Renderer(surface).draw(view)
    pygame.image.save(surface, str(path))
    return pygame.image.load(str(path))


def _rgb(surface: pygame.Surface, x: int, y: int) -> tuple[int, int, int]:
    return tuple(surface.get_at((x, y)))[:3]


def test_players_walls_and_ghosts_are_drawn(tmp_path):
    view = _view()
    before = copy.deepcopy(view)
    image = _draw_and_reload(view, tmp_path / "frame.png")
    assert view == before, "the renderer must only read the view"

    palette = load_palette()
    for p in view.players:
        assert _rgb(image, round(p.x_px), round(p.y_px)) == palette[p.player_id % len(palette)]

    # One point on each border wall, and one inside an obstacle.
    for x, y in ((640, 8), (640, ARENA_H_PX - 8), (8, 360), (ARENA_W_PX - 8, 360), (640, 360)):
        assert _rgb(image, x, y) == WALL_COLOUR

    # The ghost outline shows: compare its right edge with the same frame drawn without ghosts.
    plain = _draw_and_reload(_view(with_ghosts=False), tmp_path / "plain.png")
    for g in view.ghosts:
        edge = (round(g.x_px) + PLAYER_RADIUS_PX - 1, round(g.y_px))
        assert _rgb(image, *edge) != _rgb(plain, *edge)


def test_help_and_status_overlays_change_the_centre(tmp_path):
    without = _draw_and_reload(_view(), tmp_path / "without.png")
    view = _view()
    view.status = "Connecting to 127.0.0.1:7777..."
    view.help_lines = ["F1  help", "P   prediction on/off", "R   reconciliation on/off", "Esc quit"]
    with_overlays = _draw_and_reload(view, tmp_path / "with.png")

    centre = pygame.Rect(0, 0, 300, 200)
    centre.center = (ARENA_W_PX // 2, ARENA_H_PX // 2)
    changed = sum(
        1
        for x in range(centre.left, centre.right, 2)
        for y in range(centre.top, centre.bottom, 2)
        if _rgb(without, x, y) != _rgb(with_overlays, x, y)
    )
    assert changed > 1000  # of 15000 sampled pixels: the panels darken nearly all of them
