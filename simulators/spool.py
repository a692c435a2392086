"""Orders an order source holds while the warehouse's intake is closed, spooled to a temporary file.

An e-commerce platform keeps the orders it cannot hand over in its own store, not in the warehouse's
memory; the simulated feed does the same, so a long closed intake costs a small index entry per order
here, not its documents.
"""

from __future__ import annotations

import tempfile
from collections import deque
from typing import IO


class HeldOrders:
    """A FIFO of ``(order_no, json payload, has a defect)`` whose payloads live in a temporary file."""

    def __init__(self) -> None:
        self._file: IO[bytes] | None = None  # opened on the first hold
        self._index: deque[tuple[str, int, int, bool]] = deque()  # (order_no, offset, length, bad)
        self._end = 0

    def append(self, order_no: str, payload: str, bad: bool) -> None:
        """Hold one more order behind the others."""
        data = payload.encode()
        if self._file is None:  # lives as long as the feed; the OS removes it when closed or at exit
            self._file = tempfile.TemporaryFile()  # noqa: SIM115
        self._file.seek(self._end)
        self._file.write(data)
        self._index.append((order_no, self._end, len(data), bad))
        self._end += len(data)

    def popleft(self) -> tuple[str, str, bool]:
        """The oldest held order (IndexError when none)."""
        order_no, offset, length, bad = self._index.popleft()
        assert self._file is not None  # something was held
        self._file.seek(offset)
        payload = self._file.read(length).decode()
        if not self._index:  # empty again: start the file over
            self._file.seek(0)
            self._file.truncate()
            self._end = 0
        return order_no, payload, bad

    def __len__(self) -> int:
        return len(self._index)

    def __bool__(self) -> bool:
        return bool(self._index)

    def close(self) -> None:
        """Drop the spool file."""
        if self._file is not None:
            self._file.close()
