"""Who proposes a round's problems, chosen once per run: the procedural families, or a proposer model.

Each variant says three things the round needs and nothing else: which accepted problems of earlier rounds
its extension tasks may build on (`parents`), how a round's tasks are planned (`plan`), and the stage that
turns tasks into problems (`stage`). The rest of the round is the same list of stages for both, so neither
round.py nor loop.py asks which proposer is running.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from flywheel.stages import Resources, Stage, model_resources


@dataclass(frozen=True)
class Proposer:
    name: str
    # (data, round, procedural seed parents from flywheel.history.history) -> extension parents of earlier rounds
    parents: Callable[[Path, int, tuple], tuple]
    plan: Callable[[Any, int, float, Counter, Counter], list]  # (ctx, round, mean level, by family, by concept)
    stage: Callable[[Any, frozenset], Stage]  # (ctx, ids committed this round) -> the propose stage


def _procedural_parents(data: Path, round_no: int, seeds: tuple) -> tuple:
    return seeds


def _procedural_plan(ctx: Any, round_no: int, mean: float, by_family: Counter, by_concept: Counter) -> list:
    from generators.procedural.catalog import PARALLEL, SEQUENTIAL
    from generators.propose import plan_round

    ev = ctx.cfg.evolve
    parents = ctx.parents if ev.extensions else ()
    return plan_round(round_no, ev.problems_per_round, ev.seed, mean, list(ctx.families), by_family, parents,
                      {"parallel": set(PARALLEL), "sequential": set(SEQUENTIAL)}, max_depth=ev.max_depth)


def _procedural_stage(ctx: Any, skip_ids: frozenset) -> Stage:
    from flywheel.stage_work import procedural_propose_work

    rc = ctx.cfg.ray
    return Stage("propose", partial(procedural_propose_work, skip_ids),
                 Resources(rc.render_actors, rc.actor_cpus, batch_size=rc.batch_size), mode="tasks")


def _model_parents(data: Path, round_no: int, seeds: tuple) -> tuple:
    from flywheel.history import lmm_parents

    return lmm_parents(data, round_no)


def _model_plan(ctx: Any, round_no: int, mean: float, by_family: Counter, by_concept: Counter) -> list:
    from generators.lmm.propose import plan_lmm_round

    ev = ctx.cfg.evolve
    parents = ctx.parents if ev.extensions else ()
    return plan_lmm_round(round_no, ev.problems_per_round, ev.seed, mean, ctx.knowledge, by_concept, parents,
                          ev.levels_per_request, ev.max_depth, ev.concept_pairing)


def _model_stage(ctx: Any, skip_ids: frozenset) -> Stage:
    from flywheel.stage_work import model_propose_work
    from generators.lmm.propose import example_pool

    pool = ctx.pools["proposer"]
    examples = example_pool(ctx.parents, ctx.cfg.evolve.seed)  # accepted model-made problems, else procedural
    return Stage("propose", partial(model_propose_work, pool, str(ctx.data / "knowledge.json"), skip_ids, examples),
                 model_resources(pool.spec, ctx.cfg.ray), mode="tasks", role="proposer")


PROPOSERS = {
    "procedural": Proposer("procedural", _procedural_parents, _procedural_plan, _procedural_stage),
    "model": Proposer("model", _model_parents, _model_plan, _model_stage),
}


def choose_proposer(pools: dict[str, Any]) -> Proposer:
    """The model variant when a proposer model is configured, else the procedural families."""
    return PROPOSERS["model" if "proposer" in pools else "procedural"]
