"""Frame sync on the server: collect every player's input for a frame, relay the full set.

Theory of operation
-------------------
In frame sync (``run_server.py --sync lockstep|rollback``) the server does not send the world.
Each client sends its input for frame ``f`` (``FrameInput``, resent until it comes back in a
set); the server **closes** frame ``f`` when it holds the input of every player who owes one, and
relays the frame's set (joins, leaves, every input, in player-id order) to everyone
(``FrameSets``, each client getting every set after the newest one it says it holds). Until then
the frame waits, and every packet says for whom (``waiting``): one slow player stalls everyone,
which is the price of lockstep.

Frames nobody owes an input for (only server bots, or nobody yet) close at the tick rate; a
player everyone has waited for more than ``MAX_WAIT_S`` is dropped, so one hung program cannot
stop the game for good, and so is one who alone held a frame for ``HOLD_S`` three times in a
minute (``_drop_laggards``).

The server also steps its own copy of the world with each set, exactly as the clients do. That
copy is what a late joiner starts from (``FullState``: a player who connects is added at the next
frame to close, and is sent the world after that frame), what server bots decide from (their
inputs go into the sets like anyone's), and the reference for **desync detection**: every
``hash_every`` frames each client reports the hash of its confirmed state, and the server
compares it with its own (``desync.py`` writes the report).

Who owes an input for frame ``f``: every client whose first input frame (``join frame + 1 +
input delay``: the frames before that its delay had not reached yet) is at or before ``f``. A
player who leaves (disconnects, times out) leaves at the next frame to close, so nobody waits for
them any more.
"""
from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .desync import DesyncReports
from .protocol import (AUTO_START_DELAY, INPUT_DELAY_AUTO, MAX_FRAME_HASHES, MAX_FRAME_SETS, MAX_PACKET_BYTES, SYNC_LOCKSTEP, SYNC_ROLLBACK, Disconnect,
                       FrameInput,
                       FrameSet, FrameSets, FullState, StateDump)

if TYPE_CHECKING:
    from .server import ClientSlot, ServerSession

SETS_KEPT = 600  # recent sets, to resend to a client that lost some (10 s at 60 Hz)
MAX_INPUTS_AHEAD = 240  # a client's inputs further ahead than this are refused (bounded memory)
MAX_CLOSE_PER_TICK = 8  # frames closed in one server tick, catching up (frames someone owed an input for)
MAX_WAIT_S = 5.0  # a player whose input everyone has waited for this long is dropped
HOLD_S = 2.0  # ... and one who alone holds a frame this long (in server ticks in a row),
HOLDS_ALLOWED = 3  # this many times
HOLDS_WINDOW_S = 60.0  # within this long
HASHES_KEPT = 600  # our own hashes, to compare clients' reports with
SET_OVERHEAD_BYTES = 6  # a set's own msgpack framing; each input adds about 5 (see ``_sets_per_packet``)
SYNC_MODES = {"lockstep": SYNC_LOCKSTEP, "rollback": SYNC_ROLLBACK}
ROSTER_EVERY_S = 0.1


@dataclass
class FrameSlot:
    """What the relay knows of one client."""

    first_input_frame: int  # the first frame it owes an input for
    inputs: dict[int, int] = field(default_factory=dict)  # frame -> bits, for frames not closed yet
    have_frame: int = -1  # the newest frame whose set it holds (its own word)
    full_state: FullState | None = None  # sent until it holds that frame
    holds: deque = field(default_factory=lambda: deque(maxlen=HOLDS_ALLOWED))  # when it alone held a frame long
    alone_ticks: int = 0  # server ticks in a row in which it alone held the next frame
    roster_sent_s: float = float("-inf")  # the roster goes out at most every ROSTER_EVERY_S until it has it


