"""Extensions of right_triangle_pythagoras (issue 5): the area of the same figure, or an altitude built on it.

The parent's figure comes back from `right_triangle_pythagoras.scene(random.Random(parent_seed), level)`, the
draws `make` used. Parallel asks for the triangle's area (the missing side first when a leg is unknown).
Sequential adds the altitude to the hypotenuse (or to BC in the two-triangle figure) and asks for its length:
area two ways, with the parent's side as the divisor. Kept beside the family to hold both files under 500 lines.
"""

from __future__ import annotations

import math
import random
from dataclasses import replace
from fractions import Fraction

from flywheel.records import NamedElement, SolutionStep
from generators.procedural import draw_geometry as dg
from generators.procedural.base import Draft, tool_canvas_code
from generators.procedural.exact_geometry import clear_of_tie, frac_str, rounded, sqrt_str
from generators.procedural.families import right_triangle_pythagoras as rt
from generators.procedural.families.right_triangle_pythagoras import H, Scene, W


def _parent(parent_seed: int, parent_level: int) -> tuple[Scene, Draft]:
    return rt.scene(random.Random(parent_seed), parent_level), rt.make(random.Random(parent_seed), parent_level)


def parallel(rng: random.Random, parent_seed: int, parent_level: int) -> Draft:
    """Same image: the area of the triangle (single) or of the big triangle (two-triangle figure)."""
    s, parent = _parent(parent_seed, parent_level)
    return _area(s, parent) if s.kind == "single" else _composite_area(s, parent)


def sequential(rng: random.Random, parent_seed: int, parent_level: int) -> Draft:
    """The parent's figure plus an altitude whose length needs the parent's answer."""
    s, parent = _parent(parent_seed, parent_level)
    if s.kind == "single":
        return _hyp_altitude(s, parent, min(5, parent_level + 1))
    return _composite_altitude(s, parent)


def _squares(s: Scene) -> tuple[Fraction, Fraction]:
    """leg0² and leg1² of a single triangle, exact (the unknown one by Pythagoras)."""
    sq = {k: v * v for k, v in s.given.items()} | {s.unknown: rt._square(s.given, s.unknown)}
    return sq["leg0"], sq["leg1"]


def _value(q: Fraction, rounded_places: bool) -> str:
    """sqrt(q) as the answer states it: exact, or to 2 decimals (3 if 2 would sit on a rounding tie)."""
    if not rounded_places:
        return sqrt_str(q)
    return rounded(math.sqrt(q), 2 if clear_of_tie(math.sqrt(q), 2) else 3)


def _form(answer: str) -> tuple[str, str, str]:
    """(question wording, answer kind, sympy print statement for `v`) that match the answer's form."""
    if "." in answer:
        places = len(answer.split(".")[1])
        return f"Round your answer to {places} decimal places.", "number", f"print(format(float(v), '.{places}f'))\n"
    kind = "number" if answer.isdigit() else "expression"
    return "Give the exact value in simplest form.", kind, "print(v)\n"


def _legs_code(s: Scene) -> str:
    """sympy: both legs exact (a missing one from Pythagoras)."""
    sq0, sq1 = _squares(s)
    return (
        f"from sympy import Point, Polygon, Rational, sqrt\na, b = sqrt(Rational('{sq0}')), sqrt(Rational('{sq1}'))\n"
    )


def _rotated_code(s: Scene) -> str:
    """numpy: the triangle rebuilt from floats, rotated as drawn."""
    sq0, sq1 = _squares(s)
    return (
        "import numpy as np\n"
        f"t = {s.theta!r}\n"
        "R = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])\n"
        f"C, P = np.zeros(2), R @ np.array([np.sqrt({float(sq0)!r}), 0.0])\n"
        f"Q = R @ np.array([0.0, np.sqrt({float(sq1)!r})])\n"
    )


