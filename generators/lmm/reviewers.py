"""Requests to, and records from, the reviewing models: judge, repairer and concept extractor.

Each function pair builds the `GenerationRequest` for one problem and turns the completion into what the round
stores: a verdict (judge, extractor) or a repaired problem (repairer). A failed request or unreadable output
is never an exception: the judge's becomes a failed verdict with the reason, the repairer's a rejection with
the raw text, the extractor's an empty extraction (the problem is already accepted; it only loses the chance to
grow the knowledge system). Test: `pytest tests/test_reviewers.py`.
"""

from __future__ import annotations

import json
from dataclasses import replace

from flywheel.knowledge import KnowledgeSystem
from flywheel.models.base import Completion, GenerationRequest, Message, SamplingParams
from flywheel.records import Cost, Problem, Rejection, Verdict, raw_input_id
from generators.lmm.jsonish import ParseFailure
from generators.lmm.parse import ProposalDefaults, failure_to_rejection, parse_candidates, to_problem
from generators.lmm.prompts import extract_prompt, judge_prompt, repair_prompt
from generators.lmm.review import JUDGE_THRESHOLD, parse_extraction, parse_judgement

MAX_NEW = 4  # candidate nodes kept per problem: a chatty extractor must not flood the knowledge system
EXTRACT_CONTEXT = 24  # known concepts shown to the extractor: the problem's own plus their neighbourhood


def _request(prompt: str, images: tuple[bytes, ...], tag: str, max_tokens: int, temperature: float,
             seed: int | None = None) -> GenerationRequest:
    content = Message.of("user", prompt, *images)
    return GenerationRequest((content,), SamplingParams(max_tokens=max_tokens, temperature=temperature, seed=seed),
                             tag=tag)


def add_cost(p: Problem, c: Completion, stage: str) -> Problem:
    seconds = {**p.cost.seconds, stage: round(p.cost.seconds.get(stage, 0.0) + c.seconds, 4)}
    return replace(p, cost=Cost(p.cost.prompt_tokens + c.prompt_tokens, p.cost.completion_tokens + c.completion_tokens,
                                seconds))


# ----------------------------------------------------------------------------------------------------
# Judge: cross-modal consistency with the paper's three-item rubric
# ----------------------------------------------------------------------------------------------------


def judge_request(p: Problem, max_tokens: int = 1024, temperature: float = 0.0,
                  threshold: int = JUDGE_THRESHOLD) -> GenerationRequest:
    """Original image first, then the edited one (the prompt says so)."""
    images = tuple(i for i in (p.image, p.edited_image) if i)
    return _request(judge_prompt(p, threshold), images, f"{p.id}:judge", max_tokens, temperature)


def judge_verdict(c: Completion, threshold: int = JUDGE_THRESHOLD) -> Verdict:
    """score = the lowest rubric score / 10 (the weakest item decides), reason = scores plus the judge's words."""
    if not c.ok:
        return Verdict("judge", False, 0.0, f"judge_error: {c.error}"[:300])
    j = parse_judgement(c.texts[0], threshold)
    if isinstance(j, ParseFailure):
        return Verdict("judge", False, 0.0, f"unreadable: {j.reason}: {j.detail}"[:300])
    scores = ", ".join(f"{k}={v}" for k, v in sorted(j.scores.items()))
    return Verdict("judge", j.passed, min(j.scores.values()) / 10, f"{scores}; {j.reason}"[:300])


# ----------------------------------------------------------------------------------------------------
# Repairer: a failed problem plus its failure reason -> a corrected problem with lineage
# ----------------------------------------------------------------------------------------------------


def repair_request(failed: Rejection, max_tokens: int = 3072, temperature: float = 0.3) -> GenerationRequest:
    p = failed.problem
    if p is None:
        raise ValueError(f"rejection {failed.id} carries no problem to repair")
    images = (p.image,) if p.image else ()
    prompt = repair_prompt(p, failed.stage, failed.reason, failed.detail)
    return _request(prompt, images, f"{failed.id}:repair", max_tokens, temperature, seed=p.seed % 2**31)


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
    fixed = replace(fixed, family=p.family, cost=p.cost)
    return add_cost(fixed, c, "repair")


# ----------------------------------------------------------------------------------------------------
# Extractor: the concepts and tools an accepted problem actually uses, and candidate new nodes
# ----------------------------------------------------------------------------------------------------


def _context(p: Problem, ks: KnowledgeSystem):
    ids = [c for c in p.concepts if c in ks]
    near = {d for c in ids for d in ks.prerequisites(c)} | {d for c in ids for d in ks.dependents(c)}
    found = [ks.concept(c) for c in ids] + [ks.concept(c) for c in sorted(near - set(ids))]
    found += [c for c in ks.search(p.question, limit=EXTRACT_CONTEXT) if hasattr(c, "domain") and c not in found]
    tools = [ks.tool(t) for t in p.tools if t in ks] + [t for t in ks.tools if t.id not in p.tools]
    return found[:EXTRACT_CONTEXT], tools[:EXTRACT_CONTEXT]


def extract_request(p: Problem, ks: KnowledgeSystem, max_tokens: int = 1024,
                    temperature: float = 0.0) -> GenerationRequest:
    concepts, tools = _context(p, ks)
    return _request(extract_prompt(p, concepts, tools), (p.image,) if p.image else (), f"{p.id}:extract",
                    max_tokens, temperature)


def extraction_verdict(c: Completion, ks: KnowledgeSystem) -> tuple[Verdict, tuple[str, ...], tuple[str, ...]]:
    """(verdict holding the new-node candidates as JSON, concept ids used, tool ids used)."""
    if not c.ok:
        return Verdict("extract", None, 0.0, f"extractor_error: {c.error}"[:300]), (), ()
    e = parse_extraction(c.texts[0])
    if isinstance(e, ParseFailure):
        return Verdict("extract", None, 0.0, f"unreadable: {e.reason}"[:300]), (), ()
    concepts = tuple(dict.fromkeys(i for r in e.concepts if (i := r if r in ks else ks.match_concept(r))))
    tools = tuple(dict.fromkeys(i for r in e.tools if (i := r if r in ks else ks.match_tool(r))))
    doc = {"new_concepts": list(e.new_concepts[:MAX_NEW]), "new_tools": list(e.new_tools[:MAX_NEW])}
    score = float(len(e.new_concepts) + len(e.new_tools))
    return Verdict("extract", None, score, json.dumps(doc, ensure_ascii=False, sort_keys=True)), concepts, tools
