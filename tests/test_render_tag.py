"""The tag game's marks are drawn, where the view says, and tell their meanings apart.

Like ``test_render.py``: each test renders a hand-made ``FrameView`` off-screen (SDL's dummy video
driver), saves it as PNG, reloads it and checks pixels. Where a mark blends with what is under it
(glows, fades, panels) the test compares with the same frame drawn without the mark.
"""
from __future__ import annotations

import copy
import os

# Before pygame is imported: no window, no sound device, so the tests run headless in CI.
os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ["SDL_AUDIODRIVER"] = "dummy"

import pygame  # noqa: E402
import pytest  # noqa: E402

from game.render import BACKGROUND, load_palette  # noqa: E402
from game.render_tag import (BANNER_TEXT, BEAM_COLOURS, IMMUNE_RING_RADIUS_PX, IT_COLOUR,  # noqa: E402
                             IT_RING_RADIUS_PX, MARKER_CONFIRMED, MARKER_HIT, MARKER_REJECTED,
                             PICKUP_BOOST, PICKUP_RADIUS_PX, PICKUP_SHIELD, PICKUP_SHIELD_RING,
                             SHIELD_RING, SHIELD_RING_RADIUS_PX, fade_alpha)
from game.sim import ARENA_H_PX, ARENA_W_PX, PLAYER_RADIUS_PX  # noqa: E402
from game.view import Beam, DrawnPickup, DrawnPlayer, FrameView, ScoreRow  # noqa: E402
from test_render import _draw_and_reload  # noqa: E402

R = PLAYER_RADIUS_PX
# Where the hand-made scene puts things (clear of obstacles, the HUD and each other).
YOU = (260.0, 270.0)  # local, it, boosted: the shooter
BOB = (400.0, 300.0)  # a beam hit on our screen, waiting for the server
CAROL = (300.0, 130.0)  # hit, and the server confirmed it: now it
DAVE = (150.0, 180.0)  # hit on our screen, but the server rejected it
EVE = (700.0, 130.0)  # shield
FRANK = (800.0, 250.0)  # immune
GINA = (1000.0, 280.0)  # boosted
BOOST_AT = (560.0, 220.0)
SHIELD_AT = (1150.0, 250.0)


@pytest.fixture(scope="module", autouse=True)
def _pygame_display():
    pygame.display.init()
    pygame.font.init()
    yield
    pygame.quit()


def _beam(to: tuple[float, float], state: str, age_s: float, target: bool = True) -> Beam:
    return Beam(YOU[0], YOU[1], to[0], to[1], state, age_s, target_px=to if target else None)


def tag_view(overlays: bool = False) -> FrameView:
    """A busy moment of tag; with ``overlays`` also the intermission banner and the scoreboard."""
    players = [
        DrawnPlayer(0, "you", *YOU, is_local=True, it=True, boosted=True),
        DrawnPlayer(1, "bob", *BOB),
        DrawnPlayer(2, "carol", *CAROL, it=True),
        DrawnPlayer(3, "dave", *DAVE),
        DrawnPlayer(4, "eve", *EVE, shield=True),
        DrawnPlayer(5, "frank", *FRANK, immune=True),
        DrawnPlayer(6, "gina", *GINA, boosted=True),
    ]
    view = FrameView(
        players=players,
        hud_lines=["RTT 42 ms", "tick 1234"],
        switches={"prediction": True, "reconciliation": True, "smoothing": False, "interpolation": True},
        pickups=[DrawnPickup(*BOOST_AT, "boost"), DrawnPickup(*SHIELD_AT, "shield")],
        beams=[
            _beam((YOU[0], YOU[1] + 150.0), "miss", 0.05, target=False),
            _beam(DAVE, "rejected", 0.25),
            _beam(CAROL, "confirmed", 0.3),
            _beam(BOB, "hit", 0.05),
        ],
        round_line="Round 2  0:42",
        aim_px=(YOU[0] + 120.0, YOU[1] + 90.0),
    )
    if overlays:
        view.round_banner = "Ada wins round 2!  Next round in 4 s"
        view.scoreboard = [
            ScoreRow("ada", 5, 2),
            ScoreRow("you", 3, 1, it=True, is_local=True),
            ScoreRow("bob", 0, 0),
            ScoreRow("carol", -1, 1, it=True),
            ScoreRow("dave", -2, 0),
        ]
    return view


render = _draw_and_reload  # draw the view, save it as a PNG, read the PNG back


def _rgb(surface: pygame.Surface, x: float, y: float) -> tuple[int, int, int]:
    return tuple(surface.get_at((round(x), round(y))))[:3]


