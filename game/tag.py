"""The rules of tag: who is "it", the tag beam, touches, pickups, scores and rounds.

Theory of operation
-------------------
Everything here runs inside ``sim.step`` after the players have moved and pushed each other, on
the server and (for the local player's own inputs) in every client's prediction. It follows the
simulation's rules for determinism: integers only, players in id order, and the one source of
chance, the pickup and "who starts as it" draws, is a small generator whose state lives in the
world (``Round.rng``) and so travels in every snapshot.

The game, for 3 to 8 friends:

* A round lasts ``ROUND_S`` seconds, then ``INTERMISSION_S`` seconds of rest show the winner.
* At the start of a round ``its_for(players)`` players are drawn to be **it** (one for up to five
  players, two for six to ten, ...). They may not tag for ``START_GRACE_MS`` (counted in their own
  inputs, like every wait of an it), so everyone can scatter.
* An "it" tags by **touching** a runner, or with the **tag beam**: the fire bit of an input
  shoots a ``BEAM_RANGE_PX`` beam in one of ``AIM_STEPS`` directions, with a ``COOLDOWN_MS`` wait
  between shots. The first runner along the beam is tagged.
* A tag swaps roles: the runner becomes it (and may not tag back for ``FREEZE_MS``), the tagger
  becomes a runner who cannot be tagged for ``IMMUNE_MS``. Points: **+1 to the tagger, -1 to the
  tagged, and -3 to whoever is still it when the round ends** (scores may go below zero). A
  runner who is never caught keeps 0; a good tagger climbs. The highest score wins the round
  (ties: the lower player id) and adds one to its ``wins``. Scores start at 0 each round.
* **Pickups** appear every ``PICKUP_EVERY_S`` seconds during play (at most ``MAX_PICKUPS``), at a
  spawn point drawn from the generator: a **boost** (faster for ``BOOST_MS``) or a **shield**
  (the next tag on you is absorbed). Running over one takes it.

Who a beam hits is not decided here from the present: the beam's caller passes ``views``, which
gives, for each shot, the other players *as the shooter's screen showed them* (lag compensation,
``netcode/lag_compensation.py``). Without ``views`` (a client predicting itself) a shot is fired
and its reload starts, but nobody is tagged, by beam or by touch: only the server judges tags.

Each step also leaves a record of what happened (``World.happened`` and ``World.shots``): tags,
pickups taken, rounds ending and starting. They are not part of the state (a snapshot does not
carry them); the server turns them into events for its clients.
"""
from __future__ import annotations

import math
from typing import Callable, Iterable, NamedTuple, Sequence

# --- input bits ------------------------------------------------------------------------------

FIRE = 16  # bit 4: fire the tag beam
AIM_SHIFT = 5  # bits 5..10: the beam's direction, 0..63
AIM_STEPS = 64  # directions: 0 is right (+x), counting clockwise on screen (+y is down)
AIM_MASK = AIM_STEPS - 1


def fire_bits(aim: int) -> int:
    """The bits that fire the beam in direction ``aim`` (0..63); add the movement bits to them."""
    return FIRE | (aim & AIM_MASK) << AIM_SHIFT


def aim_of(bits: int) -> int:
    return (bits >> AIM_SHIFT) & AIM_MASK


def aim_towards(dx: float, dy: float) -> int:
    """The aim step nearest to the direction (dx, dy), screen coordinates (+y down)."""
    return round(math.atan2(dy, dx) / (2 * math.pi) * AIM_STEPS) % AIM_STEPS


#: Unit vectors of the aim steps in 1/256 units. Computed once with floats and rounded; the table
#: is part of the rules fingerprint, so a machine whose libm rounded differently could not join.
AIM_VECTORS_256: tuple[tuple[int, int], ...] = tuple(
    (round(math.cos(2 * math.pi * k / AIM_STEPS) * 256), round(math.sin(2 * math.pi * k / AIM_STEPS) * 256))
    for k in range(AIM_STEPS))

# --- rules constants -------------------------------------------------------------------------

