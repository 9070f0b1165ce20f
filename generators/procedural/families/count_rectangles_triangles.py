"""Counting shapes: rectangles or squares in a grid of unit squares (some unit segments missing at higher
levels), or triangles in a triangle cut by cevians (and a segment parallel to the base at higher levels).

A procedural family (contract in generators/procedural/base.py). The stated answer enumerates shapes side by
side (grid) or line triple by line triple (triangle, exact Fractions); answer_code uses the closed-form
binomial counts in sympy where they apply and otherwise a different exact enumeration; check_code counts
with numpy from the other direction (prefix sums / vertex triples). The tool step highlights one counted shape.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from fractions import Fraction as F
from itertools import combinations

from flywheel.records import NamedElement, SolutionStep
from generators.procedural.base import Draft, canvas_code, tool_canvas_code

FAMILY = "count_rectangles_triangles"
W, H = 640, 520
WHOLE = "Give the answer as a whole number."

Pt = tuple[F, F]
Seg = tuple[Pt, Pt]


# ---------------------------------------------------------------- grids of unit squares
@dataclass(frozen=True)
class Grid:
    m: int  # squares across
    n: int  # squares down
    missing: frozenset[tuple[str, int, int]]  # ("h", i, j): (i,j)-(i+1,j); ("v", i, j): (i,j)-(i,j+1)
    shape: str  # "rectangles", "squares" or "oblongs" (rectangles that are not squares)

    @property
    def cell(self) -> float:
        return min(480 / self.m, 380 / self.n, 90)

    def px(self, i: float, j: float) -> tuple[float, float]:
        c = self.cell
        return round((W - c * self.m) / 2 + c * i, 2), round(60 + (400 - c * self.n) / 2 + c * j, 2)

    def drawn(self, kind: str, i: int, j: int) -> bool:
        return (kind, i, j) not in self.missing


def rectangles(g: Grid) -> list[tuple[int, int, int, int]]:
    """Every (x1, y1, x2, y2) whose four sides are fully drawn and whose shape matches the question."""
    found = []
    for x1, x2 in combinations(range(g.m + 1), 2):
        for y1, y2 in combinations(range(g.n + 1), 2):
            sq = x2 - x1 == y2 - y1
            if (g.shape == "squares" and not sq) or (g.shape == "oblongs" and sq):
                continue
            sides = [("h", i, y) for i in range(x1, x2) for y in (y1, y2)]
            sides += [("v", x, j) for j in range(y1, y2) for x in (x1, x2)]
            if all(g.drawn(*s) for s in sides):
                found.append((x1, y1, x2, y2))
    return found


def _grid(rng: random.Random, difficulty: int) -> Grid:
    size = {1: (2, 3), 2: (2, 4), 3: (3, 5), 4: (3, 5), 5: (4, 5)}[difficulty]
    shapes = {1: ("squares", "rectangles"), 2: ("rectangles", "squares"), 3: ("rectangles", "squares", "oblongs")}
    shape = rng.choice(shapes.get(difficulty, ("rectangles", "squares")))
    m, n = rng.randint(*size), rng.randint(*size)
    if difficulty == 1 and shape == "rectangles":
        n = 1
    missing: set[tuple[str, int, int]] = set()
    for _ in range({4: 2, 5: rng.randint(3, 4)}.get(difficulty, 0)):
        if rng.random() < 0.5:
            missing.add(("h", rng.randrange(m), rng.randint(1, n - 1)))
        else:
            missing.add(("v", rng.randint(1, m - 1), rng.randrange(n)))
    return Grid(m, n, frozenset(missing), shape)


GRID_RENDER = """
for i in range(m):
    for j in range(n + 1):
        if ('h', i, j) not in missing:
            ax.plot([X0 + C * i, X0 + C * (i + 1)], [Y0 + C * j] * 2, color='black', lw=2.5, solid_capstyle='round')
for i in range(m + 1):
    for j in range(n):
        if ('v', i, j) not in missing:
            ax.plot([X0 + C * i] * 2, [Y0 + C * j, Y0 + C * (j + 1)], color='black', lw=2.5, solid_capstyle='round')
