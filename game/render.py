"""Turn one ``FrameView`` into pixels.

Theory of operation
-------------------
The renderer is the last, dumbest step of a frame. The client loop has already decided *where*
everything is (predicted, smoothed, interpolated positions in float pixels) and put it in a
``FrameView``; ``Renderer.draw`` only paints that view and never changes it. So it can be tested
with a hand-made view, and nothing in it can affect the simulation.

Layers, back to front: the arena (walls and obstacles, the same ``game.sim`` rectangles the
simulation collides with), pickups, player bodies with their tag marks, ghosts (outlines of where
the server says a player is), the aim line and beams, names, then the overlays: HUD, event feed,
technique switches, net graph, round line, scoreboard and round banner, help and the status
banner. Ghosts sit above bodies on purpose: the gap between a body and its ghost *is* the lesson
(prediction error, interpolation delay), so it must stay visible even when they overlap. The tag
game's own marks (who is it, shields, boosts, pickups, beams, the round and the scores) are
painted by ``game.render_tag``; this module decides only where in the layers they go.

Speed: a frame must cost well under 5 ms with 16 players on a small machine. Three things keep it
cheap. The arena never changes, so it is drawn once into a surface of the target's pixel format
and blitted whole each frame. Text rasterising is the slowest call we make, so rendered strings
are cached by (font, text, colour); names repeat every frame and hit the cache. Translucent
panels are a multiply-blend fill on the target, which darkens what is under them without
allocating an alpha surface each frame.

Colours for players come from ``assets/palette.json`` (a list of ``[r, g, b]``), indexed by
``player_id`` modulo its length, so a player keeps one colour on every client.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import pygame

from game.sim import (ARENA_H_PX, ARENA_W_PX, OBSTACLES, PLAYER_RADIUS_PX, SUBPX, WALL_PX, WALLS,
                      Rect)
from game.render_netgraph import NET_GRAPH_W_PX, NetGraphPainter
from game.render_tag import TagPainter
from game.view import DrawnPlayer, FrameView, Ghost

Colour = tuple[int, int, int]

PALETTE_PATH = Path(__file__).resolve().parent.parent / "assets" / "palette.json"
MIN_PALETTE_SIZE = 16

BACKGROUND: Colour = (18, 20, 28)
GRID: Colour = (25, 28, 38)
GRID_STEP_PX = 40  # a faint grid lets the eye see motion and jitter against a fixed reference
WALL_COLOUR: Colour = (64, 72, 92)
WALL_EDGE: Colour = (96, 106, 132)
LOCAL_RING: Colour = (255, 255, 255)
TEXT: Colour = (225, 228, 235)
TEXT_DIM: Colour = (140, 146, 162)
SHADOW: Colour = (0, 0, 0)
SWITCH_ON: Colour = (90, 225, 110)
SWITCH_OFF: Colour = (120, 124, 136)
STATUS_TEXT: Colour = (255, 225, 140)
PANEL_BORDER: Colour = (72, 78, 100)
# Multiply-blend factors for translucent panels: each channel becomes value * factor / 255.
PANEL_DARKEN: Colour = (70, 70, 70)
# Spawn points sit under the HUD and the net graph; a panel over a player fades so it stays seen.
PANEL_DARKEN_FADED: Colour = (140, 140, 140)
# The help is read, not glanced at: nearly opaque, so obstacles don't show through the text.
PANEL_DARKEN_HELP: Colour = (30, 30, 30)

GHOST_ALPHA = 170  # ghosts are lighter and see-through: a hint, not a body
GHOST_LIGHTEN = 0.35  # share of white mixed into a ghost's colour
MARGIN_PX = WALL_PX + 8  # overlays sit inside the border walls
PAD_PX = 6
TEXT_CACHE_MAX = 512



def load_palette(path: Path = PALETTE_PATH) -> list[Colour]:
    """Read the player palette; fail loudly at start-up rather than draw invisible players."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(raw, list) or len(raw) < MIN_PALETTE_SIZE:
        raise ValueError(f"{path}: need a list of at least {MIN_PALETTE_SIZE} [r, g, b] colours")
    palette: list[Colour] = []
    for entry in raw:
        if not (isinstance(entry, list) and len(entry) == 3
                and all(isinstance(c, int) and 0 <= c <= 255 for c in entry)):
            raise ValueError(f"{path}: bad colour {entry!r}, want [r, g, b] with 0..255 integers")
        palette.append((entry[0], entry[1], entry[2]))
    return palette


def player_colour(palette: Sequence[Colour], player_id: int) -> Colour:
    return palette[player_id % len(palette)]


