"""The stage loop every worker runs: data stream -> step -> metrics and checkpoints, resuming where it stopped.

`run_worker` is the same function with or without Ray: `train_local` calls it in this process (CPU or one
GPU); ray_trainer.py calls it inside `train_loop_per_worker`. The stage's update is looked up in `STEPS`, the
one place a stage plugs in. Checkpoints hold the data cursor, so a resumed run continues with the examples the
killed one would have seen next. The final weights go to `<out>/model` (the next curriculum stage's input).
"""

from __future__ import annotations

import math
import random
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from flywheel.train import checkpoint
from flywheel.train.config import TrainConfig
from flywheel.train.context import StepContext, StepFn
from flywheel.train.formats import Example
from flywheel.train.grpo import grpo_step
from flywheel.train.metrics import MetricsLog, plot
from flywheel.train.modeling import enable_gradient_checkpointing, load_policy, pad_id
from flywheel.train.sft import sft_step

# The one place a stage's update plugs in.
STEPS: dict[str, StepFn] = {"perception": sft_step, "sft": sft_step, "rl": grpo_step}

# A source gives the example stream after `cursor` examples have been consumed (endless: epochs repeat).
Source = Callable[[int], Iterator[Example]]


def list_source(examples: list[Example], seed: int) -> Source:
    """Epoch e visits `examples` in a permutation seeded by (seed, e): the same cursor gives the same stream."""
    if not examples:
        raise ValueError("no training examples: check the data folder and the stage's SQL selection")

    def stream(cursor: int) -> Iterator[Example]:
        epoch, offset = divmod(cursor, len(examples))
        while True:
            order = list(range(len(examples)))
            random.Random(f"{seed}:{epoch}").shuffle(order)
            for i in order[offset:]:
                yield examples[i]
            epoch, offset = epoch + 1, 0

    return stream


def train_local(cfg: TrainConfig, data: str | Path, model: str, out: str | Path) -> dict[str, float]:
    """One process, no Ray: examples from the shards as a plain list."""
    from flywheel.train.data import examples

    return run_worker(cfg, model, out, list_source(examples(data, cfg), cfg.seed))


def run_worker(cfg: TrainConfig, model: str, out: str | Path, source: Source, *, rank: int = 0,
               world_size: int = 1, device: str | None = None, prepare: Callable | None = None,
               report: Callable[[dict], None] | None = None) -> dict[str, float]:
    """Train `cfg.steps` optimizer steps (minus those a checkpoint already holds); returns the last metrics.
    `prepare` wraps the model for distributed training (Ray's prepare_model); `report` gets every step's
    metrics (Ray's train.report). Only rank 0 writes checkpoints, metrics and the final model."""
    out = Path(out)
    resume = checkpoint.latest(out)
    ctx = make_context(cfg, str(resume.model) if resume else model, device or cfg.device, rank, world_size, prepare)
    # The KL reference is the stage's starting model, never the resumed weights (grpo.py loads it from here).
    ctx.extras["reference_path"] = model
    step, cursor = 0, 0
    if resume:
        checkpoint.restore(resume, ctx)
        step, cursor = resume.step, resume.cursor
    stream = source(cursor)
    log = MetricsLog(out, cfg.stage) if rank == 0 else None
    metrics: dict[str, float] = {}
    try:
        while step < cfg.steps:
            micro = [[next(stream) for _ in range(cfg.batch_size)] for _ in range(cfg.grad_accum)]
            ctx.step = step
            metrics = STEPS[cfg.stage](ctx, micro)
            step, cursor = step + 1, cursor + cfg.batch_size * cfg.grad_accum
            if log:
                log.log(step, metrics, console=step % cfg.log_every == 0 or step == cfg.steps)
                if _due(step, cfg):
                    checkpoint.save(out, step, cursor, ctx, keep=cfg.keep_checkpoints)
            if report:
                report({"step": step, **metrics})
    finally:
        ctx.close()
        if log:
            log.close()
    if rank == 0:
        _finish(out, ctx)
    return metrics


def make_context(cfg: TrainConfig, model: str, device: str, rank: int, world_size: int,
             prepare: Callable | None) -> StepContext:
    """Policy (gradient checkpointing if configured), optimizer (AdamW, no decay on biases and norms) and a
    warm-up + cosine schedule."""
    import torch

    torch.manual_seed(cfg.seed + rank)
    policy, processor = load_policy(model, device, cfg.dtype)
    if cfg.gradient_checkpointing:  # here, so the sft and rl steps (and the bench) all get it the same way
        enable_gradient_checkpointing(policy)
    decay = [p for n, p in policy.named_parameters() if p.requires_grad and p.ndim >= 2]
    rest = [p for n, p in policy.named_parameters() if p.requires_grad and p.ndim < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                                   {"params": rest, "weight_decay": 0.0}], lr=cfg.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, cfg))
    wrapped = prepare(policy) if prepare else policy
    return StepContext(model=wrapped, processor=processor, optimizer=optimizer, scheduler=scheduler, config=cfg,
                       device=policy.device, pad_id=pad_id(processor), rank=rank, world_size=world_size)


def lr_factor(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up over `warmup * steps`, then cosine from 1 down to `min_lr_ratio`.

    >>> from flywheel.train.config import TrainConfig
    >>> [round(lr_factor(s, TrainConfig(steps=10, warmup=0.2, min_lr_ratio=0.1)), 3) for s in (0, 1, 2, 10)]
    [0.5, 1.0, 1.0, 0.1]
    """
    warm = math.ceil(cfg.warmup * cfg.steps)
    if step < warm:
        return (step + 1) / warm
    progress = min(1.0, (step - warm) / max(1, cfg.steps - warm))
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def _due(step: int, cfg: TrainConfig) -> bool:
    return step == cfg.steps or (cfg.checkpoint_every > 0 and step % cfg.checkpoint_every == 0)


def _finish(out: Path, ctx: StepContext) -> None:
    """The final weights as `<out>/model` (replaced atomically), and the metrics plot."""
    tmp = out / ".tmp-model"
    shutil.rmtree(tmp, ignore_errors=True)
    checkpoint.save_model(tmp, ctx.module, ctx.processor)
    shutil.rmtree(out / "model", ignore_errors=True)
    tmp.rename(out / "model")
    if (out / "metrics.jsonl").is_file():
        plot(out / "metrics.jsonl")
