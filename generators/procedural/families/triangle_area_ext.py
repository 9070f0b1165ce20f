"""Extensions of triangle_area (issue 5): another question on the same figure, or a harder one built on it.

Both rebuild the parent's figure with `triangle_area.scene(random.Random(parent_seed), parent_level)`, the same
draws `make` used. Parallel: a side length (lattice), the area cut off by a median (parallel lines), a third
side (second altitude). Sequential: the parent's area (or altitude) becomes a step towards the area of a
part cut off by a new point D, a trapezoid with a new vertex D, or the distance to the foot K of the new
altitude. The extensions live beside the family, not in it, to keep each file under 500 lines.
"""

from __future__ import annotations

import random
from dataclasses import replace
from fractions import Fraction

from flywheel.records import NamedElement, SolutionStep
from generators.procedural import draw_geometry as dg
from generators.procedural.base import Draft, tool_canvas_code
from generators.procedural.exact_geometry import decimal_str, frac_str, sqrt_str
from generators.procedural.families import triangle_area as ta
from generators.procedural.families.triangle_area import H, Scene, W

EXACT_RADICAL = "Give the exact value (an integer, a fraction or a simplified square root)."


def _parent(parent_seed: int, parent_level: int) -> tuple[Scene, Draft]:
    rebuilt = ta.scene(random.Random(parent_seed), parent_level)
    return rebuilt, ta.make(random.Random(parent_seed), parent_level)


def _elements(labels) -> tuple[NamedElement, ...]:
    return tuple(NamedElement(name, kind, p[0], p[1]) for name, kind, p in labels)


def _pt(p: tuple[Fraction, Fraction]) -> str:
    """A point for sympy code, exact: Point(Rational('7/2'), 3)."""
    return f"Point(Rational('{p[0]}'), Rational('{p[1]}'))"


def _fresh(taken, options: str = "DPQNT") -> str:
    """The first letter in `options` the figure does not already use (names sets include D, P, Q...)."""
    return next(c for c in options if c not in taken)


def _kind(value: str) -> str:
    return "number" if value.lstrip("-").replace(".", "", 1).isdigit() else "expression"


def _decimal_print(answer: str) -> str:
    """sympy code that prints the rational `area` as the stated decimal string does."""
    places = len(answer.split(".")[1]) if "." in answer else 0
    return f"print(area if area.q == 1 else format(float(area), '.{places}f'))\n"


def parallel(rng: random.Random, parent_seed: int, parent_level: int) -> Draft:
    """Same image, another quantity of the same triangle."""
    s, parent = _parent(parent_seed, parent_level)
    if s.kind == "lattice":
        return _side_length(rng, s, parent)
    if s.kind == "parallel":
        return _median_area(rng, s, parent)
    return _third_side(s, parent)


def sequential(rng: random.Random, parent_seed: int, parent_level: int) -> Draft:
    """The parent's figure plus a new point; the parent's answer is a step of the new solution."""
    s, parent = _parent(parent_seed, parent_level)
    level = min(5, parent_level + 1)
    if s.kind == "lattice":
        return _part_area(rng, s, parent, level)
    if s.kind == "parallel":
        return _trapezoid(rng, s, parent, level)
    return _foot_distance(s, parent)


# ----------------------------------------------------------------------------------------------------
# Parallel extensions
# ----------------------------------------------------------------------------------------------------


