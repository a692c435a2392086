"""Valid sample inputs of every inbound parser: the starting points of structure-aware mutation."""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path
from typing import Any

from wms.config import CONFIG_DIR
from wms.domain import OrderBundle, Sku
from wms.inspection.ceb import NS, ceb311, ceb411, ceb511
from wms.inspection.documents import bundle_to_json
from wms.robots.orders import build_order, instant_actions
from wms.robots.vda5050 import to_json

CEB_SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "customs" / "ceb-202205" / "samples"
NOW = 1_710_050_000.0
TIMESTAMP = "2024-03-10T05:53:20.000Z"

JSON = dict[str, Any]


def _header(n: int = 3) -> JSON:
    """The header fields of a VDA 5050 message."""
    return {
        "headerId": n,
        "timestamp": TIMESTAMP,
        "version": "2.0.0",
        "manufacturer": "acme",
        "serialNumber": "r1",
    }


def vda_state() -> JSON:
    """A VDA 5050 state with every optional part present."""
    return {
        **_header(),
        "orderId": "o1",
        "orderUpdateId": 0,
        "zoneSetId": "z",
        "lastNodeId": "A",
        "lastNodeSequenceId": 0,
        "driving": True,
        "paused": False,
        "newBaseRequest": False,
        "distanceSinceLastNode": 1.5,
        "operatingMode": "AUTOMATIC",
        "nodeStates": [{"nodeId": "B", "sequenceId": 2, "released": True, "nodePosition": _node_position()}],
        "edgeStates": [{"edgeId": "A-B", "sequenceId": 1, "released": True, "trajectory": _trajectory()}],
        "agvPosition": {
            "x": 1.0,
            "y": 2.0,
            "theta": 0.5,
            "mapId": "site",
            "positionInitialized": True,
            "localizationScore": 0.9,
        },
        "velocity": {"vx": 0.5, "vy": 0.0, "omega": 0.1},
        "loads": [
            {
                "loadId": "tote-1",
                "loadType": "tote",
                "boundingBoxReference": {"x": 0, "y": 0, "z": 0.2},
                "loadDimensions": {"length": 0.6, "width": 0.4},
                "weight": 3.2,
            }
        ],
        "actionStates": [{"actionId": "p1", "actionType": "pick", "actionStatus": "WAITING"}],
        "batteryState": {"batteryCharge": 80.5, "charging": False, "batteryVoltage": 48.0},
        "errors": [
            {
                "errorType": "noRoute",
                "errorLevel": "WARNING",
                "errorReferences": [{"referenceKey": "orderId", "referenceValue": "o1"}],
            }
        ],
        "information": [{"infoType": "debug", "infoLevel": "DEBUG"}],
        "safetyState": {"eStop": "NONE", "fieldViolation": False},
    }


def _node_position() -> JSON:
    """A node position with its optional fields."""
    return {"x": 3.0, "y": 4.0, "theta": 0.0, "allowedDeviationXy": 0.1, "mapId": "site"}


def _trajectory() -> JSON:
    """A degree-1 NURBS trajectory."""
    return {"degree": 1, "knotVector": [0, 0, 1, 1], "controlPoints": [{"x": 0, "y": 0}, {"x": 3, "y": 4}]}


def vda_connection() -> JSON:
    """A VDA 5050 connection message."""
    return {**_header(), "connectionState": "ONLINE"}


