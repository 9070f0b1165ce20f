"""Triangle area: on a unit grid, between two parallel lines, or (hardest) a second altitude from the area.

The stated answer is base*height/2 in Fractions; answer_code takes the shoelace area of the same vertices in
sympy and check_code the shapely polygon area (or the point-to-line distance for the second altitude).
The interactive solution draws the altitude that makes base*height/2 applicable.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from fractions import Fraction

from flywheel.records import NamedElement, SolutionStep
from generators.procedural import draw_geometry as dg
from generators.procedural.base import Draft, canvas_code, tool_canvas_code
from generators.procedural.exact_geometry import decimal_str, frac_str

FAMILY = "triangle_area"
W, H = 600, 540
NAMES = (("A", "B", "C"), ("P", "Q", "R"), ("D", "E", "F"), ("K", "L", "M"), ("X", "Y", "Z"))
TRIPLES = (
    (3, 4, 5),
    (4, 3, 5),
    (5, 12, 13),
    (12, 5, 13),
    (6, 8, 10),
    (8, 6, 10),
    (9, 12, 15),
    (12, 9, 15),
    (8, 15, 17),
    (15, 8, 17),
    (12, 16, 20),
    (16, 12, 20),
)
GRID_STEP = 42
EXACT = "Give the exact value as an integer or a fraction in lowest terms."
LATTICE_QUESTIONS = (
    "Triangle {t} is drawn on {g} in which each small square measures 1 unit by 1 unit. Find the area of "
    "triangle {t} in square units. " + EXACT,
    "The vertices of triangle {t} lie on grid points of {g} (each square is 1 unit wide). What is the area "
    "of triangle {t}, in square units? " + EXACT,
    "Using {g} of unit squares shown, compute the area enclosed by triangle {t} in square units. " + EXACT,
)
PARALLEL_QUESTIONS = (
    "Lines ℓ and m are parallel and {h} cm apart. Points {a} and {b} lie on ℓ with {a}{b} = {base} cm, and "
    "{c} lies on m. Find the area of triangle {a}{b}{c} in cm². Give the exact value (a decimal if needed).",
    "In the figure ℓ ∥ m, the distance between the lines is {h} cm and {a}{b} = {base} cm. What is the area "
    "of triangle {a}{b}{c}, in cm²? Give the exact value (a decimal if needed).",
    "Triangle {a}{b}{c} has its side {a}{b} ({base} cm) on line ℓ and its vertex {c} on line m, which is "
    "parallel to ℓ at a distance of {h} cm. Compute the exact area of the triangle in cm² (a decimal if "
    "needed).",
)
SECOND_QUESTIONS = (
    "In triangle {t}, {c}H is perpendicular to line {a}{b} with {c}H = {h} cm, {a}{b} = {ab} cm and "
    "{b}{c} = {bc} cm. Find the length of the altitude from {a} to line {b}{c}, in cm. " + EXACT,
    "The figure shows triangle {t} with the altitude {c}H = {h} cm drawn to line {a}{b}; {a}{b} = {ab} cm "
    "and {b}{c} = {bc} cm. How far is {a} from line {b}{c}? Answer in cm. " + EXACT,
    "Triangle {t} is drawn to scale with {a}{b} = {ab} cm, {b}{c} = {bc} cm and the height {c}H = {h} cm "
    "onto line {a}{b}. Work out the distance from {a} to line {b}{c} in cm. " + EXACT,
)


@dataclass(frozen=True)
class Scene:
    """What a figure shows, kept so the extensions (triangle_area_ext) can rebuild a parent's image exactly.

    `verts` are problem coordinates (A, B, C), `pix` their pixels; `base`/`height` are the side on the base
    line and the height onto it; `other` is BC in the second-altitude figure (0 elsewhere), `xc` C's abscissa
    in the parallel-lines figure. `labels` are the (name, kind, pixel) triples the figure names.
    """

    kind: str  # "lattice" | "parallel" | "second"
    verts: tuple[tuple[Fraction, Fraction], ...]
    pix: tuple[dg.Pt, ...]
    names: tuple[str, str, str]
    base: int
    height: int
    render: str
    labels: tuple[tuple[str, str, dg.Pt], ...]
    frame: dg.Frame
    axes: bool = False
    vertical: bool = False
    other: int = 0
    xc: Fraction = Fraction(0)


def make(rng: random.Random, difficulty: int) -> Draft:
    """Levels 1, 2, 4: lattice triangle (4 adds numbered axes and vertical bases); 3: parallel lines;
    5: find a second altitude from the area."""
    s = scene(rng, difficulty)
    if difficulty == 3:
        return _parallel_lines(rng, s)
    if difficulty == 5:
        return _second_altitude(rng, s)
    return _lattice(rng, difficulty, s)


def scene(rng: random.Random, difficulty: int) -> Scene:
    """The figure `make` draws at this level: all of its random draws except the question wording."""
    if difficulty == 3:
        return _parallel_scene(rng)
    if difficulty == 5:
        return _second_scene(rng)
    return _lattice_scene(rng, difficulty)


def _lattice_vertices(rng: random.Random, difficulty: int, lo: tuple[int, int], hi: tuple[int, int]):
    """Base, apex and sizes of a lattice triangle with an axis-parallel base that fits the grid."""
    while True:
        b, h = rng.randint(3, 8 if difficulty == 1 else 10), rng.randint(2, 7 if difficulty == 1 else 8)
        t = rng.randint(0, b)
        if difficulty > 1 and rng.random() < 0.5:  # apex beyond the base: the altitude falls outside
            t = rng.choice([rng.randint(-3, -1), rng.randint(b + 1, b + 3)])
        if difficulty == 1 and b * h % 2:
            continue
        side = rng.choice([1, -1])
        local = [(0, 0), (b, 0), (t, side * h)]
        vertical = difficulty == 4 and rng.random() < 0.5
        if vertical:
            local = [(v, u) for u, v in local]
        xs, ys = [p[0] for p in local], [p[1] for p in local]
        room_x, room_y = (hi[0] - lo[0]) - (max(xs) - min(xs)) - 2, (hi[1] - lo[1]) - (max(ys) - min(ys)) - 2
        if room_x < 0 or room_y < 0:
            continue
        dx = lo[0] + 1 - min(xs) + rng.randint(0, room_x)
        dy = lo[1] + 1 - min(ys) + rng.randint(0, room_y)
        return [(x + dx, y + dy) for x, y in local], b, h, vertical


def _lattice_scene(rng: random.Random, difficulty: int) -> Scene:
    axes = difficulty == 4
    lo, hi = ((-6, -5), (6, 5)) if axes else ((0, 0), (12, 10))
    origin = (W / 2, H / 2) if axes else ((W - 12 * GRID_STEP) / 2, H - (H - 10 * GRID_STEP) / 2)
    verts, b, h, vertical = _lattice_vertices(rng, difficulty, lo, hi)
    frame = dg.Frame(GRID_STEP, origin[0], origin[1])
    pix = [frame.px(p) for p in verts]
    n = rng.choice(NAMES)
    render = canvas_code(W, H) + dg.grid(origin, GRID_STEP, (lo[0], hi[0]), (lo[1], hi[1]), axes=axes)
    render += dg.polygon(pix, face="#9ecae1")
    centre = (sum(p[0] for p in pix) / 3, sum(p[1] for p in pix) / 3)
    for name, p in zip(n, pix, strict=True):
        render += dg.dot(p, size=5) + dg.text(dg.away(p, centre, 19), name, box=True)
    exact = tuple((Fraction(x), Fraction(y)) for x, y in verts)
    labels = tuple((name, "vertex", p) for name, p in zip(n, pix, strict=True))
    return Scene("lattice", exact, tuple(pix), n, b, h, render, labels, frame, axes=axes, vertical=vertical)


def _lattice(rng: random.Random, difficulty: int, s: Scene) -> Draft:
    b, h, vertical, pix, n, render = s.base, s.height, s.vertical, list(s.pix), s.names, s.render
    axes = s.axes
    verts = [(int(x), int(y)) for x, y in s.verts]
    area = Fraction(b * h, 2)
    tri = "".join(n)
    grid_words = "the coordinate grid" if axes else "a square grid"
    question = rng.choice(LATTICE_QUESTIONS).format(t=tri, g=grid_words)
    a, bb, c = verts
    answer_code = (
        "from sympy import Point, Polygon\n"
        f"area = abs(Polygon(Point({a[0]}, {a[1]}), Point({bb[0]}, {bb[1]}), Point({c[0]}, {c[1]})).area)\n"
        "print(area)\n"
    )
    check_code = f"from shapely.geometry import Polygon\nprint(float(Polygon({[tuple(v) for v in verts]}).area))\n"
    solution = _lattice_solution(pix, n, b, h, vertical, area)
    return _draft(
        s.labels,
        concepts=(
            ("plane_geometry.triangle_area", "plane_geometry.altitude_of_triangle", "measurement.grid_area")
            + (("analytic_geometry.coordinate_plane",) if axes else ())
        ),
        difficulty=difficulty,
        question=question,
        answer=frac_str(area),
        answer_kind="number" if area.denominator == 1 else "expression",
        render_code=render,
        answer_code=answer_code,
        check_code=check_code,
        solution=solution,
        tools=("tool.perpendicular", "tool.extend_segment", "tool.text_annotation"),
    )


def _foot_param(apex: dg.Pt, p: dg.Pt, q: dg.Pt) -> float:
    """Where the altitude's foot falls on pq: 0 at p, 1 at q, outside [0, 1] beyond the segment."""
    f = dg.foot(apex, p, q)
    return ((f[0] - p[0]) * (q[0] - p[0]) + (f[1] - p[1]) * (q[1] - p[1])) / ((q[0] - p[0]) ** 2 + (q[1] - p[1]) ** 2)


