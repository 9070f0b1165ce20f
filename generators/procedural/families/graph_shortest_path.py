"""Weighted graphs: labelled nodes on a jittered grid, weighted edges that never cross; find a shortest path
length (plain, through a node, or avoiding a node) or, at higher levels, the weight of a minimum spanning tree.

A procedural family (contract in generators/procedural/base.py). The stated answer uses Dijkstra / Kruskal;
answer_code runs Floyd-Warshall / Prim; check_code runs numpy Bellman-Ford / reverse-delete. The tool step
draws the optimal path or the tree's edges over the figure.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass

from flywheel.records import NamedElement, SolutionStep
from generators.procedural.base import Draft, canvas_code, tool_canvas_code

FAMILY = "graph_shortest_path"
W, H = 680, 520
SHAPES = {1: (2, 3), 2: (3, 3), 3: (3, 3), 4: (3, 4), 5: (3, 4)}
WEIGHTS = {1: 9, 2: 12, 3: 15, 4: 20, 5: 25}
EXTRA = {1: 0.4, 2: 0.5, 3: 0.6, 4: 0.6, 5: 0.7}
WHOLE = "Give the answer as a whole number."

Edge = tuple[int, int, int]  # u < v, weight


@dataclass(frozen=True)
class Graph:
    names: tuple[str, ...]
    pos: tuple[tuple[float, float], ...]
    edges: tuple[Edge, ...]

    def adj(self, skip: int | None = None) -> dict[int, list[tuple[int, int]]]:
        out: dict[int, list[tuple[int, int]]] = {k: [] for k in range(len(self.names)) if k != skip}
        for u, v, w in self.edges:
            if skip not in (u, v):
                out[u].append((v, w))
                out[v].append((u, w))
        return out


def _layout(rng: random.Random, rows: int, cols: int) -> list[tuple[float, float]]:
    xs = [90 + (W - 180) * c / (cols - 1) for c in range(cols)]
    ys = [90 + (H - 180) * r / (rows - 1) for r in range(rows)]
    return [(round(x + rng.uniform(-28, 28), 1), round(y + rng.uniform(-22, 22), 1)) for y in ys for x in xs]


def _candidates(rng: random.Random, rows: int, cols: int) -> list[tuple[int, int]]:
    """Grid neighbours plus one diagonal per cell: a planar set, so drawn edges never cross."""
    out = []
    for r in range(rows):
        for c in range(cols):
            k = r * cols + c
            if c + 1 < cols:
                out.append((k, k + 1))
            if r + 1 < rows:
                out.append((k, k + cols))
            if r + 1 < rows and c + 1 < cols:
                out.append((k, k + cols + 1) if rng.random() < 0.5 else (k + 1, k + cols))
    return out


def _graph(rng: random.Random, difficulty: int) -> Graph:
    rows, cols = SHAPES[difficulty]
    cand = _candidates(rng, rows, cols)
    rng.shuffle(cand)
    parent = list(range(rows * cols))

    def find(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    chosen = []
    for u, v in cand:  # a random spanning tree first (connected), then random extra edges
        if find(u) != find(v):
            parent[find(u)] = find(v)
            chosen.append((u, v))
        elif rng.random() < EXTRA[difficulty]:
            chosen.append((u, v))
    top = max(WEIGHTS[difficulty], len(chosen))
    weights = rng.sample(range(1, top + 1), len(chosen)) if difficulty >= 4 else [rng.randint(1, top) for _ in chosen]
    edges = tuple(sorted((min(u, v), max(u, v), w) for (u, v), w in zip(chosen, weights, strict=True)))
    names = tuple("ABCDEFGHIJKL"[: rows * cols])
    return Graph(names, tuple(_layout(rng, rows, cols)), edges)


def dijkstra(g: Graph, s: int, t: int, skip: int | None = None) -> tuple[int, list[int]]:
    """Length and node list of a shortest s-t path (ties broken by the heap)."""
    adj = g.adj(skip)
    dist, prev = {s: 0}, {}
    heap = [(0, s)]
    while heap:
        d, u = heapq.heappop(heap)
        if d > dist[u]:
            continue
        for v, w in adj[u]:
            if d + w < dist.get(v, 1 << 30):
                dist[v], prev[v] = d + w, u
                heapq.heappush(heap, (d + w, v))
    path = [t]
    while path[-1] != s:
        path.append(prev[path[-1]])
    return dist[t], path[::-1]


def kruskal(g: Graph) -> list[Edge]:
    parent = list(range(len(g.names)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    tree = []
    for u, v, w in sorted(g.edges, key=lambda e: e[2]):
        if find(u) != find(v):
            parent[find(u)] = find(v)
            tree.append((u, v, w))
    return tree


FLOYD = """
INF = 10 ** 9
D = [[0 if i == j else INF for j in range(n)] for i in range(n)]
for u, v, w in edges:
    if skip not in (u, v):
        D[u][v] = D[v][u] = min(D[u][v], w)
