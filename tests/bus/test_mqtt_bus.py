"""The MQTT bus against real brokers: the embedded one (Mosquitto or amqtt) and the CI's Mosquitto."""

from __future__ import annotations

import gc
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from unittest.mock import patch

import pytest

from wms.bus import broker as broker_module
from wms.bus.base import Will
from wms.bus.broker import EmbeddedBroker, PortTaken
from wms.bus.mqtt import MqttBus, parse_mqtt_url
from wms.clock import WallClock


def _roundtrip(url: str) -> None:
    clock = WallClock()
    ns = uuid.uuid4().hex[:8]
    got: list[tuple[str, bytes]] = []
    sub = MqttBus(url, f"sub-{ns}", clock)
    sub.subscribe(f"t/{ns}/+", lambda t, d: got.append((t, d)), qos=1)
    dev = MqttBus(url, f"dev-{ns}", clock, will=Will(f"t/{ns}/connection", b"CONNECTIONBROKEN"))
    time.sleep(0.2)
    dev.publish(f"t/{ns}/state", {"ok": True}, qos=1)
    clock.run(until=clock.now() + 1.0, stop=lambda: len(got) >= 1)
    assert got == [(f"t/{ns}/state", b'{"ok":true}')]
    dev.crash()  # no DISCONNECT: the broker must publish the will
    clock.run(until=clock.now() + 5.0, stop=lambda: len(got) >= 2)
    assert got[-1] == (f"t/{ns}/connection", b"CONNECTIONBROKEN")
    sub.close()


@pytest.mark.parametrize("prefer", ["mosquitto", "amqtt"])
def test_embedded_broker_roundtrip_and_last_will(prefer: str) -> None:
    if prefer == "mosquitto" and not shutil.which("mosquitto"):
        pytest.skip("mosquitto binary not installed")
    with EmbeddedBroker(prefer=prefer) as broker:
        assert broker.kind == prefer
        _roundtrip(broker.url)


def _kinds() -> list[str]:
    return ["mosquitto", "amqtt"] if shutil.which("mosquitto") else ["amqtt"]


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another listener holds (here: this process), as another test worker's broker would."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


@pytest.mark.parametrize("prefer", _kinds())
def test_a_broker_refuses_a_given_port_another_process_listens_on(prefer: str, taken_port: int) -> None:
    broker = EmbeddedBroker(port=taken_port, prefer=prefer)
    with pytest.raises(PortTaken, match=f"{prefer} broker: 127.0.0.1:{taken_port} is taken"):
        broker.start()
    broker.close()


@pytest.mark.parametrize("prefer", _kinds())
def test_a_broker_that_chose_a_port_taken_since_moves_to_another(prefer: str, taken_port: int) -> None:
    fresh = broker_module.free_port
    ports = iter([taken_port])
    with (
        patch.object(broker_module, "free_port", lambda: next(ports, None) or fresh()),
        EmbeddedBroker(prefer=prefer) as broker,
    ):
        assert broker.port != taken_port
        _roundtrip(broker.url)


@pytest.mark.skipif(not shutil.which("mosquitto"), reason="needs the mosquitto binary to restart a broker")
def test_a_restarted_broker_keeps_its_port_or_says_it_is_taken() -> None:
    broker = EmbeddedBroker(prefer="mosquitto").start()
    port = broker.port
    broker.stop()
    try:
        with socket.socket() as squatter:
            squatter.bind(("127.0.0.1", port))
            squatter.listen()
            with pytest.raises(PortTaken, match=f"127.0.0.1:{port} is taken"):
                broker.start()  # its clients know this port: moving would strand them
        broker.start()
        assert broker.port == port
        _roundtrip(broker.url)
    finally:
        broker.close()


def test_a_broker_that_dies_while_another_process_holds_its_port_is_told_the_port_is_taken() -> None:
    """Alive when the listeners are read, dead by the next look: the port is blamed, not the broker."""
    import subprocess
    import sys

    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])  # owns no socket
    answers = iter([True])
    try:
        with socket.socket() as squatter:
            squatter.bind(("127.0.0.1", 0))
            squatter.listen()
            port = squatter.getsockname()[1]
            with pytest.raises(PortTaken, match=f"127.0.0.1:{port} is taken by another process"):
                broker_module._wait_listening(port, other.pid, lambda: next(answers, False), 5.0)
    finally:
        other.kill()
        other.wait()


