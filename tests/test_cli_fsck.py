"""`flywheel fsck`: a readable report over real shards; exit 0 when clean, 1 naming each broken file."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner
from test_cli_query import assert_clean_error, build_dataset

from flywheel.cli import main
from storage.shards import committed_paths


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    data = tmp_path_factory.mktemp("fsck") / "data"
    return data, build_dataset(data, per_round=6)


@pytest.fixture()
def data(pristine, tmp_path):
    copy = tmp_path / "data"
    shutil.copytree(pristine[0], copy)
    return copy


def run(data):
    return CliRunner().invoke(main, ["fsck", "--data", str(data)])


def test_clean_dataset_exits_zero_with_counts(pristine):
    data, records = pristine
    res = run(data)
    assert res.exit_code == 0, res.output
    files = len(committed_paths(data, "problems")) + len(committed_paths(data, "rejections"))
    rows = len(records["problems"]) + len(records["rejections"])
    assert f"ok: {files} files, {rows} rows" in res.stdout
    assert "CORRUPT" not in res.stdout and res.stderr == ""


@pytest.mark.parametrize(
    ("damage", "kind"),
    [("flip", "checksum"), ("truncate", "size"), ("delete", "missing")],
)
def test_broken_file_is_named_and_exit_is_nonzero(data, damage, kind):
    victim = committed_paths(data, "rejections", 2)[-1]
    other = committed_paths(data, "problems", 1)[0]
    if damage == "flip":  # same size: only the sha256 can tell
        blob = bytearray(victim.read_bytes())
        blob[len(blob) // 2] ^= 0x55
        victim.write_bytes(bytes(blob))
    elif damage == "truncate":
        victim.write_bytes(victim.read_bytes()[:-1])
    else:
        victim.unlink()
    res = run(data)
    assert res.exit_code == 1, res.output
    assert "Traceback" not in res.output
    bad = [line for line in res.stdout.splitlines() if str(victim) in line]
    assert len(bad) == 1 and bad[0].strip().startswith(f"{kind}:"), res.stdout
    assert str(other) not in res.stdout  # only the broken file is reported
    assert res.stdout.startswith(f"fsck {data}\nCORRUPT: 1 issue") and "in 1 committed file" in res.stderr


def test_two_broken_files_are_both_reported(data):
    a, b = committed_paths(data, "problems", 1)[0], committed_paths(data, "problems", 2)[1]
    a.unlink()
    b.write_bytes(b.read_bytes()[:100])
    res = run(data)
    assert res.exit_code == 1
    assert str(a) in res.stdout and str(b) in res.stdout and "in 2 committed file" in res.stderr


def test_missing_and_empty_data_dir(tmp_path):
    assert_clean_error(run(tmp_path / "absent"), "no data dir")
    (tmp_path / "empty").mkdir()
    res = run(tmp_path / "empty")
    assert res.exit_code == 0 and "nothing committed yet" in res.stdout
