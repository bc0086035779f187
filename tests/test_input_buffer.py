"""The scheduled input buffer and the client's time dilation, on their own and together.

The buffer is driven tick by tick without sockets: a stream of one input per client tick arrives
with scripted delays (in ticks, with the in-order delivery of a real link), and we count how many
inputs each server tick applies. The whole-game figures (a line bot under the wifi profile) run in
``test_switches.py``'s fake-clock harness.
"""
from __future__ import annotations

import random

import pytest

from netcode.input_buffer import (GAP_PATIENCE_TICKS, LATE_STEP_TICKS, MAX_INPUTS_PER_TICK,
                                  REANCHOR_LATE_TICKS, BufferPolicy, InputBuffer, TickHistogram)
from netcode.protocol import Inputs
from netcode.switches import Switches
from netcode.time_dilation import MAX_DILATION, TimeDilation

TICK_RATE = 60
DT = 1 / TICK_RATE


def play(buffer: InputBuffer, delays: list[int], redundancy: int = 4) -> list[int]:
    """Client input ``n`` is sent at tick ``n`` and arrives ``delays[n]`` ticks later, in order.

    Each packet carries the newest input and up to ``redundancy - 1`` before it. Returns the
    number of inputs applied on every server tick, from the first tick to the last arrival + 20.
    """
    arrivals: dict[int, list[int]] = {}
    latest = 0
    for n, delay in enumerate(delays):
        latest = max(latest, n + delay)  # in order: never before the packet sent before it
        arrivals.setdefault(latest, []).append(n)
    counts = []
    for tick in range(1, latest + 21):
        for n in arrivals.get(tick - 1, []):  # arrived between tick - 1 and tick
            bits = tuple(range(max(0, n - redundancy + 1), n + 1))
            buffer.add(Inputs(n, bits, -1, -1), tick, tick * DT, tick * DT)
        counts.append(len(buffer.take_for_tick(tick, tick * DT)))
    return counts


def jitter(n: int, max_delay: int, seed: int = 7) -> list[int]:
    rng = random.Random(seed)
    return [rng.randint(0, max_delay) for _ in range(n)]


def steady(counts: list[int]) -> list[int]:
    """The ticks between the first and the last input applied."""
    first = next(i for i, c in enumerate(counts) if c)
    last = max(i for i, c in enumerate(counts) if c)
    return counts[first:last + 1]


# --- the schedule ----------------------------------------------------------------------------------


def test_a_jittered_stream_gets_exactly_one_input_per_tick_with_enough_lead() -> None:
    delays = jitter(600, max_delay=3)
    scheduled = steady(play(InputBuffer(BufferPolicy("fixed", 4)), delays))
    assert scheduled == [1] * 600  # every tick one input: the track is even
    naive = steady(play(InputBuffer(BufferPolicy("off")), delays))
    assert naive.count(0) > 60 and naive.count(2) > 60  # the staircase the schedule removes
    assert sum(naive) == 600  # ... though the naive buffer too applies every input once


def test_each_input_is_applied_once_in_order_and_never_ahead_of_its_tick() -> None:
    buffer = InputBuffer(BufferPolicy("fixed", 2))
    applied: list[int] = []
    for tick in range(1, 200):
        # A flood: ten new inputs a tick, each packet repeating the last five.
        newest = tick * 10
        buffer.add(Inputs(newest, tuple(range(newest - 4, newest + 1)), -1, -1), tick, tick * DT)
        taken = buffer.take_for_tick(tick, tick * DT)
        assert len(taken) <= MAX_INPUTS_PER_TICK
        applied += [seq for seq, _ in taken]
        assert len(applied) <= tick + 2  # no faster than the ticks since it joined (+ the first lead)
    assert applied == sorted(set(applied))


def test_the_lead_says_how_early_the_newest_input_arrives() -> None:
    buffer = InputBuffer(BufferPolicy("fixed", 3))
    for n in range(40):
        tick = n + 1
        # Arriving a quarter of a tick after the previous tick ran: 0.75 of a tick is left.
        buffer.add(Inputs(n, (0,), -1, -1), tick, (tick - 0.75) * DT, tick * DT)
        buffer.take_for_tick(tick, tick * DT)
    assert buffer.lead_ticks() == pytest.approx(3.75)
    assert buffer.target_lead_ticks() == 3.0
    # Each input waited its lead: 3.75 ticks from arrival to the start of its tick.
    assert buffer.wait_ms.mean == pytest.approx(3.75 * DT * 1000)


def test_the_off_policy_reports_no_target_so_the_client_keeps_its_clock() -> None:
    buffer = InputBuffer(BufferPolicy("off"))
    play(buffer, [1] * 30)
    assert buffer.target_lead_ticks() is None


# --- adaptive target -------------------------------------------------------------------------------


def test_the_adaptive_target_rises_when_inputs_miss_their_tick_and_sinks_when_none_do() -> None:
    buffer = InputBuffer(BufferPolicy("adaptive"))
    start = buffer.target_lead_ticks()
    # The first input sets the schedule; later ones arrive 3 ticks later than it did.
    play(buffer, [0] + [3] * 10)
    assert buffer.late > 0
    assert buffer.target_lead_ticks() > start  # it learnt that more lead is needed
    peak = buffer.target_lead_ticks()
    more = InputBuffer(BufferPolicy("adaptive"))
    play(more, [0] + [3] * 10 + [0] * 3000)  # then a long, perfectly timely stream
    assert more.target_lead_ticks() < peak  # ... and lets it go again


def test_one_late_packet_raises_the_target_by_at_least_a_step() -> None:
    buffer = InputBuffer(BufferPolicy("adaptive"))
    start = buffer.target_lead_ticks()
    play(buffer, [0] * 20 + [4])  # a single input 4 ticks late: beyond its lead
    assert buffer.late >= 1
    assert buffer.target_lead_ticks() >= start + LATE_STEP_TICKS - 0.05


