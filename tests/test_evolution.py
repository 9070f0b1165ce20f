"""Evolution's pure parts: the operator planner, difficulty estimation and routing, knowledge co-evolution."""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import replace

from flywheel.coevolve import MIN_SUPPORT, composite_candidates, grow_from_round, tag_composites
from flywheel.knowledge import KnowledgeSystem
from flywheel.records import Rejection, SolutionStep, Verdict, make_problem
from generators.procedural.catalog import FAMILIES, PARALLEL, SEQUENTIAL
from generators.propose import OPERATOR_SHARES, Parent, Task, plan_round, propose
from verifiers.difficulty import assess, route_of, structural_difficulty, with_difficulty

FAMS = sorted(FAMILIES)


def _parents(n: int = 60) -> list[Parent]:
    rng = random.Random(1)
    return [Parent(f"p{i:03d}", rng.choice(FAMS[:4]), rng.getrandbits(40), 1 + i % 5,
                   "too_easy" if i % 7 == 0 else "") for i in range(n)]


def test_round_one_is_all_seed_and_later_rounds_mix_operators():
    ext = {"parallel": set(FAMS[:4]), "sequential": set(FAMS[:4])}
    first = plan_round(1, 200, 0, 2.0, FAMS, Counter(), (), ext)
    assert {t.operator for t in first} == {"seed"} and all(t.parent is None for t in first)
    later = plan_round(2, 400, 0, 2.5, FAMS, Counter(), _parents(), ext)
    ops = Counter(t.operator for t in later)
    for op, share in OPERATOR_SHARES.items():
        assert abs(ops[op] / 400 - share) < 0.1, ops
    for t in later:
        if t.operator != "seed":
            assert t.parent is not None and t.family == t.parent.family and t.family in ext[t.operator]
        if t.operator == "sequential":
            assert t.parent.level <= max(1, t.difficulty - 1)  # the parent sits below the task's rung


def test_planner_spreads_parents_and_prefers_too_easy_ones_for_sequential():
    ext = {"parallel": set(FAMS[:4]), "sequential": set(FAMS[:4])}
    tasks = plan_round(2, 400, 0, 3.0, FAMS, Counter(), _parents(), ext)
    used = Counter(t.parent.id for t in tasks if t.parent)
    for level in range(1, 6):  # least-used first: parents of one level share the work evenly
        counts = [used[p.id] for p in _parents() if p.level == level]
        assert max(counts) - min(counts) <= 3, (level, counts)
    seq = [t for t in tasks if t.operator == "sequential"]
    easy_share = sum(t.parent.route == "too_easy" for t in seq) / len(seq)
    assert easy_share > sum(p.route == "too_easy" for p in _parents()) / 60


def test_planning_is_deterministic_and_falls_back_to_seed_without_eligible_parents():
    ext = {"parallel": set(FAMS[:4]), "sequential": set(FAMS[:4])}
    assert plan_round(3, 50, 7, 3.0, FAMS, Counter(), _parents(), ext) == \
        plan_round(3, 50, 7, 3.0, FAMS, Counter(), _parents(), ext)
    none = plan_round(3, 50, 7, 3.0, FAMS, Counter(), _parents(), {"parallel": set(), "sequential": set()})
    assert {t.operator for t in none} == {"seed"}


def test_an_extension_that_raises_becomes_a_rejection_with_lineage():
    def broken(rng, seed, level):
        raise ZeroDivisionError("scene has no area")

    parent = Parent("abc", "triangle_area", 5, 2)
    out = propose(Task(2, 0, "triangle_area", 3, 9, "sequential", parent), FAMILIES,
                  {"sequential": {"triangle_area": broken}})
    assert out.stage == "propose" and out.operator == "sequential" and out.parent_id == "abc"
    assert "ZeroDivisionError" in out.detail


def _problem(level: int = 3, steps: int = 4, code: int = 1, concepts: int = 2, operator: str = "seed", verdicts=()):
    sol = [SolutionStep("code", "draw", "x=1")] * code + [SolutionStep("think", "t")] * (steps - code)
    return make_problem(level=level, difficulty=float(level), solution=sol, operator=operator,
                        concepts=[f"c{i}" for i in range(concepts)], question=f"q{level}{steps}", verdicts=verdicts)


