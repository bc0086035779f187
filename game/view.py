"""What one frame shows, as plain data: the seam between the client loop and the renderer.

Theory of operation: the client app loop decides *where* everything is drawn (predicted,
smoothed, interpolated positions, all in float pixels) and fills a ``FrameView``. The renderer
only turns a ``FrameView`` into pixels. (The net graph's series are the feel meter's own
``NetGraph``, passed through as they are.) Keeping this seam as data means the renderer can be
tested with a hand-made view, and the netcode never needs pygame.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from netcode.feel import NetGraph


@dataclass
class DrawnPlayer:
    player_id: int
    name: str
    x_px: float
    y_px: float
    is_local: bool = False


@dataclass
class Ghost:
    """An outline: where the server says a player is (local) or the raw newest snapshot (remote)."""

    player_id: int
    x_px: float
    y_px: float
    is_local: bool = False


@dataclass
class FrameView:
    players: list[DrawnPlayer] = field(default_factory=list)
    ghosts: list[Ghost] = field(default_factory=list)
    hud_lines: list[str] = field(default_factory=list)  # top-left, one per line
    switches: dict[str, bool] = field(default_factory=dict)  # e.g. {"prediction": True, ...}
    status: str = ""  # a centred banner, e.g. "Connecting to 127.0.0.1:7777..." or a refusal
    messages: list[str] = field(default_factory=list)  # top centre, newest last: "alice joined"
    sounds: list[str] = field(default_factory=list)  # cues to play this frame (game.render_sounds names)
    help_lines: list[str] = field(default_factory=list)  # shown as an overlay when non-empty
    net_graph: NetGraph | None = None  # drawn when not None
