"""VDA 5050 models, parsers and order builders checked against the official 2.0.0 (and 2.1.0) JSON schemas."""

from __future__ import annotations

import functools
import json
import math
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema.validators import validator_for

from wms.clock import iso
from wms.robots import orders
from wms.robots.orders import INSTANT_BLOCKING, build_order, instant_action, instant_actions, make_action
from wms.robots.vda5050 import (
    AgvPosition,
    Connection,
    HeaderCounter,
    InstantAction,
    VdaError,
    Velocity,
    Visualization,
    make_header,
    parse_connection,
    parse_instant_actions,
    parse_order,
    parse_state,
    to_json,
)


def _vda_dir() -> Path | None:
    """The shared ``shared/vda5050`` folder next to the repository (searched upwards from this file)."""
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "vda5050"
        if candidate.is_dir():
            return candidate
    return None


VDA_DIR = _vda_dir()
pytestmark = pytest.mark.skipif(VDA_DIR is None, reason="VDA 5050 schemas (shared/vda5050) not found")
NOW = 1_700_000_000.25


@functools.cache
def _schema(version: str, kind: str) -> dict[str, Any]:
    assert VDA_DIR is not None
    name = "factsheet.json" if (version, kind) == ("2.0.0", "factsheet") else f"{kind}.schema"
    return json.loads((VDA_DIR / version / name).read_text(encoding="utf-8"))


def validate(kind: str, msg: dict[str, Any], versions: tuple[str, ...] = ("2.0.0", "2.1.0")) -> None:
    """Fail unless ``msg`` is valid against the official schema of ``kind`` in every version given."""
    for version in versions:
        schema = _schema(version, kind)
        validator_for(schema)(schema).validate(msg)
    datetime.fromisoformat(msg["timestamp"].replace("Z", "+00:00"))  # the schemas' format is not enforced


def order_json(**kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "manufacturer": "acme",
        "serial": "r1",
        "order_id": "o1",
        "order_update_id": 0,
        "path": [("A", 0.0, 0.0), ("B", 3.0, 4.0), ("C", 3.0, 10.0)],
        "header_id": 7,
        "now": NOW,
    }
    args.update(kw)
    return to_json(build_order(**args))


def state_json(**extra: Any) -> dict[str, Any]:
    msg = {
        "headerId": 3,
        "timestamp": iso(NOW),
        "version": "2.0.0",
        "manufacturer": "acme",
        "serialNumber": "r1",
        "orderId": "o1",
        "orderUpdateId": 0,
        "lastNodeId": "A",
        "lastNodeSequenceId": 0,
        "nodeStates": [{"nodeId": "B", "sequenceId": 2, "released": True}],
        "edgeStates": [{"edgeId": "A-B", "sequenceId": 1, "released": True}],
        "driving": True,
        "actionStates": [{"actionId": "p1", "actionType": "pick", "actionStatus": "WAITING"}],
        "batteryState": {"batteryCharge": 80.5, "charging": False},
        "operatingMode": "AUTOMATIC",
        "errors": [],
        "safetyState": {"eStop": "NONE", "fieldViolation": False},
    }
    msg.update(extra)
    return msg


def _bytes(msg: dict[str, Any]) -> bytes:
    return json.dumps(msg).encode()


# ----------------------------------------------------------------------------- builders


