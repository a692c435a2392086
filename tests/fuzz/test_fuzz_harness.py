"""The harness itself can fail: a crashing or slow parser is reported, and ``wms fuzz`` then exits 1."""

from __future__ import annotations

import json
import time
from pathlib import Path

from hypothesis import strategies as st
from typer.testing import CliRunner

from wms.cli import app
from wms.fuzz import runner, targets
from wms.fuzz.runner import fuzz_target
from wms.fuzz.targets import Target


def _fragile(data: bytes, tmp: Path) -> object:
    """A parser with a bug: a typed error for short input, a KeyError for input holding a brace."""
    if len(data) < 2:
        raise ValueError("too short")
    if b"{" in data:
        return {}["missing"]
    return data


FRAGILE = Target(
    "test.fragile",
    _fragile,
    (ValueError,),
    lambda: st.binary(max_size=40) | st.just(b'{"a": 1}'),
    lambda: [b"ok"],
    "a deliberately crashing parser",
)


def test_a_crashing_parser_is_reported_with_its_smallest_input() -> None:
    result = fuzz_target(FRAGILE, 300, seed=1)
    assert result.generated == 300
    assert result.crashes > 0 and result.typed > 0 and result.accepted > 0
    assert result.typed + result.accepted + result.crashes == result.generated
    (crash,) = result.crash_kinds.values()
    assert crash.kind.startswith("KeyError at ")
    assert crash.count == result.crashes
    assert b"{" in crash.example and len(crash.example) <= 8
    assert result.to_json()["crash_kinds"][0]["kind"] == crash.kind


def test_a_slow_parser_counts_as_a_crash(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(runner, "SLOW_S", 0.001)

    def slow(data: bytes, tmp: Path) -> object:
        time.sleep(0.002)
        return data

    result = fuzz_target(Target("test.slow", slow, (ValueError,), st.binary, lambda: []), 5)
    assert result.crashes == 5 and "slow" in next(iter(result.crash_kinds))


def test_the_command_exits_1_on_a_crash_and_0_without(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "fuzz.json"
    ok = CliRunner().invoke(app, ["fuzz", "-n", "40", "--only", "vda5050.connection", "--json", str(out)])
    assert ok.exit_code == 0, ok.output
    report = json.loads(out.read_text())
    (figures,) = report["parsers"]
    assert (report["crashes"], figures["name"], figures["generated"]) == (0, "vda5050.connection", 40)
    assert figures["typed"] + figures["accepted"] == 40

    monkeypatch.setattr(targets, "TARGETS", {FRAGILE.name: FRAGILE})
    bad = CliRunner().invoke(app, ["fuzz", "-n", "100", "--json", str(out)])
    assert bad.exit_code == 1, bad.output
    assert "KeyError" in bad.output and json.loads(out.read_text())["crashes"] > 0


def test_an_unknown_parser_name_is_refused() -> None:
    result = CliRunner().invoke(app, ["fuzz", "--only", "no-such-parser"])
    assert result.exit_code == 2
