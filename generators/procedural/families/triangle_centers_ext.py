"""Extensions of triangle_centers (issue 5): another measure of the same grid triangle, or one built on its centre.

The parent's figure comes back from `triangle_centers.scene(random.Random(parent_seed), level)`. Parallel asks
for the length of the median from the second vertex (centroid figures) or the triangle's area (circumcentre
figures). Sequential draws the median AM and asks for GM (centroid figures: G or AG first), or draws the
circumcircle and asks for the area inside it but outside the triangle (circumcentre figures: U or R first).
"""

from __future__ import annotations

import math
import random
from dataclasses import replace
from fractions import Fraction

from flywheel.records import NamedElement, SolutionStep
from generators.procedural import draw_geometry as dg
from generators.procedural.base import Draft, tool_canvas_code
from generators.procedural.exact_geometry import frac_str, pi_str, point_str, sqrt_str
from generators.procedural.families import triangle_centers as tc
from generators.procedural.families.triangle_centers import H, Scene, W

RADICAL = "Give the exact value in simplest radical form."


def _parent(parent_seed: int, parent_level: int) -> tuple[Scene, Draft]:
    return tc.scene(random.Random(parent_seed), parent_level), tc.make(random.Random(parent_seed), parent_level)


def _mid(p, q) -> tuple[Fraction, Fraction]:
    return Fraction(p[0] + q[0], 2), Fraction(p[1] + q[1], 2)


def _area(v) -> Fraction:
    (ax, ay), (bx, by), (cx, cy) = v
    return Fraction(abs((bx - ax) * (cy - ay) - (cx - ax) * (by - ay)), 2)


def _sq(p, q) -> Fraction:
    return Fraction(p[0] - q[0]) ** 2 + Fraction(p[1] - q[1]) ** 2


def _read(s: Scene) -> str:
    return "Reading the grid: " + ", ".join(f"{n}{v}" for n, v in zip(s.names, s.verts, strict=True)) + "."


def parallel(rng: random.Random, parent_seed: int, parent_level: int) -> Draft:
    s, parent = _parent(parent_seed, parent_level)
    return _median(s, parent) if s.center == "centroid" else _triangle_area(s, parent)


def _median(s: Scene, parent: Draft) -> Draft:
    """The median from the second vertex: its length by the distance formula to a side midpoint."""
    (a, b, c), (va, vb, vc) = s.names, s.verts
    m = _mid(va, vc)
    answer = sqrt_str(_sq(vb, m))
    pm = s.frame.px((float(m[0]), float(m[1])))
    tool = tool_canvas_code(W, H) + dg.segment(s.pix[1], pm, color=dg.TOOL_COLOR, lw=3, z=5)
    tool += dg.dot(pm, color=dg.TOOL_COLOR, size=7) + dg.text(
        (pm[0] + 15, pm[1] - 15), "N", color=dg.TOOL_COLOR, box=True
    )
    dx, dy = m[0] - vb[0], m[1] - vb[1]
    solution = (
        SolutionStep("think", f"{_read(s)} The median from {b} ends at the midpoint N of {a}{c}: N = {point_str(*m)}."),
        SolutionStep("code", f"Mark N and draw the median {b}N.", tool),
        SolutionStep(
            "think",
            f"{b}N² = ({frac_str(dx)})² + ({frac_str(dy)})² = {frac_str(dx * dx + dy * dy)}, so {b}N = {answer} units.",
        ),
    )
    return replace(
        parent,
        concepts=(
            "plane_geometry.median_of_triangle",
            "analytic_geometry.midpoint_formula",
            "analytic_geometry.distance_formula",
        ),
        difficulty=3,
        question=(
            f"Triangle {''.join(s.names)} has its vertices at grid points (1 unit per square). Find the length of the "
            f"median from {b} to side {a}{c}, in units. {RADICAL}"
        ),
        answer=answer,
        answer_kind="number" if answer.isdigit() else "expression",
        answer_code=(f"from sympy import Point\nprint(Point{vb}.distance(Point{va}.midpoint(Point{vc})))\n"),
        check_code=(
            "import numpy as np\n"
            f"A, B, C = (np.array(v, dtype=float) for v in {s.verts})\n"
            "print(float(np.linalg.norm((A + C) / 2 - B)))\n"
        ),
        solution=solution,
        tools=("tool.midpoint_mark", "tool.connect_points", "tool.measure_length"),
    )