@pytest.mark.integration
def test_external_broker_roundtrip_and_last_will(mqtt_url: str) -> None:
    _roundtrip(mqtt_url)


def test_url_parsing() -> None:
    assert parse_mqtt_url("mqtt://u:p@host:1884") == ("host", 1884, "u", "p", False)
    assert parse_mqtt_url("mqtts://host") == ("host", 8883, None, None, True)
    with pytest.raises(ValueError, match="scheme"):
        parse_mqtt_url("http://host")


def test_unreachable_broker_is_a_clear_error() -> None:
    from wms.bus.broker import free_port

    with pytest.raises(ConnectionError, match="no connection"):
        MqttBus(f"mqtt://127.0.0.1:{free_port()}", "x", WallClock(), connect_timeout=1.0)


def test_a_bus_on_a_wall_clock_is_served_by_the_clock_loop() -> None:
    """No paho thread: the loop reads the socket in chunks and runs handlers on its own thread, in order."""
    from wms.bus.mqtt import BufferedSocket

    with EmbeddedBroker() as broker:
        clock = WallClock()
        ns = uuid.uuid4().hex[:8]
        got: list[int] = []
        threads: set[int] = set()

        def on(topic: str, data: bytes) -> None:
            got.append(int(data))
            threads.add(threading.get_ident())

        sub = MqttBus(broker.url, f"sub-{ns}", clock)
        assert isinstance(sub._client.socket(), BufferedSocket)  # paho still builds sockets via the hook
        assert sub._client.socket().sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)  # no Nagle
        assert sub._client._thread is None
        sub.subscribe(f"t/{ns}", on)
        pclock = WallClock()
        pub = MqttBus(broker.url, f"pub-{ns}", pclock)

        def send() -> None:
            for i in range(3000):
                pub.publish(f"t/{ns}", str(i).encode())

        pclock.call_soon_threadsafe(send)
        pclock.run(until=pclock.now() + 10.0, stop=lambda: pub._client.fast_published >= 3000)
        gc.collect()
        gc.disable()
        try:
            clock.run(until=clock.now() + 10.0, stop=lambda: len(got) >= 3000)
            cycles = gc.collect()  # left by reading: each one is work for the collector, a stall of the loop
        finally:
            gc.enable()
        assert cycles < 300, cycles
        assert got == list(range(3000))
        assert threads == {threading.get_ident()}
        assert sub._client.fast_messages > 1500  # most came by the fast path (paho reads a chunk's first)
        pub.close()
        sub.close()


def test_replies_to_the_first_messages_of_a_chunk_leave_before_the_last_is_handled() -> None:
    """A chunk of many messages: the loop writes replies as it goes, not all of them after the last."""
    with EmbeddedBroker() as broker:
        ns = uuid.uuid4().hex[:8]
        rclock, eclock, pclock = WallClock(), WallClock(), WallClock()
        arrived: dict[int, float] = {}
        handled: dict[int, float] = {}
        recorder = MqttBus(broker.url, f"rec-{ns}", rclock)
        recorder.subscribe(f"out/{ns}", lambda t, d: arrived.setdefault(int(d), time.perf_counter()))
        echo = MqttBus(broker.url, f"echo-{ns}", eclock)

        def on(topic: str, data: bytes) -> None:
            time.sleep(0.003)  # the work of a handler (the GIL free, so the recorder sees arrivals at once)
            echo.publish(f"out/{ns}", data)
            handled[int(data)] = time.perf_counter()

        echo.subscribe(f"in/{ns}", on)
        pub = MqttBus(broker.url, f"pub-{ns}", pclock)
        rloop = threading.Thread(target=rclock.run, kwargs={"until": rclock.now() + 20.0}, daemon=True)
        rloop.start()
        time.sleep(0.3)  # every subscription is in place
        pclock.call_soon_threadsafe(lambda: [pub.publish(f"in/{ns}", str(i).encode()) for i in range(40)])
        pclock.run(until=pclock.now() + 5.0, stop=lambda: pub._client.fast_published >= 40)
        time.sleep(0.3)  # all 40 wait in the echo's socket: its loop reads them as one chunk
        eclock.run(until=eclock.now() + 10.0, stop=lambda: len(handled) >= 40)
        deadline = time.monotonic() + 5.0
        while len(arrived) < 40 and time.monotonic() < deadline:
            time.sleep(0.01)
        rclock.stop()
        rloop.join(5.0)
        assert sorted(arrived) == list(range(40))
        last = max(handled.values())
        early = [i for i, t in arrived.items() if t < last]
        assert len(early) >= 20, f"only {len(early)} replies left before the last message was handled"
        for bus in (pub, echo, recorder):
            bus.close()


