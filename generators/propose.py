"""Propose stage (procedural): plan a round's tasks, then turn each task into a `Problem` with a family.

Planning is where evolution starts: the round's difficulty ladder moves up (every level stays represented),
families whose concepts the accepted data covers least are drawn more often, and from round 2 on a share of
the tasks *extends* accepted problems of earlier rounds: parallel extensions ask a new question of the same
image, sequential ones build a harder problem on a solved one (parents sit one level below the task's level,
so extensions climb the same ladder). An extension's `depth` is its parent's + 1, and a parent at `max_depth`
is never extended; procedural extensions rebuild their parent from its family and seed, so only seed problems
(depth 0) are procedural parents and procedural depth stays at most 1. Everything derives from (seed, round,
what earlier rounds committed), so a resumed round plans exactly the same tasks.
"""

from __future__ import annotations

import math
import random
import traceback
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from flywheel.records import Operator, Problem, Rejection, make_problem, raw_input_id
from generators.procedural.base import Draft, Extension, Family

LEVELS = (1, 2, 3, 4, 5)
LEVEL_FLOOR = 0.05  # share kept for every level, so the ladder never drops the easy end
# Operator shares once earlier rounds left parents; a task whose operator finds no parent falls back to seed.
OPERATOR_SHARES: dict[str, float] = {"seed": 0.5, "parallel": 0.2, "sequential": 0.3}


@dataclass(frozen=True)
class Parent:
    """What an extension needs of an accepted problem: enough to rebuild it (family, seed, level) and route it."""

    id: str
    family: str
    seed: int
    level: int
    route: str = ""  # "too_easy" (every solver sample right) makes a preferred sequential parent
    children: int = 0  # accepted extensions it already has: parents with fewer are drawn first
    depth: int = 0  # its extension depth (seed 0); a parent at the configured max_depth is never extended


@dataclass(frozen=True)
class Task:
    round: int
    index: int
    family: str
    difficulty: int
    seed: int
    operator: Operator = "seed"
    parent: Parent | None = None

    @property
    def levels(self) -> tuple[int, ...]:
        """The levels this task asks for, one problem each (as `LMMTask.levels`): a round proposes
        `sum(len(t.levels) for t in tasks)` problems whichever proposer planned it."""
        return (self.difficulty,)


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


class ParentPicker:
    """Draws parents for extension tasks: eligible family, the wanted level (or the nearest below), the least
    used so far this round, too-easy ones first for sequential extension."""

    def __init__(self, parents: Sequence[Parent], families: dict[str, set[str]], max_depth: int = 3) -> None:
        self.by_op = {op: sorted((p for p in parents if p.family in fams and p.depth < max_depth), key=lambda p: p.id)
                      for op, fams in families.items()}
        # Start from the children earlier rounds gave each parent, so later rounds spread over fresh parents
        # instead of re-extending the same ones (which mostly yields duplicates of earlier children).
        self.used: Counter = Counter({p.id: p.children for p in parents})

    def pick(self, rng: random.Random, operator: str, level: int) -> Parent | None:
        pool = self.by_op.get(operator, [])
        want = level - 1 if operator == "sequential" else level
        for lv in range(max(1, want), 0, -1):
            cands = [p for p in pool if p.level == lv]
            if cands:
                least = min(self.used[p.id] for p in cands)
                cands = [p for p in cands if self.used[p.id] == least]
                easy = [p for p in cands if p.route == "too_easy"] if operator == "sequential" else []
                chosen = rng.choice(easy or cands)
                self.used[chosen.id] += 1
                return chosen
        return None


def plan_round(round_no: int, count: int, seed: int, mean_difficulty: float, families: list[str],
               accepted_by_family: Counter, parents: Sequence[Parent] = (),
               extensions: dict[str, set[str]] | None = None,
               shares: Mapping[str, float] = OPERATOR_SHARES, max_depth: int = 3) -> list[Task]:
    """`parents`: accepted seed problems of earlier rounds; `extensions`: operator -> families implementing it;
    parents at depth >= `max_depth` are not extended."""
    rng = random.Random(f"flywheel:{seed}:{round_no}")
    fam_w = family_weights(families, accepted_by_family)
    lvl_w = level_weights(mean_difficulty)
    picker = ParentPicker(parents, extensions or {}, max_depth)
    ops, op_w = list(shares), list(shares.values())
    tasks = []
    for i in range(count):
        family, level, task_seed = rng.choices(families, fam_w)[0], rng.choices(LEVELS, lvl_w)[0], rng.getrandbits(62)
        op = rng.choices(ops, op_w)[0] if parents else "seed"
        parent = picker.pick(rng, op, level) if op != "seed" else None
        if parent is None:
            tasks.append(Task(round_no, i, family, level, task_seed))
        else:
            tasks.append(Task(round_no, i, parent.family, level, task_seed, op, parent))  # type: ignore[arg-type]
    return tasks


def _draft(task: Task, families: Mapping[str, Family], extensions: Mapping[str, Mapping[str, Extension]]) -> Draft:
    if task.parent is None:
        return families[task.family](random.Random(task.seed), task.difficulty)
    extend = extensions[task.operator][task.family]
    return extend(random.Random(task.seed), task.parent.seed, task.parent.level)


def propose(task: Task, families: Mapping[str, Family],
            extensions: Mapping[str, Mapping[str, Extension]] | None = None) -> Problem | Rejection:
    """Run the task's family (or its extension of the parent); a generator that raises becomes a rejection
    with its traceback, never a crash."""
    parent_id = task.parent.id if task.parent else None
    try:
        d = _draft(task, families, extensions or {})
    except Exception as exc:  # noqa: BLE001 - a generator bug is data for the round summary
        raw = f"{task}\n{traceback.format_exc()}"
        return Rejection(raw_input_id(raw), task.round, "propose", "family_error", f"{type(exc).__name__}: {exc}",
                         family=task.family, operator=task.operator, parent_id=parent_id, raw=raw)
    return make_problem(
        round=task.round, parent_id=parent_id, operator=task.operator, family=d.family, concepts=d.concepts,
        tools=d.tools, domain=d.domain, difficulty=float(d.difficulty), level=int(d.difficulty),
        depth=task.parent.depth + 1 if task.parent else 0, question=d.question,
        answer=d.answer, answer_kind=d.answer_kind, render_code=d.render_code, answer_code=d.answer_code,
        check_code=d.check_code, width=d.width, height=d.height, solution=d.solution, elements=d.elements,
        proposer="procedural", seed=task.seed,
    )
