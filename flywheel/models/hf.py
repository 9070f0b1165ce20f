"""The `hf` backend: a Hugging Face vision-chat model (processor + chat template) run in-process by transformers.

For CPU runs and small models (the tiny model in tests, a few-billion-parameter model on one GPU); vLLM is the
production path. Requests are grouped by `n` and run `batch_size` at a time, left-padded, with
`num_return_sequences=n`. A logits processor does the sampling with one torch generator per sampled row, so a
seeded request gives the same text whatever shares its batch (up to float noise from padding), and temperature
and top_p may differ inside one batch. Vision special tokens are never sampled: a random model emits them, and a
later training forward then fails on the image token count. A request that cannot run (unreadable image, prompt
longer than the context, an engine error) becomes a Completion with `error`; the rest of its batch still runs.
torch and transformers are imported inside the backend, never at module import. Tests: tests/test_models_hf.py.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flywheel.models.base import Completion, GenerationRequest, SamplingParams
from flywheel.models.chat import RequestError as _RequestError
from flywheel.models.chat import all_images as _all_images
from flywheel.models.chat import conversation as _conversation
from flywheel.models.chat import decode_image as _decode_image
from flywheel.models.chat import model_name as _model_name
from flywheel.models.chat import vision_token_ids as _vision_token_ids

log = logging.getLogger(__name__)

DTYPES = ("float32", "bfloat16", "float16")


@dataclass(frozen=True)
class _Prepared:
    """One request ready to batch: its place in the caller's list, templated prompt and decoded images."""

    index: int
    prompt: str
    images: tuple[Any, ...]  # PIL images in prompt order
    sampling: SamplingParams
    tag: str


