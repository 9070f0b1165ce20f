"""Function graph reading: a parabola (and at some levels a line) plotted on a labelled unit grid through
lattice points; find a vertex, an intercept, a root, an intersection, a coefficient or a derived quantity.

A procedural family (contract in generators/procedural/base.py). The stated answer comes from the vertex
form; answer_code rebuilds the curves by sympy interpolation through lattice points read off the graph, and
check_code fits them with numpy. The tool step circles the key points and drops dashed guides to the axes.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction as F

import numpy as np

from flywheel.records import NamedElement, SolutionStep
from generators.procedural.base import Draft, canvas_code, tool_canvas_code
from generators.procedural.draw_other import frac_text

FAMILY = "function_graph_reading"
W = H = 600
OX, OY, UNIT, SPAN = 300, 300, 32, 8  # origin pixel, pixels per unit, grid runs -SPAN..SPAN
POINT = "Give the answer as a point in the form (x, y)."
WHOLE = "Give the answer as an integer."
EXACT = "Give the exact value as an integer or a fraction in lowest terms."


@dataclass(frozen=True)
class Graph:
    """y = a(x - h)^2 + k, and optionally the line y = m x + b."""

    a: F
    h: int
    k: int
    m: F | None = None
    b: F | None = None

    def f(self, x: F | int) -> F:
        return self.a * (x - self.h) ** 2 + self.k

    def g(self, x: F | int) -> F:
        return self.m * x + self.b

    def lattice(self) -> list[tuple[int, int]]:
        """Lattice points of the parabola inside the window, left to right."""
        pts = [(x, self.f(x)) for x in range(-SPAN + 1, SPAN)]
        return [(x, int(y)) for x, y in pts if y.denominator == 1 and abs(y) < SPAN]


@dataclass(frozen=True)
class Ask:
    question: str
    answer: str
    kind: str  # answer_kind
    sym: str  # sympy body: f (and g) are already built from lattice points
    num: str  # numpy body: pf (and pg) are polynomial coefficient arrays
    marks: tuple[tuple[F, F, str], ...]
    why: str
    concepts: tuple[str, ...]


def px(x: float, y: float) -> tuple[float, float]:
    return OX + UNIT * float(x), OY - UNIT * float(y)


def _pt(x: F | int, y: F | int) -> str:
    return f"({frac_text(F(x))}, {frac_text(F(y))})"


def _parabola(rng: random.Random, difficulty: int, roots: bool) -> Graph:
    """A parabola whose vertex (and, if asked, both roots) are lattice points in the window."""
    slopes = (F(1), F(-1)) if difficulty <= 2 else (F(1), F(-1), F(1, 2), F(-1, 2), F(2), F(-2))
    while True:
        a, h = rng.choice(slopes), rng.randint(-3, 3)
        if roots:
            s = rng.randint(1, 4)
            k = -a * s * s
        else:
            k = F(rng.randint(-5, 5))
        g = Graph(a, h, int(k)) if k.denominator == 1 else None
        if g and abs(k) <= 6 and len(g.lattice()) >= 4:
            return g


def _with_line(rng: random.Random, g: Graph) -> tuple[Graph, int, int]:
    """Add a line through two lattice points of the parabola (so both intersections are lattice points)."""
    pts = g.lattice()
    while True:
        (x1, y1), (x2, y2) = sorted(rng.sample(pts, 2))
        m = F(y2 - y1, x2 - x1)
        if m != 0 and abs(m) <= 3 and (m.denominator == 1 or rng.random() < 0.5):
            return Graph(g.a, g.h, g.k, m, y1 - m * x1), x1, x2


def _ask_vertex(rng: random.Random, g: Graph) -> Ask:
    q = rng.choice(
        (
            "What are the coordinates of the vertex of the parabola y = f(x)? ",
            "Read the turning point of the parabola y = f(x) from the graph. ",
        )
    )
    return Ask(
        q + POINT,
        _pt(g.h, g.k),
        "point",
        "v = sp.solve(sp.diff(f, x), x)[0]\nprint(f'({v}, {f.subs(x, v)})')\n",
        "v = -pf[1] / (2 * pf[0])\nprint(f'({round(v)}, {round(np.polyval(pf, v))})')\n",
        ((F(g.h), F(g.k), "V"),),
        f"The parabola turns at the grid point ({g.h}, {g.k}), where it is symmetric.",
        ("functions_graphs.quadratic_function", "functions_graphs.parabola_vertex"),
    )


def _ask_value(rng: random.Random, g: Graph) -> Ask:
    x0, y0 = rng.choice([p for p in g.lattice() if p[0] != g.h])
    q = rng.choice((f"What is the value of f({x0})? ", f"Use the graph to find f({x0}). "))
    return Ask(
        q + WHOLE,
        str(y0),
        "number",
        f"print(f.subs(x, {x0}))\n",
        f"print(float(np.polyval(pf, {x0})))\n",
        ((F(x0), F(y0), f"x = {x0}"),),
        f"Going up from x = {x0} to the curve and across to the y-axis reads {y0}.",
        ("functions_graphs.reading_graph_values", "functions_graphs.quadratic_function"),
    )


def _roots(g: Graph) -> tuple[int, int]:
    """Both x-intercepts; the parabola was built so (x - h)^2 = -k/a is a perfect square."""
    square = -g.k / g.a
    s = round(float(square) ** 0.5)
    assert s * s == square, square
    return g.h - s, g.h + s


def _ask_root(rng: random.Random, g: Graph) -> Ask:
    r1, r2 = _roots(g)
    which, pick, val = rng.choice((("larger", "max", r2), ("smaller", "min", r1)))
    q = rng.choice(
        (
            f"What is the {which} x-intercept of the parabola y = f(x)? ",
            f"The parabola crosses the x-axis twice. Find the {which} solution of f(x) = 0. ",
        )
    )
    return Ask(
        q + WHOLE,
        str(val),
        "number",
        f"print(sp.{'Max' if pick == 'max' else 'Min'}(*sp.solve(f, x)))\n",
        f"print(float(np.{pick}(np.roots(pf).real)))\n",
        ((F(r1), F(0), str(r1)), (F(r2), F(0), str(r2))),
        f"The curve meets the x-axis at x = {r1} and x = {r2}; the {which} is {val}.",
        ("functions_graphs.function_roots", "functions_graphs.quadratic_function"),
    )


def _ask_triangle(rng: random.Random, g: Graph) -> Ask:
    r1, r2 = _roots(g)
    area = F(r2 - r1) * abs(g.k) / 2
    q = (
        "Let V be the vertex of the parabola y = f(x) and let P and Q be the points where it crosses the "
        "x-axis. What is the area of triangle VPQ, in square units? " + EXACT
    )
    return Ask(
        q,
        frac_text(area),
        "number",
        "r = sp.solve(f, x)\nv = sp.solve(sp.diff(f, x), x)[0]\n"
        "print(abs(sp.Polygon(sp.Point(r[0], 0), sp.Point(r[1], 0), sp.Point(v, f.subs(x, v))).area))\n",
        "r = np.sort(np.roots(pf).real)\nv = -pf[1] / (2 * pf[0])\n"
        "print(float(abs((r[1] - r[0]) * np.polyval(pf, v)) / 2))\n",
        ((F(r1), F(0), "P"), (F(r2), F(0), "Q"), (F(g.h), F(g.k), "V")),
        f"P = ({r1}, 0), Q = ({r2}, 0) and V = ({g.h}, {g.k}); base PQ = {r2 - r1}, height {abs(g.k)}, "
        f"so the area is {r2 - r1} x {abs(g.k)} / 2 = {frac_text(area)}.",
        ("functions_graphs.function_roots", "functions_graphs.parabola_vertex", "plane_geometry.triangle_area"),
    )


def _ask_coef(rng: random.Random, g: Graph) -> Ask:
    (x0, y0) = rng.choice([p for p in g.lattice() if p[0] != g.h])
    q = "The parabola can be written as y = a(x - h)^2 + k. What is the value of a? " + EXACT
    return Ask(
        q,
        frac_text(g.a),
        "expression",
        "print(sp.Poly(f, x).LC())\n",
        "print(float(pf[0]))\n",
        ((F(g.h), F(g.k), "V"), (F(x0), F(y0), "P")),
        f"The vertex is ({g.h}, {g.k}) and the curve passes through ({x0}, {y0}); so "
        f"{y0} - ({g.k}) = a({x0} - ({g.h}))^2 gives a = {frac_text(g.a)}.",
        ("functions_graphs.quadratic_function", "functions_graphs.vertex_form"),
    )


def _ask_far_value(rng: random.Random, g: Graph) -> Ask:
    x0 = rng.choice((g.h + rng.randint(9, 12), g.h - rng.randint(9, 12)))
    (xp, yp) = rng.choice([p for p in g.lattice() if p[0] != g.h])
    q = f"The graph continues beyond the grid. Find f({x0}). " + EXACT
    return Ask(
        q,
        frac_text(g.f(x0)),
        "expression",
        f"print(f.subs(x, {x0}))\n",
        f"print(float(np.polyval(pf, {x0})))\n",
        ((F(g.h), F(g.k), "V"), (F(xp), F(yp), "P")),
        f"From the vertex ({g.h}, {g.k}) and the point ({xp}, {yp}), f(x) = {frac_text(g.a)}(x - ({g.h}))^2 + "
        f"({g.k}); so f({x0}) = {frac_text(g.f(x0))}.",
        ("functions_graphs.vertex_form", "functions_graphs.parabola_vertex"),
    )


def _ask_intersection(rng: random.Random, g: Graph) -> Ask:
    xs = sorted(x for x in range(-3 * SPAN, 3 * SPAN) if g.f(x) == g.g(x))
    which, pick = rng.choice((("larger", 1), ("smaller", 0)))
    xv = xs[pick]
    q = rng.choice(
        (
            f"The line y = g(x) meets the parabola y = f(x) at two points. Find the intersection point with the "
            f"{which} x-coordinate. ",
            f"Solve f(x) = g(x) graphically: which intersection point of the two graphs has the {which} x-value? ",
        )
    )
    fn = "max" if pick else "min"
    return Ask(
        q + POINT,
        _pt(xv, g.f(xv)),
        "point",
        f"xv = sp.{fn.capitalize()}(*sp.solve(f - g, x))\nprint(f'({{xv}}, {{g.subs(x, xv)}})')\n",
        f"xv = np.{fn}(np.roots(np.polysub(pf, pg)).real)\nprint(f'({{round(xv)}}, {{round(np.polyval(pg, xv))}})')\n",
        tuple((F(t), g.f(t), "") for t in xs),
        f"The graphs cross at {_pt(xs[0], g.f(xs[0]))} and {_pt(xs[1], g.f(xs[1]))}; the {which} x-coordinate "
        f"belongs to {_pt(xv, g.f(xv))}.",
        (
            "functions_graphs.function_intersection",
            "functions_graphs.solving_graphically",
            "functions_graphs.linear_function",
        ),
    )


def _ask_slope(rng: random.Random, g: Graph) -> Ask:
    pts = [(x, g.g(x)) for x in range(-SPAN + 1, SPAN) if g.g(x).denominator == 1 and abs(g.g(x)) < SPAN]
    (x1, y1), (x2, y2) = pts[0], pts[-1]
    q = rng.choice(("What is the slope of the line y = g(x)? ", "Find the gradient of the straight line y = g(x). "))
    return Ask(
        q + EXACT,
        frac_text(g.m),
        "expression",
        "print(sp.Poly(g, x).LC())\n",
        "print(float(pg[0]))\n",
        ((F(x1), y1, "A"), (F(x2), y2, "B")),
        f"The line passes through A{_pt(x1, y1)} and B{_pt(x2, y2)}: slope = ({frac_text(y2)} - ({frac_text(y1)}))"
        f" / ({x2} - ({x1})) = {frac_text(g.m)}.",
        ("functions_graphs.linear_function", "analytic_geometry.slope"),
    )


ASKS: dict[str, Callable[[random.Random, Graph], Ask]] = {
    "vertex": _ask_vertex,
    "value": _ask_value,
    "root": _ask_root,
    "triangle": _ask_triangle,
    "coef": _ask_coef,
    "far_value": _ask_far_value,
    "intersection": _ask_intersection,
    "slope": _ask_slope,
}
BY_LEVEL = {
    1: ("vertex", "value"),
    2: ("vertex", "root", "value"),
    3: ("root", "intersection", "slope", "coef"),
    4: ("intersection", "coef", "far_value", "triangle"),
    5: ("triangle", "far_value", "intersection", "coef"),
}
NEEDS_ROOTS = ("root", "triangle")
NEEDS_LINE = ("intersection", "slope")

RENDER_BODY = """
lo, hi = OX - UNIT * SPAN, OX + UNIT * SPAN
for i in range(-SPAN, SPAN + 1):
    ax.plot([OX + UNIT * i] * 2, [lo, hi], color='0.85', lw=0.8, zorder=0)
    ax.plot([lo, hi], [OY - UNIT * i] * 2, color='0.85', lw=0.8, zorder=0)