def test_order_is_schema_valid_with_sequence_ids_edges_and_actions() -> None:
    pick = make_action(
        "pick", "p1", {"loadId": "L1", "qty": 2, "weight": 1.5, "fragile": True}, blocking="SOFT"
    )
    msg = order_json(actions={"B": [pick], "C": [make_action("drop", "d1")]})
    validate("order", msg)
    assert [(n["nodeId"], n["sequenceId"], n["released"]) for n in msg["nodes"]] == [
        ("A", 0, True),
        ("B", 2, True),
        ("C", 4, True),
    ]
    assert [(e["edgeId"], e["sequenceId"], e["startNodeId"], e["endNodeId"]) for e in msg["edges"]] == [
        ("A-B", 1, "A", "B"),
        ("B-C", 3, "B", "C"),
    ]
    assert msg["edges"][0]["length"] == pytest.approx(5.0)
    assert msg["nodes"][1]["nodePosition"] == {"x": 3.0, "y": 4.0, "mapId": "site"}
    b_action = msg["nodes"][1]["actions"][0]
    assert b_action["blockingType"] == "HARD"  # pick and drop are always HARD
    assert {p["key"]: p["value"] for p in b_action["actionParameters"]} == {
        "loadId": "L1",
        "qty": 2,
        "weight": 1.5,
        "fragile": True,
    }
    assert msg["nodes"][0]["actions"] == [] and msg["headerId"] == 7 and msg["version"] == "2.0.0"
    assert parse_order(_bytes(msg)) == build_order(
        manufacturer="acme",
        serial="r1",
        order_id="o1",
        order_update_id=0,
        path=[("A", 0.0, 0.0), ("B", 3.0, 4.0), ("C", 3.0, 10.0)],
        actions={"B": [pick], "C": [make_action("drop", "d1")]},
        header_id=7,
        now=NOW,
    )


@settings(max_examples=60, deadline=None)
@given(
    ids=st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=6),
    coords=st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=12, max_size=12),
    released=st.integers(1, 6),
    start=st.integers(0, 20),
    names=st.tuples(st.text(min_size=1, max_size=6), st.text(min_size=1, max_size=6)),
)
def test_the_text_the_master_sends_is_what_the_model_encodes(
    ids: list[str], coords: list[float], released: int, start: int, names: tuple[str, str]
) -> None:
    path = [(node, coords[2 * i], coords[2 * i + 1]) for i, node in enumerate(ids)]
    drop = make_action("drop", 'd"1', {"loadId": "L\\1", "qty": 2})
    args: dict[str, Any] = {
        "manufacturer": names[0],
        "serial": names[1],
        "order_id": "o\u00e91",
        "order_update_id": 3,
        "path": path,
        "actions_at": {len(path) - 1: [drop]},
        "released": min(released, len(path)),
        "start_sequence_id": 2 * start,
        "header_id": 7,
        "now": NOW,
    }
    sent = orders.order_json(**args)
    model = parse_order(sent)
    assert json.loads(sent) == json.loads(model.model_dump_json(exclude_none=True))
    base = args["released"]
    assert [(n.nodeId, n.sequenceId, n.released) for n in model.nodes] == [
        (node, 2 * (start + i), i < base) for i, node in enumerate(ids)
    ]
    assert [(e.startNodeId, e.endNodeId, e.sequenceId, e.released) for e in model.edges] == [
        (ids[i - 1], ids[i], 2 * (start + i) - 1, i < base) for i in range(1, len(ids))
    ]
    assert [a.actionId for a in model.nodes[-1].actions] == ['d"1'] and model.orderId == "o\u00e91"
    assert (model.manufacturer, model.serialNumber, model.headerId) == (*names, 7)


def test_a_node_off_the_finite_plane_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="node B: position"):
        orders.order_json(
            manufacturer="acme",
            serial="r1",
            order_id="o1",
            order_update_id=0,
            path=[("A", 0.0, 0.0), ("B", math.inf, 1.0)],
            header_id=1,
            now=NOW,
        )


