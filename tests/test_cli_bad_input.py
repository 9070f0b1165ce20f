"""Bad input on every command: one `Error: ...` line on stderr, a non-zero exit, no traceback (unless -v), and
nothing committed lost (fsck clean, earlier rows intact).

The sweep table below runs in-process through CliRunner; a second evolve on a locked folder, Ctrl-C during a
round and a full disk go through the real command in a subprocess (or the real writer on a tiny tmpfs).
Run: pytest tests/test_cli_bad_input.py (about a minute; resuming after Ctrl-C and evolve on a full disk are
`slow`: add -m slow).
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from PIL import Image
from test_storage import make_problems

from flywheel.cli import main
from flywheel.records import make_problem
from storage.catalog import query
from storage.fsck import fsck
from storage.manifest import STAGING
from storage.readers import committed_ids
from storage.shards import ShardWriter, StorageFullError
from storage.staging import LOCK, data_lock

SMALL = """
[evolve]
problems_per_round = 14
part_size = 6
[ray]
batch_size = 4
render_actors = 1
verify_actors = 1
"""

CONFIGS = {
    "syntax.toml": "[evolve\nrounds = 1\n",
    "unknown_key.toml": "[evolve]\nroundz = 1\n",
    "unknown_section.toml": "[evolv]\nrounds = 1\n",
    "wrong_type.toml": "[evolve]\nrounds = \"two\"\n",
    "not_a_table.toml": "evolve = 3\n",
    "out_of_range.toml": "[evolve]\nlevels_per_request = 9\n",
    "train_wrong_type.toml": "[train]\nsteps = \"many\"\n",
    "train_unknown.toml": "[train]\nlearning_rate = 0.1\n",
    "train_bad_sql.toml": "[train]\nsql = \"SELEC nope\"\n",
}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, str]:
    """Folders and files every case points at: committed data, an empty folder, other tools' folders, a file."""
    w = tmp_path_factory.mktemp("bad")
    with ShardWriter(w / "committed", 1) as writer:
        writer.commit_part(make_problems(1, 4))
        writer.commit_part(make_problems(1, 4, start=4), final=True)
    (w / "empty").mkdir()
    (w / "foreign").mkdir()
    (w / "foreign" / "notes.txt").write_text("not ours\n")
    (w / "foreign" / "blob.bin").write_bytes(os.urandom(64))
    (w / "gitrepo" / ".git").mkdir(parents=True)
    (w / "gitrepo" / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (w / "parquet").mkdir()
    pq.write_table(pa.table({"x": [1, 2, 3]}), w / "parquet" / "other.parquet")
    (w / "afile").write_text("a regular file\n")
    (w / "notsqlite").write_bytes(b"SQLite format 2? no" + os.urandom(200))
    (w / "ok.py").write_text("print('hi')\n")
    for name, text in CONFIGS.items():
        (w / name).write_text(text)
    (w / "small.toml").write_text(SMALL)
    ids = sorted(committed_ids(w / "committed"))
    return {"w": str(w), "id": ids[0]}


IN_THE_WAY = "a file stands where a folder is needed"
# (name, argv with {w} = the world folder and {id} = a committed id, exit code, text the Error line holds)
SWEEP = [
    ("query/missing data", "query 'SELECT 1' --data {w}/absent", 1, "no data dir"),
    ("query/random files", "query 'SELECT 1' --data {w}/foreign", 1, "not a flywheel data folder"),
    ("query/git repo", "query 'SELECT 1' --data {w}/gitrepo", 1, "it holds .git"),
    ("query/other parquet", "query 'SELECT 1' --data {w}/parquet", 1, "other.parquet"),
    ("query/sql syntax", "query 'SELEC id' --data {w}/committed", 1, "syntax error"),
    ("query/unknown table", "query 'SELECT * FROM nope' --data {w}/committed", 1, "nope"),
    ("query/bad cast", "query \"SELECT 1/'a'\" --data {w}/committed", 1, "Conversion Error"),
    ("show/unknown id", "show zzzz --data {w}/committed --out {w}/x.png", 1, "no committed problem"),
    ("show/empty data", "show abc --data {w}/empty", 1, "no committed problem"),
    ("show/random files", "show abc --data {w}/foreign", 1, "not a flywheel data folder"),
    ("show/out under a file", "show {id} --data {w}/committed --out {w}/afile/x.png", 1, IN_THE_WAY),
    ("fsck/missing data", "fsck --data {w}/absent", 1, "no data dir"),
    ("fsck/git repo", "fsck --data {w}/gitrepo", 1, "not a flywheel data folder"),
    ("report/other parquet", "report --data {w}/parquet --out {w}/r", 1, "not a flywheel data folder"),
    ("report/out under a file", "report --data {w}/empty --out {w}/afile/r", 1, IN_THE_WAY),
    ("sandbox run/out under a file", "sandbox run {w}/ok.py --out {w}/afile/o", 1, IN_THE_WAY),
    ("tiny-model/out under a file", "tiny-model {w}/afile/m", 1, IN_THE_WAY),
    ("evolve/data under a file", "evolve --data {w}/afile/d", 1, "is a file"),
    ("evolve/random files", "evolve --data {w}/foreign", 1, "not a flywheel data folder"),
    ("evolve/git repo", "evolve --data {w}/gitrepo", 1, "not a flywheel data folder"),
    ("evolve/other parquet", "evolve --data {w}/parquet", 1, "not a flywheel data folder"),
    ("evolve/existing without --resume", "evolve --data {w}/committed", 1, "--resume"),
    ("evolve/toml syntax", "evolve --data {w}/new --config {w}/syntax.toml", 1, "not valid TOML"),
    ("evolve/unknown key", "evolve --data {w}/new --config {w}/unknown_key.toml", 1, "unknown key(s) roundz"),
    ("evolve/unknown section", "evolve --data {w}/new --config {w}/unknown_section.toml", 1, "section(s) evolv"),
    ("evolve/wrong type", "evolve --data {w}/new --config {w}/wrong_type.toml", 1, "rounds must be int"),
    ("evolve/section not a table", "evolve --data {w}/new --config {w}/not_a_table.toml", 1, "must be a table"),
    ("evolve/out of range", "evolve --data {w}/new --config {w}/out_of_range.toml", 1, "levels_per_request"),
    ("models check/toml syntax", "models check --config {w}/syntax.toml", 1, "not valid TOML"),
    ("models check/wrong type", "models check --config {w}/wrong_type.toml", 1, "rounds must be int"),
    ("cache stats/not a cache", "cache stats --path {w}/notsqlite", 1, "not a usable request cache"),
    ("cache prune/not a cache", "cache prune --all --path {w}/notsqlite", 1, "not a usable request cache"),
    ("train/random files", "train --stage sft --data {w}/foreign --model m --out {w}/t", 1, "not a flywheel"),
    ("train/toml syntax", "train --stage sft --data {w}/committed --model m --out {w}/t --no-ray "
     "--config {w}/syntax.toml", 1, "not valid TOML"),
    ("train/wrong type", "train --stage sft --data {w}/committed --model m --out {w}/t --no-ray "
     "--config {w}/train_wrong_type.toml", 1, "steps must be int"),
    ("train/unknown key", "train --stage sft --data {w}/committed --model m --out {w}/t --no-ray "
     "--config {w}/train_unknown.toml", 1, "learning_rate"),
    ("train/sql error", "train --stage sft --data {w}/committed --model m --out {w}/t --no-ray "
     "--config {w}/train_bad_sql.toml", 1, "syntax error"),
]


def assert_one_error_line(res, code: int, needle: str) -> None:
    assert res.exit_code == code, (res.exit_code, res.output, res.exception)
    assert isinstance(res.exception, SystemExit), res.exception  # handled, not a crash
    assert "Traceback" not in res.output
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("Error: ")]
    assert len(errors) == 1, res.stderr
    assert needle in errors[0], errors[0]


