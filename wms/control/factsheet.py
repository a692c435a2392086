"""What a robot's VDA 5050 factsheet tells the master: can it do our work, and how long may an order be."""

from __future__ import annotations

from dataclasses import dataclass

from wms.robots.vda5050 import Factsheet

NODE_ACTIONS = ("pick", "drop")  # every task ends in one of these, on a node
PAUSE_ACTIONS = ("startPause", "stopPause")  # the console's emergency stop of the whole fleet
CHARGE_ACTIONS = ("startCharging", "stopCharging")  # sent at charging spots


@dataclass(frozen=True)
class Capabilities:
    """The parts of a factsheet the master acts on."""

    series: str
    speed_max: float
    max_nodes: int | None  # the most nodes an order (or update) may carry; None: no limit stated
    unfit: str  # why the robot cannot take tasks ("" if it can)
    warnings: tuple[str, ...]  # what it lacks that the master would use, short of unfitting it


def capabilities(fs: Factsheet, charges: bool) -> Capabilities:
    """Read a factsheet against what the master asks of robots (``charges``: it sends charging actions).

    A factsheet that lists no actions at all is taken as silent on them, not as a robot that can do
    nothing: vehicles in the field often leave the list empty.
    """
    listed = fs.protocolFeatures.agvActions
    node = {a.actionType for a in listed if "NODE" in a.actionScopes}
    instant = {a.actionType for a in listed if "INSTANT" in a.actionScopes}
    unfit, warnings = "", []
    if listed:
        missing = [a for a in NODE_ACTIONS if a not in node]
        if missing:
            unfit = f"its factsheet lists no {' or '.join(missing)} action on nodes"
        wanted = PAUSE_ACTIONS + (CHARGE_ACTIONS if charges else ())
        lacking = [a for a in wanted if a not in instant]
        if lacking:
            warnings.append(f"its factsheet lists no instant action {', '.join(lacking)}")
    else:
        warnings.append("its factsheet lists no actions; assuming it does what VDA 5050 predefines")
    arrays = fs.protocolLimits.maxArrayLens
    limits = [n for n in (arrays.get("order.nodes"), _plus_one(arrays.get("order.edges"))) if n]
    max_nodes = min(limits) if limits else None
    if max_nodes is not None and max_nodes < 2:
        unfit = unfit or f"it takes orders of at most {max_nodes} node(s)"
    return Capabilities(
        series=fs.typeSpecification.seriesName,
        speed_max=fs.physicalParameters.speedMax,
        max_nodes=max_nodes,
        unfit=unfit,
        warnings=tuple(warnings),
    )


def _plus_one(edges: int | None) -> int | None:
    return None if edges is None else edges + 1  # n edges join n + 1 nodes