for k in range(n):
    for i in range(n):
        for j in range(n):
            if D[i][k] + D[k][j] < D[i][j]:
                D[i][j] = D[i][k] + D[k][j]
print(sum(D[a][b] for a, b in legs))
"""

PRIM = """
inside, total = {0}, 0
while len(inside) < n:
    w, u, v = min((w, u, v) for u, v, w in edges if (u in inside) != (v in inside))
    total += w
    inside |= {u, v}
print(total)
"""

BELLMAN = """
E = np.array([e for e in edges if skip not in e[:2]])
def dist_from(s):
    d = np.full(n, np.inf)
    d[s] = 0
    for _ in range(n - 1):
        np.minimum.at(d, E[:, 1], d[E[:, 0]] + E[:, 2])
        np.minimum.at(d, E[:, 0], d[E[:, 1]] + E[:, 2])
    return d
print(float(sum(dist_from(a)[b] for a, b in legs)))
"""

REVERSE_DELETE = """
def connected(es):
    A = np.zeros((n, n), int)
    for u, v, w in es:
        A[u, v] = A[v, u] = 1
    reach = np.eye(n, dtype=int)
    for _ in range(n):
        reach = ((reach + reach @ A) > 0).astype(int)
    return bool(reach[0].all())
keep = list(edges)
for e in sorted(edges, key=lambda e: -e[2]):
    trial = [f for f in keep if f != e]
    if connected(trial):
        keep = trial
