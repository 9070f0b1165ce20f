"""Smoke test of bench/sandbox_render.py: the figure set, the in-process mode and the sandbox mode on 6 figures.

No timing assertions: only that every mode renders every figure and that failures are counted.
"""

import importlib.util
import sys
from pathlib import Path

_PATH = Path(__file__).resolve().parents[1] / "bench" / "sandbox_render.py"
_spec = importlib.util.spec_from_file_location("bench_sandbox_render", _PATH)
bench = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = bench  # dataclasses look their module up while the class is built
_spec.loader.exec_module(bench)


def _size(png: bytes) -> tuple[int, int]:
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def test_figure_set_is_deterministic_and_mixes_kinds():
    figures = bench.build_figures(6, seed=3)
    assert figures == bench.build_figures(6, seed=3)
    assert figures != bench.build_figures(6, seed=4)
    assert "Arc(" in figures[0] and "ax.legend" in figures[1] and "bar_label" in figures[2]


def test_in_process_and_sandbox_render_every_figure():
    figures = bench.build_figures(6, seed=1)
    here = bench.run_in_process(figures)
    sandboxed, startup = bench.run_sandbox(figures, workers=2, warmup_jobs=2)
    for result in (here, sandboxed):
        assert result.figures == 6 and result.failures == (), result.failures
        assert result.seconds > 0 and result.cpu_s > 0 and all(result.digests)
    assert startup > 0
    # same bytes, same order: the bench saves figures exactly as the sandbox does, and map keeps order
    assert sandboxed.digests == here.digests
    pngs = [bench._render_here(src)[0][0] for src in figures]
    assert all(400 <= _size(p)[0] <= 800 and 400 <= _size(p)[1] <= 600 for p in pngs)


def test_failures_are_counted_not_raised():
    result = bench.run_in_process(["raise ValueError('broken figure')", "x = 1"])
    assert len(result.failures) == 2
    assert "ValueError" in result.failures[0] and "no PNG" in result.failures[1]
    assert bench.png_problem([b"GIF89a" + b"\0" * 30]) == "not a PNG"
