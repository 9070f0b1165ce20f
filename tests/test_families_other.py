"""The eight non-geometry families (charts, graphs of functions, probability, counting, graph theory,
measurement): reproducible, well-formed drafts whose three answers agree when really executed.

Every family is generated for 30 seeds at all five levels and checked field by field; the counting helpers
are compared with brute force in-process; three drafts per family are executed in the real sandbox
(render -> tool steps on the rendered image -> answer_code and check_code). Run:
pytest -q tests/test_families_other.py
"""

from __future__ import annotations

import io
import json
import random
import re
from fractions import Fraction
from itertools import combinations, product
from pathlib import Path

import numpy as np
import pytest
import sympy
from PIL import Image

from flywheel.sandbox import SandboxJob, SandboxLimits
from generators.procedural.base import canvas_code, tool_canvas_code
from generators.procedural.draw_other import SYMPY_FIXED, fixed, frac_text, is_tie
from generators.procedural.families import (
    bar_chart_stats,
    clock_angle_ruler,
    count_rectangles_triangles,
    function_graph_reading,
    graph_shortest_path,
    grid_paths_counting,
    pie_chart_percent,
    spinner_dice_probability,
)

FAMILIES = {
    m.FAMILY: m
    for m in (
        bar_chart_stats,
        pie_chart_percent,
        function_graph_reading,
        spinner_dice_probability,
        grid_paths_counting,
        count_rectangles_triangles,
        graph_shortest_path,
        clock_angle_ruler,
    )
}
DOMAIN = {
    "bar_chart_stats": "statistics_charts",
    "pie_chart_percent": "statistics_charts",
    "function_graph_reading": "functions_graphs",
    "spinner_dice_probability": "probability",
    "grid_paths_counting": "counting",
    "count_rectangles_triangles": "counting",
    "graph_shortest_path": "graph_theory",
    "clock_angle_ruler": "measurement",
}
DATA = Path(__file__).resolve().parents[1] / "flywheel" / "data"
CONCEPTS = {c["id"] for c in json.loads((DATA / "seed_concepts.json").read_text())}
TOOLS = {t["id"] for t in json.loads((DATA / "seed_tools.json").read_text())}
SEEDS = range(30)
FORMAT = re.compile(r"Give the (answer|exact value)")
UNIT_WORDS = ("whole number", "integer", "decimal place", "percent", "degrees", "fraction", "(x, y)", " mm", " cm")
POINT = re.compile(r"^\((-?\d+), (-?\d+)\)$")
LIMITS = SandboxLimits(wall_s=60)


def _drafts(module):
    return [(seed, level, module.make(random.Random(seed), level)) for seed in SEEDS for level in range(1, 6)]


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_drafts_are_reproducible_and_well_formed(name):
    module = FAMILIES[name]
    for seed, level, d in _drafts(module):
        where = f"{name} seed={seed} level={level}"
        assert module.make(random.Random(seed), level) == d, where
        assert d.family == name and d.difficulty == level and d.domain == DOMAIN[name], where
        assert 2 <= len(d.concepts) <= 5 and set(d.concepts) <= CONCEPTS, (where, d.concepts)
        assert d.tools and set(d.tools) <= TOOLS, (where, d.tools)
        assert 400 <= d.width <= 800 and 400 <= d.height <= 800, where
        assert FORMAT.search(d.question) and any(w in d.question for w in UNIT_WORDS), (where, d.question)
        _assert_answer_shape(d, where)
        assert d.render_code.startswith(canvas_code(d.width, d.height)), where
        assert d.elements and all(e.name for e in d.elements), where
        assert all(0 <= e.x <= d.width and 0 <= e.y <= d.height for e in d.elements), where
        assert 2 <= len(d.solution) <= 6 and d.solution[-1].kind == "think", where
        assert d.answer in d.solution[-1].text, (where, d.answer, d.solution[-1].text)
        codes = [s.code for s in d.solution if s.kind == "code"]
        assert codes and all(c.startswith(tool_canvas_code(d.width, d.height)) for c in codes), where
        for code in (d.render_code, *codes):
            assert "savefig" not in code and ".show(" not in code, where
        compile(d.answer_code, "answer_code", "exec")
        compile(d.check_code, "check_code", "exec")


