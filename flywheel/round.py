"""One round of the flywheel, as a streaming Ray Data pipeline: plan -> propose -> render -> verify ->
[solve] -> [judge] -> [repair] -> [extract] -> write; the bracketed stages run when a model serves that role.

Render and verify run in actor pools that own warm sandboxes; the driver consumes the stream, estimates each
survivor's difficulty, drops near-duplicates of anything accepted in any round, and commits accepted problems
and rejections in atomic parts, so a killed round loses at most one part of work and a resumed round skips
every task whose outcome is already committed. After the last part the knowledge system grows from what the
round accepted (flywheel/coevolve.py) and the summary records the growth.
"""

from __future__ import annotations

import pickle
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flywheel.config import FlywheelConfig
from flywheel.knowledge import KnowledgeSystem
from flywheel.records import Problem, Rejection, reject
from flywheel.stages import (
    ExtractStage,
    JudgeStage,
    LMMProposeStage,
    RenderStage,
    RepairStage,
    SolveStage,
    VerifyStage,
    from_batch,
    propose_batch,
)


@dataclass(frozen=True)
class RoundContext:
    cfg: FlywheelConfig
    data: Path
    families: tuple[str, ...]
    knowledge: KnowledgeSystem
    seed_concepts: frozenset[str] = field(default_factory=frozenset)
    pools: dict[str, Any] = field(default_factory=dict)  # role -> flywheel.models.pool.ModelPool
    # Extension parents from earlier rounds: generators.propose.Parent (procedural) or Problem (model proposer)
    parents: tuple = ()

    @property
    def knowledge_version(self) -> str:
        return str(self.knowledge.version)

    @property
    def proposer_pool(self) -> Any:
        return self.pools.get("proposer")

    @property
    def solver_pool(self) -> Any:
        return self.pools.get("solver")


def plan_tasks(ctx: RoundContext, round_no: int, mean: float, by_family: Counter, by_concept: Counter) -> list:
    """Procedural tasks (family, level, seed[, operator, parent]), or LMM tasks (concepts, tools, level, seed)."""
    ev = ctx.cfg.evolve
    if ctx.proposer_pool is None:
        from generators.procedural.catalog import PARALLEL, SEQUENTIAL
        from generators.propose import plan_round

        parents = ctx.parents if ev.extensions else ()
        return plan_round(round_no, ev.problems_per_round, ev.seed, mean, list(ctx.families), by_family, parents,
                          {"parallel": set(PARALLEL), "sequential": set(SEQUENTIAL)})
    from generators.lmm.propose import plan_lmm_round

    parents = ctx.parents if ev.extensions else ()
    return plan_lmm_round(round_no, ev.problems_per_round, ev.seed, mean, ctx.knowledge, by_concept, parents)


