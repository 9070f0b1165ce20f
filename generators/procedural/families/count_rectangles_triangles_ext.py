"""Extensions of count_rectangles_triangles (issue 5): another count on the same figure (squares <-> rectangles
<-> oblongs; triangles with a given vertex) (parallel); and a change to the figure drawn in red (a grid segment
erased, or a new segment in the triangle) whose new count is the parent's count minus or plus the shapes that
use the changed segment (sequential).

They live beside the family module to keep it short. Both replay the parent's figure from its seed with `scene`.
"""

from __future__ import annotations

import random
from dataclasses import replace
from fractions import Fraction as F

from flywheel.records import NamedElement, SolutionStep
from generators.procedural.base import Draft
from generators.procedural.chain import RUN_PROGRAM, embed, harder, recap
from generators.procedural.families.count_rectangles_triangles import (
    FAMILY,
    GRID_CHECK,
    TRI_ANSWER_EXACT,
    TRI_CHECK,
    Grid,
    Tri,
    _exact_src,
    _float_src,
    draft_of,
    rectangles,
    scene,
    tpx,
    triangles,
)

__all__ = ["FAMILY", "parallel", "sequential"]
WHAT = {
    "rectangles": "rectangles (squares included)",
    "squares": "squares",
    "oblongs": "rectangles that are not squares",
}


def parallel(rng: random.Random, parent_seed: int, parent_level: int) -> Draft:
    """Same figure, another count: a different shape type in a grid, triangles at one vertex in a triangle."""
    shape = scene(random.Random(parent_seed), parent_level)
    if isinstance(shape, Grid):
        kinds = [k for k in WHAT if k != shape.shape and rectangles(replace(shape, shape=k))]
        return draft_of(rng, replace(shape, shape=rng.choice(kinds)), parent_level)
    return _at_vertex(rng, shape, parent_level)


def _at_vertex(rng: random.Random, t: Tri, level: int) -> Draft:
    """How many of the triangles have a given corner of ABC as a vertex?"""
    found = triangles(t)
    corners = [(n, p) for n, p in (("A", t.a), ("B", t.b), ("C", t.c)) if 0 < sum(p in x for x in found) < len(found)]
    name, corner = rng.choice(corners)
    mine = [tri for tri in found if corner in tri]
    base = draft_of(rng, t, level)
    question = base.question.split(" How many")[0].split(" Count every")[0]
    question = (
        f"{question.split('. ')[0]}. Among all the triangles of any size in the figure, how many have {name} as one "
        "of their vertices? Give the answer as a whole number."
    )
    x, y = (float(c) for c in corner)
    sym = (
        "import sympy as sp\nfrom itertools import combinations\n" + f"segments = {_exact_src(t)}\n"
        + TRI_ANSWER_EXACT.replace("len({p, q, r}) == 3", f"len({{p, q, r}}) == 3 and sp.Point({x}, {y}) in (p, q, r)")
    )
    num = (
        "import numpy as np\nfrom itertools import combinations\n" + f"segments = {_float_src(t)}\n"
        + TRI_CHECK.replace("> 1e-7:", f"> 1e-7 and min(np.hypot(*(pts[v] - ({x}, {y}))) for v in (i, j, k)) < 1e-6:")
    )
    tri = [tpx(p) for p in rng.choice(mine)]
    tool = base.solution[1].code.split("tri = ")[0] + (
        f"tri = {tri!r}\n"
        "ax.fill([p[0] for p in tri], [p[1] for p in tri], facecolor='gold', alpha=0.5, edgecolor='red', lw=4)\n"
        f"ax.plot({tpx(corner)[0]}, {tpx(corner)[1]}, 'o', ms=22, mfc='none', mec='red', mew=3)\n"
    )
    why = (
        f"A triangle with vertex {name} uses two drawn lines through {name} and one more line that meets both away "
        f"from {name}; listing them line pair by line pair gives {len(mine)} of the {len(found)} triangles."
    )
    return replace(
        base,
        question=question,
        answer=str(len(mine)),
        answer_code=sym,
        check_code=num,
        solution=(base.solution[0], SolutionStep("code", f"Ring {name} and shade one such triangle.", tool),
                  SolutionStep("think", why), SolutionStep("think", f"The answer is {len(mine)}.")),
    )


