"""How fast does `flywheel evolve` turn CPU into accepted problems, and how close is it to the sandbox's own
rate on the same machine?

Measured in one run, on the same cores:
  (1) raw: the sandbox alone doing exactly the pipeline's sandbox work for a sample of proposed problems
      (render code, then tool code on the rendered image, then answer code and check code), no Ray, no
      storage: the ceiling for the procedural pipeline;
  (2) pipeline: `evolve` for --rounds rounds of --per-round proposals into a temp folder (Ray Data, actor
      pools, verification, Parquet commits), Ray start-up included.
Efficiency = pipeline proposals/s / raw proposals/s.

    python bench/evolve_throughput.py [--rounds 2] [--per-round 120] [--sample 48] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flywheel.config import load_config  # noqa: E402
from flywheel.sandbox import Sandbox, SandboxJob  # noqa: E402


def raw_sandbox_rate(sample: int, workers: int, seed: int) -> dict:
    """Problems per second when the sandbox does nothing but the pipeline's four jobs per problem."""
    from generators.procedural.catalog import FAMILIES
    from generators.propose import plan_round, propose

    tasks = plan_round(1, sample, seed, 2.5, sorted(FAMILIES), Counter())
    problems = [p for p in (propose(t, FAMILIES) for t in tasks) if hasattr(p, "render_code")]
    with Sandbox(workers=workers) as sb:
        list(sb.map(["pass"] * workers * 2))  # warm
        t0 = time.perf_counter()
        renders = list(sb.map(SandboxJob.of(p.render_code) for p in problems))
        t_render = time.perf_counter() - t0
        tool_jobs = []
        for p, r in zip(problems, renders, strict=True):
            code = next((s.code for s in p.solution if s.kind == "code"), "pass")
            tool_jobs.append(SandboxJob.of(code, {"image.png": r.images[0].png} if r.images else None))
        list(sb.map(tool_jobs))
        list(sb.map(SandboxJob.of(c) for p in problems for c in (p.answer_code, p.check_code)))
        total = time.perf_counter() - t0
    return {"problems": len(problems), "render_fig_per_s": len(problems) / t_render,
            "problems_per_s": len(problems) / total}


def pipeline_rate(rounds: int, per_round: int, seed: int) -> dict:
    from flywheel.loop import evolve

    cfg = load_config(None, evolve__rounds=rounds, evolve__problems_per_round=per_round, evolve__seed=seed)
    with tempfile.TemporaryDirectory(prefix="flywheel-bench-") as tmp:
        t0 = time.perf_counter()
        summaries = evolve(cfg, Path(tmp) / "data")
        wall = time.perf_counter() - t0
    stages: Counter = Counter()
    for s in summaries:
        stages.update(s["stage_seconds"])
    return {"wall_s": wall, "proposed": sum(s["proposed"] for s in summaries),
            "accepted": sum(s["accepted"] for s in summaries),
            "round_wall_s": [s["wall_seconds"] for s in summaries],
            "stage_seconds": {k: round(v, 1) for k, v in stages.items()}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--per-round", type=int, default=120)
    ap.add_argument("--sample", type=int, default=48, help="problems for the raw sandbox measurement")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    cores = os.cpu_count() or 1
    raw = raw_sandbox_rate(args.sample, cores, args.seed)
    pipe = pipeline_rate(args.rounds, args.per_round, args.seed)
    proposed_rate = pipe["proposed"] / pipe["wall_s"]
    accepted_rate = pipe["accepted"] / pipe["wall_s"]
    rows = [
        ("raw sandbox: render only", f"{raw['render_fig_per_s']:.2f} fig/s"),
        ("raw sandbox: 4 jobs/problem", f"{raw['problems_per_s']:.2f} problems/s"),
        ("pipeline: proposed", f"{proposed_rate:.2f} problems/s ({pipe['proposed']} in {pipe['wall_s']:.1f}s)"),
        ("pipeline: accepted", f"{accepted_rate:.2f} problems/s, {accepted_rate / cores:.2f} per core"),
        ("pipeline: round walls", ", ".join(f"{w:.1f}s" for w in pipe["round_wall_s"])),
        ("pipeline: stage seconds", ", ".join(f"{k} {v}s" for k, v in pipe["stage_seconds"].items())),
        ("efficiency (pipeline / raw)", f"{proposed_rate / raw['problems_per_s']:.2f}x"),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"evolve throughput on {cores} cores ({args.rounds} rounds x {args.per_round} proposals)")
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")
    if args.json:
        print(json.dumps({"cores": cores, "raw": raw, "pipeline": pipe, "accepted_per_s": accepted_rate,
                          "accepted_per_s_per_core": accepted_rate / cores, "proposed_per_s": proposed_rate,
                          "efficiency": proposed_rate / raw["problems_per_s"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
