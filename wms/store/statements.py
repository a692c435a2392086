"""The controller's hot writes, compiled once per shape and run on the driver's cursor.

A Core ``execute`` spends most of its time outside the database on small statements: it builds a cache
key, looks the compiled form up, constructs the parameters and sets up a result (about 20 us on SQLite
and 90 us more than the driver itself on PostgreSQL, per statement on this machine). The controller
writes a few dozen such statements per order, always the same few shapes, so it compiles each shape once
for the engine's dialect and hands the driver the SQL and the processed values directly, inside the
transaction of the SQLAlchemy connection it is given.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, bindparam, delete, insert, update
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql import ClauseElement

KEY = "_key"  # the bind name of the primary key in statements by key


@dataclass(frozen=True)
class Prepared:
    """One statement shape: the dialect's SQL, its binds' order (positional styles) and processors."""

    sql: str
    order: tuple[str, ...] | None  # names in placeholder order; None: the driver takes a mapping
    processors: dict[str, Callable[[Any], Any]]

    def values(self, params: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        """The driver's parameters for one row of ``params``."""
        procs = self.processors
        if self.order is not None:
            return tuple(procs[k](params[k]) if k in procs else params[k] for k in self.order)
        return {k: procs[k](v) if k in procs else v for k, v in params.items()}


def prepare(stmt: ClauseElement, dialect: Dialect, keys: Sequence[str]) -> Prepared:
    """Compile ``stmt`` for ``dialect`` with the columns ``keys`` set."""
    compiled = stmt.compile(dialect=dialect, column_keys=list(keys))
    processors = {}
    for name, bind in compiled.binds.items():
        proc = bind.type.bind_processor(dialect)
        if proc is not None:
            processors[name] = proc
    if compiled.escaped_bind_names:  # a column name the paramstyle cannot carry as it is
        raise ValueError(f"cannot prepare {stmt}: escaped bind names {compiled.escaped_bind_names}")
    order = tuple(compiled.positiontup) if compiled.positional and compiled.positiontup else None
    return Prepared(str(compiled), order, processors)


class Statements:
    """INSERTs of rows and UPDATEs and DELETEs by primary key, each shape compiled once for a dialect."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._cache: dict[tuple[str, str, tuple[str, ...]], Prepared] = {}

    def _get(self, kind: str, table: Table, keys: tuple[str, ...]) -> Prepared:
        found = self._cache.get((kind, table.name, keys))
        if found is None:
            if kind == "insert":
                stmt: ClauseElement = insert(table)
            else:
                (pk,) = table.primary_key.columns
                where = pk == bindparam(KEY)
                stmt = update(table).where(where) if kind == "update" else delete(table).where(where)
            found = self._cache[(kind, table.name, keys)] = prepare(stmt, self.dialect, keys)
        return found

    def insert(self, conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
        """INSERT ``rows`` into ``table`` in order: one executemany per run of rows with the same columns."""
        start = 0
        for end in range(1, len(rows) + 1):
            if end == len(rows) or rows[end].keys() != rows[start].keys():
                self._run(conn, self._get("insert", table, tuple(rows[start])), rows[start:end])
                start = end

    def update(self, conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
        """UPDATE rows of ``table`` by primary key: each row has ``_key`` and the same columns to set."""
        if not rows:
            return
        prepared = self._get("update", table, tuple(k for k in rows[0] if k != KEY))
        self._run(conn, prepared, rows)

    def delete(self, conn: Connection, table: Table, key: object) -> None:
        """DELETE the row of ``table`` whose primary key is ``key``."""
        self._run(conn, self._get("delete", table, ()), [{KEY: key}])

    @staticmethod
    def _run(conn: Connection, prepared: Prepared, rows: Sequence[Mapping[str, Any]]) -> None:
        cursor = conn.connection.cursor()  # the DBAPI cursor, in the connection's transaction
        try:
            if len(rows) == 1:
                cursor.execute(prepared.sql, prepared.values(rows[0]))
            else:
                cursor.executemany(prepared.sql, [prepared.values(r) for r in rows])
        finally:
            cursor.close()
