"""The tiny random Qwen2.5-VL behind every local path a real model takes: served over the OpenAI protocol (a
local server whose answers come from the model through the `hf` backend), and driving a whole `flywheel evolve`
round with `--backend hf` and with `--backend openai`. Its output is noise, so these prove the plumbing,
batching, accounting and the rejection path: the round completes and every proposal is a rejection with a
reason and the raw text kept."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading

import pytest
from fake_openai_server import FakeOpenAIServer, Reply

from flywheel.models.base import GenerationRequest, Message, SamplingParams
from storage.catalog import query


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from flywheel.models.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


class TinyResponder:
    """Turns an OpenAI chat request back into a GenerationRequest and answers it with the hf backend."""

    def __init__(self, model_dir) -> None:
        from flywheel.models.hf import HFBackend

        self.backend = HFBackend(str(model_dir), batch_size=4)
        self.lock = threading.Lock()  # the server is threaded; one generate at a time

    def __call__(self, body: dict) -> Reply:
        messages = []
        for m in body["messages"]:
            parts = m["content"] if isinstance(m["content"], list) else [{"type": "text", "text": m["content"]}]
            texts = [p["text"] for p in parts if p["type"] == "text"]
            images = [base64.b64decode(p["image_url"]["url"].split(",", 1)[1]) for p in parts
                      if p["type"] == "image_url"]
            messages.append(Message.of(m["role"], "\n".join(texts), *images))
        params = SamplingParams(max_tokens=min(int(body.get("max_tokens") or 32), 48), n=int(body.get("n") or 1),
                                temperature=float(body.get("temperature", 1.0)), seed=body.get("seed"))
        with self.lock:
            (c,) = self.backend.generate([GenerationRequest(tuple(messages), params)])
        if not c.ok:
            return Reply(status=400, texts=(c.error,))
        return Reply(texts=c.texts, model="tiny-qwen2.5-vl")


def test_openai_backend_against_a_server_answering_from_the_tiny_model(tiny):
    from flywheel.models.openai_backend import OpenAIBackend

    with FakeOpenAIServer(respond=TinyResponder(tiny)) as srv:
        backend = OpenAIBackend("tiny", base_url=srv.url, concurrency=2)
        reqs = [GenerationRequest((Message.of("user", f"What is shown? {i}", _png(i)),),
                                  SamplingParams(max_tokens=12, n=2, seed=i)) for i in range(3)]
        out = backend.generate(reqs)
        assert all(c.ok and len(c.texts) == 2 for c in out), [c.error for c in out]
        assert all(c.prompt_tokens > 0 and c.completion_tokens > 0 for c in out)
        bodies = [r.body for r in srv.requests]
        assert all(b["n"] == 2 and any(p["type"] == "image_url" for p in b["messages"][0]["content"])
                   for b in bodies)


def _png(i: int) -> bytes:
    import io

    from PIL import Image, ImageDraw

    img = Image.new("RGB", (96, 96), "white")
    ImageDraw.Draw(img).line((8, 8 + 10 * i, 90, 80), fill="black", width=3)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _round(tmp_path, *backend_args: str) -> list[dict]:
    data = tmp_path / "data"
    cfg = tmp_path / "small.toml"
    cfg.write_text("[evolve]\nproblems_per_round = 4\n[ray]\nbatch_size = 2\nrender_actors = 1\nverify_actors = 1\n"
                   "[models.proposer]\nmax_tokens = 48\n")
    res = subprocess.run([sys.executable, "-m", "flywheel.cli", "evolve", "--rounds", "1", "--data", str(data),
                          "--config", str(cfg), *backend_args], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    rounds = json.loads(query(data, "SELECT proposed, accepted, rejected FROM rounds", "json"))
    assert rounds == [{"proposed": 4, "accepted": 0, "rejected": rounds[0]["rejected"]}]
    return json.loads(query(data, "SELECT stage, reason, raw FROM rejections", "json"))


def test_evolve_round_with_the_hf_backend(tiny, tmp_path):
    rejected = _round(tmp_path, "--backend", "hf", "--model", str(tiny))
    assert len(rejected) >= 2 and all(r["stage"] == "propose" and r["reason"] for r in rejected)
    assert any(r["raw"] for r in rejected)  # what the model said is kept for debugging


def test_evolve_round_with_the_openai_backend_served_by_the_tiny_model(tiny, tmp_path):
    with FakeOpenAIServer(respond=TinyResponder(tiny)) as srv:
        rejected = _round(tmp_path, "--backend", "openai", "--model", "tiny", "--base-url", srv.url)
        assert len(srv.requests) == 2  # 4 problems at 3 levels per request: one request of 3, one of 1
    assert len(rejected) >= 2 and all(r["stage"] == "propose" and r["reason"] for r in rejected)
    assert any(r["raw"] for r in rejected)  # what the model said is kept for debugging
