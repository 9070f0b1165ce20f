"""Extensions of circle_chord_tangent (issue 5): another measure of the same circle figure, or one built on it.

The parent's figure comes back from `circle_chord_tangent_scene.scene(random.Random(parent_seed), level)`.
Parallel: triangle OAB's area (chord), the circle's area (radius), P's distance to the circle (tangent), angle
TOP (distance), the tangent length PA (contact). Sequential adds a construction that needs the parent's answer:
the diameter AC with BC by Thales (chord), radii OA, OB and the arc AB (radius), the second tangent PS and
kite OTPS (tangent), Q where OP crosses the circle (distance), M and triangle PAB (contact).
"""

from __future__ import annotations

import math
import random
from dataclasses import replace
from fractions import Fraction

from flywheel.records import NamedElement, SolutionStep
from generators.procedural import draw_geometry as dg
from generators.procedural.base import Draft, tool_canvas_code
from generators.procedural.exact_geometry import clear_of_tie, pi_str, rounded, sqrt_str
from generators.procedural.families import circle_chord_tangent as cc
from generators.procedural.families.circle_chord_tangent_scene import H, Scene, W, scene

FMT = "Give the exact value (in simplest radical form if needed)."


def _parent(parent_seed: int, parent_level: int) -> tuple[Scene, Draft]:
    return scene(random.Random(parent_seed), parent_level), cc.make(random.Random(parent_seed), parent_level)


def _kind(answer: str) -> str:
    return "number" if answer.isdigit() else "expression"


def _rounded(v: float) -> tuple[str, int]:
    places = next(p for p in (1, 2, 3) if clear_of_tie(v, p))
    return rounded(v, places), places


def _dp(places: int) -> str:
    return f"rounded to {places} decimal place{'s' if places > 1 else ''}"


CHORD_SYMPY = (
    "from sympy import Circle, Line, Point, Triangle, simplify, sqrt\n"
    "O = Point(0, 0)\n"
    "A, B = Circle(O, {r}).intersection(Line(Point(-1, {d}), Point(1, {d})))\n"
)
TANGENT_SYMPY = (
    "from sympy import Circle, Point, Polygon, Segment, Triangle, simplify, sqrt\n"
    "O, P = Point(0, 0), Point({op}, 0)\n"
    "circle = Circle(O, {r})\n"
    "T, S = (circle.intersection(line)[0] for line in circle.tangent_lines(P))\n"
)


def parallel(rng: random.Random, parent_seed: int, parent_level: int) -> Draft:
    s, parent = _parent(parent_seed, parent_level)
    build = {"chord": _chord_area, "radius": _circle_area, "tangent": _gap, "distance": _angle_top, "contact": _pa}
    return build[s.kind](s, parent)


def _chord_area(s: Scene, parent: Draft) -> Draft:
    r, d = int(s.r), s.nums["d"]
    answer = sqrt_str(Fraction(d * d * (r * r - d * d)))
    po, pa, pb, pm = (s.pts[k] for k in "OABM")
    return replace(
        parent,
        concepts=("plane_geometry.chord_length", "plane_geometry.triangle_area", "plane_geometry.pythagorean_theorem"),
        difficulty=3,
        question=(
            f"In the circle with centre O, the radius is {r} cm and the chord AB is {d} cm from O. Find the area of "
            f"triangle OAB in cm². {FMT}"
        ),
        answer=answer,
        answer_kind=_kind(answer),
        answer_code=CHORD_SYMPY.format(r=r, d=d) + "print(sqrt(simplify(Triangle(O, A, B).area**2)))\n",
        check_code=f"import numpy as np\nhalf = np.sqrt({r * r - d * d}.0)\nprint(float(half * {d}))\n",
        solution=(
            SolutionStep(
                "think", "Take AB as the base of triangle OAB: its height is the distance OM from O, which bisects AB."
            ),
            SolutionStep(
                "code", "Draw OM ⟂ AB and shade triangle OMA.", cc._perpendicular_tool(po, pa, pb, pm, f"{d} cm", True)
            ),
            SolutionStep(
                "think",
                f"AM = √({r}² − {d}²) = {sqrt_str(Fraction(r * r - d * d))}, so AB = 2·AM and the area is "
                f"1/2·AB·OM = AM·{d} = {answer} cm².",
            ),
        ),
        tools=("tool.perpendicular", "tool.angle_mark", "tool.region_shading"),
    )


