"""The netcode lab: its model on a fake clock, and its window run for real on SDL's dummy driver.

The model tests step ``game.lab.Lab`` on a ``FakeClock`` with bots, so they are exact and take a
fraction of a second: both clients join, and the packet records show what the link conditioners
did (in flight, lost, duplicated), per client. The window tests run ``run_client.py --lab`` in a
subprocess for a few seconds, save the last frame, reload it and look for the players' colours in
the panels and for packet marks in the strips, so a lab that silently drew nothing would fail.
"""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

# Before pygame is imported: no window, no sound device.
os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ["SDL_AUDIODRIVER"] = "dummy"

import numpy as np  # noqa: E402
import pygame  # noqa: E402
import pytest  # noqa: E402

import run_client  # noqa: E402
from game.bots import make_bot  # noqa: E402
from game.lab import LOST_AT, Lab, LabSetup, LabTime, Packet, nudged  # noqa: E402
from game.render import load_palette, player_colour  # noqa: E402
from game.render_lab import SNAPSHOT_MARK, compare_layout, panels_layout  # noqa: E402
from netcode.clock import FakeClock  # noqa: E402
from netcode.conditioner import LinkSettings  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FRAME_S = 1 / 60
RUN_TIMEOUT_S = 60  # the lab runs 3 s; this only stops a hung window from hanging the suite
COLOUR_TOLERANCE = 6  # smooth scaling may shift a channel by a step or two


# --- the model, on a fake clock ------------------------------------------------------------------


def _play(link: LinkSettings, seconds: float, lab: Lab | None = None, clock: FakeClock | None = None):
    """Step a lab with two bots; returns (lab, clock, every packet seen, with when it was seen)."""
    clock = clock or FakeClock()
    lab = lab or Lab(clock.now(), LabSetup(link=link, net_seed=7))
    bots = [make_bot("circle"), make_bot("zigzag")]
    seen: dict[Packet, float] = {}
    for _ in range(round(seconds / FRAME_S)):
        clock.advance(FRAME_S)
        lab.step(clock.now(), bots)
        for lab_client in lab.clients:
            for packet in lab_client.packets:
                seen.setdefault(packet, clock.now())
    return lab, clock, seen


def test_both_clients_join_in_order_and_play():
    lab, _, _ = _play(LinkSettings(lag_ms=100, jitter_ms=10), seconds=2.0)
    assert [c.player_id for c in lab.clients] == [0, 1], "client 1 joins first, so it is player 0"
    for index, lab_client in enumerate(lab.clients):
        assert lab_client.client.session.snapshots_received > 20
        assert {p.player_id for p in lab_client.view.players} == {0, 1}
        facts = lab.slot_facts(index)
        assert facts is not None and facts.player_id == index and facts.lead_ms > 0
    assert {p.player_id for p in lab.truth_view().players} == {0, 1}


def test_packet_records_show_inputs_and_snapshots_in_flight_losses_and_duplicates():
    _, _, clean = _play(LinkSettings(lag_ms=100, jitter_ms=10), seconds=2.0)
    _, _, rough = _play(LinkSettings(lag_ms=100, jitter_ms=10, loss_pct=10, dup_pct=10), seconds=2.0)
    for index in (0, 1):
        mine = {p: t for p, t in rough.items() if p.client_index == index}
        flying = [p for p, t in mine.items() if p.in_flight(t)]
        assert any(p.upstream and p.kind == "input" for p in flying)
        assert any(not p.upstream and p.kind == "snapshot" for p in flying)
        assert all(0.0 <= p.progress(t) < 1.0 for p, t in mine.items() if p in flying)
        for upstream in (True, False):
            assert any(p.lost for p in mine if p.upstream == upstream), "loss is set: some are lost each way"
            assert any(p.copy == 1 for p in mine if p.upstream == upstream), "dup is set: some are doubled"
    assert not any(p.lost or p.copy for p in clean), "a link without loss or dup has neither"


def test_changing_one_clients_link_changes_only_its_delays():
    link = LinkSettings(lag_ms=100)  # no jitter: every one-way delay is exactly 50 ms
    lab, clock, _ = _play(link, seconds=1.5)
    lab.set_link(0, nudged(lab.clients[0].link, "lag_ms", +6))  # 100 ms -> 400 ms round trip
    changed_s = clock.now()
    _, _, seen = _play(link, seconds=1.0, lab=lab, clock=clock)
    after = [p for p in seen if p.sent_s > changed_s and not p.lost]
    for index, one_way_s in ((0, 0.200), (1, 0.050)):
        delays = {round(p.release_s - p.sent_s, 6) for p in after if p.client_index == index}
        assert delays == {one_way_s}, f"client {index + 1}: {sorted(delays)}"
    assert lab.clients[1].link == link


