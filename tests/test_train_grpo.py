"""GRPO: the loss against hand-computed numbers, masking on real token ids, rewards on hand-written responses,
multi-turn rollouts through the real sandbox, a run that learns, and the rl stage from flywheel shards.

Models are the tiny random Qwen2.5-VL built in a fixture; the only scripted part is a policy that returns canned
text through the model backend interface (STYLE.md §12). Run: `.venv/bin/python -m pytest -q tests/test_train_grpo.py`.
"""

from __future__ import annotations

import io
import math
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from PIL import Image, ImageDraw

from flywheel.models.base import Completion, GenerationRequest
from flywheel.records import NamedElement, SolutionStep, make_problem
from flywheel.sandbox import Sandbox
from flywheel.train.config import train_config
from flywheel.train.context import StepContext
from flywheel.train.encode import collate, encode
from flywheel.train.formats import Example, Segment, prompt_segment, sandbox_segment
from flywheel.train.grpo import _logits_to_keep, group_advantages, grpo_step, kl_k3, policy_loss, token_logprobs
from flywheel.train.rewards import accuracy_reward, format_reward, score, tool_use_reward
from flywheel.train.rollout import (
    PolicyBackend,
    Rollout,
    RolloutSettings,
    ToolCall,
    from_messages,
    rollout_group,
    to_messages,
)

# Tool code in the flywheel's own style: load image.png into pixel axes, draw, leave the figure open.
DRAW = """import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt
img = plt.imread('image.png')
fig = plt.figure(figsize=(2.8, 2.24), dpi=100)
ax = fig.add_axes([0, 0, 1, 1])
ax.imshow(img, extent=(0, 280, 224, 0))
ax.set_xlim(0, 280); ax.set_ylim(224, 0); ax.axis('off')
ax.plot([120, 125], [40, 186], color='red', linewidth=3)
print('altitude drawn')"""


def _png(line: bool = False) -> bytes:
    image = Image.new("RGB", (280, 224), "white")
    draw = ImageDraw.Draw(image)
    draw.polygon([(40, 180), (230, 190), (120, 40)], outline="black")
    if line:
        draw.line([(120, 40), (125, 186)], fill="red", width=3)
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def _example(answer: str = "146", kind: str = "number", image: bool = True) -> Example:
    return Example("q1", "rl", (prompt_segment("How long is the altitude from C?", _png() if image else None),),
                   answer, kind)


