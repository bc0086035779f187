"""The server's input buffer for one client: each input applied once, in order, one per tick.

Theory of operation
-------------------
A client numbers its inputs 0, 1, 2, ... one per client tick and sends every input with the few
before it, so a lost packet costs nothing. They arrive with jitter: on a wifi link an input may
take 30 ms or 70 ms, more than a whole 16.7 ms tick either way. If the server applied each input
the moment it arrived, a steady player would get 0 inputs on one tick and 2 on the next, and its
authoritative track (the one every other player watches) would be a staircase.

So the buffer keeps a *schedule* (Overwatch's netcode, GDC 2017): input ``s`` is due at server
tick ``s + offset``, with ``offset`` set when the first input arrives. Each tick applies the
input that is due, exactly one, whatever the jitter, as long as it arrived in time. How early the
client's newest input arrives is its *lead*, in ticks: the time from its arrival to the start of
its due tick; a lead between 0 and 1 means it is applied at the very next tick, a negative one
means it came late. The server tells the client, in every snapshot, the mean lead of
its recent inputs and the lead it should aim for; the client runs its own ticks a few percent
faster or slower (``time_dilation.py``) until they match. The client's clock, not the server,
sets the depth. Only if the client falls far behind (its process stalled, its lag jumped) does
the server move the schedule later, once, instead of waiting for the clock to catch up.

The target lead (policy ``adaptive``) is learnt from outcomes: every input that misses its tick
raises it by as much as it was late (a quarter to a whole tick), every input in time lowers it
by a sliver, and a window of inputs that all came with lead to spare gives half the spare back;
so it settles where about ``LATE_SHARE_GOAL`` (0.3%) of inputs miss: enough lead to cover the
jitter, the losses and the client's frame timing together, and no more, because every tick of
lead is latency that other players see. Policy ``fixed N`` aims at N ticks; policy ``off`` is the naive buffer kept for
comparison: apply an input as soon as it is there, and after a tick without one (a *credit*)
allow a second input on a later tick to catch up.

The guarantees hold in every policy:

* each input number is applied at most once, in order, never more than ``MAX_INPUTS_PER_TICK``
  in one tick, and never before its due tick, so since joining a client has had no more inputs
  applied than ticks have passed (plus the first lead), however many packets it sends; with a
  schedule, two in one tick happen at most once in ``CATCHUP_EVERY_TICKS``, so no second of the
  track holds more than one extra input, whatever the timing of the packets;
* an input that never arrives (lost beyond all redundancy) is skipped after
  ``GAP_PATIENCE_TICKS``;
* inputs still overdue after a tick (an outage, a burst) move the schedule later rather than being
  dropped or applied in a rush: no correction, no speed; the client's clock, running slow for a
  while, then brings the lead back to the target. (Policy ``off``: a backlog beyond
  ``MAX_BACKLOG_INPUTS`` is dropped, and its catch-up credit lets bursts through.)
"""
from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field

from .protocol import INPUT_SEQ_NONE, Inputs
from .stats import RunningMean, mean

MAX_INPUTS_AHEAD = 120  # inputs further ahead than this (2 s at 60 Hz) are refused
MAX_INPUTS_PER_TICK = 2  # one due input plus one late one catching up ...
CATCHUP_EVERY_TICKS = 60  # ... at most once in this many ticks (scheduled policies)
MAX_CATCHUP_CREDIT = 8  # policy off: ticks of lateness a client may make up
GAP_PATIENCE_TICKS = 6  # how long to wait for a lost input before skipping it
MAX_BACKLOG_INPUTS = 12  # policy off: 200 ms at 60 Hz, more than jitter queues, less than a stall
INITIAL_LEAD_TICKS = 1  # the first input's lead, before the client's clock has adjusted
MAX_TARGET_TICKS = 12
LATE_SHARE_GOAL = 0.003  # adaptive: the share of inputs allowed to miss their tick (each costs a 0 and a 2)
LATE_STEP_TICKS = 0.25  # adaptive: a late input raises the target by at least this much ...
TYPICAL_RAISE_TICKS = 0.5  # adaptive: a late packet raises the target by 0.25 to 1 tick, about this on average
EARLY_STEP_TICKS = TYPICAL_RAISE_TICKS * LATE_SHARE_GOAL / (1 - LATE_SHARE_GOAL)  # ... an in-time one lowers it
MAX_RAISE_TICKS = 1.0  # adaptive: the most one late packet raises the target
SPARE_WINDOW = 120  # adaptive: inputs (2 s at 60 Hz) judged together for lead to spare ...
SPARE_KEEP_TICKS = 0.5  # ... of which this much is kept as margin
RAISE_COOLDOWN_TICKS = 30  # after a raise the client needs a while to follow: no second raise before
LEAD_MEAN_WINDOW = 30  # arrivals (0.5 s at 60 Hz): the mean the client's clock steers
LEAD_CLAMP_TICKS = 8  # one outlier's pull on the mean is bounded
REANCHOR_LATE_TICKS = 4  # a newest input this late moves the schedule (see ``_on_newest``)
WAIT_WINDOW = 30  # policy off: recent waits, reported in place of a lead


