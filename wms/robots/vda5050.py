"""Pydantic models of VDA 5050 2.0 messages, strict parsers for inbound ones, and header helpers.

Attribute names are the spec's JSON names (camelCase) so that a model dumps to the wire format as is:
``model_dump(mode="json", exclude_none=True)``. Unknown fields are ignored, so 2.1 messages parse too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
    model_validator,
)

from wms.clock import iso
from wms.limits import check_size
from wms.robots.plain import twin_adapter
from wms.topics import VDA_KINDS

VERSION = "2.0.0"
PI = 3.14159265359

BlockingType = Literal["NONE", "SOFT", "HARD"]
ActionStatus = Literal["WAITING", "INITIALIZING", "RUNNING", "PAUSED", "FINISHED", "FAILED"]
ErrorLevel = Literal["WARNING", "FATAL"]
OperatingMode = Literal["AUTOMATIC", "SEMIAUTOMATIC", "MANUAL", "SERVICE", "TEACHIN"]
ConnectionState = Literal["ONLINE", "OFFLINE", "CONNECTIONBROKEN"]
EStop = Literal["AUTOACK", "MANUAL", "REMOTE", "NONE"]


class VdaError(ValueError):
    """An inbound VDA 5050 message is not valid JSON or does not match the message's schema."""


def _param_value(value: Any) -> Any:
    """Action parameter values are strings, numbers, booleans, arrays (2.0) or objects (2.1)."""
    if not isinstance(value, str | bool | int | float | list | dict):
        raise ValueError("must be a string, number, boolean, array or object")
    return value


ParamValue = Annotated[Any, AfterValidator(_param_value)]


class _Vda(BaseModel):
    """Base of all VDA 5050 objects: extra (newer-version) fields are accepted and dropped.

    Numbers must be finite: JSON's NaN and Infinity (which parsers accept) would slip past every
    comparison the master makes (a NaN battery never runs low).
    """

    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)


class Header(_Vda):
    """Fields every VDA 5050 message starts with."""

    headerId: int
    timestamp: str
    version: str
    manufacturer: str
    serialNumber: str


class NodePosition(_Vda):
    """Where a node is on a map (metres, radians)."""

    x: float
    y: float
    theta: float | None = Field(default=None, ge=-PI, le=PI)
    allowedDeviationXy: float | None = Field(default=None, ge=0)
    allowedDeviationTheta: float | None = Field(default=None, ge=-PI, le=PI)
    mapId: str
    mapDescription: str | None = None


class ActionParameter(_Vda):
    """One key/value argument of an action (e.g. loadId)."""

    key: str
    value: ParamValue


class Action(_Vda):
    """Something the vehicle does on a node or edge (pick, drop, …)."""

    actionType: str
    actionId: str
    actionDescription: str | None = None
    blockingType: BlockingType
    actionParameters: list[ActionParameter] | None = None

    def param(self, key: str, default: Any = None) -> Any:
        """Value of the parameter ``key``, or ``default``."""
        for p in self.actionParameters or ():
            if p.key == key:
                return p.value
        return default


