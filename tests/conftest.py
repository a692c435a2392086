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
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return _own_database(url, worker) if worker else url  # type: ignore[arg-type]


def _own_database(url: str, worker: str) -> str:
    """A database of its own for one xdist worker (``test_gw0`` beside ``test``), created if missing.

    Tests that start from a fresh database drop every table first; two workers sharing one database
    would drop each other's tables mid-test.
    """
    import psycopg

    parsed = urlparse(url)
    name = f"{parsed.path.lstrip('/') or 'postgres'}_{worker}"
    with psycopg.connect(url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    return parsed._replace(path=f"/{name}").geturl()
