"""Delta snapshots: exact round trips, what steady motion costs, sharing, and hostile payloads."""
from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from game import bots, sim
from game.netgame import STATE_LAYOUT, SimRules
from netcode import snapshot_codec
from netcode.protocol import MAX_PACKET_BYTES, PROTOCOL_VERSION, U32, U64, DeltaSnapshot, Header, encode
from netcode.snapshot_codec import StateLayout, decode, encode as encode_delta
from netcode.switches import Switches
from tools.scenarios import WIFI, run_game

MAX_SPEED = sim.Physics.for_tick_rate(60).max_speed
X_MAX, Y_MAX = sim.ARENA_W_PX * sim.SUBPX, sim.ARENA_H_PX * sim.SUBPX


def player_rows(ids) -> st.SearchStrategy:
    """Players with those ids at random places and speeds."""
    one = st.tuples(st.integers(0, X_MAX), st.integers(0, Y_MAX),
                    st.integers(-MAX_SPEED, MAX_SPEED), st.integers(-MAX_SPEED, MAX_SPEED))
    return st.lists(one, min_size=len(ids), max_size=len(ids)).map(
        lambda values: tuple(n for pid, v in zip(sorted(ids), values) for n in (pid, *v)))


@st.composite
def world_pairs(draw):
    """A baseline and a later state sharing some players, with joins and leaves between them."""
    base_ids = draw(st.sets(st.integers(0, 127), max_size=40))
    stay = draw(st.sets(st.sampled_from(sorted(base_ids)))) if base_ids else set()
    joins = draw(st.sets(st.integers(0, 127).filter(lambda i: i not in base_ids), max_size=10))
    baseline = draw(player_rows(base_ids))
    now_ids = stay | joins
    kept = {baseline[i]: baseline[i:i + 5] for i in range(0, len(baseline), 5) if baseline[i] in stay}
    fresh = draw(player_rows(now_ids))
    rows = []
    for i in range(0, len(fresh), 5):
        pid = fresh[i]
        if pid in kept and draw(st.booleans()):  # half the kept players move exactly as predicted
            rows.append(steady(kept[pid], draw(st.integers(0, 200))))
        else:
            rows.append(fresh[i:i + 5])
    return baseline, tuple(n for row in rows for n in row)


def steady(row, ticks: int):
    pid, x, y, vx, vy = row
    return (pid, x + vx * ticks, y + vy * ticks, vx, vy)


@settings(max_examples=300, deadline=None)
@given(pair=world_pairs(), base_tick=st.integers(0, U32), ago=st.integers(1, 255), no_baseline=st.booleans())
def test_decode_of_encode_is_the_exact_state(pair, base_tick, ago, no_baseline) -> None:
    baseline, state = pair
    tick = (base_tick + ago) & U32  # the tick may wrap past 2**32 - 1; the distance still is ``ago``
    ticks = (tick - base_tick) & U32
    assert ticks == ago
    base = None if no_baseline else baseline
    payload = encode_delta(STATE_LAYOUT, state, base, ticks)
    assert decode(STATE_LAYOUT, payload, base, ticks) == state


@settings(max_examples=200, deadline=None)
@given(state=st.sets(st.integers(0, 127), max_size=30).flatmap(player_rows),
       layout=st.sampled_from([StateLayout(5), StateLayout(5, ((1, 3),)), STATE_LAYOUT]))
def test_any_layout_round_trips_against_itself_and_nothing(state, layout) -> None:
    for base in (None, state):
        assert decode(layout, encode_delta(layout, state, base, 7), base, 7) == state


