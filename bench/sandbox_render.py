"""Benchmark: how many figures per second the sandbox renders, against no isolation and a process per job.

Renders one deterministic set of matplotlib figures (geometry, function plots, bar charts) three ways on
the same cores: (a) exec in this process (the ceiling), (b) a fresh `python -c` per job (what most peers
do), (c) `flywheel.sandbox.Sandbox.map`. Every figure must come back as a PNG in every mode.
Run: `.venv/bin/python bench/sandbox_render.py [--n 240] [--workers N] [--process-sample 60] [--json]`.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `flywheel` importable from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flywheel.sandbox import Sandbox, SandboxJob, SandboxLimits, SandboxResult  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
GOAL_VS_IN_PROCESS = 0.8
GOAL_VS_PROCESS_PER_JOB = 10.0
PROCESS_TIMEOUT_S = 60.0

# -- the figure set -------------------------------------------------------------------------------------

_GEOMETRY = '''import math
import matplotlib.pyplot as plt
from matplotlib.patches import Arc, Circle, Polygon

W, H = {w}, {h}
fig = plt.figure(figsize=(W / 100, H / 100), dpi=100)
ax = fig.add_axes([0, 0, 1, 1])
ax.set_xlim(0, W)
ax.set_ylim(H, 0)  # pixel space: y grows downwards, like the saved PNG
ax.set_aspect("equal")
ax.axis("off")
tri = {tri}
ax.add_patch(Polygon(tri, closed=True, fill=False, lw=2, ec="#1f3b73"))
gx, gy = sum(p[0] for p in tri) / 3, sum(p[1] for p in tri) / 3
for (x, y), name in zip(tri, "ABC"):
    d = math.hypot(x - gx, y - gy) or 1.0
    ax.text(x + 18 * (x - gx) / d, y + 18 * (y - gy) / d, name, fontsize=14, ha="center", va="center")


def arc_angles(v, p, q):
    a1 = math.degrees(math.atan2(p[1] - v[1], p[0] - v[0]))
    a2 = math.degrees(math.atan2(q[1] - v[1], q[0] - v[0]))
    return (a1, a2) if (a2 - a1) % 360 <= 180 else (a2, a1)


for i in range(3):
    v, p, q = tri[i], tri[(i + 1) % 3], tri[(i + 2) % 3]
    t1, t2 = arc_angles(v, p, q)
    ax.add_patch(Arc(v, 44, 44, theta1=t1, theta2=t2, color="#b03a2e", lw=1.2))
(ax_, ay), (bx, by), (cx_, cy_) = tri
t = ((ax_ - bx) * (cx_ - bx) + (ay - by) * (cy_ - by)) / ((cx_ - bx) ** 2 + (cy_ - by) ** 2)
foot = (bx + t * (cx_ - bx), by + t * (cy_ - by))
ax.plot([ax_, foot[0]], [ay, foot[1]], ls="--", color="gray", lw=1)
ax.plot([bx, (ax_ + cx_) / 2], [by, (ay + cy_) / 2], ls="--", color="#6c8ebf", lw=1)
ax.text(foot[0] + 8, foot[1] + 8, "H", fontsize=11, color="gray")
circle = Circle(({cx}, {cy}), {r}, fill=False, lw=1.5, ec="#2e7d32")
ax.add_patch(circle)
ax.plot([{cx}], [{cy}], "k.", ms=4)
ax.text({cx} + 6, {cy} - 6, "O", fontsize=12)
ax.plot([{cx}, {cx} + {r}], [{cy}, {cy}], ls="--", color="#2e7d32", lw=1)
ax.text({cx} + {r} / 2, {cy} + 14, "r = {r}", fontsize=10, ha="center")
poly = {poly}
ax.add_patch(Polygon(poly, closed=True, fc="{color}", alpha=0.25, ec="{color}", lw=1.5))
for k, (x, y) in enumerate(poly):
    ax.text(x, y - 10, "P%d" % (k + 1), fontsize=9, ha="center")
'''

_FUNCTIONS = '''import numpy as np
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=({w} / 100, {h} / 100), dpi=100)
x = np.linspace({lo}, {hi}, 400)
{curves}
ax.axhline(0, color="black", lw=0.8)
ax.axvline(0, color="black", lw=0.8)
ax.set_xlim({lo}, {hi})
ax.set_ylim(-{ymax}, {ymax})
ax.set_xticks(np.arange({lo}, {hi} + 1, {step}))
ax.grid(True, ls=":", alpha=0.7)
ax.set_xlabel("x")
ax.set_ylabel("y")
ax.set_title("{title}")
ax.legend(loc="upper right", fontsize=8)
'''

_CURVES = (
    'ax.plot(x, {a} * np.sin({b} * x + {c}), label=r"$y = {a}\\sin({b}x + {c})$")',
    'ax.plot(x, {a} * np.cos({b} * x), ls="--", label=r"$y = {a}\\cos({b}x)$")',
    'ax.plot(x, {b} * x ** 2 / 10 - {a}, label=r"$y = {b}x^2/10 - {a}$")',
    'ax.plot(x, (x - {c}) * (x + {c}) * x / 20, label=r"$y = x(x^2 - {c}^2)/20$")',
    'ax.plot(x, {a} * np.exp(-{b} * np.abs(x) / 4), label=r"$y = {a}e^{{-{b}|x|/4}}$")',
    'ax.plot(x, {b} * x / 3 + {c}, ls="-.", label=r"$y = {b}x/3 + {c}$")',
)

_BARS = '''import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=({w} / 100, {h} / 100), dpi=100)
cats = {cats}
vals = {vals}
bars = ax.{kind}(cats, vals, color={colors}, edgecolor="black")
ax.bar_label(bars, labels=[str(v) for v in vals], padding=3, fontsize=9)
ax.set_title("{title}")
ax.{value_axis}("{unit}")
ax.{value_lim}(0, max(vals) * 1.2)
ax.grid(True, axis="{grid_axis}", ls=":", alpha=0.6)
'''

_CATEGORIES = ("Apples", "Pears", "Plums", "Kiwis", "Limes", "Figs", "Dates", "Grapes", "Mangos")
_PALETTE = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c")


def _size(rng: random.Random) -> tuple[int, int]:
    """400x400 up to 800x600 pixels, in steps of 10 so figsize * dpi is a whole number of pixels."""
    return rng.randrange(400, 801, 10), rng.randrange(400, 601, 10)


def geometry_source(rng: random.Random) -> str:
    w, h = _size(rng)
    while True:  # a triangle whose area is at least a tenth of the canvas: no slivers, no degenerate arcs
        tri = [(rng.randint(40, w - 40), rng.randint(40, h - 40)) for _ in range(3)]
        (x1, y1), (x2, y2), (x3, y3) = tri
        if abs((x2 - x1) * (y3 - y1) - (x3 - x1) * (y2 - y1)) / 2 > w * h / 10:
            break
    cx, cy, r = rng.randint(60, w - 60), rng.randint(60, h - 60), rng.randint(25, 55)
    sides, radius = rng.randint(4, 7), rng.randint(30, 60)
    px, py, turn = rng.randint(radius + 20, w - radius - 20), rng.randint(radius + 20, h - radius - 20), rng.random()
    poly = [(round(px + radius * math.cos(2 * math.pi * (k + turn) / sides), 1),
             round(py + radius * math.sin(2 * math.pi * (k + turn) / sides), 1)) for k in range(sides)]
    return _GEOMETRY.format(w=w, h=h, tri=tri, cx=cx, cy=cy, r=r, poly=poly, color=rng.choice(_PALETTE))


def function_source(rng: random.Random) -> str:
    w, h = _size(rng)
    span = rng.choice((4, 6, 8, 10))
    picks = rng.sample(range(len(_CURVES)), rng.randint(2, 4))
    curves = "\n".join(_CURVES[i].format(a=rng.randint(1, 4), b=rng.randint(1, 3), c=rng.randint(1, 3))
                       for i in picks)
    return _FUNCTIONS.format(w=w, h=h, lo=-span, hi=span, curves=curves, ymax=rng.choice((5, 6, 8)),
                             step=span // 2, title=f"{len(picks)} functions on [-{span}, {span}]")


def bar_source(rng: random.Random) -> str:
    w, h = _size(rng)
    cats = rng.sample(_CATEGORIES, rng.randint(3, 7))
    vals = [rng.randint(5, 95) for _ in cats]
    horizontal = rng.random() < 0.3
    return _BARS.format(
        w=w, h=h, cats=cats, vals=vals, colors=[rng.choice(_PALETTE) for _ in cats],
        kind="barh" if horizontal else "bar", title=f"Fruit sold, week {rng.randint(1, 52)}",
        value_axis="set_xlabel" if horizontal else "set_ylabel", unit=rng.choice(("kg", "boxes", "crates")),
        value_lim="set_xlim" if horizontal else "set_ylim", grid_axis="x" if horizontal else "y")


BUILDERS = (geometry_source, function_source, bar_source)


def build_figures(n: int = 240, seed: int = 0) -> list[str]:
    """`n` figure sources, kinds interleaved so any prefix (the process-per-job sample) has all three."""
    rng = random.Random(seed)
    return [BUILDERS[i % len(BUILDERS)](rng) for i in range(n)]


# -- checking and reporting -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ModeResult:
    """One mode's run: how many figures, how long, which failed (and why), a digest of each first PNG.

    `cpu_s` is CPU time that does not depend on machine load: this process (in_process), the reaped
    `python -c` children (process_per_job), or the jobs' own CPU as the sandbox reports it (sandbox; its
    fork, namespace and supervisor costs are not in it).
    """

    mode: str
    figures: int
    seconds: float
    failures: tuple[str, ...] = ()
    digests: tuple[str, ...] = field(default=(), repr=False)
    cpu_s: float = 0.0

    @property
    def fig_per_s(self) -> float:
        return self.figures / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_per_fig(self) -> float:
        return self.cpu_s / self.figures if self.figures else 0.0


def png_problem(pngs: list[bytes]) -> str | None:
    """Why these images do not count as a rendered figure, or None when the first one is a real PNG."""
    if not pngs:
        return "no PNG"
    png = pngs[0]
    if not png.startswith(PNG_MAGIC) or len(png) < 24:
        return "not a PNG"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    return None if width > 0 and height > 0 else "empty PNG"


def _digest(pngs: list[bytes]) -> str:
    return hashlib.sha256(pngs[0]).hexdigest()[:16] if pngs else ""


def _finish(mode: str, seconds: float, outcomes: list[tuple[list[bytes], str]], first: int = 0,
            cpu_s: float = 0.0) -> ModeResult:
    """Check every figure's PNGs; `outcomes` holds (pngs, error text or '') per figure from index `first`."""
    failures = []
    for i, (pngs, error) in enumerate(outcomes, start=first):
        problem = error or png_problem(pngs)
        if problem:
            failures.append(f"figure {i}: {problem}")
    digests = tuple(_digest(p) for p, _ in outcomes)
    return ModeResult(mode, len(outcomes), seconds, tuple(failures), digests, cpu_s)