@pytest.mark.parametrize(("argv", "code", "needle"), [c[1:] for c in SWEEP], ids=[c[0] for c in SWEEP])
def test_sweep(world, argv, code, needle):
    import shlex

    res = CliRunner().invoke(main, shlex.split(argv.format(**world)))
    assert_one_error_line(res, code, needle)


def test_the_sweep_lost_nothing_committed(world):
    data = Path(world["w"], "committed")
    report = fsck(data)
    assert report.ok and report.files_checked == 2, report.describe()
    assert len(committed_ids(data)) == 8
    for name in ("foreign", "gitrepo", "parquet"):  # other tools' folders were not written into
        assert not Path(world["w"], name, ".lock").exists() and not Path(world["w"], name, STAGING).exists()


def test_a_bug_is_one_line_and_its_traceback_only_with_v(world, monkeypatch):
    import storage.fsck

    def boom(data):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(storage.fsck, "fsck", boom)
    args = ["fsck", "--data", f"{world['w']}/committed"]
    res = CliRunner().invoke(main, args)
    assert_one_error_line(res, 1, "RuntimeError: boom second line (run with -v for the traceback)")
    res = CliRunner().invoke(main, ["-v", *args])
    assert isinstance(res.exception, RuntimeError)  # not swallowed: click's runner holds the traceback


def test_ctrl_c_in_any_command_is_exit_130(world, monkeypatch):
    import storage.fsck

    def interrupted(data):
        raise KeyboardInterrupt

    monkeypatch.setattr(storage.fsck, "fsck", interrupted)
    res = CliRunner().invoke(main, ["fsck", "--data", f"{world['w']}/committed"])
    assert_one_error_line(res, 130, "interrupted")


