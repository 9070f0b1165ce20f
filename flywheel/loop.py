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
from flywheel.near_dups import build_near_index
from flywheel.proposers import choose_proposer
from flywheel.records import PROBLEM_SCHEMA, table_to_problems
from flywheel.round import RoundContext, run_round

log = logging.getLogger(__name__)
RoundReport = Callable[[int, dict], None]


class EvolveError(Exception):
    """A run that cannot start as asked (e.g. existing data without --resume)."""


LOCAL_START_ATTEMPTS = 3


def _start_local(start: Callable[[], object]) -> None:
    """Ray gives a local node 30 s (hard-coded) to register; on a machine busy with other work that can run out,
    and a second try usually finds the machine warmed up. Other failures are not retried."""
    import ray

    for attempt in range(1, LOCAL_START_ATTEMPTS + 1):
        try:
            start()
            return
        except Exception as exc:  # noqa: BLE001 - Ray raises a bare Exception for this
            if "timed out during startup" not in str(exc) or attempt == LOCAL_START_ATTEMPTS:
                raise
            log.warning("local Ray start timed out (attempt %d of %d); retrying", attempt, LOCAL_START_ATTEMPTS)
            ray.shutdown()


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
        _start_local(lambda: ray.init(num_cpus=cfg.ray.num_cpus, include_dashboard=False, **quiet))
    return True


def quiet_ray_data(verbose: bool) -> None:
    """Ray Data logs each execution's plan and stats at INFO and draws a bar per operator; a run's stderr
    should hold the round's own progress lines instead (`-v` brings Ray's back)."""
    import ray

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = verbose
    ctx.print_on_execution_start = verbose
    ctx.verbose_stats_logs = verbose
    if not verbose:
        logging.getLogger("ray").setLevel(logging.WARNING)
        logging.getLogger("ray.data").setLevel(logging.ERROR)  # e.g. "Progress bars disabled" at each execution


HISTORY_COLUMNS = ["id", "round", "family", "concepts", "operator", "proposer", "seed", "level", "verdicts",
                   "parent_id", "depth"]


def _history(data: Path, before_round: int) -> tuple[Counter, Counter, tuple]:
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
        out += [p for p in _round_problems(data, r, text_columns)
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
            ks, _ = grow_from_round(ks, _round_problems(data, r, GROWTH_COLUMNS), r)
    return ks


def _round_problems(data: Path, round_no: int, columns: list[str]) -> list:
    """A round's accepted problems with only `columns` read (the others keep their defaults): replaying growth
    or offering parents needs no PNG bytes, and reading every image of every round would slow each start."""
    from storage.shards import read_table

    return table_to_problems(read_table(data, round=round_no, columns=columns))


def evolve(cfg: FlywheelConfig, data: str | Path, resume: bool = False,
           on_round: RoundReport | None = None, verbose: bool = False) -> list[dict]:
    """Run `cfg.evolve.rounds` rounds into `data`; returns one summary per round run (skipped ones excluded).
    `verbose` lets Ray's own progress bars and logs through (else one progress line per stage)."""
    from generators.procedural.catalog import FAMILIES
    from storage.shards import committed_rounds

    data = Path(data)
    complete = set(committed_rounds(data, final_only=True)) if data.exists() else set()
    started = set(committed_rounds(data)) if data.exists() else set()
    if started and not resume:
        raise EvolveError(f"{data} already holds rounds {sorted(started)}; pass --resume to continue it, "
                          "or choose another --data folder")
    data.mkdir(parents=True, exist_ok=True)
    families = tuple(f for f in sorted(FAMILIES) if not cfg.evolve.families or f in cfg.evolve.families)
    if not families:
        raise EvolveError(f"no procedural family matches {cfg.evolve.families}; known: {sorted(FAMILIES)}")
    we_started = init_ray(cfg)
    quiet_ray_data(verbose)
    from flywheel.models.cache import open_request_cache
    from flywheel.models.pool import build_pools, close_pools

    roles = cfg.models.roles()
    cache = open_request_cache(cfg, data) if roles else None  # every model call, replayed on --resume
    pools = build_pools(roles, cache=cache)
    proposer = choose_proposer(pools)
    first = min((r for r in range(1, cfg.evolve.rounds + 1) if r not in complete), default=cfg.evolve.rounds + 1)
    knowledge = knowledge_before(data, first)
    seed_ids = frozenset(c.id for c in KnowledgeSystem.seed().concepts)
    near = build_near_index(cfg, data)
    summaries = []
    try:
        for round_no in range(first, cfg.evolve.rounds + 1):
            if round_no in complete:
                log.info("round %d already complete, skipped", round_no)
                continue
            knowledge.save(data / "knowledge.json")  # the stages read the round's system from here
            by_family, by_concept, _ = _history(data, round_no)
            ctx = RoundContext(cfg, data, families, knowledge, proposer, seed_ids, pools,
                               proposer.parents(data, round_no), verbose)
            summary, knowledge = run_round(ctx, round_no, by_family, by_concept, near)
            knowledge.save(data / "knowledge.json")
            summaries.append(summary)
            if on_round:
                on_round(round_no, summary)
    finally:
        close_pools(pools)
        if cache is not None:
            cache.close()
        if we_started:
            import ray

            ray.shutdown()
    return summaries