def vda_factsheet() -> JSON:
    """A VDA 5050 factsheet with every section."""
    return {
        **_header(),
        "typeSpecification": {
            "seriesName": "wmssim",
            "agvKinematic": "DIFF",
            "agvClass": "CARRIER",
            "maxLoadMass": 30.0,
            "localizationTypes": ["NATURAL"],
            "navigationTypes": ["AUTONOMOUS"],
        },
        "physicalParameters": {
            "speedMin": 0.0,
            "speedMax": 1.5,
            "accelerationMax": 1.0,
            "decelerationMax": 1.0,
            "heightMax": 0.4,
            "width": 0.5,
            "length": 0.6,
        },
        "protocolLimits": {
            "maxStringLens": {"msgLen": 1000, "idNumericalOnly": False},
            "maxArrayLens": {"order.nodes": 50},
            "timing": {"minOrderInterval": 0.1, "minStateInterval": 0.1, "defaultStateInterval": 1.0},
        },
        "protocolFeatures": {
            "optionalParameters": [{"parameter": "order.nodes.nodePosition", "support": "SUPPORTED"}],
            "agvActions": [
                {
                    "actionType": "pick",
                    "actionScopes": ["NODE"],
                    "actionParameters": [{"key": "loadId", "valueDataType": "STRING", "isOptional": True}],
                }
            ],
        },
        "agvGeometry": {
            "envelopes2d": [
                {"set": "default", "polygonPoints": [{"x": 0.3, "y": 0.25}, {"x": -0.3, "y": 0.25}]}
            ]
        },
        "loadSpecification": {
            "loadPositions": ["deck"],
            "loadSets": [{"setName": "tote", "loadType": "tote", "maxWeigth": 30.0}],
        },
    }


def vda_order() -> JSON:
    """A VDA 5050 order as the master sends it (base and horizon, a pick action)."""
    path = [("A", 0.0, 0.0), ("B", 3.0, 4.0), ("C", 3.0, 10.0)]
    order = build_order(
        manufacturer="acme", serial="r1", order_id="o1", order_update_id=0, path=path, header_id=7, now=NOW
    )
    return to_json(order)


def vda_instant_actions() -> JSON:
    """A VDA 5050 instantActions message (both the 2.0 and the 1.1 list names)."""
    msg = instant_actions(
        manufacturer="acme", serial="r1", actions=["startPause", "cancelOrder"], header_id=9, now=NOW
    )
    return to_json(msg)


def order_bundle() -> JSON:
    """An order with its payment and waybill, as the order feed publishes it."""
    order = {
        "order_no": "EO2024031000000001",
        "ebp_code": "4601000001",
        "ebc_code": "4601000002",
        "goods_value_fen": 19800,
        "freight_fen": 1000,
        "discount_fen": 0,
        "tax_total_fen": 1802,
        "actural_paid_fen": 22602,
        "buyer_reg_no": "U1",
        "buyer_name": "张三",
        "buyer_phone": "13800000000",
        "buyer_id_type": 1,
        "buyer_id_number": "110101199001011234",
        "pay_code": "4403169D3W",
        "pay_transaction_id": "P2024031000000001",
        "consignee": "张三",
        "consignee_phone": "13800000000",
        "consignee_address": "浙江省杭州市西湖区文三路1号",
        "lines": [
            {"gnum": 1, "sku": "SKU001", "name": "面霜", "qty": 2, "price_fen": 9900, "total_fen": 19800}
        ],
    }
    payment = {
        "pay_code": "4403169D3W",
        "pay_transaction_id": "P2024031000000001",
        "order_no": "EO2024031000000001",
        "payer_id_type": 1,
        "payer_id_number": "110101199001011234",
        "payer_name": "张三",
        "amount_paid_fen": 22602,
        "pay_time": "20240310120000",
    }
    waybill = {
        "carrier": "SF",
        "logistics_no": "SF1000000001",
        "order_no": "EO2024031000000001",
        "freight_fen": 1000,
        "insured_fee_fen": 0,
        "weight_kg": 0.8,
        "consignee": "张三",
        "consignee_phone": "13800000000",
        "consignee_address": "浙江省杭州市西湖区文三路1号",
        "route": "east",
    }
    return {"order": order, "payment": payment, "waybill": waybill}


SKU = Sku(
    sku="SKU001",
    name="面霜 50ml",
    hs_code="3304990099",
    category="cosmetics",
    unit_value_fen=9900,
    weight_kg=0.3,
    volume_l=0.2,
)