arrow = dict(arrowstyle='->', lw=1.5, color='black')
ax.annotate('', xy=(hi + 16, OY), xytext=(lo - 4, OY), arrowprops=arrow)
ax.annotate('', xy=(OX, lo - 16), xytext=(OX, hi + 4), arrowprops=arrow)
ax.text(hi + 14, OY + 6, 'x', ha='center', va='top', fontsize=13, style='italic')
ax.text(OX + 8, lo - 14, 'y', ha='left', va='center', fontsize=13, style='italic')
box = dict(facecolor='white', edgecolor='none', pad=0.5)
for i in range(-SPAN + 2, SPAN, 2):
    if i:
        ax.text(OX + UNIT * i, OY + 5, str(i), ha='center', va='top', fontsize=11, bbox=box)
        ax.text(OX - 5, OY - UNIT * i, str(i), ha='right', va='center', fontsize=11, bbox=box)
ax.text(OX - 5, OY + 5, 'O', ha='right', va='top', fontsize=11)
xs = np.linspace(-SPAN, SPAN, 1601)
for (c2, c1, c0), color, (lx, ly, text, ha) in zip(curves, ['#1f5fbf', '#c0392b'], tags):
    ys = c2 * xs ** 2 + c1 * xs + c0
    ys[np.abs(ys) > SPAN] = np.nan
    ax.plot(OX + UNIT * xs, OY - UNIT * ys, color=color, lw=2.5, zorder=3)
    ax.text(lx, ly, text, ha=ha, va='center', fontsize=13, color=color, zorder=4,
            bbox=dict(facecolor='white', edgecolor=color, alpha=0.9))
