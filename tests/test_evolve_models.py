"""Every model-driven stage in one `flywheel evolve` round, against a real local OpenAI-compatible server that
answers each role the way a capable model would: the proposer sometimes states a wrong answer, the repairer
fixes it from the failure reason, the judge scores with the rubric (and vetoes one problem), the extractor
proposes a new concept. Checks lineage by SQL, the judge and extract verdicts, knowledge growth and costs."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import subprocess
import sys

from fake_openai_server import FakeOpenAIServer, Reply, prompt_text

from flywheel.knowledge import KnowledgeSystem
from flywheel.lmm.prompts import problem_json
from generators.procedural.catalog import FAMILIES
from generators.propose import Task, propose
from storage.catalog import query

TRUTH: dict[str, str] = {}  # question -> the correct problem, in the proposal schema
_calls = itertools.count()
GEOMETRY = ("triangle_area", "right_triangle_pythagoras", "polygon_angles", "bar_chart_stats")


def _digest(s: str) -> int:
    return int(hashlib.sha256(s.encode()).hexdigest(), 16)


def _propose(prompt: str) -> Reply:
    n = next(_calls)
    family = GEOMETRY[n % len(GEOMETRY)]
    problem = propose(Task(1, n, family, 1 + n % 3, _digest(prompt) % 2**40 + n), FAMILIES)
    doc = json.loads(problem_json(problem))
    TRUTH[doc["question"]] = problem_json(problem)
    if n % 3 == 0:  # a confidently wrong answer: the executed answer code will disagree
        doc["answer"] = "987654"
    return Reply(texts=(f"Here you go:\n```json\n{json.dumps(doc)}\n```",))


def _repair(prompt: str) -> Reply:
    doc = json.loads(re.search(r"```json\n(.*?)\n```", prompt, re.DOTALL).group(1))
    return Reply(texts=("The stated answer was wrong; corrected:\n```json\n" + TRUTH[doc["question"]] + "\n```",))


def _judge(prompt: str) -> Reply:
    veto = "pentagon" in prompt.lower() or "hexagon" in prompt.lower()  # one family's figures get vetoed
    score = 3 if veto else 9
    return Reply(texts=(json.dumps({"question_answer": score, "drawing": score, "tool_edit": 8, "numbers": score,
                                    "reason": "label misplaced" if veto else "consistent"}),))


def _extract(prompt: str) -> Reply:
    return Reply(texts=(json.dumps({
        "concepts": ["plane_geometry.triangle_area"], "tools": [],
        "new_concepts": [{"name": "Reading lengths off a unit grid", "domain": "measurement",
                          "parents": ["plane_geometry.triangle_area"], "description": "Counting grid units."}],
        "new_tools": [{"name": "Grid unit ticks", "kind": "annotate", "description": "Mark unit steps.",
                       "example": "ax.plot([0, 40], [0, 0])"}],
    }),))


def respond(body: dict) -> Reply:
    prompt = prompt_text(body)
    if prompt.startswith("A synthesized visual mathematics problem failed a check"):
        return _repair(prompt)
    if prompt.startswith("You are checking a synthesized"):
        return _judge(prompt)
    if prompt.startswith("Name the knowledge concepts"):
        return _extract(prompt)
    return _propose(prompt)


def test_all_model_roles_in_one_round(tmp_path):
    data = tmp_path / "data"
    with FakeOpenAIServer(respond=respond) as srv:
        roles = "".join(f'[models.{r}]\nbackend = "openai"\nmodel = "fake-lmm"\nbase_url = "{srv.url}"\n'
                        for r in ("proposer", "judge", "repairer", "extractor"))
        cfg = tmp_path / "roles.toml"
        cfg.write_text("[evolve]\nproblems_per_round = 9\npart_size = 6\n[ray]\nbatch_size = 3\n"
                       "render_actors = 1\nverify_actors = 1\n" + roles)
        res = subprocess.run([sys.executable, "-m", "flywheel.cli", "evolve", "--rounds", "1", "--data", str(data),
                              "--config", str(cfg)], capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, res.stderr[-3000:]
    # lineage a query can follow: a repaired problem's parent is the rejected original, with its reason
    lineage = json.loads(query(data, """
        SELECT p.id, p.operator, r.stage, r.reason FROM problems p JOIN rejections r ON p.parent_id = r.id
        WHERE p.operator = 'repair'""", "json"))
    assert lineage and all(row["stage"] == "verify" and row["reason"] == "executed_mismatch" for row in lineage)
    judged = json.loads(query(data, """
        SELECT v.passed, v.score FROM (SELECT unnest(verdicts) AS v FROM problems) WHERE v.name = 'judge'""", "json"))
    accepted = json.loads(query(data, "SELECT count(*) AS n FROM problems", "json"))[0]["n"]
    assert len(judged) == accepted and all(j["passed"] and j["score"] >= 0.7 for j in judged)
    vetoed = json.loads(query(data, "SELECT reason FROM rejections WHERE stage = 'judge'", "json"))
    assert vetoed and all(v["reason"] == "inconsistent" for v in vetoed)
    # co-evolution: the extractor's new nodes are in the grown system, stamped with the round
    ks = KnowledgeSystem.load(data / "knowledge.json")
    grown = [c for c in ks.concepts if c.added_round == 1]
    assert [c.name for c in grown] == ["Reading lengths off a unit grid"]
    assert grown[0].parents == ("plane_geometry.triangle_area",)
    assert any(t.added_round == 1 and t.name == "Grid unit ticks" for t in ks.tools)
    summary = json.loads(query(data, "SELECT knowledge_added_concepts AS a, cost_per_accepted_prompt_tokens AS t, "
                                     "accepted_by_operator_repair AS rep FROM rounds", "json"))[0]
    assert summary["a"] == 1 and summary["t"] > 0 and summary["rep"] == len(lineage)


ORIGIN: dict[str, tuple[str, int, int]] = {}  # question -> (family, seed, level) of the procedural original
EXTENDABLE = ("triangle_area", "right_triangle_pythagoras", "coordinate_line_intersection")


def extending_proposer(body: dict) -> Reply:
    """Seed prompts get a procedural problem; extension prompts get that problem's procedural extension, so the
    model-driven parallel and sequential operators can be checked end to end with verifiable answers."""
    from generators.procedural.catalog import PARALLEL, SEQUENTIAL
    from generators.propose import Parent

    prompt = prompt_text(body)
    n = next(_calls)
    if prompt.startswith("You are an expert author") and "## Operation:" in prompt:
        op = "parallel" if "## Operation: parallel" in prompt else "sequential"
        parent_doc = json.loads(re.search(r"```json\n(.*?)\n```", prompt, re.DOTALL).group(1))
        family, seed, level = ORIGIN[parent_doc["question"]]
        child = propose(Task(2, n, family, level, n, op, Parent("x", family, seed, level)), FAMILIES,
                        {"parallel": PARALLEL, "sequential": SEQUENTIAL})
        return Reply(texts=("```json\n" + problem_json(child) + "\n```",))
    family, level, seed = EXTENDABLE[n % 3], 1 + n % 3, 1000 + n
    problem = propose(Task(1, n, family, level, seed), FAMILIES)
    ORIGIN[problem.question] = (family, seed, level)
    return Reply(texts=("```json\n" + problem_json(problem) + "\n```",))


def test_model_proposer_extends_accepted_problems_in_later_rounds(tmp_path):
    data = tmp_path / "data"
    with FakeOpenAIServer(respond=extending_proposer) as srv:
        cfg = tmp_path / "ext.toml"
        cfg.write_text("[evolve]\nproblems_per_round = 10\n[ray]\nbatch_size = 5\nrender_actors = 1\n"
                       "verify_actors = 1\n")
        res = subprocess.run([sys.executable, "-m", "flywheel.cli", "evolve", "--rounds", "2", "--data", str(data),
                              "--config", str(cfg), "--backend", "openai", "--model", "fake", "--base-url", srv.url],
                             capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, res.stderr[-3000:]
    rows = json.loads(query(data, """
        SELECT c.operator, c.round AS child_round, p.round AS parent_round, c.render_code = p.render_code AS same
        FROM problems c JOIN problems p ON c.parent_id = p.id""", "json"))
    ops = {r["operator"] for r in rows}
    assert ops == {"parallel", "sequential"}, rows
    assert all(r["child_round"] == 2 and r["parent_round"] == 1 for r in rows)
    assert all(r["same"] for r in rows if r["operator"] == "parallel")
    assert not any(r["same"] for r in rows if r["operator"] == "sequential")