def merge(parts: list[ModeResult]) -> ModeResult:
    """One mode's rounds, added up in order."""
    return ModeResult(parts[0].mode, sum(p.figures for p in parts), sum(p.seconds for p in parts),
                      tuple(f for p in parts for f in p.failures), tuple(d for p in parts for d in p.digests),
                      sum(p.cpu_s for p in parts))


# -- (a) in-process: the ceiling ------------------------------------------------------------------------


def _render_here(source: str) -> tuple[list[bytes], str]:
    """Exec one figure in this process and save its open figures the way the sandbox does."""
    import matplotlib.pyplot as plt

    try:
        exec(compile(source, "figure.py", "exec"), {"__name__": "__main__"})  # noqa: S102 - trusted bench code
        pngs = []
        for num in plt.get_fignums():
            fig = plt.figure(num)
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=fig.dpi)
            pngs.append(buf.getvalue())
        return pngs, ""
    except Exception as exc:  # noqa: BLE001 - a failed figure is counted, not raised
        return [], f"{type(exc).__name__}: {exc}"
    finally:
        plt.close("all")


def warm_in_process(sources: list[str]) -> None:
    """Imports, fonts and mathtext loaded before the clock starts, as in a warm sandbox worker."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401
    import numpy  # noqa: F401

    for source in sources[:3]:
        _render_here(source)


def run_in_process(sources: list[str], first: int = 0, warm: bool = True) -> ModeResult:
    """Sequential, one process, no isolation: the ceiling per core."""
    if warm:
        warm_in_process(sources)
    start, cpu = time.perf_counter(), time.process_time()
    outcomes = [_render_here(s) for s in sources]
    return _finish("in_process", time.perf_counter() - start, outcomes, first, time.process_time() - cpu)


# -- (b) a new python process per job -------------------------------------------------------------------

_WRAPPER = '''import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
exec(compile({source!r}, "figure.py", "exec"), {{"__name__": "__main__"}})
for num in plt.get_fignums():
    fig = plt.figure(num)
    fig.savefig("figure_%d.png" % num, format="png", dpi=fig.dpi)
plt.close("all")
'''


def _render_in_new_process(source: str) -> tuple[list[bytes], str]:
    with tempfile.TemporaryDirectory(prefix="bench_ppj_") as folder:
        try:
            proc = subprocess.run([sys.executable, "-c", _WRAPPER.format(source=source)], cwd=folder,
                                  capture_output=True, timeout=PROCESS_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            return [], f"timeout after {PROCESS_TIMEOUT_S:.0f} s"
        if proc.returncode != 0:
            return [], f"exit {proc.returncode}: {proc.stderr.decode(errors='replace')[-300:]}"
        names = sorted(Path(folder).glob("figure_*.png"), key=lambda p: int(p.stem.split("_")[1]))
        return [p.read_bytes() for p in names], ""


def run_process_per_job(sources: list[str], workers: int, first: int = 0) -> ModeResult:
    """`workers` threads, each launching one `python -c` per figure: the same parallelism as the sandbox."""
    start, cpu = time.perf_counter(), _children_cpu()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        outcomes = list(pool.map(_render_in_new_process, sources))
    return _finish("process_per_job", time.perf_counter() - start, outcomes, first, _children_cpu() - cpu)


def _children_cpu() -> float:
    """CPU of reaped children: the `python -c` processes (sandbox workers are only reaped at close)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# -- (c) the sandbox pool -------------------------------------------------------------------------------


