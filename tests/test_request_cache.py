"""The request cache: keys (stable, sensitive to every field that changes an answer), the sqlite store
(round trip, errors never stored, concurrent puts, prune, a corrupt file), a Ray pool with the cache against a
real local server that counts calls, and `flywheel cache stats|prune` through click's CliRunner."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from fake_openai_server import FakeOpenAIServer, Reply
from PIL import Image

from flywheel.cli import main
from flywheel.config import CacheConfig, FlywheelConfig, ModelSpec
from flywheel.models.base import Completion, GenerationRequest, Message, SamplingParams
from flywheel.models.cache import (
    CacheError,
    RequestCacheStore,
    cache_path,
    open_request_cache,
    request_key,
    spec_fingerprint,
)

REPO = Path(__file__).resolve().parents[1]
OPENAI = spec_fingerprint(ModelSpec(backend="openai", model="m", base_url="http://a:1/v1"))


def png(color: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buf, format="PNG")
    return buf.getvalue()


def ask(prompt: str, *images: bytes, tag: str = "", **sampling) -> GenerationRequest:
    return GenerationRequest((Message.of("user", prompt, *images),), SamplingParams(**sampling), tag=tag)


def done(*texts: str, model: str = "m") -> Completion:
    return Completion(texts, model, prompt_tokens=3, completion_tokens=len(texts), seconds=0.5,
                      finish_reasons=("stop",) * len(texts), token_ids=tuple((1, 2) for _ in texts))


# -- keys ---------------------------------------------------------------------------------------------------


def test_keys_are_stable_across_processes():
    here = request_key(OPENAI, ask("What is the area?", png((1, 2, 3)), seed=7, n=4))
    code = ("import io; from PIL import Image; from flywheel.config import ModelSpec; "
            "from flywheel.models.cache import request_key, spec_fingerprint; "
            "from flywheel.models.base import GenerationRequest, Message, SamplingParams; "
            "b = io.BytesIO(); Image.new('RGB', (8, 8), (1, 2, 3)).save(b, format='PNG'); "
            "f = spec_fingerprint(ModelSpec(backend='openai', model='m', base_url='http://a:1/v1')); "
            "print(request_key(f, GenerationRequest((Message.of('user', 'What is the area?', b.getvalue()),), "
            "SamplingParams(seed=7, n=4))))")
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO,
                           env={"PYTHONHASHSEED": "123", "PATH": "/usr/bin:/bin"}).stdout.strip()
    assert here == there and len(here) == 64


def test_keys_change_with_every_field_that_changes_an_answer():
    base = ask("What is the area?", png((1, 2, 3)))
    key = request_key(OPENAI, base)
    variants = {
        "prompt text": ask("What is the perimeter?", png((1, 2, 3))),
        "image bytes": ask("What is the area?", png((1, 2, 4))),
        "no image": ask("What is the area?"),
        "role": GenerationRequest((Message.of("system", "What is the area?", png((1, 2, 3))),)),
        "extra message": GenerationRequest((Message.of("system", "Be brief."), *base.messages)),
    }
    for name, value in [("max_tokens", 5), ("temperature", 0.1), ("top_p", 0.5), ("n", 3), ("stop", ("x",)),
                        ("seed", 1)]:
        variants[f"sampling {name}"] = dataclasses.replace(base, sampling=SamplingParams(**{name: value}))
    keys = {name: request_key(OPENAI, r) for name, r in variants.items()}
    keys["model"] = request_key(spec_fingerprint(ModelSpec(backend="openai", model="m2")), base)
    keys["backend"] = request_key(spec_fingerprint(ModelSpec(backend="vllm", model="m")), base)
    keys["hf dtype"] = request_key(spec_fingerprint(ModelSpec(backend="hf", model="m",
                                                             options=(("dtype", "bfloat16"),))), base)
    assert all(k != key for k in keys.values()), [n for n, k in keys.items() if k == key]
    assert len(set(keys.values())) == len(keys)
    # what only changes how the model is reached, or the log tag, is not part of the key
    tagged = dataclasses.replace(base, tag="p1:solve")
    reached = spec_fingerprint(ModelSpec(backend="openai", model="m", base_url="http://b:2/v1", pool_size=4,
                                         options=(("concurrency", 256), ("timeout_s", 5), ("api_key", "k"))))
    assert request_key(OPENAI, tagged) == key and request_key(reached, base) == key


# -- the store ----------------------------------------------------------------------------------------------


def test_store_round_trip_marks_cached_and_never_stores_errors(tmp_path):
    store = RequestCacheStore(tmp_path / "c" / "requests.sqlite")
    good, bad = done("a", "b"), Completion((), "m", error="HTTP 500")
    assert store.put_many("openai", "m", [("k1", good), ("k2", bad)]) == 1
    got = store.get_many(["k1", "k2", "k1", "nope"])
    assert set(got) == {"k1"} and got["k1"] == dataclasses.replace(good, cached=True)
    store.get_many(["k1"])
    stats = store.stats()
    assert stats["entries"] == 1 and stats["hits"] == 2 and stats["models"][0]["model"] == "m"
    store.close()
    again = RequestCacheStore(tmp_path / "c" / "requests.sqlite")  # durable across opens
    assert again.get_many(["k1"])["k1"].texts == ("a", "b")
    again.close()


def test_concurrent_puts_from_threads(tmp_path):
    store = RequestCacheStore(tmp_path / "requests.sqlite")

    def writer(t: int) -> None:
        for i in range(0, 60, 3):
            store.put_many("openai", "m", [(f"{t}-{i + j}", done(f"{t}-{i + j}")) for j in range(3)])
            store.get_many([f"{t}-{i}"])

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    keys = [f"{t}-{i}" for t in range(12) for i in range(60)]
    got = store.get_many(keys)
    assert len(got) == 720 and all(got[k].texts == (k,) for k in keys)
    store.close()


def test_prune_by_age_and_model(tmp_path):
    store = RequestCacheStore(tmp_path / "requests.sqlite")
    store.put_many("openai", "old-model", [(f"o{i}", done("x")) for i in range(4)])
    store.put_many("openai", "new-model", [(f"n{i}", done("y")) for i in range(3)])
    with store._lock:  # age two entries of each model by ten days
        store._db.execute("UPDATE completions SET created = created - 10 * 86400 WHERE key IN ('o0','o1','n0','n1')")
    assert store.prune(older_than_days=5, model="old-model") == 2  # both must hold
    assert store.prune(older_than_days=5) == 2
    assert store.prune(model="old-model") == 2
    assert set(store.get_many([f"o{i}" for i in range(4)] + [f"n{i}" for i in range(3)])) == {"n2"}
    with pytest.raises(ValueError, match="say what to prune"):
        store.prune()
    assert store.prune(everything=True) == 1 and store.stats()["entries"] == 0
    store.close()


def test_a_corrupt_file_is_reported_and_left_alone(tmp_path, caplog):
    bad = tmp_path / "requests.sqlite"
    bad.write_bytes(b"this is not a sqlite database, but the user's file" * 100)
    before = bad.read_bytes()
    with pytest.raises(CacheError, match="not a usable request cache"):
        RequestCacheStore(bad)
    cfg = FlywheelConfig(cache=CacheConfig(path=str(bad)))
    with caplog.at_level(logging.WARNING):
        assert open_request_cache(cfg, tmp_path / "data") is None  # the run goes on without a cache
    assert "request cache disabled" in caplog.text and bad.read_bytes() == before
    assert open_request_cache(FlywheelConfig(cache=CacheConfig(enabled=False)), tmp_path) is None
    assert cache_path(tmp_path) == tmp_path / "cache" / "requests.sqlite"


# -- a pool with the cache (real Ray, real local server) ---------------------------------------------------


@pytest.fixture(scope="module")
def ray_local(tmp_path_factory):
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, namespace="flywheel-tests-cache",
             _temp_dir=str(tmp_path_factory.mktemp("ray")))
    yield
    ray.shutdown()


def test_a_pool_replays_cached_calls_and_sends_only_misses(ray_local, tmp_path):
    from flywheel.models.pool import ModelPool, build_pools

    with FakeOpenAIServer() as srv:
        srv.script(Reply(status=400, texts=("bad",)), when="question 2")
        cache = open_request_cache(FlywheelConfig(), tmp_path / "data")
        assert cache is not None and cache.path == tmp_path / "data" / "cache" / "requests.sqlite"
        spec = ModelSpec(backend="openai", model="fake", base_url=srv.url, options=(("max_retries", 0),))
        pool: ModelPool = build_pools({"proposer": spec}, cache=cache)["proposer"]
        reqs = [ask(f"question {i}", seed=i) for i in range(5)]
        first = pool.generate(reqs)
        assert [c.ok for c in first] == [True, True, False, True, True] and not any(c.cached for c in first)
        assert len(srv.requests) == 5 and cache.stats()["entries"] == 4  # the error was not stored

        second = pool.generate(reqs)  # question 2 is a miss (its error was not cached); it now succeeds
        assert len(srv.requests) == 6 and srv.requests[-1].prompt == "question 2"
        assert [c.cached for c in second] == [True, True, False, True, True] and all(c.ok for c in second)
        assert [c.texts for c in second[:2] + second[3:]] == [c.texts for c in first[:2] + first[3:]]
        assert second[0].prompt_tokens == first[0].prompt_tokens and second[0].model == first[0].model

        third = pool.generate(reqs)
        assert len(srv.requests) == 6 and all(c.cached for c in third)  # zero new server calls
        assert pool.stats.cached == 9 and cache.stats()["hits"] == 9
        deadline = time.monotonic() + 30
        while pool.load(timeout_s=10)["cached"] < 9 and time.monotonic() < deadline:  # noted asynchronously
            time.sleep(0.05)
        assert pool.load()["cached"] == 9

        uncached = ModelPool(spec)  # no cache: every call goes to the server
        uncached.generate(reqs[:2])
        assert len(srv.requests) == 8
        for p in (pool, uncached):
            p.close()
        cache.close()
    store = RequestCacheStore(tmp_path / "data" / "cache" / "requests.sqlite")  # durable for the next run
    assert store.stats()["entries"] == 5
    store.close()


# -- flywheel cache stats | prune ----------------------------------------------------------------------------


def test_cli_stats_and_prune(tmp_path):
    runner = CliRunner()
    data = tmp_path / "data"
    res = runner.invoke(main, ["cache", "stats", "--data", str(data)])
    assert res.exit_code == 0 and "no request cache" in res.output and "0 entries" in res.output
    res = runner.invoke(main, ["cache", "prune", "--data", str(data), "--all"])
    assert res.exit_code == 0 and "nothing to prune" in res.output

    store = RequestCacheStore(cache_path(data))
    store.put_many("openai", "m1", [(f"a{i}", done("x")) for i in range(3)])
    store.put_many("vllm", "m2", [(f"b{i}", done("y")) for i in range(2)])
    store.get_many(["a0"])
    store.close()
    res = runner.invoke(main, ["cache", "stats", "--data", str(data), "--json"])
    stats = json.loads(res.output)
    assert res.exit_code == 0 and stats["entries"] == 5 and stats["hits"] == 1 and stats["bytes"] > 0
    assert {(m["model"], m["entries"]) for m in stats["models"]} == {("m1", 3), ("m2", 2)}
    res = runner.invoke(main, ["cache", "stats", "--data", str(data)])
    assert res.exit_code == 0 and "5 entries" in res.output and "openai:m1" in res.output

    res = runner.invoke(main, ["cache", "prune", "--data", str(data)])
    assert res.exit_code == 2 and "say what to prune" in res.output
    res = runner.invoke(main, ["cache", "prune", "--data", str(data), "--older-than", "1"])
    assert res.exit_code == 0 and "removed 0 entries; 5 left" in res.output
    res = runner.invoke(main, ["cache", "prune", "--data", str(data), "--model", "m1", "--json"])
    assert res.exit_code == 0 and json.loads(res.output)["removed"] == 3
    other = tmp_path / "shared.sqlite"
    cache_path(data).rename(other)
    res = runner.invoke(main, ["cache", "prune", "--data", str(data), "--path", str(other), "--all"])
    assert res.exit_code == 0 and "removed 2 entries; 0 left" in res.output

    other.write_bytes(b"garbage" * 200)
    for cmd in (["stats"], ["prune", "--all"]):
        res = runner.invoke(main, ["cache", *cmd, "--data", str(data), "--path", str(other)])
        assert res.exit_code == 1 and "not a usable request cache" in res.output
        assert "Traceback" not in res.output and isinstance(res.exception, SystemExit)
    assert other.read_bytes() == b"garbage" * 200
