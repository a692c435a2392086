"""Commands ``wms inspect`` and ``wms bench gate``; `register` adds them to the ``wms`` Typer apps."""

from __future__ import annotations

import json
import random
import re
import secrets
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from wms.catalog import generate_catalog
from wms.config import ConfigError, CustomsConfig, WarehouseConfig, load_customs, load_warehouse
from wms.console.stderr import err, fail
from wms.domain import OrderBundle, Sku
from wms.inspection.ceb import CebError, ceb621
from wms.inspection.decision import RELEASE, Decision, QuotaHistory, commit, decide, malformed
from wms.inspection.documents import (
    DocumentError,
    InputError,
    load_catalog_csv,
    load_ytd,
    read_ceb_dir,
    read_documents,
)
from wms.inspection.receipts import Receipt, for_order
from wms.inspection.rules import local_year
from wms.inspection.signing import Signer, load_signer

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="warehouse TOML (default config/warehouse.toml)")
]
CustomsOpt = Annotated[
    Path | None, typer.Option("--customs", help="customs TOML (default config/customs.toml)")
]


def _configs(config: Path | None, customs: Path | None) -> tuple[WarehouseConfig, CustomsConfig]:
    """Both configuration files, or exit 2 naming the problem."""
    try:
        return load_warehouse(config), load_customs(customs)
    except ConfigError as exc:
        raise fail(str(exc)) from None


@dataclass(frozen=True, slots=True)
class _Entry:
    """One order to decide (or the reason it cannot be), with the receipts that answer its documents."""

    bundle: OrderBundle | None
    error: str = ""
    order_no: str | None = None
    receipts: tuple[Receipt, ...] = ()


def _from_documents(path: Path) -> Iterator[_Entry]:
    """Entries of a docs.jsonl file, line by line."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise fail(f"{path}: cannot read: {exc.strerror or exc}") from None
    with handle:
        for _, item in read_documents(handle):
            if isinstance(item, DocumentError):
                yield _Entry(None, str(item), item.order_no)
            else:
                yield _Entry(item)


def _from_ceb(path: Path) -> Iterator[_Entry]:
    """Entries of a folder of CEB messages: each CEB311 order with its payment, waybill and receipts."""
    try:
        batch = read_ceb_dir(path)
    except InputError as exc:
        raise fail(str(exc)) from None
    for name, problem in batch.skipped:
        err.print(f"skipped {name}: {problem}", highlight=False, markup=False)
    for name, problem in batch.errors:
        yield _Entry(None, f"{name}: {problem}")
    for _source, order in batch.orders:
        payment = batch.payments.get(order.order_no)
        waybill = batch.waybills.get(order.order_no)
        bundle = OrderBundle(order=order, payment=payment, waybill=waybill)
        found = for_order(
            batch.receipts,
            order.order_no,
            order.pay_transaction_id,
            waybill.logistics_no if waybill else "",
        )
        yield _Entry(bundle, receipts=tuple(found))
    if batch.receipts:
        err.print(f"{len(batch.receipts)} receipt(s) read", highlight=False)


def _safe_name(order_no: str) -> str:
    """An order number usable as a file name."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", order_no)


@dataclass(frozen=True, slots=True)
class _Inventory:
    """Where and how to write the CEB621 of each released order."""

    folder: Path
    signer: Signer
    ems_no: str
    customs_code: str
    port_code: str
    utc_offset_h: float

    def write(self, bundle: OrderBundle, catalog: dict[str, Sku], now: float) -> Path:
        """The signed CEB621 of a released order, written to the folder."""
        assert bundle.waybill is not None  # a released order has its waybill
        xml = ceb621(
            bundle.order,
            bundle.waybill,
            catalog,
            ems_no=self.ems_no,
            customs_code=self.customs_code,
            port_code=self.port_code,
            now=now,
            utc_offset_h=self.utc_offset_h,
        )
        path = self.folder / f"CEB621_{_safe_name(bundle.order.order_no)}.xml"
        path.write_bytes(self.signer.sign(xml))
        return path


def _table(rows: list[dict[str, Any]]) -> Table:
    """The decisions as a Rich table."""
    table = Table(title="Gate decisions")
    for name in ("orderNo", "decision", "reasons"):
        table.add_column(name)
    table.add_column("tax computed / declared", justify="right")
    for row in rows:
        tax = row["tax"]
        reasons = "\n".join(f"{r['code']}: {r['detail']}" for r in row["reasons"])
        table.add_row(
            row["orderNo"] or "—",
            row["decision"],
            reasons,
            f"{tax['computed'] or '—'} / {tax['declared'] or '—'}",
        )
    return table