def _assert_answer_shape(d, where: str) -> None:
    if d.answer_kind == "point":
        assert POINT.match(d.answer), (where, d.answer)
    elif d.answer_kind == "number":
        float(d.answer)
    else:
        assert d.answer_kind == "expression", where
        value = sympy.Rational(d.answer)
        assert frac_text(Fraction(d.answer)) == d.answer == str(value), (where, d.answer)
        if d.family == "spinner_dice_probability":
            assert 0 < value < 1, (where, d.answer)


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_answers_vary_across_seeds(name):
    for level in range(1, 6):
        answers = {FAMILIES[name].make(random.Random(seed), level).answer for seed in SEEDS}
        assert len(answers) >= 4, (name, level, answers)


def test_fixed_rounding_agrees_with_the_sympy_snippet():
    """The stated answers and the answer programs must print the same digits for every non-tie value."""
    scope: dict = {"sp": sympy}
    exec(SYMPY_FIXED, scope)
    for num in range(-300, 300, 7):
        for den in (1, 3, 4, 6, 7, 9, 11, 40):
            value = Fraction(num, den)
            for places in (0, 1, 2):
                if is_tie(value, places):
                    with pytest.raises(ValueError):
                        fixed(value, places)
                    continue
                assert fixed(value, places) == scope["fixed"](sympy.Rational(num, den), places), (value, places)
    assert is_tie(Fraction(1, 8), 2) and not is_tie(Fraction(1, 3), 2) and fixed(Fraction(37, 3), 2) == "12.33"


def _brute_routes(g) -> int:
    total = 0
    for rights in combinations(range(g.m + g.n), g.m):
        x = y = 0
        ok, seen = True, g.via is None
        for k in range(g.m + g.n):
            nxt = (x + 1, y) if k in rights else (x, y + 1)
            ok = ok and ((x, y), nxt) not in g.missing and nxt not in g.closed
            x, y = nxt
            seen = seen or (x, y) == g.via
        total += ok and seen
    return total


def test_grid_route_counts_match_brute_force():
    for seed, level in product(range(12), range(1, 6)):
        g = grid_paths_counting._grid(random.Random(seed), level)
        assert grid_paths_counting.answer_of(g) == _brute_routes(g) > 0, (seed, level, g)
        route = grid_paths_counting.one_route(random.Random(seed), g)
        assert route[0] == (0, 0) and route[-1] == (g.m, g.n) and (g.via is None or g.via in route)
        steps = list(zip(route, route[1:], strict=False))
        assert all(p not in g.closed for p in route) and all(e not in g.missing for e in steps)


def test_shape_counts_match_closed_forms():
    cr = count_rectangles_triangles
    for m, n in product(range(1, 6), range(1, 6)):
        full = {s: len(cr.rectangles(cr.Grid(m, n, frozenset(), s))) for s in ("rectangles", "squares", "oblongs")}
        squares = sum((m - k + 1) * (n - k + 1) for k in range(1, min(m, n) + 1))
        assert full["rectangles"] == (m + 1) * m // 2 * (n + 1) * n // 2
        assert full["squares"] == squares and full["oblongs"] == full["rectangles"] - squares
    a, b, c = (Fraction(5), Fraction(9)), (Fraction(0), Fraction(0)), (Fraction(12), Fraction(0))
    for na, nb in product(range(0, 4), range(0, 3)):
        feet_a = tuple((Fraction(x), Fraction(0)) for x in (2, 6, 9)[:na])
        feet_b = tuple(
            (a[0] + s * (c[0] - a[0]), a[1] + s * (c[1] - a[1])) for s in (Fraction(1, 3), Fraction(2, 3))[:nb]
        )
        count = len(cr.triangles(cr.Tri(a, b, c, feet_a, feet_b, None, ())))
        expect = (na + 2) * (na + 1) // 2 * (nb + 1) + (nb + 2) * (nb + 1) // 2 * (na + 1) - (na + 1) * (nb + 1)
        assert count == expect, (na, nb)