def _circle_area(s: Scene, parent: Draft) -> Draft:
    c, d = s.nums["c"], s.nums["d"]
    r2 = Fraction(c * c, 4) + d * d
    answer = pi_str(r2)
    po, pa, pb, pm = (s.pts[k] for k in "OABM")
    return replace(
        parent,
        concepts=("plane_geometry.circle_area", "plane_geometry.chord_length", "plane_geometry.pythagorean_theorem"),
        difficulty=4,
        question=(
            f"Chord AB of the circle with centre O has the length marked in the figure and is {d} cm from O. Find "
            "the area of the circle in cm². Give the exact value in terms of π."
        ),
        answer=answer,
        answer_kind="expression",
        answer_code=(
            "from sympy import Point, Rational, pi\n"
            f"print(pi * Point(0, 0).distance(Point(Rational({c}, 2), {d}))**2)\n"
        ),
        check_code=f"import numpy as np\nprint(float(np.pi * np.hypot({c} / 2, {d})**2))\n",
        solution=(
            SolutionStep("think", "The area needs r², and r = OA is the hypotenuse of right triangle OMA (OM ⟂ AB)."),
            SolutionStep(
                "code", "Draw OM ⟂ AB and the radius OA.", cc._perpendicular_tool(po, pa, pb, pm, f"{d} cm", True)
            ),
            SolutionStep("think", f"r² = ({c}/2)² + {d}² = {r2}, so the area is π·r² = {answer} cm²."),
        ),
        tools=("tool.perpendicular", "tool.angle_mark", "tool.region_shading"),
    )


def _gap(s: Scene, parent: Draft) -> Draft:
    """P's distance to the circle is measured along OP: OP − r."""
    r, op = int(s.r), s.nums["op"]
    po, pp = s.pts["O"], s.pts["P"]
    u = dg.unit(pp[0] - po[0], pp[1] - po[1])
    q = dg.rnd((po[0] + r * s.frame.scale * u[0], po[1] + r * s.frame.scale * u[1]))
    tool = (
        tool_canvas_code(W, H) + dg.segment(po, q, dg.ACCENT, 2.5, "-", 4) + dg.segment(q, pp, dg.TOOL_COLOR, 4, "-", 5)
    )
    tool += dg.dot(q, dg.TOOL_COLOR, 6)
    return replace(
        parent,
        concepts=("plane_geometry.circle_parts", "plane_geometry.point_line_segment"),
        difficulty=2,
        question=(
            f"PT is tangent to the circle with centre O at T; the radius is {r} cm and OP = {op} cm. Find the shortest "
            "distance from P to the circle, in cm. Give the exact value."
        ),
        answer=str(op - r),
        answer_kind="number",
        answer_code=TANGENT_SYMPY.format(r=r, op=op) + "print(P.distance(circle.intersection(Segment(O, P))[0]))\n",
        check_code=f"import numpy as np\nprint(float(np.linalg.norm([{op}.0, 0.0]) - {r}))\n",
        solution=(
            SolutionStep(
                "think",
                "The nearest point of the circle to P lies on the line from the centre through P, so the distance "
                "is OP minus the radius.",
            ),
            SolutionStep("code", "Draw OP and highlight the part of it outside the circle.", tool),
            SolutionStep("think", f"Distance = {op} − {r} = {op - r} cm."),
        ),
        tools=("tool.connect_points", "tool.highlight", "tool.point_label"),
    )


