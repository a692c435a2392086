"""Commands awaiting their answer, re-sent when the answer is overdue (a message lost in transit)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel


@dataclass
class Pending:
    """One command and when its answer is due."""

    topic: str
    message: BaseModel
    timeout_s: float
    due_at: float
    resends: int = 0


class PendingCommands:
    """Commands to devices that answer idempotently (the same command twice does the work once)."""

    def __init__(self) -> None:
        self._items: dict[str, Pending] = {}
        self.resent = 0

    def expect(self, key: str, topic: str, message: BaseModel, timeout_s: float, now: float) -> None:
        """Remember a command whose answer should arrive within ``timeout_s``."""
        self._items[key] = Pending(topic, message, timeout_s, now + timeout_s)

    def done(self, key: str) -> None:
        """The answer arrived."""
        self._items.pop(key, None)

    def overdue(self, now: float) -> list[Pending]:
        """Commands to send again now; each is given another full timeout."""
        late = [p for p in self._items.values() if p.due_at <= now]
        for p in late:
            p.due_at = now + p.timeout_s
            p.resends += 1
        self.resent += len(late)
        return late

    def __len__(self) -> int:
        return len(self._items)
