"""Tests of the link conditioner, driven by a hand-advanced clock over a MemoryNetwork.

The harness is event driven: it jumps ``now`` straight to the next send or the next release time
the conditioner reports, so delays are measured exactly and thousands of packets take
milliseconds. Statistical checks use tolerances of about four standard errors.
"""
from __future__ import annotations

import argparse
import math
import statistics
import struct
from dataclasses import dataclass

import pytest
from hypothesis import given, settings as hyp_settings, strategies as st

from netcode.conditioner import (
    MAX_HELD_DATAGRAMS,
    PROFILES,
    REORDER_MIN_EXTRA_MS,
    LinkConditioner,
    LinkSettings,
    LinkSettingsError,
)
from netcode.conditioner_cli import add_link_arguments, link_settings_from_args, settings_or_error
from netcode.transport import Address, MemoryNetwork

A: Address = ("10.0.0.1", 1000)
B: Address = ("10.0.0.2", 2000)
EPS_MS = 1e-6


@dataclass(frozen=True)
class Delivery:
    index: int
    sent_s: float
    delivered_s: float

    @property
    def delay_ms(self) -> float:
        return (self.delivered_s - self.sent_s) * 1000


def _packet(index: int) -> bytes:
    return struct.pack("!I", index)


def _index(data: bytes) -> int:
    return struct.unpack("!I", data)[0]


def run_one_way(link: LinkSettings, seed: int, count: int, spacing_s: float,
                side: str = "out") -> tuple[list[Delivery], LinkConditioner]:
    """Send ``count`` packets A -> B, conditioning A's outbound or B's inbound side."""
    net = MemoryNetwork()
    a, b = net.endpoint(A), net.endpoint(B)
    cond = LinkConditioner(a if side == "out" else b, link, seed)
    sender = cond if side == "out" else a
    receiver = b if side == "out" else cond
    deliveries: list[Delivery] = []
    sent = 0
    while sent < count or cond.next_due_s() is not None:
        next_send_s = sent * spacing_s if sent < count else math.inf
        due_s = cond.next_due_s()
        now = min(next_send_s, math.inf if due_s is None else due_s)
        if next_send_s <= now:
            sender.send(_packet(sent), B, now)
            sent += 1
        if side == "out":
            cond.flush(now)
        for data, _ in receiver.receive(now):
            index = _index(data)
            deliveries.append(Delivery(index, index * spacing_s, now))
    return deliveries, cond


def out_of_order_count(deliveries: list[Delivery]) -> int:
    """Deliveries of a packet older than one already delivered."""
    newest, late = -1, 0
    for delivery in deliveries:
        if delivery.index < newest:
            late += 1
        newest = max(newest, delivery.index)
    return late


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[int(fraction * (len(ordered) - 1))]


# --- settings and profiles ----------------------------------------------------------------------


def test_profiles_have_the_documented_values() -> None:
    assert PROFILES["lan"] == LinkSettings()
    assert not PROFILES["lan"].is_active
    assert PROFILES["wifi"] == LinkSettings(lag_ms=100, jitter_ms=20, loss_pct=5)
    assert PROFILES["bad"] == LinkSettings(
        lag_ms=250, jitter_ms=50, loss_pct=15, dup_pct=5, reorder_pct=5)
    assert PROFILES["wifi"].is_active and PROFILES["bad"].is_active


@pytest.mark.parametrize("field", ["lag_ms", "jitter_ms", "loss_pct", "dup_pct", "reorder_pct"])
def test_any_single_nonzero_field_makes_settings_active(field: str) -> None:
    assert LinkSettings(**{field: 1}).is_active


@pytest.mark.parametrize("field, value, allowed", [
    ("lag_ms", -1, "0 and 10000 ms"),
    ("jitter_ms", 10_001, "0 and 10000 ms"),
    ("loss_pct", 150, "0 and 100 percent"),
    ("dup_pct", -0.5, "0 and 100 percent"),
    ("reorder_pct", float("nan"), "0 and 100 percent"),
    ("loss_pct", float("inf"), "0 and 100 percent"),
])
def test_out_of_range_settings_name_the_field_and_range(field: str, value: float,
                                                        allowed: str) -> None:
    with pytest.raises(LinkSettingsError) as info:
        LinkSettings(**{field: value})
    assert info.value.field == field
    assert field in str(info.value) and allowed in str(info.value)
    assert isinstance(info.value, ValueError)


# --- command line -------------------------------------------------------------------------------


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="run_client")
    add_link_arguments(parser)
    return parser