ROUND_S = 60
INTERMISSION_S = 5
START_GRACE_MS = 2000
COOLDOWN_MS = 600
FREEZE_MS = 1000
IMMUNE_MS = 1500
SHIELD_IMMUNE_MS = 1000
BOOST_MS = 3000
BOOST_PERCENT = 140  # speed and acceleration while boosted
BEAM_RANGE_PX = 150
BEAM_HALF_WIDTH_PX = 4
TOUCH_SLACK_PX = 2  # touching: centres at most two radii plus this apart
PICKUP_REACH_PX = 28  # a player whose centre comes this close takes a pickup
PICKUP_EVERY_S = 4
MAX_PICKUPS = 3
TAG_POINTS, TAGGED_POINTS, IT_AT_END_POINTS = 1, -1, -3
# Why penalties rather than points for running: a player's record is sent only while it differs
# from the default, and a runner who has done nothing keeps score 0, so quiet players cost nothing.
BOOST, SHIELD = 1, 2  # pickup kinds
PICKUP_KINDS = (BOOST, SHIELD)
RNG_SEED = 20261122
RNG_MODULUS = 1 << 31  # the generator's state fits the snapshot codec's int32


def its_for(players: int) -> int:
    """How many players start a round as it: none alone, one for up to five, one more per five."""
    return 0 if players < 2 else min(4, 1 + (players - 1) // 5)


def next_random(state: int) -> int:
    """One step of the world's generator (the C standard's example LCG, mod 2**31)."""
    return (state * 1103515245 + 12345) % RNG_MODULUS


class TagTimes(NamedTuple):
    """The rules' times in ticks at one tick rate."""

    round_ticks: int
    intermission_ticks: int
    grace: int
    cooldown: int
    freeze: int
    immune: int
    shield_immune: int
    boost: int
    pickup_every: int

    @staticmethod
    def for_tick_rate(tick_rate: int) -> "TagTimes":
        def ms(value: int) -> int:
            return max(1, value * tick_rate // 1000)

        return TagTimes(ROUND_S * tick_rate, INTERMISSION_S * tick_rate, ms(START_GRACE_MS), ms(COOLDOWN_MS),
                        ms(FREEZE_MS), ms(IMMUNE_MS), ms(SHIELD_IMMUNE_MS), ms(BOOST_MS), PICKUP_EVERY_S * tick_rate)


# --- state -----------------------------------------------------------------------------------

class Tag(NamedTuple):
    """One player's part in the game. The default is a runner with nothing going on.

    ``reload`` and ``boost`` count the player's own *inputs*, not ticks, like movement does: a
    client predicting itself then fires on exactly the input the server will fire on, and its
    boost ends on exactly the same input, however far ahead of the server its clock runs."""

    it: bool = False
    shield: bool = False
    wins: int = 0
    score: int = 0
    reload: int = 0  # inputs until an it may tag (by beam or touch) again
    boost: int = 0  # inputs of boosted speed left
    immune_until: int = 0  # a tick: a runner cannot be tagged before it (0: not immune)


class Round(NamedTuple):
    start_tick: int = 0
    number: int = 1
    rng: int = RNG_SEED

    def playing(self, tick: int, times: TagTimes) -> bool:
        return self.start_tick <= tick < self.start_tick + times.round_ticks

    def ends_at(self, times: TagTimes) -> int:
        return self.start_tick + times.round_ticks


class Pickup(NamedTuple):
    slot: int  # 0..MAX_PICKUPS-1
    x: int  # subpx
    y: int
    kind: int
    spawned_tick: int


class Shot(NamedTuple):
    """A beam fired during a step: by whom, with which of its inputs that tick, and the verdict."""

    shooter: int
    input_index: int
    aim: int
    x: int  # subpx, where the beam started
    y: int
    target: int  # the player hit; MISSED; or UNJUDGED (no views: a client's own prediction)


MISSED, UNJUDGED = -1, -2

Positions = dict[int, tuple[int, int]]  # player id -> (x, y) subpx
Views = Callable[[int, int], "Positions | None"]  # (shooter id, input index) -> what its screen showed


# --- geometry --------------------------------------------------------------------------------

def beam_target(x: int, y: int, aim: int, others: Iterable[tuple[int, int, int]], radius: int,
                subpx: int) -> int:
    """The first of ``others`` (``(id, x, y)``, subpx) that a beam from (x, y) along ``aim`` hits,
    or ``MISSED``. A player is hit when its circle comes within ``BEAM_HALF_WIDTH_PX`` of the beam's
    segment; the nearest along the beam wins (ties: the lower id)."""
    ux, uy = AIM_VECTORS_256[aim & AIM_MASK]
    reach = BEAM_RANGE_PX * subpx
    width = radius + BEAM_HALF_WIDTH_PX * subpx
    best = (reach + radius + 1, MISSED)
    for pid, ox, oy in others:
        rx, ry = ox - x, oy - y
        along = (rx * ux + ry * uy) // 256
        if not -radius <= along <= reach + radius:
            continue
        across = abs(rx * uy - ry * ux) // 256
        if across <= width and (along, pid) < best:
            best = (along, pid)
    return best[1]


def touching(ax: int, ay: int, bx: int, by: int, radius: int, subpx: int) -> bool:
    reach = 2 * radius + TOUCH_SLACK_PX * subpx
    return (ax - bx) ** 2 + (ay - by) ** 2 <= reach * reach


# --- the phases, run by sim.step after movement ------------------------------------------------

class Table:
    """The players' tag state during one step: ids in order, positions, and a ``Tag`` each."""

    def __init__(self, ids: Sequence[int], xs: Sequence[int], ys: Sequence[int], tags: Sequence[Tag],
                 tick: int, times: TagTimes) -> None:
        self.ids, self.xs, self.ys = list(ids), list(xs), list(ys)
        self.tags = list(tags)
        self.tick = tick
        self.times = times
        self.happened: list[tuple] = []

    def index(self, player_id: int) -> int | None:
        for i, pid in enumerate(self.ids):
            if pid == player_id:
                return i
        return None

    def taggable(self, i: int) -> bool:
        tag = self.tags[i]
        return not tag.it and self.tick >= tag.immune_until

    def can_tag(self, i: int) -> bool:
        tag = self.tags[i]
        return tag.it and tag.reload == 0

    def tag(self, tagger: int, target: int, how: str) -> None:
        """``tagger`` (an index) tags ``target``: roles swap, or the target's shield takes it."""
        t, g = self.tags[tagger], self.tags[target]
        if g.shield:
            self.tags[target] = g._replace(shield=False, immune_until=self.tick + self.times.shield_immune)
            self.happened.append(("shield", self.ids[tagger], self.ids[target], how))
            return
        self.tags[tagger] = t._replace(it=False, reload=0, immune_until=self.tick + self.times.immune,
                                       score=t.score + TAG_POINTS)
        self.tags[target] = g._replace(it=True, reload=self.times.freeze, immune_until=0, score=g.score + TAGGED_POINTS)
        self.happened.append(("tag", self.ids[tagger], self.ids[target], how))


def judge_shots(table: Table, shots: list[Shot], views: Views | None, radius: int, subpx: int) -> list[Shot]:
    """Each shot's verdict against what its shooter saw; a hit tags (if the target still may be)."""
    judged = []
    for shot in shots:
        seen = views(shot.shooter, shot.input_index) if views is not None else None
        if seen is None:
            judged.append(shot._replace(target=UNJUDGED))
            continue
        shooter = table.index(shot.shooter)
        candidates = [(pid, *seen[pid]) for i, pid in enumerate(table.ids)
                      if pid in seen and pid != shot.shooter and table.taggable(i)]
        target = beam_target(shot.x, shot.y, shot.aim, candidates, radius, subpx)
        if target != MISSED and shooter is not None and table.tags[shooter].it:
            table.tag(shooter, table.index(target), "beam")
        judged.append(shot._replace(target=target))
    return judged


def touch_tags(table: Table, radius: int, subpx: int) -> None:
    """Every it that may tag tags the nearest runner it touches (ties: the lower id)."""
    for i in range(len(table.ids)):
        if not table.can_tag(i):
            continue
        best = None
        for j in range(len(table.ids)):
            if j != i and table.taggable(j) and touching(table.xs[i], table.ys[i], table.xs[j], table.ys[j], radius, subpx):
                d = (table.xs[i] - table.xs[j]) ** 2 + (table.ys[i] - table.ys[j]) ** 2
                if best is None or (d, table.ids[j]) < best[:2]:
                    best = (d, table.ids[j], j)
        if best is not None:
            table.tag(i, best[2], "touch")


def take_pickups(table: Table, pickups: tuple[Pickup, ...], subpx: int) -> tuple[Pickup, ...]:
    """The lowest id within reach of a pickup takes it. Returns the pickups left."""
    reach_sq = (PICKUP_REACH_PX * subpx) ** 2
    left = []
    for pickup in pickups:
        taker = next((i for i in range(len(table.ids))
                      if (table.xs[i] - pickup.x) ** 2 + (table.ys[i] - pickup.y) ** 2 <= reach_sq), None)
        if taker is None:
            left.append(pickup)
            continue
        tag = table.tags[taker]
        if pickup.kind == BOOST:
            table.tags[taker] = tag._replace(boost=table.times.boost)
        else:
            table.tags[taker] = tag._replace(shield=True)
        table.happened.append(("pickup", table.ids[taker], pickup.kind))
    return tuple(left)


def expire_timers(table: Table) -> None:
    """Immunity that has run out goes back to 0, so an idle player's record returns to the default
    (and costs nothing in a snapshot)."""
    for i, tag in enumerate(table.tags):
        if tag.immune_until and table.tick >= tag.immune_until:
            table.tags[i] = tag._replace(immune_until=0)


def after_input(tag: Tag, bits: int, playing: bool, times: TagTimes) -> tuple[Tag, bool]:
    """One of the player's own inputs: count its timers down, and fire if it may. Returns the new
    state and whether a beam was fired."""
    if tag.reload or tag.boost:
        tag = tag._replace(reload=max(0, tag.reload - 1), boost=max(0, tag.boost - 1))
    if bits & FIRE and tag.it and tag.reload == 0 and playing:
        return tag._replace(reload=times.cooldown), True
    return tag, False


def run_round(table: Table, rnd: Round, pickups: tuple[Pickup, ...], spawn_points: Sequence[tuple[int, int]]
              ) -> tuple[Round, tuple[Pickup, ...]]:
    """The round clock: end a round, start the next, keep someone it, and spawn pickups."""
    times, tick = table.times, table.tick
    if tick == rnd.ends_at(times):
        _end_round(table, rnd)
        return rnd, ()
    if tick >= rnd.ends_at(times) + times.intermission_ticks:
        rnd = Round(tick, rnd.number + 1, rnd.rng)
        return _start_round(table, rnd), ()
    if not rnd.playing(tick, times):
        return rnd, pickups
    if len(table.ids) >= 2 and not any(t.it for t in table.tags):
        # Nobody is it (the game's first players, or every it left): draw as at a round's start.
        rnd = _choose_its(table, rnd, its_for(len(table.ids)))
    if (tick - rnd.start_tick) % times.pickup_every == 0 and tick > rnd.start_tick and len(pickups) < MAX_PICKUPS:
        rnd, pickups = _spawn_pickup(rnd, pickups, spawn_points, tick)
    return rnd, pickups


def _end_round(table: Table, rnd: Round) -> None:
    for i, tag in enumerate(table.tags):
        if tag.it:
            table.tags[i] = tag._replace(score=tag.score + IT_AT_END_POINTS)
    winner = -1
    if table.ids:
        best = max(range(len(table.ids)), key=lambda i: (table.tags[i].score, -table.ids[i]))
        table.tags[best] = table.tags[best]._replace(wins=table.tags[best].wins + 1)
        winner = table.ids[best]
    score = table.tags[table.index(winner)].score if winner >= 0 else 0
    table.happened.append(("round_over", rnd.number, winner, score))


def _start_round(table: Table, rnd: Round) -> Round:
    table.tags = [Tag(wins=t.wins) for t in table.tags]
    rnd = _choose_its(table, rnd, its_for(len(table.ids)))
    table.happened.append(("round_start", rnd.number))
    return rnd


def _choose_its(table: Table, rnd: Round, count: int) -> Round:
    runners = [i for i in range(len(table.ids)) if not table.tags[i].it]
    rng = rnd.rng
    for _ in range(min(count, len(runners))):
        rng = next_random(rng)
        i = runners.pop((rng >> 8) % len(runners))
        table.tags[i] = table.tags[i]._replace(it=True, reload=table.times.grace, immune_until=0)
        table.happened.append(("it", table.ids[i]))
    return rnd._replace(rng=rng)


def _spawn_pickup(rnd: Round, pickups: tuple[Pickup, ...], spawn_points: Sequence[tuple[int, int]],
                  tick: int) -> tuple[Round, tuple[Pickup, ...]]:
    spot_rng = next_random(rnd.rng)
    kind_rng = next_random(spot_rng)
    x, y = spawn_points[(spot_rng >> 8) % len(spawn_points)]
    rnd = rnd._replace(rng=kind_rng)
    if any(p.x == x and p.y == y for p in pickups):
        return rnd, pickups  # that spot is taken: no pickup this time
    slot = min(set(range(MAX_PICKUPS)) - {p.slot for p in pickups})
    new = Pickup(slot, x, y, PICKUP_KINDS[(kind_rng >> 8) % len(PICKUP_KINDS)], tick)
    return rnd, tuple(sorted(pickups + (new,)))
