"""Parsing what real models write: hand-written outputs in the shapes proposers, judges and solvers produce.

Each case is a realistic completion (chatty preambles, markdown, fences, arrays, Python dicts, broken and cut-off
JSON) with the fields or the failure reason it must give. One test renders a parsed proposal in the real sandbox.
"""
# ruff: noqa: E501 - the outputs below keep the long lines models really write

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from flywheel.knowledge import KnowledgeSystem
from flywheel.lmm.parse import (
    Judgement,
    ParseFailure,
    ProposalDefaults,
    ProposalDraft,
    extract_answer_tag,
    failure_to_rejection,
    parse_candidates,
    parse_extraction,
    parse_judgement,
    parse_proposal,
    to_problem,
)
from flywheel.records import make_problem_id, raw_input_id
from generators.procedural.base import canvas_code, tool_canvas_code

# A proposal the way a careful model writes it: JSON with "\n" escapes inside code strings.
GOOD = r"""{
  "question": "In triangle ABC, AB = 10 cm and the distance from C to line AB is 6 cm. Find the area of triangle ABC in cm².",
  "answer": "30",
  "answer_kind": "number",
  "difficulty": 2,
  "render_code": "ax.plot([100, 500, 220, 100], [400, 400, 160, 400], color='black', lw=2)\nfor name, (x, y) in {'A': (100, 400), 'B': (500, 400), 'C': (220, 160)}.items():\n    ax.text(x, y + 20, name, ha='center', fontsize=14)",
  "answer_code": "from sympy import Rational\nprint(Rational(1, 2) * 10 * 6)",
  "check_code": "import numpy as np\nA, B, C = np.array([0, 0]), np.array([10, 0]), np.array([2.4, 6])\nu, v = B - A, C - A\nprint(abs(u[0] * v[1] - u[1] * v[0]) / 2)",
  "solution": [
    {"kind": "think", "text": "The area needs the height from C to AB."},
    {"kind": "code", "text": "Drop the perpendicular from C to AB.", "code": "ax.plot([220, 220], [160, 400], 'r--', lw=2)\nax.plot(220, 400, 'ro')"},
    {"kind": "think", "text": "Height 6, base 10, so the area is 1/2 * 10 * 6 = 30."}
  ],
  "elements": [{"name": "A", "kind": "vertex", "x": 100, "y": 400}, {"name": "B", "kind": "vertex", "x": 500, "y": 400}, {"name": "C", "kind": "vertex", "x": 220, "y": 160}],
  "concepts": ["plane_geometry.triangle_area"],
  "tools": ["tool.perpendicular"],
  "width": 600,
  "height": 480
}"""
DEFAULTS = ProposalDefaults(concepts=("plane_geometry.triangle_area",), tools=("tool.perpendicular",), domain="plane_geometry")


def one(text: str, defaults: ProposalDefaults = DEFAULTS) -> ProposalDraft:
    out = parse_proposal(text, defaults)
    assert not isinstance(out, ParseFailure), out
    assert len(out) == 1, out
    return out[0]


def failure(text: str) -> ParseFailure:
    out = parse_proposal(text, DEFAULTS)
    assert isinstance(out, ParseFailure), out
    assert out.raw == text  # the raw model text is kept for the rejection record
    return out


def variant(**changes) -> str:
    """GOOD with some fields changed (None drops one), written back as indented JSON like a model would."""
    d = json.loads(GOOD)
    for k, v in changes.items():
        d.pop(k) if v is None else d.__setitem__(k, v)
    return json.dumps(d, indent=2, ensure_ascii=False)


# ----------------------------------------------------------------------------------------------------
# Proposals that parse
# ----------------------------------------------------------------------------------------------------


def test_bare_json_object_gives_every_field_under_the_pixel_contract():
    d = one(GOOD)
    assert d.question.startswith("In triangle ABC") and d.answer == "30" and d.answer_kind == "number"
    assert d.difficulty == 2 and (d.width, d.height) == (600, 480) and d.family == "lmm"
    assert d.render_code.startswith(canvas_code(600, 480)) and "ax.plot([100, 500" in d.render_code
    assert [s.kind for s in d.solution] == ["think", "code", "think"]
    assert d.solution[1].code.startswith(tool_canvas_code(600, 480)) and "'r--'" in d.solution[1].code
    assert [(e.name, e.x, e.y) for e in d.elements] == [("A", 100, 400), ("B", 500, 400), ("C", 220, 160)]
    assert d.concepts == ("plane_geometry.triangle_area",) and d.tools == ("tool.perpendicular",)
    assert d.domain == "plane_geometry" and d.raw.strip() == GOOD.strip()
    for code in (d.render_code, d.solution[1].code, d.answer_code, d.check_code):
        compile(code, "<model code>", "exec")