"""


def _samples(fns: list[Callable[[float], float]]) -> np.ndarray:
    """Dense pixel samples of every curve inside the window (what a tag must not cover), shape (n, 2)."""
    xs = np.linspace(-SPAN, SPAN, SPAN * 80 + 1)
    pts = []
    for fn in fns:
        ys = np.array([fn(x) for x in xs])
        keep = np.abs(ys) <= SPAN
        pts.append(np.stack([OX + UNIT * xs[keep], OY - UNIT * ys[keep]], axis=1))
    return np.concatenate(pts)


def _tag_spot(fn: Callable[[float], float], avoid: np.ndarray, taken: list) -> tuple:
    """Where to put a curve's 'y = f(x)' tag: beside the curve, inside the grid, off the axes, the other curves
    and tags already placed. Scores every candidate box by what it covers and keeps the emptiest."""
    lo, hi = OX - UNIT * SPAN + 4, OX + UNIT * SPAN - 4
    best = None
    for i in range(-30, 31):
        x = i / 4
        y = fn(x)
        if abs(y) > SPAN - 1.5:
            continue
        qx, qy = px(x, y)
        for side in (1, -1):
            x0, x1 = (qx + 10, qx + 100) if side == 1 else (qx - 100, qx - 10)
            box = (x0, x1, qy - 13, qy + 13)
            if x0 < lo or x1 > hi or box[2] < lo or box[3] > hi:
                continue
            u, v = avoid[:, 0], avoid[:, 1]
            hits = int(np.count_nonzero((u >= x0 - 4) & (u <= x1 + 4) & (v >= box[2] - 4) & (v <= box[3] + 4)))
            hits += 1000 * any(_overlap(box, t) for t in taken)
            hits += 500 * (_overlap(box, (lo, hi, OY - 6, OY + 24)) or _overlap(box, (OX - 30, OX + 6, lo, hi)))
            score = (hits, -abs(qy - OY) - abs(qx - OX))
            if best is None or score < best[0]:
                best = (score, (x0 if side == 1 else x1, qy, "left" if side == 1 else "right"), box)
    return best[1], best[2]


def _overlap(a: tuple, b: tuple) -> bool:
    return a[0] < b[1] and b[0] < a[1] and a[2] < b[3] and b[2] < a[3]


def _render(g: Graph) -> str:
    a, h, k = float(g.a), g.h, g.k
    fns = [lambda t: a * (t - h) ** 2 + k]
    curves = [(a, -2 * a * h, a * h * h + k)]
    if g.m is not None:
        m, b = float(g.m), float(g.b)
        fns.append(lambda t: m * t + b)
        curves.append((0.0, float(g.m), float(g.b)))
    avoid = _samples(fns)
    tags, boxes = [], []
    for fn, text in zip(fns, ("y = f(x)", "y = g(x)"), strict=False):
        (x, y, ha), box = _tag_spot(fn, avoid, boxes)
        boxes.append(box)
        tags.append((round(x, 1), round(y, 1), text, ha))
    data = f"OX, OY, UNIT, SPAN = {OX}, {OY}, {UNIT}, {SPAN}\ncurves = {curves!r}\ntags = {tags!r}\n"
    return canvas_code(W, H) + data + RENDER_BODY


def _tool(marks: tuple[tuple[F, F, str], ...]) -> str:
    spots = [(*(round(c, 2) for c in px(x, y)), f"{name} {_pt(x, y)}".strip()) for x, y, name in marks]
    return tool_canvas_code(W, H) + (
        f"OX, OY = {OX}, {OY}\nspots = {spots!r}\n"
        "for x, y, text in spots:\n"
        "    ax.plot([x, x], [y, OY], ':', color='darkorange', lw=2)\n"
        "    ax.plot([x, OX], [y, y], ':', color='darkorange', lw=2)\n"
        "    ax.plot(x, y, 'o', ms=14, mfc='none', mec='darkorange', mew=3)\n"
        "    ax.text(x + 10, y - 10, text, color='darkorange', fontsize=12, weight='bold',\n"
        "            bbox=dict(facecolor='white', edgecolor='none', alpha=0.85))\n"
    )


def _programs(rng: random.Random, g: Graph, ask: Ask) -> tuple[str, str]:
    """sympy rebuilds f (and g) from a few lattice points; numpy least-squares fits all of them."""
    pts = g.lattice()
    three = sorted(rng.sample(pts, 3))
    sym = f"import sympy as sp\nx = sp.symbols('x')\nf = sp.expand(sp.interpolate({three!r}, x))\n"
    num = f"import numpy as np\npf = np.polyfit({[p[0] for p in pts]!r}, {[p[1] for p in pts]!r}, 2)\n"
    if g.m is not None:
        line = [(x, int(g.g(x))) for x in range(-SPAN + 1, SPAN) if g.g(x).denominator == 1 and abs(g.g(x)) < SPAN]
        sym += f"g = sp.expand(sp.interpolate({line[:2]!r}, x))\n"
        num += f"pg = np.polyfit({[p[0] for p in line]!r}, {[p[1] for p in line]!r}, 1)\n"
    return sym + ask.sym, num + ask.num


def scene(rng: random.Random, difficulty: int) -> tuple[str, Graph, Ask]:
    """The question kind, graph and question make() draws: extensions replay them from the parent's seed."""
    kind = rng.choice(BY_LEVEL[difficulty])
    g = _parabola(rng, difficulty, roots=kind in NEEDS_ROOTS)
    if kind in NEEDS_LINE or (difficulty >= 4 and rng.random() < 0.4):
        g, _, _ = _with_line(rng, g)
    return kind, g, ASKS[kind](rng, g)


