"""Extensions of graph_shortest_path (issue 5): another kind of question on the same graph (parallel), and a new
road, drawn red and dashed with its length, that shortens the parent's route or tree (sequential).

They live beside the family module to keep it short. Both replay the parent's graph and question from its seed
with `scene`; the sequential programs run the parent's own programs on the old and the new edge lists and
subtract, so the parent's answer is literally their first step.
"""

from __future__ import annotations

import random

from flywheel.records import SolutionStep
from generators.procedural.base import Draft
from generators.procedural.chain import RUN_PROGRAM, embed, harder, recap
from generators.procedural.families.graph_shortest_path import (
    FAMILY,
    SHAPES,
    WEIGHTS,
    Edge,
    Graph,
    _mst_question,
    _path_question,
    _tool,
    dijkstra,
    draft_of,
    kruskal,
    scene,
)

__all__ = ["FAMILY", "parallel", "sequential"]
KIND_LEVEL = {"path": 1, "via": 3, "avoid": 4, "mst": 4}  # where the family first asks each kind


def parallel(rng: random.Random, parent_seed: int, parent_level: int) -> Draft:
    """Another kind of question (shortest route, route through or avoiding a node, spanning tree), same graph."""
    g, kind, _, intro = scene(random.Random(parent_seed), parent_level)
    kinds = sorted(k for k in KIND_LEVEL if k != kind)
    rng.shuffle(kinds)
    for new_kind in kinds * 5:  # a route question can be degenerate for one random pair: draw again
        made = _mst_question(rng, g) if new_kind == "mst" else _path_question(rng, g, new_kind)
        if made:
            return draft_of(g, new_kind, made, intro, max(KIND_LEVEL[new_kind], parent_level - 1))
    raise AssertionError("a connected graph always has a spanning tree")


def _value(g: Graph, kind: str, legs: list, skip: int | None) -> tuple[int, list[tuple[int, int]]]:
    """The parent's quantity on a graph, with the edges that realise it."""
    if kind == "mst":
        tree = kruskal(g)
        return sum(w for *_, w in tree), [(u, v) for u, v, _ in tree]
    total, segs = 0, []
    for a, b in legs:
        d, path = dijkstra(g, a, b, skip)
        total += d
        segs += list(zip(path, path[1:], strict=False))
    return total, segs


def _candidates(g: Graph, level: int, skip: int | None) -> list[tuple[int, int]]:
    """Pairs that can be joined without crossing a drawn edge: missing grid sides, and a diagonal of any cell
    that has none (the family draws at most one diagonal per cell)."""
    rows, cols = SHAPES[level]
    have = {(u, v) for u, v, _ in g.edges}
    out = []
    for r in range(rows):
        for c in range(cols):
            k = r * cols + c
            sides = ([(k, k + 1)] if c + 1 < cols else []) + ([(k, k + cols)] if r + 1 < rows else [])
            out += [e for e in sides if e not in have]
            if r + 1 < rows and c + 1 < cols:
                diagonals = [(k, k + cols + 1), (k + 1, k + cols)]
                out += diagonals if not any(d in have for d in diagonals) else []
    return [e for e in out if skip not in e]