def _rollout(*model_texts: str, calls: tuple[ToolCall, ...] = ()) -> Rollout:
    """A transcript alternating the given model texts with sandbox outputs."""
    segments = [_example().prompt]
    for i, text in enumerate(model_texts):
        if i:
            segments.append(sandbox_segment("ok"))
        segments.append(Segment("model", text))
    return Rollout("q1", tuple(segments), calls)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """The tiny model's matrices are too small to gain from intra-op threads; on a busy 2-core machine the
    threads' synchronisation made the toy GRPO run 4x slower (59 s vs 237 s measured)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    from flywheel.models.tiny import build_tiny_model

    return str(build_tiny_model(tmp_path_factory.mktemp("tiny") / "model"))


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=2) as sb:
        yield sb


def _context(tiny: str, **overrides) -> StepContext:
    from flywheel.train.modeling import load_policy, pad_id

    cfg = train_config(stage="rl", **overrides)
    torch.manual_seed(cfg.seed)
    model, processor = load_policy(tiny)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0)
    return StepContext(model, processor, optimizer, scheduler, cfg, model.device, pad_id(processor))


# -- the loss, by hand ---------------------------------------------------------------------------------------


def test_group_advantages_by_hand():
    rewards = torch.tensor([1.0, 0.0, 0.0, 1.0, 2.0, 2.0, 2.0, 2.0])
    std = math.sqrt(4 * 0.25 / 3)  # sample std of (1, 0, 0, 1)
    expected = [0.5 / (std + 1e-4), -0.5 / (std + 1e-4), -0.5 / (std + 1e-4), 0.5 / (std + 1e-4), 0, 0, 0, 0]
    assert group_advantages(rewards, 4).tolist() == pytest.approx(expected, abs=1e-6)
    assert group_advantages(rewards, 4, scale_by_std=False).tolist() == pytest.approx([.5, -.5, -.5, .5, 0, 0, 0, 0])
    assert group_advantages(rewards, 2).tolist()[4:] == [0.0] * 4  # equal rewards: no signal, no NaN
    with pytest.raises(ValueError):
        group_advantages(rewards, 3)


def _fixed():
    """Two sequences, three positions; the last position of row 0 is masked out."""
    logp = torch.log(torch.tensor([[0.5, 0.5, 0.2], [0.45, 0.9, 0.1]])).requires_grad_(True)
    old = torch.log(torch.tensor([[0.4, 0.5, 0.5], [0.5, 0.6, 0.1]]))
    adv = torch.tensor([1.0, -2.0])
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    return logp, old, adv, mask


def test_policy_loss_matches_hand_computation():
    logp, old, adv, mask = _fixed()
    # ratios: row 0 = 1.25, 1, (0.4 masked); row 1 = 0.9, 1.5, 1. Clip range [0.8, 1.2].
    # per token -min(r A, clip(r) A): row 0: -1.2 (clipped), -1; row 1: 1.8, 3 (A < 0: the unclipped 1.5 is
    # the pessimistic one), 2. Sum 4.6 over 5 tokens.
    loss, stats = policy_loss(logp, old, adv, mask, 0.2, 0.2)
    assert loss.item() == pytest.approx(4.6 / 5)
    assert stats["clip_fraction"] == pytest.approx(2 / 5)  # (0,0) and (1,1) are outside the range
    loss.backward()
    # d loss / d logp = -A r / n where the unclipped branch is active, 0 where the clipped one is (or masked)
    expected = [[0.0, -1 / 5, 0.0], [2 * 0.9 / 5, 2 * 1.5 / 5, 2 * 1.0 / 5]]
    assert logp.grad.tolist() == [pytest.approx(row) for row in expected]


def test_asymmetric_clip_and_kl_term():
    logp, old, adv, mask = _fixed()
    loss, _ = policy_loss(logp, old, adv, mask, eps_low=0.2, eps_high=0.3)  # 1.25 now inside [0.8, 1.3]
    assert loss.item() == pytest.approx((-1.25 - 1 + 1.8 + 3 + 2) / 5)
    ref = logp.detach() + math.log(2.0)  # reference twice as likely everywhere: k3 = 2 - ln 2 - 1 per token
    loss, stats = policy_loss(logp, old, adv, mask, 0.2, 0.2, ref_logp=ref, kl_coef=0.1)
    assert stats["kl"] == pytest.approx(1 - math.log(2))
    assert loss.item() == pytest.approx(4.6 / 5 + 0.1 * (1 - math.log(2)))
    assert kl_k3(torch.zeros(3), torch.zeros(3)).tolist() == [0.0, 0.0, 0.0]
    assert (kl_k3(torch.randn(50), torch.randn(50)) >= 0).all()


def test_token_normalisation_over_micro_batches_equals_the_full_batch():
    logp, old, adv, mask = _fixed()
    full, _ = policy_loss(logp, old, adv, mask)
    parts = [policy_loss(logp[i:i + 1], old[i:i + 1], adv[i:i + 1], mask[i:i + 1], n_tokens=5)[0] for i in (0, 1)]
    assert (parts[0] + parts[1]).item() == pytest.approx(full.item())
    # per-token, not per-sequence: the longer row weighs 3/5, not 1/2
    assert parts[1].item() == pytest.approx((1.8 + 3 + 2) / 5)


def test_logits_to_keep_starts_one_before_the_first_loss_token():
    assert _logits_to_keep(torch.tensor([[0, 0, 0, 1, 1], [0, 0, 0, 0, 1]])) == 3
    assert _logits_to_keep(torch.tensor([[0, 1, 1]])) == 3
    assert _logits_to_keep(torch.zeros(2, 4, dtype=torch.long)) == 4


def test_token_logprobs_are_log_softmax_of_the_next_token():
    torch.manual_seed(0)
    logits, ids = torch.randn(5, 7, 11), torch.randint(0, 11, (5, 7))
    expected = torch.log_softmax(logits, -1)[:, :-1].gather(-1, ids[:, 1:, None]).squeeze(-1)
    assert torch.allclose(token_logprobs(logits, ids, chunk=2), expected, atol=1e-6)


# -- masking on real tokens ----------------------------------------------------------------------------------


def test_loss_reaches_only_model_tokens(tiny):
    """Encode a real multi-turn transcript; the loss gradient is zero at every position that predicts a
    prompt or sandbox token (including the returned image's tokens) and non-zero at model positions."""
    from flywheel.train.modeling import load_policy, pad_id

    model, processor = load_policy(tiny)
    ex = _example()
    transcript = replace(ex, segments=(ex.prompt, Segment("model", "Draw it.\n<code>\nprint(1)\n</code>"),
                                       sandbox_segment("altitude drawn", _png(line=True)),
                                       Segment("model", "So <answer>146</answer>")))
    enc = encode(processor, transcript, 2048)
    batch = collate([enc], pad_id(processor))
    logits = model(**{k: batch[k] for k in ("input_ids", "attention_mask", "pixel_values", "image_grid_thw",
                                            "mm_token_type_ids") if k in batch}).logits
    logits.retain_grad()
    logp = token_logprobs(logits, batch["input_ids"])
    loss, _ = policy_loss(logp, logp.detach(), torch.tensor([1.0]), batch["loss_mask"][:, 1:])
    loss.backward()
    grad = logits.grad[0, :-1].abs().sum(-1)  # position t predicts token t+1
    target_is_model = enc.loss_mask[1:].bool()
    assert (grad[~target_is_model] == 0).all()
    assert (grad[target_is_model] > 0).all()
    # the step asks the model only for the logits it needs (from the first model token on): same numbers
    keep = _logits_to_keep(batch["loss_mask"])
    assert keep == enc.length - enc.spans[1][1] + 1
    inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "pixel_values", "image_grid_thw",
                                    "mm_token_type_ids") if k in batch}
    with torch.no_grad():
        kept = token_logprobs(model(**inputs, logits_to_keep=keep).logits, batch["input_ids"][:, -keep:])
    assert torch.allclose(kept, logp.detach()[:, -(keep - 1):], atol=1e-5)
    tok = processor.tokenizer
    sandbox_ids = [int(enc.input_ids[i]) for role, a, b in enc.spans if role == "sandbox" for i in range(a, b)]
    assert "altitude drawn" in tok.decode(sandbox_ids) and model.config.image_token_id in sandbox_ids
    model_text = tok.decode(enc.input_ids[enc.loss_mask.bool()].tolist())
    assert "<answer>146</answer>" in model_text and "altitude drawn" not in model_text


