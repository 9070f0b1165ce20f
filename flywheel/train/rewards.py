"""Rewards for the RL stage: plain functions `(rollout, example) -> float`, wired in one dict with weights.

The paper's reward (V-Thinker eq. 7) is R = R_acc + 0.5 R_format + 0.3 1[R_acc > 0] R_tool: the answer
decides, the format is a smaller bonus, and drawing on the figure only pays when the answer is also right
(otherwise a policy learns to scribble for reward). Each function reads the transcript through
`formats.parse_response`, so it sees only the model's own text, never the sandbox's. To add a reward, write
a function and add it to `REWARDS`; weights come from the training config. Tests: tests/test_train_grpo.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from flywheel.train.formats import Example, parse_response
from flywheel.train.rollout import Rollout
from verifiers.equivalence import KINDS, equivalent

Reward = Callable[[Rollout, Example], float]

DEFAULT_WEIGHTS = {"accuracy": 1.0, "format": 0.5, "tool_use": 0.3}
# Rewards that count only when the answer is right (the paper's indicator on R_tool).
GATED_ON_ACCURACY = ("tool_use",)


def format_reward(rollout: Rollout, example: Example) -> float:
    """1 when the model's text is well formed: exactly one `<answer>` block, at the end, and every `<code>`
    and `<think>` tag closed (see `formats.parse_response`); else 0."""
    return 1.0 if parse_response(rollout.text).well_formed else 0.0


def accuracy_reward(rollout: Rollout, example: Example) -> float:
    """1 when the `<answer>` equals the reference under the project's equivalence checker; else 0. The
    problem's answer kind picks the comparison (a point, a choice letter, an expression...)."""
    answer = parse_response(rollout.text).answer
    if answer is None or not example.answer:
        return 0.0
    kind = example.answer_kind if example.answer_kind in KINDS else "auto"
    return 1.0 if equivalent(example.answer, answer, kind).equal else 0.0


def tool_use_reward(rollout: Rollout, example: Example) -> float:
    """1 when at least one `<code>` block ran without error and changed the figure; else 0. Code that only
    prints, or fails, earns nothing here (it still helps indirectly if it leads to the right answer)."""
    return 1.0 if any(c.status == "ok" and c.changed_image for c in rollout.calls) else 0.0


REWARDS: dict[str, Reward] = {"accuracy": accuracy_reward, "format": format_reward, "tool_use": tool_use_reward}


def score(rollout: Rollout, example: Example, weights: Mapping[str, float] | None = None,
          rewards: Mapping[str, Reward] = REWARDS) -> dict[str, float]:
    """Each weighted component's raw value and their weighted sum under "total".

    Components named in `GATED_ON_ACCURACY` add to the total only when accuracy is positive; a weight of 0
    (or a missing name) skips that function entirely, so an expensive reward costs nothing when off.
    >>> from flywheel.train.formats import Segment
    >>> ex = Example("e", "rl", (Segment("prompt", "1+1?"),), "2", "number")
    >>> r = Rollout("e", ex.segments + (Segment("model", "<answer>2</answer>"),))
    >>> score(r, ex)
    {'accuracy': 1.0, 'format': 1.0, 'tool_use': 0.0, 'total': 1.5}
    """
    weights = DEFAULT_WEIGHTS if weights is None else weights
    unknown = set(weights) - set(rewards)
    if unknown:
        raise ValueError(f"no reward function named {sorted(unknown)}; known: {sorted(rewards)}")
    values = {name: float(rewards[name](rollout, example)) for name, w in weights.items() if w}
    accurate = values.get("accuracy", 1.0) > 0  # without an accuracy reward nothing is gated
    total = sum(weights[name] * v for name, v in values.items() if accurate or name not in GATED_ON_ACCURACY)
    return {**values, "total": total}