class FrameRelay:
    def __init__(self, session: "ServerSession") -> None:
        self.session = session
        config = session.config
        self.mode = SYNC_MODES[config.sync]
        self.auto_delay = config.input_delay < 0  # each client follows its own round trip (frame_sync.py)
        self.input_delay = AUTO_START_DELAY if self.auto_delay else config.input_delay
        self.hash_every = config.hash_every
        self.max_rollback = config.max_rollback if self.mode == SYNC_ROLLBACK else 0  # lockstep never guesses
        self.next_frame = session.world.tick + 1
        self.sets: deque[tuple[int, FrameSet]] = deque(maxlen=SETS_KEPT)
        self.slots: dict[int, FrameSlot] = {}  # player id -> its frame state
        self.joins: list[int] = []  # to add at the next frame to close
        self.leaves: list[int] = []
        self.waiting: tuple[int, ...] = ()
        self.hashes: OrderedDict[int, str] = OrderedDict()  # frame -> our state hash
        self.reports = DesyncReports(session.rules, config.desync_dir)
        self.frames_closed = 0
        self.ticks_waiting = 0  # server ticks that closed no frame because someone's input was missing
        self.waiting_since: tuple[int, float] = (self.next_frame, session.last_tick_s)  # (frame, since when)

    def sync_fields(self) -> tuple[int, ...]:
        """What the accept announces (``protocol.Accept.sync``)."""
        return (self.mode, INPUT_DELAY_AUTO if self.auto_delay else self.input_delay, self.max_rollback, self.hash_every)

    # --- players ---------------------------------------------------------------------------------

    def join(self, player_id: int, is_client: bool) -> None:
        self.joins.append(player_id)
        if is_client:
            self.slots[player_id] = FrameSlot(first_input_frame=2**62)  # owes nothing until it is in

    def leave(self, player_id: int) -> None:
        self.slots.pop(player_id, None)
        if player_id in self.joins:
            self.joins.remove(player_id)  # never was in a frame
        else:
            self.leaves.append(player_id)

    # --- receiving -------------------------------------------------------------------------------

    def on_input(self, slot: "ClientSlot", message: FrameInput) -> None:
        frames = self.slots.get(slot.player_id)
        if frames is None:
            return
        frames.have_frame = max(frames.have_frame, message.have_frame)
        slot.roster_version_known = message.roster_version
        for offset, bits in enumerate(message.bits):
            frame = message.first_frame + offset
            if frames.first_input_frame <= frame and self.next_frame <= frame < self.next_frame + MAX_INPUTS_AHEAD:
                frames.inputs.setdefault(frame, bits)  # the first copy wins: a resend never changes it
        for frame, text in message.hashes[:MAX_FRAME_HASHES]:
            self.reports.check(slot.player_id, slot.name, frame, text, self.hashes.get(frame), self.session)

    def on_dump(self, slot: "ClientSlot", message: StateDump) -> None:
        self.reports.on_dump(slot.player_id, message, self.session)

    # --- the tick ----------------------------------------------------------------------------------

    def tick(self, now: float) -> None:
        closed = 0
        while closed < MAX_CLOSE_PER_TICK and self._close_next():
            closed += 1
            if not self._owing(self.next_frame - 1):
                break  # a frame nobody owed an input for: at the tick rate, never faster
        self._drop_laggards(now)
        if not closed and self.waiting:
            self.ticks_waiting += 1
        self.reports.tick(now, self.session)
        for slot in self.session._slots_by_id():
            self._send_to(slot, now)

    def _close_next(self) -> bool:
        """Close ``next_frame`` if every input it needs is here; False (and ``waiting``) if not."""
        frame = self.next_frame
        owing = self._owing(frame)
        self.waiting = tuple(pid for pid in owing if frame not in self.slots[pid].inputs)
        if self.waiting:
            return False
        inputs = {pid: self.slots[pid].inputs.pop(frame) for pid in owing}
        inputs.update(self.session._bot_frame_inputs(frame))
        frame_set = FrameSet(tuple(self.joins), tuple(self.leaves), tuple(sorted(inputs.items())))
        self.joins, self.leaves = [], []
        self._apply(frame, frame_set)
        return True

    def _owing(self, frame: int) -> list[int]:
        return [pid for pid, s in sorted(self.slots.items()) if s.first_input_frame <= frame]

    def _drop_laggards(self, now: float) -> None:
        """Everyone waits for a missing input. A player who keeps everyone waiting ``MAX_WAIT_S``
        (a hung program that still answers, or one that sends no inputs on purpose) is dropped,
        and so is one who alone holds a frame for ``HOLD_S`` of server ticks in a row,
        ``HOLDS_ALLOWED`` times a minute (one who releases its inputs just before the limit, again
        and again). *Alone*: every other player who owes an input for the frame has sent it. An
        honest player on the slowest link holds every frame too, but only for about its one-way
        delay; a wait several players share, or a pause of the server itself (one tick), is
        nobody's hold."""
        frame, since_s = self.waiting_since
        alone = self.waiting[0] if len(self.waiting) == 1 and len(self._owing(self.next_frame)) >= 2 else None
        for pid, frames in list(self.slots.items()):
            # Ticks in a row holding *this* frame alone: a new frame starts the count again.
            held = frames.alone_ticks + 1 if frame == self.next_frame else 1
            frames.alone_ticks = held if pid == alone else 0
            if frames.alone_ticks == round(HOLD_S * self.session.config.tick_rate):
                self._note_hold(pid, now)  # counted once per hold, when it reaches HOLD_S
        if self.waiting and frame == self.next_frame and now - since_s > MAX_WAIT_S:
            for slot in [s for s in self.session._slots_by_id() if s.player_id in self.waiting]:
                self._drop(slot, f"no input for frame {frame} in {MAX_WAIT_S:.0f} s (everyone was waiting)", now)
            self.waiting_since = (self.next_frame, now)
        elif not self.waiting or frame != self.next_frame:
            self.waiting_since = (self.next_frame, now)

    def _note_hold(self, player_id: int, now: float) -> None:
        holds = self.slots[player_id].holds
        holds.append(now)
        while holds and holds[0] < now - HOLDS_WINDOW_S:
            holds.popleft()
        if len(holds) >= HOLDS_ALLOWED:
            slot = next((s for s in self.session._slots_by_id() if s.player_id == player_id), None)
            if slot is not None:
                self._drop(slot, f"held the game alone for more than {HOLD_S:.0f} s {len(holds)} times "
                                 f"in {HOLDS_WINDOW_S:.0f} s", now)

    def _drop(self, slot: "ClientSlot", reason: str, now: float) -> None:
        for _ in range(2):  # one may be lost; it would time out anyway
            self.session._send(slot, Disconnect(reason), now)
        self.session._remove(slot, f"{slot.name!r} dropped: {reason}")

    def _apply(self, frame: int, frame_set: FrameSet) -> None:
        session, rules = self.session, self.session.rules
        world = session.world
        for pid in frame_set.leaves:  # leaves first: an id freed this frame may be taken again
            world = rules.remove_player(world, pid)
        for pid in frame_set.joins:
            world = rules.add_player(world, pid)
        before = world
        session.world = rules.step(world, {pid: (bits,) for pid, bits in frame_set.inputs},
                                   lambda shooter, index: rules.positions(before))
        session.tick = frame
        self.sets.append((frame, frame_set))
        self.next_frame = frame + 1
        self.frames_closed += 1
        if frame % self.hash_every == 0:
            self.hashes[frame] = rules.state_hash(session.world)
            self.reports.remember(frame, session.world)
            while len(self.hashes) > HASHES_KEPT:
                self.hashes.popitem(last=False)
        for pid in frame_set.joins:
            slot = self.slots.get(pid)
            if slot is not None:  # a client (not a bot): it starts from this frame's world
                slot.first_input_frame = frame + 1 + self.input_delay
                slot.full_state = FullState(frame, tuple(rules.encode_state(session.world)))
        for event in rules.events(session.world):
            session._tell_everyone(event)

    # --- sending -----------------------------------------------------------------------------------

    def _send_to(self, slot: "ClientSlot", now: float) -> None:
        frames = self.slots.get(slot.player_id)
        if frames is None:
            return
        if frames.full_state is not None:
            if frames.have_frame < frames.full_state.frame:
                self.session._send(slot, frames.full_state, now)
                return
            frames.full_state = None
        if slot.roster_version_known != self.session.roster_version and now - frames.roster_sent_s >= ROSTER_EVERY_S:
            frames.roster_sent_s = now
            for part in self.session.roster_parts():
                self.session._send(slot, part, now)
        first = max(frames.have_frame + 1, self.sets[0][0] if self.sets else self.next_frame)
        sets = [s for f, s in self.sets if f >= first][:self._sets_per_packet()]
        self.session._send(slot, FrameSets(first, tuple(sets), self.waiting), now)

    def _sets_per_packet(self) -> int:
        """As many sets as surely fit a datagram (events ride in what is left)."""
        players = max(1, len(self.session.world.players))
        return max(1, min(MAX_FRAME_SETS, (MAX_PACKET_BYTES // 2) // (SET_OVERHEAD_BYTES + 5 * players)))

    def figures(self) -> dict[str, object]:
        return {"sync": self.session.config.sync, "input_delay": "auto" if self.auto_delay else self.input_delay,
                "max_rollback": self.max_rollback,
                "frames": self.frames_closed, "ticks_waiting": self.ticks_waiting} | self.reports.figures()
