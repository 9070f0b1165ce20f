"""Two lines through grid points on a numbered coordinate grid: where do they meet?

The stated answer solves the two line equations by Cramer's rule in Fractions; answer_code intersects sympy
`Line` objects; check_code solves the 2x2 system with numpy.linalg and prints the nearest small fractions.
At levels 3 and 5 only segments are drawn and the meeting point lies beyond them, so the tool extends the
lines before marking the intersection.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from fractions import Fraction

from flywheel.records import NamedElement, SolutionStep
from generators.procedural import draw_geometry as dg
from generators.procedural.base import Draft, canvas_code, tool_canvas_code
from generators.procedural.exact_geometry import frac_str, point_str

FAMILY = "coordinate_line_intersection"
W, H = 620, 560
STEP = 38
ORIGIN = (W / 2, H / 2)
XR, YR = (-7, 7), (-6, 6)
NAMES = (("A", "B", "C", "D"), ("E", "F", "G", "H"), ("K", "L", "M", "N"))
COLORS = ("#1f77b4", "#2ca02c")
FORMAT = "Give the exact coordinates as (x, y), using fractions in lowest terms where needed."
QUESTIONS = (
    "Line {a}{b} passes through the grid points {a} and {b}, and line {c}{d} through the grid points {c} and "
    "{d}. Find the coordinates of the point P where the two lines intersect. " + FORMAT,
    "On the coordinate grid, {kind} {a}{b} and {c}{d} join grid points. At what point P do the lines {a}{b} "
    "and {c}{d} cross? " + FORMAT,
    "Read the coordinates of {a}, {b}, {c} and {d} from the grid. Determine the intersection point P of line "
    "{a}{b} and line {c}{d}. " + FORMAT,
)
XS, YS = [x for x in range(-6, 7) if x], [y for y in range(-5, 6) if y]
Pt = tuple[int, int]


@dataclass(frozen=True)
class Scene:
    """The figure as `make` drew it (kept for coordinate_line_intersection_ext): grid points A-D, their meet p."""

    pts: tuple[Pt, Pt, Pt, Pt]
    p: tuple[Fraction, Fraction]
    names: tuple[str, str, str, str]
    pix: tuple[dg.Pt, ...]
    pp: dg.Pt
    render: str
    segments_only: bool
    frame: dg.Frame


def scene(rng: random.Random, difficulty: int) -> Scene:
    """The figure `make` draws at this level: all of its random draws except the question wording."""
    a, b, c, d, p = _choose(rng, difficulty)
    segments_only = difficulty in (3, 5)
    names = rng.choice(NAMES)
    frame = dg.Frame(STEP, *ORIGIN)
    pix = [frame.px(q) for q in (a, b, c, d)]
    pp = frame.px((float(p[0]), float(p[1])))
    render = canvas_code(W, H) + dg.grid(ORIGIN, STEP, XR, YR)
    for (q1, q2), color in zip(((a, b), (c, d)), COLORS, strict=True):
        ends = (q1, q2) if segments_only else _clip(q1, q2)
        render += dg.segment(frame.px(ends[0]), frame.px(ends[1]), color=color, lw=2.5, z=3)
    for k, (name, q) in enumerate(zip(names, pix, strict=True)):
        render += dg.dot(q, color=COLORS[k // 2], size=7) + dg.text(_label_pos(pix, k), name, box=True)
    return Scene((a, b, c, d), p, names, tuple(pix), pp, render, segments_only, frame)


def make(rng: random.Random, difficulty: int) -> Draft:
    """1: one axis-parallel line, lattice meet; 2: general lattice meet; 3: segments only, meet beyond them;
    4: fractional meet; 5: fractional meet beyond both segments."""
    s = scene(rng, difficulty)
    (a, b, c, d), p, names, pix, pp, render = s.pts, s.p, s.names, s.pix, s.pp, s.render
    segments_only, frame = s.segments_only, s.frame
    kind = "segments" if segments_only else "lines"
    question = rng.choice(QUESTIONS).format(a=names[0], b=names[1], c=names[2], d=names[3], kind=kind)
    answer = point_str(*p)
    answer_code = (
        "from sympy import Line, Point\n"
        f"P = Line(Point{a}, Point{b}).intersection(Line(Point{c}, Point{d}))[0]\n"
        "print(f'({P.x}, {P.y})')\n"
    )
    check_code = (
        "import numpy as np\nfrom fractions import Fraction\n"
        f"A, B, C, D = (np.array(q, dtype=float) for q in ({a}, {b}, {c}, {d}))\n"
        "# A + s (B - A) = C + t (D - C): two linear equations in s and t\n"
        "s, t = np.linalg.solve(np.column_stack([B - A, C - D]), C - A)\n"
        "x, y = A + s * (B - A)\n"
        "fx, fy = (Fraction(float(v)).limit_denominator(1000) for v in (x, y))\n"
        "print(f'({fx}, {fy})')\n"
    )
    return Draft(
        family=FAMILY,
        concepts=(
            "analytic_geometry.line_intersection",
            "analytic_geometry.line_equation",
            "analytic_geometry.slope",
            "analytic_geometry.coordinate_plane",
        ),
        domain="analytic_geometry",
        difficulty=difficulty,
        question=question,
        answer=answer,
        answer_kind="point",
        render_code=render,
        answer_code=answer_code,
        check_code=check_code,
        solution=_solution(names, (a, b, c, d), p, pp, segments_only, frame),
        elements=tuple(NamedElement(n, "point", q[0], q[1]) for n, q in zip(names, pix, strict=True)),
        tools=("tool.extend_segment", "tool.intersection_point", "tool.coordinate_readout"),
        width=W,
        height=H,
    )


def _label_pos(pix: list[dg.Pt], k: int) -> dg.Pt:
    """Beside point k, off its own line, on the side away from the other line's points."""
    q, mate = pix[k], pix[k ^ 1]
    others = pix[2:] if k < 2 else pix[:2]
    away_from = ((others[0][0] + others[1][0]) / 2, (others[0][1] + others[1][1]) / 2)
    u = dg.unit(mate[0] - q[0], mate[1] - q[1])
    return dg.side_label_pos(q, (q[0] + u[0], q[1] + u[1]), away_from, 14, "A")