def make(rng: random.Random, difficulty: int) -> Draft:
    """A parabola (plus a line for intersection and slope questions) and one reading question."""
    _, g, ask = scene(rng, difficulty)
    return draft_of(rng, g, ask, difficulty)


def draft_of(rng: random.Random, g: Graph, ask: Ask, difficulty: int) -> Draft:
    """The problem for one graph and question (the programs' sample points drawn from rng)."""
    both = " and the line y = g(x)" if g.m is not None else ""
    question = f"The graph shows the parabola y = f(x){both} on a grid where each square is 1 unit. " + ask.question
    answer_code, check_code = _programs(rng, g, ask)
    solution = (
        SolutionStep(
            "think",
            "Each grid square is 1 unit and the axes are numbered every 2 units, so lattice "
            "points on the curves can be read exactly.",
        ),
        SolutionStep(
            "code", "Circle the key points and drop guides to both axes to read their coordinates.", _tool(ask.marks)
        ),
        SolutionStep("think", ask.why),
        SolutionStep("think", f"The answer is {ask.answer}."),
    )
    elements = [NamedElement("O", "point", OX, OY), NamedElement("vertex of f", "vertex", *px(g.h, g.k))]
    elements += [NamedElement(m[2] or _pt(m[0], m[1]), "point", *px(m[0], m[1])) for m in ask.marks if m[2] != "V"]
    return Draft(
        family=FAMILY,
        concepts=ask.concepts,
        domain="functions_graphs",
        difficulty=difficulty,
        question=question,
        answer=ask.answer,
        answer_kind=ask.kind,
        render_code=_render(g),
        answer_code=answer_code,
        check_code=check_code,
        solution=solution,
        elements=tuple(elements),
        tools=("tool.point_label", "tool.coordinate_readout"),
        width=W,
        height=H,
    )