print(float(sum(w for u, v, w in keep)))
"""


def _hops(g: Graph, s: int) -> dict[int, int]:
    """Breadth-first edge counts from s."""
    adj = g.adj()
    hops, queue = {s: 0}, [s]
    for u in queue:
        for v, _ in adj[u]:
            if v not in hops:
                hops[v] = hops[u] + 1
                queue.append(v)
    return hops


def _far_pair(rng: random.Random, g: Graph) -> tuple[int, int]:
    """Two nodes at least two edges apart (preferring far ones), so the question needs a real search."""
    pairs = [(h, s, t) for s in range(len(g.names)) for t, h in _hops(g, s).items() if h >= 2 and s < t]
    best = max(p[0] for p in pairs)
    _, s, t = rng.choice([p for p in pairs if p[0] >= best - 1])
    return (s, t) if rng.random() < 0.5 else (t, s)


def _steps(path: list[int]) -> list[tuple[int, int]]:
    return list(zip(path, path[1:], strict=False))


def _kind(rng: random.Random, difficulty: int) -> str:
    return rng.choice(
        {1: ("path",), 2: ("path",), 3: ("path", "via"), 4: ("mst", "avoid", "via")}.get(
            difficulty, ("mst", "avoid", "via")
        )
    )


def _path_question(rng: random.Random, g: Graph, kind: str) -> tuple | None:
    """(question, answer, legs, skip, highlighted edges, reasoning) for a path question; None if degenerate."""
    s, t = _far_pair(rng, g)
    S, T = g.names[s], g.names[t]
    best, path = dijkstra(g, s, t)
    if kind == "path":
        q = rng.choice(
            (
                f"What is the length of the shortest route from {S} to {T}? ",
                f"Travelling only along the edges, what is the shortest distance between {S} and {T}? ",
                f"Find the minimum total length of a path that starts at {S} and ends at {T}. ",
            )
        )
        why = f"Dijkstra's algorithm from {S} settles {T} at distance {best} via {'-'.join(g.names[k] for k in path)}."
        return q, best, [(s, t)], None, _steps(path), why
    others = [k for k in range(len(g.names)) if k not in path]
    if not others:
        return None
    x = rng.choice(others)
    X = g.names[x]
    if kind == "via":
        d1, p1 = dijkstra(g, s, x)
        d2, p2 = dijkstra(g, x, t)
        if len(set(p1 + p2[1:])) < len(p1 + p2[1:]):
            return None  # the best walk revisits a node: "route through X" would be ambiguous
        q = rng.choice(
            (
                f"What is the length of the shortest route from {S} to {T} that passes through {X}? ",
                f"A courier must go from {S} to {T} and stop at {X} on the way. What is the shortest total distance? ",
            )
        )
        why = (
            f"Split at {X}: the shortest {S}-{X} route is {d1} and the shortest {X}-{T} route is {d2}; total {d1 + d2}."
        )
        return q, d1 + d2, [(s, x), (x, t)], None, _steps(p1 + p2[1:]), why
    on_path = path[1:-1]
    x = rng.choice(on_path)
    X = g.names[x]
    try:
        d, p = dijkstra(g, s, t, skip=x)
    except KeyError:
        return None
    q = rng.choice(
        (
            f"Node {X} is closed. What is the length of the shortest route from {S} to {T} that avoids {X}? ",
            f"Travel through {X} is not allowed. Find the shortest distance from {S} to {T}. ",
        )
    )
    route = "-".join(g.names[k] for k in p)
    why = f"Without {X} the best route is {route} with length {d} (the route through {X} was {best})."
    return q, d, [(s, t)], x, _steps(p), why


RENDER_BODY = """
for u, v, w in edges:
    (x1, y1), (x2, y2) = pos[u], pos[v]
    ax.plot([x1, x2], [y1, y2], color='0.3', lw=2, zorder=1)
    ax.text((x1 + x2) / 2, (y1 + y2) / 2, str(w), ha='center', va='center', fontsize=13, zorder=3,
            bbox=dict(boxstyle='round,pad=0.25', facecolor='white', edgecolor='0.6'))
for name, (x, y) in zip(names, pos):
    ax.add_patch(plt.Circle((x, y), 19, facecolor='#dbe9f6', edgecolor='black', lw=1.8, zorder=4))
    ax.text(x, y, name, ha='center', va='center', fontsize=15, weight='bold', zorder=5)
