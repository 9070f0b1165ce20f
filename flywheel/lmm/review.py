"""Read what the reviewing models wrote: the judge's rubric scores, the extractor's concepts and tools, and a
solver's `<answer>` tag.

Used by the judge, co-evolution and cross-model stages (re-exported by `flywheel/lmm/parse.py`). Like
proposals, an unreadable output is a `ParseFailure` with a reason, never an exception; the stage decides what a
failed review means. Test: `pytest tests/test_lmm_parse.py`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flywheel.lmm.clean import clean_answer
from flywheel.lmm.jsonish import Found, ParseFailure, final_text, scan

# The rubric: the paper's three scores (Q&A correctness, drawing validity, tool-edit validity) plus `numbers`
# (the figure shows the question's numbers, labels and relations consistently), each with the line the judge
# prompt shows. Config `judge_rubric` picks the items; the prompt lists those and the reply must score each.
RUBRIC = {
    "question_answer": "is the question well posed, answerable from the figure plus the text, and is the stated "
                       "answer correct? Solve it yourself. 10: correct and unambiguous. 7: correct, with a minor "
                       "wording issue that does not change the answer. 4: ambiguous or missing information. 0: the "
                       "answer is wrong.",
    "drawing": "does the first image show what the question describes (the labels, values, shapes and relations it "
               "mentions), legibly and without clutter or cut-off parts? 10: exact. 7: small cosmetic flaws. 4: a "
               "mismatch a solver would notice. 0: wrong or unreadable.",
    "tool_edit": "does the second image show the construction the solution says it draws, in the right place, and "
                 "does the solution actually use it? 10: exact and useful. 7: right but sloppy. 4: misplaced or "
                 "irrelevant. 0: missing or wrong. Use null only if the solution has no code step.",
    "numbers": "read every number, label and relation the question states (lengths, angles, coordinates, values, "
               "names of points) and find each in the first image: is each shown, and shown with the same value "
               "(a question saying AB = 7 over a figure labelled AB = 9 scores 0)? Where the figure is drawn to "
               "scale, do the drawn sizes agree with the numbers? 10: all consistent. 7: one detail not shown but "
               "nothing contradicts. 4: a quantity drawn visibly out of proportion. 0: a label or value "
               "contradicts the question.",
}  # fmt: skip
DEFAULT_RUBRIC = ("question_answer", "drawing", "tool_edit", "numbers")
# The rubric scores under the names judges actually write. A score given as null means "does not apply" and is
# left out.
SCORE_ALIASES = {
    "question_answer": ("question_answer", "qa", "q_a", "answer", "correctness", "answer_correctness",
                        "question_answer_correctness", "solution_correctness", "qa_correctness", "q_a_correctness"),
    "drawing": ("drawing", "drawing_validity", "image", "figure", "image_validity", "figure_validity",
                "original_image"),
    "tool_edit": ("tool_edit", "tool_edit_validity", "tool", "edit", "auxiliary", "auxiliary_image",
                  "construction", "tool_validity", "edited_image"),
    "numbers": ("numbers", "number_consistency", "numbers_consistency", "numeric_consistency", "numbers_match",
                "figure_numbers", "labels", "label_consistency", "labels_consistency", "values", "consistency",
                "question_figure_consistency", "text_figure_consistency", "figure_question_consistency"),
}  # fmt: skip
_SCORE_OF = {alias: key for key, aliases in SCORE_ALIASES.items() for alias in aliases}
JUDGE_THRESHOLD = 7  # the paper leaves it open; 7 of 10 keeps "minor issue that does not change the answer"
VERDICT_KEYS = ("pass", "passed", "verdict", "accept", "valid")
NO_WORDS = ("fail", "failed", "no", "false", "reject", "rejected")  # an explicit veto beats high scores
REASON_KEYS = ("reason", "reasoning", "explanation", "rationale", "comment", "comments")
EXTRACT_KEYS = ("concepts", "tools", "new_concepts", "new_tools")
CONCEPT_FIELDS = ("name", "description", "domain", "parents", "prerequisites", "level")
TOOL_FIELDS = ("name", "description", "kind", "example")
_ANSWER_TAG = re.compile(r"<answer\s*>(.*?)</answer\s*>", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class Judgement:
    """The judge's integer scores (0-10) by rubric item, whether all pass the threshold, and its reason."""

    scores: dict[str, int]
    passed: bool
    reason: str


@dataclass(frozen=True)
class Extraction:
    """Knowledge-system references an accepted problem uses, and candidate new nodes for `ks.grow`."""

    concepts: tuple[str, ...]
    tools: tuple[str, ...]
    new_concepts: tuple[dict[str, Any], ...]
    new_tools: tuple[dict[str, Any], ...]


def _key(k: object) -> str:
    return re.sub(r"[\s\-/&]+", "_", str(k).strip().lower()).removesuffix("_score")


def _last_dict(found: Found, wanted: Any) -> dict | None:
    """The last decoded object that has a wanted key: judges often sketch JSON before the final one."""
    dicts = [v for _, _, v in found.values if isinstance(v, dict)]
    dicts += [d for _, _, v in found.values if isinstance(v, list) for d in v if isinstance(d, dict)]
    hits = [d for d in dicts if wanted(d)]
    return hits[-1] if hits else None


def _score(value: Any) -> int | None:
    if isinstance(value, dict):  # {"drawing": {"score": 8, "reason": "..."}}
        value = next((v for k, v in value.items() if _key(k) in ("score", "value", "rating")), value)
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("a score cannot be true/false")
    if isinstance(value, int | float):
        return min(10, max(0, round(value)))
    m = re.match(r"\s*(\d+(?:\.\d+)?)", str(value))
    if not m:
        raise ValueError(f"not a score: {value!r}")
    return min(10, max(0, round(float(m.group(1)))))


