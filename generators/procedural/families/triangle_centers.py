"""Centroid and circumcentre of a lattice triangle on a numbered grid, as points or as distances.

The stated answer uses the closed formulas (vertex average; the determinant formula for the circumcentre) in
Fractions; answer_code asks sympy's `Triangle` for `centroid`/`circumcenter`; check_code intersects two
medians or two perpendicular bisectors with numpy.linalg. The tool draws those medians or bisectors.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from fractions import Fraction

from flywheel.records import NamedElement, SolutionStep
from generators.procedural import draw_geometry as dg
from generators.procedural.base import Draft, canvas_code, tool_canvas_code
from generators.procedural.exact_geometry import frac_str, point_str, sqrt_str

FAMILY = "triangle_centers"
W, H = 620, 560
STEP = 38
ORIGIN = (W / 2, H / 2)
XR, YR = (-7, 7), (-6, 6)
XS, YS = [x for x in range(-6, 7) if x], [y for y in range(-5, 6) if y]  # off the axes and their numbers
NAMES = (("A", "B", "C"), ("P", "Q", "R"), ("D", "E", "F"), ("K", "L", "M"))
POINT_FMT = "Give the exact coordinates as (x, y), using fractions in lowest terms where needed."
RADICAL = "Give the exact value in simplest radical form."
CENTROID_Q = (
    "Triangle {t} has its vertices at grid points of the coordinate grid. Find the coordinates of its "
    "centroid G (where the three medians meet). " + POINT_FMT,
    "The medians of triangle {t} meet at the centroid G. Reading the vertices from the grid, find G. " + POINT_FMT,
)
CIRCUM_Q = (
    "Find the coordinates of the circumcentre U of triangle {t}, the point equidistant from {a}, {b} and "
    "{c}. The vertices lie on grid points. " + POINT_FMT,
    "Where do the perpendicular bisectors of the sides of triangle {t} meet? Give that point, the "
    "circumcentre U. " + POINT_FMT,
)
DIST_Q = {
    "centroid": (
        "G is the centroid of triangle {t}, whose vertices lie on grid points (1 unit per square). Find the "
        "distance from {a} to G in units. " + RADICAL,
        "How far is vertex {a} of triangle {t} from the triangle's centroid G, in grid units (each square is 1 "
        "unit wide)? " + RADICAL,
    ),
    "circumcenter": (
        "Find the radius of the circle through {a}, {b} and {c} (the circumradius of triangle {t}), in grid "
        "units. " + RADICAL,
        "U is the circumcentre of triangle {t} drawn on the unit grid. Find the distance {a}U in units. " + RADICAL,
    ),
}
Pt = tuple[int, int]


@dataclass(frozen=True)
class Scene:
    """The figure as `make` drew it (kept for triangle_centers_ext): lattice vertices and the asked centre p."""

    center: str  # "centroid" | "circumcenter"
    verts: tuple[Pt, Pt, Pt]
    p: tuple[Fraction, Fraction]
    names: tuple[str, str, str]
    pix: tuple[dg.Pt, ...]
    render: str
    frame: dg.Frame


def scene(rng: random.Random, difficulty: int) -> Scene:
    """The figure `make` draws at this level: all of its random draws except the question wording."""
    center = "centroid" if difficulty in (1, 2, 4) else "circumcenter"
    verts, p = _choose(rng, difficulty, center)
    names = rng.choice(NAMES)
    frame = dg.Frame(STEP, *ORIGIN)
    pix = [frame.px(v) for v in verts]
    render = canvas_code(W, H) + dg.grid(ORIGIN, STEP, XR, YR) + dg.polygon(pix, face="#bcbddc")
    centre = (sum(q[0] for q in pix) / 3, sum(q[1] for q in pix) / 3)
    for name, q in zip(names, pix, strict=True):
        render += dg.dot(q, size=6) + dg.text(dg.away(q, centre, 20), name, box=True)
    return Scene(center, tuple(verts), p, names, tuple(pix), render, frame)


def make(rng: random.Random, difficulty: int) -> Draft:
    """1: lattice centroid; 2: any centroid; 3: circumcentre; 4: vertex-to-centroid distance;
    5: circumradius."""
    s = scene(rng, difficulty)
    center, verts, p, names, pix, render, frame = s.center, list(s.verts), s.p, s.names, s.pix, s.render, s.frame
    t, (a, b, c) = "".join(names), names
    if difficulty in (4, 5):
        question = rng.choice(DIST_Q[center]).format(t=t, a=a, b=b, c=c)
        sq = (p[0] - verts[0][0]) ** 2 + (p[1] - verts[0][1]) ** 2
        answer, kind = sqrt_str(sq), "expression"
    else:
        question = rng.choice(CENTROID_Q if center == "centroid" else CIRCUM_Q).format(t=t, a=a, b=b, c=c)
        answer, kind = point_str(*p), "point"
    point_name = "G" if center == "centroid" else "U"  # not O: the grid has an origin
    return Draft(
        family=FAMILY,
        concepts=_concepts(center, difficulty),
        domain="analytic_geometry" if difficulty <= 3 else "plane_geometry",
        difficulty=difficulty,
        question=question,
        answer=answer,
        answer_kind=kind,
        render_code=render,
        answer_code=_answer_code(verts, center, kind == "expression"),
        check_code=_check_code(verts, center, kind == "expression"),
        solution=_solution(names, verts, p, center, point_name, answer, frame),
        elements=tuple(NamedElement(n, "vertex", q[0], q[1]) for n, q in zip(names, pix, strict=True)),
        tools=("tool.midpoint_mark", "tool.connect_points", "tool.intersection_point")
        if center == "centroid"
        else ("tool.midpoint_mark", "tool.perpendicular", "tool.circle"),
        width=W,
        height=H,
    )


def _concepts(center: str, difficulty: int) -> tuple[str, ...]:
    if center == "centroid":
        base = (
            "plane_geometry.triangle_centroid",
            "plane_geometry.median_of_triangle",
            "analytic_geometry.triangle_centroid_coordinates",
        )
    else:
        base = (
            "plane_geometry.triangle_circumcenter",
            "plane_geometry.perpendicular_bisector",
            "analytic_geometry.midpoint_formula",
        )
    return base + (("analytic_geometry.distance_formula",) if difficulty >= 4 else ())


def _circumcenter(a: Pt, b: Pt, c: Pt) -> tuple[Fraction, Fraction]:
    """The determinant formula for the point equidistant from a, b, c."""
    d = 2 * (a[0] * (b[1] - c[1]) + b[0] * (c[1] - a[1]) + c[0] * (a[1] - b[1]))
    sa, sb, sc = (q[0] ** 2 + q[1] ** 2 for q in (a, b, c))
    ux = Fraction(sa * (b[1] - c[1]) + sb * (c[1] - a[1]) + sc * (a[1] - b[1]), d)
    uy = Fraction(sa * (c[0] - b[0]) + sb * (a[0] - c[0]) + sc * (b[0] - a[0]), d)
    return ux, uy


def _choose(rng: random.Random, difficulty: int, center: str):
    """Lattice vertices and the asked centre, redrawn until the triangle and the centre read well."""
    while True:
        verts = [(rng.choice(XS), rng.choice(YS)) for _ in range(3)]
        if not _well_shaped(verts):
            continue
        if center == "centroid":
            p = (Fraction(sum(v[0] for v in verts), 3), Fraction(sum(v[1] for v in verts), 3))
        else:
            p = _circumcenter(*verts)
        den = max(p[0].denominator, p[1].denominator)
        if difficulty == 1 and den != 1 or difficulty == 2 and den == 1:
            continue
        if center == "circumcenter" and (den > 4 or not (-6 <= p[0] <= 6 and -5 <= p[1] <= 5)):
            continue
        if difficulty >= 4 and sqrt_str((p[0] - verts[0][0]) ** 2 + (p[1] - verts[0][1]) ** 2).isdigit():
            continue  # a whole-number distance would make "simplest radical form" a misleading request
        return verts, p


def _well_shaped(v: list[Pt]) -> bool:
    """Area at least 6 square units and every angle at least 25 degrees."""
    cross = (v[1][0] - v[0][0]) * (v[2][1] - v[0][1]) - (v[1][1] - v[0][1]) * (v[2][0] - v[0][0])
    if abs(cross) < 12:
        return False
    for i in range(3):
        p, q, r = v[i], v[(i + 1) % 3], v[(i + 2) % 3]
        u, w = (q[0] - p[0], q[1] - p[1]), (r[0] - p[0], r[1] - p[1])
        cos = (u[0] * w[0] + u[1] * w[1]) / math.hypot(*u) / math.hypot(*w)
        if cos > math.cos(math.radians(25)):
            return False
    return True


def _answer_code(verts, center: str, distance: bool) -> str:
    a, b, c = verts
    attr = "centroid" if center == "centroid" else "circumcenter"
    code = (
        "from sympy import Point, Triangle, simplify, sqrt\n"
        f"tri = Triangle(Point{a}, Point{b}, Point{c})\n"
        f"P = tri.{attr}\n"
    )
    if distance:
        return code + f"print(sqrt(simplify(Point{a}.distance(P)**2)))\n"
    return code + "print(f'({P.x}, {P.y})')\n"


def _check_code(verts, center: str, distance: bool) -> str:
    """numpy: meet of two medians, or of two perpendicular bisectors, by a 2x2 solve."""
    code = "import numpy as np\nfrom fractions import Fraction\n"
    code += f"A, B, C = (np.array(v, dtype=float) for v in {tuple(verts)})\n"
    if center == "centroid":
        code += (
            "MA, MB = (B + C) / 2, (C + A) / 2  # midpoints opposite A and B\n"
            "s, t = np.linalg.solve(np.column_stack([MA - A, B - MB]), B - A)\n"
            "P = A + s * (MA - A)\n"
        )
    else:
        code += (
            "# |P-A|^2 = |P-B|^2 and |P-A|^2 = |P-C|^2 are linear in P\n"
            "M = 2 * np.array([B - A, C - A])\n"
            "P = np.linalg.solve(M, np.array([B @ B - A @ A, C @ C - A @ A]))\n"
        )
    if distance:
        return code + "print(float(np.linalg.norm(P - A)))\n"
    return code + ("fx, fy = (Fraction(float(v)).limit_denominator(1000) for v in P)\nprint(f'({fx}, {fy})')\n")


def _clip(m: tuple[float, float], d: tuple[float, float]):
    """The part of the line through m with direction d inside the grid rectangle."""
    lo, hi = -1e9, 1e9
    for start, delta, low, high in ((m[0], d[0], XR[0], XR[1]), (m[1], d[1], YR[0], YR[1])):
        if delta == 0:
            continue
        t1, t2 = (low - start) / delta, (high - start) / delta
        lo, hi = max(lo, min(t1, t2)), min(hi, max(t1, t2))
    return (m[0] + lo * d[0], m[1] + lo * d[1]), (m[0] + hi * d[0], m[1] + hi * d[1])


def _linear_text(a: int, b: int, rhs: Fraction) -> str:
    """`3x − 2y = 5/2` with the signs and unit coefficients a student would write."""

    def term(coef: int, var: str, first: bool) -> str:
        if coef == 0:
            return ""
        size = "" if abs(coef) == 1 else str(abs(coef))
        sign = ("−" if coef < 0 else "") if first else (" − " if coef < 0 else " + ")
        return f"{sign}{size}{var}"

    left = term(a, "x", True) + term(b, "y", a == 0)
    return f"{left} = {frac_str(rhs)}"


def _tool(verts, p, center: str, point_name: str, frame: dg.Frame, distance: bool) -> str:
    code = tool_canvas_code(W, H)
    mids = [
        ((verts[(i + 1) % 3][0] + verts[(i + 2) % 3][0]) / 2, (verts[(i + 1) % 3][1] + verts[(i + 2) % 3][1]) / 2)
        for i in range(3)
    ]  # midpoint of the side opposite vertex i
    pp = frame.px((float(p[0]), float(p[1])))
    for i, m in enumerate(mids):
        if center == "centroid":
            code += dg.segment(frame.px(verts[i]), frame.px(m), color=dg.ACCENT, lw=1.8, ls="--", z=3)
        else:
            side = (verts[(i + 2) % 3][0] - verts[(i + 1) % 3][0], verts[(i + 2) % 3][1] - verts[(i + 1) % 3][1])
            e1, e2 = _clip(m, (-side[1], side[0]))
            code += dg.segment(frame.px(e1), frame.px(e2), color=dg.ACCENT, lw=1.8, ls="--", z=3)
            mp = frame.px(m)
            code += dg.right_angle(mp, frame.px(verts[(i + 1) % 3]), frame.px(e2), size=9, color=dg.ACCENT)
        code += dg.dot(frame.px(m), color=dg.ACCENT, size=6)
    if distance:
        a = frame.px(verts[0])
        code += dg.segment(a, pp, color=dg.TOOL_COLOR, lw=3, z=5)
        if center == "circumcenter":
            r = math.dist(a, pp)
            code += dg.circle(pp, r, color=dg.TOOL_COLOR, lw=1.5, ls="--")
    code += dg.dot(pp, dg.TOOL_COLOR, 7) + dg.text((pp[0] + 15, pp[1] - 15), point_name, color=dg.TOOL_COLOR, box=True)
    return code


def _solution(names, verts, p, center: str, point_name: str, answer: str, frame: dg.Frame):
    (a, b, c), (va, vb, vc) = names, verts
    read = f"Reading the grid: {a}{va}, {b}{vb}, {c}{vc}."
    distance = not answer.startswith("(")
    tool = _tool(verts, p, center, point_name, frame, distance)
    if center == "centroid":
        steps = [
            SolutionStep(
                "think",
                f"{read} The centroid is where the three medians (vertex to midpoint of the opposite side) meet.",
            ),
            SolutionStep("code", "Mark the side midpoints, draw the medians and mark where they meet.", tool),
            SolutionStep(
                "think", f"G = (({va[0]} + {vb[0]} + {vc[0]})/3, ({va[1]} + {vb[1]} + {vc[1]})/3) = {point_str(*p)}."
            ),
        ]
    else:
        eq = []
        for q, r in ((va, vb), (va, vc)):
            dx, dy = r[0] - q[0], r[1] - q[1]
            eq.append(_linear_text(dx, dy, Fraction(r[0] ** 2 + r[1] ** 2 - q[0] ** 2 - q[1] ** 2, 2)))
        steps = [
            SolutionStep(
                "think",
                f"{read} The circumcentre is equidistant from all three vertices, so it lies "
                "on the perpendicular bisector of every side.",
            ),
            SolutionStep(
                "code", "Draw the perpendicular bisectors through the side midpoints and mark where they meet.", tool
            ),
            SolutionStep(
                "think",
                f"Bisector of {a}{b}: {eq[0]}. Bisector of {a}{c}: {eq[1]}. Solving them "
                f"together: U = {point_str(*p)}.",
            ),
        ]
    if distance:
        dx, dy = p[0] - va[0], p[1] - va[1]
        steps.append(
            SolutionStep(
                "think",
                f"{a}{point_name}² = ({frac_str(dx)})² + ({frac_str(dy)})² = "
                f"{frac_str(dx * dx + dy * dy)}, so {a}{point_name} = {answer} units.",
            )
        )
    else:
        steps.append(
            SolutionStep(
                "think", f"The {'centroid' if center == 'centroid' else 'circumcentre'} is {point_name} = {answer}."
            )
        )
    return tuple(steps)