def test_base_and_horizon_and_update_numbering() -> None:
    msg = order_json(path=[("A", 0, 0), ("B", 1, 0), ("C", 2, 0), ("D", 3, 0)], released=2, map_id="floor1")
    validate("order", msg)
    assert [n["released"] for n in msg["nodes"]] == [True, True, False, False]
    assert [e["released"] for e in msg["edges"]] == [True, False, False]
    assert {n["nodePosition"]["mapId"] for n in msg["nodes"]} == {"floor1"}
    update = order_json(order_update_id=1, path=[("B", 1, 0), ("C", 2, 0)], start_sequence_id=2)
    validate("order", update)
    assert [n["sequenceId"] for n in update["nodes"]] == [2, 4]
    assert update["edges"][0]["sequenceId"] == 3


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"path": []}, "at least one node"),
        ({"released": 0}, "released must be between 1 and 3"),
        ({"released": 4}, "released must be between 1 and 3"),
        ({"start_sequence_id": 3}, "even"),
        ({"order_update_id": -1}, "order_update_id"),
        ({"actions": {"Z": [make_action("pick", "p")]}}, "not on the path"),
    ],
)
def test_build_order_rejects_bad_arguments(kw: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        order_json(**kw)


@given(
    coords=st.lists(
        st.tuples(st.floats(-1e4, 1e4, allow_nan=False), st.floats(-1e4, 1e4, allow_nan=False)),
        min_size=1,
        max_size=12,
    ),
    data=st.data(),
)
@settings(max_examples=40, deadline=None)
def test_any_path_gives_a_schema_valid_consistent_order(coords: list[tuple[float, float]], data: Any) -> None:
    path = [(f"n{i}", x, y) for i, (x, y) in enumerate(coords)]
    released = data.draw(st.one_of(st.none(), st.integers(1, len(path))))
    start = data.draw(st.integers(0, 50)) * 2
    msg = order_json(path=path, released=released, start_sequence_id=start)
    validate("order", msg, versions=("2.0.0",))
    nodes, edges = msg["nodes"], msg["edges"]
    n_base = len(path) if released is None else released
    assert [n["sequenceId"] for n in nodes] == [start + 2 * i for i in range(len(path))]
    assert [e["sequenceId"] for e in edges] == [start + 2 * i + 1 for i in range(len(path) - 1)]
    assert sum(n["released"] for n in nodes) == n_base
    assert sum(e["released"] for e in edges) == n_base - 1
    for i, e in enumerate(edges):
        assert (e["startNodeId"], e["endNodeId"]) == (nodes[i]["nodeId"], nodes[i + 1]["nodeId"])
        assert e["length"] == pytest.approx(math.dist(coords[i], coords[i + 1]))


@pytest.mark.parametrize("action_type", sorted(INSTANT_BLOCKING))
def test_instant_actions_are_valid_against_both_schema_versions(action_type: str) -> None:
    msg = to_json(
        instant_actions(manufacturer="acme", serial="r1", actions=[action_type], header_id=4, now=NOW)
    )
    validate("instantActions", msg)  # 2.0.0 wants actionName, 2.1.0 actionType: both are sent
    (action,) = msg["actions"]
    assert action == {
        "actionType": action_type,
        "actionName": action_type,
        "actionId": f"{action_type}-4-0",
        "blockingType": INSTANT_BLOCKING[action_type],
    }
    parsed = parse_instant_actions(_bytes(msg))
    assert parsed.actions[0].actionType == action_type


def test_instant_action_builder_details() -> None:
    assert instant_action("cancelOrder", "c1").blockingType == "NONE"
    assert instant_action("startPause", "p1").blockingType == "HARD"
    with_params = instant_action("stateRequest", "s1", {"why": "test"})
    assert with_params.param("why") == "test" and with_params.param("missing", 5) == 5
    msg = instant_actions(
        manufacturer="acme", serial="r1", actions=[with_params, "stopPause"], header_id=9, now=NOW
    )
    assert [a.actionId for a in msg.actions] == ["s1", "stopPause-9-1"]
    with pytest.raises(ValueError, match="unknown instant action 'fly'"):
        instant_action("fly", "f1")
    with pytest.raises(ValueError, match="at least one action"):
        instant_actions(manufacturer="acme", serial="r1", actions=[], header_id=0, now=NOW)


def test_2_0_0_schema_style_instant_action_with_action_name_parses() -> None:
    msg = to_json(
        instant_actions(manufacturer="acme", serial="r1", actions=["startPause"], header_id=0, now=NOW)
    )
    del msg["actions"][0]["actionType"]
    assert parse_instant_actions(_bytes(msg)).actions[0].actionType == "startPause"


def test_sent_connection_and_visualization_are_schema_valid() -> None:
    counter = HeaderCounter()
    for state in ("ONLINE", "OFFLINE", "CONNECTIONBROKEN"):
        msg = to_json(
            Connection(**make_header(counter, "connection", "acme", "r1", NOW), connectionState=state)
        )
        validate("connection", msg)
        assert parse_connection(_bytes(msg)).connectionState == state
    vis = Visualization(
        **make_header(counter, "visualization", "acme", "r1", NOW),
        agvPosition=AgvPosition(x=1, y=2, theta=0.5, mapId="site", positionInitialized=True),
        velocity=Velocity(vx=1.0, vy=0.0, omega=0.0),
    )
    validate("visualization", to_json(vis))


def test_state_fixture_is_schema_valid_and_round_trips() -> None:
    msg = state_json()
    validate("state", msg)
    state = parse_state(_bytes(msg))
    assert state.batteryState.batteryCharge == 80.5
    assert to_json(state) == msg


# ----------------------------------------------------------------------------- headers


def test_header_counter_counts_per_topic() -> None:
    counter = HeaderCounter()
    assert [
        counter.next("state"),
        counter.next("state"),
        counter.next("connection"),
        counter.next("state"),
    ] == [
        0,
        1,
        0,
        2,
    ]
    header = make_header(counter, "order", "acme", "r1", NOW)
    assert header == {
        "headerId": 0,
        "timestamp": "2023-11-14T22:13:20.250Z",
        "version": "2.0.0",
        "manufacturer": "acme",
        "serialNumber": "r1",
    }
    with pytest.raises(ValueError, match="unknown VDA 5050 topic kind"):
        counter.next("status")


# ----------------------------------------------------------------------------- parsers


def _without(msg: dict[str, Any], *path: str | int) -> dict[str, Any]:
    msg = json.loads(json.dumps(msg))
    target: Any = msg
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return msg


def _with(msg: dict[str, Any], value: Any, *path: str | int) -> dict[str, Any]:
    msg = json.loads(json.dumps(msg))
    target: Any = msg
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return msg


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (
            _bytes(_without(state_json(), "batteryState", "batteryCharge")),
            "state: batteryState.batteryCharge: field required",
        ),
        (_bytes(_with(state_json(), "yes", "driving")), "state: driving: input should be a valid boolean"),
        (
            _bytes(_with(state_json(), "7", "orderUpdateId")),
            "state: orderUpdateId: input should be a valid integer",
        ),
        (_bytes(_with(state_json(), "LOST", "operatingMode")), "state: operatingMode: input should be"),
        (
            _bytes(_with(state_json(), "DONE", "actionStates", 0, "actionStatus")),
            "state: actionStates[0].actionStatus",
        ),
        (
            _bytes(_without(state_json(), "nodeStates", 0, "released")),
            "state: nodeStates[0].released: field required",
        ),
        (_bytes(_without(state_json(), "safetyState")), "state: safetyState: field required"),
        (b"{not json", "state: not valid JSON"),
        (b"[1, 2]", "state: input should be an object"),
    ],
)
def test_parse_state_rejects_bad_payloads_clearly(payload: bytes, message: str) -> None:
    with pytest.raises(VdaError) as err:
        parse_state(payload)
    assert str(err.value).startswith(message), str(err.value)


