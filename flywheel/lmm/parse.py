"""Turn what a proposer model wrote into problem drafts, or into a failure with a reason and the raw text.

Part of the LMM propose and repair stages: `parse_proposal(text)` finds every candidate in the output (fenced
or bare JSON, Python dicts, arrays, cut-off arrays), maps the field names models actually use onto ours,
coerces types, fills optional fields from `ProposalDefaults`, and normalises code to the pixel-space contract
of `flywheel/canvas.py`. Failures are data (`ParseFailure` -> `Rejection`), never exceptions.
Judge, extractor and solver outputs are read in `flywheel/lmm/review.py` (re-exported here).
Test: `pytest tests/test_lmm_parse.py`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from flywheel.knowledge import KnowledgeSystem
from flywheel.lmm.clean import (
    FieldError,
    clean_answer,
    clean_code,
    clean_latex,
    is_rational,
    tool_code_contract,
    with_canvas,
)
from flywheel.lmm.jsonish import ParseFailure, final_text, scan
from flywheel.lmm.review import Extraction, Judgement, extract_answer_tag, parse_extraction, parse_judgement
from flywheel.records import (
    AnswerKind,
    Cost,
    Draft,
    NamedElement,
    Problem,
    Rejection,
    SolutionStep,
    make_problem,
    raw_input_id,
)

# The verify stage needs all five (executed answer and numeric cross-check run both codes), so a proposal
# lacking one is rejected here, naming it, rather than crashing a later stage.
REQUIRED = ("question", "answer", "render_code", "answer_code", "check_code")
# Field names models use for ours (compared after lower-casing and turning spaces/hyphens into underscores);
# several come from the paper's generator JSON (`python_code`, `Question`, `final_answer`, `element_arrtibute`).
ALIASES = {
    "question": ("problem", "new_problem", "question_text", "problem_text"),
    "answer": ("final_answer", "correct_answer", "answer_value", "ground_truth"),
    "answer_kind": ("answer_type", "kind_of_answer", "answer_format"),
    "render_code": ("python_code", "figure_code", "drawing_code", "plot_code", "matplotlib_code", "image_code",
                    "original_img_code", "code"),
    "answer_code": ("solver_code", "answer_python", "sympy_code", "solution_code"),
    "check_code": ("verify_code", "verification_code", "numeric_check", "check_python", "crosscheck_code"),
    "solution": ("solution_steps", "steps", "interactive_solution", "solution_markdown"),
    "elements": ("named_elements", "element_attribute", "element_arrtibute", "points"),
    "concepts": ("knowledge_points", "concept_ids", "knowledge", "knowledge_concepts"),
    "tools": ("visual_tools", "tool_ids", "auxiliary_tools"),
    "width": ("image_width", "w"),
    "height": ("image_height", "h"),
    "difficulty": ("level", "difficulty_level"),
    "domain": ("subject",),
    "choices": ("options",),
    # The paper's generator keeps the construction apart from the solution text; it becomes a code step.
    "tool_code": ("python_code_auxiliary", "auxiliary_code", "aux_code", "construction_code"),
    "tool_text": ("auxiliary_tools_description", "new_auxiliary_tools_description", "auxiliary_description",
                  "auxiliary_image_description", "construction"),
}  # fmt: skip
_CANONICAL = {alias: key for key, aliases in ALIASES.items() for alias in (key, *aliases)}
KINDS: dict[str, AnswerKind] = {
    **dict.fromkeys(("number", "numeric", "integer", "int", "float", "decimal", "real", "fraction", "rational"),
                    "number"),
    **dict.fromkeys(("expression", "expr", "formula", "symbolic", "radical", "exact"), "expression"),
    **dict.fromkeys(("choice", "mcq", "multiple_choice", "option", "letter"), "choice"),
    **dict.fromkeys(("point", "coordinate", "coordinates", "pair"), "point"),
    **dict.fromkeys(("text", "string", "word", "short_answer"), "text"),
}  # fmt: skip
STEP_KINDS = {"think": "think", "reasoning": "think", "thought": "think", "text": "think", "analysis": "think",
              "code": "code", "tool": "code", "python": "code", "action": "code", "tool_code": "code"}  # fmt: skip
LEVEL_WORDS = {"easy": 2, "medium": 3, "moderate": 3, "hard": 4, "difficult": 4, "very hard": 5}
# Among the levels one request asked for, a word names a position: easy the lowest, hard the highest.
LEVEL_SHARE = {"easy": 0.0, "medium": 0.5, "moderate": 0.5, "hard": 1.0, "difficult": 1.0, "very hard": 1.0}
MIN_SIDE, MAX_SIDE = 64, 2048  # pixels; outside this a "width" is a mistake, not a figure size
_FENCED = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)
_FENCE_BLOCK = re.compile(r"```[ \t]*[\w+.-]*[ \t]*\n(.*?)```", re.DOTALL)
__all__ = [
    "REQUIRED", "Extraction", "Judgement", "ParseFailure", "ProposalDefaults", "ProposalDraft", "draft_from",
    "extract_answer_tag", "failure_to_rejection", "infer_kind", "parse_candidates", "parse_extraction",
    "parse_judgement", "parse_proposal", "to_problem",
]  # fmt: skip
# A quoted "question" key (or an alias) followed by a colon: how a cut-off or broken candidate is recognised.
_QUESTION_KEY = re.compile(r"[\"'“‘](question|problem|new_problem)[\"'”’]\s*:", re.IGNORECASE)


@dataclass(frozen=True)
class ProposalDefaults:
    """What a proposal that omits an optional field gets; `ks`, when given, maps concept/tool names to ids."""

    family: str = "lmm"
    concepts: tuple[str, ...] = ()
    tools: tuple[str, ...] = ()
    domain: str = ""
    difficulty: int = 3
    width: int = 600
    height: int = 480
    ks: KnowledgeSystem | None = field(default=None, compare=False)
    # The levels one request asked for, one candidate each: each candidate keeps its own stated level when it
    # is one of these, else takes the level of its position; candidates past the last level are dropped.
    levels: tuple[int, ...] = ()


@dataclass(frozen=True)
class ProposalDraft(Draft):
    """A `Draft` read from model text: `raw` is the candidate's source, `fixes` lists what parsing repaired."""

    raw: str = ""
    fixes: tuple[str, ...] = ()