def _angle_top(s: Scene, parent: Draft) -> Draft:
    r, t = int(s.r), s.nums["t"]
    answer, places = _rounded(math.degrees(math.atan2(t, r)))
    po, pp, pt = (s.pts[k] for k in "OPT")
    tool = cc._radius_tool(po, pt, pp) + dg.arc(po, pt, pp, 28, dg.TOOL_COLOR, 2.5)
    return replace(
        parent,
        concepts=("plane_geometry.tangent_line", "trigonometry.sine_cosine_tangent", "trigonometry.inverse_trig"),
        difficulty=3,
        question=(
            f"PT is tangent to the circle with centre O at T, with PT = {t} cm and radius {r} cm as marked. Find the "
            f"angle TOP in degrees, {_dp(places)}."
        ),
        answer=answer,
        answer_kind="number",
        answer_code=(
            "from sympy import Rational, atan, deg\n"
            f"print(format(float(deg(atan(Rational({t}, {r}))).evalf(30)), '.{places}f'))\n"
        ),
        check_code=(
            f"import numpy as np\nprint(format(float(np.degrees(np.arccos({r} / np.hypot({r}, {t})))), '.{places}f'))\n"
        ),
        solution=(
            SolutionStep(
                "think", "The radius OT is perpendicular to the tangent, so triangle OTP has its right angle at T."
            ),
            SolutionStep("code", "Draw OT, mark the right angle and the angle at O.", tool),
            SolutionStep("think", f"tan(angle TOP) = PT / OT = {t}/{r}, so angle TOP ≈ {answer}°."),
        ),
        tools=("tool.auxiliary_line", "tool.angle_mark", "tool.region_shading"),
    )


def _pa(s: Scene, parent: Draft) -> Draft:
    r, op = int(s.r), s.nums["op"]
    answer = sqrt_str(Fraction(op * op - r * r))
    po, pp, pa = (s.pts[k] for k in "OPA")
    return replace(
        parent,
        concepts=("plane_geometry.tangent_segments", "plane_geometry.pythagorean_theorem"),
        difficulty=3,
        question=(
            f"PA and PB are tangents from P to the circle with centre O (radius {r} cm) and OP = {op} cm. Find the "
            f"length of the tangent segment PA in cm. {FMT}"
        ),
        answer=answer,
        answer_kind=_kind(answer),
        answer_code=TANGENT_SYMPY.format(r=r, op=op) + "print(sqrt(simplify(P.distance(T)**2)))\n",
        check_code=f"import numpy as np\nprint(float(np.sqrt({op}.0**2 - {r}.0**2)))\n",
        solution=(
            SolutionStep(
                "think", "The radius OA is perpendicular to the tangent PA: triangle OAP is right-angled at A."
            ),
            SolutionStep("code", "Draw OA, mark its right angle and shade triangle OAP.", cc._radius_tool(po, pa, pp)),
            SolutionStep("think", f"PA² = OP² − OA² = {op}² − {r}² = {op * op - r * r}, so PA = {answer} cm."),
        ),
        tools=("tool.auxiliary_line", "tool.angle_mark", "tool.region_shading"),
    )


def sequential(rng: random.Random, parent_seed: int, parent_level: int) -> Draft:
    s, parent = _parent(parent_seed, parent_level)
    build = {"chord": _thales, "radius": _arc, "tangent": _kite, "distance": _outside, "contact": _pab}
    return build[s.kind](s, parent, min(5, parent_level + 1))


def _label(p: dg.Pt, centre: dg.Pt, name: str, color: str = dg.ACCENT) -> str:
    return dg.dot(p, color=color, size=6) + dg.text(dg.away(p, centre, 18), name, color=color, box=True)