def _area(s: Scene, parent: Draft) -> Draft:
    (ra, pa, pb), (c, p0, p1) = s.names, s.pix
    sq0, sq1 = _squares(s)
    answer = _value(sq0 * sq1 / 4, s.fmt == "round1")
    fmt, kind, out = _form(answer)
    t = pa + ra + pb
    legs = f"{ra}{pa} and {ra}{pb}"
    first = (
        f"Both legs {legs} are marked, so they serve as base and height directly."
        if s.unknown == "hyp"
        else f"The area needs both legs {legs}, but one is x; Pythagoras gives x = {parent.answer} {s.u}."
    )
    tool = tool_canvas_code(W, H) + dg.shade([c, p0, p1], alpha=0.25)
    tool += dg.segment(c, p0, color=dg.TOOL_COLOR, lw=4, z=3) + dg.segment(c, p1, color=dg.ACCENT, lw=4, z=3)
    tool += dg.right_angle(c, p0, p1, size=22, color=dg.TOOL_COLOR, lw=2.5)
    solution = (
        SolutionStep("think", f"Triangle {t} is right-angled at {ra}, so its legs are perpendicular. {first}"),
        SolutionStep("code", f"Highlight the legs {legs} as base and height.", tool),
        SolutionStep(
            "think",
            f"Area = 1/2 x {ra}{pa} x {ra}{pb} = 1/2 x √{frac_str(sq0)} x √{frac_str(sq1)} = {answer} {s.u}².",
        ),
    )
    return replace(
        parent,
        concepts=("plane_geometry.pythagorean_theorem", "plane_geometry.triangle_area"),
        difficulty=1 if s.unknown == "hyp" else (4 if s.fmt == "round1" else 3),
        question=(
            f"Triangle {t} is right-angled at {ra}, with the side lengths marked in the figure (one of them "
            f"unknown, x). Find the area of triangle {t} in {s.u}². {fmt}"
        ),
        answer=answer,
        answer_kind=kind,
        answer_code=_legs_code(s) + "v = abs(Polygon(Point(0, 0), Point(a, 0), Point(0, b)).area)\n" + out,
        check_code=_rotated_code(s)
        + "u, w = P - C, Q - C\n"
        + f"print({_np_format(answer, 'abs(u[0] * w[1] - u[1] * w[0]) / 2')})\n",
        solution=solution,
        tools=("tool.highlight", "tool.angle_mark", "tool.region_shading"),
    )


def _np_format(answer: str, expr: str) -> str:
    """numpy print argument: rounded like the answer when the answer is a decimal."""
    if "." not in answer:
        return f"float({expr})"
    return f"format(float({expr}), '.{len(answer.split('.')[1])}f')"


def _fresh(taken, options: str = "HNTGF") -> str:
    """A point name the figure does not use yet."""
    return next(c for c in options if c not in taken)


def _altitude(apex: dg.Pt, p: dg.Pt, q: dg.Pt, name: str, centre: dg.Pt, inside: bool = False) -> tuple[str, dg.Pt]:
    """Render code for the altitude from apex to line pq (extending pq when the foot is outside), and the foot."""
    f = dg.rnd(dg.foot(apex, p, q))
    dx, dy = q[0] - p[0], q[1] - p[1]
    t = ((f[0] - p[0]) * dx + (f[1] - p[1]) * dy) / (dx * dx + dy * dy)
    code = dg.segment(apex, f, color=dg.ACCENT, lw=2)
    if t < 0 or t > 1:
        code += dg.segment(p if t < 0 else q, f, color=dg.ACCENT, lw=1.5, ls="--")
    far = p if abs(t) > abs(1 - t) else q
    code += dg.right_angle(f, apex, far, size=11, color=dg.ACCENT)
    pos = dg.away(f, centre, 18)
    if inside:  # outside would cover the side's own label: sit inside, shifted away from the side's midpoint
        n, u = dg.unit(apex[0] - f[0], apex[1] - f[1]), dg.unit(dx, dy)
        shift = -18 if t < 0.5 else 18
        pos = dg.rnd((f[0] + 16 * n[0] + shift * u[0], f[1] + 16 * n[1] + shift * u[1]))
    code += dg.dot(f, color=dg.ACCENT, size=6) + dg.text(pos, name, color=dg.ACCENT, box=True)
    return code, f


