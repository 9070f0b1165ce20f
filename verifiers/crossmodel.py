"""Cross-model verification: a *different* model solves the rendered problem from image and question alone.

`solve_requests` builds k-sample requests (the prompt text comes from the caller, so the template lives with
the other prompts); `crossmodel_verdicts` reads each completion's final answer and compares it with the
stated answer under the equivalence checker. The pass rate is recorded on the problem and doubles as a
difficulty estimate; it rejects a problem only when the caller sets `min_pass_rate` (a weak solver failing
says "hard", not "wrong").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from flywheel.config import FlywheelConfig
from flywheel.lmm.calls import add_cost
from flywheel.lmm.prompts import solve_prompt
from flywheel.models.base import Completion, GenerationRequest, Message, SamplingParams
from flywheel.records import Problem, Rejection, Verdict, reject
from verifiers.equivalence import equivalent, extract_final_answer

NAME = "crossmodel"


def solve_requests(problems: Sequence[Problem], prompt_for: Callable[[Problem], str], k: int = 4,
                   max_tokens: int = 1024, temperature: float = 0.8,
                   seed: int | None = None) -> list[GenerationRequest]:
    """One request per problem, k samples each, image first then the prompt."""
    return [GenerationRequest((Message.of("user", prompt_for(p), p.image),),
                              SamplingParams(max_tokens=max_tokens, temperature=temperature, n=k, seed=seed),
                              tag=f"{p.id}:solve") for p in problems]


def pass_rate(problem: Problem, completion: Completion) -> tuple[float, list[str | None]]:
    """Share of the k samples whose final answer is equivalent to the stated one, and what each said."""
    answers = [extract_final_answer(text) for text in completion.texts]
    kind = problem.answer_kind if problem.answer_kind != "text" else "auto"
    hits = sum(1 for a in answers if a is not None and equivalent(problem.answer, a, kind=kind).equal)
    return (hits / len(answers) if answers else 0.0), answers


def crossmodel_verdict(problem: Problem, completion: Completion, min_pass_rate: float | None = None) -> Verdict:
    """`passed` is None (recorded only) unless `min_pass_rate` is set; a failed request never passes."""
    if not completion.ok:
        return Verdict(NAME, None if min_pass_rate is None else False, 0.0,
                       f"solver_error: {completion.error}"[:300])
    rate, answers = pass_rate(problem, completion)
    shown = ", ".join("-" if a is None else repr(a[:20]) for a in answers[:8])
    reason = f"{completion.model} solved {rate:.0%} of {len(answers)} samples ({shown})"
    passed = None if min_pass_rate is None else rate >= min_pass_rate
    return Verdict(NAME, passed, round(rate, 4), reason[:300])


def crossmodel_verdicts(problems: Sequence[Problem], completions: Sequence[Completion],
                        min_pass_rate: float | None = None) -> list[Verdict]:
    if len(problems) != len(completions):
        raise ValueError(f"crossmodel: {len(problems)} problems but {len(completions)} completions")
    return [crossmodel_verdict(p, c, min_pass_rate) for p, c in zip(problems, completions, strict=True)]


def solve_check(problems: list[Problem], pool, cfg: FlywheelConfig) -> list[Problem | Rejection]:
    """Cross-model check: a different model solves each verified problem from image and question alone."""
    spec, ev = pool.spec, cfg.evolve
    requests = solve_requests(problems, lambda p: solve_prompt(p.question, p.answer_kind), k=ev.solver_samples,
                              max_tokens=spec.max_tokens, temperature=spec.temperature)
    completions = pool.generate(requests)
    verdicts = crossmodel_verdicts(problems, completions, ev.solver_min_pass_rate or None)
    out: list[Problem | Rejection] = []
    for p, c, v in zip(problems, completions, verdicts, strict=True):
        p = replace(add_cost(p, c, "solve"), verdicts=p.verdicts + (v,),
                    verifier=f"{p.verifier}+{spec.backend}:{spec.model}")
        out.append(reject(p, "crossmodel", "solver_disagrees", v.reason) if v.passed is False else p)
    return out
