"""Extensions of law_of_cosines_sines (issue 5): the area of the same triangle, or an altitude built on the answer.

The parent's figure comes back from `law_of_cosines_sines.scene(random.Random(parent_seed), level)`. Parallel
asks for the triangle's area (1/2·bc·sin A, or Heron's formula for three sides). Sequential draws an altitude,
foot H, chosen so its length needs the parent's answer: from A to BC when the parent found BC or angle B,
from C to AB when it found AC or angle A.
"""

from __future__ import annotations

import math
import random
from dataclasses import replace

from flywheel.records import NamedElement, SolutionStep
from generators.procedural import draw_geometry as dg
from generators.procedural.base import Draft, tool_canvas_code
from generators.procedural.exact_geometry import clear_of_tie, rounded
from generators.procedural.families import law_of_cosines_sines as lc
from generators.procedural.families.law_of_cosines_sines import H, Scene, Tri, W


def _parent(parent_seed: int, parent_level: int) -> tuple[Scene, Draft]:
    return lc.scene(random.Random(parent_seed), parent_level), lc.make(random.Random(parent_seed), parent_level)


def _places(v: float) -> int:
    """1 decimal place unless v sits on a rounding tie there (then 2, then 3)."""
    return next(p for p in (1, 2, 3) if clear_of_tie(v, p))


def _sympy_triangle(tri: Tri) -> str:
    """sympy code placing A, B, C from the givens of the parent's kind (as the family's answer code does)."""
    a, b, c, ang_a, ang_b = (lc._num(v) for v in (tri.a, tri.b, tri.c, tri.A, tri.B))
    head = (
        "from sympy import Circle, Line, Point, Rational, Triangle, cos, rad, sin\n"
        f"A, B = Point(0, 0), Point(Rational('{c}'), 0)\n"
    )
    if tri.kind == "asa":  # 40-digit directions: exact trig in a line intersection can take sympy minutes
        return head + (
            f"C = Line(A, Point(cos(rad({ang_a})).evalf(40), sin(rad({ang_a})).evalf(40))).intersection(\n"
            f"    Line(B, B + Point(-cos(rad({ang_b})).evalf(40), sin(rad({ang_b})).evalf(40))))[0]\n"
        )
    if tri.kind == "sss":
        return (
            head
            + f"C = [p for p in Circle(A, Rational('{b}')).intersection(Circle(B, Rational('{a}'))) if p.y > 0][0]\n"
        )
    return head + f"C = Point(Rational('{b}') * cos(rad({ang_a})), Rational('{b}') * sin(rad({ang_a})))\n"


def _numpy_sides(tri: Tri) -> str:
    """numpy code for the three sides a, b, c from the givens (laws of cosines and sines)."""
    a, b, c, ang_a, ang_b = (lc._num(v) for v in (tri.a, tri.b, tri.c, tri.A, tri.B))
    code = "import numpy as np\n"
    if tri.kind == "sss":
        return code + f"a, b, c = {a}.0, {b}.0, {c}.0\n"
    if tri.kind == "asa":
        return code + (
            f"A, B = np.radians({ang_a}), np.radians({ang_b})\nC = np.pi - A - B\nc = {c}.0\n"
            "a, b = c * np.sin(A) / np.sin(C), c * np.sin(B) / np.sin(C)\n"
        )
    return code + f"b, c = {b}.0, {c}.0\na = np.sqrt(b**2 + c**2 - 2 * b * c * np.cos(np.radians({ang_a})))\n"


HERON = "s = (a + b + c) / 2\narea = np.sqrt(s * (s - a) * (s - b) * (s - c))\n"