MESSAGES: dict[str, list[JSON]] = {
    "LotReceipt": [
        {
            "lot": "L1",
            "sku": "SKU001",
            "qty": 100,
            "entry_no": "460120240000001",
            "account_book": "T4601W000001",
            "expiry": "2026-01-31",
        }
    ],
    "OrderBundle": [order_bundle(), {"order": order_bundle()["order"]}],
    "ConveyorEvent": [
        {"cmd_id": "c1", "parcel": "EO1", "kind": "packed", "location": "pack-1", "weight_kg": 0.8},
        {"cmd_id": "c2", "parcel": "EO1", "kind": "arrived", "location": "induct-1"},
    ],
    "XrayResult": [
        {"parcel": "EO1", "lane": 0, "verdict": "clear", "image_id": "img-1"},
        {
            "parcel": "EO1",
            "lane": 1,
            "verdict": "suspect",
            "image_id": "img-2",
            "items": [{"sku": "SKU001", "qty": 2}],
            "weight_kg": 1.25,
        },
    ],
    "ManualCheckCmd": [
        {
            "parcel": "EO1",
            "reasons": "SAMPLED: random manual check",
            "declared": [{"sku": "SKU001", "qty": 1}],
        }
    ],
    "ManualCheckResult": [
        {"parcel": "EO1", "verdict": "release", "officer": "officer-1"},
        {"parcel": "EO1", "verdict": "reject", "officer": "officer-2", "finding": "not the declared goods"},
    ],
    "ReturnNotice": [
        {"return_no": "RT-1", "order_no": "EO1"},
        {"return_no": "RT-2", "order_no": "EO1", "lines": [{"sku": "SKU001", "qty": 1}], "restock": False},
    ],
    "StockAdjustment": [{"adjustment_no": "ADJ-1", "lot": "L1", "qty": -2, "reason": "cycle count"}],
    "StockResult": [{"ref": "RT-1", "kind": "return", "accepted": True, "detail": "1 units back in stock"}],
    "ControlCmd": [{"command": "estop", "operator": "console"}, {"command": "resume"}],
    "Ack": [{"kind": "order", "ref": "EO1"}],
    "ConveyorCmd": [
        {"cmd_id": "c1", "parcel": "EO1", "kind": "pack", "origin": "a", "destination": "b", "seconds": 2.5}
    ],
    "XrayCmd": [
        {"parcel": "EO1", "lane": 1},
        {"parcel": "EO1", "lane": 0, "declared": [{"sku": "SKU001", "qty": 2, "unit_kg": 0.6}]},
    ],
    "Alarm": [{"ts": NOW, "severity": "warning", "source": "robots", "message": "low battery"}],
    "Status": [
        {
            "ts": NOW,
            "partition": "site1",
            "started": NOW - 60,
            "by_state": {"received": 3},
            "throughput_per_h": {"picked": 120.0},
            "robots": [
                {"serial": "pick-01", "kind": "picking", "state": "busy", "battery_pct": 80.0, "task": "t1"}
            ],
            "at_risk": [{"order_no": "EO1", "state": "picking", "age_s": 80000.0}],
            "alarms": [{"ts": NOW, "severity": "info", "source": "x", "message": "m"}],
            "next_cutoffs": {"SF": "18:00"},
        }
    ],
}


def _bundle() -> OrderBundle:
    """The sample order bundle as a model."""
    return OrderBundle.model_validate(order_bundle())


@functools.cache
def ceb_documents() -> dict[str, list[bytes]]:
    """Valid CEB311/411/511 messages: written by our writers, plus the official samples when present."""
    b = _bundle()
    assert b.payment is not None and b.waybill is not None
    out = {
        "CEB311": [ceb311([b.order], {SKU.sku: SKU}, now=NOW)],
        "CEB411": [ceb411([b.payment], now=NOW, ebp_code=b.order.ebp_code)],
        "CEB511": [ceb511([b.waybill], now=NOW)],
    }
    for kind, docs in official_samples().items():
        out.setdefault(kind, []).extend(docs)
    return out


def _receipt(kind: str, element: str, keys: str) -> bytes:
    """A receipt message with one document (returnStatus 120, entered into the customs system)."""
    status = (
        "<returnStatus>120</returnStatus><returnTime>20240310120000123</returnTime>"
        "<returnInfo>[Code:2600;Desc:放行]</returnInfo>"
    )
    body = f"<{element}><guid>4CB6F9C2-7B2E-4C8A-9C23-0F7C8A1B2C3D</guid>{keys}{status}</{element}>"
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><{kind}Message xmlns="{NS}">{body}</{kind}Message>'.encode()
    )