def _side_length(rng: random.Random, s: Scene, parent: Draft) -> Draft:
    """A slanted side of a lattice triangle is the hypotenuse of a grid right triangle."""
    c = s.verts[2]
    k = rng.choice([k for k in (0, 1) if s.verts[k][0] != c[0] and s.verts[k][1] != c[1]] or [0, 1])
    p, n = s.verts[k], s.names
    dx, dy = int(abs(c[0] - p[0])), int(abs(c[1] - p[1]))
    answer = sqrt_str(Fraction(dx * dx + dy * dy))
    corner = s.frame.px((float(c[0]), float(p[1])))
    pp, pc = s.pix[k], s.pix[2]
    tool = tool_canvas_code(W, H)
    for q, r, label in ((pp, corner, str(dx)), (corner, pc, str(dy))):
        if label != "0":
            tool += dg.segment(q, r, color=dg.TOOL_COLOR, lw=2.5, ls="--", z=4)
            pos = dg.side_label_pos(q, r, pc if q == pp else pp, 14, label)
            tool += dg.text(pos, label, size=13, color=dg.TOOL_COLOR, box=True)
    if dx and dy:
        tool += dg.right_angle(corner, pp, pc, size=11, color=dg.TOOL_COLOR)
    side = f"{n[k]}{n[2]}"
    grid_words = "the coordinate grid" if s.axes else "a square grid"
    question = (
        f"Triangle {''.join(n)} is drawn on {grid_words} in which each small square measures 1 unit by 1 unit. "
        f"Find the length of side {side} in units. {EXACT_RADICAL}"
    )
    solution = (
        SolutionStep(
            "think",
            f"{side} is not along a grid line, so make it the hypotenuse of a right triangle whose legs run along "
            "the grid.",
        ),
        SolutionStep("code", f"Draw the horizontal and vertical legs under {side} and count their squares.", tool),
        SolutionStep(
            "think",
            f"The legs are {dx} and {dy} units, so {side} = sqrt({dx}² + {dy}²) = sqrt({dx * dx + dy * dy}) "
            f"= {answer} units.",
        ),
    )
    return replace(
        parent,
        concepts=("plane_geometry.pythagorean_theorem", "analytic_geometry.distance_formula", "measurement.grid_area"),
        difficulty=2 if answer.isdigit() else 3,
        question=question,
        answer=answer,
        answer_kind=_kind(answer),
        answer_code=f"from sympy import Point, Rational\nprint({_pt(p)}.distance({_pt(c)}))\n",
        check_code=f"import numpy as np\nprint(float(np.hypot({float(c[0] - p[0])}, {float(c[1] - p[1])})))\n",
        solution=solution,
        tools=("tool.auxiliary_line", "tool.angle_mark", "tool.text_annotation"),
    )


def _median_area(rng: random.Random, s: Scene, parent: Draft) -> Draft:
    """The midpoint P of BC is halfway between the lines: ABP has base AB and height h/2."""
    n, (a, b, c) = s.names, s.pix
    mn = _fresh(n, "PQNT")  # not M: line m is in the figure
    m_pix = dg.rnd(((b[0] + c[0]) / 2, (b[1] + c[1]) / 2))
    area = Fraction(s.base * s.height, 4)
    answer = decimal_str(area)
    foot = (m_pix[0], a[1])
    half = f"{decimal_str(Fraction(s.height, 2))} cm"
    tool = tool_canvas_code(W, H) + dg.segment(a, m_pix, color=dg.TOOL_COLOR, lw=2.5)
    tool += dg.segment(m_pix, foot, color=dg.TOOL_COLOR, lw=2, ls="--", z=4)
    tool += dg.right_angle(foot, m_pix, a if abs(a[0] - foot[0]) > 20 else b, size=10, color=dg.TOOL_COLOR)
    tool += dg.dot(m_pix, color=dg.TOOL_COLOR, size=6) + dg.text((m_pix[0] + 16, m_pix[1] - 14), mn, box=True)
    tool += dg.text((foot[0] + 8 + 5.5 * len(half), (foot[1] + m_pix[1]) / 2), half, size=12, color=dg.TOOL_COLOR)
    tri = f"{n[0]}{n[1]}{mn}"
    question = (
        f"Lines ℓ and m are parallel and {s.height} cm apart. Points {n[0]} and {n[1]} lie on ℓ with "
        f"{n[0]}{n[1]} = {s.base} cm, {n[2]} lies on m, and {mn} is the midpoint of {n[1]}{n[2]}. Find the area of "
        f"triangle {tri} in cm². Give the exact value (a decimal if needed)."
    )
    solution = (
        SolutionStep(
            "think",
            f"Triangle {tri} has base {n[0]}{n[1]} = {s.base} cm on ℓ; its height is the distance from {mn} to ℓ. "
            f"{mn} is halfway along {n[1]}{n[2]}, and {n[1]} is on ℓ while {n[2]} is {s.height} cm from it.",
        ),
        SolutionStep("code", f"Mark {mn}, draw {n[0]}{mn} and drop the perpendicular from {mn} to ℓ.", tool),
        SolutionStep(
            "think",
            f"So {mn} is {half} from ℓ and the area is 1/2 x {s.base} x {decimal_str(Fraction(s.height, 2))} "
            f"= {answer} cm².",
        ),
    )
    answer_code, check_code = _median_codes(s, answer)
    return replace(
        parent,
        concepts=(
            "plane_geometry.triangle_area",
            "plane_geometry.midpoint",
            "plane_geometry.parallel_lines_transversal",
        ),
        difficulty=4,
        question=question,
        answer=answer,
        answer_kind="number",
        answer_code=answer_code,
        check_code=check_code,
        solution=solution,
        tools=("tool.midpoint_mark", "tool.perpendicular", "tool.text_annotation"),
    )


