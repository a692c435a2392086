"""Size limits checked before an inbound payload or input file is parsed, so that size alone cannot hurt."""

from __future__ import annotations

import os
from pathlib import Path

MAX_PAYLOAD_BYTES = 1 << 20  # one bus message (VDA 5050, order bundle, customs receipt …): 1 MiB
MAX_FILE_BYTES = 64 << 20  # one input file (CEB XML, CSV, TOML, docs.jsonl): 64 MiB


class PayloadTooLarge(ValueError):
    """An inbound payload or file is larger than its limit; it was refused without being parsed."""


def size_of(data: bytes | bytearray | memoryview | str) -> int:
    """Size in bytes of a payload (a str counts as its UTF-8 encoding)."""
    if isinstance(data, str):
        return len(data.encode("utf-8", "surrogatepass"))
    return len(data)


def check_size(
    data: object,
    what: str,
    limit: int = MAX_PAYLOAD_BYTES,
    error: type[Exception] = PayloadTooLarge,
) -> None:
    """Raise ``error`` naming ``what`` if ``data`` (bytes or str) is over ``limit`` bytes; else nothing."""
    if isinstance(data, str):
        if len(data) <= limit // 4:  # at most 4 UTF-8 bytes a character: surely within the limit
            return
        size = len(data) if len(data) > limit else size_of(data)
    elif isinstance(data, bytes | bytearray | memoryview):
        size = len(data)
    else:
        return  # not a payload: the parser's own type check names it
    if size > limit:
        raise error(f"{what}: {size} bytes is over the limit of {limit} bytes; refused unparsed")


def check_file(
    path: str | os.PathLike[str],
    what: str | None = None,
    limit: int = MAX_FILE_BYTES,
    error: type[Exception] = PayloadTooLarge,
) -> None:
    """Raise ``error`` if the file at ``path`` is over ``limit`` bytes (``OSError`` if it has no size)."""
    size = Path(path).stat().st_size
    if size > limit:
        raise error(f"{what or path}: {size} bytes is over the limit of {limit} bytes; refused unread")
