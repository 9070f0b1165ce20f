"""Difficulty: one calibrated number per problem on the 1-5 scale of the level ladder, plus a route.

Two kinds of evidence, blended by how much there is of each:
- structure (always there): the level the generator aimed at, then what the solution needs beyond it —
  tool calls (each is a construction the solver must think of), concepts combined, reasoning steps, and
  whether the problem builds on another's answer (sequential extension);
- a solver model's pass rate over k samples (when `[models.solver]` is configured): a problem nobody
  solves is hard whatever its structure says. The rate is smoothed ((hits + 0.5) / (k + 1)) so one lucky
  sample does not read as "trivial", and it weighs k / (k + 4): four samples count as much as the structure.

Both map onto the same 1-5 scale, so data with and without a solver share one axis (that is the
calibration: a level-3 problem that a solver gets right half the time stays near 3). The route says what the
planner should do with a problem the solver found trivial (`too_easy`: extend it sequentially) or never
solved (`unsolved`: kept, since its answer was executed and cross-checked, but flagged and never used as a
parent). Both are stored as verdicts, so SQL can see every input of the estimate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from flywheel.records import Problem, Verdict

SOLVER_VERDICT = "crossmodel"
PRIOR_SAMPLES = 4  # the structural estimate counts as this many solver samples
_SAMPLES = re.compile(r"of (\d+) samples")


@dataclass(frozen=True)
class Assessment:
    structural: float
    pass_rate: float | None
    samples: int
    difficulty: float
    route: str  # "", "too_easy" or "unsolved"


def structural_difficulty(p: Problem) -> float:
    """The level plus what the solution demands beyond a typical problem of that level."""
    level = p.level or p.difficulty or 1
    tool_calls = sum(1 for s in p.solution if s.kind == "code")
    bonus = 0.3 * max(0, tool_calls - 1) + 0.2 * max(0, len(p.concepts) - 2) + 0.05 * max(0, len(p.solution) - 4)
    if p.operator == "sequential":
        bonus += 0.25  # the parent's answer is one whole problem's worth of work inside this one
    return min(5.5, max(1.0, level + min(bonus, 1.0)))


def solver_evidence(p: Problem) -> tuple[float | None, int]:
    """(pass rate, samples) from the cross-model verdict, or (None, 0) when there is none or it failed."""
    for v in p.verdicts:
        if v.name == SOLVER_VERDICT and not v.reason.startswith("solver_error"):
            m = _SAMPLES.search(v.reason)
            if m:
                return v.score, int(m.group(1))
    return None, 0


def assess(p: Problem) -> Assessment:
    structural = structural_difficulty(p)
    rate, k = solver_evidence(p)
    if rate is None or k == 0:
        return Assessment(round(structural, 3), None, 0, round(structural, 3), "")
    hits = round(rate * k)
    smoothed = (hits + 0.5) / (k + 1)
    from_solver = 1.0 + 4.0 * (1.0 - smoothed)
    w = k / (k + PRIOR_SAMPLES)
    blended = (1 - w) * structural + w * from_solver
    route = "too_easy" if hits == k else "unsolved" if hits == 0 else ""
    return Assessment(round(structural, 3), rate, k, round(blended, 3), route)


def with_difficulty(p: Problem) -> Problem:
    """`p` with its calibrated difficulty and the `difficulty` / `route` verdicts (replacing older ones)."""
    a = assess(p)
    solver = "no solver" if a.pass_rate is None else f"solver {a.pass_rate:.0%} of {a.samples}"
    verdicts = tuple(v for v in p.verdicts if v.name not in ("difficulty", "route"))
    verdicts += (Verdict("difficulty", None, a.difficulty, f"structure {a.structural}, {solver}"),)
    if a.route:
        verdicts += (Verdict("route", None, 0.0, a.route),)
    return replace(p, difficulty=a.difficulty, verdicts=verdicts)


def route_of(p: Problem) -> str:
    return next((v.reason for v in p.verdicts if v.name == "route"), "")
