"""Cross-model verification on canned solver completions (the fake sits at the model boundary) and on the
real hf backend with the tiny random model (its answers are noise: the plumbing and accounting are tested)."""

from __future__ import annotations

import pytest

from flywheel.config import EvolveConfig, FlywheelConfig, ModelSpec
from flywheel.models.base import Completion
from flywheel.records import Problem, Rejection, make_problem
from verifiers.crossmodel import crossmodel_verdict, crossmodel_verdicts, solve_check, solve_requests

PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 32


def _problem(answer: str, kind: str = "number", proposer: str = "procedural", verified_by: str = ""):
    return make_problem(question="What is the area of triangle ABC in cm²?", answer=answer, answer_kind=kind,
                        render_code="pass", answer_code="print(6)", image=PNG, proposer=proposer,
                        verified_by=verified_by)


def _solved(*texts: str, model: str = "solver") -> Completion:
    return Completion(tuple(texts), model, prompt_tokens=10, completion_tokens=20, seconds=0.1)


def test_requests_carry_image_prompt_and_k_samples():
    p = _problem("6")
    (req,) = solve_requests([p], lambda q: f"Solve: {q.question}", k=5, max_tokens=64)
    assert req.sampling.n == 5 and req.sampling.max_tokens == 64
    assert req.messages[0].images == (PNG,) and req.messages[0].text.startswith("Solve: What is")


def test_pass_rate_uses_the_equivalence_checker():
    p = _problem("7/2", "expression")
    c = _solved("... so the area is <answer>3.5</answer>", "I think \\boxed{\\frac{7}{2}}", "<answer>4</answer>",
                "no final answer here")
    v = crossmodel_verdict(p, c)
    assert v.name == "crossmodel" and v.passed is None and v.score == 0.5
    assert "50% of 4" in v.reason
    assert crossmodel_verdict(p, c, min_pass_rate=0.5).passed is True
    assert crossmodel_verdict(p, c, min_pass_rate=0.75).passed is False


def test_failed_solver_request_never_passes():
    p = _problem("6")
    bad = Completion((), "solver", error="HTTP 503: overloaded")
    assert crossmodel_verdict(p, bad).passed is None
    v = crossmodel_verdict(p, bad, min_pass_rate=0.1)
    assert v.passed is False and "503" in v.reason


def test_lengths_must_match():
    with pytest.raises(ValueError):
        crossmodel_verdicts([_problem("6")], [])


def test_real_hf_backend_on_the_tiny_model(tmp_path):
    pytest.importorskip("transformers")
    import io

    from PIL import Image

    from flywheel.models.hf import HFBackend
    from flywheel.models.tiny import build_tiny_model

    buf = io.BytesIO()
    Image.new("RGB", (112, 112), "white").save(buf, format="PNG")
    p = make_problem(question="What is 2 + 4?", answer="6", render_code="pass", answer_code="print(6)",
                     image=buf.getvalue())
    backend = HFBackend(str(build_tiny_model(tmp_path / "tiny")))
    reqs = solve_requests([p, p], lambda q: q.question, k=3, max_tokens=12, seed=1)
    outs = backend.generate(reqs)
    verdicts = crossmodel_verdicts([p, p], outs)
    assert all(len(c.texts) == 3 and c.completion_tokens > 0 for c in outs)
    assert all(0.0 <= v.score <= 1.0 and v.passed is None for v in verdicts)


# ----------------------------------------------------------------------------------------------------
# solve_check: a solver's agreement is required for model-made problems
# ----------------------------------------------------------------------------------------------------


class _Pool:
    """The model boundary: canned completions by problem id, in request order."""

    spec = ModelSpec(backend="openai", model="solver-x", max_tokens=64)

    def __init__(self, by_id: dict[str, Completion]):
        self.by_id, self.seen = by_id, []

    def generate(self, requests):
        self.seen += requests
        return [self.by_id[r.tag.split(":")[0]] for r in requests]


def _check(problems, completions, **evolve):
    pool = _Pool({p.id: c for p, c in zip(problems, completions, strict=True)})
    out = solve_check(problems, pool, FlywheelConfig(evolve=EvolveConfig(solver_samples=3, **evolve)))
    assert all(r.sampling.n == 3 for r in pool.seen)
    return out


def test_model_made_problems_need_the_solver_by_default():
    agree = _problem("6", proposer="model-x", verified_by="author_code")
    disagree = _problem("7", proposer="model-x", verified_by="author_code")
    failed = _problem("8", proposer="model-x", verified_by="author_code")
    procedural = _problem("9", verified_by="procedural")  # the solver misses it too: recorded only, as before
    out = _check([agree, disagree, failed, procedural],
                 [_solved("<answer>5</answer>", "<answer>6</answer>", "<answer>5</answer>"),
                  _solved("<answer>6</answer>", "<answer>6</answer>", "no answer"),
                  Completion((), "solver-x", error="HTTP 500: boom"),
                  _solved("<answer>1</answer>", "<answer>2</answer>", "<answer>3</answer>")])
    assert isinstance(out[0], Problem) and out[0].verified_by == "solver" and out[0].verdicts[-1].passed
    assert isinstance(out[1], Rejection) and (out[1].stage, out[1].reason) == ("crossmodel", "solver_disagrees")
    assert out[1].problem.verified_by == "author_code" and "0% of 3" in out[1].detail
    assert isinstance(out[2], Rejection) and (out[2].stage, out[2].reason) == ("crossmodel", "solver_error")
    assert "HTTP 500" in out[2].detail
    assert isinstance(out[3], Problem) and out[3].verified_by == "procedural" and out[3].verdicts[-1].passed is None


def test_min_agree_and_min_pass_rate_both_apply():
    p = _problem("6", proposer="model-x", verified_by="author_code")
    one_of_three = _solved("<answer>6</answer>", "<answer>5</answer>", "<answer>4</answer>")
    assert isinstance(_check([p], [one_of_three], solver_min_agree=2)[0], Rejection)
    assert isinstance(_check([p], [one_of_three], solver_min_agree=1, solver_min_pass_rate=0.5)[0], Rejection)
    assert isinstance(_check([p], [one_of_three], solver_min_agree=1, solver_min_pass_rate=0.3)[0], Problem)
    recorded = _check([p], [_solved("<answer>5</answer>")], solver_min_agree=0)[0]  # 0: record only
    assert isinstance(recorded, Problem) and recorded.verified_by == "author_code"
    procedural = _check([_problem("6")], [one_of_three], solver_min_pass_rate=0.5)[0]  # the rate binds every problem
    assert isinstance(procedural, Rejection) and procedural.reason == "solver_disagrees"
