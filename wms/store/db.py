"""Database engine: SQLite file in WAL mode by default, PostgreSQL when the URL says so."""

from __future__ import annotations

import os
import weakref

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel, create_engine

from wms.store import models  # noqa: F401  (registers the tables)
from wms.store.checkpoint import Checkpointer
from wms.store.migrate import upgrade

DEFAULT_URL = "sqlite:///wms.db"
SQLITE_CACHE_KIB = 128 * 1024  # page cache per connection
SQLITE_CHECKPOINT_PAGES = 10_000  # WAL pages (4 KiB each) before a commit checkpoints


def database_url(url: str | None = None) -> str:
    """The URL to use: the argument, else ``WMS_DATABASE_URL``, else ``sqlite:///wms.db``."""
    url = url or os.environ.get("WMS_DATABASE_URL") or DEFAULT_URL
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def connect(url: str | None = None, *, fresh: bool = False) -> Engine:
    """Open the database, create missing tables and upgrade older ones; ``fresh`` drops the tables first."""
    url = database_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            # The controller commits every unit of work, each changing a few pages of large tables: a
            # page cache of 128 MiB (default 2 MiB) keeps their index pages, and a checkpoint every 10,000
            # WAL pages (default 1,000) copies a page changed over and over to the database file a tenth
            # as often.
            cur.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            cur.execute(f"PRAGMA wal_autocheckpoint={SQLITE_CHECKPOINT_PAGES}")
            cur.close()

        path = engine.url.database
        if path and path != ":memory:" and not path.startswith("file:"):
            # checkpoints on a thread of their own (wms.store.checkpoint); the automatic one is the fallback
            checkpointer = Checkpointer(path)
            engine.checkpointer = checkpointer  # type: ignore[attr-defined]
            weakref.finalize(engine, checkpointer.stop)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    if fresh:
        SQLModel.metadata.drop_all(engine)
    SQLModel.metadata.create_all(engine)
    upgrade(engine)  # columns and indexes later code added to tables an earlier run created
    checkpointer = getattr(engine, "checkpointer", None)
    if checkpointer is not None:
        checkpointer.start()  # on a database in WAL mode, which the first connection set
    return engine
