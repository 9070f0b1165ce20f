"""The `openai` backend against a real local chat completions server (tests/fake_openai_server.py).

Backoffs are tiny so the whole file runs in a few seconds; no assertion depends on how fast anything runs,
only on lower bounds a server-requested wait must respect.
"""

from __future__ import annotations

import base64
import io
import logging
import random
import time

import pytest
from fake_openai_server import (
    MALFORMED,
    PROPOSER_FENCED,
    PROPOSER_TRUNCATED,
    PROPOSER_TWO_CANDIDATES,
    FakeOpenAIServer,
    Reply,
    echo,
    error,
    slow,
    text,
)
from PIL import Image

from flywheel.models.base import GenerationRequest, Message, ModelBackend, SamplingParams
from flywheel.models.openai_backend import OpenAIBackend

KEY = "sk-test-5c2e9a0b71d4"


def ask(prompt: str, *images: bytes, **sampling) -> GenerationRequest:
    return GenerationRequest((Message.of("user", prompt, *images),), SamplingParams(**sampling), tag=prompt)


def png(color: tuple[int, int, int], size: tuple[int, int] = (24, 16)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def server():
    with FakeOpenAIServer(api_key=KEY) as srv:
        yield srv


def backend(srv: FakeOpenAIServer, **kw) -> OpenAIBackend:
    kw = {"api_key": KEY, "backoff_s": 0.01, "timeout_s": 5, "max_retries": 3} | kw
    return OpenAIBackend("vlm-alias", base_url=srv.url, **kw)


def test_happy_path_texts_usage_and_request_fields(server):
    server.script(text(PROPOSER_FENCED, PROPOSER_TWO_CANDIDATES, PROPOSER_TRUNCATED, finish_reason="length"))
    be = backend(server)
    assert isinstance(be, ModelBackend)
    system = Message.of("system", "You write visual reasoning problems.")
    req = GenerationRequest(
        (system, Message.of("user", "Propose one problem about chords")),
        SamplingParams(max_tokens=333, temperature=0.9, top_p=0.8, n=3, stop=("</answer>",), seed=7),
    )
    [c] = be.generate([req])
    be.close()
    assert c.ok and c.texts == (PROPOSER_FENCED, PROPOSER_TWO_CANDIDATES, PROPOSER_TRUNCATED)
    assert c.finish_reasons == ("length",) * 3
    assert c.model == "fake-vlm" and c.seconds > 0  # the name the server reports, not the configured alias
    assert c.prompt_tokens == 10  # the server counts words of all text parts
    assert c.completion_tokens == sum(len(t.split()) for t in c.texts)
    [rec] = server.requests
    assert rec.path == "/v1/chat/completions"
    assert rec.headers["authorization"] == f"Bearer {KEY}"
    body = rec.body
    assert body["model"] == "vlm-alias" and body["n"] == 3 and body["max_tokens"] == 333
    assert (body["temperature"], body["top_p"], body["stop"], body["seed"]) == (0.9, 0.8, ["</answer>"], 7)
    assert body["messages"][0] == {"role": "system", "content": "You write visual reasoning problems."}


def test_order_kept_across_concurrent_requests():
    def jittery_echo(body: dict) -> Reply:
        time.sleep(random.uniform(0, 0.05))  # replies finish out of order
        return echo(body)

    with FakeOpenAIServer(respond=jittery_echo) as srv:
        be = backend(srv, api_key=None, concurrency=6)
        out = be.generate([ask(f"problem {i}") for i in range(30)])
        be.close()
    assert [c.texts for c in out] == [(f"echo: problem {i}",) for i in range(30)]
    assert all(c.ok and c.model == "fake-vlm" for c in out)
    assert "authorization" not in srv.requests[0].headers  # no key configured, none sent
    assert srv.max_in_flight > 1


def test_images_arrive_as_png_data_urls_in_part_order(server):
    red, blue = png((255, 0, 0)), png((0, 0, 255), (10, 30))
    be = backend(server)
    [c] = be.generate([ask("Which colour is left?", red, blue)])
    be.close()
    assert c.ok
    parts = server.requests[0].body["messages"][0]["content"]
    assert [p["type"] for p in parts] == ["image_url", "image_url", "text"]
    assert parts[2]["text"] == "Which colour is left?"
    decoded = []
    for p in parts[:2]:
        prefix, b64 = p["image_url"]["url"].split(",", 1)
        assert prefix == "data:image/png;base64"
        decoded.append(Image.open(io.BytesIO(base64.b64decode(b64))))
    assert [im.size for im in decoded] == [(24, 16), (10, 30)]
    assert decoded[0].convert("RGB").getpixel((3, 3)) == (255, 0, 0)
    assert base64.b64decode(parts[1]["image_url"]["url"].split(",", 1)[1]) == blue


def test_429_with_retry_after_then_success(server):
    server.script(error(429, "rate limited", retry_after="1"), error(429, "rate limited", retry_after="0"),
                  when="busy")
    be = backend(server)
    [c, other] = be.generate([ask("busy prompt"), ask("calm prompt")])
    be.close()
    assert c.ok and c.texts == ("echo: busy prompt",) and other.ok
    busy = [r.arrived for r in server.requests if "busy" in r.prompt]
    assert len(busy) == 3 and len(server.requests) == 4
    assert busy[1] - busy[0] >= 0.9  # the server asked for 1 s; backoff alone would wait ~0.01 s
    assert c.seconds >= 0.9


def test_persistent_5xx_gives_error_after_max_retries(server):
    server.script(*[error(503, "overloaded")] * 3, *[error(500, "boom")] * 10, when="doomed")
    be = backend(server, max_retries=4)
    [bad, good] = be.generate([ask("doomed"), ask("fine")])
    be.close()
    assert not bad.ok and bad.texts == () and good.ok
    assert "HTTP 500" in bad.error and "boom" in bad.error and "5 attempts" in bad.error
    assert sum("doomed" in r.prompt for r in server.requests) == 5


def test_timeout_is_retried_then_reported(server):
    server.script(slow(3), slow(3), when="stuck")
    server.script(slow(3), when="late")
    be = backend(server, timeout_s=0.3, max_retries=1)
    stuck, late = be.generate([ask("stuck"), ask("late")])
    be.close()
    assert not stuck.ok and "timed out" in stuck.error.lower() and "2 attempts" in stuck.error
    assert late.ok and late.texts == ("echo: late",)  # the retry after one timeout got through
    assert sum("stuck" in r.prompt for r in server.requests) == 2


def test_malformed_body_is_an_error(server):
    server.script(MALFORMED, when="garbled")
    server.script(Reply(raw=b'{"object": "list", "data": []}'), when="wrong shape")
    server.script(Reply(raw=b'{"choices": [{"index": 0, "message": {"content": null}}]}'), when="bare")
    be = backend(server)
    garbled, wrong, bare = be.generate([ask("garbled"), ask("wrong shape"), ask("bare")])
    be.close()
    assert not garbled.ok and "malformed JSON" in garbled.error
    assert not wrong.ok and "not a chat completion" in wrong.error
    assert len(server.requests) == 3  # a 200 with a bad body is not retried
    # Valid but minimal: no usage, no model, null content (a refusal). Not an error; the caller judges the text.
    assert bare.error is None and bare.texts == ("",) and bare.model == "vlm-alias" and bare.prompt_tokens == 0


def test_4xx_is_not_retried(server):
    server.script(error(400, "max_tokens is too large: 99999"), when="huge")
    be = backend(server)
    [c] = be.generate([ask("huge")])
    be.close()
    assert c.error == "HTTP 400: max_tokens is too large: 99999"
    assert len(server.requests) == 1


def test_unreachable_server_is_an_error_not_an_exception():
    with FakeOpenAIServer() as srv:
        url = srv.url
    be = OpenAIBackend("m", base_url=url, max_retries=2, backoff_s=0.01, timeout_s=2)
    [c] = be.generate([ask("anyone there?")])
    be.close()
    assert not c.ok and "ConnectionRefusedError" in c.error and "3 attempts" in c.error


def test_concurrency_limit_respected():
    with FakeOpenAIServer(respond=lambda body: slow(0.3, "done")) as srv:
        be = backend(srv, api_key=None, concurrency=3)
        out = be.generate([ask(f"q{i}") for i in range(12)])
        be.close()
    assert all(c.ok for c in out)
    assert srv.max_in_flight == 3


def test_missing_choices_topped_up_with_shifted_seed(server):
    # A server that ignores `n` returns one choice per call; the backend asks again for the rest.
    server.script(*[Reply(texts=(f"sample {i}",), choices=1) for i in range(3)], when="ignores n")
    be = backend(server)
    [c] = be.generate([ask("ignores n", n=3, seed=10)])
    be.close()
    assert c.ok and c.texts == ("sample 0", "sample 1", "sample 2") and len(c.finish_reasons) == 3
    assert [(r.body["n"], r.body["seed"]) for r in server.requests] == [(3, 10), (2, 11), (1, 12)]
    assert c.completion_tokens == 6 and c.prompt_tokens == 6  # usage summed over the three calls


def test_key_never_in_repr_logs_or_errors(caplog, monkeypatch):
    monkeypatch.setenv("FLYWHEEL_OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-the-wrong-one")
    caplog.set_level(logging.DEBUG)
    with FakeOpenAIServer(api_key=KEY) as srv:
        srv.script(error(503, f"upstream rejected Bearer {KEY}"), when="flaky")
        be = OpenAIBackend("fake-vlm", base_url=srv.url, backoff_s=0.01)
        ok, flaky = be.generate([ask("hello"), ask("flaky")])
        be.close()
        # A server that echoes the rejected credentials back (the fake does on 401).
        wrong = OpenAIBackend("fake-vlm", base_url=srv.url, api_key=KEY[:-1] + "X", backoff_s=0.01)
        [denied] = wrong.generate([ask("hello")])
    assert ok.ok and flaky.ok  # the FLYWHEEL_ variable won over OPENAI_API_KEY
    assert srv.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert "HTTP 401" in denied.error and "<redacted>" in denied.error
    assert any("HTTP 503" in r.getMessage() for r in caplog.records)
    for leak in (repr(be), str(vars(be)), caplog.text, denied.error, repr(wrong), str(vars(wrong))):
        assert KEY not in leak and KEY[:-1] + "X" not in leak


def test_base_url_from_environment(monkeypatch):
    with FakeOpenAIServer() as srv:
        monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # nothing listens there
        monkeypatch.setenv("FLYWHEEL_OPENAI_BASE_URL", srv.url + "/")
        be = OpenAIBackend("fake-vlm", max_retries=0)
        [c] = be.generate([ask("where")])
        be.close()
    assert be.base_url == srv.url and c.texts == ("echo: where",)
    with pytest.raises(ValueError, match="base URL"):
        OpenAIBackend("m", base_url="localhost:8000")