"""


def _render(g: Graph) -> str:
    data = f"names = {list(g.names)!r}\npos = {list(g.pos)!r}\nedges = {list(g.edges)!r}\n"
    return canvas_code(W, H) + data + RENDER_BODY


def _tool(g: Graph, segments: list[tuple[int, int]], colour: str, skip: int | None) -> str:
    """Trace the chosen edges, stopping short of the node discs and leaving the weight labels readable."""
    lines = [(g.pos[u], g.pos[v]) for u, v in segments]
    cross = [g.pos[skip]] if skip is not None else []
    return tool_canvas_code(W, H) + (
        f"lines = {lines!r}\ncross = {cross!r}\n"
        "for (x1, y1), (x2, y2) in lines:\n"
        "    L = np.hypot(x2 - x1, y2 - y1)\n"
        "    ux, uy = (x2 - x1) / L, (y2 - y1) / L\n"
        "    mx, my = (x1 + x2) / 2, (y1 + y2) / 2\n"
        "    for (ax_, ay_), (bx_, by_) in (((x1 + 24 * ux, y1 + 24 * uy), (mx - 18 * ux, my - 18 * uy)),\n"
        "                                   ((mx + 18 * ux, my + 18 * uy), (x2 - 24 * ux, y2 - 24 * uy))):\n"
        f"        ax.plot([ax_, bx_], [ay_, by_], color={colour!r}, lw=7, alpha=0.7, solid_capstyle='round')\n"
        "for x, y in cross:\n"
        "    ax.plot(x, y, 'x', ms=34, mew=5, color='red')\n"
    )


def _mst_question(rng: random.Random, g: Graph) -> tuple:
    """(question, answer, legs, skip, tree edges, reasoning) for a minimum spanning tree question."""
    tree = kruskal(g)
    ans = sum(w for _, _, w in tree)
    q = rng.choice(
        (
            "What is the total weight of a minimum spanning tree of the graph? ",
            "Some edges must be chosen so that every node is connected and the total length is as small as "
            "possible. What is that total length? ",
        )
    )
    taken = ", ".join(str(w) for *_, w in tree)
    why = f"Kruskal's algorithm takes the lightest edges that join new parts: {taken}; their sum is {ans}."
    return q, ans, [], None, [(u, v) for u, v, _ in tree], why


def scene(rng: random.Random, difficulty: int) -> tuple[Graph, str, tuple, str]:
    """The graph, question kind, question parts and intro make() draws: extensions replay them from a seed."""
    while True:
        g = _graph(rng, difficulty)
        kind = _kind(rng, difficulty)
        made = _mst_question(rng, g) if kind == "mst" else _path_question(rng, g, kind)
        if made:
            break
    intro = rng.choice(
        (
            "In the graph, the number on each edge is its length in km. ",
            "The map shows places joined by roads; the number on each road is its length in km. ",
            "Each edge of the weighted graph is labelled with its length in km. ",
        )
    )
    return g, kind, made, intro


def make(rng: random.Random, difficulty: int) -> Draft:
    """One weighted graph and a shortest-path or minimum-spanning-tree question."""
    return draft_of(*scene(rng, difficulty), difficulty)


def draft_of(g: Graph, kind: str, made: tuple, intro: str, difficulty: int) -> Draft:
    """The problem for one graph and one question (shared by make and the extensions)."""
    q, ans, legs, skip, segs, why = made
    colour = "green" if kind == "mst" else "darkorange"
    head = f"n = {len(g.names)}\nedges = {list(g.edges)!r}\nlegs = {legs!r}\nskip = {skip!r}\n"
    answer_code = head + (PRIM if kind == "mst" else FLOYD)
    check_code = "import numpy as np\n" + head + (REVERSE_DELETE if kind == "mst" else BELLMAN)
    question = intro + q + "Give the answer in km as a whole number."
    solution = (
        SolutionStep(
            "think",
            f"The graph has {len(g.names)} nodes and {len(g.edges)} weighted edges; read each "
            "edge's weight from its label.",
        ),
        SolutionStep(
            "code",
            "Highlight the edges of the optimal " + ("tree." if kind == "mst" else "route."),
            _tool(g, segs, colour, skip),
        ),
        SolutionStep("think", why),
        SolutionStep("think", f"The answer is {ans}."),
    )
    concepts = (
        ("graph_theory.minimum_spanning_tree", "graph_theory.spanning_tree", "graph_theory.weighted_graph")
        if kind == "mst"
        else ("graph_theory.shortest_path", "graph_theory.weighted_graph")
    )
    return Draft(
        family=FAMILY,
        concepts=concepts,
        domain="graph_theory",
        difficulty=difficulty,
        question=question,
        answer=str(ans),
        answer_kind="number",
        render_code=_render(g),
        answer_code=answer_code,
        check_code=check_code,
        solution=solution,
        elements=tuple(NamedElement(n, "node", x, y) for n, (x, y) in zip(g.names, g.pos, strict=True)),
        tools=("tool.highlight", "tool.connect_points"),
        width=W,
        height=H,
    )
