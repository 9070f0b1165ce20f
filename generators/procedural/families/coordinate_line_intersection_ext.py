"""Extensions of coordinate_line_intersection (issue 5): an intercept on the same grid, or an area built on P.

The parent's figure comes back from `coordinate_line_intersection.scene(random.Random(parent_seed), level)`.
Parallel asks where one of the two lines crosses the y-axis (its equation from two grid points). Sequential
adds a third segment RS between new grid points and asks for the area of triangle PRS, where P is the
parent's intersection: P first, then the shoelace formula.
"""

from __future__ import annotations

import random
from dataclasses import replace
from fractions import Fraction

from flywheel.records import NamedElement, SolutionStep
from generators.procedural import draw_geometry as dg
from generators.procedural.base import Draft, tool_canvas_code
from generators.procedural.exact_geometry import frac_str, point_str
from generators.procedural.families import coordinate_line_intersection as cl
from generators.procedural.families.coordinate_line_intersection import ORIGIN, XS, YS, H, Scene, W

THIRD = "#9467bd"


def _parent(parent_seed: int, parent_level: int) -> tuple[Scene, Draft]:
    return cl.scene(random.Random(parent_seed), parent_level), cl.make(random.Random(parent_seed), parent_level)


def _intercept(q1, q2) -> Fraction:
    """Where line q1q2 (not vertical) meets the y-axis."""
    m = Fraction(q2[1] - q1[1], q2[0] - q1[0])
    return q1[1] - m * q1[0]


def parallel(rng: random.Random, parent_seed: int, parent_level: int) -> Draft:
    """Same grid: the y-intercept of one of the two lines."""
    s, parent = _parent(parent_seed, parent_level)
    pairs = [k for k in (0, 2) if s.pts[k][0] != s.pts[k + 1][0]]  # a vertical line has no y-intercept
    inside = [k for k in pairs if abs(_intercept(s.pts[k], s.pts[k + 1])) <= 5]
    k = rng.choice(inside or pairs)
    q1, q2 = s.pts[k], s.pts[k + 1]
    n1, n2 = s.names[k], s.names[k + 1]
    c = _intercept(q1, q2)
    answer = point_str(0, c)
    pc = s.frame.px((0.0, float(c)))
    e1, e2 = cl._clip(q1, q2)
    tool = tool_canvas_code(W, H) + dg.segment(s.frame.px(e1), s.frame.px(e2), color=cl.COLORS[k // 2], lw=1.8, ls="--")
    tool += dg.circle(pc, 10, color=dg.TOOL_COLOR, lw=2.5) + dg.dot(pc, dg.TOOL_COLOR, 6)
    tool += dg.text((ORIGIN[0] + 34, pc[1] - 16), "Q", color=dg.TOOL_COLOR, box=True)
    slope = Fraction(q2[1] - q1[1], q2[0] - q1[0])
    solution = (
        SolutionStep(
            "think",
            f"Reading the grid: {n1}{q1} and {n2}{q2}. The slope of line {n1}{n2} is ({q2[1]} − {q1[1]}) / "
            f"({q2[0]} − {q1[0]}) = {frac_str(slope)}, so its equation is {cl._equation(q1, q2)}.",
        ),
        SolutionStep("code", f"Extend line {n1}{n2} across the grid and mark where it meets the y-axis.", tool),
        SolutionStep("think", f"At x = 0, y = {frac_str(c)}, so the line crosses the y-axis at Q = {answer}."),
    )
    return replace(
        parent,
        concepts=("analytic_geometry.intercepts", "analytic_geometry.line_equation", "analytic_geometry.slope"),
        difficulty=2 if c.denominator == 1 else 3,
        question=(
            f"Line {n1}{n2} passes through the grid points {n1} and {n2}. Find the coordinates of the point Q where "
            f"line {n1}{n2} crosses the y-axis. {cl.FORMAT}"
        ),
        answer=answer,
        answer_code=(
            "from sympy import Line, Point\n"
            f"Q = Line(Point{q1}, Point{q2}).intersection(Line(Point(0, 0), Point(0, 1)))[0]\n"
            "print(f'({Q.x}, {Q.y})')\n"
        ),
        check_code=(
            "import numpy as np\nfrom fractions import Fraction\n"
            f"m, c = np.polyfit([{q1[0]}.0, {q2[0]}.0], [{q1[1]}.0, {q2[1]}.0], 1)\n"
            "fy = Fraction(float(c)).limit_denominator(1000)\n"
            "print(f'(0, {fy})')\n"
        ),
        solution=solution,
        tools=("tool.extend_segment", "tool.intersection_point", "tool.coordinate_readout"),
    )


def _third_segment(rng: random.Random, s: Scene):
    """Two new grid points R, S, clear of the figure's points and of P, making a triangle PRS of area >= 3."""
    taken = [*s.pts, (float(s.p[0]), float(s.p[1]))]
    for attempt in range(100_000):
        r, t = (rng.choice(XS), rng.choice(YS)), (rng.choice(XS), rng.choice(YS))
        if any((q[0] - x[0]) ** 2 + (q[1] - x[1]) ** 2 < 4 for q in (r, t) for x in taken):
            continue
        area = abs((r[0] - s.p[0]) * (t[1] - s.p[1]) - (t[0] - s.p[0]) * (r[1] - s.p[1])) / 2
        drawn = [(q1, q2) if s.segments_only else cl._clip(q1, q2) for q1, q2 in (s.pts[:2], s.pts[2:])]
        # RS over a drawn line would blur which lines meet at P; allowed only if no other choice turns up
        if attempt < 5000 and any(_cross(r, t, *ends) for ends in drawn):
            continue
        if (r[0] - t[0]) ** 2 + (r[1] - t[1]) ** 2 >= 10 and area >= 3:
            return r, t, Fraction(area)
    raise AssertionError("no grid segment RS fits")  # unreachable: the grid always has room


def _cross(p1, p2, q1, q2) -> bool:
    """Whether segments p1p2 and q1q2 touch (orientation test; the 0.3 margin keeps near misses apart too)."""

    def side(a, b, c) -> float:
        return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])

    d1, d2 = side(q1, q2, p1), side(q1, q2, p2)
    d3, d4 = side(p1, p2, q1), side(p1, p2, q2)
    return d1 * d2 <= 0.3 and d3 * d4 <= 0.3