def _flat_scores(d: dict) -> dict[str, Any]:
    inner = next((v for k, v in d.items() if _key(k) in ("scores", "score", "ratings") and isinstance(v, dict)), {})
    out: dict[str, Any] = {}
    for k, v in [*d.items(), *inner.items()]:
        name = _SCORE_OF.get(_key(k))
        if name and name not in out:
            out[name] = v
    return out


def _prose_scores(text: str) -> dict[str, Any]:
    """'Drawing validity: 8/10' lines, for judges that ignore the JSON instruction."""
    out: dict[str, Any] = {}
    for m in re.finditer(r"^[\s*#>-]*([A-Za-z][A-Za-z /&_-]{0,40}?)\s*(?:score)?\s*\**\s*[:=]\s*\**\s*(\d+(?:\.\d+)?)",
                         text, re.MULTILINE):  # fmt: skip
        name = _SCORE_OF.get(_key(m.group(1)))
        if name:
            out[name] = m.group(2)
    return out


def rubric_block(rubric: Sequence[str] = DEFAULT_RUBRIC) -> str:
    """The rubric lines of the judge prompt, for the configured items only."""
    unknown = [k for k in rubric if k not in RUBRIC]
    if unknown:
        raise ValueError(f"judge: unknown rubric item(s) {unknown}; known: {', '.join(RUBRIC)}")
    return "\n".join(f"- {k}: {RUBRIC[k]}" for k in rubric)


def reply_shape(rubric: Sequence[str] = DEFAULT_RUBRIC) -> str:
    """The JSON object the judge is asked to reply with."""
    scores = ", ".join(f'"{k}": <0-10{" or null" if k == "tool_edit" else ""}>' for k in rubric)
    return "{" + scores + ', "reason": "one or two sentences naming the main problem, or why it is sound"}'


def parse_judgement(text: str, threshold: int = JUDGE_THRESHOLD,
                    rubric: Sequence[str] = DEFAULT_RUBRIC) -> Judgement | ParseFailure:
    """The scores of the rubric's items (others ignored); `passed` needs every applicable one >= threshold and
    no explicit "fail". A reply that leaves out an item the rubric lists is a failure ("missing:<item>")."""
    body, thinking = final_text(text or "")
    found = scan(body)
    d = _last_dict(found, lambda d: bool(_flat_scores(d))) or {}
    raw_scores = {k: v for k, v in (_flat_scores(d) or _prose_scores(body)).items() if k in rubric}
    if not raw_scores:
        reason = "truncated" if found.unclosed or thinking else ("empty" if not body.strip() else "no_scores")
        return ParseFailure(reason, "no rubric scores found in the judge's output", text or "")
    missing = [k for k in rubric if k not in raw_scores]
    if missing:
        return ParseFailure("missing:" + ",".join(missing), f"the judge gave no score for {missing}", text)
    try:
        scores = {k: s for k, v in raw_scores.items() if (s := None if v is None else _score(v)) is not None}
    except ValueError as exc:
        return ParseFailure("bad_field", str(exc), text)
    verdict = next((v for k, v in d.items() if _key(k) in VERDICT_KEYS), None)
    said_no = verdict is False or str(verdict).strip().lower() in NO_WORDS
    reason = next((str(v) for k, v in d.items() if _key(k) in REASON_KEYS), "")
    passed = bool(scores) and all(s >= threshold for s in scores.values()) and not said_no
    return Judgement(scores, passed, reason.strip())


def _refs(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = re.split(r"[,;\n]", value)
    items = []
    for v in value if isinstance(value, list | tuple) else []:
        ref = (v.get("id") or v.get("name")) if isinstance(v, dict) else v
        if isinstance(ref, str) and ref.strip():
            items.append(ref.strip())
    return tuple(dict.fromkeys(items))


def _nodes(value: Any, keep: tuple[str, ...]) -> tuple[dict[str, Any], ...]:
    """Candidate nodes with a name, reduced to the fields `KnowledgeSystem.grow` reads (it validates the rest)."""
    out = []
    for v in value if isinstance(value, list) else []:
        if isinstance(v, dict):
            v = {_key(k): x for k, x in v.items()}
            if isinstance(v.get("name"), str) and v["name"].strip():
                out.append({k: v[k] for k in keep if k in v and v[k] is not None})
    return tuple(out)


def parse_extraction(text: str) -> Extraction | ParseFailure:
    """The extractor's JSON: concepts and tools used (ids or names) and proposed new nodes."""
    body, thinking = final_text(text or "")
    found = scan(body)
    d = _last_dict(found, lambda d: any(_key(k) in EXTRACT_KEYS for k in d))
    if d is None:
        reason = "truncated" if found.unclosed or thinking else ("empty" if not body.strip() else "no_json")
        return ParseFailure(reason, "no object with concepts or tools found", text or "")
    d = {_key(k): v for k, v in d.items()}
    return Extraction(_refs(d.get("concepts")), _refs(d.get("tools")), _nodes(d.get("new_concepts"), CONCEPT_FIELDS),
                      _nodes(d.get("new_tools"), TOOL_FIELDS))  # fmt: skip


def extract_answer_tag(text: str) -> str | None:
    r"""The last `<answer>...</answer>` in a solver's output, cleaned (`\boxed{}` and `$` removed); None if none.

    >>> extract_answer_tag("<answer>3</answer> wait, no: <answer> $\\boxed{4}$ </answer>")
    '4'
    """
    tags = _ANSWER_TAG.findall(text or "")
    return clean_answer(tags[-1]) if tags else None
