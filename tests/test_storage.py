"""Shards, manifests, the DuckDB catalog and fsck, on real files; a real writer process is SIGKILLed mid-commit."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from PIL import Image

from flywheel.records import SCHEMA_VERSION, NamedElement, Problem, Rejection, SolutionStep, Verdict, make_problem
from storage.catalog import connect, query
from storage.fsck import fsck
from storage.manifest import STAGING, CorruptShardError, load_manifests
from storage.shards import (
    ShardWriter,
    committed_ids,
    committed_paths,
    committed_rounds,
    read_rejections,
    read_round,
)

ROOT = Path(__file__).resolve().parent.parent


def make_png(i: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), (i * 37 % 256, i * 91 % 256, 200)).save(buf, "PNG")
    return buf.getvalue()


def make_problems(round_: int, n: int, start: int = 0, parent: str | None = None) -> list[Problem]:
    """Deterministic problems (also imported by the killed-writer subprocess)."""
    return [
        make_problem(
            round=round_,
            parent_id=parent,
            operator="seed" if parent is None else "parallel",
            family="triangle_area",
            concepts=("geometry.triangle_area", f"c{i % 2}"),
            tools=("auxiliary_line",),
            domain="geometry",
            difficulty=1 + i % 3,
            question=f"R{round_} #{i}: what is the area of triangle ABC?",
            answer=str(i),
            render_code=f"ax.plot([0, {i}], [0, 1])",
            answer_code=f"print({i})",
            check_code=f"print({i}.0)",
            image=make_png(i),
            width=32,
            height=24,
            solution=(SolutionStep("think", "Split it."), SolutionStep("code", "Draw.", "ax.plot([0], [0])")),
            edited_image=make_png(i + 100),
            elements=(NamedElement("A", "vertex", 1.0, 2.0),),
            verdicts=(Verdict("executed", True, 1.0, "ok"), Verdict("judge", None)),
            seed=i,
            created_at=1000.0 + i,
        )
        for i in range(start, start + n)
    ]


def make_rejections(round_: int, n: int) -> list[Rejection]:
    return [
        Rejection(f"raw{i:013d}", round_, "render", "render_timeout", "took > 10 s", raw="plt.show()")
        for i in range(n)
    ]


@pytest.fixture()
def two_rounds(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    r1 = make_problems(1, 5)
    with ShardWriter(data, 1, config={"evolve": {"rounds": 2}}, knowledge_version="kv1") as w:
        w.commit_part(r1[:3], make_rejections(1, 2))
        w.commit_part(r1[3:], summary={"accepted": 999, "seconds": {"render": 1.5}, "families": ["a"]}, final=True)
    with ShardWriter(data, 2, knowledge_version={"hash": "kv2", "concepts": 3}) as w:
        w.commit_part(make_problems(2, 3, parent=r1[0].id), make_rejections(2, 1), final=True)
    knowledge = {
        "concepts": [{"id": "geometry.triangle_area", "name": "Triangle area", "domain": "geometry", "level": 2}],
        "tools": [{"id": "tool.auxiliary_line", "name": "Auxiliary line", "kind": "construct", "added_round": 1}],
    }
    (data / "knowledge.json").write_text(json.dumps(knowledge))
    return data


def test_two_rounds_are_committed_and_read_back(two_rounds: Path):
    assert committed_rounds(two_rounds) == [1, 2]
    assert read_round(two_rounds, 1) == make_problems(1, 5)
    assert len(committed_ids(two_rounds)) == 8
    assert len(read_rejections(two_rounds, 1)) == 2
    assert all(p.parent_id == make_problems(1, 1)[0].id for p in read_round(two_rounds, 2))
    [m] = load_manifests(two_rounds, 2)
    assert m.code_version["package"] and m.schema_version == SCHEMA_VERSION and len(m.files) == 2
    assert all(len(f.sha256) == 64 and f.bytes > 0 for f in m.files)
    meta = pq.ParquetFile(committed_paths(two_rounds)[0]).metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"


def test_views_answer_sql(two_rounds: Path):
    rows = json.loads(query(two_rounds, "SELECT round, count(*) n FROM problems GROUP BY round ORDER BY round", "json"))
    assert rows == [{"round": 1, "n": 5}, {"round": 2, "n": 3}]
    con = connect(two_rounds)
    try:
        concepts, difficulty, kind = con.execute(
            "SELECT concepts, difficulty, typeof(difficulty) FROM problems WHERE question LIKE 'R1 #1:%'"
        ).fetchall()[0]
        assert concepts == ["geometry.triangle_area", "c1"] and difficulty == 2.0 and kind == "DOUBLE"
        assert con.execute("SELECT count(*) FROM problems WHERE list_contains(concepts, 'c0')").fetchall() == [(5,)]
        png = con.execute("SELECT image FROM problems ORDER BY id LIMIT 1").fetchall()[0][0]
        img = Image.open(io.BytesIO(png))
        assert (img.format, img.size) == ("PNG", (32, 24))
        cols = {r[0] for r in con.execute("DESCRIBE problems").fetchall()}
        assert {"id", "parent_id", "operator", "domain", "answer", "render_code", "answer_code", "cost"} <= cols
        assert con.execute("SELECT count(*), min(reason) FROM rejections").fetchall() == [(3, "render_timeout")]
    finally:
        con.close()


def test_rounds_and_concepts_views(two_rounds: Path):
    rounds = json.loads(query(two_rounds, "SELECT * FROM rounds ORDER BY round", "json"))
    assert [(r["round"], r["accepted"], r["rejected"], r["parts"], r["final"]) for r in rounds] == [
        (1, 5, 2, 2, True),
        (2, 3, 1, 1, True),
    ]
    assert rounds[0]["files"] == 3 and rounds[0]["committed_at"] >= rounds[0]["started_at"]
    # summary flattened: nested dicts -> outer_inner, a clash with a fixed column gets a summary_ prefix
    assert rounds[0]["seconds_render"] == 1.5 and rounds[0]["summary_accepted"] == 999
    assert rounds[0]["families"] == ["a"] and rounds[1]["seconds_render"] is None
    assert [r["knowledge_version"] for r in rounds] == ["kv1", "kv2"]
    assert json.loads(rounds[0]["config"]) == {"evolve": {"rounds": 2}}
    concepts = json.loads(query(two_rounds, "SELECT id, kind, level, added_round, tool_kind FROM concepts", "json"))
    assert concepts == [
        {"id": "geometry.triangle_area", "kind": "concept", "level": 2, "added_round": None, "tool_kind": None},
        {"id": "tool.auxiliary_line", "kind": "tool", "level": None, "added_round": 1, "tool_kind": "construct"},
    ]


def test_output_formats(two_rounds: Path):
    sql = "SELECT id, concepts, image, difficulty FROM problems ORDER BY id LIMIT 2"
    rows = json.loads(query(two_rounds, sql, "json"))
    sizes = {p.id: len(p.image) for r in (1, 2) for p in read_round(two_rounds, r)}
    assert [r["image"] for r in rows] == [{"png_bytes": sizes[r["id"]]} for r in rows]
    assert isinstance(rows[0]["concepts"], list) and isinstance(rows[0]["difficulty"], float)
    table = list(csv.reader(io.StringIO(query(two_rounds, sql, "csv"))))
    assert table[0] == ["id", "concepts", "image", "difficulty"] and len(table) == 3
    assert json.loads(table[1][1]) == rows[0]["concepts"] and json.loads(table[1][2]) == rows[0]["image"]
    text = query(two_rounds, sql)
    assert "(2 rows)" in text and rows[0]["id"] in text and "png_bytes" in text
    with pytest.raises(ValueError, match="format"):
        query(two_rounds, sql, "xml")


def test_empty_data_dir_has_typed_empty_views(tmp_path: Path):
    data = tmp_path / "nothing"
    assert committed_ids(data) == set() and committed_rounds(data) == [] and read_round(data, 1) == []
    con = connect(data)
    try:
        for view in ("problems", "rejections", "rounds", "concepts"):
            assert con.execute(f"SELECT count(*) FROM {view}").fetchall() == [(0,)]
        types = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE problems)").fetchall())
        assert types["concepts"] == "VARCHAR[]" and types["image"] == "BLOB" and types["difficulty"] == "DOUBLE"
        assert {"level", "added_round"} <= {r[0] for r in con.execute("DESCRIBE concepts").fetchall()}
        empty = {v: con.execute(f"DESCRIBE {v}").fetchall() for v in ("problems", "rejections")}
    finally:
        con.close()
    # The empty views have exactly the columns and types the views over real shards have.
    with ShardWriter(data, 1) as w:
        w.commit_part(make_problems(1, 1), make_rejections(1, 1))
    con = connect(data)
    try:
        assert {v: con.execute(f"DESCRIBE {v}").fetchall() for v in ("problems", "rejections")} == empty
    finally:
        con.close()


def test_committing_the_same_part_twice_does_not_duplicate(tmp_path: Path):
    data = tmp_path / "d"
    part, rejections = make_problems(1, 4), make_rejections(1, 2)
    with ShardWriter(data, 1) as w:
        assert w.commit_part(part, rejections).accepted == 4
        assert w.commit_part(part, rejections) is None  # nothing new: no empty part
    with ShardWriter(data, 1) as w:  # a resumed round, new process in real life
        assert set(w.committed) == {p.id for p in part}
        m = w.commit_part(part + make_problems(1, 1, start=4) + part[:1], rejections)
        assert (m.accepted, m.rejected, m.skipped) == (1, 0, 7)
    assert json.loads(query(data, "SELECT count(*) n, count(DISTINCT id) d FROM problems", "json")) == [
        {"n": 5, "d": 5}
    ]
    assert len(read_rejections(data, 1)) == 2


def test_writer_checks_invariants(tmp_path: Path):
    p = make_problems(1, 1)[0]
    with ShardWriter(tmp_path, 1) as w:
        with pytest.raises(ValueError, match="content hash"):
            w.commit_part([Problem(question="no id", round=1)])
        with pytest.raises(ValueError, match="round"):
            w.commit_part(make_problems(2, 1))
        with pytest.raises(ValueError, match="content hash"):
            w.commit_part([replace(p, question="edited without with_id()")])
    assert committed_ids(tmp_path) == set()


def test_large_parts_roll_files_and_row_groups(tmp_path: Path):
    problems = make_problems(1, 40)
    with ShardWriter(tmp_path, 1, file_bytes=20_000, row_group_bytes=4_000) as w:
        m = w.commit_part(problems)
    assert len(m.files) > 1 and sum(f.rows for f in m.files) == 40
    assert pq.ParquetFile(tmp_path / m.files[0].path).metadata.num_row_groups > 1
    assert read_round(tmp_path, 1) == problems and fsck(tmp_path).ok


def test_a_live_writer_is_not_cleaned_up_by_another(tmp_path: Path):
    with ShardWriter(tmp_path, 1) as first:
        with ShardWriter(tmp_path, 2) as second:
            assert (tmp_path / STAGING / first.token).is_dir()
            second.commit_part(make_problems(2, 1))
        first.commit_part(make_problems(1, 2))
    assert committed_rounds(tmp_path) == [1, 2]
    assert sorted(p.name for p in (tmp_path / STAGING).iterdir()) == [".mutex"]


# ------------------------------------------------------------------------------------------------------------
# Crashes: a real writer process, SIGKILLed while a part is half written
# ------------------------------------------------------------------------------------------------------------

CHILD = """
import sys, time
sys.path[:0] = [sys.argv[2], sys.argv[3]]
from test_storage import make_problems
from storage.shards import ShardWriter

