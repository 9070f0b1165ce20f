"""The one generic Ray wrapper of the round: a declared `Stage` maps a plain stage function over batches of
records in a Ray Data actor pool with the stage's own resources. No algorithm lives here.

A stage's `make` is a picklable zero-argument factory that runs once inside each actor and returns the plain
function (`records -> records`) with its state bound (a warm sandbox, a model pool handle, the knowledge
system), so tests call the same functions without Ray. Records cross Ray boundaries pickled in one `record`
column, so a batch can carry problems and rejections side by side; `mode` says what the function sees:
"tasks" (planned tasks in, any number of records out), "problems" (the problems of the batch, one outcome
each, rejections passed through where they were) or "rejections" (repair: rejections in, new outcomes
appended). CPU stages take small batches (a render is seconds of sandbox work); model stages take larger ones
and keep many in flight per actor (`Resources.calls_in_flight`), because a model call is latency, not CPU.
Each batch's counts go to the round's progress board (flywheel/progress.py).
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from flywheel.records import Problem, Rejection

Work = Callable[[list[Any]], list[Any]]
Mode = Literal["tasks", "problems", "rejections"]


@dataclass(frozen=True)
class Resources:
    """Where and how wide a stage runs: actors, CPUs/GPUs each reserves, records per call, calls per actor."""

    actors: int = 1
    num_cpus: float = 0.25
    num_gpus: float = 0.0
    batch_size: int = 8
    calls_in_flight: int = 1  # >1: the actor runs that many batches at once in threads (model stages)


@dataclass(frozen=True)
class Stage:
    name: str
    make: Callable[[], Work]
    resources: Resources = Resources()
    mode: Mode = "problems"
    role: str = ""  # the model role whose pool the stage calls ("" for CPU stages): progress shows its load


def requests_in_flight(spec: Any) -> int:
    """How many requests a pool serves at once: its actors times what each backend holds (the pool's table)."""
    from flywheel.models.pool import backend_in_flight

    return backend_in_flight(spec) * max(1, spec.pool_size)


def model_resources(spec: Any, ray_cfg: Any) -> Resources:
    """A model stage's calls are latency, not CPU: one light actor that keeps enough batches in flight at
    once to fill the pool's configured concurrency (batches of the config's `model_batch_size`, decoupled
    from the small batches CPU stages take)."""
    batch = max(1, ray_cfg.model_batch_size)
    calls = max(1, -(-requests_in_flight(spec) // batch))
    return Resources(1, ray_cfg.actor_cpus, batch_size=batch, calls_in_flight=calls)


def to_batch(records: Sequence[Any]) -> dict[str, np.ndarray]:
    col = np.empty(len(records), dtype=object)
    col[:] = [pickle.dumps(r, protocol=pickle.HIGHEST_PROTOCOL) for r in records]
    return {"record": col}


def from_batch(batch: dict[str, np.ndarray]) -> list[Any]:
    return [pickle.loads(b) for b in batch["record"]]


def on_problems(records: list[Any], work: Work) -> list[Any]:
    """Apply `work` to the problems among `records` (one outcome each), keep every rejection where it was."""
    records = list(records)
    idx = [i for i, r in enumerate(records) if isinstance(r, Problem)]
    for i, r in zip(idx, work([records[i] for i in idx]) if idx else [], strict=True):
        records[i] = r
    return records


def apply(stage_mode: Mode, work: Work, records: list[Any]) -> list[Any]:
    """One stage's function over one batch, as its mode says (also used to re-run a slice of stages)."""
    if stage_mode == "tasks":
        return work(records)
    if stage_mode == "rejections":
        return records + work([r for r in records if isinstance(r, Rejection)])
    return on_problems(records, work)


class StageWorker:
    """The Ray Data actor body shared by every stage: build the function once, then map it over batches."""

    def __init__(self, stage: Stage, board: Any = None):
        self.name, self.mode, self.board = stage.name, stage.mode, board
        self.work = stage.make()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        records = from_batch(batch)
        if self.board is not None:
            self.board.started.remote(self.name, len(records))
        out = apply(self.mode, self.work, records)
        if self.board is not None:
            self.board.finished.remote(self.name, len(records), _outcomes(records, out))
        return to_batch(out)


def _outcomes(before: list[Any], after: list[Any]) -> tuple[int, int]:
    """(problems, rejections) this stage produced: what reached it as a rejection is not counted again."""
    seen = {id(r) for r in before if isinstance(r, Rejection)}
    problems = sum(isinstance(r, Problem) for r in after)
    return problems, sum(isinstance(r, Rejection) and id(r) not in seen for r in after)


def stream(stages: Sequence[Stage], items: Sequence[Any], board: Any = None) -> Iterator[list]:
    """Run `items` through `stages` as one streaming Ray Data pipeline; yields the records of each output batch
    in the order of `items` as soon as the last stage emits them (later batches wait for earlier ones)."""
    import ray

    blocks = max(1, -(-len(items) // max(1, stages[0].resources.batch_size)))  # one block = one first-stage call
    ds = ray.data.from_items([{"record": pickle.dumps(t)} for t in items], override_num_blocks=blocks)
    for stage in stages:
        r = stage.resources
        threads = {"max_concurrent_calls_per_actor": r.calls_in_flight, "enable_true_multi_threading": True} \
            if r.calls_in_flight > 1 else {}
        compute = ray.data.ActorPoolStrategy(size=max(1, r.actors),
                                             max_tasks_in_flight_per_actor=max(2, r.calls_in_flight), **threads)
        ds = ds.map_batches(StageWorker, fn_constructor_args=(stage, board), batch_size=r.batch_size,
                            batch_format="numpy", compute=compute, num_cpus=r.num_cpus,
                            num_gpus=r.num_gpus or None)
    # Task order, not completion order: the driver's gate keeps the first of two near-duplicates, so the
    # accepted set may depend only on the plan (a resumed round replays the same order), never on timing.
    ds.context.execution_options.preserve_order = True
    for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
        yield from_batch(batch)