def _count(surface: pygame.Surface, colour, centre, reach_px: int) -> int:
    """Pixels of exactly ``colour`` in the square of half-side ``reach_px`` around ``centre``."""
    cx, cy = round(centre[0]), round(centre[1])
    return sum(1 for x in range(cx - reach_px, cx + reach_px + 1)
               for y in range(cy - reach_px, cy + reach_px + 1)
               if tuple(surface.get_at((x, y)))[:3] == colour)


def _changed(a: pygame.Surface, b: pygame.Surface, rect: pygame.Rect, step: int = 1) -> int:
    return sum(1 for x in range(rect.left, rect.right, step) for y in range(rect.top, rect.bottom, step)
               if a.get_at((x, y)) != b.get_at((x, y)))


def _without(view: FrameView, **flags) -> FrameView:
    """A copy with the given flags set on every player (e.g. ``immune=False``)."""
    plain = copy.deepcopy(view)
    for p in plain.players:
        for name, value in flags.items():
            setattr(p, name, value)
    return plain


def test_the_renderer_only_reads_the_view_and_bodies_keep_their_colour(tmp_path):
    view = tag_view(overlays=True)
    before = copy.deepcopy(view)
    render(view, tmp_path / "tag.png")
    assert view == before, "the renderer must only read the view"
    view = tag_view()  # without the scoreboard and banner, which darken the bodies under them
    image = render(view, tmp_path / "tag.png")
    palette = load_palette()
    for p in view.players:  # every mark sits around or above a body, never on its centre
        if p.player_id not in (1, 2, 3):  # hit markers are drawn over their targets on purpose
            assert _rgb(image, p.x_px, p.y_px) == palette[p.player_id % len(palette)]


def test_it_players_have_an_it_ring_and_an_it_badge(tmp_path):
    image = render(tag_view(), tmp_path / "tag.png")
    ring = IT_RING_RADIUS_PX - 1
    for x, y in (YOU, CAROL):
        assert _rgb(image, x - ring, y) == IT_COLOUR
    # The badge sits above the name, which sits above the body.
    badge_area = pygame.Rect(0, 0, 40, 26)
    badge_area.midbottom = (round(YOU[0]), round(YOU[1]) - R - 20)
    assert _count(image, IT_COLOUR, badge_area.center, 13) > 40
    # Runners have neither.
    for x, y in (BOB, EVE, GINA):
        assert _rgb(image, x - ring, y) != IT_COLOUR
        assert _count(image, IT_COLOUR, (x, y - R - 30), 15) == 0


def test_shield_boost_and_immune_marks(tmp_path):
    view = tag_view()
    image = render(view, tmp_path / "tag.png")
    assert _rgb(image, EVE[0] + SHIELD_RING_RADIUS_PX - 1, EVE[1]) == SHIELD_RING
    bubble = _rgb(image, EVE[0] - R - 4, EVE[1])
    assert bubble[2] > bubble[0] + 20, "the shield bubble tints the floor around the body blue"

    glow = _rgb(image, GINA[0] + R + 2, GINA[1])
    assert glow[0] > glow[2] + 40 and glow[1] > glow[2] + 30, "the boost glow is yellow"

    plain = render(_without(view, immune=False), tmp_path / "plain.png")
    around = pygame.Rect(0, 0, 2 * IMMUNE_RING_RADIUS_PX + 6, 2 * IMMUNE_RING_RADIUS_PX + 6)
    around.center = (round(FRANK[0]), round(FRANK[1]))
    assert _changed(image, plain, around) > 30, "the immune dots show around the body"
    assert _rgb(image, *FRANK) == _rgb(plain, *FRANK), "and leave the body's colour alone"


def test_pickups_are_a_yellow_diamond_and_a_blue_ringed_disc(tmp_path):
    image = render(tag_view(), tmp_path / "tag.png")
    bx, by = BOOST_AT
    assert _rgb(image, bx, by - PICKUP_RADIUS_PX + 2) == PICKUP_BOOST
    assert _rgb(image, bx - PICKUP_RADIUS_PX + 1, by - PICKUP_RADIUS_PX + 1) == BACKGROUND, "a diamond, not a disc"
    sx, sy = SHIELD_AT
    assert _rgb(image, sx, sy) == PICKUP_SHIELD
    assert _rgb(image, sx + PICKUP_RADIUS_PX - 1, sy) == PICKUP_SHIELD_RING


