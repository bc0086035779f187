"""Seeded games on a fake clock: the real server and clients, in one process, for tests and figures.

Theory of operation: ``run_game`` plays a whole game without sockets or a real clock. A
``ServerSession`` and one ``GameClient`` per player run over a ``MemoryNetwork``; each client's
transport is wrapped in a seeded ``LinkConditioner`` (a conditioner on the client side gives the
link its whole ``lag_ms`` of extra round trip), and a ``FakeClock`` steps from one event to the
next: a server tick (60 Hz) or a client frame (``fps``). Ticks and frames due at the same instant
run server first. With the same seeds the same datagrams are lost and delayed, so every run
repeats exactly, and a few seconds of game take a fraction of a second. Bots play the keys.

Optionally every tick is traced (the server's truth), every client frame too (``trace_dir``),
and every datagram's fate in the conditioners is handed to ``on_fate`` (sequence diagrams).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Collection

from game.bots import Bot
from game.client import ClientOptions, GameClient, Switches
from game.netgame import SimRules
from netcode.clock import FakeClock
from netcode.conditioner import PROFILES, Fate, LinkConditioner, LinkSettings
from netcode.input_buffer import BufferPolicy
from netcode.server import ServerConfig, ServerSession
from netcode.transport import Address, MemoryNetwork

from .trace_analysis import load_jsonl

SERVER: Address = ("10.0.0.1", 7777)
FPS = 60
FRAME_S = 1 / FPS
WIFI = PROFILES["wifi"]  # 100 ms lag, 20 ms jitter, 5% loss
WIFI_NO_LOSS = dataclasses.replace(WIFI, loss_pct=0.0)


@dataclass
class Run:
    clients: list[GameClient]
    conditioners: list[LinkConditioner]
    session: ServerSession
    stats: list[dict[str, object]] = field(default_factory=list)
    server_trace: list[dict] = field(default_factory=list)  # one record per tick, when traced
    client_traces: list[list[dict]] = field(default_factory=list)  # one list of frames per client


def run_game(players: list[tuple[Switches, Bot]], link: LinkSettings = WIFI, seconds: float = 4.0,
             seed: int = 1, loss_burst_s: tuple[float, float] | None = None, fps: int = FPS,
             input_buffer: str = "adaptive", trace_dir: Path | None = None,
             on_fate: Callable[[int, Fate], None] | None = None,
             burst_clients: Collection[int] | None = None,
             link_at: Callable[[float, int], LinkSettings | None] | None = None,
             snapshot_codec: str = "delta") -> Run:
    """Play ``seconds`` of fake time; ``loss_burst_s`` = (from, to) drops every datagram then.

    ``players`` pairs each client's switches with the bot at its keys; ``on_fate(client index,
    fate)`` hears every datagram decided by that client's conditioner. ``burst_clients`` limits
    the loss burst to those clients' links (default: all). ``link_at(now, client index)`` may
    return new link settings for that client at any moment (None: keep them), e.g. a lag drop.
    """
    clock = FakeClock()
    network = MemoryNetwork()
    config = ServerConfig(input_buffer=BufferPolicy.parse(input_buffer), snapshot_codec=snapshot_codec)
    session = ServerSession(SimRules(config.tick_rate), network.endpoint(SERVER), config, clock.now())
    server_trace: list[dict] = []
    if trace_dir is not None:
        session.tracer = server_trace.append
    clients, conditioners = [], []
    for i, (switches, _) in enumerate(players):
        endpoint = network.endpoint((f"10.0.0.{i + 2}", 5000))
        conditioner = LinkConditioner(endpoint, link, seed * 100 + i)
        if on_fate is not None:
            conditioner.watch(lambda fate, client_index=i: on_fate(client_index, fate))
        conditioners.append(conditioner)
        trace_path = None if trace_dir is None else trace_dir / f"client{i}.jsonl"
        clients.append(GameClient(conditioner, SERVER, ClientOptions(name=f"bot{i}", trace_path=trace_path),
                                  switches, clock.now()))
    burst = dataclasses.replace(link, loss_pct=100.0)
    ticks = frames = 0
    while ticks < round(seconds * config.tick_rate):
        # Integer event times (in 1/(tick rate * fps) s) keep the order of events exact.
        tick_at, frame_at = ticks * fps, frames * config.tick_rate
        clock.advance(min(tick_at, frame_at) / (config.tick_rate * fps) - clock.now())
        now = clock.now()
        if loss_burst_s is not None:
            in_burst = loss_burst_s[0] <= now < loss_burst_s[1]
            for i, conditioner in enumerate(conditioners):
                if burst_clients is None or i in burst_clients:
                    conditioner.settings = burst if in_burst else link
        if link_at is not None:
            for i, conditioner in enumerate(conditioners):
                conditioner.settings = link_at(now, i) or conditioner.settings
        if tick_at <= frame_at:
            session.receive(now)
            session.tick_once(now)
            ticks += 1
        else:
            for client, (_, bot) in zip(clients, players):
                client.frame(now, 1 / fps, bot)
            frames += 1
    run = Run(clients, conditioners, session, server_trace=server_trace)
    run.stats = [client.stats() for client in clients]
    for i, client in enumerate(clients):
        client.close()
        if trace_dir is not None:
            run.client_traces.append(load_jsonl(trace_dir / f"client{i}.jsonl"))
    for client, stats in zip(clients, run.stats):
        assert client.session.state.value == "connected"
        assert stats["snapshots_received"] > 0
    return run