@dataclass(frozen=True)
class BufferPolicy:
    """How the server schedules inputs: ``adaptive`` (default), ``fixed`` N ticks, or ``off``."""

    mode: str = "adaptive"
    fixed_ticks: int = 0

    @staticmethod
    def parse(text: str) -> "BufferPolicy":
        """``adaptive``, ``off`` or a number of ticks; ValueError with a readable message otherwise."""
        if text in ("adaptive", "off"):
            return BufferPolicy(text)
        if text.isdigit() and 0 <= int(text) <= MAX_TARGET_TICKS:
            return BufferPolicy("fixed", int(text))
        raise ValueError(f"input buffer must be adaptive, off or 0..{MAX_TARGET_TICKS} ticks, got {text!r}")

    @property
    def scheduled(self) -> bool:
        return self.mode != "off"

    def __str__(self) -> str:
        return f"{self.fixed_ticks} ticks" if self.mode == "fixed" else self.mode


@dataclass
class TickHistogram:
    """Inputs applied per tick, ``{"0": n, "1": n, "2": n, "3+": n}``, over ticks a client was playing.

    A run of empty ticks is only counted once a later input shows the client was still there, so
    the ticks between a client's last input and its leaving never count as starvation.
    """

    counts: Counter = field(default_factory=Counter)
    zero_run: int = 0

    def record(self, applied: int) -> None:
        if applied == 0:
            self.zero_run += 1
            return
        self.counts["0"] += self.zero_run
        self.zero_run = 0
        self.counts["3+" if applied >= 3 else str(applied)] += 1

    def as_dict(self) -> dict[str, int]:
        return {key: self.counts[key] for key in ("0", "1", "2", "3+")}


@dataclass
class Arrival:
    bits: int
    arrived_s: float


