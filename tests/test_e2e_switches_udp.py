"""Once over real UDP: the prediction switch felt through real sockets and the real clock.

A ``HostedServer`` (real UDP socket, monotonic clock, its own fixed-timestep loop) runs in a
background thread; two ``GameClient``s, one predicting and one not, each on a real loopback
``UdpTransport`` wrapped in a link conditioner adding 100 ms of round trip, are driven for about
three seconds at 60 frames a second by the real ``MonotonicClock``, sleeping between frames. The
test is bounded by a wall-clock deadline and always stops the server.
"""
from __future__ import annotations

from game.client import ClientOptions, GameClient, Switches
from game.server_app import HostedServer
from netcode.client_session import ClientState
from netcode.clock import MonotonicClock
from netcode.conditioner import LinkConditioner, LinkSettings
from netcode.server import ServerConfig
from netcode.transport import UdpTransport

FPS = 60
FRAME_S = 1 / FPS
PLAY_S = 3.0
DEADLINE_S = 10.0  # connecting included; the test gives up rather than hang
LAG = LinkSettings(lag_ms=100)


def presses(n: int, pos) -> int:
    """Idle for a third of a second, then press right, release, press left, release, ..."""
    if n < 20:
        return 0
    return (8, 0, 4, 0)[((n - 20) // 10) % 4]  # RIGHT, none, LEFT, none


def test_prediction_switch_over_real_udp() -> None:
    server = HostedServer(0, ServerConfig(), bind_host="127.0.0.1")
    server.start_in_background()
    clock = MonotonicClock()
    clients: list[GameClient] = []
    try:
        address = ("127.0.0.1", server.port)
        for seed, prediction in ((1, True), (2, False)):
            transport = LinkConditioner(UdpTransport("127.0.0.1", 0), LAG, seed)
            clients.append(GameClient(transport, address, ClientOptions(name=f"p{prediction}"),
                                      Switches(prediction=prediction), clock.now()))
        start_s = last_s = clock.now()
        played_s = 0.0
        frame = 0
        while played_s < PLAY_S and clock.now() - start_s < DEADLINE_S:
            now = clock.now()
            dt_s = now - last_s
            last_s = now
            for client in clients:
                client.frame(now, dt_s, presses)
                assert not client.finished, client.session.reason
            if all(c.session.state is ClientState.CONNECTED for c in clients):
                played_s += dt_s
            frame += 1
            clock.sleep(start_s + frame * FRAME_S - clock.now())
        for client in clients:
            client.session.disconnect(clock.now())
            client.session.transport.flush(clock.now() + 1.0)
    finally:
        server.stop(timeout_s=3.0)
        for client in clients:
            client.session.transport.close()
    assert server.thread is not None and not server.thread.is_alive()
    assert played_s >= PLAY_S, "the clients never connected"

    on, off = (client.stats() for client in clients)
    for stats, client in zip((on, off), clients):
        assert stats["snapshots_received"] >= 30  # ~90 sent; the server thread shares the GIL under load
        assert client.feel.input_to_render.count >= 4  # presses were timed
        assert stats["rtt_ms_mean"] >= 90  # the conditioner's lag is on the real link
    assert on["input_to_render_frames"] <= 1
    assert off["input_to_render_frames"] >= 3
    assert server.session.stats()["clients"] == 2