def _propose(ds, ctx: RoundContext, skip_ids: frozenset[str]):
    import ray

    rc = ctx.cfg.ray
    if ctx.proposer_pool is None:
        return ds.map_batches(propose_batch, fn_kwargs={"skip_ids": skip_ids}, batch_size=rc.batch_size,
                              batch_format="numpy", num_cpus=rc.actor_cpus)
    from generators.lmm.propose import example_pool

    size = max(1, ctx.proposer_pool.spec.pool_size)
    examples = example_pool(ctx.parents, ctx.cfg.evolve.seed)  # accepted model-made problems, else procedural
    return ds.map_batches(LMMProposeStage, fn_constructor_args=(ctx.proposer_pool, str(ctx.data / "knowledge.json"),
                                                                 skip_ids, examples),
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
    pools, ks_path = ctx.pools, str(ctx.data / "knowledge.json")
    model_stages = (
        ("solver", SolveStage, (ctx.cfg, pools.get("solver"))),
        ("judge", JudgeStage, (ctx.cfg, pools.get("judge"))),
        ("repairer", RepairStage, (ctx.cfg, pools.get("repairer"), ks_path, pools.get("solver"), pools.get("judge"))),
        ("extractor", ExtractStage, (pools.get("extractor"), ks_path)),
    )
    for role, stage, args in model_stages:
        if role in pools:
            ds = ds.map_batches(stage, fn_constructor_args=args, batch_size=rc.batch_size, batch_format="numpy",
                                num_cpus=rc.actor_cpus,
                                compute=ray.data.ActorPoolStrategy(size=max(1, pools[role].spec.pool_size)))
    return ds


@dataclass
class Admission:
    """The driver's gate for survivors: exact and near duplicates out, difficulty and grown concepts in."""

    earlier: set[str]
    composites: list
    near: Any = None  # a near-duplicate index (flywheel/near_dups.py) or None when switched off
    seen: set[str] = field(default_factory=set)
    checked: int = 0
    near_duplicates: int = 0
    rejected_tokens: list[int] = field(default_factory=lambda: [0, 0])  # model tokens spent on rejected work

    def count(self, rej: Rejection) -> Rejection:
        if rej.problem is not None:
            self.rejected_tokens[0] += rej.problem.cost.prompt_tokens
            self.rejected_tokens[1] += rej.problem.cost.completion_tokens
        return rej

    def admit(self, rec: Problem) -> Problem | Rejection:
        from flywheel.coevolve import tag_composites
        from verifiers.difficulty import with_difficulty

        self.checked += 1
        if rec.id in self.seen or rec.id in self.earlier:
            return reject(rec, "dedup", "duplicate", "same content as an accepted problem")
        if self.near is not None:
            hit = self.near.check_and_add(rec)
            if hit is not None:
                self.near_duplicates += 1
                return reject(rec, "dedup", "near_duplicate", hit)
        self.seen.add(rec.id)
        return with_difficulty(tag_composites(rec, self.composites))


def run_round(ctx: RoundContext, round_no: int, by_family: Counter, by_concept: Counter,
              near: Any = None) -> tuple[dict, KnowledgeSystem]:
    """Run (or finish) one round and commit it; returns the round summary and the grown knowledge system."""
    from flywheel.coevolve import composites_of, grow_from_round, growth_summary
    from storage.shards import ShardWriter, read_rejections, read_round

    ev = ctx.cfg.evolve
    t0 = time.monotonic()
    mean = min(5.0, ev.difficulty_start + ev.difficulty_step * (round_no - 1))
    tasks = plan_tasks(ctx, round_no, mean, by_family, by_concept)
    done = {p.id for p in read_round(ctx.data, round_no)} | {r.id for r in read_rejections(ctx.data, round_no)}
    with ShardWriter(ctx.data, round_no, config=ctx.cfg.to_dict(), knowledge_version=ctx.knowledge_version) as w:
        gate = Admission(set(w.committed) - done, composites_of(ctx.knowledge), near)
        problems: list[Problem] = []
        rejections: list[Rejection] = []
        for batch in build_pipeline(ctx, tasks, frozenset(done)).iter_batches(batch_size=None, batch_format="numpy"):
            for rec in from_batch(batch):
                rec = gate.admit(rec) if isinstance(rec, Problem) else rec
                if isinstance(rec, Rejection):
                    gate.count(rec)
                (problems if isinstance(rec, Problem) else rejections).append(rec)
            if len(problems) >= ev.part_size:
                w.commit_part(problems, rejections)
                problems, rejections = [], []
        w.commit_part(problems, rejections)
        accepted = read_round(ctx.data, round_no)
        grown, report = grow_from_round(ctx.knowledge, accepted, round_no)
        summary = summarize(ctx, round_no, len(tasks), mean, time.monotonic() - t0, accepted,
                            tuple(gate.rejected_tokens))
        summary["knowledge"] = growth_summary(ctx.knowledge, grown, report)
        summary["duplicates"] = {"checked": gate.checked, "near_duplicates": gate.near_duplicates,
                                 "rate": round(gate.near_duplicates / max(1, gate.checked), 4)}
        w.commit_part(summary=summary, final=True)
    return summary, grown


def _cost_per_accepted(accepted: list[Problem], rejected_tokens: tuple[int, int]) -> dict:
    """Every token the round spent (rejected work included) divided by what it accepted."""
    n = max(1, len(accepted))
    prompt = sum(p.cost.prompt_tokens for p in accepted) + rejected_tokens[0]
    completion = sum(p.cost.completion_tokens for p in accepted) + rejected_tokens[1]
    seconds = sum(sum(p.cost.seconds.values()) for p in accepted)
    return {"prompt_tokens": round(prompt / n, 1), "completion_tokens": round(completion / n, 1),
            "seconds": round(seconds / n, 3)}


def summarize(ctx: RoundContext, round_no: int, proposed: int, mean: float, seconds: float,
              accepted: list[Problem] | None = None, rejected_tokens: tuple[int, int] = (0, 0)) -> dict:
    """The round's numbers, computed from what is committed (so a resumed round reports the whole round)."""
    from storage.shards import read_rejections, read_round

    accepted = read_round(ctx.data, round_no) if accepted is None else accepted
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
        "accepted_by_operator": dict(Counter(p.operator for p in accepted).most_common()),
        "rejected_by_reason": dict(Counter(f"{r.stage}:{r.reason}" for r in rejected).most_common()),
        "concepts_covered": len(concepts),
        "seed_concepts_covered": len(concepts & ctx.seed_concepts),
        "difficulty_mean_planned": round(mean, 3),
        "difficulty_mean": round(sum(p.difficulty for p in accepted) / max(1, len(accepted)), 3),
        "difficulty_histogram": {str(k): v for k, v in sorted(Counter(int(p.difficulty) for p in accepted).items())},
        "cost_per_accepted": _cost_per_accepted(accepted, rejected_tokens),
        "stage_seconds": {k: round(v, 2) for k, v in stage_s.items()},
        "wall_seconds": round(seconds, 2),
    }