def test_graph_algorithms_agree_with_floyd_and_exhaustive_trees():
    gs = graph_shortest_path
    for seed in range(15):
        level = 1 + seed % 5
        g = gs._graph(random.Random(seed), level)
        n = len(g.names)
        dist = [[0 if i == j else 1 << 30 for j in range(n)] for i in range(n)]
        for u, v, w in g.edges:
            dist[u][v] = dist[v][u] = min(dist[u][v], w)
        for k, i, j in product(range(n), repeat=3):
            dist[i][j] = min(dist[i][j], dist[i][k] + dist[k][j])
        for s, t in combinations(range(n), 2):
            length, path = gs.dijkstra(g, s, t)
            assert length == dist[s][t] and path[0] == s and path[-1] == t, (seed, s, t)
            steps = [{a, b} for a, b in zip(path, path[1:], strict=False)]
            assert length == sum(w for u, v, w in g.edges if {u, v} in steps), (seed, path)
        tree = gs.kruskal(g)
        assert len(tree) == n - 1 and _spans(n, tree), seed
        if level <= 3:  # small enough to try every (n - 1)-edge subset
            best = min(sum(w for *_, w in sub) for sub in combinations(g.edges, n - 1) if _spans(n, sub))
            assert sum(w for *_, w in tree) == best, seed


def _spans(n: int, edges) -> bool:
    parent = list(range(n))

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x

    for u, v, _ in edges:
        if find(u) == find(v):
            return False
        parent[find(u)] = find(v)
    return True


def _sample():
    """Three drafts per family, spread over the levels, every level covered somewhere."""
    out = []
    for i, name in enumerate(sorted(FAMILIES)):
        for j in range(3):
            out.append(FAMILIES[name].make(random.Random(200 + j), 1 + (i + 2 * j) % 5))
    return out


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def test_codes_run_in_the_sandbox_and_agree(sandbox):
    drafts = _sample()
    renders = list(sandbox.map([SandboxJob.of(d.render_code, limits=LIMITS) for d in drafts]))
    images = []
    for d, r in zip(drafts, renders, strict=True):
        assert r.ok and len(r.images) == 1, (d.family, d.difficulty, r.status, r.error)
        assert Image.open(io.BytesIO(r.images[0].png)).size == (d.width, d.height), d.family
        images.append(r.images[0].png)
    tools = [[s.code for s in d.solution if s.kind == "code"] for d in drafts]
    current = list(images)
    for step in range(max(len(t) for t in tools)):
        todo = [k for k, t in enumerate(tools) if len(t) > step]
        jobs = [SandboxJob.of(tools[k][step], {"image.png": current[k]}, LIMITS) for k in todo]
        for k, r in zip(todo, sandbox.map(jobs), strict=True):
            assert r.ok and len(r.images) == 1, (drafts[k].family, r.status, r.error)
            current[k] = r.images[0].png
    for d, before, after in zip(drafts, images, current, strict=True):
        a, b = _pixels(before), _pixels(after)
        assert a.shape == b.shape and np.any(a != b), (d.family, d.difficulty, "the tool changed nothing")
    jobs = [SandboxJob.of(code, limits=LIMITS) for d in drafts for code in (d.answer_code, d.check_code)]
    results = list(sandbox.map(jobs))
    for k, d in enumerate(drafts):
        answer, check = results[2 * k], results[2 * k + 1]
        where = (d.family, d.difficulty, d.answer)
        assert answer.ok and check.ok, (where, answer.error, check.error)
        assert answer.last_line() == d.answer, (where, answer.last_line())
        if d.answer_kind == "point":
            assert check.last_line().replace(" ", "") == d.answer.replace(" ", ""), (where, check.last_line())
        else:
            expected = float(Fraction(d.answer))
            assert float(check.last_line()) == pytest.approx(expected, rel=1e-6, abs=1e-9), (where, check.last_line())
