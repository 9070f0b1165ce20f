"""Oblique triangles drawn to scale: a side from SAS (law of cosines), a side from ASA (law of sines), an
angle from SSS, and (hardest) an angle from SAS in two steps.

The stated answer comes from the laws of cosines and sines with `math`; answer_code rebuilds the triangle
from coordinates in sympy (cos/sin of exact angles, ray intersections, circle intersections) and measures;
check_code reuses the laws numerically in numpy. The tool drops an altitude, the construction both laws are
proved with.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from flywheel.records import NamedElement, SolutionStep
from generators.procedural import draw_geometry as dg
from generators.procedural.base import Draft, canvas_code, tool_canvas_code
from generators.procedural.exact_geometry import clear_of_tie, rounded

FAMILY = "law_of_cosines_sines"
W, H = 640, 540
NAMES = (("A", "B", "C"), ("P", "Q", "R"), ("D", "E", "F"), ("K", "L", "M"), ("X", "Y", "Z"))
UNITS = ("cm", "m", "km")
SIDE_FMT = "Give the answer in {u}, rounded to 1 decimal place."
ANGLE_FMT = "Give the answer in degrees, rounded to 1 decimal place."
QUESTIONS = {
    "sas": (
        "In triangle {t}, {B}{A} = {c} {u}, {A}{C} = {b} {u} and angle {A} = {angA}°. Find the length x of "
        "{B}{C}. " + SIDE_FMT,
        "The triangle {t} is drawn to scale with the two sides and the included angle marked. How long is "
        "side {B}{C} (marked x)? " + SIDE_FMT,
    ),
    "asa": (
        "In triangle {t}, {A}{B} = {c} {u}, angle {A} = {angA}° and angle {B} = {angB}°. Find the length x "
        "of side {A}{C}. " + SIDE_FMT,
        "Two angles of triangle {t} and the side between them are marked. Work out the length of {A}{C} "
        "(marked x). " + SIDE_FMT,
    ),
    "sss": (
        "The sides of triangle {t} are {B}{C} = {a} {u}, {A}{C} = {b} {u} and {A}{B} = {c} {u}. Find the "
        "angle θ at {A}. " + ANGLE_FMT,
        "All three sides of triangle {t} are marked in the figure. What is the size of angle {A} (marked "
        "θ)? " + ANGLE_FMT,
    ),
    "sas_angle": (
        "In triangle {t}, {A}{B} = {c} {u}, {A}{C} = {b} {u} and angle {A} = {angA}°. Find the angle θ at "
        "{B}. " + ANGLE_FMT,
        "Using the two sides and the included angle marked on triangle {t}, find angle {B} (marked θ). " + ANGLE_FMT,
    ),
}


@dataclass(frozen=True)
class Tri:
    """Sides a = BC, b = CA, c = AB and angles (degrees) of a triangle, plus what the problem gives."""

    a: float
    b: float
    c: float
    A: float
    B: float
    C: float
    kind: str  # "sas", "asa", "sss" or "sas_angle"
    value: float  # the exact (unrounded) answer


@dataclass(frozen=True)
class Scene:
    """The figure as `make` drew it (kept for law_of_cosines_sines_ext): the triangle, names, unit, pixels."""

    tri: Tri
    names: tuple[str, str, str]
    u: str
    pix: tuple[dg.Pt, ...]
    render: str


def make(rng: random.Random, difficulty: int) -> Draft:
    """1: SAS side, acute angle; 2: SAS side, obtuse angle; 3: ASA side; 4: SSS angle; 5: SAS then angle."""
    return _draft(rng, difficulty, scene(rng, difficulty))


def scene(rng: random.Random, difficulty: int) -> Scene:
    """The figure `make` draws at this level: all of its random draws except the question wording."""
    while True:
        tri = _triangle(rng, difficulty)
        if tri and min(tri.A, tri.B, tri.C) >= 20 and clear_of_tie(tri.value, 1):
            break
    names = rng.choice(NAMES)
    u = rng.choice(UNITS)
    verts = _vertices(tri, rng)
    frame = dg.fit_frame(verts, (90, 80, W - 90, H - 80))
    pix = [frame.px(v) for v in verts]
    return Scene(tri, names, u, tuple(pix), _render(tri, pix, names, u))


def _triangle(rng: random.Random, difficulty: int) -> Tri | None:
    """Random givens for the level (None if they make no triangle); the rest follows from the two laws."""
    if difficulty == 3:
        angle_a, angle_b, c = rng.randint(35, 85), rng.randint(30, 80), rng.randint(5, 15)
        angle_c = 180 - angle_a - angle_b
        b = c * math.sin(math.radians(angle_b)) / math.sin(math.radians(angle_c))
        a = c * math.sin(math.radians(angle_a)) / math.sin(math.radians(angle_c))
        return Tri(a, b, c, angle_a, angle_b, angle_c, "asa", b)
    if difficulty == 4:
        a, b, c = rng.randint(4, 15), rng.randint(4, 15), rng.randint(4, 15)
        if not (a < b + c and b < a + c and c < a + b):
            return None
        angle_a = math.degrees(math.acos((b * b + c * c - a * a) / (2 * b * c)))
        angle_b = math.degrees(math.acos((a * a + c * c - b * b) / (2 * a * c)))
        return Tri(a, b, c, angle_a, angle_b, 180 - angle_a - angle_b, "sss", angle_a)
    low, high = {1: (40, 80), 2: (95, 135)}.get(difficulty, (35, 130))
    angle_a, b, c = rng.randint(low, high), rng.randint(4, 15), rng.randint(4, 15)
    a = math.sqrt(b * b + c * c - 2 * b * c * math.cos(math.radians(angle_a)))
    angle_b = math.degrees(math.acos((a * a + c * c - b * b) / (2 * a * c)))
    kind = "sas_angle" if difficulty == 5 else "sas"
    return Tri(a, b, c, angle_a, angle_b, 180 - angle_a - angle_b, kind, angle_b if kind == "sas_angle" else a)


def _vertices(tri: Tri, rng: random.Random) -> list[tuple[float, float]]:
    """A at the origin, B along the x-axis, C above; then a random turn and mirror."""
    ca = math.radians(tri.A)
    raw = [(0.0, 0.0), (tri.c, 0.0), (tri.b * math.cos(ca), tri.b * math.sin(ca))]
    theta, mirror = rng.uniform(-0.6, 0.6), rng.choice([1, -1])
    return [
        (mirror * (x * math.cos(theta) - y * math.sin(theta)), x * math.sin(theta) + y * math.cos(theta))
        for x, y in raw
    ]


def _num(v: float) -> str:
    return str(round(v)) if abs(v - round(v)) < 1e-9 else f"{v:.1f}"


def _render(tri: Tri, pix, names, u: str) -> str:
    """The triangle with exactly the givens of its kind marked, and x or θ on the asked part."""
    pa, pb, pc = pix
    n_a, n_b, n_c = names
    code = canvas_code(W, H) + dg.polygon(pix, face="#d9f0d3")
    sides = {"a": (pb, pc, pa, _num(tri.a)), "b": (pa, pc, pb, _num(tri.b)), "c": (pa, pb, pc, _num(tri.c))}
    shown = {"sas": "bc", "asa": "c", "sss": "abc", "sas_angle": "bc"}[tri.kind]
    asked_side = {"sas": "a", "asa": "b"}.get(tri.kind)
    for key, (p, q, opposite, value) in sides.items():
        text = "x" if key == asked_side else f"{value} {u}" if key in shown else None
        if text:
            pos = dg.side_label_pos(p, q, opposite, 12, text)
            code += dg.text(pos, text, dg.VALUE_PT + (2 if text == "x" else 0), box=True)
    angles = {"A": (pa, pb, pc, tri.A), "B": (pb, pa, pc, tri.B)}
    shown_angles = {"sas": "A", "asa": "AB", "sss": "", "sas_angle": "A"}[tri.kind]
    asked_angle = {"sss": "A", "sas_angle": "B"}.get(tri.kind)
    for key, (v, p, q, value) in angles.items():
        text = "θ" if key == asked_angle else f"{_num(value)}°" if key in shown_angles else None
        if text:
            code += dg.arc(v, p, q, 26)
            dist = 44 + 3 * len(text) + (14 if value < 45 else 0)
            code += dg.text(dg.bisector_pos(v, p, q, dist), text, dg.VALUE_PT + (2 if text == "θ" else 0), box=True)
    centre = ((pa[0] + pb[0] + pc[0]) / 3, (pa[1] + pb[1] + pc[1]) / 3)
    for name, p in zip(names, pix, strict=True):
        code += dg.dot(p, size=5) + dg.text(dg.away(p, centre, 20), name)
    return code


def _altitude_tool(apex, p, q) -> str:
    """Tool code: the altitude from `apex` to line pq (extending pq when the foot falls outside), foot H."""
    f = dg.rnd(dg.foot(apex, p, q))
    t = ((f[0] - p[0]) * (q[0] - p[0]) + (f[1] - p[1]) * (q[1] - p[1])) / ((q[0] - p[0]) ** 2 + (q[1] - p[1]) ** 2)
    code = tool_canvas_code(W, H) + dg.segment(apex, f, dg.TOOL_COLOR, 2.5, "--", 4)
    if t < 0 or t > 1:
        code += dg.segment(p if t < 0 else q, f, dg.TOOL_COLOR, 1.5, ":", 4)
    far = p if abs(t) > abs(1 - t) else q
    code += dg.right_angle(f, apex, far, size=12, color=dg.TOOL_COLOR, lw=2)
    below = dg.away(f, apex, 18)
    return code + dg.dot(f, dg.TOOL_COLOR, 5) + dg.text(below, "H", color=dg.TOOL_COLOR, box=True)


def _answer_code(tri: Tri) -> str:
    """sympy: place the triangle by coordinates from exact angles and measure the asked part."""
    a, b, c, ang_a, ang_b = _num(tri.a), _num(tri.b), _num(tri.c), _num(tri.A), _num(tri.B)
    head = (
        "from sympy import Circle, Line, Point, Rational, atan2, cos, deg, rad, sin\nA, B = Point(0, 0), "
        f"Point(Rational('{c}'), 0)\n"
    )
    if tri.kind == "asa":  # C is where the rays from A and from B at the given angles meet
        # Directions as 40-digit floats: intersecting lines with exact trig values can take sympy minutes.
        return head + (
            f"C = Line(A, Point(cos(rad({ang_a})).evalf(40), sin(rad({ang_a})).evalf(40))).intersection(\n"
            f"    Line(B, B + Point(-cos(rad({ang_b})).evalf(40), sin(rad({ang_b})).evalf(40))))[0]\n"
            "print(format(float(A.distance(C).evalf(30)), '.1f'))\n"
        )
    if tri.kind == "sss":  # C is where the circle about A of radius b meets the circle about B of radius a
        return head + (
            f"C = [p for p in Circle(A, Rational('{b}')).intersection(Circle(B, Rational('{a}'))) if p.y > 0][0]\n"
            "print(format(float(deg(atan2(C.y, C.x)).evalf(30)), '.1f'))\n"
        )
    code = head + f"C = Point(Rational('{b}') * cos(rad({ang_a})), Rational('{b}') * sin(rad({ang_a})))\n"
    if tri.kind == "sas":
        return code + "print(format(float(B.distance(C).evalf(30)), '.1f'))\n"
    return code + "print(format(float(deg(atan2(C.y, B.x - C.x)).evalf(30)), '.1f'))  # angle CBA\n"


def _check_code(tri: Tri) -> str:
    """numpy: the laws of cosines and sines themselves."""
    a, b, c, ang_a, ang_b = _num(tri.a), _num(tri.b), _num(tri.c), _num(tri.A), _num(tri.B)
    body = {
        "sas": f"v = np.sqrt({b}**2 + {c}**2 - 2 * {b} * {c} * np.cos(np.radians({ang_a})))\n",
        "asa": f"v = {c} * np.sin(np.radians({ang_b})) / np.sin(np.radians(180 - {ang_a} - {ang_b}))\n",
        "sss": f"v = np.degrees(np.arccos(({b}**2 + {c}**2 - {a}**2) / (2 * {b} * {c})))\n",
        "sas_angle": (
            f"a = np.sqrt({b}**2 + {c}**2 - 2 * {b} * {c} * np.cos(np.radians({ang_a})))\n"
            f"v = np.degrees(np.arccos((a**2 + {c}**2 - {b}**2) / (2 * a * {c})))\n"
        ),
    }[tri.kind]
    return "import numpy as np\n" + body + "print(format(float(v), '.1f'))\n"


def _solution(tri: Tri, names, pix, u: str, answer: str) -> tuple[SolutionStep, ...]:
    n_a, n_b, n_c = names
    pa, pb, pc = pix
    ra = math.radians(tri.A)
    if tri.kind == "asa":
        tool, apex_text = _altitude_tool(pb, pa, pc), f"{n_b} to line {n_a}{n_c}"
        bh, ah = tri.c * math.sin(ra), tri.c * math.cos(ra)
        hc = bh / math.tan(math.radians(tri.C))
        work = (
            f"{n_b}H = {n_a}{n_b}·sin {n_a} = {_num(tri.c)}·sin {_num(tri.A)}° ≈ {bh:.3f} and {n_a}H = "
            f"{_num(tri.c)}·cos {_num(tri.A)}° ≈ {ah:.3f}. Angle {n_c} = 180° − {_num(tri.A)}° − {_num(tri.B)}° "
            f"= {_num(tri.C)}°, so H{n_c} = {n_b}H / tan {_num(tri.C)}° ≈ {hc:.3f}. x = {n_a}H + H{n_c} ≈ "
            f"{ah + hc:.3f} (the law of sines gives the same: x = {_num(tri.c)}·sin {_num(tri.B)}° / "
            f"sin {_num(tri.C)}°)."
        )
    else:
        tool, apex_text = _altitude_tool(pc, pa, pb), f"{n_c} to line {n_a}{n_b}"
        ch, ah = tri.b * math.sin(ra), tri.b * math.cos(ra)
        hb = tri.c - ah
        if tri.kind == "sas":
            work = (
                f"{n_c}H = {_num(tri.b)}·sin {_num(tri.A)}° ≈ {ch:.3f}, {n_a}H = {_num(tri.b)}·cos "
                f"{_num(tri.A)}° ≈ {ah:.3f}, so H{n_b} = {_num(tri.c)} − ({ah:.3f}) ≈ {hb:.3f}. In right "
                f"triangle {n_c}H{n_b}: x = √({ch:.3f}² + ({hb:.3f})²) ≈ {tri.a:.3f} — the law of cosines "
                f"x² = b² + c² − 2bc·cos {n_a}."
            )
        elif tri.kind == "sss":
            work = (
                f"With {n_a}H = p: {_num(tri.b)}² − p² = {n_c}H² = {_num(tri.a)}² − ({_num(tri.c)} − p)², so "
                f"p = ({_num(tri.b)}² + {_num(tri.c)}² − {_num(tri.a)}²) / (2·{_num(tri.c)}) ≈ {ah:.3f}. "
                f"cos θ = p / {_num(tri.b)} ≈ {math.cos(ra):.4f}, θ ≈ {tri.A:.3f}°."
            )
        else:
            turn = "" if hb > 0 else f" H lies beyond {n_b}, so θ is obtuse: θ = 180° − arctan({ch:.3f}/{-hb:.3f})."
            work = (
                f"{n_c}H = {_num(tri.b)}·sin {_num(tri.A)}° ≈ {ch:.3f} and H{n_b} = {_num(tri.c)} − "
                f"{_num(tri.b)}·cos {_num(tri.A)}° ≈ {hb:.3f}. In right triangle {n_c}H{n_b}, tan θ = "
                f"{n_c}H / H{n_b}.{turn} θ ≈ {tri.B:.3f}°."
            )
    unit = "°" if tri.kind in ("sss", "sas_angle") else f" {u}"
    return (
        SolutionStep(
            "think",
            "The triangle is not right-angled. Dropping an altitude splits it into two right "
            "triangles where sine and cosine apply.",
        ),
        SolutionStep("code", f"Drop the altitude from {apex_text}, foot H.", tool),
        SolutionStep("think", work),
        SolutionStep("think", f"Rounded to 1 decimal place the answer is {answer}{unit}."),
    )


def _draft(rng: random.Random, difficulty: int, s: Scene) -> Draft:
    tri, names, u, pix = s.tri, s.names, s.u, list(s.pix)
    n_a, n_b, n_c = names
    question = rng.choice(QUESTIONS[tri.kind]).format(
        t="".join(names),
        A=n_a,
        B=n_b,
        C=n_c,
        a=_num(tri.a),
        b=_num(tri.b),
        c=_num(tri.c),
        angA=_num(tri.A),
        angB=_num(tri.B),
        u=u,
    )
    answer = rounded(tri.value, 1)
    concepts = {
        "sas": ("trigonometry.law_of_cosines", "plane_geometry.altitude_of_triangle"),
        "asa": (
            "trigonometry.law_of_sines",
            "plane_geometry.triangle_angle_sum",
            "plane_geometry.altitude_of_triangle",
        ),
        "sss": ("trigonometry.law_of_cosines", "trigonometry.inverse_trig"),
        "sas_angle": ("trigonometry.law_of_cosines", "trigonometry.law_of_sines", "trigonometry.inverse_trig"),
    }[tri.kind]
    return Draft(
        family=FAMILY,
        concepts=concepts,
        domain="trigonometry",
        difficulty=difficulty,
        question=question,
        answer=answer,
        answer_kind="number",
        render_code=s.render,
        answer_code=_answer_code(tri),
        check_code=_check_code(tri),
        solution=_solution(tri, names, pix, u, answer),
        elements=tuple(NamedElement(n, "vertex", p[0], p[1]) for n, p in zip(names, pix, strict=True)),
        tools=("tool.perpendicular", "tool.angle_mark", "tool.extend_segment"),
        width=W,
        height=H,
    )
