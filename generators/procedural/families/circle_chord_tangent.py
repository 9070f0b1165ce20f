"""Circles: a chord from the radius and its distance to the centre, a tangent from an external point, the
radius back from a chord, and (hardest) the chord joining the touching points of two tangents.

The stated answer is the Pythagoras formula in exact integer arithmetic; answer_code intersects sympy
`Circle`/`Line` objects (tangent lines included) and measures; check_code repeats it numerically with numpy
(polynomial roots, angles). The tool draws the perpendicular from the centre or the radius to the tangent
point, with its right angle.
"""

from __future__ import annotations

import random
from fractions import Fraction

from flywheel.records import NamedElement, SolutionStep
from generators.procedural import draw_geometry as dg
from generators.procedural.base import Draft, tool_canvas_code
from generators.procedural.exact_geometry import sqrt_parts, sqrt_str
from generators.procedural.families.circle_chord_tangent_scene import H, Scene, W, scene

FAMILY = "circle_chord_tangent"
FMT = {
    "exact": "Give the exact value.",
    "radical": "Give the exact value in simplest radical form.",
    "either": "Give the exact value (in simplest radical form if it is not a whole number).",
    "fraction": "Give the exact value in simplest form (fractions and square roots allowed).",
}
CHORD_Q = (
    "In the circle with centre O, the radius is {r} cm and the chord AB is {d} cm from O. Find the length "
    "of AB in cm. {fmt}",
    "Chord AB of the circle centred at O lies at a distance of {d} cm from the centre, and OA = {r} cm as "
    "marked. How long is the chord AB, in cm? {fmt}",
    "The figure shows a circle with centre O and radius {r} cm. The perpendicular distance from O to the "
    "chord AB is {d} cm. Work out AB in cm. {fmt}",
)
RADIUS_Q = (
    "Chord AB of the circle with centre O has the length marked in the figure and is {d} cm from O. Find "
    "the radius of the circle in cm. {fmt}",
    "In the circle centred at O, AB = {c} cm and the distance from O to AB is {d} cm. What is the radius of "
    "the circle, in cm? {fmt}",
)
TANGENT_Q = (
    "PT is tangent to the circle with centre O at T. The radius is {r} cm and OP = {op} cm. Find the length "
    "of the tangent segment PT in cm. {fmt}",
    "From the external point P a tangent touches the circle (centre O, radius {r} cm) at T. Using the "
    "lengths in the figure, find PT in cm. {fmt}",
    "Line PT touches the circle centred at O at the point T. Given OP = {op} cm and a radius of {r} cm, how "
    "long is PT, in cm? {fmt}",
)
DISTANCE_Q = (
    "PT is tangent to the circle with centre O at T, with PT = {t} cm and radius {r} cm as marked. Find the "
    "distance OP in cm. {fmt}",
    "A tangent from P touches the circle centred at O at T. The radius is {r} cm and PT = {t} cm. How far "
    "is P from the centre O, in cm? {fmt}",
)
CONTACT_Q = (
    "PA and PB are tangents from P to the circle with centre O (radius {r} cm), touching it at A and B, and "
    "OP = {op} cm. Find the length of the chord AB in cm. {fmt}",
    "Two tangents are drawn from P to a circle with centre O and radius {r} cm; they touch the circle at A "
    "and B. If OP = {op} cm, how long is AB, in cm? {fmt}",
)


def make(rng: random.Random, difficulty: int) -> Draft:
    """1: chord (triple); 2: tangent (triple); 3: chord or tangent (radical); 4: radius from a chord or OP
    from a tangent; 5: chord of contact of two tangents. The figure comes from circle_chord_tangent_scene."""
    s = scene(rng, difficulty)
    build = {"chord": _chord, "tangent": _tangent, "radius": _radius, "distance": _distance, "contact": _contact}
    return build[s.kind](rng, difficulty, s)


def _kind(value_sq: Fraction) -> str:
    c, m = sqrt_parts(value_sq)
    return "number" if m == 1 and c.denominator == 1 else "expression"


