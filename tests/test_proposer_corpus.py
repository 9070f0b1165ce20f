"""The hand-written corpus of proposer replies (tests/fixtures/proposer_replies/, format in its README) through
our own parser, sandbox and checks, then through a whole `flywheel evolve` round against a local
OpenAI-compatible server: every correct problem accepted, every wrong one rejected at the right stage with
the right reason. `pytest tests/test_proposer_corpus.py -s` prints the acceptance table of the round
(`scripts/corpus_table.py` prints it from any data dir).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

from fake_openai_server import FakeOpenAIServer, Reply, prompt_text

from flywheel.config import EvolveConfig
from flywheel.lmm.parse import ProposalDraft, to_problem
from flywheel.records import Problem
from flywheel.sandbox import SandboxLimits
from generators.render import render_batch
from verifiers.checks import verify_batch

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("corpus_table", ROOT / "scripts" / "corpus_table.py")
corpus_table = sys.modules["corpus_table"] = importlib.util.module_from_spec(_spec)  # dataclasses look it up
_spec.loader.exec_module(corpus_table)

CORPUS = corpus_table.load_corpus()
EVERY = [e for r in CORPUS for e in r.problems]
PROPOSE_OPENING = "You are an expert author of visual mathematics problems"
SOLVE_OPENING = "Solve the problem about the image."
JUDGE_OPENING = "You are checking a synthesized visual mathematics problem"
# Outcomes decided by render + verify alone, and the code string that shows the check exists in our tree
# (until a check lands, its problems must at least render and verify like correct ones).
VERIFY_STAGE = {"verify:executed_mismatch": "_mismatch", "verify:constant_answer_code": "constant_answer_code",
                "verify:copied_check_code": "copied_check_code", "image:image_outside_canvas": "outside_canvas"}


def _implemented(code: str) -> bool:
    sources = [*ROOT.glob("verifiers/*.py"), ROOT / "generators" / "render.py"]
    return any(code in p.read_text(encoding="utf-8") for p in sources)


def test_corpus_is_large_and_varied():
    kinds = {e.kind for e in EVERY}
    assert len(CORPUS) >= 40, f"{len(CORPUS)} replies"
    assert sum(e.outcome == "accepted" for e in EVERY) >= 2 * len(EVERY) // 3 - 1
    for outcome in ("verify:executed_mismatch", "verify:constant_answer_code", "verify:copied_check_code",
                    "crossmodel:solver_disagrees", "judge:inconsistent", "image:image_outside_canvas"):
        assert sum(e.outcome == outcome for e in EVERY) >= 2, (outcome, kinds)


def test_every_reply_parses_into_exactly_its_problems():
    seen: dict[str, str] = {}
    for reply in CORPUS:
        got = corpus_table.parsed(reply)
        drafts = [(e, d) for e, d in got if isinstance(d, ProposalDraft)]
        assert len(got) == len(drafts) == len(reply.problems), (reply.name, [getattr(d, "reason", "") for _, d in got])
        assert sorted(e.question_contains for e, _ in drafts if e) == sorted(e.question_contains
                                                                             for e in reply.problems), reply.name
        for e, d in drafts:
            others = [x for x in EVERY if x.question_contains in d.question]
            assert others == [e], f"{reply.name}: {e.question_contains!r} matches {len(others)} expectations"
            assert d.question not in seen, f"{reply.name} repeats a question of {seen.get(d.question)}"
            seen[d.question] = reply.name


def _corpus_problems() -> list[tuple[corpus_table.Expected, Problem]]:
    return [(e, to_problem(d, 1, "corpus")) for r in CORPUS for e, d in corpus_table.parsed(r)
            if e is not None and isinstance(d, ProposalDraft)]


def test_corpus_problems_render_and_verify(sandbox):
    """Fast, no Ray: correct problems (and those only a model stage can reject) pass render + verify; the
    verify- and image-stage ones fail there with their reason, once that check exists."""
    items = _corpus_problems()
    limits = SandboxLimits(wall_s=30.0, memory_mb=1024)
    rendered = render_batch([p for _, p in items], sandbox, limits)
    survivors = [x for x in rendered if isinstance(x, Problem)]
    verified = dict(zip([p.id for p in survivors], verify_batch(survivors, sandbox, limits), strict=True))
    wrong = []
    for (e, _), x in zip(items, rendered, strict=True):
        x = verified[x.id] if isinstance(x, Problem) else x
        got = "accepted" if isinstance(x, Problem) else f"{x.stage}:{x.reason}"
        check = VERIFY_STAGE.get(e.outcome)
        want = e.outcome if check and _implemented(check) else "accepted"
        if got != want:
            wrong.append(f"{e.reply} | {e.question_contains} | want {want}, got {got}: "
                         f"{'' if isinstance(x, Problem) else x.detail[:200]}")
    assert not wrong, "\n".join(wrong)


# ---------------------------------------------------------------------------------------------------------
# The whole round
# ---------------------------------------------------------------------------------------------------------


class CorpusModel:
    """Answers like three real models would: the proposer with the next unused reply of the corpus, the solver
    with the corpus' true answer to the question it is shown, the judge with the corpus' scores for it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.unused = [r.text for r in CORPUS]
        self.proposals = self.solves = self.judgements = 0
        self.strays: list[str] = []

    def _expected(self, prompt: str) -> corpus_table.Expected | None:
        hits = [e for e in EVERY if e.question_contains in prompt]
        return hits[0] if len(hits) == 1 else None

    def __call__(self, body: dict) -> Reply:
        prompt = prompt_text(body)
        with self.lock:
            if prompt.startswith(PROPOSE_OPENING):
                self.proposals += 1
                return Reply(texts=(self.unused.pop(0) if self.unused else "[]",))
            e = self._expected(prompt)
            if e is None:
                self.strays.append(prompt[:200])
                return Reply(texts=("I cannot tell which problem this is.",))
            if prompt.startswith(SOLVE_OPENING):
                self.solves += 1
                return Reply(texts=(f"Reading the figure and computing, the result follows.\n"
                                    f"<answer>{e.true_answer}</answer>",))
            self.judgements += 1
            return Reply(texts=(json.dumps(e.judge),))


