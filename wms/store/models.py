"""SQLModel tables. Parcel events and ledger entries are append-only; current state sits beside them."""

from __future__ import annotations

from sqlalchemy import Index
from sqlmodel import Field, SQLModel


class SkuRow(SQLModel, table=True):
    """A SKU of the bonded account book."""

    __tablename__ = "sku"
    sku: str = Field(primary_key=True)
    name: str
    hs_code: str
    category: str
    unit_value_fen: int
    weight_kg: float
    volume_l: float
    zone: str
    hazard: bool = False


class SlotRow(SQLModel, table=True):
    """A storage slot (pick face) and the SKU put away in it."""

    __tablename__ = "slot"
    slot: str = Field(primary_key=True)
    zone: str
    aisle: int
    bay: int
    level: int
    node: str
    volume_l: float
    max_kg: float
    hazard_ok: bool
    travel_m: float
    sku: str | None = Field(default=None, index=True)


class LotRow(SQLModel, table=True):
    """A bonded stock lot: what customs let in under one entry, and what of it is left."""

    __tablename__ = "lot"
    lot: str = Field(primary_key=True)
    sku: str = Field(index=True)
    slot: str | None = None
    entry_no: str
    account_book: str
    expiry: str
    qty_received: int
    qty_on_hand: int
    qty_allocated: int = 0
    received_at: float


class OrderRow(SQLModel, table=True):
    """A consumer order (CEB311) as received, with the carrier and route from its waybill.

    The last four columns are the gate's buyer history (`wms.control.history.DbHistory`), kept by the
    controller in the unit of work of the decision that changes them; they are NULL until then.
    """

    __tablename__ = "order_"
    __table_args__ = (
        Index("ix_order__buyer_at_gate", "buyer_id", "at_gate"),
        Index("ix_order__buyer_released_at", "buyer_id", "released_at"),
        Index("ix_order__address_key_buyer", "address_key", "buyer_id"),
    )
    order_no: str = Field(primary_key=True)
    order_type: str = "regular"
    buyer_id: str
    buyer_name: str
    consignee_address: str
    goods_value_fen: int
    tax_total_fen: int
    actural_paid_fen: int
    carrier: str = ""
    route: str = ""
    received_at: float
    document: str = Field(description="the order bundle as received (JSON)")
    at_gate: float | None = Field(default=None, description="when the gate first declared it")
    address_key: str | None = Field(
        default=None, description="its normalized delivery address, once declared (never for O2O)"
    )
    released_at: float | None = Field(default=None, description="when the gate released it")
    quota_fen: int | None = Field(
        default=None, description="goods value counted against the buyer's annual quota: less returns"
    )


class OrderLineRow(SQLModel, table=True):
    """One line of an order."""

    __tablename__ = "order_line"
    id: int | None = Field(default=None, primary_key=True)
    order_no: str = Field(index=True)
    gnum: int
    sku: str
    qty: int
    price_fen: int
    total_fen: int


class PaymentRow(SQLModel, table=True):
    """A payment declaration (CEB411)."""

    __tablename__ = "payment"
    pay_transaction_id: str = Field(primary_key=True)
    order_no: str = Field(index=True)
    pay_code: str
    payer_id_number: str
    payer_name: str
    amount_paid_fen: int


class WaybillRow(SQLModel, table=True):
    """A waybill declaration (CEB511)."""

    __tablename__ = "waybill"
    logistics_no: str = Field(primary_key=True)
    order_no: str = Field(index=True)
    carrier: str
    route: str
    freight_fen: int
    weight_kg: float


class AllocationRow(SQLModel, table=True):
    """Bonded stock reserved for an order line, first expiry first out."""

    __tablename__ = "allocation"
    id: int | None = Field(default=None, primary_key=True)
    order_no: str = Field(index=True)
    lot: str
    sku: str
    qty: int
    slot: str | None = None
    node: str = ""


class ParcelRow(SQLModel, table=True):
    """The parcel of one order: its current state and where it is."""

    __tablename__ = "parcel"
    order_no: str = Field(primary_key=True)
    state: str = Field(index=True)
    updated_at: float
    carrier: str = ""
    route: str = ""
    task_id: str | None = None
    induct: str | None = None
    chute: str | None = None
    bag: str | None = None
    lane: int | None = None
    manifest: str | None = None
    reason: str = ""
    done_at: float | None = None
    sampled: bool = False