def _perpendicular_tool(po, pa, pb, pm, d_label: str, draw_radius: bool) -> str:
    """Tool code: OM perpendicular to AB (M its midpoint), right angle at M, triangle OMA shaded."""
    code = tool_canvas_code(W, H) + dg.shade([po, pm, pa]) + dg.segment(po, pm, dg.TOOL_COLOR, 2.5, "--", 4)
    code += dg.right_angle(pm, po, pa, size=13, color=dg.TOOL_COLOR)
    along, inward = dg.unit(pm[0] - pa[0], pm[1] - pa[1]), dg.unit(po[0] - pm[0], po[1] - pm[1])
    m_pos = (pm[0] + 14 * along[0] + 14 * inward[0], pm[1] + 14 * along[1] + 14 * inward[1])
    code += dg.dot(pm, dg.TOOL_COLOR, 5) + dg.text(m_pos, "M", color=dg.TOOL_COLOR)
    code += dg.text(dg.side_label_pos(po, pm, pb, 10, d_label), d_label, 13, dg.TOOL_COLOR, box=True)
    if draw_radius:
        code += dg.segment(po, pa, dg.TOOL_COLOR, 2.5, "-", 4)
    return code


def _chord(rng: random.Random, difficulty: int, s: Scene) -> Draft:
    r, d, fmt, code = int(s.r), s.nums["d"], s.fmt, s.render
    po, pa, pb, pm = (s.pts[k] for k in "OABM")
    value_sq = Fraction(4 * (r * r - d * d))
    answer = sqrt_str(value_sq)
    question = rng.choice(CHORD_Q).format(r=r, d=d, fmt=FMT[fmt])
    answer_code = (
        "from sympy import Circle, Line, Point, simplify, sqrt\n"
        f"A, B = Circle(Point(0, 0), {r}).intersection(Line(Point(-1, {d}), Point(1, {d})))\n"
        "print(sqrt(simplify(A.distance(B)**2)))\n"
    )
    check_code = (
        "import numpy as np\n"
        f"xs = np.roots([1.0, 0.0, {d * d - r * r}.0])  # x^2 + d^2 = r^2 on the line y = d\n"
        "print(float(abs(xs[0] - xs[1])))\n"
    )
    half_sq = r * r - d * d
    solution = (
        SolutionStep(
            "think",
            "The perpendicular from the centre to a chord bisects it, so drop it and work in "
            "the right triangle it makes with the radius OA.",
        ),
        SolutionStep(
            "code",
            "Draw OM perpendicular to AB and shade triangle OMA.",
            _perpendicular_tool(po, pa, pb, pm, f"{d} cm", False),
        ),
        SolutionStep(
            "think",
            f"In right triangle OMA: AM² = OA² − OM² = {r}² − {d}² = {half_sq}, so AM = "
            f"{sqrt_str(Fraction(half_sq))} cm.",
        ),
        SolutionStep("think", f"AB = 2 × AM = {answer} cm."),
    )
    return _draft(
        difficulty,
        ("plane_geometry.chord_length", "plane_geometry.pythagorean_theorem", "plane_geometry.perpendicular_bisector"),
        question,
        answer,
        _kind(value_sq),
        code,
        answer_code,
        check_code,
        solution,
        (("O", po, "center"), ("A", pa, "point"), ("B", pb, "point")),
        ("tool.perpendicular", "tool.angle_mark", "tool.region_shading"),
    )


def _draft(
    difficulty, concepts, question, answer, kind, render, answer_code, check_code, solution, points, tools
) -> Draft:
    return Draft(
        family=FAMILY,
        concepts=concepts,
        domain="plane_geometry",
        difficulty=difficulty,
        question=question,
        answer=answer,
        answer_kind=kind,
        render_code=render,
        answer_code=answer_code,
        check_code=check_code,
        solution=solution,
        elements=tuple(NamedElement(name, kind_, p[0], p[1]) for name, p, kind_ in points),
        tools=tools,
        width=W,
        height=H,
    )