def _sandbox_outcome(result: SandboxResult) -> tuple[list[bytes], str]:
    if result.status != "ok":
        error = result.error.message if result.error else result.stderr[-300:]
        return [], f"status {result.status}: {error}"
    return [img.png for img in result.images], ""


def start_sandbox(workers: int, warm_sources: list[str]) -> tuple[Sandbox, float]:
    """A started pool and its start-up time: workers up and the warm-up jobs done (none of it in the rate)."""
    start = time.perf_counter()
    sandbox = Sandbox(workers=workers, limits=SandboxLimits(wall_s=30.0))
    for result in sandbox.map(SandboxJob.of(s) for s in warm_sources):
        if result.status != "ok":
            print(f"!! sandbox warm-up job failed: {_sandbox_outcome(result)[1]}", file=sys.stderr)
    return sandbox, time.perf_counter() - start


def run_sandbox_jobs(sandbox: Sandbox, sources: list[str], first: int = 0) -> ModeResult:
    start = time.perf_counter()
    results = list(sandbox.map(SandboxJob.of(s) for s in sources))
    seconds = time.perf_counter() - start
    outcomes = [_sandbox_outcome(r) for r in results]
    return _finish("sandbox", seconds, outcomes, first, sum(r.cpu_s for r in results))


def run_sandbox(sources: list[str], workers: int, warmup_jobs: int | None = None) -> tuple[ModeResult, float]:
    """The sandbox's `map` over every figure and the pool's start-up time; two warm-up jobs per worker by
    default, so every worker is up (and has run a job) before the clock starts."""
    sandbox, startup = start_sandbox(workers, sources[: warmup_jobs or workers * 2])
    try:
        return run_sandbox_jobs(sandbox, sources), startup
    finally:
        sandbox.close()