def _median_codes(s: Scene, answer: str) -> tuple[str, str]:
    """sympy: the polygon A, B, midpoint of BC; shapely: the same triangle from floats."""
    (pa, pb, pc) = s.verts
    answer_code = (
        "from sympy import Point, Polygon, Rational\n"
        f"B, C = {_pt(pb)}, {_pt(pc)}\n"
        f"area = abs(Polygon({_pt(pa)}, B, B.midpoint(C)).area)\n" + _decimal_print(answer)
    )
    check_code = (
        "from shapely.geometry import Polygon\n"
        f"b, c = ({float(pb[0])}, 0.0), ({float(pc[0])}, {float(pc[1])})\n"
        "m = ((b[0] + c[0]) / 2, (b[1] + c[1]) / 2)\n"
        "print(Polygon([(0.0, 0.0), b, m]).area)\n"
    )
    return answer_code, check_code


def _third_side(s: Scene, parent: Draft) -> Draft:
    """AC from two right triangles: BH from BCH, then AC from ACH."""
    n, (pa, _, pc) = s.names, s.pix
    c_len, h, bc = s.base, s.height, s.other
    foot_x = int(s.verts[2][0])
    bh = abs(c_len - foot_x)
    answer = sqrt_str(Fraction(foot_x * foot_x + h * h))
    hp = s.labels[3][2]
    tool = tool_canvas_code(W, H) + dg.shade([pa, hp, pc], alpha=0.25)
    tool += dg.segment(pa, pc, color=dg.TOOL_COLOR, lw=3)
    tool += dg.text(dg.side_label_pos(pa, hp, pc, 30, f"AH = {foot_x}"), f"{n[0]}H = {foot_x}", 12, dg.TOOL_COLOR)
    where = "between" if foot_x < c_len else "beyond"
    op = "-" if foot_x < c_len else "+"
    question = (
        f"In triangle {''.join(n)}, {n[2]}H is perpendicular to line {n[0]}{n[1]} with {n[2]}H = {h} cm, "
        f"{n[0]}{n[1]} = {c_len} cm and {n[1]}{n[2]} = {bc} cm. Find the length of side {n[0]}{n[2]}, in cm. "
        + EXACT_RADICAL
    )
    solution = (
        SolutionStep(
            "think",
            f"In right triangle {n[1]}H{n[2]}: {n[1]}H = sqrt({bc}² - {h}²) = {bh} cm. H lies {where} "
            f"{n[0]} and {n[1]}, so {n[0]}H = {c_len} {op} {bh} = {foot_x} cm.",
        ),
        SolutionStep("code", f"Shade right triangle {n[0]}H{n[2]} and mark {n[0]}H.", tool),
        SolutionStep("think", f"{n[0]}{n[2]} = sqrt({foot_x}² + {h}²) = sqrt({foot_x**2 + h * h}) = {answer} cm."),
    )
    return replace(
        parent,
        concepts=("plane_geometry.pythagorean_theorem", "plane_geometry.altitude_of_triangle"),
        difficulty=4,
        question=question,
        answer=answer,
        answer_kind=_kind(answer),
        answer_code=(
            "from sympy import sqrt\n"
            f"bh = sqrt({bc}**2 - {h}**2)\n"
            f"ah = {c_len} - bh if {foot_x} < {c_len} else {c_len} + bh\n"
            f"print(sqrt(ah**2 + {h}**2))\n"
        ),
        check_code=f"import numpy as np\nprint(float(np.linalg.norm(np.array([{foot_x}.0, {h}.0]))))\n",
        solution=solution,
        tools=("tool.region_shading", "tool.highlight", "tool.text_annotation"),
    )