def test_fenced_json_between_chatty_prose():
    text = (
        "Sure! Here is a problem that needs an auxiliary construction (an altitude) to solve.\n\n"
        f"```json\n{GOOD}\n```\n\n"
        "**Why it works:** the height is not drawn, so the solver must construct it. Let me know if you want "
        "a harder version {for example with an obtuse angle}!"
    )
    assert one(text).answer == "30"


def test_array_of_three_candidates_keeps_each_with_its_own_raw():
    text = "[\n" + ",\n".join(variant(difficulty=lvl, answer=str(10 * lvl), question=f"Q{lvl}?") for lvl in (2, 3, 4))
    text += "\n]"
    drafts = parse_proposal(text, DEFAULTS)
    assert [d.difficulty for d in drafts] == [2, 3, 4] and [d.answer for d in drafts] == ["20", "30", "40"]
    assert all('"Q' in d.raw and len(d.raw) < len(text) / 2 for d in drafts)


def test_several_fenced_blocks_one_candidate_each():
    text = (
        "### Problem 1 (easy)\n```json\n" + variant(question="Easy one?") + "\n```\n\n"
        "### Problem 2 (harder)\nThis one hides the height outside the triangle.\n```json\n"
        + variant(question="Harder one?", answer="45") + "\n```\n"
    )
    drafts = parse_proposal(text, DEFAULTS)
    assert [(d.question, d.answer) for d in drafts] == [("Easy one?", "30"), ("Harder one?", "45")]


def test_wrapper_object_around_the_candidates():
    text = '{"problems": [' + variant(question="A?") + ", " + variant(question="B?") + "]}"
    assert [d.question for d in parse_proposal(text, DEFAULTS)] == ["A?", "B?"]


def test_trailing_commas_and_comments_are_forgiven():
    text = GOOD.replace('"width": 600,', '"width": 600,  // pixels\n  /* the canvas */').replace(
        '"height": 480\n}', '"height": 480,\n}'
    ).replace('"tool.perpendicular"]', '"tool.perpendicular",]')
    d = one(text)
    assert d.width == 600 and d.tools == ("tool.perpendicular",)


def test_python_dict_with_single_quotes_tuples_and_triple_quoted_code():
    text = '''Here is the problem as a Python dict:

```python
{
    'question': 'Points P and Q lie on the circle. Find the length of chord PQ in cm if the radius is 5 cm and the chord is 3 cm from the centre.',
    'answer': 8,
    'answer_kind': None,
    'render_code': """
ax.add_patch(plt.Circle((300, 240), 150, fill=False, lw=2))
ax.plot([180, 420], [330, 330], 'k-', lw=2)
""",
    'answer_code': 'import sympy as sp\\nprint(2 * sp.sqrt(5**2 - 3**2))',
    'check_code': 'import math\\nprint(2 * math.sqrt(25 - 9))',
    'solution': [
        {'kind': 'think', 'text': 'Join the centre to the chord.'},
        {'kind': 'code', 'text': 'Draw the perpendicular from O to PQ.', 'code': "ax.plot([300, 300], [240, 330], 'r--')"},
        {'kind': 'think', 'text': 'Half chord = 4, so PQ = 8.'},
    ],
    'elements': [{'name': 'O', 'kind': 'center', 'xy': (300, 240)}, {'name': 'P', 'kind': 'point', 'xy': (180, 330)}],
    'tools': ('tool.perpendicular',),
    'is_valid': True,
}
```'''
    d = one(text)
    assert d.answer == "8" and d.answer_kind == "number"  # None -> inferred from the answer
    assert "plt.Circle((300, 240), 150" in d.render_code and d.render_code.count("\n") >= 10
    assert d.answer_code == "import sympy as sp\nprint(2 * sp.sqrt(5**2 - 3**2))\n"
    assert [(e.name, e.kind, e.x) for e in d.elements] == [("O", "center", 300), ("P", "point", 180)]
    assert d.tools == ("tool.perpendicular",)