def _altitude_code(apex: dg.Pt, p: dg.Pt, q: dg.Pt, label: str) -> str:
    """Tool code body: the altitude from `apex` to line pq, extending pq when the foot falls outside it."""
    f, t = dg.rnd(dg.foot(apex, p, q)), _foot_param(apex, p, q)
    code = dg.segment(apex, f, color=dg.TOOL_COLOR, lw=2.5, ls="--", z=4)
    if t < 0 or t > 1:
        code += dg.segment(p if t < 0 else q, f, color=dg.TOOL_COLOR, lw=1.5, ls=":", z=4)
    far = p if abs(t) > abs(1 - t) else q  # the foot may sit on an endpoint; aim the mark at the other one
    code += dg.right_angle(f, apex, far, size=12, color=dg.TOOL_COLOR)
    pos = dg.side_label_pos(apex, f, far, 16, label)
    return code + dg.dot(f, color=dg.TOOL_COLOR, size=5) + dg.text(pos, label, size=13, color=dg.TOOL_COLOR, box=True)


def _lattice_solution(pix, n, b, h, vertical, area) -> tuple[SolutionStep, ...]:
    direction = "vertical" if vertical else "horizontal"
    outside = not -1e-9 <= _foot_param(pix[2], pix[0], pix[1]) <= 1 + 1e-9
    where = (
        f"outside the triangle, so side {n[0]}{n[1]} has to be extended to meet it"
        if outside
        else f"on side {n[0]}{n[1]}"
    )
    return (
        SolutionStep(
            "think",
            f"Side {n[0]}{n[1]} runs along a {direction} grid line; counting squares it is "
            f"{b} units long, so take it as the base. The height is the perpendicular distance "
            f"from {n[2]} to the line {n[0]}{n[1]}.",
        ),
        SolutionStep(
            "code",
            f"Draw the altitude from {n[2]} perpendicular to line {n[0]}{n[1]}.",
            tool_canvas_code(W, H) + _altitude_code(pix[2], pix[0], pix[1], f"h = {h}"),
        ),
        SolutionStep(
            "think",
            f"The altitude runs along a grid line and spans {h} squares, so h = {h}; its foot lies {where}.",
        ),
        SolutionStep("think", f"Area = 1/2 x base x height = 1/2 x {b} x {h} = {frac_str(area)} square units."),
    )


