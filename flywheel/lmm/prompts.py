"""Prompts for the model-driven stages: templates live as files in `flywheel/lmm/templates/`, filled here.

`render_prompt(name, **fields)` fills `{{field}}` placeholders and refuses a missing or unknown field, so a
template edit and its caller cannot drift apart silently. The `*_prompt` builders format records and
knowledge nodes into those fields (images travel as message parts, attached by the stage). Layer L2.
Test: `pytest tests/test_lmm_prompts.py`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import cache
from importlib import resources

from flywheel.canvas import canvas_code, tool_canvas_code
from flywheel.knowledge import DOMAINS, TOOL_KINDS, Concept, VisualTool
from flywheel.lmm.clean import is_rational
from flywheel.lmm.review import DEFAULT_RUBRIC, reply_shape, rubric_block
from flywheel.records import AnswerKind, Problem, SolutionStep

TEMPLATES = ("propose", "extend", "solve", "judge", "repair", "extract")
PLACEHOLDER = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")
DIFFICULTY_HINTS = {
    1: "Everything needed is labelled and the figure is uncluttered; a direct reading or a one-step computation, "
       "with no construction needed (the code step marks what is read).",
    2: "One auxiliary construction, then one or two short steps of reasoning.",
    3: "A construction that must be chosen with some insight, then a few steps combining two facts.",
    4: "A non-obvious construction (or two), several steps, and a quantity that must be derived, not read off.",
    5: "Several constructions or a clever one, multi-step reasoning across concepts; still exact and unambiguous.",
}
ANSWER_FORMATS: dict[str, str] = {
    "number": "The answer is a number: give it exactly (an integer, a fraction such as 7/2, or the decimal the "
              "question asks for), without units.",
    "expression": "The answer is an exact expression, such as 3*sqrt(2), 5*pi/4 or 7/3; do not round it.",
    "choice": "The answer is the letter of the correct option only.",
    "point": "The answer is a point, written as (x, y).",
    "text": "The answer is a short word or phrase.",
}  # fmt: skip
EXAMPLE_CHARS = 1500  # per few-shot example: enough to show the style, bounded so k examples stay cheap
MARKER_CHARS = 24  # what trim's "# ... (n more lines)" marker may take
MIN_EXAMPLE_CHARS = 800  # below this an example has no room left for code
EXAMPLES_HEADER = ("\n## Examples of accepted problems (for the style only: make new, different problems; an example "
                   "drawn on another canvas says so, and its coordinates belong to that canvas, not yours)\n\n")
CODE_CHARS = 4000  # per code block shown to the judge or extractor


@cache
def load_template(name: str) -> str:
    """The text of `flywheel/lmm/templates/<name>.txt` (package data, so it ships with the wheel)."""
    if name not in TEMPLATES:
        raise FileNotFoundError(f"no prompt template {name!r}; templates: {', '.join(TEMPLATES)}")
    return (resources.files("flywheel.lmm") / "templates" / f"{name}.txt").read_text(encoding="utf-8")


def template_fields(name: str) -> frozenset[str]:
    """The placeholder names a template needs."""
    return frozenset(PLACEHOLDER.findall(load_template(name)))


def render_prompt(name: str, **fields: object) -> str:
    """Fill a template; a missing field raises KeyError naming it, an unknown one TypeError.

    Values are inserted verbatim in one pass, so a value that itself contains `{{x}}` is never re-expanded.
    """
    needed = template_fields(name)
    missing, unknown = sorted(needed - fields.keys()), sorted(fields.keys() - needed)
    if missing:
        raise KeyError(f"prompt {name!r} is missing field(s): {', '.join(missing)}")
    if unknown:
        raise TypeError(f"prompt {name!r} has no placeholder(s): {', '.join(unknown)}")
    return PLACEHOLDER.sub(lambda m: str(fields[m.group(1)]), load_template(name))


# ----------------------------------------------------------------------------------------------------
# Formatting records and knowledge nodes
# ----------------------------------------------------------------------------------------------------


def strip_preamble(code: str, preamble: str) -> str:
    """Code without the canvas preamble the pipeline prepends, so prompts show what the model should write."""
    return code[len(preamble) :] if code.startswith(preamble) else code


def trim(text: str, limit: int) -> str:
    """At most `limit` characters (marker included), cut at a line end where possible, saying what was cut.

    >>> trim("a\\nbb\\nccc\\n" * 9, 40)
    'a\\nbb\\nccc\\na\\nbb\\n# ... (22 more lines)'
    """
    if len(text) <= limit:
        return text
    if limit < MARKER_CHARS:
        return ""
    room = limit - MARKER_CHARS
    cut = text.rfind("\n", 0, room) + 1 or room
    return text[:cut] + f"# ... ({text[cut:].count(chr(10)) or 1} more lines)"


def concept_block(concepts: Sequence[Concept]) -> str:
    return "\n".join(f"- {c.id}: {c.name} ({c.domain}). {c.description}" for c in concepts) or "- (free choice)"


def tool_block(tools: Sequence[VisualTool]) -> str:
    lines = [f"- {t.id}: {t.name} ({t.kind}). {t.description} Example: `{t.example}`" for t in tools]
    return "\n".join(lines) or "- (any construction that helps)"


def _body(step: SolutionStep, width: int, height: int) -> str:
    return strip_preamble(step.code, tool_canvas_code(width, height))


def few_shot_block(problems: Sequence[Problem], k: int = 2, max_chars: int = EXAMPLE_CHARS,
                   canvas: tuple[int, int] | None = None) -> str:
    """Up to `k` accepted problems as compact examples (question, answer, code excerpts), each <= max_chars.

    An example whose canvas differs from `canvas` (the one the prompt asks for) states its own size, so its
    coordinates are not read as the target canvas's. Empty when there are none, so the propose template reads
    the same without examples.
    """
    parts = [_example(i, p, max_chars, canvas) for i, p in enumerate(problems[:k], 1)]
    if not parts:
        return ""
    return EXAMPLES_HEADER + "\n".join(parts)


def _example(i: int, p: Problem, max_chars: int, canvas: tuple[int, int] | None = None) -> str:
    """One example within `max_chars` (at least MIN_EXAMPLE_CHARS): text fields get fixed shares, the two code
    excerpts share what is left, the tool excerpt taking at most a third."""
    budget, fence = max(max_chars, MIN_EXAMPLE_CHARS), "```python\n{}\n```\n"
    own = (f"\nThis example is drawn on its own {p.width} x {p.height} canvas; yours is {canvas[0]} x {canvas[1]}: "
           "do not reuse its coordinates.") if canvas and (p.width, p.height) != tuple(canvas) else ""
    head = (f"### Example {i} (difficulty {p.difficulty:g}; answer kind {shown_kind(p)}; concepts: "
            f"{trim(', '.join(p.concepts), budget // 10)}){own}\nQuestion: {trim(p.question, budget // 4)}\n"
            f"Answer: {trim(p.answer, 60)}\nrender_code excerpt:\n")  # fmt: skip
    code_step = next((s for s in p.solution if s.kind == "code"), None)
    step_line = f"first construction: {trim(code_step.text, 120)}\n" if code_step else ""
    room = budget - len(head) - len(step_line) - 2 * (len(fence) - 2)  # what the two code excerpts share
    render = strip_preamble(p.render_code, canvas_code(p.width, p.height)).rstrip()
    tool = _body(code_step, p.width, p.height).rstrip() if code_step else ""
    text = head + fence.format(trim(render, room - min(len(tool), room // 3)).rstrip())
    if code_step is not None:
        tool_room = budget - len(text) - len(step_line) - (len(fence) - 2)
        text += step_line + fence.format(trim(tool, tool_room).rstrip())
    return text


def shown_kind(p: Problem) -> str:
    """The answer kind a prompt shows: a rational is a "number" (the propose rule), even where a procedural
    family labelled it "expression", so examples and parents never contradict the rule."""
    return "number" if p.answer_kind == "expression" and is_rational(p.answer) else p.answer_kind


def solution_block(p: Problem, code_chars: int = CODE_CHARS) -> str:
    """Numbered steps; a code step shows its drawing lines without the tool preamble."""
    lines = []
    for i, s in enumerate(p.solution, 1):
        lines.append(f"Step {i} ({s.kind}): {s.text}")
        if s.kind == "code":
            lines.append(f"```python\n{trim(_body(s, p.width, p.height), code_chars).rstrip()}\n```")
    return "\n".join(lines) or "(no solution given)"


def element_block(p: Problem) -> str:
    return "\n".join(f"- {e.name} ({e.kind}) at ({e.x:g}, {e.y:g})" for e in p.elements) or "(none listed)"


def problem_json(p: Problem) -> str:
    """A problem in the propose schema (code without the preambles), the form the repairer must return."""
    doc = {
        "question": p.question, "answer": p.answer, "answer_kind": shown_kind(p), "difficulty": int(p.difficulty),
        "render_code": strip_preamble(p.render_code, canvas_code(p.width, p.height)),
        "answer_code": p.answer_code, "check_code": p.check_code,
        "solution": [{"kind": s.kind, "text": s.text, **({"code": _body(s, p.width, p.height)} if s.kind == "code"
                                                         else {})} for s in p.solution],
        "elements": [{"name": e.name, "kind": e.kind, "x": e.x, "y": e.y} for e in p.elements],
        "concepts": list(p.concepts), "tools": list(p.tools), "width": p.width, "height": p.height,
    }  # fmt: skip
    return json.dumps(doc, indent=2, ensure_ascii=False)


# ----------------------------------------------------------------------------------------------------
# One builder per template
# ----------------------------------------------------------------------------------------------------


def level_block(levels: Sequence[int]) -> str:
    """One line per problem asked for: its level and what that level means.

    >>> print(level_block([1, 2]).replace(DIFFICULTY_HINTS[1], "...").replace(DIFFICULTY_HINTS[2], "..."))
    - Problem 1: level 1 of 5. ...
    - Problem 2: level 2 of 5. ...
    """
    return "\n".join(f"- Problem {i}: level {lv} of 5. {DIFFICULTY_HINTS[lv]}" for i, lv in enumerate(levels, 1))


def propose_prompt(concepts: Sequence[Concept], tools: Sequence[VisualTool], levels: Sequence[int] | int,
                   examples: Sequence[Problem] = (), k: int = 2, width: int = 600,
                   height: int = 480) -> str:  # fmt: skip
    """The proposer's prompt for one concept combination: one problem per level of `levels` (each 1-5), in order."""
    levels = [min(5, max(1, int(lv))) for lv in ((levels,) if isinstance(levels, int) else levels)] or [3]
    return render_prompt(
        "propose", concepts=concept_block(concepts), tools=tool_block(tools), levels=level_block(levels),
        level_list=", ".join(map(str, levels)), first_level=levels[0], width=width, height=height,
        canvas=canvas_code(width, height), tool_canvas=tool_canvas_code(width, height), count=len(levels),
        examples=few_shot_block(examples, k, canvas=(width, height)),
    )  # fmt: skip


