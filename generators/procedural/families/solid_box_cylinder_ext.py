"""Extensions of solid_box_cylinder (issue 5): another measure of the same solid, or a cut or carved solid built on it.

The parent's figure comes back from `solid_box_cylinder.scene(random.Random(parent_seed), level)`. Parallel:
the cuboid's next measure (volume -> surface -> space diagonal -> volume), the cylinder's other measure, the
cone's total surface area. Sequential adds a construction whose answer starts from the parent's: a pyramid cut
from the cuboid (volume), the cuboid halved (surface), the diagonal's angle with the base (diagonal), a cone
carved from the cylinder (volume), the cylinder halved along its axis (surface), the cone's top cut off (cone).
"""

from __future__ import annotations

import math
import random
from dataclasses import replace
from fractions import Fraction

from flywheel.records import NamedElement, SolutionStep
from generators.procedural import draw_geometry as dg
from generators.procedural.base import Draft, tool_canvas_code
from generators.procedural.exact_geometry import clear_of_tie, frac_str, pi_str, rounded, sqrt_parts, sqrt_str
from generators.procedural.families import solid_box_cylinder as sb
from generators.procedural.families.solid_box_cylinder import BOX_Q, ROUND_Q, H, Scene, W

NEXT = {"volume": "surface", "surface": "diagonal", "diagonal": "volume"}
LEVEL = {"volume": 1, "surface": 2, "diagonal": 3}
BOX_CONCEPTS = {
    "volume": ("solid_geometry.cuboid_volume", "solid_geometry.oblique_projection"),
    "surface": ("solid_geometry.cuboid_surface_area", "solid_geometry.faces_edges_vertices"),
    "diagonal": ("solid_geometry.space_diagonal", "plane_geometry.pythagorean_theorem"),
}


def _parent(parent_seed: int, parent_level: int) -> tuple[Scene, Draft]:
    return sb.scene(random.Random(parent_seed), parent_level), sb.make(random.Random(parent_seed), parent_level)


def _places(v: float) -> int:
    return next(p for p in (1, 2, 3) if clear_of_tie(v, p))


def parallel(rng: random.Random, parent_seed: int, parent_level: int) -> Draft:
    s, parent = _parent(parent_seed, parent_level)
    if s.kind == "cuboid":
        ask = NEXT[s.ask]
        (w, d, h), pts = s.dims, list(s.pts.values())
        value, answer_code, check_code = sb._cuboid_codes(w, d, h, ask)
        answer = sqrt_str(value) if ask == "diagonal" else str(value)
        return replace(
            parent,
            concepts=BOX_CONCEPTS[ask],
            difficulty=LEVEL[ask],
            question=rng.choice(BOX_Q[ask]).format(u=s.u),
            answer=answer,
            answer_kind="expression" if ask == "diagonal" and sqrt_parts(value)[1] != 1 else "number",
            answer_code=answer_code,
            check_code=check_code,
            solution=sb._cuboid_solution(pts, w, d, h, s.u, ask, answer),
        )
    if s.kind == "cylinder":
        ask = "cylinder_surface" if s.ask == "cylinder_volume" else "cylinder_volume"
        r, height = s.dims
        value, answer_code, check_code = sb._cylinder_codes(r, height, ask)
        answer = pi_str(value)
        return replace(
            parent,
            concepts=("solid_geometry.cylinder_volume", "plane_geometry.circle_area")
            if ask == "cylinder_volume"
            else ("solid_geometry.cylinder_surface_area", "plane_geometry.circle_circumference"),
            difficulty=4 if ask == "cylinder_surface" else 3,
            question=rng.choice(ROUND_Q[ask]).format(u=s.u),
            answer=answer,
            answer_code=answer_code,
            check_code=check_code,
            solution=sb._cylinder_solution(ask, s.pts, s.rx, s.ry, r, height, s.u, answer),
        )
    return _cone_surface(s, parent)


