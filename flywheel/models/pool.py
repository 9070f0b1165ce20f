"""A pool of long-lived Ray actors serving one model, shared by every role that uses the same spec.

Each actor builds its backend once (loading a large model takes minutes) and lives across rounds. Requests
are split into chunks and spread over the actors; an actor that dies is restarted by Ray and its chunk
retried (`max_restarts`, `max_task_retries`); a chunk that still fails comes back as completions with an
error, never an exception, so the round records a rejection and goes on.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from flywheel.config import ModelSpec
from flywheel.models.base import Completion, GenerationRequest


class BackendActor:
    """The actor body: one backend, built lazily on the actor's own process (plain class, testable alone)."""

    def __init__(self, spec: ModelSpec):
        from flywheel.models.factory import make_backend

        t0 = time.monotonic()
        self.backend = make_backend(spec)
        self.load_s = time.monotonic() - t0

    def generate(self, requests: list[GenerationRequest]) -> list[Completion]:
        return self.backend.generate(requests)

    def close(self) -> None:
        """Free the engine (a vLLM engine owns worker processes that `ray.kill` alone would orphan)."""
        self.backend.close()

    def info(self) -> dict:
        import os

        return {"pid": os.getpid(), "name": self.backend.name, "load_s": self.load_s}


@dataclass
class PoolStats:
    requests: int = 0
    failed: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0


class ModelPool:
    def __init__(self, spec: ModelSpec, chunk_size: int = 8):
        import ray

        from flywheel.models.factory import BACKENDS

        if spec.backend not in BACKENDS:  # a config mistake: fail now, not inside an actor
            raise ValueError(f"unknown model backend {spec.backend!r}; known: {', '.join(BACKENDS)}")
        self.spec, self.chunk_size, self.stats = spec, chunk_size, PoolStats()
        actor_cls = ray.remote(BackendActor).options(
            num_cpus=spec.num_cpus, num_gpus=spec.num_gpus, max_restarts=-1, max_task_retries=2,
            max_concurrency=1)
        self.actors = [actor_cls.remote(spec) for _ in range(max(1, spec.pool_size))]

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        """Completions in request order; chunks go round-robin to the actors and run concurrently."""
        import ray

        chunks = [list(requests[i:i + self.chunk_size]) for i in range(0, len(requests), self.chunk_size)]
        refs = [self.actors[i % len(self.actors)].generate.remote(c) for i, c in enumerate(chunks)]
        out: list[Completion] = []
        for chunk, ref in zip(chunks, refs, strict=True):
            try:
                out.extend(ray.get(ref))
            except Exception as exc:  # noqa: BLE001 - a dead pool is data for the round, not a crash
                why = _root_cause(exc)
                out.extend(Completion((), self.spec.model, error=f"pool failure: {why}") for _ in chunk)
        self._account(out)
        return out

    def _account(self, completions: list[Completion]) -> None:
        for c in completions:
            self.stats.requests += 1
            self.stats.failed += not c.ok
            self.stats.prompt_tokens += c.prompt_tokens
            self.stats.completion_tokens += c.completion_tokens
            self.stats.seconds += c.seconds

    def info(self) -> list[dict]:
        import ray

        return ray.get([a.info.remote() for a in self.actors])

    def close(self, grace_s: float = 30.0) -> None:
        """Ask every actor to close its backend (bounded wait: a hung engine must not hang the run), then kill."""
        import ray

        try:
            ray.get([a.close.remote() for a in self.actors], timeout=grace_s)
        except Exception:  # noqa: BLE001 - dead or hung actors are killed below all the same
            pass
        for a in self.actors:
            ray.kill(a)


def _root_cause(exc: BaseException) -> str:
    """Ray wraps the actor's traceback in the message; its last line names what actually went wrong."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return (lines[-1] if lines else type(exc).__name__)[:300]


def build_pools(roles: dict[str, ModelSpec]) -> dict[str, ModelPool]:
    """One pool per distinct spec; roles with the same spec share it."""
    by_spec: dict[ModelSpec, ModelPool] = {}
    for spec in roles.values():
        if spec not in by_spec:
            by_spec[spec] = ModelPool(spec)
    return {role: by_spec[spec] for role, spec in roles.items()}


def close_pools(pools: dict[str, ModelPool]) -> None:
    """Close each pool once, however many roles share it."""
    for pool in {id(p): p for p in pools.values()}.values():
        pool.close()
