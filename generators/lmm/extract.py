"""The concept extractor (co-evolution's input): a model names the concepts and tools an accepted problem
uses and proposes new knowledge nodes, stored in the `extract` verdict and grown into the knowledge system
after the round (flywheel/coevolve.py). A failed or unreadable extraction only loses that chance to grow: the
problem is already accepted. Test: `pytest tests/test_evolve_models.py`.
"""

from __future__ import annotations

import json
from dataclasses import replace

from flywheel.knowledge import KnowledgeSystem
from flywheel.lmm.calls import add_cost, request
from flywheel.lmm.jsonish import ParseFailure
from flywheel.lmm.prompts import extract_prompt
from flywheel.lmm.review import parse_extraction
from flywheel.models.base import Completion, GenerationRequest
from flywheel.records import Problem, Verdict

MAX_NEW = 4  # candidate nodes kept per problem: a chatty extractor must not flood the knowledge system
EXTRACT_CONTEXT = 24  # known concepts shown to the extractor: the problem's own plus their neighbourhood


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
    return request(extract_prompt(p, concepts, tools), (p.image,) if p.image else (), f"{p.id}:extract",
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


def extract(problems: list[Problem], pool, ks: KnowledgeSystem) -> list[Problem]:
    """Each problem with its extraction verdict and the concepts and tools the extractor matched added."""
    spec = pool.spec
    completions = pool.generate([extract_request(p, ks, spec.max_tokens, spec.temperature) for p in problems])
    out = []
    for p, c in zip(problems, completions, strict=True):
        v, concepts, tools = extraction_verdict(c, ks)
        out.append(replace(add_cost(p, c, "extract"), verdicts=p.verdicts + (v,),
                           concepts=tuple(dict.fromkeys(p.concepts + concepts)),
                           tools=tuple(dict.fromkeys(p.tools + tools))))
    return out