def test_structural_difficulty_grows_with_what_the_solution_needs():
    base = structural_difficulty(_problem())
    assert base == 3.0
    assert structural_difficulty(_problem(code=3, steps=6)) > base
    assert structural_difficulty(_problem(concepts=4)) > base
    assert structural_difficulty(_problem(operator="sequential")) > base
    assert structural_difficulty(_problem(level=5, code=9, steps=20, concepts=9)) <= 5.5


def _solved(hits: int, k: int = 4):
    return (Verdict("crossmodel", None, hits / k, f"m solved {hits / k:.0%} of {k} samples ('1')"),)


def test_solver_pass_rate_moves_the_estimate_and_routes_extremes():
    easy, hard, mid = (assess(_problem(verdicts=_solved(h))) for h in (4, 0, 2))
    assert easy.difficulty < mid.difficulty < hard.difficulty
    assert (easy.route, hard.route, mid.route) == ("too_easy", "unsolved", "")
    assert 2.5 < mid.difficulty < 3.5  # a level-3 problem solved half the time stays near 3
    failed = assess(_problem(verdicts=(Verdict("crossmodel", None, 0.0, "solver_error: timeout"),)))
    assert failed.pass_rate is None and failed.difficulty == 3.0


def test_with_difficulty_stores_verdicts_and_is_idempotent():
    p = with_difficulty(with_difficulty(_problem(verdicts=_solved(4))))
    names = [v.name for v in p.verdicts]
    assert names.count("difficulty") == 1 and names.count("route") == 1 and route_of(p) == "too_easy"
    assert p.difficulty == next(v.score for v in p.verdicts if v.name == "difficulty")


def _ext(concepts, op="sequential"):
    return make_problem(operator=op, concepts=concepts, question=str(concepts) + op + str(random.random()))


def test_composite_concepts_need_support_and_are_not_repeated():
    ks = KnowledgeSystem.seed()
    a, b = "plane_geometry.triangle_area", "plane_geometry.pythagorean_theorem"
    assert a in ks and b in ks
    few = [_ext([a, b])] * (MIN_SUPPORT - 1)
    assert composite_candidates(few, ks, 2) == []
    enough = few + [_ext([b, a], "parallel"), _ext([a, b, "not.a.concept"])]
    (cand,) = composite_candidates(enough + [make_problem(operator="seed", concepts=[a, b])], ks, 2)
    assert set(cand["parents"]) == {a, b}
    grown, report = grow_from_round(ks, enough, 2)
    assert len(report.added_concepts) == 1
    node = grown.concept(report.added_concepts[0])
    assert node.added_round == 2 and set(node.parents) == {a, b} and set(grown.prerequisites(node.id)) >= {a, b}
    again, report2 = grow_from_round(grown, enough, 3)  # the pair is composed already
    assert report2.added_concepts == () and again.version == grown.version
    tagged = tag_composites(make_problem(concepts=[a, b]), [node])
    assert tagged.concepts[-1] == node.id


def test_extracted_candidates_grow_the_system_and_merge_near_duplicates():
    ks = KnowledgeSystem.seed()
    doc = {"new_concepts": [{"name": "Shoelace formula for lattice polygons", "domain": "plane_geometry",
                             "parents": ["plane_geometry.triangle_area"]},
                            {"name": "Pythagorean theorem", "domain": "plane_geometry"}],  # exists already
           "new_tools": [{"name": "Shade a region", "kind": "annotate"}]}
    p = make_problem(question="q", verdicts=(Verdict("extract", None, 3.0, json.dumps(doc)),
                                             Verdict("extract", None, 0.0, "unreadable: no_json")))
    grown, report = grow_from_round(ks, [p], 1)
    assert len(report.added_concepts) == 1 and report.merged
    assert grown.concept(report.added_concepts[0]).added_round == 1
    assert len(grown.concepts) == len(ks.concepts) + 1


def test_parents_with_children_from_earlier_rounds_are_drawn_last():
    ext = {"parallel": {"triangle_area"}, "sequential": {"triangle_area"}}
    parents = [Parent(f"p{i}", "triangle_area", i, 2, children=5 if i < 5 else 0) for i in range(10)]
    tasks = plan_round(3, 30, 0, 2.5, ["triangle_area"], Counter(), parents, ext)
    used = Counter(t.parent.id for t in tasks if t.parent)
    assert sum(used[f"p{i}"] for i in range(5, 10)) > sum(used[f"p{i}"] for i in range(5))


