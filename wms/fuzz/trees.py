"""Structure-aware mutation of JSON and TOML: fields deleted, retyped, renamed, repeated, nested."""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import re
from typing import Any

from hypothesis import strategies as st

from wms.fuzz.values import (
    ENCODINGS,
    JSON_VALUES,
    ODD_NUMBERS,
    ODD_SCALARS,
    TEXT_VALUES,
    damaged,
    encode,
    expand,
    pick,
)

Doc = Any
MAX_REPEAT = 300  # a repeated list is cut to this length
MAX_NODES = 5_000  # no further edits of a document with more values than this
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
TOML_ODD: list[object] = [
    dt.datetime(2024, 3, 10, 12, 0, tzinfo=dt.UTC),
    dt.datetime(1, 1, 1),
    dt.date(9999, 12, 31),
    dt.time(23, 59, 59, 999999),
    float("nan"),
    float("inf"),
    2**63 - 1,
    -(2**63),
]

TOML_VALUES = st.one_of(JSON_VALUES, st.sampled_from(TOML_ODD))


def _slots(doc: Doc) -> list[tuple[Doc, Any]]:
    """Every (container, key or index) of a document, outermost first."""
    out: list[tuple[Doc, Any]] = []
    stack = [doc]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, value in items:
            out.append((node, key))
            stack.append(value)
    return out


def _retype(value: object) -> object:
    """The same content with another JSON type."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value) if math.isfinite(value) else [value]
    if isinstance(value, str):
        try:
            return float(value) if value.strip() else 0
        except ValueError:
            return {"value": value}
    if isinstance(value, list):
        return {str(i): v for i, v in enumerate(value)}
    if isinstance(value, dict):
        return list(value.values())
    return "null"


@st.composite
def _mutate(draw: st.DrawFn, doc: Doc, values: st.SearchStrategy[object]) -> Doc:
    """One random edit of ``doc`` (in place where possible); returns the document."""
    slots = _slots(doc)
    if not slots:
        return draw(values)
    parent, key = pick(draw, slots)
    op = pick(draw, ["delete", "replace", "odd", "odd", "retype", "add", "rename", "repeat", "nest"])
    if op == "delete":
        del parent[key]
    elif op == "replace":
        parent[key] = draw(values)
    elif op == "odd":
        parent[key] = pick(draw, ODD_NUMBERS if draw(st.booleans()) else ODD_SCALARS)
    elif op == "retype":
        parent[key] = _retype(parent[key])
    elif op == "add" and isinstance(parent, dict):
        parent[draw(TEXT_VALUES)] = draw(values)
    elif op == "add":
        parent.append(copy.deepcopy(parent[key]))
    elif op == "rename" and isinstance(parent, dict):
        new = pick(draw, [str(key).upper(), f" {key}", f"{key}_", "", str(key)[:-1]])
        parent[new] = parent.pop(key)
    elif op == "repeat" and isinstance(parent[key], list) and parent[key]:
        parent[key] = (parent[key] * pick(draw, [2, 10, 200]))[:MAX_REPEAT]
    else:
        parent[key] = {"x": [parent[key]]} if draw(st.booleans()) else [[[parent[key]]]]
    return doc


@st.composite
def mutated(draw: st.DrawFn, seeds: list[Doc], values: st.SearchStrategy[object] | None = None) -> Doc:
    """A deep copy of a seed with 0–4 random edits (0 keeps a valid sample in the mix)."""
    doc = copy.deepcopy(pick(draw, seeds))
    for _ in range(draw(st.integers(0, 4))):
        if len(_slots(doc)) > MAX_NODES:  # repeated (shared) lists multiply: stop before they explode
            break
        doc = draw(_mutate(doc, JSON_VALUES if values is None else values))
    return doc


def _dup_first_key(doc: Doc, text: str) -> str:
    """The JSON text of an object with its first member written twice (duplicate keys)."""
    if not isinstance(doc, dict) or not doc or not text.startswith("{"):
        return text
    key, value = next(iter(doc.items()))
    member = json.dumps({key: value}, allow_nan=True)[1:-1]
    return "{" + member + ", " + text[1:]


@st.composite
def json_payloads(draw: st.DrawFn, seeds: list[Doc]) -> bytes:
    """A mutated seed as JSON text (NaN, big numbers, deep nesting expanded), encoded, maybe damaged."""
    doc = draw(mutated(seeds))
    text = json.dumps(doc, ensure_ascii=draw(st.booleans()), allow_nan=True)
    if draw(st.integers(0, 9)) == 0:
        text = _dup_first_key(doc, text)
    text = expand(text)
    return draw(damaged(encode(text, pick(draw, ENCODINGS))))


def _toml_key(key: object) -> str:
    """A key, bare when it can be, else quoted."""
    text = str(key)
    return text if _BARE_KEY.match(text) else json.dumps(text, ensure_ascii=False)


def _toml_value(value: object) -> str:
    """A value as inline TOML."""
    if value is None:
        return "{}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return (
            "nan"
            if math.isnan(value)
            else ("inf" if value > 0 else "-inf")
            if math.isinf(value)
            else repr(value)
        )
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    return json.dumps(str(value), ensure_ascii=False)


def to_toml(doc: Doc) -> str:
    """A document as TOML: ``key = value`` lines with inline tables (``None`` becomes an empty table)."""
    if not isinstance(doc, dict):
        return f"value = {_toml_value(doc)}\n"
    return "".join(f"{_toml_key(k)} = {_toml_value(v)}\n" for k, v in doc.items())


@st.composite
def _edit_lines(draw: st.DrawFn, text: str) -> str:
    """A line deleted, repeated (a duplicate key) or garbled."""
    lines = text.splitlines()
    if not lines:
        return text
    at = draw(st.integers(0, len(lines) - 1))
    op = pick(draw, ["delete", "repeat", "table", "garble"])
    if op == "delete":
        del lines[at]
    elif op == "repeat":
        lines.insert(at, lines[at])
    elif op == "table":
        lines.insert(at, pick(draw, ["[storage]", "[[carriers]]", "[a.b.c]", "[", "[[x]"]))
    else:
        lines[at] = lines[at][: draw(st.integers(0, len(lines[at])))] + draw(st.text(max_size=5))
    return "\n".join(lines) + "\n"


@st.composite
def toml_payloads(draw: st.DrawFn, seeds: list[Doc], texts: list[str]) -> bytes:
    """A mutated TOML document, or a real file's text with lines edited; encoded, maybe damaged."""
    if texts and draw(st.integers(0, 3)) == 0:
        text = pick(draw, texts)
    else:
        text = to_toml(draw(mutated(seeds, TOML_VALUES)))
    for _ in range(draw(st.integers(0, 2))):
        text = draw(_edit_lines(text))
    text = expand(text)
    return draw(damaged(encode(text, pick(draw, ENCODINGS))))
