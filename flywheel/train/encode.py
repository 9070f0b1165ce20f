"""Transcript -> tensors: token ids, a loss mask that is 1 only on the model's own tokens, and image inputs.

The prompt (system prompt + the user's turn with its figure) goes through the processor's chat template with
`add_generation_prompt`, so it is exactly what generation sees; every later segment is tokenised on its own and
appended, as a rollout produces it (generated tokens, then the sandbox's text tokenised separately). The last
model segment ends with the end-of-turn token, which carries loss so the model learns to stop; a model segment
that carries its sampled token ids (rollouts on the live policy) is taken as those ids, unchanged. Images are
expanded by the processor itself (for Qwen, one <|image_pad|> per merged patch). Used by sft.py and grpo.py.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from flywheel.train.formats import IMAGE, Example, Segment, system_prompt

IGNORE = -100  # label value torch's cross-entropy skips


@dataclass(frozen=True)
class Encoded:
    """One example's tensors (1-D over tokens, no batch dim). `spans` lists (role, start, end) per segment in
    token positions; `pixel_values`/`image_grid_thw` stack the images in order (None without images);
    `mm_token_type_ids` is kept when the processor makes it (Qwen in transformers 5 does)."""

    id: str
    input_ids: Any  # LongTensor [L]
    attention_mask: Any  # LongTensor [L], all ones
    loss_mask: Any  # LongTensor [L], 1 on model-role tokens
    spans: tuple[tuple[str, int, int], ...]
    pixel_values: Any = None  # FloatTensor [patches, dim]
    image_grid_thw: Any = None  # LongTensor [images, 3]
    mm_token_type_ids: Any = None  # LongTensor [L]

    @property
    def length(self) -> int:
        return int(self.input_ids.shape[0])


class TooLong(ValueError):
    """The example does not fit `max_length` without cutting into an image (callers skip and count it)."""


def encode(processor, example: Example, max_length: int) -> Encoded:
    """Tokenise `example`; text past `max_length` is cut (a cut that would split or drop an image raises
    TooLong). Sandbox and prompt tokens get loss_mask 0."""
    import torch

    pieces = [_encode_segment(processor, s, first=(i == 0), last_model=_is_last_model(example, i))
              for i, s in enumerate(example.segments)]
    spans, start = [], 0
    for segment, (ids, _, _, _) in zip(example.segments, pieces, strict=True):
        spans.append((segment.role, start, start + len(ids)))
        start += len(ids)
    ids = [t for p in pieces for t in p[0]]
    types = [t for p in pieces for t in p[1]]
    mask = [int(role == "model") for role, a, b in spans for _ in range(b - a)]
    if len(ids) > max_length:
        image_ends = [b for (role, a, b), p in zip(spans, pieces, strict=True) if p[2] is not None]
        if image_ends and max(image_ends) > max_length:
            raise TooLong(f"{example.id}: {len(ids)} tokens, an image ends past max_length={max_length}")
        ids, types, mask = ids[:max_length], types[:max_length], mask[:max_length]
        spans = [(r, min(a, max_length), min(b, max_length)) for r, a, b in spans]
    pixels = [p[2] for p in pieces if p[2] is not None]
    grids = [p[3] for p in pieces if p[3] is not None]
    long = torch.long
    return Encoded(
        id=example.id, input_ids=torch.tensor(ids, dtype=long), attention_mask=torch.ones(len(ids), dtype=long),
        loss_mask=torch.tensor(mask, dtype=long), spans=tuple(spans),
        pixel_values=torch.cat(pixels) if pixels else None, image_grid_thw=torch.cat(grids) if grids else None,
        mm_token_type_ids=torch.tensor(types, dtype=long) if _has_types(processor) else None)


def collate(items: list[Encoded], pad_id: int) -> dict[str, Any]:
    """Right-padded batch: input_ids, attention_mask, loss_mask, labels (IGNORE off the loss mask), and the
    images of all rows concatenated in row order (what Qwen-VL's forward expects)."""
    import torch

    width = max(e.length for e in items)

    def pad(name: str, value: int):
        rows = [getattr(e, name) for e in items]
        return torch.stack([torch.nn.functional.pad(r, (0, width - r.shape[0]), value=value) for r in rows])

    batch = {"input_ids": pad("input_ids", pad_id), "attention_mask": pad("attention_mask", 0),
             "loss_mask": pad("loss_mask", 0)}
    batch["labels"] = batch["input_ids"].masked_fill(batch["loss_mask"] == 0, IGNORE)
    if all(e.mm_token_type_ids is not None for e in items):
        batch["mm_token_type_ids"] = pad("mm_token_type_ids", 0)
    pixels = [e.pixel_values for e in items if e.pixel_values is not None]
    if pixels:
        batch["pixel_values"] = torch.cat(pixels)
        batch["image_grid_thw"] = torch.cat([e.image_grid_thw for e in items if e.image_grid_thw is not None])
    return batch


def model_inputs(batch: dict[str, Any]) -> dict[str, Any]:
    """The keys of a collated batch that the model's forward takes (no labels: callers compute their loss)."""
    keys = ("input_ids", "attention_mask", "pixel_values", "image_grid_thw", "mm_token_type_ids")
    return {k: batch[k] for k in keys if k in batch}


def to_device(batch: dict[str, Any], device, dtype=None) -> dict[str, Any]:
    """Move tensors; floating ones (pixel values) also take the model's dtype."""
    return {k: (v.to(device, dtype) if dtype is not None and v.is_floating_point() else v.to(device))
            for k, v in batch.items()}


# -- one segment -------------------------------------------------------------------------------------------


def _encode_segment(processor, segment: Segment, first: bool, last_model: bool):
    """(ids, mm types, pixel_values or None, grid or None) for one segment."""
    if first != (segment.role == "prompt"):
        raise ValueError("an example has exactly one prompt segment, and it comes first")
    if segment.token_ids is not None:  # sampled ids: trained as they are (no end-of-turn the model did not emit)
        return list(segment.token_ids), [0] * len(segment.token_ids), None, None
    tokenizer = getattr(processor, "tokenizer", processor)
    text = _prompt_text(processor, segment) if first else segment.text
    if last_model:
        text += tokenizer.eos_token or ""
    if segment.image is None:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        return ids, [0] * len(ids), None, None
    if not first:
        text = text.replace(IMAGE, image_placeholder(processor))
    out = processor(text=[text], images=[[_pil(segment.image)]], return_tensors="pt")
    ids = out["input_ids"][0].tolist()
    types = out["mm_token_type_ids"][0].tolist() if "mm_token_type_ids" in out else [0] * len(ids)
    return ids, types, out["pixel_values"], out["image_grid_thw"]


def _prompt_text(processor, segment: Segment) -> str:
    """System + user turn through the chat template, ending with the assistant header."""
    before, _, after = segment.text.partition(IMAGE)
    parts = [{"type": "text", "text": before}] if before else []
    parts += [{"type": "image"}] if segment.image is not None else []
    parts += [{"type": "text", "text": after}] if after else []
    messages = [{"role": "system", "content": system_prompt()}, {"role": "user", "content": parts}]
    return _templater(processor).apply_chat_template(messages, add_generation_prompt=True, tokenize=False)


def image_placeholder(processor) -> str:
    """The text a chat template writes for one image (Qwen: <|vision_start|><|image_pad|><|vision_end|>),
    read off the template itself so any vision chat model works."""
    parts = [{"type": "text", "text": "\x01"}, {"type": "image"}, {"type": "text", "text": "\x02"}]
    text = _templater(processor).apply_chat_template([{"role": "user", "content": parts}], tokenize=False)
    return text.split("\x01", 1)[1].split("\x02", 1)[0]


def _templater(processor):
    return processor if getattr(processor, "chat_template", None) else getattr(processor, "tokenizer", processor)


def _is_last_model(example: Example, i: int) -> bool:
    models = [k for k, s in enumerate(example.segments) if s.role == "model"]
    return bool(models) and i == models[-1] and i == len(example.segments) - 1


def _has_types(processor) -> bool:
    """Whether this processor's outputs include mm_token_type_ids (then the model expects them)."""
    return "mm_token_type_ids" in getattr(processor, "model_input_names", ())


def _pil(png: bytes):
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        return image.convert("RGB")