"""

GRID_ANSWER_FULL = {
    "rectangles": "print(sp.binomial(m + 1, 2) * sp.binomial(n + 1, 2))\n",
    "squares": "k = sp.symbols('k')\nprint(sp.summation((m - k + 1) * (n - k + 1), (k, 1, min(m, n))))\n",
    "oblongs": "k = sp.symbols('k')\nsquares = sp.summation((m - k + 1) * (n - k + 1), (k, 1, min(m, n)))\n"
    "print(sp.binomial(m + 1, 2) * sp.binomial(n + 1, 2) - squares)\n",
}

# Pairs of horizontal lines first, then the columns whose vertical run between them is complete.
GRID_ANSWER_RUNS = """
def run(kind, fixed, a, b):
    return all((kind, i, fixed) not in missing for i in range(a, b)) if kind == 'h' else \\
        all((kind, fixed, j) not in missing for j in range(a, b))
total = 0
for y1 in range(n + 1):
    for y2 in range(y1 + 1, n + 1):
        cols = [x for x in range(m + 1) if run('v', x, y1, y2)]
        for a in range(len(cols)):
            for b in range(a + 1, len(cols)):
                x1, x2 = cols[a], cols[b]
                if shape == 'squares' and x2 - x1 != y2 - y1 or shape == 'oblongs' and x2 - x1 == y2 - y1:
                    continue
                total += run('h', y1, x1, x2) and run('h', y2, x1, x2)
print(total)
"""

GRID_CHECK = """
Hs = np.ones((n + 1, m), int)
Vs = np.ones((m + 1, n), int)
for kind, i, j in missing:
    if kind == 'h':
        Hs[j, i] = 0
    else:
        Vs[i, j] = 0
hc = np.concatenate([np.zeros((n + 1, 1), int), np.cumsum(Hs, axis=1)], axis=1)
vc = np.concatenate([np.zeros((m + 1, 1), int), np.cumsum(Vs, axis=1)], axis=1)
x1, x2, y1, y2 = np.meshgrid(*[np.arange(m + 1)] * 2, *[np.arange(n + 1)] * 2, indexing='ij')
ok = (x1 < x2) & (y1 < y2)
w, h = x2 - x1, y2 - y1
full = ((hc[y1, x2] - hc[y1, x1]) == w) & ((hc[y2, x2] - hc[y2, x1]) == w)
full &= ((vc[x1, y2] - vc[x1, y1]) == h) & ((vc[x2, y2] - vc[x2, y1]) == h)
if shape == 'squares':
    ok &= w == h
elif shape == 'oblongs':
    ok &= w != h
