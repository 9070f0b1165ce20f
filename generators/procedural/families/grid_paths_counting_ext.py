"""Extensions of grid_paths_counting (issue 5): on the same grid, how many of the routes start with a given
first step (parallel); and how many of the parent's routes survive when one more crossing, X, is closed (drawn
in orange and labelled), which is the parent's count minus the routes through X (sequential).

They live beside the family module to keep it short. Both rebuild the parent's grid from its seed with `_grid`.
"""

from __future__ import annotations

import random
from dataclasses import replace

from flywheel.records import NamedElement, SolutionStep
from generators.procedural.base import Draft
from generators.procedural.chain import embed, harder, recap
from generators.procedural.families.grid_paths_counting import (
    ANSWER_BODY,
    CHECK_BODY,
    FAMILY,
    Grid,
    Node,
    _grid,
    _reasoning,
    _tool,
    answer_of,
    check_head,
    count,
    draft_of,
    one_route,
)

__all__ = ["FAMILY", "parallel", "sequential"]


def _parent(seed: int, level: int) -> tuple[Grid, Draft]:
    rng = random.Random(seed)
    g = _grid(rng, level)
    return g, draft_of(rng, g, level)


def _from(g: Grid, start: Node) -> int:
    """Routes that begin with the step A -> start and then obey every rule (P, closed crossings, gaps)."""
    if ((0, 0), start) in g.missing or start in g.closed:
        return 0
    if g.via is None:
        return count(g, start, (g.m, g.n))
    if g.via[0] < start[0] or g.via[1] < start[1]:
        return 0
    return count(g, start, g.via) * count(g, g.via, (g.m, g.n))


def parallel(rng: random.Random, parent_seed: int, parent_level: int) -> Draft:
    """Same grid: how many of the valid routes begin with a step to the right (or upward)?"""
    g, parent = _parent(parent_seed, parent_level)
    steps = [("to the right", (1, 0), True), ("upward", (0, 1), False)]
    rng.shuffle(steps)
    word, start, right = next((s for s in steps if 0 < _from(g, s[1]) < answer_of(g)), steps[0])
    ans = _from(g, start)
    rules = [
        "Every route must pass through the point P." if g.via else "",
        "The crossing(s) marked × are closed and cannot be passed through." if g.closed else "",
        "Some street segments are missing; routes may only use the segments that are drawn." if g.missing else "",
    ]
    question = " ".join(
        ["A walker goes from A to B along the streets of the grid, moving only right or up at every step.", *rules,
         f"Of all the possible routes, how many begin with a step {word}? Give the answer as a whole number."]
    ).replace("  ", " ")
    forbidden = [(c, c) for c in g.closed] + [tuple(e) for e in g.missing]
    head = f"A, B = {start}, ({g.m}, {g.n})\nvia = {g.via!r}\nforbidden = {forbidden!r}\n"
    first = f"    if (0 in rights) != {right}:\n        continue\n"
    loop = "for rights in combinations(range(m + n), m):\n"
    body = CHECK_BODY.replace(loop, loop + first)
    total = answer_of(g)
    why = (
        f"A route that begins {word} is a route from {start} to B obeying the same rules"
        + (" (still through P)" if g.via else "")
        + f": counting crossing by crossing from {start} gives {ans} of the {total} routes."
    )
    solution = (
        parent.solution[0],
        SolutionStep("code", "Draw a valid route that begins with that step.", _tool(g, _route_from(rng, g, start))),
        SolutionStep("think", why),
        SolutionStep("think", f"The answer is {ans}."),
    )
    return replace(
        parent,
        question=question,
        answer=str(ans),
        answer_code="import sympy as sp\n" + head + ANSWER_BODY,
        check_code="from itertools import combinations\n" + check_head(g) + body,
        solution=solution,
        concepts=parent.concepts[:4] + ("counting.addition_principle",),
    )


def _route_from(rng: random.Random, g: Grid, start: Node) -> list[Node]:
    """A valid route whose first step goes to `start` (drawn until one does; both steps have routes)."""
    for _ in range(500):
        route = one_route(rng, g)
        if route[1] == start:
            return route
    return one_route(rng, g)