@functools.cache
def receipts() -> list[bytes]:
    """Valid CEB312/412/512/622 receipts, handcrafted, plus the official samples when present."""
    out = [
        _receipt("CEB312", "OrderReturn", "<ebpCode>E</ebpCode><ebcCode>C</ebcCode><orderNo>EO1</orderNo>"),
        _receipt("CEB412", "PaymentReturn", "<payCode>P</payCode><payTransactionId>T1</payTransactionId>"),
        _receipt(
            "CEB512", "LogisticsReturn", "<logisticsCode>SF</logisticsCode><logisticsNo>L1</logisticsNo>"
        ),
        _receipt("CEB622", "InventoryReturn", "<copNo>C1</copNo><preNo>B1</preNo><invtNo>I1</invtNo>"),
    ]
    for kind in ("CEB312", "CEB412", "CEB512", "CEB622"):
        out.extend(official_samples().get(kind, []))
    return out


@functools.cache
def official_samples() -> dict[str, list[bytes]]:
    """The official CEB 202205 sample messages by kind, read from beside the repository (none if absent)."""
    if not CEB_SAMPLES.is_dir():
        return {}
    out: dict[str, list[bytes]] = {}
    for path in sorted(CEB_SAMPLES.glob("CEB*Message.xml")):
        out.setdefault(path.name[:6], []).append(path.read_bytes())
    return out


def docs_jsonl() -> list[JSON]:
    """docs.jsonl lines (official field names) for ``wms inspect``."""
    full = bundle_to_json(_bundle())
    return [full, {"order": full["order"]}]


@functools.cache
def toml_docs() -> dict[str, JSON]:
    """The shipped configuration files and a picking layout, as parsed TOML."""
    out = {
        name: tomllib.loads((CONFIG_DIR / f"{name}.toml").read_text("utf-8"))
        for name in ("warehouse", "customs")
    }
    out["layout"] = {
        "aisles": 6,
        "aisle_length_m": 20.0,
        "aisle_pitch_m": 3.0,
        "cross_aisles": 3,
        "depot_aisle": 0,
    }
    return out


CSV: dict[str, list[list[str]]] = {
    "picks": [["aisle", "position_m"], ["0", "1.5"], ["3", "12"], ["5", "20"]],
    "orders": [
        ["order", "aisle", "position_m", "qty", "volume_l", "due"],
        ["o1", "0", "1.5", "1", "0.5", "3600"],
        ["o1", "2", "7", "2", "1", "3600"],
        ["o2", "4", "19.5", "1", "", ""],
    ],
    "skus": [
        ["sku", "velocity", "volume_l", "weight_kg", "zone", "hazard"],
        ["S1", "12.5", "0.4", "0.3", "bonded", "0"],
        ["S2", "3", "1.2", "2.0", "duty_paid", "1"],
    ],
    "slots": [
        ["slot", "zone", "volume_l", "max_kg", "hazard_ok", "level", "travel_m", "aisle"],
        ["A01-01-1", "bonded", "40", "30", "0", "0", "12.5", "A01"],
        ["A02-01-1", "duty_paid", "40", "30", "1", "1", "18", "A02"],
    ],
    "assignment": [["sku", "slot"], ["S1", "A01-01-1"], ["S2", "A02-01-1"]],
    "affinity": [["sku_a", "sku_b", "weight"], ["S1", "S2", "4.5"]],
    "catalog": [
        ["sku", "hs_code", "category", "unit_value_cny", "weight_kg", "volume_l", "name"],
        ["SKU001", "3304990099", "cosmetics", "99.00", "0.3", "0.2", "面霜"],
        ["SKU002", "1901101000", "infant_formula", "218.5", "0.9", "1.6", ""],
    ],
    "ytd": [
        ["buyerIdNumber", "released_cny"],
        ["110101199001011234", "1200.50"],
        ["110101199001011234", "3"],
    ],
}
