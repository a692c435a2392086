"""`LoopClient` fast paths: QoS 0 PUBLISH packets read and written as paho does, nothing else."""

from __future__ import annotations

import socket
import struct
from typing import Any

import pytest

from wms.bus.mqtt import BufferedSocket
from wms.bus.mqtt import publish_packet as wire_packet


def publish_packet(topic: bytes, payload: bytes, qos: int = 0, retain: bool = False, mid: int = 1) -> bytes:
    """An MQTT 3.1.1 PUBLISH packet, remaining length in as many bytes as it needs."""
    body = struct.pack("!H", len(topic)) + topic + (struct.pack("!H", mid) if qos else b"") + payload
    header, n, length = bytes([0x30 | qos << 1 | int(retain)]), len(body), b""
    while True:
        byte, n = n % 128, n // 128
        length += bytes([byte | (0x80 if n else 0)])
        if not n:
            return header + length + body


class FakeSock:
    """What BufferedSocket reads from: the given chunks, then EAGAIN."""

    def __init__(self, *chunks: bytes) -> None:
        self.chunks = list(chunks)

    def recv(self, size: int) -> bytes:
        if not self.chunks:
            raise BlockingIOError
        return self.chunks.pop(0)


def take_all(*chunks: bytes) -> tuple[list[tuple[bytes, bytes, bool]], BufferedSocket]:
    sock = BufferedSocket(FakeSock(*chunks))
    got: list[tuple[bytes, bytes, bool]] = []
    sock._buf, sock._pos = sock.sock.recv(0), 0
    sock.take_publishes(lambda t, p, r: got.append((t, p, r)))
    return got, sock


@pytest.mark.parametrize("size", [0, 1, 100, 127 - 7, 128, 16_383, 16_384, 300_000])
def test_every_remaining_length_width(size: int) -> None:
    payload = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    packets = publish_packet(b"uagv/v2/m/s/state", payload) + publish_packet(b"a/b", b"{}", retain=True)
    got, sock = take_all(packets)
    assert got == [(b"uagv/v2/m/s/state", payload, False), (b"a/b", b"{}", True)]
    assert sock.pending() == 0


def test_stops_at_a_partial_packet_and_leaves_it_whole() -> None:
    first, second = publish_packet(b"t/1", b"one"), publish_packet(b"t/2", b"two" * 50)
    stream = first + second
    for cut in range(len(first), len(stream)):
        got, sock = take_all(stream[:cut])
        assert got == [(b"t/1", b"one", False)]
        assert sock._buf[sock._pos :] == stream[len(first) : cut]  # paho reads the rest of it as before


@pytest.mark.parametrize(
    "other",
    [
        publish_packet(b"t/q1", b"x", qos=1),  # QoS 1 needs an acknowledgement: paho's
        bytes([0x90, 3, 0, 1, 0]),  # SUBACK
        bytes([0xD0, 0]),  # PINGRESP
        publish_packet(b"", b"x"),  # no topic: malformed, for paho to judge
        bytes([0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]),  # a remaining length of five bytes
    ],
)
def test_stops_at_anything_but_a_qos0_publish(other: bytes) -> None:
    stream = publish_packet(b"t/1", b"one") + other + publish_packet(b"t/2", b"two")
    got, sock = take_all(stream)
    assert got == [(b"t/1", b"one", False)]
    assert sock._buf[sock._pos :] == stream[len(publish_packet(b"t/1", b"one")) :]


def _client_on(sock: socket.socket) -> Any:
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    from wms.bus.mqtt import LoopClient

    client = LoopClient(CallbackAPIVersion.VERSION2, client_id="t", protocol=paho.MQTTv311)
    sock.setblocking(False)
    client._sock = BufferedSocket(sock)
    return client


def test_a_real_socket_pair_split_packets_all_on_the_fast_path() -> None:
    """Messages split across reads, a QoS 1 one among them: all arrive in order; paho reads only the QoS 1."""
    a, b = socket.socketpair()
    client = _client_on(b)
    got: list[tuple[str, bytes]] = []
    client.on_message = lambda c, u, m: got.append((m.topic, bytes(m.payload)))
    messages = [(f"t/{i}", bytes([i % 251]) * (i * 37 % 900)) for i in range(400)]
    stream = b"".join(publish_packet(t.encode(), p, qos=int(i == 200)) for i, (t, p) in enumerate(messages))
    for start in range(0, len(stream), 7_001):  # chunks that end inside packets
        a.sendall(stream[start : start + 7_001])
        while client._sock.pending() or _readable(b):
            client.loop_read()
    assert got == messages
    assert client.fast_messages == len(messages) - 1
    a.close()
    b.close()