def _cone_surface(s: Scene, parent: Draft) -> Draft:
    """Base disc plus the curved side, which unrolls to a sector of radius l and arc 2πr: area πrl."""
    r, _, slant = s.dims
    answer = pi_str(Fraction(r * (r + slant)))
    o, apex, rim = s.pts["O"], s.pts["V"], s.pts["rim"]
    left = (2 * o[0] - rim[0], o[1])
    tool = tool_canvas_code(W, H) + dg.shade([left, rim, apex], alpha=0.3)
    tool += dg.segment(apex, rim, dg.TOOL_COLOR, 4, z=5)
    tool += dg.text((apex[0], (apex[1] + o[1]) / 2), f"π·{r}·{slant}", 13, dg.TOOL_COLOR, box=True)
    solution = (
        SolutionStep(
            "think",
            "The surface is the base disc plus the curved side. Unrolled, the side is a sector of radius l (the "
            "slant height) whose arc is the base circumference 2πr, so its area is 1/2·l·2πr = πrl.",
        ),
        SolutionStep("code", "Shade the curved side and highlight the slant height.", tool),
        SolutionStep(
            "think",
            f"Base π·{r}² = {pi_str(r * r)}; side π·{r}·{slant} = {pi_str(r * slant)}. Total = {answer} {s.u}².",
        ),
    )
    return replace(
        parent,
        concepts=("solid_geometry.cone_surface_area", "solid_geometry.slant_height", "plane_geometry.sector_area"),
        difficulty=3,
        question=(
            f"The cone has base radius {r} {s.u} and slant height {slant} {s.u}, as marked. Find its total surface "
            f"area (base included) in {s.u}². Give the exact value in terms of π."
        ),
        answer=answer,
        answer_kind="expression",
        answer_code=(
            "from sympy import Rational, pi\n"
            f"r, l = {r}, {slant}\n"
            "print(Rational(1, 2) * l**2 * (2 * pi * r / l) + pi * r**2)  # the unrolled sector plus the base\n"
        ),
        check_code=f"import numpy as np\nprint(float(np.pi * {r} * ({r} + {slant})))\n",
        solution=solution,
        tools=("tool.region_shading", "tool.highlight", "tool.text_annotation"),
    )


def sequential(rng: random.Random, parent_seed: int, parent_level: int) -> Draft:
    s, parent = _parent(parent_seed, parent_level)
    if s.kind == "cuboid":
        return {"volume": _pyramid_left, "surface": _half_box, "diagonal": _diagonal_angle}[s.ask](s, parent)
    if s.kind == "cylinder":
        return _carved_cone(s, parent) if s.ask == "cylinder_volume" else _half_cylinder(s, parent)
    return _frustum(s, parent)


def _mid(p: dg.Pt, q: dg.Pt) -> dg.Pt:
    return dg.rnd(((p[0] + q[0]) / 2, (p[1] + q[1]) / 2))


