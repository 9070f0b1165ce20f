"""The Problem and Rejection records: content-hash ids, the Arrow schemas, and exact Arrow round trips."""

from __future__ import annotations

import io
from dataclasses import replace

import pyarrow as pa
import pytest
from PIL import Image

from flywheel.records import (
    PROBLEM_SCHEMA,
    RAW_CAP,
    REJECTION_SCHEMA,
    SCHEMA_VERSION,
    Cost,
    NamedElement,
    Problem,
    Rejection,
    SolutionStep,
    Verdict,
    make_problem,
    make_problem_id,
    problems_to_table,
    raw_input_id,
    reject,
    rejections_to_table,
    table_to_problems,
    table_to_rejections,
)


def _png(color: tuple[int, int, int], size: tuple[int, int] = (40, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def _full_problem(**over) -> Problem:
    fields = dict(
        round=2,
        parent_id="0123456789abcdef",
        operator="sequential",
        family="triangle_area",
        concepts=["geometry.triangle_area", "geometry.height"],
        tools=("auxiliary_line",),
        domain="geometry",
        difficulty=3,
        question="Find the area of triangle ABC.",
        answer="12",
        answer_kind="number",
        render_code="ax.plot([0, 4], [0, 0])",
        answer_code="print(0.5 * 4 * 6)",
        check_code="import numpy as np; print(12.0)",
        image=_png((250, 250, 250)),
        width=40,
        height=30,
        solution=[SolutionStep("think", "Drop the height from C."), SolutionStep("code", "Draw it.", "ax.plot()")],
        edited_image=_png((10, 200, 30)),
        elements=(NamedElement("A", "vertex", 1.5, 2.0), NamedElement("C", "vertex", 20, 28.25)),
        verdicts=(Verdict("executed", True, 1.0, "12 == 12"), Verdict("judge", None), Verdict("image", False, 0.2)),
        proposer="procedural",
        verifier="sympy+numpy",
        cost=Cost(prompt_tokens=120, completion_tokens=48, seconds={"render": 0.31, "verify": 0.05}),
        seed=1234,
        created_at=1764000000.25,
    )
    fields.update(over)
    return make_problem(**fields)


def test_problem_round_trips_through_arrow_exactly():
    full = _full_problem()
    bare = make_problem(question="What is 2 + 2?", answer="4", created_at=5.0)
    back = table_to_problems(problems_to_table([full, bare]))
    assert back == [full, bare]
    assert back[0].image == full.image and Image.open(io.BytesIO(back[0].edited_image)).format == "PNG"
    assert back[0].verdicts[1].passed is None and back[0].cost.seconds == {"render": 0.31, "verify": 0.05}
    assert back[1].image is None and back[1].parent_id is None and back[1].solution == ()


def test_lists_and_ints_are_normalised_so_round_trips_compare_equal():
    p = _full_problem()
    assert isinstance(p.concepts, tuple) and isinstance(p.solution, tuple)
    assert p.difficulty == 3.0 and isinstance(p.difficulty, float)


def test_id_is_a_stable_16_hex_content_hash():
    # A fixed value (sha256 of the canonical JSON {"answer":"1","answer_code":"print(1)","parent_id":null,
    # "question":"Q","render_code":"code"}, checked with sha256sum): ids must not drift between releases.
    assert make_problem_id("Q", "code", "1", "print(1)", None) == "edc4cf338548dd72"
    p = _full_problem()
    assert len(p.id) == 16 and int(p.id, 16) >= 0
    assert p.id == make_problem_id(p.question, p.render_code, p.answer, p.answer_code, p.parent_id)
    # Fields outside the hash leave the id alone (same problem, later round, re-rendered image) ...
    assert replace(p, round=7, difficulty=5.0, image=None).with_id().id == p.id
    assert _full_problem(created_at=1.0, seed=9).id == p.id
    # ... the defining content changes it.
    assert replace(p, question=p.question + " ").with_id().id != p.id
    assert replace(p, parent_id=None).with_id().id != p.id
    assert replace(p, answer_code="print(13)").with_id().id != p.id
    assert make_problem(question="x", id="ignored").id == make_problem(question="x").id


def test_problem_schema_has_the_queried_columns_and_types():
    s = PROBLEM_SCHEMA
    expect = {
        "id": pa.string(),
        "round": pa.int64(),
        "parent_id": pa.string(),
        "operator": pa.string(),
        "concepts": pa.list_(pa.string()),
        "tools": pa.list_(pa.string()),
        "domain": pa.string(),
        "difficulty": pa.float64(),
        "question": pa.string(),
        "image": pa.binary(),
        "edited_image": pa.binary(),
        "answer": pa.string(),
        "render_code": pa.string(),
        "answer_code": pa.string(),
        "seed": pa.int64(),
        "created_at": pa.float64(),
    }
    for name, typ in expect.items():
        assert s.field(name).type == typ, name
    assert [f.name for f in s.field("solution").type.value_type] == ["kind", "text", "code"]
    assert [f.name for f in s.field("elements").type.value_type] == ["name", "kind", "x", "y"]
    assert [f.name for f in s.field("verdicts").type.value_type] == ["name", "passed", "score", "reason"]
    assert [f.name for f in s.field("cost").type] == ["prompt_tokens", "completion_tokens", "seconds"]
    assert set(s.names) == {f for f in Problem.__dataclass_fields__}
    assert s.metadata[b"flywheel.schema_version"] == str(SCHEMA_VERSION).encode()


def test_table_from_an_older_schema_or_with_nulls_reads_with_defaults():
    table = problems_to_table([_full_problem()]).drop_columns(["verifier", "cost", "edited_image"])
    [p] = table_to_problems(table)
    assert p.verifier == "" and p.cost == Cost() and p.edited_image is None and p.question
    nulls = pa.table({"id": ["x"], "difficulty": pa.array([None], pa.float64()), "concepts": [None]})
    [q] = table_to_problems(nulls)
    assert (q.id, q.difficulty, q.concepts) == ("x", 0.0, ())


def test_rejection_round_trip_cap_and_ids():
    p = _full_problem()
    r1 = reject(p, "crosscheck", "answer_mismatch", "sympy 12 vs numpy 12.5", raw="print(12.5)")
    assert (r1.id, r1.round, r1.family, r1.parent_id) == (p.id, 2, "triangle_area", p.parent_id)
    long = "x" * (RAW_CAP * 2)
    r2 = Rejection(raw_input_id(long), 2, "propose", "unparseable", raw=long, created_at=3.0)
    assert len(r2.raw) <= RAW_CAP and "truncated" in r2.raw
    assert Rejection(**{**r2.__dict__}).raw == r2.raw  # capping is idempotent
    assert raw_input_id(long) == raw_input_id(long) != raw_input_id(long + "y")
    table = rejections_to_table([r1, r2])
    assert table.schema.equals(REJECTION_SCHEMA) and table_to_rejections(table) == [r1, r2]
    for name in ("id", "round", "stage", "reason", "detail", "raw"):
        assert name in REJECTION_SCHEMA.names


def test_unknown_columns_are_ignored_and_types_are_checked():
    table = problems_to_table([_full_problem()]).append_column("extra", pa.array([1]))
    assert table_to_problems(table)[0] == _full_problem()
    with pytest.raises((pa.ArrowInvalid, pa.ArrowTypeError)):
        problems_to_table([replace(_full_problem(), round="two")])
