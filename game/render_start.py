"""Paint the start screen (``game.app_start.StartView``): the games on the LAN, and the keys.

Theory of operation: like ``Renderer``, this only paints a view of plain strings and never changes
it. The background is the game's own arena, painted by ``Renderer`` from an empty ``FrameView``,
so the start screen already looks like the game it leads to; over it, one nearly opaque panel in
the HUD's style (the same fonts, the multiply-darkened panel with its border, keys in the help
overlay's key colour): the title, the list as a table, the line saying H hosts, the answer to the
last key, and the key line. F1's help is the game's help overlay: centred, key and description
columns. Text goes through the game's ``TextCache``; the list changes at most twice a second, so
almost every frame is cache hits.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import pygame

from .render import PANEL_BORDER, PANEL_DARKEN_HELP, STATUS_TEXT, TEXT, TEXT_DIM, Colour, Renderer, TextCache
from .sim import ARENA_H_PX, ARENA_W_PX
from .view import FrameView

if TYPE_CHECKING:  # annotations only: app_start imports this module when its window opens
    from .app_start import StartRow, StartView

KEY_COLOUR: Colour = STATUS_TEXT  # keys read as keys, as in the game's help overlay
SELECTED_BG: Colour = (48, 56, 84)
SELECTED_TEXT: Colour = (255, 255, 255)
HELP_BG: Colour = (10, 11, 16)  # the help covers the list: opaque, so rows do not show through
PANEL_W_PX = 920
PANEL_H_PX = 620
PAD_PX = 24
ROW_H_PX = 34
TABLE_ROWS = 8  # app_start.MAX_VISIBLE_ROWS: the table keeps this height, full or empty
MARKER_W_PX = 4
#: Column x offsets inside the panel's padding: name, players, ping, address.
COLUMNS = (("GAME", 16), ("PLAYERS", 400), ("PING", 520), ("ADDRESS", 640))


class StartRenderer:
    """Draws ``StartView``s onto the window (the arena's size)."""

    def __init__(self, surface: pygame.Surface) -> None:
        if not pygame.font.get_init():
            pygame.font.init()
        self.surface = surface
        self.arena = Renderer(surface)
        self.text = TextCache({
            "title": pygame.font.Font(None, 56),
            "head": pygame.font.Font(None, 30),
            "row": pygame.font.Font(None, 27),
            "hud": pygame.font.Font(None, 22),
            "small": pygame.font.Font(None, 18),
        })
        self.panel = pygame.Rect(0, 0, PANEL_W_PX, PANEL_H_PX)
        self.panel.center = (ARENA_W_PX // 2, ARENA_H_PX // 2)

    @property
    def table(self) -> pygame.Rect:
        """Where the rows go (tests look here)."""
        return pygame.Rect(self.panel.x + PAD_PX, self.panel.y + 150, self.panel.width - 2 * PAD_PX,
                           TABLE_ROWS * ROW_H_PX)

    def draw(self, view: StartView) -> None:
        self.arena.draw(FrameView())  # the arena, nothing on it
        _panel(self.surface, self.panel)
        left, right = self.panel.x + PAD_PX, self.panel.right - PAD_PX
        y = self.panel.y + PAD_PX
        self._put("title", "netcode arena", TEXT, left, y)
        if view.player_name:
            self._put_right("hud", f"you play as {view.player_name}", TEXT_DIM, right, y + 20)
        y += 62
        x = self._put("head", "Games on the LAN", TEXT, left, y)
        found = f"{view.games_found} found" if view.games_found else "searching"
        self._put("hud", found, TEXT_DIM, x + 14, y + 6)
        y += 40
        pygame.draw.line(self.surface, PANEL_BORDER, (left, y), (right, y))
        for label, dx in COLUMNS:
            self._put("small", label, TEXT_DIM, left + dx, y + 8)
        self._table(view)
        y = self.table.bottom + 18  # room for "N more below"
        pygame.draw.line(self.surface, PANEL_BORDER, (left, y), (right, y))
        key, description = view.host_line
        self._keyed("row", [(key, description)], left, y + 14)
        if view.message:
            self._put("hud", view.message, STATUS_TEXT, left, y + 54)
        if view.notice:
            self._put("hud", view.notice, TEXT_DIM, left, y + 80)
        self._key_line(view.key_pairs, self.panel.bottom - PAD_PX - self.text.line_px("hud"))
        if view.help_lines:
            self._help(view.help_lines)

    # --- the list ------------------------------------------------------------------------------

    def _table(self, view: StartView) -> None:
        table = self.table
        if not view.rows:
            label = self.text.get("head", view.searching, TEXT_DIM)
            self.surface.blit(label, label.get_rect(center=(table.centerx, table.y + 2 * ROW_H_PX)))
            return
        if view.more_above:
            self._put_right("small", f"{view.more_above} more above", TEXT_DIM, table.right, table.y - 18)
        for i, row in enumerate(view.rows):
            self._row(row, pygame.Rect(table.x, table.y + i * ROW_H_PX, table.width, ROW_H_PX))
        if view.more_below:
            self._put_right("small", f"{view.more_below} more below", TEXT_DIM, table.right, table.bottom + 3)

    def _row(self, row: StartRow, rect: pygame.Rect) -> None:
        colour = TEXT_DIM if row.note else (SELECTED_TEXT if row.selected else TEXT)
        if row.selected:
            self.surface.fill(SELECTED_BG, rect)
            self.surface.fill(KEY_COLOUR, (rect.x, rect.y, MARKER_W_PX, rect.height))
        text_y = rect.y + (rect.height - self.text.line_px("row")) // 2 + 1
        name_x = rect.x + COLUMNS[0][1]
        end = self._put("row", row.name, KEY_COLOUR if row.selected and not row.note else colour, name_x, text_y)
        if row.note:
            self._put("hud", f"({row.note}: cannot join)", TEXT_DIM, end + 10, text_y + 3)
        for text, (_, dx) in zip((row.players, row.ping, row.address), COLUMNS[1:]):
            self._put("row", text, colour, rect.x + dx, text_y)

    # --- keys and help -------------------------------------------------------------------------

    def _key_line(self, pairs: Sequence[tuple[str, str]], y: int) -> None:
        gap = 26
        width = sum(self._keyed_width("hud", key, desc) for key, desc in pairs) + gap * (len(pairs) - 1)
        x = self.panel.centerx - width // 2
        for key, desc in pairs:
            x = self._keyed("hud", [(key, desc)], x, y) + gap

    def _keyed_width(self, role: str, key: str, desc: str) -> int:
        return self.text.get(role, key, KEY_COLOUR).get_width() + self.text.get(role, "  " + desc, TEXT).get_width()

    def _keyed(self, role: str, pairs: Sequence[tuple[str, str]], x: int, y: int) -> int:
        for key, desc in pairs:
            x = self._put(role, key, KEY_COLOUR, x, y)
            x = self._put(role, "  " + desc, TEXT, x, y)
        return x

    def _help(self, lines: Sequence[str]) -> None:
        """The game's help overlay: "key  description" rows in two aligned columns; lines without
        a wide gap are notes, in the dim colour."""
        rows = [_split(line) for line in lines]
        key_w = max((self.text.get("hud", k, KEY_COLOUR).get_width() for k, d in rows if d), default=0)
        desc_x = key_w + 12
        widths = [desc_x + self.text.get("hud", d, TEXT).get_width() if d
                  else self.text.get("hud", k, TEXT_DIM).get_width() for k, d in rows]
        line_px = self.text.line_px("hud") + 2
        pad = 18
        box = pygame.Rect(0, 0, max(widths) + 2 * pad, line_px * len(rows) + 2 * pad)
        box.center = self.panel.center
        self.surface.fill(HELP_BG, box)
        pygame.draw.rect(self.surface, PANEL_BORDER, box, 1)
        for i, (key, desc) in enumerate(rows):
            y = box.y + pad + i * line_px
            if desc:
                self._put("hud", key, KEY_COLOUR, box.x + pad, y)
                self._put("hud", desc, TEXT, box.x + pad + desc_x, y)
            else:
                self._put("hud", key, TEXT_DIM, box.x + pad, y)

    def _put_right(self, role: str, text: str, colour: Colour, right: int, y: int) -> None:
        surf = self.text.get(role, text, colour)
        self.surface.blit(surf, (right - surf.get_width(), y))

    def _put(self, role: str, text: str, colour: Colour, x: int, y: int) -> int:
        """Blit one string; its right edge."""
        if not text:
            return x
        surf = self.text.get(role, text, colour)
        self.surface.blit(surf, (x, y))
        return x + surf.get_width()


def _split(line: str) -> tuple[str, str]:
    """``"F1  show help"`` -> ``("F1", "show help")``; a line with no wide gap is a note: ``(line, "")``.
    Keys are short, so a gap further in than 12 characters belongs to a note (a command to type)."""
    gap = line.find("  ")
    if gap < 0 or gap > 12 or not line[:gap].strip():
        return line, ""
    return line[:gap], line[gap:].strip()


def _panel(surface: pygame.Surface, rect: pygame.Rect) -> None:
    """The help overlay's panel: darken what is under it nearly to black, then outline it."""
    surface.fill(PANEL_DARKEN_HELP, rect, special_flags=pygame.BLEND_RGB_MULT)
    pygame.draw.rect(surface, PANEL_BORDER, rect, 1)

