"""The classic pick-routing heuristics as baselines: S-shape, return, midpoint, largest gap, combined.

Each heuristic prescribes a walk for a single block (front and back cross aisle), as defined by Hall
(1993), Petersen (1997) and Roodbergen & de Koster (2001): it is built here as a list of waypoints, the
picks are taken in the order the walk passes them, and the route reports both the walk's own length
(``walk_m``, what the literature measures) and the contract length of that pick sequence under the
oracle (``length_m``, never longer). With a middle cross aisle the heuristics keep their two-cross-aisle
walk; only the sequence's length uses the middle aisle, as a short cut between consecutive picks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from wms.picking.block import Block, Pick, Route

Waypoint = tuple[int, float]  # (aisle, y): horizontal moves only happen on a cross aisle
EPS = 1e-9


class _Walk:
    """A rectilinear walk that records its waypoints and the picks it passes, in order."""

    def __init__(self, block: Block, picks: Sequence[Pick]) -> None:
        self.block = block
        self.picks = picks
        self.points: list[Waypoint] = [block.depot]
        self.taken: list[int] = []
        self.left = set(range(len(picks)))

    @property
    def at(self) -> Waypoint:
        return self.points[-1]

    def go(self, aisle: int, y: float) -> None:
        """Move along the current aisle to ``y``, or along the current cross aisle to ``aisle``."""
        a0, y0 = self.at
        picks = self.picks
        if a0 == aisle:
            lo, hi = sorted((y0, y))
            hits = [
                i
                for i in self.left
                if picks[i].aisle == aisle and lo - EPS <= picks[i].position_m <= hi + EPS
            ]
            hits.sort(key=lambda i: (abs(picks[i].position_m - y0), i))
        elif y0 == y and any(abs(y - c) <= EPS for c in self.block.cross_ys):
            lo_a, hi_a = sorted((a0, aisle))
            hits = [
                i for i in self.left if abs(picks[i].position_m - y) <= EPS and lo_a <= picks[i].aisle <= hi_a
            ]
            hits.sort(key=lambda i: (abs(picks[i].aisle - a0), i))
        else:
            raise ValueError(f"illegal move {self.at} → {(aisle, y)}: change aisle only on a cross aisle")
        self.taken += hits
        self.left -= set(hits)
        if (a0, y0) != (aisle, y):
            self.points.append((aisle, y))

    def finish(self, method: str) -> Route:
        """Back to the depot along the front cross aisle, and the route of what was walked."""
        if self.at[1] != 0.0:
            self.go(self.at[0], 0.0)
        self.go(self.block.depot_aisle, 0.0)
        assert not self.left, "a heuristic walk missed a pick"
        walk = sum(
            abs(a1 - a0) * self.block.aisle_pitch_m + abs(y1 - y0)
            for (a0, y0), (a1, y1) in zip(self.points, self.points[1:], strict=False)
        )
        seq = tuple(self.taken)
        return Route(method, self.block.sequence_length(self.picks, seq), seq, float(walk))


def _aisles(picks: Sequence[Pick]) -> dict[int, list[float]]:
    """Pick positions per aisle that holds any, aisles ascending, positions ascending."""
    out: dict[int, list[float]] = {}
    for p in picks:
        out.setdefault(p.aisle, []).append(p.position_m)
    return {a: sorted(out[a]) for a in sorted(out)}


def return_route(block: Block, picks: Sequence[tuple[int, float]]) -> Route:
    """Return: enter every aisle with picks from the front, up to its farthest pick and back."""
    pts = block.check(picks)
    w = _Walk(block, pts)
    for a, ys in _aisles(pts).items():
        w.go(a, 0.0)
        w.go(a, ys[-1])
        w.go(a, 0.0)
    return w.finish("return")


def sshape_route(block: Block, picks: Sequence[tuple[int, float]]) -> Route:
    """S-shape: traverse every aisle with picks entirely; an odd last aisle is a return."""
    pts = block.check(picks)
    w, length = _Walk(block, pts), block.aisle_length_m
    aisles = _aisles(pts)
    for n, (a, ys) in enumerate(aisles.items()):
        y = w.at[1]
        w.go(a, y)
        if n == len(aisles) - 1 and y == 0.0:
            w.go(a, ys[-1])
            w.go(a, 0.0)
        else:
            w.go(a, length - y)
    return w.finish("sshape")


def _split(ys: list[float], length: float, rule: str) -> float:
    """Picks at or below the returned y are taken from the front, above it from the back."""
    if rule == "midpoint":
        return length / 2
    stops = [0.0, *ys, length]
    gaps = [(stops[i + 1] - stops[i], i) for i in range(len(stops) - 1)]
    _, i = max(gaps, key=lambda g: (g[0], -g[1]))
    return stops[i]


def _two_sided(block: Block, picks: Sequence[tuple[int, float]], rule: str) -> Route:
    """Midpoint / largest gap: outer aisles traversed, inner aisles entered from front and from back."""
    pts = block.check(picks)
    w, length = _Walk(block, pts), block.aisle_length_m
    aisles = _aisles(pts)
    order = list(aisles)
    if len(order) == 1:
        w.go(order[0], 0.0)
        w.go(order[0], aisles[order[0]][-1])
        w.go(order[0], 0.0)
        return w.finish(rule)
    split = {a: _split(aisles[a], length, rule) for a in order[1:-1]}
    w.go(order[0], 0.0)
    w.go(order[0], length)
    for a in order[1:-1]:
        back = [y for y in aisles[a] if y > split[a] + EPS]
        w.go(a, length)
        if back:
            w.go(a, back[0])
            w.go(a, length)
    w.go(order[-1], length)
    w.go(order[-1], 0.0)
    for a in reversed(order[1:-1]):
        front = [y for y in aisles[a] if y <= split[a] + EPS]
        w.go(a, 0.0)
        if front:
            w.go(a, front[-1])
            w.go(a, 0.0)
    return w.finish(rule)


def midpoint_route(block: Block, picks: Sequence[tuple[int, float]]) -> Route:
    """Midpoint: inner aisles' front halves from the front, back halves from the back."""
    return _two_sided(block, picks, "midpoint")


