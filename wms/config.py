"""Typed configuration loaded from TOML; a bad file fails with its path, the key and the problem."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from wms.limits import check_file

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class ConfigError(ValueError):
    """A configuration file is missing, unreadable or invalid."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # TOML has inf and nan: refuse both


class Site(_Model):
    """The warehouse as a whole and the partition this controller owns."""

    name: str = "bonded-warehouse"
    partition: str = Field(default="site1", pattern=r"^[A-Za-z0-9_.:-]+$")
    utc_offset_h: float = Field(default=8.0, ge=-12, le=14, description="local time of cut-offs")
    manufacturer: str = Field(default="wmssim", pattern=r"^[A-Za-z0-9_.:-]+$")


class Storage(_Model):
    """A block of parallel aisles with bays on both sides and several levels."""

    aisles: int = Field(ge=1)
    bays_per_aisle: int = Field(ge=1)
    levels: int = Field(ge=1)
    bay_width_m: float = Field(gt=0)
    aisle_pitch_m: float = Field(gt=0)
    cross_aisles: int = Field(default=2, ge=2, le=3)
    depot_aisle: int = Field(default=0, ge=0)
    duty_paid_aisles: int = Field(default=0, ge=0, description="the last N aisles are the duty-paid area")
    slot_volume_l: float = Field(gt=0)
    slot_max_kg: float = Field(gt=0)
    heavy_kg: float = Field(default=15.0, gt=0, description="SKUs heavier than this go on low levels only")
    heavy_max_level: int = Field(default=1, ge=0)
    hazard_aisles: list[int] = Field(default_factory=list, description="aisles whose slots are hazard-rated")
    slotting: Literal["optimal", "coi", "abc", "random"] = "optimal"
    reslot_at: str = Field(
        default="02:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="nightly proposal"
    )

    @model_validator(mode="after")
    def _fits(self) -> Self:
        if self.depot_aisle >= self.aisles:
            raise ValueError(f"depot_aisle {self.depot_aisle} is not one of the {self.aisles} aisles")
        if self.duty_paid_aisles >= self.aisles:
            raise ValueError("duty_paid_aisles must leave at least one bonded aisle")
        for a in self.hazard_aisles:
            if not 0 <= a < self.aisles:
                raise ValueError(f"hazard aisle {a} is not one of the {self.aisles} aisles")
        return self

    @property
    def aisle_length_m(self) -> float:
        """Length of one aisle."""
        return self.bays_per_aisle * self.bay_width_m


class Pack(_Model):
    """Pack stations on the front cross aisle, and the conveyor from them to the sorter."""

    stations: int = Field(ge=1)
    pack_s: float = Field(gt=0)
    conveyor_to_sort_s: float = Field(gt=0)


