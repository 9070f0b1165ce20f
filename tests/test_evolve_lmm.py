"""`flywheel evolve --backend openai`: the LMM propose path end to end, against a real local HTTP server that
answers like a proposer model would (valid proposals in chatty, fenced JSON; some broken outputs)."""

from __future__ import annotations

import hashlib
import itertools
import json
import subprocess
import sys

from fake_openai_server import FakeOpenAIServer, Reply, prompt_text

from flywheel.lmm.prompts import problem_json
from generators.procedural.catalog import FAMILIES
from generators.propose import Task, propose
from storage.catalog import query

BROKEN = ("Sure! Here is a problem:\n```json\n{\"question\": \"What is the area of",  # cut off
          "I cannot draw figures, sorry.")  # no JSON at all


_calls = itertools.count()


def proposer(body: dict) -> Reply:
    """Every fourth request gets a broken output; the rest a real, verifiable proposal chosen by the prompt."""
    digest = int(hashlib.sha256(prompt_text(body).encode()).hexdigest(), 16)
    n = next(_calls)
    if n % 4 == 3:
        return Reply(texts=(BROKEN[n % 2],))
    family = sorted(FAMILIES)[digest % len(FAMILIES)]
    problem = propose(Task(1, 0, family, 1 + digest % 3, digest % 2**40), FAMILIES)
    text = f"Here is a problem for those concepts.\n\n```json\n{problem_json(problem)}\n```\nLet me know!"
    return Reply(texts=(text,))


def test_evolve_with_an_openai_compatible_proposer(tmp_path):
    cfg = tmp_path / "small.toml"
    cfg.write_text("[evolve]\nproblems_per_round = 12\npart_size = 6\n[ray]\nbatch_size = 4\n"
                   "render_actors = 1\nverify_actors = 1\n")
    data = tmp_path / "data"
    with FakeOpenAIServer(respond=proposer) as srv:
        res = subprocess.run([sys.executable, "-m", "flywheel.cli", "evolve", "--rounds", "1", "--data", str(data),
                              "--config", str(cfg), "--backend", "openai", "--model", "fake-proposer",
                              "--base-url", srv.url], capture_output=True, text=True, timeout=400)
        assert res.returncode == 0, res.stderr[-3000:]
        assert len(srv.requests) == 4  # 12 problems at 3 levels per seed request (this fake answers one each)
        assert all("### Example 1" in r.prompt and "### Example 2" in r.prompt for r in srv.requests)  # few-shot
    accepted = json.loads(query(data, "SELECT proposer, family, cost.prompt_tokens AS t FROM problems", "json"))
    rejected = json.loads(query(data, "SELECT stage, reason, raw FROM rejections", "json"))
    assert accepted and all(r["proposer"] == "openai:fake-proposer" and r["family"] == "lmm" for r in accepted)
    assert all(r["t"] > 0 for r in accepted)
    broken = [r for r in rejected if r["stage"] == "propose"]
    assert broken and all(r["reason"] in ("truncated", "no_json", "bad_json") and r["raw"] for r in broken)
    assert len(accepted) + len(rejected) >= 4


def test_evolve_records_a_cross_model_solver_verdict(tmp_path):
    from storage.shards import read_round

    data = tmp_path / "data"
    with FakeOpenAIServer() as srv:  # echoes the prompt's last line: a "solver" that is mostly wrong
        cfg = tmp_path / "solver.toml"
        cfg.write_text("[evolve]\nproblems_per_round = 8\nsolver_samples = 3\n[ray]\nbatch_size = 4\n"
                       "render_actors = 1\nverify_actors = 1\n"
                       f'[models.solver]\nbackend = "openai"\nmodel = "fake-solver"\nbase_url = "{srv.url}"\n')
        res = subprocess.run([sys.executable, "-m", "flywheel.cli", "evolve", "--rounds", "1", "--data", str(data),
                              "--config", str(cfg)], capture_output=True, text=True, timeout=400)
        assert res.returncode == 0, res.stderr[-3000:]
        solved = [r for r in srv.requests if r.body and r.body.get("n") == 3]
    problems = read_round(data, 1)
    assert problems and len(solved) == len(problems)  # every verified problem went to the solver once
    for p in problems:
        v = next(v for v in p.verdicts if v.name == "crossmodel")
        assert v.passed is None and 0.0 <= v.score <= 1.0 and "solved" in v.reason and "of 3 samples" in v.reason
        assert p.verifier.endswith("+openai:fake-solver")
        assert p.cost.completion_tokens > 0 and "solve" in p.cost.seconds