def _triangle_area(s: Scene, parent: Draft) -> Draft:
    """The area by the shoelace formula on the read-off vertices."""
    (va, vb, vc), t = s.verts, "".join(s.names)
    area = _area(s.verts)
    answer = frac_str(area)
    tool = tool_canvas_code(W, H) + dg.shade(list(s.pix), alpha=0.3) + dg.polygon(list(s.pix), color=dg.TOOL_COLOR)
    solution = (
        SolutionStep("think", f"{_read(s)} The shoelace formula gives the area from the coordinates."),
        SolutionStep("code", f"Outline and shade triangle {t}.", tool),
        SolutionStep(
            "think",
            f"Area = 1/2 |({vb[0]} − {va[0]})({vc[1]} − {va[1]}) − ({vc[0]} − {va[0]})({vb[1]} − {va[1]})| = "
            f"{answer} square units.",
        ),
    )
    return replace(
        parent,
        concepts=("plane_geometry.shoelace_area", "analytic_geometry.polygon_area_coordinates"),
        difficulty=2,
        question=(
            f"Triangle {t} has its vertices at grid points of the coordinate grid. Find its area in square units. "
            "Give the exact value as an integer or a fraction."
        ),
        answer=answer,
        answer_kind="number" if area.denominator == 1 else "expression",
        answer_code=f"from sympy import Point, Triangle\nprint(abs(Triangle(Point{va}, Point{vb}, Point{vc}).area))\n",
        check_code=f"from shapely.geometry import Polygon\nprint(Polygon({list(s.verts)}).area)\n",
        solution=solution,
        tools=("tool.polygon_outline", "tool.region_shading", "tool.coordinate_readout"),
    )


def sequential(rng: random.Random, parent_seed: int, parent_level: int) -> Draft:
    s, parent = _parent(parent_seed, parent_level)
    level = min(5, parent_level + 1)
    return _centroid_to_mid(s, parent, level) if s.center == "centroid" else _outside_area(s, parent, level)


def _centroid_to_mid(s: Scene, parent: Draft, level: int) -> Draft:
    """The median AM is drawn; GM is a third of it (or half of AG), so G (or AG) comes first."""
    (a, b, c), (va, vb, vc) = s.names, s.verts
    m, g = _mid(vb, vc), s.p
    mn = "M" if "M" not in s.names else "N"
    answer = sqrt_str(_sq(g, m))
    pm = s.frame.px((float(m[0]), float(m[1])))
    render = parent.render_code + dg.segment(s.pix[0], pm, color=dg.ACCENT, lw=2.2, z=3)
    render += dg.dot(pm, color=dg.ACCENT, size=7) + dg.text(dg.away(pm, s.pix[0], 18), mn, color=dg.ACCENT, box=True)
    pg = s.frame.px((float(g[0]), float(g[1])))
    first = (
        f"{_read(s)} First the centroid: G = (({va[0]} + {vb[0]} + {vc[0]})/3, ({va[1]} + {vb[1]} + {vc[1]})/3) "
        f"= {parent.answer}."
    )
    if parent.answer_kind != "point":
        first = f"{_read(s)} First {a}G: G = {point_str(*g)}, so {a}G = {parent.answer} units."
    tool = tool_canvas_code(W, H) + dg.segment(pg, pm, color=dg.TOOL_COLOR, lw=3.5, z=5)
    tool += dg.dot(pg, dg.TOOL_COLOR, 7) + dg.text((pg[0] + 15, pg[1] - 15), "G", color=dg.TOOL_COLOR, box=True)
    relation = (
        f"G divides the median {a}{mn} in the ratio 2 : 1, so G{mn} = {a}G / 2 = {answer} units."
        if parent.answer_kind != "point"
        else f"{mn} = {point_str(*m)}; G{mn}² = {frac_str(_sq(g, m))}, so G{mn} = {answer} units."
    )
    return replace(
        parent,
        concepts=(
            "plane_geometry.triangle_centroid",
            "plane_geometry.median_of_triangle",
            "analytic_geometry.distance_formula",
        ),
        difficulty=level,
        question=(
            f"Triangle {''.join(s.names)} has its vertices at grid points (1 unit per square). {mn} is the midpoint of "
            f"{b}{c} and the median {a}{mn} is drawn; G is the centroid. Find the length G{mn} in units. {RADICAL}"
        ),
        answer=answer,
        answer_kind="number" if answer.isdigit() else "expression",
        render_code=render,
        answer_code=(
            "from sympy import Point, Triangle\n"
            f"G = Triangle(Point{va}, Point{vb}, Point{vc}).centroid\n"
            f"print(G.distance(Point{vb}.midpoint(Point{vc})))\n"
        ),
        check_code=(
            "import numpy as np\n"
            f"A, B, C = (np.array(v, dtype=float) for v in {s.verts})\n"
            "M = (B + C) / 2\n"
            "print(float(np.linalg.norm(M - A)) / 3)  # G sits two thirds of the way from A to M\n"
        ),
        solution=(
            SolutionStep("think", first),
            SolutionStep("code", f"Mark G on the median and highlight G{mn}.", tool),
            SolutionStep("think", relation),
        ),
        elements=(*parent.elements, NamedElement(mn, "point", pm[0], pm[1])),
        tools=("tool.midpoint_mark", "tool.highlight", "tool.measure_length"),
    )


