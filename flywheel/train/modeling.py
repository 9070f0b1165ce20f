"""Load a trainable vision-language policy and its processor (tiny test model or a real Qwen2.5-VL folder).

The same loader serves every stage and the benchmark, so all of them train exactly what `flywheel.models.hf`
samples from: AutoModelForImageTextToText weights plus `load_processor` (which works without torchvision).
Nothing is downloaded unless `local_files_only=False`. torch/transformers are imported inside the function.
"""

from __future__ import annotations

DTYPES = ("float32", "bfloat16", "float16")


def load_policy(model: str, device: str = "cpu", dtype: str = "float32", local_files_only: bool = True):
    """(model in train mode on `device`, processor). `model` is a folder or a hub name already cached.
    Half precision is for GPUs; on CPU float32 is both faster and exact."""
    import torch
    from transformers import AutoModelForImageTextToText

    from flywheel.models.qwen_processor import load_processor

    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    from transformers.utils import logging as hf_logging

    processor = load_processor(model, local_files_only)
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # a "Loading weights" bar per worker and per resume is noise in logs
    try:
        policy = AutoModelForImageTextToText.from_pretrained(
            model, dtype=getattr(torch, dtype), local_files_only=local_files_only)
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    policy.to(torch.device(device)).train()
    return policy, processor


def enable_gradient_checkpointing(policy) -> None:
    """Recompute each layer's activations in backward instead of keeping them (memory for compute).
    Non-reentrant checkpointing works with inputs that do not require grad and with DDP; a KV cache is
    useless while training (and incompatible with recomputation), so it is switched off in the configs;
    generation asks for its own cache through the generation config."""
    policy.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    for config in (policy.config, getattr(policy.config, "text_config", None)):
        if config is not None and hasattr(config, "use_cache"):
            config.use_cache = False


def pad_id(processor) -> int:
    """The id collate pads with: the tokenizer's pad token, else its end-of-sequence token."""
    tokenizer = getattr(processor, "tokenizer", processor)
    value = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if value is None:
        raise ValueError("tokenizer has neither a pad nor an eos token")
    return int(value)


def vision_token_ids(policy) -> list[int]:
    """Image/video placeholder and delimiter ids a sampler must never emit (a random model does, and the
    next forward then fails on the image token count)."""
    config = policy.config
    names = ("image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id")
    return sorted({getattr(config, n) for n in names if isinstance(getattr(config, n, None), int)})
