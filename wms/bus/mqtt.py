"""The MQTT bus: one paho-mqtt client per component, messages handed to the component's clock loop."""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlparse

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import BaseModel

from wms.bus.base import Handler, Will, encode, topic_matches
from wms.clock import Clock, WallClock

log = logging.getLogger(__name__)

# paho-mqtt 2.2 was seen to lose QoS 1 publishes past 65,535 unacknowledged ones: keep the window small.
MAX_INFLIGHT = 1000
KEEPALIVE_S = 30
KEEPALIVE_TICK_S = 1.0  # wall seconds between paho's periodic duties on a clock's loop
CLOSE_DRAIN_S = 2.0  # at most this long to write what is queued before DISCONNECT
MAX_PAYLOAD = 268_435_455  # the largest MQTT remaining length
READ_CHUNK = 256 * 1024  # bytes asked of the socket at a time on a clock's loop
FLUSH_EVERY_S = 0.001  # while handling a chunk, write the replies so far at least this often
RECONNECT_MIN_S, RECONNECT_MAX_S = 1.0, 5.0  # wall seconds between reconnect attempts


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


class BufferedSocket:
    """The client's socket, read in large chunks and written in batches.

    paho reads a packet a few bytes at a time and writes each packet with its own send, a syscall each.
    This is paho's `SocketLike` (recv, send, close, fileno, setblocking) with ``pending()`` for bytes
    read but not yet taken, as paho's own websocket wrapper has; a TLS socket is wrapped the same way.
    Once ``on_output`` is set, what paho sends is kept until `flush` (``on_output`` is called when the
    buffer stops being empty), so that the replies to a whole chunk of messages leave in one write.
    """

    def __init__(self, sock: Any) -> None:
        self.sock = sock
        self._buf = b""
        self._pos = 0
        self._out = bytearray()
        self.on_output: Callable[[], None] | None = None
        self.partial = False  # what is unread is the start of a QoS 0 PUBLISH still arriving
        self._fault: OSError | None = None  # what `more` met, for paho's next `recv` to meet
        self._eof = False

    def recv(self, size: int) -> bytes:
        self.partial = False
        if self._pos >= len(self._buf):
            if self._fault is not None:
                fault, self._fault = self._fault, None
                raise fault
            if self._eof:
                return b""
            data = self.sock.recv(READ_CHUNK)  # BlockingIOError and EOF (b"") reach paho as before
            if not data:
                return data
            self._buf, self._pos = data, 0
        out = self._buf[self._pos : self._pos + size]
        self._pos += len(out)
        return out

    def more(self) -> bool:
        """Append what the socket has now to the unread bytes; False if it has nothing (yet, or ever).

        So that the fast path reads the socket itself and finishes a PUBLISH split across reads: paho
        read the first packet of every read and every split one, 30% of the fleet master's states and
        over half of the commands the bench's robot emulator reads. The end of the stream or an error
        is kept for paho, whose next `recv` meets it as it would have.
        """
        try:
            data = self.sock.recv(READ_CHUNK)
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return False
        except OSError as exc:
            self._fault = exc
            return False
        if not data:
            self._eof = True
            return False
        self._buf, self._pos = self._buf[self._pos :] + data, 0
        return True

    def stuck(self) -> bool:
        """True when the unread bytes cannot progress before paho reads them (the stream ended or failed)."""
        return self._eof or self._fault is not None

    def unread(self) -> int:
        """Bytes received and not yet read."""
        return len(self._buf) - self._pos

    def pending(self) -> int:
        """Bytes received and not yet read (select cannot see them); a PUBLISH still arriving is not."""
        inner = self.sock.pending() if isinstance(self.sock, ssl.SSLSocket) else 0
        return (0 if self.partial else len(self._buf) - self._pos) + inner

    def send(self, data: bytes | bytearray) -> int:
        if self.on_output is None:
            return self.sock.send(data)
        was_empty = not self._out
        self._out += data
        if was_empty:
            self.on_output()
        return len(data)

    def take_publishes(self, deliver: Callable[[bytes, bytes, bool], None]) -> int:
        """Hand on the whole QoS 0 PUBLISH packets (MQTT 3.1.1) at the head of what was read, as
        (topic, payload, retain); stop at any other packet, or a partial or odd one, and leave it to paho.

        ``partial`` then says whether it stopped at a QoS 0 PUBLISH not all read yet (see `more`).
        """
        buf, end, n = self._buf, len(self._buf), 0
        self.partial = False
        while True:
            pos = self._pos
            if pos >= end or buf[pos] & 0xF6 != 0x30:  # type PUBLISH, QoS 0 (DUP and RETAIN may be set)
                return n
            length, shift, i = 0, 0, pos + 1
            while True:
                if i >= end:
                    self.partial = True  # its remaining length is still arriving
                    return n
                if i > pos + 4:
                    return n  # a remaining length of five bytes or more: paho judges it
                byte = buf[i]
                length |= (byte & 0x7F) << shift
                shift += 7
                i += 1
                if not byte & 0x80:
                    break
            if i + length > end:
                self.partial = True
                return n
            topic_end = i + 2 + ((buf[i] << 8) | buf[i + 1]) if length >= 2 else i
            if not i + 2 < topic_end <= i + length:
                return n  # no topic, or one longer than the packet: paho reads it (and judges it)
            self._pos = i + length
            deliver(buf[i + 2 : topic_end], buf[topic_end : i + length], bool(buf[pos] & 1))
            n += 1

    def flush(self) -> bool:
        """Write the kept output as far as the socket takes it now; True once all of it is written."""
        while self._out:
            try:
                sent = self.sock.send(self._out)
            except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                return False
            except OSError:  # the connection is gone: paho learns it on its next read
                self._out.clear()
                return True
            del self._out[:sent]
        return True

    def close(self) -> None:
        """Close, after writing what is kept (paho closes right after it wrote a DISCONNECT)."""
        deadline = time.monotonic() + CLOSE_DRAIN_S
        with contextlib.suppress(OSError, ValueError):
            while not self.flush() and time.monotonic() < deadline:
                select.select([], [self.sock], [], max(deadline - time.monotonic(), 0.0))
        self.sock.close()

    def fileno(self) -> int:
        return self.sock.fileno()

    def setblocking(self, flag: bool) -> None:
        self.sock.setblocking(flag)