class InputBuffer:
    """One client's inputs waiting to be applied, keyed by input number."""

    def __init__(self, policy: BufferPolicy = BufferPolicy(), tick_rate: int = 60,
                 steady_after_ticks: int = 0) -> None:
        self.policy = policy
        self.tick_rate = tick_rate
        self.next_seq = 0  # the next input number to apply
        self.waiting: dict[int, Arrival] = {}
        self.offset: int | None = None  # input s is due at tick s + offset (scheduled policies)
        self.credit = 0  # policy off only
        self.gap_ticks = 0
        self.applied = 0
        self.skipped = 0
        self.reanchors = 0  # times the schedule moved later because the client fell behind
        self.fallbacks = 0  # times it moved later because inputs were still overdue after a tick
        self.leads: deque[float] = deque(maxlen=LEAD_MEAN_WINDOW)
        # The lead the client should aim for; adaptive policy: moved by every arrival (_adapt).
        self.target_ticks = float(policy.fixed_ticks if policy.mode == "fixed" else INITIAL_LEAD_TICKS)
        self.late = 0  # inputs that arrived after their tick began (scheduled policies)
        self.ticks_since_raise = RAISE_COOLDOWN_TICKS
        self.last_catchup_tick = -CATCHUP_EVERY_TICKS
        self.spare_min_ticks, self.spare_count = float("inf"), 0  # the window of _give_back_spare
        self.recent_waits_s: deque[float] = deque(maxlen=WAIT_WINDOW)
        self.wait_ms = RunningMean()
        self.histogram = TickHistogram()
        self.ticks_seen: int | None = None  # ticks since the first input arrived
        self.steady_after_ticks = steady_after_ticks

    # --- arrivals ------------------------------------------------------------------------------

    def add(self, inputs: Inputs, next_tick: int, now: float, next_tick_s: float | None = None) -> None:
        """Store the inputs of one packet; the server runs tick ``next_tick`` next, at ``next_tick_s``."""
        first = inputs.newest_seq - len(inputs.bits) + 1
        if self.ticks_seen is None:
            self.ticks_seen = 0
        new_seqs = [first + i for i, bits in enumerate(inputs.bits) if self._store(first + i, bits, now)]
        if not new_seqs or not self.policy.scheduled:
            return
        # The part of a tick left before the next one runs: an input that lands just after a
        # tick waits almost a whole tick more than one that lands just before the next.
        left = 0.0 if next_tick_s is None else max(0.0, min(1.0, (next_tick_s - now) * self.tick_rate))
        reanchored = new_seqs[-1] == inputs.newest_seq and self._on_newest(inputs.newest_seq, next_tick, left)
        if reanchored:
            return  # falling behind is not jitter: nothing to learn from this packet
        leads_ticks = [seq + self.offset - next_tick + left for seq in new_seqs]
        self.late += sum(1 for lead in leads_ticks if lead < 0)
        if self.policy.mode == "adaptive":
            self._adapt(leads_ticks)

    def _store(self, seq: int, bits: int, now: float) -> bool:
        """Keep a newly arrived input; False for one already here, applied, or absurdly far ahead."""
        if not self._accepts(seq) or seq in self.waiting:
            return False
        self.waiting[seq] = Arrival(bits, now)
        return True

    def _accepts(self, seq: int) -> bool:
        return self.next_seq <= seq < self.next_seq + MAX_INPUTS_AHEAD

    def _on_newest(self, seq: int, next_tick: int, tick_left: float) -> bool:
        """Measure the lead of the client's newest input: how early its clock runs for us.

        Only the newest input of a packet says where the client's clock is now; older ones
        repeated after a loss arrive late by construction. A newest input later than
        ``REANCHOR_LATE_TICKS`` means the client lost time (a stalled process, a jump in lag):
        move the schedule later to it at once, rather than drop its inputs until its clock,
        a few percent at a time, catches up. The schedule only ever moves later, so the client
        can never gain inputs by it.
        """
        reanchor = self.offset is None or seq + self.offset - next_tick < -REANCHOR_LATE_TICKS
        if reanchor:
            self.reanchors += self.offset is not None
            self.offset = next_tick + self._aim_ticks() - seq
            self.leads.clear()  # the old phase, and the fall behind, are not jitter
        lead = max(-LEAD_CLAMP_TICKS, min(LEAD_CLAMP_TICKS, seq + self.offset - next_tick + tick_left))
        self.leads.append(lead)
        return reanchor

    def _aim_ticks(self) -> int:
        """The lead to give the client's newest input when the schedule is (re)set."""
        return round(self.target_ticks)

    # --- the tick ------------------------------------------------------------------------------

    def take_for_tick(self, tick: int, now: float) -> list[tuple[int, int]]:
        """The (input number, bits) to apply on ``tick``: one when on schedule, 0 or 2 when not."""
        if self.policy.scheduled:
            taken = self._take_scheduled(tick, now) if self.offset is not None else []
        else:
            taken = self._take_unscheduled(now)
        self._count_tick(len(taken))
        return taken

    def _take_scheduled(self, tick: int, now: float) -> list[tuple[int, int]]:
        due_seq = tick - self.offset  # the newest input number due by this tick
        self.ticks_since_raise += 1
        taken: list[tuple[int, int]] = []
        while len(taken) < self._room_this_tick(tick) and self.next_seq <= due_seq:
            if self.next_seq in self.waiting:
                taken.append(self._take_next(now))
            elif not self._skip_gap_if_stale(overdue_ticks=due_seq - self.next_seq):
                break
        if len(taken) > 1:
            self.last_catchup_tick = tick
        self._fall_back_if_behind(due_seq)
        return taken

    def _fall_back_if_behind(self, due_seq: int) -> None:
        """Inputs still overdue after this tick (an outage, a burst): move the schedule later.

        They are not dropped (that would cost the player a correction) and not caught up faster
        than ``_room_this_tick`` allows (that would be speed). The schedule moves later by as many
        ticks as are overdue, never earlier; the client's clock then sees its inputs arrive early
        and runs slow until the lead is back at the target.
        """
        waiting_overdue = self.next_seq <= due_seq and self.next_seq in self.waiting
        if waiting_overdue:
            self.offset += due_seq - self.next_seq + 1
            self.fallbacks += 1

    def _room_this_tick(self, tick: int) -> int:
        """One input, or two to catch up, but two at most once in any ``CATCHUP_EVERY_TICKS``.

        So any second of the server's track holds at most one input more than a second's worth
        (61 in 60 ticks at 60 Hz, 1.7% over top speed), however a client times its packets: a
        "lag switch" that holds inputs back and releases them in a burst gains nothing but its own
        lag. An honest late input (a few in a thousand) is still caught up at once.
        """
        return MAX_INPUTS_PER_TICK if tick - self.last_catchup_tick >= CATCHUP_EVERY_TICKS else 1

    def _adapt(self, leads_ticks: list[float]) -> None:
        """Policy adaptive: learn the target lead from whether this packet's inputs came in time.

        An input that arrived after its tick began (lead below 0) missed it: raise the target by
        as much as it was late (at least ``LATE_STEP_TICKS``, at most ``MAX_RAISE_TICKS``), then
        wait ``RAISE_COOLDOWN_TICKS`` for the client's clock to follow before raising again.
        Each input in time lowers the target by a sliver, sized so that the two balance when about
        ``LATE_SHARE_GOAL`` of inputs are late. So the target settles wherever that share is met,
        whatever made inputs late: jitter, loss (a lost input comes a tick later, with the next
        packet), or the client's frame timing.
        """
        late_by = -min(leads_ticks)
        if late_by > 0:
            self.spare_min_ticks, self.spare_count = float("inf"), 0  # no spare in this window
            if self.ticks_since_raise >= RAISE_COOLDOWN_TICKS:
                raise_ticks = max(LATE_STEP_TICKS, min(MAX_RAISE_TICKS, late_by))
                self.target_ticks = min(MAX_TARGET_TICKS, self.target_ticks + raise_ticks)
                self.ticks_since_raise = 0
            return
        self.target_ticks = max(0.0, self.target_ticks - EARLY_STEP_TICKS * len(leads_ticks))
        self._give_back_spare(min(leads_ticks), len(leads_ticks))

    def _give_back_spare(self, least_lead_ticks: float, inputs: int) -> None:
        """When every input of a whole window came with lead to spare, give half the spare back.

        The slow per-input decay alone would take tens of seconds to notice that the link got
        better (a lag drop); the least lead of ``SPARE_WINDOW`` inputs, all in time, says how much
        earlier than needed even the latest of them came.
        """
        self.spare_min_ticks = min(self.spare_min_ticks, least_lead_ticks)
        self.spare_count += inputs
        if self.spare_count < SPARE_WINDOW:
            return
        spare = self.spare_min_ticks - SPARE_KEEP_TICKS
        if spare > 0:
            self.target_ticks = max(0.0, self.target_ticks - spare / 2)
        self.spare_min_ticks, self.spare_count = float("inf"), 0

    def _take_unscheduled(self, now: float) -> list[tuple[int, int]]:
        if self.next_seq not in self.waiting:
            self.credit = min(MAX_CATCHUP_CREDIT, self.credit + 1)
            self.gap_ticks = self.gap_ticks + 1 if self.waiting else 0
            self._skip_gap_if_stale(overdue_ticks=self.gap_ticks)
            return []
        taken = [self._take_next(now)]
        if self.credit > 0 and self.next_seq in self.waiting:
            self.credit -= 1
            taken.append(self._take_next(now))
        while len(self.waiting) > MAX_BACKLOG_INPUTS and self.credit == 0:
            self._drop_older_than(self.next_seq + 1)
        return taken

    def _take_next(self, now: float) -> tuple[int, int]:
        arrival = self.waiting.pop(self.next_seq)
        wait_s = now - arrival.arrived_s
        if self._steady:
            self.wait_ms.add(wait_s * 1000)
        self.recent_waits_s.append(wait_s)
        taken = (self.next_seq, arrival.bits)
        self.next_seq += 1
        self.applied += 1
        self.gap_ticks = 0
        return taken

    def _skip_gap_if_stale(self, overdue_ticks: int) -> bool:
        """Skip a hole of inputs that never came, once a later one waits and patience ran out."""
        if not self.waiting or overdue_ticks < GAP_PATIENCE_TICKS:
            return False
        self._drop_older_than(min(self.waiting))
        self.gap_ticks = 0
        return True

    def _drop_older_than(self, seq: int) -> None:
        while self.next_seq < seq:
            self.waiting.pop(self.next_seq, None)
            self.next_seq += 1
            self.skipped += 1

    def _count_tick(self, applied: int) -> None:
        """Histogram the steady ticks: those after the first ``steady_after_ticks`` of playing."""
        if self.ticks_seen is None:
            return  # no input has arrived yet: the client is still joining
        self.ticks_seen += 1
        if self._steady:
            self.histogram.record(applied)

    @property
    def _steady(self) -> bool:
        return self.ticks_seen is not None and self.ticks_seen > self.steady_after_ticks

    # --- what the client is told ---------------------------------------------------------------

    def lead_ticks(self) -> float:
        """The mean lead of recent inputs (policy off: their mean wait, in ticks)."""
        if self.policy.scheduled:
            return mean(self.leads)
        return mean(self.recent_waits_s) * self.tick_rate

    def target_lead_ticks(self) -> float | None:
        """The lead the client's clock should aim for; None when the client should not steer."""
        return self.target_ticks if self.policy.scheduled else None

    @property
    def last_applied_seq(self) -> int:
        return self.next_seq - 1 if self.applied else INPUT_SEQ_NONE