def _thales(s: Scene, parent: Draft, level: int) -> Draft:
    """C opposite A on the circle: ABC is right-angled at B (Thales), so BC = √(AC² − AB²)."""
    r, d = int(s.r), s.nums["d"]
    po, pa, pb = (s.pts[k] for k in "OAB")
    pc = dg.rnd((2 * po[0] - pa[0], 2 * po[1] - pa[1]))
    render = parent.render_code + dg.segment(pa, pc, color=dg.ACCENT, lw=2) + dg.segment(pb, pc, color=dg.ACCENT, lw=2)
    render += _label(pc, po, "C")
    tool = tool_canvas_code(W, H) + dg.shade([pa, pb, pc], alpha=0.3) + dg.right_angle(pb, pa, pc, 14, dg.TOOL_COLOR, 2)
    return replace(
        parent,
        concepts=("plane_geometry.thales_theorem", "plane_geometry.chord_length", "plane_geometry.pythagorean_theorem"),
        difficulty=level,
        question=(
            f"In the circle with centre O, the radius is {r} cm and the chord AB is {d} cm from O. AC is a diameter "
            "and B is joined to C. Find the length of BC in cm. Give the exact value."
        ),
        answer=str(2 * d),
        answer_kind="number",
        render_code=render,
        answer_code=CHORD_SYMPY.format(r=r, d=d) + "C = Point(-A.x, -A.y)\nprint(sqrt(simplify(B.distance(C)**2)))\n",
        check_code=(
            "import numpy as np\n"
            f"half = np.sqrt({r * r - d * d}.0)\nA, B = np.array([-half, {d}.0]), np.array([half, {d}.0])\n"
            "print(float(np.linalg.norm(B + A)))  # C = -A\n"
        ),
        solution=(
            SolutionStep(
                "think",
                f"First AB: OM ⟂ AB bisects it and AM = √({r}² − {d}²), so AB = {parent.answer} cm.",
            ),
            SolutionStep("code", "Shade triangle ABC and mark the angle at B.", tool),
            SolutionStep(
                "think",
                f"AC is a diameter, so angle ABC = 90° (Thales). BC² = AC² − AB² = {2 * r}² − ({parent.answer})² = "
                f"{4 * r * r} − {4 * (r * r - d * d)} = {4 * d * d}, so BC = {2 * d} cm.",
            ),
        ),
        elements=(*parent.elements, NamedElement("C", "point", pc[0], pc[1])),
        tools=("tool.region_shading", "tool.angle_mark", "tool.connect_points"),
    )


def _arc(s: Scene, parent: Draft, level: int) -> Draft:
    """Radii OA and OB drawn: the minor arc AB is r times the angle AOB, which needs r first."""
    c, d = s.nums["c"], s.nums["d"]
    r = math.hypot(c / 2, d)
    answer, places = _rounded(r * 2 * math.atan2(c / 2, d))
    po, pa, pb = (s.pts[k] for k in "OAB")
    render = parent.render_code + dg.segment(po, pa, color=dg.ACCENT, lw=2) + dg.segment(po, pb, color=dg.ACCENT, lw=2)
    render += dg.arc(po, pa, pb, 24, color=dg.ACCENT, lw=2)
    tool = tool_canvas_code(W, H)
    t1, t2 = math.atan2(pa[1] - po[1], pa[0] - po[0]), math.atan2(pb[1] - po[1], pb[0] - po[0])
    delta = (t2 - t1 + math.pi) % (2 * math.pi) - math.pi
    radius_px = math.dist(po, pa)
    tool += (
        f"t = np.linspace({t1:.6f}, {t1 + delta:.6f}, 60)\n"
        f"ax.plot({po[0]:.2f} + {radius_px:.2f}*np.cos(t), {po[1]:.2f} + {radius_px:.2f}*np.sin(t), "
        f"color='{dg.TOOL_COLOR}', lw=5, zorder=5)\n"
    )
    return replace(
        parent,
        concepts=("plane_geometry.arc_length", "trigonometry.arc_length_radians", "plane_geometry.chord_length"),
        difficulty=level,
        question=(
            f"Chord AB of the circle with centre O has the length marked and is {d} cm from O; the radii OA and OB "
            f"are drawn. Find the length of the minor arc AB in cm, {_dp(places)}."
        ),
        answer=answer,
        answer_kind="number",
        render_code=render,
        answer_code=(
            "from sympy import Rational, asin, sqrt\n"
            f"r = sqrt(Rational({c * c}, 4) + {d * d})\n"
            f"print(format(float((r * 2 * asin(Rational({c}, 2) / r)).evalf(30)), '.{places}f'))\n"
        ),
        check_code=(
            "import numpy as np\n"
            f"A, B = np.array([-{c} / 2, {d}.0]), np.array([{c} / 2, {d}.0])\n"
            "r = np.linalg.norm(A)\n"
            "angle = np.arccos(A @ B / r**2)\n"
            f"print(format(float(r * angle), '.{places}f'))\n"
        ),
        solution=(
            SolutionStep("think", f"First the radius: r² = ({c}/2)² + {d}², so r = {parent.answer} cm."),
            SolutionStep("code", "Highlight the minor arc AB.", tool),
            SolutionStep(
                "think",
                f"In isosceles triangle OAB, half the angle AOB has tan = ({c}/2)/{d}, so angle AOB ≈ "
                f"{math.degrees(2 * math.atan2(c / 2, d)):.3f}° ≈ {2 * math.atan2(c / 2, d):.4f} rad. "
                f"Arc AB = r × angle ≈ {parent.answer} × {2 * math.atan2(c / 2, d):.4f} ≈ {answer} cm.",
            ),
        ),
        tools=("tool.highlight", "tool.angle_mark", "tool.measure_angle"),
    )


