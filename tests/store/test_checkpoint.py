"""WAL checkpoints of a SQLite database run on a thread of their own, beside the connection that commits."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import text

from wms.store.checkpoint import Checkpointer
from wms.store.db import SQLITE_CHECKPOINT_PAGES, connect


def _log(conn: sqlite3.Connection) -> tuple[int, int]:
    """Frames in the write-ahead log, and how many of them are copied into the database (a no-op pass)."""
    _, logged, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return logged, copied


def test_a_checkpoint_copies_every_committed_page_while_the_writer_stays_connected(tmp_path: Path) -> None:
    path = tmp_path / "wal.db"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")  # only the checkpointer copies
    writer.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)")
    for k in range(200):  # one commit each, as the controller's units of work
        writer.execute("INSERT INTO t VALUES (?, ?)", (k, "x" * 500))
    checkpointer = Checkpointer(str(path))
    own = sqlite3.connect(path)
    frames_before = (path.parent / "wal.db-wal").stat().st_size
    checkpointer.checkpoint(own)
    assert checkpointer.passes >= 1 and checkpointer.errors == 0
    logged, copied = _log(own)
    assert logged > 0 and copied == logged and frames_before > 0
    # the next commit finds the log copied and writes it from the start again
    writer.execute("INSERT INTO t VALUES (?, ?)", (200, "y"))
    assert _log(own)[0] < logged
    assert sqlite3.connect(path).execute("SELECT count(*) FROM t").fetchone() == (201,)


def test_a_failed_checkpoint_is_counted_and_the_next_one_tries_again(tmp_path: Path) -> None:
    checkpointer = Checkpointer(str(tmp_path / "gone.db"))
    conn = sqlite3.connect(tmp_path / "gone.db")
    conn.close()  # a closed connection fails every statement
    checkpointer.checkpoint(conn)
    checkpointer.checkpoint(conn)
    assert checkpointer.errors == 2 and checkpointer.passes == 0


def test_a_sqlite_file_gets_a_checkpointer_thread_that_stops_when_asked(tmp_path: Path) -> None:
    engine = connect(f"sqlite:///{tmp_path / 'shift.db'}")
    checkpointer = engine.checkpointer  # type: ignore[attr-defined]
    assert isinstance(checkpointer, Checkpointer) and checkpointer._thread.is_alive()
    with engine.connect() as conn:  # the automatic checkpoint stays, as the fallback
        assert conn.execute(text("PRAGMA wal_autocheckpoint")).scalar() == SQLITE_CHECKPOINT_PAGES
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    checkpointer.stop()
    checkpointer.join(timeout=10.0)
    assert not checkpointer._thread.is_alive()


def test_a_database_in_memory_has_no_checkpointer() -> None:
    assert getattr(connect("sqlite://"), "checkpointer", None) is None
