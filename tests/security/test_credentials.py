"""Credentials: generated for a config, written owner-only, read back into client URLs; the commands."""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from wms.bus.mqtt import parse_mqtt_url, tls_ca_file
from wms.cli import app
from wms.config import load_warehouse
from wms.security import Credentials, Role
from wms.security.passwd import verify_password


def test_for_config_covers_the_fleet_and_services() -> None:
    creds = Credentials.for_config(load_warehouse(), ["extra-01"])
    robots = [u for u, a in creds.accounts.items() if a.role is Role.ROBOT]
    assert robots[:2] == ["pick-01", "pick-02"] and robots[-2:] == ["sort-12", "extra-01"]
    assert len(robots) == 12 + 12 + 1
    assert creds.user_for("controller") == "zz1-controller"
    assert creds.user_for("order-feed") == "zz1-order-feed"
    assert creds.user_for("zz1-xray") == "zz1-xray"
    assert creds.user_for("sort-03") == "sort-03"
    with pytest.raises(KeyError, match="no MQTT account"):
        creds.user_for("robot")
    with pytest.raises(KeyError, match="no MQTT account"):
        creds.user_for("pick-99")


def test_write_and_load_roundtrip(tmp_path: Path) -> None:
    creds = Credentials.for_config(load_warehouse())
    files = creds.write(tmp_path / "creds")
    for path in files.values():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "creds").stat().st_mode) == 0o700
    back = Credentials.load(tmp_path / "creds")
    assert back == creds
    assert Credentials.load(files["secrets.toml"]) == creds
    hashes = dict(ln.split(":", 1) for ln in files["passwd"].read_text().splitlines())
    assert set(hashes) == set(creds.accounts)
    assert all(verify_password(creds.passwords[u], h) for u, h in hashes.items())
    assert files["acl"].read_text() == creds.acl_text()
    assert (
        "password" not in files["acl"].read_text()
        and creds.passwords["pick-01"] not in files["passwd"].read_text()
    )
    tomllib.loads(files["secrets.toml"].read_text())


def test_load_refuses_what_is_not_a_credentials_file(tmp_path: Path) -> None:
    (tmp_path / "secrets.toml").write_text('partition = "zz1"\n')
    with pytest.raises(ValueError, match="not a credentials file"):
        Credentials.load(tmp_path)
    with pytest.raises(ValueError, match="not a credentials file"):
        Credentials.load(tmp_path / "missing")


def test_url_carries_user_and_password_and_keeps_tls_options() -> None:
    creds = Credentials.for_config(load_warehouse())
    pw = creds.passwords["zz1-controller"]
    url = creds.url("mqtts://broker.example:8883?ca=/etc/wms/ca.crt", "controller")
    assert url == f"mqtts://zz1-controller:{pw}@broker.example:8883?ca=/etc/wms/ca.crt"
    assert parse_mqtt_url(url) == ("broker.example", 8883, "zz1-controller", pw, True)
    assert tls_ca_file(url) == "/etc/wms/ca.crt"
    replaced = creds.url("mqtt://old:secret@127.0.0.1:1884", "pick-01")
    assert parse_mqtt_url(replaced)[2:4] == ("pick-01", creds.passwords["pick-01"])


def test_regenerating_keeps_passwords_unless_rotated() -> None:
    cfg = load_warehouse()
    first = Credentials.for_config(cfg)
    grown = Credentials.for_config(cfg, ["extra-01"], keep=first)
    assert all(grown.passwords[u] == first.passwords[u] for u in first.accounts)
    assert grown.passwords["extra-01"] not in first.passwords.values()
    rotated = Credentials.for_config(cfg)
    assert all(rotated.passwords[u] != first.passwords[u] for u in first.accounts)


def test_creds_and_url_commands(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "creds"
    first = runner.invoke(app, ["security", "creds", "--out", str(out)])
    assert first.exit_code == 0, first.output
    before = Credentials.load(out)
    again = runner.invoke(app, ["security", "creds", "--out", str(out), "--serial", "extra-01"])
    assert again.exit_code == 0, again.output
    after = Credentials.load(out)
    assert after.passwords["pick-01"] == before.passwords["pick-01"] and "extra-01" in after.accounts
    rotated = runner.invoke(app, ["security", "creds", "--out", str(out), "--rotate"])
    assert (
        rotated.exit_code == 0 and Credentials.load(out).passwords["pick-01"] != before.passwords["pick-01"]
    )
    url = runner.invoke(app, ["security", "url", "console", "--creds", str(out), "--mqtt", "mqtt://h:1883"])
    assert url.exit_code == 0
    assert url.stdout.strip() == Credentials.load(out).url("mqtt://h:1883", "console")
    unknown = runner.invoke(app, ["security", "url", "nobody", "--creds", str(out)])
    assert unknown.exit_code == 2 and "no MQTT account" in unknown.output
    bad = runner.invoke(app, ["security", "creds", "--out", str(out), "--serial", "a/b"])
    assert bad.exit_code == 2 and "robot serial" in bad.output