def _outside_area(s: Scene, parent: Draft, level: int) -> Draft:
    """The circumcircle is drawn: the area inside it but outside the triangle is pi R² minus the triangle."""
    (a, b, c), (va, vb, vc), u = s.names, s.verts, s.p
    r2, area = _sq(u, va), _area(s.verts)
    answer = f"{pi_str(r2)} - {frac_str(area)}"
    pu = s.frame.px((float(u[0]), float(u[1])))
    radius_px = math.dist(pu, s.pix[0])
    render = parent.render_code + dg.circle(pu, radius_px, color=dg.ACCENT, lw=2)
    first = f"{_read(s)} The circumcentre is U = {parent.answer}, so R² = {a}U² = {frac_str(r2)}."
    if parent.answer_kind != "point":
        first = (
            f"{_read(s)} The circumcentre is U = {point_str(*u)} and the radius R = {parent.answer}, "
            f"so R² = {frac_str(r2)}."
        )
    # the disc tinted first, then the triangle painted back over it: what stays tinted is the region asked for
    tool = tool_canvas_code(W, H)
    tool += (
        f"ax.add_patch(plt.Circle(({pu[0]:.2f}, {pu[1]:.2f}), {radius_px:.2f}, color='{dg.TOOL_COLOR}', "
        "alpha=0.25, lw=0, zorder=1))\n"
    )
    xs, ys = ", ".join(f"{q[0]:.2f}" for q in s.pix), ", ".join(f"{q[1]:.2f}" for q in s.pix)
    tool += f"ax.fill([{xs}], [{ys}], color='#bcbddc', zorder=2)\n"
    tool += dg.polygon(list(s.pix), color=dg.TOOL_COLOR, lw=2)
    return replace(
        parent,
        concepts=("plane_geometry.triangle_circumcenter", "plane_geometry.circle_area", "plane_geometry.shoelace_area"),
        difficulty=level,
        question=(
            f"Triangle {''.join(s.names)} has its vertices at grid points (1 unit per square), and the circle through "
            f"{a}, {b} and {c} is drawn. Find the area of the region inside the circle but outside the triangle, in "
            "square units. Give the exact value in terms of pi."
        ),
        answer=answer,
        answer_kind="expression",
        render_code=render,
        answer_code=(
            "from sympy import Point, Triangle, pi\n"
            f"T = Triangle(Point{va}, Point{vb}, Point{vc})\n"
            f"R = T.circumradius\n"
            "print(pi * R**2 - abs(T.area))\n"
        ),
        check_code=(
            "import numpy as np\nfrom shapely.geometry import Point, Polygon\n"
            f"A, B, C = (np.array(v, dtype=float) for v in {s.verts})\n"
            "M = 2 * np.array([B - A, C - A])\n"
            "U = np.linalg.solve(M, np.array([B @ B - A @ A, C @ C - A @ A]))\n"
            "R = float(np.linalg.norm(U - A))\n"
            f"print(np.pi * R**2 - Polygon({list(s.verts)}).area)\n"
        ),
        solution=(
            SolutionStep("think", first),
            SolutionStep("code", "Shade the part of the disc outside the triangle.", tool),
            SolutionStep(
                "think",
                f"The disc has area πR² = {pi_str(r2)}; the triangle (shoelace) has area {frac_str(area)}. "
                f"The region's area is {answer} square units.",
            ),
        ),
        tools=("tool.circle", "tool.region_shading", "tool.polygon_outline"),
    )