# -- rewards -------------------------------------------------------------------------------------------------


def test_rewards_on_hand_written_responses():
    ok = _rollout("I draw the altitude.<code>print(1)</code>", "It is <answer>146</answer>")
    assert (format_reward(ok, _example()), accuracy_reward(ok, _example())) == (1.0, 1.0)
    assert accuracy_reward(_rollout("<answer>146.0</answer>"), _example()) == 1.0
    assert accuracy_reward(_rollout("<answer>145</answer>"), _example()) == 0.0
    assert accuracy_reward(_rollout("146"), _example()) == 0.0  # no answer tag
    assert accuracy_reward(_rollout("<answer>(3,4)</answer>"), _example("(3, 4)", "point")) == 1.0
    assert accuracy_reward(_rollout("<answer>(4, 3)</answer>"), _example("(3, 4)", "point")) == 0.0
    assert accuracy_reward(_rollout("<answer>B</answer>"), _example("B", "choice")) == 1.0
    broken = ["no tags at all", "<answer>1</answer> and more", "<answer>1</answer><answer>2</answer>",
              "<code>print(1)<answer>146</answer>", "<think>why<answer>146</answer>"]
    assert [format_reward(_rollout(t), _example()) for t in broken] == [0.0] * 5
    # the sandbox's text never counts as the model's: an answer tag inside an output is ignored
    fake = Rollout("q1", (_example().prompt, Segment("model", "<code>x</code>"),
                          sandbox_segment("<answer>146</answer>")))
    assert accuracy_reward(fake, _example()) == 0.0


