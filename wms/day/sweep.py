"""``--sweep robots=…``: which fleet sizes to run, and the smallest that keeps the 24-hour target.

Syntax (repeat ``--sweep`` for both fleets)::

    robots=40,60,80            both fleets at 40, then 60, then 80 robots each
    robots=picking:40,60,80    picking fleet sizes; sorting held at its largest swept size (else the config's)
    robots=sorting:30,50       sorting fleet sizes; picking likewise

Sweeping one fleet holds the other at its largest swept size, so that the swept fleet is the bottleneck;
when both are swept one at a time, the smallest passing sizes are then run together to confirm them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["both", "picking", "sorting"]
KINDS: tuple[str, ...] = ("picking", "sorting")
EXAMPLE = "e.g. --sweep robots=picking:40,60,80 --sweep robots=sorting:30,50, or --sweep robots=40,60"


class SweepError(ValueError):
    """A ``--sweep`` value that cannot be understood; the message says why and shows the syntax."""


@dataclass(frozen=True)
class FleetSweep:
    """Fleet sizes to try for one kind of robot (or both kinds together)."""

    kind: Kind
    counts: tuple[int, ...]


@dataclass(frozen=True)
class Case:
    """One run of the sweep: a picking and a sorting fleet size, and why it is run."""

    picking: int
    sorting: int
    roles: tuple[str, ...]  # "both", "picking", "sorting" (the swept fleets it serves) or "confirm"

    @property
    def role(self) -> str:
        """The swept fleets this run serves, e.g. ``picking+sorting``."""
        return "+".join(self.roles)

    @property
    def key(self) -> str:
        """Label of the case in tables and JSON."""
        return f"pick {self.picking} / sort {self.sorting}"


def parse_sweep(spec: str) -> FleetSweep:
    """One ``--sweep`` value, e.g. ``robots=picking:40,60``; SweepError with the reason if it is malformed."""
    name, eq, value = spec.partition("=")
    if not eq:
        raise SweepError(f"--sweep {spec!r}: expected robots=SIZES ({EXAMPLE})")
    if name.strip() != "robots":
        raise SweepError(f"--sweep {spec!r}: only robots can be swept, not {name.strip()!r} ({EXAMPLE})")
    kind: str = "both"
    sizes = value
    if ":" in value:
        kind, _, sizes = value.partition(":")
        kind = kind.strip()
        if kind not in KINDS:
            raise SweepError(f"--sweep {spec!r}: fleet {kind!r} is not picking or sorting ({EXAMPLE})")
    items = [x.strip() for x in sizes.split(",")]
    if not sizes.strip() or any(not x for x in items):
        raise SweepError(f"--sweep {spec!r}: give fleet sizes separated by commas ({EXAMPLE})")
    counts = []
    for x in items:
        try:
            n = int(x)
        except ValueError:
            raise SweepError(f"--sweep {spec!r}: {x!r} is not a whole number of robots ({EXAMPLE})") from None
        if n < 1:
            raise SweepError(f"--sweep {spec!r}: a fleet needs at least one robot, not {n}")
        counts.append(n)
    return FleetSweep(kind, tuple(sorted(set(counts))))  # type: ignore[arg-type]


def parse_sweeps(specs: Iterable[str]) -> list[FleetSweep]:
    """Every ``--sweep`` value; a fleet swept twice, or ``both`` beside one fleet, is an error."""
    sweeps = [parse_sweep(s) for s in specs]
    kinds = [s.kind for s in sweeps]
    if len(set(kinds)) != len(kinds):
        raise SweepError(f"--sweep: one --sweep per fleet, got {', '.join(kinds)} ({EXAMPLE})")
    if "both" in kinds and len(kinds) > 1:
        raise SweepError(
            f"--sweep robots=N,… sweeps both fleets: do not combine it with robots=KIND:… ({EXAMPLE})"
        )
    return sweeps


def plan(sweeps: Sequence[FleetSweep], picking: int, sorting: int) -> list[Case]:
    """The runs of a sweep, given the configured fleet sizes (used where a fleet is not swept)."""
    by_kind = {s.kind: s.counts for s in sweeps}
    if "both" in by_kind:
        return [Case(n, n, ("both",)) for n in by_kind["both"]]
    hold = {
        "picking": max(by_kind.get("picking", (picking,))),
        "sorting": max(by_kind.get("sorting", (sorting,))),
    }
    roles: dict[tuple[int, int], list[str]] = {}
    for n in by_kind.get("picking", ()):
        roles.setdefault((n, hold["sorting"]), []).append("picking")
    for n in by_kind.get("sorting", ()):
        roles.setdefault((hold["picking"], n), []).append("sorting")  # one run may serve both sweeps
    return [Case(p, s, tuple(r)) for (p, s), r in roles.items()]


def passes(result: dict[str, Any]) -> bool:
    """Whether a run kept the 24-hour target with every parcel accounted for and no errors."""
    if "error" in result:
        return False
    checks = result.get("checks", {})
    return bool(checks.get("within_24h") and checks.get("accounted_for") and checks.get("no_internal_errors"))


def smallest(cases: Sequence[Case], results: dict[str, dict[str, Any]]) -> dict[str, int | None]:
    """Smallest passing size per swept fleet (None: no swept size passed)."""
    out: dict[str, int | None] = {}
    roles = {r for c in cases for r in c.roles if r != "confirm"}
    for role in sorted(roles):
        ok = [c for c in cases if role in c.roles and passes(results.get(c.key, {"error": "not run"}))]
        if role == "both":
            n = min((c.picking for c in ok), default=None)
            out["picking"] = out["sorting"] = n
        else:
            out[role] = min((getattr(c, role) for c in ok), default=None)
    return out


def confirmation(cases: Sequence[Case], found: dict[str, int | None]) -> Case | None:
    """The run that checks both fleets' smallest sizes together, when both were swept one at a time."""
    roles = {r for c in cases for r in c.roles}
    if not {"picking", "sorting"} <= roles or found.get("picking") is None or found.get("sorting") is None:
        return None
    case = Case(int(found["picking"]), int(found["sorting"]), ("confirm",))  # type: ignore[arg-type]
    return None if any(c.key == case.key for c in cases) else case


def answer(
    cases: Sequence[Case], found: dict[str, int | None], results: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """The smallest passing size of each swept fleet (the other at the size it was held at), confirmed."""
    swept = sorted(found)
    fleet = {k: found[k] for k in swept}
    for k in ("picking", "sorting"):
        if k not in fleet:  # not swept: the size the sweep held it at
            fleet[k] = getattr(cases[0], k)
    key = None
    if all(v is not None for v in fleet.values()):
        key = f"pick {fleet['picking']} / sort {fleet['sorting']}"
    ran = key is not None and key in results
    confirmed = ran and passes(results[key])
    return {
        "picking": fleet["picking"],
        "sorting": fleet["sorting"],
        "swept": swept,
        "confirmed_together": confirmed if ran else None,
        "found": all(found[k] is not None for k in swept) and (not ran or confirmed),
    }
