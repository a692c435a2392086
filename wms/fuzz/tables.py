"""Structure-aware mutation of CSV files: rows and columns deleted, repeated, misaligned, odd cells."""

from __future__ import annotations

import copy
import csv
import io

from hypothesis import strategies as st

from wms.fuzz.values import ENCODINGS, TEXT_VALUES, damaged, encode, pick

Rows = list[list[str]]
HUGE_CELL = "x" * 200_000  # over the csv module's field limit
CELLS = st.one_of(TEXT_VALUES, st.sampled_from(["\x00", "\r\n", "a,b", 'a"b', '"', HUGE_CELL]))


@st.composite
def _mutate(draw: st.DrawFn, rows: Rows) -> Rows:
    """One random edit of a table (in place)."""
    if not rows:
        return [[draw(CELLS)]]
    r = draw(st.integers(0, len(rows) - 1))
    c = draw(st.integers(0, max(len(rows[r]) - 1, 0)))
    op = draw(
        st.sampled_from(
            [
                "cell",
                "cell",
                "cell",
                "del_row",
                "dup_row",
                "del_col",
                "del_cell",
                "add_cell",
                "blank",
                "swap_cols",
            ]
        )
    )
    if op == "cell" and rows[r]:
        rows[r][c] = draw(CELLS)
    elif op == "del_row":
        del rows[r]
    elif op == "dup_row":
        rows.insert(r, list(rows[r]))
    elif op == "del_col":
        for row in rows:
            if c < len(row):
                del row[c]
    elif op == "del_cell" and rows[r]:
        del rows[r][c]
    elif op == "add_cell":
        rows[r].append(draw(CELLS))
    elif op == "blank":
        rows.insert(r, pick(draw, [[], [""], ["", ""], [" "]]))
    elif op == "swap_cols" and len(rows[0]) > 1:
        i, j = draw(st.integers(0, len(rows[0]) - 1)), draw(st.integers(0, len(rows[0]) - 1))
        rows[0][i], rows[0][j] = rows[0][j], rows[0][i]
    return rows


def render_csv(rows: Rows, quoting: int = csv.QUOTE_MINIMAL, newline: str = "\n", naive: bool = False) -> str:
    """Rows as CSV text (``naive`` joins cells with commas, quoting nothing)."""
    if naive:
        return newline.join(",".join(row) for row in rows) + newline
    out = io.StringIO()
    csv.writer(out, quoting=quoting, lineterminator=newline).writerows(rows)
    return out.getvalue()


@st.composite
def csv_payloads(draw: st.DrawFn, seeds: list[Rows]) -> bytes:
    """A mutated seed table written as CSV (quoted, unquoted or naively joined), encoded, maybe damaged."""
    rows = copy.deepcopy(pick(draw, seeds))
    for _ in range(draw(st.integers(0, 4))):
        rows = draw(_mutate(rows))
    text = render_csv(
        rows,
        pick(draw, [csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]),
        pick(draw, ["\n", "\r\n", "\r"]),
        draw(st.integers(0, 4)) == 0,
    )
    return draw(damaged(encode(text, pick(draw, ENCODINGS))))