def test_tool_reward_pays_for_a_changed_figure_only_when_the_answer_is_right():
    drew = ToolCall("draw", "ok", True, "")
    printed, failed = ToolCall("print", "ok", False, "3"), ToolCall("boom", "error", False, "Error")
    right = ("<code>draw</code>", "<answer>146</answer>")
    assert tool_use_reward(_rollout(*right, calls=(drew,)), _example()) == 1.0
    assert tool_use_reward(_rollout(*right, calls=(printed, failed)), _example()) == 0.0
    assert score(_rollout(*right, calls=(drew,)), _example()) == {
        "accuracy": 1.0, "format": 1.0, "tool_use": 1.0, "total": pytest.approx(1.8)}
    wrong = score(_rollout("<code>draw</code>", "<answer>7</answer>", calls=(drew,)), _example())
    assert wrong["tool_use"] == 1.0 and wrong["total"] == pytest.approx(0.5)  # gated: format only
    assert set(score(_rollout(*right), _example(), {"accuracy": 1.0, "format": 0.0})) == {"accuracy", "total"}
    with pytest.raises(ValueError, match="no reward function"):
        score(_rollout(*right), _example(), {"accurracy": 1.0})


# -- rollouts --------------------------------------------------------------------------------------------------


class ScriptedPolicy:
    """A ModelBackend that answers turn k of every transcript with `turns[k]`, as a real backend would:
    text up to (not including) the stop string, finish reason "stop". Records every request it gets."""

    name = "scripted"

    def __init__(self, turns: Sequence[str]) -> None:
        self.turns = list(turns)
        self.requests: list[GenerationRequest] = []

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        out = []
        for request in requests:
            self.requests.append(request)
            k = sum(m.role == "assistant" for m in request.messages)
            text = self.turns[min(k, len(self.turns) - 1)]
            cut = min((i for i in (text.find(s) for s in request.sampling.stop) if i >= 0), default=len(text))
            n = request.sampling.n
            out.append(Completion((text[:cut],) * n, self.name, 10, 5 * n, 0.0,
                                  ("stop" if cut < len(text) or "<" not in text else "length",) * n))
        return out

    def close(self) -> None:
        pass


def test_multi_turn_rollout_runs_code_on_the_figure_and_feeds_the_edit_back(sandbox):
    policy = ScriptedPolicy([f"Draw the altitude.\n<code>\n```python\n{DRAW}\n```\n</code>",
                             "The red segment is the altitude. <answer>146</answer>"])
    rollouts = rollout_group(policy, sandbox, [_example()], RolloutSettings(group_size=2, max_turns=3))
    assert len(rollouts) == 2
    r = rollouts[0]
    assert [s.role for s in r.segments] == ["prompt", "model", "sandbox", "model"]
    assert r.finish == "answer" and r.segments[1].text.endswith("</code>")
    assert r.calls[0].status == "ok" and r.calls[0].changed_image and "altitude drawn" in r.calls[0].printed
    edited = r.segments[2].image
    assert edited and edited != _png()
    with Image.open(io.BytesIO(edited)) as im:  # the line went where the code drew it, in pixel coordinates
        red = im.convert("RGB").getpixel((122, 110))
        assert red[0] > 180 and red[1] < 90 and red[2] < 90
    # the second turn saw the edited image after the first turn's text, in one request per transcript
    second = policy.requests[1]
    assert second.sampling.n == 1 and second.messages[-1].images == (edited,)
    assert from_messages(second.messages) == r.segments[:3]
    assert score(r, _example()) == {"accuracy": 1.0, "format": 1.0, "tool_use": 1.0, "total": pytest.approx(1.8)}


