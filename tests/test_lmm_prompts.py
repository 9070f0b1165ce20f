"""Prompt templates: every placeholder filled, strict about missing or unknown fields, few-shot examples
bounded, and the propose/repair schema kept in step with the parser (a repairer echoing a problem back gets
the same problem)."""

from __future__ import annotations

import random

import pytest

from flywheel.knowledge import DOMAINS, KnowledgeSystem
from flywheel.lmm.clean import is_rational
from flywheel.lmm.jsonish import scan
from flywheel.lmm.parse import ProposalDefaults, ProposalDraft, parse_proposal, to_problem
from flywheel.lmm.prompts import (
    DIFFICULTY_HINTS,
    EXAMPLES_HEADER,
    TEMPLATES,
    extract_prompt,
    few_shot_block,
    judge_prompt,
    problem_json,
    propose_prompt,
    render_prompt,
    repair_prompt,
    solve_prompt,
    template_fields,
)
from generators.procedural.base import canvas_code
from generators.procedural.catalog import FAMILIES
from generators.propose import Task, propose

KS = KnowledgeSystem.seed()


@pytest.fixture(scope="module")
def problems():
    """One procedural problem per family (real code, real solutions), at mixed difficulties."""
    rng = random.Random(7)
    return [propose(Task(0, i, name, rng.randint(1, 5), rng.getrandbits(32)), FAMILIES) for i, name in
            enumerate(sorted(FAMILIES))]  # fmt: skip


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_placeholder_is_filled(name):
    fields = {f: f"<<value of {f}>>" for f in template_fields(name)}
    assert fields, f"{name} has no placeholders"
    text = render_prompt(name, **fields)
    assert "{{" not in text and "}}" not in text
    for value in fields.values():
        assert value in text


def test_missing_and_unknown_fields_raise_naming_them():
    fields = {f: "x" for f in template_fields("solve")}
    with pytest.raises(KeyError, match="answer_format"):
        render_prompt("solve", question="What is x?")
    with pytest.raises(TypeError, match="colour"):
        render_prompt("solve", **fields, colour="red")
    with pytest.raises(FileNotFoundError, match="propose"):
        render_prompt("nonexistent")


def test_values_are_inserted_verbatim_not_re_expanded():
    text = render_prompt("solve", question="Is {{answer_format}} literal? {x: {y}}", answer_format="FORMAT")
    assert "Is {{answer_format}} literal? {x: {y}}" in text and text.count("FORMAT") == 1


def test_few_shot_block_is_bounded_and_well_formed(problems):
    assert few_shot_block([], 3) == ""
    for k, limit in ((1, 1500), (3, 1000), (5, 800)):
        block = few_shot_block(problems, k, max_chars=limit)
        assert block.count("### Example") == k
        assert len(block) <= len(EXAMPLES_HEADER) + k * (limit + 1)
        assert block.count("```") % 2 == 0  # excerpts never cut a fence open
        assert "matplotlib.use" not in block  # the preamble the pipeline adds is not shown
    huge = problems[0].__class__(**{**problems[0].__dict__, "question": "Q" * 50_000, "render_code": "x = 1\n" * 9000})
    assert len(few_shot_block([huge], 1, max_chars=1500)) <= len(EXAMPLES_HEADER) + 1501


def test_propose_prompt_lists_the_combination_and_a_schema_the_parser_reads(problems):
    concepts, tools = KS.concepts[10:12], KS.tools[:2]
    text = propose_prompt(concepts, tools, levels=(3, 4, 5), examples=problems[:2], width=640, height=400)
    for node in (*concepts, *tools):
        assert node.id in text
    assert "level 4 of 5" in text and canvas_code(640, 400) in text and text.count("### Example") == 2
    schema = [v for _, _, v in scan(text).values if isinstance(v, list) and v and isinstance(v[0], dict)]
    keys = set(schema[-1][0])
    assert {"question", "answer", "render_code", "answer_code", "check_code", "solution", "elements"} <= keys
    draft = parse_proposal(text[text.index("[\n  {"):], ProposalDefaults())  # the skeleton itself parses
    assert isinstance(draft, list) and draft[0].width == 640 and draft[0].solution[1].kind == "code"


def test_repair_schema_round_trips_every_family(problems):
    """A repairer that returns the problem unchanged gives back the same problem (same content id)."""
    for p in problems:
        out = parse_proposal(problem_json(p), ProposalDefaults(family=p.family))
        assert isinstance(out, list) and isinstance(out[0], ProposalDraft), (p.family, out)
        again = to_problem(out[0], round=p.round, proposer="procedural")
        assert again.id == p.id, p.family
        assert [(s.kind, s.text.strip(), s.code) for s in again.solution] == [(s.kind, s.text.strip(), s.code)
                                                                              for s in p.solution]  # fmt: skip
        assert again.elements == p.elements and again.concepts == p.concepts and again.tools == p.tools
        kind = "number" if p.answer_kind == "expression" and is_rational(p.answer) else p.answer_kind  # the rule
        assert (again.answer_kind, again.check_code, again.width) == (kind, p.check_code, p.width)