def parallel(rng: random.Random, parent_seed: int, parent_level: int) -> Draft:
    """Same figure: the area of the triangle."""
    s, parent = _parent(parent_seed, parent_level)
    tri, (n_a, n_b, n_c) = s.tri, s.names
    area = 0.5 * tri.b * tri.c * math.sin(math.radians(tri.A))
    places = _places(area)
    answer = rounded(area, places)
    if tri.kind == "sss":
        sp = (tri.a + tri.b + tri.c) / 2
        how = (
            f"All three sides are given, so use Heron's formula: s = ({lc._num(tri.a)} + {lc._num(tri.b)} + "
            f"{lc._num(tri.c)})/2 = {lc._num(sp)}, area = √(s(s − a)(s − b)(s − c))"
        )
    elif tri.kind == "asa":
        how = (
            f"First {n_a}{n_c} by the law of sines: {n_a}{n_c} = {lc._num(tri.c)}·sin {lc._num(tri.B)}° / "
            f"sin {lc._num(tri.C)}° ≈ {tri.b:.3f}; then area = 1/2·{n_a}{n_b}·{n_a}{n_c}·sin {n_a}"
        )
    else:
        how = f"Two sides and the included angle at {n_a} are given, so area = 1/2·{n_a}{n_b}·{n_a}{n_c}·sin {n_a}"
    tool = lc._altitude_tool(s.pix[2], s.pix[0], s.pix[1]) + dg.shade(list(s.pix), alpha=0.3)
    solution = (
        SolutionStep("think", f"{how}."),
        SolutionStep("code", f"Shade the triangle and drop the height from {n_c} to {n_a}{n_b}.", tool),
        SolutionStep("think", f"Area ≈ {area:.4f}, which is {answer} {s.u}² to {places} decimal places."),
    )
    return replace(
        parent,
        concepts={
            "sss": ("plane_geometry.herons_formula", "plane_geometry.triangle_area"),
            "asa": ("trigonometry.triangle_area_sine", "trigonometry.law_of_sines"),
        }.get(tri.kind, ("trigonometry.triangle_area_sine", "plane_geometry.triangle_area")),
        difficulty={"sas": 2, "sas_angle": 2, "asa": 3, "sss": 3}[tri.kind],
        question=(
            f"Triangle {''.join(s.names)} is drawn with the measurements marked in the figure ({s.u}). Find the area "
            f"of the triangle in {s.u}². Give the answer rounded to {places} decimal place{'s' if places > 1 else ''}."
        ),
        answer=answer,
        answer_code=_sympy_triangle(tri)
        + f"print(format(float(abs(Triangle(A, B, C).area).evalf(30)), '.{places}f'))\n",
        check_code=_numpy_sides(tri) + HERON + f"print(format(float(area), '.{places}f'))\n",
        solution=solution,
        tools=("tool.region_shading", "tool.perpendicular", "tool.angle_mark"),
    )


def _first_step(s: Scene, parent: Draft) -> str:
    """The parent's solution in one line, ending in its answer."""
    tri, (n_a, n_b, n_c), num = s.tri, s.names, lc._num
    return {
        "sas": f"First x = {n_b}{n_c} by the law of cosines: x² = {num(tri.b)}² + {num(tri.c)}² − "
        f"2·{num(tri.b)}·{num(tri.c)}·cos {num(tri.A)}°, so x ≈ {parent.answer} {s.u}.",
        "sas_angle": f"First θ = angle {n_b}: the law of cosines gives {n_b}{n_c} ≈ {tri.a:.3f}, then "
        f"cos θ = ({n_b}{n_c}² + {num(tri.c)}² − {num(tri.b)}²) / (2·{n_b}{n_c}·{num(tri.c)}), "
        f"so θ ≈ {parent.answer}°.",
        "asa": f"First x = {n_a}{n_c} by the law of sines: x = {num(tri.c)}·sin {num(tri.B)}° / sin {num(tri.C)}° "
        f"≈ {parent.answer} {s.u}.",
        "sss": f"First θ = angle {n_a} by the law of cosines: cos θ = ({num(tri.b)}² + {num(tri.c)}² − "
        f"{num(tri.a)}²) / (2·{num(tri.b)}·{num(tri.c)}), so θ ≈ {parent.answer}°.",
    }[tri.kind]


