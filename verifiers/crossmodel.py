"""Cross-model verification: a *different* model solves the rendered problem from image and question alone.

`solve_requests` builds k-sample requests (the prompt text comes from the caller, so the template lives with
the other prompts); `crossmodel_verdicts` reads each completion's final answer and compares it with the
stated answer under the equivalence checker. The pass rate is recorded on the problem and doubles as a
difficulty estimate.

What rejects (stage `crossmodel`): a model-made problem needs `min_agree` of the k samples (config
`solver_min_agree`, default 1) equivalent to its stated answer, else `solver_disagrees`: its author's codes alone
do not confirm it. `min_pass_rate` (config `solver_min_pass_rate`, 0 = off) applies to every problem. A failed
solver request rejects (`solver_error`) wherever a rule applies; procedural problems, whose answers are
independent by construction, are only recorded unless `min_pass_rate` is set (a weak solver failing says "hard",
not "wrong"). A model-made problem the solver agreed with is `verified_by = "solver"`.
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


def crossmodel_verdict(problem: Problem, completion: Completion, min_pass_rate: float | None = None,
                       min_agree: int = 0) -> Verdict:
    """`passed` is None (recorded only) unless a rule applies: at least `min_agree` samples equivalent to the
    stated answer, and a pass rate of at least `min_pass_rate`; a failed request never passes a rule."""
    applies = min_pass_rate is not None or min_agree > 0
    if not completion.ok:
        return Verdict(NAME, False if applies else None, 0.0, f"solver_error: {completion.error}"[:300])
    rate, answers = pass_rate(problem, completion)
    hits = round(rate * len(answers))
    shown = ", ".join("-" if a is None else repr(a[:20]) for a in answers[:8])
    reason = f"{completion.model} solved {rate:.0%} of {len(answers)} samples ({shown})"
    if not applies:
        return Verdict(NAME, None, round(rate, 4), reason[:300])
    passed = hits >= min_agree and (min_pass_rate is None or rate >= min_pass_rate)
    return Verdict(NAME, passed, round(rate, 4), (reason if passed else f"solver_disagrees: {reason}")[:300])


def crossmodel_verdicts(problems: Sequence[Problem], completions: Sequence[Completion],
                        min_pass_rate: float | None = None, min_agree: int = 0) -> list[Verdict]:
    """One verdict per problem; `min_agree` binds model-made problems only (see the module docstring)."""
    if len(problems) != len(completions):
        raise ValueError(f"crossmodel: {len(problems)} problems but {len(completions)} completions")
    return [crossmodel_verdict(p, c, min_pass_rate, 0 if p.proposer == "procedural" else min_agree)
            for p, c in zip(problems, completions, strict=True)]


def solve_check(problems: list[Problem], pool, cfg: FlywheelConfig) -> list[Problem | Rejection]:
    """Cross-model check: a different model solves each verified problem from image and question alone."""
    spec, ev = pool.spec, cfg.evolve
    requests = solve_requests(problems, lambda p: solve_prompt(p.question, p.answer_kind), k=ev.solver_samples,
                              max_tokens=spec.max_tokens, temperature=spec.temperature)
    completions = pool.generate(requests)
    verdicts = crossmodel_verdicts(problems, completions, ev.solver_min_pass_rate or None, ev.solver_min_agree)
    out: list[Problem | Rejection] = []
    for p, c, v in zip(problems, completions, verdicts, strict=True):
        agreed = p.proposer != "procedural" and c.ok and v.score > 0 and v.passed is not False
        p = replace(add_cost(p, c, "solve"), verdicts=p.verdicts + (v,),
                    verifier=f"{p.verifier}+{spec.backend}:{spec.model}",
                    verified_by="solver" if agreed else p.verified_by)
        reason = "solver_error" if not c.ok else "solver_disagrees"
        out.append(reject(p, "crossmodel", reason, v.reason) if v.passed is False else p)
    return out
