"""Grid path counting: a street grid from A (bottom-left) to B (top-right), moves only right or up; count the
shortest routes, possibly through a required point P, around closed crossings (×) or missing street segments.

A procedural family (contract in generators/procedural/base.py). The stated answer is a dynamic programme over
the crossings; answer_code uses binomial coefficients in sympy with a first-forbidden-element
inclusion-exclusion; check_code enumerates every right/up move sequence. The tool step draws one valid route
and rings the required point.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from flywheel.records import NamedElement, SolutionStep
from generators.procedural.base import Draft, canvas_code, tool_canvas_code

FAMILY = "grid_paths_counting"
W, H = 640, 540
SIZES = {1: ((2, 4), (2, 3)), 2: ((3, 5), (2, 4)), 3: ((4, 6), (3, 4)), 4: ((5, 6), (4, 5)), 5: ((6, 7), (4, 5))}

Node = tuple[int, int]
Edge = tuple[Node, Node]  # always (lower/left end, upper/right end)


@dataclass(frozen=True)
class Grid:
    m: int  # blocks across
    n: int  # blocks up
    via: Node | None
    closed: tuple[Node, ...]
    missing: tuple[Edge, ...]

    @property
    def cell(self) -> float:
        return min(500 / self.m, 390 / self.n, 100)

    def px(self, p: Node) -> tuple[float, float]:
        c = self.cell
        x0 = (W - c * self.m) / 2
        y0 = 70 + (390 + c * self.n) / 2
        return round(x0 + c * p[0], 2), round(y0 - c * p[1], 2)


def count(g: Grid, start: Node, end: Node) -> int:
    """Right/up routes from start to end avoiding closed crossings and missing segments (dynamic programme)."""
    ways = {start: 0 if start in g.closed else 1}
    for i in range(start[0], end[0] + 1):
        for j in range(start[1], end[1] + 1):
            if (i, j) == start:
                continue
            total = 0
            if i > start[0] and ((i - 1, j), (i, j)) not in g.missing:
                total += ways[(i - 1, j)]
            if j > start[1] and ((i, j - 1), (i, j)) not in g.missing:
                total += ways[(i, j - 1)]
            ways[(i, j)] = 0 if (i, j) in g.closed else total
    return ways[end]


def answer_of(g: Grid) -> int:
    end = (g.m, g.n)
    if g.via is None:
        return count(g, (0, 0), end)
    return count(g, (0, 0), g.via) * count(g, g.via, end)


def _interior(rng: random.Random, m: int, n: int, taken: set[Node]) -> Node:
    while True:
        p = (rng.randint(1, m - 1), rng.randint(1, n - 1))
        if p not in taken:
            return p


def _edge(rng: random.Random, m: int, n: int, taken: set[Node]) -> Edge:
    """An interior street segment whose ends are neither A, B, P nor closed crossings."""
    while True:
        i, j = rng.randint(0, m), rng.randint(0, n)
        edge = ((i, j), (i + 1, j)) if rng.random() < 0.5 else ((i, j), (i, j + 1))
        (a, b) = edge
        if b[0] <= m and b[1] <= n and a not in taken and b not in taken:
            return edge


def _grid(rng: random.Random, difficulty: int) -> Grid:
    """Draw grids until the obstacles each remove some routes and at least one route survives."""
    (m0, m1), (n0, n1) = SIZES[difficulty]
    want_via = difficulty == 2 or difficulty == 5
    n_closed = {1: 0, 2: 0, 3: 1, 4: 1, 5: 1}[difficulty]
    n_missing = {1: 0, 2: 0, 3: rng.randint(0, 1), 4: rng.randint(1, 2), 5: 1}[difficulty]
    if difficulty == 3 and n_missing:
        n_closed = 0
    while True:
        m, n = rng.randint(m0, m1), rng.randint(n0, n1)
        taken: set[Node] = {(0, 0), (m, n)}
        via = _interior(rng, m, n, taken) if want_via else None
        taken |= {via} if via else set()
        closed = []
        for _ in range(n_closed):
            closed.append(_interior(rng, m, n, taken))
            taken.add(closed[-1])
        missing = tuple(dict.fromkeys(_edge(rng, m, n, taken) for _ in range(n_missing)))
        g = Grid(m, n, via, tuple(closed), missing)
        plain = Grid(m, n, via, (), ())
        fewer = all(
            answer_of(Grid(m, n, via, tuple(c for c in closed if c != x), missing)) > answer_of(g) for x in closed
        )
        if answer_of(g) > 0 and (answer_of(g) < answer_of(plain) or not (closed or missing)) and fewer:
            return g


def one_route(rng: random.Random, g: Grid) -> list[Node]:
    """A random valid route, walked back from B through crossings that still have routes to them."""
    legs = [((0, 0), g.via), (g.via, (g.m, g.n))] if g.via else [((0, 0), (g.m, g.n))]
    route: list[Node] = []
    for start, end in legs:
        leg = [end]
        while leg[-1] != start:
            i, j = leg[-1]
            back = []
            if i > start[0] and ((i - 1, j), (i, j)) not in g.missing and count(g, start, (i - 1, j)):
                back.append((i - 1, j))
            if j > start[1] and ((i, j - 1), (i, j)) not in g.missing and count(g, start, (i, j - 1)):
                back.append((i, j - 1))
            leg.append(rng.choice(back))
        route += leg[::-1][1:] if route else leg[::-1]
    return route


ANSWER_BODY = """
def paths(p, q):
    dx, dy = q[0] - p[0], q[1] - p[1]
    return sp.binomial(dx + dy, dx) if dx >= 0 and dy >= 0 else sp.Integer(0)