# -- the report -----------------------------------------------------------------------------------------


def summarize(results: dict[str, ModeResult], workers: int, n: int, startup_s: float, rounds: int = 1,
              load_before: float = 0.0) -> dict:
    """The numbers the JSON line carries: figures per second per mode, ratios, goals, failures."""
    rate = {name: r.fig_per_s for name, r in results.items()}
    ratios = {
        "sandbox/in_process": rate["sandbox"] / rate["in_process"] if rate["in_process"] else 0.0,
        "sandbox/process_per_job": rate["sandbox"] / rate["process_per_job"] if rate["process_per_job"] else 0.0,
    }
    sample = results["process_per_job"].figures
    same = sum(a == b != "" for a, b in zip(results["in_process"].digests, results["sandbox"].digests, strict=True))
    return {
        **{name: round(value, 3) for name, value in rate.items()},
        "workers": workers, "n": n, "process_sample": sample,
        "ratios": {k: round(v, 3) for k, v in ratios.items()},
        "goals_met": {"sandbox>=0.8x_in_process": ratios["sandbox/in_process"] >= GOAL_VS_IN_PROCESS,
                      "sandbox>=10x_process_per_job": ratios["sandbox/process_per_job"] >= GOAL_VS_PROCESS_PER_JOB},
        "sandbox_startup_s": round(startup_s, 3),
        "failures": {name: len(r.failures) for name, r in results.items()},
        "cpu_s_per_figure": {name: round(r.cpu_per_fig, 4) for name, r in results.items()},
        "sandbox_png_identical_to_in_process": same,
        "rounds": rounds, "cpu_count": os.cpu_count(),
        "load_avg_1m": {"start": round(load_before, 2), "end": round(os.getloadavg()[0], 2)},
    }


