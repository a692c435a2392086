"""Which lots a consumer return goes back to: the lots its order was released from, never more than left.

Customs traces a bonded unit from receipt to release, so a returned unit re-enters a lot it left.
Pure function over plain data.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence


class ReturnError(ValueError):
    """A return that cannot be booked (names the order and line)."""


def plan_return(
    order_no: str,
    released: Sequence[tuple[str, str, int]],
    returned_before: Sequence[tuple[str, str, int]],
    lines: Sequence[tuple[str, int]] | None,
) -> list[tuple[str, str, int]]:
    """``(lot, sku, qty)`` the return books back; ``lines`` None returns everything not yet returned.

    ``released`` and ``returned_before`` are ``(lot, sku, qty)`` of the order's release and its earlier
    returns.
    """
    left: dict[tuple[str, str], int] = defaultdict(int)
    for lot, sku, qty in released:
        left[(lot, sku)] += qty
    for lot, sku, qty in returned_before:
        left[(lot, sku)] -= qty
    if lines is None:
        out = [(lot, sku, q) for (lot, sku), q in sorted(left.items()) if q > 0]
        if not out:
            raise ReturnError(f"order {order_no}: every unit was returned already")
        return out
    out = []
    for sku, qty in lines:
        if qty <= 0:
            raise ReturnError(f"order {order_no}: line {sku} has quantity {qty}; it must be positive")
        lots = sorted((lot, q) for (lot, s), q in left.items() if s == sku and q > 0)
        available = sum(q for _, q in lots)
        if available < qty:
            shipped = sum(q for _, s, q in released if s == sku)
            if not shipped:
                raise ReturnError(f"order {order_no}: SKU {sku} was not released with this order")
            raise ReturnError(
                f"order {order_no}: SKU {sku}: {qty} returned, only {available} of {shipped} left to return"
            )
        need = qty
        for lot, q in lots:
            take = min(q, need)
            out.append((lot, sku, take))
            left[(lot, sku)] -= take
            need -= take
            if need == 0:
                break
    return out