class ParcelEvent(SQLModel, table=True):
    """One state change of a parcel, appended in the same transaction as the new state."""

    __tablename__ = "parcel_event"
    id: int | None = Field(default=None, primary_key=True)
    order_no: str = Field(index=True)
    ts: float
    from_state: str
    to_state: str
    detail: str = ""


class RobotRow(SQLModel, table=True):
    """A robot as the fleet manager last knew it."""

    __tablename__ = "robot"
    serial: str = Field(primary_key=True)
    manufacturer: str
    kind: str
    state: str
    battery_pct: float = 100.0
    node: str = ""
    last_seen: float = 0.0
    task_id: str | None = None


class TaskRow(SQLModel, table=True):
    """A unit of robot work: a pick trip, a sort move, a trip to a charger."""

    __tablename__ = "task"
    task_id: str = Field(primary_key=True)
    kind: str
    state: str = Field(index=True)
    robot: str | None = None
    orders: str = Field(default="", description="comma-separated order numbers")
    created_at: float
    assigned_at: float | None = None
    done_at: float | None = None
    travel_m: float = 0.0
    plan: str | None = Field(default=None, description="the VDA 5050 order being driven (JSON), to resume it")


class InspectionRow(SQLModel, table=True):
    """The gate's decision on one parcel, with its reasons."""

    __tablename__ = "inspection"
    id: int | None = Field(default=None, primary_key=True)
    order_no: str = Field(index=True)
    ts: float
    decision: str
    reasons: str = ""
    xray: str = ""
    lane: int | None = None
    sampled: bool = False


class DeclarationRow(SQLModel, table=True):
    """The CEB621 import inventory list written for a released order (unsigned until a signer signs it)."""

    __tablename__ = "declaration"
    order_no: str = Field(primary_key=True)
    ts: float
    ems_no: str
    xml: str
    signed: bool = False


class ReslotRow(SQLModel, table=True):
    """A nightly re-slot proposal for the engineers: moves within the budget and what they save."""

    __tablename__ = "reslot_proposal"
    id: int | None = Field(default=None, primary_key=True)
    ts: float
    moves: str = Field(description="JSON list of {sku, from, to, swap_with, saving_m_per_day}")
    saving_m_per_day: float
    full_saving_m_per_day: float


class ManifestRow(SQLModel, table=True):
    """A carrier departure and the parcels it took."""

    __tablename__ = "manifest"
    manifest_id: str = Field(primary_key=True)
    carrier: str
    departed_at: float
    parcels: int


class LedgerEntry(SQLModel, table=True):
    """One movement of the bonded ledger (append-only)."""

    __tablename__ = "ledger"
    id: int | None = Field(default=None, primary_key=True)
    ts: float
    lot: str = Field(index=True)
    sku: str
    kind: str
    qty: int
    ref: str = ""


class ReturnRow(SQLModel, table=True):
    """Units of a dispatched order a consumer returned into one lot; ``restocked`` once back on sale."""

    __tablename__ = "consumer_return"
    id: int | None = Field(default=None, primary_key=True)
    return_no: str = Field(index=True)
    order_no: str = Field(index=True)
    ts: float
    lot: str
    sku: str
    qty: int
    restocked: bool
    quota_restored_fen: int = 0


class AdjustmentRow(SQLModel, table=True):
    """A counted stock correction of one lot, with who-knows-why (its ledger entry carries the units)."""

    __tablename__ = "stock_adjustment"
    adjustment_no: str = Field(primary_key=True)
    ts: float
    lot: str = Field(index=True)
    qty: int
    reason: str


class AlarmRow(SQLModel, table=True):
    """An alarm raised for the operators (bad input, robot fault, SLA risk)."""

    __tablename__ = "alarm"
    id: int | None = Field(default=None, primary_key=True)
    ts: float
    severity: str
    source: str
    message: str


class CommandRow(SQLModel, table=True):
    """A command to a device (conveyor, X-ray) still awaiting its answer: re-sent after a restart."""

    __tablename__ = "pending_command"
    key: str = Field(primary_key=True)
    topic: str
    payload: str
    timeout_s: float
    sent_at: float


class BootRow(SQLModel, table=True):
    """One start of the controller on this database: numbers its identifiers apart from earlier starts."""

    __tablename__ = "boot"
    id: int | None = Field(default=None, primary_key=True)
    started_at: float
    resumed: bool = False
