"""A real local HTTP server speaking the chat completions API, with scripted replies, for backend tests.

`with FakeOpenAIServer() as srv:` listens on 127.0.0.1 (a free port) in a thread; point a client at `srv.url`.
Each request takes the next scripted `Reply` whose marker occurs in its prompt text (`srv.script(...)`), or
else what `respond(body)` returns (by default an echo of the last user text), so concurrent tests stay
deterministic. It records every request and counts requests in flight: the most at once (`max_in_flight`)
and the time-weighted average over the busy span (`in_flight_average()`). `latency_s` delays every answer by
a fixed time with no limit on concurrency, like a remote model behind a large server; `latency_server(...)`
starts one in its own process for benches (no GIL shared with the client).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Reply:
    """What the server does with one request: wait `delay_s`, then answer `status` with `texts` as choices
    (cycled to the request's `n`, or to `choices` if set: servers that ignore `n`), or with `raw` bytes
    verbatim when given (malformed bodies, error pages)."""

    texts: tuple[str, ...] = ("ok",)
    status: int = 200
    delay_s: float = 0.0
    retry_after: str | None = None
    raw: bytes | None = None
    finish_reason: str = "stop"
    model: str = "fake-vlm"
    choices: int | None = None


def text(*texts: str, finish_reason: str = "stop") -> Reply:
    return Reply(texts=texts, finish_reason=finish_reason)


def error(status: int, message: str = "scripted failure", retry_after: str | None = None) -> Reply:
    body = json.dumps({"error": {"message": message, "type": "server_error", "code": status}}).encode()
    return Reply(status=status, raw=body, retry_after=retry_after)


def slow(delay_s: float, *texts: str) -> Reply:
    return Reply(texts=texts or ("late",), delay_s=delay_s)


MALFORMED = Reply(raw=b'{"id": "chatcmpl-1", "choices": [{"index": 0, "message": {"content": "cut')


@dataclass(frozen=True)
class Recorded:
    """One request as received: path, headers (lower-cased names), raw body and its JSON (None if invalid)."""

    path: str
    headers: dict[str, str]
    raw: bytes
    body: dict | None
    arrived: float

    @property
    def prompt(self) -> str:
        return prompt_text(self.body or {})


def prompt_text(body: dict) -> str:
    """All text parts of all messages, joined: what markers are looked up in."""
    out = []
    for m in body.get("messages") or []:
        content = m.get("content")
        parts = content if isinstance(content, list) else [{"type": "text", "text": content or ""}]
        out += [p.get("text", "") for p in parts if p.get("type") == "text"]
    return "\n".join(out)


def echo(body: dict) -> Reply:
    """Answers with the last line of the prompt, so a test can tell which request a reply belongs to."""
    return text("echo: " + prompt_text(body).splitlines()[-1] if prompt_text(body) else "echo:")


class _Server(ThreadingHTTPServer):
    # The default listen backlog (5) drops SYNs when many clients connect at once, and each dropped SYN costs
    # the client a 1 s retransmit: a bench would measure the kernel's timer, not the backend.
    request_queue_size = 512


class FakeOpenAIServer:
    """See the module docstring. `api_key`, when set, is required as `Authorization: Bearer <key>` (401 otherwise,
    with the rejected header echoed in the body, as careless servers do)."""

    def __init__(self, respond: Callable[[dict], Reply] = echo, api_key: str | None = None,
                 latency_s: float = 0.0) -> None:
        self.respond = respond
        self.api_key = api_key
        self.latency_s = latency_s
        self.requests: list[Recorded] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._area = 0.0  # integral of in_flight over time since the first arrival
        self._first: float | None = None  # first arrival
        self._last = 0.0  # last change of in_flight
        self._scripts: list[tuple[str, list[Reply]]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _handler_class(self))
        self._httpd.daemon_threads = True  # a handler still sleeping out a `slow` reply must not block shutdown
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def script(self, *replies: Reply, when: str = "") -> None:
        """Queue replies for requests whose prompt contains `when` ('' matches any); markers are tried in the
        order they were scripted, and a queue that runs dry falls back to `respond`."""
        with self._lock:
            self._scripts.append((when, list(replies)))

    def __enter__(self) -> FakeOpenAIServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def in_flight_average(self) -> float:
        """Requests in flight averaged over time, from the first arrival to the last reply (0 before any)."""
        with self._lock:
            span = self._last - self._first if self._first is not None else 0.0
            return self._area / span if span > 0 else float(self.max_in_flight)

    def reset_counts(self) -> None:
        """Forget requests and in-flight numbers so far (e.g. after a warm-up); only between bursts."""
        with self._lock:
            self.requests.clear()
            self.max_in_flight, self._area, self._first = self.in_flight, 0.0, None

    def counts(self) -> dict:
        """Requests received, the most in flight at once and the time-weighted average, for benches."""
        average = self.in_flight_average()
        with self._lock:
            span = self._last - self._first if self._first is not None else 0.0
            return {"requests": len(self.requests), "max_in_flight": self.max_in_flight,
                    "average_in_flight": average, "busy_s": span}

    # -- used by the handler ---------------------------------------------------------------------------

    def _change(self, delta: int) -> None:
        """Count one arrival (+1) or reply (-1); called with the lock held."""
        now = time.monotonic()
        if self._first is None:
            self._first = self._last = now
        self._area += self.in_flight * (now - self._last)
        self._last = now
        self.in_flight += delta
        self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _record(self, rec: Recorded) -> Reply:
        with self._lock:
            self.requests.append(rec)
            self._change(+1)
            prompt = rec.prompt
            for marker, queue in self._scripts:
                if queue and marker in prompt:
                    return queue.pop(0)
        return self.respond(rec.body or {})

    def _done(self) -> None:
        with self._lock:
            self._change(-1)


def _handler_class(server: FakeOpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep test output clean
            pass

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            reply = server._record(Recorded(self.path, headers, raw, body, time.monotonic()))
            self._counted = True
            try:
                self._answer(reply, headers, body)
            except OSError:
                pass  # the client gave up (timed out) before we answered
            finally:
                self._finish()

        def _finish(self) -> None:
            """The request leaves the in-flight count once, just before its reply's bytes go out: a client
            that has its answer and sends the next request can never be counted twice at once."""
            if getattr(self, "_counted", False):
                self._counted = False
                server._done()

        def _answer(self, reply: Reply, headers: dict[str, str], body: dict | None) -> None:
            if not self.path.endswith("/chat/completions"):
                return self._send(404, _error_body(f"no route {self.path}"))
            if server.api_key and headers.get("authorization") != f"Bearer {server.api_key}":
                return self._send(401, _error_body(f"bad credentials: {headers.get('authorization')}"))
            if not isinstance(body, dict) or not body.get("messages"):
                return self._send(400, _error_body("body must be JSON with 'messages'"))
            if server._stop.wait(reply.delay_s + server.latency_s):
                return None
            if reply.raw is not None:
                return self._send(reply.status, reply.raw, reply.retry_after)
            return self._send(reply.status, _completion(reply, body), reply.retry_after)

        def _send(self, status: int, payload: bytes, retry_after: str | None = None) -> None:
            self._finish()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            if retry_after is not None:
                self.send_header("Retry-After", retry_after)
            self.end_headers()
            self.wfile.write(payload)

    return Handler


def _error_body(message: str) -> bytes:
    return json.dumps({"error": {"message": message, "type": "invalid_request_error"}}).encode()


def _completion(reply: Reply, body: dict) -> bytes:
    """A chat completion with `n` choices; token counts are word counts, so tests can predict them."""
    n = reply.choices or int(body.get("n") or 1)
    texts = [reply.texts[i % len(reply.texts)] for i in range(n)]
    choices = [
        {"index": i, "message": {"role": "assistant", "content": t}, "finish_reason": reply.finish_reason}
        for i, t in enumerate(texts)
    ]
    usage = {"prompt_tokens": len(prompt_text(body).split()), "completion_tokens": sum(len(t.split()) for t in texts)}
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    return json.dumps(
        {"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()), "model": reply.model,
         "choices": choices[::-1], "usage": usage}  # reversed: clients must order choices by index
    ).encode()


# -- a latency server in its own process, for benches ---------------------------------------------------


class RemoteServer:
    """A `FakeOpenAIServer` running in a child process: its `url`, and its counts on request."""

    def __init__(self, url: str, conn) -> None:
        self.url, self._conn = url, conn

    def counts(self) -> dict:
        self._conn.send("counts")
        return self._conn.recv()

    def reset_counts(self) -> None:
        self._conn.send("reset")
        self._conn.recv()


def _serve(latency_s: float, respond: Callable[[dict], Reply], conn) -> None:
    with FakeOpenAIServer(respond=respond, latency_s=latency_s) as srv:
        conn.send(srv.url)
        while (cmd := conn.recv()) != "stop":
            conn.send(srv.counts() if cmd == "counts" else srv.reset_counts())


@contextmanager
def latency_server(latency_s: float, respond: Callable[[dict], Reply] = echo) -> Iterator[RemoteServer]:
    """A server that answers every request after `latency_s`, no concurrency limit, in its own process (in the
    client's process its threads would compete for the GIL with the client being measured). `respond` must be
    a module-level function (it is pickled), e.g. `echo` or `proposal_reply`."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    ours, theirs = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(latency_s, respond, theirs), daemon=True)
    proc.start()
    try:
        yield RemoteServer(ours.recv(), ours)
    finally:
        ours.send("stop")
        proc.join(timeout=10)
        if proc.is_alive():
            proc.kill()


def proposal_reply(body: dict) -> Reply:
    """A valid, verifiable proposal (a procedural problem in the proposal schema, fenced, with chat around it),
    chosen by the prompt's hash: the same prompt always gets the same problem, different prompts mostly differ."""
    import hashlib

    from flywheel.lmm.prompts import problem_json
    from generators.procedural.catalog import FAMILIES
    from generators.propose import Task, propose

    digest = int(hashlib.sha256(prompt_text(body).encode()).hexdigest(), 16)
    family = sorted(FAMILIES)[digest % len(FAMILIES)]
    problem = propose(Task(1, 0, family, 1 + digest % 3, digest % 2**40), FAMILIES)
    return text(f"Here is a problem for those concepts.\n\n```json\n{problem_json(problem)}\n```\nLet me know!")


# -- realistic proposer outputs, as models actually write them ------------------------------------------

PROPOSER_FENCED = '''Sure! Here is a problem that combines the inscribed angle theorem with a chord-drawing tool.

```json
{
  "question": "In circle O, chord AB subtends an arc of 100 degrees. What is the inscribed angle ACB?",
  "render_code": "import matplotlib.pyplot as plt\\nfig, ax = plt.subplots(figsize=(4, 4))\\n\
ax.add_patch(plt.Circle((0, 0), 1, fill=False))\\nax.set_aspect('equal')\\nax.axis('off')",
  "answer": "50",
  "answer_code": "print(100 / 2)",
  "solution": [
    {"kind": "think", "text": "The inscribed angle is half the central angle."},
    {"kind": "code", "text": "Draw OA and OB.", "code": "ax.plot([0, 0.64], [0, 0.77], 'r-')"}
  ],
  "elements": [{"name": "O", "kind": "center", "x": 200, "y": 200}]
}
```

Let me know if you would like a harder variant.'''

PROPOSER_TWO_CANDIDATES = '''Candidate 1:
```json
{"question": "What is the area of the shaded triangle?", "answer": "12", "answer_code": "print(0.5 * 6 * 4)"}
```
On reflection the first one is too easy, so here is a better one.
Candidate 2:
```json
{"question": "What is the length of the altitude from C?", "answer": "4.8", "answer_code": "print(24 / 5)"}
```'''

PROPOSER_TRUNCATED = '''```json
{
  "question": "Two chords AB and CD intersect at P inside the circle. If AP = 3, PB = 4 and CP = 2, find PD.",
  "render_code": "import matplotlib.pyplot as plt\\nimport numpy as np\\nfig, ax = plt.subplots()\\n\
t = np.linspace(0, 2'''
