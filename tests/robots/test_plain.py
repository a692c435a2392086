"""A plain-dict twin accepts and rejects exactly what its model does, and reads the same values."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings

from wms.fuzz import seeds
from wms.fuzz.trees import mutated
from wms.robots.plain import twin
from wms.robots.vda5050 import InstantAction, VdaError, parse_state, read_state

BARE = {
    k: v for k, v in seeds.vda_state().items() if k not in ("zoneSetId", "velocity", "loads", "information")
}


def _outcome(parse: object, data: bytes) -> tuple[str, object]:
    try:
        value = parse(data)  # type: ignore[operator]
    except VdaError as exc:
        return "error", str(exc)
    return "ok", value


def test_non_finite_numbers_are_refused_by_both() -> None:
    doc = {**seeds.vda_state(), "batteryState": {"batteryCharge": float("nan"), "charging": False}}
    data = json.dumps(doc).encode()
    for parse in (parse_state, read_state):
        with pytest.raises(VdaError, match="batteryState.batteryCharge: input should be a finite number"):
            parse(data)


def _same(data: bytes) -> None:
    model, plain = _outcome(parse_state, data), _outcome(read_state, data)
    assert model[0] == plain[0], (data[:300], model, plain)
    if model[0] == "error":
        assert model[1] == plain[1]  # the same problems, named the same way
    else:
        as_model = model[1].model_dump(exclude_unset=True)  # type: ignore[union-attr]
        assert json.dumps(as_model, sort_keys=True) == json.dumps(plain[1], sort_keys=True)  # NaN == NaN


@pytest.mark.parametrize("doc", [seeds.vda_state(), BARE])
def test_valid_states_read_the_same(doc: dict[str, object]) -> None:
    _same(json.dumps(doc).encode())
    assert read_state(json.dumps(doc).encode())["batteryState"]["batteryCharge"] == 80.5


@pytest.mark.parametrize(
    "change",
    [
        {
            "agvPosition": {
                "x": 1,
                "y": 2,
                "theta": 0,
                "mapId": "m",
                "positionInitialized": True,
                "localizationScore": 2,
            }
        },
        {"headerId": "7"},  # strict: no numbers in strings
        {"driving": 1},
        {"operatingMode": "automatic"},
        {"nodeStates": [{"nodeId": "B", "sequenceId": 2}]},
        {"errors": [{"errorType": "x", "errorLevel": "BAD"}]},
        {"paused": None, "agvPosition": None, "newShiny21Field": {"a": 1}},  # null optionals, unknown fields
        {"batteryState": {"batteryCharge": float("nan"), "charging": False}},  # not a finite number
        {"agvPosition": {"x": float("inf"), "y": 0, "theta": 0, "mapId": "m", "positionInitialized": True}},
    ],
)
def test_the_same_verdict_on_each_kind_of_fault(change: dict[str, object]) -> None:
    _same(json.dumps({**seeds.vda_state(), **change}).encode())


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated([seeds.vda_state(), BARE]))
def test_the_same_verdict_on_mutated_states(doc: object) -> None:
    _same(json.dumps(doc, allow_nan=True).encode())


def test_a_model_with_its_own_validators_has_no_twin() -> None:
    with pytest.raises(TypeError, match="InstantAction"):
        twin(InstantAction)