def test_rollout_reports_errors_and_stops_at_the_turn_limit(sandbox):
    policy = ScriptedPolicy(["Try.<code>print('before'); 1/0</code>"])
    [r] = rollout_group(policy, sandbox, [_example()], RolloutSettings(group_size=1, max_turns=3))
    assert r.finish == "turns" and [s.role for s in r.segments].count("model") == 3
    assert [c.status for c in r.calls] == ["error", "error"]  # the last turn's code is not run
    assert "ZeroDivisionError" in r.segments[2].text and "before" in r.segments[2].text
    assert r.segments[2].image is None and not r.calls[0].changed_image
    assert score(r, _example())["total"] == 0.0
    [eos] = rollout_group(ScriptedPolicy(["I give up"]), sandbox, [_example()], RolloutSettings(group_size=1))
    assert eos.finish == "eos" and len(eos.segments) == 2


def test_messages_round_trip():
    segments = (_example().prompt, Segment("model", "a <code>x</code>"), sandbox_segment("2", _png(True)),
                Segment("model", "b"))
    messages = to_messages(segments)
    assert [m.role for m in messages] == ["system", "user", "assistant", "user", "assistant"]
    assert from_messages(messages) == segments


def test_policy_backend_samples_from_the_live_model(tiny, sandbox):
    """The live tiny policy through the backend: G samples per prompt in turn 1, prompts encoded exactly as
    the loss sees them, rollouts that encode back within max_length."""
    from flywheel.train.modeling import load_policy

    torch.manual_seed(0)
    model, processor = load_policy(tiny)
    backend = PolicyBackend(model, processor, max_length=1024)
    settings = RolloutSettings(group_size=3, max_turns=2, max_new_tokens=12)
    rollouts = rollout_group(backend, sandbox, [_example(), _example(image=False)], settings)
    assert len(rollouts) == 6 and all(r.segments[0] == _example().prompt for r in rollouts[:3])
    assert all(r.segments[1].role == "model" and 0 < r.completion_tokens <= 12 for r in rollouts)
    assert model.training  # generation switched to eval and back
    prompt = backend._encode(GenerationRequest(to_messages(_example().segments[:1])))
    assert torch.equal(prompt.input_ids, encode(processor, _example(), 1024).input_ids)
    for r in rollouts:
        assert encode(processor, r.as_example(_example()), 1024).loss_mask.sum() > 0
    # the loss scores exactly the sampled tokens: the model segments' ids, nothing re-tokenised or appended
    for r, ex in zip(rollouts, [_example()] * 3 + [_example(image=False)] * 3, strict=True):
        sampled = [t for s in r.segments if s.role == "model" for t in s.token_ids]
        assert all(0 < len(s.token_ids) <= 12 for s in r.segments if s.role == "model")
        encoded = encode(processor, r.as_example(ex), 1024)
        assert encoded.input_ids[encoded.loss_mask.bool()].tolist() == sampled


def test_policy_backend_cuts_at_stop_strings_and_end_of_turn(tiny):
    from flywheel.train.modeling import load_policy

    model, processor = load_policy(tiny)
    backend = PolicyBackend(model, processor)
    tok = processor.tokenizer
    ids = tok("Draw.<code>print(1)</code> trailing", add_special_tokens=False)["input_ids"]
    assert backend._finish(ids, ("</code>", "</answer>")) == ("Draw.<code>print(1)", len(ids), "stop")
    ended = tok("All done", add_special_tokens=False)["input_ids"] + [tok.eos_token_id, backend.pad_id]
    assert backend._finish(ended, ("</code>",)) == ("All done", len(ended) - 1, "stop")
    assert backend._finish(ended[:-2], ("</code>",))[2] == "length"


