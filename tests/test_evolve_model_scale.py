"""The model path of a whole `flywheel evolve` round at scale, against a real local OpenAI-compatible server:

- requests in flight: with a latency server and `concurrency = 32`, the round keeps the configured number of
  proposal requests in flight at once (the server counts them), not a Ray Data batch's worth;
- the request cache: a run killed with SIGKILL at several moments and resumed ends with the same accepted set as
  an uninterrupted run against a deterministic server, and never asks again for a reply whose outcome the killed
  run committed.
No timing assertions: counts only.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from fake_openai_server import FakeOpenAIServer, Reply, prompt_text

from flywheel.lmm.prompts import problem_json
from generators.procedural.catalog import FAMILIES
from generators.propose import Task, propose
from storage.catalog import query

FAMILY_CYCLE = ("triangle_area", "right_triangle_pythagoras", "coordinate_line_intersection", "bar_chart_stats")


def _config(tmp_path, url: str, problems: int, concurrency: int, extra: str = "") -> str:
    cfg = tmp_path / "models.toml"
    cfg.write_text(f"[evolve]\nproblems_per_round = {problems}\nlevels_per_request = 1\npart_size = 4\n"
                   f"[ray]\nbatch_size = 4\nmodel_batch_size = 4\nrender_actors = 1\nverify_actors = 1\n{extra}"
                   f'[models.proposer]\nbackend = "openai"\nmodel = "fake"\nbase_url = "{url}"\n'
                   f"[models.proposer.options]\nconcurrency = {concurrency}\n")
    return str(cfg)


def _evolve(cfg: str, data, *more: str) -> list[str]:
    return [sys.executable, "-m", "flywheel.cli", "evolve", "--rounds", "1", "--data", str(data), "--config", cfg,
            *more]


def test_a_round_keeps_the_configured_concurrency_in_flight(tmp_path):
    # 96 proposals, concurrency 32, every reply after 1 s: a round limited to a batch's worth would never pass 4
    with FakeOpenAIServer(latency_s=1.0) as srv:  # echo replies: unparseable, so every proposal is rejected
        cfg = _config(tmp_path, srv.url, problems=96, concurrency=32, extra="")
        res = subprocess.run(_evolve(cfg, tmp_path / "data"), capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, res.stderr[-3000:]
        assert len(srv.requests) == 96
        assert srv.max_in_flight == 32  # reached the configured concurrency, never more
    rejected = json.loads(query(tmp_path / "data", "SELECT count(*) AS n FROM rejections WHERE stage = 'propose'",
                                "json"))[0]["n"]
    assert rejected == 96
    assert "in flight" in res.stderr  # the progress lines show the pool's load


class CountingProposer:
    """Deterministic replies (a procedural problem chosen by the prompt's hash), with every answered prompt
    recorded: which replies were delivered, and the question each carried."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.answered: list[str] = []  # prompt digests, in answer order
        self.question_of: dict[str, str] = {}  # prompt digest -> question of the reply

    def __call__(self, body: dict) -> Reply:
        prompt = prompt_text(body)
        digest = hashlib.sha256(prompt.encode()).hexdigest()
        n = int(digest, 16)
        family = FAMILY_CYCLE[n % len(FAMILY_CYCLE)]
        problem = propose(Task(1, n % 1000, family, 1 + n % 3, n % 2**40), FAMILIES)
        with self.lock:
            self.answered.append(digest)
            self.question_of[digest] = problem.question
        return Reply(texts=("Here it is:\n```json\n" + problem_json(problem) + "\n```",))


def _accepted(data) -> set[str]:
    return {r["id"] for r in json.loads(query(data, "SELECT id FROM problems", "json"))}


def _questions(data) -> set[str]:
    try:
        return {r["question"] for r in json.loads(query(data, "SELECT question FROM problems", "json"))}
    except Exception:  # noqa: BLE001 - nothing committed yet
        return set()


@pytest.mark.timeout(900)
def test_kill_and_resume_replays_the_request_cache(tmp_path):
    _kill_and_resume(tmp_path, moments=(8,))  # the middle of the round; the sweep below is `slow`


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_kill_and_resume_replays_the_request_cache_at_every_moment(tmp_path):
    _kill_and_resume(tmp_path, moments=(1, 3, 6, 10, 13, 15))


def _kill_and_resume(tmp_path, moments: tuple[int, ...]) -> None:
    problems = 16
    proposer = CountingProposer()
    with FakeOpenAIServer(respond=proposer, latency_s=0.2) as srv:
        cfg = _config(tmp_path, srv.url, problems=problems, concurrency=4)
        clean = tmp_path / "clean"
        res = subprocess.run(_evolve(cfg, clean), capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, res.stderr[-3000:]
        reference, calls = _accepted(clean), len(proposer.answered)
        assert calls == problems and len(reference) >= problems // 2
        for moment in moments:  # answered calls before the kill: early, middle, late in the round
            data = tmp_path / f"killed-{moment}"
            before = len(proposer.answered)
            proc = subprocess.Popen(_evolve(cfg, data), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    start_new_session=True)
            while len(proposer.answered) - before < moment and proc.poll() is None:
                time.sleep(0.02)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()  # the local Ray it started shares its fate (never `ray stop`: other runs share this box)
            committed = _questions(data)
            killed_answers = set(proposer.answered[before:])
            middle = len(proposer.answered)
            res = subprocess.run(_evolve(cfg, data, "--resume"), capture_output=True, text=True, timeout=600)
            assert res.returncode == 0, res.stderr[-3000:]
            asked_again = set(proposer.answered[middle:])
            committed_prompts = {d for d in killed_answers if proposer.question_of[d] in committed}
            assert not asked_again & committed_prompts, f"moment {moment}: committed work asked again"
            # only replies still in transit at the kill (at most one model batch) may be asked for again
            assert len(asked_again & killed_answers) <= 4, f"moment {moment}: cached replies asked again"
            assert _accepted(data) == reference, f"moment {moment}: accepted set differs"
