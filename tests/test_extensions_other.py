"""Parallel and sequential extensions of the eight non-geometry families (issue 5): well-formed, reproducible
drafts built on their parent problem, whose three answers agree when really executed.

Every extension is built for 10 parent seeds at all five parent levels and checked against its parent
in-process (same image, or the parent's drawing plus more; the parent's answer in a sequential solution; honest
levels). Two parent levels per family and operator are executed in the real sandbox (render, tool steps, answer
and check code) and compared with the stated answer by the equivalence checker; the `slow` test executes every
level for two seeds. Run: pytest -q tests/test_extensions_other.py  (add -m slow for the full execution)
"""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import numpy as np
import pytest
from _draft_exec import execute_drafts
from PIL import Image

from generators.procedural.base import tool_canvas_code
from generators.procedural.catalog import FAMILIES, PARALLEL, SEQUENTIAL
from verifiers.equivalence import equivalent

MINE = (
    "bar_chart_stats",
    "pie_chart_percent",
    "function_graph_reading",
    "spinner_dice_probability",
    "grid_paths_counting",
    "count_rectangles_triangles",
    "graph_shortest_path",
    "clock_angle_ruler",
)
OPS = {"parallel": PARALLEL, "sequential": SEQUENTIAL}
CASES = [(name, op) for name in MINE for op in OPS if name in OPS[op]]
DATA = Path(__file__).resolve().parents[1] / "flywheel" / "data"
CONCEPTS = {c["id"] for c in json.loads((DATA / "seed_concepts.json").read_text())}
TOOLS = {t["id"] for t in json.loads((DATA / "seed_tools.json").read_text())}
SEEDS = range(10)


def _pair(name: str, op: str, seed: int, level: int):
    parent = FAMILIES[name](random.Random(seed), level)
    child = OPS[op][name](random.Random(7000 + seed), seed, level)
    return parent, child


def test_every_family_has_both_extensions():
    assert [n for n in MINE if n not in PARALLEL or n not in SEQUENTIAL] == []


@pytest.mark.parametrize(("name", "op"), CASES)
def test_extensions_are_reproducible_and_built_on_their_parent(name, op):
    for seed in SEEDS:
        for level in range(1, 6):
            parent, d = _pair(name, op, seed, level)
            where = f"{name} {op} seed={seed} level={level}"
            assert OPS[op][name](random.Random(7000 + seed), seed, level) == d, where
            assert d.family == name and d.domain == parent.domain, where
            assert 2 <= len(d.concepts) <= 5 and set(d.concepts) <= CONCEPTS, (where, d.concepts)
            assert d.tools and set(d.tools) <= TOOLS, (where, d.tools)
            assert (d.width, d.height) == (parent.width, parent.height), where
            assert "Give the" in d.question and d.question != parent.question, where
            assert d.answer_code != parent.answer_code, where
            assert all(0 <= e.x <= d.width and 0 <= e.y <= d.height for e in d.elements), where
            assert {(e.name, e.x, e.y) for e in parent.elements} <= {(e.name, e.x, e.y) for e in d.elements}, where
            assert 2 <= len(d.solution) <= 6 and d.solution[-1].kind == "think", where
            assert d.answer in d.solution[-1].text, (where, d.answer, d.solution[-1].text)
            codes = [s.code for s in d.solution if s.kind == "code"]
            assert codes and all(c.startswith(tool_canvas_code(d.width, d.height)) for c in codes), where
            for code in (d.render_code, d.answer_code, d.check_code, *codes):
                assert "savefig" not in code and ".show(" not in code, where
                compile(code, where, "exec")
            if op == "parallel":
                assert d.render_code == parent.render_code, where
                assert 1 <= d.difficulty <= 5, where
            else:
                assert d.render_code.startswith(parent.render_code) and len(d.render_code) > len(parent.render_code)
                assert d.difficulty == min(5, level + 1), where
                text = " ".join(s.text for s in d.solution)
                assert parent.answer in text, (where, parent.answer)


@pytest.mark.parametrize(("name", "op"), CASES)
def test_extension_answers_vary(name, op):
    answers = {_pair(name, op, seed, level)[1].answer for seed in SEEDS for level in (2, 4)}
    assert len(answers) >= 5, (name, op, answers)


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def _assert_runs_agree(sandbox, drafts) -> None:
    for run in execute_drafts(sandbox, drafts):
        d = run.draft
        where = (d.family, d.difficulty, d.question[-80:], d.answer)
        assert run.image is not None, (where, run.render.status, run.render.error)
        assert Image.open(io.BytesIO(run.image)).size == (d.width, d.height), where
        assert run.final is not None and not run.tool_errors, (where, run.tool_errors)
        assert np.any(_pixels(run.image) != _pixels(run.final)), (where, "the tool changed nothing")
        assert run.answer.ok and run.check.ok, (where, run.answer.error, run.check.error)
        kind = "point" if d.answer_kind == "point" else "number"
        assert equivalent(d.answer, run.answer.last_line(), kind, rel_tol=1e-9).equal, (where, run.answer.last_line())
        assert equivalent(d.answer, run.check.last_line(), kind, rel_tol=1e-6).equal, (where, run.check.last_line())


def test_extensions_run_in_the_sandbox_and_agree(sandbox):
    """Two parent levels per family and operator, rotating so each family's two operators cover four levels."""
    drafts = []
    for k, name in enumerate(MINE):
        for j, op in enumerate(OPS):
            for level in (1 + (k + 2 * j) % 5, 1 + (k + 2 * j + 1) % 5):
                drafts.append(_pair(name, op, 300 + 7 * k + level, level)[1])
    _assert_runs_agree(sandbox, drafts)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_every_extension_runs_in_the_sandbox_at_every_level(sandbox):
    drafts = [_pair(name, op, seed, level)[1] for name, op in CASES for seed in (400, 401) for level in range(1, 6)]
    _assert_runs_agree(sandbox, drafts)
