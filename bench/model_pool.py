"""What does serving a model through a Ray actor pool cost, compared with calling the backend directly?

Measured in one run, on the same machine, with the same requests:
  direct: the backend object in this process, `generate(requests)` in the pool's chunk size;
  pool:   a `ModelPool` of --actors Ray actors holding the same backend, `pool.generate(requests)` (Ray start
          and actor start-up excluded: a pool lives across rounds, so only the per-request path matters).
Two backends, so both kinds of cost show:
  hf:     the tiny random Qwen2.5-VL built locally (compute-bound: image prompts, n samples, fixed token budget);
  openai: a local OpenAI-compatible server that answers after --latency-ms (latency-bound, like a remote model).
Overhead = pool seconds / direct seconds - 1 (goal: under 10%). Same actor count for hf as the direct run has
processes (1), so the ratio is the pool's own cost, not parallelism.

    python bench/model_pool.py [--requests 64] [--latency-ms 40] [--json]
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


def _serve(latency_s: float, conn) -> None:
    """The fake server in its own process: in the bench's process its threads would compete for the GIL with
    the direct client, and the comparison would measure that instead of the pool."""
    from fake_openai_server import FakeOpenAIServer, slow

    reply = slow(latency_s, "The segment is 5 units long. <answer>5</answer>")
    with FakeOpenAIServer(respond=lambda body: reply) as srv:
        conn.send(srv.url)
        conn.recv()  # until told to stop


def run(n: int, latency_ms: float, actors: int) -> dict[str, dict]:
    import multiprocessing as mp

    import ray
    import torch

    from flywheel.models.tiny import build_tiny_model

    ours, theirs = mp.Pipe()
    server = mp.get_context("spawn").Process(target=_serve, args=(latency_ms / 1000, theirs), daemon=True)
    server.start()
    url = ours.recv()
    torch.set_num_threads(1)  # what a 1-CPU actor gets (Ray sets OMP_NUM_THREADS from num_cpus)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    results = {}
    try:
        with tempfile.TemporaryDirectory(prefix="flywheel-bench-") as tmp:
            model = build_tiny_model(Path(tmp) / "tiny")
            spec = ModelSpec(backend="hf", model=str(model), pool_size=1, num_cpus=1, options=(("batch_size", 8),))
            results["hf (tiny VL, 1 actor)"] = measure(spec, requests(n, True, 32, 2), chunk=8)
        spec = ModelSpec(backend="openai", model="fake", base_url=url, pool_size=actors, num_cpus=0.25,
                         options=(("concurrency", 16),))
        results[f"openai ({latency_ms:.0f} ms, {actors} actor)"] = measure(spec, requests(n * 4, False, 16, 1),
                                                                          chunk=16)
    finally:
        ray.shutdown()
        ours.send("stop")
        server.join(timeout=10)
    return results


def table(results: dict[str, dict]) -> str:
    head = f"{'backend':<28}{'requests':>9}{'direct req/s':>14}{'pool req/s':>12}{'direct tok/s':>14}" \
           f"{'pool tok/s':>12}{'overhead':>10}"
    rows = [head, "-" * len(head)]
    for name, r in results.items():
        rows.append(f"{name:<28}{r['requests']:>9}{r['direct_req_s']:>14.1f}{r['pool_req_s']:>12.1f}"
                    f"{r['direct_tok_s']:>14.0f}{r['pool_tok_s']:>12.0f}{r['overhead']:>+10.1%}")
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=64)
    ap.add_argument("--latency-ms", type=float, default=40.0)
    ap.add_argument("--actors", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    results = run(args.requests, args.latency_ms, args.actors)
    print(json.dumps(results, indent=2) if args.json else table(results))


if __name__ == "__main__":
    main()