def test_few_shot_examples_prefer_model_made_problems_and_the_task_domain():
    from generators.lmm.propose import LMMTask, example_pool, examples_for

    ks = KnowledgeSystem.seed()
    fallback = example_pool([])  # round 1: verified procedural problems stand in
    assert len({p.family for p in fallback}) == len(FAMILIES) and all(p.image is None for p in fallback)
    made = [make_problem(question=f"q{i}", proposer="openai:m", domain=d, family="lmm")
            for i, d in enumerate(["plane_geometry", "probability"] * 3)]
    pool = example_pool(made + list(fallback))
    assert all(p.proposer != "procedural" for p in pool[:2])
    task = LMMTask(2, 0, ("probability.sample_space",) if "probability.sample_space" in ks else
                   (next(c.id for c in ks.concepts if c.domain == "probability"),), (), 2, 7)
    picked = examples_for(task, ks, pool)
    assert len(picked) == 2 and all(p.domain == "probability" for p in picked)
    assert picked == examples_for(task, ks, pool)  # deterministic per task


def test_procedural_parents_at_max_depth_are_not_extended_and_children_are_one_deeper():
    ext = {"parallel": set(FAMS[:4]), "sequential": set(FAMS[:4])}
    parents = [replace(p, depth=i % 2) for i, p in enumerate(_parents())]
    tasks = plan_round(2, 200, 0, 2.5, FAMS, Counter(), parents, ext, max_depth=1)
    assert {t.parent.depth for t in tasks if t.parent} == {0}
    assert {t.operator for t in plan_round(2, 50, 0, 2.5, FAMS, Counter(), parents, ext, max_depth=0)} == {"seed"}
    parent = Parent("abc", "triangle_area", 5, 2)
    child = propose(Task(2, 0, "triangle_area", 3, 9, "sequential", parent), FAMILIES, {"sequential": SEQUENTIAL})
    assert child.depth == 1 and child.parent_id == "abc"
    assert propose(Task(1, 0, "triangle_area", 2, 9), FAMILIES).depth == 0


def test_depth_over_three_rounds_of_a_small_procedural_run(tmp_path):
    """Plan -> propose -> commit, three rounds, parents read back from storage by `flywheel.history.history`
    (no Ray, no rendering: depth is decided by planning and lineage, not by the render stage)."""
    from flywheel.history import history
    from storage.readers import read_table
    from storage.shards import ShardWriter

    ext = {"parallel": set(PARALLEL), "sequential": set(SEQUENTIAL)}
    fams = ["triangle_area", "right_triangle_pythagoras", "polygon_angles"]
    for round_no in (1, 2, 3):
        by_family, _, parents = history(tmp_path, round_no)
        tasks = plan_round(round_no, 12, 0, 2.0, fams, by_family, parents, ext)
        made = [propose(t, FAMILIES, {"parallel": PARALLEL, "sequential": SEQUENTIAL}) for t in tasks]
        with ShardWriter(tmp_path, round_no) as w:
            w.commit_part([p for p in made if not isinstance(p, Rejection)], final=True)
    rows = read_table(tmp_path, columns=["id", "round", "operator", "parent_id", "depth"]).to_pylist()
    by_id = {r["id"]: r for r in rows}
    children = [r for r in rows if r["parent_id"]]
    assert children and {r["round"] for r in children} == {2, 3}
    for r in rows:  # seeds at 0, each extension one below its parent (procedural parents are seed problems)
        expected = by_id[r["parent_id"]]["depth"] + 1 if r["parent_id"] else 0
        assert r["depth"] == expected == (0 if r["operator"] == "seed" else 1), r


def test_a_shard_written_before_the_depth_column_reads_as_depth_zero(tmp_path):
    import pyarrow.parquet as pq

    from flywheel.records import PROBLEM_SCHEMA, problems_to_table, table_to_problems
    from storage.readers import _read_columns

    old = problems_to_table([make_problem(question="old", depth=2)]).drop_columns(["depth"])
    pq.write_table(old, tmp_path / "v2.parquet")
    table = _read_columns(tmp_path / "v2.parquet", ["id", "depth", "question"], PROBLEM_SCHEMA)
    assert table.column_names == ["id", "depth", "question"] and table.column("depth").to_pylist() == [None]
    [p] = table_to_problems(table)
    assert (p.question, p.depth) == ("old", 0)
