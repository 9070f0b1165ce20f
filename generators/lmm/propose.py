"""LMM propose stage: plan concept combinations, ask the proposer model, parse what comes back.

Planning draws a main concept weighted towards what the accepted data covers least, pairs it with a related
concept (a prerequisite, else one of the same domain; "cross_domain" pairing mixes domains), adds one or two
visual tools, and takes a level from the round's ladder. One seed request asks for `levels_per_request`
problems at consecutive levels around that level (the paper's easy/medium/hard), each verified on its own; an
extension request asks for one problem on an accepted parent (depth + 1, never past `max_depth`). Everything
derives from (seed, round, earlier rounds), so a resumed round asks for the same things. A completion that
fails or cannot be parsed becomes a rejection with the raw text kept. Test: `pytest tests/test_lmm_planner.py`.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from flywheel.knowledge import KnowledgeSystem
from flywheel.lmm.parse import ParseFailure, ProposalDefaults, failure_to_rejection, parse_candidates, to_problem
from flywheel.lmm.prompts import extend_prompt, propose_prompt
from flywheel.models.base import Completion, GenerationRequest, Message, SamplingParams
from flywheel.records import Cost, Problem, Rejection, raw_input_id
from generators.propose import LEVELS, OPERATOR_SHARES, level_weights

WIDTH, HEIGHT = 600, 480


@dataclass(frozen=True)
class LMMTask:
    round: int
    index: int
    concepts: tuple[str, ...]
    tools: tuple[str, ...]
    difficulty: int
    seed: int
    operator: str = "seed"
    parent: Problem | None = None  # the accepted problem an extension builds on (images stripped)
    levels: tuple[int, ...] = field(default=())  # the levels asked for, one problem each; () = (difficulty,)

    def __post_init__(self) -> None:
        if not self.levels:
            object.__setattr__(self, "levels", (self.difficulty,))

    @property
    def tag(self) -> str:
        return f"r{self.round}:t{self.index}"


def request_levels(level: int, n: int) -> tuple[int, ...]:
    """`n` consecutive levels around `level`, shifted to stay inside 1..5 (distinct and increasing).

    >>> request_levels(3, 3), request_levels(1, 3), request_levels(5, 3), request_levels(4, 2), request_levels(2, 1)
    ((2, 3, 4), (1, 2, 3), (3, 4, 5), (4, 5), (2,))
    """
    n = max(1, min(len(LEVELS), n))
    start = min(max(LEVELS[0], level - (n - 1) // 2), LEVELS[-1] - n + 1)
    return tuple(range(start, start + n))


def _partner(rng: random.Random, ks: KnowledgeSystem, main: str, pairing: str = "related") -> str | None:
    """"related": a prerequisite of `main`, else another concept of its domain (problems that belong together).
    "cross_domain": a prerequisite half the time, otherwise a concept of another domain (breadth)."""
    prereqs = ks.prerequisites(main)
    domain = ks.concept(main).domain
    if pairing == "related":
        if prereqs:
            return rng.choice(prereqs)
        same = [c.id for c in ks.by_domain(domain) if c.id != main]
        return rng.choice(same) if same else None
    if pairing != "cross_domain":
        raise ValueError(f"concept pairing must be 'related' or 'cross_domain', got {pairing!r}")
    if prereqs and rng.random() < 0.5:
        return rng.choice(prereqs)
    others = [d for d in ks.domains() if d != domain]
    pool = ks.by_domain(rng.choice(others)) if others else ()
    return rng.choice(pool).id if pool else None


def concept_weights(ks: KnowledgeSystem, concept_counts: Counter) -> list[float]:
    """Untried concepts first (x2), then the least covered (1 / (1 + uses)); a concept whose prerequisites the
    data has never touched waits (x0.5), so combinations grow from what exists outward."""
    covered = {c for c, n in concept_counts.items() if n}
    out = []
    for c in ks.concepts:
        w = 1.0 / (1.0 + concept_counts.get(c.id, 0)) * (2.0 if c.id not in covered else 1.0)
        if c.prerequisites and covered and not set(c.prerequisites) & covered:
            w *= 0.5
        out.append(w)
    return out


def _pick_parent(rng: random.Random, parents: Sequence[Problem], operator: str, level: int,
                 used: Counter) -> Problem | None:
    want = level - 1 if operator == "sequential" else level
    near = [p for p in parents if (p.level or round(p.difficulty)) == want] or list(parents)
    if not near:
        return None
    least = min(used[p.id] for p in near)
    chosen = rng.choice([p for p in near if used[p.id] == least])
    used[chosen.id] += 1
    return chosen


def plan_lmm_round(round_no: int, count: int, seed: int, mean_difficulty: float, ks: KnowledgeSystem,
                   concept_counts: Counter, parents: Sequence[Problem] = (), levels_per_request: int = 3,
                   max_depth: int = 3, pairing: str = "related") -> list[LMMTask]:
    """Requests for `count` problems: seed tasks from concept combinations, each asking for `levels_per_request`
    levels (the last one only for what is left of `count`), and from round 2 on extensions of accepted
    model-made problems below `max_depth`, one problem each. Only seed tasks in a round of `count` = 3N at 3
    levels per request makes exactly N requests."""
    rng = random.Random(f"flywheel-lmm:{seed}:{round_no}")
    concepts = [c.id for c in ks.concepts]
    weights = concept_weights(ks, concept_counts)
    tools = [t.id for t in ks.tools]
    parents = sorted((p for p in parents if p.depth < max_depth), key=lambda p: p.id)
    used: Counter = Counter()
    tasks: list[LMMTask] = []
    planned = 0
    while planned < count:
        main = rng.choices(concepts, weights)[0]
        partner = _partner(rng, ks, main, pairing)
        combo = (main,) if partner in (None, main) else (main, partner)
        level = rng.choices(LEVELS, level_weights(mean_difficulty))[0]
        task = LMMTask(round_no, len(tasks), combo, tuple(rng.sample(tools, rng.choice((1, 2)))), level,
                       rng.getrandbits(62))
        op = rng.choices(list(OPERATOR_SHARES), list(OPERATOR_SHARES.values()))[0] if parents else "seed"
        parent = _pick_parent(rng, parents, op, level, used) if op != "seed" else None
        if parent is not None:
            task = replace(task, concepts=parent.concepts, tools=parent.tools, operator=op,
                           parent=replace(parent, image=None, edited_image=None))
        else:
            task = replace(task, levels=request_levels(level, min(levels_per_request, count - planned)))
        tasks.append(task)
        planned += len(task.levels)
    return tasks


FEW_SHOT = 2  # examples per proposal prompt
EXAMPLE_POOL = 64  # accepted problems kept for drawing examples (images stripped: only text goes in the prompt)


def example_pool(accepted: Sequence[Problem], seed: int = 0) -> tuple[Problem, ...]:
    """Few-shot examples for a round: accepted problems of earlier rounds, model-made ones first, varied by
    family and domain; in round 1 (nothing accepted yet) verified procedural problems stand in."""
    pool = sorted(accepted, key=lambda p: (p.proposer == "procedural", p.id))
    if not pool:
        from generators.procedural.catalog import FAMILIES
        from generators.propose import Task, propose

        rng = random.Random(f"flywheel-examples:{seed}")
        drafts = [propose(Task(0, i, f, rng.choice((2, 3)), rng.getrandbits(40)), FAMILIES)
                  for i, f in enumerate(sorted(FAMILIES))]
        pool = [d for d in drafts if isinstance(d, Problem)]
    seen, picked = set(), []
    for p in pool:  # one per (family, domain) first, then the rest
        if (p.family, p.domain) not in seen:
            seen.add((p.family, p.domain))
            picked.append(p)
    picked += [p for p in pool if p not in picked]
    return tuple(replace(p, image=None, edited_image=None) for p in picked[:EXAMPLE_POOL])


def examples_for(task: LMMTask, ks: KnowledgeSystem, pool: Sequence[Problem], k: int = FEW_SHOT) -> tuple[Problem, ...]:
    """`k` examples for one task, same-domain ones first, chosen by the task's seed (a resumed round asks the same)."""
    if not pool:
        return ()
    domain = ks.concept(task.concepts[0]).domain if task.concepts and task.concepts[0] in ks else ""
    rng = random.Random(task.seed)
    same = [p for p in pool if p.domain == domain]
    other = [p for p in pool if p.domain != domain]
    rng.shuffle(same)
    rng.shuffle(other)
    # Examples on the task's own canvas first (stable, so domain order holds within each group): another
    # canvas's coordinates invite figures that leave this one (each example states its canvas anyway).
    return tuple(sorted(same + other, key=lambda p: (p.width, p.height) != (WIDTH, HEIGHT))[:k])