def _cli(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "flywheel.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "RAY_DEDUP_LOGS": "0"}, **kw)


def _one_error_line(err: str, needle: str) -> None:
    assert "Traceback" not in err, err[-3000:]
    errors = [ln for ln in err.splitlines() if ln.startswith("Error: ")]
    assert len(errors) == 1 and needle in errors[0], err[-3000:]


def test_a_second_evolve_on_a_locked_folder_is_refused(world):
    data = Path(world["w"], "committed")
    with data_lock(data, "test holder"):
        proc = _cli("evolve", "--data", str(data), "--resume", "--rounds", "1", "--config", f"{world['w']}/small.toml")
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1 and out == ""
    _one_error_line(err, f"in use by pid {os.getpid()} (test holder)")
    assert fsck(data).ok and len(committed_ids(data)) == 8


def _interrupt_round_1(data: Path, cfg: str) -> set[str]:
    """Start `evolve`, SIGINT its whole process group (what a terminal's Ctrl-C does) once round 1 committed a
    part; check the one line and exit 130; return the ids committed by then."""
    proc = _cli("evolve", "--data", str(data), "--rounds", "1", "--seed", "7", "--config", cfg,
                start_new_session=True)
    deadline = time.time() + 300
    while not list(data.glob("_manifests/*/*.json")) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    assert proc.poll() is None, "the run ended before its first commit"
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("the round finished before SIGINT arrived")
    assert proc.returncode == 130
    _one_error_line(err, "interrupted; what was committed is kept: continue with --resume")
    before = committed_ids(data)
    assert fsck(data).ok and before
    with data_lock(data, "test"):  # the run let go of its lock
        pass
    return before


def test_ctrl_c_during_a_round_keeps_what_was_committed(world, tmp_path):
    _interrupt_round_1(tmp_path / "d", f"{world['w']}/small.toml")


@pytest.mark.slow
def test_ctrl_c_during_a_round_then_resume_finishes_it(world, tmp_path):
    data, cfg = tmp_path / "d", f"{world['w']}/small.toml"
    before = _interrupt_round_1(data, cfg)
    proc = _cli("evolve", "--data", str(data), "--rounds", "1", "--seed", "7", "--config", cfg, "--resume")
    _, err = proc.communicate(timeout=400)
    assert proc.returncode == 0, err[-3000:]
    assert fsck(data).ok and before <= committed_ids(data)


def _noise_problems(round_: int, n: int) -> list:
    """Problems with incompressible 300x300 images (about 270 kB each): a few fill a 2 MB disk."""
    out = []
    for p in make_problems(round_, n, start=100):
        buf = io.BytesIO()
        Image.frombytes("RGB", (300, 300), os.urandom(300 * 300 * 3)).save(buf, "PNG")
        fields = {k: getattr(p, k) for k in ("round", "parent_id", "operator", "family", "concepts", "tools",
                                               "domain", "difficulty", "question", "answer", "render_code",
                                               "answer_code", "check_code", "width", "height", "solution",
                                               "elements", "verdicts", "seed", "created_at")}
        out.append(make_problem(**fields, image=buf.getvalue(), edited_image=None))
    return out


@pytest.fixture
def tiny_disk(tmp_path):
    """A 2 MB tmpfs (root only); grown with `remount` by the test."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {res.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_full_disk_during_a_commit_commits_nothing_of_that_part(tiny_disk):
    data = tiny_disk / "data"
    with ShardWriter(data, 1) as writer:
        writer.commit_part(make_problems(1, 4))
        with pytest.raises(StorageFullError, match="no space left on device while committing round 1"):
            writer.commit_part(_noise_problems(1, 12))
        staging = data / STAGING / writer.token
        assert [p.name for p in staging.iterdir()] == [LOCK]  # staged files removed
        listed = set(map(str, Path(data).glob("problems/round-*/*.parquet")))
        assert len(listed) == 1  # only the first part's file: nothing placed and left behind
        assert fsck(data).ok and len(committed_ids(data)) == 4
    subprocess.run(["mount", "-o", "remount,size=64m", str(tiny_disk)], check=True)
    with ShardWriter(data, 1) as writer:  # a later run with space commits the part
        writer.commit_part(_noise_problems(1, 12), final=True)
    assert fsck(data).ok and len(committed_ids(data)) == 16


@pytest.mark.slow
def test_evolve_on_a_full_disk_stops_with_one_line_and_resumes(world, tiny_disk):
    data, cfg = tiny_disk / "data", f"{world['w']}/small.toml"
    subprocess.run(["mount", "-o", "remount,size=600k", str(tiny_disk)], check=True)
    proc = _cli("evolve", "--data", str(data), "--rounds", "1", "--seed", "7", "--config", cfg)
    _, err = proc.communicate(timeout=400)
    assert proc.returncode == 1, err[-3000:]
    _one_error_line(err, "o space left on device")
    before = committed_ids(data)
    assert fsck(data).ok
    subprocess.run(["mount", "-o", "remount,size=64m", str(tiny_disk)], check=True)
    proc = _cli("evolve", "--data", str(data), "--rounds", "1", "--seed", "7", "--config", cfg, "--resume")
    _, err = proc.communicate(timeout=400)
    assert proc.returncode == 0, err[-3000:]
    assert fsck(data).ok and before <= committed_ids(data)
    rounds = json.loads(query(data, "SELECT round, final FROM rounds", "json"))
    assert rounds and all(r["final"] for r in rounds)