def _triangle_frame(points: list[tuple[float, float]]) -> dg.Frame:
    return dg.fit_frame(points, (70, 70, W - 70, H - 80))


def _draft(labels, **fields) -> Draft:
    """The fields every draft of this family shares, plus one NamedElement per (name, kind, pixel)."""
    elements = tuple(NamedElement(name, kind, p[0], p[1]) for name, kind, p in labels)
    return Draft(family=FAMILY, domain="plane_geometry", width=W, height=H, elements=elements, **fields)


def _parallel_figure(b: int, h: int, xc: float, n: tuple[str, str, str]):
    """Lines l and m, their distance as a dimension arrow, and the triangle with AB on l and C on m."""
    frame = dg.fit_frame([(min(0.0, xc), 0.0), (max(float(b), xc), float(h))], (70, 80, W - 150, H - 90))
    a, bb, c = frame.px((0, 0)), frame.px((b, 0)), frame.px((xc, h))
    render = canvas_code(W, H)
    for y, name in ((a[1], "ℓ"), (c[1], "m")):
        render += dg.segment((25, y), (W - 55, y), lw=1.8) + dg.text((W - 38, y), name, size=16)
    render += dg.polygon([a, bb, c], face="#a1d99b")
    arrow_x = W - 110
    render += (
        f"ax.annotate('', xy=({arrow_x}, {a[1]:.2f}), xytext=({arrow_x}, {c[1]:.2f}), "
        "arrowprops=dict(arrowstyle='<->', color='#555555', lw=1.5))\n"
    )
    render += dg.text((arrow_x + 36, (a[1] + c[1]) / 2), f"{h} cm", size=dg.VALUE_PT, box=True)
    render += dg.text(((a[0] + bb[0]) / 2, a[1] + 22), f"{b} cm", size=dg.VALUE_PT, box=True)
    for name, p, off in zip(n, (a, bb, c), ((-14, 18), (14, 18), (0, -20)), strict=True):
        render += dg.dot(p) + dg.text((p[0] + off[0], p[1] + off[1]), name, box=True)
    return render, (a, bb, c), frame


