"""The supervised step (perception alignment and cold-start SFT): cross-entropy on the model's own tokens.

Plain PyTorch, no Ray: `sft_step(ctx, micro_batches)` encodes, runs forward/backward per micro-batch and takes
one optimizer step. The loss is normalised by the number of loss tokens in the *whole* step (all
micro-batches), so gradient accumulation gives the same update as one big batch. Prompt and sandbox tokens never
count (encode.py's loss mask). loop.py calls it through its STEPS dict; tests in tests/test_train_sft.py.
"""

from __future__ import annotations

import time

from flywheel.train.context import StepContext
from flywheel.train.encode import IGNORE, TooLong, collate, encode, model_inputs, to_device
from flywheel.train.formats import Example


def encode_batch(ctx: StepContext, examples: list[Example]) -> tuple[dict | None, int]:
    """A collated batch on the device (None if every example was too long) and how many were skipped."""
    encoded, skipped = [], 0
    for example in examples:
        try:
            encoded.append(encode(ctx.processor, example, ctx.config.max_length))
        except TooLong:
            skipped += 1
    if not encoded:
        return None, skipped
    return to_device(collate(encoded, ctx.pad_id), ctx.device, ctx.module.dtype), skipped


def token_loss_sum(model, batch: dict):
    """Sum of next-token cross-entropy over positions whose *target* is a model token."""
    import torch

    logits = model(**model_inputs(batch)).logits[:, :-1].float()
    targets = batch["labels"][:, 1:]
    return torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=IGNORE, reduction="sum")


def sft_step(ctx: StepContext, micro_batches: list[list[Example]]) -> dict[str, float]:
    """One optimizer update over `micro_batches`; returns loss (mean per loss token), tokens, lr, grad norm."""
    import torch

    start = time.perf_counter()
    ctx.model.train()
    batches, skipped = [], 0
    for examples in micro_batches:
        batch, n = encode_batch(ctx, examples)
        skipped += n
        if batch is not None:
            batches.append(batch)
    # Count loss tokens across the step (and across workers) first: each micro-batch's sum is divided by it.
    count = torch.tensor(float(sum(int((b["labels"][:, 1:] != IGNORE).sum()) for b in batches)), device=ctx.device)
    if ctx.world_size > 1:
        torch.distributed.all_reduce(count)
    total, tokens = 0.0, 0
    for batch in batches:
        loss = token_loss_sum(ctx.model, batch) / count.clamp(min=1) * ctx.world_size  # DDP averages grads
        loss.backward()
        total += float(loss.detach()) / ctx.world_size  # this worker's share of the global mean
        tokens += int(batch["attention_mask"].sum())
    if ctx.world_size > 1:  # log the global mean, not this worker's share of it
        summed = torch.tensor(total, device=ctx.device)
        torch.distributed.all_reduce(summed)
        total = float(summed)
    norm = _clip(ctx)
    lr = ctx.scheduler.get_last_lr()[0]  # the rate this update uses (stepping the scheduler moves it on)
    ctx.optimizer.step()
    ctx.scheduler.step()
    ctx.optimizer.zero_grad(set_to_none=True)
    seconds = time.perf_counter() - start
    return {"loss": total, "loss_tokens": float(count), "tokens": float(tokens), "skipped": float(skipped),
            "grad_norm": norm, "lr": lr, "tokens_per_s": tokens / max(seconds, 1e-9),
            "step_s": seconds}


def _clip(ctx: StepContext) -> float:
    import torch

    params = [p for p in ctx.model.parameters() if p.grad is not None]
    if not params:
        return 0.0
    limit = ctx.config.max_grad_norm if ctx.config.max_grad_norm > 0 else float("inf")
    return float(torch.nn.utils.clip_grad_norm_(params, limit))
