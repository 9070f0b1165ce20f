"""The repairer: a failed problem goes back to a model with the reason it failed, and what comes back is a
corrected problem with lineage (operator "repair", parent = the failed problem) or a rejection saying why the
repair failed. The round re-runs the repaired problem through the same slice of stages as a fresh one
(flywheel/round.py). Test: `pytest tests/test_evolve_models.py`.
"""

from __future__ import annotations

from dataclasses import replace

from flywheel.knowledge import KnowledgeSystem
from flywheel.lmm.calls import add_cost, request
from flywheel.lmm.jsonish import ParseFailure
from flywheel.lmm.parse import ProposalDefaults, failure_to_rejection, parse_candidates, to_problem
from flywheel.lmm.prompts import repair_prompt
from flywheel.models.base import Completion, GenerationRequest
from flywheel.records import Problem, Rejection, raw_input_id

REPAIRABLE = frozenset({"render", "verify", "crosscheck", "image", "crossmodel", "judge"})


def repairable(r) -> bool:
    """A rejection a repairer can work on: it still carries its problem and failed a check (not a parse)."""
    return isinstance(r, Rejection) and r.problem is not None and r.stage in REPAIRABLE


def repair_request(failed: Rejection, max_tokens: int = 3072, temperature: float = 0.3) -> GenerationRequest:
    p = failed.problem
    if p is None:
        raise ValueError(f"rejection {failed.id} carries no problem to repair")
    images = (p.image,) if p.image else ()
    prompt = repair_prompt(p, failed.stage, failed.reason, failed.detail)
    return request(prompt, images, f"{failed.id}:repair", max_tokens, temperature, seed=p.seed % 2**31)


def repaired(failed: Rejection, c: Completion, ks: KnowledgeSystem | None, repairer: str) -> Problem | Rejection:
    """The repaired problem (operator "repair", parent = the failed problem) or why the repair failed."""
    p = failed.problem
    assert p is not None
    lineage = {"family": p.family, "operator": "repair", "parent_id": p.id}
    if not c.ok:
        raw = f"{p.id}:repair:{c.error}"
        return Rejection(raw_input_id(raw), p.round, "repair", "model_error", c.error or "no text", raw=raw,
                         **lineage)
    defaults = ProposalDefaults(p.family, p.concepts, p.tools, p.domain, p.level or int(p.difficulty) or 1,
                                p.width, p.height, ks)
    found = parse_candidates(c.texts[0], defaults)
    draft = next((d for d in found if not isinstance(d, ParseFailure)), None)
    if draft is None:
        failure = found[0] if found else ParseFailure("empty", "no candidate", c.texts[0])
        return failure_to_rejection(failure, p.round, stage="repair", key=f"{p.id}:repair", **lineage)
    fixed = to_problem(draft, p.round, repairer, operator="repair", parent_id=p.id, seed=p.seed)
    fixed = replace(fixed, family=p.family, cost=p.cost, depth=p.depth)  # a repair keeps the depth
    return add_cost(fixed, c, "repair")


def repair(failed: list[Rejection], pool, ks: KnowledgeSystem | None) -> list[Problem | Rejection]:
    """One repair attempt for each failed problem through the repairer's model pool (order kept)."""
    spec = pool.spec
    completions = pool.generate([repair_request(r, spec.max_tokens, spec.temperature) for r in failed])
    return [repaired(r, c, ks, f"{spec.backend}:{spec.model}") for r, c in zip(failed, completions, strict=True)]
