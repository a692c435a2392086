"""A plain-dict twin accepts and rejects exactly what its model does, and reads the same values."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from wms.fuzz import seeds
from wms.fuzz.trees import mutated
from wms.robots.plain import twin
from wms.robots.vda5050 import InstantAction, VdaError, parse_order, parse_state, read_order, read_state

BARE = {
    k: v for k, v in seeds.vda_state().items() if k not in ("zoneSetId", "velocity", "loads", "information")
}


def _full_order() -> dict[str, Any]:
    """The seed order with a horizon, a node action with parameters and an edge with optional fields."""
    doc = seeds.vda_order()
    doc["zoneSetId"] = "z1"
    doc["nodes"][1]["actions"] = [
        {
            "actionType": "pick",
            "actionId": "p1",
            "actionDescription": "pick a tote",
            "blockingType": "HARD",
            "actionParameters": [{"key": "loadId", "value": "T1"}, {"key": "duration", "value": 3}],
        }
    ]
    doc["nodes"][2]["released"] = doc["edges"][1]["released"] = False
    doc["edges"][0].update(maxSpeed=1.5, orientation=0.5, rotationAllowed=False)
    return doc


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


def _same(data: bytes, parse: object = parse_state, read: object = read_state) -> None:
    model, plain = _outcome(parse, data), _outcome(read, data)
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


@pytest.mark.parametrize("doc", [seeds.vda_order(), _full_order()])
def test_valid_orders_read_the_same(doc: dict[str, object]) -> None:
    _same(json.dumps(doc).encode(), parse_order, read_order)


def test_an_order_reads_as_plain_wire_form() -> None:
    order = read_order(json.dumps(_full_order()).encode())
    node = order["nodes"][1]
    assert node["nodePosition"] == {"x": 3.0, "y": 4.0, "mapId": "site"}
    assert node["actions"][0]["actionParameters"][1] == {"key": "duration", "value": 3}
    assert "nodeDescription" not in node and order["edges"][0]["maxSpeed"] == 1.5


@pytest.mark.parametrize(
    "change",
    [
        {"orderUpdateId": -1},
        {"headerId": "7"},
        {"nodes": [{"nodeId": "A", "sequenceId": 0, "released": True}]},  # actions missing
        {"nodes": [{"nodeId": "A", "sequenceId": 0, "released": 1, "actions": []}]},
        {
            "nodes": [
                {"nodeId": "A", "sequenceId": 0, "released": True, "nodePosition": {"x": 1}, "actions": []}
            ]
        },
        {"edges": [{"edgeId": "e", "sequenceId": 1, "released": True, "startNodeId": "A", "actions": []}]},
        {"nodes": [], "edges": None},
        {"zoneSetId": None, "newShiny21Field": {"a": 1}},  # null optionals, unknown fields
        {
            "nodes": [
                {**seeds.vda_order()["nodes"][0], "nodePosition": {"x": float("nan"), "y": 0, "mapId": "m"}}
            ]
        },
    ],
)
def test_the_same_verdict_on_each_kind_of_order_fault(change: dict[str, object]) -> None:
    _same(json.dumps({**_full_order(), **change}).encode(), parse_order, read_order)


def test_an_action_parameter_of_no_allowed_type_is_refused_by_both() -> None:
    doc = _full_order()
    doc["nodes"][1]["actions"][0]["actionParameters"] = [{"key": "k", "value": None}]
    data = json.dumps(doc).encode()
    for parse in (parse_order, read_order):
        with pytest.raises(VdaError, match=r"actionParameters\[0\]\.value: value error, must be a string"):
            parse(data)
    _same(data, parse_order, read_order)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated([seeds.vda_order(), _full_order()]))
def test_the_same_verdict_on_mutated_orders(doc: object) -> None:
    _same(json.dumps(doc, allow_nan=True).encode(), parse_order, read_order)
