"""One client frame in frame sync: the network, the frame clock, and what to draw.

Theory of operation: ``ClientFrame`` hands its frames here when the server's accept announces
frame sync (``--sync lockstep|rollback``). Each frame:

1. **Network.** Take the server's frame messages: a ``FullState`` starts the engine (joining),
   ``FrameSets`` feed it, and their ``waiting`` list says whose input the next frame needs.
   A ``["dump", frame]`` event (a desync was found) is answered with our state at that frame,
   as soon as we have confirmed it.
2. **The frame clock.** Frames are due at the tick rate, with an accumulator as in state sync.
   For each due frame: sample our input if the engine wants one (it is for the frame
   ``input_delay`` after the next), then ask the engine to advance. A frame that may not advance
   is a **stall** (counted; the clock keeps its debt, so a short stall is caught up, at most
   ``MAX_FRAMES_PER_TICK`` frames a tick).
3. **Sending.** One ``FrameInput`` per frame: our inputs the server has not shown back yet, the
   newest frame we hold every set up to (so the server resends only what we lack), and the state
   hashes of newly confirmed checked frames.
4. **Drawing.** Everyone is drawn where the newest simulated frame has them (a prediction, in
   rollback), blended with the frame before by ``alpha`` as in state sync. Our own input shows
   ``input_delay`` frames after it was sampled; ``drawn_input_seq`` is that frame, so the feel
   meter's ``input_to_render_frames`` means the same thing in both families.
"""
from __future__ import annotations

import math

from .client_session import ClientSession
from .frame_sync import MAX_FRAMES_PER_TICK, FrameSyncEngine
from .game_api import GameRules
from .protocol import (AUTO_START_DELAY, INPUT_DELAY_AUTO, MAX_FRAME_HASHES, MAX_REDUNDANT_INPUTS, SYNC_ROLLBACK,
                       Accept, FrameInput, FrameSets, FullState, StateDump)
from .stats import DropCounter

Point = tuple[float, float]
DUMPS_SENT = 2  # a state dump goes out twice (one may be lost); the report waits for the first
MAX_DUMPS_PENDING = 8
AUTO_EVERY_S = 1.0  # --input-delay auto: how often the delay is reconsidered
AUTO_MAX_DELAY = 16  # frames: a round trip of up to 250 ms at 60 Hz (15 frames), plus one


