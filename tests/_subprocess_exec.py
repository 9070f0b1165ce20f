"""Stand-in executor for family tests until flywheel.sandbox lands: runs code jobs in one child process.

One child imports matplotlib/sympy once and runs every job in its own temp folder with fresh globals, so a
batch of ~100 small jobs costs seconds, not minutes. Open figures are saved like the sandbox does
(figure_<n>.png at the figure's dpi, no tight bbox). Not a security boundary: test code only.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

_DRIVER = r"""
import contextlib, io, json, os, sys, traceback
import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt
out = []
for folder in sys.argv[1:]:
    os.chdir(folder)
    buf = io.StringIO()
    error = None
    try:
        code = open('job.py').read()
        with contextlib.redirect_stdout(buf):
            exec(compile(code, 'job.py', 'exec'), {'__name__': '__main__'})
    except BaseException:
        error = traceback.format_exc()
    names = []
    for n in plt.get_fignums():
        fig = plt.figure(n)
        name = f'figure_{n}.png'
        fig.savefig(name, dpi=fig.dpi)
        names.append(name)
    plt.close('all')
    pngs = sorted(f for f in os.listdir('.') if f.endswith('.png') and f != 'image.png')
    out.append({'stdout': buf.getvalue(), 'error': error, 'images': pngs})
print(json.dumps(out))
"""


@dataclass(frozen=True)
class ExecResult:
    """What one job produced: printed text, an error traceback or None, and PNGs by name."""

    stdout: str
    error: str | None
    images: tuple[tuple[str, bytes], ...]


def run_batch(jobs: list[tuple[str, dict[str, bytes]]], timeout_s: float = 120) -> list[ExecResult]:
    """Run (code, inputs) jobs in order in one child process; results line up with jobs."""
    with tempfile.TemporaryDirectory() as root:
        folders = []
        for i, (code, inputs) in enumerate(jobs):
            folder = Path(root) / f"job{i}"
            folder.mkdir()
            (folder / "job.py").write_text(code)
            for name, data in inputs.items():
                (folder / name).write_bytes(data)
            folders.append(str(folder))
        proc = subprocess.run(
            [sys.executable, "-c", _DRIVER, *folders], capture_output=True, text=True, timeout=timeout_s
        )
        if proc.returncode != 0:
            raise RuntimeError(f"driver failed: {proc.stderr[-2000:]}")
        raw = json.loads(proc.stdout.strip().splitlines()[-1])
        return [
            ExecResult(
                r["stdout"],
                r["error"],
                tuple((n, (Path(folder) / n).read_bytes()) for n in r["images"]),
            )
            for r, folder in zip(raw, folders, strict=True)
        ]