def print_table(results: dict[str, ModeResult], summary: dict) -> None:
    base = results["in_process"].fig_per_s
    load = summary["load_avg_1m"]
    print(f"\nRendering {summary['n']} matplotlib figures, {summary['workers']} workers, {summary['cpu_count']} "
          f"CPUs, {summary['rounds']} interleaved rounds (1-min load avg {load['start']} -> {load['end']})")
    print("in_process is single-process and sequential by nature (the no-isolation ceiling); process_per_job "
          f"ran only the first {summary['process_sample']} figures and its rate is over those; sandbox start-up "
          f"({summary['sandbox_startup_s']:.2f} s incl. warm-up jobs) is not in its time.\n")
    print(f"{'mode':<17}{'figures':>8}{'seconds':>10}{'fig/s':>9}{'vs in_process':>15}{'failures':>10}"
          f"{'cpu s/fig':>11}")
    for name, r in results.items():
        ratio = r.fig_per_s / base if base else 0.0
        print(f"{name:<17}{r.figures:>8}{r.seconds:>10.2f}{r.fig_per_s:>9.2f}{ratio:>14.2f}x{len(r.failures):>10}"
              f"{r.cpu_per_fig:>11.3f}")
    print("(cpu s/fig: this process for in_process, the python -c children for process_per_job, the jobs' own\n"
          " CPU as the sandbox reports it for sandbox, without its fork/namespace/supervisor overhead)")
    ratios, goals = summary["ratios"], summary["goals_met"]
    print(f"\nsandbox / in_process      = {ratios['sandbox/in_process']:.2f}x  "
          f"(goal >= {GOAL_VS_IN_PROCESS}x: {'MET' if goals['sandbox>=0.8x_in_process'] else 'NOT met'})")
    print(f"sandbox / process_per_job = {ratios['sandbox/process_per_job']:.2f}x  "
          f"(goal >= {GOAL_VS_PROCESS_PER_JOB:.0f}x: {'MET' if goals['sandbox>=10x_process_per_job'] else 'NOT met'})")
    print(f"sandbox PNGs byte-identical to in_process: {summary['sandbox_png_identical_to_in_process']}/"
          f"{summary['n']}")
    for name, r in results.items():
        if r.failures:
            print(f"\n!!!!! {name}: {len(r.failures)} FIGURE(S) FAILED !!!!!", file=sys.stderr)
            for line in r.failures[:10]:
                print(f"!!   {line}", file=sys.stderr)


def run_benchmark(n: int, seed: int, workers: int, process_sample: int,
                  rounds: int = 4) -> tuple[dict[str, ModeResult], dict]:
    """All three modes over the same figures, taken in `rounds` slices, each slice run by every mode in
    turn: on a shared machine whose load drifts, no mode gets the quiet (or the busy) minutes to itself."""
    load_before = os.getloadavg()[0]
    sources = build_figures(n, seed)
    warm_in_process(sources)
    sandbox, startup = start_sandbox(workers, sources[: workers * 2])
    parts: dict[str, list[ModeResult]] = {"in_process": [], "process_per_job": [], "sandbox": []}
    try:
        for r in range(rounds):
            lo, hi = r * n // rounds, (r + 1) * n // rounds
            sample_lo, sample_hi = r * process_sample // rounds, (r + 1) * process_sample // rounds
            parts["in_process"].append(run_in_process(sources[lo:hi], lo, warm=False))
            parts["sandbox"].append(run_sandbox_jobs(sandbox, sources[lo:hi], lo))
            parts["process_per_job"].append(
                run_process_per_job(sources[sample_lo:sample_hi], workers, sample_lo))
    finally:
        sandbox.close()
    results = {name: merge(p) for name, p in parts.items()}
    return results, summarize(results, workers, n, startup, rounds, load_before)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=240, help="figures in the set (200+ for a real run)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the figure set")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="sandbox workers and "
                        "process-per-job threads")
    parser.add_argument("--process-sample", type=int, default=60, help="figures the slow process-per-job mode runs")
    parser.add_argument("--rounds", type=int, default=4, help="slices of the set; each mode runs each slice in "
                        "turn, so drifting machine load spreads over all modes")
    parser.add_argument("--json", action="store_true", help="end stdout with one JSON line of the numbers")
    args = parser.parse_args(argv)
    sample = min(args.process_sample, args.n)
    results, summary = run_benchmark(args.n, args.seed, args.workers, sample, max(1, min(args.rounds, sample)))
    print_table(results, summary)
    if args.json:
        print(json.dumps(summary))
    return 1 if any(r.failures for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
