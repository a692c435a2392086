"""The open parcels' groups by state follow every change, and read as a scan of them all would."""

from __future__ import annotations

import heapq
from operator import attrgetter

import pytest

from wms.control.parcels import OpenParcels, Parcel
from wms.domain import OPEN_STATES, ParcelState


def _parcel(
    n: int, state: ParcelState = ParcelState.ALLOCATED, at: float = 0.0, kind: str = "regular"
) -> Parcel:
    p = Parcel(f"ORD-{n:03d}", state, at, "SF", "north", None)
    p.order_type = kind
    return p


def _scanned(parcels: OpenParcels) -> dict[ParcelState, dict[str, Parcel]]:
    """The groups as a scan of every parcel would find them (in the parcels' own order)."""
    groups: dict[ParcelState, dict[str, Parcel]] = {}
    for no, p in parcels.items():
        groups.setdefault(p.state, {})[no] = p
    return groups


def test_groups_follow_set_move_pop_and_del() -> None:
    parcels = OpenParcels()
    for n in range(6):
        parcels[f"ORD-{n:03d}"] = _parcel(n, at=float(n))
    parcels.move(parcels["ORD-001"], ParcelState.WAVED)
    parcels.move(parcels["ORD-003"], ParcelState.WAVED)
    parcels.move(parcels["ORD-001"], ParcelState.PICKING)
    assert parcels.pop("ORD-004").order_no == "ORD-004"
    assert parcels.pop("ORD-404", None) is None
    del parcels["ORD-005"]
    parcels.check()
    assert parcels.counts() == {ParcelState.ALLOCATED: 2, ParcelState.WAVED: 1, ParcelState.PICKING: 1}
    assert list(parcels.in_state(ParcelState.ALLOCATED)) == ["ORD-000", "ORD-002"]
    assert ParcelState.HELD not in parcels.counts()  # only states that have parcels
    for state, group in _scanned(parcels).items():
        assert list(parcels.in_state(state).items()) == list(group.items())
    with pytest.raises(KeyError):
        del parcels["ORD-404"]


def test_a_parcel_set_again_under_its_number_leaves_its_old_group() -> None:
    parcels = OpenParcels()
    parcels["ORD-001"] = _parcel(1)
    parcels["ORD-001"] = _parcel(1, ParcelState.RELEASED)
    parcels.check()
    assert parcels.counts() == {ParcelState.RELEASED: 1}


def test_moving_a_parcel_not_held_only_sets_its_state() -> None:
    parcels = OpenParcels()
    parcels["ORD-001"] = _parcel(1)
    stranger = _parcel(1)  # the same number, another object: not what is held
    parcels.move(stranger, ParcelState.REJECTED)
    assert stranger.state is ParcelState.REJECTED
    assert parcels.counts() == {ParcelState.ALLOCATED: 1}
    parcels.check()


def test_a_state_set_around_move_is_caught_by_check() -> None:
    parcels = OpenParcels()
    parcels["ORD-001"] = _parcel(1)
    parcels["ORD-001"].state = ParcelState.WAVED
    with pytest.raises(AssertionError, match="ORD-001 is waved"):
        parcels.check()


def test_bulk_changes_are_refused() -> None:
    parcels = OpenParcels()
    with pytest.raises(TypeError, match="one parcel at a time"):
        parcels.update({"ORD-001": _parcel(1)})
    with pytest.raises(TypeError):
        parcels.setdefault("ORD-001", _parcel(1))
    with pytest.raises(TypeError):
        parcels.popitem()
    assert not parcels


@pytest.mark.parametrize("shuffled", [False, True])
def test_oldest_are_what_a_full_sort_would_pick(shuffled: bool) -> None:
    """Received in order (a live intake), the first ones are read; read back shuffled, all are sorted."""
    parcels = OpenParcels()
    ages = [(n * 7919) % 50 for n in range(50)] if shuffled else [n // 3 for n in range(50)]  # ties too
    for n, at in enumerate(ages):
        parcels[f"ORD-{n:03d}"] = _parcel(n, at=float(at))
    for n in range(0, 50, 4):
        parcels.move(parcels[f"ORD-{n:03d}"], ParcelState.RELEASED)
    wanted = OPEN_STATES - {ParcelState.RELEASED}
    expected = heapq.nsmallest(
        10, (p for p in parcels.values() if p.state in wanted), key=attrgetter("received_at")
    )
    assert parcels.oldest(10, wanted) == expected
    assert parcels.oldest(100, OPEN_STATES) == sorted(parcels.values(), key=attrgetter("received_at"))


def test_a_replaced_parcel_with_another_receipt_time_turns_to_sorting() -> None:
    parcels = OpenParcels()
    for n in range(3):
        parcels[f"ORD-{n:03d}"] = _parcel(n, at=float(n))
    parcels["ORD-000"] = _parcel(0, at=9.0)  # keeps the first place but is now the newest
    assert [p.order_no for p in parcels.oldest(3, OPEN_STATES)] == ["ORD-001", "ORD-002", "ORD-000"]


def test_o2o_parcels_in_the_order_they_came_and_clear() -> None:
    parcels = OpenParcels()
    for n in range(5):
        parcels[f"ORD-{n:03d}"] = _parcel(n, kind="o2o" if n % 2 else "regular")
    parcels.pop("ORD-001")
    assert [p.order_no for p in parcels.o2o()] == ["ORD-003"]
    parcels.clear()
    assert not parcels and parcels.counts() == {} and list(parcels.o2o()) == []
    parcels.check()
