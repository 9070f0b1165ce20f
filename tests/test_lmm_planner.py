"""The model proposer's planner (issue 10, paper parity): one seed request asks for several levels, requests are
counted exactly against `problems_per_round`, extension depth is recorded and capped, and concept pairs belong
together. Pure functions: no Ray, no model, no sandbox."""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import replace

import pytest

from flywheel.config import EvolveConfig, load_config
from flywheel.knowledge import KnowledgeSystem
from flywheel.lmm.prompts import problem_json
from flywheel.models.base import Completion
from flywheel.records import make_problem
from generators.lmm.propose import LMMTask, plan_lmm_round, proposal_request, proposals, request_levels
from generators.procedural.catalog import FAMILIES
from generators.propose import Task, propose

KS = KnowledgeSystem.seed()


def _parents(n: int = 30, depths=(0, 1, 2, 3)) -> list:
    return [make_problem(question=f"parent {i}", proposer="openai:m", family="lmm", level=1 + i % 5,
                         difficulty=float(1 + i % 5), depth=depths[i % len(depths)],
                         concepts=("plane_geometry.triangle_area",), domain="plane_geometry") for i in range(n)]


@pytest.mark.parametrize("n", [1, 4, 7])
def test_seed_only_round_of_3n_problems_makes_exactly_n_requests_of_three_levels(n):
    tasks = plan_lmm_round(1, 3 * n, 0, 1.6, KS, Counter())
    assert len(tasks) == n and all(len(t.levels) == 3 and t.operator == "seed" for t in tasks)
    assert [t.index for t in tasks] == list(range(n))


@pytest.mark.parametrize("count,per", [(10, 3), (11, 3), (7, 2), (5, 1), (9, 5)])
def test_requests_cover_exactly_the_problems_per_round(count, per):
    tasks = plan_lmm_round(1, count, 3, 2.5, KS, Counter(), levels_per_request=per)
    assert sum(len(t.levels) for t in tasks) == count and len(tasks) == math.ceil(count / per)
    for t in tasks:
        assert list(t.levels) == sorted(set(t.levels)) and all(1 <= lv <= 5 for lv in t.levels)
        assert t.difficulty in t.levels  # around the level drawn from the round's ladder


def test_extensions_count_one_problem_each_and_the_total_stays_exact():
    parents = _parents()
    tasks = plan_lmm_round(2, 60, 0, 2.5, KS, Counter(), parents)
    ext = [t for t in tasks if t.operator != "seed"]
    assert ext and all(len(t.levels) == 1 and t.parent is not None for t in ext)
    assert sum(len(t.levels) for t in tasks) == 60
    assert plan_lmm_round(2, 60, 0, 2.5, KS, Counter(), parents) == tasks  # a resumed round asks the same


def test_request_levels_stay_consecutive_inside_one_to_five():
    for level in range(1, 6):
        for n in range(1, 6):
            got = request_levels(level, n)
            assert len(got) == n and got == tuple(range(got[0], got[0] + n)) and 1 <= got[0] and got[-1] <= 5
            assert level in got


def test_parents_at_max_depth_are_never_extended():
    for cap in (1, 2, 3):
        tasks = plan_lmm_round(2, 120, 0, 2.5, KS, Counter(), _parents(), max_depth=cap)
        depths = Counter(t.parent.depth for t in tasks if t.parent)
        assert depths and max(depths) == cap - 1, (cap, depths)
    none = plan_lmm_round(2, 30, 0, 2.5, KS, Counter(), _parents(), max_depth=0)
    assert {t.operator for t in none} == {"seed"}


def _reply(*problems) -> Completion:
    docs = [json.loads(problem_json(p)) for p in problems]
    return Completion(("```json\n" + json.dumps(docs) + "\n```",), "m", prompt_tokens=300, completion_tokens=900)


def _procedural(n: int):
    rng_families = ["triangle_area", "right_triangle_pythagoras", "polygon_angles"]
    return [propose(Task(1, i, rng_families[i % 3], 2, 100 + i), FAMILIES) for i in range(n)]


def test_one_reply_becomes_one_problem_per_level_each_at_its_level():
    task = LMMTask(1, 0, ("plane_geometry.triangle_area",), (), 3, 5, levels=(2, 3, 4))
    a, b, c = _procedural(3)  # stated difficulty 2 each
    docs = [replace(a, difficulty=4.0), replace(b, difficulty=9.0), c]  # 9 was not asked: its position's level
    out = proposals(task, _reply(*docs), KS, "openai:m")
    assert [p.level for p in out] == [4, 3, 2]
    assert all(p.depth == 0 and p.operator == "seed" and p.difficulty == p.level for p in out)
    assert len({p.id for p in out}) == 3 and sum(p.cost.completion_tokens for p in out) == 900
    assert len(proposals(task, _reply(*_procedural(5)), KS, "openai:m")) == 3  # extra candidates dropped
    assert len(proposals(task, _reply(a), KS, "openai:m")) == 1  # fewer: what it has


def test_an_extension_is_one_level_deeper_than_its_parent():
    [child] = _procedural(1)
    parent = replace(_parents(1)[0], depth=2)
    task = LMMTask(3, 0, parent.concepts, (), 3, 11, "sequential", parent)
    assert task.levels == (3,)
    [p] = proposals(task, _reply(child, child), KS, "openai:m")  # an extension keeps only the first
    assert (p.depth, p.parent_id, p.operator) == (3, parent.id, "sequential")
    prompt = proposal_request(task, KS).messages[0].text
    assert "## Operation: sequential" in prompt


def test_seed_request_prompt_asks_for_the_task_levels():
    task = plan_lmm_round(1, 3, 0, 3.0, KS, Counter())[0]
    text = proposal_request(task, KS).messages[0].text
    assert text.startswith("You are an expert author of visual mathematics problems")
    assert all(f"level {lv} of 5" in text for lv in task.levels) and f"array of {len(task.levels)}" in text
    assert proposal_request(task, KS, max_tokens=1000).sampling.max_tokens == 1000 * len(task.levels)  # per problem


def test_related_pairing_uses_a_prerequisite_or_the_same_domain():
    tasks = plan_lmm_round(1, 300, 0, 2.5, KS, Counter(), levels_per_request=1)
    pairs = [t.concepts for t in tasks if len(t.concepts) == 2]
    assert len(pairs) > 250
    for main, partner in pairs:
        assert partner in KS.prerequisites(main) or KS.concept(partner).domain == KS.concept(main).domain
    mixed = plan_lmm_round(1, 300, 0, 2.5, KS, Counter(), levels_per_request=1, pairing="cross_domain")
    cross = [t for t in mixed if len(t.concepts) == 2 and KS.concept(t.concepts[0]).domain !=
             KS.concept(t.concepts[1]).domain]
    assert len(cross) > 60  # the old behaviour, kept behind the option
    with pytest.raises(ValueError, match="pairing"):
        plan_lmm_round(1, 3, 0, 2.5, KS, Counter(), pairing="random")


def test_config_validates_the_new_evolve_fields():
    ev = EvolveConfig()
    assert (ev.levels_per_request, ev.max_depth, ev.concept_pairing) == (3, 3, "related")
    with pytest.raises(ValueError, match="concept_pairing must be one of related, cross_domain"):
        load_config(evolve__concept_pairing="nearby")
    with pytest.raises(ValueError, match="levels_per_request must be 1..5"):
        EvolveConfig(levels_per_request=0)
    with pytest.raises(ValueError, match="max_depth"):
        EvolveConfig(max_depth=-1)
