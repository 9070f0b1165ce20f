"""Render stage: run each problem's rendering code, then its solution's tool code, in the sandbox.

A problem leaves with `image` (the figure) and `edited_image` (the figure after every tool-code step, each
step editing the previous step's output as `image.png`), or as a `Rejection` naming what went wrong.
Batched: all figures of a batch go through the pool at once, then all first tool steps, and so on.

Model-made figures must stay on the canvas: `CANVAS_PROBE` runs after their render code in the same job and
prints the texts and patches whose extent leaves the width x height canvas by more than `CANVAS_SLACK` pixels
(a label at x = 615 on a 600-wide canvas is cut off, or invisible); a `canvas` verdict records it and a figure
that leaves the canvas is rejected (stage `image`, reason `image_outside_canvas`). Lines may run off the edge
(an infinite line is drawn that way) and procedural figures are not probed.
Test: `pytest tests/test_image_check.py -k canvas`.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace

from flywheel.records import Problem, Rejection, Verdict, reject
from flywheel.sandbox import Sandbox, SandboxJob, SandboxLimits, SandboxResult

NEEDS = {"render_code": "matplotlib code that draws the figure", "solution": "steps with tool code"}
CANVAS_MARK = "FLYWHEEL_CANVAS "  # the probe's stdout line: the mark, then a JSON list of offenders
CANVAS_SLACK = 4  # pixels an extent may pass an edge (anti-aliasing, a marker's rim on the border)
CANVAS_PROBE = f"""
def _flywheel_canvas_probe():
    import json
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch
    from matplotlib.spines import Spine
    from matplotlib.text import Text
    out = []
    for num in plt.get_fignums():
        fig = plt.figure(num)
        renderer, (w, h) = fig.canvas.get_renderer(), (fig.bbox.width, fig.bbox.height)
        artists = [*fig.texts, *fig.patches, *(a for ax in fig.axes for a in ax.get_children() if a is not ax.patch)]
        for a in artists:
            text = isinstance(a, Text)
            if not a.get_visible() or isinstance(a, Spine) or not isinstance(a, Text | Patch):
                continue
            if text and not a.get_text().strip():
                continue
            box = a.get_window_extent(renderer)
            if box.x0 < -{CANVAS_SLACK} or box.y0 < -{CANVAS_SLACK} or box.x1 > w + {CANVAS_SLACK} \\
                    or box.y1 > h + {CANVAS_SLACK}:
                what = repr(a.get_text()[:40]) if text else type(a).__name__
                out.append([what, round(box.x0), round(h - box.y1), round(box.x1), round(h - box.y0)])
    print({CANVAS_MARK!r} + json.dumps(out[:20]))


_flywheel_canvas_probe()
"""


def _failure(result: SandboxResult, what: str) -> tuple[str, str]:
    if result.status == "ok":
        return f"{what}_no_image", f"{what} code produced {len(result.images)} images, expected 1"
    err = result.error
    detail = f"{err.type}: {err.message} (line {err.line})" if err else result.status
    return f"{what}_{result.status}", (detail + "\n" + result.stderr[-1500:]).strip()


def render_batch(problems: list[Problem], sandbox: Sandbox, limits: SandboxLimits) -> list[Problem | Rejection]:
    """Render every problem of the batch; order is kept."""
    for p in problems:
        missing = [k for k in NEEDS if not getattr(p, k)]
        if missing:
            raise ValueError(f"render: problem {p.id} lacks {', '.join(missing)}")
    t0 = time.monotonic()
    out: list[Problem | Rejection] = []
    probed = [p.proposer != "procedural" for p in problems]
    jobs = (SandboxJob.of(p.render_code + (CANVAS_PROBE if probe else ""), None, limits)
            for p, probe in zip(problems, probed, strict=True))
    for p, probe, r in zip(problems, probed, sandbox.map(jobs), strict=True):
        if r.status != "ok" or len(r.images) != 1:
            reason, detail = _failure(r, "render")
            out.append(reject(p, "render", reason, detail, raw=p.render_code))
            continue
        p = replace(p, image=r.images[0].png)
        verdict = canvas_verdict(r.stdout, p.width, p.height) if probe else None
        if verdict is None:
            out.append(p)
        elif verdict.passed is False:
            out.append(reject(p, "image", "image_outside_canvas", verdict.reason, raw=p.render_code))
        else:
            out.append(replace(p, verdicts=p.verdicts + (verdict,)))
    _apply_tool_steps(out, sandbox, limits)
    seconds = (time.monotonic() - t0) / max(1, len(problems))
    return [replace(x, cost=replace(x.cost, seconds={**x.cost.seconds, "render": round(seconds, 4)}))
            if isinstance(x, Problem) else x for x in out]


def canvas_verdict(stdout: str, width: int, height: int) -> Verdict:
    """The probe's findings as a `canvas` verdict; passed None when the probe printed nothing readable."""
    lines = [ln for ln in stdout.splitlines() if ln.startswith(CANVAS_MARK)]
    try:
        offenders = json.loads(lines[-1][len(CANVAS_MARK):]) if lines else None
    except ValueError:
        offenders = None
    if not isinstance(offenders, list):
        return Verdict("canvas", None, 0.0, "not measured: the probe printed nothing readable")
    if not offenders:
        return Verdict("canvas", True, 1.0, f"every text and patch inside {width}x{height}")
    shown = "; ".join(f"{o[0]} spans x {o[1]}..{o[3]}, y {o[2]}..{o[4]}" for o in offenders[:5]
                      if isinstance(o, list) and len(o) == 5)  # fmt: skip
    return Verdict("canvas", False, 0.0, f"outside_canvas: {len(offenders)} drawn past the {width}x{height} canvas: "
                                         f"{shown}"[:500])


def _apply_tool_steps(items: list[Problem | Rejection], sandbox: Sandbox, limits: SandboxLimits) -> None:
    """Run code steps in order; step k of every problem goes to the pool together."""
    current = {i: x.image for i, x in enumerate(items) if isinstance(x, Problem)}
    steps = {i: [s for s in items[i].solution if s.kind == "code"] for i in current}
    for k in range(max((len(v) for v in steps.values()), default=0)):
        todo = [i for i in current if isinstance(items[i], Problem) and k < len(steps[i])]
        jobs = (SandboxJob.of(steps[i][k].code, {"image.png": current[i]}, limits) for i in todo)
        for i, r in zip(todo, sandbox.map(jobs), strict=True):
            if r.status == "ok" and len(r.images) == 1:
                current[i] = r.images[0].png
            else:
                reason, detail = _failure(r, "tool")
                items[i] = reject(items[i], "render", reason, detail, raw=steps[i][k].code)
    for i, png in current.items():
        if isinstance(items[i], Problem):
            items[i] = replace(items[i], edited_image=png)
