"""SQLite's WAL checkpoints in a thread of their own, so that a unit of work seldom waits for one.

In WAL mode a commit appends the pages it changed to the write-ahead log, and a checkpoint copies them
back into the database file (with ``synchronous=NORMAL`` it also syncs both files to disk). Left to
SQLite, the commit that takes the log past ``wal_autocheckpoint`` pages runs the checkpoint and waits
for it: tens of milliseconds every few seconds when the controller is busy. `Checkpointer` runs passive
checkpoints from a connection of its own on a thread (the sqlite3 module lets go of the GIL while SQLite
works, so on a second core they run beside the controller). A passive checkpoint never blocks a writer.
The log starts over only when a commit finds all of it copied, which a busy writer often does not: the
automatic checkpoint then still runs in the commit, with little left to copy, and stays the fallback
should this thread fall behind or fail.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

log = logging.getLogger(__name__)

PERIOD_S = 1.0  # between checkpoints: the log holds a second's commits (a few thousand pages at most)
PASSES = 3  # at most, one after the other, while commits keep adding to the log


class Checkpointer:
    """Passive checkpoints of the SQLite database at ``path`` every ``period_s`` on a daemon thread."""

    def __init__(self, path: str, period_s: float = PERIOD_S) -> None:
        self.path = path
        self.period_s = period_s
        self.passes = 0  # checkpoints run
        self.errors = 0  # checkpoints that failed (the automatic checkpoint then does the work)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"wal-checkpoint {path}", daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop after the checkpoint under way, if any (the thread closes its connection)."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the thread to end (after `stop`)."""
        self._thread.join(timeout)

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self.path, timeout=5.0)
        except sqlite3.Error as exc:
            self.errors += 1
            log.warning("no WAL checkpoints in the background for %s: %s", self.path, exc)
            return
        try:
            while not self._stop.wait(self.period_s):
                self.checkpoint(conn)
        finally:
            conn.close()

    def checkpoint(self, conn: sqlite3.Connection) -> None:
        """Copy the log into the database: again while commits added to it meanwhile, so that the log is
        found fully copied by the next commit, which then writes it from the start again."""
        for _ in range(PASSES):
            try:
                busy, logged, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            except sqlite3.Error as exc:
                self.errors += 1
                log.warning("WAL checkpoint of %s failed: %s", self.path, exc)
                return
            self.passes += 1
            if busy or copied >= logged:
                return
