"""Coalescing batcher: many threads call `generate`, one engine runs at a time on everything queued.

An in-process engine (hf, vllm) takes one call at a time, but a pool actor serves many concurrent calls
(chunks from several Ray Data stage actors). While the engine is busy, arriving calls queue; when it frees,
the next engine call takes the whole queue at once, so vLLM's scheduler sees whole batches instead of 8
requests at a time. No extra thread: the caller that finds the engine idle runs the batch for everyone queued
and hands each caller its own slice back, in order. Tests: tests/test_models_pool.py (coalescing tests).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from flywheel.models.base import Completion, GenerationRequest

Generate = Callable[[Sequence[GenerationRequest]], list[Completion]]


class _Call:
    """One caller's requests and, once the engine ran them, its completions (or the exception it raised)."""

    def __init__(self, requests: Sequence[GenerationRequest]) -> None:
        self.requests = list(requests)
        self.result: list[Completion] | None = None
        self.error: BaseException | None = None

    @property
    def done(self) -> bool:
        return self.result is not None or self.error is not None


class Coalescer:
    """`generate(requests)` safe to call from any number of threads; see the module docstring.

    Per-request failures stay per request because the engine's `generate` returns them as completions with
    `error`; if the engine call raises (a bug or a dead engine), every caller in that batch gets the exception.
    `batches` and `largest` count engine calls and the biggest batch, for benches and tests.
    """

    def __init__(self, generate: Generate) -> None:
        self._generate = generate
        self._queue: list[_Call] = []
        self._running = False
        self._cv = threading.Condition()
        self.batches = 0
        self.largest = 0

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        call = _Call(requests)
        if not call.requests:
            return []
        with self._cv:
            self._queue.append(call)
            while not call.done and self._running:
                self._cv.wait()
            if call.done:
                return _outcome(call)
            # The engine is idle and our call is still queued: run everything queued, ours included.
            batch, self._queue, self._running = self._queue, [], True
        try:
            self._run(batch)
        finally:
            with self._cv:
                self._running = False
                self._cv.notify_all()
        return _outcome(call)

    def _run(self, batch: list[_Call]) -> None:
        flat = [r for c in batch for r in c.requests]
        self.batches += 1
        self.largest = max(self.largest, len(flat))
        try:
            out = self._generate(flat)
            if len(out) != len(flat):
                raise RuntimeError(f"engine returned {len(out)} completions for {len(flat)} requests")
        except BaseException as exc:  # noqa: BLE001 - handed to each caller, raised in its own thread
            for c in batch:
                c.error = exc
            return
        start = 0
        for c in batch:
            c.result, start = out[start:start + len(c.requests)], start + len(c.requests)


def _outcome(call: _Call) -> list[Completion]:
    if call.error is not None:
        raise call.error
    assert call.result is not None
    return call.result