def test_parse_order_instant_actions_and_connection_reject_bad_payloads() -> None:
    good = order_json(actions={"B": [make_action("pick", "p1")]})
    cases = [
        (
            parse_order,
            _with(good, "2", "nodes", 1, "sequenceId"),
            "order: nodes[1].sequenceId: input should be",
        ),
        (parse_order, _with(good, -1, "orderUpdateId"), "order: orderUpdateId: input should be greater than"),
        (parse_order, _without(good, "edges", 0, "endNodeId"), "order: edges[0].endNodeId: field required"),
        (parse_order, _with(good, None, "nodes", 1, "actions", 0, "actionParameters"), None),
        (parse_order, _with(good, "SOMETIMES", "nodes", 1, "actions", 0, "blockingType"), "order: nodes[1]"),
        (parse_order, _without(good, "nodes", 0, "actions"), "order: nodes[0].actions: field required"),
        (
            parse_order,
            _with(good, [{"key": "k", "value": None}], "nodes", 1, "actions", 0, "actionParameters"),
            "order: nodes[1].actions[0].actionParameters[0].value: value error, must be a string",
        ),
    ]
    ia = to_json(
        instant_actions(manufacturer="acme", serial="r1", actions=["cancelOrder"], header_id=0, now=NOW)
    )
    cases += [
        (
            parse_instant_actions,
            _without(ia, "actions", 0, "blockingType"),
            "instantActions: actions[0].blockingType",
        ),
        (parse_instant_actions, _without(ia, "serialNumber"), "instantActions: serialNumber: field required"),
    ]
    conn = {
        "headerId": 1,
        "timestamp": iso(NOW),
        "version": "2.0.0",
        "manufacturer": "acme",
        "serialNumber": "r1",
    }
    cases += [
        (
            parse_connection,
            {**conn, "connectionState": "ASLEEP"},
            "connection: connectionState: input should be",
        ),
        (parse_connection, conn, "connection: connectionState: field required"),
    ]
    for parse, msg, message in cases:
        if message is None:  # null for an optional field is fine
            parse(_bytes(msg))
            continue
        with pytest.raises(VdaError) as err:
            parse(_bytes(msg))
        assert str(err.value).startswith(message), str(err.value)


