"""Fixtures of the security tests: the reference fleet's credentials, brokers enforcing them, clients."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.security.mqtt_client import Client
from wms.bus.broker import EmbeddedBroker
from wms.bus.mqtt import with_credentials
from wms.config import load_warehouse
from wms.security import Credentials


@pytest.fixture(scope="session")
def creds() -> Credentials:
    """Credentials of the reference warehouse (partition zz1, manufacturer wmssim, pick-01… sort-12)."""
    return Credentials.for_config(load_warehouse())


def _broker(kind: str, creds: Credentials) -> Iterator[EmbeddedBroker]:
    if kind == "mosquitto" and not shutil.which("mosquitto"):
        pytest.skip("mosquitto binary not installed")
    with EmbeddedBroker(prefer=kind, auth=creds) as broker:
        assert broker.kind == kind
        yield broker


@pytest.fixture(scope="module", params=["mosquitto", "amqtt"])
def broker(request: pytest.FixtureRequest, creds: Credentials) -> Iterator[EmbeddedBroker]:
    """An embedded broker enforcing ``creds``: Mosquitto (the product's choice) and the amqtt fallback."""
    yield from _broker(request.param, creds)


@pytest.fixture
def connect(broker: EmbeddedBroker) -> Iterator[Callable[..., Client]]:
    """Open a `Client` to ``broker`` as a named account (``None``: anonymous) and close it after the test."""
    opened: list[Client] = []

    def open_(name: str | None, *, password: str | None = None, **kw: Any) -> Client:
        """``name``: robot serial, role or user name (``None``: anonymous); ``password``: a wrong one."""
        url = broker.url
        if name is not None:
            assert broker.auth is not None
            try:
                user = broker.auth.user_for(name)
            except KeyError:  # an unknown user name
                user = name
            right = broker.auth.passwords.get(user, "")
            url = with_credentials(broker.url, user, right if password is None else password)
        client = Client(url, **kw)
        opened.append(client)
        return client

    yield open_
    for c in opened:
        c.close()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root (the shipped config lives in config/mosquitto/)."""
    return Path(__file__).resolve().parents[2]