def test_hit_markers_tell_pending_confirmed_and_rejected_apart(tmp_path):
    image = render(tag_view(), tmp_path / "tag.png")
    reach = R + 18
    assert _count(image, MARKER_CONFIRMED, CAROL, reach) > 150
    assert _count(image, MARKER_REJECTED, CAROL, reach) == 0
    assert _count(image, MARKER_REJECTED, DAVE, reach) > 150
    assert _count(image, MARKER_CONFIRMED, DAVE, reach) == 0
    assert _count(image, MARKER_HIT, BOB, reach) > 100
    assert _count(image, MARKER_CONFIRMED, BOB, reach) == _count(image, MARKER_REJECTED, BOB, reach) == 0


def test_beams_take_their_state_colour_and_fade_with_age(tmp_path):
    def one_beam(state: str, age_s: float) -> pygame.Surface:
        view = FrameView(beams=[Beam(500.0, 260.0, 650.0, 260.0, state, age_s)])
        return render(view, tmp_path / f"{state}-{age_s}.png")

    mid = (570, 260)  # on the beam, clear of the grid lines (every 40 px) and obstacles
    for state, colour in BEAM_COLOURS.items():
        assert _rgb(one_beam(state, 0.0), *mid) == colour
    assert _rgb(one_beam("confirmed", 0.25), *mid) not in (BEAM_COLOURS["confirmed"], BACKGROUND), "fading"
    assert _rgb(one_beam("confirmed", 0.5), *mid) == BACKGROUND, "gone after 0.4 s"
    assert fade_alpha(0.0, 0.1, 0.3) == 255 and fade_alpha(0.4, 0.1, 0.3) == 0


def test_aim_line_is_faint_and_only_when_set(tmp_path):
    view = tag_view()
    view.beams = []
    with_aim = render(view, tmp_path / "aim.png")
    view.aim_px = None
    without = render(view, tmp_path / "no-aim.png")
    # Half way along the aim, where the dashes are.
    line = pygame.Rect(0, 0, 40, 40)
    line.center = (round(YOU[0] + 75), round(YOU[1] + 56))
    assert _changed(with_aim, without, line) > 15
    brightest = max(sum(_rgb(with_aim, x, y)) for x in range(line.left, line.right)
                    for y in range(line.top, line.bottom))
    assert brightest < 3 * 200, "faint: dimmer than a beam or a ring"


def test_round_line_top_right_without_touching_other_overlays(tmp_path):
    view = tag_view()
    with_line = render(view, tmp_path / "round.png")
    view.round_line = ""
    without = render(view, tmp_path / "no-round.png")
    top_right = pygame.Rect(ARENA_W_PX - 260, 0, 260, 80)
    assert _changed(with_line, without, top_right) > 300
    elsewhere = pygame.Rect(0, 80, ARENA_W_PX, ARENA_H_PX - 80)
    assert _changed(with_line, without, elsewhere, step=2) == 0


def test_scoreboard_and_banner_cover_the_centre(tmp_path):
    plain = render(tag_view(), tmp_path / "plain.png")
    view = tag_view(overlays=True)
    image = render(view, tmp_path / "scores.png")
    pygame.image.save(image, str(tmp_path / "tag_render.png"))

    centre = pygame.Rect(0, 0, 300, 160)
    centre.center = (ARENA_W_PX // 2, ARENA_H_PX // 2)
    assert _changed(plain, image, centre, step=2) > 5000  # of 12000 sampled: the panel darkens nearly all
    assert _count(image, IT_COLOUR, centre.center, 150) > 40, "IT tags on the rows of who is it"

    # The banner goes above the scoreboard, not under it.
    banner_rows = [y for y in range(ARENA_H_PX) for x in range(400, 880, 3)
                   if _rgb(image, x, y) == BANNER_TEXT]
    assert banner_rows and max(banner_rows) < ARENA_H_PX // 2 - 100

    # Without the scoreboard, the banner is centred.
    view.scoreboard = []
    alone = render(view, tmp_path / "banner.png")
    rows = [y for y in range(ARENA_H_PX) for x in range(400, 880, 3) if _rgb(alone, x, y) == BANNER_TEXT]
    assert rows and abs(sum(rows) / len(rows) - ARENA_H_PX / 2) < 15


def test_local_row_is_highlighted(tmp_path):
    view = tag_view(overlays=True)
    lit = render(view, tmp_path / "lit.png")
    for row in view.scoreboard:
        row.is_local = False
    unlit = render(view, tmp_path / "unlit.png")
    diff = [(x, y) for x in range(400, 880, 2) for y in range(200, 520, 2)
            if lit.get_at((x, y)) != unlit.get_at((x, y))]
    assert len(diff) > 500
    ys = {y for _, y in diff}
    assert max(ys) - min(ys) < 40, "only one row changes"
    brighter = sum(sum(_rgb(lit, x, y)) > sum(_rgb(unlit, x, y)) for x, y in diff)
    assert brighter > 0.9 * len(diff)
