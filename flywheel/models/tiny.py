"""A tiny random-weight Qwen2.5-VL, built offline in about a second: the model every CPU test and demo runs.

It has the real architecture, tokenizer files, chat template, image processor and generation config of a
Qwen2.5-VL checkpoint, so the real loading code (`flywheel.models.hf`, vLLM, trainers) runs on it unchanged; only
the sizes are small and the weights random. The byte-level BPE tokenizer is trained in-process on a small
built-in math and geometry corpus (nothing is downloaded). `flywheel tiny-model OUT` calls `build_tiny_model`.
Text head_dim is 64 because vLLM's CPU attention rejects small ones (16 fails); embeddings are untied because
with tied ones, weights hot-reloaded into vLLM leave a stale lm_head (both measured while planning).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# Qwen2.5-VL's special tokens, in Qwen's order (ids 0..13 here): the chat and vision markers the chat template,
# the processor and vLLM look up by name.
SPECIAL_TOKENS = (
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>",
    "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>",
    "<|image_pad|>", "<|video_pad|>",
)

# Qwen2-VL's chat template (same output), written as pieces so each rule reads on one line: a default system
# turn, string or part-list contents, and one <|vision_start|><|image_pad|><|vision_end|> per image part (the
# processor expands <|image_pad|> to the image's token count).
CHAT_TEMPLATE = "".join((
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}",
    "{% for message in messages %}",
    "{% if loop.first and message['role'] != 'system' %}",
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}",
    "<|im_start|>{{ message['role'] }}\n",
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n",
    "{% else %}{% for content in message['content'] %}",
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}",
    "{% set image_count.value = image_count.value + 1 %}",
    "{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}",
    "<|vision_start|><|image_pad|><|vision_end|>",
    "{% elif content['type'] == 'video' or 'video' in content %}",
    "{% set video_count.value = video_count.value + 1 %}",
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}",
    "<|vision_start|><|video_pad|><|vision_end|>",
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}",
    "{% endfor %}<|im_end|>\n{% endif %}{% endfor %}",
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}",
))


@dataclass(frozen=True)
class TinySpec:
    """Sizes of one tiny variant. Text head_dim = hidden / heads must stay 64 (vLLM-CPU)."""

    hidden: int
    layers: int
    heads: int
    kv_heads: int
    intermediate: int
    vision_hidden: int
    vision_depth: int
    vision_heads: int
    vocab: int  # BPE target; the corpus decides the final size
    max_pixels: int  # the image processor shrinks larger images to this many pixels
    context: int  # max_position_embeddings


SIZES = {
    # 64 image tokens at most per image (224x224): generation stays in the tens of milliseconds on 2 cores.
    "tiny": TinySpec(hidden=128, layers=2, heads=2, kv_heads=2, intermediate=256, vision_hidden=64,
                     vision_depth=2, vision_heads=2, vocab=1536, max_pixels=28 * 28 * 64, context=2048),
    # A few million parameters for trainer and throughput experiments that need the loss to move visibly.
    "small": TinySpec(hidden=256, layers=4, heads=4, kv_heads=2, intermediate=512, vision_hidden=128,
                      vision_depth=4, vision_heads=2, vocab=2048, max_pixels=28 * 28 * 256, context=4096),
}

_SHAPES = ("triangle ABC", "square ABCD", "rectangle PQRS", "circle O", "trapezoid ABCD", "rhombus EFGH",
           "parallelogram KLMN", "regular hexagon", "right triangle DEF", "sector OAB")
_QUANTITIES = ("area", "perimeter", "height", "radius", "diagonal", "angle", "length", "midpoint", "slope")
_TOOLS = ("draw the altitude from A", "mark the midpoint of BC", "extend line AB", "shade the region",
          "draw the circle through P", "connect O to the tangent point", "label the angle at B")
_WORDS = ("perpendicular", "parallel", "bisector", "inscribed", "circumscribed", "tangent", "chord", "arc",
          "vertex", "edge", "face", "cube", "cylinder", "cone", "sphere", "volume", "surface", "hypotenuse",
          "isosceles", "equilateral", "congruent", "symmetric", "reflection", "rotation", "translation",
          "probability", "fraction", "percent", "average", "median", "histogram", "coordinate", "intersection")

# Hand-written lines in the register the flywheel's models read and write: questions, answers with \boxed{},
# step-by-step reasoning, and tool code that edits a matplotlib figure.
_LINES = """\
Find the area of triangle ABC if AB = 6, BC = 8 and the angle at B is a right angle.
The area of a triangle is one half of the base times the height, so the area is 24.
In the figure, O is the center of the circle and AB is a diameter. What is the measure of angle ACB?
By Thales' theorem, an angle inscribed in a semicircle is a right angle, so angle ACB = 90 degrees.
The perimeter of a square with side length 5 is 20 and its diagonal is 5 times the square root of 2.
Let the coordinates of point P be (3, 4). The distance from P to the origin is 5.
The slope of the line through (1, 2) and (4, 8) is (8 - 2) / (4 - 1) = 2.
A regular hexagon can be split into six equilateral triangles that meet at its center.
The sum of the interior angles of a polygon with n sides is (n - 2) times 180 degrees.
Two chords that intersect inside a circle cut each other into segments whose products are equal.
The tangent to a circle is perpendicular to the radius drawn to the point of tangency.
Similar triangles have proportional sides, so their areas scale with the square of the ratio.
The median from A meets BC at its midpoint M, and the centroid divides the median in the ratio 2 : 1.
Read the bar chart: the tallest bar is for Tuesday, and the total over the week is 42.
The probability that the spinner lands on red is the red angle divided by 360 degrees.
The shortest path from S to T in the graph goes through the nodes S, B, E, T with total weight 11.
The clock shows 3:30, so the angle between the hands is 75 degrees.
Step 1: identify the known lengths. Step 2: apply the Pythagorean theorem. Step 3: solve for x.
Therefore the answer is \\boxed{12}.
So x = 7 and the final answer is \\boxed{7}.
Answer: \\boxed{\\frac{3}{4}}
<code>
import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(4, 4))
ax.plot([0, 4], [0, 3], color="red", linewidth=2)
ax.annotate("M", xy=(2, 1.5), xytext=(2.2, 1.2))
ax.add_patch(plt.Circle((0, 0), 5, fill=False))
plt.savefig("image.png")
</code>
<sandbox_output>The image now shows the altitude from A to BC.</sandbox_output>
def solve(a, b):
    return (a * a + b * b) ** 0.5