def _pyramid_left(s: Scene, parent: Draft) -> Draft:
    """Apex M at the centre of the top face over the base ABFE: the pyramid is a third of the box."""
    (w, d, h), p = s.dims, s.pts
    m = _mid(p["D"], p["G"])
    render = parent.render_code + dg.dot(m, color=dg.ACCENT, size=6)
    for corner, hidden in (("A", False), ("B", False), ("F", False), ("E", True)):
        render += dg.segment(m, p[corner], color=dg.ACCENT, lw=1.6 if hidden else 2, ls="--" if hidden else "-")
    render += dg.text((m[0], m[1] - 14), "M", color=dg.ACCENT, box=True)
    answer = str(2 * w * d * h // 3) if (2 * w * d * h) % 3 == 0 else frac_str(Fraction(2 * w * d * h, 3))
    tool = tool_canvas_code(W, H) + dg.shade([p["A"], p["B"], p["F"], p["E"]], alpha=0.4)
    tool += dg.segment(m, _mid(p["A"], p["F"]), dg.TOOL_COLOR, 2.5, "--", 5)
    return replace(
        parent,
        concepts=(
            "solid_geometry.cuboid_volume",
            "solid_geometry.pyramid_volume",
            "solid_geometry.composite_solid_volume",
        ),
        difficulty=2,
        question=(
            f"In the cuboid ABCDEFGH (dimensions marked), M is the centre of the top face DCGH. The pyramid MABFE is "
            f"cut away. Find the volume of the solid that remains, in {s.u}³. Give the exact value."
        ),
        answer=answer,
        answer_kind="number" if "/" not in answer else "expression",
        render_code=render,
        answer_code=(
            "from sympy import Matrix, Rational\n"
            f"box = abs(Matrix([[{w}, 0, 0], [0, {d}, 0], [0, 0, {h}]]).det())\n"
            f"print(box - Rational(1, 3) * {w} * {d} * {h})\n"
        ),
        check_code=f"import numpy as np\nprint(float({w * d * h} * (1 - 1 / 3)))\n",
        solution=(
            SolutionStep("think", f"The cuboid's volume is {w} × {d} × {h} = {parent.answer} {s.u}³."),
            SolutionStep("code", "Shade the pyramid's base ABFE and draw its height from M.", tool),
            SolutionStep(
                "think",
                f"The pyramid has the box's base and height, so its volume is 1/3 × {parent.answer}. What remains "
                f"is {parent.answer} − {frac_str(Fraction(w * d * h, 3))} = {answer} {s.u}³.",
            ),
        ),
        elements=(*parent.elements, NamedElement("M", "point", m[0], m[1])),
        tools=("tool.region_shading", "tool.perpendicular", "tool.text_annotation"),
    )


def _half_box(s: Scene, parent: Draft) -> Draft:
    """Cut through the midpoints of the w-edges: each half keeps half the old faces and gains a d×h face."""
    (w, d, h), p = s.dims, s.pts
    cut = {"P": _mid(p["A"], p["B"]), "Q": _mid(p["D"], p["C"]), "R": _mid(p["H"], p["G"]), "S": _mid(p["E"], p["F"])}
    render = parent.render_code + dg.shade([cut["P"], cut["Q"], cut["R"], cut["S"]], color=dg.ACCENT, alpha=0.25)
    for a, b, hidden in (("P", "Q", False), ("Q", "R", False), ("R", "S", True), ("S", "P", True)):
        render += dg.segment(cut[a], cut[b], color=dg.ACCENT, lw=1.6 if hidden else 2.2, ls="--" if hidden else "-")
    for name, off in (("P", (12, -12)), ("Q", (12, 14))):  # inside the front face, clear of the edge labels
        render += dg.dot(cut[name], color=dg.ACCENT, size=5)
        render += dg.text((cut[name][0] + off[0], cut[name][1] + off[1]), name, 13, dg.ACCENT)
    value = w * d + w * h + 2 * d * h
    tool = tool_canvas_code(W, H) + dg.shade([cut["P"], cut["Q"], cut["R"], cut["S"]], alpha=0.45)
    tool += dg.text(_mid(cut["P"], cut["R"]), f"{d}×{h}", 12, dg.TOOL_COLOR, box=True)
    return replace(
        parent,
        concepts=(
            "solid_geometry.cuboid_surface_area",
            "solid_geometry.cross_sections",
            "solid_geometry.faces_edges_vertices",
        ),
        difficulty=3,
        question=(
            f"The cuboid ABCDEFGH (dimensions marked) is cut into two equal halves by the plane through the midpoints "
            f"P, Q of AB and DC and of HG and EF, as drawn. Find the total surface area of one half, in {s.u}². "
            "Give the exact value."
        ),
        answer=str(value),
        answer_kind="number",
        render_code=render,
        answer_code=(
            "from sympy import Matrix, Rational\n"
            f"u, v, t = Matrix([Rational({w}, 2), 0, 0]), Matrix([0, {d}, 0]), Matrix([0, 0, {h}])\n"
            "print(2 * sum(p.cross(q).norm() for p, q in ((u, v), (u, t), (v, t))))  # the half is a cuboid\n"
        ),
        check_code=f"import numpy as np\nS = 2 * ({w * d} + {w * h} + {d * h})\nprint(float(S / 2 + {d} * {h}))\n",
        solution=(
            SolutionStep(
                "think",
                f"The whole cuboid's surface is 2 × ({w * h} + {w * d} + {d * h}) = {parent.answer} {s.u}². Each "
                "half keeps half of it, since the cut halves the front, back, top and bottom and takes one end.",
            ),
            SolutionStep("code", f"Shade the new cut face PQ, a {d} × {h} rectangle.", tool),
            SolutionStep(
                "think",
                f"One half: {parent.answer} / 2 + {d} × {h} = {value - d * h} + {d * h} = {value} {s.u}².",
            ),
        ),
        elements=(*parent.elements, *(NamedElement(n, "point", cut[n][0], cut[n][1]) for n in "PQ")),
        tools=("tool.region_shading", "tool.text_annotation", "tool.highlight"),
    )


def _diagonal_angle(s: Scene, parent: Draft) -> Draft:
    """The angle between AG and the base: sin = FG / AG, with AG the parent's answer."""
    (w, d, h), p = s.dims, s.pts
    render = parent.render_code + dg.segment(p["A"], p["G"], color=dg.ACCENT, lw=2.2)
    render += dg.segment(p["A"], p["F"], color=dg.ACCENT, lw=1.6, ls="--") + dg.arc(
        p["A"], p["F"], p["G"], 34, dg.ACCENT, 2
    )
    render += dg.text(dg.bisector_pos(p["A"], p["F"], p["G"], 52), "α", dg.VALUE_PT + 2, dg.ACCENT, box=True)
    angle = math.degrees(math.asin(h / math.sqrt(w * w + d * d + h * h)))
    places = _places(angle)
    answer = rounded(angle, places)
    tool = (
        tool_canvas_code(W, H)
        + dg.shade([p["A"], p["F"], p["G"]], alpha=0.4)
        + dg.segment(p["F"], p["G"], dg.TOOL_COLOR, 4, z=5)
    )
    return replace(
        parent,
        concepts=("solid_geometry.space_diagonal", "trigonometry.sine_cosine_tangent", "trigonometry.inverse_trig"),
        difficulty=4,
        question=(
            f"In the cuboid ABCDEFGH (dimensions marked), the space diagonal AG and the base diagonal AF are drawn. "
            f"Find the angle α between AG and the base ABFE, in degrees. Give the answer rounded to {places} "
            f"decimal place{'s' if places > 1 else ''}."
        ),
        answer=answer,
        answer_kind="number",
        render_code=render,
        answer_code=(
            "from sympy import Point3D, asin, deg\n"
            f"AG = Point3D(0, 0, 0).distance(Point3D({w}, {d}, {h}))\n"
            f"print(format(float(deg(asin({h} / AG)).evalf(30)), '.{places}f'))\n"
        ),
        check_code=(
            "import numpy as np\n"
            f"g = np.array([{w}.0, {d}.0, {h}.0])\nf = np.array([{w}.0, {d}.0, 0.0])\n"
            "angle = np.degrees(np.arccos(g @ f / (np.linalg.norm(g) * np.linalg.norm(f))))\n"
            f"print(format(float(angle), '.{places}f'))\n"
        ),
        solution=(
            SolutionStep(
                "think",
                f"First AG: AF² = {w}² + {d}² = {w * w + d * d} and AG² = AF² + {h}², so AG = {parent.answer} {s.u}.",
            ),
            SolutionStep("code", "Shade right triangle AFG (right angle at F) and highlight the edge FG.", tool),
            SolutionStep(
                "think",
                f"In triangle AFG, sin α = FG / AG = {h} / {parent.answer}, so α = arcsin({h} / {parent.answer}) ≈ "
                f"{answer}°.",
            ),
        ),
        tools=("tool.region_shading", "tool.angle_mark", "tool.highlight"),
    )


def _carved_cone(s: Scene, parent: Draft) -> Draft:
    """A cone on the top face with its apex P at the base centre is carved out: two thirds remain."""
    (r, height), p = s.dims, s.pts
    apex = p["O"]
    render = parent.render_code + dg.segment(p["top_left"], apex, color=dg.ACCENT, lw=2)
    render += dg.segment(p["top_rim"], apex, color=dg.ACCENT, lw=2) + dg.dot(apex, color=dg.ACCENT, size=6)
    render += dg.text((apex[0], apex[1] + 18), "P", color=dg.ACCENT, box=True)
    answer = pi_str(Fraction(2 * r * r * height, 3))
    tool = tool_canvas_code(W, H) + dg.shade([p["top_left"], p["top_rim"], apex], alpha=0.35)
    tool += dg.segment(p["top"], apex, dg.TOOL_COLOR, 2.5, "--", 5)
    return replace(
        parent,
        concepts=(
            "solid_geometry.cylinder_volume",
            "solid_geometry.cone_volume",
            "solid_geometry.composite_solid_volume",
        ),
        difficulty=5,
        question=(
            f"A cone whose base is the top face of the cylinder and whose apex is the centre P of the bottom face is "
            f"carved out of the cylinder, as drawn. Find the volume of what remains, in {s.u}³. Give the exact value "
            "in terms of π."
        ),
        answer=answer,
        answer_kind="expression",
        render_code=render,
        answer_code=(
            "from sympy import integrate, pi, symbols\nz = symbols('z')\n"
            f"print(integrate(pi * ({r}**2 - ({r} * z / {height})**2), (z, 0, {height})))  # ring cross-sections\n"
        ),
        check_code=f"import numpy as np\nV = np.pi * {r}**2 * {height}\nprint(float(V - V / 3))\n",
        solution=(
            SolutionStep("think", f"The cylinder's volume is π × {r}² × {height} = {parent.answer} {s.u}³."),
            SolutionStep("code", "Shade the carved cone and draw its height along the axis.", tool),
            SolutionStep(
                "think",
                f"The cone has the same base and height, so it takes 1/3 × {parent.answer}. What remains is "
                f"2/3 × {parent.answer} = {answer} {s.u}³.",
            ),
        ),
        elements=(*parent.elements, NamedElement("P", "point", apex[0], apex[1])),
        tools=("tool.region_shading", "tool.perpendicular", "tool.text_annotation"),
    )


def _half_cylinder(s: Scene, parent: Draft) -> Draft:
    """Cut along the axis: each half keeps half the surface and gains a 2r × h rectangle."""
    (r, height), p = s.dims, s.pts
    rect = [p["left"], p["rim"], p["top_rim"], p["top_left"]]
    render = parent.render_code + dg.shade(rect, color=dg.ACCENT, alpha=0.2)
    render += dg.segment(p["left"], p["rim"], color=dg.ACCENT, lw=2) + dg.segment(
        p["top_left"], p["top_rim"], color=dg.ACCENT, lw=2
    )
    answer = f"{pi_str(r * (r + height))} + {2 * r * height}"
    tool = tool_canvas_code(W, H) + dg.shade(rect, alpha=0.4)
    tool += dg.text(_mid(p["left"], p["top_rim"]), f"{2 * r}×{height}", 13, dg.TOOL_COLOR, box=True)
    return replace(
        parent,
        concepts=(
            "solid_geometry.cylinder_surface_area",
            "solid_geometry.cross_sections",
            "plane_geometry.circle_area",
        ),
        difficulty=5,
        question=(
            f"The closed cylinder is cut in half by the plane through its axis, as drawn. Find the total surface "
            f"area of one half (its flat cut face included), in {s.u}². Give the exact value in terms of π."
        ),
        answer=answer,
        answer_kind="expression",
        render_code=render,
        answer_code=(
            "from sympy import integrate, pi, symbols\nz = symbols('z')\n"
            f"print(pi * {r}**2 + integrate(pi * {r}, (z, 0, {height})) + 2 * {r} * {height})  # ends, side, cut\n"
        ),
        check_code=(
            f"import numpy as np\nS = 2 * np.pi * {r} * ({r} + {height})\nprint(float(S / 2 + 2 * {r} * {height}))\n"
        ),
        solution=(
            SolutionStep(
                "think",
                f"The whole cylinder's surface is 2π × {r}² + 2π × {r} × {height} = {parent.answer} {s.u}². Each half "
                "keeps exactly half of it: half of each end and half of the curved side.",
            ),
            SolutionStep("code", f"Shade the new flat face, a {2 * r} × {height} rectangle through the axis.", tool),
            SolutionStep(
                "think",
                f"One half: {parent.answer} / 2 + {2 * r} × {height} = {pi_str(r * (r + height))} + {2 * r * height}, "
                f"that is {answer} {s.u}².",
            ),
        ),
        tools=("tool.region_shading", "tool.text_annotation", "tool.highlight"),
    )


def _frustum(s: Scene, parent: Draft) -> Draft:
    """The cone's top half (by height) is cut off: a similar cone at scale 1/2 holds 1/8 of the volume."""
    (r, height, slant), p = s.dims, s.pts
    _, _, rx, ry = sb._round_solid(r, height, apex=True)
    c = _mid(p["O"], p["V"])
    render = parent.render_code + dg.ellipse_arc(c, rx / 2, ry / 2, 0, math.pi, color=dg.ACCENT)
    render += dg.ellipse_arc(c, rx / 2, ry / 2, math.pi, 2 * math.pi, color=dg.ACCENT, ls="--")
    render += dg.dot(c, color=dg.ACCENT, size=5) + dg.text((c[0] + 15, c[1] - 2), "M", 14, dg.ACCENT)
    volume = math.pi * r * r * height / 3 * 7 / 8
    places = _places(volume)
    answer = pi_str(Fraction(7 * r * r * round(height), 24)) if s.exact else rounded(volume, places)
    h_sq = slant * slant - r * r
    out = "print(V)\n" if s.exact else f"print(format(float(V.evalf(30)), '.{places}f'))\n"
    fmt = (
        "Give the exact value in terms of π."
        if s.exact
        else f"Give the answer rounded to {places} decimal place{'s' if places > 1 else ''}."
    )
    tool = tool_canvas_code(W, H) + dg.shade([p["V"], (c[0] - rx / 2, c[1]), (c[0] + rx / 2, c[1])], alpha=0.4)
    tool += dg.segment(p["V"], p["O"], dg.TOOL_COLOR, 2.5, "--", 5)
    return replace(
        parent,
        concepts=("solid_geometry.frustum_volume", "solid_geometry.similar_solids", "solid_geometry.cone_volume"),
        difficulty=5,
        question=(
            f"The cone has base radius {r} {s.u} and slant height {slant} {s.u}. It is cut by the plane parallel to "
            f"the base through the midpoint M of its height VO, as drawn, and the top part is removed. Find the volume "
            f"of the remaining frustum in {s.u}³. {fmt}"
        ),
        answer=answer,
        answer_kind="expression" if s.exact else "number",
        render_code=render,
        answer_code=(
            "from sympy import integrate, pi, sqrt, symbols\nz = symbols('z')\n"
            f"h = sqrt({h_sq})\n"
            f"V = integrate(pi * ({r} * (1 - z / h))**2, (z, 0, h / 2))  # discs from the base up to M\n" + out
        ),
        check_code=(
            f"import numpy as np\nv = np.pi * {r}**2 * np.sqrt({h_sq}) / 3 * (1 - 0.5**3)\n"
            + ("print(float(v))\n" if s.exact else f"print(format(float(v), '.{places}f'))\n")
        ),
        solution=(
            SolutionStep(
                "think",
                f"First the whole cone: h = √({slant}² − {r}²) = {sqrt_str(h_sq)} and V = (1/3)π × {r}² × h = "
                f"{parent.answer} {s.u}³.",
            ),
            SolutionStep("code", "Shade the small cone above the cut and draw the height VO through M.", tool),
            SolutionStep(
                "think",
                "The removed top is a cone similar to the whole with scale 1/2, so it holds (1/2)³ = 1/8 of the "
                f"volume. The frustum keeps 7/8 of {parent.answer}: {answer} {s.u}³.",
            ),
        ),
        elements=(*parent.elements, NamedElement("M", "point", c[0], c[1])),
        tools=("tool.region_shading", "tool.perpendicular", "tool.text_annotation"),
    )
