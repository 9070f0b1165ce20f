"""Benchmark: our GRPO step (flywheel.train.grpo.grpo_step) against TRL's GRPOTrainer, same everything.

Both sides train the same model (the tiny or small random Qwen2.5-VL, or --model DIR) on the same prompts (the
flywheel's system prompt, one figure, a question), with the same group size, completion length (exactly
--length new tokens: end-of-turn is held off so the lengths match), reward function, KL coefficient, AdamW and
token-level loss normalisation (TRL's default "dapo"). A step is the whole thing on both sides: sampling,
scoring, one optimizer update. Each side runs in its own child process so peak memory is its own (GPU: peak
allocated; CPU: the peak RSS growth while stepping, sampled). On CUDA the table adds MFU, counting the update's
forward+backward as 6 * params * tokens. TRL is skipped with a message when it is not installed.
Run: `.venv/bin/python bench/grpo_step.py [--size tiny|small] [--device cuda --dtype bfloat16] [--json]`.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `flywheel` importable from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

GOAL_VS_TRL = 1.0  # the goal: at least TRL's throughput
QUESTION = "How long is the altitude from C to AB? Give the length in pixels."
# Dense bf16 tensor-core peaks (SXM parts); fp32 runs use the plain FP32 peak. Unknown cards: pass --peak-tflops.
PEAK_TFLOPS = {("H100", "bfloat16"): 989.0, ("H200", "bfloat16"): 989.0, ("A100", "bfloat16"): 312.0,
               ("H100", "float32"): 67.0, ("H200", "float32"): 67.0, ("A100", "float32"): 19.5}


def figure_png(seed: int) -> bytes:
    """A 224x224 triangle figure (64 image tokens for the tiny model, 256 for the small one)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (224, 224), "white")
    ImageDraw.Draw(image).polygon([(20, 200), (200, 190 - seed), (110, 30 + seed)], outline="black", width=2)
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def digit_share(text: str) -> float:
    """The reward both sides compute: share of digits in the completion (cheap, so the step is measured)."""
    return sum(c.isdigit() for c in text) / max(1, len(text))


# -- the two sides (each in its own process) --------------------------------------------------------------


class PeakRSS:
    """Samples this process's RSS every 10 ms between start() and stop(): peak growth over the start value."""

    def __init__(self) -> None:
        self.base = self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self.rss())

    def start(self) -> None:
        self.base = self.peak = self.rss()
        self._thread.start()

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return (self.peak - self.base) / 2**20