def sequential(rng: random.Random, parent_seed: int, parent_level: int) -> Draft:
    """The parent's grid plus segment RS: the area of triangle PRS needs the parent's P."""
    s, parent = _parent(parent_seed, parent_level)
    r, t, area = _third_segment(rng, s)
    pr, pt = s.frame.px(r), s.frame.px(t)
    render = parent.render_code + dg.segment(pr, pt, color=THIRD, lw=2.5, z=3)
    for name, q, other in (("R", pr, pt), ("S", pt, pr)):
        render += dg.dot(q, color=THIRD, size=7) + dg.text(dg.away(q, other, 18), name, box=True)
    answer = frac_str(area)
    na, nb, nc, nd = s.names
    a, b, c, d = s.pts
    tool = tool_canvas_code(W, H) + dg.shade([s.pp, pr, pt], color=THIRD, alpha=0.3)
    tool += dg.polygon([s.pp, pr, pt], color=dg.TOOL_COLOR, lw=1.8)
    tool += dg.dot(s.pp, dg.TOOL_COLOR, 6) + dg.text((s.pp[0] + 16, s.pp[1] - 16), "P", color=dg.TOOL_COLOR, box=True)
    p = s.p
    solution = (
        SolutionStep(
            "think",
            f"First P: line {na}{nb} is {cl._equation(a, b)} and line {nc}{nd} is {cl._equation(c, d)}; solving them "
            f"together gives P = {parent.answer}.",
        ),
        SolutionStep("code", "Mark P and shade triangle PRS.", tool),
        SolutionStep(
            "think",
            f"With R{r} and S{t}, the shoelace formula gives area = 1/2 |(x_R − x_P)(y_S − y_P) − (x_S − x_P)"
            f"(y_R − y_P)| = 1/2 |({r[0]} − {frac_str(p[0])})({t[1]} − {frac_str(p[1])}) − ({t[0]} − "
            f"{frac_str(p[0])})({r[1]} − {frac_str(p[1])})| = {answer} square units.",
        ),
    )
    return replace(
        parent,
        concepts=(
            "analytic_geometry.line_intersection",
            "analytic_geometry.polygon_area_coordinates",
            "plane_geometry.shoelace_area",
        ),
        difficulty=min(5, parent_level + 1),
        question=(
            f"Line {na}{nb} passes through the grid points {na} and {nb}, and line {nc}{nd} through {nc} and {nd}; "
            f"they intersect at P. R and S are grid points joined by a segment. Find the area of triangle PRS in "
            "square units. Give the exact value as an integer or a fraction in lowest terms."
        ),
        answer=answer,
        answer_kind="number" if area.denominator == 1 else "expression",
        render_code=render,
        answer_code=(
            "from sympy import Line, Point, Triangle\n"
            f"P = Line(Point{a}, Point{b}).intersection(Line(Point{c}, Point{d}))[0]\n"
            f"print(abs(Triangle(P, Point{r}, Point{t}).area))\n"
        ),
        check_code=(
            "import numpy as np\nfrom shapely.geometry import Polygon\n"
            f"A, B, C, D = (np.array(q, dtype=float) for q in ({a}, {b}, {c}, {d}))\n"
            "s, _ = np.linalg.solve(np.column_stack([B - A, C - D]), C - A)\n"
            f"print(Polygon([tuple(A + s * (B - A)), {r}, {t}]).area)\n"
        ),
        solution=solution,
        elements=(*parent.elements, NamedElement("R", "point", *pr), NamedElement("S", "point", *pt)),
        tools=("tool.intersection_point", "tool.region_shading", "tool.polygon_outline"),
    )
