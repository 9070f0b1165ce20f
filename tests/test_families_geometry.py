"""The eight geometry families: reproducible, well-formed drafts, and code that really runs and agrees.

Every family is generated for 30 seeds at all five levels and checked field by field; a few drafts per family
are executed in the real sandbox (render -> tool steps on the rendered image -> answer and check code) and
their printed answers compared with the stated one. Run: pytest -q tests/test_families_geometry.py
"""

from __future__ import annotations

import io
import json
import random
import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import sympy
from _draft_exec import execute_drafts
from PIL import Image

from flywheel.sandbox import SandboxLimits
from generators.procedural.base import canvas_code, tool_canvas_code
from generators.procedural.exact_geometry import pi_str, radical_str, sqrt_str
from generators.procedural.families import (
    circle_chord_tangent,
    coordinate_line_intersection,
    law_of_cosines_sines,
    polygon_angles,
    right_triangle_pythagoras,
    solid_box_cylinder,
    triangle_area,
    triangle_centers,
)

FAMILIES = {
    m.FAMILY: m
    for m in (
        triangle_area,
        right_triangle_pythagoras,
        circle_chord_tangent,
        coordinate_line_intersection,
        polygon_angles,
        triangle_centers,
        law_of_cosines_sines,
        solid_box_cylinder,
    )
}
DATA = Path(__file__).resolve().parents[1] / "flywheel" / "data"
CONCEPTS = {c["id"] for c in json.loads((DATA / "seed_concepts.json").read_text())}
TOOLS = {t["id"] for t in json.loads((DATA / "seed_tools.json").read_text())}
DOMAINS = {
    "plane_geometry",
    "solid_geometry",
    "analytic_geometry",
    "trigonometry",
    "functions_graphs",
    "statistics_charts",
    "probability",
    "counting",
    "graph_theory",
    "spatial_logic",
    "measurement",
}
SEEDS = range(30)
FORMAT_WORDS = ("exact", "decimal place", "letter", "whole number", "(x, y)")
UNIT_WORDS = ("cm", "mm", " m", "ft", "km", "units", "degrees", "(x, y)", "°")
POINT = re.compile(r"^\((-?\d+(/\d+)?), (-?\d+(/\d+)?)\)$")
LIMITS = SandboxLimits(wall_s=60)


def _drafts(module, seeds=SEEDS):
    return [(seed, level, module.make(random.Random(seed), level)) for seed in seeds for level in range(1, 6)]


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_drafts_are_reproducible_and_well_formed(name):
    module = FAMILIES[name]
    for seed, level, d in _drafts(module):
        where = f"{name} seed={seed} level={level}"
        assert module.make(random.Random(seed), level) == d, where
        assert d.family == name and d.difficulty == level, where
        assert 2 <= len(d.concepts) <= 5 and set(d.concepts) <= CONCEPTS, (where, d.concepts)
        assert d.domain in DOMAINS and d.tools and set(d.tools) <= TOOLS, (where, d.tools)
        assert 400 <= d.width <= 800 and 400 <= d.height <= 800, where
        assert any(w in d.question for w in FORMAT_WORDS), (where, d.question)
        assert any(w in d.question for w in UNIT_WORDS), (where, d.question)
        _assert_answer_shape(d, where)
        assert d.render_code.startswith(canvas_code(d.width, d.height)), where
        assert d.elements and all(0 <= e.x <= d.width and 0 <= e.y <= d.height for e in d.elements), where
        assert 2 <= len(d.solution) <= 6 and d.solution[-1].kind == "think", where
        assert d.answer in d.solution[-1].text, (where, d.answer, d.solution[-1].text)
        codes = [s.code for s in d.solution if s.kind == "code"]
        assert codes and all(c.startswith(tool_canvas_code(d.width, d.height)) for c in codes), where
        for code in (d.render_code, *codes):
            assert "savefig" not in code and ".show(" not in code, where


def _assert_answer_shape(d, where: str) -> None:
    if d.answer_kind == "point":
        assert POINT.match(d.answer), (where, d.answer)
    elif d.answer_kind == "choice":
        assert d.answer in "ABCD" and len(d.answer) == 1 and f"({d.answer})" in d.question, where
    elif d.answer_kind == "number":
        float(d.answer)
    else:
        assert d.answer_kind == "expression", where
        assert sympy.sympify(d.answer).is_positive, (where, d.answer)


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_answers_vary_across_seeds(name):
    for level in range(1, 6):
        answers = {FAMILIES[name].make(random.Random(seed), level).answer for seed in SEEDS}
        assert len(answers) >= (2 if answers <= set("ABCD") else 5), (name, level, answers)


def test_exact_strings_match_sympy_printing():
    """The plain-Python answer strings must equal what answer_code prints via sympy."""
    for num in range(1, 120):
        for den in (1, 2, 3, 4, 5, 9, 12):
            q = sympy.Rational(num, den)
            assert sqrt_str(Fraction(num, den)) == str(sympy.sqrt(q))
            assert pi_str(Fraction(num, den)) == str(q * sympy.pi)
            assert pi_str(Fraction(num, den), 5) == str(q * sympy.sqrt(5) * sympy.pi)
            assert radical_str(Fraction(num, den), 7) == str(q * sympy.sqrt(7))


def _sample():
    """Three drafts per family, spread over the levels, every level covered somewhere."""
    out = []
    for i, name in enumerate(sorted(FAMILIES)):
        for j in range(3):
            level = 1 + (i + 2 * j) % 5
            out.append(FAMILIES[name].make(random.Random(100 + j), level))
    return out


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def _value(text: str) -> float:
    return float(sympy.sympify(text))


def test_codes_run_in_the_sandbox_and_agree(sandbox):
    for run in execute_drafts(sandbox, _sample(), LIMITS):
        d = run.draft
        where = (d.family, d.difficulty, d.answer)
        assert run.image is not None, (where, run.render.status, run.render.error)
        image = Image.open(io.BytesIO(run.image))
        assert image.size == (d.width, d.height), (d.family, image.size)
        assert run.final is not None and not run.tool_errors, (where, run.tool_errors)
        a, b = _pixels(run.image), _pixels(run.final)
        assert a.shape == b.shape and np.any(a != b), (where, "the tool changed nothing")
        answer, check = run.answer, run.check
        assert answer.ok and check.ok, (where, answer.error, check.error)
        assert answer.last_line() == d.answer, (where, answer.last_line())
        if d.answer_kind in ("choice", "point"):
            assert check.last_line().replace(" ", "") == d.answer.replace(" ", ""), (where, check.last_line())
        else:
            assert float(check.last_line()) == pytest.approx(_value(d.answer), rel=1e-6), (where, check.last_line())
