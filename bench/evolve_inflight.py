"""Requests in flight during a whole `flywheel evolve` round with a model proposer behind a slow server.

A local OpenAI-compatible server (its own process) answers every request after --latency-s with no limit on
concurrency, like a large remote deployment; one round of --problems proposals runs through the real CLI
(`flywheel evolve --config ...`, proposer `backend = "openai"`, `pool_size = 1`,
`[models.proposer.options] concurrency = C`). The server measures what the round achieved: the time-weighted
average of requests in flight from the first arrival to the last reply, the most at once, and throughput x
latency. Replies are unparseable on purpose (every proposal becomes a `propose` rejection), so the number is the
model path's, not the sandbox's. Compared in the same run with the same round at --baseline-concurrency.
Used by bench/model_pool.py (`--evolve`); alone:

    python bench/evolve_inflight.py [--problems 512] [--latency-s 2] [--concurrency 256] [--levels 1] [--json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def round_in_flight(problems: int, latency_s: float, concurrency: int, levels: int = 1) -> dict:
    """One evolve round against a fresh latency server; the server's counts plus the round's wall time."""
    from fake_openai_server import latency_server

    with latency_server(latency_s) as srv, tempfile.TemporaryDirectory(prefix="fw-inflight-") as tmp:
        cfg = Path(tmp) / "cfg.toml"
        cfg.write_text(f"[evolve]\nproblems_per_round = {problems}\nlevels_per_request = {levels}\n"
                       f'[models.proposer]\nbackend = "openai"\nmodel = "bench"\nbase_url = "{srv.url}"\n'
                       f"pool_size = 1\n[models.proposer.options]\nconcurrency = {concurrency}\n")
        t0 = time.monotonic()
        res = subprocess.run([sys.executable, "-m", "flywheel.cli", "evolve", "--rounds", "1", "--no-cache",
                              "--data", str(Path(tmp) / "data"), "--config", str(cfg)],
                             capture_output=True, text=True, timeout=3600, cwd=ROOT)
        wall = time.monotonic() - t0
        if res.returncode != 0:
            raise RuntimeError(f"evolve failed:\n{res.stderr[-2000:]}")
        c = srv.counts()
    rate = c["requests"] / c["busy_s"] if c["busy_s"] else 0.0
    return {"concurrency": concurrency, "problems": problems, "levels_per_request": levels,
            "requests": c["requests"], "average_in_flight": round(c["average_in_flight"], 1),
            "max_in_flight": c["max_in_flight"], "throughput_x_latency": round(rate * latency_s, 1),
            "model_span_s": round(c["busy_s"], 1), "round_wall_s": round(wall, 1)}


def table(rows: list[dict]) -> str:
    head = "| concurrency | levels/request | requests | avg in flight | max in flight | thpt x latency | " \
           "model span s | round wall s |\n|---|---|---|---|---|---|---|---|"
    lines = [f"| {r['concurrency']} | {r['levels_per_request']} | {r['requests']} | {r['average_in_flight']} | "
             f"{r['max_in_flight']} | {r['throughput_x_latency']} | {r['model_span_s']} | {r['round_wall_s']} |"
             for r in rows]
    return "\n".join([head, *lines])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--problems", type=int, default=512)
    ap.add_argument("--latency-s", type=float, default=2.0)
    ap.add_argument("--concurrency", type=int, default=256)
    ap.add_argument("--baseline-concurrency", type=int, default=8, help="the old effective in-flight count")
    ap.add_argument("--levels", type=int, nargs="+", default=[1, 3], help="levels_per_request values to run")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = [round_in_flight(args.problems, args.latency_s, args.baseline_concurrency, 1)]
    rows += [round_in_flight(args.problems, args.latency_s, args.concurrency, lv) for lv in args.levels]
    print(json.dumps(rows, indent=1) if args.json else table(rows))
    base, ours = rows[0], rows[1]
    print(f"\nlatency {args.latency_s}s, {args.problems} proposals: {ours['average_in_flight']} in flight on average "
          f"at concurrency {args.concurrency} (goal >= 64) vs {base['average_in_flight']} at "
          f"{args.baseline_concurrency}: x{ours['average_in_flight'] / max(0.1, base['average_in_flight']):.1f}; "
          f"model span {base['model_span_s'] / max(0.1, ours['model_span_s']):.1f}x shorter")


if __name__ == "__main__":
    main()
