"""Database side of the controller: every state change and its event or ledger entry in one transaction."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from functools import cache
from typing import Any

from sqlalchemy import bindparam, func
from sqlalchemy import select as core_select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql import ClauseElement
from sqlmodel import Session, SQLModel, col, select

from wms.domain import OPEN_STATES, TERMINAL_STATES, LedgerKind, LotReceipt, OrderBundle, ParcelState, Sku
from wms.reports import balance
from wms.store.models import (
    AdjustmentRow,
    AlarmRow,
    AllocationRow,
    BootRow,
    CommandRow,
    DeclarationRow,
    InspectionRow,
    LedgerEntry,
    LotRow,
    ManifestRow,
    OrderLineRow,
    OrderRow,
    ParcelEvent,
    ParcelRow,
    PaymentRow,
    ReslotRow,
    ReturnRow,
    RobotRow,
    SkuRow,
    SlotRow,
    TaskRow,
    WaybillRow,
)
from wms.store.statements import KEY, Statements

_KEY = bindparam("key")
_PAYMENT = core_select(PaymentRow.pay_transaction_id).where(PaymentRow.pay_transaction_id == _KEY)
_WAYBILL = core_select(WaybillRow.logistics_no).where(WaybillRow.logistics_no == _KEY)
_DOCUMENT = core_select(OrderRow.document).where(OrderRow.order_no == _KEY)
_ORDER_NO = core_select(OrderRow.order_no).where(OrderRow.order_no == _KEY)


def _clean(s: Session) -> bool:
    """Whether the session holds no new, deleted or modified objects to flush."""
    return not (s.new or s.deleted or s.identity_map.check_modified())


class Rec:
    """A live row as the controller last wrote it: its columns as plain attributes, no ORM state.

    Building a table model cost about 200 us under cProfile, and a change to one went through the ORM's
    attribute instrumentation; the controller holds thousands of these and changes them by statements
    only (`Repo._write`).
    """

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.__dict__.update(values)


def _rec(row: SQLModel) -> Rec:
    return Rec({c.name: getattr(row, c.name) for c in row.__table__.columns})  # type: ignore[attr-defined]


@cache
def _defaults(cls: type[SQLModel]) -> dict[str, Any]:
    """The model's default for every column that has one, as a new model object would take them."""
    factories = [name for name, f in cls.model_fields.items() if f.default_factory is not None]
    if factories:  # one value would be shared by every row
        raise TypeError(f"{cls.__name__}: default factories {factories}; a Rec row takes fixed defaults")
    return {name: f.default for name, f in cls.model_fields.items() if not f.is_required()}


class _Outer:
    """The outermost unit of work as a context manager object (cheaper than a generator's: units are many)."""

    __slots__ = ("repo",)

    def __init__(self, repo: Repo) -> None:
        self.repo = repo

    def __enter__(self) -> Session:
        return self.repo._begin()

    def __exit__(self, kind: type[BaseException] | None, exc: object, tb: object) -> None:
        self.repo._end(failed=kind is not None)


class _Joined:
    """A unit inside another: it runs in the outer one's transaction, which commits or rolls back."""

    __slots__ = ("repo",)

    def __init__(self, repo: Repo) -> None:
        self.repo = repo

    def __enter__(self) -> Session:
        return self.repo._work

    def __exit__(self, kind: type[BaseException] | None, exc: object, tb: object) -> None:
        return None