def avoid(s, t):
    # subtract routes by the first forbidden crossing or segment they use
    bad = sorted((e for e in forbidden if paths(s, e[0]) and paths(e[1], t)), key=lambda e: e[0][0] + e[0][1])
    first = []
    for k, (u, v) in enumerate(bad):
        first.append(paths(s, u) - sum(first[i] * paths(bad[i][1], u) for i in range(k)))
    return paths(s, t) - sum(f * paths(e[1], t) for f, e in zip(first, bad))

print(avoid(A, via) * avoid(via, B) if via else avoid(A, B))
"""

CHECK_BODY = """
total = 0
for rights in combinations(range(m + n), m):
    x = y = 0
    ok, seen = True, via is None
    for k in range(m + n):
        nx, ny = (x + 1, y) if k in rights else (x, y + 1)
        if ((x, y), (nx, ny)) in missing or (nx, ny) in closed:
            ok = False
            break
        x, y = nx, ny
        seen = seen or (x, y) == via
    total += ok and seen
print(float(total))
"""

RENDER_BODY = """
def at(p):
    return X0 + CELL * p[0], Y0 - CELL * p[1]
for i in range(m + 1):
    for j in range(n + 1):
        for q in ((i + 1, j), (i, j + 1)):
            if q[0] <= m and q[1] <= n and ((i, j), q) not in missing:
                (x1, y1), (x2, y2) = at((i, j)), at(q)
                ax.plot([x1, x2], [y1, y2], color='0.35', lw=3, solid_capstyle='butt', zorder=1)
for name, p, dx, dy in marks:
    x, y = at(p)
    ax.plot(x, y, 'o', ms=11, color='#1f5fbf' if name == 'P' else 'black', zorder=3)
    ax.text(x + dx, y + dy, name, ha='center', va='center', fontsize=16, weight='bold', zorder=4)
for p in closed:
    x, y = at(p)
    ax.plot(x, y, 'o', ms=20, mfc='white', mec='#c0392b', mew=2, zorder=3)
    ax.plot(x, y, 'x', ms=13, mec='#c0392b', mew=3.5, zorder=4)
