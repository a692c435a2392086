"""Configuration loads into typed models; a bad file names the file, the key and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from wms.config import CONFIG_DIR, ConfigError, load_customs, load_warehouse


def test_reference_configs_load() -> None:
    cfg = load_warehouse(CONFIG_DIR / "warehouse.toml")
    customs = load_customs(CONFIG_DIR / "customs.toml")
    assert cfg.storage.aisles > cfg.storage.duty_paid_aisles >= 1
    assert cfg.fleet.picking.count + cfg.fleet.sorting.count >= 20
    assert {c.code for c in cfg.carriers} == {"SF", "YTO", "EMS"}
    assert customs.single_limit_fen == 500_000 and customs.annual_limit_fen == 2_600_000
    assert all(len(code) in (8, 10) for code in customs.positive_list)


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    text = (CONFIG_DIR / "warehouse.toml").read_text()
    assert old in text
    path = tmp_path / "warehouse.toml"
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize(
    ("old", "new", "key", "problem"),
    [
        ("aisles = 12 ", "aisles = 0 ", "storage.aisles", "greater than or equal to 1"),
        ('cutoffs = ["12:00"', 'cutoffs = ["25:00"', "carriers.0.cutoffs", "not HH:MM"),
        ("speed_mps = 1.5", 'speed_mps = "fast"', "fleet.picking.speed_mps", "valid number"),
        ("xray_lanes = 5", "xray_lanse = 5", "gate.xray_lanse", "Extra inputs"),
        ("duty_paid_aisles = 2", "duty_paid_aisles = 12", "storage", "at least one bonded aisle"),
        ("inducts = 6", "inducts = 60", "sortation", "at most"),
        ("inducts = 6", "inducts = 6\ninduct_sides = 3", "sortation.induct_sides", "less than or equal to 2"),
        ("interval_s = 60", "interval_s = 60\nplanner_process = true\nplan_s = 60", "waves", "shorter than"),
        (
            "charging_spots = 3\naction_s = 2",
            "charging_spots = 31\naction_s = 2",
            "charging_spots = 31",
            "parking",
        ),
    ],
)
def test_bad_warehouse_config_names_file_key_and_problem(
    tmp_path: Path, old: str, new: str, key: str, problem: str
) -> None:
    path = _broken(tmp_path, old, new)
    with pytest.raises(ConfigError) as info:
        load_warehouse(path)
    msg = str(info.value)
    assert str(path) in msg and key in msg and problem in msg


def test_unparsable_and_missing_files(tmp_path: Path) -> None:
    bad = tmp_path / "customs.toml"
    bad.write_text("single_limit_fen = = 5\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_customs(bad)
    with pytest.raises(ConfigError, match="file not found"):
        load_customs(tmp_path / "nope.toml")


def test_bad_hs_code_in_positive_list(tmp_path: Path) -> None:
    text = (
        (CONFIG_DIR / "customs.toml")
        .read_text()
        .replace('"3304990099", "3304100090",', '"33049", "3304100090",', 1)
    )
    path = tmp_path / "customs.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"positive_list.*8 or 10 digits"):
        load_customs(path)


def test_cli_check_config_exits_2_on_bad_file(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from wms.cli import app

    path = _broken(tmp_path, "aisles = 12 ", "aisles = -1 ")
    result = CliRunner().invoke(app, ["check-config", "--config", str(path)])
    assert result.exit_code == 2
    ok = CliRunner().invoke(app, ["check-config"])
    assert ok.exit_code == 0, ok.output
