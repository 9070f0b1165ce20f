"""GRPO for the RL stage: the loss as small tensor functions, and the per-worker step that uses them.

One step: roll out G samples per prompt (rollout.py, sandbox in the loop), score them (rewards.py), turn the
rewards into group-relative advantages, re-encode each transcript exactly as SFT does (encode.py: loss only
on the model's own tokens, never the prompt or sandbox output), and take one clipped policy-gradient update
with an optional k3 KL term to a frozen reference. The step is plain PyTorch (no Ray), so it runs and can be
timed alone on CPU or one GPU. Tests: tests/test_train_grpo.py; benchmark: bench/grpo_step.py.
"""

from __future__ import annotations

import copy
import logging
import os
import time

import torch

from flywheel.models.base import ModelBackend
from flywheel.sandbox import Sandbox, SandboxLimits
from flywheel.train.config import TrainConfig
from flywheel.train.context import StepContext
from flywheel.train.encode import TooLong, collate, encode, model_inputs, to_device
from flywheel.train.formats import Example
from flywheel.train.modeling import load_policy
from flywheel.train.rewards import REWARDS, score
from flywheel.train.rollout import PolicyBackend, Rollout, RolloutSettings, rollout_group, sync_weights

log = logging.getLogger(__name__)

# A group whose samples all scored the same has zero spread; eps keeps the division finite (its advantages
# are then exactly zero, so it contributes no gradient, only KL).
STD_EPS = 1e-4


def group_advantages(rewards: torch.Tensor, group_size: int, scale_by_std: bool = True,
                     eps: float = STD_EPS) -> torch.Tensor:
    """Each sample's reward minus its group's mean, divided by the group's (sample) standard deviation.

    `rewards` is flat, prompt-major: samples 0..G-1 belong to prompt 0. `scale_by_std=False` keeps only the
    centring (Dr. GRPO's argument: the division over-weights groups whose rewards barely differ).
    >>> [round(a, 3) for a in group_advantages(torch.tensor([1.0, 0.0, 2.0, 2.0]), 2).tolist()]
    [0.707, -0.707, 0.0, 0.0]
    """
    if rewards.numel() % group_size:
        raise ValueError(f"{rewards.numel()} rewards do not split into groups of {group_size}")
    r = rewards.float().view(-1, group_size)
    centred = r - r.mean(dim=1, keepdim=True)
    if scale_by_std and group_size > 1:
        centred = centred / (r.std(dim=1, keepdim=True) + eps)
    return centred.view(-1)


def token_logprobs(logits: torch.Tensor, input_ids: torch.Tensor, chunk: int = 8) -> torch.Tensor:
    """log p(token t | tokens < t) for t = 1..T-1, as a [B, T-1] float32 tensor.

    Computed `chunk` rows at a time in float32: a [B, T, V] float copy of the logits is the largest tensor of
    the step for a real vocabulary (152k for Qwen), and bf16 log-softmax loses the small differences between
    old and new log-probs that the ratio is made of.
    """
    targets = input_ids[:, 1:]
    rows = []
    for start in range(0, logits.shape[0], chunk):
        lg = logits[start:start + chunk, :-1].float()
        picked = lg.gather(-1, targets[start:start + chunk, :, None]).squeeze(-1)
        rows.append(picked - torch.logsumexp(lg, dim=-1))
    return torch.cat(rows)


@torch.no_grad()
def token_entropy(logits: torch.Tensor, chunk: int = 8) -> torch.Tensor:
    """Entropy of each next-token distribution, [B, T-1] (a metric only: no gradient)."""
    rows = []
    for start in range(0, logits.shape[0], chunk):
        lg = logits[start:start + chunk, :-1].float()
        logp = torch.log_softmax(lg, dim=-1)
        rows.append(-(logp.exp() * logp).sum(-1))
    return torch.cat(rows)


