"""Model pools on a real local Ray instance, served by the openai backend against a real local HTTP server
(the fake at the model boundary), and `flywheel models check` end to end."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from fake_openai_server import FakeOpenAIServer, Reply

from flywheel.config import ModelSpec
from flywheel.models.base import GenerationRequest, Message, SamplingParams

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def ray_local(tmp_path_factory):
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, namespace="flywheel-tests-models",
             _temp_dir=str(tmp_path_factory.mktemp("ray")))
    yield
    ray.shutdown()


def _requests(n: int) -> list[GenerationRequest]:
    return [GenerationRequest((Message.of("user", f"question {i}"),), SamplingParams(max_tokens=8)) for i in range(n)]


def test_pool_spreads_requests_keeps_order_and_accounts_tokens(ray_local):
    from flywheel.models.pool import ModelPool, build_pools

    with FakeOpenAIServer() as srv:
        spec = ModelSpec(backend="openai", model="fake", base_url=srv.url, pool_size=2)
        pools = build_pools({"proposer": spec, "solver": spec})
        assert pools["proposer"] is pools["solver"]  # same spec, one pool
        pool: ModelPool = pools["proposer"]
        out = pool.generate(_requests(20))
        assert [c.ok for c in out] == [True] * 20
        assert all(c.texts[0].endswith(f"question {i}") for i, c in enumerate(out))
        assert len({i["pid"] for i in pool.info()}) == 2
        assert pool.stats.requests == 20 and pool.stats.prompt_tokens > 0
        pool.close()


def test_pool_failures_come_back_as_errors_not_exceptions(ray_local):
    from flywheel.models.pool import ModelPool

    with FakeOpenAIServer() as srv:
        srv.script(Reply(status=400, texts=("bad request",)), when="question 1")
        pool = ModelPool(ModelSpec(backend="openai", model="fake", base_url=srv.url,
                                   options=(("max_retries", 0),)))
        out = pool.generate(_requests(3))
        assert [c.ok for c in out] == [True, False, True] and "400" in out[1].error
        pool.close()
    with pytest.raises(ValueError, match="unknown model backend"):
        ModelPool(ModelSpec(backend="nope", model="x"))
    broken = ModelPool(ModelSpec(backend="openai", model="x", base_url="ftp://nowhere"))  # fails in the actor
    (c,) = broken.generate(_requests(1))
    assert not c.ok and "pool failure" in c.error and "ftp://nowhere" in c.error
    broken.close()


def test_a_killed_actor_is_replaced_and_its_request_retried(ray_local):
    import os
    import signal
    import threading
    import time

    from flywheel.models.pool import ModelPool

    with FakeOpenAIServer(respond=lambda body: Reply(texts=("slow answer",), delay_s=1.5)) as srv:
        pool = ModelPool(ModelSpec(backend="openai", model="fake", base_url=srv.url, pool_size=1))
        (before,) = pool.info()
        result: list = []
        worker = threading.Thread(target=lambda: result.extend(pool.generate(_requests(4))))
        worker.start()
        deadline = time.monotonic() + 30
        while not srv.requests and time.monotonic() < deadline:  # the actor is mid-request
            time.sleep(0.05)
        os.kill(before["pid"], signal.SIGKILL)
        worker.join(timeout=120)
        assert [c.ok for c in result] == [True] * 4 and all(c.texts == ("slow answer",) for c in result)
        (after,) = pool.info()
        assert after["pid"] != before["pid"]  # Ray restarted the actor and the chunk ran again on it
        assert len(srv.requests) > 4  # the killed attempt reached the server too: it really was retried
        pool.close()


def test_models_check_command(tmp_path):
    with FakeOpenAIServer() as srv:
        cfg = tmp_path / "models.toml"
        cfg.write_text(f'[models.proposer]\nbackend = "openai"\nmodel = "fake"\nbase_url = "{srv.url}"\n'
                       f'[models.judge]\nbackend = "openai"\nmodel = "fake-judge"\nbase_url = "{srv.url}"\n')
        res = subprocess.run([sys.executable, "-m", "flywheel.cli", "models", "check", "--config", str(cfg),
                              "--json"], capture_output=True, text=True, timeout=180)
        assert res.returncode == 0, res.stderr[-2000:]
        rows = [json.loads(line) for line in res.stdout.splitlines()]
        assert [r["role"] for r in rows] == ["proposer", "judge"]
        assert all(r["error"] is None and r["completion_tokens"] > 0 and r["latency_s"] > 0 for r in rows)
        sent = srv.requests[-1].body["messages"][0]["content"]
        assert any(part.get("type") == "image_url" for part in sent)  # the probe image went out


def test_in_flight_reaches_the_configured_concurrency_and_never_exceeds_it(ray_local):
    """One backend-wide bound: `concurrency = 32` means 32 requests at the server at once, whether they come as
    one call of 96 or as 12 concurrent calls of 8 (how Ray Data stage actors call a pool). Not a timing test:
    the server holds each request 1 s, far longer than it takes to send 32."""
    import threading

    from flywheel.models.pool import ModelPool

    with FakeOpenAIServer(latency_s=1.0) as srv:
        pool = ModelPool(ModelSpec(backend="openai", model="fake", base_url=srv.url, pool_size=1,
                                   options=(("concurrency", 32),)))
        seen: list[dict] = []

        def watch():  # the driver's progress line: load() answers while generate calls fill the actor
            while srv.in_flight < 32 and not done.is_set():
                time.sleep(0.01)
            seen.append(pool.load(timeout_s=30))

        done = threading.Event()
        watcher = threading.Thread(target=watch)
        watcher.start()
        out = pool.generate(_requests(96))
        done.set()
        watcher.join()
        assert [c.ok for c in out] == [True] * 96 and all(c.texts[0].endswith(f"question {i}") for i, c in
                                                           enumerate(out))
        assert srv.max_in_flight == 32 and len(srv.requests) == 96
        assert seen and seen[0]["in_flight"] >= 32  # answered mid-call, not after it

        srv.reset_counts()
        results: dict[int, list] = {}
        threads = [threading.Thread(target=lambda k=k: results.__setitem__(k, pool.generate(_requests(8))))
                   for k in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert srv.max_in_flight == 32 and len(srv.requests) == 96
        assert all([c.ok for c in results[k]] == [True] * 8 for k in range(12))
        assert 16 <= srv.in_flight_average() <= 32
        load = pool.load(timeout_s=30)
        assert load["in_flight"] == 0 and load["requests"] == load["completed"] == 192 and load["failed"] == 0
        assert load["completion_tokens"] > 0 and load["busy_s"] > 0 and load["tokens_per_s"] > 0
        assert pool.stats.requests == 192  # this copy's own accounting, from several threads at once
        pool.close()


def test_actor_threads_cover_the_backend_bound():
    from flywheel.models.pool import actor_threads

    def spec(backend, **opts):
        return ModelSpec(backend=backend, model="m", options=tuple(opts.items()))

    assert actor_threads(spec("openai", concurrency=256), 8) * 8 >= 2 * 256
    assert actor_threads(spec("openai"), 8) * 8 >= 8  # default concurrency 8
    assert actor_threads(spec("vllm"), 8) * 8 >= 256  # vLLM's default max_num_seqs
    assert actor_threads(spec("openai", concurrency=10**6), 1) == 512  # capped


# -- the coalescing batcher (no Ray: a plain class in front of a one-call-at-a-time engine) -------------------


class _Engine:
    """A one-call-at-a-time engine: the first call waits until `gate` opens, so later calls pile up; a request
    whose prompt says 'bad' fails alone, as real backends report it."""

    def __init__(self) -> None:
        import threading

        self.gate = threading.Event()
        self.batches: list[int] = []
        self.busy = threading.Lock()

    def generate(self, requests):
        from flywheel.models.base import Completion

        assert self.busy.acquire(blocking=False), "the engine was called concurrently"
        try:
            self.batches.append(len(requests))
            self.gate.wait(30)
            return [Completion((), "e", error="bad request") if "bad" in r.messages[0].text
                    else Completion((f"re: {r.messages[0].text}",), "e") for r in requests]
        finally:
            self.busy.release()


def test_coalescer_runs_calls_that_queue_as_one_batch_in_order():
    import threading

    from flywheel.models.batching import Coalescer

    engine = _Engine()
    co = Coalescer(engine.generate)
    results: dict[int, list] = {}

    def call(k: int) -> None:
        reqs = [GenerationRequest((Message.of("user", f"{k}-{i}" + (" bad" if (k, i) == (3, 1) else "")),))
                for i in range(4)]
        results[k] = co.generate(reqs)

    first = threading.Thread(target=call, args=(0,))
    first.start()
    while not engine.batches:  # the engine is busy with the first call
        time.sleep(0.01)
    rest = [threading.Thread(target=call, args=(k,)) for k in range(1, 9)]
    for t in rest:
        t.start()
    while len(co._queue) < 8:  # every later call is queued behind the busy engine
        time.sleep(0.01)
    engine.gate.set()
    for t in [first, *rest]:
        t.join()
    assert engine.batches == [4, 32]  # the 8 queued calls went to the engine as one batch
    for k in range(9):
        assert [c.texts[0] if c.ok else c.error for c in results[k]] == (
            [f"re: {k}-0", "bad request", f"re: {k}-2", f"re: {k}-3"] if k == 3 else [f"re: {k}-{i}" for i in range(4)])
    assert co.batches == 2 and co.largest == 32


def test_coalescer_hands_an_engine_exception_to_every_caller_of_that_batch():
    from flywheel.models.batching import Coalescer

    def broken(requests):
        raise RuntimeError("engine died")

    co = Coalescer(broken)
    with pytest.raises(RuntimeError, match="engine died"):
        co.generate(_requests(2))
    assert co.generate([]) == []
    short = Coalescer(lambda reqs: [])  # a wrong count is an error, not a hang
    with pytest.raises(RuntimeError, match="0 completions for 1"):
        short.generate(_requests(1))