def _reflect(p: dg.Pt, a: dg.Pt, b: dg.Pt) -> dg.Pt:
    f = dg.foot(p, a, b)
    return dg.rnd((2 * f[0] - p[0], 2 * f[1] - p[1]))


def _kite(s: Scene, parent: Draft, level: int) -> Draft:
    """The second tangent PS: kite OTPS is two right triangles OTP, each r·PT/2."""
    r, op = int(s.r), s.nums["op"]
    po, pp, pt = (s.pts[k] for k in "OPT")
    ps = _reflect(pt, po, pp)
    answer = sqrt_str(Fraction(r * r * (op * op - r * r)))
    render = parent.render_code + dg.segment(pp, ps, color=dg.ACCENT, lw=2) + _label(ps, po, "S")
    render += dg.segment(po, ps, color=dg.ACCENT, lw=1.6, ls="--") + dg.segment(
        po, pt, color=dg.ACCENT, lw=1.6, ls="--"
    )
    tool = cc._radius_tool(po, pt, pp) + dg.shade([po, ps, pp], color=dg.ACCENT, alpha=0.3)
    tool += dg.right_angle(ps, po, pp, size=14, color=dg.TOOL_COLOR, lw=2)
    return replace(
        parent,
        concepts=("plane_geometry.tangent_segments", "plane_geometry.tangent_line", "plane_geometry.rhombus_kite_area"),
        difficulty=level,
        question=(
            f"PT and PS are tangents from P to the circle with centre O, radius {r} cm, and OP = {op} cm. Find the "
            f"area of quadrilateral OTPS in cm². {FMT}"
        ),
        answer=answer,
        answer_kind=_kind(answer),
        render_code=render,
        answer_code=TANGENT_SYMPY.format(r=r, op=op) + "print(sqrt(simplify(Polygon(O, T, P, S).area**2)))\n",
        check_code=f"import numpy as np\nprint(float(2 * 0.5 * {r} * np.sqrt({op * op - r * r}.0)))\n",
        solution=(
            SolutionStep("think", f"First PT: OT ⟂ PT, so PT = √({op}² − {r}²) = {parent.answer} cm."),
            SolutionStep("code", "Mark both right angles and shade the two right triangles OTP and OSP.", tool),
            SolutionStep(
                "think",
                f"OTPS is two congruent right triangles, each 1/2 × {r} × {parent.answer}, so its area is "
                f"{r} × {parent.answer} = {answer} cm².",
            ),
        ),
        elements=(*parent.elements, NamedElement("S", "point", ps[0], ps[1])),
        tools=("tool.angle_mark", "tool.region_shading", "tool.tangent_line"),
    )