def sequential(rng: random.Random, parent_seed: int, parent_level: int) -> Draft:
    """An altitude whose length is the parent's side or angle times a sine (or the area over the parent's side)."""
    s, parent = _parent(parent_seed, parent_level)
    tri, (n_a, n_b, n_c), (pa, pb, pc) = s.tri, s.names, s.pix
    from_a = tri.kind in ("sas", "sas_angle")  # the parent found BC or angle B: drop the altitude from A to BC
    beyond = from_a and not _on_canvas(dg.foot(pa, pb, pc))  # its foot off the image: from C to AB instead
    from_a = from_a and not beyond
    apex, p, q, names = (pa, pb, pc, (n_a, n_b, n_c)) if from_a else (pc, pa, pb, (n_c, n_a, n_b))
    h = tri.c * math.sin(math.radians(tri.B)) if from_a else tri.b * math.sin(math.radians(tri.A))
    places = _places(h)
    answer = rounded(h, places)
    render, f = _with_altitude(parent.render_code, apex, p, q)
    if beyond:
        last = (
            f"In right triangle {n_c}H{n_b}: {n_c}H = {n_b}{n_c}·sin {n_b} = {tri.a:.3f}·sin {tri.B:.3f}° ≈ {h:.4f} "
            f"(angle {n_b} from the law of sines: sin {n_b} = {lc._num(tri.b)}·sin {lc._num(tri.A)}° / {n_b}{n_c})"
        )
    elif tri.kind == "sas":
        area = 0.5 * tri.b * tri.c * math.sin(math.radians(tri.A))
        last = (
            f"The area is 1/2·{lc._num(tri.b)}·{lc._num(tri.c)}·sin {lc._num(tri.A)}° ≈ {area:.3f}, and also "
            f"1/2·{n_b}{n_c}·{n_a}H, so {n_a}H = 2·{area:.3f} / {tri.a:.3f} ≈ {h:.4f}"
        )
    elif from_a:
        last = f"In right triangle {n_a}H{n_b}: {n_a}H = {n_a}{n_b}·sin θ = {lc._num(tri.c)}·sin {tri.B:.3f}° ≈ {h:.4f}"
    else:
        side = "x" if tri.kind == "asa" else lc._num(tri.b)
        angle = lc._num(tri.A) if tri.kind == "asa" else f"{tri.A:.3f}"
        last = f"In right triangle {n_c}H{n_a}: {n_c}H = {n_a}{n_c}·sin {n_a} = {side}·sin {angle}° ≈ {h:.4f}"
    tool = tool_canvas_code(W, H) + dg.shade([apex, f, pb if from_a else pa], alpha=0.35)
    tool += dg.segment(apex, f, color=dg.TOOL_COLOR, lw=3.5, z=4)
    line = f"{names[1]}{names[2]}"
    return replace(
        parent,
        concepts=(
            "trigonometry.law_of_cosines" if tri.kind != "asa" else "trigonometry.law_of_sines",
            "plane_geometry.altitude_of_triangle",
            "trigonometry.right_triangle_side",
        ),
        difficulty=min(5, parent_level + 1),
        question=(
            f"Triangle {''.join(s.names)} is drawn with the measurements marked in the figure ({s.u}), and "
            f"{names[0]}H is perpendicular to line {line}. Find the length of {names[0]}H in {s.u}. Give the "
            f"answer rounded to {places} decimal place{'s' if places > 1 else ''}."
        ),
        answer=answer,
        render_code=render,
        answer_code=_sympy_triangle(tri)
        + f"h = Line({'B, C' if from_a else 'A, B'}).distance({'A' if from_a else 'C'})\n"
        + f"print(format(float(h.evalf(30)), '.{places}f'))\n",
        check_code=_numpy_sides(tri)
        + HERON
        + f"print(format(float(2 * area / {'a' if from_a else 'c'}), '.{places}f'))\n",
        solution=(
            SolutionStep("think", _first_step(s, parent)),
            SolutionStep("code", f"Shade the right triangle cut off by {names[0]}H and highlight {names[0]}H.", tool),
            SolutionStep("think", f"{last}, so {names[0]}H ≈ {answer} {s.u}."),
        ),
        elements=(*parent.elements, NamedElement("H", "point", f[0], f[1])),
        tools=("tool.perpendicular", "tool.region_shading", "tool.highlight"),
    )


def _with_altitude(render: str, apex: dg.Pt, p: dg.Pt, q: dg.Pt) -> tuple[str, dg.Pt]:
    """The parent's render code plus the altitude from apex to line pq (extended if needed) and its foot H."""
    f = dg.rnd(dg.foot(apex, p, q))
    t = ((f[0] - p[0]) * (q[0] - p[0]) + (f[1] - p[1]) * (q[1] - p[1])) / ((q[0] - p[0]) ** 2 + (q[1] - p[1]) ** 2)
    render += dg.segment(apex, f, color=dg.ACCENT, lw=2)
    if t < 0 or t > 1:
        render += dg.segment(p if t < 0 else q, f, color=dg.ACCENT, lw=1.5, ls="--")
    far = p if abs(t) > abs(1 - t) else q
    render += dg.right_angle(f, apex, far, size=11, color=dg.ACCENT)
    # H goes inside the triangle, slid away from the side's midpoint where the family writes the side's length
    n, u = dg.unit(apex[0] - f[0], apex[1] - f[1]), dg.unit(q[0] - p[0], q[1] - p[1])
    shift = -20 if t < 0.5 else 20
    label = dg.rnd((f[0] + 16 * n[0] + shift * u[0], f[1] + 16 * n[1] + shift * u[1]))
    render += dg.dot(f, color=dg.ACCENT, size=6) + dg.text(label, "H", color=dg.ACCENT, box=True)
    return render, f


def _on_canvas(p: tuple[float, float], margin: float = 15) -> bool:
    return margin <= p[0] <= W - margin and margin <= p[1] <= H - margin
