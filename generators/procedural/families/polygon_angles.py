"""Angle chasing in a convex polygon drawn to scale: the interior angle sum (n-2)*180, an exterior angle on
an extended side, and (hardest, multiple choice) angles written in terms of x.

The stated answer subtracts the given angles from (n-2)*180; answer_code solves the angle-sum equation in
sympy; check_code measures the angle on the polygon's own vertex coordinates with numpy (so it also checks
that the figure agrees with the numbers on it). The tool marks the unknown angle and the ones it depends on.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from flywheel.records import NamedElement, SolutionStep
from generators.procedural import draw_geometry as dg
from generators.procedural.base import Draft, canvas_code, tool_canvas_code

FAMILY = "polygon_angles"
W, H = 600, 560
POLY = {3: "triangle", 4: "quadrilateral", 5: "pentagon", 6: "hexagon"}
RANGE = {3: (30, 125), 4: (55, 160), 5: (80, 165), 6: (95, 170)}  # readable interior angles per size
LETTERS = "ABCDEF"
DEGREES = "Give the answer in degrees as a whole number."
QUESTIONS = (
    "The interior angles of {poly} {name} are marked in the figure. Find the angle x, in degrees. " + DEGREES,
    "In {poly} {name} (drawn to scale) all interior angles but one are given. What is x, in degrees? " + DEGREES,
    "Using the angle measures marked on {poly} {name}, calculate the interior angle x at {v}. " + DEGREES,
)
EXTERIOR_Q = (
    "In {poly} {name}, side {p}{e} is extended beyond {e}, forming the exterior angle marked {ext}°. The other "
    "marked angles are interior angles. Find x, in degrees. " + DEGREES,
    "Side {p}{e} of {poly} {name} is produced past {e}; the exterior angle there is {ext}°. Using the other "
    "interior angles shown, work out the interior angle x at {v}. " + DEGREES,
)
CHOICE_Q = (
    "The interior angles of {poly} {name} are given in degrees in terms of x, as marked. What is the size "
    "of its largest interior angle? {options} Answer with the letter of the correct option.",
    "{poly_cap} {name} has interior angles (in degrees) written in terms of x in the figure. Which option "
    "gives the largest of its interior angles? {options} Answer with the letter of the correct option.",
)


@dataclass(frozen=True)
class Scene:
    """The figure as `make` drew it (kept for polygon_angles_ext). `k` is the vertex of x (levels 1-4) or of
    the largest angle (level 5, where `pairs` holds each angle as c*x + d and `x` its value)."""

    angles: tuple[int, ...]
    verts: tuple[tuple[float, float], ...]
    pix: tuple[dg.Pt, ...]
    letters: str
    k: int
    render: str
    ext_at: int | None = None
    x: int = 0
    pairs: tuple[tuple[int, int], ...] = ()


def make(rng: random.Random, difficulty: int) -> Draft:
    """1: triangle; 2: quadrilateral; 3: pentagon/hexagon; 4: with an exterior angle; 5: angles in x (choice)."""
    s = scene(rng, difficulty)
    if difficulty == 5:
        return _in_terms_of_x(rng, s)
    return _missing_angle(rng, difficulty, s)


def scene(rng: random.Random, difficulty: int) -> Scene:
    """The figure `make` draws at this level: all of its random draws except the question wording."""
    n = {1: 3, 2: 4, 3: rng.choice([5, 6]), 4: rng.choice([4, 5]), 5: rng.choice([5, 6])}[difficulty]
    angles, verts = _polygon(rng, n)
    letters, pix = LETTERS[:n], _layout(verts)
    if difficulty == 5:
        x, pairs = _expressions(rng, angles)
        texts = {i: _expr_text(c, d) for i, (c, d) in enumerate(pairs)}
        render = _outline(pix, letters) + _angle_marks(pix, texts, angles)
        k = angles.index(max(angles))
        return Scene(tuple(angles), tuple(verts), tuple(pix), letters, k, render, None, x, tuple(pairs))
    k = rng.randrange(n)  # the unknown vertex
    labels = {i: f"{a}°" for i, a in enumerate(angles)}
    labels[k] = "x"
    ext_at = None
    render = _outline(pix, letters)
    if difficulty == 4:
        ext_at = (k + rng.randint(1, n - 1)) % n
        del labels[ext_at]
        render += _exterior_mark(pix, ext_at, f"{180 - angles[ext_at]}°")
    render += _angle_marks(pix, labels, angles)
    return Scene(tuple(angles), tuple(verts), tuple(pix), letters, k, render, ext_at)


def _polygon(rng: random.Random, n: int) -> tuple[list[int], list[tuple[float, float]]]:
    """Integer interior angles summing to (n-2)*180 and a convex polygon with exactly those angles.

    Walking counter-clockwise, the heading turns by the exterior angle 180 - a at each vertex; the first
    n-2 side lengths are random and the last two are solved for so the walk closes."""
    lo, hi = RANGE[n]
    while True:
        angles = [rng.randint(lo, hi) for _ in range(n - 1)]
        angles.append((n - 2) * 180 - sum(angles))
        if not lo <= angles[-1] <= hi:
            continue
        rng.shuffle(angles)
        heading = [rng.uniform(0, 2 * math.pi)]
        for a in angles[1:]:
            heading.append(heading[-1] + math.radians(180 - a))
        lengths = [rng.uniform(0.75, 1.3) for _ in range(n - 2)]
        sx = sum(length * math.cos(t) for length, t in zip(lengths, heading[: n - 2], strict=True))
        sy = sum(length * math.sin(t) for length, t in zip(lengths, heading[: n - 2], strict=True))
        c1, s1 = math.cos(heading[-2]), math.sin(heading[-2])
        c2, s2 = math.cos(heading[-1]), math.sin(heading[-1])
        det = c1 * s2 - c2 * s1
        l1, l2 = (-sx * s2 + sy * c2) / det, (-sy * c1 + sx * s1) / det
        if not (0.6 < l1 < 1.6 and 0.6 < l2 < 1.6):
            continue
        verts, x, y = [], 0.0, 0.0
        for length, t in zip([*lengths, l1, l2], heading, strict=True):
            verts.append((x, y))
            x, y = x + length * math.cos(t), y + length * math.sin(t)
        return angles, verts


def _layout(verts: list[tuple[float, float]]):
    frame = dg.fit_frame(verts, (85, 75, W - 85, H - 75))
    return [frame.px(v) for v in verts]


def _angle_marks(
    pix, labels: dict[int, str], angles: list[int], highlight: set[int] = frozenset(), push: float = 0
) -> str:
    """Arcs with their text at the vertices in `labels`, the text pushed further out for narrow angles
    (`push` moves it further still, e.g. below a label that is already there)."""
    n, code = len(pix), ""
    for i, text in labels.items():
        prev, nxt = pix[i - 1], pix[(i + 1) % n]
        color = dg.TOOL_COLOR if i in highlight else "black"
        code += dg.arc(pix[i], prev, nxt, 22, color=color, lw=2.5 if i in highlight else 1.5)
        dist = 40 + 3.5 * len(text) + (18 if angles[i] < 70 else 0) + push
        code += dg.text(dg.bisector_pos(pix[i], prev, nxt, dist), text, dg.VALUE_PT, color=color, box=True)
    return code


def _outline(pix, letters: str) -> str:
    centre = (sum(p[0] for p in pix) / len(pix), sum(p[1] for p in pix) / len(pix))
    code = canvas_code(W, H) + dg.polygon(pix, face="#fee391")
    for name, p in zip(letters, pix, strict=True):
        code += dg.dot(p, size=5) + dg.text(dg.away(p, centre, 20), name)
    return code


def _measure_code(verts, i: int) -> str:
    """numpy source measuring the interior angle at vertex i from the exact (unrounded) coordinates."""
    n = len(verts)
    v, a, b = verts[i], verts[i - 1], verts[(i + 1) % n]
    return (
        "import numpy as np\n"
        f"V, P, Q = np.array({list(v)!r}), np.array({list(a)!r}), np.array({list(b)!r})\n"
        "u, w = P - V, Q - V\n"
        "angle = np.degrees(np.arccos(np.dot(u, w) / (np.linalg.norm(u) * np.linalg.norm(w))))\n"
    )


def _missing_angle(rng: random.Random, difficulty: int, s: Scene) -> Draft:
    angles, verts, pix, letters, k, ext_at, render = list(s.angles), s.verts, s.pix, s.letters, s.k, s.ext_at, s.render
    n = len(angles)
    fmt = dict(poly=POLY[n], name=letters, v=letters[k])
    if ext_at is None:
        question = rng.choice(QUESTIONS).format(**fmt)
    else:
        fmt |= dict(p=letters[ext_at - 1], e=letters[ext_at], ext=180 - angles[ext_at])
        question = rng.choice(EXTERIOR_Q).format(**fmt)
    given = [a for i, a in enumerate(angles) if i not in (k, ext_at)]
    ext_term = f" + (180 - {180 - angles[ext_at]})" if ext_at is not None else ""
    answer_code = (
        "from sympy import Eq, solve, symbols\n"
        "x = symbols('x')\n"
        f"print(solve(Eq(x + {' + '.join(map(str, given))}{ext_term}, ({n} - 2) * 180), x)[0])\n"
    )
    check_code = _measure_code(verts, k) + "print(float(angle))\n"
    answer = (n - 2) * 180 - sum(a for i, a in enumerate(angles) if i != k)
    assert answer == angles[k]
    return Draft(
        family=FAMILY,
        concepts=_concepts(n, ext_at is not None),
        domain="plane_geometry",
        difficulty=difficulty,
        question=question,
        answer=str(answer),
        answer_kind="number",
        render_code=render,
        answer_code=answer_code,
        check_code=check_code,
        solution=_solution(pix, angles, letters, k, ext_at),
        elements=tuple(NamedElement(c, "vertex", p[0], p[1]) for c, p in zip(letters, pix, strict=True)),
        tools=("tool.angle_mark", "tool.highlight", "tool.text_annotation"),
        width=W,
        height=H,
    )


def _concepts(n: int, exterior: bool) -> tuple[str, ...]:
    if n == 3:
        return ("plane_geometry.triangle_angle_sum", "plane_geometry.polygon_interior_angles")
    if exterior:
        return (
            "plane_geometry.polygon_interior_angles",
            "plane_geometry.polygon_exterior_angles",
            "plane_geometry.angles_on_straight_line",
        )
    return ("plane_geometry.polygon_interior_angles", "plane_geometry.triangle_angle_sum")


def _exterior_mark(pix, j: int, text: str, color: str = "black") -> str:
    """Side (j-1 -> j) extended past vertex j, with the exterior angle between it and side j -> j+1."""
    n = len(pix)
    prev, v, nxt = pix[j - 1], pix[j], pix[(j + 1) % n]
    u = dg.unit(v[0] - prev[0], v[1] - prev[1])
    far = dg.rnd((v[0] + 75 * u[0], v[1] + 75 * u[1]))
    return (
        dg.segment(v, far, color=color, lw=1.8, ls="--")
        + dg.arc(v, far, nxt, 22, color=color)
        + dg.text(dg.bisector_pos(v, far, nxt, 48), text, dg.VALUE_PT, color=color, box=True)
    )


def _triangulate(pix, k: int) -> str:
    """Dashed diagonals from vertex k: they cut the polygon into n-2 triangles, the reason for (n-2)*180."""
    n = len(pix)
    return "".join(
        dg.segment(pix[k], pix[j], color=dg.ACCENT, lw=1.6, ls="--", z=3)
        for j in range(n)
        if (j - k) % n not in (0, 1, n - 1)
    )


def _parallel_through(pix, k: int, angles: list[int]) -> str:
    """Triangle only: the line through vertex k parallel to the opposite side, with the two alternate
    angles it creates beside x (they copy the angles at the other two vertices)."""
    v, b, c = pix[k], pix[(k + 1) % 3], pix[(k + 2) % 3]
    u = dg.unit(b[0] - c[0], b[1] - c[1])
    ends = [dg.rnd((v[0] + s * 130 * u[0], v[1] + s * 130 * u[1])) for s in (1, -1)]
    code = dg.segment(ends[0], ends[1], color=dg.ACCENT, lw=2, ls="--", z=3)
    for end, side, j in ((ends[0], b, (k + 1) % 3), (ends[1], c, (k + 2) % 3)):
        code += dg.arc(v, end, side, 30, color=dg.ACCENT, lw=2)
        pos = dg.bisector_pos(v, end, side, 50 + (12 if angles[j] < 50 else 0))
        code += dg.text(pos, f"{angles[j]}°", dg.VALUE_PT, color=dg.ACCENT, box=True)
    return code


def _solution(pix, angles: list[int], letters: str, k: int, ext_at: int | None) -> tuple[SolutionStep, ...]:
    n, total = len(angles), (len(angles) - 2) * 180
    tool = tool_canvas_code(W, H) + _angle_marks(pix, {k: "x"}, angles, {k})
    if n == 3:
        tool += _parallel_through(pix, k, angles)
        b, c = letters[(k + 1) % 3], letters[(k + 2) % 3]
        why = (
            f"Through {letters[k]} draw the line parallel to {b}{c}: the alternate angles it makes with "
            f"{letters[k]}{b} and {letters[k]}{c} equal the angles at {b} and {c}, and together with x they "
            "fill a straight angle, so the angles of a triangle add up to 180°."
        )
        construct = f"Draw the line through {letters[k]} parallel to {b}{c} and mark the alternate angles."
    else:
        tool += _triangulate(pix, k)
        why = (
            f"Diagonals from {letters[k]} split the {POLY[n]} into {n - 2} triangles, so its interior angles "
            f"add up to ({n} − 2) × 180° = {total}°."
        )
        construct = f"Draw the diagonals from {letters[k]} and mark the unknown angle x."
    steps = [SolutionStep("think", why)]
    if ext_at is not None:
        interior = angles[ext_at]
        tool += _angle_marks(pix, {ext_at: f"{interior}°"}, angles, {ext_at})
        steps.append(
            SolutionStep(
                "think",
                f"At {letters[ext_at]} the interior and exterior angles lie on a straight line, so the "
                f"interior angle there is 180° − {180 - interior}° = {interior}°.",
            )
        )
    steps.append(SolutionStep("code", construct, tool))
    terms = " − ".join(f"{angles[i]}°" for i in range(n) if i != k)
    steps.append(SolutionStep("think", f"x = {total}° − {terms} = {angles[k]}°."))
    return tuple(steps)


def _expressions(rng: random.Random, angles: list[int]) -> tuple[int, list[tuple[int, int]]]:
    """A value of x and, per vertex, (c, d) with c*x + d equal to the true angle; most angles involve x."""
    while True:
        x = rng.randint(12, 40)
        coeffs = [rng.choice([0, 1, 1, 2, 2, 3]) for _ in angles]
        if sum(1 for c in coeffs if c) < len(angles) - 2:
            continue
        pairs = [(c, a - c * x) for c, a in zip(coeffs, angles, strict=True)]
        if all(-60 <= d <= 100 for _, d in pairs):
            return x, pairs


def _expr_text(c: int, d: int) -> str:
    """`(2x + 10)°`, `x°`, `(x − 15)°` or `95°`."""
    if c == 0:
        return f"{d}°"
    head = "x" if c == 1 else f"{c}x"
    if d == 0:
        return f"{head}°"
    return f"({head} {'+' if d > 0 else '−'} {abs(d)})°"


def _options(rng: random.Random, best: int, angles: list[int], x: int, pairs, n: int) -> list[int]:
    """The right value plus three plausible slips: a wrong angle sum, x itself, the runner-up angle."""
    sum_c, sum_d = sum(c for c, _ in pairs), sum(d for _, d in pairs)
    slips = []
    wrong_x = ((n - 3) * 180 - sum_d) / sum_c  # using the angle sum of a polygon with one side fewer
    slips.append(round(max(c * wrong_x + d for c, d in pairs)))
    slips += [x, sorted(angles)[-2], best + rng.choice([-20, -10, 10, 20])]
    options = [best]
    for value in slips + [best + k for k in (15, -15, 25, -25, 30)]:
        if value > 0 and value not in options and len(options) < 4:
            options.append(value)
    rng.shuffle(options)
    return options


def _choice_codes(pairs, verts, table: dict[str, int]) -> tuple[str, str]:
    """sympy solves the angle-sum equation for x; numpy measures the drawn polygon. Both pick a letter."""
    n = len(pairs)
    answer_code = (
        "from sympy import Eq, solve, symbols\n"
        "x = symbols('x')\n"
        f"angles = [{', '.join(f'{c}*x + ({d})' for c, d in pairs)}]\n"
        f"xv = solve(Eq(sum(angles), ({n} - 2) * 180), x)[0]\n"
        "largest = max(a.subs(x, xv) for a in angles)\n"
        f"options = {table!r}\n"
        "print([k for k, v in options.items() if v == largest][0])\n"
    )
    check_code = (
        "import numpy as np\n"
        f"V = np.array({[list(v) for v in verts]!r})\n"
        "angles = []\n"
        "for i in range(len(V)):  # interior angles measured on the drawn polygon\n"
        "    u, w = V[i - 1] - V[i], V[(i + 1) % len(V)] - V[i]\n"
        "    angles.append(np.degrees(np.arccos(u @ w / (np.linalg.norm(u) * np.linalg.norm(w)))))\n"
        f"options = {table!r}\n"
        "print(min(options, key=lambda k: abs(options[k] - max(angles))))\n"
    )
    return answer_code, check_code


def _in_terms_of_x(rng: random.Random, s: Scene) -> Draft:
    angles, verts, letters, pix, x, pairs, render = (
        list(s.angles),
        s.verts,
        s.letters,
        s.pix,
        s.x,
        list(s.pairs),
        s.render,
    )
    n = len(angles)
    texts = {i: _expr_text(c, d) for i, (c, d) in enumerate(pairs)}
    best = max(angles)
    options = _options(rng, best, angles, x, pairs, n)
    letter = "ABCD"[options.index(best)]
    table = dict(zip("ABCD", options, strict=True))
    opts_text = "  ".join(f"({k}) {v}°" for k, v in table.items())
    question = rng.choice(CHOICE_Q).format(poly=POLY[n], poly_cap=POLY[n].capitalize(), name=letters, options=opts_text)
    answer_code, check_code = _choice_codes(pairs, verts, table)
    k = angles.index(best)
    sum_c, sum_d = sum(c for c, _ in pairs), sum(d for _, d in pairs)
    push = 3.5 * len(texts[k]) + 8  # the new value goes just beyond the expression already written there
    tool = tool_canvas_code(W, H) + _triangulate(pix, k)
    tool += _angle_marks(pix, {k: f"= {best}°"}, angles, {k}, push=push)
    values = ", ".join(f"{letters[i]} = {a}°" for i, a in enumerate(angles))
    total = (n - 2) * 180
    solution = (
        SolutionStep(
            "think",
            f"A {POLY[n]} has interior angle sum ({n} − 2) × 180° = {total}°. Adding the marked "
            f"expressions gives {sum_c}x {'+' if sum_d >= 0 else '−'} {abs(sum_d)} = {total}, so x = {x}.",
        ),
        SolutionStep("think", f"Substituting x = {x}: {values}."),
        SolutionStep("code", f"Split the {POLY[n]} into triangles from {letters[k]} and mark the largest angle.", tool),
        SolutionStep("think", f"The largest interior angle is at {letters[k]}: {best}°, which is option {letter}."),
    )
    return Draft(
        family=FAMILY,
        concepts=("plane_geometry.polygon_interior_angles", "plane_geometry.triangle_angle_sum"),
        domain="plane_geometry",
        difficulty=5,
        question=question,
        answer=letter,
        answer_kind="choice",
        render_code=render,
        answer_code=answer_code,
        check_code=check_code,
        solution=solution,
        elements=tuple(NamedElement(c, "vertex", p[0], p[1]) for c, p in zip(letters, pix, strict=True)),
        tools=("tool.auxiliary_line", "tool.angle_mark", "tool.highlight"),
        width=W,
        height=H,
    )
