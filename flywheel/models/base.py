"""The one model interface every backend implements, and the records that cross it.

`generate(requests) -> completions`: chat messages (text and PNG images) in, sampled texts out, with token
counts, seconds and the model's name, so costs can flow into each problem's record. Backends (`hf`,
`openai`, `vllm`, `procedural`/scripted) live one per module and import their engine lazily; callers never
reach through to engine internals. Layer L1: imports only records/config.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class TextPart:
    text: str


@dataclass(frozen=True)
class ImagePart:
    png: bytes


Part = TextPart | ImagePart


@dataclass(frozen=True)
class Message:
    role: Role
    parts: tuple[Part, ...]

    @staticmethod
    def of(role: Role, text: str, *images: bytes) -> Message:
        """Images first, then the text: the order chat templates of vision models expect."""
        return Message(role, tuple(ImagePart(png) for png in images) + (TextPart(text),))

    @property
    def text(self) -> str:
        return "".join(p.text for p in self.parts if isinstance(p, TextPart))

    @property
    def images(self) -> tuple[bytes, ...]:
        return tuple(p.png for p in self.parts if isinstance(p, ImagePart))


@dataclass(frozen=True)
class SamplingParams:
    max_tokens: int = 1024
    temperature: float = 0.7
    top_p: float = 1.0
    n: int = 1  # samples per request (cross-model checking draws k)
    stop: tuple[str, ...] = ()
    seed: int | None = None


@dataclass(frozen=True)
class GenerationRequest:
    messages: tuple[Message, ...]
    sampling: SamplingParams = field(default_factory=SamplingParams)
    tag: str = ""  # free text for logs and accounting (e.g. the problem id and role)


@dataclass(frozen=True)
class Completion:
    """`texts` has `sampling.n` entries; on failure it is empty and `error` says why (never raised).
    `token_ids`: the sampled token ids behind each text, from a backend that has them (the trainer's live
    policy), so a trainer scores exactly what was sampled; empty when the backend returns text only.
    `cached`: this completion was replayed from the request cache (flywheel/models/cache.py), not generated
    now; its tokens and seconds are those of the original call."""

    texts: tuple[str, ...]
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    finish_reasons: tuple[str, ...] = ()
    error: str | None = None
    token_ids: tuple[tuple[int, ...], ...] = ()
    cached: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.texts)


@runtime_checkable
class ModelBackend(Protocol):
    """What every backend offers. `generate` keeps request order and returns one completion per request."""

    name: str

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]: ...

    def close(self) -> None: ...