# ----------------------------------------------------------------------------------------------------
# Sequential extensions
# ----------------------------------------------------------------------------------------------------


def _part_area(rng: random.Random, s: Scene, parent: Draft, level: int) -> Draft:
    """D on the base splits the triangle into two with the same height: areas in the ratio AD : DB."""
    n = s.names
    dn = _fresh(n)
    k = rng.randint(1, s.base - 1)
    a, b = s.verts[0], s.verts[1]
    d = (a[0] + (b[0] - a[0]) * Fraction(k, s.base), a[1] + (b[1] - a[1]) * Fraction(k, s.base))
    pd = s.frame.px((float(d[0]), float(d[1])))
    pc = s.pix[2]
    render = parent.render_code + dg.segment(pc, pd, color=dg.ACCENT, lw=2)
    render += dg.dot(pd, color=dg.ACCENT, size=6) + dg.text(dg.away(pd, pc, 19), dn, color=dg.ACCENT, box=True)
    area = Fraction(k * s.height, 2)
    answer = frac_str(area)
    tri = f"{n[0]}{dn}{n[2]}"
    grid_words = "the coordinate grid" if s.axes else "a square grid"
    question = (
        f"Triangle {''.join(n)} is drawn on {grid_words} of unit squares, and {dn} is the grid point on side "
        f"{n[0]}{n[1]} with {n[0]}{dn} = {k} units; segment {n[2]}{dn} is drawn. Find the area of triangle {tri} in "
        f"square units. {ta.EXACT}"
    )
    tool = tool_canvas_code(W, H) + ta._altitude_code(pc, s.pix[0], s.pix[1], f"h = {s.height}")
    tool += dg.shade([s.pix[0], pd, pc], color=dg.ACCENT, alpha=0.3)
    solution = (
        SolutionStep(
            "think",
            f"First the whole triangle: base {n[0]}{n[1]} = {s.base} units along the grid and height "
            f"{s.height} units, so area {''.join(n)} = 1/2 x {s.base} x {s.height} = {parent.answer}.",
        ),
        SolutionStep("code", f"Draw the altitude from {n[2]} and shade triangle {tri}.", tool),
        SolutionStep(
            "think",
            f"Triangles {tri} and {''.join(n)} share that altitude, so their areas are in the ratio of their bases "
            f"{n[0]}{dn} : {n[0]}{n[1]} = {k} : {s.base}. Area {tri} = {parent.answer} x {k}/{s.base} = {answer} "
            "square units.",
        ),
    )
    labels = (*s.labels, (dn, "point", pd))
    return replace(
        parent,
        concepts=("plane_geometry.triangle_area", "plane_geometry.equal_height_area_ratio", "measurement.grid_area"),
        difficulty=level,
        question=question,
        answer=answer,
        answer_kind=_kind(answer),
        render_code=render,
        answer_code=(
            "from sympy import Point, Polygon, Rational\n"
            f"print(abs(Polygon({_pt(a)}, {_pt(d)}, {_pt(s.verts[2])}).area))\n"
        ),
        check_code=(
            "from shapely.geometry import Polygon\n"
            f"print(Polygon([{_float_pt(a)}, {_float_pt(d)}, {_float_pt(s.verts[2])}]).area)\n"
        ),
        solution=solution,
        elements=_elements(labels),
        tools=("tool.perpendicular", "tool.region_shading", "tool.text_annotation"),
    )


def _polygon_code(pts, answer: str) -> str:
    """sympy: the area of the polygon through `pts`, printed as the answer is written."""
    corners = ", ".join(_pt((Fraction(x), Fraction(y))) for x, y in pts)
    return f"from sympy import Point, Polygon, Rational\narea = abs(Polygon({corners}).area)\n" + _decimal_print(answer)


def _float_pt(p: tuple[Fraction, Fraction]) -> str:
    return f"({float(p[0])}, {float(p[1])})"