def _hyp_altitude(s: Scene, parent: Draft, level: int) -> Draft:
    (ra, pa, pb), (c, p0, p1) = s.names, s.pix
    sq0, sq1 = _squares(s)
    fn = _fresh(s.names)
    centre = ((c[0] + p0[0] + p1[0]) / 3, (c[1] + p0[1] + p1[1]) / 3)
    extra, f = _altitude(c, p0, p1, fn, centre, inside=True)
    answer = _value(sq0 * sq1 / (sq0 + sq1), s.fmt == "round1")
    fmt, kind, out = _form(answer)
    side = {"leg0": ra + pa, "leg1": ra + pb, "hyp": pa + pb}[s.unknown]
    t = pa + ra + pb
    tool = tool_canvas_code(W, H) + dg.shade([c, p0, p1], alpha=0.2) + rt._mark_code(c, p0, p1)
    tool += dg.segment(c, f, color=dg.TOOL_COLOR, lw=3.5, z=4)
    solution = (
        SolutionStep(
            "think",
            f"First the missing side x = {side}: by Pythagoras on the marked lengths, {side} = {parent.answer} "
            f"{s.u}. Now all three sides of {t} are known.",
        ),
        SolutionStep("code", f"Mark the right angle, the hypotenuse {pa}{pb} and the altitude {ra}{fn}.", tool),
        SolutionStep(
            "think",
            f"The area two ways: 1/2 x {ra}{pa} x {ra}{pb} = 1/2 x {pa}{pb} x {ra}{fn}, so {ra}{fn} = "
            f"{ra}{pa} x {ra}{pb} / {pa}{pb} = √{frac_str(sq0)} x √{frac_str(sq1)} / √{frac_str(sq0 + sq1)} "
            f"= {answer} {s.u}.",
        ),
    )
    return replace(
        parent,
        concepts=(
            "plane_geometry.pythagorean_theorem",
            "plane_geometry.altitude_of_triangle",
            "plane_geometry.triangle_area",
        ),
        difficulty=level,
        question=(
            f"Triangle {t} is right-angled at {ra}, with the side lengths marked in the figure (one of them unknown, "
            f"x). {ra}{fn} is perpendicular to {pa}{pb}. Find the length of {ra}{fn} in {s.u}. {fmt}"
        ),
        answer=answer,
        answer_kind=kind,
        render_code=parent.render_code + extra,
        answer_code=_legs_code(s)
        + "from sympy import Line\nv = Line(Point(a, 0), Point(0, b)).distance(Point(0, 0))\n"
        + out,
        check_code=_rotated_code(s)
        + "d = Q - P\n"
        + f"print({_np_format(answer, 'abs(d[0] * (C - P)[1] - d[1] * (C - P)[0]) / np.linalg.norm(d)')})\n",
        solution=solution,
        elements=(*parent.elements, NamedElement(fn, "point", f[0], f[1])),
        tools=("tool.angle_mark", "tool.highlight", "tool.perpendicular"),
    )


def _composite_sides(s: Scene) -> tuple[int, int, int, int]:
    return s.sides["ad"], s.sides["bd"], s.sides["ab"], s.sides["dc"]


def _composite_area(s: Scene, parent: Draft) -> Draft:
    (a, b, c, d), (pa, pb, pc, pd) = s.names, s.pix
    ad, bd, ab, dc = _composite_sides(s)
    area = Fraction((ad + dc) * bd, 2)
    answer = frac_str(area)
    tool = tool_canvas_code(W, H) + dg.shade([pa, pb, pc], alpha=0.25) + dg.segment(pb, pd, color=dg.TOOL_COLOR, lw=4)
    tool += dg.text(dg.side_label_pos(pb, pd, pc, 14, f"{bd}"), f"{b}{d} = {bd}", 12, dg.TOOL_COLOR, box=True)
    solution = (
        SolutionStep(
            "think",
            f"Take {a}{c} = {ad} + {dc} = {ad + dc} {s.u} as the base of {a}{b}{c}; the height is {b}{d}, "
            f"a leg of right triangle {a}{b}{d}: {b}{d}² = {ab}² − {ad}² = {bd * bd}, so {b}{d} = {bd} {s.u}.",
        ),
        SolutionStep("code", f"Shade triangle {a}{b}{c} and mark its height {b}{d}.", tool),
        SolutionStep("think", f"Area = 1/2 x {ad + dc} x {bd} = {answer} {s.u}²."),
    )
    return replace(
        parent,
        concepts=(
            "plane_geometry.pythagorean_theorem",
            "plane_geometry.triangle_area",
            "plane_geometry.altitude_of_triangle",
        ),
        difficulty=4,
        question=(
            f"In the figure, {a}, {d} and {c} lie on a straight line and {b}{d} is perpendicular to {a}{c}, with "
            f"{a}{b} = {ab} {s.u}, {a}{d} = {ad} {s.u} and {d}{c} = {dc} {s.u}. Find the area of triangle "
            f"{a}{b}{c} in {s.u}². Give the exact value as an integer or a fraction."
        ),
        answer=answer,
        answer_kind="number" if area.denominator == 1 else "expression",
        answer_code=(
            "from sympy import Point, Polygon, solve, symbols\n"
            "x = symbols('x', positive=True)\n"
            f"bd = solve(x**2 + {ad}**2 - {ab}**2, x)[0]\n"
            f"print(abs(Polygon(Point(0, 0), Point({ad}, bd), Point({ad + dc}, 0)).area))\n"
        ),
        check_code=(
            "import numpy as np\n"
            f"angle_a = np.arccos({ad} / {ab})\n"
            f"print(float(0.5 * {ad + dc} * {ab} * np.sin(angle_a)))\n"
        ),
        solution=solution,
        tools=("tool.region_shading", "tool.highlight", "tool.text_annotation"),
    )