class Repo:
    """Transactions the controller needs; nothing here decides anything."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._unit: Session | None = None
        self._outer, self._joined = _Outer(self), _Joined(self)
        # One session for the controller's units: rows it loaded stay in its identity map between
        # transactions (weakly held, never expired: only this controller writes them), so a parcel read
        # in one event is not selected again in the next. On SQLite it keeps one connection for all of
        # them instead of taking one from the pool and giving it back per unit (a file on this machine:
        # no link to lose, which the pool's pre-ping guards against on PostgreSQL).
        self._conn: Connection | None = engine.connect() if engine.dialect.name == "sqlite" else None
        self._work = Session(self._conn or engine, expire_on_commit=False)
        # Rows of live things (open parcels and tasks, lots, robots, pending commands) held strongly, so
        # that the identity map keeps them between units; a row leaves when its thing closes.
        self._live: dict[tuple[type[SQLModel], str], Rec] = {}
        self._complete: set[type[SQLModel]] = set()  # every live row of these is held: a miss is "none"
        # Append-only rows (parcel events, ledger entries, order lines) go in with one executemany
        # per table at the end of their unit, in its transaction: no ORM bookkeeping per row.
        self._appends: dict[type[SQLModel], list[dict[str, object]]] = {}
        # Rows of the hot tables change through statements by primary key (`_write`), not the ORM's unit
        # of work: what is held of them is a plain `Rec`, which the session never sees. Those statements
        # and the inserts are compiled once per shape and run on the driver's cursor.
        self._sql = Statements(engine.dialect)
        self._conn_now: Connection | None = None  # the connection of the unit's transaction, once it began
        # The ledger summed by kind up to entry ``_ledger_upto``: a check reads only the entries added since.
        self._ledger_sums: Counter[str] = Counter()
        self._ledger_upto = 0
        self._prime()

    def _prime(self) -> None:
        """Hold every lot, robot, unfinished task and pending command: their misses need no query."""
        s = self._work
        unfinished = TaskRow.state.in_(["queued", "assigned", "failed"])  # type: ignore[attr-defined]
        with s.begin():
            for lot in s.exec(select(LotRow)).all():
                self._hold(LotRow, lot.lot, _rec(lot))
            for robot in s.exec(select(RobotRow)).all():
                self._hold(RobotRow, robot.serial, _rec(robot))
            for task in s.exec(select(TaskRow).where(unfinished)).all():
                self._hold(TaskRow, task.task_id, _rec(task))
            for command in s.exec(select(CommandRow)).all():
                self._hold(CommandRow, command.key, _rec(command))
        s.expunge_all()
        self._complete = {LotRow, RobotRow, TaskRow, CommandRow}

    def close(self) -> None:
        """Close the controller's session and the connection it keeps (SQLite)."""
        self._work.close()
        if self._conn is not None:
            self._conn.close()

    def session(self) -> Session:
        """A new session of its own (use as a context manager), e.g. for reports."""
        return Session(self.engine, expire_on_commit=False)

    def unit(self) -> AbstractContextManager[Session]:
        """One transaction for everything written inside; nested units join the outer one."""
        return self._outer if self._unit is None else self._joined

    def _begin(self) -> Session:
        self._unit = self._work
        return self._work

    def _end(self, failed: bool) -> None:
        """Commit the outermost unit; roll it back when it ``failed`` or its rows are refused."""
        s = self._work
        try:
            if failed:
                self._roll_back(s)
                return
            try:
                self._write_appends(s)
                if s.in_transaction() or not _clean(s):
                    s.commit()
                # else: the unit read and wrote nothing (e.g. a robot state that changed no row);
                # committing would only begin and end an empty session transaction.
            except BaseException:
                self._roll_back(s)
                raise
        finally:
            self._unit = None
            self._conn_now = None

    def _roll_back(self, s: Session) -> None:
        """Undo a failed unit, in the database and in what is held of it."""
        self._appends = {}
        s.rollback()
        s.expunge_all()  # rows the failed unit stored are gone: the next read loads from the database
        self._live.clear()  # rows added in the failed unit were never stored
        self._complete.clear()
        self._prime()

    def _tx(self, s: Session) -> Connection:
        """The connection of the unit's transaction (asked of the session once per unit: it costs)."""
        if self._conn_now is None:
            self._conn_now = s.connection()
        return self._conn_now

    def _write_appends(self, s: Session) -> None:
        """Write the unit's append-only rows: one Core executemany per table, after what the ORM holds."""
        appends, self._appends = self._appends, {}
        tables = [(cls, rows) for cls, rows in appends.items() if rows]
        if not tables:
            return
        s.flush()  # first what the ORM holds, as the autoflush of an ORM insert would
        conn = self._tx(s)
        for cls, rows in tables:
            self._sql.insert(conn, cls.__table__, rows)  # type: ignore[attr-defined]

    def _read(self, s: Session, stmt: ClauseElement, key: str) -> object:
        """The first column of the first row of a select by ``key`` (after a flush, as an ORM query)."""
        s.flush()  # what the unit holds pending first, as the autoflush of an ORM query would
        return self._sql.scalar(self._tx(s), stmt, {"key": key})

    def _get(self, s: Session, cls: type[SQLModel], key: str) -> Any:
        """A live row (`Rec`) by primary key, from memory if held, else loaded (and held); or None."""
        row = self._live.get((cls, key))
        if row is None and cls not in self._complete:
            row = self._load(s, cls, key)
            if row is not None:
                self._live[(cls, key)] = row
        return row

    def _load(self, s: Session, cls: type[SQLModel], key: str) -> Rec | None:
        """A row from the database as a `Rec` (the session keeps nothing of it)."""
        s.flush()
        row = s.get(cls, key, populate_existing=True)
        if row is None:
            return None
        s.expunge(row)
        return _rec(row)

    def _insert(self, s: Session, row: SQLModel) -> None:
        """Store a new row nobody holds by an INSERT now, from a model object."""
        table = type(row).__table__  # type: ignore[attr-defined]
        values = {c.name: getattr(row, c.name) for c in table.columns}
        values = {k: v for k, v in values.items() if v is not None or not table.c[k].primary_key}
        self._sql.insert(self._tx(s), table, [values])

    def _insert_rec(self, s: Session, cls: type[SQLModel], key: str | None, values: Mapping[str, Any]) -> Rec:
        """Store a new row by an INSERT now, from its values and the model's defaults; held under ``key``."""
        row = {**_defaults(cls), **values}
        self._sql.insert(self._tx(s), cls.__table__, [row])  # type: ignore[attr-defined]
        rec = Rec(row)
        if key is not None:
            self._hold(cls, key, rec)
        return rec

    def _insert_values(self, s: Session, cls: type[SQLModel], **values: object) -> None:
        """Store a new row nobody holds by an INSERT now, from its values: no model object is built."""
        self._sql.insert(self._tx(s), cls.__table__, [values])  # type: ignore[attr-defined]

    def _hold(self, cls: type[SQLModel], key: str, rec: Rec) -> None:
        self._live[(cls, key)] = rec

    def _append(self, cls: type[SQLModel], **values: object) -> None:
        """Queue an append-only row for the end of the current unit."""
        self._appends.setdefault(cls, []).append(values)

    def _forget(self, cls: type[SQLModel], key: str) -> None:
        self._live.pop((cls, key), None)

    def _upsert(self, s: Session, cls: type[SQLModel], key: str, values: Mapping[str, Any]) -> None:
        """Insert a row, or set every column of the stored one: to ``values``, else to the defaults."""
        old = self._get(s, cls, key)
        if old is None:
            self._insert_rec(s, cls, key, values)
        else:
            self._write(s, cls, old, {**_defaults(cls), **values})

    def _write(self, s: Session, cls: type[SQLModel], row: Rec, values: Mapping[str, Any]) -> None:
        """Change columns of a held row by an UPDATE now (only those whose value changes)."""
        changed = {name: value for name, value in values.items() if getattr(row, name) != value}
        if changed:
            self._update(s, cls, [(row, changed)])

    def _update(self, s: Session, cls: type[SQLModel], rows: list[tuple[Rec, dict[str, Any]]]) -> None:
        """UPDATE held rows of ``cls`` (one executemany when they change the same columns)."""
        table = cls.__table__  # type: ignore[attr-defined]
        key = table.primary_key.columns[0].name
        self._sql.update(self._tx(s), table, [{**values, KEY: getattr(row, key)} for row, values in rows])
        for row, values in rows:
            row.__dict__.update(values)

    # master data -----------------------------------------------------------------------------------

    def save_catalog(self, skus: Iterable[Sku], slots: Iterable[SlotRow]) -> None:
        """Register SKUs and the slots they were given (idempotent)."""
        with self.unit() as s:
            for sku in skus:
                s.merge(SkuRow(**sku.model_dump(mode="json")))
            for slot in slots:
                s.merge(slot)

    def receive_lot(self, lot: LotReceipt, slot: str | None, now: float) -> bool:
        """Book a lot into stock with its RECEIVED ledger entry; False if the lot was already booked."""
        with self.unit() as s:
            if self._get(s, LotRow, lot.lot) is not None:
                return False
            self._insert_rec(
                s,
                LotRow,
                lot.lot,
                {
                    "lot": lot.lot,
                    "sku": lot.sku,
                    "slot": slot,
                    "entry_no": lot.entry_no,
                    "account_book": lot.account_book,
                    "expiry": lot.expiry,
                    "qty_received": lot.qty,
                    "qty_on_hand": lot.qty,
                    "received_at": now,
                },
            )
            self._append(
                LedgerEntry,
                ts=now,
                lot=lot.lot,
                sku=lot.sku,
                kind=LedgerKind.RECEIVED,
                qty=lot.qty,
                ref=lot.entry_no,
            )
        return True

    # orders and parcels ----------------------------------------------------------------------------

    def record_order(
        self,
        bundle: OrderBundle,
        state: ParcelState,
        now: float,
        reason: str = "",
        allocations: list[tuple[str, str, int, str | None, str]] | None = None,
    ) -> None:
        """Store an order with its documents, its parcel, the first event and any stock reservation."""
        o, p, w = bundle.order, bundle.payment, bundle.waybill
        with self.unit() as s:
            # documents stored before under the same number are kept (checked before anything is added)
            new_payment = p is not None and self._read(s, _PAYMENT, p.pay_transaction_id) is None
            new_waybill = w is not None and self._read(s, _WAYBILL, w.logistics_no) is None
            self._insert_values(
                s,
                OrderRow,
                order_no=o.order_no,
                order_type=o.order_type,
                buyer_id=o.buyer_id_number,
                buyer_name=o.buyer_name,
                consignee_address=o.consignee_address,
                goods_value_fen=o.goods_value_fen,
                tax_total_fen=o.tax_total_fen,
                actural_paid_fen=o.actural_paid_fen,
                carrier=w.carrier if w else "",
                route=w.route if w else "",
                received_at=now,
                document=bundle.model_dump_json(),
            )
            for line in o.lines:
                self._append(
                    OrderLineRow,
                    order_no=o.order_no,
                    gnum=line.gnum,
                    sku=line.sku,
                    qty=line.qty,
                    price_fen=line.price_fen,
                    total_fen=line.total_fen,
                )
            if p is not None and new_payment:
                self._insert_values(
                    s,
                    PaymentRow,
                    pay_transaction_id=p.pay_transaction_id,
                    order_no=p.order_no,
                    pay_code=p.pay_code,
                    payer_id_number=p.payer_id_number,
                    payer_name=p.payer_name,
                    amount_paid_fen=p.amount_paid_fen,
                )
            if w is not None and new_waybill:
                self._insert_values(
                    s,
                    WaybillRow,
                    logistics_no=w.logistics_no,
                    order_no=w.order_no,
                    carrier=w.carrier,
                    route=w.route,
                    freight_fen=w.freight_fen,
                    weight_kg=w.weight_kg,
                )
            done = now if state == ParcelState.REJECTED else None
            parcel = {
                "order_no": o.order_no,
                "state": state,
                "updated_at": now,
                "carrier": w.carrier if w else "",
                "route": w.route if w else "",
                "reason": reason,
                "done_at": done,
            }
            self._insert_rec(s, ParcelRow, None if state in TERMINAL_STATES else o.order_no, parcel)
            self._append(
                ParcelEvent, order_no=o.order_no, ts=now, from_state="", to_state=state, detail=reason
            )
            for lot, sku, qty, slot, node in allocations or []:
                self._insert_values(
                    s, AllocationRow, order_no=o.order_no, lot=lot, sku=sku, qty=qty, slot=slot, node=node
                )
                row = self._get(s, LotRow, lot)
                assert row is not None, f"allocation from unknown lot {lot}"
                self._write(s, LotRow, row, {"qty_allocated": row.qty_allocated + qty})

    def order_document(self, order_no: str) -> str | None:
        """The order as received (its three documents as JSON), or None if it never arrived."""
        with self.unit() as s:
            return self._read(s, _DOCUMENT, order_no)  # type: ignore[return-value]

    def has_order(self, order_no: str) -> bool:
        """Whether an order with this number arrived (open or closed), without reading its documents."""
        with self.unit() as s:
            return self._read(s, _ORDER_NO, order_no) is not None

    def transition(
        self, order_nos: Iterable[str], to: ParcelState, now: float, detail: str = "", **fields: object
    ) -> None:
        """Move parcels to a new state, appending one event each, in one transaction."""
        with self.unit() as s:
            self._transition(s, order_nos, to, now, detail, fields)

    def _transition(
        self,
        s: Session,
        order_nos: Iterable[str],
        to: ParcelState,
        now: float,
        detail: str,
        fields: dict[str, object],
    ) -> None:
        stored: list[tuple[Rec, dict[str, object]]] = []
        for order_no in order_nos:
            row = self._get(s, ParcelRow, order_no)
            if row is None:
                raise KeyError(f"no parcel for order {order_no}")
            if to in TERMINAL_STATES:
                self._forget(ParcelRow, order_no)
            self._append(
                ParcelEvent, order_no=order_no, ts=now, from_state=row.state, to_state=to, detail=detail
            )
            stored.append((row, {"state": to, "updated_at": now, **fields}))
        if stored:  # the same columns for every parcel: one executemany
            self._update(s, ParcelRow, stored)

    def note(self, order_no: str, now: float, detail: str) -> None:
        """Append an event that changes no state (e.g. a customs receipt) to a parcel's history."""
        with self.unit() as s:
            # a closed parcel is read, not held again
            row = self._live.get((ParcelRow, order_no)) or self._load(s, ParcelRow, order_no)
            if row is None:
                raise KeyError(f"no parcel for order {order_no}")
            self._append(
                ParcelEvent,
                order_no=order_no,
                ts=now,
                from_state=row.state,
                to_state=row.state,
                detail=detail,
            )

    def close_out(
        self, order_no: str, to: ParcelState, now: float, kind: LedgerKind | None, reason: str
    ) -> None:
        """End a parcel: HELD takes its goods off the shelf with ledger entries, REJECTED restocks them."""
        with self.unit() as s:
            for alloc in s.exec(select(AllocationRow).where(AllocationRow.order_no == order_no)).all():
                lot = self._get(s, LotRow, alloc.lot)
                assert lot is not None
                change: dict[str, object] = {"qty_allocated": lot.qty_allocated - alloc.qty}
                if kind is not None:
                    change["qty_on_hand"] = lot.qty_on_hand - alloc.qty
                self._write(s, LotRow, lot, change)
                self._append(
                    LedgerEntry,
                    ts=now,
                    lot=alloc.lot,
                    sku=alloc.sku,
                    kind=kind if kind is not None else LedgerKind.REJECTED,
                    qty=alloc.qty,
                    ref=order_no,
                )
            self._transition(s, [order_no], to, now, reason, {"reason": reason, "done_at": now})

    def dispatch(self, manifest_id: str, carrier: str, order_nos: list[str], now: float) -> None:
        """Close a carrier manifest: every parcel dispatched and its goods released from the ledger."""
        with self.unit() as s:
            self._insert(
                s,
                ManifestRow(
                    manifest_id=manifest_id, carrier=carrier, departed_at=now, parcels=len(order_nos)
                ),
            )
            allocs = s.exec(select(AllocationRow).where(AllocationRow.order_no.in_(order_nos))).all()  # type: ignore[attr-defined]
            for alloc in allocs:
                lot = self._get(s, LotRow, alloc.lot)
                assert lot is not None
                self._write(
                    s,
                    LotRow,
                    lot,
                    {
                        "qty_allocated": lot.qty_allocated - alloc.qty,
                        "qty_on_hand": lot.qty_on_hand - alloc.qty,
                    },
                )
                self._append(
                    LedgerEntry,
                    ts=now,
                    lot=alloc.lot,
                    sku=alloc.sku,
                    kind=LedgerKind.RELEASED,
                    qty=alloc.qty,
                    ref=alloc.order_no,
                )
            self._transition(
                s,
                order_nos,
                ParcelState.DISPATCHED,
                now,
                manifest_id,
                {"manifest": manifest_id, "done_at": now},
            )

    # stock movements after dispatch -----------------------------------------------------------------

    def released_units(self, order_no: str) -> tuple[str | None, float | None, list[tuple[str, str, int]]]:
        """An order's parcel state, when it closed, and the ``(lot, sku, qty)`` it took from stock."""
        with self.session() as s:
            row = s.get(ParcelRow, order_no)
            allocs = s.exec(select(AllocationRow).where(AllocationRow.order_no == order_no)).all()
            return (
                row.state if row else None,
                row.done_at if row else None,
                [(a.lot, a.sku, a.qty) for a in allocs],
            )

    def returns_of(self, order_no: str) -> list[ReturnRow]:
        """Every unit booked back from this order's earlier returns."""
        with self.session() as s:
            return list(s.exec(select(ReturnRow).where(ReturnRow.order_no == order_no)).all())

    def return_rows(self, return_no: str) -> list[ReturnRow]:
        """The rows one return booked (empty if it is new)."""
        with self.session() as s:
            return list(s.exec(select(ReturnRow).where(ReturnRow.return_no == return_no)).all())

    def book_return(
        self,
        return_no: str,
        order_no: str,
        units: list[tuple[str, str, int]],
        restock: bool,
        quota_fen: int,
        now: float,
    ) -> None:
        """Consumer-returned units back into bond: the returns area, or sellable stock with ``restock``."""
        with self.unit() as s:
            for k, (lot_id, sku, qty) in enumerate(units):
                s.add(
                    ReturnRow(
                        return_no=return_no,
                        order_no=order_no,
                        ts=now,
                        lot=lot_id,
                        sku=sku,
                        qty=qty,
                        restocked=restock,
                        quota_restored_fen=quota_fen if k == 0 else 0,
                    )
                )
                self._append(
                    LedgerEntry, ts=now, lot=lot_id, sku=sku, kind=LedgerKind.RETURNED, qty=qty, ref=return_no
                )
                if restock:
                    self._move_stock(s, lot_id, qty, LedgerKind.RESTOCKED, return_no, now)
            where = "back in stock" if restock else "in the returns area"
            n = sum(q for _, _, q in units)
            self.note(order_no, now, f"return {return_no}: {n} units {where}")

    def restock_return(self, return_no: str, now: float) -> list[tuple[str, str, int]]:
        """Put what a return left in the returns area back on sale; the ``(lot, sku, qty)`` restocked."""
        with self.unit() as s:
            rows = s.exec(
                select(ReturnRow).where(ReturnRow.return_no == return_no, ReturnRow.restocked.is_(False))  # type: ignore[attr-defined]
            ).all()
            for row in rows:
                row.restocked = True
                s.add(row)
                self._move_stock(s, row.lot, row.qty, LedgerKind.RESTOCKED, return_no, now)
            if rows:
                self.note(
                    rows[0].order_no, now, f"return {return_no}: {sum(r.qty for r in rows)} units restocked"
                )
            return [(r.lot, r.sku, r.qty) for r in rows]

    def _move_stock(self, s: Session, lot_id: str, qty: int, kind: LedgerKind, ref: str, now: float) -> None:
        """Change a lot's stock on hand by ``qty`` (signed) with the ledger entry that says why."""
        lot = self._get(s, LotRow, lot_id)
        if lot is None:
            raise KeyError(f"no lot {lot_id}")
        self._write(s, LotRow, lot, {"qty_on_hand": lot.qty_on_hand + qty})
        self._append(LedgerEntry, ts=now, lot=lot_id, sku=lot.sku, kind=kind, qty=qty, ref=ref)

    def adjustment(self, adjustment_no: str) -> AdjustmentRow | None:
        """A stock adjustment already booked under this number."""
        with self.session() as s:
            return s.get(AdjustmentRow, adjustment_no)

    def adjust(self, adjustment_no: str, lot_id: str, qty: int, reason: str, now: float) -> None:
        """Book a counted correction: the lot's stock and a signed ADJUSTED ledger entry."""
        with self.unit() as s:
            self._move_stock(s, lot_id, qty, LedgerKind.ADJUSTED, adjustment_no, now)
            s.add(AdjustmentRow(adjustment_no=adjustment_no, ts=now, lot=lot_id, qty=qty, reason=reason))

    def propose_reslot(self, row: ReslotRow) -> None:
        """Store a re-slot proposal."""
        with self.unit() as s:
            s.add(row)

    def declare(self, order_no: str, ts: float, ems_no: str, xml: str) -> None:
        """Store an inventory list (by its values: no row object is built, one per parcel)."""
        with self.unit() as s:
            self._insert_values(
                s, DeclarationRow, order_no=order_no, ts=ts, ems_no=ems_no, xml=xml, signed=False
            )

    def inspection(
        self,
        order_no: str,
        ts: float,
        decision: str,
        reasons: str = "",
        xray: str = "",
        lane: int | None = None,
        sampled: bool = False,
    ) -> None:
        """Record a gate decision (appended with the unit's other rows)."""
        with self.unit():
            self._append(
                InspectionRow,
                order_no=order_no,
                ts=ts,
                decision=decision,
                reasons=reasons,
                xray=xray,
                lane=lane,
                sampled=sampled,
            )

    # robots, tasks, alarms -------------------------------------------------------------------------

    def upsert_robot(self, serial: str, **values: object) -> None:
        """Keep the fleet table current: a robot's columns by name (no row object for a known robot)."""
        with self.unit() as s:
            old = self._get(s, RobotRow, serial)
            if old is None:
                self._insert_rec(s, RobotRow, serial, {"serial": serial, **values})
            else:
                self._write(s, RobotRow, old, values)

    def upsert_task(self, task_id: str, **values: object) -> None:
        """Create or update a task: its columns by name; those not named take their defaults."""
        with self.unit() as s:
            self._upsert(s, TaskRow, task_id, {"task_id": task_id, **values})

    def save_plan(self, task_id: str, kind: str, robot: str, plan: str, now: float) -> None:
        """Keep the VDA 5050 order a robot is driving for a task, so a restarted controller resumes it."""
        with self.unit() as s:
            row = self._get(s, TaskRow, task_id)
            values: dict[str, object] = {"state": "assigned", "robot": robot, "plan": plan}
            if row is None:
                new = {"task_id": task_id, "kind": kind, "created_at": now, "assigned_at": now, **values}
                self._insert_rec(s, TaskRow, task_id, new)
            else:
                self._write(s, TaskRow, row, {**values, "assigned_at": row.assigned_at or now})

    def finish_task(self, task_id: str, kind: str, state: str, robot: str, now: float) -> None:
        """Mark a task done or failed, keeping what was recorded when it was created."""
        with self.unit() as s:
            row = self._get(s, TaskRow, task_id) or self._load(s, TaskRow, task_id)  # or finished before
            values: dict[str, object] = {"state": state, "robot": robot, "done_at": now}
            if row is None:
                row = self._insert_rec(
                    s, TaskRow, None, {"task_id": task_id, "kind": kind, "created_at": now, **values}
                )
            else:
                self._write(s, TaskRow, row, values)
            if state == "done":  # a failed task is queued again under its id
                self._forget(TaskRow, task_id)
            else:
                self._hold(TaskRow, task_id, row)

    def expect_command(self, key: str, topic: str, payload: str, timeout_s: float, now: float) -> None:
        """Remember a device command until its answer arrives."""
        with self.unit() as s:
            values = {"key": key, "topic": topic, "payload": payload, "timeout_s": timeout_s, "sent_at": now}
            self._upsert(s, CommandRow, key, values)

    def command_done(self, key: str) -> None:
        """The device answered: forget the command."""
        with self.unit() as s:
            row = self._get(s, CommandRow, key)
            self._forget(CommandRow, key)
            if row is not None:  # gone: a command sent again under this key is a new row
                self._sql.delete(self._tx(s), CommandRow.__table__, key)  # type: ignore[attr-defined]

    def boot(self, now: float, resumed: bool) -> int:
        """Record a start of the controller; return how many starts came before it."""
        with self.unit() as s:
            n = s.exec(select(func.count()).select_from(BootRow)).one()
            s.add(BootRow(started_at=now, resumed=resumed))
            return int(n)

    def has_state(self) -> bool:
        """Whether an earlier run left stock or parcels in this database."""
        with self.session() as s:
            return s.exec(select(LotRow.lot).limit(1)).first() is not None or (
                s.exec(select(ParcelRow.order_no).limit(1)).first() is not None
            )

    def alarm(self, row: AlarmRow) -> None:
        """Append an alarm."""
        with self.unit() as s:
            self._insert(s, row)

    # checks ----------------------------------------------------------------------------------------

    def ledger_check(self, whole: bool = False) -> dict[str, int | bool]:
        """Received (+ adjusted) = in stock + released + returned + held, from the ledger against the lots.

        The ledger only grows, and a check runs every few minutes all day: it adds the entries written since
        the last check to the sums it kept, instead of summing the whole ledger each time. Before it says
        the ledger does not balance, it sums the whole ledger again (on PostgreSQL a writer may commit an
        entry numbered below one already summed); ``whole`` sums it all at once (an end-of-day report).
        """
        summed_before = self._ledger_upto > 0 and not whole
        if whole:
            self._ledger_sums.clear()
            self._ledger_upto = 0
        result = self._ledger_check()
        if summed_before and not result["balanced"]:
            self._ledger_sums.clear()
            self._ledger_upto = 0
            result = self._ledger_check()
        return result

    def _ledger_check(self) -> dict[str, int | bool]:
        """`ledger_check` with the entries after ``_ledger_upto`` added to the kept sums."""
        sums, upto = self._ledger_sums.copy(), self._ledger_upto
        entry_id = col(LedgerEntry.id)
        with self.session() as s:
            added = s.exec(
                select(LedgerEntry.kind, func.sum(LedgerEntry.qty), func.max(entry_id))
                .where(entry_id > upto)
                .group_by(LedgerEntry.kind)
            ).all()
            for kind, qty, last in added:
                sums[kind] += int(qty or 0)
                upto = max(upto, int(last))
            on_hand = s.exec(select(func.sum(LotRow.qty_on_hand))).one() or 0
            allocated_lots = s.exec(select(func.sum(LotRow.qty_allocated))).one() or 0
            # the open parcels' allocations, found through the parcels' state index: a day's closed
            # parcels (hundreds of thousands) are not read on every check
            reserved = (
                s.exec(
                    select(func.sum(AllocationRow.qty))
                    .join(ParcelRow, ParcelRow.order_no == AllocationRow.order_no)  # type: ignore[arg-type]
                    .where(ParcelRow.state.in_(sorted(OPEN_STATES)))  # type: ignore[attr-defined]
                ).one()
                or 0
            )
        self._ledger_sums, self._ledger_upto = sums, upto
        b = balance(dict(sums), int(on_hand))
        reservations_ok = int(allocated_lots) == int(reserved)
        return {
            "received": b.received,
            "adjusted": b.adjusted,
            "in_stock": b.in_stock,
            "released": b.released,
            "returned": b.returned,
            "held": b.held,
            "balanced": b.difference == 0 and reservations_ok,
        }

    def parcel_states(self) -> dict[str, int]:
        """Number of parcels in each state."""
        with self.session() as s:
            return dict(s.exec(select(ParcelRow.state, func.count()).group_by(ParcelRow.state)).all())
