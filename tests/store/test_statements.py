"""Hot statements compiled once and run on the driver's cursor: same rows, same transaction, as Core."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.types import TypeDecorator

from wms.store.db import connect
from wms.store.statements import KEY, Statements


class Upper(TypeDecorator[str]):
    """A column type with a bind processor, which the driver alone would not apply."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: object) -> str | None:
        return None if value is None else value.upper()

    def process_result_value(self, value: str | None, dialect: object) -> str | None:
        return None if value is None else f"<{value}>"


def _table(name: str) -> tuple[MetaData, Table]:
    md = MetaData()
    table = Table(
        name,
        md,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("name", Upper, nullable=False),
        Column("qty", Integer),
        Column("note", String),
    )
    return md, table


def _exercise(engine: Engine) -> None:
    md, table = _table(f"stmt_{uuid.uuid4().hex[:8]}")
    md.create_all(engine)
    try:
        sql = Statements(engine.dialect)
        with engine.begin() as conn:  # rows of two shapes, interleaved: stored in the order given
            sql.insert(
                conn,
                table,
                [
                    {"name": "a", "qty": 1},
                    {"name": "b", "qty": 2, "note": "x"},
                    {"name": "c", "qty": 3},
                    {"name": "d", "qty": 4},
                ],
            )
        with engine.connect() as conn:
            rows = conn.execute(select(table).order_by(table.c.id)).all()
        assert [(r.name, r.qty, r.note) for r in rows] == [
            ("<A>", 1, None),
            ("<B>", 2, "x"),
            ("<C>", 3, None),
            ("<D>", 4, None),
        ]
        ids = [r.id for r in rows]
        with engine.begin() as conn:
            sql.update(  # rows that set different columns, in order
                conn,
                table,
                [
                    {"qty": 10, "name": "e", KEY: ids[0]},
                    {"qty": 20, KEY: ids[1]},
                    {"qty": 21, "name": "f", KEY: ids[1]},
                ],
            )
            sql.delete(conn, table, ids[2])
        with pytest.raises(RuntimeError), engine.begin() as conn:  # they join the connection's transaction
            sql.update(conn, table, [{"qty": 99, KEY: ids[3]}])
            sql.delete(conn, table, ids[0])
            raise RuntimeError("rolled back")
        with engine.connect() as conn:
            rows = conn.execute(select(table).order_by(table.c.id)).all()
        assert [(r.name, r.qty) for r in rows] == [("<E>", 10), ("<F>", 21), ("<D>", 4)]
        # fixed statements: a bind the statement carries (the coalesce's 0), result and bind processors
        total = select(func.coalesce(func.sum(table.c.qty), 0)).where(table.c.qty > bindparam("above"))
        name = select(table.c.name).where(table.c.name == bindparam("name"))
        lower = update(table).where(table.c.qty >= bindparam("least")).values(qty=table.c.qty - 1)
        with engine.begin() as conn:
            assert sql.scalar(conn, total, {"above": 100}) == 0
            assert sql.scalar(conn, total, {"above": 5}) == 31
            assert sql.scalar(conn, name, {"name": "f"}) == "<F>"
            assert sql.scalar(conn, name, {"name": "zz"}) is None
            assert sql.execute(conn, lower, {"least": 10}) == 2
            assert sql.scalar(conn, total, {"above": 0}) == 9 + 20 + 4
        assert len(sql._fixed) == 3
        # one compiled form per shape: two inserts, two updates, one delete
        assert sorted((kind, keys) for kind, _, keys in sql._cache) == [
            ("delete", ()),
            ("insert", ("name", "qty")),
            ("insert", ("name", "qty", "note")),
            ("update", ("qty",)),
            ("update", ("qty", "name")),
        ]
    finally:
        md.drop_all(engine)


def test_statements_on_sqlite(tmp_path: Path) -> None:
    _exercise(connect(f"sqlite:///{tmp_path / 's.db'}"))


def test_statements_on_postgresql(pg_url: str) -> None:
    _exercise(connect(pg_url))
