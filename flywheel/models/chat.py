"""Chat plumbing shared by the in-process backends (hf, vllm): flywheel Messages to the Hugging Face chat format,
PNG parts to PIL images, and the vision special tokens a sampler must never emit. One place, so both backends
build byte-identical prompts (their greedy outputs are compared in tests/test_models_vllm.py).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from flywheel.models.base import ImagePart, Message

# Config attributes that name image/video placeholder and delimiter tokens across model families (Qwen-VL,
# LLaVA, Gemma 3); whichever a config has are suppressed while sampling.
VISION_TOKEN_ATTRS = ("image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id",
                      "image_token_index", "video_token_index", "boi_token_index", "eoi_token_index")
VISION_TOKENS = ("<|vision_pad|>",)  # Qwen's padding marker has no config attribute


class RequestError(Exception):
    """This request cannot run; its reason goes into `Completion.error`. Backends catch it per request."""


def all_images(messages: Sequence[Message]) -> list[bytes]:
    return [part.png for m in messages for part in m.parts if isinstance(part, ImagePart)]


def conversation(messages: Sequence[Message]) -> list[dict]:
    """HF chat format. Text-only messages as plain strings (some templates accept only those for system
    turns); otherwise parts in order, images as `{"type": "image"}` placeholders the processor fills."""
    out = []
    for m in messages:
        if not m.images:
            out.append({"role": m.role, "content": m.text})
            continue
        parts = [{"type": "image"} if isinstance(p, ImagePart) else {"type": "text", "text": p.text} for p in m.parts]
        out.append({"role": m.role, "content": parts})
    return out


def decode_image(png: bytes, k: int):
    """An RGB PIL image, fully read now so a truncated or foreign file fails here, for this request only."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(png)) as image:
            image.load()
            return image.convert("RGB")
    except UnidentifiedImageError:  # its message names a BytesIO object's address, which helps nobody
        raise RequestError(f"image {k + 1} is not a readable image (unknown format)") from None
    except Exception as exc:  # truncated data, a decompression bomb...: all mean "bad image"
        raise RequestError(f"image {k + 1} is not a readable image ({type(exc).__name__}: {exc})") from None


def model_name(model: str) -> str:
    """The folder's name for a local model, the hub name otherwise."""
    path = Path(model)
    return path.resolve().name if path.is_dir() else model


def vision_token_ids(config, tokenizer) -> list[int]:
    text = config.get_text_config()
    ids = {getattr(c, a) for c in (config, text) for a in VISION_TOKEN_ATTRS if isinstance(getattr(c, a, None), int)}
    for token in VISION_TOKENS:
        tid = tokenizer.convert_tokens_to_ids(token)
        if isinstance(tid, int) and tid != tokenizer.unk_token_id:
            ids.add(tid)
    return sorted(i for i in ids if 0 <= i < text.vocab_size)
