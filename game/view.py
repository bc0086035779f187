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
    it: bool = False  # tag: this player is "it"
    shield: bool = False  # carries a shield pickup
    boosted: bool = False  # a boost pickup is running
    immune: bool = False  # just tagged someone: cannot be tagged for a moment


@dataclass
class DrawnPickup:
    x_px: float
    y_px: float
    kind: str  # "boost" or "shield"


@dataclass
class Beam:
    """A tag beam the local player fired, and what became of it.

    ``state``: "miss" (it crossed nobody on our screen, waiting for the server), "hit" (it crossed
    a player on our screen, waiting for the server), "confirmed" (the server agrees it hit), or
    "rejected" (the server judged it a miss). ``target_px`` is where the player it crossed was
    drawn, for the hit marker."""

    x0_px: float
    y0_px: float
    x1_px: float
    y1_px: float
    state: str
    age_s: float
    target_px: tuple[float, float] | None = None


@dataclass
class ScoreRow:
    name: str
    score: int
    wins: int
    it: bool = False
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
    pickups: list[DrawnPickup] = field(default_factory=list)
    beams: list[Beam] = field(default_factory=list)  # our recent shots, newest last
    round_line: str = ""  # top right, e.g. "Round 2  0:42"
    round_banner: str = ""  # centre, during the intermission: "Ada wins round 2!"
    scoreboard: list[ScoreRow] = field(default_factory=list)  # shown (Tab held) when non-empty, best first
    aim_px: tuple[float, float] | None = None  # where our beam would end, drawn faint while we are it