def test_smart_quotes_used_as_json_delimiters():
    text = (GOOD.replace('"question": "', "“question”: “").replace('cm².",', "cm².”,"))
    assert one(text).question.endswith("in cm².")


def test_unquoted_keys_like_a_javascript_object():
    text = GOOD.replace('"answer": "30"', 'answer: "30"').replace('"width": 600', "width: 600")
    d = one(text)
    assert d.answer == "30" and d.width == 600


def test_code_fields_given_as_fenced_code_inside_strings():
    render = "```python\nax.plot([100, 500], [400, 400], 'k-')\nax.text(100, 420, 'A')\n```"
    d = one(variant(render_code=render, answer_code="```\nprint(30)\n```"))
    assert d.render_code == canvas_code(600, 480) + "ax.plot([100, 500], [400, 400], 'k-')\nax.text(100, 420, 'A')\n"
    assert d.answer_code == "print(30)\n" and "code_fence_stripped" in d.fixes


def test_missing_optional_fields_take_the_defaults():
    text = variant(elements=None, concepts=None, tools=None, width=None, height=None, answer_kind=None,
                   difficulty=None)  # fmt: skip
    d = one(text, ProposalDefaults(concepts=("c.x",), tools=("t.y",), difficulty=4, width=640, height=400))
    assert (d.concepts, d.tools, d.difficulty, d.width, d.height) == (("c.x",), ("t.y",), 4, 640, 400)
    assert d.elements == () and d.answer_kind == "number" and "answer_kind_inferred" in d.fixes
    assert d.render_code.startswith(canvas_code(640, 400))


def test_wrong_types_are_coerced():
    d = one(variant(answer=7.5, width="640px", height=400.0, difficulty="hard", concepts="a.b, c.d"))
    assert (d.answer, d.width, d.height, d.difficulty, d.concepts) == ("7.5", 640, 400, 4, ("a.b", "c.d"))
    assert one(variant(answer=30.0)).answer == "30"


def test_point_answer_given_as_a_list():
    d = one(variant(answer=[3, -2], answer_kind="coordinates"))
    assert (d.answer, d.answer_kind) == ("(3, -2)", "point")


def test_answer_in_boxed_and_dollars_with_single_backslash_latex():
    # "\b" and "\f" are JSON escapes, so a model's \boxed{\frac..} arrives as control characters.
    assert one(GOOD.replace('"answer": "30"', r'"answer": "$\\boxed{30}$"')).answer == "30"
    d = one(GOOD.replace('"answer": "30"', r'"answer": "\boxed{\frac{15}{2}}"'))
    assert d.answer == r"\frac{15}{2}"


def test_latex_in_the_question_survives_invalid_and_swallowed_escapes():
    text = GOOD.replace("In triangle ABC,", r"In \triangle ABC with \angle C = 40^\circ and \sqrt{2} marked,")
    assert one(text).question.startswith(r"In \triangle ABC with \angle C = 40^\circ and \sqrt{2} marked,")


def test_paper_style_keys_and_a_separate_auxiliary_code_field():
    text = json.dumps({
        "difficulty": "medium", "problem_type": "fill-in",
        "Question": "Find the area of triangle ABC.", "final_answer": "30",
        "python_code": "ax.plot([100, 500, 220, 100], [400, 400, 160, 400], 'k-')",
        "answer_code": "print(30)", "check_code": "print(10 * 6 / 2)",
        "python_code_auxiliary": "img = plt.imread('image.png')\nfig = plt.figure(figsize=(6, 4.8), dpi=100)\n"
                                 "ax = fig.add_axes([0, 0, 1, 1])\nax.imshow(img)\nax.plot([220, 220], [160, 400], 'r--')",
        "auxiliary_tools_description": "The altitude from C.",
        "solution_markdown": "Drop the altitude from C; it has length 6, so the area is 30.",
    })  # fmt: skip
    d = one(text)
    assert (d.question, d.answer, d.difficulty) == ("Find the area of triangle ABC.", "30", 3)
    assert [s.kind for s in d.solution] == ["think", "code"] and d.solution[1].text == "The altitude from C."
    assert d.solution[1].code.startswith("img = plt.imread('image.png')")  # loads the image itself: kept as written