def kl_k3(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """Per-token estimate of KL(policy || reference) from sampled tokens (Schulman's k3): exp(d) - d - 1 with
    d = ref - policy; never negative, unbiased, and lower-variance than log-ratio alone.
    >>> round(kl_k3(torch.tensor([0.0]), torch.tensor([-1.0])).item(), 6)
    0.367879
    """
    d = ref_logp - logp
    return torch.exp(d) - d - 1


def policy_loss(logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor,
                eps_low: float = 0.2, eps_high: float = 0.2, ref_logp: torch.Tensor | None = None,
                kl_coef: float = 0.0, n_tokens: float | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """The clipped GRPO objective, negated, normalised per token: sum over every loss token / `n_tokens`.

    `logp`, `old_logp`, `ref_logp` and `mask` are [B, T]; `advantages` is [B] (one per sequence). `n_tokens`
    defaults to the mask's sum; pass the whole batch's count when this is one micro-batch of several, so the
    accumulated gradient equals the full batch's (each token weighs the same, whatever its sequence's length).
    `eps_low != eps_high` gives the asymmetric ("clip-higher") range [1 - eps_low, 1 + eps_high].
    """
    mask = mask.to(logp.dtype)
    n = float(n_tokens) if n_tokens is not None else float(mask.sum().clamp(min=1).item())
    adv = advantages.to(logp.dtype)[:, None]
    ratio = torch.exp(logp - old_logp)
    clipped = ratio.clamp(1 - eps_low, 1 + eps_high)
    per_token = -torch.minimum(ratio * adv, clipped * adv)
    stats: dict[str, float] = {}
    if ref_logp is not None and kl_coef:
        kl = kl_k3(logp, ref_logp)
        per_token = per_token + kl_coef * kl
        stats["kl"] = float((kl.detach() * mask).sum() / n)
    loss = (per_token * mask).sum() / n
    was_clipped = (ratio.detach() != clipped.detach()) & (adv != 0)
    stats["clip_fraction"] = float((was_clipped.to(mask.dtype) * mask).sum() / n)
    return loss, stats


# -- the per-worker step -----------------------------------------------------------------------------------


def grpo_step(ctx: StepContext, micro_batches: list[list[Example]]) -> dict[str, float]:
    """One GRPO update: roll out `group_size` samples for every prompt of every micro-batch (one batched
    generation), score and normalise within each group, then forward/backward per micro-batch and step.

    On-policy with one update per batch (the paper's setting), so the "old" log-probs are the current ones
    detached: the ratio is 1 in value and its gradient is the policy gradient; clipping matters only when
    `old_logp` comes from an earlier policy (policy_loss takes it as an argument for that case).
    """
    cfg = ctx.config
    start = time.perf_counter()
    examples = [ex for micro in micro_batches for ex in micro]
    sandbox = _sandbox(ctx) if cfg.max_turns > 1 else None  # one turn never runs code
    rollouts = rollout_group(_backend(ctx), sandbox, examples, _settings(cfg))
    rollout_s = time.perf_counter() - start
    group = [ex for ex in examples for _ in range(cfg.group_size)]
    functions = ctx.extras.get("rewards", REWARDS)  # a caller may plug in its own reward functions here
    scores = [score(r, ex, cfg.rewards, functions) for r, ex in zip(rollouts, group, strict=True)]
    totals = torch.tensor([s["total"] for s in scores])
    advantages = group_advantages(totals, cfg.group_size, cfg.scale_rewards)
    per_micro = len(rollouts) // len(micro_batches)
    chunks = [(rollouts[i:i + per_micro], group[i:i + per_micro], advantages[i:i + per_micro])
              for i in range(0, len(rollouts), per_micro)]
    batches, skipped = [], 0
    for rs, exs, adv in chunks:
        batch, adv, n = _encode_rollouts(ctx, rs, exs, adv)
        skipped += n
        if batch is not None:
            batches.append((batch, adv))
    update = _update(ctx, batches)
    seconds = time.perf_counter() - start
    sync_weights(_backend(ctx), ctx.module, ctx.extras.get("sync_dir"))
    return {**_reward_metrics(scores), **update, "skipped": float(skipped), "rollout_s": rollout_s,
            "step_s": seconds, "tokens_per_s": update["tokens"] / max(seconds, 1e-9),
            "tool_calls": sum(len(r.calls) for r in rollouts) / len(rollouts),
            "answered": sum(r.finish == "answer" for r in rollouts) / len(rollouts),
            "lr": ctx.scheduler.get_last_lr()[0]}


def _encode_rollouts(ctx: StepContext, rollouts: list[Rollout], examples: list[Example],
                     advantages: torch.Tensor) -> tuple[dict | None, torch.Tensor, int]:
    """Collated transcripts on the device plus the advantages of those that fit (too long ones are dropped)."""
    encoded, kept = [], []
    for k, (rollout, example) in enumerate(zip(rollouts, examples, strict=True)):
        try:
            encoded.append(encode(ctx.processor, rollout.as_example(example), ctx.config.max_length))
            kept.append(k)
        except TooLong:
            continue
    if not encoded:
        return None, advantages[:0], len(rollouts)
    batch = to_device(collate(encoded, ctx.pad_id), ctx.device, ctx.module.dtype)
    return batch, advantages[kept].to(ctx.device), len(rollouts) - len(kept)


def _update(ctx: StepContext, batches: list[tuple[dict, torch.Tensor]]) -> dict[str, float]:
    """Forward/backward each micro-batch with the loss normalised by the step's loss-token count, then one
    clipped optimizer step. Returns loss, KL, entropy, clip fraction, lengths, tokens and the grad norm."""
    cfg = ctx.config
    start = time.perf_counter()
    ctx.model.train()
    n_tokens = float(sum(int(b["loss_mask"][:, 1:].sum()) for b, _ in batches))
    if ctx.world_size > 1:  # normalise by every worker's tokens; DDP then averages, hence the * world_size below
        count = torch.tensor(n_tokens, device=ctx.device)
        torch.distributed.all_reduce(count)
        n_tokens = float(count)
    reference = _reference(ctx) if cfg.kl_coef else None
    sums = {"loss": 0.0, "kl": 0.0, "entropy": 0.0, "clip_fraction": 0.0}
    tokens, rows = 0, 0
    for batch, adv in batches:
        inputs, keep = model_inputs(batch), _logits_to_keep(batch["loss_mask"])
        ids, mask = batch["input_ids"][:, -keep:], batch["loss_mask"][:, -keep + 1:]
        logits = ctx.model(**inputs, logits_to_keep=keep, use_cache=False).logits
        logp = token_logprobs(logits, ids)
        ref_logp = None
        if reference is not None:
            with torch.no_grad():
                ref_logp = token_logprobs(reference(**inputs, logits_to_keep=keep, use_cache=False).logits, ids)
        loss, stats = policy_loss(logp, logp.detach(), adv, mask, cfg.clip_eps_low, cfg.clip_eps_high,
                                  ref_logp, cfg.kl_coef, n_tokens=max(n_tokens, 1.0))
        if n_tokens:
            (loss * ctx.world_size).backward()
        sums["loss"] += float(loss.detach())
        sums["kl"] += stats.get("kl", 0.0)
        sums["clip_fraction"] += stats["clip_fraction"]
        sums["entropy"] += float((token_entropy(logits) * mask).sum()) / max(n_tokens, 1.0)
        tokens += int(batch["attention_mask"].sum())
        rows += batch["input_ids"].shape[0]
    norm = _clip_and_step(ctx)
    return {**sums, "grad_norm": norm, "tokens": float(tokens), "loss_tokens": n_tokens,
            "response_length": n_tokens / max(rows, 1), "update_s": time.perf_counter() - start}


def _logits_to_keep(loss_mask: torch.Tensor) -> int:
    """How many final positions need logits: from the one before the batch's first loss token to the end.
    The prompt (system text, question, image tokens) is most of a sequence, and the vocabulary projection of
    its positions (152k columns for Qwen) would be the largest cost of the forward and of its memory."""
    rows = loss_mask.any(dim=1)
    if not rows.any():
        return loss_mask.shape[1]
    first = int(loss_mask[rows].float().argmax(dim=1).min())
    return min(loss_mask.shape[1], loss_mask.shape[1] - first + 1)


def _clip_and_step(ctx: StepContext) -> float:
    params = [p for p in ctx.model.parameters() if p.grad is not None]
    norm = 0.0
    if params:
        limit = ctx.config.max_grad_norm if ctx.config.max_grad_norm > 0 else float("inf")
        norm = float(torch.nn.utils.clip_grad_norm_(params, limit))
    ctx.optimizer.step()
    ctx.scheduler.step()
    ctx.optimizer.zero_grad(set_to_none=True)
    return norm


def _reward_metrics(scores: list[dict[str, float]]) -> dict[str, float]:
    """Mean of each reward component ("reward/accuracy", ...) and of the total, plus the total's spread."""
    totals = torch.tensor([s["total"] for s in scores])
    out = {f"reward/{k}": sum(s[k] for s in scores) / len(scores) for k in scores[0] if k != "total"}
    return {**out, "reward": float(totals.mean()), "reward_std": float(totals.std()) if len(scores) > 1 else 0.0}


def _settings(cfg: TrainConfig) -> RolloutSettings:
    return RolloutSettings(group_size=cfg.group_size, max_turns=cfg.max_turns, max_new_tokens=cfg.max_new_tokens,
                           max_length=cfg.max_length, temperature=cfg.temperature, top_p=cfg.top_p,
                           limits=SandboxLimits(wall_s=cfg.tool_wall_s))


def _backend(ctx: StepContext) -> ModelBackend:
    """The rollout engine, made on first use: the live policy, unless a caller put another one in extras."""
    if "backend" not in ctx.extras:
        ctx.extras["backend"] = PolicyBackend(ctx.module, ctx.processor, ctx.config.max_length)
    return ctx.extras["backend"]


def _sandbox(ctx: StepContext) -> Sandbox:
    if "sandbox" not in ctx.extras:
        ctx.extras["sandbox"] = Sandbox(workers=min(4, os.cpu_count() or 1))
    return ctx.extras["sandbox"]


def _reference(ctx: StepContext):
    """The frozen reference policy for the KL term, made on first use. It must be the stage's *starting*
    weights: loaded from `extras["reference_path"]` when the loop provides it (needed after a resume), else
    a copy of the policy as it is now, which is the start when this is step 0."""
    if "reference" not in ctx.extras:
        path = ctx.extras.get("reference_path")
        if path:
            ref, _ = load_policy(str(path), str(ctx.device), ctx.config.dtype)
        else:
            if ctx.step:
                log.warning("grpo: no reference_path at step %d; the KL anchors to the resumed weights", ctx.step)
            ref = copy.deepcopy(ctx.module)
        ctx.extras["reference"] = ref.eval().requires_grad_(False)
    return ctx.extras["reference"]
