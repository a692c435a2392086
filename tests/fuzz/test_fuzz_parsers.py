"""Every inbound parser, fed generated hostile input, raises only its typed errors (``wms fuzz`` in small)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from wms.fuzz.runner import fuzz_target
from wms.fuzz.targets import TARGETS, Target

EXAMPLES = int(os.environ.get("WMS_FUZZ_EXAMPLES", "300"))
NAMES = list(TARGETS)


def test_every_kind_of_inbound_parser_is_a_target() -> None:
    groups = {name.split(".")[0] for name in NAMES}
    assert groups == {"vda5050", "message", "ceb", "inspect", "config", "picking", "slotting"}
    assert {
        "vda5050.state",
        "vda5050.connection",
        "vda5050.factsheet",
        "ceb.receipts",
        "config.warehouse",
    } <= set(NAMES)
    assert len(NAMES) >= 30


@pytest.mark.parametrize("name", NAMES)
def test_valid_samples_are_accepted(name: str, tmp_path: Path) -> None:
    target: Target = TARGETS[name]
    samples = target.valid()
    assert samples, "mutation needs at least one valid sample"
    for data in samples:
        target.parse(data, tmp_path)  # raises if a seed drifted out of the schema


@pytest.mark.parametrize("name", NAMES)
def test_generated_input_raises_only_typed_errors(name: str) -> None:
    result = fuzz_target(TARGETS[name], EXAMPLES, seed=0)
    crashes = "; ".join(f"{c.kind}: {c.message} on {c.example!r:.200}" for c in result.crash_kinds.values())
    assert result.crashes == 0, crashes
    assert result.generated == EXAMPLES
    assert result.typed > 0 and result.accepted > 0, "inputs should be both refused and accepted"
    assert result.slowest_s < 2.0