class Meter:
    """Step times and peak memory, measured the same way for both sides (warm-up steps excluded)."""

    def __init__(self, device: str, warmup: int) -> None:
        import torch

        self.torch, self.cuda, self.warmup = torch, device.startswith("cuda"), warmup
        self.times: list[float] = []
        self.rss = PeakRSS()
        self._t = 0.0

    def begin(self) -> None:
        if self.cuda:
            self.torch.cuda.synchronize()
        if len(self.times) == self.warmup:  # first timed step: reset the peaks
            if self.cuda:
                self.torch.cuda.reset_peak_memory_stats()
            else:
                self.rss.start()
        self._t = time.perf_counter()

    def end(self) -> None:
        if self.cuda:
            self.torch.cuda.synchronize()
        self.times.append(time.perf_counter() - self._t)

    def result(self, **extra) -> dict:
        timed = self.times[self.warmup:]
        if self.cuda:
            peak = self.torch.cuda.max_memory_allocated() / 2**20
        else:
            peak = self.rss.stop()
        return {"step_s": statistics.median(timed), "step_s_all": timed, "peak_mb": peak,
                "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, **extra}


def run_ours(args: argparse.Namespace) -> dict:
    import torch

    from flywheel.train.config import train_config
    from flywheel.train.formats import Example, prompt_segment
    from flywheel.train.grpo import grpo_step
    from flywheel.train.loop import make_context
    from flywheel.train.rollout import PolicyBackend

    torch.manual_seed(0)
    cfg = train_config(stage="rl", steps=args.warmup + args.steps, lr=1e-6, warmup=0.0, batch_size=args.prompts,
                       group_size=args.group, kl_coef=args.kl, max_turns=1, max_new_tokens=args.length,
                       max_length=4096, device=args.device, dtype=args.dtype, reward_weights={"digits": 1.0},
                       gradient_checkpointing=args.gradient_checkpointing)
    ctx = make_context(cfg, args.model, args.device, 0, 1, None)
    ctx.extras["backend"] = PolicyBackend(ctx.module, ctx.processor, cfg.max_length, min_new_tokens=args.length)
    ctx.extras["rewards"] = {"digits": lambda r, ex: digit_share(r.text)}
    prompts = [Example(f"p{i}", "rl", (prompt_segment(QUESTION, figure_png(i)),), "", "text")
               for i in range(args.prompts)]
    meter, metrics = Meter(args.device, args.warmup), []
    for step in range(args.warmup + args.steps):
        ctx.step = step
        meter.begin()
        metrics.append(grpo_step(ctx, [prompts]))
        meter.end()
    timed = metrics[args.warmup:]
    split = {k: statistics.median(m[k] for m in timed) for k in ("rollout_s", "update_s")}
    lengths = statistics.mean(m["response_length"] for m in timed)
    ctx.close()
    return meter.result(**split, response_length=lengths, tokens=timed[-1]["tokens"])


def run_trl(args: argparse.Namespace) -> dict:
    import torch
    from datasets import Dataset
    from PIL import Image
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from flywheel.train.formats import system_prompt
    from flywheel.train.modeling import load_policy, vision_token_ids

    torch.manual_seed(0)
    model, processor = load_policy(args.model, args.device, args.dtype)
    images = [Image.open(io.BytesIO(figure_png(i))).convert("RGB") for i in range(args.prompts)]
    # "\n" + question: our prompt segment puts a newline after the image, so the prompts tokenise identically
    rows = [{"prompt": [{"role": "system", "content": system_prompt()}, {"role": "user", "content": "\n" + QUESTION}],
             "image": images[i % args.prompts]} for i in range(args.prompts * (args.warmup + args.steps))]
    meter = Meter(args.device, args.warmup)

    class Timer(TrainerCallback):
        def on_step_begin(self, *a, **k):
            meter.begin()

        def on_step_end(self, *a, **k):
            meter.end()

    with tempfile.TemporaryDirectory() as out:
        config = GRPOConfig(
            output_dir=out, per_device_train_batch_size=args.prompts * args.group, num_generations=args.group,
            gradient_accumulation_steps=1, max_completion_length=args.length, learning_rate=1e-6, beta=args.kl,
            max_steps=args.warmup + args.steps, temperature=1.0, top_p=1.0, top_k=0, loss_type="dapo",
            lr_scheduler_type="constant", weight_decay=0.1, max_grad_norm=1.0, save_strategy="no", report_to=[],
            logging_steps=1, disable_tqdm=True, log_level="error", shuffle_dataset=False, seed=0,
            use_cpu=args.device == "cpu", bf16=args.dtype == "bfloat16",
            gradient_checkpointing=args.gradient_checkpointing,  # TRL's default is on; ours is off
            gradient_checkpointing_kwargs={"use_reentrant": False},  # as ours (modeling.py)
            generation_kwargs={"min_new_tokens": args.length, "suppress_tokens": vision_token_ids(model)})
        trainer = GRPOTrainer(model=model, reward_funcs=[_trl_reward], args=config,
                              train_dataset=Dataset.from_list(rows), processing_class=processor,
                              callbacks=[Timer()])
        trainer.train()
    return meter.result()


def _trl_reward(completions, **kwargs) -> list[float]:
    texts = [c if isinstance(c, str) else "".join(m["content"] if isinstance(m["content"], str) else
                                                     "".join(p.get("text", "") for p in m["content"]) for m in c)
             for c in completions]
    return [digit_share(t) for t in texts]


# -- the driver ---------------------------------------------------------------------------------------------


def prompt_tokens(model: str) -> tuple[int, int]:
    """(tokens of one prompt, image tokens included; parameters of the model)."""
    from flywheel.train.encode import encode
    from flywheel.train.formats import Example, prompt_segment
    from flywheel.train.modeling import load_policy

    policy, processor = load_policy(model)
    example = Example("p", "rl", (prompt_segment(QUESTION, figure_png(0)),), "", "text")
    return encode(processor, example, 8192).length, sum(p.numel() for p in policy.parameters())


def child(side: str, args: argparse.Namespace) -> dict:
    """Run one side in a fresh interpreter; its result is the last stdout line (JSON)."""
    cmd = [sys.executable, __file__, "--side", side, "--model", args.model, "--device", args.device,
           "--dtype", args.dtype, "--group", str(args.group), "--prompts", str(args.prompts), "--length",
           str(args.length), "--steps", str(args.steps), "--warmup", str(args.warmup), "--kl", str(args.kl),
           "--threads", str(args.threads)] + (["--gradient-checkpointing"] if args.gradient_checkpointing else [])
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}",
                "stderr": done.stderr[-3000:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def trl_available() -> str | None:
    """None if TRL imports, else why not."""
    try:
        import trl  # noqa: F401
    except ImportError as exc:
        return f"TRL is not installed ({exc}); install the bench extra (trl) to compare"
    return None


def peak_flops(args: argparse.Namespace) -> float | None:
    if args.peak_tflops:
        return args.peak_tflops * 1e12
    import torch

    name = torch.cuda.get_device_name()
    return next((v * 1e12 for (card, dtype), v in PEAK_TFLOPS.items() if card in name and dtype == args.dtype), None)


def report(args: argparse.Namespace, results: dict, per_step_tokens: int, params: int) -> dict:
    """Print the table; return the numbers."""
    flops = peak_flops(args) if args.device.startswith("cuda") else None
    print(f"\nGRPO step, {args.prompts} prompts x G={args.group}, {per_step_tokens // (args.prompts * args.group)} "
          f"tokens/sequence ({args.length} generated), {params / 1e6:.2f}M params, {args.device} {args.dtype}, "
          f"kl={args.kl}, median of {args.steps} steps after {args.warmup} warm-up, "
          f"{args.threads or 'default'} torch threads, {os.cpu_count()} cores, gradient checkpointing "
          f"{'on' if args.gradient_checkpointing else 'off'}, best of {max(1, args.repeats)} alternating runs")
    head = f"{'side':<6}{'step s':>9}{'tokens/s':>11}{'peak MB':>10}{'max RSS MB':>12}"
    print(head + (f"{'MFU':>8}" if flops else ""))
    summary: dict = {"per_step_tokens": per_step_tokens, "params": params, "args": vars(args)}
    for side, r in results.items():
        if "error" in r:
            print(f"{side:<6}  skipped: {r['error']}")
            summary[side] = r
            continue
        r["tokens_per_s"] = per_step_tokens / r["step_s"]
        line = f"{side:<6}{r['step_s']:>9.3f}{r['tokens_per_s']:>11.0f}{r['peak_mb']:>10.0f}{r['max_rss_mb']:>12.0f}"
        if flops:
            r["mfu"] = 6 * params * per_step_tokens / r["step_s"] / flops
            line += f"{100 * r['mfu']:>7.2f}%"
        print(line)
        summary[side] = r
    ours = results["ours"]
    if "update_s" in ours:
        print(f"ours: rollout {ours['rollout_s']:.3f} s + update {ours['update_s']:.3f} s per step "
              f"(model tokens per sequence {ours['response_length']:.1f})")
    trl = results.get("trl", {})
    if "tokens_per_s" in trl and "tokens_per_s" in ours:
        ratio = ours["tokens_per_s"] / trl["tokens_per_s"]
        summary["ratio_ours_over_trl"] = ratio
        print(f"ours / TRL tokens/s = {ratio:.2f}x (goal >= {GOAL_VS_TRL:.1f}x); peak memory ours / TRL = "
              f"{ours['peak_mb'] / max(trl['peak_mb'], 1e-9):.2f}x")
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="", help="model folder; default: build the tiny model of --size")
    ap.add_argument("--size", default="tiny", choices=("tiny", "small"))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"))
    ap.add_argument("--group", type=int, default=8, help="G, samples per prompt")
    ap.add_argument("--prompts", type=int, default=2, help="prompts per step")
    ap.add_argument("--length", type=int, default=64, help="generated tokens per sample (exact)")
    ap.add_argument("--steps", type=int, default=4, help="timed steps")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--kl", type=float, default=0.01, help="KL coefficient (0: no reference model on either side)")
    ap.add_argument("--peak-tflops", type=float, default=0.0, help="the card's peak, for MFU on unlisted GPUs")
    ap.add_argument("--threads", type=int, default=0, help="torch intra-op threads on both sides (0: default)")
    ap.add_argument("--gradient-checkpointing", action="store_true", help="on both sides (TRL's own default)")
    ap.add_argument("--repeats", type=int, default=1,
                    help="run the sides alternately this many times; each keeps its fastest run (a busy machine)")
    ap.add_argument("--skip-trl", action="store_true")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds per side")
    ap.add_argument("--side", choices=("ours", "trl"), help=argparse.SUPPRESS)
    ap.add_argument("--json", action="store_true", help="end stdout with one JSON line of the numbers")
    args = ap.parse_args(argv)
    if args.side:
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        print(json.dumps((run_ours if args.side == "ours" else run_trl)(args)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        if not args.model:
            from flywheel.models.tiny import build_tiny_model

            args.model = str(build_tiny_model(Path(tmp) / "model", size=args.size))
        tokens, params = prompt_tokens(args.model)
        per_step_tokens = args.prompts * args.group * (tokens + args.length)
        why = "skipped with --skip-trl" if args.skip_trl else trl_available()
        runs: dict[str, list[dict]] = {"ours": [], "trl": []}
        for _ in range(max(1, args.repeats)):
            runs["ours"].append(child("ours", args))
            runs["trl"].append({"error": why} if why else child("trl", args))
        results = {side: min(rs, key=lambda r: r.get("step_s", float("inf"))) for side, rs in runs.items()}
        summary = report(args, results, per_step_tokens, params)
    if args.json:
        print(json.dumps(summary))
    return 0 if "error" not in results["ours"] else 1


if __name__ == "__main__":
    sys.exit(main())