def _new_road(rng: random.Random, g: Graph, kind: str, made: tuple, level: int) -> tuple[Edge, Graph, int, list]:
    """A new edge and weight that make the parent's quantity strictly smaller."""
    _, best, legs, skip, _, _ = made
    pairs = _candidates(g, level, skip)
    rng.shuffle(pairs)
    top = max(WEIGHTS[level], len(g.edges))
    for u, v in pairs:
        for w in (rng.randint(1, top), rng.randint(1, max(1, best // 2)), 1):
            new = Graph(g.names, g.pos, tuple(sorted((*g.edges, (u, v, w)))))
            value, segs = _value(new, kind, legs, skip)
            if value < best:
                return (u, v, w), new, value, segs
    # no crossing-free new road helps: make a road the answer uses shorter instead (always helps) ...
    used = [(u, v, w) for u, v, w in g.edges if ((u, v) in made[4] or (v, u) in made[4])]
    if any(w > 1 for *_, w in used):
        u, v, w = rng.choice([e for e in used if e[2] > 1])
        cut = rng.randint(1, w - 1)
        new = Graph(g.names, g.pos, tuple(sorted((a, b, cut if (a, b) == (u, v) else x) for a, b, x in g.edges)))
        return (u, v, cut), new, *_value(new, kind, legs, skip)
    # ... or, when all its roads are 1 km long, close one of them (the answer then grows; weight 0 marks it)
    for u, v, _ in rng.sample(used, len(used)):
        new = Graph(g.names, g.pos, tuple(e for e in g.edges if e[:2] != (u, v)))
        try:
            return (u, v, 0), new, *_value(new, kind, legs, skip)
        except KeyError:  # closing it cuts the graph in two: try another road
            continue
    raise LookupError("no change to a single road alters this answer")


def _programs(parent: Draft, old: Graph, new: Graph) -> tuple[str, str]:
    swap = f".replace({f'edges = {list(old.edges)!r}'!r}, {f'edges = {list(new.edges)!r}'!r}, 1)\n"
    sym = (
        RUN_PROGRAM + f"original = {embed(parent.answer_code)}\nchanged = original{swap}"
        "print(abs(int(last_line(original)) - int(last_line(changed))))\n"
    )
    num = (
        "import numpy as np\n" + RUN_PROGRAM + f"original = {embed(parent.check_code)}\nchanged = original{swap}"
        "print(float(np.abs(np.subtract(float(last_line(original)), float(last_line(changed))))))\n"
    )
    return sym, num


def sequential(rng: random.Random, parent_seed: int, parent_level: int) -> Draft:
    """The parent's shortest route or tree, then how much a new road (red, dashed) saves on it."""
    g, kind, made, intro = scene(random.Random(parent_seed), parent_level)
    parent = draft_of(g, kind, made, intro, parent_level)
    (u, v, w), new, value, segs = _new_road(rng, g, kind, made, parent_level)
    best, skip = made[1], made[3]
    (x1, y1), (x2, y2) = g.pos[u], g.pos[v]
    road = f"{g.names[u]}{g.names[v]}"
    built = len(new.edges) > len(g.edges)
    # a changed road keeps its old label: the new length (or 'closed') sits beside it, off the edge
    nx, ny = (y1 - y2, x2 - x1) if not built else (0, 0)
    off = 24 / max(1e-9, (nx * nx + ny * ny) ** 0.5)
    tx, ty = round((x1 + x2) / 2 + nx * off, 1), round((y1 + y2) / 2 + ny * off, 1)
    label = w if built else f"now {w}" if w else "closed"
    render = parent.render_code + (
        f"# the change: road {road} is {'new' if built else 'changed'}, dashed red, with its label\n"
        f"ax.plot([{x1}, {x2}], [{y1}, {y2}], '--', color='red', lw=3, zorder=2)\n"
        f"ax.text({tx}, {ty}, '{label}', ha='center', va='center', fontsize=13, color='red',\n"
        "        weight='bold', zorder=3, bbox=dict(boxstyle='round,pad=0.25', facecolor='white', edgecolor='red'))\n"
    )
    change = f"a new road {road} of length {w} km is built" if built else f"road {road} is rebuilt {w} km long"
    change = change if w else f"road {road} is closed"
    what = "tree" if kind == "mst" else "route"
    trend = "decrease" if value < best else "increase"
    question = (
        f"{parent.question} Now {change} (the red dashed edge). By how much does "
        f"the answer to the question above {trend}? Give the answer in km as a whole number."
    )
    answer = str(abs(best - value))
    sym, num = _programs(parent, g, new)
    solution = (
        recap(parent.question, parent.answer, made[5]),
        SolutionStep(
            "code", f"Highlight the best {what} once road {road} is available.", _tool(new, segs, "purple", skip)
        ),
        SolutionStep("think", f"With road {road} of length {w} the best {what} has length {value}."),
        SolutionStep("think", f"It goes from {best} to {value}, a {trend} of {answer}. The answer is {answer}."),
    )
    return Draft(
        family=FAMILY,
        concepts=parent.concepts,
        domain=parent.domain,
        difficulty=harder(parent_level),
        question=question,
        answer=answer,
        answer_kind="number",
        render_code=render,
        answer_code=sym,
        check_code=num,
        solution=solution,
        elements=parent.elements,
        tools=parent.tools,
        width=parent.width,
        height=parent.height,
    )
