"""Requests to reviewing models and the cost they add to a problem (layer L1, shared by generators/ and
verifiers/): one user turn holding the images first and then the prompt, and tokens and seconds summed per
stage into `Problem.cost` so every model call shows up in the round's `cost_per_accepted`.
"""

from __future__ import annotations

from dataclasses import replace

from flywheel.models.base import Completion, GenerationRequest, Message, SamplingParams
from flywheel.records import Cost, Problem


def request(prompt: str, images: tuple[bytes, ...], tag: str, max_tokens: int, temperature: float,
            seed: int | None = None) -> GenerationRequest:
    content = Message.of("user", prompt, *images)
    return GenerationRequest((content,), SamplingParams(max_tokens=max_tokens, temperature=temperature, seed=seed),
                             tag=tag)


def add_cost(p: Problem, c: Completion, stage: str) -> Problem:
    seconds = {**p.cost.seconds, stage: round(p.cost.seconds.get(stage, 0.0) + c.seconds, 4)}
    return replace(p, cost=Cost(p.cost.prompt_tokens + c.prompt_tokens, p.cost.completion_tokens + c.completion_tokens,
                                seconds))
