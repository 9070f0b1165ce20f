"""Extensions of polygon_angles (issue 5): another angle of the same polygon, or a bisector angle built on x.

The parent's figure comes back from `polygon_angles.scene(random.Random(parent_seed), level)`. Parallel asks
for the exterior angle at the unknown vertex through the exterior-angle sum 360° (levels 1-4) or for the
value of x (level 5). Sequential draws the bisectors of the angles at that vertex and at a neighbour, meeting
at I, and asks for the angle at I: 180° minus half of each, so the parent's angle is needed first.
"""

from __future__ import annotations

import random
from dataclasses import replace
from fractions import Fraction

from flywheel.records import NamedElement, SolutionStep
from generators.procedural import draw_geometry as dg
from generators.procedural.base import Draft, tool_canvas_code
from generators.procedural.exact_geometry import decimal_str
from generators.procedural.families import polygon_angles as pa
from generators.procedural.families.polygon_angles import POLY, H, Scene, W

MEASURE = (
    "import numpy as np\n"
    "def interior(V, i):\n"
    "    u, w = V[i - 1] - V[i], V[(i + 1) % len(V)] - V[i]\n"
    "    return np.degrees(np.arccos(u @ w / (np.linalg.norm(u) * np.linalg.norm(w))))\n"
)


def _parent(parent_seed: int, parent_level: int) -> tuple[Scene, Draft]:
    return pa.scene(random.Random(parent_seed), parent_level), pa.make(random.Random(parent_seed), parent_level)


def _verts(s: Scene) -> str:
    return f"V = np.array({[list(v) for v in s.verts]!r})\n"


def parallel(rng: random.Random, parent_seed: int, parent_level: int) -> Draft:
    s, parent = _parent(parent_seed, parent_level)
    return _solve_x(s, parent) if s.pairs else _exterior(s, parent, parent_level)


def _exterior(s: Scene, parent: Draft, level: int) -> Draft:
    """The exterior angle at x's vertex, from the exterior angles summing to 360° (no need to find x)."""
    n, k, letters = len(s.angles), s.k, s.letters
    v, prev = letters[k], letters[k - 1]
    answer = 180 - s.angles[k]
    others = [180 - a for i, a in enumerate(s.angles) if i != k]
    tool = tool_canvas_code(W, H) + pa._exterior_mark(list(s.pix), k, "y", dg.TOOL_COLOR)
    ext_note = ""
    if s.ext_at is not None:
        ext_note = f" At {letters[s.ext_at]} the exterior angle {180 - s.angles[s.ext_at]}° is given directly."
    solution = (
        SolutionStep(
            "think",
            f"Walking once around a convex polygon turns through 360°, so its exterior angles add up to 360°. "
            f"Each marked interior angle a has exterior angle 180° − a.{ext_note}",
        ),
        SolutionStep("code", f"Extend side {prev}{v} beyond {v} and mark the exterior angle y.", tool),
        SolutionStep(
            "think",
            f"The other exterior angles are {', '.join(f'{e}°' for e in others)}, adding to {sum(others)}°. "
            f"So y = 360° − {sum(others)}° = {answer}°.",
        ),
    )
    return replace(
        parent,
        concepts=("plane_geometry.polygon_exterior_angles", "plane_geometry.angles_on_straight_line"),
        difficulty=max(2, level),
        question=(
            f"In {POLY[n]} {letters} (angles marked in the figure), side {prev}{v} is extended beyond {v}. Find the "
            f"exterior angle y formed at {v}, in degrees. Give the answer in degrees as a whole number."
        ),
        answer=str(answer),
        answer_kind="number",
        answer_code=(
            "from sympy import Eq, solve, symbols\ny = symbols('y')\n"
            f"print(solve(Eq(y + {' + '.join(map(str, others))}, 360), y)[0])\n"
        ),
        check_code=MEASURE + _verts(s) + f"print(float(180 - interior(V, {k})))\n",
        solution=solution,
        tools=("tool.extend_segment", "tool.angle_mark", "tool.text_annotation"),
    )


def _sum_equation(s: Scene) -> str:
    return f"{sum(c for c, _ in s.pairs)}x + ({sum(d for _, d in s.pairs)}) = {(len(s.angles) - 2) * 180}"