class FrameSyncDriver:
    def __init__(self, session: ClientSession, rules: GameRules, accept: Accept) -> None:
        mode, input_delay, max_rollback, hash_every = accept.sync
        self.session = session
        self.rules = rules
        self.mode = "rollback" if mode == SYNC_ROLLBACK else "lockstep"
        self.auto_delay = input_delay == INPUT_DELAY_AUTO
        input_delay = AUTO_START_DELAY if self.auto_delay else input_delay
        self.auto_checked_s: float | None = None
        self.engine = FrameSyncEngine(rules, accept.client_id, input_delay,
                                      max_rollback if mode == SYNC_ROLLBACK else 0, hash_every)
        self.tick_len_s = 1.0 / accept.tick_rate
        self.accumulator_s = 0.0
        self.waiting: tuple[int, ...] = ()
        self.stalled = False
        self.dumped: set[int] = set()  # one dump per desync report: the server opens one at most
        self.dumps_pending: set[int] = set()  # asked for, not yet confirmed here
        self.dropped = DropCounter()
        self.previous_positions: dict[int, Point] = {}
        self.positions: dict[int, Point] = {}
        self._rollbacks_drawn = 0
        self.delay_changes = 0  # --input-delay auto: how often the delay moved

    def frame(self, now: float, dt_s: float, input_source, facts) -> None:
        self._take_messages()
        self._answer_dumps(now)
        if self.auto_delay:
            self._follow_round_trip(now)
        if self.engine.started:
            self._run_frames(dt_s, input_source, facts)
        self._send(now)
        if self.engine.started:
            self._fill_facts(facts)

    # --- 1. network ---------------------------------------------------------------------------

    def _take_messages(self) -> None:
        messages = self.session.frame_messages
        while messages:
            message = messages.popleft()
            if isinstance(message, FullState):
                try:
                    self.engine.start(message.frame, self.rules.decode_state(message.frame, message.state))
                except ValueError:
                    self.dropped.add("bad_state")
            elif isinstance(message, FrameSets):
                for offset, frame_set in enumerate(message.sets):
                    self.engine.on_set(message.first_frame + offset, frame_set)
                self.waiting = message.waiting

    def _answer_dumps(self, now: float) -> None:
        """The server found a desync at a frame: send it our state there, for its report, once we
        have confirmed that frame (the request is noted; the game takes the event itself)."""
        for event in self.session.events:
            if (isinstance(event, list) and len(event) == 2 and event[0] == "dump" and isinstance(event[1], int)
                    and event[1] not in self.dumped and len(self.dumps_pending) < MAX_DUMPS_PENDING):
                self.dumps_pending.add(event[1])
        for frame in sorted(self.dumps_pending):
            if self.engine.started and frame <= self.engine.confirmed:
                self.dumps_pending.discard(frame)
                self.dumped.add(frame)
                world = self.engine.check_states.get(frame)
                state = tuple(self.rules.encode_state(world)) if world is not None else ()
                for _ in range(DUMPS_SENT):
                    self.session._send(StateDump(frame, state), now)

    def _follow_round_trip(self, now: float) -> None:
        """``--input-delay auto``: once a second, the delay that covers the measured round trip
        (in frames, plus one), between 1 and ``AUTO_MAX_DELAY``. Lockstep then stops stalling on a
        steady link, and rollback guesses less far ahead."""
        if not self.engine.started:
            return  # our first input frame is the one the server assumes (it starts at AUTO_START_DELAY)
        if self.auto_checked_s is not None and now - self.auto_checked_s < AUTO_EVERY_S:
            return
        self.auto_checked_s = now
        if not self.session.conn.rtt_samples_ms:
            return
        frames = math.ceil(self.session.conn.rtt_ms / (1000 * self.tick_len_s)) + 1
        frames = max(1, min(AUTO_MAX_DELAY, frames))
        # Up at once (a stall costs more than a frame of delay); down only by two or more, so a
        # round trip on the edge between two values does not flip the delay every second.
        if frames > self.engine.input_delay or frames <= self.engine.input_delay - 2:
            self.engine.set_input_delay(frames)
            self.delay_changes += 1

    # --- 2. the frame clock ---------------------------------------------------------------------

    def _run_frames(self, dt_s: float, input_source, facts) -> None:
        self.accumulator_s = min(self.accumulator_s + dt_s, MAX_FRAMES_PER_TICK * self.tick_len_s)
        self.stalled = False
        while self.accumulator_s >= self.tick_len_s:
            if self.engine.wants_input():
                position = self.positions.get(self.engine.player_id)
                bits = input_source(self.engine.next_input_frame, position)
                facts.inputs.append((self.engine.add_input(bits), bits))
            before = self.engine.head
            if not self.engine.advance():
                self.engine.stats.stall_frames += 1
                self.stalled = True
                break  # the debt stays in the accumulator: caught up when the set arrives
            self.accumulator_s -= self.tick_len_s
            if self.engine.head > before:
                self.previous_positions, self.positions = self.positions, self._positions()
                self._note_our_shot(facts)
        facts.verdicts.extend(self.engine.own_verdicts)
        self.engine.own_verdicts.clear()
        if self.engine.stats.rollbacks != self._rollbacks_drawn:  # a rollback moved things: redraw
            self._rollbacks_drawn = self.engine.stats.rollbacks
            self.positions = self._positions()

    def _note_our_shot(self, facts) -> None:
        """A frame just simulated in which we fired: the game draws the beam at once (its verdict
        is our own confirmed frame, ``own_verdicts``: no server judges it in frame sync)."""
        me, frame = self.engine.player_id, self.engine.head
        if any(shot.shooter == me for shot in self.rules.shots(self.engine.world)) and frame in self.engine.own:
            facts.shots.append((frame, self.positions.get(me), self.engine.own[frame]))

    def _positions(self) -> dict[int, Point]:
        return {pid: (e.x_px, e.y_px) for pid, e in self.rules.entities(self.engine.world).items()}

    # --- 3. sending -----------------------------------------------------------------------------

    def _send(self, now: float) -> None:
        first, bits = self.engine.unconfirmed_inputs()
        bits = bits[:MAX_REDUNDANT_INPUTS]  # the oldest: the one the server waits for is among them
        hashes = tuple(self.engine.take_hashes(MAX_FRAME_HASHES))
        self.session._send(FrameInput(max(1, first), tuple(bits), self.engine.have_frame, hashes,
                                      max(self.session.roster_version, -1)), now)

    # --- 4. drawing -----------------------------------------------------------------------------

    def _fill_facts(self, facts) -> None:
        me = self.engine.player_id
        alpha = min(1.0, max(0.0, self.accumulator_s / self.tick_len_s))
        drawn = {}
        for pid, (x, y) in self.positions.items():
            x0, y0 = self.previous_positions.get(pid, (x, y))
            drawn[pid] = (x0 + (x - x0) * alpha, y0 + (y - y0) * alpha)
        facts.playing = me in drawn or bool(drawn)
        facts.prediction_on = False
        facts.local_drawn = drawn.pop(me, None)
        facts.local_predicted = facts.local_server = self.positions.get(me)
        facts.remotes = drawn
        facts.alpha = alpha
        facts.input_seq = self.engine.next_input_frame - 1
        facts.drawn_input_seq = self.engine.head  # our input for a frame shows once that frame is simulated
        facts.snapshot_tick = self.engine.confirmed

    def figures(self) -> dict[str, object]:
        stats = self.engine.stats
        return {"sync": self.mode, "input_delay": self.engine.input_delay, "max_rollback": self.engine.max_rollback,
                "rollbacks": stats.rollbacks, "rollback_frames_mean": round(stats.rollback_frames.mean, 2),
                "rollback_frames_max": round(stats.rollback_frames.max), "stall_frames": stats.stall_frames,
                "frames_confirmed": stats.frames_confirmed, "hashes_sent": stats.hashes_sent,
                "input_delay_auto": self.auto_delay, "input_delay_changes": self.delay_changes,
                "frame_sync_dropped": dict(self.dropped)}
