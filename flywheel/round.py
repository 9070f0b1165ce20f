"""One round of the flywheel, read top to bottom like the paper's figure: plan -> stream the declared stages
(propose, render, verify, solve, judge, repair, extract) -> admit -> commit.

`declare_stages` is the list; a model stage appears when a model serves its role, and the propose stage comes
from the proposer variant chosen once per run (flywheel/proposers.py). Every stage runs through the same
generic Ray wrapper (flywheel/stages.py) with its resources from the config; the functions behind them are in
flywheel/stage_work.py and the algorithms in generators/ and verifiers/. The driver consumes the stream,
estimates each survivor's difficulty, drops near-duplicates of anything accepted in any round, and commits
accepted problems and rejections in atomic parts, so a killed round loses at most one part of work and a
resumed round skips every task whose outcome is already committed (model calls are replayed from the request
cache). After the last part the knowledge system grows from what the round accepted (flywheel/coevolve.py); it
is saved before the final part closes the round, so a complete round always has its grown knowledge.json.
The stream arrives in task order and the gate admits in that order, so a kill anywhere, resumed, gives the
same accepted set; `checkpoint(...)` marks the named crash points tests/test_resume_sweep.py kills at.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from flywheel.checkpoints import checkpoint
from flywheel.config import FlywheelConfig
from flywheel.knowledge import KnowledgeSystem
from flywheel.records import Problem, Rejection, reject
from flywheel.stage_work import extract_work, model_check_work, repair_work, sandboxed_work
from flywheel.stages import Resources, Stage, model_resources, stream


@dataclass(frozen=True)
class RoundContext:
    cfg: FlywheelConfig
    data: Path
    families: tuple[str, ...]
    knowledge: KnowledgeSystem
    proposer: Any  # flywheel.proposers.Proposer, chosen once per run
    seed_concepts: frozenset[str] = field(default_factory=frozenset)
    pools: dict[str, Any] = field(default_factory=dict)  # role -> flywheel.models.pool.ModelPool
    # Extension parents from earlier rounds: generators.propose.Parent (procedural) or Problem (model proposer)
    parents: tuple = ()

    @property
    def knowledge_version(self) -> str:
        return str(self.knowledge.version)

    @property
    def knowledge_path(self) -> str:
        return str(self.data / "knowledge.json")


MODEL_CHECKS = (("solve", "solver"), ("judge", "judge"))  # stage name, model role


def declare_stages(ctx: RoundContext, skip_ids: frozenset[str]) -> list[Stage]:
    """The round as a list: propose, render, verify, [solve], [judge], [repair], [extract]."""
    cfg, pools, rc = ctx.cfg, ctx.pools, ctx.cfg.ray
    checks = [Stage("render", partial(sandboxed_work, "render", cfg), Resources(rc.render_actors, rc.actor_cpus,
                                                                              batch_size=rc.batch_size)),
              Stage("verify", partial(sandboxed_work, "verify", cfg), Resources(rc.verify_actors, rc.actor_cpus,
                                                                              batch_size=rc.batch_size))]
    checks += [Stage(name, partial(model_check_work, name, pools[role], cfg), model_resources(pools[role].spec, rc),
                     role=role) for name, role in MODEL_CHECKS if role in pools]
    stages = [ctx.proposer.stage(ctx, skip_ids), *checks]
    if "repairer" in pools:
        stages.append(Stage("repair", partial(repair_work, pools["repairer"], ctx.knowledge_path,
                                              cfg.evolve.repair_attempts, tuple(checks)),
                            model_resources(pools["repairer"].spec, rc), mode="rejections", role="repairer"))
    if "extractor" in pools:
        stages.append(Stage("extract", partial(extract_work, pools["extractor"], ctx.knowledge_path),
                            model_resources(pools["extractor"].spec, rc), role="extractor"))
    return stages


def run_round(ctx: RoundContext, round_no: int, by_family: Counter, by_concept: Counter,
              near: Any = None) -> tuple[dict, KnowledgeSystem]:
    """Run (or finish) one round and commit it; returns the round summary and the grown knowledge system."""
    from flywheel.coevolve import composites_of, grow_from_round, growth_summary
    from storage.shards import ShardWriter, read_rejections, read_round

    checkpoint("before_round")
    t0 = time.monotonic()
    mean = planned_mean(ctx.cfg, round_no)
    tasks = ctx.proposer.plan(ctx, round_no, mean, by_family, by_concept)
    done = {p.id for p in read_round(ctx.data, round_no)} | {r.id for r in read_rejections(ctx.data, round_no)}
    stages = declare_stages(ctx, frozenset(done))
    with ShardWriter(ctx.data, round_no, config=ctx.cfg.to_dict(), knowledge_version=ctx.knowledge_version,
                     hook=_part_checkpoint) as w, watch(ctx, round_no, stages) as board:
        gate = Admission(set(w.committed) - done, composites_of(ctx.knowledge), near, board=board)
        for records in stream(stages, tasks, board):
            gate.take(records)
            if len(gate.problems) >= ctx.cfg.evolve.part_size:
                w.commit_part(*gate.part())
        w.commit_part(*gate.part())
        accepted = read_round(ctx.data, round_no)
        grown, report = grow_from_round(ctx.knowledge, accepted, round_no)
        summary = summarize(ctx, round_no, sum(len(t.levels) for t in tasks), mean, time.monotonic() - t0, accepted,
                            tuple(gate.rejected_tokens))
        summary["knowledge"] = growth_summary(ctx.knowledge, grown, report)
        summary["duplicates"] = gate.duplicates()
        summary["models"] = model_summary(ctx.pools)
        grown.save(ctx.data / "knowledge.json")  # before the round is closed: a complete round has its system
        checkpoint("before_final_part")
        w.commit_part(summary=summary, final=True)
    checkpoint("round_closed")
    return summary, grown


def _part_checkpoint(event: str, _path: Path) -> None:
    checkpoint(f"part_{event}")  # part_staged, part_placed, part_committed


def planned_mean(cfg: FlywheelConfig, round_no: int) -> float:
    """The round's mean difficulty level: the ladder moves up each round, capped at 5."""
    ev = cfg.evolve
    return min(5.0, ev.difficulty_start + ev.difficulty_step * (round_no - 1))