def _radius(rng: random.Random, difficulty: int, s: Scene) -> Draft:
    """The chord and its distance are given; the radius is the hypotenuse of half-chord and distance."""
    c, d, code = s.nums["c"], s.nums["d"], s.render
    value_sq = Fraction(c * c, 4) + d * d
    po, pa, pb, pm = (s.pts[k] for k in "OABM")
    answer = sqrt_str(value_sq)
    question = rng.choice(RADIUS_Q).format(c=c, d=d, fmt=FMT["either"])
    answer_code = (
        "from sympy import Point, Rational, simplify, sqrt\n"
        f"A = Point(Rational({c}, 2), {d})  # O at the origin, AB on the line y = {d}, M on the y-axis\n"
        "print(sqrt(simplify(Point(0, 0).distance(A)**2)))\n"
    )
    check_code = f"import numpy as np\nprint(float(np.hypot({c} / 2, {d})))\n"
    half = Fraction(c, 2)
    solution = (
        SolutionStep(
            "think",
            "The radius to A is the hypotenuse of a right triangle whose legs are the "
            "distance from O to the chord and half the chord, because OM ⟂ AB bisects AB.",
        ),
        SolutionStep(
            "code",
            "Draw OM perpendicular to AB and the radius OA, shading triangle OMA.",
            _perpendicular_tool(po, pa, pb, pm, f"{d} cm", True),
        ),
        SolutionStep("think", f"AM = {c}/2 = {half} cm and OM = {d} cm, so OA² = ({half})² + {d}² = {value_sq}."),
        SolutionStep("think", f"The radius is OA = √{value_sq} = {answer} cm."),
    )
    return _draft(
        4,
        ("plane_geometry.chord_length", "plane_geometry.pythagorean_theorem", "plane_geometry.perpendicular_bisector"),
        question,
        answer,
        _kind(value_sq),
        code,
        answer_code,
        check_code,
        solution,
        (("O", po, "center"), ("A", pa, "point"), ("B", pb, "point")),
        ("tool.perpendicular", "tool.angle_mark", "tool.region_shading"),
    )


def _radius_tool(po, pt, pp) -> str:
    """Tool code: the radius OT to the tangent point, its right angle, and triangle OTP shaded."""
    return (
        tool_canvas_code(W, H)
        + dg.shade([po, pt, pp])
        + dg.segment(po, pt, dg.TOOL_COLOR, 2.5, "-", 4)
        + dg.right_angle(pt, po, pp, size=14, color=dg.TOOL_COLOR, lw=2)
    )


def _tangent(rng: random.Random, difficulty: int, s: Scene) -> Draft:
    r, op, fmt, code = int(s.r), s.nums["op"], s.fmt, s.render
    po, pp, pt = (s.pts[k] for k in "OPT")
    value_sq = Fraction(op * op - r * r)
    answer = sqrt_str(value_sq)
    question = rng.choice(TANGENT_Q).format(r=r, op=op, fmt=FMT[fmt])
    answer_code = (
        "from sympy import Circle, Point, simplify, sqrt\n"
        f"circle, P = Circle(Point(0, 0), {r}), Point({op}, 0)\n"
        "T = circle.intersection(circle.tangent_lines(P)[0])[0]\n"
        "print(sqrt(simplify(P.distance(T)**2)))\n"
    )
    check_code = (
        "import numpy as np\n"
        f"r, op = {r}.0, {op}.0\n"
        "alpha = np.arccos(r / op)  # angle TOP in the right triangle OTP\n"
        "T = r * np.array([np.cos(alpha), np.sin(alpha)])\n"
        "print(float(np.linalg.norm(T - np.array([op, 0.0]))))\n"
    )
    solution = (
        SolutionStep(
            "think",
            "A tangent is perpendicular to the radius drawn to the point of contact, so "
            "joining O to T makes a right triangle OTP with hypotenuse OP.",
        ),
        SolutionStep(
            "code", "Draw the radius OT, mark the right angle at T and shade triangle OTP.", _radius_tool(po, pt, pp)
        ),
        SolutionStep("think", f"PT² = OP² − OT² = {op}² − {r}² = {value_sq}."),
        SolutionStep("think", f"PT = √{value_sq} = {answer} cm."),
    )
    return _draft(
        difficulty,
        ("plane_geometry.tangent_line", "plane_geometry.pythagorean_theorem"),
        question,
        answer,
        _kind(value_sq),
        code,
        answer_code,
        check_code,
        solution,
        (("O", po, "center"), ("P", pp, "point"), ("T", pt, "point")),
        ("tool.auxiliary_line", "tool.angle_mark", "tool.region_shading"),
    )