def test_step_shapes_models_use():
    steps = [
        "First notice that the height is missing.",
        {"type": "tool", "content": "Draw the altitude.", "tool_code": "ax.plot([220, 220], [160, 400], 'r--')"},
        {"Kind": "code", "Text": "Mark the foot.\n```python\nax.plot(220, 400, 'ro')\n```"},
        {"type": "reasoning", "reasoning": "So the area is 30."},
    ]
    d = one(variant(solution=steps))
    assert [s.kind for s in d.solution] == ["think", "code", "code", "think"]
    assert d.solution[2].text == "Mark the foot." and d.solution[2].code.endswith("ax.plot(220, 400, 'ro')\n")
    assert "step_code_from_text" in d.fixes


def test_own_figure_with_show_and_savefig_is_kept_without_output_calls():
    render = (
        "import matplotlib.pyplot as plt\nfig = plt.figure(figsize=(6, 4.8), dpi=100)\nax = fig.add_axes([0, 0, 1, 1])\n"
        "ax.set_xlim(0, 600); ax.set_ylim(480, 0)\nax.plot([1, 2], [3, 4])\nplt.tight_layout()\n"
        "plt.savefig('figure.png',\n            bbox_inches='tight')\nax.axis('off'); plt.show()\nplt.close(fig)"
    )
    d = one(variant(render_code=render))
    assert not d.render_code.startswith(canvas_code(600, 480)) and "own_figure" in d.fixes
    for call in ("savefig", "show(", "tight_layout", "close("):
        assert call not in d.render_code
    assert "ax.axis('off'); pass" in d.render_code
    compile(d.render_code, "<render>", "exec")


def test_doubly_escaped_newlines_in_code_are_undone():
    text = GOOD.replace(r"print(Rational(1, 2) * 10 * 6)", r"x = 1\\nprint(Rational(1, 2) * 10 * 6)").replace(
        r'"answer_code": "from sympy import Rational\n', r'"answer_code": "from sympy import Rational\\n'
    )
    assert one(text).answer_code == "from sympy import Rational\nx = 1\nprint(Rational(1, 2) * 10 * 6)\n"


def test_unescaped_quotes_inside_a_code_string():
    text = GOOD.replace("ax.plot(220, 400, 'ro')", 'ax.plot(220, 400, "ro")').replace(
        "ha='center', fontsize=14)", 'ha="center", fontsize=14)'
    )
    d = one(text)
    assert d.solution[1].code.endswith('ax.plot(220, 400, "ro")\n')
    assert 'ax.text(x, y + 20, name, ha="center", fontsize=14)' in d.render_code


def test_solution_as_markdown_with_fenced_tool_code():
    md = ("The height from C is not drawn, so the base-height formula cannot be used yet.\n\n"
          "Draw the altitude from C to AB:\n```python\nax.plot([220, 220], [160, 400], 'r--')\n```\n"
          "The altitude has length 6, so the area is 30.")  # fmt: skip
    d = one(variant(solution=md))
    assert [s.kind for s in d.solution] == ["think", "code", "think"]
    assert d.solution[1].text == "Draw the altitude from C to AB:" and "'r--'" in d.solution[1].code
    assert d.solution[2].text == "The altitude has length 6, so the area is 30."


def test_reasoning_models_think_before_the_json():
    sketch = '<think>\nMaybe {"question": "Find the area", "answer": 2 ... no, make it harder.\n'
    full = sketch + '```json\n' + variant(question="Draft?") + '\n```\nOK final.\n</think>\n\n' + GOOD
    assert one(full).question.startswith("In triangle ABC")  # the draft inside <think> is not a candidate
    assert failure(sketch + "I should also label").reason == "truncated"  # ran out of tokens while thinking
    # An unclosed sketch outside any think block, then the real JSON: not a truncation.
    items = parse_candidates('Plan: {"question": "Area of ABC?" ... writing it properly now:\n' + GOOD, DEFAULTS)
    assert len(items) == 1 and isinstance(items[0], ProposalDraft)


def test_element_shapes_and_dropped_elements():
    els = {"A": [100, 400], "B": {"x": 500, "y": 400, "kind": "vertex"}, "C": "somewhere at the top"}
    d = one(variant(elements=els))
    assert [(e.name, e.kind, e.x, e.y) for e in d.elements] == [("A", "point", 100, 400), ("B", "vertex", 500, 400)]
    assert "element_dropped" in d.fixes
    d = one(variant(elements=[{"label": "H", "type": "foot", "pixel": [220, 400]}]))
    assert [(e.name, e.kind, e.x, e.y) for e in d.elements] == [("H", "foot", 220, 400)]


