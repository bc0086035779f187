"""The client's side of tag: our shots and their verdicts, and the game's state put into words.

Theory of operation
-------------------
**Shots.** When our own prediction fires the beam (``FrameFacts.shots``), the client judges the
shot at once against what the player was looking at: the other players as the *previous* frame
drew them (the frame on screen when the key was sampled, whose render time went to the server
with the input). That is the "hit on screen" the player saw, drawn at once as a beam and a hit
marker. Then the server's verdict arrives on the reliable event channel (``["shot", input seq,
target or -1]``) and the marker turns green (confirmed: the server hit the same player) or red
(rejected). ``ShotBook`` keeps the shots waiting for a verdict (bounded, forgotten after
``VERDICT_WAIT_S``) and counts:

* ``tags_fired``: shots our prediction fired;
* ``tags_hit_on_screen``: of those, the ones whose beam crossed a taggable player on our screen;
* ``tags_confirmed``: hits on screen the server confirmed (same target);
* ``tags_rejected``: hits on screen the server judged otherwise;
* ``tags_hit_off_screen``: misses on our screen that the server counted as hits;
* ``tags_unanswered``: shots with no verdict in time (the server did not fire: a misprediction
  of "it" or of the round clock).

With lag compensation on, the server rewinds to our render time, so confirmed should be nearly
all of hit on screen; off, the targets have moved on by the time the shot is judged.

**Words.** ``event_words`` turns the server's events into a line for the message feed and a sound
cue; ``round_words`` reads the round clock and the winner from the newest snapshot's state, so
what is shown is the server's state, never a guess.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Iterable

from . import sim, tag
from .view import Beam, ScoreRow

VERDICT_WAIT_S = 2.0  # a shot with no verdict after this long is counted unanswered and forgotten
BEAM_SHOWN_S = 1.0  # the renderer fades the line by 0.4 s and holds the hit marker until 1 s: the verdict
MAX_SHOTS_KEPT = 64
Point = tuple[float, float]


@dataclass
class Shot:
    seq: int
    origin: Point
    end: Point
    target: int  # the player our screen showed it crossing, or -1
    target_px: Point | None
    fired_s: float
    verdict: int | None = None  # the server's target (-1: a miss); None: not yet


def beam_end(origin: Point, aim: int) -> Point:
    ux, uy = tag.AIM_VECTORS_256[aim]
    return origin[0] + ux * tag.BEAM_RANGE_PX / 256, origin[1] + uy * tag.BEAM_RANGE_PX / 256


def target_on_screen(origin: Point, aim: int, drawn: dict[int, Point], taggable: Iterable[int]) -> int:
    """The player a beam crosses on our screen, by the rules' own geometry (-1: nobody)."""
    s = sim.SUBPX
    taggable = set(taggable)
    others = [(pid, round(x * s), round(y * s)) for pid, (x, y) in sorted(drawn.items()) if pid in taggable]
    return tag.beam_target(round(origin[0] * s), round(origin[1] * s), aim, others, sim.PLAYER_RADIUS_PX * s, s)


class ShotBook:
    def __init__(self) -> None:
        self.shots: OrderedDict[int, Shot] = OrderedDict()  # by input seq, oldest first
        self.counts = dict.fromkeys(("tags_fired", "tags_hit_on_screen", "tags_confirmed", "tags_rejected",
                                     "tags_hit_off_screen", "tags_unanswered"), 0)

    def on_fire(self, seq: int, origin: Point, aim: int, drawn: dict[int, Point], taggable: Iterable[int],
                now: float) -> None:
        target = target_on_screen(origin, aim, drawn, taggable)
        self.shots[seq] = Shot(seq, origin, beam_end(origin, aim), target, drawn.get(target), now)
        self.counts["tags_fired"] += 1
        self.counts["tags_hit_on_screen"] += target >= 0
        while len(self.shots) > MAX_SHOTS_KEPT:
            self._forget(next(iter(self.shots)))

    def on_verdict(self, seq: int, target: int) -> str | None:
        """The server's verdict; returns the sound it calls for (or None)."""
        shot = self.shots.get(seq)
        if shot is None or shot.verdict is not None:
            return None
        shot.verdict = target
        if shot.target >= 0:
            agreed = target == shot.target
            self.counts["tags_confirmed" if agreed else "tags_rejected"] += 1
            return None if agreed else "miss"
        if target >= 0:
            self.counts["tags_hit_off_screen"] += 1
        return None

    def expire(self, now: float) -> None:
        for seq in [s.seq for s in self.shots.values() if now - s.fired_s > VERDICT_WAIT_S]:
            self._forget(seq)

    def _forget(self, seq: int) -> None:
        shot = self.shots.pop(seq)
        if shot.verdict is None:
            self.counts["tags_unanswered"] += 1

    def beams(self, now: float) -> list[Beam]:
        out = []
        for shot in self.shots.values():
            age_s = now - shot.fired_s
            if age_s <= BEAM_SHOWN_S:
                out.append(Beam(*shot.origin, *shot.end, _beam_state(shot), age_s, shot.target_px))
        return out

    def figures(self) -> dict[str, int]:
        return dict(self.counts)


