"""Desync detection for frame sync: compare state hashes, and write a report that names the cause.

Theory of operation
-------------------
Frame sync only works while every machine computes the same states from the same inputs. When
one does not (a simulation that iterates in hash order, reads the wall clock, or uses a value that
differs per player), nothing crashes: that player's world quietly drifts away, and everything
they see from then on is wrong. So every ``hash_every`` frames each client reports the hash of
its confirmed state, and the server compares each report with the hash of its own state at that
frame (``check``): a **hash check**.

On the first mismatch the server asks every client for its whole state at that frame
(a ``["dump", frame]`` event; clients keep the states of their recent checked frames), waits up
to ``DUMP_WAIT_S`` for the dumps, and writes a JSON report: the frame, every player's hash and
whether it agrees, and for each dump that differs, the fields that differ, in the game's words
(``GameRules.describe_differences``: "player 1: x 40960 != 41216"). The hash says *that* states
differ; the dump says *where*, which is what points at the cause.

Only the first desync gets a report: after it, that player's world is wrong for good, so every
later check fails too (they are still counted, in ``desyncs``). ``run_server.py --on-desync stop``
ends the game after the report (what a tournament would do); ``continue`` (the default) plays on.
"""
from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .game_api import GameRules, World
from .protocol import StateDump

if TYPE_CHECKING:
    from .server import ServerSession

DUMP_WAIT_S = 2.0  # how long the server waits for every client's dump before writing what it has
WORLDS_KEPT = 64  # our states at the latest checked frames, to compare dumps with
CHECKED_KEPT = 512  # (player, frame) pairs already compared: a resent hash (within a few packets) counts once
MAX_DIFFERENCES = 40  # lines per player in a report


@dataclass
class OpenReport:
    frame: int
    deadline_s: float
    ours: World | None = None  # our state at the frame, taken when the report opens (it may be forgotten later)
    hashes: dict[int, tuple[str, str, bool]] = field(default_factory=dict)  # id -> (name, hash, agrees)
    dumps: dict[int, World | str] = field(default_factory=dict)  # id -> world, or why it could not be read


class DesyncReports:
    def __init__(self, rules: GameRules, folder: str | Path) -> None:
        self.rules = rules
        self.folder = Path(folder)
        self.worlds: OrderedDict[int, World] = OrderedDict()
        self.checked: OrderedDict[tuple[int, int], None] = OrderedDict()
        self.recent: OrderedDict[int, dict[int, tuple[str, str]]] = OrderedDict()  # frame -> id -> (name, hash)
        self.open: dict[int, OpenReport] = {}
        self.hash_checks = 0
        self.hash_unchecked = 0  # reports of frames we no longer (or never) had a hash for
        self.desync_frames: list[int] = []  # the latest frames found to differ (bounded)
        self.desyncs = 0  # checked frames where some player's hash differed from ours
        self.first_desync_tick: int | None = None
        self.report_paths: list[str] = []

    def remember(self, frame: int, world: World) -> None:
        self.worlds[frame] = world
        while len(self.worlds) > WORLDS_KEPT:
            self.worlds.popitem(last=False)

    def check(self, player_id: int, name: str, frame: int, client_hash: str, ours: str | None,
              session: "ServerSession") -> None:
        key = (player_id, frame)
        if key in self.checked:
            return  # the same report again: each hash rides a few packets
        self.checked[key] = None
        while len(self.checked) > CHECKED_KEPT:
            self.checked.popitem(last=False)
        if ours is None:
            self.hash_unchecked += 1
            return
        self.hash_checks += 1
        self.recent.setdefault(frame, {})[player_id] = (name, client_hash)
        while len(self.recent) > WORLDS_KEPT:
            self.recent.popitem(last=False)
        report = self.open.get(frame)
        if report is not None:
            report.hashes[player_id] = (name, client_hash, client_hash == ours)
        if client_hash == ours or frame in self.desync_frames:
            return
        self.desyncs += 1
        self.desync_frames = (self.desync_frames + [frame])[-WORLDS_KEPT:]
        self.first_desync_tick = frame if self.first_desync_tick is None else min(self.first_desync_tick, frame)
        if not self.report_paths and not self.open:  # the first desync: ask for everyone's state
            self._open(frame, session)
            for pid, (who, text) in self.recent[frame].items():
                self.open[frame].hashes[pid] = (who, text, text == ours)

    def _open(self, frame: int, session: "ServerSession") -> None:
        self.open[frame] = OpenReport(frame, session.last_tick_s + DUMP_WAIT_S, self.worlds.get(frame))
        session._log(f"DESYNC at frame {frame}: asking every client for its state", 30)
        session._tell_everyone(["dump", frame])

    def on_dump(self, player_id: int, dump: StateDump, session: "ServerSession") -> None:
        report = self.open.get(dump.frame)
        if report is None or player_id in report.dumps:
            return
        if not dump.state:
            report.dumps[player_id] = "the client no longer kept its state at that frame"
            return
        try:
            report.dumps[player_id] = self.rules.decode_state(dump.frame, dump.state)
        except ValueError as exc:
            report.dumps[player_id] = f"unreadable state: {exc}"

    def tick(self, now: float, session: "ServerSession") -> None:
        players = {slot.player_id for slot in session.clients.values()}
        for frame, report in list(self.open.items()):
            if players <= set(report.dumps) or now >= report.deadline_s:
                del self.open[frame]
                try:
                    path = self._write(report, session)
                except OSError as exc:  # a folder we cannot write to must not stop the game
                    session._log(f"desync report for frame {frame} could not be written: {exc}", 40)
                    continue
                session._log(f"desync report for frame {frame}: {path}", 30)
                if session.config.on_desync == "stop":
                    session.stop(f"desync at frame {frame} (report: {path})")

    def _write(self, report: OpenReport, session: "ServerSession") -> str:
        ours = report.ours
        names = dict(session.roster().players)
        players = []
        for pid in sorted(set(report.hashes) | set(report.dumps) | {s.player_id for s in session.clients.values()}):
            name, text, agrees = report.hashes.get(pid, (names.get(pid, f"player {pid}"), None, None))
            dump = report.dumps.get(pid)
            entry: dict[str, Any] = {"player_id": pid, "name": name, "hash": text, "hash_agrees": agrees}
            if isinstance(dump, str) or dump is None:
                entry["dump"] = dump or "no dump arrived"
            elif ours is not None:
                entry["differences"] = self.rules.describe_differences(ours, dump)[:MAX_DIFFERENCES]
            players.append(entry)
        body = {"frame": report.frame,
                "server_hash": None if ours is None else self.rules.state_hash(ours),
                "players_differing": [p["name"] for p in players if p["hash_agrees"] is False or p.get("differences")],
                "players": players}
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"desync-frame{report.frame}.json"
        path.write_text(json.dumps(body, indent=1) + "\n")
        self.report_paths.append(str(path))
        return str(path)

    def figures(self) -> dict[str, object]:
        return {"hash_checks": self.hash_checks, "hash_unchecked": self.hash_unchecked, "desyncs": self.desyncs,
                "first_desync_tick": self.first_desync_tick,
                "desync_report": self.report_paths[0] if self.report_paths else None}
