"""Physical scan at the gate: what the scan tunnel read and the scale weighed against the inventory list.

A parcel whose contents or weight disagree with the lines declared on its CEB621 inventory list cannot
be released: customs would be clearing goods other than the ones declared. Pure function, plain data.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

SCAN_MISMATCH = "SCAN_MISMATCH"
WEIGHT_MISMATCH = "WEIGHT_MISMATCH"


def scan_findings(
    declared: Iterable[tuple[str, int]],
    declared_kg: float,
    scanned: Iterable[tuple[str, int]] | None,
    weighed_kg: float | None,
    tolerance_pct: float = 5.0,
    tolerance_kg: float = 0.05,
) -> list[str]:
    """Reason codes (with what differs) for a scan that does not match the declaration; [] if it does.

    ``scanned`` or ``weighed_kg`` None means the gate has no scanner or scale: that part is not checked.
    The weight passes within ``tolerance_pct`` of the declared weight or ``tolerance_kg``, whichever
    is larger (packaging, scale error).
    """
    out: list[str] = []
    if scanned is not None:
        want: Counter[str] = Counter()
        for sku, qty in declared:
            want[sku] += qty
        got: Counter[str] = Counter()
        for sku, qty in scanned:
            got[sku] += qty
        for sku in sorted(want.keys() | got.keys()):
            if want[sku] != got[sku]:
                out.append(f"{SCAN_MISMATCH}: {sku} declared {want[sku]}, scanned {got[sku]}")
    if weighed_kg is not None and declared_kg > 0:
        allowed = max(tolerance_kg, declared_kg * tolerance_pct / 100.0)
        if abs(weighed_kg - declared_kg) > allowed:
            out.append(f"{WEIGHT_MISMATCH}: declared {declared_kg:.3f} kg, weighed {weighed_kg:.3f} kg")
    return out