def test_a_publish_still_arriving_waits_for_the_socket() -> None:
    """Half a packet read: nothing delivered, nothing pending (select will say when the rest comes)."""
    a, b = socket.socketpair()
    client = _client_on(b)
    got: list[str] = []
    client.on_message = lambda c, u, m: got.append(m.topic)
    packet = publish_packet(b"t/1", b"x" * 500)
    for cut in (1, 2, 5, 300):
        a.sendall(packet[:cut])
        client.loop_read()
        assert got == [] and client._sock.pending() == 0 and client._in_packet["command"] == 0
        a.sendall(packet[cut:] + packet[:cut])
        client.loop_read()
        assert got == ["t/1"]
        got.clear()
        a.sendall(packet[cut:])
        client.loop_read()
        assert got == ["t/1"]
        got.clear()
    a.close()
    b.close()


class Resets:
    """A socket whose peer reset the connection."""

    def recv(self, size: int) -> bytes:
        raise ConnectionResetError(104, "Connection reset by peer")

    def close(self) -> None:
        """Nothing to close."""


@pytest.mark.parametrize("how", ["close", "reset"])
def test_a_connection_lost_inside_a_publish_reaches_paho(how: str) -> None:
    import paho.mqtt.client as paho

    a, b = socket.socketpair()
    client = _client_on(b)
    client.on_message = lambda c, u, m: None
    client._state = paho._ConnectionState.MQTT_CS_CONNECTED
    a.sendall(publish_packet(b"t/1", b"one") + publish_packet(b"t/2", b"x" * 500)[:100])
    assert client.loop_read() == paho.MQTTErrorCode.MQTT_ERR_SUCCESS
    assert client.fast_messages == 1
    if how == "reset":
        client._sock.sock = Resets()
    a.close()
    assert client.loop_read() == paho.MQTTErrorCode.MQTT_ERR_CONN_LOST
    b.close()


def _readable(sock: socket.socket) -> bool:
    import select

    return bool(select.select([sock], [], [], 0.05)[0])


@pytest.mark.parametrize("size", [0, 1, 120, 121, 128, 16_379, 16_380, 70_000])
@pytest.mark.parametrize("retain", [False, True])
def test_publish_now_writes_the_bytes_paho_writes(size: int, retain: bool) -> None:
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    from wms.bus.mqtt import LoopClient

    a, b = socket.socketpair()
    client = LoopClient(CallbackAPIVersion.VERSION2, client_id="t", protocol=paho.MQTTv311)
    sock = client._sock = BufferedSocket(b)
    sock.on_output = lambda: None  # keep what is written
    client._state = paho._ConnectionState.MQTT_CS_CONNECTED
    payload = bytes(i % 256 for i in range(size))
    client.publish("uagv/v2/m/s1/order", payload, qos=0, retain=retain)
    by_paho = bytes(sock._out)
    sock._out.clear()
    assert client.publish_now("uagv/v2/m/s1/order", payload, retain)
    assert bytes(sock._out) == by_paho == wire_packet(b"uagv/v2/m/s1/order", payload, retain)
    a.close()
    b.close()


def test_publish_now_leaves_to_paho_what_it_must() -> None:
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    from wms.bus.mqtt import LoopClient

    a, b = socket.socketpair()
    client = LoopClient(CallbackAPIVersion.VERSION2, client_id="t", protocol=paho.MQTTv311)
    assert not client.publish_now("t/1", b"x")  # no connection
    sock = client._sock = BufferedSocket(b)
    assert not client.publish_now("t/1", b"x")  # connecting, not connected
    client._state = paho._ConnectionState.MQTT_CS_CONNECTED
    assert not client.publish_now("t/1", b"x")  # a socket that writes straight through
    sock.on_output = lambda: None
    for topic in ("", "t/+", "t/#"):  # paho raises on these
        assert not client.publish_now(topic, b"x")
    client._out_packet.append({"command": 0x30})  # paho has something queued: keep the order
    assert not client.publish_now("t/1", b"x")
    client._out_packet.clear()
    assert client.publish_now("t/1", b"x")
    a.close()
    b.close()
