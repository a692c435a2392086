"""The gate's buyer history in the database answers exactly as the in-memory one, call by call.

Each test runs the same operations through `BuyerHistory` and `DbHistory` (through `Twin`, which asserts
every answer agrees) and then asks both every question about every order, buyer and address.
SQLite always; PostgreSQL too when WMS_TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import dataclasses
import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlmodel import Session

from tests.inspection.helpers_history import Twin, assert_same_answers
from wms.control.history import DbHistory, year_span
from wms.control.repo import Repo
from wms.domain import CustomsOrder
from wms.inspection.rules import BuyerHistory, local_year
from wms.store.db import connect
from wms.store.models import OrderRow

CST = timezone(timedelta(hours=8))
T0 = datetime(2024, 12, 30, 9, 0, tzinfo=CST).timestamp()
ADDRESSES = [
    "No. 8 Jingguang Road, Zhengzhou",
    "no.8  jingguang road,zhengzhou",  # the same place, spelled otherwise
    "浦东新区 世纪大道 100号",
    "浦东新区世纪大道100号",
    "Room 5, Lane 9, Hangzhou",
    "Lane 12, Suzhou",
]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def repo(request: pytest.FixtureRequest, tmp_path: Path) -> Repo:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'history.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    return Repo(connect(url, fresh=True))


@dataclass(frozen=True)
class Order:
    """The columns of a stored order the history reads."""

    order_no: str
    order_type: str
    buyer_id: str
    consignee_address: str
    goods_value_fen: int


def _store(repo: Repo, *orders: Order) -> None:
    with Session(repo.engine) as s:
        for o in orders:
            fields = dataclasses.asdict(o)
            s.add(
                OrderRow(
                    **fields,
                    buyer_name="b",
                    tax_total_fen=0,
                    actural_paid_fen=0,
                    received_at=T0,
                    document="{}",
                )
            )
        s.commit()


def _orders(repo: Repo, rng: random.Random, n: int, buyers: int) -> list[Order]:
    """``n`` stored orders of a few buyers at a few addresses, some O2O, some of value 0."""
    rows = [
        Order(
            order_no=f"O{k:04d}",
            order_type="o2o" if rng.random() < 0.15 else "regular",
            buyer_id=f"B{rng.randrange(buyers)}",
            consignee_address=rng.choice(ADDRESSES),
            goods_value_fen=0 if rng.random() < 0.05 else rng.randrange(1, 3_000_000),
        )
        for k in range(n)
    ]
    _store(repo, *rows)
    return rows


def _pair(repo: Repo, window_days: int = 30) -> tuple[Twin, BuyerHistory, DbHistory]:
    mem = BuyerHistory(window_days, 8.0)
    db = DbHistory(repo.unit, window_days, 8.0)
    return Twin(db, mem), mem, db


def _as_order(row: Order) -> CustomsOrder:
    return CustomsOrder.model_construct(
        order_no=row.order_no,
        buyer_id_number=row.buyer_id,
        consignee_address=row.consignee_address,
        order_type=row.order_type,
        goods_value_fen=row.goods_value_fen,
    )


@pytest.mark.parametrize("seed", range(6))
def test_random_sequences_give_the_same_answers(repo: Repo, seed: int) -> None:
    rng = random.Random(seed)
    rows = _orders(repo, rng, 80, buyers=5)
    twin, mem, db = _pair(repo)
    noted: list[Order] = []
    released: dict[str, float] = {}
    now = T0
    new_year = year_span(2025, 8.0)[0]
    ops = 0
    while ops < 400:
        # several operations in one unit of work (reads see the unit's own writes), or each on its own
        batch = rng.randrange(1, 8)
        with repo.unit() if rng.random() < 0.5 else _nothing():
            for _ in range(batch):
                ops += 1
                now += rng.choice([0.0, 1.0, 60.0, 3600.0, 20000.0, 86400.0])
                if rng.random() < 0.03:  # land on the new year exactly, or the float just before it
                    now = max(now, rng.choice([new_year, math.nextafter(new_year, -math.inf)]))
                _one_op(rng, twin, rows, noted, released, now)
                _ask(rng, twin, rows, now)
    assert_same_answers(db, mem, repo.engine)
    assert twin.nonzero["restore_quota"] > 0 and twin.nonzero["released_value_in_year"] > 0
    assert twin.nonzero["orders_in_window"] > 0 and twin.nonzero["declared"] > 0


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _one_op(
    rng: random.Random,
    twin: Twin,
    rows: list[Order],
    noted: list[Order],
    released: dict[str, float],
    now: float,
) -> None:
    fresh = [r for r in rows if r not in noted]
    r = rng.random()
    if r < 0.35 and fresh:
        row = rng.choice(fresh)
        noted.append(row)
        if rng.random() < 0.5:
            twin.note_order(row.order_no, row.buyer_id, row.consignee_address, row.order_type, now)
        else:
            twin.record_order(_as_order(row), now)
    elif r < 0.6 and noted:
        row = rng.choice(noted)  # sometimes released again: it counts once, in the year of the last release
        value = row.goods_value_fen if rng.random() < 0.8 else rng.randrange(0, 100_000)
        twin.note_release(row.order_no, row.buyer_id, value, now)
        released[row.order_no] = now
    elif r < 0.8:
        row = rng.choice(rows)  # released, fully restored, or never released at all
        value = rng.choice([-5, 0, 1, 999, row.goods_value_fen // 3, row.goods_value_fen, 10**9])
        twin.restore_quota(row.order_no, value)
    elif r < 0.9:
        row = rng.choice(rows)
        at = released.get(row.order_no, now - rng.randrange(0, 60) * 86400.0)
        twin.record_return(_as_order(row), now, at)
    else:
        twin.within_return_window(now, now - rng.choice([0.0, 30 * 86400.0, 30 * 86400.0 + 1e-3]))


def _ask(rng: random.Random, twin: Twin, rows: list[Order], now: float) -> None:
    row = rng.choice(rows)
    twin.declared(row.order_no)
    for year in (local_year(now, 8.0), 2024, 2025):
        twin.released_value_in_year(row.buyer_id, year)
    twin.orders_in_window(row.buyer_id, now - 86400.0)
    twin.orders_in_window(row.buyer_id, rng.choice([now, now - 3600.0, T0]))
    address = rng.choice(ADDRESSES)
    twin.buyers_at_address(address)
    twin.buyers_at_address(address, including=row.buyer_id)
    twin.buyers_at_address(address, including="SOMEONE-NEW")


def test_noted_then_checked_in_the_same_unit_even_before_the_order_row_is_flushed(repo: Repo) -> None:
    """At the gate an order is noted and the next parcel checked in one unit: the check must see it."""
    twin, _mem, db = _pair(repo)
    with repo.unit() as s:
        order = Order("NEW1", "regular", "B1", ADDRESSES[0], 500)
        s.add(  # pending in the session, as `Repo.record_order` leaves it
            OrderRow(
                **dataclasses.asdict(order),
                buyer_name="b",
                tax_total_fen=0,
                actural_paid_fen=0,
                received_at=T0,
                document="{}",
            )
        )
        twin.note_order("NEW1", "B1", ADDRESSES[0], "regular", T0)
        assert twin.declared("NEW1")
        assert twin.orders_in_window("B1", T0) == 1
        assert twin.buyers_at_address(ADDRESSES[1], including="B2") == 2
        twin.note_release("NEW1", "B1", 500, T0)
        assert twin.released_value_in_year("B1", 2024) == 500
    assert db.declared("NEW1") and db.released_value_in_year("B1", 2024) == 500  # and committed


def test_a_unit_that_rolls_back_takes_its_history_with_it(repo: Repo) -> None:
    """The database history never runs ahead of the parcels (the in-memory one would keep the note)."""
    rows = _orders(repo, random.Random(1), 3, buyers=1)
    db = DbHistory(repo.unit)
    with pytest.raises(RuntimeError), repo.unit():
        db.note_order(rows[0].order_no, rows[0].buyer_id, rows[0].consignee_address, "regular", T0)
        assert db.declared(rows[0].order_no)
        raise RuntimeError("the handler failed")
    assert not db.declared(rows[0].order_no)
    assert db.orders_in_window(rows[0].buyer_id, 0.0) == 0


def test_an_order_not_in_the_database_cannot_be_noted(repo: Repo) -> None:
    db = DbHistory(repo.unit)
    with pytest.raises(KeyError, match="GHOST"):
        db.note_order("GHOST", "B1", "x", "regular", T0)
    with pytest.raises(KeyError, match="GHOST"):
        db.note_release("GHOST", "B1", 1, T0)
    assert db.restore_quota("GHOST", 100) == 0


def test_the_year_of_a_release_is_the_local_year_to_the_last_float(repo: Repo) -> None:
    rows = _orders(repo, random.Random(2), 4, buyers=1)
    twin, mem, db = _pair(repo)
    start = year_span(2025, 8.0)[0]
    before = math.nextafter(start, -math.inf)
    assert local_year(start, 8.0) == 2025 and local_year(before, 8.0) == 2024
    for row, at in zip(
        rows, [before, start, start - 0.5e-6, datetime(2025, 1, 1, tzinfo=CST).timestamp()], strict=True
    ):
        twin.note_order(row.order_no, row.buyer_id, row.consignee_address, row.order_type, at)
        twin.note_release(row.order_no, row.buyer_id, row.goods_value_fen, at)
    for year in (2023, 2024, 2025, 2026):
        twin.released_value_in_year(rows[0].buyer_id, year)
    assert twin.nonzero["released_value_in_year"] == 2
    assert_same_answers(db, mem, repo.engine)


def test_year_spans_match_local_year_at_each_end() -> None:
    for offset in (8.0, 0.0, -5.0, 5.75):
        for year in (1970, 2000, 2024, 2025, 2100):
            lo, hi = year_span(year, offset)
            assert local_year(lo, offset) == year == local_year(math.nextafter(hi, -math.inf), offset)
            assert local_year(math.nextafter(lo, -math.inf), offset) == year - 1
            assert local_year(hi, offset) == year + 1


def test_an_order_noted_twice_counts_once(repo: Repo) -> None:
    """The one intended difference: the database keeps one gate time per order (the first)."""
    rows = _orders(repo, random.Random(3), 1, buyers=1)
    db = DbHistory(repo.unit)
    row = rows[0]
    db.note_order(row.order_no, row.buyer_id, row.consignee_address, "regular", T0)
    db.note_order(row.order_no, row.buyer_id, row.consignee_address, "regular", T0 + 60)
    assert db.orders_in_window(row.buyer_id, T0) == 1
    assert db.orders_in_window(row.buyer_id, T0 + 1) == 0
