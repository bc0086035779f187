"""Drawing the netcode lab: each client's own screen, the server's truth, and the packets between.

Theory of operation
-------------------
Every picture of the world is painted by the game's own ``Renderer`` onto one off-screen
1280x720 surface (the arena's size, so the renderer works exactly as in the game) and then
scaled into its panel. So a client panel is what that client's window would show, and the
server panel is the same renderer fed the true positions. Text scaled down that far would be
unreadable, so the views are drawn without their HUD, chips and net graph, and the lab writes
those itself at the window's own resolution, around the panels: titles, each client's link and
figures, switch chips, a small net graph, the server's per-client lines and the key legend.

A packet strip sits between a client panel and the server panel. Inputs travel in its upper
lane toward the server, snapshots (and everything else the server sends) in the lower lane
toward the client, each mark at ``Packet.progress(now)`` of the way: a mark crawling across is
lag, marks bunching and spreading are jitter, a red cross fading half way is a loss, a doubled
mark is a duplicate. Each datagram gets a row by its serial number, so marks in flight sit on a
staircase instead of on top of each other.

Compare mode draws one client's four views through the same window on the arena (a close-up
that follows the local player with a dead zone, or the whole arena), with a trail of dots one
frame apart behind every player: stepping, smoothness and jumps then show even in a still.

The layouts are plain rectangles from ``panels_layout`` and ``compare_layout``, which the tests
use too, to look for colours where the panels and strips are.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import pygame

from netcode.feel import GRAPH_SAMPLES, NetGraph
from netcode.switches import NAMES as SWITCH_NAMES

from .lab import COMPARE_STAGES, LOST_FADE_S, Lab, LabClient, Packet, Point
from .render import (PANEL_BORDER, STATUS_TEXT, SWITCH_OFF, SWITCH_ON, TEXT, TEXT_DIM, Renderer, TextCache,
                     player_colour)
from .render_netgraph import ARRIVAL_COLOUR, CORRECTION_COLOUR, LOSS_COLOUR, RTT_COLOUR
from .sim import ARENA_H_PX, ARENA_W_PX, PLAYER_RADIUS_PX
from .view import FrameView

Colour = tuple[int, int, int]

WINDOW_W_PX = 1800
PANELS_WINDOW_H_PX = 606
COMPARE_WINDOW_H_PX = 560
MARGIN_PX = 12
PANEL_W_PX = 512  # 0.4 of the arena: 512x288
PANEL_H_PX = PANEL_W_PX * ARENA_H_PX // ARENA_W_PX
PANEL_TOP_PX = 66  # below the window title and the panel titles
COMPARE_GAP_PX = 12
CLOSE_UP_PX = (640, 360)  # compare mode's close-up: half the arena each way, so twice the detail

WINDOW_BG: Colour = (10, 11, 16)
STRIP_BG: Colour = (16, 18, 26)
LANE_LINE: Colour = (44, 49, 66)
KEY_COLOUR: Colour = STATUS_TEXT  # key names, wherever they are shown
SNAPSHOT_MARK: Colour = (236, 238, 250)
OTHER_MARK: Colour = (150, 160, 190)  # handshake, roster, keep-alive, disconnect
LOST_MARK: Colour = (255, 60, 60)
TRAIL_LIGHTEN = 0.25
CHIP_BG: Colour = (28, 31, 42)
GRAPH_BG: Colour = (16, 18, 26)
HELP_BG: Colour = (14, 15, 22)

LANE_HEAD_PX = 22  # lane title above the marks
MARK_ROW_PX = 9
END_INSET_PX = 12
MARK_HALF_PX = 3
CHIP_COLUMNS = 3
CHIP_H_PX = 22
GRAPH_ROW_H_PX = 26
GRAPH_ROWS = 3
GRAPH_LABEL_W_PX = 185


@dataclass
class ClientUi:
    """How one client is controlled and what its panel shows; the app flips the toggles."""

    control: str  # "WASD", "arrows" or "bot zigzag"
    switch_keys: tuple[str, ...] = ()  # key label per switch, in ``netcode.switches.NAMES`` order
    link_keys: dict[str, str] = field(default_factory=dict)  # link field -> "R/F" (more/less)
    ghosts: bool = True
    graph: bool = True


@dataclass
class LabUi:
    mode: str  # "panels" or "compare"
    clients: list[ClientUi]
    legend: list[list[tuple[str, str]]]  # rows of (key, what it does)
    help_intro: list[str]  # the help overlay: plain lines on top,
    help_columns: list[list[str]]  # then columns of "key  description" lines
    help: bool = False
    paused: bool = False
    trails: bool = True  # compare mode
    close_up: bool = True  # compare mode: follow the local player instead of showing the whole arena


@dataclass(frozen=True)
class PanelsLayout:
    clients: tuple[pygame.Rect, pygame.Rect]  # left, right
    server: pygame.Rect
    strips: tuple[pygame.Rect, pygame.Rect]  # between client 1 and the server, the server and client 2


def panels_layout() -> PanelsLayout:
    strip_w = (WINDOW_W_PX - 2 * MARGIN_PX - 3 * PANEL_W_PX) // 2
    xs = [MARGIN_PX + i * (PANEL_W_PX + strip_w) for i in range(3)]
    panels = [pygame.Rect(x, PANEL_TOP_PX, PANEL_W_PX, PANEL_H_PX) for x in xs]
    strips = [pygame.Rect(p.right + 6, PANEL_TOP_PX, strip_w - 12, PANEL_H_PX) for p in panels[:2]]
    return PanelsLayout((panels[0], panels[2]), panels[1], (strips[0], strips[1]))


def compare_layout() -> list[pygame.Rect]:
    width = (WINDOW_W_PX - 2 * MARGIN_PX - 3 * COMPARE_GAP_PX) // 4
    height = width * ARENA_H_PX // ARENA_W_PX
    return [pygame.Rect(MARGIN_PX + i * (width + COMPARE_GAP_PX), PANEL_TOP_PX, width, height) for i in range(4)]


def _lerp(a: Colour, b: Colour, share: float) -> Colour:
    r, g, bl = (round(x + (y - x) * share) for x, y in zip(a, b))
    return (r, g, bl)


class LabRenderer:
    """Draws a ``Lab`` onto the window, in either mode; keeps only the close-up camera between frames."""

    def __init__(self, screen: pygame.Surface) -> None:
        if not pygame.font.get_init():
            pygame.font.init()
        self.screen = screen
        self.world = pygame.Surface((ARENA_W_PX, ARENA_H_PX), 0, screen)  # one canvas for every view
        self.renderer = Renderer(self.world)
        self.text = TextCache({"title": pygame.font.Font(None, 28), "text": pygame.font.Font(None, 21),
                               "small": pygame.font.Font(None, 18)})
        self._camera = pygame.Rect(0, 0, ARENA_W_PX, ARENA_H_PX)  # compare mode's close-up window

    def colour_of(self, player_id: int | None) -> Colour:
        return TEXT if player_id is None else player_colour(self.renderer.palette, player_id)

    # --- shared pieces -------------------------------------------------------------------------

    def _world_panel(self, view: FrameView, rect: pygame.Rect, crop: pygame.Rect | None = None) -> None:
        """Paint ``view`` with the game's renderer, full size, and scale it (or ``crop`` of it) into ``rect``."""
        self.renderer.draw(view)
        source = self.world if crop is None else self.world.subsurface(crop)
        pygame.transform.smoothscale(source, rect.size, self.screen.subsurface(rect))
        pygame.draw.rect(self.screen, PANEL_BORDER, rect.inflate(2, 2), 1)

    def _write(self, role: str, text: str, colour: Colour, x: int, y: int) -> int:
        """Blit one string; returns its right edge."""
        surf = self.text.get(role, text, colour)
        self.screen.blit(surf, (x, y))
        return x + surf.get_width()

    def _segments(self, role: str, parts: Iterable[tuple[str, Colour]], x: int, y: int) -> int:
        for text, colour in parts:
            x = self._write(role, text, colour, x, y)
        return x

    def _fitted(self, parts: Sequence[tuple[str, Colour]], x: int, y: int, width: int) -> None:
        """A line of coloured pieces in the text font, or the small one if it would not fit."""
        wide = sum(self.text.fonts["text"].size(text)[0] for text, _ in parts) > width
        self._segments("small" if wide else "text", parts, x, y + (2 if wide else 0))

    def _keyed_width(self, role: str, pairs: Sequence[tuple[str, str]], gap_px: int) -> int:
        widths = [self.text.get(role, k, KEY_COLOUR).get_width() + self.text.get(role, " " + d, TEXT).get_width()
                  for k, d in pairs]
        return sum(widths) + gap_px * (len(pairs) - 1)

    def _keyed_row(self, role: str, pairs: Sequence[tuple[str, str]], centre_x: int, y: int,
                   gap_px: int = 22) -> None:
        """``key description`` pairs on one centred line, keys in the key colour."""
        x = centre_x - self._keyed_width(role, pairs, gap_px) // 2
        for key, description in pairs:
            x = self._segments(role, [(key, KEY_COLOUR), (" " + description, TEXT)], x, y) + gap_px

    def _header(self, ui: LabUi, title: str) -> None:
        self._write("title", title, TEXT, MARGIN_PX, 10)
        pairs = [("F1", "help"), ("Space", "resume" if ui.paused else "pause"), ("Esc", "quit")]
        width = self._keyed_width("text", pairs, 22)
        self._keyed_row("text", pairs, WINDOW_W_PX - MARGIN_PX - width // 2, 14)
        if ui.paused:
            label = self.text.get("title", "PAUSED: time stands still, packets freeze mid-flight", STATUS_TEXT)
            self.screen.blit(label, label.get_rect(midtop=(WINDOW_W_PX // 2, 10)))

    def _legend(self, ui: LabUi) -> None:
        line_px = self.text.line_px("text") + 4
        bottom = self.screen.get_height() - MARGIN_PX
        for i, row in enumerate(ui.legend):
            self._keyed_row("text", row, WINDOW_W_PX // 2, bottom - (len(ui.legend) - i) * line_px)

    # --- panels mode ---------------------------------------------------------------------------

    def draw_panels(self, lab: Lab, ui: LabUi, now: float) -> None:
        self.screen.fill(WINDOW_BG)
        layout = panels_layout()
        self._header(ui, "netcode lab: two real clients and the real server in one process")
        for lab_client, rect, client_ui in zip(lab.clients, layout.clients, ui.clients):
            self._client_panel(lab_client, rect, client_ui)
        self._server_panel(lab, layout.server)
        for index, rect in enumerate(layout.strips):
            self._strip(lab.clients[index], rect, now, client_on_left=index == 0)
            self._strip_counts(lab.clients[index], rect, now)
        self._mark_key(layout)
        self._legend(ui)
        if ui.help:
            self._help(ui.help_intro, ui.help_columns)

    def _client_panel(self, lab_client: LabClient, rect: pygame.Rect, ui: ClientUi) -> None:
        pid = lab_client.player_id
        who = f"client {lab_client.index + 1}   {ui.control}" + ("" if pid is None else f"   player {pid}")
        self._write("text", who, self.colour_of(pid), rect.x, rect.y - 22)
        view = dataclasses.replace(lab_client.view, hud_lines=[], switches={}, help_lines=[], net_graph=None,
                                   ghosts=lab_client.view.ghosts if ui.ghosts else [])
        if lab_client.client is None:
            view.status = "waiting for its turn to join..."
        self._world_panel(view, rect)
        y = self._link_line(lab_client, ui, rect.x, rect.bottom + 8)
        y = self._figures_line(lab_client, rect.x, y)
        y = self._chips(lab_client, ui, rect, y + 4)
        if ui.graph and lab_client.client is not None:
            self._net_graph(lab_client.client.feel.graph, pygame.Rect(rect.x, y + 6, rect.width,
                                                                       GRAPH_ROWS * GRAPH_ROW_H_PX + 8))

    def _link_line(self, lab_client: LabClient, ui: ClientUi, x: int, y: int) -> int:
        link = lab_client.link
        parts: list[tuple[str, Colour]] = []
        for name, label, unit in (("lag_ms", "lag", " ms"), ("jitter_ms", "jitter", " ms"), ("loss_pct", "loss", "%")):
            parts += [(f"{label} ", TEXT_DIM), (f"{getattr(link, name):g}{unit}", TEXT)]
            keys = ui.link_keys.get(name)
            parts.append((f" [{keys}]   " if keys else "   ", KEY_COLOUR))
        for name, label in (("dup_pct", "dup"), ("reorder_pct", "reorder")):
            if getattr(link, name):
                parts += [(f"{label} ", TEXT_DIM), (f"{getattr(link, name):g}%   ", TEXT)]
        self._fitted(parts, x, y, PANEL_W_PX)
        return y + self.text.line_px("text") + 2

    def _figures_line(self, lab_client: LabClient, x: int, y: int) -> int:
        client = lab_client.client
        if client is None or client.last_facts is None:
            return y + self.text.line_px("text")
        session, facts = client.session, client.last_facts
        parts = [("RTT ", TEXT_DIM), (f"{session.conn.rtt_ms:.0f} ms", TEXT),
                 ("   snapshots lost ", TEXT_DIM), (f"{session.snapshot_loss_pct():.1f}%", TEXT),
                 ("   corrections ", TEXT_DIM), (f"{client.feel.corrections_px.count}", TEXT),
                 ("   interp delay ", TEXT_DIM), (f"{facts.interp_delay_s * 1000:.0f} ms", TEXT)]
        self._fitted(parts, x, y, PANEL_W_PX)
        return y + self.text.line_px("text") + 2

    def _chips(self, lab_client: LabClient, ui: ClientUi, rect: pygame.Rect, y: int) -> int:
        """One chip per switch, key first, in a grid under the panel."""
        chip_w = (rect.width - (CHIP_COLUMNS - 1) * 4) // CHIP_COLUMNS
        switches = lab_client.switches.as_dict()
        for i, name in enumerate(SWITCH_NAMES):
            chip = pygame.Rect(rect.x + (i % CHIP_COLUMNS) * (chip_w + 4), y + (i // CHIP_COLUMNS) * (CHIP_H_PX + 3),
                               chip_w, CHIP_H_PX)
            pygame.draw.rect(self.screen, CHIP_BG, chip)
            pygame.draw.rect(self.screen, PANEL_BORDER, chip, 1)
            on = switches[name]
            key = ui.switch_keys[i] if i < len(ui.switch_keys) else ""
            parts = [(key + "  ", KEY_COLOUR), (name.replace("_", " ") + "  ", TEXT),
                     ("ON" if on else "off", SWITCH_ON if on else SWITCH_OFF)]
            self._segments("small", parts, chip.x + 6, chip.y + 5)
        rows = -(-len(SWITCH_NAMES) // CHIP_COLUMNS)
        return y + rows * (CHIP_H_PX + 3)

    def _server_panel(self, lab: Lab, rect: pygame.Rect) -> None:
        config = lab.session.config
        self._write("text", f"server: the truth   tick {lab.session.tick}", TEXT, rect.x, rect.y - 22)
        self._world_panel(lab.truth_view(), rect)
        y = rect.bottom + 8
        facts_line = (f"{config.tick_rate} ticks/s, a snapshot to each client every "
                      f"{config.tick_rate // config.snapshot_rate} ticks ({config.snapshot_rate}/s)")
        self._write("text", facts_line, TEXT_DIM, rect.x, y)
        y += self.text.line_px("text") + 6
        for index in range(len(lab.clients)):
            y = self._slot_lines(lab, index, rect.x, y)
        for event in lab.session.events[-2:]:
            self._write("small", event, TEXT_DIM, rect.x, y)
            y += self.text.line_px("small")

    def _slot_lines(self, lab: Lab, index: int, x: int, y: int) -> int:
        facts = lab.slot_facts(index)
        line_px = self.text.line_px("text")
        if facts is None:
            self._write("text", f"client {index + 1}: not joined yet", TEXT_DIM, x, y)
            return y + line_px + 6
        colour = self.colour_of(facts.player_id)
        x_end = self._write("text", f"client {index + 1} = player {facts.player_id}", colour, x, y)
        seen_tick = lab.clients[index].client.session.newest_snapshot_tick
        self._segments("text", [("   its newest snapshot: tick ", TEXT_DIM), (str(seen_tick), TEXT),
                                (f" ({lab.session.tick - seen_tick} behind)", TEXT_DIM)], x_end, y)
        aim = "no aim" if facts.target_ms is None else f"aim {facts.target_ms:.0f} ms"
        applied = facts.applied_last_tick
        parts = [("inputs ", TEXT_DIM), (f"{facts.lead_ms:.0f} ms", TEXT), (" early (", TEXT_DIM), (aim, TEXT),
                 (")   last tick: ", TEXT_DIM),
                 (f"{applied} input{'' if applied == 1 else 's'}", TEXT if applied == 1 else STATUS_TEXT),
                 (f" applied, #{facts.last_applied_seq}", TEXT_DIM)]
        self._fitted(parts, x + 14, y + line_px, PANEL_W_PX - 14)
        return y + 2 * line_px + 6

    # --- the packet strip ----------------------------------------------------------------------

    def _strip(self, lab_client: LabClient, rect: pygame.Rect, now: float, client_on_left: bool,
               title: str = "packets") -> None:
        pygame.draw.rect(self.screen, STRIP_BG, rect)
        pygame.draw.rect(self.screen, PANEL_BORDER, rect, 1)
        label = self.text.get("text", title, TEXT)
        self.screen.blit(label, label.get_rect(midbottom=(rect.centerx, rect.y - 4)))
        client_x = rect.x + END_INSET_PX if client_on_left else rect.right - END_INSET_PX
        server_x = rect.right - END_INSET_PX if client_on_left else rect.x + END_INSET_PX
        half = rect.height // 2
        lanes = {True: pygame.Rect(rect.x, rect.y, rect.width, half),  # upstream: inputs
                 False: pygame.Rect(rect.x, rect.y + half, rect.width, rect.height - half)}
        self._lane_head(lanes[True], "inputs", client_x, server_x)
        self._lane_head(lanes[False], "snapshots", server_x, client_x)
        pygame.draw.line(self.screen, LANE_LINE, (rect.x + 4, rect.y + half), (rect.right - 5, rect.y + half))
        colour = self.colour_of(lab_client.player_id)
        for packet in lab_client.packets:
            self._mark(packet, lanes[packet.upstream], client_x, server_x, now, colour)

    def _lane_head(self, lane: pygame.Rect, title: str, from_x: int, to_x: int) -> None:
        """The lane's name and an arrow from sender to receiver."""
        label = self.text.get("small", title, TEXT_DIM)
        self.screen.blit(label, label.get_rect(midtop=(lane.centerx, lane.y + 3)))
        y = lane.y + LANE_HEAD_PX - 4
        pygame.draw.line(self.screen, LANE_LINE, (from_x, y), (to_x, y))
        tip = 1 if to_x > from_x else -1
        pygame.draw.polygon(self.screen, LANE_LINE, [(to_x, y), (to_x - 6 * tip, y - 4), (to_x - 6 * tip, y + 4)])

    def _mark(self, packet: Packet, lane: pygame.Rect, client_x: int, server_x: int, now: float,
              input_colour: Colour) -> None:
        from_x, to_x = (client_x, server_x) if packet.upstream else (server_x, client_x)
        rows = max(1, (lane.height - LANE_HEAD_PX - 6) // MARK_ROW_PX)
        y = lane.y + LANE_HEAD_PX + 4 + (packet.serial % rows) * MARK_ROW_PX
        x = round(from_x + packet.progress(now) * (to_x - from_x))
        if packet.lost and now >= packet.lost_since_s():
            fade = max(0.0, 1.0 - (now - packet.lost_since_s()) / LOST_FADE_S)
            self._cross(x, y, _lerp(STRIP_BG, LOST_MARK, fade))
            return
        colour = input_colour if packet.kind == "input" else SNAPSHOT_MARK if packet.kind == "snapshot" else OTHER_MARK
        self._shape(packet.kind, x, y, colour)
        if packet.copy:  # a duplicate is drawn doubled: its own mark plus an outline beside it
            self._shape(packet.kind, x + 4, y - 4, colour, hollow=True)

    def _shape(self, kind: str, x: int, y: int, colour: Colour, hollow: bool = False) -> None:
        width = 1 if hollow or kind not in ("input", "snapshot") else 0  # 0 fills
        if kind == "input":
            side = 2 * MARK_HALF_PX + 1
            pygame.draw.rect(self.screen, colour, (x - MARK_HALF_PX, y - MARK_HALF_PX, side, side), width)
        else:
            pygame.draw.circle(self.screen, colour, (x, y), MARK_HALF_PX + 1, width)

    def _cross(self, x: int, y: int, colour: Colour) -> None:
        r = MARK_HALF_PX + 1
        pygame.draw.line(self.screen, colour, (x - r, y - r), (x + r, y + r), 2)
        pygame.draw.line(self.screen, colour, (x - r, y + r), (x + r, y - r), 2)

    def _strip_counts(self, lab_client: LabClient, rect: pygame.Rect, now: float) -> None:
        """Below the strip: in flight now, lost and duplicated so far, per lane."""
        flying = [sum(1 for p in lab_client.packets if p.upstream == up and p.in_flight(now)) for up in (True, False)]
        rows = [("", "in", "snap"), ("flying", *map(str, flying)),
                ("lost", str(lab_client.lost[1]), str(lab_client.lost[0])),
                ("dup", str(lab_client.duplicated[1]), str(lab_client.duplicated[0]))]
        right_edges = (rect.right - 44, rect.right - 4)  # numbers right-aligned under their headers
        y = rect.bottom + 8
        for row in rows:
            self._write("small", row[0], TEXT_DIM, rect.x + 2, y)
            for right, cell in zip(right_edges, row[1:]):
                surf = self.text.get("small", cell, TEXT_DIM if row[0] == "" else TEXT)
                self.screen.blit(surf, (right - surf.get_width(), y))
            y += self.text.line_px("small") + 1

    def _mark_key(self, layout: PanelsLayout) -> None:
        """What the marks mean, once, under the strips' counts."""
        y = layout.strips[0].bottom + 8 + 4 * (self.text.line_px("small") + 1) + 8
        for strip in layout.strips:
            x, top = strip.x + 6, y
            for kind, words in (("input", "input"), ("snapshot", "snapshot"), ("other", "other"),
                                ("lost", "lost"), ("dup", "duplicate")):
                self._key_mark(kind, x + 4, top + 7)
                self._write("small", words, TEXT_DIM, x + 16, top)
                top += self.text.line_px("small") + 1

    def _key_mark(self, kind: str, x: int, y: int) -> None:
        if kind == "lost":
            self._cross(x, y, LOST_MARK)
        elif kind == "dup":
            self._shape("snapshot", x, y, SNAPSHOT_MARK)
            self._shape("snapshot", x + 4, y - 4, SNAPSHOT_MARK, hollow=True)
        else:
            self._shape(kind, x, y, TEXT if kind == "input" else SNAPSHOT_MARK if kind == "snapshot" else OTHER_MARK)

    # --- the small net graph -------------------------------------------------------------------

    def _net_graph(self, graph: NetGraph, rect: pygame.Rect) -> None:
        pygame.draw.rect(self.screen, GRAPH_BG, rect)
        pygame.draw.rect(self.screen, PANEL_BORDER, rect, 1)
        rows = [pygame.Rect(rect.x + GRAPH_LABEL_W_PX, rect.y + 4 + i * GRAPH_ROW_H_PX,
                            rect.width - GRAPH_LABEL_W_PX - 4, GRAPH_ROW_H_PX - 3) for i in range(GRAPH_ROWS)]
        rtt, arrivals, losses, corrections = (list(graph.rtt_ms), list(graph.snapshot_arrivals),
                                              list(graph.snapshot_losses), list(graph.corrections_px))
        top_ms = max(100.0, max(rtt, default=0.0) * 1.2)
        self._line_plot(rtt, rows[0], top_ms, RTT_COLOUR)
        self._graph_label(rect, rows[0], "RTT", f"{rtt[-1]:.0f} ms" if rtt else "--", RTT_COLOUR)
        self._ticks(arrivals, rows[1], ARRIVAL_COLOUR, up=True)
        self._ticks(losses, rows[1], LOSS_COLOUR, up=False)
        self._graph_label(rect, rows[1], "snapshots", f"{sum(arrivals)} in, {sum(losses)} lost", ARRIVAL_COLOUR)
        self._bars(corrections, rows[2], CORRECTION_COLOUR)
        count = sum(1 for c in corrections if c > 0)
        self._graph_label(rect, rows[2], "corrections", f"{count}, max {max(corrections, default=0):.1f} px",
                          CORRECTION_COLOUR)

    def _graph_label(self, rect: pygame.Rect, row: pygame.Rect, title: str, value: str, colour: Colour) -> None:
        x = self._write("small", title + " ", TEXT_DIM, rect.x + 6, row.y + 6)
        self._write("small", value, colour, x, row.y + 6)

    @staticmethod
    def _x_of(i: int, n: int, row: pygame.Rect) -> int:
        # The whole history spans the row, newest at the right edge.
        return round(row.right - 1 - (n - 1 - i) * (row.width - 2) / (GRAPH_SAMPLES - 1))

    def _line_plot(self, values: Sequence[float], row: pygame.Rect, top: float, colour: Colour) -> None:
        pygame.draw.rect(self.screen, LANE_LINE, row, 1)
        if len(values) < 2:
            return
        span = row.height - 4
        points = [(self._x_of(i, len(values), row), row.bottom - 2 - round(min(v, top) / top * span))
                  for i, v in enumerate(values)]
        pygame.draw.lines(self.screen, colour, False, points)

    def _ticks(self, counts: Sequence[int], row: pygame.Rect, colour: Colour, up: bool) -> None:
        pygame.draw.rect(self.screen, LANE_LINE, row, 1)
        end_y = row.y + 2 if up else row.bottom - 3
        for i, count in enumerate(counts):
            if count:
                x = self._x_of(i, len(counts), row)
                pygame.draw.line(self.screen, colour, (x, row.centery), (x, end_y))

    def _bars(self, values: Sequence[float], row: pygame.Rect, colour: Colour) -> None:
        pygame.draw.rect(self.screen, LANE_LINE, row, 1)
        top = max(4.0, max(values, default=0.0))
        for i, v in enumerate(values):
            if v > 0:
                x = self._x_of(i, len(values), row)
                height = max(2, round(v / top * (row.height - 4)))  # even a tiny one shows
                pygame.draw.line(self.screen, colour, (x, row.bottom - 2), (x, row.bottom - 2 - height))

    # --- compare mode --------------------------------------------------------------------------

    def draw_compare(self, lab: Lab, index: int, views: Sequence[FrameView], trails: Sequence[dict[int, list[Point]]],
                     ui: LabUi, now: float) -> None:
        self.screen.fill(WINDOW_BG)
        lab_client, client_ui = lab.clients[index], ui.clients[index]
        self._header(ui, f"netcode lab: client {index + 1}'s own frame, drawn four ways")
        crop = self._follow(views[-1]) if ui.close_up else pygame.Rect(0, 0, ARENA_W_PX, ARENA_H_PX)
        bottom = 0
        for rect, view, trail, (title, caption), figure in zip(compare_layout(), views, trails, COMPARE_STAGES,
                                                                 self._compare_figures(lab_client)):
            self._write("text", title, TEXT, rect.x, rect.y - 22)
            shown = dataclasses.replace(view, hud_lines=[], switches={}, help_lines=[], net_graph=None,
                                        ghosts=view.ghosts if client_ui.ghosts else [])
            self._world_panel(shown, rect, crop)
            if ui.trails:
                self._trails(trail, rect, crop)
            y = self._wrapped("small", figure, TEXT, rect.x, rect.bottom + 8, rect.width)
            bottom = max(bottom, self._wrapped("small", caption, TEXT_DIM, rect.x, y + 3, rect.width))
        self._compare_footer(lab, index, ui, bottom + 12, now)
        self._legend(ui)
        if ui.help:
            self._help(ui.help_intro, ui.help_columns)

    def _compare_footer(self, lab: Lab, index: int, ui: LabUi, y: int, now: float) -> None:
        """Who is who and the link on the left; this client's packet strip on the right."""
        lab_client, client_ui = lab.clients[index], ui.clients[index]
        pid = lab_client.player_id
        line_px = self.text.line_px("text") + 4
        who = f"client {index + 1}   {client_ui.control}" + ("" if pid is None else f"   player {pid}")
        self._write("text", who, self.colour_of(pid), MARGIN_PX, y)
        self._link_line(lab_client, client_ui, MARGIN_PX, y + line_px)
        self._figures_line(lab_client, MARGIN_PX, y + 2 * line_px)
        other = lab.clients[1 - index]
        self._write("text", f"client {other.index + 1}   {ui.clients[other.index].control}   player {other.player_id}"
                            "   (its own view is not shown)", self.colour_of(other.player_id), MARGIN_PX,
                    y + 3 * line_px)
        strip = pygame.Rect(WINDOW_W_PX // 2, y + 18, WINDOW_W_PX // 2 - MARGIN_PX - 130, 4 * line_px - 18)
        self._strip(lab_client, strip, now, client_on_left=True, title=f"client {index + 1} <-> server: packets")
        self._strip_counts(lab_client, pygame.Rect(strip.right + 10, strip.y - 8, 110, 0), now)

    def _compare_figures(self, lab_client: LabClient) -> list[str]:
        """One line per view: how late your own keys show, and how far in the past the others are."""
        client = lab_client.client
        facts = None if client is None else client.last_facts
        if facts is None or not facts.playing:
            return [""] * len(COMPARE_STAGES)
        late_ms = (facts.input_seq - client.session.last_applied_seq) * 1000 / client.net.rules.tick_rate
        past_ms = facts.interp_delay_s * 1000
        corrections = client.feel.corrections_px
        return [f"your keys show {late_ms:.0f} ms late; others at the newest snapshot",
                f"your keys show {late_ms:.0f} ms late; others {past_ms:.0f} ms in the past",
                f"your keys show at once; {corrections.count} corrections, largest {corrections.max:.0f} px",
                f"your keys show at once; corrections glide away over {client.options.smooth_ms:.0f} ms"]

    def _follow(self, view: FrameView) -> pygame.Rect:
        """The close-up: a window on the arena that follows the local player with a dead zone, so
        the background stands still until the player nears an edge."""
        local = next((p for p in view.players if p.is_local), None)
        if local is None:
            return self._camera
        cam = self._camera
        if cam.size != CLOSE_UP_PX:
            cam = pygame.Rect((0, 0), CLOSE_UP_PX)
            cam.center = (round(local.x_px), round(local.y_px))
        slack_x, slack_y = cam.width // 4, cam.height // 4
        cam.x = min(max(cam.x, round(local.x_px) + slack_x - cam.width), round(local.x_px) - slack_x)
        cam.y = min(max(cam.y, round(local.y_px) + slack_y - cam.height), round(local.y_px) - slack_y)
        self._camera = cam.clamp(pygame.Rect(0, 0, ARENA_W_PX, ARENA_H_PX))
        return self._camera

    def _trails(self, trail: dict[int, list[Point]], rect: pygame.Rect, crop: pygame.Rect) -> None:
        """One dot per frame, older dots smaller, mapped from arena pixels into the panel."""
        scale = rect.width / crop.width
        for pid, points in trail.items():
            colour = _lerp(self.colour_of(pid), (255, 255, 255), TRAIL_LIGHTEN)
            if not points:
                continue
            last_x, last_y = points[-1]
            for age, (x, y) in enumerate(reversed(points[:-1])):
                if (x - last_x) ** 2 + (y - last_y) ** 2 < PLAYER_RADIUS_PX ** 2:
                    continue  # under the body: a dot there would only blur it
                dot = (rect.x + round((x - crop.x) * scale), rect.y + round((y - crop.y) * scale))
                if rect.collidepoint(dot):
                    pygame.draw.circle(self.screen, colour, dot, 2 if age < len(points) // 2 else 1)

    def _wrapped(self, role: str, text: str, colour: Colour, x: int, y: int, width: int) -> int:
        """Word-wrapped text; returns the y below it."""
        line = ""
        for word in text.split():
            trial = f"{line} {word}".strip()
            if line and self.text.fonts[role].size(trial)[0] > width:
                self._write(role, line, colour, x, y)
                y += self.text.line_px(role)
                line = word
            else:
                line = trial
        if line:
            self._write(role, line, colour, x, y)
            y += self.text.line_px(role)
        return y

    # --- help ----------------------------------------------------------------------------------

    def _help(self, intro: Sequence[str], columns: Sequence[Sequence[str]]) -> None:
        """A centred panel: ``intro`` lines, then key columns side by side (two spaces split a
        line into key and description, aligned, because the font is proportional)."""
        line_px = self.text.line_px("text") + 2
        pad, gap = 24, 36
        split = [[line.split("  ", 1) for line in column] for column in columns]
        key_ws = [max(self.text.get("text", k, KEY_COLOUR).get_width() for k, _ in rows) for rows in split]
        col_ws = [key_w + 12 + max(self.text.get("text", d.strip(), TEXT).get_width() for _, d in rows)
                  for key_w, rows in zip(key_ws, split)]
        intro_w = max((self.text.get("text", line, TEXT).get_width() for line in intro), default=0)
        height = (len(intro) + 1 + max(len(rows) for rows in split)) * line_px
        panel = pygame.Rect(0, 0, max(intro_w, sum(col_ws) + gap * (len(col_ws) - 1)) + 2 * pad, height + 2 * pad)
        panel.center = self.screen.get_rect().center
        pygame.draw.rect(self.screen, HELP_BG, panel)
        pygame.draw.rect(self.screen, PANEL_BORDER, panel, 1)
        for i, line in enumerate(intro):
            self._write("text", line, TEXT, panel.x + pad, panel.y + pad + i * line_px)
        x, top = panel.x + pad, panel.y + pad + (len(intro) + 1) * line_px
        for rows, key_w, col_w in zip(split, key_ws, col_ws):
            for i, (key, description) in enumerate(rows):
                self._write("text", key, KEY_COLOUR, x, top + i * line_px)
                self._write("text", description.strip(), TEXT, x + key_w + 12, top + i * line_px)
            x += col_w + gap