print(round(solve(3.0, 4.0), 2))
import numpy as np
theta = np.linspace(0, 2 * np.pi, 100)
x, y = np.cos(theta), np.sin(theta)
"""


def corpus() -> list[str]:
    """The tokenizer's training text: the hand-written lines plus templated sentences over shapes, quantities,
    numbers and drawing actions, so common words, digits and code idioms get their own merges."""
    lines = _LINES.splitlines()
    for i, shape in enumerate(_SHAPES):
        for j, quantity in enumerate(_QUANTITIES):
            value = (i + 2) * (j + 3)
            lines.append(f"What is the {quantity} of the {shape}? The {quantity} is {value}.")
            lines.append(f"To find the {quantity} of the {shape}, {_TOOLS[(i + j) % len(_TOOLS)]} first.")
            lines.append(f"Since the {shape} has {quantity} {value / 4:g}, the answer is \\boxed{{{value}}}.")
    for k, word in enumerate(_WORDS):
        a, b = chr(65 + k % 20), chr(66 + k % 20)
        lines.append(f"The {word} through {a} and {b} is shown in the figure; use it to compute the answer.")
        lines.append(f"Point {a} is at ({k}, {2 * k + 1}) and the {word} meets the x-axis at x = {k * 3 - 5}.")
        lines.append(f"ax.text({k / 10:.1f}, {k % 7 + 0.5}, \"{a}{b}\", fontsize={8 + k % 6})  # {word}")
    return lines


def build_tiny_model(out: Path, seed: int = 0, size: str = "tiny") -> Path:
    """Write a loadable random Qwen2.5-VL checkpoint to `out` (created if missing) and return the folder.
    The same seed and size give byte-identical weights and tokenizer files."""
    if size not in SIZES:
        raise ValueError(f"unknown tiny model size {size!r}; choose from {sorted(SIZES)}")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing here needs the hub; make any slip fail fast
    import torch
    from transformers.utils import logging as hf_logging

    spec = SIZES[size]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = _tokenizer(spec)
    image_processor = _image_processor(spec)
    torch.manual_seed(seed)  # weights come from the global generator; seed it right before building
    model = _model(spec, tokenizer)
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # a "Writing model shards" bar for a 3 MB file is noise in CLI output
    try:
        model.save_pretrained(out)
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    tokenizer.save_pretrained(out)
    image_processor.save_pretrained(out)
    return out


def _tokenizer(spec: TinySpec):
    """Byte-level BPE (every byte is in the alphabet, so no text is ever unknown) wrapped as a HF tokenizer
    with Qwen's special tokens, left padding for batched generation, and the chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    bpe.decoder = decoders.ByteLevel()
    bpe.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=spec.vocab, special_tokens=list(SPECIAL_TOKENS),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    bpe.train_from_iterator(corpus(), trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>",
        additional_special_tokens=list(SPECIAL_TOKENS[1:]), chat_template=CHAT_TEMPLATE,
        model_max_length=spec.context, padding_side="left")
    # Recorded in tokenizer_config.json as in real Qwen2.5-VL checkpoints: loaders pick the processor from it.
    tokenizer._set_processor_class("Qwen2_5_VLProcessor")
    return tokenizer