USING = """
def sides(x1, y1, x2, y2):
    across = [('h', i, y) for i in range(x1, x2) for y in (y1, y2)]
    return across + [('v', x, j) for j in range(y1, y2) for x in (x1, x2)]
lost = 0
for x1 in range(m + 1):
    for x2 in range(x1 + 1, m + 1):
        for y1 in range(n + 1):
            for y2 in range(y1 + 1, n + 1):
                sq = x2 - x1 == y2 - y1
                if shape == 'squares' and not sq or shape == 'oblongs' and sq:
                    continue
                s = sides(x1, y1, x2, y2)
                lost += erased in s and all(e not in missing for e in s)
"""


def _erase(rng: random.Random, g: Grid, parent: Draft) -> tuple:
    """Erase one drawn unit segment that some counted shape uses."""
    segs = [("h", i, j) for i in range(g.m) for j in range(g.n + 1)] + [("v", i, j) for i in range(g.m + 1)
                                                                        for j in range(g.n)]
    total = len(rectangles(g))
    options = []
    for s in segs:
        new = replace(g, missing=g.missing | {s})
        if s not in g.missing and 0 < len(rectangles(new)) < total:
            options.append((s, new))
    s, new = rng.choice(options)
    kind, i, j = s
    (x1, y1), (x2, y2) = g.px(i, j), g.px(i + (kind == "h"), j + (kind == "v"))
    mx, my = (x1 + x2) / 2, (y1 + y2) / 2
    draw = (
        "# the change: one unit segment is erased (red dotted, crossed out)\n"
        f"ax.plot([{x1}, {x2}], [{y1}, {y2}], color='white', lw=5, zorder=2)\n"
        f"ax.plot([{x1}, {x2}], [{y1}, {y2}], ':', color='red', lw=2, zorder=3)\n"
        f"ax.plot({mx}, {my}, 'X', ms=16, color='red', zorder=4)\n"
    )
    head = f"m, n = {g.m}, {g.n}\nshape = {g.shape!r}\nmissing = {set(g.missing)!r}\nerased = {s!r}\n"
    sym = "import sympy as sp\n" + RUN_PROGRAM + head + USING
    sym += f"print(sp.Integer(last_line({embed(parent.answer_code)})) - lost)\n"
    num = "import numpy as np\n" + f"m, n = {g.m}, {g.n}\nshape = {g.shape!r}\nmissing = {set(new.missing)!r}\n"
    change = f"the unit segment crossed out in red is erased, so {WHAT[g.shape]} using it no longer count"
    gone = total - len(rectangles(new))
    why = f"Of the {total} shapes, {gone} have the erased segment on a side, so {total} - {gone} remain."
    box = rng.choice(rectangles(new))
    return len(rectangles(new)), draw, sym, num + GRID_CHECK, change, why, ("box", new, box), (mx, my)


