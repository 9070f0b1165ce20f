"""Solids in oblique projection: a cuboid's volume, surface area or space diagonal; a cylinder's volume or
surface area in terms of pi; a cone's volume from its radius and slant height.

The stated answer uses the textbook formulas in Fractions; answer_code gets the same quantity another way in
sympy (edge-vector determinant and cross products, a 3-D distance, volumes as integrals of cross-sections);
check_code evaluates the formulas numerically with numpy. The tool highlights the space diagonal or the faces
and cross-sections the formula adds up.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from fractions import Fraction

from flywheel.records import NamedElement, SolutionStep
from generators.procedural import draw_geometry as dg
from generators.procedural.base import Draft, canvas_code, tool_canvas_code
from generators.procedural.exact_geometry import clear_of_tie, pi_str, rounded, sqrt_parts, sqrt_str

FAMILY = "solid_box_cylinder"
W, H = 600, 560
DEPTH = 0.5 * math.sqrt(0.5)  # oblique projection: receding edges at 45 degrees, drawn at half length
UNITS = ("cm", "m")
BOX_Q = {
    "volume": (
        "The cuboid ABCDEFGH is drawn in oblique projection with its dimensions marked. Find its volume in "
        "{u}³. Give the exact value.",
        "What is the volume of the cuboid shown, in {u}³? Give the exact value.",
    ),
    "surface": (
        "Find the total surface area of the cuboid ABCDEFGH shown, in {u}². Give the exact value.",
        "The cuboid in the figure is to be covered completely in paper. How much area is that, in {u}²? "
        "Give the exact value.",
    ),
    "diagonal": (
        "Find the length of the space diagonal AG of the cuboid ABCDEFGH, in {u}. Give the exact value (in "
        "simplest radical form if it is not a whole number).",
        "A thin rod runs inside the cuboid from corner A to the opposite corner G. How long is it, in {u}? "
        "Give the exact value (in simplest radical form if it is not a whole number).",
    ),
}
ROUND_Q = {
    "cylinder_volume": (
        "Find the volume of the cylinder shown, in {u}³. Give the exact value in terms of π.",
        "The cylinder has the radius and height marked. What is its volume in {u}³? Give the exact value in "
        "terms of π.",
    ),
    "cylinder_surface": (
        "Find the total surface area of the closed cylinder shown (both circular ends included), in {u}². "
        "Give the exact value in terms of π.",
        "How much sheet material covers the closed cylinder in the figure, ends included? Answer in {u}² "
        "as an exact value in terms of π.",
    ),
    "cone_volume": (
        "The cone has base radius {r} {u} and slant height {l} {u}, as marked. Find its volume in {u}³. {fmt}",
        "Using the radius and slant height marked on the cone, find the volume of the cone in {u}³. {fmt}",
    ),
}


@dataclass(frozen=True)
class Scene:
    """The figure as `make` drew it (kept for solid_box_cylinder_ext). Cuboid: dims (w, d, h) and corners
    A-H; cylinder: dims (r, height) and the `_round_solid` points; cone: dims (r, height, slant)."""

    kind: str  # "cuboid" | "cylinder" | "cone"
    ask: str
    dims: tuple[float, ...]
    u: str
    pts: dict[str, dg.Pt]
    render: str
    rx: float = 0.0
    ry: float = 0.0
    exact: bool = True


def make(rng: random.Random, difficulty: int) -> Draft:
    """1: cuboid volume; 2: cuboid surface area; 3: space diagonal; 4: cylinder volume or surface area
    in pi; 5: cone volume from radius and slant height."""
    s = scene(rng, difficulty)
    if s.kind == "cuboid":
        return _cuboid(rng, difficulty, s)
    return _cylinder(rng, s) if s.kind == "cylinder" else _cone(rng, s)


def scene(rng: random.Random, difficulty: int) -> Scene:
    """The figure `make` draws at this level: all of its random draws except the question wording."""
    if difficulty <= 3:
        return _cuboid_scene(rng, ("volume", "surface", "diagonal")[difficulty - 1])
    if difficulty == 4:
        return _cylinder_scene(rng, rng.choice(["cylinder_volume", "cylinder_surface"]))
    return _cone_scene(rng)


def _cuboid_points(w: int, d: int, h: int):
    """Pixel corners A-H: ABCD the front face (A bottom-left, counter-clockwise), EFGH the back face."""
    span_x, span_y = w + d * DEPTH, h + d * DEPTH
    s = min(380 / span_x, 330 / span_y)
    left, bottom = (W - span_x * s) / 2, H - (H - span_y * s) / 2 + 10
    front = [(left, bottom), (left + w * s, bottom), (left + w * s, bottom - h * s), (left, bottom - h * s)]
    off = (d * DEPTH * s, -d * DEPTH * s)
    back = [(x + off[0], y + off[1]) for x, y in front]
    return [dg.rnd(p) for p in front + back]


def _cuboid_render(pts, w: int, d: int, h: int, u: str) -> str:
    a, b, c, dd, e, f, g, hh = pts
    code = canvas_code(W, H)
    code += dg.shade([a, b, c, dd], color="#c6dbef", alpha=0.6) + dg.shade([dd, c, g, hh], color="#deebf7", alpha=0.8)
    code += dg.shade([b, f, g, c], color="#9ecae1", alpha=0.6)
    for p, q in ((a, b), (b, c), (c, dd), (dd, a), (b, f), (f, g), (g, c), (g, hh), (hh, dd)):
        code += dg.segment(p, q, lw=2)
    for q in (a, f, hh):  # the three edges at the hidden back corner E
        code += dg.segment(e, q, lw=1.5, ls="--", color="#444444")
    centre = ((a[0] + g[0]) / 2, (a[1] + g[1]) / 2)
    for name, p in zip("ABCDEFGH", pts, strict=True):
        # F sits right of its corner: the depth label takes the space below-right of edge BF
        pos = (p[0] + 16, p[1]) if name == "F" else dg.away(p, centre, 16)
        code += dg.text(pos, name, size=13)
    code += dg.text(((a[0] + b[0]) / 2, a[1] + 22), f"{w} {u}", dg.VALUE_PT, box=True)
    code += dg.text((a[0] - 12 - 5.5 * len(f"{h} {u}"), (a[1] + dd[1]) / 2), f"{h} {u}", dg.VALUE_PT, box=True)
    code += dg.text(dg.side_label_pos(b, f, centre, 8, f"{d} {u}"), f"{d} {u}", dg.VALUE_PT, box=True)
    return code


def _cuboid_codes(w: int, d: int, h: int, ask: str) -> tuple[Fraction, str, str]:
    """The asked value, sympy code from edge vectors or 3-D points, numpy code from the formula."""
    edges = f"Matrix([{w}, 0, 0]), Matrix([0, {d}, 0]), Matrix([0, 0, {h}])"
    if ask == "volume":
        value = Fraction(w * d * h)
        answer_code = (
            f"from sympy import Matrix\nu, v, t = {edges}\n"
            "print(abs(Matrix.hstack(u, v, t).det()))  # the triple product of the edge vectors\n"
        )
        check_code = f"import numpy as np\nprint(float(np.prod([{w}, {d}, {h}])))\n"
    elif ask == "surface":
        value = Fraction(2 * (w * d + w * h + d * h))
        answer_code = (
            f"from sympy import Matrix\nu, v, t = {edges}\n"
            "print(2 * sum(p.cross(q).norm() for p, q in ((u, v), (u, t), (v, t))))  # face areas\n"
        )
        check_code = f"import numpy as np\nw, d, h = {w}, {d}, {h}\nprint(float(2 * (w * d + w * h + d * h)))\n"
    else:
        value = Fraction(w * w + d * d + h * h)
        answer_code = (
            "from sympy import Point3D, simplify, sqrt\n"
            f"print(sqrt(simplify(Point3D(0, 0, 0).distance(Point3D({w}, {d}, {h}))**2)))\n"
        )
        check_code = f"import numpy as np\nprint(float(np.linalg.norm([{w}, {d}, {h}])))\n"
    return value, answer_code, check_code


def _cuboid_scene(rng: random.Random, ask: str) -> Scene:
    while True:
        w, d, h = rng.randint(3, 12), rng.randint(2, 10), rng.randint(2, 10)
        pts = _cuboid_points(w, d, h)
        # distinct sizes, so each label clearly belongs to one edge; a receding edge long enough to label
        if len({w, d, h}) == 3 and math.dist(pts[1], pts[5]) >= 50:
            break
    u = rng.choice(UNITS)
    corners = dict(zip("ABCDEFGH", pts, strict=True))
    return Scene("cuboid", ask, (w, d, h), u, corners, _cuboid_render(pts, w, d, h, u))


def _cuboid(rng: random.Random, difficulty: int, s: Scene) -> Draft:
    (w, d, h), u, ask, pts = s.dims, s.u, s.ask, list(s.pts.values())
    value, answer_code, check_code = _cuboid_codes(w, d, h, ask)
    answer = sqrt_str(value) if ask == "diagonal" else str(value)
    kind = "expression" if ask == "diagonal" and sqrt_parts(value)[1] != 1 else "number"
    question = rng.choice(BOX_Q[ask]).format(u=u)
    concepts = {
        "volume": ("solid_geometry.cuboid_volume", "solid_geometry.oblique_projection"),
        "surface": (
            "solid_geometry.cuboid_surface_area",
            "solid_geometry.faces_edges_vertices",
            "solid_geometry.oblique_projection",
        ),
        "diagonal": (
            "solid_geometry.space_diagonal",
            "plane_geometry.pythagorean_theorem",
            "solid_geometry.oblique_projection",
        ),
    }[ask]
    return Draft(
        family=FAMILY,
        concepts=concepts,
        domain="solid_geometry",
        difficulty=difficulty,
        question=question,
        answer=answer,
        answer_kind=kind,
        render_code=s.render,
        answer_code=answer_code,
        check_code=check_code,
        solution=_cuboid_solution(pts, w, d, h, u, ask, answer),
        elements=tuple(NamedElement(n, "vertex", p[0], p[1]) for n, p in zip("ABCDEFGH", pts, strict=True)),
        tools=("tool.highlight", "tool.region_shading", "tool.text_annotation"),
        width=W,
        height=H,
    )


def _face_centre(face) -> dg.Pt:
    return (sum(p[0] for p in face) / len(face), sum(p[1] for p in face) / len(face))


def _cuboid_solution(pts, w: int, d: int, h: int, u: str, ask: str, answer: str) -> tuple[SolutionStep, ...]:
    a, b, c, dd, e, f, g, hh = pts
    tool = tool_canvas_code(W, H)
    if ask == "volume":
        tool += dg.shade([a, b, f, e], alpha=0.45)
        tool += dg.text(_face_centre([a, b, f, e]), f"{w}×{d} = {w * d}", 12, dg.TOOL_COLOR, box=True)
        tool += dg.segment(a, dd, dg.TOOL_COLOR, 4, z=5)  # AD, clear of the base-area text
        return (
            SolutionStep("think", "The volume of a cuboid is its base area times its height."),
            SolutionStep("code", "Shade the base face ABFE and highlight the height edge AD.", tool),
            SolutionStep("think", f"Base area = {w} × {d} = {w * d} {u}²; volume = {w * d} × {h} = {answer} {u}³."),
        )
    if ask == "surface":
        faces = (
            ([a, b, c, dd], w * h, "#e6550d"),
            ([dd, c, g, hh], w * d, "#31a354"),
            ([b, f, g, c], d * h, "#756bb1"),
        )
        for face, area, color in faces:
            tool += dg.shade(face, color=color, alpha=0.45)
            tool += dg.text(_face_centre(face), f"{area} {u}²", 12, color, box=True)
        return (
            SolutionStep(
                "think",
                "A cuboid has six rectangular faces in three equal pairs: front/back, top/bottom and left/right.",
            ),
            SolutionStep("code", "Shade the three visible faces, one of each pair, with their areas.", tool),
            SolutionStep(
                "think",
                f"Front {w}×{h} = {w * h}, top {w}×{d} = {w * d}, side {d}×{h} = {d * h}. "
                f"Total = 2 × ({w * h} + {w * d} + {d * h}) = {answer} {u}².",
            ),
        )
    tool += dg.segment(a, f, dg.ACCENT, 2.5, "--", 5) + dg.segment(f, g, dg.ACCENT, 4, z=5)
    tool += dg.segment(a, g, dg.TOOL_COLOR, 3.5, z=6)
    return (
        SolutionStep(
            "think",
            "The space diagonal AG is the hypotenuse of right triangle AFG: edge FG is "
            "perpendicular to the whole base ABFE, so it is perpendicular to the base diagonal AF.",
        ),
        SolutionStep("code", "Draw the base diagonal AF, highlight edge FG and the space diagonal AG.", tool),
        SolutionStep(
            "think",
            f"AF² = {w}² + {d}² = {w * w + d * d}; AG² = AF² + FG² = {w * w + d * d} + {h}² = {w * w + d * d + h * h}.",
        ),
        SolutionStep("think", f"AG = √{w * w + d * d + h * h} = {answer} {u}."),
    )


def _round_solid(r: float, height: float, apex: bool) -> tuple[str, dict[str, dg.Pt], float, float]:
    """A cylinder (or a cone with `apex`) standing on an ellipse: render code, key points, rx and ry."""
    s = min(300 / (2 * r), 360 / (height + 0.6 * r))
    rx, ry = r * s, 0.3 * r * s
    cx, by = W / 2, H / 2 + (height * s) / 2 + ry / 2
    ty = by - height * s
    pts = {
        "O": dg.rnd((cx, by)),
        "top": dg.rnd((cx, ty)),
        "rim": dg.rnd((cx + rx, by)),
        "left": dg.rnd((cx - rx, by)),
        "top_rim": dg.rnd((cx + rx, ty)),
        "top_left": dg.rnd((cx - rx, ty)),
    }
    code = canvas_code(W, H)
    code += dg.ellipse_arc(pts["O"], rx, ry, 0, math.pi) + dg.ellipse_arc(
        pts["O"], rx, ry, math.pi, 2 * math.pi, color="#444444", ls="--"
    )
    if apex:
        code += dg.segment(pts["left"], pts["top"]) + dg.segment(pts["rim"], pts["top"])
    else:
        code += dg.ellipse_arc(pts["top"], rx, ry, 0, 2 * math.pi)
        code += dg.segment(pts["left"], pts["top_left"]) + dg.segment(pts["rim"], pts["top_rim"])
    return code, pts, rx, ry


def _cylinder_solution(ask: str, pts, rx: float, ry: float, r: int, height: int, u: str, answer: str):
    """Shade the circular cross-section (volume) or the curved side (surface area), then add it up."""
    top, top_rim, left = pts["top"], pts["top_rim"], pts["top_left"]
    tool = tool_canvas_code(W, H)
    if ask == "cylinder_volume":
        tool += (
            f"t = np.linspace(0, 2 * np.pi, 100)\nax.fill({top[0]:.2f} + {rx:.2f} * np.cos(t), {top[1]:.2f} + "
            f"{ry:.2f} * np.sin(t), color='{dg.TOOL_COLOR}', alpha=0.4, zorder=3)\n"
        )
        tool += dg.segment(pts["rim"], top_rim, dg.TOOL_COLOR, 4, z=5)
        work = (
            f"Cross-section area = π × {r}² = {pi_str(r * r)} {u}²; volume = {pi_str(r * r)} × {height} = "
            f"{answer} {u}³."
        )
        steps = (
            "Every horizontal cross-section is the same circle, so volume = base area × height.",
            "Shade the circular cross-section and highlight the height.",
        )
    else:
        o = pts["O"]  # the curved side: between the front halves of the two end ellipses
        tool += (
            f"t = np.linspace(0, np.pi, 80)\nxs = {o[0]:.2f} + {rx:.2f} * np.cos(t)\n"
            f"ax.fill(np.concatenate([xs, xs[::-1]]), np.concatenate([{o[1]:.2f} + {ry:.2f} * np.sin(t), "
            f"{top[1]:.2f} + {ry:.2f} * np.sin(t)[::-1]]), color='{dg.TOOL_COLOR}', alpha=0.3, zorder=1)\n"
        )
        tool += dg.text(
            ((left[0] + top_rim[0]) / 2, (top[1] + pts["O"][1]) / 2), f"2π·{r}·{height}", 13, dg.TOOL_COLOR, box=True
        )
        work = (
            f"Two ends: 2 × π × {r}² = {pi_str(2 * r * r)}; side: 2π × {r} × {height} = "
            f"{pi_str(2 * r * height)}. Total = {answer} {u}²."
        )
        steps = (
            "The closed cylinder is two circular ends plus the curved side, which unrolls to a rectangle "
            "2πr wide and h tall.",
            "Shade the curved side and label its unrolled area.",
        )
    return (SolutionStep("think", steps[0]), SolutionStep("code", steps[1], tool), SolutionStep("think", work))


def _cylinder_scene(rng: random.Random, ask: str) -> Scene:
    r, height, u = rng.randint(2, 9), rng.randint(3, 15), rng.choice(UNITS)
    code, pts, rx, ry = _round_solid(r, height, apex=False)
    top, top_rim, left = pts["top"], pts["top_rim"], pts["top_left"]
    code += dg.segment(top, top_rim, lw=1.8) + dg.dot(top, size=5) + dg.text((top[0], top[1] - 16), "O")
    code += dg.text(((top[0] + top_rim[0]) / 2, top[1] + 14), f"{r} {u}", dg.VALUE_PT, box=True)
    h_text = f"{height} {u}"
    code += dg.text((left[0] - 14 - 5.5 * len(h_text), (left[1] + pts["left"][1]) / 2), h_text, dg.VALUE_PT, box=True)
    return Scene("cylinder", ask, (r, height), u, pts, code, rx, ry)


def _cylinder_codes(r: int, height: int, ask: str) -> tuple[Fraction, str, str]:
    """The value (times pi), sympy code (discs or ends plus rolled side integrated) and numpy code."""
    if ask == "cylinder_volume":
        value = Fraction(r * r * height)
        answer_code = f"print(integrate(pi * {r}**2, (z, 0, {height})))  # stacked discs of area pi r^2\n"
        check_code = f"import numpy as np\nprint(float(np.pi * {r}**2 * {height}))\n"
    else:
        value = Fraction(2 * r * (r + height))
        answer_code = f"print(2 * pi * {r}**2 + integrate(2 * pi * {r}, (z, 0, {height})))  # ends + rolled side\n"
        check_code = f"import numpy as np\nr, h = {r}, {height}\nprint(float(2 * np.pi * r * r + 2 * np.pi * r * h))\n"
    head = "from sympy import integrate, pi, symbols\nz = symbols('z')\n"
    return value, head + answer_code, check_code


def _cylinder(rng: random.Random, s: Scene) -> Draft:
    (r, height), u, ask, pts, code, top = s.dims, s.u, s.ask, s.pts, s.render, s.pts["top"]
    value, answer_code, check_code = _cylinder_codes(r, height, ask)
    answer = pi_str(value)
    solution = _cylinder_solution(ask, pts, s.rx, s.ry, r, height, u, answer)

    return Draft(
        family=FAMILY,
        concepts=("solid_geometry.cylinder_volume", "plane_geometry.circle_area")
        if ask == "cylinder_volume"
        else (
            "solid_geometry.cylinder_surface_area",
            "plane_geometry.circle_circumference",
            "plane_geometry.circle_area",
        ),
        domain="solid_geometry",
        difficulty=4,
        question=rng.choice(ROUND_Q[ask]).format(u=u),
        answer=answer,
        answer_kind="expression",
        render_code=code,
        answer_code=answer_code,
        check_code=check_code,
        solution=solution,
        elements=(NamedElement("O", "center", top[0], top[1]),),
        tools=("tool.region_shading", "tool.highlight", "tool.text_annotation"),
        width=W,
        height=H,
    )


CONE_TRIPLES = ((3, 4, 5), (4, 3, 5), (5, 12, 13), (6, 8, 10), (8, 6, 10), (8, 15, 17), (9, 12, 15), (12, 9, 15))


def _cone_figure(r: int, height: float, slant: int, u: str):
    """The cone with its base radius and slant edge labelled; the height is left for the tool."""
    code, pts, rx, ry = _round_solid(r, height, apex=True)
    o, apex, rim = pts["O"], pts["top"], pts["rim"]
    code += dg.segment(o, rim, lw=1.8) + dg.dot(o, size=5) + dg.dot(apex, size=5)
    code += dg.text((o[0] - 14, o[1] - 4), "O") + dg.text((apex[0], apex[1] - 18), "V")
    code += dg.text(((o[0] + rim[0]) / 2, o[1] + max(0.55 * ry, 14)), f"{r} {u}", dg.VALUE_PT, box=True)
    slant_text = f"{slant} {u}"
    code += dg.text(dg.side_label_pos(apex, rim, o, 12, slant_text), slant_text, dg.VALUE_PT, box=True)
    return code, (o, apex, rim)


def _cone_scene(rng: random.Random) -> Scene:
    if rng.random() < 0.5:
        r, h_int, slant = rng.choice(CONE_TRIPLES)
        height, exact = float(h_int), True
    else:
        while True:
            r, slant = rng.randint(3, 10), rng.randint(5, 16)
            height = math.sqrt(slant * slant - r * r) if slant > r + 1 else 0.0
            volume = math.pi * r * r * height / 3
            if height and sqrt_parts(Fraction(slant * slant - r * r))[1] != 1 and clear_of_tie(volume, 1):
                break
        exact = False
    u = rng.choice(UNITS)
    code, (o, apex, rim) = _cone_figure(r, height, slant, u)
    return Scene("cone", "cone_volume", (r, height, slant), u, {"O": o, "V": apex, "rim": rim}, code, exact=exact)


def _cone(rng: random.Random, s: Scene) -> Draft:
    """The height is hidden: h = sqrt(l^2 - r^2) first, then V = pi r^2 h / 3."""
    (r, height, slant), u, code, exact = s.dims, s.u, s.render, s.exact
    o, apex, rim = s.pts["O"], s.pts["V"], s.pts["rim"]
    fmt = "Give the exact value in terms of π." if exact else "Give the answer rounded to 1 decimal place."
    question = rng.choice(ROUND_Q["cone_volume"]).format(u=u, r=r, l=slant, fmt=fmt)
    out = "print(V)\n" if exact else "print(format(float(V.evalf(30)), '.1f'))\n"
    answer_code = (
        "from sympy import integrate, pi, sqrt, symbols\nz = symbols('z')\n"
        f"h = sqrt({slant}**2 - {r}**2)\n"
        f"V = integrate(pi * ({r} * (1 - z / h))**2, (z, 0, h))  # discs shrinking linearly to the apex\n"
    ) + out
    check = f"import numpy as np\nv = np.pi * {r}**2 * np.sqrt({slant}**2 - {r}**2) / 3\n"
    check_code = check + ("print(float(v))\n" if exact else "print(format(float(v), '.1f'))\n")
    answer = pi_str(Fraction(r * r * round(height), 3)) if exact else rounded(math.pi * r * r * height / 3, 1)
    h_sq = slant * slant - r * r
    h_text = str(round(height)) if exact else f"√{h_sq} = {sqrt_str(h_sq)}"
    tool = tool_canvas_code(W, H) + dg.shade([o, rim, apex], alpha=0.35)
    tool += dg.segment(apex, o, dg.TOOL_COLOR, 2.5, "--", 5) + dg.right_angle(o, apex, rim, 12, dg.TOOL_COLOR, 2)
    tool += dg.text((o[0] - 22, (o[1] + apex[1]) / 2), "h", 14, dg.TOOL_COLOR, box=True)
    solution = (
        SolutionStep(
            "think",
            "The volume needs the perpendicular height VO, which is not marked. VO, the "
            "radius and the slant height form a right triangle with the right angle at the centre O.",
        ),
        SolutionStep("code", "Draw the height VO and shade the right triangle with the radius and slant edge.", tool),
        SolutionStep("think", f"h² = {slant}² − {r}² = {h_sq}, so h = {h_text} {u}."),
        SolutionStep("think", f"V = (1/3)π × {r}² × h = {answer}{'' if exact else ' (to 1 decimal place)'} {u}³."),
    )
    return Draft(
        family=FAMILY,
        concepts=("solid_geometry.cone_volume", "solid_geometry.slant_height", "plane_geometry.pythagorean_theorem"),
        domain="solid_geometry",
        difficulty=5,
        question=question,
        answer=answer,
        answer_kind="expression" if exact else "number",
        render_code=code,
        answer_code=answer_code,
        check_code=check_code,
        solution=solution,
        elements=(NamedElement("V", "vertex", apex[0], apex[1]), NamedElement("O", "center", o[0], o[1])),
        tools=("tool.perpendicular", "tool.angle_mark", "tool.region_shading"),
        width=W,
        height=H,
    )
