"""LMM propose stage: plan concept combinations, ask the proposer model, parse what comes back.

Planning draws a main concept weighted towards what the accepted data covers least, pairs it with a
prerequisite or a concept from another domain, adds one or two visual tools, and takes a difficulty level
from the round's ladder. Everything derives from (seed, round, earlier rounds), so a resumed round asks for
the same things. A completion that fails or cannot be parsed becomes a rejection with the raw text kept.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

from flywheel.knowledge import KnowledgeSystem
from flywheel.models.base import Completion, GenerationRequest, Message, SamplingParams
from flywheel.records import Cost, Problem, Rejection, raw_input_id
from generators.lmm.parse import ParseFailure, ProposalDefaults, failure_to_rejection, parse_candidates, to_problem
from generators.lmm.prompts import propose_prompt
from generators.propose import LEVELS, level_weights

WIDTH, HEIGHT = 600, 480


@dataclass(frozen=True)
class LMMTask:
    round: int
    index: int
    concepts: tuple[str, ...]
    tools: tuple[str, ...]
    difficulty: int
    seed: int

    @property
    def tag(self) -> str:
        return f"r{self.round}:t{self.index}"


def _partner(rng: random.Random, ks: KnowledgeSystem, main: str) -> str | None:
    """A prerequisite half the time (depth), otherwise a concept of another domain (breadth)."""
    prereqs = ks.prerequisites(main)
    if prereqs and rng.random() < 0.5:
        return rng.choice(prereqs)
    domain = ks.concept(main).domain
    others = [d for d in ks.domains() if d != domain]
    pool = ks.by_domain(rng.choice(others)) if others else ()
    return rng.choice(pool).id if pool else None


def plan_lmm_round(round_no: int, count: int, seed: int, mean_difficulty: float, ks: KnowledgeSystem,
                   concept_counts: Counter) -> list[LMMTask]:
    rng = random.Random(f"flywheel-lmm:{seed}:{round_no}")
    concepts = [c.id for c in ks.concepts]
    weights = [1.0 / (1.0 + concept_counts.get(c, 0)) for c in concepts]
    tools = [t.id for t in ks.tools]
    tasks = []
    for i in range(count):
        main = rng.choices(concepts, weights)[0]
        partner = _partner(rng, ks, main)
        combo = (main,) if partner in (None, main) else (main, partner)
        tasks.append(LMMTask(round_no, i, combo, tuple(rng.sample(tools, rng.choice((1, 2)))),
                             rng.choices(LEVELS, level_weights(mean_difficulty))[0], rng.getrandbits(62)))
    return tasks


def proposal_request(task: LMMTask, ks: KnowledgeSystem, examples: tuple[Problem, ...] = (),
                     max_tokens: int = 3072, temperature: float = 0.7) -> GenerationRequest:
    prompt = propose_prompt([ks.concept(c) for c in task.concepts], [ks.tool(t) for t in task.tools],
                            task.difficulty, examples, width=WIDTH, height=HEIGHT)
    return GenerationRequest((Message.of("user", prompt),),
                             SamplingParams(max_tokens=max_tokens, temperature=temperature, seed=task.seed % 2**31),
                             tag=task.tag)


def proposals(task: LMMTask, completion: Completion, ks: KnowledgeSystem, proposer: str) -> list[Problem | Rejection]:
    """Every candidate in the completion as a problem, or its failure as a rejection (raw text kept)."""
    if not completion.ok:
        raw = f"{task}\n{completion.error}"
        return [Rejection(raw_input_id(raw), task.round, "propose", "model_error", completion.error or "no text",
                          family="lmm", raw=raw)]
    text = completion.texts[0]
    domain = ks.concept(task.concepts[0]).domain
    defaults = ProposalDefaults("lmm", task.concepts, task.tools, domain, task.difficulty, WIDTH, HEIGHT, ks)
    found = parse_candidates(text, defaults)
    share = max(1, len(found))
    cost = Cost(completion.prompt_tokens // share, completion.completion_tokens // share,
                {"propose": round(completion.seconds / share, 4)})
    return [failure_to_rejection(d, task.round, key=task.tag) if isinstance(d, ParseFailure)
            else to_problem(d, task.round, proposer, seed=task.seed, cost=cost) for d in found]
