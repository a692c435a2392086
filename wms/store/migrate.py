"""Bring a database written by earlier code up to the tables of `wms.store.models`, in place.

`SQLModel.metadata.create_all` creates missing tables with their indexes, but never touches a table that
exists. `upgrade` adds what later code added to existing tables: columns (every added column must be
nullable, so old rows stay valid) and indexes. It then fills the columns it added from what the database
already held. All of it runs in one transaction, so an interrupted upgrade leaves the database as it was.
"""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, case, func, inspect, select, text, update
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from wms.domain import ParcelState
from wms.inspection.rules import normalize_address


def upgrade(engine: Engine) -> dict[str, list[str]]:
    """Add missing columns and indexes to existing tables; the columns added, by table."""
    added: dict[str, list[str]] = {}
    quote = engine.dialect.identifier_preparer
    with engine.begin() as conn:
        insp = inspect(conn)
        columns, indexes = insp.get_multi_columns(), insp.get_multi_indexes()  # one query each where it can
        for table in SQLModel.metadata.sorted_tables:
            if (None, table.name) not in columns:
                continue
            have = {c["name"] for c in columns[(None, table.name)]}
            for col in table.columns:
                if col.name in have:
                    continue
                if not col.nullable or col.primary_key:
                    raise RuntimeError(
                        f"cannot add column {table.name}.{col.name} to existing rows: not nullable"
                    )
                name, kind = quote.format_column(col), col.type.compile(dialect=engine.dialect)
                conn.execute(text(f"ALTER TABLE {quote.format_table(table)} ADD COLUMN {name} {kind}"))
                added.setdefault(table.name, []).append(col.name)
            named = {i["name"] for i in indexes.get((None, table.name), [])}
            for index in table.indexes:
                if index.name not in named:
                    index.create(conn)
        if "at_gate" in added.get("order_", []):
            fill_gate_history(conn)
    return added


def fill_gate_history(conn: Connection) -> None:
    """The buyer-history columns of ``order_`` from the gate's events, the inventory lists and the returns.

    An order was declared when its parcel first reached the gate, released when its inventory list was
    written; its quota is its goods value less what returns within the window restored (the
    ``consumer_return`` rows). Only orders that are not O2O count at their delivery address.
    """
    t = SQLModel.metadata.tables
    order, event, declaration, ret = t["order_"], t["parcel_event"], t["declaration"], t["consumer_return"]
    at_gate = (
        select(func.min(event.c.ts))
        .where(event.c.order_no == order.c.order_no, event.c.to_state == ParcelState.AT_GATE.value)
        .scalar_subquery()
    )
    released = select(declaration.c.ts).where(declaration.c.order_no == order.c.order_no).scalar_subquery()
    conn.execute(update(order).values(at_gate=at_gate, released_at=released))
    restored = (
        select(func.coalesce(func.sum(ret.c.quota_restored_fen), 0))
        .where(ret.c.order_no == order.c.order_no)
        .scalar_subquery()
    )
    quota = case((restored >= order.c.goods_value_fen, 0), else_=order.c.goods_value_fen - restored)
    conn.execute(update(order).where(order.c.released_at.is_not(None)).values(quota_fen=quota))
    counted = conn.execute(
        select(order.c.order_no, order.c.consignee_address).where(
            order.c.at_gate.is_not(None), order.c.order_type != "o2o"
        )
    ).all()
    if counted:
        conn.execute(
            update(order).where(order.c.order_no == bindparam("no")).values(address_key=bindparam("key")),
            [{"no": no, "key": normalize_address(address)} for no, address in counted],
        )