class Sortation(_Model):
    """The project's own sortation grid, generated from a few parameters."""

    width: int = Field(ge=5)
    height: int = Field(ge=5)
    inducts: int = Field(ge=1)
    induct_sides: int = Field(
        default=1,
        ge=1,
        le=2,
        description="1: inducts along the bottom row; 2: half along the top row too (parking and chargers "
        "then along the left and right columns)",
    )
    chute_spacing: int = Field(default=3, ge=2)
    cell_m: float = Field(default=1.0, gt=0)
    bag_capacity: int = Field(default=40, ge=1)
    conveyor_to_gate_s: float = Field(gt=0)
    traffic: bool = Field(default=True, description="exclusive cell reservations for the sorting robots")
    wait_timeout_s: float = Field(
        default=30.0, gt=0, description="a sorting robot waiting on traffic this long is re-routed"
    )
    hold_ahead: int = Field(
        default=3,
        ge=1,
        le=6,
        description="cells a sorting robot may hold ahead of the one it stands on (traffic control); more "
        "are released when at most half of them are left",
    )

    @model_validator(mode="after")
    def _inducts_fit(self) -> Self:
        per_row = -(-self.inducts // self.induct_sides)
        if per_row > self.width // 2:
            raise ValueError(
                f"{self.inducts} inducts on {self.induct_sides} side(s) put {per_row} on one row; a row "
                f"{self.width} cells wide takes at most {self.width // 2} (a cell between inducts)"
            )
        return self

    def edge(self) -> list[tuple[int, int]]:
        """The (x, y) cells for parking and chargers, in order: the top row, or with inducts on two sides
        the left column upwards and the right one downwards (`wms.sorting.grid.build_grid` uses them)."""
        w, h = self.width, self.height
        if self.induct_sides == 1:
            return [(x, h - 1) for x in range(w)]
        return [(0, y) for y in range(1, h - 1)] + [(w - 1, y) for y in range(h - 2, 0, -1)]

    def edge_cells(self) -> int:
        """How many cells the edge has for parking and chargers."""
        return len(self.edge())


class Gate(_Model):
    """The central customs inspection gate."""

    xray_lanes: int = Field(ge=1)
    xray_s: float = Field(gt=0)
    manual_check_s: float = Field(gt=0)
    manual_officers: int = Field(default=2, ge=1, description="officers on the hold lane, one parcel each")
    weight_tolerance_pct: float = Field(default=5.0, ge=0, le=100, description="scale vs declared weight")


class Carrier(_Model):
    """A carrier with its routes and daily cut-offs (local time)."""

    code: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    name: str
    routes: list[str] = Field(min_length=1)
    cutoffs: list[str] = Field(default_factory=list)
    every_min: int | None = Field(default=None, ge=5, le=720, description="also a departure every N minutes")
    share: float = Field(default=1.0, gt=0, description="relative share of orders")

    @field_validator("cutoffs")
    @classmethod
    def _hhmm(cls, v: list[str]) -> list[str]:
        for t in v:
            if not _HHMM.match(t):
                raise ValueError(f"cut-off {t!r} is not HH:MM")
        return v

    @model_validator(mode="after")
    def _some(self) -> Self:
        if not self.cutoffs and self.every_min is None:
            raise ValueError(f"carrier {self.code} has neither cutoffs nor every_min")
        return self

    def cutoff_minutes(self) -> list[int]:
        """All departures as minutes after local midnight, sorted."""
        mins = {int(t[:2]) * 60 + int(t[3:]) for t in self.cutoffs}
        if self.every_min:
            mins.update(range(self.every_min, 24 * 60, self.every_min))
        return sorted(mins)


class RobotClass(_Model):
    """One kind of robot in the fleet."""

    count: int = Field(ge=0)
    speed_mps: float = Field(gt=0)
    battery_drain_pct_per_h: float = Field(ge=0, description="while driving")
    charge_pct_per_min: float = Field(gt=0)
    low_battery_pct: float = Field(ge=0, le=100)
    charged_pct: float = Field(gt=0, le=100)
    charging_spots: int = Field(ge=1)
    action_s: float = Field(gt=0, description="duration of one pick or drop action")
    cart_orders: int = Field(default=1, ge=1, description="orders per trip (picking carts)")


class Fleet(_Model):
    """The robot fleet."""

    picking: RobotClass
    sorting: RobotClass
    state_timeout_s: float = Field(default=90.0, gt=0)
    task_alarm_s: float = Field(
        default=900.0,
        gt=0,
        description="a robot's task (parking left out) running this long raises one alarm, naming where the "
        "robot stands and what it waits for",
    )
    horizon_nodes: int | None = Field(
        default=None,
        ge=1,
        description="nodes of a route announced beyond its released base (VDA 5050 horizon: where the "
        "robot heads next); unset: the whole rest of the route. The robot drives the base alone either way; "
        "a short horizon keeps order updates and the robot's states small",
    )


class Waves(_Model):
    """How often allocated orders are released to picking, and how they are put onto carts."""

    interval_s: float = Field(gt=0)
    batching: Literal["fcfs", "seed", "savings", "fcfs+ls", "seed+ls", "savings+ls"] = "savings"
    routing: Literal["exact", "nearest"] = "exact"
    max_orders: int = Field(
        default=0,
        ge=0,
        description="orders batched per wave at most, most urgent first (0: two carts per picking robot)",
    )
    planner_process: bool = Field(
        default=False,
        description="batch waves in a worker process (a second core) while the controller's loop goes on",
    )
    plan_s: float = Field(
        default=5.0,
        gt=0,
        description="with planner_process: seconds from a wave's start to the release of its carts",
    )
    departure_lead_s: float = Field(
        default=900.0,
        ge=0,
        le=86400,
        description=(
            "a wave aims each order at its carrier's first departure more than this long after the wave: "
            "packing, sorting, bagging and the gate take minutes, so a truck leaving sooner is out of reach "
            "and rushing the order onto a cart of its own would only cost the picking fleet"
        ),
    )

    @model_validator(mode="after")
    def _plan_within_wave(self) -> Waves:
        if self.planner_process and self.plan_s >= self.interval_s:
            raise ValueError(
                f"plan_s ({self.plan_s:g}) must be shorter than interval_s ({self.interval_s:g}): "
                "a wave's plan is collected before the next wave starts"
            )
        return self


class Promotion(_Model):
    """A promotion window of the order feed: the daily curve times ``factor`` from ``start`` for ``hours``."""

    start: str = Field(description="local HH:MM")
    hours: float = Field(gt=0, le=24)
    factor: float = Field(gt=0, le=100, description="multiplies the daily curve inside the window")

    @field_validator("start")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        if not _HHMM.match(v):
            raise ValueError(f"expected HH:MM, got {v!r}")
        return v

    @property
    def start_h(self) -> float:
        """Local start as hours after midnight."""
        return int(self.start[:2]) + int(self.start[3:]) / 60.0


class Feed(_Model):
    """The simulated order feed."""

    skus: int = Field(ge=1)
    orders_per_hour: float = Field(gt=0)
    buyers: int = Field(ge=1)
    repeat_buyer_share: float = Field(ge=0, le=1)
    pareto_alpha: float = Field(gt=0)
    max_lines: int = Field(ge=1, le=99)
    bad_document_rate: float = Field(default=0.0, ge=0, le=1)
    lot_qty: int = Field(ge=1)
    lots_per_sku: int = Field(default=2, ge=1)
    seed: int = 7
    daily_profile: list[float] | None = Field(
        default=None, description="24 relative hourly rates from local midnight (default: evening peak)"
    )
    promotions: list[Promotion] = Field(
        default_factory=list, description="windows of raised (or lowered) demand; the daily mean is kept"
    )

    @field_validator("daily_profile")
    @classmethod
    def _profile(cls, v: list[float] | None) -> list[float] | None:
        if v is not None and (len(v) != 24 or min(v) < 0 or sum(v) <= 0):
            raise ValueError("a daily profile has 24 non-negative hourly factors, not all zero")
        return v


class Intake(_Model):
    """Back-pressure: the order intake closes while the backlog (orders not yet released) is this large."""

    backlog_limit: int = Field(default=0, ge=0, description="0: never close the intake")
    resume_below: int = Field(default=0, ge=0, description="reopen below this (0: 80% of the limit)")


class O2O(_Model):
    """On-site pickup in the experience store: counters, opening hours, assortment and express timings."""

    counters: list[str] = Field(default_factory=lambda: ["C1"], min_length=1)
    opens: str = "09:00"
    closes: str = "22:00"
    target_s: float = Field(default=120.0, gt=0, description="order-to-handover target (console highlight)")
    assortment_skus: int = Field(
        default=60, ge=1, description="fastest movers: on display in the store and on the forward pick face"
    )
    pick: Literal["forward", "robot"] = Field(
        default="forward", description="a clerk picks from the forward face, or the nearest picking robot"
    )
    forward_pick_s: float = Field(default=15.0, gt=0, description="a clerk's first line at the forward face")
    forward_line_s: float = Field(default=5.0, ge=0, description="each further line")
    pack_s: float = Field(default=20.0, gt=0, description="express pack bench beside the counter")
    conveyor_to_gate_s: float = Field(default=15.0, gt=0)
    gate_to_counter_s: float = Field(default=10.0, gt=0)

    @field_validator("opens", "closes")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        if not _HHMM.match(v):
            raise ValueError(f"expected HH:MM, got {v!r}")
        return v


class WarehouseConfig(_Model):
    """Everything about the physical warehouse and its fleet."""

    site: Site = Site()
    storage: Storage
    pack: Pack
    sortation: Sortation
    gate: Gate
    carriers: list[Carrier] = Field(min_length=1)
    fleet: Fleet
    waves: Waves
    feed: Feed
    o2o: O2O = O2O()
    intake: Intake = Intake()

    @model_validator(mode="after")
    def _unique_carriers(self) -> Self:
        codes = [c.code for c in self.carriers]
        if len(set(codes)) != len(codes):
            raise ValueError(f"carrier codes repeat: {codes}")
        return self

    @model_validator(mode="after")
    def _chargers_fit(self) -> Self:
        spots, cells = self.fleet.sorting.charging_spots, self.sortation.edge_cells()
        if spots > cells:
            raise ValueError(
                f"fleet.sorting.charging_spots = {spots} is more than the {cells} parking cells of the sort "
                "grid's edge"
            )
        return self


class Category(_Model):
    """Tax rates of one goods category."""

    vat: float = Field(ge=0, lt=1)
    ct: float = Field(default=0.0, ge=0, lt=1, description="consumption tax")
    reference_hs: list[str] = Field(min_length=1)


class RiskRules(_Model):
    """Configurable risk rules of the inspection gate."""

    high_risk_categories: list[str] = Field(default_factory=list)
    max_orders_per_buyer_per_day: int = Field(default=10, ge=1)
    min_price_ratio: float = Field(default=0.3, ge=0, le=1)
    max_buyers_per_address: int = Field(default=5, ge=1)


class CustomsConfig(_Model):
    """Limits, tax, positive list, risk rules and sampling of cross-border retail imports."""

    single_limit_fen: int = Field(gt=0)
    annual_limit_fen: int = Field(gt=0)
    single_item_exception: bool = True
    tax_discount: float = Field(default=0.7, gt=0, le=1)
    sampling_rate: float = Field(ge=0, le=1)
    xray_suspect_rate: float = Field(default=0.0, ge=0, le=1, description="simulated X-ray only")
    mispack_rate: float = Field(
        default=0.0, ge=0, le=1, description="simulated gate only: share of parcels packed one unit short"
    )
    manual_reject_rate: float = Field(
        default=0.0, ge=0, le=1, description="simulated hold lane only: share of manual checks that reject"
    )
    return_window_days: int = Field(default=30, ge=0)
    customs_code: str = Field(default="4601", pattern=r"^\d{4}$", description="declaring customs office")
    port_code: str = Field(default="4601", pattern=r"^\d{4}$", description="port of entry")
    categories: dict[str, Category] = Field(min_length=1)
    positive_list: list[str] = Field(min_length=1)
    risk: RiskRules = RiskRules()

    @field_validator("positive_list")
    @classmethod
    def _hs(cls, v: list[str]) -> list[str]:
        for code in v:
            if not re.fullmatch(r"\d{8}|\d{10}", code):
                raise ValueError(f"HS code {code!r} must have 8 or 10 digits")
        return v


def _load(path: Path, model: type[BaseModel]) -> Any:
    try:
        check_file(path, error=ConfigError)
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8: {exc.reason} at byte {exc.start}") from None
    except (ValueError, RecursionError) as exc:  # TOMLDecodeError, or an integer too long to convert
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"{path}: {problems}") from None


def default_path(name: str) -> Path:
    """``config/NAME`` in the working directory if present, else the one shipped with the code."""
    local = Path("config") / name
    return local if local.exists() else CONFIG_DIR / name


def load_warehouse(path: str | Path | None = None) -> WarehouseConfig:
    """Read and check ``warehouse.toml``."""
    return _load(Path(path) if path else default_path("warehouse.toml"), WarehouseConfig)


def load_customs(path: str | Path | None = None) -> CustomsConfig:
    """Read and check ``customs.toml``."""
    return _load(Path(path) if path else default_path("customs.toml"), CustomsConfig)
