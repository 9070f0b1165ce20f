"""The judge: a model checks cross-modal consistency of a problem with the paper's rubric (question and answer,
drawing, tool edit) plus `numbers` (every number, label and relation the question states appears in the figure,
consistently), seeing the rendered figure and the edited one next to the question. The items scored are config
`judge_rubric` (text in `flywheel/lmm/review.py` RUBRIC), the pass mark `judge_threshold`.

`judge_request` builds the request, `judge_verdict` reads the scores (the weakest item decides), and
`judge_check` runs a batch through a model pool: a failed (or unreadable) judgement rejects the problem.
Test: `pytest tests/test_evolve_models.py tests/test_lmm_parse.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from flywheel.config import FlywheelConfig
from flywheel.lmm.calls import add_cost, request
from flywheel.lmm.jsonish import ParseFailure
from flywheel.lmm.prompts import judge_prompt
from flywheel.lmm.review import DEFAULT_RUBRIC, JUDGE_THRESHOLD, parse_judgement, rubric_block
from flywheel.models.base import Completion, GenerationRequest
from flywheel.records import Problem, Rejection, Verdict, reject


def judge_request(p: Problem, max_tokens: int = 1024, temperature: float = 0.0, threshold: int = JUDGE_THRESHOLD,
                  rubric: Sequence[str] = DEFAULT_RUBRIC) -> GenerationRequest:
    """Original image first, then the edited one (the prompt says so)."""
    images = tuple(i for i in (p.image, p.edited_image) if i)
    return request(judge_prompt(p, threshold, rubric), images, f"{p.id}:judge", max_tokens, temperature)


def judge_verdict(c: Completion, threshold: int = JUDGE_THRESHOLD, rubric: Sequence[str] = DEFAULT_RUBRIC) -> Verdict:
    """score = the lowest rubric score / 10 (the weakest item decides), reason = scores plus the judge's words."""
    if not c.ok:
        return Verdict("judge", False, 0.0, f"judge_error: {c.error}"[:300])
    j = parse_judgement(c.texts[0], threshold, rubric)
    if isinstance(j, ParseFailure):
        return Verdict("judge", False, 0.0, f"unreadable: {j.reason}: {j.detail}"[:300])
    scores = ", ".join(f"{k}={v}" for k, v in sorted(j.scores.items()))
    return Verdict("judge", j.passed, min(j.scores.values()) / 10, f"{scores}; {j.reason}"[:300])


def judge_check(problems: list[Problem], pool, cfg: FlywheelConfig) -> list[Problem | Rejection]:
    """Rubric judge of cross-modal consistency; a failed (or unreadable) judgement rejects the problem."""
    spec, threshold, rubric = pool.spec, cfg.evolve.judge_threshold, cfg.evolve.judge_rubric
    rubric_block(rubric)  # an unknown item is a config error: raise before paying for requests
    completions = pool.generate([judge_request(p, spec.max_tokens, spec.temperature, threshold, rubric)
                                 for p in problems])  # fmt: skip
    out: list[Problem | Rejection] = []
    for p, c in zip(problems, completions, strict=True):
        v = judge_verdict(c, threshold, rubric)
        p = replace(add_cost(p, c, "judge"), verdicts=p.verdicts + (v,))
        out.append(p if v.passed else reject(p, "judge", "inconsistent" if c.ok else "judge_error", v.reason))
    return out
