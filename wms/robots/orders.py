"""Pure builders of VDA 5050 orders and instant actions: no I/O, no clock, easy to test."""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from pydantic_core import from_json, to_json

from wms.clock import iso
from wms.robots.vda5050 import (
    VERSION,
    Action,
    ActionParameter,
    BlockingType,
    InstantAction,
    InstantActions,
    Order,
    header_fields,
)

ParamScalar = str | float | int | bool

# Blocking types of the predefined actions (VDA 5050 2.0, 6.8): HARD ones stop driving and other actions.
INSTANT_BLOCKING: dict[str, BlockingType] = {
    "cancelOrder": "NONE",
    "startPause": "HARD",
    "stopPause": "HARD",
    "stateRequest": "NONE",
    "factsheetRequest": "NONE",
    "startCharging": "HARD",
    "stopCharging": "HARD",
}
_HARD_ON_NODE = frozenset({"pick", "drop"})


def make_action(
    action_type: str,
    action_id: str,
    params: dict[str, ParamScalar] | None = None,
    blocking: BlockingType = "HARD",
) -> Action:
    """A node or edge action such as ``pick`` / ``drop`` with its parameters (e.g. ``loadId``)."""
    parameters = [ActionParameter(key=k, value=v) for k, v in params.items()] if params else None
    return Action(
        actionType=action_type, actionId=action_id, blockingType=blocking, actionParameters=parameters
    )


def order_json(
    *,
    manufacturer: str,
    serial: str,
    order_id: str,
    order_update_id: int,
    path: list[tuple[str, float, float]],
    actions_at: dict[int, list[Action]] | None = None,
    released: int | None = None,
    map_id: str = "site",
    start_sequence_id: int = 0,
    header_id: int,
    now: float,
) -> bytes:
    """The JSON of an order (or update) along ``path``; the first ``released`` nodes are the base.

    Nodes get even sequenceIds from ``start_sequence_id``, edges the odd ones between. An update repeats
    the last base node of the previous one as its first node, with that node's sequenceId as
    ``start_sequence_id``. ``actions_at`` holds node actions by path position; pick and drop are always
    HARD-blocking. Written as text from nodes and edges encoded once per sequenceId and released flag
    (a node comes back in order after order at the same sequenceId): the master sends thousands of
    orders a second, and every field is checked here or built from checked parts (tests validate the
    result against the schema and compare it with the model's own encoding).
    """
    if not path:
        raise ValueError("an order needs at least one node")
    if start_sequence_id < 0 or start_sequence_id % 2:
        raise ValueError(f"start_sequence_id must be even and >= 0, got {start_sequence_id}")
    if order_update_id < 0:
        raise ValueError(f"order_update_id must be >= 0, got {order_update_id}")
    n_base = len(path) if released is None else released
    if not 1 <= n_base <= len(path):
        raise ValueError(f"released must be between 1 and {len(path)} (the path length), got {released}")
    by_index = actions_at or {}
    outside = [i for i in by_index if not 0 <= i < len(path)]
    if outside:
        raise ValueError(f"actions at positions not on the path: {sorted(outside)}")
    nodes: list[str] = []
    edges: list[str] = []
    prev_id, px, py = "", 0.0, 0.0
    for i, (node_id, x, y) in enumerate(path):
        x, y = float(x), float(y)
        seq = start_sequence_id + 2 * i
        released = i < n_base
        if i:
            edges.append(_edge_text(prev_id, px, py, node_id, x, y, seq - 1, released))
        acts = by_index.get(i)
        if acts:
            head, tail = _node_pieces(node_id, x, y, map_id)
            flag = "true" if released else "false"
            actions = to_json([_node_action(a) for a in acts]).decode()
            nodes.append(f'{head}{seq},"released":{flag}{tail}{actions}}}')
        else:
            nodes.append(_node_text(node_id, x, y, map_id, seq, released))
        prev_id, px, py = node_id, x, y
    header = _header_text(header_id, manufacturer, serial, now)
    ids = f'"orderId":{_text(order_id)},"orderUpdateId":{order_update_id}'
    return f'{{{header},{ids},"nodes":[{",".join(nodes)}],"edges":[{",".join(edges)}]}}'.encode()


@lru_cache(maxsize=1 << 16)
def _node_pieces(node_id: str, x: float, y: float, map_id: str) -> tuple[str, str]:
    """A node's JSON around its sequenceId and released flag: what never changes for the node."""
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ValueError(f"node {node_id}: position ({x}, {y}) is not finite")
    position = to_json({"x": x, "y": y, "mapId": map_id}).decode()
    return f'{{"nodeId":{_text(node_id)},"sequenceId":', f',"nodePosition":{position},"actions":'