def largest_gap_route(block: Block, picks: Sequence[tuple[int, float]]) -> Route:
    """Largest gap: inner aisles entered from both ends up to the largest gap between stops."""
    return _two_sided(block, picks, "largest-gap")


def combined_route(block: Block, picks: Sequence[tuple[int, float]]) -> Route:
    """Combined: aisles left to right, each traversed or returned from the picker's side, chosen by DP."""
    pts = block.check(picks)
    length, pitch = block.aisle_length_m, block.aisle_pitch_m
    aisles = _aisles(pts)
    order = list(aisles)
    if not order:
        return _Walk(block, pts).finish("combined")
    # cost[side] after the aisle, with the choices that led there; side 0 = front, 1 = back
    inf = float("inf")
    cost = [0.0, inf]
    back: list[tuple[tuple[int, str], tuple[int, str]]] = []
    prev = order[0]
    for a in order:
        dx = abs(a - prev) * pitch
        prev = a
        ys = aisles[a]
        ret = (2 * ys[-1], 2 * (length - ys[0]))
        new = [inf, inf]
        how: list[tuple[int, str]] = [(0, ""), (0, "")]
        for side in (0, 1):
            base = cost[side] + dx
            for end, move, extra in ((1 - side, "traverse", length), (side, "return", ret[side])):
                if base + extra < new[end] - EPS:
                    new[end] = base + extra
                    how[end] = (side, move)
        cost = new
        back.append((how[0], how[1]))
    choices: list[tuple[int, str]] = []
    side = 0
    for step in reversed(back):
        came, move = step[side]
        choices.append((came, move))
        side = came
    choices.reverse()
    w = _Walk(block, pts)
    for a, (came, move) in zip(order, choices, strict=True):
        y = 0.0 if came == 0 else length
        w.go(w.at[0], y)
        w.go(a, y)
        if move == "traverse":
            w.go(a, length - y)
        else:
            w.go(a, aisles[a][-1] if came == 0 else aisles[a][0])
            w.go(a, y)
    return w.finish("combined")


HEURISTICS: dict[str, Callable[[Block, Sequence[tuple[int, float]]], Route]] = {
    "sshape": sshape_route,
    "return": return_route,
    "midpoint": midpoint_route,
    "largest-gap": largest_gap_route,
    "combined": combined_route,
}
