"""Extensions of function_graph_reading (issue 5): another reading of the same graph (parallel), and a new marked
point whose use needs the parent's answer (sequential): the slope of a chord from the point the parent found, the
intercept of a parallel to the line whose slope it found, or a second triangle added to the one whose area it
found.

They live beside the family module, which is near the 500-line cap. Both replay the parent's graph from its seed
with `scene`; the sequential programs start from the value the parent's own programs print.
"""

from __future__ import annotations

import random
import re
from dataclasses import replace
from fractions import Fraction as F

from flywheel.records import NamedElement, SolutionStep
from generators.procedural.base import Draft
from generators.procedural.chain import RUN_PROGRAM, embed, harder, recap
from generators.procedural.draw_other import frac_text
from generators.procedural.families.function_graph_reading import (
    ASKS,
    BY_LEVEL,
    EXACT,
    FAMILY,
    SPAN,
    Ask,
    Graph,
    _programs,
    _pt,
    _tool,
    draft_of,
    px,
    scene,
)

__all__ = ["FAMILY", "parallel", "sequential"]
FIRST_LEVEL = {kind: min(lv for lv, kinds in BY_LEVEL.items() if kind in kinds) for kind in ASKS}


def _has_roots(g: Graph) -> bool:
    """Both x-intercepts are lattice points inside the window (what the root and triangle questions need)."""
    square = -F(g.k) / g.a
    s = round(float(square) ** 0.5) if square > 0 else 0
    return s > 0 and s * s == square and abs(g.h) + s < SPAN


def _fits(kind: str, g: Graph) -> bool:
    if kind in ("root", "triangle"):
        return _has_roots(g)
    return g.m is not None if kind in ("intersection", "slope") else True


def _replay(seed: int, level: int) -> tuple[str, Graph, Ask, Draft]:
    rng = random.Random(seed)
    kind, g, ask = scene(rng, level)
    return kind, g, ask, draft_of(rng, g, ask, level)


def parallel(rng: random.Random, parent_seed: int, parent_level: int) -> Draft:
    """Another reading of the same graph: vertex, a value, a root, a coefficient, a slope, an intersection, ..."""
    kind, g, _, parent = _replay(parent_seed, parent_level)
    kinds = sorted(k for k in ASKS if k != kind and _fits(k, g))
    new_kind = rng.choice(kinds)
    draft = draft_of(rng, g, ASKS[new_kind](rng, g), max(FIRST_LEVEL[new_kind], parent_level - 1))
    # the parent's named points stay in the record (same image), followed by the ones the new question uses
    return replace(draft, elements=parent.elements + tuple(e for e in draft.elements if e not in parent.elements))


def _lattice_near(g: Graph, avoid: set[tuple[int, int]], fn) -> list[tuple[int, int]]:
    """Lattice points (x, fn(x)) inside the window, away from the points already in use."""
    pts = [(x, fn(x)) for x in range(-SPAN + 1, SPAN)]
    return [(x, int(y)) for x, y in pts if y.denominator == 1 and abs(y) < SPAN - 0.5 and (x, int(y)) not in avoid]


def _plan(rng: random.Random, kind: str, g: Graph, ask: Ask, parent: Draft) -> tuple:
    """(new point and name, question text, answer, sympy tail, numpy tail, reasoning) for one parent kind."""
    a = parent.answer
    if kind == "slope":
        free = [(x, y) for x in range(-SPAN + 2, SPAN - 1) for y in range(-SPAN + 2, SPAN - 1)
                if F(y) != g.g(x) and F(y) != g.f(x) and x != 0]
        qx, qy = rng.choice(free)
        ans = qy - g.m * qx
        text = "The purple point Q is marked on the grid. The line through Q parallel to y = g(x) crosses the y-axis " \
               "at the point (0, c). What is c?"
        why = f"Q = ({qx}, {qy}); a parallel has the same slope {a}, so c = {qy} - ({a}) x ({qx}) = {frac_text(ans)}."
        return (qx, qy, "Q"), text, ans, f"m = sp.Rational(A)\nprint({qy} - m * {qx})\n", \
            f"m = float(A)\nprint(float({qy} - m * {qx}))\n", why
    if kind == "triangle":
        r1, r2 = sorted(int(m[0]) for m in ask.marks if m[2] in ("P", "Q"))
        qx, qy = rng.choice([p for p in _lattice_near(g, set(), g.f) if not r1 <= p[0] <= r2 and p[1] != 0])
        extra = F(r2 - r1) * abs(qy) / 2
        ans = F(a) + extra
        text = "The purple point R lies on the parabola. What is the total area of triangles VPQ and PQR, in square " \
               "units?"
        why = f"R = ({qx}, {qy}); triangle PQR has base {r2 - r1} and height {abs(qy)}, area {frac_text(extra)}; " \
              f"the total is {a} + {frac_text(extra)} = {frac_text(ans)}."
        sym = f"T = sp.Rational(A)\nr = sp.solve(f, x)\nprint(T + sp.Abs(r[1] - r[0]) * sp.Abs(f.subs(x, {qx})) / 2)\n"
        num = "T = float(A)\nr = np.roots(pf).real\n"
        num += f"print(float(T + abs(r[1] - r[0]) * abs(np.polyval(pf, {qx})) / 2))\n"
        return (qx, qy, "R"), text, ans, sym, num, why
    return _chord(rng, kind, g, ask, parent)


