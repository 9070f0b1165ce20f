"""Load a model's multimodal processor where torchvision cannot be imported (PyPI's is a CUDA build that fails
beside CPU-only torch).

Qwen2-VL, Qwen2.5-VL and Qwen3-VL processors (and others with a video slot) carry a video processor, and in
transformers 5 every video processor needs torchvision, so `AutoProcessor.from_pretrained` fails on a perfectly
good image-only setup. `load_processor` tries the normal route first and only on that failure builds the same
processor class from its tokenizer and (PIL) image processor with the video slot left empty. Used by
`flywheel.models.hf`; tested through tests/test_models_hf.py on the tiny model.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def load_processor(model: str, local_files_only: bool = True):
    """The processor for `model` (a folder or a hub name already in the local cache)."""
    from transformers import AutoProcessor

    try:
        return AutoProcessor.from_pretrained(model, local_files_only=local_files_only)
    except (ImportError, AttributeError) as exc:  # the two ways a missing torchvision surfaces
        log.info("AutoProcessor failed for %s (%s); building it without a video processor", model, exc)
        return _without_video(model, local_files_only)


def _without_video(model: str, local_files_only: bool):
    """The model's own processor class, with tokenizer and image processor loaded by their Auto classes
    (AutoImageProcessor picks the PIL backend when torchvision is absent) and `video_processor=None`."""
    from transformers import AutoConfig, AutoImageProcessor, AutoTokenizer
    from transformers.models.auto.processing_auto import PROCESSOR_MAPPING

    config = AutoConfig.from_pretrained(model, local_files_only=local_files_only)
    if type(config) not in PROCESSOR_MAPPING:
        raise ValueError(f"{model}: no processor class is known for model type {config.model_type!r}")
    cls = _allow_missing_video(PROCESSOR_MAPPING[type(config)])
    parts = {}
    for name in cls.get_attributes():
        if name == "tokenizer":
            parts[name] = AutoTokenizer.from_pretrained(model, local_files_only=local_files_only)
        elif name == "image_processor":
            parts[name] = AutoImageProcessor.from_pretrained(model, local_files_only=local_files_only)
        elif name == "video_processor":
            parts[name] = None
        else:  # e.g. an audio feature extractor: not something an image-chat backend can stand in for
            raise ValueError(f"{model}: cannot build processor part {name!r} without torchvision")
    # The template may live beside the processor (chat_template.jinja / legacy .json) rather than the tokenizer.
    saved, _ = cls.get_processor_dict(model, local_files_only=local_files_only)
    template = saved.get("chat_template") or getattr(parts.get("tokenizer"), "chat_template", None)
    return cls(**parts, chat_template=template)


def _allow_missing_video(cls: type) -> type:
    """A subclass of `cls` whose constructor accepts `video_processor=None` (the base class type-checks every
    part and rejects None). Only the check changes; processing images and text is the parent's code."""

    def check_argument_for_proper_class(self, argument_name, argument):
        if argument_name == "video_processor" and argument is None:
            return None
        return cls.check_argument_for_proper_class(self, argument_name, argument)

    return type(cls.__name__, (cls,), {"check_argument_for_proper_class": check_argument_for_proper_class})
