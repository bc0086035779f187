"""Tag's marks: who is it, shields, boosts, pickups, beams, the round and the scoreboard.

Theory of operation
-------------------
Like the net graph painter, this draws parts of a ``FrameView`` for ``Renderer`` and imports
nothing from it: the renderer hands in its surface, text cache and panel helper. It only reads
the view.

Where each piece sits in the renderer's layers, back to front:

* pickups lie on the arena floor, under every player;
* each player's glow (boost) and bubble (shield) go under its body, its rings (it, shield,
  immune) over it, in the same pass as the body, so a ring is never hidden by its own body;
* the aim line and the beams with their hit markers go over the players: they are feedback on a
  shot just fired. A beam is drawn from the edge of the shooter's body, not its centre;
* the "IT" badge sits above the name and is drawn with the names, last of the world, so neither
  a neighbour nor a hit marker covers it;
* the round line goes top right (the HUD holds the top left, the event feed the top centre, the
  technique switches and the net graph the bottom), then the scoreboard and the round banner in
  the centre, under only the help and the status banner.

Marks differ in shape as well as colour (a solid ring for it, a dotted one for immune, a bubble
for a shield; a ring with a tick for a confirmed hit, an X for a rejected one), so they read at a
glance, and also for players who cannot tell red from green.

A beam's line fades out over ``BEAM_HOLD_S + BEAM_FADE_S`` of its ``age_s``. Its hit marker
stays longer (``MARKER_HOLD_S + MARKER_FADE_S``): the server's verdict arrives a round trip after
the shot, and must still be seen when it turns the marker green or red. Translucent shapes are
drawn into a small alpha layer the size of the shape and blitted; the shapes that never change
(boost glow, shield bubble, immune dots) are built once and only blitted.
"""
from __future__ import annotations

import math
from typing import Callable, Protocol, Sequence

import pygame

from game.sim import ARENA_H_PX, ARENA_W_PX, PLAYER_RADIUS_PX
from game.view import Beam, DrawnPickup, DrawnPlayer, ScoreRow

Colour = tuple[int, int, int]
Point = tuple[int, int]
Darken = Callable[..., None]  # (surface, rect, faded=False, factor=...): the renderer's translucent panel


class TextSource(Protocol):
    def get(self, role: str, text: str, colour: Colour) -> pygame.Surface: ...

    def line_px(self, role: str) -> int: ...


# --- colours ---------------------------------------------------------------------------------

IT_COLOUR: Colour = (255, 96, 32)  # orange-red: the one mark everybody must see first
IT_BADGE_TEXT: Colour = (255, 255, 255)
SHIELD_RING: Colour = (120, 185, 255)
SHIELD_BUBBLE: Colour = (70, 140, 255)
BOOST_GLOW: Colour = (255, 210, 60)
IMMUNE_DOTS: Colour = (235, 240, 255)
PICKUP_BOOST: Colour = (255, 214, 60)
PICKUP_BOOST_EDGE: Colour = (120, 80, 0)
PICKUP_SHIELD: Colour = (70, 140, 255)
PICKUP_SHIELD_RING: Colour = (175, 210, 255)
BEAM_COLOURS: dict[str, Colour] = {
    "miss": (150, 154, 166),  # grey: nothing crossed on our screen
    "hit": (255, 240, 170),  # pale yellow: we think we hit, the server has not said
    "confirmed": (90, 230, 110),
    "rejected": (245, 70, 60),
}
MARKER_HIT: Colour = (255, 255, 255)
MARKER_CONFIRMED: Colour = (90, 230, 110)
MARKER_REJECTED: Colour = (245, 70, 60)
MARKER_OUTLINE: Colour = (0, 0, 0)  # markers sit on bodies of any colour; a dark edge keeps them apart
AIM_COLOUR: Colour = (230, 232, 240)
ROUND_TEXT: Colour = (225, 228, 235)
BANNER_TEXT: Colour = (255, 215, 90)
SCORE_TEXT: Colour = (225, 228, 235)
SCORE_HEADER: Colour = (140, 146, 162)
LOCAL_ROW_TEXT: Colour = (255, 255, 255)
# The scoreboard and banner are read over a busy arena: darker than the HUD, so nothing shows through.
BOARD_DARKEN: Colour = (35, 35, 35)
LOCAL_ROW_ADD: Colour = (42, 46, 70)  # added to the darkened panel: a lighter stripe under our row
LOCAL_ROW_BAR: Colour = (255, 255, 255)