def _solve_x(s: Scene, parent: Draft) -> Draft:
    """Level 5's figure: the value of x itself, from the angle sum."""
    n = len(s.angles)
    i = next(i for i, (c, _) in enumerate(s.pairs) if c)
    c, d = s.pairs[i]
    tool = tool_canvas_code(W, H) + pa._triangulate(list(s.pix), s.k)
    solution = (
        SolutionStep(
            "think",
            f"The interior angles of a {POLY[n]} add up to ({n} − 2) × 180° = {(n - 2) * 180}°: the diagonals from "
            "one vertex cut it into triangles.",
        ),
        SolutionStep("code", f"Draw the diagonals from {s.letters[s.k]} to see the {n - 2} triangles.", tool),
        SolutionStep("think", f"Adding the marked expressions: {_sum_equation(s)}, so x = {s.x}."),
    )
    return replace(
        parent,
        concepts=("plane_geometry.polygon_interior_angles", "plane_geometry.triangle_angle_sum"),
        difficulty=4,
        question=(
            f"The interior angles of {POLY[n]} {s.letters} are given in degrees in terms of x, as marked in the "
            "figure. Find the value of x. Give the answer as a whole number."
        ),
        answer=str(s.x),
        answer_kind="number",
        answer_code=(
            "from sympy import Eq, solve, symbols\nx = symbols('x')\n"
            f"print(solve(Eq({' + '.join(f'{c}*x + ({d})' for c, d in s.pairs)}, {(n - 2) * 180}), x)[0])\n"
        ),
        check_code=MEASURE + _verts(s) + f"print(float((interior(V, {i}) - ({d})) / {c}))\n",
        solution=solution,
        tools=("tool.auxiliary_line", "tool.angle_mark", "tool.highlight"),
    )


def _bisector_meet(s: Scene, j: int) -> dg.Pt | None:
    """Where the bisectors at vertices k and j (neighbours) cross, in pixels; None when it leaves the canvas."""
    pix, n = s.pix, len(s.pix)

    def ray(i: int):
        v, a, b = pix[i], pix[i - 1], pix[(i + 1) % n]
        ua, ub = dg.unit(a[0] - v[0], a[1] - v[1]), dg.unit(b[0] - v[0], b[1] - v[1])
        return v, dg.unit(ua[0] + ub[0], ua[1] + ub[1])

    (p, u), (q, w) = ray(s.k), ray(j)
    det = u[0] * -w[1] + w[0] * u[1]
    t = ((q[0] - p[0]) * -w[1] + w[0] * (q[1] - p[1])) / det
    meet = dg.rnd((p[0] + t * u[0], p[1] + t * u[1]))
    return meet if 30 <= meet[0] <= W - 30 and 30 <= meet[1] <= H - 30 else None