def rect_to_px(r: Rect) -> pygame.Rect:
    """Convert a fixed-point simulation rectangle to a pixel rectangle."""
    return pygame.Rect(r.x0 // SUBPX, r.y0 // SUBPX, (r.x1 - r.x0) // SUBPX, (r.y1 - r.y0) // SUBPX)


def _split_columns(line: str) -> tuple[str, str]:
    """``"F1   toggle help"`` -> ``("F1", "toggle help")``; a line without a wide gap is all key."""
    gap = line.find("  ")
    if gap < 0 or not line[:gap].strip():
        return line, ""
    return line[:gap], line[gap:].strip()


def _covers_a_player(rect: pygame.Rect, players: Sequence[DrawnPlayer]) -> bool:
    reach = PLAYER_RADIUS_PX + 4  # body plus the local ring
    size = 2 * reach
    return any(rect.colliderect(p.x_px - reach, p.y_px - reach, size, size) for p in players)


def _local_player(players: Sequence[DrawnPlayer]) -> DrawnPlayer | None:
    return next((p for p in players if p.is_local), None)


def _lighten(colour: Colour, share: float) -> Colour:
    r, g, b = (round(c + (255 - c) * share) for c in colour)
    return (r, g, b)


def _darken_panel(surface: pygame.Surface, rect: pygame.Rect, faded: bool = False,
                  factor: Colour = PANEL_DARKEN) -> None:
    """A translucent dark panel: darken what is underneath, then outline it."""
    surface.fill(PANEL_DARKEN_FADED if faded else factor, rect, special_flags=pygame.BLEND_RGB_MULT)
    pygame.draw.rect(surface, PANEL_BORDER, rect, 1)


class TextCache:
    """Rendered strings keyed by (font role, text, colour).

    Names and labels repeat every frame, so most lookups are hits. HUD numbers change often, so
    the dict is bounded; when full it is simply emptied, which costs one re-render per string.
    """

    def __init__(self, fonts: dict[str, pygame.font.Font]) -> None:
        self.fonts = fonts
        self._surfaces: dict[tuple[str, str, Colour], pygame.Surface] = {}

    def get(self, role: str, text: str, colour: Colour) -> pygame.Surface:
        key = (role, text, colour)
        surf = self._surfaces.get(key)
        if surf is None:
            if len(self._surfaces) >= TEXT_CACHE_MAX:
                self._surfaces.clear()
            surf = self._render(role, text, colour)
            self._surfaces[key] = surf
        return surf

    def line_px(self, role: str) -> int:
        return self.fonts[role].get_linesize()

    def _render(self, role: str, text: str, colour: Colour) -> pygame.Surface:
        font = self.fonts[role]
        if role != "name":
            return font.render(text, True, colour)
        # Names float over anything (walls, other players), so give them a dark outline.
        front = font.render(text, True, colour)
        back = font.render(text, True, SHADOW)
        surf = pygame.Surface((front.get_width() + 2, front.get_height() + 2), pygame.SRCALPHA)
        for dx, dy in ((0, 1), (2, 1), (1, 0), (1, 2)):
            surf.blit(back, (dx, dy))
        surf.blit(front, (1, 1))
        return surf


def _render_arena(target: pygame.Surface) -> pygame.Surface:
    """Draw the static arena once, in the target's pixel format so the per-frame blit is a copy."""
    arena = pygame.Surface((ARENA_W_PX, ARENA_H_PX), 0, target)
    arena.fill(BACKGROUND)
    for x in range(GRID_STEP_PX, ARENA_W_PX, GRID_STEP_PX):
        pygame.draw.line(arena, GRID, (x, 0), (x, ARENA_H_PX - 1))
    for y in range(GRID_STEP_PX, ARENA_H_PX, GRID_STEP_PX):
        pygame.draw.line(arena, GRID, (0, y), (ARENA_W_PX - 1, y))
    for solid in WALLS + OBSTACLES:
        arena.fill(WALL_COLOUR, rect_to_px(solid))
    for obstacle in OBSTACLES:
        pygame.draw.rect(arena, WALL_EDGE, rect_to_px(obstacle), 1)  # edges read as raised blocks
    return arena


class Renderer:
    """Draws ``FrameView``s onto one surface (the 1280x720 window, same size as the arena)."""

    def __init__(self, surface: pygame.Surface) -> None:
        if not pygame.font.get_init():
            pygame.font.init()  # lets tests and tools build a renderer without pygame.init()
        self._surface = surface
        self._palette = load_palette()
        fonts = {
            "hud": pygame.font.Font(None, 22),
            "name": pygame.font.Font(None, 20),
            "small": pygame.font.Font(None, 18),
            "banner": pygame.font.Font(None, 40),
            "title": pygame.font.Font(None, 28),
            "badge": pygame.font.Font(None, 18),
        }
        fonts["badge"].set_bold(True)  # two letters on a small tag must still read at a glance
        self._line_px = {role: font.get_linesize() + 2 for role, font in fonts.items()}
        self._text = TextCache(fonts)
        self._arena = _render_arena(surface)
        self._ghost_sprites: dict[Colour, pygame.Surface] = {}
        self._graph = NetGraphPainter(surface, self._text, _darken_panel,
                                      right_px=ARENA_W_PX - MARGIN_PX, bottom_px=ARENA_H_PX - MARGIN_PX, pad_px=PAD_PX)
        self._tag = TagPainter(surface, self._text, _darken_panel, margin_px=MARGIN_PX, pad_px=PAD_PX)

    @property
    def palette(self) -> list[Colour]:
        return list(self._palette)

    def colour_of(self, player_id: int) -> Colour:
        return player_colour(self._palette, player_id)

    def draw(self, view: FrameView) -> None:
        """Paint one frame. Reads ``view`` only."""
        self._surface.blit(self._arena, (0, 0))
        self._tag.draw_pickups(view.pickups)
        self._draw_bodies(view.players)
        self._draw_ghosts(view.ghosts)
        self._tag.draw_aim(_local_player(view.players), view.aim_px)
        self._tag.draw_beams(view.beams)
        self._draw_names(view.players)  # after the hit markers: a marker's ring must not hide a name
        self._draw_hud(view.hud_lines, view.players)
        self._draw_messages(view.messages, view.players)
        self._draw_switches(view.switches, view.net_graph is not None)
        if view.net_graph is not None:
            self._graph.draw(view.net_graph, _covers_a_player(self._graph.panel, view.players))
        self._draw_round(view)
        help_rect = self._draw_help(view.help_lines) if view.help_lines else None
        if view.status:
            self._draw_status(view.status, help_rect)

    # --- the world ---------------------------------------------------------------------------

    def _draw_bodies(self, players: Sequence[DrawnPlayer]) -> None:
        # The local player goes last so it is never hidden under a remote one.
        for p in sorted(players, key=lambda p: p.is_local):
            centre = (round(p.x_px), round(p.y_px))
            self._tag.draw_under_body(p, centre)
            pygame.draw.circle(self._surface, self.colour_of(p.player_id), centre, PLAYER_RADIUS_PX)
            if p.is_local:
                pygame.draw.circle(self._surface, LOCAL_RING, centre, PLAYER_RADIUS_PX + 4, 2)
            self._tag.draw_over_body(p, centre)

    def _draw_ghosts(self, ghosts: Sequence[Ghost]) -> None:
        offset = PLAYER_RADIUS_PX + 1
        for g in ghosts:
            sprite = self._ghost_sprite(self.colour_of(g.player_id))
            self._surface.blit(sprite, (round(g.x_px) - offset, round(g.y_px) - offset))

    def _ghost_sprite(self, colour: Colour) -> pygame.Surface:
        """A 2 px outline, lighter and see-through; built once per colour, then only blitted."""
        sprite = self._ghost_sprites.get(colour)
        if sprite is None:
            size = 2 * PLAYER_RADIUS_PX + 2
            sprite = pygame.Surface((size, size), pygame.SRCALPHA)
            rgba = (*_lighten(colour, GHOST_LIGHTEN), GHOST_ALPHA)
            pygame.draw.circle(sprite, rgba, (size // 2, size // 2), PLAYER_RADIUS_PX, 2)
            self._ghost_sprites[colour] = sprite
        return sprite

    def _draw_names(self, players: Sequence[DrawnPlayer]) -> None:
        # Names are drawn after every body so a neighbour's circle never covers them.
        for p in players:
            label = self._text.get("name", p.name, self.colour_of(p.player_id))
            bottom = round(p.y_px) - PLAYER_RADIUS_PX - 6
            left = round(p.x_px) - label.get_width() // 2
            self._surface.blit(label, (left, bottom - label.get_height()))
            if p.it:
                self._tag.draw_it_badge(round(p.x_px), bottom - label.get_height())

    # --- overlays ----------------------------------------------------------------------------

    def _text_block(self, lines: Sequence[str], role: str,
                    colour: Colour) -> tuple[list[pygame.Surface], int, int]:
        """Rendered lines plus the block's width and height (for sizing a panel)."""
        surfs = [self._text.get(role, line, colour) for line in lines]
        width = max((s.get_width() for s in surfs), default=0)
        return surfs, width, self._line_px[role] * len(surfs)

    def _blit_lines(self, surfs: Sequence[pygame.Surface], x: int, y: int, role: str) -> None:
        for i, surf in enumerate(surfs):
            self._surface.blit(surf, (x, y + i * self._line_px[role]))

    def _draw_hud(self, lines: Sequence[str], players: Sequence[DrawnPlayer]) -> None:
        if not lines:
            return
        surfs, width, height = self._text_block(lines, "hud", TEXT)
        panel = pygame.Rect(MARGIN_PX, MARGIN_PX, width + 2 * PAD_PX, height + 2 * PAD_PX)
        _darken_panel(self._surface, panel, _covers_a_player(panel, players))
        self._blit_lines(surfs, panel.x + PAD_PX, panel.y + PAD_PX, "hud")

    def _draw_messages(self, lines: Sequence[str], players: Sequence[DrawnPlayer]) -> None:
        """The event feed (joins, leaves), centred at the top."""
        if not lines:
            return
        surfs, width, height = self._text_block(lines, "hud", STATUS_TEXT)
        panel = pygame.Rect(0, MARGIN_PX, width + 2 * PAD_PX, height + 2 * PAD_PX)
        panel.centerx = ARENA_W_PX // 2
        _darken_panel(self._surface, panel, _covers_a_player(panel, players))
        for i, surf in enumerate(surfs):
            self._surface.blit(surf, (ARENA_W_PX // 2 - surf.get_width() // 2,
                                      panel.y + PAD_PX + i * self._line_px["hud"]))

    def _draw_switches(self, switches: dict[str, bool], graph_shown: bool) -> None:
        """One chip per technique, left to right, wrapping upward before the net graph."""
        right_limit = ARENA_W_PX - MARGIN_PX
        if graph_shown:
            right_limit -= NET_GRAPH_W_PX + PAD_PX
        chip_h = self._line_px["small"] + PAD_PX
        x, y = MARGIN_PX, ARENA_H_PX - MARGIN_PX - chip_h
        for name, on in switches.items():
            label = self._text.get("small", name.replace("_", " "), TEXT)
            state = self._text.get("small", "ON" if on else "off", SWITCH_ON if on else SWITCH_OFF)
            chip_w = label.get_width() + state.get_width() + 3 * PAD_PX
            if x + chip_w > right_limit and x > MARGIN_PX:
                x, y = MARGIN_PX, y - chip_h - 4
            chip = pygame.Rect(x, y, chip_w, chip_h)
            _darken_panel(self._surface, chip)
            text_y = y + (chip_h - label.get_height()) // 2
            self._surface.blit(label, (x + PAD_PX, text_y))
            self._surface.blit(state, (x + 2 * PAD_PX + label.get_width(), text_y))
            x += chip_w + 4

    def _draw_round(self, view: FrameView) -> None:
        """Round line top right; scoreboard and banner centred, the banner above the scoreboard."""
        if view.round_line:
            panel = self._tag.round_line_rect(view.round_line)
            self._tag.draw_round_line(view.round_line, _covers_a_player(panel, view.players))
        board = self._tag.draw_scoreboard(view.scoreboard)
        if view.round_banner:
            self._tag.draw_banner(view.round_banner, board)

    def _draw_help(self, lines: Sequence[str]) -> pygame.Rect:
        """Centred help. A run of two or more spaces splits a line into key and description
        columns, aligned, because the default font is proportional."""
        rows = [_split_columns(line) for line in lines]
        keys = [self._text.get("hud", key, STATUS_TEXT) for key, _ in rows]
        descs = [self._text.get("hud", desc, TEXT) for _, desc in rows]
        key_w = max((k.get_width() for k, (_, d) in zip(keys, rows) if d), default=0)
        desc_x = key_w + 2 * PAD_PX if key_w else 0
        width = max(desc_x + d.get_width() if desc else k.get_width()
                    for k, d, (_, desc) in zip(keys, descs, rows))
        pad = 3 * PAD_PX  # a roomier panel: this one is read, not glanced at
        panel = pygame.Rect(0, 0, width + 2 * pad, self._line_px["hud"] * len(rows) + 2 * pad)
        panel.center = (ARENA_W_PX // 2, ARENA_H_PX // 2)
        _darken_panel(self._surface, panel, factor=PANEL_DARKEN_HELP)
        for i, (key, desc) in enumerate(zip(keys, descs)):
            y = panel.y + pad + i * self._line_px["hud"]
            self._surface.blit(key, (panel.x + pad, y))
            self._surface.blit(desc, (panel.x + pad + desc_x, y))
        return panel

    def _draw_status(self, status: str, help_rect: pygame.Rect | None) -> None:
        text = self._text.get("banner", status, STATUS_TEXT)
        panel = text.get_rect().inflate(4 * PAD_PX, 3 * PAD_PX)
        panel.center = (ARENA_W_PX // 2, ARENA_H_PX // 2)
        if help_rect is not None:
            # Both centred would overlap; the banner moves just above the help panel.
            panel.bottom = max(help_rect.top - PAD_PX, MARGIN_PX + panel.height)
        _darken_panel(self._surface, panel)
        self._surface.blit(text, text.get_rect(center=panel.center))