def _outside(s: Scene, parent: Draft, level: int) -> Draft:
    """Q where OP crosses the circle: PQ = OP − r, with OP the parent's answer."""
    r, t = int(s.r), s.nums["t"]
    po, pp, pt = (s.pts[k] for k in "OPT")
    u = dg.unit(pp[0] - po[0], pp[1] - po[1])
    q = dg.rnd((po[0] + r * s.frame.scale * u[0], po[1] + r * s.frame.scale * u[1]))
    op = sqrt_str(Fraction(r * r + t * t))
    answer = str(int(op) - r) if op.isdigit() else f"{op} - {r}"
    label = dg.rnd((q[0] + 16 * -u[1], q[1] + 16 * u[0]))  # beside Q, off the dashed line OP
    render = parent.render_code + dg.dot(q, color=dg.ACCENT, size=6) + dg.text(label, "Q", color=dg.ACCENT, box=True)
    tool = cc._radius_tool(po, pt, pp) + dg.segment(q, pp, dg.TOOL_COLOR, 4, "-", 5)
    return replace(
        parent,
        concepts=("plane_geometry.tangent_line", "plane_geometry.pythagorean_theorem", "plane_geometry.circle_parts"),
        difficulty=level,
        question=(
            f"PT is tangent to the circle with centre O at T, with PT = {t} cm and radius {r} cm as marked. Segment "
            f"OP crosses the circle at Q. Find the length PQ in cm. {FMT}"
        ),
        answer=answer,
        answer_kind=_kind(answer),
        render_code=render,
        answer_code=(
            "from sympy import Circle, Point, Segment\n"
            f"O, T = Point(0, 0), Point({r}, 0)\n"
            f"P = T + Point(0, {t})  # the tangent at T is vertical\n"
            f"print(P.distance(Circle(O, {r}).intersection(Segment(O, P))[0]))\n"
        ),
        check_code=f"import numpy as np\nprint(float(np.hypot({r}, {t}) - {r}))\n",
        solution=(
            SolutionStep("think", f"First OP: OT ⟂ PT, so OP = √({r}² + {t}²) = {parent.answer} cm."),
            SolutionStep("code", "Mark the right angle at T and highlight PQ.", tool),
            SolutionStep("think", f"OQ is a radius, so PQ = OP − OQ = {parent.answer} − {r} = {answer} cm."),
        ),
        elements=(*parent.elements, NamedElement("Q", "point", q[0], q[1])),
        tools=("tool.angle_mark", "tool.highlight", "tool.region_shading"),
    )


def _pab(s: Scene, parent: Draft, level: int) -> Draft:
    """M labelled where AB meets OP: triangle PAB has base AB (the parent's) and height PM = OP − OM."""
    r, op = int(s.r), s.nums["op"]
    po, pp, pa, pb, pm = (s.pts[k] for k in "OPABM")
    answer = sqrt_str(Fraction(r * r * (op * op - r * r) ** 3, op**4))
    pm_len = Fraction(op * op - r * r, op)
    render = parent.render_code + dg.dot(pm, color=dg.ACCENT, size=6)
    render += dg.text(s.extra["m_label"], "M", color=dg.ACCENT, box=True)
    tool = tool_canvas_code(W, H) + dg.shade([pp, pa, pb], alpha=0.35) + dg.segment(pm, pp, dg.TOOL_COLOR, 3.5, "-", 5)
    return replace(
        parent,
        concepts=(
            "plane_geometry.tangent_segments",
            "plane_geometry.triangle_area",
            "plane_geometry.altitude_of_triangle",
        ),
        difficulty=level,
        question=(
            f"PA and PB are tangents from P to the circle with centre O (radius {r} cm), OP = {op} cm, and the chord "
            f"AB meets OP at M. Find the area of triangle PAB in cm². Give the exact value in simplest form "
            "(fractions and square roots allowed)."
        ),
        answer=answer,
        answer_kind=_kind(answer),
        render_code=render,
        answer_code=TANGENT_SYMPY.format(r=r, op=op) + "print(sqrt(simplify(Triangle(P, T, S).area**2)))\n",
        check_code=(
            "import numpy as np\n"
            f"r, op = {r}.0, {op}.0\n"
            "ab = 2 * r * np.sqrt(op**2 - r**2) / op\n"
            "print(float(0.5 * ab * (op - r**2 / op)))\n"
        ),
        solution=(
            SolutionStep(
                "think",
                f"First AB: in right triangle OAP, PA = √({op}² − {r}²) and AM = OA·PA/OP, so AB = 2·AM = "
                f"{parent.answer} cm.",
            ),
            SolutionStep("code", "Shade triangle PAB and highlight its height PM.", tool),
            SolutionStep(
                "think",
                f"OM = OA²/OP = {Fraction(r * r, op)}, so PM = {op} − {Fraction(r * r, op)} = {pm_len}. "
                f"Area = 1/2 × AB × PM = 1/2 × {parent.answer} × {pm_len} = {answer} cm².",
            ),
        ),
        elements=(*parent.elements, NamedElement("M", "point", pm[0], pm[1])),
        tools=("tool.region_shading", "tool.highlight", "tool.point_label"),
    )
