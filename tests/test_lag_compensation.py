"""Lag compensation: the server judges a shot against what the shooter's screen showed."""
from __future__ import annotations

from dataclasses import replace

import pytest

from game import sim, tag
from game.netgame import SimRules
from game.sim import SUBPX, Player
from game.tag import Tag
from netcode.client_session import ClientSession, ClientState
from netcode.clock import FakeClock
from netcode.lag_compensation import LagCompensator, view_for
from netcode.server import ServerConfig, ServerSession
from netcode.transport import MemoryNetwork

SERVER = ("10.0.0.1", 7777)
DT = 1 / 60
RULES = SimRules(60)
UP_AIM = 48
PATH_Y_PX = 470  # the runner's lane: clear floor from x = 700 to 1100
SHOOTER_BELOW_PX = 110  # the shooter stands this far below the lane and fires straight up


# --- the compensator alone ---------------------------------------------------------------------

def runner_at(x_px: float) -> sim.World:
    return sim.World(players=(Player(1, round(x_px * SUBPX), PATH_Y_PX * SUBPX),))


def test_the_view_blends_the_two_snapshots_around_it_as_interpolation_draws() -> None:
    lag = LagCompensator(RULES, 60, cap_ms=1000)
    for tick, x in ((10, 700), (12, 720), (14, 740)):
        lag.remember(tick, runner_at(x))
    assert lag.view(12 * 256, now_tick=20)[1][0] == 720 * SUBPX
    assert lag.view(11 * 256 + 128, now_tick=20)[1][0] == 715 * SUBPX  # 3/4 of the way from 10 to 12
    assert lag.rewind_ms.max == pytest.approx((20 - 11.5) * 1000 / 60)


def test_the_view_is_clamped_to_the_newest_snapshot_and_to_the_cap() -> None:
    lag = LagCompensator(RULES, 60, cap_ms=100)  # 6 ticks
    for tick in range(0, 40, 2):
        lag.remember(tick, runner_at(700 + tick))
    assert lag.view(50 * 256, now_tick=40)[1][0] == 738 * SUBPX  # the future: the newest sent (38)
    assert lag.clamped_new == 1
    assert lag.view(10 * 256, now_tick=40)[1][0] == 734 * SUBPX  # too old: judged at the cap, 40 - 6
    assert lag.clamped_old == 1
    assert lag.history[0][0] >= 40 - 6 - 2  # what even the cap cannot reach is forgotten


def test_an_older_input_in_a_packet_saw_one_tick_less_per_step_back() -> None:
    assert view_for(newest_seq=100, newest_view_256=5000 * 256, seq=97) == 4997 * 256


# --- over the session: a real ServerSession and ClientSession on a memory network ------------

class Range:
    """A server with one bot running right along a lane, and us, made it, standing below the lane."""

    def __init__(self, lag_compensation: bool, cap_ms: int = 1000) -> None:
        self.clock = FakeClock(10.0)
        self.net = MemoryNetwork()
        config = ServerConfig(lag_compensation=lag_compensation, lag_cap_ms=cap_ms, keep_bots=True)
        self.server = ServerSession(RULES, self.net.endpoint(SERVER), config, self.clock.now())
        self.runner = self.server.add_bot("runner", lambda n, world, pid: sim.RIGHT)
        self.client = ClientSession(self.net.endpoint(("10.0.1.1", 5000)), SERVER, "shooter", sim.RULES_HASH,
                                    self.clock.now())
        self.x_at: dict[int, int] = {}  # the runner's x (subpx) after every tick
        self.events: list = []
        self.run(0.5)  # connect
        assert self.client.state is ClientState.CONNECTED
        self.me = self.client.player_id
        self._place(runner_x_px=700)

    def _place(self, runner_x_px: int) -> None:
        """Put the runner at the start of its lane and make us it, with the beam ready."""
        players = []
        for p in self.server.world.players:
            if p.id == self.runner:
                p = replace(p, x=runner_x_px * SUBPX, y=PATH_Y_PX * SUBPX, vx=0, vy=0, tag=Tag())
            else:
                p = replace(p, x=1200 * SUBPX, y=600 * SUBPX, vx=0, vy=0, tag=Tag(it=True))
            players.append(p)
        self.server.world = replace(self.server.world, players=tuple(players))

    def stand_under(self, x: int) -> None:
        players = tuple(replace(p, x=x, y=(PATH_Y_PX + SHOOTER_BELOW_PX) * SUBPX, vx=0, vy=0)
                        if p.id == self.me else p for p in self.server.world.players)
        self.server.world = replace(self.server.world, players=players)

    def run(self, seconds: float, fire_view_256: int | None = None) -> None:
        for _ in range(round(seconds / DT)):
            self.clock.advance(DT)
            now = self.clock.now()
            self.client.update(now)
            if self.client.state is ClientState.CONNECTED:
                if fire_view_256 is not None:
                    self.client.send_input(tag.fire_bits(UP_AIM), now, fire_view_256)
                    fire_view_256 = None
                else:
                    self.client.send_input(0, now, -1)
            self.server.receive(now)
            self.server.tick_once(now)
            runner = self.server.world.player(self.runner) if self.runner is not None else None
            if runner is not None:
                self.x_at[self.server.tick] = runner.x
            self.client.receive(now)
            self.events += self.client.take_events()

    def shoot_at_what_was_drawn(self, ticks_ago: int) -> list:
        """Fire at where the runner was ``ticks_ago`` (a snapshot tick); return our verdicts."""
        view_tick = self.server.tick - ticks_ago
        view_tick -= view_tick % 2  # snapshots go out every second tick
        self.stand_under(self.x_at[view_tick])
        self.run(0.5, fire_view_256=view_tick * 256)
        return [e for e in self.events if e[0] == "shot"]


def test_a_hit_on_the_shooters_screen_is_confirmed() -> None:
    game = Range(lag_compensation=True)
    game.run(0.6)  # the runner is at full speed
    verdicts = game.shoot_at_what_was_drawn(ticks_ago=18)  # 300 ms: a wifi player's screen
    assert [v[2] for v in verdicts] == [game.runner]
    assert game.server.stats()["tags_confirmed"] == 1
    assert game.server.world.player(game.runner).tag.it  # the tag happened
    assert 300 <= game.server.stats()["rewind_ms_mean"] <= 600  # the buffer and the trip add a little


def test_without_lag_compensation_the_same_shot_misses() -> None:
    game = Range(lag_compensation=False)
    game.run(0.6)
    verdicts = game.shoot_at_what_was_drawn(ticks_ago=18)
    assert [v[2] for v in verdicts] == [-1]
    assert game.server.stats()["tags_rejected"] == 1 and not game.server.world.player(game.runner).tag.it


def test_a_view_older_than_the_cap_is_not_confirmed() -> None:
    game = Range(lag_compensation=True, cap_ms=200)
    game.run(0.8)
    verdicts = game.shoot_at_what_was_drawn(ticks_ago=30)  # 500 ms: more than the 200 ms cap
    assert [v[2] for v in verdicts] == [-1]
    assert game.server.lag.clamped_old == 1
    # The same shot inside the cap is a hit: the cap, not the aim, made the difference.
    inside = Range(lag_compensation=True, cap_ms=1000)
    inside.run(0.8)
    assert [v[2] for v in inside.shoot_at_what_was_drawn(ticks_ago=30)] == [inside.runner]
