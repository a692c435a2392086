"""MQTT URLs: credentials percent-encoded both ways, TLS options as query parameters, passwords redacted."""

from __future__ import annotations

import pytest

from wms.bus.mqtt import parse_mqtt_url, redact, tls_ca_file, with_credentials


def test_credentials_with_any_characters_survive_the_url() -> None:
    url = with_credentials("mqtt://127.0.0.1:1883", "user@site", "p@ss:w/rd%?#")
    assert parse_mqtt_url(url) == ("127.0.0.1", 1883, "user@site", "p@ss:w/rd%?#", False)


def test_with_credentials_keeps_scheme_host_port_and_query() -> None:
    url = with_credentials("mqtts://[::1]:8884?ca=/tmp/ca.crt", "u", "p")
    assert url == "mqtts://u:p@[::1]:8884?ca=/tmp/ca.crt"
    assert with_credentials("host", "u", "p") == "mqtt://u:p@host"


def test_ca_file_from_the_query() -> None:
    assert tls_ca_file("mqtts://h:8883?ca=/etc/wms/ca.crt") == "/etc/wms/ca.crt"
    assert tls_ca_file("mqtts://h:8883?ca=%2Fpath%20with%20space%2Fca.crt") == "/path with space/ca.crt"
    assert tls_ca_file("mqtts://h:8883") is None
    assert tls_ca_file("mqtt://h:1883") is None


@pytest.mark.parametrize(
    ("url", "problem"),
    [("mqtt://h:1883?ca=/ca.crt", "needs an mqtts"), ("mqtts://h?cafile=/ca.crt", "unknown parameter")],
)
def test_tls_options_that_would_be_ignored_are_errors(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        tls_ca_file(url)


def test_redact() -> None:
    assert redact("mqtt://u:secret@h:1883") == "mqtt://u:***@h:1883"
    assert redact("mqtts://u:secret@h:8883?ca=/c") == "mqtts://u:***@h:8883?ca=/c"
    assert redact("mqtt://h:1883") == "mqtt://h:1883"
