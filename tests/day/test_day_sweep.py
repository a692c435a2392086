"""``--sweep robots=…``: parsing with clear errors, the runs planned, the smallest passing fleets."""

from __future__ import annotations

from typing import Any

import pytest

from wms.day.sweep import (
    Case,
    SweepError,
    answer,
    confirmation,
    parse_sweep,
    parse_sweeps,
    plan,
    smallest,
)


def test_sweep_syntax() -> None:
    assert parse_sweep("robots=40,60,80").kind == "both"
    s = parse_sweep("robots=picking: 80, 40 ,60,40")
    assert (s.kind, s.counts) == ("picking", (40, 60, 80))
    assert parse_sweep("robots=sorting:30").counts == (30,)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("robots", "expected robots=SIZES"),
        ("fleet=40", "only robots can be swept, not 'fleet'"),
        ("robots=packing:4,6", "fleet 'packing' is not picking or sorting"),
        ("robots=", "give fleet sizes separated by commas"),
        ("robots=picking:40,,60", "give fleet sizes separated by commas"),
        ("robots=40,sixty", "'sixty' is not a whole number of robots"),
        ("robots=2.5", "'2.5' is not a whole number"),
        ("robots=picking:0,10", "at least one robot, not 0"),
    ],
)
def test_a_malformed_sweep_says_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(SweepError, match=message) as exc:
        parse_sweep(spec)
    assert spec in str(exc.value)
    assert "e.g." in str(exc.value) or "at least one robot" in str(exc.value)  # shows the syntax


def test_sweeps_that_contradict_each_other() -> None:
    with pytest.raises(SweepError, match="one --sweep per fleet"):
        parse_sweeps(["robots=picking:4", "robots=picking:6"])
    with pytest.raises(SweepError, match="do not combine"):
        parse_sweeps(["robots=4,6", "robots=sorting:6"])


def test_each_fleet_is_swept_with_the_other_at_its_largest_size() -> None:
    cases = plan(parse_sweeps(["robots=picking:40,60", "robots=sorting:30,50"]), picking=12, sorting=12)
    assert [(c.picking, c.sorting, c.role) for c in cases] == [
        (40, 50, "picking"),
        (60, 50, "picking+sorting"),  # one run serves both sweeps
        (60, 30, "sorting"),
    ]
    one = plan(parse_sweeps(["robots=sorting:8,10"]), picking=12, sorting=99)
    assert [(c.picking, c.sorting) for c in one] == [(12, 8), (12, 10)]  # picking from the config
    both = plan(parse_sweeps(["robots=5,7"]), picking=12, sorting=12)
    assert [(c.picking, c.sorting, c.role) for c in both] == [(5, 5, "both"), (7, 7, "both")]


def _result(ok: bool) -> dict[str, Any]:
    return {"checks": {"within_24h": ok, "accounted_for": True, "no_internal_errors": True}}


def test_smallest_passing_fleets_and_their_confirmation() -> None:
    cases = plan(parse_sweeps(["robots=picking:40,60,80", "robots=sorting:30,50"]), 12, 12)
    passing = {(40, 50): False, (60, 50): True, (80, 50): True, (80, 30): True}
    results = {c.key: _result(passing[(c.picking, c.sorting)]) for c in cases}
    found = smallest(cases, results)
    assert found == {"picking": 60, "sorting": 30}
    assert confirmation(cases, found) == Case(60, 30, ("confirm",))  # never run together yet
    results[Case(80, 30, ("sorting",)).key] = {"error": "worker died"}
    assert smallest(cases, results)["sorting"] == 50  # an error never passes
    none = {c.key: _result(False) for c in cases}
    assert smallest(cases, none) == {"picking": None, "sorting": None}
    assert confirmation(cases, smallest(cases, none)) is None
    both = plan(parse_sweeps(["robots=5,7,9"]), 12, 12)
    res = {c.key: _result(c.picking >= 7) for c in both}
    assert smallest(both, res) == {"picking": 7, "sorting": 7}
    assert confirmation(both, smallest(both, res)) is None
    lost = _result(True)
    lost["checks"]["accounted_for"] = False  # a fleet that loses a parcel does not pass, whatever its SLA
    assert smallest(both, {**res, Case(7, 7, ("both",)).key: lost}) == {"picking": 9, "sorting": 9}


def test_the_answer_names_the_held_fleet_and_needs_the_confirmation_to_pass() -> None:
    one = plan(parse_sweeps(["robots=picking:4,6"]), picking=12, sorting=9)
    res = {c.key: _result(c.picking >= 6) for c in one}
    a = answer(one, smallest(one, res), res)
    assert a == {"picking": 6, "sorting": 9, "swept": ["picking"], "confirmed_together": True, "found": True}
    two = plan(parse_sweeps(["robots=picking:4,6", "robots=sorting:3,5"]), 12, 12)
    res = {c.key: _result(True) for c in two}
    found = smallest(two, res)
    confirm = confirmation(two, found)
    assert confirm is not None and found == {"picking": 4, "sorting": 3}
    res[confirm.key] = _result(False)  # each alone passed, together they do not
    a = answer([*two, confirm], found, res)
    assert a["confirmed_together"] is False and a["found"] is False
    none = {c.key: _result(False) for c in one}
    assert answer(one, smallest(one, none), none)["found"] is False