def parse_candidates(text: str, defaults: ProposalDefaults = ProposalDefaults()) -> list[ProposalDraft | ParseFailure]:
    """Every candidate in the output, each a draft or the failure of that one candidate (order kept).

    Use this where every failed candidate should become a rejection; `parse_proposal` keeps only drafts.
    """
    if not text or not text.strip():
        return [ParseFailure("empty", "the model returned no text", text or "")]
    body, thinking = final_text(text)
    if thinking:
        return [ParseFailure("truncated", "the output ends inside <think>", text)]
    found = scan(body)
    out: list[ProposalDraft | ParseFailure] = []
    seen: set[tuple[str, str, str]] = set()
    last_start = -1
    for start, source, value in found.values:
        cands = _candidates(value)
        last_start = start if cands else last_start
        for cand in cands:
            item = draft_from(cand, defaults, source if len(cands) == 1 else _compact(cand), slot=len(out))
            if isinstance(item, ProposalDraft):
                key = (item.question, item.answer, item.render_code)
                if key in seen:  # a model that repeats its JSON (draft, then "final") gave one candidate
                    continue
                seen.add(key)
            out.append(item)
    # Cut off: an opener that never closed, holds a question, and has no complete candidate after it (an
    # unclosed sketch followed by the real JSON is not a truncation; the tail of a cut-off array is).
    cut = [i for i in found.unclosed if i > last_start and _QUESTION_KEY.search(body, i)]
    if cut:
        out.append(ParseFailure("truncated", "the output ends inside a JSON value", body[cut[0]:]))
    if not out:
        out.append(_no_candidate(text, found.failed))
    return out[: len(defaults.levels)] if defaults.levels else out