def _trapezoid(rng: random.Random, s: Scene, parent: Draft, level: int) -> Draft:
    """A new vertex D on m with CD given: the trapezoid is the parent's triangle plus a triangle on CD."""
    n, (pa, pb, pc) = s.names, s.pix
    dn = _fresh(n)
    unit_px = s.frame.scale
    right = [k for k in range(2, 9) if pc[0] + k * unit_px <= W - 150]
    left = [k for k in range(2, 9) if pc[0] - k * unit_px >= 40]
    k, sign = (rng.choice(right), 1) if right and (not left or rng.random() < 0.6) else (rng.choice(left), -1)
    pd = dg.rnd((pc[0] + sign * k * unit_px, pc[1]))
    quad = [pa, pb, pd, pc] if sign > 0 else [pa, pb, pc, pd]
    q_name = f"{n[0]}{n[1]}{dn}{n[2]}" if sign > 0 else f"{n[0]}{n[1]}{n[2]}{dn}"
    extra = f"{n[1]}{dn}{n[2]}" if sign > 0 else f"{n[0]}{n[2]}{dn}"
    render = parent.render_code + _trapezoid_figure(s, pd, sign, dn, k)
    area = Fraction((s.base + k) * s.height, 2)
    answer = decimal_str(area)
    question = (
        f"Lines ℓ and m are parallel and {s.height} cm apart. {n[0]} and {n[1]} lie on ℓ with "
        f"{n[0]}{n[1]} = {s.base} cm; {n[2]} and {dn} lie on m with {n[2]}{dn} = {k} cm. Find the area of "
        f"quadrilateral {q_name} in cm². Give the exact value (a decimal if needed)."
    )
    tool = tool_canvas_code(W, H) + dg.shade(quad, color=dg.TOOL_COLOR, alpha=0.15)
    f = dg.foot(pd, pa, pb)
    tool += ta._altitude_code(pd, (f[0] - 40, f[1]), (f[0] + 40, f[1]), f"{s.height} cm")
    extra_area = decimal_str(Fraction(k * s.height, 2))
    solution = (
        SolutionStep(
            "think",
            f"Split {q_name} along the diagonal into triangle {''.join(n)} and triangle {extra}. For the first, "
            f"base {n[0]}{n[1]} = {s.base} cm and height {s.height} cm give 1/2 x {s.base} x {s.height} "
            f"= {parent.answer} cm².",
        ),
        SolutionStep("code", f"Outline {q_name} and drop the perpendicular from {dn} to ℓ.", tool),
        SolutionStep(
            "think",
            f"Triangle {extra} has base {n[2]}{dn} = {k} cm on m and the same height {s.height} cm, so its area is "
            f"{extra_area} cm². Total: {parent.answer} + {extra_area} = {answer} cm².",
        ),
    )
    top = sorted([s.xc, s.xc + sign * k], reverse=True)  # D and C along m, right one first: a simple polygon
    pts = [(0, 0), (s.base, 0), (top[0], s.height), (top[1], s.height)]
    return replace(
        parent,
        concepts=(
            "plane_geometry.trapezoid_area",
            "plane_geometry.triangle_area",
            "plane_geometry.parallel_lines_transversal",
        ),
        difficulty=level,
        question=question,
        answer=answer,
        answer_kind="number",
        render_code=render,
        answer_code=_polygon_code(pts, answer),
        check_code=(
            "from shapely.geometry import Polygon\n"
            f"print(Polygon([{', '.join(_float_pt((Fraction(x), Fraction(y))) for x, y in pts)}]).area)\n"
        ),
        solution=solution,
        elements=_elements((*s.labels, (dn, "point", pd))),
        tools=("tool.polygon_outline", "tool.perpendicular", "tool.text_annotation"),
    )


def _trapezoid_figure(s: Scene, pd: dg.Pt, sign: int, dn: str, k: int) -> str:
    """Render code for the new vertex on m: the added triangle shaded, its sides, D's name and CD's length."""
    pa, pb, pc = s.pix
    code = dg.shade([pb, pd, pc] if sign > 0 else [pa, pc, pd], color=dg.ACCENT, alpha=0.35)
    code += dg.segment(pb if sign > 0 else pa, pd, color=dg.ACCENT, lw=2) + dg.segment(pc, pd, lw=2.5)
    code += dg.dot(pd) + dg.text((pd[0] + 14 * sign, pd[1] - 20), dn, box=True)
    return code + dg.text(((pc[0] + pd[0]) / 2, pc[1] - 20), f"{k} cm", size=dg.VALUE_PT, box=True)


