"""The controller's hot statements, compiled once per shape and run on the driver's cursor.

On a small statement Core's ``execute`` spends most of its time outside the database: it builds a cache
key, looks the compiled form up, constructs the parameters and sets up a result. An UPDATE by key took
21 us through it on SQLite against 5 us on the driver's cursor, and 165 us against 72 us on PostgreSQL
(5,000 of them, on this 2-core machine beside a running day). The controller runs a few dozen such
statements per order, always the same few shapes, so it compiles each shape once for the engine's
dialect and hands the driver the SQL and the processed values, in the transaction of the SQLAlchemy
connection it is given.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import closing
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
    fixed: dict[str, Any]  # binds whose values the statement carries (e.g. the 0 of a coalesce)
    result: Callable[[Any], Any] | None = None  # the first result column's processor, if any

    def values(self, params: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        """The driver's parameters for one row of ``params``."""
        procs = self.processors
        if self.fixed:
            params = {**self.fixed, **params}
        if self.order is not None:
            return tuple(procs[k](params[k]) if k in procs else params[k] for k in self.order)
        return {k: procs[k](v) if k in procs else v for k, v in params.items()}


def prepare(stmt: ClauseElement, dialect: Dialect, keys: Sequence[str] | None = None) -> Prepared:
    """Compile ``stmt`` for ``dialect``; ``keys``: the columns an INSERT or UPDATE without values sets."""
    compiled = stmt.compile(dialect=dialect, column_keys=None if keys is None else list(keys))
    if compiled.escaped_bind_names:  # a column name the paramstyle cannot carry as it is
        raise ValueError(f"cannot prepare {stmt}: escaped bind names {compiled.escaped_bind_names}")
    processors, fixed = {}, {}
    for name, bind in compiled.binds.items():
        if bind.expanding or bind.callable is not None:
            raise ValueError(f"cannot prepare {stmt}: bind {name} takes its value late")
        proc = bind.type.bind_processor(dialect)
        if proc is not None:
            processors[name] = proc
        if not bind.required:
            fixed[name] = bind.value
    result = None
    columns = getattr(stmt, "selected_columns", None)
    if columns is not None and len(columns):
        result = columns[0].type.result_processor(dialect, None)
    order = tuple(compiled.positiontup) if compiled.positional and compiled.positiontup else None
    return Prepared(str(compiled), order, processors, fixed, result)


class Statements:
    """Statements compiled once for a dialect: INSERTs of rows, UPDATEs and DELETEs by primary key, and
    fixed statements (kept for the life of the program, e.g. module constants) by their identity."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._cache: dict[tuple[str, str, tuple[str, ...]], Prepared] = {}
        # by id, with the statement held so that no other statement can take its id
        self._fixed: dict[int, tuple[ClauseElement, Prepared]] = {}

    def _of(self, stmt: ClauseElement) -> Prepared:
        found = self._fixed.get(id(stmt))
        if found is None:
            found = self._fixed[id(stmt)] = (stmt, prepare(stmt, self.dialect))
        return found[1]

    def scalar(self, conn: Connection, stmt: ClauseElement, params: Mapping[str, Any]) -> Any:
        """The first column of the first row ``stmt`` selects, or None without a row."""
        prepared = self._of(stmt)
        with closing(conn.connection.cursor()) as cursor:
            cursor.execute(prepared.sql, prepared.values(params))
            row = cursor.fetchone()
        if row is None:
            return None
        return row[0] if prepared.result is None else prepared.result(row[0])

    def execute(self, conn: Connection, stmt: ClauseElement, params: Mapping[str, Any]) -> int:
        """Run ``stmt`` (an UPDATE or DELETE) once; the rows it matched."""
        prepared = self._of(stmt)
        with closing(conn.connection.cursor()) as cursor:
            cursor.execute(prepared.sql, prepared.values(params))
            return int(cursor.rowcount)

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
        for run in _same_keys(rows):
            self._run(conn, self._get("insert", table, tuple(run[0])), run)

    def update(self, conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
        """UPDATE rows of ``table`` by primary key (each row's ``_key``) to the other values of each row,
        in order: one executemany per run of rows that set the same columns."""
        for run in _same_keys(rows):
            self._run(conn, self._get("update", table, tuple(k for k in run[0] if k != KEY)), run)

    def delete(self, conn: Connection, table: Table, key: object) -> None:
        """DELETE the row of ``table`` whose primary key is ``key``."""
        self._run(conn, self._get("delete", table, ()), [{KEY: key}])

    @staticmethod
    def _run(conn: Connection, prepared: Prepared, rows: Sequence[Mapping[str, Any]]) -> None:
        with closing(conn.connection.cursor()) as cursor:  # in conn's transaction
            if len(rows) == 1:
                cursor.execute(prepared.sql, prepared.values(rows[0]))
            else:
                cursor.executemany(prepared.sql, [prepared.values(r) for r in rows])


def _same_keys(rows: Sequence[Mapping[str, Any]]) -> list[Sequence[Mapping[str, Any]]]:
    """``rows`` cut into consecutive runs whose rows have the same keys (one compiled shape each)."""
    runs, start = [], 0
    for end in range(1, len(rows) + 1):
        if end == len(rows) or rows[end].keys() != rows[start].keys():
            runs.append(rows[start:end])
            start = end
    return runs