def test_steady_motion_and_standing_still_cost_one_bit_per_player() -> None:
    rng = random.Random(5)
    baseline = tuple(n for pid in range(128) for n in (
        pid, rng.randint(0, X_MAX), rng.randint(0, Y_MAX),
        rng.choice([0, MAX_SPEED, -MAX_SPEED]), rng.choice([0, 181 * MAX_SPEED // 256])))
    later = tuple(n for i in range(0, len(baseline), 5) for n in steady(baseline[i:i + 5], 6))
    payload = encode_delta(STATE_LAYOUT, later, baseline, 6)
    assert len(payload) <= 17  # two counts, then 128 "as predicted" bits
    assert decode(STATE_LAYOUT, payload, baseline, 6) == later
    # Without dead reckoning every moving player's position differs from the baseline's.
    assert len(encode_delta(StateLayout(5), later, baseline, 6)) > 4 * len(payload)


def test_a_full_snapshot_of_128_fast_players_fits_one_datagram() -> None:
    rng = random.Random(9)
    worst = tuple(n for pid in range(128) for n in (
        pid, rng.randint(0, X_MAX), rng.randint(0, Y_MAX), rng.choice([-MAX_SPEED, MAX_SPEED]),
        rng.choice([-MAX_SPEED, MAX_SPEED])))
    payload = encode_delta(STATE_LAYOUT, worst, None, 0)
    message = DeltaSnapshot(U32, U32, U32, 0, payload, -100_000, 100_000)
    datagram = encode(message, Header(PROTOCOL_VERSION, 0xFFFF, 0xFFFF, 0, 0xFFFF, U64))
    assert len(datagram) <= MAX_PACKET_BYTES


@settings(max_examples=300, deadline=None)
@given(pair=world_pairs(), data=st.data())
def test_damaged_payloads_raise_value_error_or_decode_to_something_valid(pair, data) -> None:
    baseline, state = pair
    payload = bytearray(encode_delta(STATE_LAYOUT, state, baseline, 3))
    if payload:
        for _ in range(data.draw(st.integers(1, 4))):
            payload[data.draw(st.integers(0, len(payload) - 1))] = data.draw(st.integers(0, 255))
    payload = bytes(payload[:data.draw(st.integers(0, len(payload)))])
    try:
        rebuilt = decode(STATE_LAYOUT, payload, baseline, 3)
    except ValueError:
        return
    ids = rebuilt[0::5]
    assert list(ids) == sorted(set(ids))


def test_random_bytes_never_raise_anything_but_value_error() -> None:
    rng = random.Random(3)
    baseline = tuple(n for pid in range(20) for n in (pid, 1000, 2000, 30, -40))
    for _ in range(2000):
        junk = rng.randbytes(rng.randint(0, 64))
        try:
            decode(STATE_LAYOUT, junk, baseline if rng.random() < 0.5 else None, rng.randint(0, 255))
        except ValueError:
            pass


def test_the_encoder_refuses_states_it_cannot_carry() -> None:
    with pytest.raises(ValueError):
        encode_delta(STATE_LAYOUT, (2, 0, 0, 0, 0, 1, 0, 0, 0, 0), None, 0)  # ids out of order
    with pytest.raises(ValueError):
        encode_delta(STATE_LAYOUT, (1, 1 << 40, 0, 0, 0), None, 0)


# --- the codec in a game -----------------------------------------------------------------------

def test_a_lone_bot_under_wifi_is_never_corrected_with_delta_snapshots() -> None:
    run = run_game([(Switches(), bots.random_bot(4))], seconds=5.0)
    stats = run.stats[0]
    assert run.session.config.snapshot_codec == "delta"
    assert stats["snapshot_loss_pct"] > 0 and stats["snapshots_received"] > 100
    assert stats["corrections"] == 0
    assert stats["dropped_packets"].get("no_baseline", 0) == 0
    assert run.session.stats()["snapshot_full_pct"] < 5


def test_delta_snapshots_are_much_smaller_than_full_ones_and_decode_to_the_same_game() -> None:
    players = [(Switches(), bots.random_bot(seed)) for seed in range(6)]
    delta = run_game(players, seconds=4.0, link=WIFI)
    players = [(Switches(), bots.random_bot(seed)) for seed in range(6)]
    full = run_game(players, seconds=4.0, link=WIFI, snapshot_codec="full")
    delta_bytes = delta.session.stats()["snapshot_bytes_per_player"]
    full_bytes = full.session.stats()["snapshot_bytes_per_player"]
    # Six random bots turn often and the wifi baseline is ~9 ticks old, so most players differ
    # from their dead reckoning; the fixed header (~36 B, shared by 6) is most of what is left.
    assert delta_bytes < 0.6 * full_bytes
    # Same seeds, same inputs, same link: the server ran the same game either way.
    assert sim.state_hash(delta.session.world) == sim.state_hash(full.session.world)


def test_clients_with_the_same_baseline_share_one_encoding(monkeypatch) -> None:
    calls = []
    real = snapshot_codec.encode
    monkeypatch.setattr(snapshot_codec, "encode", lambda *a: calls.append(a[2] is None) or real(*a))
    run = run_game([(Switches(), bots.idle_bot()) for _ in range(8)], seconds=3.0,
                   link=dataclasses.replace(WIFI, jitter_ms=0, loss_pct=0))
    snapshots_sent = run.session.snapshots_sent
    assert snapshots_sent > 8 * 60
    assert len(calls) < snapshots_sent / 3  # far fewer encodings than snapshots
    assert run.session.stats()["snapshot_baselines_mean"] < 4


def test_rows_of_the_game_layout_match_the_rules() -> None:
    rules = SimRules(60)
    world = rules.new_world()
    for pid in (0, 5, 127):
        world = rules.add_player(world, pid)
    state = rules.encode_state(world)
    rows = snapshot_codec.as_rows(rules.state_layout, state)
    assert rows.shape == (4, 5) and list(rows[:, 0]) == [0, 5, 127, 256]  # three players, the round
    assert np.array_equal(rows.ravel(), np.array(state))


# --- what the review found --------------------------------------------------------------------

def test_a_residual_too_wide_for_the_codec_is_a_value_error_not_a_crash() -> None:
    layout = StateLayout(5, ((1, 3), (2, 4)))
    with pytest.raises(ValueError):
        encode_delta(layout, [0, 0, 0, 2**31 - 1, 0], [0, 0, 0, 2**31 - 1, 0], 3)


def test_a_layout_of_ids_alone_round_trips() -> None:
    layout = StateLayout(1)
    assert decode(layout, encode_delta(layout, (1, 2, 3), (1, 2), 1), (1, 2), 1) == (1, 2, 3)


def test_a_delta_that_would_not_fit_a_datagram_goes_against_nothing() -> None:
    from netcode.server import MAX_DELTA_PAYLOAD_BYTES
    rules = SimRules(60)
    base, now = [], []
    for i in range(128):  # everyone turned round since a baseline a second old
        x, y = 20000 + i * 2000, 20000 + i * 1000
        base += [i, x, y, 1365, 1365]
        now += [i, x + 40000, y + 40000, -1365, -1365]
    assert len(encode_delta(rules.state_layout, now, base, 62)) > MAX_DELTA_PAYLOAD_BYTES
    from netcode.server import ServerConfig, ServerSession
    from netcode.transport import MemoryNetwork
    server = ServerSession(rules, MemoryNetwork().endpoint(("10.0.0.1", 1)), ServerConfig(max_players=128), 0.0)
    server.tick = 62
    server.sent_states[0] = tuple(base)
    payload = server._delta_payload(tuple(now), 0)
    assert payload is None  # so _snapshot_for sends the state against nothing, which fits
    assert len(server._delta_payload(tuple(now), -1)) <= MAX_DELTA_PAYLOAD_BYTES