class HFBackend:
    """transformers generation behind the `ModelBackend` interface (see the module docstring).

    `model` is a folder or a hub name already in the local cache (`local_files_only`: nothing is downloaded
    unless asked). `dtype="auto"` means float32 on CPU (half precision is slow and lossy there) and the
    checkpoint's dtype elsewhere. `max_new_tokens` caps every request's `max_tokens`.
    """

    # One engine, one call at a time: a pool actor puts a Coalescer (flywheel/models/batching.py) in front, so
    # calls that arrive while it runs become one batch next.
    thread_safe = False

    def __init__(self, model: str, device: str = "cpu", dtype: str = "auto", batch_size: int = 8,
                 max_new_tokens: int = SamplingParams.max_tokens, local_files_only: bool = True) -> None:
        import torch
        from transformers import AutoModelForImageTextToText

        from flywheel.models.qwen_processor import load_processor

        self.model = _model_name(model)
        self.name = f"hf:{self.model}"
        self.device = torch.device(device)
        self.batch_size = max(1, batch_size)
        self.max_new_tokens = max(1, max_new_tokens)
        self._processor = load_processor(model, local_files_only)
        self._tokenizer = getattr(self._processor, "tokenizer", self._processor)
        self._tokenizer.padding_side = "left"  # new tokens are appended on the right: prompts must end aligned
        self._templater = self._processor if getattr(self._processor, "chat_template", None) else self._tokenizer
        if not getattr(self._templater, "chat_template", None):
            raise ValueError(f"{model}: no chat template in its processor or tokenizer")
        self._model = AutoModelForImageTextToText.from_pretrained(
            model, dtype=_torch_dtype(dtype, self.device), local_files_only=local_files_only).to(self.device).eval()
        gen = self._model.generation_config
        self._eos = _ids(gen.eos_token_id) or _ids(self._tokenizer.eos_token_id)
        pad = gen.pad_token_id if gen.pad_token_id is not None else self._tokenizer.pad_token_id
        self._pad = pad if pad is not None else self._eos[0]
        self._suppress = _vision_token_ids(self._model.config, self._tokenizer)
        self.context = _context_length(self._model.config, self._tokenizer)
        self._rng = random.Random()  # seeds for requests that bring none

    def __repr__(self) -> str:
        return f"HFBackend(model={self.model!r}, device={str(self.device)!r}, batch_size={self.batch_size})"

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        """One completion per request, in order; failures come back as completions with `error` set."""
        results: list[Completion | None] = [None] * len(requests)
        ready: list[_Prepared] = []
        for i, request in enumerate(requests):
            try:
                ready.append(self._prepare(i, request))
            except _RequestError as exc:
                results[i] = self._failed(request.tag, str(exc))
        for batch in _batches(ready, self.batch_size):
            for item, completion in zip(batch, self._run(batch), strict=True):
                results[item.index] = completion
        done = [c for c in results if c is not None]
        assert len(done) == len(requests), "every request gets exactly one completion"
        return done

    def close(self) -> None:
        """Drop the weights (an actor pool reuses the process for the next model)."""
        import torch

        self._model = None
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    # -- one request, one batch --------------------------------------------------------------------------

    def _prepare(self, index: int, request: GenerationRequest) -> _Prepared:
        """Check the sampling parameters, decode the images and apply the chat template."""
        s = request.sampling
        if s.n < 1 or s.max_tokens < 1 or s.temperature < 0 or not 0 < s.top_p <= 1:
            raise _RequestError(f"bad sampling parameters: {s}")
        if not request.messages:
            raise _RequestError("no messages")
        images = tuple(_decode_image(png, k) for k, png in enumerate(_all_images(request.messages)))
        try:
            prompt = self._templater.apply_chat_template(
                _conversation(request.messages), add_generation_prompt=True, tokenize=False)
        except Exception as exc:  # a template that rejects these messages (e.g. roles out of order)
            raise _RequestError(f"chat template failed: {type(exc).__name__}: {exc}") from None
        return _Prepared(index, prompt, images, s, request.tag)

    def _run(self, batch: list[_Prepared]) -> list[Completion]:
        """Generate a batch; if it fails as a whole, run its requests one by one so only the culprit fails."""
        try:
            return self._generate_batch(batch)
        except Exception as exc:  # engine errors (too long, out of memory, a processor refusing an input) are data
            if len(batch) == 1:
                reason = str(exc) if isinstance(exc, _RequestError) else f"{type(exc).__name__}: {exc}"
                return [self._failed(batch[0].tag, reason)]
            log.info("hf %s: batch of %d failed (%s); retrying one by one", self.model, len(batch), exc)
            return [c for item in batch for c in self._run([item])]

    def _generate_batch(self, batch: list[_Prepared]) -> list[Completion]:
        """Encode, sample `n` rows per request, cut each row at its end; the batch's seconds are split evenly
        between its requests (they shared every step)."""
        import torch
        from transformers import LogitsProcessorList, StoppingCriteriaList

        start = time.perf_counter()
        inputs = self._encode(batch)
        lengths = inputs["attention_mask"].sum(dim=1).tolist()
        if max(lengths) >= self.context:
            raise _RequestError(f"prompt has {max(lengths)} tokens; the model's context is {self.context}")
        n = batch[0].sampling.n
        rows = [(item, j) for item in batch for j in range(n)]  # num_return_sequences repeats request-major
        budgets = [min(item.sampling.max_tokens, self.max_new_tokens, self.context - length)
                   for item, length in zip(batch, lengths, strict=True) for _ in range(n)]
        sampler = _Sampler([item.sampling for item, _ in rows], [self._generator(item, j) for item, j in rows],
                           self._suppress, self.device)
        width = inputs["input_ids"].shape[1]
        stopper = _Stopper(self._tokenizer, width, budgets, [item.sampling.stop for item, _ in rows], self._eos)
        with torch.inference_mode():
            out = self._model.generate(
                **inputs, do_sample=True, num_return_sequences=n, max_new_tokens=max(budgets),
                logits_processor=LogitsProcessorList([sampler]), stopping_criteria=StoppingCriteriaList([stopper]),
                eos_token_id=self._eos, pad_token_id=self._pad)
        new = out[:, width:].tolist()
        ends = [self._finish(new[r], stopper.stopped_at[r], rows[r][0].sampling.stop) for r in range(len(rows))]
        seconds = (time.perf_counter() - start) / len(batch)
        completions = []
        for k, prompt_tokens in enumerate(lengths):
            texts, counts, reasons = zip(*ends[k * n:(k + 1) * n], strict=True)
            completions.append(Completion(texts=texts, model=self.model, prompt_tokens=int(prompt_tokens),
                                          completion_tokens=sum(counts), seconds=seconds, finish_reasons=reasons))
        return completions

    def _encode(self, batch: list[_Prepared]):
        """The processor's tensors for the batch, left-padded, on the model's device (floats in its dtype)."""
        images = [list(item.images) for item in batch]
        extra = {"images": images} if any(images) else {}
        inputs = self._processor(text=[item.prompt for item in batch], padding=True, return_tensors="pt", **extra)
        return inputs.to(self.device).to(self._model.dtype)  # BatchFeature casts only floating tensors

    def _finish(self, tokens: list[int], stopped_at: int | None, stop: tuple[str, ...]) -> tuple[str, int, str]:
        """(text, tokens generated, finish reason) for one row: it ends at the first EOS token or where the
        stopper cut it (a stop string or the token budget); text stops before the first stop string."""
        end = next((i + 1 for i, t in enumerate(tokens) if t in self._eos), None)
        limit = stopped_at if stopped_at is not None else len(tokens)
        if end is not None and end <= limit:
            count, reason = end, "stop"
        else:
            count, reason = min(limit, len(tokens)), "length"
        text = self._tokenizer.decode(tokens[:count], skip_special_tokens=True)
        cut = min((i for i in (text.find(s) for s in stop if s) if i >= 0), default=-1)
        if cut >= 0:
            text, reason = text[:cut], "stop"
        return text, count, reason

    def _generator(self, item: _Prepared, sample: int):
        """A CPU generator per sampled row: seeded requests replay exactly, others draw a fresh seed."""
        import torch

        seed = item.sampling.seed
        value = self._rng.getrandbits(63) if seed is None else hash((seed, sample)) & (2**63 - 1)
        return torch.Generator().manual_seed(value)

    def _failed(self, tag: str, reason: str) -> Completion:
        log.warning("hf %s [%s]: %s", self.model, tag, reason)
        return Completion(texts=(), model=self.model, error=reason)