class InstantAction(Action):
    """An action of an instantActions message.

    The 2.0.0 JSON schema names the type ``actionName`` while the 2.0 PDF (authoritative) and 2.1 say
    ``actionType``: we read either and send both, so that both schema versions and all vehicles accept it.
    """

    @model_validator(mode="before")
    @classmethod
    def _accept_action_name(cls, data: Any) -> Any:
        if isinstance(data, dict) and "actionType" not in data and "actionName" in data:
            return {**data, "actionType": data["actionName"]}
        return data

    @model_serializer(mode="wrap")
    def _with_action_name(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        data["actionName"] = self.actionType
        return data


class ControlPoint(_Vda):
    """A NURBS control point."""

    x: float
    y: float
    weight: float | None = None


class Trajectory(_Vda):
    """A NURBS curve an edge follows."""

    degree: int
    knotVector: list[Annotated[float, Field(ge=0, le=1)]]
    controlPoints: list[ControlPoint]


class Node(_Vda):
    """A node of an order graph; even sequenceIds."""

    nodeId: str
    sequenceId: int = Field(ge=0)
    nodeDescription: str | None = None
    released: bool
    nodePosition: NodePosition | None = None
    actions: list[Action]


class Edge(_Vda):
    """A directed edge of an order graph between two nodes; odd sequenceIds."""

    edgeId: str
    sequenceId: int = Field(ge=0)
    edgeDescription: str | None = None
    released: bool
    startNodeId: str
    endNodeId: str
    maxSpeed: float | None = None
    maxHeight: float | None = None
    minHeight: float | None = None
    orientation: float | None = Field(default=None, ge=-PI, le=PI)
    direction: str | None = None
    rotationAllowed: bool | None = None
    maxRotationSpeed: float | None = None
    length: float | None = None
    trajectory: Trajectory | None = None
    actions: list[Action]


class Order(Header):
    """Master control → vehicle: the path to drive (base and horizon) and what to do on it."""

    orderId: str
    orderUpdateId: int = Field(ge=0)
    zoneSetId: str | None = None
    nodes: list[Node]
    edges: list[Edge]


class InstantActions(Header):
    """Master control → vehicle: actions to run at once (cancelOrder, startPause, …).

    Sent with the list under both ``actions`` (2.0 and 2.1) and ``instantActions`` (the 1.1 name, which
    some 2.0 vehicles, e.g. vda-5050-lib 1.4, still require); both official schemas accept the extra key.
    """

    actions: list[InstantAction]

    @model_validator(mode="before")
    @classmethod
    def _accept_old_name(cls, data: Any) -> Any:
        if isinstance(data, dict) and "actions" not in data and "instantActions" in data:
            return {**data, "actions": data["instantActions"]}
        return data

    @model_serializer(mode="wrap")
    def _with_old_name(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        data["instantActions"] = data["actions"]
        return data


class NodeState(_Vda):
    """A node the vehicle still has to traverse."""

    nodeId: str
    sequenceId: int
    nodeDescription: str | None = None
    nodePosition: NodePosition | None = None
    released: bool


class EdgeState(_Vda):
    """An edge the vehicle still has to traverse."""

    edgeId: str
    sequenceId: int
    edgeDescription: str | None = None
    released: bool
    trajectory: Trajectory | None = None


class AgvPosition(_Vda):
    """The vehicle's pose on a map."""

    x: float
    y: float
    theta: float
    mapId: str
    mapDescription: str | None = None
    positionInitialized: bool
    localizationScore: float | None = Field(default=None, ge=0, le=1)
    deviationRange: float | None = None


class Velocity(_Vda):
    """The vehicle's velocity in vehicle coordinates."""

    vx: float | None = None
    vy: float | None = None
    omega: float | None = None


class BoundingBoxReference(_Vda):
    """Where a load sits on the vehicle."""

    x: float
    y: float
    z: float
    theta: float | None = None


class LoadDimensions(_Vda):
    """Size of a load's bounding box in metres."""

    length: float
    width: float
    height: float | None = None


class Load(_Vda):
    """A load the vehicle carries."""

    loadId: str | None = None
    loadType: str | None = None
    loadPosition: str | None = None
    boundingBoxReference: BoundingBoxReference | None = None
    loadDimensions: LoadDimensions | None = None
    weight: float | None = None


class ActionState(_Vda):
    """Progress of one order or instant action."""

    actionId: str
    actionType: str | None = None
    actionDescription: str | None = None
    actionStatus: ActionStatus
    resultDescription: str | None = None


class BatteryState(_Vda):
    """Charge level and whether the vehicle is charging (batteryHealth/reach are numbers in 2.1)."""

    batteryCharge: float
    batteryVoltage: float | None = None
    batteryHealth: float | None = None
    charging: bool
    reach: float | None = None


class ErrorReference(_Vda):
    """What an error refers to, e.g. ``orderId``."""

    referenceKey: str
    referenceValue: str


class Error(_Vda):
    """A problem of the vehicle: WARNING (can go on) or FATAL (needs help)."""

    errorType: str
    errorReferences: list[ErrorReference] | None = None
    errorDescription: str | None = None
    errorHint: str | None = None
    errorLevel: ErrorLevel


class InfoReference(_Vda):
    """What an information message refers to."""

    referenceKey: str
    referenceValue: str


class Info(_Vda):
    """An information message for visualisation or debugging."""

    infoType: str
    infoReferences: list[InfoReference] | None = None
    infoDescription: str | None = None
    infoLevel: Literal["INFO", "DEBUG"]


class SafetyState(_Vda):
    """Emergency stop and protective field status."""

    eStop: EStop
    fieldViolation: bool


class State(Header):
    """Vehicle → master control: everything about the vehicle, on every event and at least every 30 s."""

    orderId: str
    orderUpdateId: int
    zoneSetId: str | None = None
    lastNodeId: str
    lastNodeSequenceId: int
    driving: bool
    paused: bool | None = None
    newBaseRequest: bool | None = None
    distanceSinceLastNode: float | None = None
    operatingMode: OperatingMode
    nodeStates: list[NodeState]
    edgeStates: list[EdgeState]
    agvPosition: AgvPosition | None = None
    velocity: Velocity | None = None
    loads: list[Load] | None = None
    actionStates: list[ActionState]
    batteryState: BatteryState
    errors: list[Error]
    information: list[Info] | None = None
    safetyState: SafetyState


class Connection(Header):
    """Vehicle → master control (retained, QoS 1): ONLINE, OFFLINE or CONNECTIONBROKEN (the last will)."""

    connectionState: ConnectionState


class Visualization(Header):
    """Vehicle → visualisation: position and velocity at a higher rate than state."""

    agvPosition: AgvPosition | None = None
    velocity: Velocity | None = None


class TypeSpecification(_Vda):
    """Factsheet: what kind of vehicle this is."""

    seriesName: str
    seriesDescription: str | None = None
    agvKinematic: Literal["DIFF", "OMNI", "THREEWHEEL"]
    agvClass: Literal["FORKLIFT", "CONVEYOR", "TUGGER", "CARRIER"]
    maxLoadMass: float = Field(ge=0)
    localizationTypes: list[Literal["NATURAL", "REFLECTOR", "RFID", "DMC", "SPOT", "GRID"]]
    navigationTypes: list[Literal["PHYSICAL_LINE_GUIDED", "VIRTUAL_LINE_GUIDED", "AUTONOMOUS"]]


class PhysicalParameters(_Vda):
    """Factsheet: speeds (m/s), accelerations (m/s²) and dimensions (m)."""

    speedMin: float
    speedMax: float
    accelerationMax: float
    decelerationMax: float
    heightMin: float | None = None
    heightMax: float
    width: float
    length: float


class Timing(_Vda):
    """Factsheet: message intervals in seconds."""

    minOrderInterval: float
    minStateInterval: float
    defaultStateInterval: float | None = None
    visualizationInterval: float | None = None


class ProtocolLimits(_Vda):
    """Factsheet: string/array length limits (empty = none) and timing."""

    maxStringLens: dict[str, int | bool] = Field(default_factory=dict)
    maxArrayLens: dict[str, int] = Field(default_factory=dict)
    timing: Timing


class OptionalParameter(_Vda):
    """Factsheet: support of one optional protocol field."""

    parameter: str
    support: Literal["SUPPORTED", "REQUIRED"]
    description: str | None = None


class AgvActionParameter(_Vda):
    """Factsheet: one parameter an action takes."""

    key: str
    valueDataType: Literal["BOOL", "NUMBER", "INTEGER", "FLOAT", "STRING", "OBJECT", "ARRAY"]
    description: str | None = None
    isOptional: bool | None = None


class AgvAction(_Vda):
    """Factsheet: one action the vehicle supports and where (instant, node, edge)."""

    actionType: str
    actionDescription: str | None = None
    actionScopes: list[Literal["INSTANT", "NODE", "EDGE"]]
    actionParameters: list[AgvActionParameter] | None = None
    resultDescription: str | None = None


class ProtocolFeatures(_Vda):
    """Factsheet: supported optional fields and actions."""

    optionalParameters: list[OptionalParameter]
    agvActions: list[AgvAction]


class PolygonPoint(_Vda):
    """A corner of a 2D envelope, metres in vehicle coordinates."""

    x: float
    y: float


class Envelope2d(_Vda):
    """Factsheet: the vehicle's outline."""

    set: str
    polygonPoints: list[PolygonPoint]
    description: str | None = None


class AgvGeometry(_Vda):
    """Factsheet: geometry (envelopes only; wheels are not modelled)."""

    envelopes2d: list[Envelope2d] | None = None


class LoadSet(_Vda):
    """Factsheet: one kind of load the vehicle handles (``maxWeigth`` is the spec's spelling)."""

    setName: str
    loadType: str
    loadPositions: list[str] | None = None
    maxWeigth: float | None = None
    pickTime: float | None = None
    dropTime: float | None = None
    description: str | None = None


class LoadSpecification(_Vda):
    """Factsheet: load positions and load sets."""

    loadPositions: list[str] | None = None
    loadSets: list[LoadSet] | None = None


class Factsheet(_Vda):
    """Vehicle → master control: the vehicle's capabilities (headerId and timestamp optional in 2.0)."""

    headerId: int | None = Field(default=None, ge=0)
    timestamp: str | None = None
    version: str
    manufacturer: str
    serialNumber: str
    typeSpecification: TypeSpecification
    physicalParameters: PhysicalParameters
    protocolLimits: ProtocolLimits
    protocolFeatures: ProtocolFeatures
    agvGeometry: AgvGeometry
    loadSpecification: LoadSpecification


class HeaderCounter:
    """Hands out headerIds per topic kind: 0, 1, 2, … for each kind independently."""

    def __init__(self) -> None:
        self._next: dict[str, int] = {}

    def next(self, topic_kind: str) -> int:
        """The headerId of the next message on ``topic_kind``."""
        if topic_kind not in VDA_KINDS:
            raise ValueError(f"unknown VDA 5050 topic kind {topic_kind!r}")
        n = self._next.get(topic_kind, 0)
        self._next[topic_kind] = n + 1
        return n


def make_header(
    counter: HeaderCounter, topic_kind: str, manufacturer: str, serial: str, now: float
) -> dict[str, Any]:
    """Header fields of the next message on ``topic_kind`` (a dict to splat into a message model)."""
    return header_fields(counter.next(topic_kind), manufacturer, serial, now)


def header_fields(header_id: int, manufacturer: str, serial: str, now: float) -> dict[str, Any]:
    """Header fields with a given headerId, for senders that keep their own count."""
    return {
        "headerId": header_id,
        "timestamp": iso(now),
        "version": VERSION,
        "manufacturer": manufacturer,
        "serialNumber": serial,
    }


M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
_MAX_PROBLEMS = 6


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _parse(model: type[M], kind: str, data: bytes | str) -> M:
    return _checked(lambda: model.model_validate_json(data, strict=True), kind, data)


def _checked(validate: Callable[[], T], kind: str, data: bytes | str) -> T:
    check_size(data, kind, error=VdaError)
    try:
        return validate()
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            if err["type"] == "json_invalid":
                problems.append("not valid JSON: " + err["msg"].removeprefix("Invalid JSON: "))
                continue
            msg = err["msg"][:1].lower() + err["msg"][1:]
            where = _where(err["loc"])
            problems.append(f"{where}: {msg}" if where else msg)
        more = f"; and {len(problems) - _MAX_PROBLEMS} more" if len(problems) > _MAX_PROBLEMS else ""
        raise VdaError(f"{kind}: {'; '.join(problems[:_MAX_PROBLEMS])}{more}") from None


def parse_state(data: bytes | str) -> State:
    """Parse and check a state message; `VdaError` says which field is wrong."""
    return _parse(State, "state", data)


_STATE_DICT = twin_adapter(State)


StateDict = dict[str, Any]  # a state as `read_state` gives it: the wire form, checked


def read_state(data: bytes | str) -> StateDict:
    """`parse_state` into plain dicts: the same checks and errors, about twice as fast (the master's path).

    Optional fields may be absent or None: read them with ``.get``.
    """
    return _checked(lambda: _STATE_DICT.validate_json(data, strict=True), "state", data)


_VISUALIZATION_DICT = twin_adapter(Visualization)


def read_visualization(data: bytes | str) -> dict[str, Any]:
    """Parse and check a visualization message into plain dicts (robots send them several times a second)."""
    return _checked(lambda: _VISUALIZATION_DICT.validate_json(data, strict=True), "visualization", data)


def parse_connection(data: bytes | str) -> Connection:
    """Parse and check a connection message."""
    return _parse(Connection, "connection", data)


def parse_order(data: bytes | str) -> Order:
    """Parse and check an order message."""
    return _parse(Order, "order", data)


_ORDER_DICT = twin_adapter(Order)


OrderDict = dict[str, Any]  # an order as `read_order` gives it: the wire form, checked; optionals via .get


def read_order(data: bytes | str) -> OrderDict:
    """`parse_order` into plain dicts: the same checks and errors, about twice as fast (simulated robots)."""
    return _checked(lambda: _ORDER_DICT.validate_json(data, strict=True), "order", data)


def parse_instant_actions(data: bytes | str) -> InstantActions:
    """Parse and check an instantActions message (``actionName`` of the 2.0.0 schema accepted too)."""
    return _parse(InstantActions, "instantActions", data)


def parse_factsheet(data: bytes | str) -> Factsheet:
    """Parse and check a factsheet message."""
    return _parse(Factsheet, "factsheet", data)


def to_json(msg: BaseModel) -> dict[str, Any]:
    """The wire form of a message as a dict (no null fields)."""
    return msg.model_dump(mode="json", exclude_none=True)