def _through(g: Grid, x: Node) -> int:
    """Routes (obeying every rule of g) that pass through crossing x."""
    closed = Grid(g.m, g.n, g.via, (*g.closed, x), g.missing)
    return answer_of(g) - answer_of(closed)


def sequential(rng: random.Random, parent_seed: int, parent_level: int) -> Draft:
    """The parent's count N, then how many routes survive when crossing X is closed too: N - (routes through X)."""
    g, parent = _parent(parent_seed, parent_level)
    total = answer_of(g)
    spots = [
        (i, j)
        for i in range(g.m + 1)
        for j in range(g.n + 1)
        if (i, j) not in ((0, 0), (g.m, g.n), g.via, *g.closed) and 0 < _through(g, (i, j)) < total
    ]
    x = rng.choice(spots)
    through = _through(g, x)
    new = Grid(g.m, g.n, g.via, (*g.closed, x), g.missing)
    ans = total - through
    px, py = g.px(x)
    render = parent.render_code + (
        "# the change: crossing X is closed as well (orange)\n"
        f"ax.plot({px}, {py}, 's', ms=20, mfc='#ffe0b2', mec='darkorange', mew=2.5, zorder=5)\n"
        f"ax.plot({px}, {py}, 'x', ms=12, mec='darkorange', mew=3.5, zorder=6)\n"
        f"ax.text({px + 16}, {py + 16}, 'X', color='darkorange', fontsize=16, weight='bold', ha='left', va='top',\n"
        "        zorder=6, bbox=dict(facecolor='white', edgecolor='none', pad=0.5))\n"
    )
    question = (
        f"{parent.question} Now the crossing X (the orange square) is closed as well. How many of those routes are "
        "still possible? Give the answer as a whole number."
    )
    legs = _legs(g, x)
    names = {(0, 0): "A", (g.m, g.n): "B", g.via: "P", x: "X"}
    sym = _answer_program(parent, legs)
    num = "from itertools import combinations\n" + check_head(new) + CHECK_BODY
    tool = _tool(new, one_route(rng, new)) + (
        f"ax.plot({px}, {py}, 'o', ms=30, mfc='none', mec='red', mew=3, zorder=7)\n"
    )
    solution = (
        recap(parent.question, parent.answer, _reasoning(g, total)),
        SolutionStep("code", "Draw a route that avoids X and ring X.", tool),
        SolutionStep(
            "think",
            "A route is lost exactly when it passes through X. Routes through X: "
            + " x ".join(f"{names[s]} to {names[t]}: {count(g, s, t)}" for s, t in legs)
            + f", {through} in all.",
        ),
        SolutionStep("think", f"So {total} - {through} = {ans} routes remain. The answer is {ans}."),
    )
    return replace(
        parent,
        difficulty=harder(parent_level),
        question=question,
        answer=str(ans),
        render_code=render,
        answer_code=sym,
        check_code=num,
        solution=solution,
        elements=parent.elements + (NamedElement("X", "point", px, py),),
        concepts=parent.concepts[:3] + ("counting.complementary_counting",),
    )


def _answer_program(parent: Draft, legs: list[tuple[Node, Node]]) -> str:
    """Run the parent's count, keep its avoid() and subtract the routes through X leg by leg."""
    return (
        "import contextlib, io\nimport sympy as sp\n"
        "scope = {}\nwith contextlib.redirect_stdout(io.StringIO()) as out:\n"
        f"    exec({embed(parent.answer_code)}, scope)\n"
        "total = sp.Integer(out.getvalue().split()[-1])\navoid = scope['avoid']\n"
        f"through = sp.Mul(*[avoid(s, t) for s, t in {legs!r}])\nprint(total - through)\n"
    )


def _legs(g: Grid, x: Node) -> list[tuple[Node, Node]]:
    """The legs a route through x walks: A -> x -> B, with P before or after x when there is one."""
    a, b = (0, 0), (g.m, g.n)
    if g.via is None:
        return [(a, x), (x, b)]
    if x[0] <= g.via[0] and x[1] <= g.via[1]:
        return [(a, x), (x, g.via), (g.via, b)]
    return [(a, g.via), (g.via, x), (x, b)]
