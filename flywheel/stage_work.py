"""The plain function behind each declared stage, built inside its actor with its state bound.

Each `*_work(...)` here is a factory: called once in a stage actor (through `Stage.make`, a
`functools.partial` of it), it builds what the stage holds for its lifetime — a warm sandbox, the knowledge
system — and returns `records -> records`. The algorithms they call live in their layers: proposing and
repair in generators/, checks and the judge in verifiers/. `repair_work` re-runs a slice of the round's own
stage list on what the repairer fixed, so a repaired problem meets exactly the checks a fresh one meets.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flywheel.config import FlywheelConfig
from flywheel.stages import Stage, Work, apply


def procedural_propose_work(skip_ids: frozenset[str]) -> Work:
    """Tasks -> problems by the procedural families (or their extensions), minus ids committed this round."""
    from generators.procedural.catalog import FAMILIES, PARALLEL, SEQUENTIAL
    from generators.propose import propose

    extensions = {"parallel": PARALLEL, "sequential": SEQUENTIAL}

    def work(tasks: list) -> list:
        return [r for r in (propose(t, FAMILIES, extensions) for t in tasks) if r.id not in skip_ids]

    return work


def model_propose_work(pool: Any, knowledge_path: str, skip_ids: frozenset[str], examples: tuple) -> Work:
    """Tasks -> proposer requests -> the model pool -> parsed problems (or propose rejections)."""
    from flywheel.knowledge import KnowledgeSystem
    from generators.lmm.propose import examples_for, proposal_request, proposals

    ks = KnowledgeSystem.load(knowledge_path)
    spec = pool.spec

    def work(tasks: list) -> list:
        requests = [proposal_request(t, ks, examples_for(t, ks, examples), max_tokens=spec.max_tokens,
                                     temperature=spec.temperature) for t in tasks]
        records = [r for t, c in zip(tasks, pool.generate(requests), strict=True)
                   for r in proposals(t, c, ks, f"{spec.backend}:{spec.model}")]
        return [r for r in records if r.id not in skip_ids]

    return work


def sandboxed_work(check: str, cfg: FlywheelConfig) -> Work:
    """`render` or `verify` with a warm sandbox of the actor's own (its wall-time limit from the config)."""
    from flywheel.sandbox import Sandbox, SandboxLimits

    sandbox = Sandbox(workers=cfg.sandbox.workers_per_actor, isolation=cfg.sandbox.isolation)
    if check == "render":
        from generators.render import render_batch

        limits = SandboxLimits(wall_s=cfg.sandbox.render_wall_s, memory_mb=cfg.sandbox.memory_mb)
        return lambda problems: render_batch(problems, sandbox, limits)
    from verifiers.checks import verify_batch

    limits = SandboxLimits(wall_s=cfg.sandbox.check_wall_s, memory_mb=cfg.sandbox.memory_mb)
    return lambda problems: verify_batch(problems, sandbox, limits)


def model_check_work(role: str, pool: Any, cfg: FlywheelConfig) -> Work:
    """A model-backed check: `solve` (cross-model solver) or `judge` (rubric)."""
    if role == "solve":
        from verifiers.crossmodel import solve_check as check
    else:
        from verifiers.judge import judge_check as check
    return lambda problems: check(problems, pool, cfg)


def extract_work(pool: Any, knowledge_path: str) -> Work:
    from flywheel.knowledge import KnowledgeSystem
    from generators.lmm.extract import extract

    ks = KnowledgeSystem.load(knowledge_path)
    return lambda problems: extract(problems, pool, ks)


def repair_work(pool: Any, knowledge_path: str, attempts: int, checks: Sequence[Stage]) -> Work:
    """Failed problems -> the repairer -> `checks` (a slice of the round's stages) again, up to `attempts` times.

    Every attempt is kept: the failed original stays a rejection, an attempt that fails again is a rejection
    whose parent is the one it tried to fix, a success is a problem with operator "repair"."""
    from flywheel.knowledge import KnowledgeSystem
    from generators.lmm.repair import repair, repairable

    ks = KnowledgeSystem.load(knowledge_path)
    again = [(s.mode, s.make()) for s in checks]

    def work(rejections: list) -> list:
        out: list = []
        failed = [r for r in rejections if repairable(r)]
        for _ in range(attempts):
            if not failed:
                break
            fixed = repair(failed, pool, ks)
            for mode, check in again:
                fixed = apply(mode, check, fixed)
            out += fixed
            failed = [r for r in fixed if repairable(r)]
        return out

    return work
