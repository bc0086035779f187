"""The net graph: rolling plots of the link, drawn in the bottom-right corner of the window.

Theory of operation: the feel meter (``netcode.feel``) keeps one sample per frame of each series
(round trip, snapshot arrivals and losses, corrections, the server's input buffer, bytes per
second); this painter draws the newest samples that fit, one pixel per frame, newest at the right
edge, so a loss burst or a correction reads as a mark you can point at. It shares the renderer's
text cache and panel style, which the renderer hands in, so it imports nothing from it.
"""
from __future__ import annotations

import math
from typing import Callable, Iterable, Protocol, Sequence

import pygame

from netcode.feel import NetGraph

Colour = tuple[int, int, int]
Darken = Callable[[pygame.Surface, pygame.Rect, bool], None]


class TextSource(Protocol):
    def get(self, role: str, text: str, colour: Colour) -> pygame.Surface: ...


NET_GRAPH_W_PX = 420
NET_GRAPH_H_PX = 250
ROWS = 5
TEXT_DIM: Colour = (140, 146, 162)
LEAD_COLOUR: Colour = (120, 230, 210)
TARGET_COLOUR: Colour = (110, 130, 150)

RTT_COLOUR: Colour = (255, 205, 80)
ARRIVAL_COLOUR: Colour = (80, 220, 100)
LOSS_COLOUR: Colour = (255, 70, 70)
CORRECTION_COLOUR: Colour = (255, 150, 60)
BYTES_IN_COLOUR: Colour = (80, 200, 255)
BYTES_OUT_COLOUR: Colour = (230, 120, 255)
PLOT_FRAME: Colour = (48, 53, 70)
LABEL_W_PX = 118
ROW_GAP_PX = 4


def _nice_ceiling(value: float) -> float:
    """Round up to 1, 2 or 5 times a power of ten, so a plot's scale changes in calm steps."""
    if not math.isfinite(value) or value <= 1.0:
        return 1.0  # an inf or NaN sample must not hang the frame in the loop below
    step = 1.0
    while step * 10 <= value:
        step *= 10
    for m in (1, 2, 5, 10):
        if value <= m * step:
            return m * step
    return 10 * step


def _format_bytes_per_s(value: float) -> str:
    return f"{value / 1000:.1f} kB/s" if value >= 1000 else f"{value:.0f} B/s"


def _polyline(values: Sequence[float], plot: pygame.Rect, top: float) -> list[tuple[int, int]]:
    """Newest sample at the right edge, one pixel per sample; values clamp to the plot."""
    right, bottom, span = plot.right - 1, plot.bottom - 1, plot.height - 2
    n = len(values)
    return [(right - (n - 1 - i), bottom - round(_clamp(v, top) / top * span))
            for i, v in enumerate(values)]


def _clamp(value: float, top: float) -> float:
    # ``value != value`` only for NaN, which is drawn as 0 rather than raising mid-frame.
    return 0.0 if value != value else max(0.0, min(value, top))


