"""A pool of long-lived Ray actors serving one model, shared by every role that uses the same spec.

Each actor builds its backend once (loading a large model takes minutes) and lives across rounds. A call's
requests are split into chunks that all go out at once, each to the actor with the fewest requests
outstanding; actors are threaded, so one actor holds many chunks. Thread-safe backends (openai: one
backend-wide bound of `concurrency` requests in flight) take the calls as they come; single-engine backends
(hf, vllm) sit behind a `Coalescer`, so calls that arrive while the engine is busy run as one batch next.
With a request cache (flywheel/models/cache.py), hits never reach an actor and new successes are stored
before `generate` returns. An actor that dies is restarted by Ray and its chunks retried (`max_restarts`,
`max_task_retries`); a chunk that still fails comes back as completions with an error, never an exception.
`load()` reads every actor's live counters (in flight, tokens, busy seconds) for progress lines.
Tests: tests/test_models_pool.py, tests/test_request_cache.py; bench: bench/model_pool.py.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flywheel.config import ModelSpec
from flywheel.models.base import Completion, GenerationRequest

CONTROL = "control"  # actor concurrency group of load/info/close: never queued behind generate calls
MAX_THREADS = 512  # generate calls one actor accepts at once, whatever the spec asks
# Requests a backend can usefully hold at once: the option that says so and its default. An actor accepts
# twice as many chunks as this needs (calls from several stages arrive as partial chunks), plus two.
IN_FLIGHT_OPTION = {"openai": ("concurrency", 8), "vllm": ("max_num_seqs", 256), "hf": ("batch_size", 8)}
LOAD_FIELDS = ("in_flight", "requests", "completed", "failed", "cached", "prompt_tokens", "completion_tokens",
               "busy_s", "tokens_per_s")


def backend_in_flight(spec: ModelSpec) -> int:
    """Requests one actor's backend can usefully hold at once (`IN_FLIGHT_OPTION`); the round sizes its model
    stages from the same number, so stage and pool agree.

    >>> backend_in_flight(ModelSpec(backend="vllm"))
    256
    """
    option, default = IN_FLIGHT_OPTION.get(spec.backend, ("", 8))
    return max(1, int(dict(spec.options).get(option, default)))


def actor_threads(spec: ModelSpec, chunk_size: int) -> int:
    """Concurrent generate calls one actor takes: enough chunks to fill the backend's own bound twice.

    >>> actor_threads(ModelSpec(backend="openai", options=(("concurrency", 256),)), 8)
    66
    """
    return max(2, min(MAX_THREADS, 2 * math.ceil(backend_in_flight(spec) / max(1, chunk_size)) + 2))


class BackendActor:
    """The actor body: one backend, built on the actor's own process, and its live counters (plain class,
    testable alone). `generate` runs in many threads at once; counters are kept under a lock."""

    def __init__(self, spec: ModelSpec):
        from flywheel.models.batching import Coalescer
        from flywheel.models.factory import make_backend

        t0 = time.monotonic()
        self.backend = make_backend(spec)
        self.load_s = time.monotonic() - t0
        # A backend says it takes concurrent calls (`thread_safe = True`); anything else gets one engine call
        # at a time, batched by the coalescer.
        thread_safe = bool(getattr(self.backend, "thread_safe", False))
        self._generate = self.backend.generate if thread_safe else Coalescer(self.backend.generate).generate
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(LOAD_FIELDS[:-2], 0)
        self._busy_s, self._busy_since = 0.0, 0.0

    def generate(self, requests: list[GenerationRequest]) -> list[Completion]:
        self._enter(len(requests))
        out: list[Completion] = []
        try:
            out = self._generate(requests)
            return out
        finally:
            self._leave(len(requests), out)

    def _enter(self, n: int) -> None:
        with self._lock:
            if self._counts["in_flight"] == 0:
                self._busy_since = time.monotonic()
            self._counts["in_flight"] += n
            self._counts["requests"] += n

    def _leave(self, n: int, out: list[Completion]) -> None:
        with self._lock:
            c = self._counts
            c["in_flight"] -= n
            if c["in_flight"] == 0:
                self._busy_s += time.monotonic() - self._busy_since
            c["completed"] += sum(x.ok for x in out)
            c["failed"] += n - sum(x.ok for x in out)
            c["prompt_tokens"] += sum(x.prompt_tokens for x in out)
            c["completion_tokens"] += sum(x.completion_tokens for x in out)

    def note_cached(self, n: int) -> None:
        """Requests the pool answered from the cache (counted here so `load()` has one place to read)."""
        with self._lock:
            self._counts["cached"] += n

    def load(self) -> dict:
        """Counters since the actor started (a restarted actor starts again from zero)."""
        with self._lock:
            out: dict[str, Any] = dict(self._counts)
            busy = self._busy_s + (time.monotonic() - self._busy_since if out["in_flight"] else 0.0)
        out["busy_s"] = busy
        out["tokens_per_s"] = out["completion_tokens"] / busy if busy > 0 else 0.0
        return out

    def close(self) -> None:
        """Free the engine (a vLLM engine owns worker processes that `ray.kill` alone would orphan)."""
        self.backend.close()

    def info(self) -> dict:
        import os

        return {"pid": os.getpid(), "name": self.backend.name, "load_s": self.load_s}


@dataclass
class PoolStats:
    """What this copy of the pool saw (each Ray Data stage actor holds its own copy; `load()` is pool-wide)."""

    requests: int = 0
    failed: int = 0
    cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0


class ModelPool:
    """See the module docstring. Picklable: stage actors get a copy that shares the actors and the cache."""

    def __init__(self, spec: ModelSpec, chunk_size: int = 8, cache: Any = None):
        import ray

        from flywheel.models.cache import spec_fingerprint
        from flywheel.models.factory import BACKENDS

        if spec.backend not in BACKENDS:  # a config mistake: fail now, not inside an actor
            raise ValueError(f"unknown model backend {spec.backend!r}; known: {', '.join(BACKENDS)}")
        self.spec, self.chunk_size, self.stats, self.cache = spec, chunk_size, PoolStats(), cache
        self._fingerprint = spec_fingerprint(spec)
        self.threads = actor_threads(spec, chunk_size)
        actor_cls = ray.remote(concurrency_groups={CONTROL: 2})(BackendActor).options(
            num_cpus=spec.num_cpus, num_gpus=spec.num_gpus, max_restarts=-1, max_task_retries=2,
            max_concurrency=self.threads)
        self.actors = [actor_cls.remote(spec) for _ in range(max(1, spec.pool_size))]
        self._init_local()

    def _init_local(self) -> None:
        self._lock = threading.Lock()
        self._outstanding = [0] * len(self.actors)  # requests this copy has sent to each actor, not yet back
        self._last_load: list[dict] = [dict.fromkeys(LOAD_FIELDS, 0) for _ in self.actors]

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        for name in ("_lock", "_outstanding", "_last_load"):
            state.pop(name)
        state["stats"] = PoolStats()
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._init_local()

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        """Completions in request order: cache hits first, the misses from the actors (all chunks at once),
        new successes stored in the cache before they are returned. Safe to call from many threads."""
        from flywheel.models.cache import request_key

        keys = [request_key(self._fingerprint, r) for r in requests] if self.cache is not None else []
        hits = self.cache.get_many(keys) if keys else {}
        misses = [i for i in range(len(requests)) if not keys or keys[i] not in hits]
        fresh = self._dispatch([requests[i] for i in misses])
        if keys:
            new = [(keys[i], c) for i, c in zip(misses, fresh, strict=True) if c.ok]
            if new:
                self.cache.put_many(self._fingerprint["backend"], self.spec.model, new)
            if hits:
                self.actors[0].note_cached.options(concurrency_group=CONTROL).remote(len(requests) - len(misses))
        out: list[Completion | None] = [hits.get(k) for k in keys] if keys else [None] * len(requests)
        for i, c in zip(misses, fresh, strict=True):
            out[i] = c
        done = [c for c in out if c is not None]
        self._account(done)
        return done

    def _dispatch(self, requests: list[GenerationRequest]) -> list[Completion]:
        """Every chunk sent at once, each to the actor with the fewest requests outstanding from this copy."""
        import ray

        chunks = [requests[i:i + self.chunk_size] for i in range(0, len(requests), self.chunk_size)]
        sent = []
        for chunk in chunks:
            with self._lock:
                k = min(range(len(self.actors)), key=self._outstanding.__getitem__)
                self._outstanding[k] += len(chunk)
            sent.append((k, chunk, self.actors[k].generate.remote(chunk)))
        out: list[Completion] = []
        for k, chunk, ref in sent:
            try:
                out.extend(ray.get(ref))
            except Exception as exc:  # noqa: BLE001 - a dead pool is data for the round, not a crash
                why = _root_cause(exc)
                out.extend(Completion((), self.spec.model, error=f"pool failure: {why}") for _ in chunk)
            finally:
                with self._lock:
                    self._outstanding[k] -= len(chunk)
        return out

    def _account(self, completions: list[Completion]) -> None:
        with self._lock:
            for c in completions:
                self.stats.requests += 1
                self.stats.failed += not c.ok
                self.stats.cached += c.cached
                self.stats.prompt_tokens += c.prompt_tokens
                self.stats.completion_tokens += c.completion_tokens
                self.stats.seconds += c.seconds

    def load(self, timeout_s: float = 0.5) -> dict:
        """Live counters summed over the actors (an actor that does not answer within `timeout_s` counts with
        its last answer). `tokens_per_s` sums each actor's completion tokens per busy second."""
        import ray

        refs = [a.load.options(concurrency_group=CONTROL).remote() for a in self.actors]
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=timeout_s)
        for k, ref in enumerate(refs):
            if ref in ready:
                try:
                    self._last_load[k] = ray.get(ref)
                except Exception:  # noqa: BLE001 - a restarting actor: keep its last numbers
                    pass
        total = {f: sum(x[f] for x in self._last_load) for f in LOAD_FIELDS}
        total["busy_s"] = max((x["busy_s"] for x in self._last_load), default=0.0)
        return total

    def info(self) -> list[dict]:
        import ray

        return ray.get([a.info.options(concurrency_group=CONTROL).remote() for a in self.actors])

    def close(self, grace_s: float = 30.0) -> None:
        """Ask every actor to close its backend (bounded wait: a hung engine must not hang the run), then kill."""
        import ray

        try:
            ray.get([a.close.options(concurrency_group=CONTROL).remote() for a in self.actors], timeout=grace_s)
        except Exception:  # noqa: BLE001 - dead or hung actors are killed below all the same
            pass
        for a in self.actors:
            ray.kill(a)


def _root_cause(exc: BaseException) -> str:
    """Ray wraps the actor's traceback in the message; its last line names what actually went wrong."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return (lines[-1] if lines else type(exc).__name__)[:300]


def build_pools(roles: dict[str, ModelSpec], cache: Any = None) -> dict[str, ModelPool]:
    """One pool per distinct spec; roles with the same spec share it. `cache`: what `open_request_cache`
    returned (None: no cache)."""
    by_spec: dict[ModelSpec, ModelPool] = {}
    for spec in roles.values():
        if spec not in by_spec:
            by_spec[spec] = ModelPool(spec, cache=cache)
    return {role: by_spec[spec] for role, spec in roles.items()}


def close_pools(pools: dict[str, ModelPool]) -> None:
    """Close each pool once, however many roles share it."""
    for pool in {id(p): p for p in pools.values()}.values():
        pool.close()
