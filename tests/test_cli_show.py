"""`flywheel show`: a PNG sheet of one committed problem, found by id or unique prefix.

The sheet must carry both images pixel for pixel (the test looks for their solid fills), decode with PIL and
be bigger than the figure; unknown, ambiguous and rejected ids fail with one clear line.
"""

from __future__ import annotations

import io
import shutil
from dataclasses import replace

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from test_cli_query import GREEN, MAGENTA, H, W, assert_clean_error, build_dataset, draw_png

from flywheel.cli import main
from flywheel.records import Problem, SolutionStep, Verdict
from flywheel.show import find_problem, make_sheet
from storage.shards import committed_paths


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    data = tmp_path_factory.mktemp("show") / "data"
    return data, build_dataset(data)


def run(*args: str):
    return CliRunner().invoke(main, ["show", *args])


def colour_pixels(img: Image.Image, rgb: tuple[int, int, int]) -> int:
    return int(np.all(np.asarray(img.convert("RGB")) == rgb, axis=-1).sum())


def unique_prefix(ids: list[str], target: str) -> str:
    """The shortest prefix of `target` that no other id shares."""
    for n in range(1, len(target) + 1):
        if sum(i.startswith(target[:n]) for i in ids) == 1:
            return target[:n]
    raise AssertionError("ids are not unique")


def test_prefix_writes_a_sheet_with_both_images(dataset, tmp_path):
    data, records = dataset
    ids = [p.id for p in records["problems"]]
    target = records["problems"][3]
    out = tmp_path / "sheets" / "one.png"
    res = run(unique_prefix(ids, target.id), "--data", str(data), "--out", str(out))
    assert res.exit_code == 0, res.output
    assert str(out) in res.stdout
    sheet = Image.open(out)
    sheet.load()
    assert sheet.format == "PNG" and sheet.width > W and sheet.height > H
    source = Image.open(io.BytesIO(target.image))
    edited = Image.open(io.BytesIO(target.edited_image))
    # Both figures are placed 1:1, so each solid fill shows up with exactly as many pixels as in its source:
    # the rendered and the edited image both carry the magenta triangle, only the edited one the green box.
    assert colour_pixels(sheet, MAGENTA) == colour_pixels(source, MAGENTA) + colour_pixels(edited, MAGENTA)
    assert colour_pixels(sheet, GREEN) == colour_pixels(edited, GREEN) > 0


def test_full_id_and_default_out_name(dataset, tmp_path, monkeypatch):
    data, records = dataset
    target = records["problems"][-1]
    monkeypatch.chdir(tmp_path)
    res = run(target.id, "--data", str(data))
    assert res.exit_code == 0, res.output
    assert Image.open(tmp_path / f"{target.id}.png").size[0] > W


def test_find_problem_returns_the_committed_record(dataset):
    data, records = dataset
    target = records["problems"][7]
    found = find_problem(data, target.id[:12].upper())  # case does not matter
    assert replace(found, created_at=target.created_at) == target


def test_unknown_ambiguous_and_rejected_ids(dataset, tmp_path):
    data, records = dataset
    ids = sorted(p.id for p in records["problems"])
    # 20 ids over 16 hex digits: some first digit is shared (pigeonhole), so a one-digit prefix is ambiguous.
    shared = next(a[0] for a, b in zip(ids, ids[1:], strict=False) if a[0] == b[0])
    res = run(shared, "--data", str(data), "--out", str(tmp_path / "x.png"))
    assert_clean_error(res, "ambiguous", *[i for i in ids if i.startswith(shared)][:2])
    res = run("zzzz", "--data", str(data), "--out", str(tmp_path / "x.png"))
    assert_clean_error(res, "no committed problem", "zzzz")
    rejected = records["rejections"][0]
    res = run(rejected.id, "--data", str(data), "--out", str(tmp_path / "x.png"))
    assert_clean_error(res, "rejected", rejected.reason)
    assert not (tmp_path / "x.png").exists()


def test_corrupt_shard_and_missing_dir(dataset, tmp_path):
    data, records = dataset
    copy = tmp_path / "copy"
    shutil.copytree(data, copy)
    victim = committed_paths(copy, "problems", 1)[0]
    victim.write_bytes(victim.read_bytes()[:-100])
    res = run(records["problems"][0].id, "--data", str(copy), "--out", str(tmp_path / "x.png"))
    assert_clean_error(res, str(victim))
    res = run("abc", "--data", str(tmp_path / "absent"))
    assert_clean_error(res, "no data dir")


def test_sheet_survives_odd_problems():
    """Nothing to show, text that looks like mathtext, an unreadable image, a tiny image: still a sheet."""
    bare = Problem(id="0" * 16, question="Cost is $5 and $x^2$ {braces} \\frac", answer="$5")
    odd = replace(bare, image=b"not a png", edited_image=draw_png(40, 30),
                  solution=(SolutionStep("code", "x" * 3000, "\n".join(f"ax.plot({i})" for i in range(50))),),
                  verdicts=(Verdict("executed", False, 0.0, "answer_mismatch " * 40),), question="word " * 800)
    for p in (bare, odd):
        sheet = Image.open(io.BytesIO(make_sheet(p)))
        sheet.load()
        assert sheet.format == "PNG" and sheet.width >= 1000
    tiny = Image.open(io.BytesIO(make_sheet(replace(bare, image=draw_png(40, 30)))))
    assert colour_pixels(tiny, MAGENTA) > 4 * colour_pixels(Image.open(io.BytesIO(draw_png(40, 30))), MAGENTA)


def test_text_stays_inside_its_column():
    """Wrapping measures glyphs as Agg draws them: no line may run into the gutter or off the sheet."""
    from flywheel.records import NamedElement
    from flywheel.show import COL_MIN, GAP, MARGIN

    words = "Measure WWW mmm the angle ∠ABC = 40°, then the chord's length; " * 12
    p = Problem(id="f" * 16, question=words, answer="x" * 300, image=draw_png(), edited_image=draw_png(edit=True),
                elements=tuple(NamedElement(f"Wide label {i}", "vertex", 100 * i, 9) for i in range(12)),
                solution=(SolutionStep("code", words, "ax.plot(" + "W" * 300 + ")"),),
                verdicts=(Verdict("crosscheck", False, 0.5, words),))
    ink = np.asarray(Image.open(io.BytesIO(make_sheet(p))).convert("L")) < 250
    assert ink.shape[1] == 2 * MARGIN + 2 * COL_MIN + GAP  # a 320 px image: columns at their minimum width
    rules = np.nonzero(ink[:, MARGIN:-MARGIN].mean(axis=1) > 0.9)[0]  # the full-width section rules
    assert 2 <= len(rules) <= 6  # two rules, antialiased over up to three pixel rows each
    crossing = np.nonzero(ink[rules[0]:, MARGIN + COL_MIN + 1: MARGIN + COL_MIN + GAP - 2].any(axis=1))[0]
    assert set(crossing + rules[0]) <= set(rules), "text runs from the left column into the gutter"
    assert not ink[:, -MARGIN + 2:].any() and not ink[:, : MARGIN - 2].any()


def test_a_character_the_font_lacks_does_not_break_the_sheet():
    from flywheel.records import SolutionStep, make_problem
    from flywheel.show import make_sheet, text_px

    assert text_px("AB ⟂ CD", "body") > text_px("AB CD", "body")
    p = make_problem(question="Is AB ⟂ CD?", answer="yes", answer_kind="text",
                     solution=(SolutionStep("think", "Draw OM ⟂ AB; then AM = MB."),))
    assert make_sheet(p)[:8] == b"\x89PNG\r\n\x1a\n"