def _config(tmp_path: Path, url: str, replies: int) -> Path:
    # One request holds several levels once the proposer asks for them (EvolveConfig.levels_per_request).
    per_request = 3 if "levels_per_request" in {f.name for f in dataclasses.fields(EvolveConfig)} else 1
    roles = "".join(f'[models.{r}]\nbackend = "openai"\nmodel = "corpus-{r}"\nbase_url = "{url}"\n'
                    for r in ("proposer", "solver", "judge"))
    cfg = tmp_path / "corpus.toml"
    cfg.write_text(f"[evolve]\nproblems_per_round = {per_request * replies}\npart_size = 64\n"
                   "[ray]\nbatch_size = 8\nrender_actors = 1\nverify_actors = 1\n" + roles)
    return cfg


def test_corpus_whole_round(tmp_path):
    """Every reply answers one proposal request of a real `flywheel evolve` round (openai backend for the
    proposer, solver and judge); each corpus problem must end where its .expect.json says."""
    data, model = tmp_path / "data", CorpusModel()
    t0 = time.monotonic()
    with FakeOpenAIServer(respond=model) as srv:
        cfg = _config(tmp_path, srv.url, len(CORPUS))
        res = subprocess.run([sys.executable, "-m", "flywheel.cli", "evolve", "--rounds", "1", "--data", str(data),
                              "--config", str(cfg)], capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    outcomes = corpus_table.actual_outcomes(data, CORPUS)
    print(f"\n{len(CORPUS)} replies, {len(EVERY)} problems, round in {time.monotonic() - t0:.0f} s\n")
    print(corpus_table.table(outcomes))
    assert model.proposals == len(CORPUS) and not model.unused
    assert not model.strays, model.strays[:3]
    wrong = [f"{e.reply} | {e.question_contains} | want {e.outcome}, got {got}"
             for e, got in outcomes.items() if got != e.outcome]
    assert not wrong, "\n".join(wrong)

