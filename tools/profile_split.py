"""Where a whole day's processes spent their time, from a py-spy profile: by event-loop callback.

Record a day with ``py-spy record --subprocesses -r RATE -f raw -o day.txt -- python -m wms bench day ...``
(a low rate such as 25 Hz keeps py-spy's own cost small), then run
``python tools/profile_split.py day.txt --rate RATE``. For each process it prints the seconds its samples
stand for, split by the callback its virtual clock was running (a bus message's handler, a timer), the
commit that ends a controller's unit of work, the lockstep link between the controller's and the world's
processes, and its other threads; ``--within FUNCTION`` shows what the samples under one function ran
(self and inclusive). py-spy counts a thread blocked in a wait as busy at times, so the
"other threads" row is an upper bound.
"""

from __future__ import annotations

import argparse
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator

# frames between the clock's loop and the code a callback runs
WRAPPERS = frozenset(
    {
        "Delivery.__call__",
        "Controller._guard.<locals>.handler",
        "Outbox.atomic.<locals>.run",
        "Controller._every.<locals>.tick",
    }
)
COMMIT = "unit commit (Repo._end)"
LINK = "lockstep link (send, receive, wait)"
THREADS = "other threads"
LOOP = "event loop"
OTHER = "other (start-up, reports)"


def function(frame: str) -> str:
    """A py-spy frame's function name, without its file and line."""
    return frame.split(" (", 1)[0].strip()


def category(frames: list[str]) -> str:
    """What one sample of a process was doing (``frames`` outermost first, function names only)."""
    if any(f.startswith("Thread._bootstrap") for f in frames):
        return THREADS
    if "_process_worker" in frames:  # a pool's worker: the function it was given
        return frames[frames.index("_process_worker") + 1] if frames[-1] != "_process_worker" else OTHER
    guard = max((i for i, f in enumerate(frames) if f == "_Loop._guard"), default=-1)
    if guard >= 0:
        for f in frames[guard + 1 :]:
            if f not in WRAPPERS:
                return COMMIT if f == "_Outer.__exit__" else f
        return LOOP
    if "VirtualClock.run_before" in frames:  # the clock between callbacks: its queue, its meter
        return LOOP
    if any(f in ("Leader.run_before", "follow") for f in frames):
        return LINK
    return OTHER


def _samples(lines: Iterable[str]) -> Iterator[tuple[list[str], int]]:
    """The stacks (frames outermost first) and their sample counts of py-spy's raw (collapsed) output."""
    for line in lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if stack and count.isdigit():
            yield stack.split(";"), int(count)


def split(lines: Iterable[str]) -> dict[str, Counter[str]]:
    """Samples by process (its py-spy label) and category."""
    out: dict[str, Counter[str]] = defaultdict(Counter)
    for frames, count in _samples(lines):
        procs = [i for i, f in enumerate(frames) if f.startswith("process ")]
        proc = frames[procs[-1]] if procs else "process ?"
        rest = [function(f) for f in frames[(procs[-1] + 1 if procs else 0) :]]
        out[_label(proc)][category(rest)] += count
    return out


def _label(proc: str) -> str:
    """A py-spy process frame (``process PID:"COMMAND"``) as ``process PID: COMMAND``, the command cut."""
    pid, _, cmd = proc.partition(":")
    cmd = cmd.strip().strip('"')
    return f"{pid}: {cmd[:70] + '...' if len(cmd) > 70 else cmd}"


def report(samples: dict[str, Counter[str]], rate: float, top: int = 15) -> str:
    """The table of each process, largest first: seconds (samples / rate) and share by category."""
    lines = []
    for proc, counts in sorted(samples.items(), key=lambda kv: -sum(kv[1].values())):
        total = sum(counts.values())
        lines.append(f"{proc}: {total / rate:,.0f} s in {total:,} samples")
        shown = counts.most_common(top)
        rest = total - sum(n for _, n in shown)
        for name, n in [*shown, *([("(the rest)", rest)] if rest else [])]:
            lines.append(f"  {n / rate:9,.1f} s  {100 * n / total:5.1f}%  {name}")
    return "\n".join(lines)


def within(lines: Iterable[str], name: str) -> tuple[int, Counter[str], Counter[str]]:
    """Samples with ``name`` on the stack: how many, and each function's self and inclusive count."""
    total, own, incl = 0, Counter[str](), Counter[str]()
    for frames, n in _samples(lines):
        names = [function(f) for f in frames if not f.startswith("process ")]
        if name not in names:
            continue
        total += n
        own[names[-1]] += n
        for f in set(names[names.index(name) :]):
            incl[f] += n
    return total, own, incl


def within_report(total: int, own: Counter[str], incl: Counter[str], rate: float, top: int) -> str:
    """The table of `within`: seconds and share of the samples, self and inclusive."""
    lines = [f"{total / rate:,.1f} s in {total:,} samples"]
    for title, counts in (("self", own), ("inclusive", incl)):
        lines.append(f"  {title}:")
        for f, n in counts.most_common(top):
            lines.append(f"  {n / rate:9,.1f} s  {100 * n / max(total, 1):5.1f}%  {f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Print the split of a py-spy raw profile."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("profile", help="py-spy raw output (-f raw)")
    ap.add_argument("--rate", type=float, required=True, help="the sampling rate py-spy ran at (-r)")
    ap.add_argument("--top", type=int, default=15, help="rows shown per table")
    ap.add_argument(
        "--within",
        metavar="FUNCTION",
        help="instead: the samples under FUNCTION (e.g. FleetManager._on_state)",
    )
    args = ap.parse_args(argv)
    with open(args.profile, encoding="utf-8") as f:
        if args.within:
            print(within_report(*within(f, args.within), args.rate, args.top))
        else:
            print(report(split(f), args.rate, args.top))


if __name__ == "__main__":
    main()
