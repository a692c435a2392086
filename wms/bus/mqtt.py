"""The MQTT bus: one paho-mqtt client per component, messages handed to the component's clock loop."""

from __future__ import annotations

import logging
import socket
import threading
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlparse

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import BaseModel

from wms.bus.base import Handler, Will, encode, topic_matches
from wms.clock import Clock

log = logging.getLogger(__name__)

# paho-mqtt 2.2 was seen to lose QoS 1 publishes past 65,535 unacknowledged ones: keep the window small.
MAX_INFLIGHT = 1000


def parse_mqtt_url(url: str) -> tuple[str, int, str | None, str | None, bool]:
    """``mqtt://user:pass@host:port`` (or ``mqtts://``) into host, port, username, password, tls.

    User name and password are percent-decoded, so a password may hold any character once quoted.
    """
    parsed = urlparse(url if "://" in url else f"mqtt://{url}")
    if parsed.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
        raise ValueError(f"MQTT URL {url!r}: scheme must be mqtt:// or mqtts://")
    tls = parsed.scheme in ("mqtts", "ssl")
    if not parsed.hostname:
        raise ValueError(f"MQTT URL {url!r}: no host")
    user = None if parsed.username is None else unquote(parsed.username)
    password = None if parsed.password is None else unquote(parsed.password)
    return parsed.hostname, parsed.port or (8883 if tls else 1883), user, password, tls


def tls_ca_file(url: str) -> str | None:
    """The CA file of ``mqtts://host:8883?ca=/path/ca.crt`` (None: the system's trusted CAs).

    Unknown query parameters, and ``ca=`` on a plain ``mqtt://`` URL, are errors rather than ignored.
    """
    parsed = urlparse(url if "://" in url else f"mqtt://{url}")
    query = dict(parse_qsl(parsed.query, keep_blank_values=True))
    unknown = sorted(set(query) - {"ca"})
    if unknown:
        raise ValueError(f"MQTT URL: unknown parameter(s) {', '.join(unknown)} (known: ca)")
    ca = query.get("ca") or None
    if ca is not None and parsed.scheme not in ("mqtts", "ssl"):
        raise ValueError("MQTT URL: ca= needs an mqtts:// URL")
    return ca


def with_credentials(url: str, user: str, password: str) -> str:
    """``url`` with this user name and password (percent-encoded); scheme, host, port and query kept."""
    parsed = urlparse(url if "://" in url else f"mqtt://{url}")
    host_port = parsed.netloc.rpartition("@")[2]
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host_port}"
    return parsed._replace(netloc=netloc).geturl()


def redact(url: str) -> str:
    """``url`` with the password shown as ``***``, for logs, summaries and messages."""
    parsed = urlparse(url if "://" in url else f"mqtt://{url}")
    if parsed.password is None:
        return url
    userinfo, _, host_port = parsed.netloc.rpartition("@")
    return parsed._replace(netloc=f"{userinfo.partition(':')[0]}:***@{host_port}").geturl()


class MqttBus:
    """A `Bus` over a real broker (MQTT 3.1.1 so that amqtt and Mosquitto both serve it)."""

    def __init__(
        self,
        url: str,
        client_id: str,
        clock: Clock,
        will: Will | None = None,
        connect_timeout: float = 10.0,
        persistent: bool = False,
    ) -> None:
        """Connect; ``persistent`` keeps the broker session (subscriptions, queued QoS 1) on reconnect."""
        host, port, user, password, tls = parse_mqtt_url(url)
        ca_file = tls_ca_file(url)
        self.url = url
        self.client_id = client_id
        self.clock = clock
        self._subs: list[tuple[str, Handler, int]] = []
        self._connected = threading.Event()
        self._answered = threading.Event()  # the first CONNACK came, accepted or refused
        self._refused: Any = None
        self._client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=paho.MQTTv311,
            clean_session=not persistent,
        )
        self._client.max_inflight_messages_set(MAX_INFLIGHT)
        self._client.reconnect_delay_set(min_delay=1, max_delay=5)
        if user:
            self._client.username_pw_set(user, password)
        if tls:
            self._client.tls_set(ca_certs=ca_file)
        if will is not None:
            self._client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.connect_async(host, port, keepalive=30)
        self._client.loop_start()
        if not self._answered.wait(connect_timeout):
            self._client.loop_stop()
            raise ConnectionError(
                f"MQTT client {client_id}: no connection to {host}:{port} in {connect_timeout}s"
            )
        if self._refused is not None:  # wrong credentials do not get better by retrying
            self._client.loop_stop()
            raise ConnectionRefusedError(
                f"MQTT client {client_id}: {host}:{port} refused the connection: {self._refused}"
            )

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            log.error("MQTT %s: connection refused: %s", self.client_id, reason)
            if not self._answered.is_set():  # the first attempt: stop here, the constructor raises
                self._refused = reason
                client.disconnect()
                self._answered.set()
            return
        sock = client.socket()
        if isinstance(sock, socket.socket):  # small messages must not wait for Nagle's algorithm
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for pattern, _, qos in self._subs:  # the broker forgot them if the session was clean
            client.subscribe(pattern, qos)
        self._connected.set()
        self._answered.set()

    def _on_disconnect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        self._connected.clear()
        if reason.is_failure:
            log.warning("MQTT %s: disconnected (%s), reconnecting", self.client_id, reason)

    def _on_message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        topic, data = msg.topic, bytes(msg.payload)
        for pattern, handler, _ in self._subs:
            if topic_matches(pattern, topic):
                self.clock.call_soon_threadsafe(_call(handler, topic, data))

    @property
    def connected(self) -> bool:
        """Whether the client currently holds a broker connection."""
        return self._connected.is_set()

    def publish(
        self,
        topic: str,
        payload: bytes | str | dict[str, Any] | BaseModel,
        qos: int = 0,
        retain: bool = False,
    ) -> None:
        self._client.publish(topic, encode(payload), qos=qos, retain=retain)

    def subscribe(self, pattern: str, handler: Handler, qos: int = 0) -> None:
        self._subs.append((pattern, handler, qos))
        if self._connected.is_set():
            self._client.subscribe(pattern, qos)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def crash(self) -> None:
        """Drop the socket without DISCONNECT so that the broker sends the last will (fault injection)."""
        self._client.loop_stop()
        sock = self._client.socket()
        if sock is not None:
            sock.close()


def _call(handler: Handler, topic: str, data: bytes):
    return lambda: handler(topic, data)
