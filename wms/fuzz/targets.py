"""Every inbound parser as a fuzz target: how to call it on bytes, its typed errors, what to generate."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from wms import domain, messages
from wms.config import ConfigError, load_customs, load_warehouse
from wms.fuzz import seeds
from wms.fuzz.tables import csv_payloads, render_csv
from wms.fuzz.trees import json_payloads, to_toml, toml_payloads
from wms.fuzz.values import RAW_BYTES
from wms.fuzz.xmldocs import xml_payloads
from wms.inspection.ceb import CebError, parse_ceb311, parse_ceb411, parse_ceb511
from wms.inspection.documents import DocumentError, InputError, load_catalog_csv, load_ytd, read_documents
from wms.inspection.receipts import message_kind, parse_receipts
from wms.limits import PayloadTooLarge, check_size
from wms.picking.block import Block, PickError
from wms.picking.io import read_layout, read_orders, read_picks
from wms.robots import vda5050
from wms.slotting.io import read_affinity, read_assignment, read_skus, read_slots
from wms.slotting.model import SlottingError

Parse = Callable[[bytes, Path], object]
BLOCK = Block(aisles=6, aisle_length_m=20.0, aisle_pitch_m=3.0, cross_aisles=3)


@dataclass(frozen=True)
class Target:
    """A parser ``parse(data, scratch_dir)``, the typed errors it may raise, generated and valid inputs."""

    name: str
    parse: Parse
    typed: tuple[type[BaseException], ...]
    inputs: Callable[[], st.SearchStrategy[bytes]]
    valid: Callable[[], list[bytes]]
    what: str = ""

    def strategy(self) -> st.SearchStrategy[bytes]:
        """Random bytes one time in four, structure-aware mutations of valid samples otherwise."""
        structured = self.inputs()
        return st.integers(0, 3).flatmap(lambda i: RAW_BYTES if i == 0 else structured)


def _via_file(read: Callable[[Path], object], suffix: str) -> Parse:
    """A reader of files as a parser of bytes (the bytes are written to a scratch file first)."""

    def parse(data: bytes, tmp: Path) -> object:
        path = tmp / f"input{suffix}"
        path.write_bytes(data)
        return read(path)

    return parse


def _message(model: type[BaseModel]) -> Parse:
    """What the controller does with a bus payload: refuse it if oversize, then validate it as JSON."""

    def parse(data: bytes, tmp: Path) -> object:
        check_size(data, model.__name__)
        return model.model_validate_json(data)

    return parse


def _documents(data: bytes, tmp: Path) -> object:
    """Every docs.jsonl line as ``wms inspect`` reads it; then the first `DocumentError` is raised."""
    items = [item for _, item in read_documents(io.BytesIO(data))]
    for item in items:
        if isinstance(item, DocumentError):
            raise item
    return items


def _jsonl() -> st.SearchStrategy[bytes]:
    """One to three mutated docs.jsonl lines."""
    return st.lists(json_payloads(seeds.docs_jsonl()), min_size=1, max_size=3).map(b"\n".join)


def _json(samples: list[seeds.JSON]) -> list[bytes]:
    """Samples as UTF-8 JSON."""
    return [json.dumps(s, ensure_ascii=False).encode() for s in samples]


def _vda(name: str, parse: Callable[[bytes], object], sample: Callable[[], seeds.JSON]) -> Target:
    """A VDA 5050 parser as a target."""
    return Target(
        f"vda5050.{name}",
        lambda d, _: parse(d),
        (vda5050.VdaError,),
        lambda: json_payloads([sample()]),
        lambda: _json([sample()]),
        f"vda5050.parse_{name}",
    )


def _models() -> list[Target]:
    """Every bus message model as a target."""
    out = []
    for name, samples in seeds.MESSAGES.items():
        model = getattr(messages, name, None) or getattr(domain, name)
        out.append(
            Target(
                f"message.{name}",
                _message(model),
                (ValidationError, PayloadTooLarge),
                lambda s=samples: json_payloads(s),
                lambda s=samples: _json(s),
                f"check_size + {name}.model_validate_json",
            )
        )
    return out


def _ceb(name: str, parse: Callable[[bytes], object], samples: Callable[[], list[bytes]]) -> Target:
    """A CEB XML parser as a target."""
    return Target(
        f"ceb.{name}",
        lambda d, _: parse(d),
        (CebError,),
        lambda: xml_payloads(samples()),
        samples,
        parse.__name__,
    )


def _csv(
    name: str, read: Callable[[Path], object], error: type[Exception], what: str, fn: str = ""
) -> Target:
    """A CSV file reader as a target."""
    rows = seeds.CSV[what]
    return Target(
        name,
        _via_file(read, ".csv"),
        (error,),
        lambda: csv_payloads([rows]),
        lambda: [render_csv(rows).encode()],
        f"{fn or read.__name__}({what}.csv)",
    )


def _toml(name: str, read: Callable[[Path], object], error: type[Exception], what: str, text: bool) -> Target:
    """A TOML file reader as a target (``text``: also mutate the shipped file as text)."""

    def texts() -> list[str]:
        return [(seeds.CONFIG_DIR / f"{what}.toml").read_text("utf-8")] if text else []

    return Target(
        name,
        _via_file(read, ".toml"),
        (error,),
        lambda: toml_payloads([seeds.toml_docs()[what]], texts()),
        lambda: [t.encode() for t in [*texts(), to_toml(seeds.toml_docs()[what])]],
        f"{read.__name__}({what}.toml)",
    )


def _all() -> list[Target]:
    """Every target, in a stable order."""
    docs = seeds.ceb_documents
    return [
        _vda("state", vda5050.parse_state, seeds.vda_state),
        _vda("read_state", vda5050.read_state, seeds.vda_state),  # the master's plain-dict path
        _vda("read_visualization", vda5050.read_visualization, seeds.vda_state),
        _vda("connection", vda5050.parse_connection, seeds.vda_connection),
        _vda("factsheet", vda5050.parse_factsheet, seeds.vda_factsheet),
        _vda("order", vda5050.parse_order, seeds.vda_order),
        _vda("read_order", vda5050.read_order, seeds.vda_order),  # the simulated robots' plain-dict path
        _vda("instant_actions", vda5050.parse_instant_actions, seeds.vda_instant_actions),
        *_models(),
        _ceb("receipts", parse_receipts, seeds.receipts),
        _ceb("message_kind", message_kind, lambda: [*seeds.receipts(), *sum(docs().values(), [])]),
        _ceb("ceb311", parse_ceb311, lambda: docs()["CEB311"]),
        _ceb("ceb411", parse_ceb411, lambda: docs()["CEB411"]),
        _ceb("ceb511", parse_ceb511, lambda: docs()["CEB511"]),
        Target(
            "inspect.docs_jsonl",
            _documents,
            (DocumentError,),
            _jsonl,
            lambda: [b"\n".join(_json(seeds.docs_jsonl()))],
            "read_documents(docs.jsonl)",
        ),
        _csv("inspect.catalog_csv", load_catalog_csv, InputError, "catalog"),
        _csv("inspect.ytd_csv", load_ytd, InputError, "ytd"),
        _toml("config.warehouse", load_warehouse, ConfigError, "warehouse", True),
        _toml("config.customs", load_customs, ConfigError, "customs", True),
        _toml("picking.layout", read_layout, PickError, "layout", False),
        _csv("picking.picks", lambda p: read_picks(p, BLOCK), PickError, "picks", "read_picks"),
        _csv("picking.orders", lambda p: read_orders(p, BLOCK), PickError, "orders", "read_orders"),
        _csv("slotting.skus", read_skus, SlottingError, "skus"),
        _csv("slotting.slots", read_slots, SlottingError, "slots"),
        _csv("slotting.assignment", read_assignment, SlottingError, "assignment"),
        _csv("slotting.affinity", read_affinity, SlottingError, "affinity"),
    ]


TARGETS: dict[str, Target] = {t.name: t for t in _all()}


def select(patterns: list[str] | None) -> list[Target]:
    """Targets whose name contains any of ``patterns`` (all when none); an unknown pattern is an error."""
    if not patterns:
        return list(TARGETS.values())
    chosen = [t for t in TARGETS.values() if any(p in t.name for p in patterns)]
    if not chosen:
        raise ValueError(f"no fuzz target matches {patterns}; known: {', '.join(TARGETS)}")
    return chosen
