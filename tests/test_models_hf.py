"""The `hf` backend on the tiny random Qwen2.5-VL (built once per module, offline, in about a second).

Real transformers loading and generation, no mocks: text and image requests batched with n=1 and n=3, token
counts, seeded replay across different batch companions, stop strings, and broken requests that fail alone.
A random model writes gibberish, so texts are compared with each other, never with expected words.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from flywheel.models.base import GenerationRequest, Message, ModelBackend, SamplingParams
from flywheel.models.hf import HFBackend, _Sampler
from flywheel.models.tiny import build_tiny_model

REPO = Path(__file__).resolve().parents[1]


def figure_png(size: int = 224) -> bytes:
    """A triangle on white: 224x224 is exactly 64 image tokens for the tiny model's processor."""
    img = Image.new("RGB", (size, size), "white")
    ImageDraw.Draw(img).polygon([(20, 200), (200, 200), (70, 30)], outline="black", width=3)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def ask(prompt: str, *images: bytes, **sampling) -> GenerationRequest:
    return GenerationRequest((Message.of("user", prompt, *images),), SamplingParams(**sampling), tag=prompt[:20])


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny-qwen", seed=0)


@pytest.fixture(scope="module")
def backend(model_dir) -> HFBackend:
    be = HFBackend(str(model_dir), batch_size=4)
    yield be
    be.close()


def test_text_and_image_requests_batched_with_n_1_and_3(backend):
    png = figure_png()
    requests = [ask("What is the area of triangle ABC?", max_tokens=16, n=1),
                ask("What is the area of triangle ABC?", png, max_tokens=16, n=1),
                ask("Find the angle at B.", max_tokens=12, n=3),
                ask("Find the angle at B.", png, max_tokens=12, n=3),
                ask("Name the vertices.", png, max_tokens=20, n=1)]
    out = backend.generate(requests)
    assert isinstance(backend, ModelBackend) and backend.name == "hf:tiny-qwen"
    assert len(out) == len(requests)
    for request, c in zip(requests, out, strict=True):
        n, max_tokens = request.sampling.n, request.sampling.max_tokens
        assert c.ok, c.error
        assert c.model == "tiny-qwen"
        assert len(c.texts) == n and len(c.finish_reasons) == n
        assert set(c.finish_reasons) <= {"stop", "length"}
        assert c.prompt_tokens > 0 and c.seconds > 0
        assert 0 < c.completion_tokens <= n * max_tokens
    # the image adds <|vision_start|>, 64 <|image_pad|> and <|vision_end|> to the same text prompt
    assert out[1].prompt_tokens == out[0].prompt_tokens + 66
    assert out[3].prompt_tokens == out[2].prompt_tokens + 66
    assert len(set(out[3].texts)) == 3  # three samples, three different texts


def test_identical_prompts_count_the_same_tokens_whatever_the_padding(backend):
    png = figure_png()
    same = ask("Compute the perimeter of the square.", png, max_tokens=8)
    longer = ask("Compute the perimeter of the square whose diagonal is drawn in red. " * 6, png, max_tokens=8)
    out = backend.generate([same, longer, ask("ok", max_tokens=8), ask("x", max_tokens=8), same])
    assert all(c.ok for c in out)
    assert out[0].prompt_tokens == out[4].prompt_tokens < out[1].prompt_tokens  # batch 1 padded to `longer`
    alone = backend.generate([same])[0]
    assert alone.prompt_tokens == out[0].prompt_tokens


def test_completion_tokens_respect_max_tokens_and_the_backend_cap(model_dir):
    capped = HFBackend(str(model_dir), max_new_tokens=5)
    out = capped.generate([ask("Describe the figure.", figure_png(), max_tokens=40, n=3, seed=1),
                           ask("Describe the figure.", max_tokens=2, n=1, seed=1)])
    assert all(c.ok for c in out)
    assert 0 < out[0].completion_tokens <= 3 * 5
    assert 0 < out[1].completion_tokens <= 2