def _meet(a: Pt, b: Pt, c: Pt, d: Pt) -> tuple[Fraction, Fraction] | None:
    """Intersection of lines ab and cd by Cramer's rule, or None when they are parallel."""
    a1, b1 = b[1] - a[1], a[0] - b[0]
    c1 = a1 * a[0] + b1 * a[1]
    a2, b2 = d[1] - c[1], c[0] - d[0]
    c2 = a2 * c[0] + b2 * c[1]
    det = a1 * b2 - a2 * b1
    if det == 0:
        return None
    return Fraction(c1 * b2 - c2 * b1, det), Fraction(a1 * c2 - a2 * c1, det)


def _param(a: Pt, b: Pt, p: tuple[Fraction, Fraction]) -> Fraction:
    """Where p sits along a -> b: 0 at a, 1 at b."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    return ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / (dx * dx + dy * dy)


def _choose(rng: random.Random, difficulty: int):
    """Four grid points and the meeting point, redrawn until the level's conditions hold."""
    while True:
        # no point on an axis: the axis tick labels would sit under its label
        pts = [(rng.choice(XS), rng.choice(YS)) for _ in range(4)]
        if difficulty == 1:  # first line horizontal or vertical
            k = rng.randint(0, 1)
            pts[1] = (pts[0][0], pts[1][1]) if k else (pts[1][0], pts[0][1])
        a, b, c, d = pts
        p = _meet(a, b, c, d)
        if p is None or not _ok(a, b, c, d, p):
            continue
        lattice = p[0].denominator == 1 and p[1].denominator == 1
        small = max(p[0].denominator, p[1].denominator) <= 6
        outside = [not 0 <= _param(a, b, p) <= 1, not 0 <= _param(c, d, p) <= 1]
        if difficulty <= 3 and not lattice or difficulty >= 4 and (lattice or not small):
            continue
        if difficulty == 3 and not any(outside) or difficulty == 5 and not all(outside):
            continue
        return a, b, c, d, p


