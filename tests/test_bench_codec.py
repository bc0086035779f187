"""The snapshot codec bench: its columns, what they must show, the tools it is built from, and the
examples of docs/wire-format.md (the worked example, the discovery datagrams) checked against the code."""
from __future__ import annotations

import json
import random
import re
from pathlib import Path

import numpy as np
import pytest

from netcode import discovery, protocol, snapshot_codec
from netcode.protocol import MAX_PACKET_BYTES, PROTOCOL_VERSION, U32, U64, DeltaSnapshot, Header, Snapshot
from netcode.reliable import EVENT_WINDOW, MAX_EVENT_BYTES, MAX_EVENTS_PER_PACKET
from game.netgame import STATE_LAYOUT
from game.sim import RULES_HASH
from game.tag import its_for
from tools import bench_codec
from tools.bench_codec import Row, datagram, measure

DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.fixture(scope="module")
def rows() -> dict[tuple[str, int], Row]:
    return {(r.codec, r.players): r for n in (6, 16) for r in measure(n, seconds=2.0)}


def test_every_codec_and_column_is_there(rows) -> None:
    assert set(rows) == {(codec, n) for codec in bench_codec.CODECS for n in (6, 16)}
    for row in rows.values():
        assert row.snapshots >= 25  # 2 s at 30 snapshots a second, less the first without a baseline
        for value in (row.moving_b_per_player, row.moving_state_b_per_player, row.idle_b_per_player,
                      row.idle_state_b_per_player, row.other_b, row.max_datagram_b, row.encode_us):
            assert value > 0
        assert row.moving_state_b_per_player < row.moving_b_per_player
        assert row.fits or (row.codec, row.players) == ("json", 16)  # plain JSON of the tag game: 1.2 kB
    assert all(rows[codec, 6].decode_us > 0 for codec in bench_codec.CODECS)
    table = bench_codec.table(list(rows.values()))
    assert table.splitlines()[0] == "| " + " | ".join(bench_codec.COLUMNS) + " |"
    assert len(table.splitlines()) == 2 + len(rows)


def test_delta_is_smaller_than_full_which_is_smaller_than_json(rows) -> None:
    for n in (6, 16):
        assert rows["delta", n].moving_b_per_player < rows["full", n].moving_b_per_player \
            < rows["json", n].moving_b_per_player
        assert rows["delta", n].moving_state_b_per_player < rows["delta0", n].moving_state_b_per_player \
            < rows["full", n].moving_state_b_per_player
        assert rows["delta", n].idle_state_b_per_player <= 0.5
    # The header is shared: with more players each pays less of it.
    assert rows["delta", 16].moving_b_per_player < rows["delta", 6].moving_b_per_player
    # A delta datagram's non-state bytes are the header and the snapshot's fields, ~40 bytes.
    assert 30 <= rows["delta", 6].other_b <= 45 and rows["json", 6].other_b == len('{"tick": 36002, "players": }')


