"""A bare paho client for the security tests: it records what the broker answers, and waits on events."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from wms.bus.mqtt import parse_mqtt_url, tls_ca_file

TIMEOUT = 5.0  # generous upper bound for any one broker answer on 127.0.0.1; tests wait on events
NOT_AUTHORIZED = 135  # MQTT 3.1.1 CONNACK 5, as paho 2 reports it (Mosquitto and amqtt both answer it)


class Client:
    """A bare paho client recording what the broker answers: CONNACK, SUBACK codes, messages."""

    def __init__(self, url: str, client_id: str | None = None, will: tuple[str, bytes] | None = None) -> None:
        host, port, user, password, tls = parse_mqtt_url(url)
        self.client_id = client_id or f"t-{uuid.uuid4().hex[:10]}"
        self._c = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=paho.MQTTv311,
            reconnect_on_failure=False,  # a refused client must not retry during a test
        )
        if user:
            self._c.username_pw_set(user, password)
        if tls:
            self._c.tls_set(ca_certs=tls_ca_file(url))
        if will:
            self._c.will_set(will[0], will[1], qos=1)
        self.reason: Any = None
        self.messages: list[tuple[str, bytes]] = []
        self._cond = threading.Condition()
        self._subacks: dict[int, list[Any]] = {}
        self._c.on_connect = self._on_connect
        self._c.on_message = self._on_message
        self._c.on_subscribe = self._on_subscribe
        self._host, self._port = host, port

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        with self._cond:
            self.reason = reason
            self._cond.notify_all()

    def _on_message(self, client: Any, userdata: Any, msg: paho.MQTTMessage) -> None:
        with self._cond:
            self.messages.append((msg.topic, bytes(msg.payload)))
            self._cond.notify_all()

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, codes: Any, props: Any) -> None:
        with self._cond:
            self._subacks[mid] = list(codes)
            self._cond.notify_all()

    def wait(self, predicate: Callable[[], bool], timeout: float = TIMEOUT) -> bool:
        """Block until ``predicate()`` holds (checked on every broker answer) or ``timeout`` passes."""
        with self._cond:
            return self._cond.wait_for(predicate, timeout)

    def connect(self) -> Any:
        """Connect and return the CONNACK reason code (``.is_failure`` when refused)."""
        self._c.connect(self._host, self._port, keepalive=30)
        self._c.loop_start()
        assert self.wait(lambda: self.reason is not None), f"{self.client_id}: no CONNACK"
        return self.reason

    def subscribe(self, topic: str) -> list[Any]:
        """Subscribe at QoS 1 and return the SUBACK reason codes."""
        _, mid = self._c.subscribe(topic, qos=1)
        assert self.wait(lambda: mid in self._subacks), f"{self.client_id}: no SUBACK for {topic}"
        return self._subacks[mid]

    def publish(self, topic: str, payload: bytes) -> None:
        """Publish at QoS 1 and wait until the broker acknowledged it (PUBACK)."""
        self._c.publish(topic, payload, qos=1).wait_for_publish(TIMEOUT)

    def got(self, topic: str, payload: bytes) -> bool:
        """Whether this exact message arrived."""
        with self._cond:
            return (topic, payload) in self.messages

    def crash(self) -> None:
        """Drop the socket without DISCONNECT, so that the broker publishes the last will."""
        sock = self._c.socket()
        if isinstance(sock, socket.socket):
            sock.shutdown(socket.SHUT_RDWR)  # the network thread sees it closed and ends (no reconnect)
        self._c.loop_stop()

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        self._c.disconnect()
        self._c.loop_stop()