def proposal_request(task: LMMTask, ks: KnowledgeSystem, examples: tuple[Problem, ...] = (),
                     max_tokens: int = 3072, temperature: float = 0.7) -> GenerationRequest:
    """The proposer request of one task; `max_tokens` is per problem asked for, so a three-level reply gets
    three times the room of one (a budget sized for one problem would cut the third off mid-JSON)."""
    if task.parent is not None:
        prompt = extend_prompt(task.parent, task.operator, task.difficulty)
    else:
        prompt = propose_prompt([ks.concept(c) for c in task.concepts if c in ks],
                                [ks.tool(t) for t in task.tools if t in ks], task.levels, examples,
                                width=WIDTH, height=HEIGHT)
    return GenerationRequest((Message.of("user", prompt),),
                             SamplingParams(max_tokens=max_tokens * len(task.levels), temperature=temperature,
                                            seed=task.seed % 2**31),
                             tag=task.tag)


def proposals(task: LMMTask, completion: Completion, ks: KnowledgeSystem, proposer: str) -> list[Problem | Rejection]:
    """Every candidate in the completion (at most one per level asked) as a problem at its level, or its
    failure as a rejection (raw text kept)."""
    if not completion.ok:
        raw = f"{task}\n{completion.error}"
        return [Rejection(raw_input_id(raw), task.round, "propose", "model_error", completion.error or "no text",
                          family="lmm", raw=raw)]
    text = completion.texts[0]
    parent = task.parent
    domain = parent.domain if parent else ks.concept(task.concepts[0]).domain
    width, height = (parent.width, parent.height) if parent else (WIDTH, HEIGHT)
    defaults = ProposalDefaults("lmm", task.concepts, task.tools, domain, task.difficulty, width, height, ks,
                                levels=() if parent else task.levels)
    found = parse_candidates(text, defaults)[:1] if parent else parse_candidates(text, defaults)
    share = max(1, len(found))
    cost = Cost(completion.prompt_tokens // share, completion.completion_tokens // share,
                {"propose": round(completion.seconds / share, 4)})
    lineage = {"operator": task.operator, "parent_id": parent.id if parent else None}
    depth = parent.depth + 1 if parent else 0
    out: list[Problem | Rejection] = []
    for d in found:
        if isinstance(d, ParseFailure):
            out.append(failure_to_rejection(d, task.round, key=task.tag, **lineage))
            continue
        p = to_problem(d, task.round, proposer, seed=task.seed, cost=cost, depth=depth, **lineage)
        if parent is not None and task.operator == "parallel" and p.render_code != parent.render_code:
            # same image by definition: a model that redrew the figure gets the parent's figure back
            p = replace(p, render_code=parent.render_code, width=parent.width, height=parent.height).with_id()
        out.append(p)
    return out