@pytest.mark.parametrize("players", [6, 16])
def test_an_idle_snapshot_costs_one_bit_per_entity(players: int) -> None:
    """Idle players, the its' records and the round are exactly as predicted: one bit each, plus
    the two counts (leaves, joins)."""
    (_, before), (_, after) = bench_codec.record(players, 0.1, False)[-2:]
    entities = len(after) // STATE_LAYOUT.ints_per_entity
    assert entities == players + its_for(players) + 1  # the its' records and the round; no pickup yet
    assert len(snapshot_codec.encode(STATE_LAYOUT, after, before, 2)) == -(-(entities + 2) // 8)


def test_a_delta_that_does_not_decode_to_the_servers_state_stops_the_bench(monkeypatch) -> None:
    real = snapshot_codec.decode_rows

    def off_by_one(*args):
        rows = real(*args)
        rows[:, 1] += 1
        return rows

    monkeypatch.setattr(snapshot_codec, "decode_rows", off_by_one)
    with pytest.raises(AssertionError, match="did not decode"):
        measure(6, seconds=0.5)


def test_datagram_is_protocol_encode_byte_for_byte_and_also_measures_what_does_not_fit() -> None:
    rng = random.Random(2)
    header = Header(protocol.PROTOCOL_VERSION, 0xFFFF, 12_345, U32, 166, U64)
    state = tuple(n for pid in range(20) for n in (pid, rng.randint(0, 300_000), rng.randint(0, 180_000), -1365, 964))
    messages = [Snapshot(U32, -1, 7, state, -100_000, -1), Snapshot(0, 5, 0, (), 190, 180),
                DeltaSnapshot(36_002, 35_402, 7, 2, rng.randbytes(300), 190, 180), DeltaSnapshot(1, -1, 0, 0, b"")]
    for message in messages:
        assert datagram(message, header) == protocol.encode(message, header)
    big = Snapshot(1, 1, 1, state * 7, 0, 0)  # 140 players
    with pytest.raises(ValueError):
        protocol.encode(big, header)
    assert len(datagram(big, header)) > MAX_PACKET_BYTES


def test_the_pure_python_packing_writes_the_same_bits_as_the_bitwriter() -> None:
    snapshots = bench_codec.record(16, 1.0, moving=True)
    (_, baseline), (_, state) = snapshots[-2], snapshots[-1]
    for base, ticks in ((baseline, 2), (None, 0)):
        payload, runs = bench_codec.bit_runs(state, base, ticks)
        pairs = [(int(v), int(w)) for values, widths in runs for v, w in zip(values, widths)]
        assert bench_codec.pack_numpy(runs) == bench_codec.pack_bits_python(pairs) == payload
    rng = np.random.default_rng(4)
    widths = rng.integers(0, 34, 500)
    values = np.array([int(rng.integers(0, 1 << 62)) & ((1 << int(w)) - 1) for w in widths], dtype=np.uint64)
    assert bench_codec.pack_numpy([(values, widths)]) == bench_codec.pack_bits_python(
        list(zip(values.tolist(), widths.tolist())))


def test_bit_packing_reports_both_ways_for_each_case() -> None:
    results = bench_codec.bit_packing(players=16, seconds=0.5)
    assert [r.case for r in results] == ["moving", "idle", "no baseline"]
    idle = results[1]
    # A changed bit per entity (16 players, the records of its_for(16) its, the round), two counts.
    assert idle.bits == 16 + its_for(16) + 1 + 2
    assert all(r.numpy_us > 0 and r.python_us > 0 for r in results)


def test_the_baseline_age_is_rounded_to_whole_snapshot_intervals() -> None:
    assert [bench_codec.snapshot_grid(t) for t in (1, 2, 3, 4, 9, 10, 11)] == [2, 2, 4, 4, 10, 10, 12]


def test_the_worked_example_of_the_wire_format_doc_is_what_the_code_sends() -> None:
    example = bench_codec.worked_example()
    header, message = protocol.decode(example.datagram)
    assert header == example.header and message == example.message
    assert snapshot_codec.decode(STATE_LAYOUT, message.payload, example.baseline, message.baseline_ago) == example.state
    ids_then, ids_now = set(example.baseline[0::5]), set(example.state[0::5])
    assert ids_then - ids_now and ids_now - ids_then  # a leave and a join
    # ... which the server also told the client as events, riding this snapshot (protocol 5).
    assert [kind for kind, _, _ in message.events.events] == ["leave", "join"]
    assert [[pid] for _, pid, _ in message.events.events] == [sorted(ids_then - ids_now), sorted(ids_now - ids_then)]
    text = (DOCS / "wire-format.md").read_text(encoding="utf-8")
    assert text.startswith(f"# Wire format, protocol version {PROTOCOL_VERSION}\n")
    assert bench_codec.hex_dump(example.datagram) in text
    assert f"({len(example.datagram)} bytes)" in text
    bits = "".join(f"{b:08b}" for b in message.payload)
    documented = re.search(r"```\n([01 \n]+)\n```", text)
    assert documented is not None and re.sub(r"\s", "", documented.group(1)) == bits


def test_the_command_prints_the_table_and_writes_json(tmp_path, capsys) -> None:
    out = tmp_path / "codec.json"
    assert bench_codec.main(["--players", "6", "--seconds", "1", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| codec | players | moving B/player |" in printed
    assert "pure-Python loop" in printed and "numpy BitWriter" in printed
    figures = json.loads(out.read_text())
    assert {r["codec"] for r in figures["rows"]} == set(bench_codec.CODECS)
    assert figures["ago_ticks"] == 2 and len(figures["bit_packing"]) == 3


def test_the_command_refuses_player_counts_the_wire_cannot_carry(capsys) -> None:
    with pytest.raises(SystemExit):
        bench_codec.main(["--players", "129"])
    assert "--players" in capsys.readouterr().err


def test_the_discovery_datagrams_of_the_wire_format_doc_are_what_the_code_sends() -> None:
    nonce = 0x0123456789ABCDEF
    request = discovery.encode_request(discovery.Request(nonce))
    reply = discovery.Reply(nonce, 0x5EED1234, "arena", 7777, 2, 16, PROTOCOL_VERSION,
                            RULES_HASH[:discovery.RULES_PREFIX_CHARS])
    reply_bytes = discovery.encode_reply(reply)
    assert discovery.decode_request(request).nonce == nonce and discovery.decode_reply(reply_bytes) == reply
    text = (DOCS / "wire-format.md").read_text(encoding="utf-8")
    assert bench_codec.hex_dump(request) in text and f"exactly {len(request)} bytes" in text
    assert bench_codec.hex_dump(reply_bytes) in text and f"({len(reply_bytes)} bytes)" in text
    assert f"UDP port {discovery.DISCOVERY_PORT}" in text
    assert f'"{reply.rules_prefix}"' in text


def test_the_wire_format_doc_states_the_event_limits_of_the_code() -> None:
    text = (DOCS / "wire-format.md").read_text(encoding="utf-8")
    assert f"1..{MAX_EVENTS_PER_PACKET} items" in text
    assert f"at most {MAX_EVENT_BYTES} bytes (`MAX_EVENT_BYTES`)" in text
    assert f"at most {EVENT_WINDOW} events per client" in text


def test_the_frame_sync_datagrams_of_the_wire_format_doc_are_what_the_code_sends() -> None:
    """The frame input and frame sets examples, byte for byte (the worked example's header)."""
    from netcode.protocol import FrameInput, FrameSet, FrameSets
    from netcode.reliable import EventBatch
    token = 0x9E3779B97F4A7C15
    frame_input = FrameInput(36003, (8, 9, 9, 9), 36002, ((36000, "d2683a17e9628b3d119d45488ca8e374"),), 7)
    sets = FrameSets(36003, (FrameSet((), (), ((0, 8), (1, 4))), FrameSet((2,), (), ((0, 9), (1, 4)))), (1,),
                     EventBatch(12, [["dump", 36000]]))
    text = (DOCS / "wire-format.md").read_text(encoding="utf-8")
    for message, header in ((frame_input, Header(PROTOCOL_VERSION, 17701, 35402, U32, 83, token)),
                            (sets, Header(PROTOCOL_VERSION, 35403, 17701, U32, 83, token))):
        data = protocol.encode(message, header)
        assert protocol.decode(data) == (header, message)
        assert bench_codec.hex_dump(data) in text and f"({len(data)} bytes" in text
