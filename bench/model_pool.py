"""What does serving a model through a Ray actor pool cost, and does it keep the configured requests in flight?

Overhead rows, measured in one run on the same machine with the same requests:
  direct: the backend object in this process, `generate(requests)` in the pool's chunk size;
  pool:   a `ModelPool` of --actors Ray actors holding the same backend, `pool.generate(requests)` (Ray start
          and actor start-up excluded: a pool lives across rounds, so only the per-request path matters).
  hf:     the tiny random Qwen2.5-VL built locally (compute-bound: image prompts, n samples, fixed token budget);
  openai: a local OpenAI-compatible server that answers after --latency-ms (latency-bound, like a remote model).
  Overhead = pool seconds / direct seconds - 1 (goal: under 10%).
Latency rows: a server that answers every request after --latency-s with no concurrency limit (its own process,
tests/fake_openai_server.py `latency_server`), --latency-requests requests, openai `concurrency` =
--concurrency, one actor. Requests in flight are counted by the server (time-weighted average from the first
arrival to the last reply, and the most at once) and cross-checked as throughput x latency; goal: at least a
quarter of the configured concurrency (ideal: all of it). Rows: the pool given one call of all requests; the
pool given calls of 8 from 64 threads at once (how Ray Data stage actors call it); Ray Data LLM's HTTP request
processor (`ray.data.llm`) against the same server, for comparison.

    python bench/model_pool.py [--requests 64] [--latency-ms 40] [--latency-s 2] [--concurrency 256]
                               [--latency-requests 512] [--only overhead|latency] [--json]
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from flywheel.config import ModelSpec  # noqa: E402
from flywheel.models.base import GenerationRequest, Message, SamplingParams  # noqa: E402


def _png(i: int) -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (112, 112), "white")
    ImageDraw.Draw(img).line((10, 10 + i % 80, 100, 90), fill="black", width=3)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def requests(n: int, image: bool, max_tokens: int, samples: int) -> list[GenerationRequest]:
    return [GenerationRequest((Message.of("user", f"Find the length of segment {i}.", *((_png(i),) if image else ())),),
                              SamplingParams(max_tokens=max_tokens, temperature=1.0, n=samples, seed=i))
            for i in range(n)]


def _tokens(completions) -> int:
    return sum(c.completion_tokens for c in completions)


def _timed(generate, reqs: list[GenerationRequest], chunk: int) -> tuple[float, list]:
    t0 = time.perf_counter()
    out = [c for i in range(0, len(reqs), chunk) for c in generate(reqs[i:i + chunk])] if chunk else generate(reqs)
    return time.perf_counter() - t0, out


def measure(spec: ModelSpec, reqs: list[GenerationRequest], chunk: int, repeats: int = 3) -> dict:
    """Direct and pool on identical requests, alternating `repeats` times (best of each, so a burst of load from
    elsewhere on the machine hits both sides alike); seconds, req/s, tok/s and the overhead."""
    from flywheel.models.factory import make_backend
    from flywheel.models.pool import ModelPool

    backend = make_backend(spec)
    pool = ModelPool(spec, chunk_size=chunk)
    backend.generate(reqs[:2])  # warm: first-call allocations are not what we compare
    pool.generate(reqs[:2])  # actors built and warm
    direct_s = pool_s = float("inf")
    failed = 0
    for _ in range(repeats):
        d_s, direct = _timed(backend.generate, reqs, chunk)
        p_s, pooled = _timed(pool.generate, reqs, 0)  # the pool chunks itself
        direct_s, pool_s = min(direct_s, d_s), min(pool_s, p_s)
        failed += sum(not c.ok for c in direct + pooled)
    backend.close()
    pool.close()
    return {"requests": len(reqs), "direct_s": direct_s, "pool_s": pool_s, "failed": failed,
            "direct_req_s": len(reqs) / direct_s, "pool_req_s": len(reqs) / pool_s,
            "direct_tok_s": _tokens(direct) / direct_s, "pool_tok_s": _tokens(pooled) / pool_s,
            "overhead": pool_s / direct_s - 1}


def overhead(n: int, latency_ms: float, actors: int) -> dict[str, dict]:
    import ray
    import torch
    from fake_openai_server import latency_server

    from flywheel.models.tiny import build_tiny_model

    torch.set_num_threads(1)  # what a 1-CPU actor gets (Ray sets OMP_NUM_THREADS from num_cpus)
    results = {}
    with tempfile.TemporaryDirectory(prefix="flywheel-bench-") as tmp:
        model = build_tiny_model(Path(tmp) / "tiny")
        spec = ModelSpec(backend="hf", model=str(model), pool_size=1, num_cpus=1, options=(("batch_size", 8),))
        results["hf (tiny VL, 1 actor)"] = measure(spec, requests(n, True, 32, 2), chunk=8)
    assert ray.is_initialized()
    with latency_server(latency_ms / 1000) as srv:
        spec = ModelSpec(backend="openai", model="fake", base_url=srv.url, pool_size=actors, num_cpus=0.25,
                         options=(("concurrency", 16),))
        results[f"openai ({latency_ms:.0f} ms, {actors} actor)"] = measure(spec, requests(n * 4, False, 16, 1),
                                                                          chunk=16)
    return results


def _in_flight(srv, n: int, seconds: float, latency_s: float, concurrency: int) -> dict:
    counts = srv.counts()
    return {"requests": n, "seconds": seconds, "req_s": n / seconds, "server_requests": counts["requests"],
            "avg_in_flight": counts["average_in_flight"], "max_in_flight": counts["max_in_flight"],
            "throughput_x_latency": n / seconds * latency_s, "configured": concurrency}


def pool_in_flight(srv, latency_s: float, concurrency: int, n: int, calls_of: int = 0) -> dict:
    """The pool alone: one call of `n` requests, or `n / calls_of` concurrent calls of `calls_of` from threads.
    The driver polls `pool.load()` every 0.5 s meanwhile, as a progress line would."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from flywheel.models.pool import ModelPool

    spec = ModelSpec(backend="openai", model="fake", base_url=srv.url, pool_size=1, num_cpus=0.25,
                     options=(("concurrency", concurrency), ("timeout_s", 120)))
    pool = ModelPool(spec)
    pool.generate(requests(2, False, 16, 1))  # actor built and warm
    srv.reset_counts()
    reqs = requests(n, False, 16, 1)
    peak, stop = [0], threading.Event()

    def watch() -> None:
        while not stop.wait(0.5):
            peak[0] = max(peak[0], pool.load()["in_flight"])

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    t0 = time.perf_counter()
    if calls_of:
        with ThreadPoolExecutor(n // calls_of) as ex:
            out = [c for part in ex.map(pool.generate, [reqs[i:i + calls_of] for i in range(0, n, calls_of)])
                   for c in part]
    else:
        out = pool.generate(reqs)
    seconds = time.perf_counter() - t0
    stop.set()
    watcher.join()
    pool.close()
    row = _in_flight(srv, n, seconds, latency_s, concurrency)
    row.update(failed=sum(not c.ok for c in out), pool_load_peak=peak[0])
    return row


def ray_data_llm_in_flight(srv, latency_s: float, n: int, actors: int, batch_size: int) -> dict:
    """Ray Data LLM's HTTP request processor against the same server: `actors` stage actors, `batch_size` rows
    per batch, one block per batch (fewer blocks would mean fewer batches in flight), chat payloads like ours.
    In ray 2.60 its HTTP stage awaits a batch's requests one after another, and an actor runs at most 4 batches
    at once (RAY_DATA_DEFAULT_ASYNC_BATCH_UDF_MAX_CONCURRENCY), so at most 4 x actors requests are in flight."""
    import ray
    from ray.data.llm import HttpRequestProcessorConfig, build_processor

    config = HttpRequestProcessorConfig(url=srv.url + "/chat/completions", concurrency=actors,
                                        batch_size=batch_size, http_request_stage={"num_cpus": 0.25})
    processor = build_processor(
        config,
        preprocess=lambda row: {"payload": {"model": "fake", "max_tokens": 16, "messages": [
            {"role": "user", "content": f"Find the length of segment {row['id']}."}]}},
        postprocess=lambda row: {"text": row["http_response"]["choices"][0]["message"]["content"]},
    )
    warm = processor(ray.data.range(2)).take_all()  # actors and the pipeline start outside the timing
    assert len(warm) == 2
    srv.reset_counts()
    t0 = time.perf_counter()
    rows = processor(ray.data.range(n, override_num_blocks=max(1, n // batch_size))).take_all()
    seconds = time.perf_counter() - t0
    row = _in_flight(srv, n, seconds, latency_s, 0)
    row.update(failed=n - len(rows), configured=f"{actors}x{batch_size}")
    return row


def latency(latency_s: float, concurrency: int, n: int, ray_data_n: int) -> dict[str, dict]:
    from fake_openai_server import latency_server

    results: dict[str, dict] = {}
    with latency_server(latency_s) as srv:
        results[f"pool, 1 call of {n}"] = pool_in_flight(srv, latency_s, concurrency, n)
        results[f"pool, {n // 8} calls of 8"] = pool_in_flight(srv, latency_s, concurrency, n, calls_of=8)
        try:
            import ray.data.llm  # noqa: F401
        except ImportError as exc:
            results["ray.data.llm HTTP"] = {"error": f"ray.data.llm does not import: {exc}"}
            return results
        for actors, batch in ((1, 32), (4, 8)):
            name = f"ray.data.llm HTTP, {actors} actor(s), batch {batch}"
            try:
                results[name] = ray_data_llm_in_flight(srv, latency_s, ray_data_n, actors, batch)
            except Exception as exc:  # noqa: BLE001 - report why, keep the pool's rows
                results[name] = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"}
    return results


def table(results: dict[str, dict], latency_s: float) -> str:
    """One table: overhead rows (pool vs direct) and in-flight rows (server-side counts vs configured)."""
    head = (f"{'case':<46}{'requests':>9}{'req/s':>9}{'direct req/s':>13}{'overhead':>10}{'avg in flight':>14}"
            f"{'max':>6}{'req/s x lat':>12}{'configured':>11}")
    rows = [head, "-" * len(head)]
    for name, r in results.items():
        if "error" in r:
            rows.append(f"{name:<46}  not measured: {r['error']}")
        elif "overhead" in r:
            rows.append(f"{name:<46}{r['requests']:>9}{r['pool_req_s']:>9.1f}{r['direct_req_s']:>13.1f}"
                        f"{r['overhead']:>+10.1%}{'-':>14}{'-':>6}{'-':>12}{'-':>11}")
        else:
            rows.append(f"{name:<46}{r['requests']:>9}{r['req_s']:>9.1f}{'-':>13}{'-':>10}"
                        f"{r['avg_in_flight']:>14.1f}{r['max_in_flight']:>6}{r['throughput_x_latency']:>12.1f}"
                        f"{r['configured']!s:>11}")
    rows.append(f"(in-flight rows: server latency {latency_s:g} s; 'configured' is the openai backend's concurrency,"
                " or Ray Data LLM's actors x batch size, one block per batch)")
    return "\n".join(rows)


def main() -> None:
    import ray

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=64)
    ap.add_argument("--latency-ms", type=float, default=40.0)
    ap.add_argument("--actors", type=int, default=1)
    ap.add_argument("--latency-s", type=float, default=2.0)
    ap.add_argument("--concurrency", type=int, default=256)
    ap.add_argument("--latency-requests", type=int, default=512)
    ap.add_argument("--ray-data-requests", type=int, default=128,
                    help="Requests for the Ray Data LLM rows (fewer: it keeps at most 4 per actor in flight).")
    ap.add_argument("--only", choices=["overhead", "latency"], default=None)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    results: dict[str, dict] = {}
    try:
        if args.only != "latency":
            results |= overhead(args.requests, args.latency_ms, args.actors)
        if args.only != "overhead":
            results |= latency(args.latency_s, args.concurrency, args.latency_requests, args.ray_data_requests)
    finally:
        ray.shutdown()
    print(json.dumps(results, indent=2) if args.json else table(results, args.latency_s))


if __name__ == "__main__":
    main()
