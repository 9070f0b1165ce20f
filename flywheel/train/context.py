"""What a per-worker step receives: the live model, processor, optimizer and config, in one mutable holder.

Every stage's step has the same shape, `step(ctx, micro_batches) -> metrics`, where `micro_batches` is
`grad_accum` lists of Examples and the step does one optimizer update; loop.py calls it and knows nothing
else about the stage. State a stage needs across steps (GRPO's frozen reference model, a sandbox) goes into
`ctx.extras`, created by the step on first use; loop.py calls `close()` on every extras value that has one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flywheel.train.config import TrainConfig
from flywheel.train.formats import Example


@dataclass
class StepContext:
    """Live training objects (mutable on purpose: the optimizer and extras change every step)."""

    model: Any  # the policy (possibly DDP-wrapped under Ray Train; `ctx.module` is the bare model)
    processor: Any
    optimizer: Any
    scheduler: Any
    config: TrainConfig
    device: Any  # torch.device
    pad_id: int
    step: int = 0  # optimizer steps done before this one
    rank: int = 0
    world_size: int = 1
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def module(self) -> Any:
        """The model without a DistributedDataParallel wrapper (for generate, config, saving)."""
        return getattr(self.model, "module", self.model)

    def close(self) -> None:
        for value in self.extras.values():
            if callable(getattr(value, "close", None)):
                value.close()
        self.extras.clear()


StepFn = Callable[[StepContext, list[list[Example]]], dict[str, float]]