class NetGraphPainter:
    """The bottom-right panel: five rolling plots, each with its name and current value."""

    def __init__(self, surface: pygame.Surface, text: TextSource, darken: Darken, right_px: int,
                 bottom_px: int, pad_px: int) -> None:
        self._surface = surface
        self._text = text
        self._darken = darken
        self._pad_px = pad_px
        self._panel = pygame.Rect(right_px - NET_GRAPH_W_PX, bottom_px - NET_GRAPH_H_PX,
                                  NET_GRAPH_W_PX, NET_GRAPH_H_PX)
        row_h = (NET_GRAPH_H_PX - 2 * pad_px) // ROWS
        plot_x = self._panel.x + pad_px + LABEL_W_PX
        plot_w = self._panel.right - pad_px - plot_x
        top = self._panel.y + pad_px
        plot_h = row_h - ROW_GAP_PX
        self._rows = [pygame.Rect(plot_x, top + i * row_h, plot_w, plot_h) for i in range(ROWS)]
        self._window = plot_w - 2  # samples shown: one per pixel inside the frame

    @property
    def panel(self) -> pygame.Rect:
        return self._panel.copy()

    def draw(self, graph: NetGraph, faded: bool = False) -> None:
        self._darken(self._surface, self._panel, faded)
        for plot in self._rows:
            pygame.draw.rect(self._surface, PLOT_FRAME, plot, 1)
        last = self._last
        self._draw_rtt(last(graph.rtt_ms), self._rows[0])
        self._draw_snapshots(last(graph.snapshot_arrivals), last(graph.snapshot_losses), self._rows[1])
        self._draw_corrections(last(graph.corrections_px), self._rows[2])
        self._draw_input_buffer(last(graph.input_lead_ms), last(graph.input_target_ms),
                                last(graph.dilation_pct), self._rows[3])
        self._draw_bandwidth(last(graph.bytes_in_per_s), last(graph.bytes_out_per_s), self._rows[4])

    def _last(self, series: Iterable[float]) -> list[float]:
        """The newest samples that fit the plot's width."""
        return list(series)[-self._window:]

    def _labels(self, plot: pygame.Rect, title: str, values: Sequence[tuple[str, Colour]],
                scale: str = "") -> None:
        """Title and value lines in the column left of a plot; the scale inside the plot."""
        x, y = self._panel.x + self._pad_px, plot.y
        title_surf = self._text.get("small", title, TEXT_DIM)
        self._surface.blit(title_surf, (x, y))
        line_h = title_surf.get_height() + 2
        for text, colour in values:
            y += line_h
            self._surface.blit(self._text.get("small", text, colour), (x + 8, y))
        if scale:
            self._surface.blit(self._text.get("small", scale, TEXT_DIM), (plot.x + 3, plot.y + 2))

    def _draw_rtt(self, rtt_ms: Sequence[float], plot: pygame.Rect) -> None:
        top = _nice_ceiling(max(max(rtt_ms, default=0.0), 20.0))
        if len(rtt_ms) >= 2:
            points = _polyline(rtt_ms, plot.inflate(-2, -2), top)
            pygame.draw.lines(self._surface, RTT_COLOUR, False, points)
        current = f"{rtt_ms[-1]:.0f} ms" if rtt_ms else "--"
        self._labels(plot, "RTT", [(current, RTT_COLOUR)], f"{top:g} ms")

    def _draw_snapshots(self, arrivals: Sequence[int], losses: Sequence[int],
                        plot: pygame.Rect) -> None:
        # Arrivals tick up from the middle, losses down from it, so both read at a glance.
        middle, right = plot.centery, plot.right - 2
        for series, colour, end_y in ((arrivals, ARRIVAL_COLOUR, plot.y + 2),
                                      (losses, LOSS_COLOUR, plot.bottom - 3)):
            n = len(series)
            for i, count in enumerate(series):
                if count:
                    x = right - (n - 1 - i)
                    pygame.draw.line(self._surface, colour, (x, middle), (x, end_y))
        got, lost = sum(arrivals), sum(losses)
        loss_pct = 100.0 * lost / (got + lost) if got + lost else 0.0
        self._labels(plot, "snapshots", [(f"{got} in", ARRIVAL_COLOUR),
                                         (f"{lost} lost  {loss_pct:.1f}%", LOSS_COLOUR)])

    def _draw_corrections(self, corrections_px: Sequence[float], plot: pygame.Rect) -> None:
        top = _nice_ceiling(max(max(corrections_px, default=0.0), 4.0))
        inner = plot.inflate(-2, -2)
        points = _polyline(corrections_px, inner, top)
        for (x, y), v in zip(points, corrections_px):
            if v > 0:
                # At least 2 px tall, so even a tiny correction shows up as an event.
                bar_top = min(y, inner.bottom - 2)
                bar_bottom = (x, inner.bottom - 1)
                pygame.draw.line(self._surface, CORRECTION_COLOUR, bar_bottom, (x, bar_top))
        count = sum(1 for v in corrections_px if v > 0)
        biggest = max(corrections_px, default=0.0)
        self._labels(plot, f"corrections ({count})", [(f"max {biggest:.1f} px", CORRECTION_COLOUR)],
                     f"{top:g} px")

    def _draw_input_buffer(self, lead_ms: Sequence[float], target_ms: Sequence[float],
                           dilation_pct: Sequence[float], plot: pygame.Rect) -> None:
        """How early our inputs reach the server (line) against the target it asks for (dim line)."""
        finite = [v for v in list(lead_ms) + list(target_ms) if math.isfinite(v)]
        top = _nice_ceiling(max(max(finite, default=0.0), 20.0))
        inner = plot.inflate(-2, -2)
        targets = [v for v in target_ms if math.isfinite(v)]
        if len(targets) >= 2:
            pygame.draw.lines(self._surface, TARGET_COLOUR, False, _polyline(targets, inner, top))
        if len(lead_ms) >= 2:
            pygame.draw.lines(self._surface, LEAD_COLOUR, False, _polyline(lead_ms, inner, top))
        lead = f"{lead_ms[-1]:.0f} ms" if lead_ms else "--"
        target = f"aim {target_ms[-1]:.0f}" if target_ms and math.isfinite(target_ms[-1]) else "no aim"
        dilation = f"clock {dilation_pct[-1]:+.1f}%" if dilation_pct else ""
        self._labels(plot, "input buffer", [(f"{lead} {target}", LEAD_COLOUR), (dilation, TARGET_COLOUR)],
                     f"{top:g} ms")

    def _draw_bandwidth(self, bytes_in: Sequence[float], bytes_out: Sequence[float],
                        plot: pygame.Rect) -> None:
        top = _nice_ceiling(max(max(bytes_in, default=0.0), max(bytes_out, default=0.0), 1000.0))
        inner = plot.inflate(-2, -2)
        for series, colour in ((bytes_out, BYTES_OUT_COLOUR), (bytes_in, BYTES_IN_COLOUR)):
            if len(series) >= 2:
                pygame.draw.lines(self._surface, colour, False, _polyline(series, inner, top))
        current_in = _format_bytes_per_s(bytes_in[-1]) if bytes_in else "--"
        current_out = _format_bytes_per_s(bytes_out[-1]) if bytes_out else "--"
        self._labels(plot, "bandwidth", [(f"in  {current_in}", BYTES_IN_COLOUR),
                                         (f"out {current_out}", BYTES_OUT_COLOUR)],
                     _format_bytes_per_s(top))