print(float(np.sum(ok & full)))
"""


# ---------------------------------------------------------------- triangles cut by segments
@dataclass(frozen=True)
class Tri:
    """Triangle ABC (B, C on the base) with cevians from A to BC, from B to AC and an optional segment PQ
    parallel to BC. Points are exact, in units with y up; `names` labels every endpoint."""

    a: Pt
    b: Pt
    c: Pt
    feet_a: tuple[Pt, ...]
    feet_b: tuple[Pt, ...]
    par: tuple[Pt, Pt] | None
    names: tuple[tuple[str, Pt], ...]

    def segments(self) -> list[Seg]:
        segs = [(self.a, self.b), (self.b, self.c), (self.c, self.a)]
        segs += [(self.a, d) for d in self.feet_a] + [(self.b, e) for e in self.feet_b]
        return segs + ([self.par] if self.par else [])


SCALE, TX0, TY0 = 40, 80, 440  # pixels per unit; pixel position of the point (0, 0)


def tpx(p: Pt) -> tuple[float, float]:
    return round(TX0 + SCALE * float(p[0]), 2), round(TY0 - SCALE * float(p[1]), 2)


def _meet(s: Seg, t: Seg) -> Pt | None:
    """Where two segments cross (ends included), exactly; None if parallel or off either segment."""
    (x1, y1), (x2, y2) = s
    (x3, y3), (x4, y4) = t
    den = (x2 - x1) * (y4 - y3) - (y2 - y1) * (x4 - x3)
    if den == 0:
        return None
    u = ((x3 - x1) * (y4 - y3) - (y3 - y1) * (x4 - x3)) / den
    v = ((x3 - x1) * (y2 - y1) - (y3 - y1) * (x2 - x1)) / den
    if 0 <= u <= 1 and 0 <= v <= 1:
        return (x1 + u * (x2 - x1), y1 + u * (y2 - y1))
    return None


def triangles(t: Tri) -> list[tuple[Pt, Pt, Pt]]:
    """Triples of drawn lines meeting pairwise in three distinct points on the segments."""
    found = []
    for s1, s2, s3 in combinations(t.segments(), 3):
        p, q, r = _meet(s1, s2), _meet(s1, s3), _meet(s2, s3)
        if None not in (p, q, r) and len({p, q, r}) == 3:
            found.append((p, q, r))
    return found


def _tri(rng: random.Random, difficulty: int) -> Tri:
    if difficulty == 1:
        na, nb = rng.randint(1, 3), 0
    elif difficulty == 2:
        na, nb = rng.choice(((1, 1), (2, 1), (1, 2)))
    elif difficulty == 3:
        na, nb = rng.choice(((2, 1), (1, 2), (2, 2), (3, 1)))
    else:
        na, nb = (rng.randint(1, 2), rng.randint(0, 1)) if difficulty == 4 else (2, rng.randint(1, 2))
    a, b, c = (F(rng.randint(4, 8)), F(9)), (F(0), F(0)), (F(12), F(0))
    feet_a = tuple((F(x), F(0)) for x in sorted(rng.sample(range(2, 11, 2), na)))
    ss = sorted(rng.sample((F(1, 4), F(1, 3), F(1, 2), F(2, 3), F(3, 4)), nb))
    feet_b = tuple((a[0] + s * (c[0] - a[0]), a[1] + s * (c[1] - a[1])) for s in ss)
    par = None
    if difficulty >= 4:
        r = rng.choice((F(1, 3), F(1, 2), F(2, 3)))
        par = ((a[0] - r * a[0], a[1] - r * a[1]), (a[0] + r * (c[0] - a[0]), a[1] - r * a[1]))
    letters = iter("DEFGHJKLMN")
    names = [("A", a), ("B", b), ("C", c)] + [(next(letters), p) for p in feet_a + feet_b]
    names += [(next(letters), p) for p in par] if par else []
    return Tri(a, b, c, feet_a, feet_b, par, tuple(names))


TRI_RENDER = """
def at(p):
    return X0 + S * p[0], Y0 - S * p[1]
for p, q in segments:
    (x1, y1), (x2, y2) = at(p), at(q)
    ax.plot([x1, x2], [y1, y2], color='black', lw=2.2, solid_capstyle='round')
cx = sum(at(p)[0] for p in corners) / 3
cy = sum(at(p)[1] for p in corners) / 3
for name, p in names:
    x, y = at(p)
    dx, dy = x - cx, y - cy
    d = (dx * dx + dy * dy) ** 0.5 or 1
    ax.plot(x, y, 'o', ms=5, color='black')
    ax.text(x + 20 * dx / d, y + 20 * dy / d, name, ha='center', va='center', fontsize=15, weight='bold')
"""

TRI_ANSWER_EXACT = """
segs = [sp.Segment(sp.Point(*p), sp.Point(*q)) for p, q in segments]
def meet(s, t):
    r = s.intersection(t)
    return r[0] if len(r) == 1 and isinstance(r[0], sp.Point) else None
cross = {(i, j): meet(segs[i], segs[j]) for i, j in combinations(range(len(segs)), 2)}
count = 0
for i, j, k in combinations(range(len(segs)), 3):
    p, q, r = cross[(i, j)], cross[(i, k)], cross[(j, k)]
    count += None not in (p, q, r) and len({p, q, r}) == 3
print(count)
"""

TRI_CHECK = """
def cr(a, b):
    return a[0] * b[1] - a[1] * b[0]
segs = np.array(segments, dtype=float)
pts = [tuple(p) for s in segs for p in s]
for (p, q), (r, s) in combinations(segs, 2):
    d = cr(q - p, s - r)
    if abs(d) > 1e-12:
        u, v = cr(r - p, s - r) / d, cr(r - p, q - p) / d
        if -1e-9 <= u <= 1 + 1e-9 and -1e-9 <= v <= 1 + 1e-9:
            pts.append(tuple(p + u * (q - p)))
pts = np.unique(np.round(np.array(pts), 9), axis=0)
def on(seg, x):
    p, q = seg
    return abs(cr(q - p, x - p)) < 1e-6 and -1e-6 <= np.dot(x - p, q - p) <= np.dot(q - p, q - p) + 1e-6