def parse_proposal(text: str, defaults: ProposalDefaults = ProposalDefaults()) -> list[ProposalDraft] | ParseFailure:
    """The drafts a proposer output holds, or why it holds none (the first failure's reason)."""
    items = parse_candidates(text, defaults)
    drafts = [x for x in items if isinstance(x, ProposalDraft)]
    if drafts:
        return drafts
    failure = next(x for x in items if isinstance(x, ParseFailure))
    return ParseFailure(failure.reason, failure.detail, text)


def _no_candidate(text: str, failed: tuple[tuple[str, str], ...]) -> ParseFailure:
    bad = [(src, err) for src, err in failed if _QUESTION_KEY.search(src)]
    if bad:
        return ParseFailure("bad_json", f"a candidate would not parse: {bad[-1][1]}", text)
    return ParseFailure("no_json", "no JSON object with a question was found", text)


def _compact(cand: dict) -> str:
    """The raw text of one candidate out of several (so each rejection keeps only its own candidate)."""
    return json.dumps(cand, ensure_ascii=False, default=str)


def _canonical(key: object) -> str | None:
    norm = re.sub(r"[\s\-]+", "_", str(key).strip().lower())
    return _CANONICAL.get(norm)


def _candidates(value: Any, depth: int = 0) -> list[dict]:
    """Proposal dicts inside a decoded value: itself, the items of an array, or a wrapper's contents."""
    if depth > 3:
        return []
    if isinstance(value, list):
        return [c for v in value for c in _candidates(v, depth + 1)]
    if not isinstance(value, dict):
        return []
    if any(_canonical(k) == "question" and isinstance(v, str) for k, v in value.items()):
        return [value]
    return [c for v in value.values() if isinstance(v, list | dict) for c in _candidates(v, depth + 1)]


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | dict | tuple) and not value)


def draft_from(cand: dict, defaults: ProposalDefaults, raw: str, slot: int = 0) -> ProposalDraft | ParseFailure:
    """One candidate dict -> a draft: names mapped, types coerced, defaults filled, code normalised; `slot` is
    its position in the reply (which level it answers when it names none of those asked)."""
    f: dict[str, Any] = {}
    for k, v in cand.items():
        key = _canonical(k)
        if key and (key not in f or _blank(f[key])):  # first non-blank spelling wins
            f[key] = v
    missing = [k for k in REQUIRED if _blank(f.get(k)) or (k == "answer" and clean_answer(f[k]) == "")]
    if missing:
        return ParseFailure("missing:" + ",".join(missing), f"required field(s) absent or empty: {missing}", raw)
    fixes: list[str] = []
    try:
        draft = _build(f, defaults, raw, fixes, slot)
    except FieldError as exc:
        return ParseFailure("bad_field", str(exc), raw)
    if not any(s.kind == "code" for s in draft.solution):
        return ParseFailure("no_tool_step", "the solution has no code step that draws on the figure", raw)
    return draft


def _build(f: dict[str, Any], d: ProposalDefaults, raw: str, fixes: list[str], slot: int = 0) -> ProposalDraft:
    width, height = _side(f.get("width"), d.width, "width"), _side(f.get("height"), d.height, "height")
    question = clean_latex(_text(f["question"], "question")).strip()
    question = _with_choices(question, f.get("choices"), fixes)
    answer = clean_answer(f["answer"])
    kind = _answer_kind(f.get("answer_kind"), answer, question, fixes)
    if kind == "choice":
        answer = _choice_letter(answer)
    return ProposalDraft(
        family=d.family,
        concepts=_names(f.get("concepts"), d.concepts, d.ks, "concept", fixes),
        domain=str(f.get("domain") or d.domain),
        difficulty=_asked_level(f.get("difficulty"), d.levels, slot, fixes) if d.levels else
        _level(f.get("difficulty"), d.difficulty),
        question=question,
        answer=answer,
        answer_kind=kind,
        render_code=with_canvas(clean_code(f["render_code"], "render_code", fixes), width, height, fixes),
        answer_code=clean_code(f["answer_code"], "answer_code", fixes),
        check_code=clean_code(f["check_code"], "check_code", fixes),
        solution=_solution(f.get("solution"), width, height, fixes) + _separate_tool_step(f, width, height, fixes),
        elements=_elements(f.get("elements"), fixes),
        tools=_names(f.get("tools"), d.tools, d.ks, "tool", fixes),
        width=width,
        height=height,
        raw=raw,
        fixes=tuple(dict.fromkeys(fixes)),
    )