def test_choice_answer_with_separate_options_field():
    d = one(variant(question="Which is the area of triangle ABC?", answer="(B) 30 cm²", answer_kind="multiple choice",
                    options=["20 cm²", "30 cm²", "40 cm²", "60 cm²"]))  # fmt: skip
    assert (d.answer, d.answer_kind) == ("B", "choice")
    assert d.question.endswith("\nA. 20 cm²\nB. 30 cm²\nC. 40 cm²\nD. 60 cm²")


def test_a_repeated_json_block_counts_once():
    text = f"Draft:\n```json\n{GOOD}\n```\nOn reflection this is final:\n```json\n{GOOD}\n```"
    assert len(parse_proposal(text, DEFAULTS)) == 1


def test_concept_names_resolve_to_knowledge_system_ids():
    ks = KnowledgeSystem.seed()
    defaults = ProposalDefaults(concepts=("plane_geometry.triangle_area",), ks=ks)
    d = one(variant(concepts=["Triangle area", "plane_geometry.altitude_of_triangle", "Quantum chromodynamics"],
                    tools=["Perpendicular line"]), defaults)  # fmt: skip
    assert d.concepts == ("plane_geometry.triangle_area", "plane_geometry.altitude_of_triangle")
    assert d.tools == ("tool.perpendicular",) and "unknown_concept" in d.fixes


# ----------------------------------------------------------------------------------------------------
# Proposals that fail, each with its reason
# ----------------------------------------------------------------------------------------------------


def test_truncated_output_is_a_failure_named_truncated():
    cut = GOOD[: GOOD.index("ax.text(x, y + 20")]
    f = failure("Here is the problem:\n```json\n" + cut)
    assert f.reason == "truncated"


def test_truncated_array_keeps_the_complete_candidates():
    text = "```json\n[\n" + variant(question="One?") + ",\n" + variant(question="Two?") + ",\n" + GOOD[:900]
    drafts = parse_proposal(text, DEFAULTS)
    assert [d.question for d in drafts] == ["One?", "Two?"]
    items = parse_candidates(text, DEFAULTS)
    assert isinstance(items[-1], ParseFailure) and items[-1].reason == "truncated"
    assert items[-1].raw.startswith('{\n  "question": "In triangle ABC')


def test_missing_required_fields_are_named():
    f = failure(variant(answer_code=None, check_code=""))
    assert f.reason == "missing:answer_code,check_code" and "answer_code" in f.detail
    assert failure(variant(answer=r"\boxed{}")).reason == "missing:answer"


def test_refusal_and_empty_outputs():
    assert failure("I'm sorry, but I can't create that problem [policy].").reason == "no_json"
    assert failure("").reason == "empty" and failure("  \n").reason == "empty"


def test_broken_json_beyond_repair():
    text = '```json\n{"question": "Find x." "answer": 3 4, "render_code": ax.plot(1, 2)}\n```'
    f = failure(text)
    assert f.reason == "bad_json" and "would not parse" in f.detail


def test_a_solution_without_any_code_step_is_rejected():
    assert failure(variant(solution=[{"kind": "think", "text": "Area = 30."}])).reason == "no_tool_step"
    assert failure(variant(solution=None)).reason == "no_tool_step"


def test_impossible_sizes_and_shapes_are_bad_fields():
    assert failure(variant(width=10000)).reason == "bad_field"
    assert failure(variant(solution={"step": "one"})).reason == "bad_field"
    assert failure(variant(render_code={"lines": 3})).reason == "bad_field"


def test_hostile_bracket_soup_fails_fast():
    assert failure("[{" * 50_000).reason == "no_json"
    assert failure('{"question": "' + "[" * 20_000).reason == "truncated"


# ----------------------------------------------------------------------------------------------------
# Into records
# ----------------------------------------------------------------------------------------------------


