"""Right triangles: find the missing side with Pythagoras, up to two triangles sharing a leg.

The stated answer comes from integer square-root arithmetic (`exact_geometry.sqrt_str`); answer_code builds
the triangle from points in sympy and measures, or solves x^2 + a^2 = c^2; check_code rebuilds it in numpy
(rotated, then measured) or goes through an angle (arccos, then sine). The tool marks the right angle and
highlights the hypotenuse.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from fractions import Fraction

from flywheel.records import NamedElement, SolutionStep
from generators.procedural import draw_geometry as dg
from generators.procedural.base import Draft, canvas_code, tool_canvas_code
from generators.procedural.exact_geometry import clear_of_tie, decimal_str, rounded, sqrt_parts, sqrt_str

FAMILY = "right_triangle_pythagoras"
W, H = 620, 540
NAMES = (("A", "B", "C"), ("P", "Q", "R"), ("D", "E", "F"), ("K", "L", "M"), ("X", "Y", "Z"))
TRIPLES = ((3, 4, 5), (5, 12, 13), (8, 15, 17), (7, 24, 25), (20, 21, 29), (9, 40, 41))
UNITS = ("cm", "m", "mm", "ft")
FORMATS = {
    "exact": "Give the exact value.",
    "radical": "Give the exact value in simplest radical form.",
    "round1": "Round your answer to 1 decimal place.",
}
QUESTIONS = (
    "In triangle {t} the angle at {r} is a right angle. Using the lengths marked in the figure, find the "
    "length x of side {k} in {u}. {fmt}",
    "The figure shows triangle {t}, right-angled at {r}, with two side lengths marked. How long is side {k} "
    "(marked x), in {u}? {fmt}",
    "Triangle {t} has a right angle at {r}; {s1} = {v1} {u} and {s2} = {v2} {u}. Find x = {k} in {u}. {fmt}",
)
COMPOSITE_QUESTIONS = (
    "In the figure, {a}, {d} and {c} lie on a straight line and {b}{d} is perpendicular to {a}{c}. Given "
    "{a}{b} = {ab} {u}, {a}{d} = {ad} {u} and {d}{c} = {dc} {u}, find the length of {b}{c} (marked x) in "
    "{u}. {fmt}",
    "Points {a}, {d}, {c} are collinear and {b}{d} ⊥ {a}{c}, with the lengths shown in the figure. Find x = "
    "{b}{c} in {u}. {fmt}",
)
Given = dict[str, Fraction]


@dataclass(frozen=True)
class Scene:
    """A figure as `make` drew it, so the extensions (right_triangle_pythagoras_ext) can rebuild it exactly.

    Single triangle: right angle at names[0] = pix[0]; leg0 joins it to names[1], leg1 to names[2]; `given`
    holds two of 'leg0', 'leg1', 'hyp' and `unknown` the third. Composite: names A, B, C, D with D the foot of
    the altitude from B, lengths in `sides` ('ad', 'bd', 'ab', 'dc').
    """

    kind: str  # "single" | "composite"
    names: tuple[str, ...]
    pix: tuple[dg.Pt, ...]
    render: str
    u: str
    given: Given = field(default_factory=dict)
    unknown: str = ""
    fmt: str = "radical"
    theta: float = 0.0
    sides: dict[str, int] = field(default_factory=dict)


def make(rng: random.Random, difficulty: int) -> Draft:
    """1: hypotenuse of a triple; 2: a leg of a triple; 3: radical side; 4: radical or rounded decimal side;
    5: two right triangles sharing a leg."""
    s = scene(rng, difficulty)
    if difficulty == 5:
        return _composite(rng, s)
    return _single(rng, difficulty, s)


def scene(rng: random.Random, difficulty: int) -> Scene:
    """The figure `make` draws at this level: all of its random draws except the question wording."""
    if difficulty == 5:
        return _composite_scene(rng)
    given, unknown, fmt = _spec(rng, difficulty)
    return _single_scene(rng, difficulty, given, unknown, fmt)


def _spec(rng: random.Random, difficulty: int) -> tuple[Given, str, str]:
    """The two given sides ('leg0', 'leg1', 'hyp' -> length), the asked side and the answer format."""
    if difficulty <= 2:
        a, b, c = rng.choice(TRIPLES[: 3 + difficulty])
        k = rng.randint(1, 3) if c < 15 else 1
        sides = {"leg0": a * k, "leg1": b * k, "hyp": c * k}
        unknown = "hyp" if difficulty == 1 else rng.choice(["leg0", "leg1"])
        return {s: Fraction(v) for s, v in sides.items() if s != unknown}, unknown, "exact"
    decimal = difficulty == 4 and rng.random() < 0.5
    while True:
        unknown = "hyp" if rng.random() < (0.6 if difficulty == 3 else 0.4) else "leg0"
        if decimal:
            first, second = Fraction(rng.randint(25, 120), 10), Fraction(rng.randint(25, 120), 10)
        else:
            first, second = Fraction(rng.randint(2, 12)), Fraction(rng.randint(2, 15))
        given = {"leg0": first, "leg1": second} if unknown == "hyp" else {"leg1": first, "hyp": second}
        if unknown == "leg0" and second <= first:
            continue
        square = _square(given, unknown)
        ratio = math.sqrt(square) / float(given["leg1"])
        if not 0.3 < ratio < 3.3:  # keep the triangle readable: no needle-thin shapes
            continue
        if decimal and clear_of_tie(math.sqrt(square), 1):
            return given, unknown, "round1"
        if not decimal and sqrt_parts(square)[1] != 1:
            return given, unknown, "radical"


def _square(given: Given, unknown: str) -> Fraction:
    """The square of the asked side, as Pythagoras gives it."""
    if unknown == "hyp":
        return given["leg0"] ** 2 + given["leg1"] ** 2
    other = "leg1" if unknown == "leg0" else "leg0"
    return given["hyp"] ** 2 - given[other] ** 2


def _num(q: Fraction) -> str:
    """A given length as printed: `12` or `4.5`."""
    return str(q.numerator) if q.denominator == 1 else f"{float(q):.1f}"


def _answer(square: Fraction, fmt: str) -> str:
    return rounded(math.sqrt(square), 1) if fmt == "round1" else sqrt_str(square)


def _single_scene(rng: random.Random, difficulty: int, given: Given, unknown: str, fmt: str) -> Scene:
    n = list(rng.choice(NAMES))
    rng.shuffle(n)
    ra, pa, pb = n  # right angle at ra; leg0 is ra-pa, leg1 is ra-pb
    u = rng.choice(UNITS)
    square = _square(given, unknown)
    lengths = {s: float(v) for s, v in given.items()} | {unknown: math.sqrt(square)}
    theta = rng.uniform(0, 2 * math.pi) if difficulty >= 2 else rng.choice([0, 0.5, 1, 1.5]) * math.pi
    mirror = rng.choice([1, -1])
    raw = [(0.0, 0.0), (lengths["leg0"], 0.0), (0.0, mirror * lengths["leg1"])]
    pts = [(x * math.cos(theta) - y * math.sin(theta), x * math.sin(theta) + y * math.cos(theta)) for x, y in raw]
    c, p0, p1 = (dg.fit_frame(pts, (90, 80, W - 90, H - 80)).px(p) for p in pts)
    ends = {"leg0": (c, p0), "leg1": (c, p1), "hyp": (p0, p1)}
    opposite = {"leg0": p1, "leg1": p0, "hyp": c}
    render = canvas_code(W, H) + dg.polygon([c, p0, p1], face="#c6dbef") + dg.right_angle(c, p0, p1, size=16)
    for side in ("leg0", "leg1", "hyp"):
        text = "x" if side == unknown else f"{_num(given[side])} {u}"
        pos = dg.side_label_pos(*ends[side], opposite[side], 14, text)
        render += dg.text(pos, text, size=dg.VALUE_PT + (3 if side == unknown else 0), box=True)
    centre = ((c[0] + p0[0] + p1[0]) / 3, (c[1] + p0[1] + p1[1]) / 3)
    for name, p in ((ra, c), (pa, p0), (pb, p1)):
        render += dg.dot(p, size=5) + dg.text(dg.away(p, centre, 20), name)
    return Scene("single", (ra, pa, pb), (c, p0, p1), render, u, given, unknown, fmt, theta)


def _single(rng: random.Random, difficulty: int, s: Scene) -> Draft:
    given, unknown, fmt, u, render, theta = s.given, s.unknown, s.fmt, s.u, s.render, s.theta
    (ra, pa, pb), (c, p0, p1) = s.names, s.pix
    square = _square(given, unknown)
    side_name = {"leg0": ra + pa, "leg1": ra + pb, "hyp": pa + pb}
    (s1, v1), (s2, v2) = ((side_name[s], _num(v)) for s, v in given.items())
    question = rng.choice(QUESTIONS).format(
        t=pa + ra + pb, r=ra, k=side_name[unknown], u=u, fmt=FORMATS[fmt], s1=s1, v1=v1, s2=s2, v2=v2
    )
    tool = tool_canvas_code(W, H) + _mark_code(c, p0, p1)
    return Draft(
        family=FAMILY,
        concepts=(
            ("plane_geometry.pythagorean_theorem", "plane_geometry.pythagorean_triples")
            if fmt == "exact"
            else ("plane_geometry.pythagorean_theorem", "trigonometry.right_triangle_side")
        ),
        domain="plane_geometry",
        difficulty=difficulty,
        question=question,
        answer=_answer(square, fmt),
        answer_kind="expression" if fmt == "radical" else "number",
        render_code=render,
        answer_code=_answer_code(given, unknown, fmt),
        check_code=_check_code(given, unknown, fmt, theta),
        solution=_solution(side_name, given, unknown, square, fmt, u, tool),
        elements=tuple(NamedElement(name, "vertex", p[0], p[1]) for name, p in ((ra, c), (pa, p0), (pb, p1))),
        tools=("tool.angle_mark", "tool.highlight", "tool.text_annotation"),
        width=W,
        height=H,
    )


def _mark_code(c: dg.Pt, p0: dg.Pt, p1: dg.Pt) -> str:
    """Tool code body: a bold right-angle mark at c and the hypotenuse p0-p1 highlighted and named."""
    pos = dg.side_label_pos(p0, p1, c, 34, "hypotenuse")
    return (
        dg.right_angle(c, p0, p1, size=26, color=dg.TOOL_COLOR, lw=2.5)
        + dg.segment(p0, p1, color=dg.TOOL_COLOR, lw=6, z=3, alpha=0.6)
        + dg.text(pos, "hypotenuse", size=13, color=dg.TOOL_COLOR, box=True)
    )


def _answer_code(given: Given, unknown: str, fmt: str) -> str:
    """sympy: the hypotenuse as a distance between constructed points, a leg by solving x^2 + a^2 = c^2."""
    out = "print(format(float(x_val), '.1f'))\n" if fmt == "round1" else "print(x_val)\n"
    if unknown == "hyp":
        return (
            "from sympy import Point, Rational\n"
            f"x_val = Point(Rational('{given['leg0']}'), 0).distance(Point(0, Rational('{given['leg1']}')))\n"
        ) + out
    other = "leg1" if unknown == "leg0" else "leg0"
    return (
        "from sympy import Rational, solve, symbols\n"
        "x = symbols('x', positive=True)\n"
        f"x_val = solve(x**2 + Rational('{given[other]}')**2 - Rational('{given['hyp']}')**2, x)[0]\n"
    ) + out


def _check_code(given: Given, unknown: str, fmt: str, theta: float) -> str:
    """numpy: the rotated triangle measured with a norm, or a leg through the angle at the other vertex."""
    out = "print(format(v, '.1f'))\n" if fmt == "round1" else "print(v)\n"
    if unknown == "hyp":
        return (
            "import numpy as np\n"
            f"t = {theta!r}\n"
            "R = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])\n"
            f"P, Q = R @ np.array([{float(given['leg0'])!r}, 0.0]), R @ np.array([0.0, {float(given['leg1'])!r}])\n"
            "v = float(np.linalg.norm(P - Q))\n"
        ) + out
    other = "leg1" if unknown == "leg0" else "leg0"
    return (
        "import numpy as np\n"
        f"hyp, leg = {float(given['hyp'])!r}, {float(given[other])!r}\n"
        "angle = np.arccos(leg / hyp)  # the angle between the known leg and the hypotenuse\n"
        "v = float(hyp * np.sin(angle))\n"
    ) + out


def _solution(side_name, given: Given, unknown: str, square: Fraction, fmt: str, u: str, tool: str):
    hyp, legs = side_name["hyp"], [side_name["leg0"], side_name["leg1"]]
    if unknown == "hyp":
        a, b = _num(given["leg0"]), _num(given["leg1"])
        relation = f"x² = {a}² + {b}² = {decimal_str(square)}"
    else:
        other = "leg1" if unknown == "leg0" else "leg0"
        relation = f"x² = {_num(given['hyp'])}² − {_num(given[other])}² = {decimal_str(square)}"
    form = {"exact": "", "radical": " in simplest radical form", "round1": " to 1 decimal place"}[fmt]
    return (
        SolutionStep(
            "think",
            f"The right angle is at the vertex shared by {legs[0]} and {legs[1]}, so those are the legs and the "
            f"side opposite the right angle, {hyp}, is the hypotenuse.",
        ),
        SolutionStep("code", "Mark the right angle and highlight the hypotenuse.", tool),
        SolutionStep("think", f"By Pythagoras, (hypotenuse)² = (leg)² + (leg)², so {relation}."),
        SolutionStep("think", f"x = √{decimal_str(square)} = {_answer(square, fmt)} {u}{form}."),
    )


def _composite_figure(names, ad: int, bd: int, ab: int, dc: int, u: str, s: int):
    """Triangle ABC with the foot D of the altitude from B on AC; s = -1 mirrors it left to right."""
    a, b, c, d = names
    math_pts = [(0, 0), (s * ad, bd), (s * (ad + dc), 0), (s * ad, 0)]
    frame = dg.fit_frame(math_pts, (80, 90, W - 80, H - 80))
    pa, pb, pc, pd = (frame.px(pt) for pt in math_pts)
    render = canvas_code(W, H) + dg.polygon([pa, pb, pc], face="#c7e9c0") + dg.segment(pb, pd, lw=2)
    render += dg.right_angle(pd, pb, pc, size=14)
    for p1, p2, opp, text in ((pa, pb, pc, f"{ab} {u}"), (pb, pc, pa, "x")):
        render += dg.text(dg.side_label_pos(p1, p2, opp, 14, text), text, size=dg.VALUE_PT, box=True)
    for p1, p2, text in ((pa, pd, f"{ad} {u}"), (pd, pc, f"{dc} {u}")):
        render += dg.text(((p1[0] + p2[0]) / 2, p1[1] + 20), text, size=dg.VALUE_PT, box=True)
    labels = ((a, pa, (-18, 8)), (b, pb, (0, -20)), (c, pc, (18, 8)), (d, pd, (0, 38)))
    for name, pt, off in labels:
        render += dg.dot(pt, size=5) + dg.text((pt[0] + off[0] * s, pt[1] + off[1]), name)
    return render, labels


def _composite_codes(ad: int, ab: int, dc: int) -> tuple[str, str]:
    """sympy solves for the shared leg, then measures; numpy goes through the angle at A."""
    answer_code = (
        "from sympy import Point, solve, symbols\n"
        "x = symbols('x', positive=True)\n"
        f"bd = solve(x**2 + {ad}**2 - {ab}**2, x)[0]\n"
        f"print(Point({ad}, bd).distance(Point({ad + dc}, 0)))\n"
    )
    check_code = (
        "import numpy as np\n"
        f"angle_a = np.arccos({ad} / {ab})\n"
        f"B = {ab} * np.array([np.cos(angle_a), np.sin(angle_a)])\n"
        f"print(float(np.linalg.norm(B - np.array([{ad + dc}.0, 0.0]))))\n"
    )
    return answer_code, check_code


def _composite_scene(rng: random.Random) -> Scene:
    while True:
        p, q, r = rng.choice(TRIPLES[:4])
        k = rng.randint(1, 2) if r < 20 else 1
        ad, bd, ab = (p * k, q * k, r * k) if rng.random() < 0.5 else (q * k, p * k, r * k)
        dc = rng.randint(2, 15)
        square = Fraction(bd * bd + dc * dc)
        if sqrt_parts(square)[1] != 1 and 0.25 < dc / bd < 3 and 0.25 < ad / bd < 3:
            break
    a, b, c, d = rng.choice((("A", "B", "C", "D"), ("P", "Q", "R", "S"), ("K", "L", "M", "N")))
    u = rng.choice(UNITS)
    render, labels = _composite_figure((a, b, c, d), ad, bd, ab, dc, u, rng.choice([1, -1]))
    pix = tuple(pt for _, pt, _ in labels)
    return Scene("composite", (a, b, c, d), pix, render, u, sides={"ad": ad, "bd": bd, "ab": ab, "dc": dc})


def _composite(rng: random.Random, s: Scene) -> Draft:
    """A-D-C collinear, BD perpendicular to AC: BD from triangle ABD, then BC from triangle BDC."""
    (a, b, c, d), (pa, pb, pc, pd), u, render = s.names, s.pix, s.u, s.render
    ad, bd, ab, dc = (s.sides[k] for k in ("ad", "bd", "ab", "dc"))
    square = Fraction(bd * bd + dc * dc)
    question = rng.choice(COMPOSITE_QUESTIONS).format(
        a=a, b=b, c=c, d=d, ab=ab, ad=ad, dc=dc, u=u, fmt=FORMATS["radical"]
    )
    answer_code, check_code = _composite_codes(ad, ab, dc)
    first = tool_canvas_code(W, H) + dg.shade([pa, pb, pd], color=dg.ACCENT) + _mark_code(pd, pa, pb)
    second = tool_canvas_code(W, H) + dg.shade([pb, pd, pc]) + _mark_code(pd, pc, pb)
    solution = (
        SolutionStep(
            "think",
            f"{b}{c} is the hypotenuse of right triangle {b}{d}{c}, whose leg {b}{d} is not given. But "
            f"{b}{d} is also a leg of right triangle {a}{b}{d}, whose hypotenuse {a}{b} = {ab} {u} is known.",
        ),
        SolutionStep("code", f"Shade triangle {a}{b}{d} and mark its right angle and hypotenuse {a}{b}.", first),
        SolutionStep("think", f"{b}{d}² = {ab}² − {ad}² = {bd * bd}, so {b}{d} = {bd} {u}."),
        SolutionStep("code", f"Now shade triangle {b}{d}{c} and mark its hypotenuse {b}{c}.", second),
        SolutionStep(
            "think",
            f"x² = {b}{d}² + {d}{c}² = {bd}² + {dc}² = {square}, so x = √{square} = "
            f"{sqrt_str(square)} {u} in simplest radical form.",
        ),
    )
    return Draft(
        family=FAMILY,
        concepts=(
            "plane_geometry.pythagorean_theorem",
            "plane_geometry.pythagorean_triples",
            "plane_geometry.altitude_of_triangle",
        ),
        domain="plane_geometry",
        difficulty=5,
        question=question,
        answer=sqrt_str(square),
        answer_kind="expression",
        render_code=render,
        answer_code=answer_code,
        check_code=check_code,
        solution=solution,
        elements=tuple(
            NamedElement(name, "vertex" if name != d else "point", pt[0], pt[1])
            for name, pt in zip(s.names, s.pix, strict=True)
        ),
        tools=("tool.region_shading", "tool.angle_mark", "tool.highlight"),
        width=W,
        height=H,
    )