def _image_processor(spec: TinySpec):
    """The PIL image processor: the default one needs torchvision, which this machine cannot import."""
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    return Qwen2VLImageProcessorPil(min_pixels=28 * 28 * 4, max_pixels=spec.max_pixels, patch_size=14,
                                    temporal_patch_size=2, merge_size=2)


def _model(spec: TinySpec, tokenizer):
    """A randomly initialised Qwen2.5-VL with a generation config that stops at <|im_end|> or <|endoftext|>."""
    from transformers import GenerationConfig, Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in SPECIAL_TOKENS}
    head_dim = spec.hidden // spec.heads
    section = [head_dim // 8, 3 * head_dim // 16, 3 * head_dim // 16]  # temporal/height/width; sums to head_dim/2
    text = dict(vocab_size=len(tokenizer), hidden_size=spec.hidden, intermediate_size=spec.intermediate,
                num_hidden_layers=spec.layers, num_attention_heads=spec.heads, num_key_value_heads=spec.kv_heads,
                max_position_embeddings=spec.context, tie_word_embeddings=False,
                rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": section},
                bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"],
                pad_token_id=ids["<|endoftext|>"])
    vision = dict(depth=spec.vision_depth, hidden_size=spec.vision_hidden, intermediate_size=2 * spec.vision_hidden,
                  num_heads=spec.vision_heads, out_hidden_size=spec.hidden, patch_size=14, spatial_merge_size=2,
                  temporal_patch_size=2, window_size=112, fullatt_block_indexes=[spec.vision_depth - 1])
    config = Qwen2_5_VLConfig(
        text_config=text, vision_config=vision, tie_word_embeddings=False,
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"])
    model = Qwen2_5_VLForConditionalGeneration(config).eval()
    model.generation_config = GenerationConfig(
        bos_token_id=ids["<|endoftext|>"], eos_token_id=[ids["<|im_end|>"], ids["<|endoftext|>"]],
        pad_token_id=ids["<|endoftext|>"], do_sample=True, temperature=1.0, top_p=1.0)
    return model
