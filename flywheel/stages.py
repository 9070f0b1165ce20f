"""Thin Ray Data wrappers: batch <-> records, and the stage's own resources. No algorithm lives here.

Records cross Ray boundaries pickled in one `record` column, so a batch can carry problems and rejections
side by side: a stage works on the problems and passes rejections through untouched.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

import numpy as np

from flywheel.config import FlywheelConfig
from flywheel.records import Problem
from flywheel.sandbox import Sandbox, SandboxLimits


def to_batch(records: list[Any]) -> dict[str, np.ndarray]:
    col = np.empty(len(records), dtype=object)
    col[:] = [pickle.dumps(r, protocol=pickle.HIGHEST_PROTOCOL) for r in records]
    return {"record": col}


def from_batch(batch: dict[str, np.ndarray]) -> list[Any]:
    return [pickle.loads(b) for b in batch["record"]]


def _on_problems(records: list[Any], work: Callable[[list[Problem]], list]) -> list[Any]:
    """Apply `work` to the problems among `records` (one outcome each), keep every rejection where it was."""
    records = list(records)
    idx = [i for i, r in enumerate(records) if isinstance(r, Problem)]
    for i, r in zip(idx, work([records[i] for i in idx]) if idx else [], strict=True):
        records[i] = r
    return records


def _through(batch: dict[str, np.ndarray], work: Callable[[list[Problem]], list]) -> dict[str, np.ndarray]:
    return to_batch(_on_problems(from_batch(batch), work))


def propose_batch(batch: dict[str, np.ndarray], skip_ids: frozenset[str]) -> dict[str, np.ndarray]:
    """Ray task body: tasks -> problems (or propose rejections), dropping ids already committed this round."""
    from generators.procedural.catalog import FAMILIES, PARALLEL, SEQUENTIAL
    from generators.propose import propose

    extensions = {"parallel": PARALLEL, "sequential": SEQUENTIAL}
    records = [propose(task, FAMILIES, extensions) for task in from_batch(batch)]
    return to_batch([r for r in records if r.id not in skip_ids])


class LMMProposeStage:
    """LMM tasks -> proposer requests -> the model pool -> parsed problems (or propose rejections)."""

    def __init__(self, pool, knowledge_path: str, skip_ids: frozenset[str] = frozenset(), examples: tuple = ()):
        from flywheel.knowledge import KnowledgeSystem

        self.pool, self.skip_ids, self.examples = pool, skip_ids, examples
        self.ks = KnowledgeSystem.load(knowledge_path)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from generators.lmm.propose import examples_for, proposal_request, proposals

        tasks = from_batch(batch)
        spec = self.pool.spec
        requests = [proposal_request(t, self.ks, examples_for(t, self.ks, self.examples),
                                     max_tokens=spec.max_tokens, temperature=spec.temperature) for t in tasks]
        records = [r for t, c in zip(tasks, self.pool.generate(requests), strict=True)
                   for r in proposals(t, c, self.ks, f"{spec.backend}:{spec.model}")]
        return to_batch([r for r in records if r.id not in self.skip_ids])


class RenderStage:
    def __init__(self, cfg: FlywheelConfig):
        self.sandbox = Sandbox(workers=cfg.sandbox.workers_per_actor)
        self.limits = SandboxLimits(wall_s=cfg.sandbox.render_wall_s, memory_mb=cfg.sandbox.memory_mb)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from generators.render import render_batch

        return _through(batch, lambda ps: render_batch(ps, self.sandbox, self.limits))


class VerifyStage:
    def __init__(self, cfg: FlywheelConfig):
        self.sandbox = Sandbox(workers=cfg.sandbox.workers_per_actor)
        self.limits = SandboxLimits(wall_s=cfg.sandbox.check_wall_s, memory_mb=cfg.sandbox.memory_mb)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from verifiers.checks import verify_batch

        return _through(batch, lambda ps: verify_batch(ps, self.sandbox, self.limits))


class SolveStage:
    def __init__(self, cfg: FlywheelConfig, pool):
        self.cfg, self.pool = cfg, pool

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from verifiers.crossmodel import solve_check

        return _through(batch, lambda ps: solve_check(ps, self.pool, self.cfg))


class JudgeStage:
    def __init__(self, cfg: FlywheelConfig, pool):
        self.cfg, self.pool = cfg, pool

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from verifiers.judge import judge_check

        return _through(batch, lambda ps: judge_check(ps, self.pool, self.cfg))


class ExtractStage:
    """Co-evolution input: the extractor names the concepts and tools each accepted problem uses."""

    def __init__(self, pool, knowledge_path: str):
        from flywheel.knowledge import KnowledgeSystem

        self.pool, self.ks = pool, KnowledgeSystem.load(knowledge_path)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from generators.lmm.extract import extract

        return _through(batch, lambda ps: extract(ps, self.pool, self.ks))

class RepairStage:
    """Checker-repairer loop: failed problems go to the repairer with the failure reason, and each repaired
    problem is re-rendered and re-checked by the same checks (and models) as a fresh one, up to
    `repair_attempts` times. Every attempt is kept: the failed original stays a rejection, an attempt that
    fails again is a rejection whose parent is the one it tried to fix, and a success is a problem with
    operator "repair" whose parent_id leads back along that chain."""

    def __init__(self, cfg: FlywheelConfig, pool, knowledge_path: str, solver=None, judge=None):
        from flywheel.knowledge import KnowledgeSystem

        self.cfg, self.pool, self.solver, self.judge = cfg, pool, solver, judge
        self.ks = KnowledgeSystem.load(knowledge_path)
        self.sandbox = Sandbox(workers=cfg.sandbox.workers_per_actor)
        self.render_limits = SandboxLimits(wall_s=cfg.sandbox.render_wall_s, memory_mb=cfg.sandbox.memory_mb)
        self.check_limits = SandboxLimits(wall_s=cfg.sandbox.check_wall_s, memory_mb=cfg.sandbox.memory_mb)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        records = from_batch(batch)
        failed = [r for r in records if self._repairable(r)]
        for _ in range(self.cfg.evolve.repair_attempts):
            if not failed:
                break
            outcomes = self._attempt(failed)
            records += outcomes
            failed = [r for r in outcomes if self._repairable(r)]
        return to_batch(records)

    @staticmethod
    def _repairable(r) -> bool:
        from generators.lmm.repair import repairable

        return repairable(r)

    def _attempt(self, failed: list) -> list:
        from generators.lmm.repair import repair
        from generators.render import render_batch
        from verifiers.checks import verify_batch
        from verifiers.crossmodel import solve_check
        from verifiers.judge import judge_check

        fixed = repair(failed, self.pool, self.ks)
        checks = [lambda ps: render_batch(ps, self.sandbox, self.render_limits),
                  lambda ps: verify_batch(ps, self.sandbox, self.check_limits)]
        if self.solver is not None:
            checks.append(lambda ps: solve_check(ps, self.solver, self.cfg))
        if self.judge is not None:
            checks.append(lambda ps: judge_check(ps, self.judge, self.cfg))
        for check in checks:
            fixed = _on_problems(fixed, check)
        return fixed
