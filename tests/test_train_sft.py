"""The bundled trainer's supervised stages on CPU with the tiny random Qwen2.5-VL (no downloads).

Shards are written with the flywheel's own ShardWriter from hand-made problems (fast); the slow test runs
`flywheel evolve` for real and trains on its output. Covers: the transcript format and parser, the loss mask
on actual token ids, perception/SFT example builders, SFT loss falling on a fixed batch, each stage running
from shards, resume after SIGKILL equal to an uninterrupted run, the Ray TorchTrainer path, and the CLI.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image, ImageDraw

from flywheel.records import NamedElement, SolutionStep, make_problem
from flywheel.train import checkpoint
from flywheel.train.config import load_curriculum, load_train_config, train_config
from flywheel.train.data import examples, perception_examples, sft_examples
from flywheel.train.formats import Example, Segment, parse_response, prompt_segment, sandbox_segment

ROOT = Path(__file__).resolve().parents[1]
POINTS = {"A": (20, 120), "B": (150, 125), "C": (80, 20), "O": (85, 85)}  # small figures: few image tokens


def _png(extra_line: bool = False) -> bytes:
    image = Image.new("RGB", (168, 140), "white")
    draw = ImageDraw.Draw(image)
    draw.polygon([POINTS["A"], POINTS["B"], POINTS["C"]], outline="black")
    if extra_line:
        draw.line([POINTS["C"], (82, 122)], fill="red", width=3)
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def _problem(i: int):
    elements = [NamedElement(n, "center" if n == "O" else "vertex", float(x + i), float(y)) for n, (x, y) in
                POINTS.items()]
    solution = (SolutionStep("think", "Draw the altitude from C."),
                SolutionStep("code", "Altitude from C to AB.", "import matplotlib.pyplot as plt\nplt.plot([1], [2])"),
                SolutionStep("think", f"The altitude has length {140 + i}."))
    return make_problem(round=1, question=f"How long is the altitude from C? (figure {i})", answer=str(140 + i),
                        answer_kind="number", render_code=f"# figure {i}", image=_png(), width=168, height=140,
                        elements=tuple(elements), solution=solution, edited_image=_png(extra_line=True))


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread: on a small shared machine, OpenMP threads that spin against each other made a tiny
    model's step five times slower in CPU time (measured); a real run keeps torch's default."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    from flywheel.models.tiny import build_tiny_model

    return str(build_tiny_model(tmp_path_factory.mktemp("tiny") / "model"))


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> str:
    from storage.shards import ShardWriter

    data = tmp_path_factory.mktemp("data") / "data"
    with ShardWriter(data, 1) as writer:
        writer.commit_part([_problem(i) for i in range(6)], final=True)
    return str(data)


@pytest.fixture(scope="module")
def policy(tiny):
    from flywheel.train.modeling import load_policy

    return load_policy(tiny)


def _small(**overrides):
    base = dict(steps=2, batch_size=2, lr=1e-3, warmup=0.0, max_length=1024, checkpoint_every=1)
    return train_config(**{**base, **overrides})


# -- format and builders (no model) -------------------------------------------------------------------------


def test_parse_response_reads_answer_and_code():
    text = "Let me mark it.\n<code>\n```python\nprint(3)\n```\n</code>\n<sandbox_output>3</sandbox_output>\n" \
           "So <answer>(3, 4)</answer>"
    parsed = parse_response(text)
    assert parsed.answer == "(3, 4)" and parsed.code == ("print(3)",) and parsed.well_formed
    assert not parse_response("<answer>1</answer> trailing").well_formed
    assert not parse_response("<code>print(1)").well_formed
    assert parse_response("no tags").answer is None
    with pytest.raises(ValueError):
        Segment("sandbox", "no image mark", image=b"png")


def test_perception_examples_have_exact_pixel_answers():
    p = _problem(3)
    out = perception_examples(p, train_config(stage="perception", perception_questions=4))
    assert len(out) == 4 and all(e.stage == "perception" for e in out)
    by_label = {f"vertex {n}": POINTS[n] for n in "ABC"} | {"center O": POINTS["O"]}
    for e in out:
        question, answer = e.prompt.text, e.segments[1].text
        assert e.prompt.image == p.image and answer == f"<answer>{e.answer}</answer>"
        if e.answer_kind == "point":
            (name,) = [k for k in by_label if k in question]
            x, y = by_label[name]
            assert e.answer == f"({x + 3}, {y})"
        else:  # nearest: the asked pixel lies closest to the answer's element
            assert "nearest" in question and e.answer in by_label


def test_sft_transcript_carries_code_edited_image_and_answer():
    p = _problem(0)
    (e,) = sft_examples(p, train_config(stage="sft"))
    roles = [s.role for s in e.segments]
    assert roles == ["prompt", "model", "sandbox", "model"]
    assert "<code>" in e.segments[1].text and "plt.plot" in e.segments[1].text
    assert e.segments[2].image == p.edited_image and "<sandbox_output>" in e.segments[2].text
    assert e.segments[3].text.endswith("<answer>140</answer>")
    assert parse_response("".join(s.text for s in e.segments[1:])).answer == "140"


def test_curriculum_file_lists_stages_and_picks_one():
    path = ROOT / "jobs" / "curriculum.toml"
    assert [c.stage for c in load_curriculum(path)] == ["perception", "sft", "rl"]
    rl = load_train_config(path, stage="rl", steps=7)
    assert rl.steps == 7 and rl.lr == 5e-7 and rl.rewards["tool_use"] == 0.3
    with pytest.raises(ValueError, match="unknown key"):
        train_config({"stepz": 3})


# -- encoding: the loss mask on real token ids ---------------------------------------------------------------


def test_loss_mask_covers_exactly_the_model_tokens(policy):
    from flywheel.train.encode import IGNORE, collate, encode

    model, processor = policy
    tok = processor.tokenizer
    image_pad = model.config.image_token_id
    model_texts = ["I will mark the foot.\n<code>\nprint(1)\n</code>", "So <answer>7</answer>"]
    example = Example("x", "sft", (prompt_segment("Find x.", _png()), Segment("model", model_texts[0]),
                                   sandbox_segment("printed 1", _png(True)), Segment("model", model_texts[1])),
                      "7", "number")
    enc = encode(processor, example, 4096)
    ids, mask = enc.input_ids.tolist(), enc.loss_mask.tolist()
    wanted = tok(model_texts[0], add_special_tokens=False)["input_ids"] + \
        tok(model_texts[1] + tok.eos_token, add_special_tokens=False)["input_ids"]
    assert [t for t, m in zip(ids, mask, strict=True) if m] == wanted
    assert wanted[-1] == tok.eos_token_id
    spans = {role: (a, b) for role, a, b in enc.spans if role != "model"}
    for role in ("prompt", "sandbox"):  # both hold an image, none of it trained on
        a, b = spans[role]
        assert sum(mask[a:b]) == 0 and ids[a:b].count(image_pad) > 0
    merge = processor.image_processor.merge_size ** 2
    assert ids.count(image_pad) == int(enc.image_grid_thw.prod(-1).sum()) // merge
    short = encode(processor, Example("y", "perception", (prompt_segment("Where?", _png()),
                                                          Segment("model", "<answer>1</answer>")), "1", "text"), 4096)
    batch = collate([enc, short], pad_id=tok.pad_token_id)
    assert batch["input_ids"].shape == (2, enc.length)
    assert (batch["labels"][1, short.length:] == IGNORE).all() and batch["attention_mask"][1, short.length:].sum() == 0
    assert batch["pixel_values"].shape[0] == enc.pixel_values.shape[0] + short.pixel_values.shape[0]


# -- training ------------------------------------------------------------------------------------------------


def test_sft_loss_falls_on_a_fixed_batch(tiny, shards):
    from flywheel.train.loop import make_context
    from flywheel.train.sft import sft_step

    cfg = _small(stage="sft", steps=6, lr=3e-3)
    batch = examples(shards, cfg)[:2]
    ctx = make_context(cfg, tiny, "cpu", 0, 1, None)
    losses = [sft_step(ctx, [batch])["loss"] for _ in range(6)]
    assert losses[-1] < 0.8 * losses[0], losses


def test_gradient_checkpointing_gives_the_same_update(tiny, shards):
    """Recomputing activations changes memory, not maths: same loss and same weights after one step."""
    import torch

    from flywheel.train.loop import make_context
    from flywheel.train.sft import sft_step

    runs = []
    for checkpointing in (False, True):
        cfg = _small(stage="sft", gradient_checkpointing=checkpointing)
        ctx = make_context(cfg, tiny, "cpu", 0, 1, None)
        assert ctx.module.is_gradient_checkpointing == checkpointing
        if checkpointing:
            assert ctx.module.config.get_text_config().use_cache is False
        loss = sft_step(ctx, [examples(shards, cfg)[:2]])["loss"]
        runs.append((loss, {n: p.detach().clone() for n, p in ctx.module.named_parameters()}))
    (plain, before), (checked, after) = runs
    assert checked == pytest.approx(plain, rel=1e-5)
    assert all(torch.allclose(before[n], after[n], atol=1e-6) for n in before)


@pytest.mark.parametrize("stage", ["perception", "sft"])
def test_stage_trains_from_shards(stage, tiny, shards, tmp_path):
    from flywheel.train.loop import train_local
    from flywheel.train.metrics import read

    out = tmp_path / stage
    last = train_local(_small(stage=stage), shards, tiny, out)
    assert [r["step"] for r in read(out / "metrics.jsonl")] == [1, 2] and last["loss"] > 0
    assert (out / "model" / "model.safetensors").is_file() and checkpoint.latest(out).step == 2
    with Image.open(out / "metrics.png") as png:
        assert png.size[0] > 200


def _weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


def test_killed_run_resumes_to_the_same_weights(tiny, shards, tmp_path):
    """SIGKILL the CLI mid-run, resume it: same final weights as one uninterrupted run."""
    import torch

    from flywheel.train.loop import train_local
    from flywheel.train.metrics import read

    cfg_file = tmp_path / "train.toml"
    cfg_file.write_text("[train]\nbatch_size = 2\nlr = 1e-3\nwarmup = 0.25\nmax_length = 1024\n"
                        "checkpoint_every = 1\nkeep_checkpoints = 3\n")
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "flywheel.cli", "train", "--stage", "sft", "--data", shards, "--model", tiny,
           "--out", str(out), "--steps", "5", "--config", str(cfg_file), "--no-ray"]
    log = tmp_path / "killed.log"
    with open(log, "w") as stderr:  # a file, not a pipe: a full pipe would stall the child
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=stderr, env=env)
    deadline = time.monotonic() + 300
    while (checkpoint.latest(out) is None or checkpoint.latest(out).step < 2) and time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()[-3000:]
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = checkpoint.latest(out).step
    assert 2 <= killed_at < 5
    cfg = load_train_config(cfg_file, stage="sft", steps=5)
    train_local(cfg, shards, tiny, out)
    train_local(cfg, shards, tiny, tmp_path / "straight")
    assert [r["step"] for r in read(out / "metrics.jsonl")] == list(range(1, 6))
    resumed, straight = _weights(out / "model"), _weights(tmp_path / "straight" / "model")
    assert resumed.keys() == straight.keys()
    assert all(torch.allclose(resumed[k], straight[k], atol=1e-6) for k in resumed)
    assert not torch.equal(straight["lm_head.weight"], _weights(Path(tiny))["lm_head.weight"])


def test_ray_torchtrainer_one_worker(tiny, shards, tmp_path):
    from flywheel.train.metrics import read
    from flywheel.train.ray_trainer import train_ray

    out = tmp_path / "ray"
    last = train_ray(_small(stage="perception"), shards, tiny, out, workers=1, cpus_per_worker=0.5)
    assert last["step"] == 2 and [r["step"] for r in read(out / "metrics.jsonl")] == [1, 2]
    assert (out / "model" / "config.json").is_file()


def test_cli_train(tiny, shards, tmp_path):
    from flywheel.cli import main

    out = tmp_path / "cli"
    args = ["train", "--stage", "perception", "--data", shards, "--model", tiny, "--out", str(out), "--steps", "1",
            "--no-ray"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "perception: 1 steps done" in result.output and (out / "model" / "config.json").is_file()
    missing = CliRunner().invoke(main, [*args[:4], str(tmp_path / "nothing"), *args[5:]])
    assert missing.exit_code != 0 and "no data dir" in missing.output
    bad = tmp_path / "bad.toml"
    bad.write_text("[train]\nlearning_rate = 1\n")
    wrong = CliRunner().invoke(main, [*args, "--config", str(bad)])
    assert wrong.exit_code != 0 and "unknown key(s) learning_rate" in wrong.output


@pytest.mark.slow
@pytest.mark.timeout(1800)  # evolve starts Ray and renders in the sandbox: minutes on a busy 2-core box
def test_end_to_end_from_flywheel_evolve(tiny, tmp_path):
    """Real flywheel output: a small evolve round, then perception and SFT through the CLI, chained."""
    data = tmp_path / "data"
    evolve = [sys.executable, "-m", "flywheel.cli", "evolve", "--rounds", "1", "--data", str(data),
              "--problems-per-round", "8"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    made = subprocess.run(evolve, capture_output=True, text=True, timeout=900, env=env, cwd=tmp_path)
    assert made.returncode == 0, made.stderr[-3000:]
    model = tiny
    for stage in ("perception", "sft"):
        out = tmp_path / stage
        cmd = [sys.executable, "-m", "flywheel.cli", "train", "--stage", stage, "--data", str(data), "--model",
               model, "--out", str(out), "--steps", "2", "--no-ray"]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
        model = str(out / "model")
    assert checkpoint.latest(tmp_path / "sft").step == 2