EXTEND_INSTRUCTIONS = {
    "parallel": "Ask a NEW question about the SAME figure: keep render_code exactly as it is (the image must not "
                "change) and ask for a different quantity or relation that the figure supports (not a rewording of "
                "the original question and not the same answer). Write a new solution and new answer code for it.",
    "sequential": "Build a HARDER problem on this one: its answer must become an intermediate step of the new "
                  "solution. Keep the original drawing in render_code and ADD new constructions or constraints "
                  "(new points, lines, circles or given values, drawn and labelled), then ask for something that "
                  "needs the original result first. The solution re-derives the original answer, then uses it.",
}


def extend_prompt(parent: Problem, operator: str, difficulty: int) -> str:
    """The proposer's prompt for a parallel or sequential extension of an accepted problem."""
    level = min(5, max(1, int(difficulty)))
    return render_prompt(
        "extend", operator=operator, instruction=EXTEND_INSTRUCTIONS[operator], difficulty=level,
        difficulty_hint=DIFFICULTY_HINTS[level], parent=problem_json(parent), width=parent.width,
        height=parent.height, canvas=canvas_code(parent.width, parent.height),
        tool_canvas=tool_canvas_code(parent.width, parent.height),
    )  # fmt: skip


def solve_prompt(question: str, answer_kind: AnswerKind | str = "") -> str:
    """The cross-model solver's prompt; attach the rendered image to the same message."""
    return render_prompt("solve", question=question, answer_format=ANSWER_FORMATS.get(answer_kind, ""))


