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


def _through(batch: dict[str, np.ndarray], work: Callable[[list[Problem]], list]) -> dict[str, np.ndarray]:
    """Apply `work` to the batch's problems, keep every rejection where it was."""
    records = from_batch(batch)
    idx = [i for i, r in enumerate(records) if isinstance(r, Problem)]
    for i, r in zip(idx, work([records[i] for i in idx]) if idx else [], strict=True):
        records[i] = r
    return to_batch(records)


def propose_batch(batch: dict[str, np.ndarray], skip_ids: frozenset[str]) -> dict[str, np.ndarray]:
    """Ray task body: tasks -> problems (or propose rejections), dropping ids already committed this round."""
    from generators.procedural.catalog import FAMILIES
    from generators.propose import propose

    records = [propose(task, FAMILIES) for task in from_batch(batch)]
    return to_batch([r for r in records if r.id not in skip_ids])


class LMMProposeStage:
    """LMM tasks -> proposer requests -> the model pool -> parsed problems (or propose rejections)."""

    def __init__(self, pool, knowledge_path: str, skip_ids: frozenset[str] = frozenset()):
        from flywheel.knowledge import KnowledgeSystem

        self.pool, self.skip_ids = pool, skip_ids
        self.ks = KnowledgeSystem.load(knowledge_path)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from generators.lmm.propose import proposal_request, proposals

        tasks = from_batch(batch)
        spec = self.pool.spec
        requests = [proposal_request(t, self.ks, max_tokens=spec.max_tokens, temperature=spec.temperature)
                    for t in tasks]
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
    """Cross-model check: a different model solves each verified problem from image and question alone."""

    def __init__(self, cfg: FlywheelConfig, pool):
        self.cfg, self.pool = cfg, pool

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return _through(batch, self._solve)

    def _solve(self, problems: list[Problem]) -> list:
        from dataclasses import replace

        from flywheel.records import reject
        from generators.lmm.prompts import solve_prompt
        from verifiers.crossmodel import crossmodel_verdicts, solve_requests

        spec, ev = self.pool.spec, self.cfg.evolve
        requests = solve_requests(problems, lambda p: solve_prompt(p.question, p.answer_kind), k=ev.solver_samples,
                                  max_tokens=spec.max_tokens, temperature=spec.temperature)
        completions = self.pool.generate(requests)
        verdicts = crossmodel_verdicts(problems, completions, ev.solver_min_pass_rate or None)
        out = []
        for p, c, v in zip(problems, completions, verdicts, strict=True):
            cost = replace(p.cost, prompt_tokens=p.cost.prompt_tokens + c.prompt_tokens,
                           completion_tokens=p.cost.completion_tokens + c.completion_tokens,
                           seconds={**p.cost.seconds, "solve": round(c.seconds, 4)})
            p = replace(p, verdicts=p.verdicts + (v,), cost=cost, verifier=f"{p.verifier}+{spec.backend}:{spec.model}")
            out.append(reject(p, "crossmodel", "solver_disagrees", v.reason) if v.passed is False else p)
        return out