def test_to_problem_hashes_content_and_failure_becomes_a_rejection():
    d = one(GOOD)
    p = to_problem(d, round=3, proposer="qwen2.5-vl-72b", parent_id="abc", operator="repair")
    assert p.id == make_problem_id(d.question, d.render_code, d.answer, d.answer_code, "abc")
    assert (p.round, p.proposer, p.operator, p.difficulty, p.solution) == (3, "qwen2.5-vl-72b", "repair", 2.0,
                                                                          d.solution)  # fmt: skip
    f = failure("no json here")
    r = failure_to_rejection(f, round=3)
    assert (r.id, r.stage, r.reason, r.raw, r.round) == (raw_input_id("no json here"), "propose", "no_json",
                                                         "no json here", 3)  # fmt: skip
    assert failure_to_rejection(f, 3, key="req-1").id != failure_to_rejection(f, 3, key="req-2").id


def test_a_parsed_proposal_renders_and_its_tool_code_edits_the_image(sandbox):
    d = one(GOOD)
    render = sandbox.run(d.render_code)
    assert render.status == "ok", render.stderr
    png = render.images[0].png
    img = Image.open(io.BytesIO(png)).convert("L")
    assert img.size == (600, 480)
    assert min(img.getpixel((int(e.x) + dx, int(e.y))) for e in d.elements for dx in (-1, 0, 1)) < 128
    edit = sandbox.run(d.solution[1].code, inputs={"image.png": png})
    assert edit.status == "ok", edit.stderr
    edited = Image.open(io.BytesIO(edit.images[-1].png)).convert("RGB")
    assert edited.size == (600, 480) and edited.getpixel((220, 280))[0] > 150 > edited.getpixel((220, 280))[2]


# ----------------------------------------------------------------------------------------------------
# Several levels in one reply; fractions; tool code that saves a file
# ----------------------------------------------------------------------------------------------------

LEVELS = ProposalDefaults(levels=(2, 3, 4))


def _reply(*difficulties) -> str:
    """A JSON array of GOOD variants (distinct questions) with the given difficulty values (None: omitted)."""
    items = [json.loads(variant(question=f"Problem {i}: find the area of triangle ABC.", difficulty=d))
             for i, d in enumerate(difficulties)]
    return "Here are the problems:\n```json\n" + json.dumps(items, indent=1) + "\n```"


def test_each_candidate_keeps_its_own_asked_level_else_its_position():
    assert [d.difficulty for d in parse_proposal(_reply(4, 2, 3), LEVELS)] == [4, 2, 3]  # own levels win
    assert [d.difficulty for d in parse_proposal(_reply(None, None, None), LEVELS)] == [2, 3, 4]  # by position
    assert [d.difficulty for d in parse_proposal(_reply(2, 5, 1), LEVELS)] == [2, 3, 4]  # 5, 1 were not asked
    assert [d.difficulty for d in parse_proposal(_reply("easy", "medium", "hard"), LEVELS)] == [2, 3, 4]
    drafts = parse_proposal(_reply(9, 3), LEVELS)
    assert [d.difficulty for d in drafts] == [2, 3] and "level_by_position" in drafts[0].fixes


def test_a_reply_with_more_candidates_than_levels_keeps_the_first_ones_and_fewer_yields_what_it_has():
    four = parse_candidates(_reply(2, 3, 4, 4), LEVELS)
    assert len(four) == 3 and [d.question[:9] for d in four] == ["Problem 0", "Problem 1", "Problem 2"]
    assert len(parse_candidates(_reply(3), LEVELS)) == 1
    broken = _reply(2, 3)[:-4].rstrip().rstrip("]") + ', {"question": "Problem 2: what is the'  # cut off
    items = parse_candidates(broken, LEVELS)
    assert [type(x).__name__ for x in items] == ["ProposalDraft", "ProposalDraft", "ParseFailure"]
    assert items[2].reason == "truncated"
    assert len(parse_candidates(_reply(2, 3, 4, 4))) == 4  # without asked levels nothing is dropped


def test_a_fraction_is_a_number_whatever_kind_the_model_gave_it():
    for answer, kind in (("3/4", "expression"), ("-7/2", "exact"), ("\\frac{3}{4}", "expression"), ("5/8", "fraction")):
        d = one(variant(answer=answer, answer_kind=kind))
        assert d.answer_kind == "number", (answer, kind)
    assert "fraction_is_number" in one(variant(answer="3/4", answer_kind="expression")).fixes
    assert one(variant(answer="3*sqrt(2)", answer_kind="expression")).answer_kind == "expression"
    assert one(variant(answer="3/4", answer_kind=None)).answer_kind == "number"