def _composite_altitude(s: Scene, parent: Draft) -> Draft:
    """The altitude from D in right triangle BDC: its foot always lies on BC, inside the parent's frame."""
    (a, b, c, d), (_, pb, pc, pd) = s.names, s.pix
    ad, bd, ab, dc = _composite_sides(s)
    en = _fresh(s.names, "EFTG")
    extra, e = _altitude(pd, pb, pc, en, pd, inside=True)
    bc_sq = Fraction(bd * bd + dc * dc)
    answer = sqrt_str(Fraction(bd * bd * dc * dc) / bc_sq)
    tool = tool_canvas_code(W, H) + dg.shade([pb, pd, pc], alpha=0.25) + rt._mark_code(pd, pc, pb)
    tool += dg.segment(pd, e, color=dg.TOOL_COLOR, lw=3.5, z=4)
    solution = (
        SolutionStep(
            "think",
            f"From right triangle {a}{b}{d}: {b}{d} = √({ab}² − {ad}²) = {bd} {s.u}. From right triangle "
            f"{b}{d}{c}: {b}{c} = √({bd}² + {dc}²) = {parent.answer} {s.u}.",
        ),
        SolutionStep("code", f"Shade right triangle {b}{d}{c}, its hypotenuse {b}{c} and the altitude {d}{en}.", tool),
        SolutionStep(
            "think",
            f"The area of {b}{d}{c} two ways: 1/2 x {b}{d} x {d}{c} = 1/2 x {b}{c} x {d}{en}, so {d}{en} = "
            f"{bd} x {dc} / {parent.answer} = {answer} {s.u}.",
        ),
    )
    return replace(
        parent,
        concepts=(
            "plane_geometry.pythagorean_theorem",
            "plane_geometry.altitude_of_triangle",
            "plane_geometry.triangle_area",
        ),
        difficulty=5,
        question=(
            f"In the figure, {a}, {d} and {c} lie on a straight line, {b}{d} ⊥ {a}{c} and {d}{en} ⊥ {b}{c}, with "
            f"{a}{b} = {ab} {s.u}, {a}{d} = {ad} {s.u} and {d}{c} = {dc} {s.u}. Find the length of {d}{en} in "
            f"{s.u}. Give the exact value in simplest radical form."
        ),
        answer=answer,
        answer_kind="number" if answer.isdigit() else "expression",
        render_code=parent.render_code + extra,
        answer_code=(
            "from sympy import Line, Point, solve, symbols\n"
            "x = symbols('x', positive=True)\n"
            f"bd = solve(x**2 + {ad}**2 - {ab}**2, x)[0]\n"
            f"print(Line(Point({ad}, bd), Point({ad + dc}, 0)).distance(Point({ad}, 0)))\n"
        ),
        check_code=(
            "import numpy as np\n"
            f"angle_a = np.arccos({ad} / {ab})\n"
            f"B, C = {ab} * np.array([np.cos(angle_a), np.sin(angle_a)]), np.array([{ad + dc}.0, 0.0])\n"
            f"D = np.array([{ad}.0, 0.0])\n"
            "u, w = C - B, D - B\n"
            "print(float(abs(u[0] * w[1] - u[1] * w[0]) / np.linalg.norm(u)))\n"
        ),
        solution=solution,
        elements=(*parent.elements, NamedElement(en, "point", e[0], e[1])),
        tools=("tool.region_shading", "tool.perpendicular", "tool.highlight"),
    )