class watch:  # noqa: N801 - used as a context manager, reads as `with watch(...) as board`
    """The round's progress board and its live view (one line per stage); the pools' loads ride along."""

    def __init__(self, ctx: RoundContext, round_no: int, stages: list[Stage]):
        self.ctx, self.round_no, self.stages = ctx, round_no, stages

    def __enter__(self):
        import ray

        from flywheel.progress import ProgressView, start_board

        self.board = start_board([s.name for s in self.stages])
        loads = {s.name: self.ctx.pools[s.role].load for s in self.stages if s.role}
        self.view = ProgressView(self.board, f"round {self.round_no}", loads,
                                 interval_s=self.ctx.cfg.ray.progress_interval_s)
        self.view.__enter__()
        self._ray = ray
        return self.board

    def __exit__(self, *exc: object) -> None:
        self.view.__exit__(*exc)
        self._ray.kill(self.board)


def model_summary(pools: dict[str, Any]) -> dict:
    """Per role: requests, cached replays, failures and tokens the round's pools report (cumulative per run)."""
    out = {}
    for role, pool in pools.items():
        load = pool.load()
        out[role] = {k: load[k] for k in ("requests", "cached", "failed", "prompt_tokens", "completion_tokens")
                     if k in load}
    return out


@dataclass
class Admission:
    """The driver's gate for survivors: exact and near duplicates out, difficulty and grown concepts in."""

    earlier: set[str]
    composites: list
    near: Any = None  # a near-duplicate index (flywheel/near_dups.py) or None when switched off
    board: Any = None  # the round's progress board (admitted counts go there)
    seen: set[str] = field(default_factory=set)
    checked: int = 0
    near_duplicates: int = 0
    rejected_tokens: list[int] = field(default_factory=lambda: [0, 0])  # model tokens spent on rejected work
    problems: list[Problem] = field(default_factory=list)  # admitted, not yet committed
    rejections: list[Rejection] = field(default_factory=list)
    committed: int = 0

    def take(self, records: list) -> None:
        """Admit the problems of one output batch, count the rejections, hold both until the next part."""
        for rec in records:
            rec = self.admit(rec) if isinstance(rec, Problem) else rec
            if isinstance(rec, Rejection):
                self.count(rec)
            (self.problems if isinstance(rec, Problem) else self.rejections).append(rec)
            checkpoint("admitted")
        if self.board is not None:
            self.board.admitted.remote(self.committed + len(self.problems), self.committed)

    def part(self) -> tuple[list[Problem], list[Rejection]]:
        """What the next atomic commit writes; the gate starts a fresh part."""
        part = (self.problems, self.rejections)
        self.committed += len(self.problems)
        self.problems, self.rejections = [], []
        if self.board is not None:
            self.board.admitted.remote(self.committed, self.committed)
        return part

    def duplicates(self) -> dict:
        return {"checked": self.checked, "near_duplicates": self.near_duplicates,
                "rate": round(self.near_duplicates / max(1, self.checked), 4)}

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
        # who vouched for each answer: "author_code" means a model-made problem only its own code confirmed
        "verified_by": dict(Counter(getattr(p, "verified_by", "") or "unrecorded" for p in accepted).most_common()),
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