def settings_for(argv: list[str]) -> LinkSettings:
    parser = make_parser()
    return settings_or_error(parser.parse_args(argv), parser)


def test_no_flags_means_a_clean_lan_and_seed_one() -> None:
    args = make_parser().parse_args([])
    assert link_settings_from_args(args) == PROFILES["lan"]
    assert args.net_seed == 1


def test_profile_flag_selects_the_profile() -> None:
    assert settings_for(["--net", "wifi"]) == PROFILES["wifi"]
    assert settings_for(["--net", "bad"]) == PROFILES["bad"]


def test_explicit_flags_override_the_profile() -> None:
    assert settings_for(["--net", "wifi", "--loss", "0"]) == LinkSettings(lag_ms=100,
                                                                          jitter_ms=20)
    assert settings_for(["--net", "bad", "--lag", "80", "--reorder", "0"]) == LinkSettings(
        lag_ms=80, jitter_ms=50, loss_pct=15, dup_pct=5)
    assert settings_for(["--lag", "60", "--jitter", "5", "--dup", "2"]) == LinkSettings(
        lag_ms=60, jitter_ms=5, dup_pct=2)
    assert make_parser().parse_args(["--net-seed", "7"]).net_seed == 7


@pytest.mark.parametrize("argv, flag, name", [
    (["--loss", "150"], "--loss", "loss_pct"),
    (["--net", "wifi", "--lag", "-5"], "--lag", "lag_ms"),
    (["--jitter", "20000"], "--jitter", "jitter_ms"),
    (["--dup", "101"], "--dup", "dup_pct"),
    (["--reorder", "nan"], "--reorder", "reorder_pct"),
])
def test_out_of_range_flags_exit_with_a_clear_message(
        argv: list[str], flag: str, name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        settings_for(argv)
    assert info.value.code == 2
    error = capsys.readouterr().err
    assert f"argument {flag}:" in error and name in error and "between 0 and" in error


def test_unknown_profile_is_rejected_by_argparse(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        make_parser().parse_args(["--net", "dialup"])
    assert "--net" in capsys.readouterr().err


# --- delay --------------------------------------------------------------------------------------


@pytest.mark.parametrize("side", ["out", "in"])
def test_delay_is_half_the_lag_spread_uniformly_over_the_jitter(side: str) -> None:
    # Spacing > 2 * jitter: the ordering rule never binds, so we see the raw distribution.
    link = LinkSettings(lag_ms=100, jitter_ms=20)
    deliveries, cond = run_one_way(link, seed=3, count=5000, spacing_s=0.050, side=side)
    delays_ms = [d.delay_ms for d in deliveries]
    assert len(delays_ms) == 5000 and cond.held_count == 0
    # Uniform +/-20 ms has a standard deviation of 11.5 ms; the mean's is 0.16 ms.
    assert statistics.fmean(delays_ms) == pytest.approx(50, abs=0.65)
    assert statistics.pstdev(delays_ms) == pytest.approx(20 / math.sqrt(3), abs=0.5)
    assert min(delays_ms) >= 30 - EPS_MS and max(delays_ms) <= 70 + EPS_MS
    assert min(delays_ms) < 30.5 and max(delays_ms) > 69.5  # the whole range is used
    for fraction, expected_ms in [(0.25, 40), (0.5, 50), (0.75, 60)]:
        assert percentile(delays_ms, fraction) == pytest.approx(expected_ms, abs=1.5)


def test_delay_never_goes_below_zero_when_jitter_exceeds_half_the_lag() -> None:
    link = LinkSettings(lag_ms=10, jitter_ms=30)
    deliveries, _ = run_one_way(link, seed=4, count=2000, spacing_s=0.1)
    delays_ms = [d.delay_ms for d in deliveries]
    assert min(delays_ms) == 0
    assert max(delays_ms) <= 35 + EPS_MS
    # Clamping moves the 5/12 of draws below zero up to zero: the mean is (35^2 / 2) / 60.
    assert statistics.fmean(delays_ms) == pytest.approx(35**2 / 2 / 60, abs=0.6)


def test_dense_traffic_keeps_order_at_the_cost_of_a_higher_mean_delay() -> None:
    # 60 Hz on the wifi profile's timing: the FIFO rule lets late packets hold others back.
    link = LinkSettings(lag_ms=100, jitter_ms=20)
    deliveries, _ = run_one_way(link, seed=5, count=6000, spacing_s=1 / 60)
    delays_ms = [d.delay_ms for d in deliveries]
    assert [d.index for d in deliveries] == list(range(6000))
    assert 50 < statistics.fmean(delays_ms) < 55
    assert min(delays_ms) >= 30 - EPS_MS and max(delays_ms) <= 70 + EPS_MS


def test_round_trip_through_one_conditioned_end_adds_the_full_lag() -> None:
    link = LinkSettings(lag_ms=120, jitter_ms=10)
    net = MemoryNetwork()
    client = LinkConditioner(net.endpoint(A), link, seed=6)
    server = net.endpoint(B)
    rtts_ms: list[float] = []
    for ping in range(1000):
        sent_s = ping * 1.0
        client.send(_packet(ping), B, sent_s)
        now = sent_s
        while True:  # let time run to each release and echo whatever the server got
            client.flush(now)
            for data, addr in server.receive(now):
                server.send(data, addr, now)
            if client.receive(now):
                rtts_ms.append((now - sent_s) * 1000)
                break
            now = client.next_due_s()
    assert statistics.fmean(rtts_ms) == pytest.approx(120, abs=0.6)
    assert min(rtts_ms) >= 100 - EPS_MS and max(rtts_ms) <= 140 + EPS_MS


# --- loss and duplication -----------------------------------------------------------------------


@pytest.mark.parametrize("side", ["out", "in"])
def test_loss_rate_matches_the_setting(side: str) -> None:
    count = 20_000
    deliveries, cond = run_one_way(LinkSettings(loss_pct=10), 7, count, 0.001, side)
    dropped = cond.dropped_out if side == "out" else cond.dropped_in
    other_side_dropped = cond.dropped_in if side == "out" else cond.dropped_out
    assert dropped == count - len(deliveries) and other_side_dropped == 0
    # Binomial standard deviation: sqrt(0.1 * 0.9 / 20000) = 0.21 percentage points.
    assert 100 * dropped / count == pytest.approx(10, abs=0.85)
    assert all(d.delay_ms == 0 for d in deliveries)  # loss alone adds no delay


@pytest.mark.parametrize("side", ["out", "in"])
def test_duplication_rate_matches_the_setting(side: str) -> None:
    count = 20_000
    deliveries, cond = run_one_way(LinkSettings(dup_pct=5), 8, count, 0.001, side)
    extra = len(deliveries) - count
    assert extra == cond.duplicated
    assert 100 * extra / count == pytest.approx(5, abs=0.65)
    assert {d.index for d in deliveries} == set(range(count))


def test_duplicates_get_their_own_delay() -> None:
    link = LinkSettings(lag_ms=100, jitter_ms=20, dup_pct=50)
    deliveries, _ = run_one_way(link, 9, 2000, 0.1)
    times_by_index: dict[int, list[float]] = {}
    for d in deliveries:
        times_by_index.setdefault(d.index, []).append(d.delivered_s)
    gaps_s = [t[1] - t[0] for t in times_by_index.values() if len(t) == 2]
    assert len(gaps_s) > 800
    assert all(gap >= 0 for gap in gaps_s)  # a copy never overtakes its original
    assert sum(gap > 0 for gap in gaps_s) > 0.4 * len(gaps_s)


# --- ordering -----------------------------------------------------------------------------------


def test_jitter_and_duplication_alone_never_reorder() -> None:
    link = LinkSettings(lag_ms=100, jitter_ms=50, dup_pct=10, loss_pct=10)
    deliveries, cond = run_one_way(link, 10, 3000, 0.005)
    indices = [d.index for d in deliveries]
    assert indices == sorted(indices) and cond.reordered == 0


@pytest.mark.parametrize("side", ["out", "in"])
def test_reordering_happens_at_about_the_requested_rate(side: str) -> None:
    count = 10_000
    link = LinkSettings(lag_ms=100, jitter_ms=20, reorder_pct=10)
    deliveries, cond = run_one_way(link, 11, count, 0.005, side)
    late = out_of_order_count(deliveries)
    # Every packet picked for reordering is overtaken (at 5 ms spacing the extra delay of at
    # least 70 ms lets over a dozen later packets pass), except possibly the very last ones.
    assert cond.reordered - 3 <= late <= cond.reordered
    assert 100 * cond.reordered / count == pytest.approx(10, abs=1.2)
    # Packets not picked stay in order among themselves.
    reordered_ids = _picked_for_reordering(deliveries)
    in_order = [d.index for d in deliveries if d.index not in reordered_ids]
    assert in_order == sorted(in_order)


def _picked_for_reordering(deliveries: list[Delivery]) -> set[int]:
    newest, picked = -1, set()
    for delivery in deliveries:
        if delivery.index < newest:
            picked.add(delivery.index)
        newest = max(newest, delivery.index)
    return picked


def test_reordered_packets_wait_one_to_two_times_the_normal_delay_extra() -> None:
    link = LinkSettings(lag_ms=100, jitter_ms=20, reorder_pct=20)
    deliveries, _ = run_one_way(link, 12, 5000, 0.005)
    picked = _picked_for_reordering(deliveries)
    late_ms = [d.delay_ms for d in deliveries if d.index in picked]
    base_ms = 50 + 20
    assert min(late_ms) >= 30 + base_ms - EPS_MS
    assert max(late_ms) <= 70 + 2 * base_ms + EPS_MS


def test_reordering_works_even_without_lag() -> None:
    link = LinkSettings(reorder_pct=10)
    deliveries, cond = run_one_way(link, 13, 2000, 0.001)
    late = out_of_order_count(deliveries)
    assert cond.reordered > 100 and late >= cond.reordered - 3
    picked = _picked_for_reordering(deliveries)
    assert all(REORDER_MIN_EXTRA_MS - EPS_MS <= d.delay_ms <= 2 * REORDER_MIN_EXTRA_MS + EPS_MS
               for d in deliveries if d.index in picked)


def test_equal_release_times_keep_send_order() -> None:
    net = MemoryNetwork()
    cond = LinkConditioner(net.endpoint(A), LinkSettings(lag_ms=100), seed=1)
    receiver = net.endpoint(B)
    for index in range(50):
        cond.send(_packet(index), B, 1.0)
    cond.flush(1.05)
    assert [_index(data) for data, _ in receiver.receive(1.05)] == list(range(50))


# --- determinism --------------------------------------------------------------------------------


def test_same_seed_same_outcome_different_seed_different_outcome() -> None:
    link = PROFILES["bad"]
    first, _ = run_one_way(link, 42, 2000, 0.01)
    again, _ = run_one_way(link, 42, 2000, 0.01)
    other, _ = run_one_way(link, 43, 2000, 0.01)
    assert first == again
    assert first != other


def test_conditioner_does_not_touch_the_global_random_generator() -> None:
    import random
    random.seed(5)
    expected = random.random()
    random.seed(5)
    run_one_way(PROFILES["bad"], 1, 500, 0.01)
    assert random.random() == expected


# --- pass-through, wait, close ------------------------------------------------------------------


def test_inactive_settings_pass_through_without_delay() -> None:
    net = MemoryNetwork()
    a = LinkConditioner(net.endpoint(A), LinkSettings(), seed=1)
    b = LinkConditioner(net.endpoint(B), PROFILES["lan"], seed=1)
    assert a.local_address == A
    a.send(b"ping", B, 5.0)
    assert b.receive(5.0) == [(b"ping", A)]
    b.send(b"pong", A, 5.0)
    assert a.receive(5.0) == [(b"pong", B)]
    assert a.next_due_s() is None and b.next_due_s() is None
    assert (a.dropped_out, a.dropped_in, a.duplicated, a.reordered) == (0, 0, 0, 0)


def test_switching_conditioning_off_never_lets_new_packets_overtake_held_ones() -> None:
    net = MemoryNetwork()
    cond = LinkConditioner(net.endpoint(A), LinkSettings(lag_ms=200), seed=1)
    receiver = net.endpoint(B)
    cond.send(b"old", B, 0.0)
    cond.settings = PROFILES["lan"]
    cond.send(b"new", B, 0.01)
    assert receiver.receive(0.01) == []
    cond.flush(0.1)
    assert receiver.receive(0.1) == [(b"old", A), (b"new", A)]
    cond.send(b"direct", B, 0.2)  # nothing held any more: the fast path again
    assert receiver.receive(0.2) == [(b"direct", A)]


class RecordingTransport:
    """A Transport stand-in that records the timeouts it is asked to wait for."""

    def __init__(self) -> None:
        self.local_address: Address = A
        self.waits_s: list[float] = []
        self.sent: list[tuple[bytes, Address, float]] = []
        self.closed = False

    def send(self, data: bytes, addr: Address, now: float) -> None:
        self.sent.append((data, addr, now))

    def receive(self, now: float) -> list[tuple[bytes, Address]]:
        return []

    def wait(self, timeout_s: float, now: float) -> None:
        self.waits_s.append(timeout_s)

    def close(self) -> None:
        self.closed = True


def test_wait_never_sleeps_past_the_next_release() -> None:
    inner = RecordingTransport()
    cond = LinkConditioner(inner, LinkSettings(lag_ms=100), seed=1)
    cond.wait(1.0, now=0.0)
    cond.send(b"x", B, now=0.0)
    assert cond.next_due_s() == pytest.approx(0.05)
    cond.wait(1.0, now=0.01)
    cond.wait(0.001, now=0.01)
    cond.wait(1.0, now=0.2)  # overdue: do not block at all
    assert inner.waits_s == pytest.approx([1.0, 0.04, 0.001, 0.0])
    assert inner.sent == []  # wait itself releases nothing; the caller's next call does
    cond.flush(0.2)
    assert inner.sent == [(b"x", B, 0.2)]


def test_held_datagrams_are_capped_and_counted_as_dropped() -> None:
    inner = RecordingTransport()
    cond = LinkConditioner(inner, LinkSettings(lag_ms=1000), seed=1)
    for _ in range(MAX_HELD_DATAGRAMS + 10):
        cond.send(b"x", B, 0.0)
    assert cond.held_count == MAX_HELD_DATAGRAMS and cond.dropped_out == 10


def test_close_drops_held_packets_and_closes_the_inner_transport() -> None:
    inner = RecordingTransport()
    cond = LinkConditioner(inner, LinkSettings(lag_ms=100), seed=1)
    cond.send(b"x", B, 0.0)
    cond.close()
    assert inner.closed and cond.next_due_s() is None


# --- property -----------------------------------------------------------------------------------


link_settings = st.builds(
    LinkSettings,
    lag_ms=st.floats(0, 300), jitter_ms=st.floats(0, 100), loss_pct=st.floats(0, 50),
    dup_pct=st.floats(0, 50), reorder_pct=st.sampled_from([0.0, 0.0, 10.0, 50.0]),
)


@hyp_settings(max_examples=60, deadline=None)
@given(link=link_settings, seed=st.integers(0, 2**32), count=st.integers(1, 200),
       spacing_s=st.sampled_from([0.0, 0.001, 0.016, 0.1]), side=st.sampled_from(["out", "in"]))
def test_property_delivery_is_bounded_in_time_and_count(
        link: LinkSettings, seed: int, count: int, spacing_s: float, side: str) -> None:
    deliveries, cond = run_one_way(link, seed, count, spacing_s, side)
    earliest_ms = max(0.0, link.lag_ms / 2 - link.jitter_ms)
    latest_ms = link.lag_ms / 2 + link.jitter_ms
    assert len(deliveries) <= 2 * count
    assert all(0 <= d.index < count for d in deliveries)
    assert all(d.delay_ms >= earliest_ms - EPS_MS for d in deliveries)
    if link.reorder_pct == 0:
        indices = [d.index for d in deliveries]
        assert indices == sorted(indices)
        assert all(d.delay_ms <= latest_ms + EPS_MS for d in deliveries)
    assert cond.held_count == 0


@pytest.mark.parametrize("side", ["out", "in"])
def test_a_watcher_is_told_every_datagrams_fate_matching_the_deliveries(side: str) -> None:
    net = MemoryNetwork()
    a, b = net.endpoint(A), net.endpoint(B)
    link = LinkSettings(lag_ms=80, jitter_ms=10, loss_pct=20, dup_pct=20)
    cond = LinkConditioner(a if side == "out" else b, link, 3)
    fates = []
    cond.watch(fates.append)
    sender, receiver = (cond, b) if side == "out" else (a, cond)
    delivered = []
    for i in range(300):
        sender.send(_packet(i), B, i * 0.01)
        if side == "in":
            delivered += [_index(d) for d, _ in cond.receive(i * 0.01)]
    if side == "out":
        cond.flush(100.0)
        delivered = [_index(d) for d, _ in receiver.receive(100.0)]
    else:
        delivered += [_index(d) for d, _ in cond.receive(100.0)]
    assert {f.direction for f in fates} == {side}
    lost = [f for f in fates if f.release_s is None]
    copies = [f for f in fates if f.release_s is not None]
    assert len(lost) == (cond.dropped_out if side == "out" else cond.dropped_in) > 20
    assert sum(f.copy for f in fates) == cond.duplicated > 20
    assert sorted(_index(f.data) for f in copies) == sorted(delivered)
    assert all(f.release_s >= f.sent_s + 0.03 for f in copies)  # 40 ms each way, minus jitter