def _distance(rng: random.Random, difficulty: int, s: Scene) -> Draft:
    """PT and the radius are given; OP is the hypotenuse of the right triangle OTP."""
    r, t, code = int(s.r), s.nums["t"], s.render
    value_sq = Fraction(r * r + t * t)
    po, pp, pt = (s.pts[k] for k in "OPT")
    answer = sqrt_str(value_sq)
    question = rng.choice(DISTANCE_Q).format(r=r, t=t, fmt=FMT["either"])
    answer_code = (
        "from sympy import Circle, Point, simplify, sqrt\n"
        f"T = Point({r}, 0)\n"
        f"tangent = Circle(Point(0, 0), {r}).tangent_lines(T)[0]  # the tangent at T itself\n"
        f"P = T + tangent.direction.unit * {t}\n"
        "print(sqrt(simplify(Point(0, 0).distance(P)**2)))\n"
    )
    check_code = f"import numpy as np\nprint(float(np.linalg.norm([{r}.0, {t}.0])))\n"
    solution = (
        SolutionStep(
            "think", "The radius OT is perpendicular to the tangent PT, so OP is the hypotenuse of right triangle OTP."
        ),
        SolutionStep(
            "code", "Draw the radius OT, mark the right angle at T and shade triangle OTP.", _radius_tool(po, pt, pp)
        ),
        SolutionStep("think", f"OP² = OT² + PT² = {r}² + {t}² = {value_sq}, so OP = {answer} cm."),
    )
    return _draft(
        4,
        ("plane_geometry.tangent_line", "plane_geometry.pythagorean_theorem"),
        question,
        answer,
        _kind(value_sq),
        code,
        answer_code,
        check_code,
        solution,
        (("O", po, "center"), ("P", pp, "point"), ("T", pt, "point")),
        ("tool.auxiliary_line", "tool.angle_mark", "tool.region_shading"),
    )


def _contact(rng: random.Random, difficulty: int, s: Scene) -> Draft:
    """Two tangents from P touch at A and B; AB = 2 * AM, AM the altitude of right triangle OAP."""
    r, op, code, m_pos = int(s.r), s.nums["op"], s.render, s.extra["m_label"]
    po, pp, pa, pb, pm = (s.pts[k] for k in "OPABM")
    value_sq = Fraction(4 * r * r * (op * op - r * r), op * op)
    answer = sqrt_str(value_sq)
    question = rng.choice(CONTACT_Q).format(r=r, op=op, fmt=FMT["fraction"])
    answer_code = (
        "from sympy import Circle, Point, simplify, sqrt\n"
        f"circle, P = Circle(Point(0, 0), {r}), Point({op}, 0)\n"
        "A, B = (circle.intersection(line)[0] for line in circle.tangent_lines(P))\n"
        "print(sqrt(simplify(A.distance(B)**2)))\n"
    )
    check_code = (
        "import numpy as np\n"
        f"r, op = {r}.0, {op}.0\n"
        "alpha = np.arccos(r / op)\n"
        "A, B = (r * np.array([np.cos(s * alpha), np.sin(s * alpha)]) for s in (1, -1))\n"
        "print(float(np.linalg.norm(A - B)))\n"
    )
    tool = _radius_tool(po, pa, pp) + dg.segment(po, pb, dg.TOOL_COLOR, 2.5, "-", 4)
    tool += dg.right_angle(pb, po, pp, size=14, color=dg.TOOL_COLOR, lw=2)
    tool += dg.right_angle(pm, pp, pa, size=11, color=dg.TOOL_COLOR, lw=2)
    tool += dg.dot(pm, dg.TOOL_COLOR, 5) + dg.text(m_pos, "M", color=dg.TOOL_COLOR)
    pa_sq = Fraction(op * op - r * r)
    solution = (
        SolutionStep(
            "think",
            "Each tangent is perpendicular to the radius at its point of contact, and the "
            "figure is symmetric about OP, so OP meets AB at right angles at its midpoint M.",
        ),
        SolutionStep("code", "Draw radii OA and OB with their right angles, and mark M where AB crosses OP.", tool),
        SolutionStep(
            "think",
            f"In right triangle OAP: PA = √({op}² − {r}²) = {sqrt_str(pa_sq)} cm. AM is the "
            f"altitude to the hypotenuse OP, so AM = OA × PA / OP = {r} × {sqrt_str(pa_sq)} / {op} "
            f"= {sqrt_str(value_sq / 4)} cm.",
        ),
        SolutionStep("think", f"AB = 2 × AM = {answer} cm."),
    )
    return _draft(
        5,
        ("plane_geometry.tangent_segments", "plane_geometry.tangent_line", "plane_geometry.altitude_of_triangle"),
        question,
        answer,
        _kind(value_sq),
        code,
        answer_code,
        check_code,
        solution,
        (("O", po, "center"), ("P", pp, "point"), ("A", pa, "point"), ("B", pb, "point")),
        ("tool.auxiliary_line", "tool.angle_mark", "tool.point_label"),
    )