"""


def _render(g: Grid) -> str:
    x0, y0 = g.px((0, 0))
    marks = [("A", (0, 0), -18, 18), ("B", (g.m, g.n), 18, -18)] + ([("P", g.via, -16, -16)] if g.via else [])
    data = (
        f"m, n, CELL, X0, Y0 = {g.m}, {g.n}, {g.cell}, {x0}, {y0}\n"
        f"missing = {set(g.missing)!r}\nclosed = {list(g.closed)!r}\nmarks = {marks!r}\n"
    )
    return canvas_code(W, H) + data + RENDER_BODY


def _tool(g: Grid, route: list[Node]) -> str:
    pts = [g.px(p) for p in route]
    ring = [g.px(g.via)] if g.via else []
    return tool_canvas_code(W, H) + (
        f"route = {pts!r}\nring = {ring!r}\n"
        "ax.plot([p[0] for p in route], [p[1] for p in route], color='darkorange', lw=6, alpha=0.85,\n"
        "        solid_joinstyle='round', zorder=5)\n"
        "for x, y in ring:\n"
        "    ax.plot(x, y, 'o', ms=26, mfc='none', mec='darkorange', mew=3, zorder=6)\n"
    )


def _question(rng: random.Random, g: Grid) -> str:
    base = rng.choice(
        (
            "A walker goes from A to B along the streets of the grid, moving only right or up at every step. "
            "How many different routes can the walker take?",
            "How many paths lead from A to B along the grid lines if every step goes either right or up?",
            "Counting only routes that move right or upward along the drawn lines, how many routes are there "
            "from A to B?",
        )
    )
    rules = []
    if g.via:
        rules.append("Every route must pass through the point P.")
    if g.closed:
        rules.append("The crossing(s) marked × are closed and cannot be passed through.")
    if g.missing:
        rules.append("Some street segments are missing; routes may only use the segments that are drawn.")
    return " ".join([base, *rules, "Give the answer as a whole number."])


def _reasoning(g: Grid, ans: int) -> str:
    total = count(Grid(g.m, g.n, None, (), ()), (0, 0), (g.m, g.n))
    text = f"Without restrictions there are C({g.m + g.n}, {g.m}) = {total} routes (choose which {g.m} of the "
    text += f"{g.m + g.n} steps go right). "
    if g.via:
        a = count(g, (0, 0), g.via)
        b = count(g, g.via, (g.m, g.n))
        text += f"Routes split at P: {a} ways from A to P times {b} ways from P to B. "
    if g.closed or g.missing:
        text += "Counting crossing by crossing (each crossing's count is the sum of the counts to its left and "
        text += "below, skipping closed crossings and missing segments) handles the obstacles. "
    return text + f"This gives {ans} routes."


def make(rng: random.Random, difficulty: int) -> Draft:
    """One street grid with its restrictions and a route-counting question."""
    return draft_of(rng, _grid(rng, difficulty), difficulty)


def check_head(g: Grid) -> str:
    """The data check_code's enumeration reads."""
    return f"m, n = {g.m}, {g.n}\nvia = {g.via!r}\nclosed = {set(g.closed)!r}\nmissing = {set(g.missing)!r}\n"


def draft_of(rng: random.Random, g: Grid, difficulty: int) -> Draft:
    """The problem for one grid (route and wording drawn from rng); shared by make and the extensions."""
    ans = answer_of(g)
    forbidden = [(c, c) for c in g.closed] + [tuple(e) for e in g.missing]
    head = f"A, B = (0, 0), ({g.m}, {g.n})\nvia = {g.via!r}\nforbidden = {forbidden!r}\n"
    solution = (
        SolutionStep(
            "think",
            f"The grid is {g.m} blocks wide and {g.n} blocks tall, so every route has "
            f"{g.m} right steps and {g.n} up steps.",
        ),
        SolutionStep(
            "code",
            "Draw one valid route and ring the required point to see what a route looks like.",
            _tool(g, one_route(rng, g)),
        ),
        SolutionStep("think", _reasoning(g, ans)),
        SolutionStep("think", f"The answer is {ans}."),
    )
    elements = [NamedElement("A", "point", *g.px((0, 0))), NamedElement("B", "point", *g.px((g.m, g.n)))]
    elements += [NamedElement("P", "point", *g.px(g.via))] if g.via else []
    elements += [NamedElement(f"closed {k + 1}", "point", *g.px(c)) for k, c in enumerate(g.closed)]
    concepts = ("counting.grid_paths", "counting.combinations", "counting.lattice_path_counting")
    if g.closed or g.missing:
        concepts += ("counting.blocked_paths",)
    return Draft(
        family=FAMILY,
        concepts=concepts,
        domain="counting",
        difficulty=difficulty,
        question=_question(rng, g),
        answer=str(ans),
        answer_kind="number",
        render_code=_render(g),
        answer_code="import sympy as sp\n" + head + ANSWER_BODY,
        check_code="from itertools import combinations\n" + check_head(g) + CHECK_BODY,
        solution=solution,
        elements=tuple(elements),
        tools=("tool.highlight", "tool.point_label"),
        width=W,
        height=H,
    )