def _ok(a: Pt, b: Pt, c: Pt, d: Pt, p) -> bool:
    """Readable: points apart, long enough lines, a clear crossing angle, P inside the grid and off the labels."""
    pts = (a, b, c, d)
    if any((q[0] - r[0]) ** 2 + (q[1] - r[1]) ** 2 < 4 for i, q in enumerate(pts) for r in pts[i + 1 :]):
        return False
    if (a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2 < 10 or (c[0] - d[0]) ** 2 + (c[1] - d[1]) ** 2 < 10:
        return False
    u, v = (b[0] - a[0], b[1] - a[1]), (d[0] - c[0], d[1] - c[1])
    sin2 = (u[0] * v[1] - u[1] * v[0]) ** 2 / ((u[0] ** 2 + u[1] ** 2) * (v[0] ** 2 + v[1] ** 2))
    if sin2 < 0.17:  # crossing angle under ~24 degrees reads badly
        return False
    if not (-6 <= p[0] <= 6 and -5 <= p[1] <= 5):
        return False
    return all((p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2 >= 1 for q in pts)


def _clip(q1: Pt, q2: Pt) -> tuple[tuple[float, float], tuple[float, float]]:
    """The part of line q1q2 inside the grid rectangle (Liang-Barsky on the parameter)."""
    dx, dy = q2[0] - q1[0], q2[1] - q1[1]
    lo, hi = -1e9, 1e9
    for start, delta, low, high in ((q1[0], dx, XR[0], XR[1]), (q1[1], dy, YR[0], YR[1])):
        if delta == 0:
            continue
        t1, t2 = (low - start) / delta, (high - start) / delta
        lo, hi = max(lo, min(t1, t2)), min(hi, max(t1, t2))
    return (q1[0] + lo * dx, q1[1] + lo * dy), (q1[0] + hi * dx, q1[1] + hi * dy)


def _equation(q1: Pt, q2: Pt) -> str:
    """The line's equation as a student would write it: `x = 3`, `y = 2`, `y = (3/2)x − 1`."""
    if q1[0] == q2[0]:
        return f"x = {q1[0]}"
    m = Fraction(q2[1] - q1[1], q2[0] - q1[0])
    c = q1[1] - m * q1[0]
    if m == 0:
        return f"y = {frac_str(c)}"
    coef = {1: "", -1: "−"}.get(m, f"({frac_str(m)})" if m.denominator > 1 else frac_str(m))
    return f"y = {coef}x" + ("" if c == 0 else f" {'+' if c > 0 else '−'} {frac_str(abs(c))}")


def _solution(names, pts, p, pp, segments_only: bool, frame: dg.Frame) -> tuple[SolutionStep, ...]:
    a, b, c, d = pts
    na, nb, nc, nd = names
    tool = tool_canvas_code(W, H)
    for (q1, q2), color in zip(((a, b), (c, d)), COLORS, strict=True):
        e1, e2 = _clip(q1, q2)
        tool += dg.segment(frame.px(e1), frame.px(e2), color=color, lw=1.8, ls="--", z=3)
    # guides from P to both axes make its coordinates readable off the grid
    tool += dg.segment(pp, (pp[0], ORIGIN[1]), color=dg.TOOL_COLOR, lw=1.5, ls=":", z=4)
    tool += dg.segment(pp, (ORIGIN[0], pp[1]), color=dg.TOOL_COLOR, lw=1.5, ls=":", z=4)
    tool += dg.circle(pp, 10, color=dg.TOOL_COLOR, lw=2.5)
    tool += dg.dot(pp, dg.TOOL_COLOR, 6) + dg.text((pp[0] + 16, pp[1] - 16), "P", color=dg.TOOL_COLOR, box=True)
    extend = "Extend both segments across the grid" if segments_only else "Trace both lines"
    return (
        SolutionStep(
            "think",
            f"Reading the grid: {na}{a}, {nb}{b}, {nc}{c}, {nd}{d}. Line {na}{nb}: "
            f"{_equation(a, b)}. Line {nc}{nd}: {_equation(c, d)}.",
        ),
        SolutionStep("code", f"{extend}, mark where they cross and drop guides to the axes.", tool),
        SolutionStep(
            "think",
            f"Solving the two equations together gives x = {frac_str(p[0])} and "
            f"y = {frac_str(p[1])}, which matches the marked crossing on the grid.",
        ),
        SolutionStep("think", f"The lines intersect at P = {point_str(*p)}."),
    )
