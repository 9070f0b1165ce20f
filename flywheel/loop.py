"""`evolve`: start (or join) Ray, then run rounds one after another, resuming where a killed run stopped.

A round is complete once its final part is committed; `resume=True` skips complete rounds and finishes the
first incomplete one (work already committed inside it is skipped), so a killed run ends with the same
accepted set as an uninterrupted one with the same seed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from flywheel.config import FlywheelConfig
from flywheel.history import history, knowledge_before
from flywheel.knowledge import KnowledgeSystem
from flywheel.near_dups import build_near_index
from flywheel.proposers import choose_proposer
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


def evolve(cfg: FlywheelConfig, data: str | Path, resume: bool = False,
           on_round: RoundReport | None = None, verbose: bool = False) -> list[dict]:
    """Run `cfg.evolve.rounds` rounds into `data`; returns one summary per round run (skipped ones excluded).
    `verbose` lets Ray's own progress bars and logs through (else one progress line per stage). The whole run
    holds `<data>/.lock`: a second run on the same folder is refused (EvolveError), never interleaved."""
    from storage.staging import DataFolderError, data_lock

    try:
        with data_lock(Path(data), "flywheel evolve"):
            return _evolve_locked(cfg, data, resume, on_round, verbose)
    except DataFolderError as exc:
        raise EvolveError(str(exc)) from None


def _evolve_locked(cfg: FlywheelConfig, data: str | Path, resume: bool, on_round: RoundReport | None,
                   verbose: bool) -> list[dict]:
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
            by_family, by_concept, seeds = history(data, round_no)
            ctx = RoundContext(cfg, data, families, knowledge, proposer, seed_ids, pools,
                               proposer.parents(data, round_no, seeds))
            summary, knowledge = run_round(ctx, round_no, by_family, by_concept, near)  # saves the grown system
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
