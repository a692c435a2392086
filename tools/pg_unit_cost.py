"""What one unit of the controller's work costs on a PostgreSQL server, piece by piece.

A controller unit is: the pool's ping, a read or two, a handful of writes by primary key, the commit.
This times each piece on a scratch table (``wms_unit_cost``, dropped at the end), and a whole unit with
its writes sent one by one and in a pipeline, with ``synchronous_commit`` as the server has it and off::

    python tools/pg_unit_cost.py --url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from contextlib import nullcontext

import psycopg

TABLE = "wms_unit_cost"
ROWS = 1000
UPDATE = f"update {TABLE} set state = %s, ts = %s where id = %s"


def _us(n: int, fn: Callable[[int], None]) -> float:
    """Microseconds per call of ``fn(i)`` over ``n`` calls."""
    t = time.perf_counter()
    for i in range(n):
        fn(i)
    return 1e6 * (time.perf_counter() - t) / n


def main() -> None:
    """Time the pieces and print them."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/test")
    ap.add_argument("-n", type=int, default=2000, help="repetitions of each measurement")
    ap.add_argument("--writes", type=int, default=6, help="writes per unit")
    args = ap.parse_args()
    conn = psycopg.connect(args.url)
    cur = conn.cursor()
    cur.execute(f"drop table if exists {TABLE}")
    cur.execute(f"create table {TABLE} (id int primary key, state text, ts float8)")
    cur.execute(f"insert into {TABLE} select g, 'a', 0 from generate_series(0, {ROWS - 1}) g")
    conn.commit()

    def write(i: int) -> None:
        cur.execute(UPDATE, ("b", float(i), i % ROWS))

    def write_commit(i: int) -> None:
        write(i)
        conn.commit()

    def unit(pipelined: bool) -> Callable[[int], None]:
        def run(i: int) -> None:
            cur.execute("select 1")  # the pool's pre-ping
            cur.execute(f"select state from {TABLE} where id = %s", (i % ROWS,))
            cur.fetchone()
            with conn.pipeline() if pipelined else nullcontext():
                for k in range(args.writes):
                    write(i + k)
            conn.commit()

        return run

    try:
        setting = conn.execute("show synchronous_commit").fetchone()
        print(f"server {conn.info.server_version}, synchronous_commit = {setting[0] if setting else '?'}")
        rows: list[tuple[str, float]] = [
            ("select 1 (a round trip)", _us(args.n, lambda i: cur.execute("select 1")))
        ]
        rows.append(("update by key", _us(args.n, write)))
        conn.commit()
        for off in (False, True):
            if off:
                cur.execute("set synchronous_commit = off")
                conn.commit()
            note = ", synchronous_commit off" if off else ""
            rows.append((f"update by key + commit{note}", _us(args.n, write_commit)))
            for label, pipelined in (("one by one", False), ("pipelined", True)):
                unit_label = f"unit: ping, read, {args.writes} updates {label}, commit{note}"
                rows.append((unit_label, _us(args.n, unit(pipelined))))
        for label, us in rows:
            print(f"{us:8.0f} us  {label}")
    finally:
        conn.rollback()
        cur.execute(f"drop table if exists {TABLE}")
        conn.commit()
        conn.close()


if __name__ == "__main__":
    main()
