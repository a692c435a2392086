"""Drive each target with hypothesis; count per parser the inputs, typed errors, accepted inputs, crashes."""

from __future__ import annotations

import tempfile
import time
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed

from wms.fuzz.targets import TARGETS, Target

SLOW_S = 5.0  # one input taking longer than this counts as a crash (a denial of service)


@dataclass
class Crash:
    """One kind of unhandled exception (type and place), how often, and the smallest input that raised it."""

    kind: str
    message: str
    count: int
    example: bytes

    def to_json(self) -> dict[str, object]:
        """JSON form; the example as text (bytes escaped) cut to 300 characters."""
        text = repr(self.example)
        return {**asdict(self), "example": text if len(text) <= 300 else text[:300] + "…"}


@dataclass
class Result:
    """Counts of one target's run."""

    name: str
    what: str
    generated: int = 0
    typed: int = 0
    accepted: int = 0
    crashes: int = 0
    seconds: float = 0.0
    slowest_s: float = 0.0
    slowest_size: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    crash_kinds: dict[str, Crash] = field(default_factory=dict)

    def record(self, target: Target, data: bytes, tmp: Path) -> None:
        """Run the parser on one input and count the outcome."""
        self.generated += 1
        start = time.perf_counter()
        try:
            target.parse(data, tmp)
        except target.typed as exc:
            self.typed += 1
            name = type(exc).__name__
            self.errors[name] = self.errors.get(name, 0) + 1
        except Exception as exc:  # anything else is what we are looking for
            self._crash(_where(exc), f"{type(exc).__name__}: {str(exc)[:200]}", data)
        else:
            self.accepted += 1
        took = time.perf_counter() - start
        if took > self.slowest_s:
            self.slowest_s, self.slowest_size = took, len(data)
        if took > SLOW_S:
            self._crash(f"slow (over {SLOW_S:g} s)", f"{took:.1f} s", data)

    def _crash(self, kind: str, message: str, data: bytes) -> None:
        """Count a crash under its kind, keeping the smallest input."""
        self.crashes += 1
        known = self.crash_kinds.get(kind)
        if known is None:
            self.crash_kinds[kind] = Crash(kind, message, 1, data)
            return
        known.count += 1
        if len(data) < len(known.example):
            known.example, known.message = data, message

    def to_json(self) -> dict[str, object]:
        """JSON form of the counts and crashes."""
        out = {k: v for k, v in asdict(self).items() if k != "crash_kinds"}
        out["seconds"], out["slowest_s"] = round(self.seconds, 3), round(self.slowest_s, 4)
        out["crash_kinds"] = [c.to_json() for c in self.crash_kinds.values()]
        return out


def _where(exc: BaseException) -> str:
    """``Type at file:line`` of the innermost frame of the project (else the innermost frame)."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/wms/" in f.filename and "/wms/fuzz/" not in f.filename] or frames
    if not ours:
        return type(exc).__name__
    f = ours[-1]
    return f"{type(exc).__name__} at {f.filename.rsplit('/wms/', 1)[-1]}:{f.lineno}"


def fuzz_target(target: Target, examples: int, seed: int = 0) -> Result:
    """Feed ``examples`` generated inputs to one target (deterministic for a given ``seed``)."""
    result = Result(target.name, target.what)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="wms-fuzz-") as tmp:

        @hypothesis_seed(seed)
        @settings(
            max_examples=examples,
            database=None,
            deadline=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(target.strategy())
        def run(data: bytes) -> None:
            result.record(target, data, Path(tmp))

        run()
    result.seconds = time.perf_counter() - start
    return result


def _by_name(name: str, examples: int, seed: int) -> Result:
    """Fuzz a registered target (for worker processes, which get names, not functions)."""
    return fuzz_target(TARGETS[name], examples, seed)


def fuzz(
    targets: Iterable[Target],
    examples: int,
    seed: int = 0,
    jobs: int = 1,
    done: Callable[[Result], None] | None = None,
) -> list[Result]:
    """Fuzz every target, ``jobs`` at a time in worker processes (registered targets only when jobs > 1)."""
    targets = list(targets)
    results: list[Result] = []
    if jobs <= 1:
        for t in targets:
            results.append(fuzz_target(t, examples, seed))
            if done:
                done(results[-1])
        return results
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(_by_name, t.name, examples, seed) for t in targets]
        for f in futures:
            results.append(f.result())
            if done:
                done(results[-1])
    return results
