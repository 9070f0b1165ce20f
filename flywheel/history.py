"""What earlier rounds left for the next one: accepted counts per family and concept (planning), the problems
extensions may build on (procedural seeds, or accepted model-made problems), and the knowledge system replayed
from committed rounds. Everything is read from committed shards only, so a resumed round sees exactly what the
killed one saw.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from flywheel.knowledge import KnowledgeSystem
from flywheel.records import PROBLEM_SCHEMA, table_to_problems

HISTORY_COLUMNS = ["id", "round", "family", "concepts", "operator", "proposer", "seed", "level", "verdicts",
                   "parent_id", "depth"]


def history(data: Path, before_round: int) -> tuple[Counter, Counter, tuple]:
    """Accepted problems per family and per concept in earlier rounds only (a resumed round must plan exactly
    what it planned the first time), and the procedural seed problems extensions may build on."""
    from generators.propose import Parent
    from storage.shards import read_table

    table = read_table(data, columns=HISTORY_COLUMNS).to_pylist()
    rows = [r for r in table if r["round"] < before_round]
    families = Counter(r["family"] for r in rows)
    concepts = Counter(c for r in rows for c in r["concepts"])
    children = Counter(r["parent_id"] for r in rows if r["parent_id"])
    parents = []
    for r in rows:
        route = next((v["reason"] for v in r["verdicts"] or () if v["name"] == "route"), "")
        if r["operator"] == "seed" and r["proposer"] == "procedural" and (r["level"] or 0) > 0 and route != "unsolved":
            parents.append(Parent(r["id"], r["family"], r["seed"], r["level"], route, children[r["id"]],
                                  r["depth"] or 0))
    return families, concepts, tuple(parents)


MAX_LMM_PARENTS = 2000  # most recent accepted model-made problems offered to extension tasks


def lmm_parents(data: Path, before_round: int) -> tuple:
    """Accepted model-made problems of earlier rounds (newest first, capped), minus those no solver could
    solve: an extension needs a parent whose answer is trustworthy and reachable."""
    from storage.shards import committed_rounds
    from verifiers.difficulty import route_of

    text_columns = [c for c in PROBLEM_SCHEMA.names if c not in ("image", "edited_image")]  # prompts are text
    out: list = []
    for r in sorted((r for r in committed_rounds(data, final_only=True) if r < before_round), reverse=True):
        out += [p for p in round_problems(data, r, text_columns)
                if p.proposer != "procedural" and route_of(p) != "unsolved"]
        if len(out) >= MAX_LMM_PARENTS:
            break
    return tuple(out[:MAX_LMM_PARENTS])


def knowledge_before(data: Path, round_no: int) -> KnowledgeSystem:
    """The seed grown by every earlier round, replayed from committed problems (deterministic, so a resumed
    run continues with exactly the system the killed one had)."""
    from flywheel.coevolve import GROWTH_COLUMNS, grow_from_round
    from storage.shards import committed_rounds

    ks = KnowledgeSystem.seed()
    for r in sorted(committed_rounds(data, final_only=True)) if data.exists() else ():
        if r < round_no:
            ks, _ = grow_from_round(ks, round_problems(data, r, GROWTH_COLUMNS), r)
    return ks


def round_problems(data: Path, round_no: int, columns: list[str]) -> list:
    """A round's accepted problems with only `columns` read (the others keep their defaults): replaying growth
    or offering parents needs no PNG bytes, and reading every image of every round would slow each start."""
    from storage.shards import read_table

    return table_to_problems(read_table(data, round=round_no, columns=columns))
