"""Execute procedural drafts in the real sandbox: render, every tool step on the current image, answer and check code.

Shared by the family tests and the extension tests so the execution loop lives in one place; it returns what
ran and leaves the assertions to the caller (each test compares in its own way).
"""

from __future__ import annotations

from dataclasses import dataclass

from flywheel.sandbox import SandboxJob, SandboxLimits, SandboxResult
from generators.procedural.base import Draft

LIMITS = SandboxLimits(wall_s=60)


@dataclass(frozen=True)
class Executed:
    """One draft's runs: the rendered image, the image after its last tool step, and the two answer runs."""

    draft: Draft
    render: SandboxResult
    image: bytes | None
    final: bytes | None
    tool_errors: tuple[str, ...]
    answer: SandboxResult
    check: SandboxResult


def execute_drafts(sandbox, drafts: list[Draft], limits: SandboxLimits = LIMITS) -> list[Executed]:
    """Run every draft's render code, then its tool steps in order on the evolving image, then answer/check."""
    renders = list(sandbox.map([SandboxJob.of(d.render_code, limits=limits) for d in drafts]))
    images = [r.images[0].png if r.ok and len(r.images) == 1 else None for r in renders]
    current = list(images)
    errors: list[list[str]] = [[] for _ in drafts]
    steps = [[s for s in d.solution if s.kind == "code"] for d in drafts]
    for step in range(max((len(s) for s in steps), default=0)):
        todo = [k for k in range(len(drafts)) if len(steps[k]) > step and current[k] is not None]
        jobs = [SandboxJob.of(steps[k][step].code, {"image.png": current[k]}, limits) for k in todo]
        for k, r in zip(todo, sandbox.map(jobs), strict=True):
            if r.ok and len(r.images) == 1:
                current[k] = r.images[0].png
            else:
                errors[k].append(f"step {step}: {r.status} {r.error}")
                current[k] = None
    runs = list(sandbox.map([SandboxJob.of(c, limits=limits) for d in drafts for c in (d.answer_code, d.check_code)]))
    return [
        Executed(d, renders[k], images[k], current[k], tuple(errors[k]), runs[2 * k], runs[2 * k + 1])
        for k, d in enumerate(drafts)
    ]