def _chord(rng: random.Random, kind: str, g: Graph, ask: Ask, parent: Draft) -> tuple:
    """Slope of the chord from the parent's point P (or, for the coefficient, from the vertex) to a new point Q."""
    a = parent.answer
    if kind in ("vertex", "intersection"):
        px_, py_ = (F(v) for v in a.strip("()").split(", "))
        sym_p, num_p, name = "P = sp.sympify(A)\n", "P = [float(v) for v in A.strip('()').split(',')]\n", "that point"
    elif kind == "root":
        px_, py_ = F(a), F(0)
        sym_p, num_p, name = "P = (sp.Rational(A), 0)\n", "P = (float(A), 0.0)\n", "that x-intercept"
    elif kind == "coef":
        px_, py_ = F(g.h), F(g.k)
        sym_p, num_p, name = f"P = ({g.h}, {g.k})\n", f"P = ({g.h}, {g.k})\n", "the vertex"
    else:  # value, far_value: the point (x0, f(x0)) of the graph
        x0 = int(re.search(r"f\((-?\d+)\)", ask.question).group(1))
        px_, py_ = F(x0), F(a)
        sym_p, num_p, name = f"P = ({x0}, sp.Rational(A))\n", f"P = ({x0}, float(A))\n", f"the point ({x0}, f({x0}))"
    qx, qy = rng.choice([p for p in _lattice_near(g, set(), g.f) if p[0] != px_])
    if kind == "coef":
        ans = F(a) * (qx - g.h)
        why = f"With a = {a}, f({qx}) - ({g.k}) = a({qx} - ({g.h}))^2, so the slope from the vertex to Q is " \
              f"a({qx} - ({g.h})) = {frac_text(ans)}."
        sym = f"print(sp.Rational(A) * ({qx} - {g.h}))\n"
        num = f"print(float(float(A) * ({qx} - {g.h})))\n"
    else:
        ans = (qy - py_) / (qx - px_)
        why = f"P = {_pt(px_, py_)} and Q = ({qx}, {qy}), so the slope is ({qy} - ({frac_text(py_)})) / ({qx} - " \
              f"({frac_text(px_)})) = {frac_text(ans)}."
        sym = sym_p + f"print(sp.nsimplify((f.subs(x, {qx}) - P[1]) / ({qx} - P[0])))\n"
        num = num_p + f"print(float((np.polyval(pf, {qx}) - P[1]) / ({qx} - P[0])))\n"
    text = f"The purple point Q lies on the parabola. What is the slope of the line through {name} and Q?"
    if kind != "coef":
        text = f"Let P be {name}. The purple point Q lies on the parabola. What is the slope of line PQ?"
    return (qx, qy, "Q"), text, ans, sym, num, why


def sequential(rng: random.Random, parent_seed: int, parent_level: int) -> Draft:
    """The parent's reading, then a question about a new marked point that needs it."""
    kind, g, ask, parent = _replay(parent_seed, parent_level)
    (qx, qy, name), text, ans, sym_tail, num_tail, why = _plan(rng, kind, g, ask, parent)
    sym_head, num_head = _programs(random.Random(parent_seed), g, replace(ask, sym="", num=""))
    sym = sym_head + RUN_PROGRAM + f"A = last_line({embed(parent.answer_code)})\n" + sym_tail
    num = num_head + RUN_PROGRAM + f"A = last_line({embed(parent.check_code)})\n" + num_tail
    x, y = (round(c, 2) for c in px(qx, qy))
    render = parent.render_code + (
        f"# the change: a new marked point {name}\n"
        f"ax.plot({x}, {y}, 'o', ms=10, color='purple', zorder=6)\n"
        f"ax.text({x + 9}, {y - 9}, '{name}', color='purple', fontsize=15, weight='bold', ha='left', va='bottom',\n"
        "        zorder=6, bbox=dict(facecolor='white', edgecolor='none', alpha=0.8, pad=0.5))\n"
    )
    answer = frac_text(ans)
    marks = ask.marks + ((F(qx), F(qy), name),)
    solution = (
        recap(parent.question, parent.answer, ask.why),
        SolutionStep("code", f"Circle {name} and the points used with it, with guides to both axes.", _tool(marks)),
        SolutionStep("think", why),
        SolutionStep("think", f"The answer is {answer}."),
    )
    return replace(
        parent,
        difficulty=harder(parent_level),
        question=f"{parent.question} {text} {EXACT}",
        answer=answer,
        answer_kind="number" if ans.denominator == 1 else "expression",
        render_code=render,
        answer_code=sym,
        check_code=num,
        solution=solution,
        elements=parent.elements + (NamedElement(name, "point", x, y),),
    )