def _text(value: Any, name: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise FieldError(f"{name} must be text, got {type(value).__name__}")


def _side(value: Any, default: int, name: str) -> int:
    if _blank(value):
        return default
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(?:px)?\s*", str(value))
    if isinstance(value, bool) or not m:
        raise FieldError(f"{name} is not a pixel count: {value!r}")
    side = round(float(m.group(1)))
    if not MIN_SIDE <= side <= MAX_SIDE:
        raise FieldError(f"{name} {side} is outside {MIN_SIDE}..{MAX_SIDE} pixels")
    return side


def _level(value: Any, default: int) -> int:
    if isinstance(value, str) and value.strip().lower() in LEVEL_WORDS:
        return LEVEL_WORDS[value.strip().lower()]
    m = re.search(r"\d+(?:\.\d+)?", str(value)) if not isinstance(value, bool) and value is not None else None
    return min(5, max(1, round(float(m.group())))) if m else default


def _asked_level(value: Any, levels: tuple[int, ...], slot: int, fixes: list[str]) -> int:
    """The level a candidate of a multi-level request answers: its own if asked for, else its position's.

    >>> _asked_level(4, (2, 3, 4), 0, []), _asked_level("hard", (2, 3, 4), 0, []), _asked_level(1, (2, 3, 4), 1, [])
    (4, 4, 3)
    """
    word = value.strip().lower() if isinstance(value, str) else ""
    if word in LEVEL_SHARE:
        return levels[round(LEVEL_SHARE[word] * (len(levels) - 1))]
    own = _level(value, 0)
    if own in levels:
        return own
    fixes.append("level_by_position")
    return levels[min(slot, len(levels) - 1)]


def _with_choices(question: str, choices: Any, fixes: list[str]) -> str:
    """Options given as a separate field are written into the question, unless it already lists them."""
    if isinstance(choices, dict):
        items = [f"{k}. {v}" for k, v in choices.items()]
    elif isinstance(choices, list) and choices:
        items = [str(c) if re.match(r"\(?[A-H][.):]", str(c)) else f"{chr(65 + i)}. {c}" for i, c in enumerate(choices)]
    else:
        return question
    if re.search(r"(^|\s)\(?A[.):]\s", question) and re.search(r"(^|\s)\(?B[.):]\s", question):
        return question
    fixes.append("choices_appended")
    return question + "\n" + "\n".join(items[:8])


def _answer_kind(value: Any, answer: str, question: str, fixes: list[str]) -> AnswerKind:
    norm = re.sub(r"[\s\-]+", "_", str(value or "").strip().lower())
    if KINDS.get(norm) == "expression" and is_rational(answer):
        fixes.append("fraction_is_number")  # the prompt asks for "number"; both compare the same way
        return "number"
    if norm in KINDS:
        return KINDS[norm]
    fixes.append("answer_kind_inferred")
    return infer_kind(answer, question)


def infer_kind(answer: str, question: str) -> AnswerKind:
    """A best guess when the model names no (or an unknown) answer kind.

    >>> infer_kind("B", "Which is larger? A. 3  B. 4"), infer_kind("(2, -1)", ""), infer_kind("7/2", "")
    ('choice', 'point', 'number')
    """
    if re.fullmatch(r"\(?[A-H]\)?", answer) and re.search(r"(^|\s)\(?[A-H][.):]", question):
        return "choice"
    if re.fullmatch(r"\(\s*[^,()]+,\s*[^,()]+\)", answer):
        return "point"
    if re.fullmatch(r"[-+]?\d+(\.\d+)?", answer) or is_rational(answer):
        return "number"
    if re.search(r"[A-Za-z]{3,}", answer) and not re.search(r"sqrt|pi|frac|sin|cos|tan|log|ln", answer):
        return "text"
    return "expression"


def _choice_letter(answer: str) -> str:
    """'(B)', 'B.', 'B) 45°', 'Option B' -> 'B'; anything else is kept for the equivalence checker to judge."""
    m = re.fullmatch(r"(?:option|choice|answer)?\s*\(?([A-Ha-h])\)?(?:[.:)]\s*.*)?", answer.strip(), re.IGNORECASE)
    return m.group(1).upper() if m else answer


def _names(value: Any, default: tuple[str, ...], ks: KnowledgeSystem | None, what: str,
           fixes: list[str]) -> tuple[str, ...]:  # fmt: skip
    """Concept or tool references as ids where the knowledge system knows them; the defaults if none are left."""
    if isinstance(value, str):
        value = re.split(r"[,;\n]", value)
    items = []
    for v in value if isinstance(value, list | tuple) else []:
        ref = v.get("id") or v.get("name") if isinstance(v, dict) else v
        if isinstance(ref, str) and ref.strip():
            items.append(ref.strip())
    if ks is not None:
        match = ks.match_concept if what == "concept" else ks.match_tool
        resolved = [r if r in ks else match(r) for r in items]
        if None in resolved:
            fixes.append(f"unknown_{what}")
        items = [r for r in resolved if r]
    return tuple(dict.fromkeys(items)) or default


def _solution(value: Any, width: int, height: int, fixes: list[str]) -> tuple[SolutionStep, ...]:
    if _blank(value):
        return ()
    if isinstance(value, str):
        fixes.append("solution_from_text")
        return _markdown_steps(value, width, height, fixes)
    if not isinstance(value, list):
        raise FieldError(f"solution must be a list of steps, got {type(value).__name__}")
    steps = []
    for item in value:
        if isinstance(item, str):
            steps.append(SolutionStep("think", clean_latex(item).strip()))
        elif isinstance(item, dict):
            steps.append(_step({str(k).strip().lower(): v for k, v in item.items()}, width, height, fixes))
        else:
            raise FieldError(f"a solution step must be an object, got {type(item).__name__}")
    return tuple(steps)


def _markdown_steps(text: str, width: int, height: int, fixes: list[str]) -> tuple[SolutionStep, ...]:
    """A solution written as markdown: prose becomes think steps, each fenced block a code step whose text is
    the prose just before it (models introduce code with "Draw the altitude from C:")."""
    steps: list[SolutionStep] = []
    pos = 0
    for m in _FENCE_BLOCK.finditer(text):
        *before, intro = re.split(r"\n\s*\n", clean_latex(text[pos : m.start()]).strip())
        if "\n\n".join(before).strip():
            steps.append(SolutionStep("think", "\n\n".join(before).strip()))
        code = tool_code_contract(clean_code(m.group(1), "solution code", fixes), width, height, fixes)
        steps.append(SolutionStep("code", intro.strip() or "Draw the construction.", code))
        pos = m.end()
    tail = clean_latex(text[pos:]).strip()
    return tuple(steps) + ((SolutionStep("think", tail),) if tail else ())


def _step(item: dict[str, Any], width: int, height: int, fixes: list[str]) -> SolutionStep:
    """One step; a step labelled code whose code sits fenced in its text is split into text and code."""
    raw_code = next((item[k] for k in ("code", "tool_code", "python", "python_code") if item.get(k)), "")
    text = _text(next((item[k] for k in ("text", "content", "reasoning", "description", "thought") if item.get(k)),
                      ""), "step text")  # fmt: skip
    kind = STEP_KINDS.get(str(item.get("kind") or item.get("type") or "").strip().lower(), "think")
    if not raw_code and kind == "code" and "```" in text:
        raw_code, text = text, _FENCED.sub("", text)
        fixes.append("step_code_from_text")
    if not raw_code:
        return SolutionStep("think", clean_latex(text).strip())
    code = tool_code_contract(clean_code(raw_code, "solution code", fixes), width, height, fixes)
    return SolutionStep("code", clean_latex(text).strip(), code)


def _separate_tool_step(f: dict[str, Any], width: int, height: int, fixes: list[str]) -> tuple[SolutionStep, ...]:
    """A construction given beside the solution (paper style) as one more code step, if the solution has none."""
    steps = f.get("solution")
    has_code = isinstance(steps, list) and any(isinstance(s, dict) and (s.get("code") or s.get("tool_code"))
                                               for s in steps)  # fmt: skip
    if has_code or _blank(f.get("tool_code")):
        return ()
    fixes.append("tool_step_from_field")
    text = clean_latex(_text(f.get("tool_text") or "Draw the auxiliary construction.", "tool_text")).strip()
    return (SolutionStep("code", text, tool_code_contract(clean_code(f["tool_code"], "tool_code", fixes), width,
                                                          height, fixes)),)  # fmt: skip


def _elements(value: Any, fixes: list[str]) -> tuple[NamedElement, ...]:
    """Named pixel positions from the shapes models use: a list of objects, or a mapping name -> (x, y).

    An element without a name or numeric coordinates is dropped (noted in `fixes`): it could not be checked.
    """
    if _blank(value):
        return ()
    if isinstance(value, dict):
        value = [{"name": k, **v} if isinstance(v, dict) else {"name": k, "xy": v} for k, v in value.items()]
    if not isinstance(value, list):
        raise FieldError(f"elements must be a list, got {type(value).__name__}")
    out = []
    for item in value:
        el = _element(item) if isinstance(item, dict) else None
        if el is None:
            fixes.append("element_dropped")
        else:
            out.append(el)
    return tuple(out)


def _element(item: dict) -> NamedElement | None:
    item = {str(k).strip().lower(): v for k, v in item.items()}
    name = str(item.get("name") or item.get("label") or item.get("id") or "").strip()
    xy: Any = (item.get("x"), item.get("y"))
    if xy[0] is None:
        keys = ("xy", "pixel", "position", "pos", "coords", "coordinates", "point", "center", "location")
        xy = next((item[k] for k in keys if item.get(k) is not None), None)
        xy = (xy.get("x"), xy.get("y")) if isinstance(xy, dict) else xy
    try:
        x, y = (float(v) for v in xy)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        return None
    kind = str(item.get("kind") or item.get("type") or "point").strip() or "point"
    return NamedElement(name, kind, x, y) if name else None


# ----------------------------------------------------------------------------------------------------
# Into records
# ----------------------------------------------------------------------------------------------------


def to_problem(draft: ProposalDraft, round: int, proposer: str, *, operator: str = "seed",
               parent_id: str | None = None, seed: int = 0, cost: Cost | None = None,
               depth: int = 0) -> Problem:  # fmt: skip
    """The `Problem` a draft becomes (content-hashed id, so the same proposal twice is one problem)."""
    return make_problem(
        round=round, parent_id=parent_id, operator=operator, family=draft.family, concepts=draft.concepts,
        tools=draft.tools, domain=draft.domain, difficulty=float(draft.difficulty), level=int(draft.difficulty),
        depth=depth, question=draft.question,
        answer=draft.answer, answer_kind=draft.answer_kind, render_code=draft.render_code,
        answer_code=draft.answer_code, check_code=draft.check_code, width=draft.width, height=draft.height,
        solution=draft.solution, elements=draft.elements, proposer=proposer, seed=seed, cost=cost or Cost(),
    )  # fmt: skip


def failure_to_rejection(f: ParseFailure, round: int, *, stage: str = "propose", family: str = "lmm",
                         operator: str = "seed", parent_id: str | None = None, key: str = "") -> Rejection:  # fmt: skip
    """The rejection a parse failure becomes; its id hashes the raw text (plus `key`, e.g. the request tag,
    so that two empty outputs in one round stay two records)."""
    return Rejection(id=raw_input_id(key + f.raw), round=round, stage=stage, reason=f.reason, detail=f.detail,
                     family=family, operator=operator, parent_id=parent_id, raw=f.raw)  # fmt: skip
