"""The `openai` backend: any OpenAI-compatible chat completions endpoint (`vllm serve`, hosted APIs).

Each request is one POST to `{base_url}/chat/completions`, images as `data:image/png;base64,` URLs. One thread
pool for the backend's life keeps up to `concurrency` requests in flight, shared by all concurrent calls;
429, 5xx, connection errors and timeouts are retried with exponential backoff and jitter (honouring
`Retry-After`), and what still fails becomes a `Completion` with `error` set, never an exception. Stdlib only
(`http.client`), so the backend adds no dependency.
Tested against a real local server: `pytest tests/test_models_openai.py` (tests/fake_openai_server.py).
"""

from __future__ import annotations

import base64
import email.utils
import http.client
import json
import logging
import os
import random
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

from flywheel.models.base import Completion, GenerationRequest, ImagePart, Message

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
MAX_WAIT_S = 120.0  # a server asking for a longer pause than this gets this; a round must not stall for hours
EXCERPT_CHARS = 200  # how much of an error body a Completion keeps: enough to read the reason, not a page
RETRY_STATUSES = frozenset({429}) | frozenset(range(500, 600))  # other 4xx: the request itself is wrong


class _Secret:
    """Holds the API key so that no repr, log line or `vars()` dump of the backend can show it."""

    def __init__(self, value: str | None) -> None:
        self._value = value

    def reveal(self) -> str | None:
        return self._value

    def __repr__(self) -> str:
        return "<redacted>" if self._value else "None"


def _env(*names: str) -> str | None:
    """The first variable among `names` that is set and non-empty."""
    return next((os.environ[n] for n in names if os.environ.get(n)), None)


@dataclass(frozen=True)
class _Reply:
    """One HTTP exchange: status, the headers retries care about, and the body."""

    status: int
    body: bytes
    retry_after: str | None = None
    retry_after_ms: str | None = None


class _Failed(Exception):
    """A request that will not succeed (retries spent, or an error a retry cannot fix); never leaves the module."""


class OpenAIBackend:
    """Chat completions over HTTP with a bounded number of requests in flight (see the module docstring).
    Thread-safe: concurrent `generate` calls (a pool actor's threads) share one executor, so `concurrency` bounds
    the requests in flight across all of them together."""

    thread_safe = True

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        concurrency: int = 8,
        timeout_s: float = 120,
        max_retries: int = 5,
        backoff_s: float = 0.5,
    ) -> None:
        # The FLYWHEEL_ variables win over the OpenAI ones, so a shell that has OPENAI_* set for other tools can
        # still point flywheel at a local `vllm serve`.
        url = base_url or _env("FLYWHEEL_OPENAI_BASE_URL", "OPENAI_BASE_URL") or DEFAULT_BASE_URL
        parts = urlsplit(url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"openai backend: base URL must be http(s)://host[:port][/path], got {url!r}")
        self.model = model
        self.name = f"openai:{model}"
        self.base_url = url.rstrip("/")
        self._scheme, self._host, self._port = parts.scheme, parts.hostname, parts.port
        self._path = parts.path + "/chat/completions"
        self._key = _Secret(api_key or _env("FLYWHEEL_OPENAI_API_KEY", "OPENAI_API_KEY"))
        self.concurrency = max(1, concurrency)
        self.timeout_s = timeout_s
        self.max_retries = max(0, max_retries)
        self.backoff_s = backoff_s
        # One pool for the backend's life: concurrent `generate` calls share the limit instead of multiplying it.
        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="openai")
        self._closed = threading.Event()

    def __repr__(self) -> str:
        return (
            f"OpenAIBackend(model={self.model!r}, base_url={self.base_url!r}, concurrency={self.concurrency}, "
            f"timeout_s={self.timeout_s}, max_retries={self.max_retries})"
        )

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        """One completion per request, in order; failures come back as completions with `error` set."""
        return list(self._pool.map(self._complete, requests))

    def close(self) -> None:
        """Stop waiting between retries and let in-flight requests finish; later calls are refused."""
        self._closed.set()
        self._pool.shutdown(wait=True, cancel_futures=True)

    # -- one request -----------------------------------------------------------------------------------

    def _complete(self, request: GenerationRequest) -> Completion:
        """Collect `n` samples; a server that returns fewer choices than asked (some ignore `n`) is asked again
        for the rest, with a shifted seed so a seeded request does not return the same sample twice."""
        start = time.perf_counter()
        texts: list[str] = []
        reasons: list[str] = []
        usage = [0, 0]
        model = self.model
        want = request.sampling.n
        try:
            while len(texts) < want:
                data = self._post_with_retries(_payload(self.model, request, want - len(texts), len(texts)))
                got, got_reasons, got_usage, model = _read(data, model)
                usage = [u + v for u, v in zip(usage, got_usage, strict=True)]
                if not got:
                    raise _Failed("response has no choices")
                reasons += got_reasons[: want - len(texts)]
                texts += got[: want - len(texts)]
            error = None
        except _Failed as exc:
            texts, reasons, error = [], [], self._redact(str(exc))
            log.warning("openai %s [%s]: %s", self.model, request.tag, error)
        return Completion(
            texts=tuple(texts),
            model=model,
            prompt_tokens=usage[0],
            completion_tokens=usage[1],
            seconds=time.perf_counter() - start,
            finish_reasons=tuple(reasons),
            error=error,
        )

    def _post_with_retries(self, body: bytes) -> dict:
        """The parsed JSON of the first successful attempt; raises `_Failed` with the last reason otherwise."""
        attempts = self.max_retries + 1
        for attempt in range(attempts):
            if self._closed.is_set():
                raise _Failed("backend closed")
            try:
                reply = self._post_once(body)
            except (OSError, http.client.HTTPException) as exc:  # refused, reset, timed out, cut short
                reason, wait = f"{type(exc).__name__}: {exc}", None
            else:
                if reply.status == 200:
                    return _parse(reply.body)
                reason = f"HTTP {reply.status}: {_excerpt(reply.body)}"
                if reply.status not in RETRY_STATUSES:
                    raise _Failed(reason)  # a bad request stays bad however often it is sent
                wait = _retry_after(reply)
            if attempt + 1 == attempts:
                raise _Failed(f"{reason} (after {attempts} attempts)")
            if wait is None:
                wait = self.backoff_s * 2**attempt * random.uniform(0.5, 1.5)  # jitter spreads a burst out
            wait = min(max(wait, 0.0), MAX_WAIT_S)
            log.info("openai %s: %s; retry %d/%d in %.2f s", self.model, self._redact(reason), attempt + 1,
                     self.max_retries, wait)
            self._closed.wait(wait)
        raise AssertionError("unreachable")

    def _post_once(self, body: bytes) -> _Reply:
        """One POST on a fresh connection (reuse would save a handshake, but a stale pooled connection fails in
        ways that look like server errors; requests last seconds, so a new connection is cheap)."""
        cls = http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection
        conn = cls(self._host, self._port, timeout=self.timeout_s)
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._key.reveal():
            headers["Authorization"] = f"Bearer {self._key.reveal()}"
        try:
            conn.request("POST", self._path, body=body, headers=headers)
            resp = conn.getresponse()
            return _Reply(resp.status, resp.read(), resp.getheader("Retry-After"), resp.getheader("retry-after-ms"))
        finally:
            conn.close()

    def _redact(self, text: str) -> str:
        """Some servers echo the credentials they rejected; errors and logs must never carry the key."""
        key = self._key.reveal()
        return text.replace(key, "<redacted>") if key else text