@lru_cache(maxsize=1 << 16)
def _edge_pieces(a: str, ax: float, ay: float, b: str, bx: float, by: float) -> tuple[str, str]:
    """An edge's JSON around its sequenceId and released flag."""
    length = to_json(math.hypot(bx - ax, by - ay)).decode()
    ends = f'"startNodeId":{_text(a)},"endNodeId":{_text(b)}'
    return f'{{"edgeId":{_text(f"{a}-{b}")},"sequenceId":', f',{ends},"length":{length},"actions":[]}}'


@lru_cache(maxsize=1 << 17)
def _node_text(node_id: str, x: float, y: float, map_id: str, seq: int, released: bool) -> str:
    """A node without actions, whole (nodes recur in order after order, at the same sequenceIds)."""
    head, tail = _node_pieces(node_id, x, y, map_id)
    return f'{head}{seq},"released":{"true" if released else "false"}{tail}[]}}'


@lru_cache(maxsize=1 << 17)
def _edge_text(a: str, ax: float, ay: float, b: str, bx: float, by: float, seq: int, released: bool) -> str:
    """An edge, whole."""
    head, tail = _edge_pieces(a, ax, ay, b, bx, by)
    return f'{head}{seq},"released":{"true" if released else "false"}{tail}'


def _header_text(header_id: int, manufacturer: str, serial: str, now: float) -> str:
    """The header fields (`header_fields`) as JSON members."""
    return f'"headerId":{header_id},"timestamp":"{iso(now)}",{_sender_text(manufacturer, serial)}'


@lru_cache(maxsize=1 << 12)
def _sender_text(manufacturer: str, serial: str) -> str:
    return f'"version":{_text(VERSION)},"manufacturer":{_text(manufacturer)},"serialNumber":{_text(serial)}'


def _text(value: str) -> str:
    return to_json(value).decode()


def order_body(**kwargs: Any) -> dict[str, Any]:
    """`order_json` (same arguments) as a plain dict, for tests and tools."""
    return from_json(order_json(**kwargs))


def _node_action(action: Action) -> dict[str, Any]:
    body = action.model_dump(mode="json", exclude_none=True)
    if action.actionType in _HARD_ON_NODE:
        body["blockingType"] = "HARD"
    return body


def build_order(
    *,
    manufacturer: str,
    serial: str,
    order_id: str,
    order_update_id: int,
    path: list[tuple[str, float, float]],
    actions: dict[str, list[Action]] | None = None,
    released: int | None = None,
    map_id: str = "site",
    start_sequence_id: int = 0,
    header_id: int,
    now: float,
) -> Order:
    """`order_body` as a validated `Order`, with actions by node id (on every visit of that node)."""
    by_node = actions or {}
    unknown = set(by_node) - {node_id for node_id, _, _ in path}
    if unknown:
        raise ValueError(f"actions for nodes not on the path: {sorted(unknown)}")
    body = order_body(
        manufacturer=manufacturer,
        serial=serial,
        order_id=order_id,
        order_update_id=order_update_id,
        path=path,
        actions_at={i: by_node[n] for i, (n, _, _) in enumerate(path) if n in by_node},
        released=released,
        map_id=map_id,
        start_sequence_id=start_sequence_id,
        header_id=header_id,
        now=now,
    )
    return Order.model_validate(body)


def instant_action(
    action_type: str, action_id: str, params: dict[str, ParamScalar] | None = None
) -> InstantAction:
    """One predefined instant action (cancelOrder, startPause, …) with the blocking type the spec gives it."""
    if action_type not in INSTANT_BLOCKING:
        raise ValueError(f"unknown instant action {action_type!r}; known: {', '.join(INSTANT_BLOCKING)}")
    parameters = [ActionParameter(key=k, value=v) for k, v in params.items()] if params else None
    return InstantAction(
        actionType=action_type,
        actionId=action_id,
        blockingType=INSTANT_BLOCKING[action_type],
        actionParameters=parameters,
    )


def instant_actions(
    *,
    manufacturer: str,
    serial: str,
    actions: Sequence[InstantAction | str],
    header_id: int,
    now: float,
) -> InstantActions:
    """An instantActions message; a bare action type gets the actionId ``{type}-{header_id}-{index}``."""
    if not actions:
        raise ValueError("an instantActions message needs at least one action")
    built = [
        a if isinstance(a, InstantAction) else instant_action(a, f"{a}-{header_id}-{i}")
        for i, a in enumerate(actions)
    ]
    return InstantActions(**header_fields(header_id, manufacturer, serial, now), actions=built)