def test_a_packet_moves_at_its_real_delay_and_a_lost_one_stops_half_way():
    sent = Packet(0, True, "input", 1, sent_s=10.0, release_s=10.2)
    assert [sent.progress(t) for t in (10.0, 10.1, 10.2, 10.3)] == pytest.approx([0.0, 0.5, 1.0, 1.0])
    lost = Packet(0, True, "input", 2, sent_s=10.0, release_s=None, nominal_s=0.2)
    assert lost.progress(10.05) == pytest.approx(0.25) and lost.progress(11.0) == LOST_AT
    assert Packet(0, False, "snapshot", 3, sent_s=5.0, release_s=5.0).progress(5.0) == 1.0  # a clean LAN


def test_link_keys_stay_in_range_and_pause_stops_the_clock():
    link = LinkSettings(lag_ms=100, loss_pct=5)
    assert nudged(link, "lag_ms", -5).lag_ms == 0 and nudged(link, "loss_pct", +100).loss_pct == 50
    assert dataclasses.replace(nudged(link, "jitter_ms", +2), jitter_ms=0) == link
    time = LabTime()
    time.toggle(real_s=5.0)
    assert time.now(9.0) == 5.0, "paused: the lab's clock stands still"
    time.toggle(real_s=9.0)
    assert time.now(10.0) == 6.0 and time.real(6.0) == 10.0


def test_compare_views_are_one_frame_drawn_four_ways():
    lab, _, _ = _play(LinkSettings(lag_ms=100), seconds=1.5)
    client = lab.clients[0].client
    facts, newest = client.last_facts, client.net.rules.entities(client.session.newest_world)
    views = lab.compare_views(0)
    locals_ = [next(p for p in view.players if p.is_local) for view in views]
    assert (locals_[0].x_px, locals_[0].y_px) == (newest[0].x_px, newest[0].y_px)
    assert (locals_[1].x_px, locals_[1].y_px) == facts.local_server
    assert (locals_[2].x_px, locals_[2].y_px) == facts.local_predicted
    assert (locals_[3].x_px, locals_[3].y_px) == facts.local_drawn
    assert views[3] is lab.clients[0].view
    assert {p.player_id: (p.x_px, p.y_px) for p in views[1].players if not p.is_local} == facts.remotes


# --- the command line ----------------------------------------------------------------------------


@pytest.mark.parametrize("extra", [["--host", "127.0.0.1"], ["--headless", "--bot", "circle"]])
def test_lab_refuses_host_and_headless(extra, capsys):
    with pytest.raises(SystemExit) as exited:
        run_client.main(["--lab", *extra])
    assert exited.value.code == 2
    assert "--lab" in capsys.readouterr().err


def test_lab_flag_defaults_to_panels():
    assert run_client.build_parser().parse_args(["--lab"]).lab == "panels"
    assert run_client.build_parser().parse_args(["--lab", "compare"]).lab == "compare"


# --- the window, for real ------------------------------------------------------------------------


def _run_lab(tmp_path: Path, *flags: str) -> np.ndarray:
    """Run the lab for 3 s in a subprocess; its last frame as an (x, y, rgb) array."""
    png = tmp_path / "lab.png"
    env = dict(os.environ, SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy")
    done = subprocess.run([sys.executable, str(ROOT / "run_client.py"), "--lab", *flags, "--lab-bot", "circle",
                           "--bot", "circle", "--duration", "3", "--screenshot", str(png)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert done.returncode == 0, done.stderr
    image = pygame.image.load(str(png))
    assert image.get_width() >= 1200
    return pygame.surfarray.array3d(image)


def _has_colour(pixels: np.ndarray, rect: pygame.Rect, colour: tuple[int, int, int]) -> bool:
    region = pixels[rect.left:rect.right, rect.top:rect.bottom].astype(int)
    return bool((np.abs(region - np.array(colour)).max(axis=2) <= COLOUR_TOLERANCE).any())


def test_panels_window_shows_both_players_everywhere_and_packets_in_the_strips(tmp_path):
    pixels = _run_lab(tmp_path)
    palette = load_palette()
    colours = [player_colour(palette, pid) for pid in (0, 1)]
    layout = panels_layout()
    for rect in (*layout.clients, layout.server):
        for colour in colours:
            assert _has_colour(pixels, rect, colour), f"player colour {colour} missing in panel {rect}"
    for strip, input_colour in zip(layout.strips, colours):
        assert _has_colour(pixels, strip, input_colour), f"no input marks in strip {strip}"
        assert _has_colour(pixels, strip, SNAPSHOT_MARK), f"no snapshot marks in strip {strip}"


def test_compare_window_draws_the_local_player_four_times(tmp_path):
    pixels = _run_lab(tmp_path, "compare")
    local = player_colour(load_palette(), 0)
    for rect in compare_layout():
        assert _has_colour(pixels, rect, local), f"local player missing in panel {rect}"