def _parallel_scene(rng: random.Random) -> Scene:
    b, h = rng.randint(5, 14), rng.randint(3, 10)
    xc = round(rng.uniform(-0.35 * b, 1.35 * b), 1)
    n = rng.choice(NAMES)
    render, pix, frame = _parallel_figure(b, h, xc, n)
    exact = ((Fraction(0), Fraction(0)), (Fraction(b), Fraction(0)), (Fraction(str(xc)), Fraction(h)))
    labels = tuple((name, "vertex", p) for name, p in zip(n, pix, strict=True))
    return Scene("parallel", exact, pix, n, b, h, render, labels, frame, xc=Fraction(str(xc)))


def _parallel_lines(rng: random.Random, s: Scene) -> Draft:
    """C slides along a line parallel to AB, so the height is the lines' distance, whatever C's position."""
    b, h, n, render, (a, bb, c) = s.base, s.height, s.names, s.render, s.pix
    xc = float(s.xc)
    area = Fraction(b * h, 2)
    answer_code = (
        "from sympy import Point, Polygon, Rational\n"
        f"area = abs(Polygon(Point(0, 0), Point({b}, 0), Point(Rational('{xc}'), {h})).area)\n"
        "print(area if area.q == 1 else format(float(area), '.1f'))\n"
    )
    check_code = f"from shapely.geometry import Polygon\nprint(Polygon([(0, 0), ({b}, 0), ({xc}, {h})]).area)\n"
    f = dg.foot(c, a, bb)
    tool = tool_canvas_code(W, H) + _altitude_code(c, (f[0] - 40, f[1]), (f[0] + 40, f[1]), f"{h} cm")
    solution = (
        SolutionStep(
            "think",
            f"Take {n[0]}{n[1]} = {b} cm as the base. The height is the perpendicular "
            f"distance from {n[2]} to line ℓ, which is the same everywhere along m because ℓ ∥ m.",
        ),
        SolutionStep("code", f"Drop the perpendicular from {n[2]} to line ℓ.", tool),
        SolutionStep(
            "think",
            f"The perpendicular is exactly the gap between the parallel lines, so the height "
            f"is {h} cm. Area = 1/2 x {b} x {h} = {decimal_str(area)} cm².",
        ),
    )
    return _draft(
        s.labels,
        concepts=(
            "plane_geometry.triangle_area",
            "plane_geometry.altitude_of_triangle",
            "plane_geometry.parallel_lines_transversal",
        ),
        difficulty=3,
        question=rng.choice(PARALLEL_QUESTIONS).format(a=n[0], b=n[1], c=n[2], base=b, h=h),
        answer=decimal_str(area),
        answer_kind="number",
        render_code=render,
        answer_code=answer_code,
        check_code=check_code,
        solution=solution,
        tools=("tool.perpendicular", "tool.angle_mark", "tool.text_annotation"),
    )


