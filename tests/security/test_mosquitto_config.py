"""The shipped config/mosquitto/mosquitto.conf with files from ``wms security creds``, and its TLS listener.

The config is run as shipped except for what a test cannot use: its paths move into a temporary
directory, its listeners onto free ports on 127.0.0.1 (the system broker on 1883 is left alone), and,
when the tests run as root, Mosquitto stays root instead of switching to the `mosquitto` user.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.security.mqtt_client import NOT_AUTHORIZED, Client
from wms import topics
from wms.bus.broker import free_port
from wms.bus.mqtt import MqttBus, with_credentials
from wms.cli import app
from wms.clock import WallClock
from wms.security import Credentials

pytestmark = pytest.mark.skipif(not shutil.which("mosquitto"), reason="mosquitto binary not installed")

TLS_LINES = ("#listener 8883", "#cafile ", "#certfile ", "#keyfile ", "#tls_version ")


def _listening(port: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.02)
    return False


@contextmanager
def shipped_broker(conf_file: Path, tmp: Path, tls: bool = False) -> Iterator[tuple[int, int]]:
    """Mosquitto on the shipped config, relocated into ``tmp``; yields the plain and the TLS port."""
    port, tls_port = free_port(), free_port()
    text = conf_file.read_text()
    assert "/etc/mosquitto/wms/" in text and "\nlistener 1883\n" in text
    text = text.replace("/etc/mosquitto/wms/", f"{tmp}/").replace("/var/lib/mosquitto/", f"{tmp}/data/")
    text = text.replace("\nlistener 1883\n", f"\nlistener {port} 127.0.0.1\n")
    if tls:
        lines = text.splitlines()
        lines = [ln[1:] if ln.startswith(TLS_LINES) else ln for ln in lines]
        text = "\n".join(lines).replace("\nlistener 8883\n", f"\nlistener {tls_port} 127.0.0.1\n") + "\n"
    if os.geteuid() == 0:
        text += "user root\n"
    (tmp / "data").mkdir(exist_ok=True)
    conf = tmp / "mosquitto.conf"
    conf.write_text(text)
    with (tmp / "mosquitto.log").open("wb") as log:
        proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=log, stderr=log)
    try:
        ports = (port, tls_port) if tls else (port,)
        if not all(_listening(p) for p in ports):
            pytest.fail(
                f"mosquitto did not start on the shipped config: {(tmp / 'mosquitto.log').read_text()}"
            )
        yield port, tls_port
    finally:
        proc.terminate()
        proc.wait(5)


@pytest.fixture
def generated(tmp_path: Path, repo_root: Path) -> Credentials:
    """Credentials written by the real command, ``wms security creds --out DIR``."""
    config = repo_root / "config" / "warehouse.toml"
    result = CliRunner().invoke(app, ["security", "creds", "--out", str(tmp_path), "--config", str(config)])
    assert result.exit_code == 0, result.output
    return Credentials.load(tmp_path)


def test_shipped_config_requires_login_and_acl(repo_root: Path) -> None:
    text = (repo_root / "config" / "mosquitto" / "mosquitto.conf").read_text()
    settings = [ln.split(maxsplit=1) for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    assert ["allow_anonymous", "false"] in settings
    assert ["password_file", "/etc/mosquitto/wms/passwd"] in settings
    assert ["acl_file", "/etc/mosquitto/wms/acl"] in settings


def test_mosquitto_accepts_the_generated_files(
    tmp_path: Path, repo_root: Path, generated: Credentials
) -> None:
    """Every account of the generated passwd logs in; strangers do not; the generated acl is in force."""
    with shipped_broker(repo_root / "config" / "mosquitto" / "mosquitto.conf", tmp_path) as (port, _):
        base = f"mqtt://127.0.0.1:{port}"
        clients = {user: Client(generated.url(base, user)) for user in generated.accounts}
        try:
            assert all(not c.connect().is_failure for c in clients.values())
            assert Client(base).connect() == NOT_AUTHORIZED
            assert Client(with_credentials(base, "zz1-controller", "guess")).connect() == NOT_AUTHORIZED
            controller, pick1 = clients["zz1-controller"], clients["pick-01"]
            assert controller.subscribe(topics.vda_all("state", "wmssim")) == [1]
            pick1.publish(topics.vda("wmssim", "pick-02", "state"), b"forged")
            pick1.publish(topics.vda("wmssim", "pick-01", "state"), b"own")
            assert controller.wait(lambda: controller.got(topics.vda("wmssim", "pick-01", "state"), b"own"))
            assert not controller.got(topics.vda("wmssim", "pick-02", "state"), b"forged")
        finally:
            for c in clients.values():
                c.close()


@pytest.fixture
def certs(tmp_path: Path, repo_root: Path) -> Path:
    """CA and server certificate for localhost/127.0.0.1, made by the shipped gen-certs.sh."""
    if not shutil.which("openssl"):
        pytest.skip("openssl binary not installed (gen-certs.sh needs it)")
    script = repo_root / "config" / "mosquitto" / "gen-certs.sh"
    subprocess.run(
        ["sh", str(script), str(tmp_path / "tls"), "localhost", "127.0.0.1"], check=True, capture_output=True
    )
    return tmp_path / "tls"


def test_tls_listener_with_documented_certificates(
    tmp_path: Path, repo_root: Path, generated: Credentials, certs: Path
) -> None:
    """mqtts:// with ``?ca=`` connects and carries messages; without our CA the server is not trusted."""
    conf = repo_root / "config" / "mosquitto" / "mosquitto.conf"
    with shipped_broker(conf, tmp_path, tls=True) as (_, tls_port):
        base = f"mqtts://127.0.0.1:{tls_port}?ca={certs / 'ca.crt'}"
        clock, got = WallClock(), []
        controller = MqttBus(generated.url(base, "controller"), "tls-controller", clock)
        controller.subscribe(topics.control("zz1"), lambda t, d: got.append(d), qos=1)
        cli = MqttBus(generated.url(base, "cli"), "tls-cli", clock)
        cli.publish(topics.control("zz1"), b"estop over TLS", qos=1)
        clock.run(until=clock.now() + 5.0, stop=lambda: bool(got))
        assert got == [b"estop over TLS"]
        cli.close()
        controller.close()
        untrusted = Client(generated.url(f"mqtts://127.0.0.1:{tls_port}", "controller"))  # system CAs only
        with pytest.raises(ssl.SSLCertVerificationError):
            untrusted.connect()
