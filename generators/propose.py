"""Propose stage (procedural): plan a round's tasks, then turn each task into a `Problem` with a family.

Planning is where evolution starts: the round's difficulty ladder moves up (every level stays represented)
and families whose concepts the accepted data covers least are drawn more often. Everything derives from
(seed, round, what earlier rounds committed), so a resumed round plans exactly the same tasks.
"""

from __future__ import annotations

import math
import random
import traceback
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from flywheel.records import Problem, Rejection, make_problem, raw_input_id
from generators.procedural.base import Family

LEVELS = (1, 2, 3, 4, 5)
LEVEL_FLOOR = 0.05  # share kept for every level, so the ladder never drops the easy end


@dataclass(frozen=True)
class Task:
    round: int
    index: int
    family: str
    difficulty: int
    seed: int


def level_weights(mean: float, spread: float = 0.9) -> list[float]:
    """A discrete bell over levels 1-5 around `mean`, with a floor so no level disappears.

    >>> [round(w, 2) for w in level_weights(1.0)]
    [0.51, 0.27, 0.11, 0.05, 0.05]
    """
    raw = [math.exp(-((lv - mean) ** 2) / (2 * spread**2)) for lv in LEVELS]
    total = sum(raw)
    shares = [max(LEVEL_FLOOR, r / total) for r in raw]
    norm = sum(shares)
    return [s / norm for s in shares]


def family_weights(families: list[str], accepted_by_family: Mapping[str, int]) -> list[float]:
    """Under-represented families are drawn more: weight 1 / (1 + share of accepted data)."""
    total = sum(accepted_by_family.values()) or 1
    return [1.0 / (1.0 + len(families) * accepted_by_family.get(f, 0) / total) for f in families]


def plan_round(round_no: int, count: int, seed: int, mean_difficulty: float, families: list[str],
               accepted_by_family: Counter) -> list[Task]:
    rng = random.Random(f"flywheel:{seed}:{round_no}")
    fam_w = family_weights(families, accepted_by_family)
    lvl_w = level_weights(mean_difficulty)
    return [Task(round_no, i, rng.choices(families, fam_w)[0], rng.choices(LEVELS, lvl_w)[0], rng.getrandbits(62))
            for i in range(count)]


def propose(task: Task, families: Mapping[str, Family]) -> Problem | Rejection:
    """Run the task's family; a family that raises becomes a rejection with its traceback, never a crash."""
    try:
        d = families[task.family](random.Random(task.seed), task.difficulty)
    except Exception as exc:  # noqa: BLE001 - a generator bug is data for the round summary
        raw = f"{task}\n{traceback.format_exc()}"
        return Rejection(raw_input_id(raw), task.round, "propose", "family_error", f"{type(exc).__name__}: {exc}",
                         family=task.family, operator="seed", raw=raw)
    return make_problem(
        round=task.round, parent_id=None, operator="seed", family=d.family, concepts=d.concepts, tools=d.tools,
        domain=d.domain, difficulty=float(d.difficulty), question=d.question, answer=d.answer,
        answer_kind=d.answer_kind, render_code=d.render_code, answer_code=d.answer_code, check_code=d.check_code,
        width=d.width, height=d.height, solution=d.solution, elements=d.elements, proposer="procedural",
        seed=task.seed,
    )
