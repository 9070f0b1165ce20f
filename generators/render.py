"""Render stage: run each problem's rendering code, then its solution's tool code, in the sandbox.

A problem leaves with `image` (the figure) and `edited_image` (the figure after every tool-code step, each
step editing the previous step's output as `image.png`), or as a `Rejection` naming what went wrong.
Batched: all figures of a batch go through the pool at once, then all first tool steps, and so on.
"""

from __future__ import annotations

import time
from dataclasses import replace

from flywheel.records import Problem, Rejection, reject
from flywheel.sandbox import Sandbox, SandboxJob, SandboxLimits, SandboxResult

NEEDS = {"render_code": "matplotlib code that draws the figure", "solution": "steps with tool code"}


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
    results = list(sandbox.map(SandboxJob.of(p.render_code, None, limits) for p in problems))
    for p, r in zip(problems, results, strict=True):
        if r.status != "ok" or len(r.images) != 1:
            reason, detail = _failure(r, "render")
            out.append(reject(p, "render", reason, detail, raw=p.render_code))
        else:
            out.append(replace(p, image=r.images[0].png))
    _apply_tool_steps(out, sandbox, limits)
    seconds = (time.monotonic() - t0) / max(1, len(problems))
    return [replace(x, cost=replace(x.cost, seconds={**x.cost.seconds, "render": round(seconds, 4)}))
            if isinstance(x, Problem) else x for x in out]


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
