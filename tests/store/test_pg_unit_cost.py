"""``tools/pg_unit_cost.py``: the pieces of a controller unit timed on a real PostgreSQL server."""

from __future__ import annotations

import sys

import psycopg
import pytest

from tools.pg_unit_cost import TABLE, main


def test_every_piece_is_timed_and_the_scratch_table_is_dropped(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["pg_unit_cost", "--url", pg_url, "-n", "5", "--writes", "3"])
    main()
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("server ") and "synchronous_commit = " in out[0]
    figures = {line.split(" us  ")[1]: float(line.split(" us  ")[0]) for line in out[1:]}
    assert len(figures) == 8 and all(us > 0 for us in figures.values())
    assert "unit: ping, read, 3 updates pipelined, commit, synchronous_commit off" in figures
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("select to_regclass(%s)", (TABLE,)).fetchone() == (None,)