def inspect(
    documents: Annotated[
        Path | None, typer.Option("--documents", help="docs.jsonl: one order with its documents a line")
    ] = None,
    ceb: Annotated[Path | None, typer.Option("--ceb", help="folder of CEB XML messages")] = None,
    year_to_date: Annotated[
        Path | None, typer.Option("--year-to-date", help="CSV buyerIdNumber,released_cny for this year")
    ] = None,
    sample_rate: Annotated[
        float | None, typer.Option("--sample-rate", min=0.0, max=1.0, help="default: customs config")
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="sampling seed (default: random, printed)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON line per order on stdout")] = False,
    catalog: Annotated[
        Path | None,
        typer.Option("--catalog", help="CSV sku,hs_code,category,unit_value_cny,weight_kg,volume_l"),
    ] = None,
    ceb621_dir: Annotated[
        Path | None, typer.Option("--ceb621", help="write the CEB621 of each released order here")
    ] = None,
    signer: Annotated[
        str | None, typer.Option("--signer", help="module:factory of a CEB621 signer (default: unsigned)")
    ] = None,
    ems_no: Annotated[str, typer.Option(help="bonded account book for CEB621")] = "T4601W000001",
    customs_code: Annotated[str, typer.Option(help="customs district for CEB621")] = "4601",
    port_code: Annotated[str, typer.Option(help="port for CEB621")] = "4601",
    config: ConfigOpt = None,
    customs: CustomsOpt = None,
) -> None:
    """Decide orders at the customs gate: release, hold (X-ray / manual lane) or reject, with reasons."""
    if (documents is None) == (ceb is None):
        raise fail("give exactly one of --documents FILE and --ceb DIR")
    warehouse, rules = _configs(config, customs)
    if sample_rate is not None:
        rules = rules.model_copy(update={"sampling_rate": sample_rate})
    utc = warehouse.site.utc_offset_h
    now = time.time()
    try:
        skus = (
            load_catalog_csv(catalog)
            if catalog
            else {s.sku: s for s in generate_catalog(warehouse.feed, rules)}
        )
        ytd = load_ytd(year_to_date) if year_to_date else {}
        sign = load_signer(signer)
    except (InputError, ValueError) as exc:
        raise fail(str(exc)) from None
    inventory = None
    if ceb621_dir is not None:
        try:
            ceb621_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise fail(f"{ceb621_dir}: cannot create: {exc.strerror or exc}") from None
        inventory = _Inventory(ceb621_dir, sign, ems_no, customs_code, port_code, utc)
    if seed is None:
        seed = secrets.randbits(32)
        err.print(f"sampling seed {seed} (pass --seed {seed} to reproduce)", highlight=False)
    rng = random.Random(seed)
    history = QuotaHistory(rules.return_window_days, utc, ytd=ytd, ytd_year=local_year(now, utc))
    if documents is not None:
        entries = _from_documents(documents)
    else:
        assert ceb is not None
        entries = _from_ceb(ceb)
    rows: list[dict[str, Any]] = []
    counts: Counter[str] = Counter()
    for entry in entries:
        d = _decide(entry, skus, rules, history, now, rng)
        counts[d.decision] += 1
        row = d.to_json()
        if entry.receipts:
            row["receipts"] = [r.to_json() for r in entry.receipts]
        if inventory is not None and d.decision == RELEASE and entry.bundle is not None:
            try:
                inventory.write(entry.bundle, skus, now)
            except (CebError, OSError) as exc:
                err.print(f"CEB621 of {d.order_no} not written: {exc}", highlight=False, markup=False)
        if as_json:
            typer.echo(json.dumps(row, ensure_ascii=False))
        else:
            rows.append(row)
    if not as_json:
        out = Console()
        out.print(_table(rows))
        summary = ", ".join(f"{k} {counts.get(k, 0)}" for k in ("release", "hold", "reject"))
        out.print(f"{sum(counts.values())} orders: {summary}", highlight=False, markup=False)


def _decide(
    entry: _Entry,
    catalog: dict[str, Sku],
    customs: CustomsConfig,
    history: QuotaHistory,
    now: float,
    rng: random.Random,
) -> Decision:
    """The decision of one entry, committed to the history; unreadable ones are MALFORMED."""
    if entry.bundle is None:
        return malformed(entry.order_no, entry.error)
    b = entry.bundle
    d = decide(b.order, b.payment, b.waybill, catalog, customs, history, now, rng)
    commit(history, b.order, d, now)
    return d


def gate(
    parcels: Annotated[int, typer.Option("--parcels", min=1, help="orders to generate and decide")] = 100_000,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="also write the result as JSON here")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="feed and sampling seed (default: feed seed)")] = None,
    lanes: Annotated[int | None, typer.Option(min=1, help="X-ray lanes (default: [gate] xray_lanes)")] = None,
    orders_per_hour: Annotated[
        float | None, typer.Option(min=1.0, help="arrival rate (default: [feed] orders_per_hour)")
    ] = None,
    config: ConfigOpt = None,
    customs: CustomsOpt = None,
) -> None:
    """Benchmark the rule engine (decisions/s) and the inspection gate over a simulated day."""
    from wms.inspection.bench import render, run_bench

    warehouse, rules = _configs(config, customs)
    result = run_bench(parcels, warehouse, rules, seed=seed, lanes=lanes, orders_per_hour=orders_per_hour)
    out = Console()
    for table in render(result):
        out.print(table)
    if json_out is not None:
        json_out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


def register(app: typer.Typer, bench: typer.Typer) -> None:
    """Add ``inspect`` to the main app and ``gate`` to the ``bench`` group."""
    app.command("inspect")(inspect)
    bench.command("gate")(gate)


def main() -> None:
    """Run the two commands stand-alone (``python -m wms.inspection.commands``)."""
    app = typer.Typer(help="Customs inspection gate.")
    bench = typer.Typer(help="Benchmarks.")
    app.add_typer(bench, name="bench")
    register(app, bench)
    app()


if __name__ == "__main__":
    main()