# --- falling behind, outages and pauses -------------------------------------------------------------


def test_a_client_that_falls_far_behind_moves_the_schedule_instead_of_losing_inputs() -> None:
    buffer = InputBuffer(BufferPolicy("fixed", 2))
    stall = 3 * REANCHOR_LATE_TICKS
    # A stalled client: from input 100 on, everything it sends is ``stall`` ticks later.
    counts = play(buffer, [0] * 100 + [stall] * 200)
    assert buffer.reanchors == 1
    assert buffer.skipped == 0
    assert sum(counts) == 300
    after = steady(counts)[100 + stall + 5:]
    assert after and set(after) == {1}  # and then one per tick again at once


def test_after_an_outage_the_late_inputs_move_the_schedule_instead_of_rushing_or_vanishing() -> None:
    buffer = InputBuffer(BufferPolicy("fixed", 2))
    outage = 20
    # Inputs 100..119 are lost on the way; then the link comes back. Redundancy (32) brings the
    # old ones with the first packet after, 20 ticks too late for their ticks.
    counts = []
    for tick in range(1, 200):
        n = tick - 1
        if not 100 <= n < 100 + outage:
            buffer.add(Inputs(n, tuple(range(max(0, n - 31), n + 1)), -1, -1), tick, tick * DT)
        counts.append(len(buffer.take_for_tick(tick, tick * DT)))
    assert buffer.skipped == 0  # every input is applied: the player is not corrected
    assert buffer.reanchors == 0  # the newest input came on time: the client did not fall behind
    assert buffer.fallbacks == 1  # the schedule moved later once, by the inputs still overdue
    assert counts.count(2) == 1  # one catch-up, not a rush of 20
    assert counts[-40:] == [1] * 40  # and then one per tick again
    assert buffer.applied + len(buffer.waiting) == 199  # every input applied, or waiting its turn


def test_a_lag_switch_gains_at_most_one_input_in_any_second() -> None:
    buffer = InputBuffer(BufferPolicy("fixed", 2))
    # The client holds its packets back for 8 ticks, then lets them all go, again and again.
    delays = [(8 - n % 30) if n % 30 < 8 else 0 for n in range(1200)]
    counts = play(buffer, delays)
    window = 60
    most = max(sum(counts[i:i + window]) for i in range(len(counts) - window))
    assert most <= window + 1  # 61 inputs in 60 ticks: 1.7% over the top speed at most
    assert buffer.skipped == 0


def test_a_client_that_stops_sending_is_not_skipped_ahead() -> None:
    buffer = InputBuffer(BufferPolicy("fixed", 2))
    play(buffer, [0] * 50)
    for tick in range(80, 200):  # nothing arrives for a long while
        assert buffer.take_for_tick(tick, tick * DT) == []
    assert buffer.skipped == 0
    assert buffer.next_seq == 50


def test_a_lost_input_is_skipped_after_patience() -> None:
    buffer = InputBuffer(BufferPolicy("fixed", 0))
    buffer.add(Inputs(0, (1,), -1, -1), 1, DT)
    assert buffer.take_for_tick(1, DT) == [(0, 1)]
    buffer.add(Inputs(5, (6,), -1, -1), 2, 2 * DT)  # inputs 1..4 never come
    taken = [buffer.take_for_tick(tick, tick * DT) for tick in range(2, 2 + GAP_PATIENCE_TICKS + 4)]
    assert buffer.skipped == 4
    assert [(5, 6)] in taken


# --- the histogram ---------------------------------------------------------------------------------


def test_the_histogram_does_not_count_the_empty_ticks_after_a_client_stops() -> None:
    histogram = TickHistogram()
    for applied in (1, 1, 0, 2, 1, 0, 0, 0):
        histogram.record(applied)
    assert histogram.as_dict() == {"0": 1, "1": 3, "2": 1, "3+": 0}


def test_policies_parse_and_bad_ones_are_named() -> None:
    assert BufferPolicy.parse("adaptive") == BufferPolicy("adaptive")
    assert BufferPolicy.parse("off") == BufferPolicy("off")
    assert BufferPolicy.parse("3") == BufferPolicy("fixed", 3)
    for bad in ("fast", "-1", "99", ""):
        with pytest.raises(ValueError, match="adaptive, off or"):
            BufferPolicy.parse(bad)


# --- time dilation ---------------------------------------------------------------------------------


def test_time_dilation_speeds_up_when_inputs_are_late_and_slows_down_when_early() -> None:
    dilation = TimeDilation(TICK_RATE, Switches())
    dilation.on_feedback(lead_ticks=1.0, target_ticks=2.0)
    assert dilation.rate > 0 and dilation.tick_dt_s() < DT
    dilation.on_feedback(lead_ticks=3.0, target_ticks=2.0)
    assert dilation.rate < 0 and dilation.tick_dt_s() > DT
    dilation.on_feedback(lead_ticks=2.0, target_ticks=2.0)
    assert dilation.rate == 0 and dilation.tick_dt_s() == pytest.approx(DT)


def test_time_dilation_is_bounded_and_obeys_its_switch_and_the_server() -> None:
    switches = Switches()
    dilation = TimeDilation(TICK_RATE, switches)
    dilation.on_feedback(lead_ticks=-40.0, target_ticks=2.0)
    assert dilation.rate == MAX_DILATION
    switches.time_dilation = False
    assert dilation.rate == 0 and dilation.tick_dt_s() == pytest.approx(DT)
    switches.time_dilation = True
    dilation.on_feedback(lead_ticks=0.0, target_ticks=None)  # --input-buffer off: nothing to aim at
    assert dilation.rate == 0