class ReloadingBackend:
    """Stands in for the vLLM backend's weight reload: records the folder it is asked to load."""

    name = "reloading"

    def __init__(self) -> None:
        self.loaded: list[str] = []

    def generate(self, requests):
        return []

    def load_weights(self, path: str) -> float:
        self.loaded.append(path)
        return 0.0

    def close(self) -> None:
        pass


def test_sync_weights_saves_then_reloads_and_skips_the_live_policy(tiny, tmp_path):
    from flywheel.train.modeling import load_policy
    from flywheel.train.rollout import sync_weights

    model, processor = load_policy(tiny)
    assert sync_weights(PolicyBackend(model, processor), model, tmp_path) is None
    engine = ReloadingBackend()
    assert sync_weights(engine, model, tmp_path / "w") >= 0
    assert engine.loaded == [str(tmp_path / "w")] and (tmp_path / "w" / "config.json").is_file()
    with pytest.raises(ValueError, match="folder"):
        sync_weights(engine, model)


# -- the step ------------------------------------------------------------------------------------------------


def test_grpo_step_updates_the_policy_and_reports_metrics(tiny):
    ctx = _context(tiny, group_size=4, max_turns=2, max_new_tokens=16, batch_size=1, grad_accum=2, lr=1e-3,
                   kl_coef=0.05, max_length=1024)
    before = {n: p.detach().clone() for n, p in ctx.model.named_parameters()}
    try:
        metrics = grpo_step(ctx, [[_example()], [_example(image=False)]])
        assert "reference" in ctx.extras
        reference_unchanged = all(torch.equal(before[n], p) for n, p in ctx.extras["reference"].named_parameters())
    finally:
        ctx.close()
    for key in ("reward", "reward/accuracy", "reward/format", "reward/tool_use", "kl", "entropy", "loss",
                "response_length", "tool_calls", "tokens_per_s", "grad_norm", "clip_fraction"):
        assert math.isfinite(metrics[key]), key
    assert metrics["kl"] == pytest.approx(0.0, abs=1e-6)  # first step: policy == reference
    assert metrics["entropy"] > 0 and metrics["response_length"] > 0 and metrics["tokens_per_s"] > 0
    changed = any(not torch.equal(before[n], p) for n, p in ctx.model.named_parameters())
    assert changed == (metrics["reward_std"] > 0) and reference_unchanged


def _digit_share(rollout: Rollout, example: Example) -> float:
    """A dense, verifiable toy reward: the share of digits in the model's text."""
    text = "".join(s.text for s in rollout.segments if s.role == "model")
    return sum(c.isdigit() for c in text) / max(1, len(text))


def test_grpo_raises_the_reward_on_a_toy_task(tiny):
    """16 steps of GRPO on one prompt, G=8, rewarding digits: the random policy starts near the share of
    digit tokens in its vocabulary (~0.1) and the mean of the last 5 steps ends well above the first 5."""
    ctx = _context(tiny, group_size=8, max_turns=1, max_new_tokens=6, batch_size=1, lr=1.5e-2, kl_coef=0.0,
                   max_length=512, reward_weights={"digits": 1.0})
    ctx.extras["rewards"] = {"digits": _digit_share}
    prompt = [Example("n", "rl", (prompt_segment("Give a number.", None),), "", "text")]
    history = []
    try:
        for step in range(16):
            ctx.step = step
            history.append(grpo_step(ctx, [prompt])["reward"])
    finally:
        ctx.close()
    first, last = sum(history[:5]) / 5, sum(history[-5:]) / 5
    assert last > first + 0.1, history