ZOOM_PIL = "from PIL import Image\nim = Image.open('image.png')\nim.crop((80, 40, 240, 160)).resize((480, 360)).save('zoom.png')"
ZOOM_IMSAVE = "crop = plt.imread('image.png')[40:160, 80:240]\nplt.imsave('zoom.png', crop)"


def test_tool_code_that_saves_a_file_draws_into_ax_instead(sandbox):
    for code in (ZOOM_PIL, ZOOM_IMSAVE):
        steps = [{"kind": "code", "text": "Zoom into the label.", "code": code}, {"kind": "think", "text": "30"}]
        d = one(variant(solution=steps))
        tool = d.solution[0].code
        assert "tool_file_save_redirected" in d.fixes and tool.startswith(tool_canvas_code(600, 480))
        assert ".save(" not in tool and "imsave" not in tool and "ax.imshow(np.asarray(" in tool
        png = sandbox.run(d.render_code).images[0].png
        edit = sandbox.run(tool, inputs={"image.png": png})
        assert edit.status == "ok" and len(edit.images) == 1, edit.stderr  # one image: the step's result
        assert Image.open(io.BytesIO(edit.images[0].png)).size == (600, 480) and edit.images[0].png != png
    kept = one(variant(solution=[{"kind": "code", "text": "t", "code": "ax.plot([1, 2], [3, 4])\nplt.savefig('x.png')"}]))
    assert kept.solution[0].code.endswith("ax.plot([1, 2], [3, 4])\n") and "output_calls_removed" in kept.fixes


# ----------------------------------------------------------------------------------------------------
# Judge, extractor and solver outputs
# ----------------------------------------------------------------------------------------------------


PAPER = ("question_answer", "drawing", "tool_edit")  # the paper's three items, as an older config has them


def test_judgement_as_json_after_reasoning():
    text = (
        "Let me check. The figure shows triangle ABC with AB labelled 10 cm... the answer 30 is right.\n"
        '```json\n{"question_answer": 9, "drawing": 8, "tool_edit": 7, "numbers": 9, "reason": "Sound; the altitude is clear."}\n```'
    )
    assert parse_judgement(text) == Judgement({"question_answer": 9, "drawing": 8, "tool_edit": 7, "numbers": 9},
                                              True, "Sound; the altitude is clear.")  # fmt: skip


def test_judgement_variants_nested_strings_nulls_and_explicit_fail():
    j = parse_judgement('{"scores": {"Q&A correctness": "8/10", "drawing validity": 9.4, "tool edit": null, '
                        '"number consistency": 10}, "explanation": "No tool edit to judge."}')  # fmt: skip
    assert j.scores == {"question_answer": 8, "drawing": 9, "numbers": 10} and j.passed
    assert j.reason == "No tool edit to judge."
    low = parse_judgement('{"question_answer": 10, "drawing": 4, "tool_edit": 9, "reason": "label C misplaced"}', 7,
                          PAPER)  # fmt: skip
    assert not low.passed and low.scores["drawing"] == 4
    per_item = parse_judgement('{"question_answer": {"score": 9, "reason": "ok"}, "drawing": {"score": 8}, '
                               '"tool_edit": {"score": 3, "reason": "the altitude misses C"}}', 7, PAPER)  # fmt: skip
    assert per_item.scores == {"question_answer": 9, "drawing": 8, "tool_edit": 3} and not per_item.passed
    vetoed = parse_judgement("{'question_answer': 9, 'drawing': 9, 'tool_edit': 9, 'numbers': 9, 'verdict': 'FAIL', "
                             "'reason': 'x'}")  # fmt: skip
    assert not vetoed.passed


def test_numbers_item_under_the_names_judges_write():
    for name in ("numbers", "Numbers consistency", "label_consistency", "numeric consistency", "figure_numbers"):
        j = parse_judgement(json.dumps({"question_answer": 9, "drawing": 8, "tool_edit": 8, name: 2,
                                        "reason": "The figure labels AB = 9 but the question says AB = 7."}))
        assert j.scores["numbers"] == 2 and not j.passed, name
    prose = "Question/answer: 9\nDrawing: 8\nTool edit: 8\nNumbers: 3/10\nThe radius is labelled 5, not 7."
    assert parse_judgement(prose).scores["numbers"] == 3