def test_same_seed_same_text_even_with_other_batch_companions(backend):
    png = figure_png()
    seeded = ask("Find the length of AB.", png, max_tokens=24, n=2, seed=123)
    first = backend.generate([seeded])[0]
    others = [ask(f"Filler question {k}?", max_tokens=30, n=2) for k in range(3)]
    mixed = backend.generate([others[0], seeded, *others[1:]])[1]
    again = backend.generate([seeded])[0]
    assert first.texts == mixed.texts == again.texts
    other_seed = backend.generate([ask("Find the length of AB.", png, max_tokens=24, n=2, seed=124)])[0]
    assert other_seed.texts != first.texts
    greedy = ask("Find the length of AB.", max_tokens=16, temperature=0.0)
    assert backend.generate([greedy])[0].texts == backend.generate([greedy, greedy])[1].texts


def test_stop_strings_cut_the_text_before_the_stop(backend):
    # Learn what a seed writes, pick a stop string from the middle of it, and replay with the stop: the text
    # must end right before the stop's first occurrence, having generated fewer tokens.
    base = dict(max_tokens=32, temperature=1.0)
    for seed in range(5, 40):
        full = backend.generate([ask("Solve for x.", seed=seed, **base)])[0]
        text = full.texts[0]
        starts = [i for i in range(6, len(text) - 3) if text[i:i + 3].isascii() and text[i:i + 3].isprintable()]
        if starts:
            break
    stop = text[starts[0]:starts[0] + 3]
    cut = backend.generate([ask("Solve for x.", seed=seed, stop=("@@never@@", stop), **base)])[0]
    assert cut.ok
    assert cut.texts == (text[: text.find(stop)],)
    assert cut.finish_reasons == ("stop",)
    assert cut.completion_tokens < full.completion_tokens


def test_a_broken_request_fails_alone_and_the_batch_completes(backend):
    png = figure_png()
    too_long = ask("triangle " * 2500, max_tokens=4)  # about 2,500 tokens; the tiny model's context is 2,048
    requests = [ask("Find x.", png, max_tokens=8),
                ask("Find x.", b"GIF89a this is not a PNG", max_tokens=8),
                ask("Find y.", max_tokens=8),
                too_long,
                ask("Find z.", png, png[: len(png) // 2], max_tokens=8),  # second image truncated
                ask("Find w.", max_tokens=8, n=0)]
    out = backend.generate(requests)
    assert [c.ok for c in out] == [True, False, True, False, False, False]
    assert "image 1 is not a readable image" in out[1].error and out[1].texts == ()
    assert "context" in out[3].error
    assert "image 2" in out[4].error
    assert "sampling" in out[5].error
    assert out[0].texts and out[2].texts


def test_sampler_never_picks_vision_tokens_and_is_greedy_at_temperature_zero():
    import torch

    scores = torch.zeros(4, 10)
    scores[:, 3] = 50.0  # a vision token the model "wants"
    scores[:, 7] = 5.0
    params = [SamplingParams(temperature=0.0), SamplingParams(temperature=1.0, top_p=1e-6),
              SamplingParams(temperature=1.0, seed=1), SamplingParams(temperature=1.0, seed=1)]
    gens = [torch.Generator().manual_seed(1) for _ in params]
    out = _Sampler(params, gens, suppress=[3], device="cpu")(None, scores)
    picks = out.argmax(dim=-1).tolist()
    assert torch.isfinite(out).sum().item() == 4  # exactly one finite score per row
    assert 3 not in picks
    assert picks[0] == picks[1] == 7  # greedy, and a vanishing nucleus keeps only the most likely token
    assert picks[2] == picks[3]  # same generator seed, same draw


def test_module_import_does_not_import_torch_or_transformers():
    code = ("import sys, flywheel.models.hf, flywheel.models.tiny, flywheel.models.qwen_processor; "
            "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