def _second_figure(c_len: int, h: int, a_len: int, foot_x: int, n: tuple[str, str, str]):
    """Triangle ABC with the altitude CH to line AB drawn, AB, BC and CH labelled."""
    # The tool's foot on line BC may fall outside the triangle; keep it on the canvas too.
    f_math = dg.foot((0.0, 0.0), (c_len, 0.0), (foot_x, h))
    frame = _triangle_frame([(0, 0), (c_len, 0), (foot_x, h), f_math])
    a, b, c, dd = frame.px((0, 0)), frame.px((c_len, 0)), frame.px((foot_x, h)), frame.px((foot_x, 0))
    render = canvas_code(W, H) + dg.polygon([a, b, c], face="#fdd0a2")
    if foot_x > c_len:
        render += dg.segment(b, dd, lw=1.5, ls="--")
    render += dg.segment(c, dd, lw=1.5, ls="--") + dg.right_angle(dd, c, a, size=12)
    render += dg.dimension(a, b, c, 44, f"{c_len} cm")
    render += dg.text(dg.side_label_pos(b, c, a, 14, f"{a_len} cm"), f"{a_len} cm", size=dg.VALUE_PT, box=True)
    h_pos = dg.side_label_pos(c, dd, b if foot_x < c_len else a, 12, f"{h} cm")
    render += dg.text(h_pos, f"{h} cm", size=dg.VALUE_PT, box=True)
    centre = ((a[0] + b[0] + c[0]) / 3, (a[1] + b[1] + c[1]) / 3)
    labels = [(name, "vertex", p) for name, p in zip(n, (a, b, c), strict=True)] + [("H", "point", dd)]
    for name, _, p in labels:
        pos = (p[0], p[1] + 20) if name == "H" else dg.away(p, centre, 20)
        render += dg.dot(p, size=5) + dg.text(pos, name, box=True)
    return render, labels, frame


def _second_scene(rng: random.Random) -> Scene:
    d, h, a_len = rng.choice(TRIPLES)
    if rng.random() < 0.6:  # the foot H lies between A and B, at least 2 from A
        c_len = rng.randint(d + 2, d + 12)
        foot_x = c_len - d
    else:  # H lies beyond B: the angle at B is obtuse
        c_len = rng.randint(4, 16)
        foot_x = c_len + d
    n = rng.choice(NAMES[:2])
    render, labels, frame = _second_figure(c_len, h, a_len, foot_x, n)
    exact = ((Fraction(0), Fraction(0)), (Fraction(c_len), Fraction(0)), (Fraction(foot_x), Fraction(h)))
    pix = tuple(p for _, _, p in labels[:3])
    return Scene("second", exact, pix, n, c_len, h, render, tuple(labels), frame, other=a_len)


def _second_altitude(rng: random.Random, s: Scene) -> Draft:
    """Area two ways: AB*CH/2 = BC*h_A/2, so the altitude to BC is AB*CH/BC."""
    c_len, h, a_len, n, render, labels = s.base, s.height, s.other, s.names, s.render, s.labels
    foot_x = int(s.verts[2][0])
    alt, area = Fraction(c_len * h, a_len), Fraction(c_len * h, 2)
    answer_code = (
        f"from sympy import Line, Point\nprint(Line(Point({c_len}, 0), Point({foot_x}, {h})).distance(Point(0, 0)))\n"
    )
    check_code = (
        "import numpy as np\n"
        f"A, B, C = np.array([0.0, 0.0]), np.array([{c_len}.0, 0.0]), np.array([{foot_x}.0, {h}.0])\n"
        "u, v = C - B, A - B\n"
        "print(abs(u[0] * v[1] - u[1] * v[0]) / np.linalg.norm(u))\n"
    )
    a, b, c = (p for _, _, p in labels[:3])
    solution = (
        SolutionStep(
            "think",
            f"With base {n[0]}{n[1]} = {c_len} cm and altitude {n[2]}H = {h} cm the area is "
            f"1/2 x {c_len} x {h} = {frac_str(area)} cm².",
        ),
        SolutionStep(
            "code",
            f"Draw the altitude from {n[0]} to line {n[1]}{n[2]} (extended if needed).",
            tool_canvas_code(W, H) + _altitude_code(a, b, c, "h"),
        ),
        SolutionStep(
            "think",
            f"The same area is 1/2 x {n[1]}{n[2]} x h = 1/2 x {a_len} x h. So h = 2 x "
            f"{frac_str(area)} / {a_len} = {frac_str(alt)} cm.",
        ),
    )
    question = rng.choice(SECOND_QUESTIONS).format(t="".join(n), a=n[0], b=n[1], c=n[2], h=h, ab=c_len, bc=a_len)
    return _draft(
        labels,
        concepts=("plane_geometry.triangle_area", "plane_geometry.altitude_of_triangle"),
        difficulty=5,
        question=question,
        answer=frac_str(alt),
        answer_kind="expression",
        render_code=render,
        answer_code=answer_code,
        check_code=check_code,
        solution=solution,
        tools=("tool.perpendicular", "tool.extend_segment", "tool.angle_mark"),
    )