def test_the_rubric_is_configurable_and_an_older_reply_without_numbers():
    old = '{"question_answer": 9, "drawing": 9, "tool_edit": 8, "reason": "consistent"}'
    assert parse_judgement(old).reason == "missing:numbers"  # the default rubric lists it: required
    assert parse_judgement(old, 7, PAPER).passed  # a config with the paper's three items accepts it
    only = parse_judgement('{"numbers": 9, "drawing": 2, "reason": "r"}', 7, ("numbers",))
    assert only.scores == {"numbers": 9} and only.passed  # items outside the rubric are ignored
    assert parse_judgement('{"numbers": 6}', 6, ("numbers",)).passed  # the threshold stays configurable


def test_judge_prompt_lists_the_configured_items_and_the_request_carries_both_images():
    from flywheel.lmm.prompts import judge_prompt
    from flywheel.records import make_problem
    from verifiers.judge import judge_request

    p = make_problem(question="AB = 7. Find BC.", answer="24", image=b"png-1", edited_image=b"png-2")
    full = judge_prompt(p)
    assert "- numbers: read every number" in full and '"numbers": <0-10>' in full and "AB = 9" in full
    short = judge_prompt(p, 8, ("question_answer", "numbers"))
    assert "- drawing:" not in short and '"tool_edit"' not in short and "at least 8" in short
    req = judge_request(p, rubric=("numbers",))
    assert req.messages[0].images == (b"png-1", b"png-2") and "- numbers:" in req.messages[0].text
    with pytest.raises(ValueError, match="unknown rubric item"):
        judge_prompt(p, 7, ("numbrs",))


def test_judgement_in_prose_and_failures():
    prose = "**Question/answer correctness:** 9/10\n**Drawing validity:** 8\n- Tool edit validity: 6\nOverall fine."
    j = parse_judgement(prose, 7, PAPER)
    assert j.scores == {"question_answer": 9, "drawing": 8, "tool_edit": 6} and not j.passed
    assert parse_judgement('{"question_answer": 9, "drawing": 8}').reason == "missing:tool_edit,numbers"
    assert parse_judgement('```json\n{"question_answer": 9, "drawing": 8, "tool_ed').reason == "truncated"
    assert parse_judgement("Looks good to me!").reason == "no_scores"


def test_extraction_outputs():
    text = (
        "The problem uses the triangle area formula and an altitude.\n```json\n"
        '{"concepts": ["plane_geometry.triangle_area", {"id": "plane_geometry.altitude_of_triangle"}],\n'
        ' "tools": "tool.perpendicular",\n'
        ' "new_concepts": [{"name": "Area from two altitudes", "description": "Equate two base-height products.",'
        ' "domain": "plane_geometry", "parents": ["plane_geometry.triangle_area"], "level": 4, "junk": 1},'
        ' {"description": "no name"}],\n'
        ' "new_tools": [{"name": "Foot marker", "kind": "annotate", "example": "ax.plot(x, y, \'rs\')"}]}\n```'
    )
    e = parse_extraction(text)
    assert e.concepts == ("plane_geometry.triangle_area", "plane_geometry.altitude_of_triangle")
    assert e.tools == ("tool.perpendicular",)
    assert e.new_concepts == ({"name": "Area from two altitudes", "description": "Equate two base-height products.",
                               "domain": "plane_geometry", "parents": ["plane_geometry.triangle_area"], "level": 4},)
    assert e.new_tools[0]["name"] == "Foot marker"
    grown, report = KnowledgeSystem.seed().grow(e.new_concepts, e.new_tools, round=1)
    assert len(report.added) == 2
    assert parse_extraction("{'concepts': ['x'], 'tools': []}").concepts == ("x",)
    assert parse_extraction("I could not find any concepts.").reason == "no_json"


def test_answer_tag_last_one_wins():
    assert extract_answer_tag("<answer>3</answer> hmm, recheck... <ANSWER>\n $\\boxed{\\frac{7}{2}}$ \n</answer>") == (
        "\\frac{7}{2}"
    )
    assert extract_answer_tag("The answer is 4.") is None
    assert extract_answer_tag("reasoning... <answer>(2, -1)</answer>") == "(2, -1)"
    assert extract_answer_tag("<answer>B</answer> trailing <answer>unclosed") == "B"