# --- sizes -----------------------------------------------------------------------------------

R = PLAYER_RADIUS_PX
IT_RING_RADIUS_PX = R + 9  # outside the local player's white ring (R + 4), so both show
IT_RING_W_PX = 4
SHIELD_RING_RADIUS_PX = R + 13  # outside the it ring: a player can carry both
SHIELD_RING_W_PX = 2
SHIELD_BUBBLE_ALPHA = 70
BOOST_GLOW_RADIUS_PX = R + 16  # reaches past an it ring, so a boosted it still glows
BOOST_GLOW_ALPHA = 150  # at the body's edge, fading to nothing at the glow's rim
IMMUNE_RING_RADIUS_PX = R + 8
IMMUNE_DOT_COUNT = 12
IMMUNE_DOT_RADIUS_PX = 2
IMMUNE_ALPHA = 190  # subtle: immunity is a detail, "it" is the headline
BADGE_PAD_PX = 4
PICKUP_RADIUS_PX = 11  # smaller than a body (16) and never a plain disc, so never taken for one
BEAM_START_PX = IT_RING_RADIUS_PX + 1  # only an it shoots: beams leave from outside its it ring
BEAM_CORE_W_PX = 2
BEAM_GLOW_W_PX = 7
BEAM_GLOW_ALPHA = 80
BEAM_HOLD_S = 0.1
BEAM_FADE_S = 0.3
MARKER_HOLD_S = 0.7
MARKER_FADE_S = 0.3
MARKER_REACH_PX = R + 26  # half the side of a marker's layer: room for the tick badge
AIM_DASH_PX = 7
AIM_GAP_PX = 5
AIM_ALPHA = 110
AIM_START_PX = IT_RING_RADIUS_PX + 2  # dashes start outside our own rings
SCORE_MIN_W_PX = 300
SCORE_COL_GAP_PX = 18


def fade_alpha(age_s: float, hold_s: float, fade_s: float) -> int:
    """255 while ``age_s <= hold_s``, then linearly down to 0 at ``hold_s + fade_s``."""
    if age_s <= hold_s:
        return 255
    left = 1.0 - (age_s - hold_s) / fade_s
    return max(0, round(255 * left))


def _layer(centre: tuple[float, float], reach_px: int) -> tuple[pygame.Surface, pygame.Rect, Point]:
    """A transparent square layer around ``centre``: the layer, its place, the centre in it."""
    rect = pygame.Rect(0, 0, 2 * reach_px, 2 * reach_px)
    rect.center = (round(centre[0]), round(centre[1]))
    return pygame.Surface(rect.size, pygame.SRCALPHA), rect, (reach_px, reach_px)


def _segment_layer(a: tuple[float, float], b: tuple[float, float],
                   pad_px: int) -> tuple[pygame.Surface, pygame.Rect, Point, Point]:
    """A transparent layer just big enough for the segment a-b: the layer, its place, a and b in it."""
    ax, ay, bx, by = round(a[0]), round(a[1]), round(b[0]), round(b[1])
    rect = pygame.Rect(min(ax, bx) - pad_px, min(ay, by) - pad_px,
                       abs(ax - bx) + 2 * pad_px + 1, abs(ay - by) + 2 * pad_px + 1)
    return (pygame.Surface(rect.size, pygame.SRCALPHA), rect,
            (ax - rect.x, ay - rect.y), (bx - rect.x, by - rect.y))


