"""`evolve`: start (or join) Ray, then run rounds one after another, resuming where a killed run stopped.

A round is complete once its final part is committed; `resume=True` skips complete rounds and finishes the
first incomplete one (work already committed inside it is skipped), so a killed run ends with the same
accepted set as an uninterrupted one with the same seed.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from flywheel.config import FlywheelConfig
from flywheel.knowledge import KnowledgeSystem
from flywheel.round import RoundContext, run_round

log = logging.getLogger(__name__)
RoundReport = Callable[[int, dict], None]


class EvolveError(Exception):
    """A run that cannot start as asked (e.g. existing data without --resume)."""


def init_ray(cfg: FlywheelConfig) -> bool:
    """Join `address` (or RAY_ADDRESS) or start a local instance; True when we started it."""
    import ray

    if ray.is_initialized():
        return False
    address = cfg.ray.address or os.environ.get("RAY_ADDRESS")
    quiet = {"log_to_driver": False, "configure_logging": True, "logging_level": logging.WARNING}
    if address:
        ray.init(address=address, **quiet)
    else:
        ray.init(num_cpus=cfg.ray.num_cpus, include_dashboard=False, **quiet)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = True
    ctx.print_on_execution_start = False
    return True


def _history(data: Path, before_round: int) -> tuple[Counter, Counter]:
    """Accepted problems per family and per concept in earlier rounds only: a resumed round must plan
    exactly what it planned the first time."""
    from storage.shards import read_table

    table = read_table(data, columns=["family", "concepts", "round"]).to_pydict()
    rows = [i for i, r in enumerate(table["round"]) if r < before_round]
    families = Counter(table["family"][i] for i in rows)
    concepts = Counter(c for i in rows for c in table["concepts"][i])
    return families, concepts


def evolve(cfg: FlywheelConfig, data: str | Path, resume: bool = False,
           on_round: RoundReport | None = None) -> list[dict]:
    """Run `cfg.evolve.rounds` rounds into `data`; returns one summary per round run (skipped ones excluded)."""
    from generators.procedural.catalog import FAMILIES
    from storage.shards import committed_rounds

    data = Path(data)
    complete = set(committed_rounds(data, final_only=True)) if data.exists() else set()
    started = set(committed_rounds(data)) if data.exists() else set()
    if started and not resume:
        raise EvolveError(f"{data} already holds rounds {sorted(started)}; pass --resume to continue it, "
                          "or choose another --data folder")
    knowledge = KnowledgeSystem.seed()
    data.mkdir(parents=True, exist_ok=True)
    knowledge.save(data / "knowledge.json")
    families = tuple(f for f in sorted(FAMILIES) if not cfg.evolve.families or f in cfg.evolve.families)
    if not families:
        raise EvolveError(f"no procedural family matches {cfg.evolve.families}; known: {sorted(FAMILIES)}")
    we_started = init_ray(cfg)
    from flywheel.models.pool import build_pools, close_pools

    pools = build_pools({r: s for r, s in cfg.models.roles().items() if r in ("proposer", "solver")})
    ctx = RoundContext(cfg, data, families, str(knowledge.version), frozenset(c.id for c in knowledge.concepts),
                       proposer_pool=pools.get("proposer"), solver_pool=pools.get("solver"))
    summaries = []
    try:
        for round_no in range(1, cfg.evolve.rounds + 1):
            if round_no in complete:
                log.info("round %d already complete, skipped", round_no)
                continue
            summary = run_round(ctx, round_no, *_history(data, round_no))
            summaries.append(summary)
            if on_round:
                on_round(round_no, summary)
    finally:
        close_pools(pools)
        if we_started:
            import ray

            ray.shutdown()
    return summaries
