"""The counter view: O2O orders with stage and elapsed time, red past the target, only when there are any."""

from __future__ import annotations

from rich.console import Console

from wms.console.dashboard import MAX_O2O, render, snapshot_text
from wms.messages import O2OView, Status

T0 = 1_700_000_000.0


def _status(views: list[O2OView], target: float = 120.0) -> Status:
    return Status(ts=T0 + 600, partition="zz1", started=T0, o2o=views, o2o_target_s=target)


def _view(i: int, stage: str, elapsed: float, reason: str = "") -> O2OView:
    return O2OView(
        order_no=f"O2O20261111100000C1-{i:06d}",
        counter="C1",
        stage=stage,
        elapsed_s=elapsed,
        late=elapsed > 120,
        reason=reason,
    )


def test_no_counter_view_without_o2o_orders() -> None:
    assert "Counter view" not in snapshot_text(_status([]))


def test_counter_view_lists_order_counter_stage_and_elapsed() -> None:
    views = [_view(1, "picked", 42.0), _view(2, "handed_over", 71.4), _view(3, "held", 250.0, "XRAY_SUSPECT")]
    text = snapshot_text(_status(views), width=120)
    assert "Counter view (O2O): 1 open, 0 past the 120 s target" in text
    row = next(line for line in text.splitlines() if "000001" in line)
    assert "C1" in row and "picked" in row and "42 s" in row
    assert "XRAY_SUSPECT" in text and "71 s" in text


def _styles_of(status: Status, needle: str) -> list[str]:
    console = Console(width=120, force_terminal=True, color_system="truecolor")
    segments = list(console.render(render(status)))
    return [str(seg.style) for seg in segments if needle in seg.text]


def test_rows_past_the_target_are_red() -> None:
    late, on_time = _view(1, "at_gate", 131.0), _view(2, "packed", 60.0)
    styles = _styles_of(_status([late, on_time]), "000001")
    assert styles and all("red" in s for s in styles)
    assert not any("red" in s for s in _styles_of(_status([late, on_time]), "000002"))
    # the status's own target decides, even if the controller's flag was computed for another one
    assert any("red" in s for s in _styles_of(_status([on_time], target=45.0), "000002"))


def test_open_late_orders_first_and_the_view_fits_120x40() -> None:
    views = [_view(i, "handed_over", 70.0) for i in range(10)] + [_view(99, "packed", 150.0)]
    text = snapshot_text(_status(views), width=120)
    rows = [line for line in text.splitlines() if line.startswith("O2O")]
    assert len(rows) == MAX_O2O and "000099" in rows[0]
    assert f"… and {len(views) - MAX_O2O} more" in text
    lines = text.rstrip("\n").splitlines()
    assert len(lines) <= 40 and max(len(line) for line in lines) <= 120


def test_a_busy_status_with_the_counter_view_still_fits_120x40() -> None:
    from test_dashboard import full_status

    views = [_view(i, ("accepted", "picked", "packed", "at_gate")[i % 4], 30.0 * i) for i in range(12)]
    text = snapshot_text(full_status(o2o=views), width=120, utc_offset_h=8.0)
    lines = text.rstrip("\n").splitlines()
    assert "Counter view (O2O): 12 open, 7 past the 120 s target" in text
    assert len(lines) <= 40 and max(len(line) for line in lines) <= 120