share = [[any(on(s, pts[i]) and on(s, pts[j]) for s in segs) for j in range(len(pts))] for i in range(len(pts))]
total = 0
for i, j, k in combinations(range(len(pts)), 3):
    if share[i][j] and share[i][k] and share[j][k] and abs(cr(pts[j] - pts[i], pts[k] - pts[i])) > 1e-7:
        total += 1
print(float(total))
"""


def _grid_parts(rng: random.Random, g: Grid) -> tuple:
    found = rectangles(g)
    full = rectangles(Grid(g.m, g.n, frozenset(), g.shape))
    what = {
        "rectangles": "rectangles of any size (squares included)",
        "squares": "squares of any size",
        "oblongs": "rectangles that are not squares",
    }[g.shape]
    q = rng.choice(
        (
            f"The figure is a {g.m} by {g.n} grid of unit squares. How many {what} can be traced along its lines? ",
            f"Count all the {what} whose four sides lie on the drawn lines of this {g.m} x {g.n} grid. ",
            f"How many {what} are there in the figure? ",
        )
    )
    if g.missing:
        q += "Some unit segments of the grid are missing; a shape counts only if all four of its sides are drawn. "
    head = f"m, n = {g.m}, {g.n}\nshape = {g.shape!r}\nmissing = {set(g.missing)!r}\n"
    sym = "import sympy as sp\n" + head + (GRID_ANSWER_RUNS if g.missing else GRID_ANSWER_FULL[g.shape])
    why = {
        "rectangles": f"A rectangle is fixed by choosing 2 of the {g.m + 1} vertical lines and 2 of the "
        f"{g.n + 1} horizontal lines: C({g.m + 1},2) x C({g.n + 1},2) = {len(full)}.",
        "squares": f"A k x k square fits in (m - k + 1)(n - k + 1) places; summing over k gives {len(full)}.",
        "oblongs": f"All rectangles minus the squares gives {len(full)}.",
    }[g.shape]
    if g.missing:
        why += f" With the missing segments only {len(found)} of these {len(full)} keep all four sides."
    x1, y1, x2, y2 = rng.choice(found)
    box = (*g.px(x1, y1), *g.px(x2, y2))
    tool = tool_canvas_code(W, H) + (
        f"x1, y1, x2, y2 = {box!r}\n"
        "ax.add_patch(plt.Rectangle((x1, y1), x2 - x1, y2 - y1, facecolor='gold', alpha=0.45, edgecolor='red',\n"
        "                           lw=4))\n"
    )
    x0, y0 = g.px(0, 0)
    render = canvas_code(W, H) + f"m, n, C, X0, Y0 = {g.m}, {g.n}, {g.cell}, {x0}, {y0}\n"
    render += f"missing = {set(g.missing)!r}\n" + GRID_RENDER
    corners = (("top-left", 0, 0), ("top-right", g.m, 0), ("bottom-left", 0, g.n), ("bottom-right", g.m, g.n))
    elements = tuple(NamedElement(name, "vertex", *g.px(i, j)) for name, i, j in corners)
    first = "counting.counting_squares" if g.shape == "squares" else "counting.counting_rectangles"
    concepts = (first, "counting.combinations", "spatial_logic.grid_counting")
    check = "import numpy as np\n" + head + GRID_CHECK
    return q + WHOLE, len(found), sym, check, render, tool, why, elements, concepts


def _tri_parts(rng: random.Random, t: Tri) -> tuple:
    found = triangles(t)
    names = dict((p, n) for n, p in t.names)
    parts = [f"segments from A to {_words([names[d] for d in t.feet_a])} on BC"]
    if t.feet_b:
        parts.append(f"from B to {_words([names[e] for e in t.feet_b])} on AC")
    if t.par:
        parts.append(f"segment {names[t.par[0]]}{names[t.par[1]]} parallel to BC")
    q = f"The figure shows triangle ABC with {_words(parts, ', and ')}. " + rng.choice(
        (
            "How many triangles of any size are there in the figure? ",
            "Count every triangle whose three sides lie along the drawn segments. ",
            "How many different triangles can be found in the figure? ",
        )
    )
    na, nb = len(t.feet_a), len(t.feet_b)
    if t.par:
        sym = "import sympy as sp\nfrom itertools import combinations\n"
        sym += f"segments = {_exact_src(t)}\n" + TRI_ANSWER_EXACT
        why = "Each triangle uses three drawn lines that meet pairwise in three different points of the segments; "
        why += f"checking every triple of the {len(t.segments())} segments gives {len(found)}."
    else:
        sym = f"import sympy as sp\na, b = {na}, {nb}\n"
        sym += "print(sp.binomial(a + 2, 2) * (b + 1) + sp.binomial(b + 2, 2) * (a + 1) - (a + 1) * (b + 1))\n"
        why = (
            f"Every line passes through A or B. Two lines through A ({na + 2} of them) and one through B not through "
            f"A give C({na + 2},2) x {nb + 1}; two through B and one through A give C({nb + 2},2) x {na + 1}; the "
            f"{(na + 1) * (nb + 1)} using AB are counted twice: total {len(found)}."
        )
    check = "import numpy as np\nfrom itertools import combinations\n" + f"segments = {_float_src(t)}\n" + TRI_CHECK
    render = canvas_code(W, H) + (
        f"S, X0, Y0 = {SCALE}, {TX0}, {TY0}\nsegments = {_float_src(t)}\ncorners = {_float_pts([t.a, t.b, t.c])}\n"
        f"names = {[(n, (float(p[0]), float(p[1]))) for n, p in t.names]!r}\n" + TRI_RENDER
    )
    tri = [tpx(p) for p in rng.choice(found)]
    tool = tool_canvas_code(W, H) + (
        f"tri = {tri!r}\n"
        "ax.fill([p[0] for p in tri], [p[1] for p in tri], facecolor='gold', alpha=0.5, edgecolor='red', lw=4)\n"
    )
    elements = tuple(NamedElement(n, "vertex" if n in "ABC" else "point", *tpx(p)) for n, p in t.names)
    concepts = ("counting.counting_triangles", "counting.systematic_listing", "spatial_logic.overlapping_shapes_count")
    return q + WHOLE, len(found), sym, check, render, tool, why, elements, concepts


def _words(items: list[str], last: str = " and ") -> str:
    """'D', 'D and E', 'D, E and F'."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + last + items[-1]


