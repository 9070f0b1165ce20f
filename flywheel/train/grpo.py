"""GRPO for the RL stage: the loss as small tensor functions, and the per-worker step that uses them.

One step: roll out G samples per prompt (rollout.py, sandbox in the loop), score them (rewards.py), turn the
rewards into group-relative advantages, re-encode each transcript exactly as SFT does (encode.py: loss only
on the model's own tokens, never the prompt or sandbox output), and take one clipped policy-gradient update
with an optional k3 KL term to a frozen reference. The step is plain PyTorch (no Ray), so it runs and can be
timed alone on CPU or one GPU. Tests: tests/test_train_grpo.py; benchmark: bench/grpo_step.py.
"""

from __future__ import annotations

import torch

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