# -- the rl stage from the flywheel's shards -------------------------------------------------------------------


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> str:
    from storage.shards import ShardWriter

    problems = [make_problem(round=1, question=f"How long is the altitude from C? (figure {i})", answer=str(140 + i),
                             answer_kind="number", render_code=f"# figure {i}", image=_png(), width=280, height=224,
                             elements=(NamedElement("C", "vertex", 120.0, 40.0),),
                             solution=(SolutionStep("code", "Altitude.", DRAW),), edited_image=_png(True))
                for i in range(4)]
    data = tmp_path_factory.mktemp("data") / "data"
    with ShardWriter(data, 1) as writer:
        writer.commit_part(problems, final=True)
    return str(data)


def test_rl_stage_runs_from_shards(tiny, shards, tmp_path):
    from flywheel.train import checkpoint
    from flywheel.train.loop import train_local

    cfg = train_config(stage="rl", steps=2, batch_size=2, group_size=2, max_turns=2, max_new_tokens=12,
                       max_length=1024, checkpoint_every=1, lr=1e-4)
    metrics = train_local(cfg, shards, tiny, tmp_path / "rl")
    assert "reward/accuracy" in metrics and math.isfinite(metrics["loss"])
    assert checkpoint.latest(tmp_path / "rl").step == 2 and (tmp_path / "rl" / "model").is_dir()
    lines = (tmp_path / "rl" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 2 and '"tool_calls"' in lines[0]


def test_resumed_rl_run_anchors_the_kl_to_the_starting_model(tiny, shards, tmp_path, monkeypatch):
    """Resume after step 1: the reference the resumed step uses holds the --model weights, not the checkpoint's."""
    from safetensors.torch import load_file

    from flywheel.train import loop

    seen = {}

    def watched(ctx, micro):  # the real step; afterwards, read the reference it built
        metrics = grpo_step(ctx, micro)
        seen[ctx.step] = {n: p.detach().clone() for n, p in ctx.extras["reference"].named_parameters()}
        return metrics

    monkeypatch.setitem(loop.STEPS, "rl", watched)
    cfg = train_config(stage="rl", steps=1, batch_size=1, group_size=2, max_turns=1, max_new_tokens=8,
                       max_length=1024, checkpoint_every=1, lr=1e-2, kl_coef=0.1)
    loop.train_local(cfg, shards, tiny, tmp_path / "rl")
    loop.train_local(replace(cfg, steps=2), shards, tiny, tmp_path / "rl")  # resumes from step 1's checkpoint
    start = {k: v for f in sorted(Path(tiny).glob("*.safetensors")) for k, v in load_file(f).items()}
    resumed = {k: v for f in sorted((tmp_path / "rl" / "model").glob("*.safetensors")) for k, v in load_file(f).items()}
    assert set(seen) == {0, 1}
    reference = seen[1]
    moved = [n for n in reference if not torch.equal(start[_stored(n, start)], resumed[_stored(n, resumed)])]
    assert moved  # weight decay alone moves the matrices, so the two candidates differ
    assert all(torch.equal(reference[n], start[_stored(n, start)]) for n in reference)


def _stored(name: str, tensors: dict) -> str:
    """The key a parameter is saved under (transformers may save without the `model.` prefix)."""
    if name in tensors:
        return name
    return next(k for k in tensors if name.endswith(k) or k.endswith(name.removeprefix("model.")))


@pytest.mark.slow
def test_rl_stage_end_to_end_from_flywheel_evolve(tiny, tmp_path):
    """Real flywheel output, then `flywheel train --stage rl` in a subprocess."""
    data = tmp_path / "data"
    evolve = [sys.executable, "-m", "flywheel.cli", "evolve", "--rounds", "1", "--data", str(data),
              "--problems-per-round", "8"]
    subprocess.run(evolve, check=True, capture_output=True, timeout=600)
    config = tmp_path / "rl.toml"
    config.write_text("[train]\nbatch_size = 2\ngroup_size = 2\nmax_turns = 2\nmax_new_tokens = 16\n")
    cmd = [sys.executable, "-m", "flywheel.cli", "train", "--stage", "rl", "--data", str(data), "--model", tiny,
           "--out", str(tmp_path / "rl"), "--steps", "2", "--config", str(config), "--no-ray"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "rl" / "model").is_dir()
