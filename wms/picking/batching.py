"""Batching of the walking skeleton: earliest carrier departure first, then first come, first served."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PickOrder:
    """An allocated order waiting for a pick trip."""

    order_no: str
    due: float
    received_at: float
    nodes: tuple[str, ...]


def fcfs_batches(orders: list[PickOrder], cart_orders: int) -> list[list[PickOrder]]:
    """Fill carts of ``cart_orders`` orders in (due, arrival) order."""
    queue = sorted(orders, key=lambda o: (o.due, o.received_at, o.order_no))
    return [queue[i : i + cart_orders] for i in range(0, len(queue), cart_orders)]
