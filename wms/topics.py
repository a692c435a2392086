"""Every topic the system uses, in one place.

Robots speak VDA 5050 under ``uagv/v2/{manufacturer}/{serialNumber}/…``. Everything else lives under
``wms/{partition}/…`` where the partition names the warehouse part a controller owns, so that a process
can subscribe to its own part only.
"""

from __future__ import annotations

VDA_INTERFACE = "uagv"
VDA_MAJOR = "v2"
VDA_KINDS = ("order", "instantActions", "state", "connection", "factsheet", "visualization")


def vda(manufacturer: str, serial: str, kind: str) -> str:
    """Topic of one VDA 5050 message kind for one robot."""
    if kind not in VDA_KINDS:
        raise ValueError(f"unknown VDA 5050 topic kind {kind!r}")
    return f"{VDA_INTERFACE}/{VDA_MAJOR}/{manufacturer}/{serial}/{kind}"


def vda_all(kind: str, manufacturer: str = "+") -> str:
    """Subscription to one message kind from every robot (of one manufacturer, or of all)."""
    return f"{VDA_INTERFACE}/{VDA_MAJOR}/{manufacturer}/+/{kind}"


def vda_parse(topic: str) -> tuple[str, str, str] | None:
    """``(manufacturer, serialNumber, kind)`` of a VDA 5050 topic, or None if it is not one."""
    parts = topic.split("/")
    if len(parts) != 5 or parts[0] != VDA_INTERFACE or parts[1] != VDA_MAJOR or parts[4] not in VDA_KINDS:
        return None
    return parts[2], parts[3], parts[4]


def inbound(partition: str) -> str:
    """Bonded stock receipts (lots arriving under customs supervision)."""
    return f"wms/{partition}/inbound"


def orders(partition: str) -> str:
    """Consumer orders with their three customs documents, from the order feed."""
    return f"wms/{partition}/orders"


def acks(partition: str) -> str:
    """Controller → order feed: an order or lot is safely recorded (the feed re-sends until it sees this)."""
    return f"wms/{partition}/acks"


def customs_receipts(partition: str) -> str:
    """Customs gateway → controller: CEB312/412/512/622 receipt XML, recorded in the parcels' history."""
    return f"wms/{partition}/customs/receipts"


def conveyor_cmd(partition: str) -> str:
    """Controller → conveyors and pack stations: move (or pack) a parcel or bag."""
    return f"wms/{partition}/conveyor/cmd"


def conveyor_event(partition: str) -> str:
    """Conveyors and pack stations → controller: a parcel arrived or was packed."""
    return f"wms/{partition}/conveyor/event"


def xray_cmd(partition: str) -> str:
    """Controller → X-ray gate: scan a parcel on a lane."""
    return f"wms/{partition}/xray/cmd"


def xray_result(partition: str) -> str:
    """X-ray gate → controller: the image verdict of one parcel."""
    return f"wms/{partition}/xray/result"


def manual_cmd(partition: str) -> str:
    """Controller → the gate's hold lane: open and check a held parcel."""
    return f"wms/{partition}/gate/manual/cmd"


def manual_result(partition: str) -> str:
    """The gate's hold lane → controller: an officer's verdict on a held parcel."""
    return f"wms/{partition}/gate/manual/result"


def status(partition: str) -> str:
    """Controller → consoles: the retained live status snapshot."""
    return f"wms/{partition}/status"


def alarms(partition: str) -> str:
    """Controller → consoles: one message per alarm (bad input, robot fault, SLA risk)."""
    return f"wms/{partition}/alarms"


def control(partition: str) -> str:
    """Consoles → controller: operator commands (emergency stop, resume)."""
    return f"wms/{partition}/control"


def intake(partition: str) -> str:
    """Controller → order sources: the retained back-pressure signal (accepting new orders or not)."""
    return f"wms/{partition}/intake"


def o2o(partition: str) -> str:
    """Controller → counter clerks: each O2O order's acceptance or refusal, stage changes and handover."""
    return f"wms/{partition}/o2o"


def stock_returns(partition: str) -> str:
    """Returns desk → controller: consumer returns of dispatched orders (`ReturnNotice`)."""
    return f"wms/{partition}/stock/returns"


def stock_adjustments(partition: str) -> str:
    """Stock controller → controller: counted corrections of a lot (`StockAdjustment`)."""
    return f"wms/{partition}/stock/adjustments"


def stock_results(partition: str) -> str:
    """Controller → returns desk and stock controller: each return or adjustment booked or refused."""
    return f"wms/{partition}/stock/results"
