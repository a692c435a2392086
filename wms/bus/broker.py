"""The embedded broker started when no ``--mqtt URL`` is given: Mosquitto if installed, else amqtt."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wms.security.credentials import Credentials

log = logging.getLogger(__name__)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PORT_TRIES = 5  # ports a broker that chose its own port tries before it gives up


class PortTaken(RuntimeError):
    """Another process listens on the port the broker was to bind."""


def _listening_inodes(port: int) -> set[str] | None:
    """Inodes of the TCP sockets listening on 127.0.0.1:``port`` (Linux ``/proc/net/tcp``; else None)."""
    try:
        lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return None
    local = f"0100007F:{port:04X}"
    rows = (line.split() for line in lines)
    return {row[9] for row in rows if len(row) > 9 and row[1] == local and row[3] == "0A"}  # 0A: LISTEN


def _socket_inodes(pid: int) -> set[str]:
    """Inodes of the sockets process ``pid`` holds open (Linux ``/proc/<pid>/fd``)."""
    inodes: set[str] = set()
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return inodes
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def _wait_listening(port: int, owner: int, alive: Callable[[], bool], timeout: float) -> bool:
    """Wait until process ``owner`` listens on 127.0.0.1:``port``; `PortTaken` if another one does.

    Connecting alone cannot tell whose listener answers: a port chosen free a moment ago may have been
    taken since (by another test worker's broker, say), and then this broker's clients would talk to
    that one. Where ``/proc`` is missing, a connection while ``owner`` is still alive has to do.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = alive()  # asked once, before the listeners: a process that dies between two asks (its
        # port taken) would otherwise look alive to the first and dead to the second, and not be blamed
        listeners = _listening_inodes(port)
        if listeners is None:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return alive()
            except OSError:
                pass
        elif listeners & _socket_inodes(owner):
            return True
        elif listeners and not running:
            raise PortTaken(f"127.0.0.1:{port} is taken by another process")
        if not running:
            return False
        time.sleep(0.02)
    return False


class EmbeddedBroker:
    """A broker owned by this process, bound to 127.0.0.1; use as a context manager.

    With ``auth`` (a `Credentials` or the directory ``wms security creds`` wrote) it refuses anonymous
    clients and wrong passwords and enforces every account's topic rights; without, anyone may do anything.
    """

    def __init__(
        self, port: int | None = None, prefer: str = "auto", auth: Credentials | str | Path | None = None
    ) -> None:
        self.port = port or free_port()
        self._may_move = port is None  # until clients know the port
        self.prefer = prefer
        self.auth = _credentials(auth)
        self.kind = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._amqtt = None

    @property
    def url(self) -> str:
        """The URL clients connect to."""
        return f"mqtt://127.0.0.1:{self.port}"

    def client_url(self, name: str) -> str:
        """The URL with the user name and password of client ``name`` (see `Credentials.url`)."""
        if self.auth is None:
            return self.url
        return self.auth.url(self.url, name)

    def start(self) -> EmbeddedBroker:
        """Start Mosquitto as a child process if the binary exists (and ``prefer`` allows), else amqtt.

        A port the broker chose itself and found taken at its first start is exchanged for another (up to
        `PORT_TRIES`); a port the caller gave, or one a restarted broker's clients know, is not.
        """
        for _ in range(PORT_TRIES - 1):
            try:
                return self._start_on_port()
            except PortTaken:
                if not self._may_move:
                    raise
                self.port = free_port()
        return self._start_on_port()

    def _start_on_port(self) -> EmbeddedBroker:
        binary = shutil.which("mosquitto")
        if binary and self.prefer in ("auto", "mosquitto"):
            self._start_mosquitto(binary)
        elif self.prefer == "mosquitto":
            raise RuntimeError("mosquitto binary not found on PATH")
        else:
            self._start_amqtt()
        proc = self._proc
        owner = proc.pid if proc is not None else os.getpid()
        try:
            listening = _wait_listening(self.port, owner, lambda: proc is None or proc.poll() is None, 10.0)
        except PortTaken as exc:
            self.stop()
            raise PortTaken(f"embedded {self.kind} broker: {exc}") from None
        if not listening:
            why = self._mosquitto_log()
            self.stop()
            raise RuntimeError(f"embedded {self.kind} broker did not listen on 127.0.0.1:{self.port}{why}")
        self._may_move = False
        return self

    def _start_mosquitto(self, binary: str) -> None:
        if self._tmp is None:  # kept across stop/start so that a restarted broker keeps its sessions
            self._tmp = tempfile.TemporaryDirectory(prefix="wms-mosquitto-")
        tmp = Path(self._tmp.name)
        conf = tmp / "mosquitto.conf"
        # nodelay: Nagle's algorithm was measured adding ~33 ms at p99 to small messages.
        # persistence: sessions, subscriptions and queued QoS 1 messages survive a broker restart.
        # user: started as root, Mosquitto would switch to the `mosquitto` user, which can read neither
        # this private directory (persistence, password and ACL files) nor write to it; as anyone else
        # the line is ignored.
        conf.write_text(
            f"listener {self.port} 127.0.0.1\n{self._mosquitto_auth(tmp)}set_tcp_nodelay true\n"
            f"persistence true\npersistence_location {self._tmp.name}/\nautosave_interval 1\n"
            f"user {pwd.getpwuid(os.geteuid()).pw_name}\n"
            f"log_dest file {tmp / 'mosquitto.log'}\nlog_type error\nlog_type warning\n"
            "max_queued_messages 100000\n"
        )
        # what it says before its log file is open (a config it cannot read, say) goes to stderr: kept in a
        # file, not a pipe that nobody reads and that would stall the broker once full
        with (tmp / "mosquitto.stderr").open("ab") as err:
            self._proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=err)
        self.kind = "mosquitto"

    def _mosquitto_auth(self, tmp: Path) -> str:
        """The authentication lines of the child's config (password and ACL files written into ``tmp``)."""
        if self.auth is None:
            return "allow_anonymous true\n"
        files = self.auth.write(tmp / "auth", secrets=False)
        return f"allow_anonymous false\npassword_file {files['passwd']}\nacl_file {files['acl']}\n"

    def _mosquitto_log(self) -> str:
        """The end of the child's stderr and error log, to say why it did not start (empty if none)."""
        if self.kind != "mosquitto" or self._tmp is None:
            return ""
        files = [Path(self._tmp.name) / name for name in ("mosquitto.stderr", "mosquitto.log")]
        text = "\n".join(f.read_text(errors="replace").strip() for f in files if f.exists()).strip()
        return f": {text[-500:]}" if text else ""

    def _start_amqtt(self) -> None:
        from amqtt.broker import Broker

        logging.getLogger("amqtt").setLevel(logging.CRITICAL)  # it logs every port probe as an error

        plugins: dict[str, object] = {
            "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
        }
        if self.auth is not None:
            from wms.security.amqtt_auth import amqtt_plugins

            if self._tmp is None:
                self._tmp = tempfile.TemporaryDirectory(prefix="wms-amqtt-")
            plugins = amqtt_plugins(self.auth, Path(self._tmp.name))
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}},
            "plugins": plugins,
        }
        ready = threading.Event()
        failed: list[BaseException] = []

        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            try:
                self._amqtt = Broker(config, loop=self._loop)
                self._loop.run_until_complete(self._amqtt.start())
            except Exception as exc:  # a bad plugin config: report it from start(), not a silent thread
                failed.append(exc)
                ready.set()
                return
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, name="amqtt-broker", daemon=True)
        self._thread.start()
        ready.wait(10.0)
        self.kind = "amqtt"
        if failed:
            self._loop = None
            if _address_in_use(failed[0]):
                raise PortTaken(f"embedded amqtt broker: 127.0.0.1:{self.port} is taken by another process")
            raise RuntimeError(f"embedded amqtt broker did not start: {failed[0]!r}") from failed[0]

    def stop(self) -> None:
        """Stop the broker and clean up."""
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
            self._proc = None
        if self._loop is not None and self._amqtt is not None:
            fut = asyncio.run_coroutine_threadsafe(self._amqtt.shutdown(), self._loop)
            try:
                fut.result(5)
            except Exception as exc:  # shutting down anyway
                log.debug("amqtt shutdown: %s", exc)
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._thread is not None:
                self._thread.join(5)
            self._loop = None

    def close(self) -> None:
        """Stop the broker and delete its files (its persisted sessions too)."""
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _address_in_use(exc: BaseException) -> bool:
    """Whether a broker failed to start because its address was taken (amqtt wraps the OSError)."""
    for e in (exc, exc.__cause__, exc.__context__):
        if isinstance(e, OSError) and e.errno == errno.EADDRINUSE:
            return True
    return "address already in use" in str(exc).lower()


def _credentials(auth: Credentials | str | Path | None) -> Credentials | None:
    """``auth`` as a `Credentials` (read from a directory or secrets file if given as a path)."""
    if auth is None or not isinstance(auth, str | Path):
        return auth
    from wms.security.credentials import Credentials

    return Credentials.load(auth)
