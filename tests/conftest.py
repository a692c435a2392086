"""Shared fixtures: paths to ../shared, and the real services of the integration tests."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def _unavailable(reason: str) -> None:
    """Skip, saying why; where CI said the services answer (WMS_REQUIRE_SERVICES=1), fail instead."""
    if os.environ.get("WMS_REQUIRE_SERVICES") == "1":
        pytest.fail(f"integration service required but unavailable: {reason}")
    pytest.skip(reason)


def _answers(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=1.0
        ):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The public third-party files beside the repository; tests that need them skip without."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent (official schemas and samples live there)")
    return SHARED


@pytest.fixture(scope="session")
def vda_schemas(shared_dir: Path) -> Path:
    """Directory of the official VDA 5050 2.0.0 JSON schemas."""
    path = shared_dir / "vda5050" / "2.0.0"
    if not path.is_dir():
        pytest.skip(f"{path} is absent")
    return path


@pytest.fixture(scope="session")
def mqtt_url() -> str:
    """A real external broker (Mosquitto in CI) from WMS_TEST_MQTT_URL."""
    url = os.environ.get("WMS_TEST_MQTT_URL")
    if not url:
        _unavailable("WMS_TEST_MQTT_URL is not set (e.g. mqtt://127.0.0.1:1883)")
    if not _answers(url, 1883):
        _unavailable(f"no MQTT broker answers at {url}")
    return url  # type: ignore[return-value]


@pytest.fixture(scope="session")
def pg_url() -> str:
    """A real PostgreSQL database from WMS_TEST_DATABASE_URL."""
    url = os.environ.get("WMS_TEST_DATABASE_URL")
    if not url:
        _unavailable("WMS_TEST_DATABASE_URL is not set (e.g. postgresql://postgres@127.0.0.1:5432/test)")
    if not _answers(url, 5432):
        _unavailable(f"no PostgreSQL answers at {url}")
    return url  # type: ignore[return-value]
