"""The round driver's near-duplicate gate: one index over every accepted problem of every round.

Built once per `evolve` run from the committed shards (question text and image of each accepted problem,
read column by column), then kept in memory and extended as the run accepts more, so the cost per problem
stays flat as the data grows (see verifiers/dedup_index.py for the rule and bench/dedup.py for the numbers).
Nothing of it is stored: after a kill the rebuilt index holds the committed problems in the order they were
admitted, and answers exactly as the live one did (KeyTable's cap depends on that order only).
"""

from __future__ import annotations

from pathlib import Path

from flywheel.checkpoints import checkpoint
from flywheel.config import FlywheelConfig
from flywheel.records import Problem


class NearDuplicateGate:
    def __init__(self, index) -> None:
        self.index = index

    def check_and_add(self, p: Problem) -> str | None:
        """A reason naming the accepted problem `p` nearly duplicates, or None (and `p` joins the index)."""
        hit = self.index.check(p.id, p.question, p.image)
        if hit is not None:
            return f"{hit.reason} near-duplicate of {hit.id} (question similarity {hit.similarity:.2f})"
        self.index.add(p.id, p.question, p.image)
        checkpoint("near_index_update")
        return None


def build_near_index(cfg: FlywheelConfig, data: Path) -> NearDuplicateGate | None:
    if not cfg.evolve.near_dedup:
        return None
    from storage.shards import read_table
    from verifiers.dedup_index import DedupIndex

    if not data.exists():
        return NearDuplicateGate(DedupIndex())
    table = read_table(data, columns=["id", "question", "image"])
    rows = zip(*(table.column(c).to_pylist() for c in ("id", "question", "image")), strict=True)
    return NearDuplicateGate(DedupIndex.rebuild(rows))