def sequential(rng: random.Random, parent_seed: int, parent_level: int) -> Draft:
    """Bisectors at the parent's vertex and a neighbour meet at I: angle at I = 180° − (a_k + a_j)/2."""
    s, parent = _parent(parent_seed, parent_level)
    n, k, letters = len(s.angles), s.k, s.letters
    order = sorted([(k + 1) % n, (k - 1) % n], key=lambda j: s.angles[j])  # the smaller angle keeps I close
    j, meet = next(((j, m) for j in order if (m := _bisector_meet(s, j))), (order[0], None))
    if meet is None:  # both meets off the canvas: never seen with these angle ranges, but stay drawable
        meet = dg.rnd(((s.pix[k][0] + s.pix[j][0]) / 2, (s.pix[k][1] + s.pix[j][1]) / 2))
    value = Fraction(360 - s.angles[k] - s.angles[j], 2)
    answer = decimal_str(value)
    vk, vj = letters[k], letters[j]
    render = parent.render_code + _bisectors(s, j, meet)
    first = (
        f"First x: the angles add up to {(n - 2) * 180}°, so x = {parent.answer}°."
        if not s.pairs
        else f"First the angles: {_sum_equation(s)} gives x = {s.x}, and the largest angle, at {vk}, is "
        f"{s.angles[k]}° (option {parent.answer})."
    )
    solution = (
        SolutionStep("think", f"{first} The angle at {vj} is {s.angles[j]}°."),
        SolutionStep(
            "code",
            f"Shade triangle {vk}I{vj} and mark its angle at I.",
            tool_canvas_code(W, H)
            + dg.shade([s.pix[k], meet, s.pix[j]], alpha=0.35)
            + dg.arc(meet, s.pix[k], s.pix[j], 20, color=dg.TOOL_COLOR, lw=2.5),
        ),
        SolutionStep(
            "think",
            f"I{vk} and I{vj} halve the angles at {vk} and {vj}, so triangle {vk}I{vj} has angles "
            f"{decimal_str(Fraction(s.angles[k], 2))}° and {decimal_str(Fraction(s.angles[j], 2))}° there. "
            f"Angle {vk}I{vj} = 180° − {decimal_str(Fraction(s.angles[k], 2))}° − "
            f"{decimal_str(Fraction(s.angles[j], 2))}° = {answer}°.",
        ),
    )
    return replace(
        parent,
        concepts=(
            "plane_geometry.polygon_interior_angles",
            "plane_geometry.angle_bisector",
            "plane_geometry.triangle_angle_sum",
        ),
        difficulty=min(5, parent_level + 1),
        question=(
            f"In {POLY[n]} {letters} (angles marked in the figure), the bisectors of the interior angles at {vk} "
            f"and {vj} meet at I. Find angle {vk}I{vj}, in degrees. Give the answer in degrees (a decimal if needed)."
        ),
        answer=answer,
        answer_kind="number",
        render_code=render,
        answer_code=_bisector_answer_code(s, j),
        check_code=_bisector_check_code(s, j),
        solution=solution,
        elements=(*parent.elements, NamedElement("I", "point", meet[0], meet[1])),
        tools=("tool.angle_bisector", "tool.region_shading", "tool.angle_mark"),
    )


def _bisector_answer_code(s: Scene, j: int) -> str:
    """sympy: every angle from the angle-sum equation, then the triangle at I."""
    n = len(s.angles)
    if s.pairs:
        exprs = [f"{c}*x + ({d})" for c, d in s.pairs]
    else:
        exprs = ["x" if i == s.k else str(a) for i, a in enumerate(s.angles)]
        if s.ext_at is not None:
            exprs[s.ext_at] = f"(180 - {180 - s.angles[s.ext_at]})"
    return (
        "from sympy import Eq, Rational, solve, symbols\nx = symbols('x')\n"
        f"angles = [{', '.join(exprs)}]\n"
        f"xv = solve(Eq(sum(angles), {(n - 2) * 180}), x)[0]\n"
        f"v = 180 - Rational(1, 2) * (angles[{s.k}] + angles[{j}]).subs(x, xv)\n"
        "print(v if v.q == 1 else format(float(v), '.1f'))\n"
    )


def _bisector_check_code(s: Scene, j: int) -> str:
    """numpy: bisector rays on the drawn polygon, intersected, and the angle at the meet measured."""
    return (
        MEASURE + _verts(s) + "def ray(i):\n"
        "    a, b = V[i - 1] - V[i], V[(i + 1) % len(V)] - V[i]\n"
        "    return a / np.linalg.norm(a) + b / np.linalg.norm(b)\n"
        f"k, j = {s.k}, {j}\n"
        "t = np.linalg.solve(np.column_stack([ray(k), -ray(j)]), V[j] - V[k])\n"
        "M = V[k] + t[0] * ray(k)\n"
        "u, w = V[k] - M, V[j] - M\n"
        "angle = np.degrees(np.arccos(u @ w / (np.linalg.norm(u) * np.linalg.norm(w))))\n"
        "print(round(float(angle), 1))\n"
    )


def _bisectors(s: Scene, j: int, meet: dg.Pt) -> str:
    """Render code: the two bisectors from vertices k and j to their meet I, labelled away from the polygon."""
    code = "".join(dg.segment(s.pix[i], meet, color=dg.ACCENT, lw=2) for i in (s.k, j))
    n = len(s.pix)
    other = s.pix[(s.k + 2) % n] if n > 3 else s.pix[3 - s.k - j]
    return (
        code + dg.dot(meet, color=dg.ACCENT, size=6) + dg.text(dg.away(meet, other, 18), "I", color=dg.ACCENT, box=True)
    )