def _beam_state(shot: Shot) -> str:
    if shot.verdict is None:
        return "hit" if shot.target >= 0 else "miss"
    if shot.target >= 0:
        return "confirmed" if shot.verdict == shot.target else "rejected"
    return "confirmed" if shot.verdict >= 0 else "miss"


# --- words -----------------------------------------------------------------------------------

PICKUP_NAMES = {tag.BOOST: "a boost", tag.SHIELD: "a shield"}


def event_words(event: list, names: dict[int, str], me: int | None) -> tuple[str | None, str | None]:
    """(a line for the message feed, a sound cue) for one game event; (None, None) if unknown."""
    def name(pid: int) -> str:
        return "you" if pid == me else names.get(pid, f"player {pid}")

    kind = event[0] if event else None
    if kind == "tag" and len(event) == 4:
        _, tagger, target, how = event
        line = f"{name(tagger)} tagged {name(target)}" + (" with the beam" if how == "beam" else "")
        return line[0].upper() + line[1:], "tagged" if target == me else "tag"
    if kind == "shield" and len(event) == 4:
        return f"{name(event[2]).capitalize()}: shield stopped {name(event[1])}", "tag"
    if kind == "pickup" and len(event) == 3 and event[1] == me:
        return f"You took {PICKUP_NAMES.get(event[2], 'a pickup')}", "pickup"
    if kind == "it" and len(event) == 2:
        return ("You are it!" if event[1] == me else f"{name(event[1])} is it"), None
    if kind == "round_over" and len(event) == 4:
        _, number, winner, score = event
        who = "Nobody" if winner < 0 else name(winner).capitalize()
        return f"{who} won round {number}" + ("" if winner < 0 else f" with {score} points"), "round_end"
    if kind == "round_start" and len(event) == 2:
        return f"Round {event[1]}: go!", "round_start"
    return None, None


def taggable_ids(world: sim.World) -> frozenset[int]:
    return frozenset(p.id for p in world.players if not p.tag.it and p.tag.immune_until <= world.tick)


def its(world: sim.World) -> frozenset[int]:
    return frozenset(p.id for p in world.players if p.tag.it)


def round_words(world: sim.World, phys: sim.Physics, names: dict[int, str], me: int | None) -> tuple[str, str]:
    """(the round line, the intermission banner) from a snapshot's state."""
    times, rnd = phys.times, world.round
    if rnd.playing(world.tick, times):
        left_s = -(-(rnd.ends_at(times) - world.tick) // phys.tick_rate)
        mine = world.player(me) if me is not None else None
        hint = "  -  you are IT" if mine is not None and mine.tag.it else ""
        return f"Round {rnd.number}  {left_s // 60}:{left_s % 60:02d}{hint}", ""
    next_s = -(-(rnd.ends_at(times) + times.intermission_ticks - world.tick) // phys.tick_rate)
    winner = round_winner(world)
    who = "Nobody" if winner is None else ("You" if winner == me else names.get(winner, f"player {winner}"))
    verb = "win" if winner == me else "wins"
    return f"Round {rnd.number} over", f"{who} {verb} round {rnd.number}!  Next round in {next_s} s"


def round_winner(world: sim.World) -> int | None:
    """The rules' own choice (``tag._end_round``): top score, ties to the lower id."""
    if not world.players:
        return None
    return max(world.players, key=lambda p: (p.tag.score, -p.id)).id


def scoreboard(world: sim.World, names: dict[int, str], me: int | None) -> list[ScoreRow]:
    rows = [ScoreRow(names.get(p.id, f"player {p.id}"), p.tag.score, p.tag.wins, p.tag.it, p.id == me)
            for p in world.players]
    return sorted(rows, key=lambda r: (-r.score, -r.wins, r.name))


def scores_by_name(world: sim.World, names: dict[int, str]) -> dict[str, int]:
    return {names.get(p.id, f"player {p.id}"): p.tag.score for p in world.players}