# -- request and response JSON ---------------------------------------------------------------------------


def _message_json(message: Message) -> dict:
    """Text-only messages as a plain string (some servers refuse part lists for system messages); otherwise
    parts in their original order, images as PNG data URLs."""
    if not message.images:
        return {"role": message.role, "content": message.text}
    content = []
    for part in message.parts:
        if isinstance(part, ImagePart):
            url = "data:image/png;base64," + base64.b64encode(part.png).decode("ascii")
            content.append({"type": "image_url", "image_url": {"url": url}})
        else:
            content.append({"type": "text", "text": part.text})
    return {"role": message.role, "content": content}


def _payload(model: str, request: GenerationRequest, n: int, already: int) -> bytes:
    s = request.sampling
    body: dict = {
        "model": model,
        "messages": [_message_json(m) for m in request.messages],
        "n": n,
        "temperature": s.temperature,
        "top_p": s.top_p,
        "max_tokens": s.max_tokens,
    }
    if s.stop:
        body["stop"] = list(s.stop)
    if s.seed is not None:
        body["seed"] = s.seed + already
    return json.dumps(body).encode()


def _parse(body: bytes) -> dict:
    try:
        data = json.loads(body)
    except ValueError:
        raise _Failed(f"malformed JSON in response: {_excerpt(body)}") from None
    if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
        raise _Failed(f"response is not a chat completion: {_excerpt(body)}")
    return data


def _read(data: dict, model: str) -> tuple[list[str], list[str], tuple[int, int], str]:
    """Texts and finish reasons in choice-index order (servers may list choices in any order), token usage and
    the serving model's name; an odd shape is a failed request, not a crash."""
    try:
        choices = sorted((c for c in data["choices"] if isinstance(c, dict)), key=lambda c: int(c.get("index", 0)))
        texts = [_content_text((c.get("message") or {}).get("content")) for c in choices]
        reasons = [str(c.get("finish_reason") or "") for c in choices]
        usage = data.get("usage") or {}
        tokens = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
    except (AttributeError, TypeError, ValueError) as exc:
        raise _Failed(f"unexpected response shape ({exc}): {_excerpt(json.dumps(data).encode())}") from None
    return texts, reasons, tokens, str(data.get("model") or model)


def _content_text(content: object) -> str:
    """Message content is a string, null (a refusal or tool call), or, from a few servers, a list of parts."""
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def _excerpt(body: bytes) -> str:
    """The server's own error message when it sends the usual `{"error": {"message": ...}}`, else raw text."""
    text = body.decode("utf-8", "replace")
    try:
        err = json.loads(text).get("error")
        text = err.get("message", text) if isinstance(err, dict) else (err if isinstance(err, str) else text)
    except (ValueError, AttributeError):
        pass
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "..."


def _retry_after(reply: _Reply) -> float | None:
    """Seconds the server asked us to wait: `retry-after-ms`, or `Retry-After` as seconds or an HTTP date.

    >>> _retry_after(_Reply(429, b"", retry_after="2"))
    2.0
    """
    if reply.retry_after_ms:
        try:
            return float(reply.retry_after_ms) / 1000
        except ValueError:
            pass
    if not reply.retry_after:
        return None
    try:
        return float(reply.retry_after)
    except ValueError:
        try:
            return email.utils.parsedate_to_datetime(reply.retry_after).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