def _exact_src(t: Tri) -> str:
    """Segments as sympy source with exact Rationals."""

    def num(c: F) -> str:
        return str(c.numerator) if c.denominator == 1 else f"sp.Rational({c.numerator}, {c.denominator})"

    return "[" + ", ".join(f"(({num(p[0])}, {num(p[1])}), ({num(q[0])}, {num(q[1])}))" for p, q in t.segments()) + "]"


def _float_src(t: Tri) -> str:
    return repr([tuple((float(p[0]), float(p[1])) for p in s) for s in t.segments()])


def _float_pts(pts: list[Pt]) -> str:
    return repr([(float(p[0]), float(p[1])) for p in pts])


def scene(rng: random.Random, difficulty: int) -> Grid | Tri:
    """The figure make() draws: extensions replay it from the parent's seed."""
    return _grid(rng, difficulty) if rng.random() < 0.5 else _tri(rng, difficulty)


def make(rng: random.Random, difficulty: int) -> Draft:
    """A grid (rectangles/squares) or a cut triangle (triangles), chosen at random at every level."""
    return draft_of(rng, scene(rng, difficulty), difficulty)


def draft_of(rng: random.Random, shape: Grid | Tri, difficulty: int) -> Draft:
    """The counting problem for one figure (wording and highlighted shape drawn from rng)."""
    parts = _grid_parts(rng, shape) if isinstance(shape, Grid) else _tri_parts(rng, shape)
    question, ans, answer_code, check_code, render, tool, why, elements, concepts = parts
    solution = (
        SolutionStep("think", "Count systematically: fix what determines a shape, then check its sides are drawn."),
        SolutionStep("code", "Highlight one of the shapes being counted.", tool),
        SolutionStep("think", why),
        SolutionStep("think", f"The answer is {ans}."),
    )
    return Draft(
        family=FAMILY,
        concepts=concepts,
        domain="counting",
        difficulty=difficulty,
        question=question,
        answer=str(ans),
        answer_kind="number",
        render_code=render,
        answer_code=answer_code,
        check_code=check_code,
        solution=solution,
        elements=elements,
        tools=("tool.highlight", "tool.region_shading"),
        width=W,
        height=H,
    )
