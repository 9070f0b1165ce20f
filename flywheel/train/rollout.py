"""Multi-turn rollouts: the policy writes, the sandbox runs its `<code>` on the current figure, the result goes
back into the context, until an `<answer>` or the turn limit.

Generation goes through the model backend interface (`flywheel.models.base`), so the same loop runs on the
live training policy (`PolicyBackend`, below: no copy, nothing to sync), on an `hf` backend, or on vLLM with
weights pushed after each update (`sync_weights`). A transcript is a tuple of `formats.Segment`s; between
backends it travels as chat messages (`to_messages`/`from_messages`: model text as assistant turns, sandbox
output as user turns). `PolicyBackend` turns them back into exactly the tokens `encode.py` trains on, and
reports the sampled token ids, which ride on the model segments so the loss scores exactly the sampled
tokens (text-only backends such as vLLM or OpenAI leave them out, and encode.py re-tokenises the text).
Used by grpo.py; tests in tests/test_train_grpo.py.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from flywheel.models.base import (
    Completion,
    GenerationRequest,
    ImagePart,
    Message,
    ModelBackend,
    SamplingParams,
    TextPart,
)
from flywheel.sandbox import Sandbox, SandboxJob, SandboxLimits, SandboxResult
from flywheel.train.formats import (
    ANSWER,
    CODE,
    IMAGE,
    STOP_TAGS,
    Example,
    Segment,
    parse_response,
    sandbox_segment,
    system_prompt,
    transcript_text,
)

Finish = Literal["answer", "eos", "length", "turns", "error"]
MAX_PRINTED = 800  # characters of a tool call's stdout/error that go back into the context
# A random or young policy may write the literal image mark; in a segment it would claim an image that
# is not there, so it is defused (one character added; the text still reads the same to a person).
_DEFUSED_IMAGE = "<image_>"


@dataclass(frozen=True)
class ToolCall:
    """One `<code>` block and what running it did. `changed_image`: a PNG came back that differs from the
    figure the code was given (what the tool-use reward pays for)."""

    code: str
    status: str  # the sandbox's status: ok | error | timeout | memory | killed | forbidden
    changed_image: bool
    printed: str  # the text sent back (stdout, or the error)


@dataclass(frozen=True)
class Rollout:
    """One sampled transcript for one prompt. `segments` starts with the prompt, as an `Example` does."""

    example_id: str
    segments: tuple[Segment, ...]
    calls: tuple[ToolCall, ...] = ()
    finish: Finish = "answer"
    completion_tokens: int = 0  # tokens the policy sampled over all turns
    seconds: float = 0.0

    @property
    def text(self) -> str:
        """Model and sandbox text (what rewards read)."""
        return transcript_text(self.segments)

    def as_example(self, example: Example) -> Example:
        """This transcript as a training example for `encode` (answer and kind from the prompt's example)."""
        return replace(example, segments=self.segments)


@dataclass(frozen=True)
class RolloutSettings:
    group_size: int = 4  # G samples per prompt
    max_turns: int = 3  # generation calls per transcript; the code of the last one is not run
    max_new_tokens: int = 256  # per generation call
    max_length: int = 2048  # whole transcript, prompt and images included
    temperature: float = 1.0
    top_p: float = 1.0
    limits: SandboxLimits = field(default_factory=lambda: SandboxLimits(wall_s=10.0))


# -- segments <-> messages ---------------------------------------------------------------------------------


def to_messages(segments: Sequence[Segment]) -> tuple[Message, ...]:
    """System prompt, the prompt as a user turn, model text as assistant turns, sandbox output as user turns;
    an image sits where its segment's text holds the image mark."""
    roles = {"prompt": "user", "model": "assistant", "sandbox": "user"}
    out = [Message.of("system", system_prompt())]
    for s in segments:
        if s.image is None:
            out.append(Message(roles[s.role], (TextPart(s.text),)))
            continue
        before, _, after = s.text.partition(IMAGE)
        parts = [TextPart(before)] if before else []
        parts += [ImagePart(s.image)] + ([TextPart(after)] if after else [])
        out.append(Message(roles[s.role], tuple(parts)))
    return tuple(out)


def from_messages(messages: Sequence[Message]) -> tuple[Segment, ...]:
    """The inverse of `to_messages` (the system turn is dropped: `encode` adds its own)."""
    out: list[Segment] = []
    for m in messages:
        if m.role == "system":
            continue
        role = "model" if m.role == "assistant" else ("prompt" if not out else "sandbox")
        text = "".join(IMAGE if isinstance(p, ImagePart) else p.text for p in m.parts)
        images = m.images
        if len(images) > 1:
            raise ValueError("a transcript segment carries at most one image")
        out.append(Segment(role, text, images[0] if images else None))
    return tuple(out)


# -- the loop ----------------------------------------------------------------------------------------------


@dataclass
class _Open:
    """A transcript still being written."""

    example: Example
    segments: list[Segment]
    image: bytes | None
    calls: list[ToolCall] = field(default_factory=list)
    tokens: int = 0
    finish: Finish | None = None


def rollout_group(backend: ModelBackend, sandbox: Sandbox | None, examples: Sequence[Example],
                  settings: RolloutSettings) -> list[Rollout]:
    """G rollouts per example, prompt-major (rows k*G .. k*G+G-1 belong to examples[k]).

    Turn 1 asks for G samples per prompt in one request; later turns send every open transcript as its own
    request, and all code of a turn goes to the sandbox pool together. `sandbox` may be None when
    `max_turns` is 1 (no code is ever run).
    """
    start = time.perf_counter()
    g = settings.group_size
    sampling = SamplingParams(max_tokens=settings.max_new_tokens, temperature=settings.temperature,
                              top_p=settings.top_p, stop=STOP_TAGS)
    first = backend.generate([GenerationRequest(to_messages(ex.segments[:1]), replace(sampling, n=g), ex.id)
                              for ex in examples])
    states = [_Open(ex, [ex.segments[0]], ex.segments[0].image) for ex in examples for _ in range(g)]
    _take_turn(states, [(c, j) for c in first for j in range(g)], settings.max_turns == 1)
    for turn in range(2, settings.max_turns + 1):
        _run_code(sandbox, [s for s in states if s.finish is None], settings.limits)
        active = [s for s in states if s.finish is None]
        if not active:
            break
        requests = [GenerationRequest(to_messages(s.segments), sampling, s.example.id) for s in active]
        _take_turn(active, [(c, 0) for c in backend.generate(requests)], turn == settings.max_turns)
    seconds = (time.perf_counter() - start) / max(1, len(states))
    return [Rollout(s.example.id, tuple(s.segments), tuple(s.calls), s.finish or "turns", s.tokens, seconds)
            for s in states]


def _take_turn(states: list[_Open], outputs: list[tuple[Completion, int]], last: bool) -> None:
    """Append each state's generated text and decide whether it goes on (ended at `</code>`)."""
    for state, (completion, j) in zip(states, outputs, strict=True):
        if not completion.ok:
            state.finish = "length" if "context" in (completion.error or "") else "error"
            continue
        text, reason = completion.texts[j], completion.finish_reasons[j]
        ids = completion.token_ids[j] if completion.token_ids else None  # text-only backends: re-tokenised later
        state.tokens += completion.completion_tokens // max(1, len(completion.texts))
        text, tag = _close(text.replace(IMAGE, _DEFUSED_IMAGE), reason)
        if text or ids:
            state.segments.append(Segment("model", text, token_ids=ids))
        if tag == ANSWER[1]:
            state.finish = "answer"
        elif tag is None:
            state.finish = "length" if reason == "length" else "eos"
        elif last:
            state.finish = "turns"


def _close(text: str, reason: str) -> tuple[str, str | None]:
    """Backends return text up to (not including) a stop string; put back the tag that stopped it, read off
    which block is open. None: it stopped at the end-of-turn token or the token budget."""
    if reason != "stop":
        return text, None
    for open_tag, close_tag in (CODE, ANSWER):
        if text.rfind(open_tag) > text.rfind(close_tag):
            return text + close_tag, close_tag
    return text, None


def _run_code(sandbox: Sandbox, states: list[_Open], limits: SandboxLimits) -> None:
    """Run the last code block of each state on its current figure; append the sandbox output segment."""
    if not states:
        return
    codes = [(parse_response(s.segments[-1].text).code or ("",))[-1] for s in states]
    jobs = [SandboxJob.of(code, {"image.png": s.image} if s.image else None, limits)
            for code, s in zip(codes, states, strict=True)]
    for state, code, result in zip(states, codes, sandbox.map(jobs), strict=True):
        printed, image = tool_output(result, state.image)
        state.calls.append(ToolCall(code, result.status, image is not None, printed))
        state.segments.append(sandbox_segment(printed, image))
        state.image = image or state.image


def tool_output(result: SandboxResult, current: bytes | None) -> tuple[str, bytes | None]:
    """(text for the model, new figure or None). The last PNG that came back is the edit; one identical to
    the current figure is not shown again. Failures read like the traceback's last line."""
    printed = result.stdout.strip()
    if result.status != "ok":
        err = result.error
        detail = f"{err.type}: {err.message}" if err else result.status
        printed = (printed + "\n" if printed else "") + f"Error ({result.status}): {detail}"
    if len(printed) > MAX_PRINTED:
        printed = printed[:MAX_PRINTED // 2] + "\n...\n" + printed[-MAX_PRINTED // 2:]
    pngs = [im.png for im in result.images if im.png != current]
    return printed, (pngs[-1] if pngs and result.status == "ok" else None)


# -- the live policy as a backend -----------------------------------------------------------------------------


class PolicyBackend:
    """`ModelBackend` over the in-memory policy being trained: generation reads the same parameters the
    optimizer updates, so nothing is copied or synced. Prompts are built by `encode.encode` from the
    messages (see `from_messages`), token for token what the GRPO loss later scores. A request whose last
    message is the assistant's is continued, not closed. `SamplingParams.seed` is ignored: the trainer seeds
    torch once."""

    def __init__(self, model, processor, max_length: int = 2048, name: str = "policy",
                 min_new_tokens: int = 0) -> None:
        from flywheel.train.modeling import pad_id, vision_token_ids

        self.name = name
        self.model = model
        self.processor = processor
        self.max_length = max_length
        self.min_new_tokens = min_new_tokens  # > 0 only in benchmarks that need fixed completion lengths
        self.tokenizer = getattr(processor, "tokenizer", processor)
        self.pad_id = pad_id(processor)
        self.suppress = vision_token_ids(model)
        eos = model.generation_config.eos_token_id
        eos = eos if isinstance(eos, list) else [eos] if eos is not None else []
        self.eos = sorted(set(eos) | {self.tokenizer.eos_token_id} - {None})
        self._ends = set(self.eos) | {self.pad_id}  # finished rows are padded after their stop string

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        """One completion per request, in order; a request that does not fit comes back with `error`."""
        out: list[Completion | None] = [None] * len(requests)
        batches: dict[SamplingParams, list[tuple[int, Any]]] = {}
        for i, request in enumerate(requests):
            try:
                batches.setdefault(request.sampling, []).append((i, self._encode(request)))
            except ValueError as exc:  # encode.TooLong and malformed transcripts
                out[i] = Completion((), self.name, error=f"context: {exc}")
        for sampling, items in batches.items():
            for i, completion in zip([i for i, _ in items], self._generate(sampling, [e for _, e in items]),
                                     strict=True):
                out[i] = completion
        return [c for c in out if c is not None]

    def close(self) -> None:
        """Nothing to release: the trainer owns the model."""

    def _encode(self, request: GenerationRequest):
        from flywheel.train.encode import encode

        segments = from_messages(request.messages)
        if segments and segments[-1].role == "model":
            # encode closes a final model segment with end-of-turn; an empty tail keeps the turn open
            segments += (Segment("sandbox", ""),)
        example = Example(request.tag or "request", "rl", segments, "", "auto")
        encoded = encode(self.processor, example, self.max_length)
        if encoded.length >= self.max_length:
            raise ValueError(f"prompt has {encoded.length} tokens; max_length is {self.max_length}")
        return encoded

    def _generate(self, sampling: SamplingParams, items: list) -> list[Completion]:
        """Left-pad the prompts, sample `n` rows each, cut every row at its end-of-turn or stop string."""
        import torch

        start = time.perf_counter()
        inputs = _left_pad(items, self.pad_id, self.model.device, self.model.dtype)
        width = inputs["input_ids"].shape[1]
        budget = min(sampling.max_tokens, self.max_length - width)
        kwargs = dict(do_sample=sampling.temperature > 0, max_new_tokens=max(1, budget),
                      num_return_sequences=sampling.n, suppress_tokens=self.suppress or None,
                      eos_token_id=self.eos, pad_token_id=self.pad_id)
        if sampling.temperature > 0:
            kwargs.update(temperature=sampling.temperature, top_p=sampling.top_p, top_k=0)
        if self.min_new_tokens:
            kwargs.update(min_new_tokens=min(self.min_new_tokens, budget))
        if sampling.stop:
            kwargs.update(stop_strings=list(sampling.stop), tokenizer=self.tokenizer)
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode():
                rows = self.model.generate(**inputs, **kwargs)[:, width:].tolist()
        finally:
            self.model.train(was_training)
        seconds = (time.perf_counter() - start) / len(items)
        ends = [self._finish(row, sampling.stop) for row in rows]
        n = sampling.n
        return [Completion(tuple(t for t, _, _ in ends[k * n:(k + 1) * n]), self.name, item.length,
                           sum(c for _, c, _ in ends[k * n:(k + 1) * n]), seconds,
                           tuple(r for _, _, r in ends[k * n:(k + 1) * n]),
                           token_ids=tuple(tuple(row[:c]) for row, (_, c, _) in
                                           zip(rows[k * n:(k + 1) * n], ends[k * n:(k + 1) * n], strict=True)))
                for k, item in enumerate(items)]

    def _finish(self, tokens: list[int], stop: tuple[str, ...]) -> tuple[str, int, str]:
        """(text before the first stop string, tokens generated, "stop" or "length")."""
        end = next((i for i, t in enumerate(tokens) if t in self._ends), None)
        count = end + (tokens[end] in self.eos) if end is not None else len(tokens)
        text = self.tokenizer.decode(tokens[:count], skip_special_tokens=True)
        cut = min((i for i in (text.find(s) for s in stop if s) if i >= 0), default=-1)
        if cut >= 0:
            return text[:cut], count, "stop"
        return text, count, "stop" if end is not None else "length"


def _left_pad(items: list, pad_id: int, device, dtype) -> dict[str, Any]:
    """Generation inputs for a batch of encoded prompts, padded on the left so new tokens line up."""
    import torch

    width = max(e.length for e in items)

    def pad(name: str, value: int):
        rows = [getattr(e, name) for e in items]
        return torch.stack([torch.nn.functional.pad(r, (width - r.shape[0], 0), value=value) for r in rows])

    batch = {"input_ids": pad("input_ids", pad_id), "attention_mask": pad("attention_mask", 0)}
    if all(e.mm_token_type_ids is not None for e in items):
        batch["mm_token_type_ids"] = pad("mm_token_type_ids", 0)
    pixels = [e.pixel_values for e in items if e.pixel_values is not None]
    if pixels:
        batch["pixel_values"] = torch.cat(pixels).to(device, dtype)
        batch["image_grid_thw"] = torch.cat([e.image_grid_thw for e in items if e.image_grid_thw is not None])
    return {k: v.to(device) for k, v in batch.items()}


def sync_weights(backend: ModelBackend, model, folder: str | Path | None = None) -> float | None:
    """Push the updated policy into a serving engine after an optimizer step; seconds taken, or None when
    the backend needs nothing (the live `PolicyBackend`) or cannot reload (`hf`: it is not the trainer's).

    vLLM reloads from a folder (`load_weights(path)`), so the weights are written there first."""
    load = getattr(backend, "load_weights", None)
    if isinstance(backend, PolicyBackend) or load is None:
        return None
    if folder is None:
        raise ValueError("sync_weights: a folder to write the weights to is needed for this backend")
    start = time.perf_counter()
    model.save_pretrained(folder)
    load(str(folder))
    return time.perf_counter() - start