def test_a_2_1_state_with_extra_fields_parses() -> None:
    msg = state_json(
        version="2.1.0",
        maps=[{"mapId": "site", "mapVersion": "3", "mapStatus": "ENABLED"}],
        zoneSetId="zones-1",
        distanceSinceLastNode=1.5,
        agvPosition={"x": 1.0, "y": 2.0, "theta": 0.1, "mapId": "site", "positionInitialized": True},
        batteryState={"batteryCharge": 55.0, "charging": True, "batteryHealth": 97.5, "reach": 1234.5},
        errors=[
            {
                "errorType": "orderError",
                "errorLevel": "WARNING",
                "errorHint": "resend the order",
                "errorReferences": [{"referenceKey": "orderId", "referenceValue": "o1"}],
            }
        ],
        information=[{"infoType": "note", "infoLevel": "INFO"}],
        futureField={"anything": [1, 2, 3]},
    )
    validate("state", _without(msg, "futureField"), versions=("2.1.0",))
    state = parse_state(_bytes(msg))
    assert state.version == "2.1.0"
    assert state.batteryState.reach == 1234.5 and state.batteryState.charging
    assert state.errors[0].errorHint == "resend the order"
    assert state.agvPosition is not None and state.agvPosition.y == 2.0
    assert not hasattr(state, "futureField") and not hasattr(state, "maps")


def test_action_type_in_instant_action_model_is_required_one_way_or_another() -> None:
    with pytest.raises(VdaError, match=r"actions\[0\]\.actionType: field required"):
        parse_instant_actions(
            _bytes(
                {
                    "headerId": 0,
                    "timestamp": iso(NOW),
                    "version": "2.0.0",
                    "manufacturer": "acme",
                    "serialNumber": "r1",
                    "actions": [{"actionId": "x", "blockingType": "NONE"}],
                }
            )
        )
    assert (
        InstantAction(actionType="stateRequest", actionId="s", blockingType="NONE").actionType
        == "stateRequest"
    )
