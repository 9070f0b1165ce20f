"""`flywheel query`: real shards (storage's writer, matplotlib PNGs) read through DuckDB in all three formats.

Also the failure contract: a corrupt shard, bad SQL and a missing data dir give one clear line on stderr and a
non-zero exit, never a traceback. `build_dataset` is shared with test_cli_show.py and test_cli_fsck.py.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import matplotlib
import pytest
from click.testing import CliRunner

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402

from flywheel.cli import main  # noqa: E402
from flywheel.records import NamedElement, Problem, Rejection, SolutionStep, Verdict, make_problem  # noqa: E402
from storage.shards import ShardWriter, committed_paths  # noqa: E402

W, H = 320, 240
MAGENTA, GREEN = (255, 0, 255), (0, 200, 0)  # fills the sheet test looks for, pixel-exact
LONG = "Triangle ABC is drawn to scale with its three vertices labelled. " * 3 + "What is its area?"


def draw_png(width: int = W, height: int = H, edit: bool = False) -> bytes:
    """A triangle figure in pixel space (top-left origin), as the families draw it; `edit` adds a median."""
    fig = Figure(figsize=(width / 100, height / 100), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.axis("off")
    pts = [(width * 0.125, height * 0.83), (width * 0.875, height * 0.83), (width * 0.375, height * 0.17)]
    ax.fill(*zip(*pts, strict=True), color=[c / 255 for c in MAGENTA], antialiased=False)
    for name, (x, y) in zip("ABC", pts, strict=True):
        ax.text(x, y + (18 if y > height / 2 else -12), name, ha="center", fontsize=14)
    if edit:
        box = (width * 0.47, height * 0.86), width * 0.19, height * 0.1
        ax.add_patch(matplotlib.patches.Rectangle(*box, color=[c / 255 for c in GREEN], antialiased=False))
        ax.plot([pts[2][0], width / 2], [pts[2][1], pts[0][1]], color="black", ls="--")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def make_problems(round_: int, n: int, image: bytes, edited: bytes) -> list[Problem]:
    return [
        make_problem(
            round=round_,
            parent_id=None if round_ == 1 else "0123456789abcdef",
            operator="seed" if round_ == 1 else "parallel",
            family="triangle_area" if i % 2 else "triangle_centers",
            concepts=("geometry.triangle_area", f"geometry.c{i % 3}"),
            tools=("tool.auxiliary_line",),
            domain="geometry",
            difficulty=1 + i % 4,
            question=(LONG if i == 0 else f"R{round_} #{i}: what is the area of triangle ABC?"),
            answer=str(100 + i),
            render_code=f"ax.fill([40, 280, 120], [200, 200, {40 + i}])",
            answer_code=f"print({100 + i})",
            check_code=f"print({100 + i}.0)",
            image=image,
            width=W,
            height=H,
            solution=(
                SolutionStep("think", "Drop the height from C onto AB; it splits the base."),
                SolutionStep("code", "Draw the median from C.",
                             "import matplotlib.pyplot as plt\nimg = plt.imread('image.png')\n"
                             "ax.plot([120, 160], [40, 200], color='black', ls='--')\n"),
                SolutionStep("think", f"Area = base × height / 2 = {100 + i}."),
            ),
            edited_image=edited,
            elements=(NamedElement("A", "vertex", 40, 200), NamedElement("B", "vertex", 280, 200),
                      NamedElement("C", "vertex", 120, 40)),
            verdicts=(Verdict("executed", True, 1.0, "ok"), Verdict("judge", None),
                      Verdict("image", i != 1, 0.4, "" if i != 1 else "labels overlap")),
            seed=i,
        )
        for i in range(n)
    ]


def build_dataset(data: Path, per_round: int = 10) -> dict[str, list]:
    """Two rounds of problems with real PNGs plus rejections, committed with storage's writer."""
    image, edited = draw_png(), draw_png(edit=True)
    out: dict[str, list] = {"problems": [], "rejections": []}
    for round_ in (1, 2):
        problems = make_problems(round_, per_round, image, edited)
        rejections = [Rejection(f"{round_}bad{i:013d}", round_, "verify", "answer_mismatch", "got 7, want 8",
                                family="triangle_area", raw="print(7)") for i in range(3)]
        with ShardWriter(data, round_) as w:
            w.commit_part(problems[: per_round // 2], rejections[:1])
            w.commit_part(problems[per_round // 2:], rejections[1:], summary={"accept_rate": 0.8}, final=True)
        out["problems"] += problems
        out["rejections"] += rejections
    concepts = [{"id": "geometry.triangle_area", "name": "triangle area", "kind": "concept",
                 "domain": "geometry", "level": 1}]
    (data / "knowledge.json").write_text(json.dumps(concepts))
    return out


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    data = tmp_path_factory.mktemp("pristine") / "data"
    return data, build_dataset(data)


@pytest.fixture()
def dataset(pristine, tmp_path):
    """A private copy, so a test may corrupt it."""
    src, records = pristine
    data = tmp_path / "data"
    shutil.copytree(src, data)
    return data, records


def run(*args: str):
    return CliRunner().invoke(main, ["query", *args])


def assert_clean_error(res, *needles: str) -> None:
    """Non-zero exit with one short message on stderr: no traceback, nothing half-printed on stdout."""
    assert res.exit_code != 0
    assert isinstance(res.exception, SystemExit), res.exception  # click's handled error, not a crash
    assert "Traceback" not in res.output
    assert res.stdout == ""
    for needle in needles:
        assert needle in res.stderr, res.stderr


def test_json_is_one_array_with_typed_columns(pristine):
    data, records = pristine
    sql = "SELECT id, round, concepts, difficulty, verdicts, image FROM problems ORDER BY round, id"
    res = run(sql, "--data", str(data), "--format", "json")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)  # the whole of stdout is one JSON document
    assert isinstance(rows, list) and len(rows) == len(records["problems"])
    assert list(rows[0]) == ["id", "round", "concepts", "difficulty", "verdicts", "image"]
    by_id = {p.id: p for p in records["problems"]}
    for row in rows:
        p = by_id[row["id"]]
        assert row["concepts"] == list(p.concepts)
        assert isinstance(row["difficulty"], float) and row["difficulty"] == p.difficulty
        assert row["round"] == p.round
        assert row["image"] == {"png_bytes": len(p.image)}
        assert [v["passed"] for v in row["verdicts"]] == [v.passed for v in p.verdicts]


def test_csv_has_a_header_and_one_row_per_result(pristine):
    data, records = pristine
    sql = "SELECT id, family, concepts, difficulty FROM problems WHERE round = 2 ORDER BY id"
    res = run(sql, "--data", str(data), "--format", "csv")
    assert res.exit_code == 0, res.output
    table = list(csv.reader(io.StringIO(res.stdout)))
    assert table[0] == ["id", "family", "concepts", "difficulty"]
    expected = sorted(p.id for p in records["problems"] if p.round == 2)
    assert [r[0] for r in table[1:]] == expected
    assert json.loads(table[1][2])[0] == "geometry.triangle_area"
    assert all(float(r[3]) in (1.0, 2.0, 3.0, 4.0) for r in table[1:])


def test_table_is_readable_and_shortens_long_text_and_bytes(pristine):
    data, records = pristine
    long_id = next(p.id for p in records["problems"] if p.question == LONG)
    res = run(f"SELECT id, question, image FROM problems WHERE id = '{long_id}'", "--data", str(data))
    assert res.exit_code == 0, res.output
    header, rule, row, count = res.stdout.splitlines()
    assert header.split(" | ")[0].strip() == "id" and set(rule) <= {"-", "+"}
    assert long_id in row and "…" in row and LONG not in row
    assert '{"png_bytes":' in row and count == "(1 row)"


def test_views_rejections_rounds_concepts(pristine):
    data, records = pristine
    sql = ("SELECT (SELECT count(*) FROM rejections) rej, (SELECT count(*) FROM rounds WHERE final) rounds, "
           "(SELECT sum(accepted) FROM rounds) acc, (SELECT count(*) FROM concepts) concepts, "
           "(SELECT count(*) FROM problems WHERE list_contains(concepts, 'geometry.c1')) c1")
    res = run(sql, "--data", str(data), "--format", "json")
    assert res.exit_code == 0, res.output
    expected_c1 = sum("geometry.c1" in p.concepts for p in records["problems"])
    assert json.loads(res.stdout) == [{"rej": len(records["rejections"]), "rounds": 2,
                                       "acc": len(records["problems"]), "concepts": 1, "c1": expected_c1}]


@pytest.mark.parametrize("damage", ["truncate", "flip_footer"])
def test_corrupt_shard_is_one_line_naming_the_file(dataset, damage):
    data, _ = dataset
    victim = committed_paths(data, "problems", 2)[0]
    blob = bytearray(victim.read_bytes())
    if damage == "truncate":
        blob = blob[: len(blob) // 2]
    else:  # same size, so only the sha256 or DuckDB's own decoding can tell: garble the Parquet footer
        for i in range(len(blob) - 40, len(blob) - 8):
            blob[i] ^= 0xFF
    victim.write_bytes(bytes(blob))
    for fmt in ("table", "json", "csv"):
        res = run("SELECT id, question FROM problems", "--data", str(data), "--format", fmt)
        assert_clean_error(res, str(victim))
        assert len(res.stderr.strip().splitlines()) == 1


def test_sql_error_is_a_clear_message(pristine):
    data, _ = pristine
    res = run("SELECT nope FROM problems", "--data", str(data), "--format", "json")
    assert_clean_error(res, "query failed", "nope")
    res = run("SELEKT 1", "--data", str(data))
    assert_clean_error(res, "query failed", "syntax error")


def test_missing_and_empty_data_dir(tmp_path):
    res = run("SELECT count(*) n FROM problems", "--data", str(tmp_path / "absent"))
    assert_clean_error(res, "no data dir", "absent")
    empty = tmp_path / "empty"
    empty.mkdir()
    res = run("SELECT id, concepts FROM problems", "--data", str(empty), "--format", "json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == [] and "nothing committed" in res.stderr


def test_verify_catches_a_flip_a_plain_query_may_not_see(dataset):
    data, _ = dataset
    victim = committed_paths(data, "problems", 1)[0]
    blob = bytearray(victim.read_bytes())
    blob[len(blob) // 2] ^= 0x01  # inside the PNG bytes: DuckDB decodes the page regardless
    victim.write_bytes(bytes(blob))
    res = run("SELECT count(*) n FROM problems", "--data", str(data), "--verify", "--format", "json")
    assert_clean_error(res, str(victim), "sha256")