def publish_packet(topic: bytes, payload: bytes, retain: bool = False) -> bytes:
    """An MQTT 3.1.1 QoS 0 PUBLISH packet."""
    n = 2 + len(topic) + len(payload)
    length = bytearray()
    while True:
        n, byte = divmod(n, 128)
        length.append(byte | 0x80 if n else byte)
        if not n:
            break
    return b"%c%b%b%b%b" % (0x31 if retain else 0x30, length, len(topic).to_bytes(2, "big"), topic, payload)


@dataclass(slots=True)
class InboundMessage:
    """A QoS 0 message as `LoopClient`'s fast path hands it to ``on_message`` (the fields read of paho's)."""

    topic: str
    payload: bytes
    retain: bool
    qos: int = 0
    mid: int = 0


class LoopClient(paho.Client):
    """A paho client for an external event loop, its socket read (and, on request, written) in batches.

    The socket is read here and its QoS 0 PUBLISH packets decoded here, a few lines of MQTT 3.1.1, and
    handed to ``on_message`` without paho's per-packet machinery (four reads, a message object with a
    lock, a topic-tree walk: about 15 µs a message, most of what the fleet master spends per state on MQTT).
    Everything else (connect, subscribe, acknowledgements, QoS 1, keepalive, MQTT 5) stays with paho.
    """

    fast_messages = 0  # messages given to on_message without paho's read path
    fast_published = 0  # messages written by publish_now

    def _create_socket(self) -> Any:  # paho's (private) socket factory; tests check it is still called
        sock = super()._create_socket()
        # paho leaves Nagle's algorithm on: a write waits for the broker to acknowledge the one before.
        # Writes here are already batched (one per loop turn), so each may leave at once.
        with contextlib.suppress(OSError, AttributeError):  # not TCP (a Unix socket), or a wrapper
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return BufferedSocket(sock)

    def loop_read(self, max_packets: int = 1) -> paho.MQTTErrorCode:
        """Take the QoS 0 publishes at the head of the read buffer, then let paho read the rest."""
        sock = self._sock
        if not (
            isinstance(sock, BufferedSocket)
            and self._in_packet["command"] == 0  # paho is not in the middle of a packet
            and self._protocol != paho.MQTTv5
            and self.on_message is not None
            and not self._on_message_filtered._root._children
        ):
            return super().loop_read(max_packets)
        if not sock.unread() and not sock.more():  # read the socket here, or paho would take the first
            return super().loop_read(max_packets) if sock.stuck() else paho.MQTTErrorCode.MQTT_ERR_SUCCESS
        taken = sock.take_publishes(self._deliver)
        while sock.partial and sock.more():
            taken += sock.take_publishes(self._deliver)
        if taken:
            with self._msgtime_mutex:
                self._last_bytes_received = paho.time_func()
        if sock.partial and not sock.stuck():  # the rest of it comes with the socket's next read
            return paho.MQTTErrorCode.MQTT_ERR_SUCCESS
        if taken and not sock.pending():  # all taken: read the socket again only on the loop's next turn
            return paho.MQTTErrorCode.MQTT_ERR_SUCCESS
        return super().loop_read(max_packets)

    def publish_now(self, topic: str, payload: bytes, retain: bool = False) -> bool:
        """Put a QoS 0 PUBLISH straight into the socket's output buffer, as paho would encode it.

        False (nothing done) unless connected over MQTT 3.1.1 with a batching socket and nothing of
        paho's still queued ahead of it; the caller then uses ``publish``, which also judges bad topics.
        """
        sock = self._sock
        if not (
            isinstance(sock, BufferedSocket)
            and sock.on_output is not None
            and not self._out_packet
            and self._protocol != paho.MQTTv5
            and self.is_connected()
        ):
            return False
        name = topic.encode()
        if not 0 < len(name) <= 0xFFFF or b"+" in name or b"#" in name or len(payload) > MAX_PAYLOAD:
            return False
        sock.send(publish_packet(name, payload, retain))
        self._last_msg_out = paho.time_func()
        self.fast_published += 1
        return True

    def _handle_on_message(self, message: paho.MQTTMessage) -> None:
        """Straight to ``on_message`` when no per-topic callbacks are set, for what paho reads itself.

        paho walks its topic tree first, and each walk leaves a reference cycle behind (a recursive
        closure): garbage for the collector, whose passes then stall the loop for tens of milliseconds.
        """
        if self._on_message_filtered._root._children or self.on_message is None:
            super()._handle_on_message(message)
            return
        with self._in_callback_mutex:
            self.on_message(self, self._userdata, message)

    def _deliver(self, topic: bytes, payload: bytes, retain: bool) -> None:
        try:
            name = topic.decode()
        except UnicodeDecodeError:
            log.warning("MQTT %s: dropped a message on a topic that is not UTF-8: %r", self._client_id, topic)
            return
        self.fast_messages += 1
        with self._in_callback_mutex:
            self.on_message(self, self._userdata, InboundMessage(name, payload, retain))