def _foot_distance(s: Scene, parent: Draft) -> Draft:
    """The parent's altitude AK to line BC is a leg of right triangle ABK; BK follows by Pythagoras."""
    n, (pa, pb, pc) = s.names, s.pix
    c_len, bc = s.base, s.other
    alt = Fraction(c_len * s.height, bc)
    answer = sqrt_str(Fraction(c_len * c_len) - alt * alt)
    pk = dg.rnd(dg.foot(pa, pb, pc))
    t = ta._foot_param(pa, pb, pc)
    render = parent.render_code + dg.segment(pa, pk, color=dg.ACCENT, lw=2, ls="-")
    if t < 0 or t > 1:
        render += dg.segment(pb if t < 0 else pc, pk, color=dg.ACCENT, lw=1.5, ls="--")
    far = pb if abs(t) > abs(1 - t) else pc
    render += dg.right_angle(pk, pa, far, size=11, color=dg.ACCENT)
    render += dg.dot(pk, color=dg.ACCENT, size=6) + dg.text(dg.away(pk, _centroid(s.pix), 18), "K", box=True)
    tri = "".join(n)
    question = (
        f"In triangle {tri}, {n[2]}H ⟂ {n[0]}{n[1]} with {n[2]}H = {s.height} cm, {n[0]}{n[1]} = {c_len} cm and "
        f"{n[1]}{n[2]} = {bc} cm. {n[0]}K is perpendicular to line {n[1]}{n[2]}. Find the length of {n[1]}K, in "
        f"cm. {EXACT_RADICAL}"
    )
    tool = tool_canvas_code(W, H) + dg.shade([pa, pb, pk], alpha=0.3) + dg.segment(pb, pk, color=dg.TOOL_COLOR, lw=3)
    tool += dg.text(dg.side_label_pos(pa, pk, pb, 16, "AK"), f"{n[0]}K = {parent.answer}", 12, dg.TOOL_COLOR, box=True)
    solution = (
        SolutionStep(
            "think",
            f"Area of {tri} = 1/2 x {c_len} x {s.height} = {frac_str(Fraction(c_len * s.height, 2))} cm², and also "
            f"1/2 x {n[1]}{n[2]} x {n[0]}K, so {n[0]}K = {c_len} x {s.height} / {bc} = {parent.answer} cm.",
        ),
        SolutionStep("code", f"Shade right triangle {n[0]}{n[1]}K and mark {n[0]}K.", tool),
        SolutionStep(
            "think",
            f"In right triangle {n[0]}{n[1]}K the hypotenuse is {n[0]}{n[1]} = {c_len} cm, so {n[1]}K = "
            f"sqrt({c_len}² - ({parent.answer})²) = {answer} cm.",
        ),
    )
    fx = int(s.verts[2][0])
    return replace(
        parent,
        concepts=(
            "plane_geometry.triangle_area",
            "plane_geometry.altitude_of_triangle",
            "plane_geometry.pythagorean_theorem",
        ),
        difficulty=5,
        question=question,
        answer=answer,
        answer_kind=_kind(answer),
        render_code=render,
        answer_code=_foot_codes(c_len, fx, s.height)[0],
        check_code=_foot_codes(c_len, fx, s.height)[1],
        solution=solution,
        elements=_elements((*s.labels, ("K", "point", pk))),
        tools=("tool.region_shading", "tool.highlight", "tool.text_annotation"),
    )


def _centroid(pts) -> dg.Pt:
    return (sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts))


def _foot_codes(c_len: int, fx: int, h: int) -> tuple[str, str]:
    """sympy projects A onto line BC; numpy takes the component of BA along BC."""
    answer_code = (
        "from sympy import Line, Point\n"
        f"A, B = Point(0, 0), Point({c_len}, 0)\n"
        f"print(B.distance(Line(B, Point({fx}, {h})).projection(A)))\n"
    )
    check_code = (
        "import numpy as np\n"
        f"A, B, C = np.array([0.0, 0.0]), np.array([{c_len}.0, 0.0]), np.array([{fx}.0, {h}.0])\n"
        "u = (C - B) / np.linalg.norm(C - B)\n"
        "print(abs(float(np.dot(A - B, u))))\n"
    )
    return answer_code, check_code
