"""Co-evolution of the knowledge system: after each round, what accepted problems used flows back into it.

Two sources of candidate nodes:
- the extractor model (when `[models.extractor]` is configured) names concepts and visual tools an accepted
  problem uses that the system lacks; the stage stores them in the problem's `extract` verdict as JSON;
- extensions (parallel and sequential operators, model-driven or procedural) combine concepts: a pair of
  concepts that accepted extensions used together at least `MIN_SUPPORT` times in a round becomes a composite
  concept ("Law of sines with triangle area") whose parents are the pair, so the ladder's harder problems
  leave a trace in the system that planners and reports can see.

`KnowledgeSystem.grow` merges near-duplicates (normalised names plus fuzzy token match), links parents and
stamps the round. Everything is computed from committed problems, so replaying the rounds of a data folder
rebuilds exactly the system its last round ended with (that is how `--resume` gets it back).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace
from itertools import combinations

from flywheel.knowledge import Concept, GrowthReport, KnowledgeSystem
from flywheel.records import Problem

MIN_SUPPORT = 3  # accepted extensions of one round that must share a concept pair before it becomes a node
EXTRACT_VERDICT = "extract"
GROWTH_COLUMNS = ["id", "operator", "concepts", "verdicts"]  # all that growth reads of a problem


def extracted_candidates(problems: Iterable[Problem]) -> tuple[list[dict], list[dict]]:
    """New-node candidates the extractor stored on accepted problems (unreadable verdicts are skipped)."""
    concepts: list[dict] = []
    tools: list[dict] = []
    for p in problems:
        for v in p.verdicts:
            if v.name != EXTRACT_VERDICT or not v.reason.startswith("{"):
                continue
            try:
                found = json.loads(v.reason)
            except ValueError:
                continue
            concepts += [c for c in found.get("new_concepts", ()) if isinstance(c, dict)]
            tools += [t for t in found.get("new_tools", ()) if isinstance(t, dict)]
    return concepts, tools


def composite_candidates(problems: Iterable[Problem], ks: KnowledgeSystem, round_no: int) -> list[dict]:
    """Concept pairs that accepted extensions used together often enough, and that no node composes yet."""
    pairs: Counter = Counter()
    grown = {c.id for c in composites_of(ks)}  # composites of composites would only restate their parents
    for p in problems:
        if p.operator in ("parallel", "sequential"):
            known = sorted({c for c in p.concepts if c in ks and c not in grown})
            pairs.update(combinations(known, 2))
    composed = {frozenset(c.parents) for c in ks.concepts if len(c.parents) == 2}
    out = []
    for (a, b), n in sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0])):
        if n < MIN_SUPPORT or frozenset((a, b)) in composed:
            continue
        ca, cb = ks.concept(a), ks.concept(b)
        first, second = (ca, cb) if ca.level >= cb.level else (cb, ca)
        out.append({
            "name": f"{first.name} with {second.name}", "domain": first.domain, "parents": [first.id, second.id],
            "description": f"Problems that combine {first.name.lower()} and {second.name.lower()} "
                           f"({n} accepted extensions in round {round_no}).",
        })  # fmt: skip
    return out


def grow_from_round(ks: KnowledgeSystem, problems: Sequence[Problem], round_no: int) -> tuple[KnowledgeSystem,
                                                                                                GrowthReport]:
    # By id, not in commit order: which of two near-identical candidates names the merged node must not depend
    # on the order batches arrived or where a killed run's parts were cut.
    concepts, tools = extracted_candidates(sorted(problems, key=lambda p: p.id))
    concepts += composite_candidates(problems, ks, round_no)
    return ks.grow(concepts, tools, round=round_no)


def composites_of(ks: KnowledgeSystem) -> list[Concept]:
    return [c for c in ks.concepts if c.added_round > 0 and len(c.parents) == 2]


def tag_composites(p: Problem, composites: Sequence[Concept]) -> Problem:
    """Add every grown composite whose two parents the problem uses, so coverage of grown nodes is visible."""
    have = set(p.concepts)
    extra = tuple(c.id for c in composites if c.id not in have and set(c.parents) <= have)
    return replace(p, concepts=p.concepts + extra) if extra else p


def growth_summary(before: KnowledgeSystem, after: KnowledgeSystem, report: GrowthReport) -> dict:
    v = after.version
    return {
        "concepts": v.concepts, "tools": v.tools, "edges": v.edges, "domains": v.domains,
        "added_concepts": len(report.added_concepts), "added_tools": len(report.added_tools),
        "merged": len(report.merged), "version": str(v), "previous_version": str(before.version),
    }  # fmt: skip