def judge_prompt(p: Problem, threshold: int = 7, rubric: Sequence[str] = DEFAULT_RUBRIC) -> str:
    """The judge's rubric prompt (the configured items only); attach the original image, then the edited one."""
    return render_prompt(
        "judge", question=p.question, answer=p.answer, answer_kind=p.answer_kind, solution=solution_block(p),
        elements=element_block(p), threshold=threshold, rubric=rubric_block(rubric), reply=reply_shape(rubric),
    )  # fmt: skip


def repair_prompt(p: Problem, stage: str, reason: str, detail: str = "") -> str:
    """The repairer's prompt: the failed problem and why it failed (the image may be attached if it rendered)."""
    return render_prompt(
        "repair", stage=stage, reason=reason, detail=trim(detail or "(none)", CODE_CHARS), problem=problem_json(p),
        width=p.width, height=p.height, canvas=canvas_code(p.width, p.height),
        tool_canvas=tool_canvas_code(p.width, p.height),
    )  # fmt: skip


def extract_prompt(p: Problem, known_concepts: Sequence[Concept], known_tools: Sequence[VisualTool]) -> str:
    """The extractor's prompt; pass a relevant subset of the knowledge system, not all of it."""
    return render_prompt(
        "extract", question=p.question, answer=p.answer, solution=solution_block(p),
        known_concepts="\n".join(f"- {c.id}: {c.name}" for c in known_concepts) or "(none)",
        known_tools="\n".join(f"- {t.id}: {t.name}" for t in known_tools) or "(none)",
        domains=", ".join(DOMAINS), tool_kinds=", ".join(TOOL_KINDS),
    )  # fmt: skip
