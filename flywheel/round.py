"""One round of the flywheel, as a streaming Ray Data pipeline: plan -> propose -> render -> verify -> write.

Render and verify run in actor pools that own warm sandboxes; the driver consumes the stream and commits
accepted problems and rejections in atomic parts, so a killed round loses at most one part of work and a
resumed round skips every task whose outcome is already committed.
"""

from __future__ import annotations

import pickle
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flywheel.config import FlywheelConfig
from flywheel.records import Problem, Rejection, reject
from flywheel.stages import LMMProposeStage, RenderStage, SolveStage, VerifyStage, from_batch, propose_batch


@dataclass(frozen=True)
class RoundContext:
    cfg: FlywheelConfig
    data: Path
    families: tuple[str, ...]
    knowledge_version: str
    seed_concepts: frozenset[str] = field(default_factory=frozenset)
    proposer_pool: Any = None  # a flywheel.models.pool.ModelPool when a proposer model is configured
    solver_pool: Any = None  # likewise for the cross-model solver


def plan_tasks(ctx: RoundContext, round_no: int, mean: float, by_family: Counter, by_concept: Counter) -> list:
    """Procedural tasks (family, level, seed), or LMM tasks (concept combination, tools, level, seed)."""
    ev = ctx.cfg.evolve
    if ctx.proposer_pool is None:
        from generators.propose import plan_round

        return plan_round(round_no, ev.problems_per_round, ev.seed, mean, list(ctx.families), by_family)
    from flywheel.knowledge import KnowledgeSystem
    from generators.lmm.propose import plan_lmm_round

    ks = KnowledgeSystem.load(ctx.data / "knowledge.json")
    return plan_lmm_round(round_no, ev.problems_per_round, ev.seed, mean, ks, by_concept)


def _propose(ds, ctx: RoundContext, skip_ids: frozenset[str]):
    import ray

    rc = ctx.cfg.ray
    if ctx.proposer_pool is None:
        return ds.map_batches(propose_batch, fn_kwargs={"skip_ids": skip_ids}, batch_size=rc.batch_size,
                              batch_format="numpy", num_cpus=rc.actor_cpus)
    size = max(1, ctx.proposer_pool.spec.pool_size)
    return ds.map_batches(LMMProposeStage, fn_constructor_args=(ctx.proposer_pool, str(ctx.data / "knowledge.json"),
                                                                 skip_ids),
                          batch_size=rc.batch_size, batch_format="numpy", num_cpus=rc.actor_cpus,
                          compute=ray.data.ActorPoolStrategy(size=size))


def build_pipeline(ctx: RoundContext, tasks: list, skip_ids: frozenset[str]):
    """The round's dataset: lazy until iterated; each stage scales on its own."""
    import ray

    rc = ctx.cfg.ray
    items = [{"record": pickle.dumps(t)} for t in tasks]
    blocks = max(1, min(len(items), 4 * (rc.render_actors + rc.verify_actors)))
    ds = _propose(ray.data.from_items(items, override_num_blocks=blocks), ctx, skip_ids)
    for stage, size in ((RenderStage, rc.render_actors), (VerifyStage, rc.verify_actors)):
        ds = ds.map_batches(stage, fn_constructor_args=(ctx.cfg,), batch_size=rc.batch_size, batch_format="numpy",
                            compute=ray.data.ActorPoolStrategy(size=size), num_cpus=rc.actor_cpus)
    if ctx.solver_pool is not None:
        ds = ds.map_batches(SolveStage, fn_constructor_args=(ctx.cfg, ctx.solver_pool), batch_size=rc.batch_size,
                            batch_format="numpy", num_cpus=rc.actor_cpus,
                            compute=ray.data.ActorPoolStrategy(size=max(1, ctx.solver_pool.spec.pool_size)))
    return ds


def run_round(ctx: RoundContext, round_no: int, by_family: Counter, by_concept: Counter) -> dict:
    """Run (or finish) one round and commit it; returns the round summary."""
    from storage.shards import ShardWriter, read_rejections, read_round

    ev = ctx.cfg.evolve
    t0 = time.monotonic()
    mean = min(5.0, ev.difficulty_start + ev.difficulty_step * (round_no - 1))
    tasks = plan_tasks(ctx, round_no, mean, by_family, by_concept)
    done = {p.id for p in read_round(ctx.data, round_no)} | {r.id for r in read_rejections(ctx.data, round_no)}
    with ShardWriter(ctx.data, round_no, config=ctx.cfg.to_dict(), knowledge_version=ctx.knowledge_version) as w:
        earlier = set(w.committed) - done
        seen: set[str] = set()
        problems: list[Problem] = []
        rejections: list[Rejection] = []
        for batch in build_pipeline(ctx, tasks, frozenset(done)).iter_batches(batch_size=None, batch_format="numpy"):
            for rec in from_batch(batch):
                if isinstance(rec, Problem) and (rec.id in seen or rec.id in earlier):
                    rec = reject(rec, "dedup", "duplicate", "same content as an accepted problem")
                if isinstance(rec, Problem):
                    seen.add(rec.id)
                    problems.append(rec)
                else:
                    rejections.append(rec)
            if len(problems) >= ev.part_size:
                w.commit_part(problems, rejections)
                problems, rejections = [], []
        w.commit_part(problems, rejections)
        summary = summarize(ctx, round_no, len(tasks), mean, time.monotonic() - t0)
        w.commit_part(summary=summary, final=True)
    return summary


def summarize(ctx: RoundContext, round_no: int, proposed: int, mean: float, seconds: float) -> dict:
    """The round's numbers, computed from what is committed (so a resumed round reports the whole round)."""
    from storage.shards import read_rejections, read_round

    accepted = read_round(ctx.data, round_no)
    rejected = read_rejections(ctx.data, round_no)
    by_stage = Counter(r.stage for r in rejected)
    stage_s: Counter = Counter()
    for p in accepted:
        stage_s.update(p.cost.seconds)
    concepts = {c for p in accepted for c in p.concepts}
    return {
        "proposed": proposed,
        "rendered": len(accepted) + sum(n for s, n in by_stage.items() if s not in ("propose", "render")),
        "verified": len(accepted) + by_stage.get("dedup", 0),
        "accepted": len(accepted),
        "rejected": len(rejected),
        "rejected_by_reason": dict(Counter(f"{r.stage}:{r.reason}" for r in rejected).most_common()),
        "concepts_covered": len(concepts),
        "seed_concepts_covered": len(concepts & ctx.seed_concepts),
        "difficulty_mean_planned": round(mean, 3),
        "difficulty_mean": round(sum(p.difficulty for p in accepted) / max(1, len(accepted)), 3),
        "difficulty_histogram": {str(k): v for k, v in sorted(Counter(int(p.difficulty) for p in accepted).items())},
        "stage_seconds": {k: round(v, 2) for k, v in stage_s.items()},
        "wall_seconds": round(seconds, 2),
    }