def _leave_body(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float] | None:
    """Where the segment a-b leaves the shooter's body at ``a``; None if it never does.
    A beam drawn from the centre would paint a stripe across our own body and rings."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    length = math.hypot(dx, dy)
    if length <= BEAM_START_PX:
        return None
    return a[0] + dx * BEAM_START_PX / length, a[1] + dy * BEAM_START_PX / length


def _thick_lines(surface: pygame.Surface, colour: Colour, segments: Sequence[tuple[Point, Point]],
                 width_px: int) -> None:
    """Lines with a dark edge and round ends, so they read on any body colour and on the floor.
    Every edge goes down before any colour, so a crossing is not cut by its partner's edge."""
    for c, w in ((MARKER_OUTLINE, width_px + 2), (colour, width_px)):
        for a, b in segments:
            pygame.draw.line(surface, c, a, b, w)
            for end in (a, b):
                pygame.draw.circle(surface, c, end, w // 2)


class TagPainter:
    """Draws the tag game's marks for ``Renderer``; keeps only sprites that never change."""

    def __init__(self, surface: pygame.Surface, text: TextSource, darken: Darken,
                 margin_px: int, pad_px: int) -> None:
        self._surface = surface
        self._text = text
        self._darken = darken
        self._margin_px = margin_px
        self._pad_px = pad_px
        self._glow = self._build_glow()
        self._bubble = self._build_bubble()
        self._immune = self._build_immune_dots()

    # --- sprites, built once -----------------------------------------------------------------

    @staticmethod
    def _build_glow() -> pygame.Surface:
        # Concentric discs, outermost first and faintest: a soft yellow halo without a blur pass.
        reach = BOOST_GLOW_RADIUS_PX
        sprite = pygame.Surface((2 * reach, 2 * reach), pygame.SRCALPHA)
        for radius in range(reach, R - 1, -2):
            share = (reach - radius) / (reach - R)
            alpha = round(BOOST_GLOW_ALPHA * share)
            pygame.draw.circle(sprite, (*BOOST_GLOW, alpha), (reach, reach), radius)
        return sprite

    @staticmethod
    def _build_bubble() -> pygame.Surface:
        reach = SHIELD_RING_RADIUS_PX
        sprite = pygame.Surface((2 * reach, 2 * reach), pygame.SRCALPHA)
        pygame.draw.circle(sprite, (*SHIELD_BUBBLE, SHIELD_BUBBLE_ALPHA), (reach, reach), reach)
        return sprite

    @staticmethod
    def _build_immune_dots() -> pygame.Surface:
        reach = IMMUNE_RING_RADIUS_PX + IMMUNE_DOT_RADIUS_PX
        sprite = pygame.Surface((2 * reach, 2 * reach), pygame.SRCALPHA)
        for k in range(IMMUNE_DOT_COUNT):
            angle = 2 * math.pi * k / IMMUNE_DOT_COUNT
            dot = (reach + round(IMMUNE_RING_RADIUS_PX * math.cos(angle)),
                   reach + round(IMMUNE_RING_RADIUS_PX * math.sin(angle)))
            pygame.draw.circle(sprite, (*IMMUNE_DOTS, IMMUNE_ALPHA), dot, IMMUNE_DOT_RADIUS_PX)
        return sprite

    def _blit_centred(self, sprite: pygame.Surface, centre: Point) -> None:
        self._surface.blit(sprite, sprite.get_rect(center=centre))

    # --- the floor and the players -----------------------------------------------------------

    def draw_pickups(self, pickups: Sequence[DrawnPickup]) -> None:
        for pickup in pickups:
            centre = (round(pickup.x_px), round(pickup.y_px))
            if pickup.kind == "boost":
                self._draw_boost_pickup(centre)
            elif pickup.kind == "shield":
                self._draw_shield_pickup(centre)

    def _draw_boost_pickup(self, centre: Point) -> None:
        """A yellow diamond with a dark lightning bolt in it."""
        x, y = centre
        r = PICKUP_RADIUS_PX + 2  # a diamond covers half its box: a little larger to match the disc
        diamond = [(x, y - r), (x + r, y), (x, y + r), (x - r, y)]
        pygame.draw.polygon(self._surface, PICKUP_BOOST, diamond)
        pygame.draw.polygon(self._surface, PICKUP_BOOST_EDGE, diamond, 1)
        bolt = [(x + 2, y - 7), (x - 4, y + 1), (x, y + 1), (x - 2, y + 7), (x + 4, y - 1), (x, y - 1)]
        pygame.draw.polygon(self._surface, PICKUP_BOOST_EDGE, bolt)

    def _draw_shield_pickup(self, centre: Point) -> None:
        """A blue disc inside a light ring, with a gap between: a body is one solid disc."""
        pygame.draw.circle(self._surface, PICKUP_SHIELD, centre, PICKUP_RADIUS_PX - 4)
        pygame.draw.circle(self._surface, PICKUP_SHIELD_RING, centre, PICKUP_RADIUS_PX, 2)

    def draw_under_body(self, player: DrawnPlayer, centre: Point) -> None:
        """Halos that belong behind the body: the boost glow and the shield bubble."""
        if player.boosted:
            self._blit_centred(self._glow, centre)
        if player.shield:
            self._blit_centred(self._bubble, centre)

    def draw_over_body(self, player: DrawnPlayer, centre: Point) -> None:
        """Rings around the body: it (solid, thick), shield (thin, outermost), immune (dotted)."""
        if player.it:
            pygame.draw.circle(self._surface, IT_COLOUR, centre, IT_RING_RADIUS_PX, IT_RING_W_PX)
        if player.shield:
            pygame.draw.circle(self._surface, SHIELD_RING, centre, SHIELD_RING_RADIUS_PX, SHIELD_RING_W_PX)
        if player.immune:
            self._blit_centred(self._immune, centre)

    def draw_it_badge(self, centre_x: int, bottom_px: int) -> None:
        """A small "IT" tag whose bottom edge is at ``bottom_px``, centred on ``centre_x``."""
        label = self._text.get("badge", "IT", IT_BADGE_TEXT)
        badge = label.get_rect().inflate(2 * BADGE_PAD_PX, 2)
        badge.midbottom = (centre_x, bottom_px)
        pygame.draw.rect(self._surface, IT_COLOUR, badge, border_radius=4)
        self._surface.blit(label, label.get_rect(center=badge.center))

    # --- shots -------------------------------------------------------------------------------

    def draw_aim(self, local: DrawnPlayer | None, aim_px: tuple[float, float] | None) -> None:
        """A faint dashed line from our body's edge to where the beam would end."""
        if local is None or aim_px is None:
            return
        dx, dy = aim_px[0] - local.x_px, aim_px[1] - local.y_px
        length = math.hypot(dx, dy)
        if length <= AIM_START_PX:
            return
        ux, uy = dx / length, dy / length
        layer, rect, _, end = _segment_layer((local.x_px, local.y_px), aim_px, 4)
        ox, oy = local.x_px - rect.x, local.y_px - rect.y
        step = AIM_DASH_PX + AIM_GAP_PX
        for start in range(AIM_START_PX, int(length), step):
            stop = min(start + AIM_DASH_PX, length)
            pygame.draw.line(layer, AIM_COLOUR, (round(ox + ux * start), round(oy + uy * start)),
                             (round(ox + ux * stop), round(oy + uy * stop)), 2)
        pygame.draw.circle(layer, AIM_COLOUR, end, 3, 1)
        layer.set_alpha(AIM_ALPHA)
        self._surface.blit(layer, rect)

    def draw_beams(self, beams: Sequence[Beam]) -> None:
        """Lines first, then every marker, so a newer line never hides an older verdict."""
        for beam in beams:
            self._draw_beam_line(beam)
        for beam in beams:
            if beam.target_px is not None and beam.state != "miss":
                self._draw_marker(beam)

    def _draw_beam_line(self, beam: Beam) -> None:
        alpha = fade_alpha(beam.age_s, BEAM_HOLD_S, BEAM_FADE_S)
        if alpha == 0:
            return
        colour = BEAM_COLOURS.get(beam.state, BEAM_COLOURS["miss"])
        start = _leave_body((beam.x0_px, beam.y0_px), (beam.x1_px, beam.y1_px))
        if start is None:
            return
        layer, rect, a, b = _segment_layer(start, (beam.x1_px, beam.y1_px), BEAM_GLOW_W_PX)
        # A wide faint stroke under a thin bright one: the beam glows without hiding what it crosses.
        pygame.draw.line(layer, (*colour, BEAM_GLOW_ALPHA), a, b, BEAM_GLOW_W_PX)
        pygame.draw.line(layer, colour, a, b, BEAM_CORE_W_PX)
        pygame.draw.circle(layer, colour, b, 3)  # the end dot shows the beam's reach
        layer.set_alpha(alpha)
        self._surface.blit(layer, rect)

    def _draw_marker(self, beam: Beam) -> None:
        alpha = fade_alpha(beam.age_s, MARKER_HOLD_S, MARKER_FADE_S)
        if alpha == 0 or beam.target_px is None:
            return
        layer, rect, c = _layer(beam.target_px, MARKER_REACH_PX)
        if beam.state == "confirmed":
            _paint_confirmed(layer, c)
        elif beam.state == "rejected":
            _paint_rejected(layer, c)
        else:
            _paint_pending(layer, c)
        layer.set_alpha(alpha)
        self._surface.blit(layer, rect)

    # --- the round ---------------------------------------------------------------------------

    def round_line_rect(self, text: str) -> pygame.Rect:
        """Where the round line's panel goes: top right, the one corner no other overlay uses."""
        surf = self._text.get("title", text, ROUND_TEXT)
        panel = surf.get_rect().inflate(2 * self._pad_px, 2 * self._pad_px)
        panel.topright = (ARENA_W_PX - self._margin_px, self._margin_px)
        return panel

    def draw_round_line(self, text: str, faded: bool) -> None:
        """Round and clock; ``faded`` when a player is under the panel, like the HUD."""
        panel = self.round_line_rect(text)
        self._darken(self._surface, panel, faded)
        surf = self._text.get("title", text, ROUND_TEXT)
        self._surface.blit(surf, surf.get_rect(center=panel.center))

    def draw_banner(self, text: str, above: pygame.Rect | None) -> None:
        """The intermission's big centred line; just above ``above`` (the scoreboard) if given."""
        surf = self._text.get("banner", text, BANNER_TEXT)
        panel = surf.get_rect().inflate(6 * self._pad_px, 4 * self._pad_px)
        panel.center = (ARENA_W_PX // 2, ARENA_H_PX // 2)
        if above is not None:
            panel.bottom = max(above.top - self._pad_px, self._margin_px + panel.height)
        self._darken(self._surface, panel, factor=BOARD_DARKEN)
        self._surface.blit(surf, surf.get_rect(center=panel.center))

    def draw_scoreboard(self, rows: Sequence[ScoreRow]) -> pygame.Rect | None:
        """Rank, name (with an IT tag), score and wins, best first; our row lit. Returns the panel."""
        if not rows:
            return None
        cells = [(f"{i}.", row.name, str(row.score), str(row.wins)) for i, row in enumerate(rows, 1)]
        header = ("#", "Player", "Score", "Wins")
        widths = self._column_widths([header, *cells], any(row.it for row in rows))
        row_h = self._text.line_px("hud") + 6
        title = self._text.get("title", "Scores", SCORE_TEXT)
        pad = 3 * self._pad_px
        width = max(SCORE_MIN_W_PX, sum(widths) + SCORE_COL_GAP_PX * 3 + 2 * pad)
        panel = pygame.Rect(0, 0, width, title.get_height() + row_h * (len(rows) + 1) + 2 * pad + 4)
        panel.center = (ARENA_W_PX // 2, ARENA_H_PX // 2)
        self._darken(self._surface, panel, factor=BOARD_DARKEN)
        self._surface.blit(title, title.get_rect(midtop=(panel.centerx, panel.y + pad)))
        lefts = self._column_lefts(panel, widths, pad)
        y = panel.y + pad + title.get_height() + 4
        self._score_row(header, lefts, widths, y, row_h, SCORE_HEADER)
        for row, row_cells in zip(rows, cells):
            y += row_h
            if row.is_local:
                self._light_row(pygame.Rect(panel.x + 2, y, panel.width - 4, row_h))
            self._score_row(row_cells, lefts, widths, y, row_h, LOCAL_ROW_TEXT if row.is_local else SCORE_TEXT)
            if row.it:
                name_w = self._text.get("hud", row.name, SCORE_TEXT).get_width()
                self.draw_it_badge(lefts[1] + name_w + 8 + self._badge_w() // 2, y + row_h - 3)
        return panel

    def _badge_w(self) -> int:
        return self._text.get("badge", "IT", IT_BADGE_TEXT).get_width() + 2 * BADGE_PAD_PX

    def _column_widths(self, table: Sequence[Sequence[str]], room_for_badge: bool) -> list[int]:
        widths = [max(self._text.get("hud", cells[i], SCORE_TEXT).get_width() for cells in table)
                  for i in range(4)]
        if room_for_badge:
            widths[1] += 8 + self._badge_w()
        return widths

    def _column_lefts(self, panel: pygame.Rect, widths: Sequence[int], pad: int) -> list[int]:
        # Rank and name hug the left; score and wins hug the right, so wide panels stay balanced.
        right = panel.right - pad
        wins_left = right - widths[3]
        score_left = wins_left - SCORE_COL_GAP_PX - widths[2]
        rank_left = panel.x + pad
        return [rank_left, rank_left + widths[0] + SCORE_COL_GAP_PX, score_left, wins_left]

    def _score_row(self, cells: Sequence[str], lefts: Sequence[int], widths: Sequence[int],
                   y: int, row_h: int, colour: Colour) -> None:
        for i, text in enumerate(cells):
            surf = self._text.get("hud", text, colour)
            # Numbers (rank, score, wins) align right in their column, so digits line up.
            x = lefts[i] if i == 1 else lefts[i] + widths[i] - surf.get_width()
            self._surface.blit(surf, (x, y + (row_h - surf.get_height()) // 2))

    def _light_row(self, rect: pygame.Rect) -> None:
        self._surface.fill(LOCAL_ROW_ADD, rect, special_flags=pygame.BLEND_RGB_ADD)
        self._surface.fill(LOCAL_ROW_BAR, pygame.Rect(rect.x, rect.y, 3, rect.height))


# --- hit markers, painted into a layer centred on the target ---------------------------------


def _paint_pending(layer: pygame.Surface, c: Point) -> None:
    """A white cross-hair: the hit is ours to see, not yet the server's word."""
    x, y = c
    pygame.draw.circle(layer, MARKER_OUTLINE, c, R + 7, 4)
    pygame.draw.circle(layer, MARKER_HIT, c, R + 6, 2)
    ticks = [((x + dx * (R + 1), y + dy * (R + 1)), (x + dx * (R + 12), y + dy * (R + 12)))
             for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1))]
    _thick_lines(layer, MARKER_HIT, ticks, 2)


def _paint_confirmed(layer: pygame.Surface, c: Point) -> None:
    """A green ring with a tick badge: the server agrees. The ring clears an it ring (the target
    is it now); the badge sits on its right, where the name above is not."""
    x, y = c
    pygame.draw.circle(layer, MARKER_OUTLINE, c, R + 15, 6)
    pygame.draw.circle(layer, MARKER_CONFIRMED, c, R + 14, 4)
    badge = (x + R + 14, y)
    pygame.draw.circle(layer, MARKER_OUTLINE, badge, 10)
    pygame.draw.circle(layer, MARKER_CONFIRMED, badge, 9)
    bx, by = badge
    pygame.draw.lines(layer, MARKER_OUTLINE, False, [(bx - 5, by), (bx - 1, by + 4), (bx + 5, by - 4)], 3)


def _paint_rejected(layer: pygame.Surface, c: Point) -> None:
    """A red X across the target: the server says we missed."""
    x, y = c
    reach = R + 6
    _thick_lines(layer, MARKER_REJECTED, [((x - reach, y - reach), (x + reach, y + reach)),
                                          ((x - reach, y + reach), (x + reach, y - reach))], 5)