def pause(event, path):
    if event == sys.argv[4]:
        print("PAUSED", path, flush=True)
        time.sleep(600)

w = ShardWriter(sys.argv[1], 1, file_bytes=8_000, hook=pause)
w.commit_part(make_problems(1, 30, start=3))
print("COMMITTED", flush=True)
"""


@pytest.mark.parametrize("event", ["staged", "placed"])
def test_writer_killed_mid_part_leaves_nothing_visible(tmp_path: Path, event: str):
    data = tmp_path / "data"
    first = make_problems(1, 3)
    with ShardWriter(data, 1) as w:
        w.commit_part(first)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-c", CHILD, str(data), str(ROOT), str(ROOT / "tests"), event]
    child = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = child.stdout.readline()
        assert line.startswith("PAUSED"), child.stderr.read()
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        child.stdout.close()
        child.stderr.close()
    if event == "placed":  # a file really sits in the round folder, but no manifest lists it
        assert len(list((data / "problems" / "round-0001").iterdir())) == 2
    assert committed_ids(data) == {p.id for p in first}
    assert json.loads(query(data, "SELECT count(*) n FROM problems", "json")) == [{"n": 3}]
    assert read_round(data, 1) == first
    report = fsck(data)
    assert report.ok and report.orphans  # the dead writer's leftovers are seen, and harmless
    # The next writer removes them, then redoes the part: every row exactly once.
    with ShardWriter(data, 1) as w:
        assert not fsck(data).orphans
        w.commit_part(make_problems(1, 30, start=3))
    assert committed_ids(data) == {p.id for p in make_problems(1, 33)}
    assert len(list((data / "problems" / "round-0001").iterdir())) == len(committed_paths(data))
    assert sorted(p.name for p in (data / STAGING).iterdir()) == [".mutex"]


# ------------------------------------------------------------------------------------------------------------
# Corruption: fsck names the file; queries raise CorruptShardError, never a DuckDB traceback
# ------------------------------------------------------------------------------------------------------------


def _flip(path: Path, at: int, n: int = 16) -> None:
    raw = bytearray(path.read_bytes())
    for i in range(at, at + n):
        raw[i] ^= 0xFF
    path.write_bytes(bytes(raw))


def test_fsck_passes_on_good_data(two_rounds: Path):
    report = fsck(two_rounds)
    assert report.ok and not report.issues and not report.orphans
    assert (report.files_checked, report.rows_checked) == (5, 11)
    assert report.describe().startswith("ok")


@pytest.mark.parametrize(
    ("damage", "kind"),
    [
        (lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]), "size"),
        (lambda p: _flip(p, p.stat().st_size // 2), "checksum"),
        (lambda p: p.unlink(), "missing"),
    ],
    ids=["truncated", "flipped", "missing"],
)
def test_fsck_names_the_damaged_file(two_rounds: Path, damage, kind: str):
    victim = committed_paths(two_rounds, "problems", 2)[0]
    damage(victim)
    report = fsck(two_rounds)
    assert not report.ok
    assert [(i.path, i.kind) for i in report.issues] == [(str(victim), kind)]
    assert str(victim) in report.describe()


def test_query_on_a_truncated_shard_raises_corrupt_shard_error(two_rounds: Path):
    victim = committed_paths(two_rounds, "problems", 1)[1]
    victim.write_bytes(victim.read_bytes()[:-40])
    with pytest.raises(CorruptShardError, match=str(victim)) as caught:
        query(two_rounds, "SELECT count(*) FROM problems")
    assert "size" in caught.value.problem and caught.value.path == str(victim)
    with pytest.raises(CorruptShardError, match=str(victim)):
        read_round(two_rounds, 1)


def test_query_on_a_shard_with_a_broken_footer_raises_corrupt_shard_error(two_rounds: Path):
    victim = committed_paths(two_rounds, "problems", 2)[0]
    _flip(victim, victim.stat().st_size - 60, 40)  # same size: only the checksum can tell
    with pytest.raises(CorruptShardError, match=str(victim)) as caught:
        query(two_rounds, "SELECT * FROM problems", "json")
    assert "sha256" in caught.value.problem
    with pytest.raises(CorruptShardError, match=str(victim)):
        connect(two_rounds, verify=True)


def test_a_broken_manifest_is_named(two_rounds: Path):
    bad = sorted((two_rounds / "_manifests").glob("*/part-*.json"))[0]
    bad.write_text(bad.read_text()[:50])
    with pytest.raises(CorruptShardError, match=str(bad)):
        query(two_rounds, "SELECT count(*) FROM problems")
    report = fsck(two_rounds)
    assert not report.ok and [i.kind for i in report.issues] == ["manifest"] and report.issues[0].path == str(bad)


def test_sql_errors_are_not_blamed_on_files(two_rounds: Path):
    with pytest.raises(duckdb.Error) as caught:
        query(two_rounds, "SELECT no_such_column FROM problems")
    assert not isinstance(caught.value, CorruptShardError)
