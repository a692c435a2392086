"""Hostile building blocks shared by every input format: odd values, text damage, wrong encodings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from hypothesis import strategies as st

T = TypeVar("T")

# Big or deep values are written as sentinels and expanded after serialising, so that drawing them is cheap.
SENTINELS: dict[str, str] = {
    "\x00BIGINT": "9" * 5000,
    "\x00NEGINT": "-" + "1" * 4400,
    "\x00BIGEXP": "1e999999999",
    "\x00NEAREMAX": "1e999990",  # just inside decimal's default Emax: converting it to int is slow
    "\x00TINYEXP": "1e-999999999",
    "\x00HUGEFLOAT": "1" + "0" * 400 + ".5",
    "\x00DEEPLIST": "[" * 3000 + "]" * 3000,
    "\x00DEEPOBJ": '{"a":' * 1500 + "1" + "}" * 1500,
}

ODD_STRINGS: list[str] = [
    "",
    " ",
    "\t\n",
    "0",
    "-0",
    "-1",
    "1.5",
    "NaN",
    "nan",
    "inf",
    "-Infinity",
    "1e309",
    "1e-400",
    "1_000",
    "0x10",
    "9" * 30,
    "9" * 5000,
    "²",
    "١٢٣",
    "１２",
    "null",
    "true",
    "None",
    "\u202eevil",
    "\u2028",
    "\ufeff",
    "🙂",
    "é" * 50,
    "张三",
    "a" * 10_000,
    '"',
    "'",
    "<",
    "&",
    "]]>",
    "\\",
    "%s%n",
    "../../etc/passwd",
    "2024-02-30",
    "99999999999999",
    "20241399250000",
]

ODD_NUMBERS: list[object] = [  # with the sentinels, which expand to numbers too big for anything
    0,
    -1,
    1,
    2**31,
    2**53 + 1,
    2**63,
    2**64,
    -(2**63) - 1,
    10**30,
    1e308,
    -0.0,
    5e-324,
    float("nan"),
    float("inf"),
    float("-inf"),
    *SENTINELS,
]
ODD_SCALARS: list[object] = [None, True, False, "\ud800", "\x00", *ODD_NUMBERS, *ODD_STRINGS]

ENCODINGS = ["utf-8"] * 12 + ["utf-8-sig", "utf-16", "utf-32-be", "latin-1", "gb18030"]


def pick(draw: st.DrawFn, items: Sequence[T]) -> T:
    """One of ``items`` (cheaper than a new ``sampled_from`` for every example)."""
    return items[draw(st.integers(0, len(items) - 1))]


def expand(text: str, quoted: bool = True) -> str:
    """Replace serialised sentinels (JSON or TOML strings, or bare) by the big values they stand for."""
    for key, value in SENTINELS.items():
        token = key.replace("\x00", "\\u0000")
        text = text.replace(f'"{token}"' if quoted else key, value)
    return text


def encode(text: str, encoding: str) -> bytes:
    """``text`` in ``encoding``; UTF-8 keeps lone surrogates (as invalid bytes), others replace them."""
    if encoding.startswith("utf-8") or encoding.startswith("utf-16") or encoding.startswith("utf-32"):
        return text.encode(encoding, "surrogatepass")
    return text.encode(encoding, "replace")


TEXT_VALUES = st.one_of(st.sampled_from(ODD_STRINGS), st.text(max_size=40))  # odd strings or any text
SCALARS = st.one_of(
    st.sampled_from(ODD_SCALARS), st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20)
)
JSON_VALUES = st.recursive(  # any JSON value, a few levels deep, with odd scalars
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)


@st.composite
def damaged(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` unchanged most of the time, else truncated, with bytes flipped, inserted or cut."""
    op = pick(draw, ["keep", "keep", "keep", "truncate", "flip", "insert", "cut", "bom", "nul"])
    if op == "keep" or not data:
        return data
    at = draw(st.integers(0, len(data) - 1))
    if op == "truncate":
        return data[:at]
    if op == "flip":
        return data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :]
    if op == "insert":
        return data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
    if op == "cut":
        return data[:at] + data[at + draw(st.integers(1, 64)) :]
    if op == "bom":
        return pick(draw, [b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff"]) + data
    return data[:at] + b"\x00" + data[at:]


RAW_BYTES = st.one_of(  # random bytes, or random text in a random encoding
    st.binary(max_size=512), st.builds(encode, st.text(max_size=200), st.sampled_from(ENCODINGS))
)