def test_builders_fill_their_templates(problems):
    p = problems[0]
    judge = judge_prompt(p, threshold=8)
    assert p.question in judge and "at least 8" in judge and "imread" not in judge
    code = next(s for s in p.solution if s.kind == "code")
    assert code.code.splitlines()[-1] in judge  # the tool code's drawing lines are shown
    repair = repair_prompt(p, "verify", "executed_mismatch", "got '12', stated '13'")
    assert "executed_mismatch" in repair and "got '12'" in repair and f'"question": "{p.question[:20]}' in repair
    solve = solve_prompt(p.question, "point")
    assert p.question in solve and "(x, y)" in solve and "<answer>" in solve and p.answer not in solve.split("\n")[3:]
    extract = extract_prompt(p, KS.concepts[:5], KS.tools[:3])
    assert KS.concepts[4].id in extract and KS.tools[2].id in extract and all(d in extract for d in DOMAINS)


# ----------------------------------------------------------------------------------------------------
# The propose prompt after strong models read it (issue 10, "Realistic output")
# ----------------------------------------------------------------------------------------------------


def test_one_request_asks_for_each_level_in_order_with_its_hint():
    text = propose_prompt(KS.concepts[:2], KS.tools[:1], levels=(1, 2, 3))
    assert text.startswith("You are an expert author of visual mathematics problems")
    assert "Create 3 new problem(s)" in text and "JSON array of 3 object(s)" in text and "(1, 2, 3)" in text
    lines = [ln for ln in text.splitlines() if ln.startswith("- Problem ")]
    assert lines == [f"- Problem {i}: level {i} of 5. {DIFFICULTY_HINTS[i]}" for i in (1, 2, 3)]
    single = propose_prompt(KS.concepts[:2], KS.tools[:1], 4)
    assert "Create 1 new problem(s)" in single and "- Problem 1: level 4 of 5." in single


def test_level_one_may_be_a_direct_reading_and_constructions_start_at_level_two():
    assert "no construction needed" in DIFFICULTY_HINTS[1] and "labelled" in DIFFICULTY_HINTS[1]
    assert all("construction" in DIFFICULTY_HINTS[lv] for lv in (2, 3, 4, 5))
    assert "construction" not in DIFFICULTY_HINTS[1].replace("no construction needed", "")
    text = propose_prompt(KS.concepts[:2], KS.tools[:1], levels=(1, 2, 3))
    assert "From level 2 on it needs at least one auxiliary construction" in text
    assert "At level 1 everything needed is labelled" in text


def test_fractions_elements_of_charts_and_zoom_steps_are_spelled_out():
    text = propose_prompt(KS.concepts[:2], KS.tools[:1], levels=(2, 3, 4))
    assert 'a rational answer such as 3/4 is a "number"' in text and '"expression" only for exact values' in text
    assert "A chart or plot has no vertices" in text and '"bar_top"' in text and "empty list []" in text
    assert "ax.inset_axes(" in text and "never save a file" in text and "zoom.png" not in text


def test_examples_on_another_canvas_say_so(problems):
    other = next(p for p in problems if (p.width, p.height) != (600, 480))
    block = few_shot_block([other], 1, canvas=(600, 480))
    assert f"its own {other.width} x {other.height} canvas; yours is 600 x 480" in block
    same = few_shot_block([other], 1, canvas=(other.width, other.height))
    assert "its own" not in same and "its own" not in few_shot_block([other], 1)
    text = propose_prompt(KS.concepts[:2], KS.tools[:1], 3, examples=[other])
    assert f"its own {other.width} x {other.height} canvas" in text


def test_seed_tool_examples_draw_into_ax_and_the_zoom_example_edits_the_image(sandbox, problems):
    for t in KS.tools:
        assert not any(s in t.example for s in (".save(", "savefig", "imsave", "zoom.png")), t.id
    zoom = KS.tool("tool.crop_zoom").example
    p = problems[0]
    png = sandbox.run(p.render_code).images[0].png
    from flywheel.canvas import tool_canvas_code

    edit = sandbox.run(tool_canvas_code(p.width, p.height) + zoom + "\n", inputs={"image.png": png})
    assert edit.status == "ok" and len(edit.images) == 1 and edit.images[0].png != png, edit.stderr
