"""Verify stage: every problem must survive three independent checks before it is accepted.

- executed: the answer code (symbolic, sympy) runs in the sandbox and its printed answer is equivalent to the
  stated answer;
- crosscheck: the check code (numeric, numpy/shapely) runs in the sandbox and agrees too;
- image: the figure decodes, has the promised size, is not blank, and has ink at every named element;
- tool_edit: the solution's tool code visibly changed the image;
- independence (model-made problems only): both codes compute from the quantities the problem states and the
  check is not the answer code again (`verifiers/independence.py`, `verifiers/same_computation.py`); the
  perturbed copies of the codes run in the same sandbox batch as the normal runs.
Each check is a plain function returning a `Verdict`; the first failing one, in the order of `verify_batch`,
names the rejection. `verified_by` says who confirmed the answer: "procedural" (an independent generator) or
"author_code" (only the author's own code; a solver stage may later say "solver").
"""

from __future__ import annotations

import time
from dataclasses import replace

from flywheel.records import Problem, Rejection, Verdict, reject
from flywheel.sandbox import Sandbox, SandboxJob, SandboxLimits, SandboxResult
from verifiers.equivalence import equivalent
from verifiers.image_check import check_image, images_differ
from verifiers.independence import Plan, constant_reason, plan, stated_quantities
from verifiers.same_computation import copied

NEEDS = {"answer_code": "code printing the answer", "check_code": "independent numeric check",
         "image": "the rendered PNG", "edited_image": "the PNG after the tool code"}
MIN_EDIT_FRACTION = 0.0005  # a tool edit must change at least this share of pixels
STAGE_OF = {"executed": "verify", "crosscheck": "crosscheck", "independence": "verify", "image": "image",
            "tool_edit": "image"}


def _kind(p: Problem) -> str:
    return p.answer_kind if p.answer_kind in ("number", "expression", "choice", "point", "text") else "auto"


def executed_verdict(name: str, p: Problem, result: SandboxResult) -> Verdict:
    """The code ran and its last printed line is equivalent to the stated answer."""
    if result.status != "ok":
        err = result.error
        why = f"{err.type}: {err.message}" if err else result.status
        return Verdict(name, False, 0.0, f"{name}_{result.status}: {why}"[:500])
    got = result.last_line()
    match = equivalent(p.answer, got, kind=_kind(p))
    if match.equal:
        return Verdict(name, True, 1.0, f"{got!r} matches {p.answer!r}")
    return Verdict(name, False, 0.0, f"{name}_mismatch: got {got!r}, stated {p.answer!r} ({match.reason})"[:500])


def tool_edit_verdict(p: Problem) -> Verdict:
    try:
        changed = images_differ(p.image, p.edited_image)
    except ValueError as exc:
        return Verdict("tool_edit", False, 0.0, f"tool_edit_unreadable: {exc}")
    ok = changed >= MIN_EDIT_FRACTION
    return Verdict("tool_edit", ok, round(changed, 5), f"{changed:.4%} of pixels changed")


def independence_verdict(p: Problem, plans: tuple[Plan, Plan], normal: tuple[SandboxResult, SandboxResult],
                         perturbed: tuple[SandboxResult | None, SandboxResult | None]) -> Verdict:
    """Both codes compute from the stated quantities (constant_answer_code) and differently (copied_check_code)."""
    for pl, n, q in zip(plans, normal, perturbed, strict=True):
        reason = constant_reason(pl, n, q)
        if reason is not None:
            return Verdict("independence", False, 0.0, reason[:500])
    if copied(p.answer_code, p.check_code):
        return Verdict("independence", False, 0.0,
                       "copied_check_code: check_code is answer_code's computation again (same normal form)")
    return Verdict("independence", True, 1.0, "both codes compute from the stated quantities, differently")


def _plans(p: Problem) -> tuple[Plan, Plan] | None:
    if p.proposer == "procedural":
        return None  # answers computed independently by construction
    stated = stated_quantities(p.question, p.render_code)
    return plan(p, "answer_code", stated), plan(p, "check_code", stated)


def verify_batch(problems: list[Problem], sandbox: Sandbox, limits: SandboxLimits) -> list[Problem | Rejection]:
    """Check every problem of the batch (all code runs of the whole batch share the pool); order is kept."""
    for p in problems:
        missing = [k for k in NEEDS if not getattr(p, k)]
        if missing:
            raise ValueError(f"verify: problem {p.id} lacks {', '.join(missing)}")
    t0 = time.monotonic()
    plans = [_plans(p) for p in problems]
    extra = [(i, j, pl.perturbed) for i, pp in enumerate(plans) for j, pl in enumerate(pp or ()) if pl.perturbed]
    jobs = [SandboxJob.of(code, None, limits) for p in problems for code in (p.answer_code, p.check_code)]
    results = list(sandbox.map(jobs + [SandboxJob.of(code, None, limits) for _, _, code in extra]))
    perturbed = {(i, j): r for (i, j, _), r in zip(extra, results[len(jobs):], strict=True)}
    seconds = (time.monotonic() - t0) / max(1, len(problems))
    out: list[Problem | Rejection] = []
    for i, p in enumerate(problems):
        normal = (results[2 * i], results[2 * i + 1])
        verdicts = (
            executed_verdict("executed", p, normal[0]),
            executed_verdict("crosscheck", p, normal[1]),
            *(() if plans[i] is None else
              (independence_verdict(p, plans[i], normal, (perturbed.get((i, 0)), perturbed.get((i, 1)))),)),
            check_image(p.image, p.width, p.height, p.elements),
            tool_edit_verdict(p),
        )  # fmt: skip
        p = replace(p, verdicts=p.verdicts + verdicts, verifier="executed+crosscheck+image",
                    verified_by="procedural" if plans[i] is None else "author_code",
                    cost=replace(p.cost, seconds={**p.cost.seconds, "verify": round(seconds, 4)}))
        failed = next((v for v in verdicts if v.passed is False), None)
        if failed is None:
            out.append(p)
        else:
            reason = failed.reason.split(":")[0] if failed.name != "image" else f"image_{failed.reason.split(':')[0]}"
            out.append(reject(p, STAGE_OF[failed.name], reason, failed.reason, raw=_raw_for(failed.name, p)))
    return out


def _raw_for(check: str, p: Problem) -> str:
    both = f"# answer_code\n{p.answer_code}\n# check_code\n{p.check_code}"
    return {"executed": p.answer_code, "crosscheck": p.check_code, "independence": both}.get(check, p.render_code)