class _Sampler:
    """Logits processor that samples every row itself (temperature, top_p, its own generator; temperature 0 is
    greedy) and returns scores with only the chosen token finite, so generate's own pick is exactly ours.
    Warpers transformers adds from the model's generation config keep a one-hot choice unchanged."""

    def __init__(self, params: list[SamplingParams], generators: list, suppress: list[int], device) -> None:
        import torch

        self._temperature = torch.tensor([p.temperature for p in params], dtype=torch.float32, device=device)
        self._top_p = torch.tensor([p.top_p for p in params], dtype=torch.float32, device=device)
        self._greedy = self._temperature <= 0
        self._generators = generators
        self._suppress = torch.tensor(suppress, dtype=torch.long, device=device)

    def __call__(self, input_ids, scores):
        import torch

        if len(self._suppress):
            scores = scores.index_fill(1, self._suppress, float("-inf"))
        temperature = torch.where(self._greedy, torch.ones_like(self._temperature), self._temperature)
        probs = torch.softmax(scores / temperature[:, None], dim=-1)
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        # nucleus: drop tokens whose more likely predecessors already hold top_p of the mass (the first stays)
        sorted_probs = sorted_probs.masked_fill(sorted_probs.cumsum(-1) - sorted_probs >= self._top_p[:, None], 0)
        cdf = sorted_probs.cumsum(-1)
        draws = [torch.rand((), generator=g).item() for g in self._generators]
        u = torch.tensor(draws, dtype=cdf.dtype, device=cdf.device)[:, None] * cdf[:, -1:]
        position = torch.searchsorted(cdf, u).clamp_(max=cdf.shape[-1] - 1)
        sampled = order.gather(-1, position).squeeze(-1)
        pick = torch.where(self._greedy, scores.argmax(dim=-1), sampled)
        return torch.full_like(scores, float("-inf")).scatter_(-1, pick[:, None], 0.0)


class _Stopper:
    """Stopping criterion for each row's own token budget and stop strings; remembers the step each row ended.
    Only the last few tokens are decoded per step: a stop string is found in the step that completes it."""

    def __init__(self, tokenizer, width: int, budgets: list[int], stops: list[tuple[str, ...]],
                 eos: list[int]) -> None:
        self._tokenizer = tokenizer
        self._width = width
        self._budgets = budgets
        self._stops = [tuple(s for s in row if s) for row in stops]
        longest = max((len(s) for row in self._stops for s in row), default=0)
        self._window = 4 * longest + 4  # a character may take up to 4 byte-level tokens
        self._eos = set(eos)
        self.stopped_at: list[int | None] = [None] * len(budgets)

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        step = input_ids.shape[1] - self._width
        tails = input_ids[:, -min(self._window, step):].tolist() if any(self._stops) and step > 0 else None
        for row, budget in enumerate(self._budgets):
            if self.stopped_at[row] is not None:
                continue
            hit = tails is not None and self._stops[row] and self._has_stop(tails[row], self._stops[row])
            if step >= budget or hit:
                self.stopped_at[row] = step
        return torch.tensor([s is not None for s in self.stopped_at], dtype=torch.bool, device=input_ids.device)

    def _has_stop(self, tail: list[int], stops: tuple[str, ...]) -> bool:
        if any(t in self._eos for t in tail):  # the row already ended; padding follows
            return False
        text = self._tokenizer.decode(tail, skip_special_tokens=True)
        return any(s in text for s in stops)


# -- helpers -------------------------------------------------------------------------------------------------


def _batches(items: list[_Prepared], size: int) -> list[list[_Prepared]]:
    """Requests with the same `n` in chunks of `size` (one generate call has one num_return_sequences)."""
    groups: dict[int, list[_Prepared]] = {}
    for item in items:
        groups.setdefault(item.sampling.n, []).append(item)
    return [group[i:i + size] for group in groups.values() for i in range(0, len(group), size)]


def _torch_dtype(name: str, device):
    import torch

    if name == "auto":
        return torch.float32 if device.type == "cpu" else "auto"
    if name not in DTYPES:
        raise ValueError(f"dtype must be 'auto' or one of {DTYPES}, got {name!r}")
    return getattr(torch, name)


def _ids(value) -> list[int]:
    """Token ids from a config value that may be None, an int or a list."""
    if value is None:
        return []
    return [int(v) for v in value] if isinstance(value, (list, tuple)) else [int(value)]


def _context_length(config, tokenizer) -> int:
    """Positions the model was built for; a tokenizer limit only when it is a real one (not the 1e30 default)."""
    limits = [getattr(config.get_text_config(), "max_position_embeddings", None)]
    limits.append(tokenizer.model_max_length if tokenizer.model_max_length < 10**7 else None)
    known = [n for n in limits if isinstance(n, int) and n > 0]
    return min(known) if known else 10**9