def _new_cevian(rng: random.Random, t: Tri, parent: Draft) -> tuple:
    """Add a segment from A to a new point on BC (or from B to a new point on AC), drawn in red."""
    used = {n for n, _ in t.names}
    letter = next(c for c in "DEFGHJKLMNPQRS" if c not in used)
    free_a = [(F(x), F(0)) for x in range(2, 11, 2) if (F(x), F(0)) not in t.feet_a]
    if free_a and (not t.feet_b or rng.random() < 0.6):
        foot = rng.choice(free_a)
        new = Tri(t.a, t.b, t.c, tuple(sorted((*t.feet_a, foot))), t.feet_b, t.par, (*t.names, (letter, foot)))
        seg, text = (t.a, foot), f"a segment from A to a new point {letter} on BC"
    else:
        a, c = t.a, t.c
        points = [(a[0] + s * (c[0] - a[0]), a[1] + s * (c[1] - a[1])) for s in (F(1, 4), F(1, 3), F(1, 2), F(2, 3))]
        foot = rng.choice([p for p in points if p not in t.feet_b])
        new = Tri(t.a, t.b, t.c, t.feet_a, tuple(sorted((*t.feet_b, foot))), t.par, (*t.names, (letter, foot)))
        seg, text = (t.b, foot), f"a segment from B to a new point {letter} on AC"
    (x1, y1), (x2, y2) = tpx(seg[0]), tpx(seg[1])
    draw = (
        f"# the change: {text}, drawn in red\n"
        f"ax.plot([{x1}, {x2}], [{y1}, {y2}], color='red', lw=2.6, zorder=3)\n"
        f"ax.plot({x2}, {y2}, 'o', ms=6, color='red', zorder=4)\n"
        f"ax.text({x2 + (14 if seg[0] == t.b else 0)}, {y2 + (22 if seg[0] == t.a else -8)}, '{letter}', color='red',\n"
        "        fontsize=15, weight='bold', ha='center', va='center')\n"
    )
    index = new.segments().index(seg)
    total, after = len(triangles(t)), len(triangles(new))
    sym = (
        "import sympy as sp\nfrom itertools import combinations\n" + RUN_PROGRAM + f"segments = {_exact_src(new)}\n"
        + TRI_ANSWER_EXACT.replace("for i, j, k in combinations", "for i, j, k in [c for c in combinations")
        .replace("range(len(segs)), 3):\n    p, q", f"range(len(segs)), 3) if {index} in c]:\n    p, q")
        .replace("print(count)", f"print(sp.Integer(last_line({embed(parent.answer_code)})) + count)")
    )
    num = "import numpy as np\nfrom itertools import combinations\n" + f"segments = {_float_src(new)}\n" + TRI_CHECK
    why = f"Only triangles with a side along the new segment are new: {after - total} of them, so {total} + " \
          f"{after - total} = {after}."
    return after, draw, sym, num, f"{text} is drawn (in red)", why, ("tri", new, None), (x2, y2)


def _tool(parent: Draft, shown: tuple, rng: random.Random) -> str:
    """Highlight one shape that still counts (grid) or one new triangle (triangle), like the parent's tool."""
    kind, new, box = shown
    head = parent.solution[1].code.split("x1, y1, x2, y2 = " if kind == "box" else "tri = ")[0]
    if kind == "box":
        x1, y1, x2, y2 = box
        corners = (*new.px(x1, y1), *new.px(x2, y2))
        return head + (
            f"x1, y1, x2, y2 = {corners!r}\n"
            "ax.add_patch(plt.Rectangle((x1, y1), x2 - x1, y2 - y1, facecolor='gold', alpha=0.45, edgecolor='red',\n"
            "                           lw=4))\n"
        )
    fresh = sorted(set(triangles(new)) - set(triangles(replace(new, feet_a=(), feet_b=()))) or triangles(new))
    tri = [tpx(p) for p in rng.choice(fresh)]
    return head + (
        f"tri = {tri!r}\n"
        "ax.fill([p[0] for p in tri], [p[1] for p in tri], facecolor='gold', alpha=0.5, edgecolor='red', lw=4)\n"
    )


def sequential(rng: random.Random, parent_seed: int, parent_level: int) -> Draft:
    """The parent's count, then the count after a change drawn in red: parent's count minus lost / plus new."""
    shape = scene(random.Random(parent_seed), parent_level)
    parent = draft_of(random.Random(parent_seed), scene(random.Random(parent_seed), parent_level), parent_level)
    made = _erase(rng, shape, parent) if isinstance(shape, Grid) else _new_cevian(rng, shape, parent)
    ans, draw, sym, num, change, why, shown, spot = made
    noun = WHAT[shape.shape] if isinstance(shape, Grid) else "triangles of any size"
    question = (
        f"{parent.question} Now {change}. How many {noun} does the changed figure contain? "
        "Give the answer as a whole number."
    )
    solution = (
        recap(parent.question, parent.answer, parent.solution[2].text),
        SolutionStep("code", "Highlight one shape of the changed figure.", _tool(parent, shown, rng)),
        SolutionStep("think", why),
        SolutionStep("think", f"The answer is {ans}."),
    )
    return replace(
        parent,
        difficulty=harder(parent_level),
        question=question,
        answer=str(ans),
        render_code=parent.render_code + draw,
        answer_code=sym,
        check_code=num,
        solution=solution,
        elements=parent.elements + (NamedElement("change", "point", round(spot[0], 2), round(spot[1], 2)),),
    )