def test_other_threads_publish_through_the_loop_and_a_failing_handler_does_not_stop_it() -> None:
    with EmbeddedBroker() as broker:
        clock = WallClock()
        errors: list[BaseException] = []
        clock.on_error = errors.append
        ns = uuid.uuid4().hex[:8]
        got: list[bytes] = []

        def on(topic: str, data: bytes) -> None:
            if data == b"bad":
                raise ValueError("handler failed")
            got.append(data)

        bus = MqttBus(broker.url, f"both-{ns}", clock)
        bus.subscribe(f"t/{ns}", on)
        loop = threading.Thread(target=clock.run, kwargs={"until": clock.now() + 10.0}, daemon=True)
        loop.start()
        time.sleep(0.2)
        for payload in (b"one", b"bad", b"two"):  # from this thread, while the loop runs in another
            bus.publish(f"t/{ns}", payload)
        deadline = time.monotonic() + 5.0
        while len(got) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        clock.stop()
        loop.join(5.0)
        assert got == [b"one", b"two"]
        assert [str(e) for e in errors] == ["handler failed"]
        bus.close()


@pytest.mark.skipif(not shutil.which("mosquitto"), reason="needs the mosquitto binary to restart a broker")
def test_a_bus_on_a_clock_loop_reconnects_and_subscribes_again_after_a_broker_restart() -> None:
    from wms.bus.broker import free_port

    port = free_port()
    ns = uuid.uuid4().hex[:8]
    clock = WallClock()
    got: list[bytes] = []
    broker = EmbeddedBroker(port=port, prefer="mosquitto").start()
    bus = MqttBus(broker.url, f"sub-{ns}", clock)  # a clean session: the broker forgets its subscription
    bus.subscribe(f"t/{ns}", lambda t, d: got.append(d), qos=1)
    try:
        broker.close()
        clock.run(until=clock.now() + 1.5, stop=lambda: not bus.connected)
        assert not bus.connected
        broker = EmbeddedBroker(port=port, prefer="mosquitto").start()
        clock.run(until=clock.now() + 15.0, stop=lambda: bus.connected)
        assert bus.connected
        clock.run(until=clock.now() + 0.5)  # the SUBSCRIBE goes out with the reconnect
        pub = MqttBus(broker.url, f"pub-{ns}", WallClock())
        pub.publish(f"t/{ns}", b"after", qos=1)
        clock.run(until=clock.now() + 5.0, stop=lambda: bool(got))
        assert got == [b"after"]
        pub.close()
    finally:
        bus.close()
        broker.close()


def test_what_mosquitto_says_on_stderr_before_it_fails_is_in_the_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Mosquitto reports a config it cannot use on stderr, before its log file is open."""
    fake = tmp_path / "mosquitto"
    fake.write_text("#!/bin/sh\necho 'Error: Unable to open pwfile \"/nowhere\".' >&2\nexit 3\n")
    fake.chmod(0o755)
    with (
        patch.object(broker_module.shutil, "which", return_value=str(fake)),
        pytest.raises(
            RuntimeError, match=r"did not listen on 127\.0\.0\.1:\d+: Error: Unable to open pwfile"
        ),
    ):
        EmbeddedBroker(prefer="mosquitto").start()