class MqttBus:
    """A `Bus` over a real broker (MQTT 3.1.1 so that amqtt and Mosquitto both serve it).

    On a `WallClock` the client's socket is served by the clock's own loop: messages are handled as
    they are read and replies written from the same thread, with no thread hand-off per message. On
    any other clock, paho's network thread reads and hands each message to the clock.
    """

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
        self._routes: dict[str, list[Handler]] = {}  # handlers by topic, filled as topics are seen
        self._connected = threading.Event()
        self._answered = threading.Event()  # the first CONNACK came, accepted or refused
        self._refused: Any = None
        self._loop: WallClock | None = clock if isinstance(clock, WallClock) else None
        self._closing = False
        self._inbox: list[tuple[list[Handler], str, bytes]] = []  # read, to handle outside paho's callback
        self._waiting_write = False
        self._retry_s = RECONNECT_MIN_S
        self._client = (paho.Client if self._loop is None else LoopClient)(
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
        if self._loop is not None:
            self._connect_on_loop(host, port, connect_timeout)
        else:
            self._client.connect_async(host, port, keepalive=KEEPALIVE_S)
            self._client.loop_start()
            if not self._answered.wait(connect_timeout):
                self._client.loop_stop()
                raise ConnectionError(
                    f"MQTT client {client_id}: no connection to {host}:{port} in {connect_timeout}s"
                )
        if self._refused is not None:  # wrong credentials do not get better by retrying
            self._stop_client()
            raise ConnectionRefusedError(
                f"MQTT client {client_id}: {host}:{port} refused the connection: {self._refused}"
            )

    # -------------------------------------------------------------- serving the socket on the clock's loop

    def _connect_on_loop(self, host: str, port: int, timeout: float) -> None:
        """Connect and wait for the CONNACK in the calling thread, then hand the socket to the loop."""
        client = self._client
        deadline = time.monotonic() + timeout
        while True:
            try:
                client.connect(host, port, keepalive=KEEPALIVE_S)
                break
            except OSError as exc:
                if time.monotonic() + 0.5 > deadline:
                    raise ConnectionError(
                        f"MQTT client {self.client_id}: no connection to {host}:{port} in {timeout}s ({exc})"
                    ) from None
                time.sleep(0.5)
        while not self._answered.is_set():
            left = deadline - time.monotonic()
            sock = client.socket()
            if left <= 0 or sock is None:
                self._stop_client()
                raise ConnectionError(
                    f"MQTT client {self.client_id}: no CONNACK from {host}:{port} in {timeout}s"
                )
            if isinstance(sock, BufferedSocket) and sock.pending():
                client.loop_read()
                continue
            readable, writable, _ = select.select([sock], [sock] if client.want_write() else [], [], left)
            if writable:
                client.loop_write()
            if readable:
                client.loop_read()
        if self._refused is not None:
            return
        client.on_socket_open = self._socket_open
        client.on_socket_close = self._socket_close
        sock = client.socket()
        self._socket_open(client, None, sock)
        if isinstance(sock, BufferedSocket) and sock.pending():  # read with the CONNACK
            self.clock.call_soon_threadsafe(self._readable)
        self._flush()
        self._keepalive()

    def _socket_open(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        assert self._loop is not None
        self._waiting_write = False
        if isinstance(sock, BufferedSocket):
            sock.on_output = self._output
        self._loop.watch(sock, self._readable, self._flush)

    def _socket_close(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        assert self._loop is not None
        self._loop.unwatch(sock)

    def _readable(self) -> None:
        client = self._client
        client.loop_read()
        sock = client.socket()
        while isinstance(sock, BufferedSocket) and sock.pending():  # bytes select cannot see
            client.loop_read()
            sock = client.socket()
        inbox, self._inbox = self._inbox, []
        loop = self._loop
        assert loop is not None
        # A chunk can hold hundreds of messages: the replies to its first ones leave while the rest are
        # handled, instead of all waiting for the last (at most one extra write per millisecond).
        flush_at = time.perf_counter() + FLUSH_EVERY_S
        for handlers, topic, data in inbox:
            for handler in handlers:
                loop.guard(handler, topic, data)
            if time.perf_counter() >= flush_at:
                self._flush()
                flush_at = time.perf_counter() + FLUSH_EVERY_S
        if client.want_write():
            self._flush()

    def _output(self) -> None:
        """Output waits in the socket buffer: write it before the loop next waits (or now, off the loop)."""
        assert self._loop is not None
        if self._loop.running_here():
            self._loop.before_wait(self._flush)
        else:
            self._flush()

    def _flush(self) -> None:
        """Write what paho queued while it could not (in its callbacks, or when the socket was full)."""
        client = self._client
        if client.want_write():
            client.loop_write()
        sock = client.socket()
        waiting = client.want_write() or (isinstance(sock, BufferedSocket) and not sock.flush())
        if waiting != self._waiting_write and sock is not None and self._loop is not None:
            self._waiting_write = waiting
            self._loop.writing(sock, waiting)  # the rest when the socket takes more

    def _keepalive(self) -> None:
        """paho's periodic duties: PINGREQ, and noticing a broker that stopped answering."""
        if self._closing or self._loop is None:
            return
        self._client.loop_misc()
        self._flush()
        self.clock.call_later(KEEPALIVE_TICK_S * self._loop.speed, self._keepalive)

    def _reconnect(self) -> None:
        if self._closing or self._loop is None or self._connected.is_set():
            return
        try:
            self._client.reconnect()  # the new socket arrives through _socket_open
        except OSError as exc:
            log.warning("MQTT %s: reconnect failed (%s), retry in %.0f s", self.client_id, exc, self._retry_s)
            self.clock.call_later(self._retry_s * self._loop.speed, self._reconnect)
            self._retry_s = min(self._retry_s * 2, RECONNECT_MAX_S)

    def _drain(self, timeout: float) -> None:
        """Write what is still queued (a full socket left it), waiting up to ``timeout`` s for the broker."""
        client = self._client
        deadline = time.monotonic() + timeout
        while client.want_write() and client.socket() is not None and time.monotonic() < deadline:
            select.select([], [client.socket()], [], max(deadline - time.monotonic(), 0.0))
            client.loop_write()

    def _stop_client(self) -> None:
        if self._loop is None:
            self._client.loop_stop()
            return
        sock = self._client.socket()
        if sock is not None:
            self._loop.unwatch(sock)
            with contextlib.suppress(OSError):
                sock.close()

    # ------------------------------------------------------------------ paho callbacks

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            log.error("MQTT %s: connection refused: %s", self.client_id, reason)
            if not self._answered.is_set():  # the first attempt: stop here, the constructor raises
                self._refused = reason
                if self._loop is None:
                    client.disconnect()
                self._answered.set()
            return
        sock = client.socket()
        if isinstance(sock, BufferedSocket):
            sock = sock.sock
        if isinstance(sock, socket.socket):  # small messages must not wait for Nagle's algorithm
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for pattern, _, qos in self._subs:  # the broker forgot them if the session was clean
            client.subscribe(pattern, qos)
        self._retry_s = RECONNECT_MIN_S
        self._connected.set()
        self._answered.set()

    def _on_disconnect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        self._connected.clear()
        if reason.is_failure:
            log.warning("MQTT %s: disconnected (%s), reconnecting", self.client_id, reason)
        if self._loop is not None and not self._closing and self._answered.is_set():
            self.clock.call_later(self._retry_s * self._loop.speed, self._reconnect)

    def _on_message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        topic, data = msg.topic, bytes(msg.payload)
        handlers = self._routes.get(topic)
        if handlers is None:
            handlers = self._routes[topic] = [h for p, h, _ in self._subs if topic_matches(p, topic)]
        if self._loop is not None and self._loop.in_loop():
            self._inbox.append((handlers, topic, data))
        else:
            for handler in handlers:
                self.clock.call_soon_threadsafe(_call(handler, topic, data))

    # ------------------------------------------------------------------ the Bus

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
        data = encode(payload)
        if self._loop is None:
            self._client.publish(topic, data, qos=qos, retain=retain)
        elif self._loop.in_loop():  # paho writes it at once, unless the socket is full
            if qos == 0 and self._client.publish_now(topic, data, retain):
                return
            self._client.publish(topic, data, qos=qos, retain=retain)
            if self._client.want_write():
                self._flush()
        else:  # only the loop's thread touches the socket
            self.clock.call_soon_threadsafe(lambda: self.publish(topic, data, qos, retain))

    def subscribe(self, pattern: str, handler: Handler, qos: int = 0) -> None:
        if self._loop is not None and not self._loop.in_loop():
            self.clock.call_soon_threadsafe(lambda: self.subscribe(pattern, handler, qos))
            return
        self._subs.append((pattern, handler, qos))
        self._routes.clear()
        if self._connected.is_set():
            self._client.subscribe(pattern, qos)
            if self._loop is not None:
                self._flush()

    def close(self) -> None:
        self._closing = True
        if self._loop is None:
            self._client.disconnect()
            self._client.loop_stop()
            return
        done = threading.Event()

        def say_goodbye() -> None:
            self._drain(CLOSE_DRAIN_S)
            self._client.disconnect()  # written at once; paho then closes the socket
            self._stop_client()
            done.set()

        if self._loop.in_loop():
            say_goodbye()
        else:  # the loop runs in another thread: let it, unless it has stopped
            self.clock.call_soon_threadsafe(say_goodbye)
            if not done.wait(2.0):
                say_goodbye()

    def crash(self) -> None:
        """Drop the socket without DISCONNECT so that the broker sends the last will (fault injection)."""
        self._closing = True
        if self._loop is None:
            self._client.loop_stop()
        sock = self._client.socket()
        if sock is not None:
            if self._loop is not None:
                self._loop.unwatch(sock)
            sock.close()


def _call(handler: Handler, topic: str, data: bytes):
    return lambda: handler(topic, data)
