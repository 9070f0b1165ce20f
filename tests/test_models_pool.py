"""Model pools on a real local Ray instance, served by the openai backend against a real local HTTP server
(the fake at the model boundary), and `flywheel models check` end to end."""

from __future__ import annotations

import json
import subprocess
import sys

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
