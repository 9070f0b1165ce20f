"""Build a backend from a `ModelSpec`: the one explicit table of backends, each imported only when used."""

from __future__ import annotations

from collections.abc import Callable

from flywheel.config import ModelSpec
from flywheel.models.base import ModelBackend


def _hf(spec: ModelSpec, **options) -> ModelBackend:
    from flywheel.models.hf import HFBackend

    return HFBackend(spec.model, **options)


def _openai(spec: ModelSpec, **options) -> ModelBackend:
    from flywheel.models.openai_backend import OpenAIBackend

    return OpenAIBackend(spec.model, base_url=spec.base_url or None, **options)


def _vllm(spec: ModelSpec, **options) -> ModelBackend:
    from flywheel.models.vllm_backend import VLLMBackend

    return VLLMBackend(spec.model, **options)


BACKENDS: dict[str, Callable[..., ModelBackend]] = {"hf": _hf, "openai": _openai, "vllm": _vllm}


def make_backend(spec: ModelSpec) -> ModelBackend:
    if spec.backend not in BACKENDS:
        raise ValueError(f"unknown model backend {spec.backend!r}; known: {', '.join(BACKENDS)}")
    try:
        return BACKENDS[spec.backend](spec, **dict(spec.options))
    except ModuleNotFoundError as exc:
        extra = {"vllm": " (install the vllm extra: see README)", "hf": ""}.get(spec.backend, "")
        raise RuntimeError(f"model backend {spec.backend!r} is not available: {exc}{extra}") from exc
