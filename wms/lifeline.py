"""A worker process leaves when the process that started it is gone, however that one ended."""

from __future__ import annotations

import os
import threading
import time


def exit_with_parent(every_s: float = 1.0) -> threading.Thread:
    """Start a daemon thread that ends this process once its parent has gone (a SIGTERM or SIGKILL of
    the parent runs none of its clean-up, so nobody else would stop this one)."""
    thread = threading.Thread(target=_watch, args=(os.getppid(), every_s), name="parent-watch", daemon=True)
    thread.start()
    return thread


def _watch(parent: int, every_s: float) -> None:
    while os.getppid() == parent:
        time.sleep(every_s)
    os._exit(0)
