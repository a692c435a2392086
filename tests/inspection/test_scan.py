"""The gate's physical scan against the inventory list: contents and weight."""

from __future__ import annotations

from wms.inspection.scan import SCAN_MISMATCH, WEIGHT_MISMATCH, scan_findings


def test_matching_scan_passes_whatever_the_line_order() -> None:
    declared = [("A", 2), ("B", 1), ("A", 1)]
    assert scan_findings(declared, 3.0, [("B", 1), ("A", 3)], 3.1) == []


def test_missing_unit_and_unknown_item_are_named() -> None:
    found = scan_findings([("A", 2), ("B", 1)], 3.0, [("A", 1), ("B", 1), ("X", 1)], None)
    assert found == [f"{SCAN_MISMATCH}: A declared 2, scanned 1", f"{SCAN_MISMATCH}: X declared 0, scanned 1"]


def test_weight_outside_tolerance_is_a_mismatch() -> None:
    assert scan_findings([("A", 1)], 2.0, None, 2.09) == []  # within 5%
    found = scan_findings([("A", 1)], 2.0, None, 1.5)
    assert found == [f"{WEIGHT_MISMATCH}: declared 2.000 kg, weighed 1.500 kg"]
    assert scan_findings([("A", 1)], 0.2, None, 0.24) == []  # light parcels: 50 g absolute tolerance


def test_a_gate_without_scanner_or_scale_checks_nothing() -> None:
    assert scan_findings([("A", 1)], 1.0, None, None) == []
