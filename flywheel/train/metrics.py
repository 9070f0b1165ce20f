"""Training metrics: one JSON line per step in `<out>/metrics.jsonl`, a console line, and a PNG of the curves.

The JSONL is appended and flushed every step, so a killed run keeps its history and a resumed one continues
the same file (steps a resume repeats appear twice; the plot keeps the last value per step). `plot()` draws one
panel per numeric metric with matplotlib's Agg backend (no display needed).
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import TextIO

# Shown first on the console line when present; the rest follow in name order.
CONSOLE_FIRST = ("loss", "reward", "kl", "lr", "tokens_per_s")
# Panels a plot never needs (constant or bookkeeping values).
NOT_PLOTTED = {"step", "time", "stage", "epoch"}


class MetricsLog:
    """Append-only metrics for one stage's output folder."""

    def __init__(self, out: str | Path, stage: str, echo: TextIO | None = sys.stderr) -> None:
        self.path = Path(out) / "metrics.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.stage = stage
        self.echo = echo
        self._file = open(self.path, "a")

    def log(self, step: int, metrics: dict[str, float], console: bool = True) -> None:
        record = {"step": step, "stage": self.stage, "time": round(time.time(), 3),
                  **{k: _clean(v) for k, v in metrics.items()}}
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()
        if console and self.echo is not None:
            print(console_line(step, metrics, self.stage), file=self.echo, flush=True)

    def close(self) -> None:
        self._file.close()


def console_line(step: int, metrics: dict[str, float], stage: str = "") -> str:
    """`[sft] step 12  loss 2.3130  lr 1.0e-05 ...`.

    >>> console_line(3, {"lr": 1e-05, "loss": 2.31301, "tokens": 512.0}, "sft")
    '[sft] step 3  loss 2.3130  lr 1.0e-05  tokens 512'
    """
    keys = [k for k in CONSOLE_FIRST if k in metrics] + sorted(k for k in metrics if k not in CONSOLE_FIRST)
    return f"[{stage}] step {step}  " + "  ".join(f"{k} {_fmt(metrics[k])}" for k in keys)


def read(path: str | Path) -> list[dict]:
    """Records of a metrics file, the last one per step (a resumed run may have repeated steps)."""
    by_step: dict[int, dict] = {}
    for line in Path(path).read_text().splitlines():
        if line.strip():
            record = json.loads(line)
            by_step[int(record["step"])] = record
    return [by_step[s] for s in sorted(by_step)]


def plot(path: str | Path, png: str | Path | None = None) -> Path:
    """Curves of every numeric metric against step, one panel each; returns the PNG's path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = read(path)
    names = sorted({k for r in records for k, v in r.items() if isinstance(v, (int, float)) and k not in NOT_PLOTTED})
    names = [k for k in CONSOLE_FIRST if k in names] + [k for k in names if k not in CONSOLE_FIRST]
    cols = min(3, max(1, len(names)))
    rows = max(1, math.ceil(len(names) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 2.8 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        points = [(r["step"], r[name]) for r in records if isinstance(r.get(name), (int, float))]
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="." if len(points) < 40 else None)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("step", fontsize=8)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.tight_layout()
    png = Path(png) if png else Path(path).with_suffix(".png")
    fig.savefig(png, dpi=90)
    plt.close(fig)
    return png


def _clean(value: float) -> float | None:
    """JSON has no NaN/inf: write null so the file stays standard."""
    value = float(value)
    return value if math.isfinite(value) else None


def _fmt(value: float | None) -> str:
    if value is None:
        return "nan"
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        return f"{value:.1e}"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.4f}"
