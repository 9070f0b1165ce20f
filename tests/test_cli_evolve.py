"""`flywheel evolve` end to end on the embedded default: real Ray, sandbox, Parquet and DuckDB.

Runs go through the real command in a subprocess, so a kill -9 is a real kill -9 of the driver.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from storage.catalog import query
from storage.manifest import load_manifests

SMALL = """
[evolve]
problems_per_round = {n}
part_size = 6
[ray]
batch_size = 4
render_actors = 1
verify_actors = 1
"""


def _config(tmp_path: Path, n: int = 14) -> str:
    path = tmp_path / "small.toml"
    path.write_text(SMALL.format(n=n))
    return str(path)


def _evolve(data: Path, cfg: str, *extra: str, rounds: int = 2, env: dict | None = None) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "flywheel.cli", "evolve", "--rounds", str(rounds), "--data", str(data),
           "--seed", "7", "--config", cfg, *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env or {**os.environ, "RAY_DEDUP_LOGS": "0"})


def _finish(proc: subprocess.Popen, timeout: int = 400) -> str:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    return out


def _ids(data: Path) -> set[str]:
    return {row["id"] for row in json.loads(query(data, "SELECT id FROM problems", "json"))}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One uninterrupted run: the accepted set every other run must reproduce."""
    tmp = tmp_path_factory.mktemp("ref")
    cfg = _config(tmp)
    out = _finish(_evolve(tmp / "data", cfg))
    return tmp / "data", cfg, out


def test_a_run_commits_rounds_that_duckdb_can_query(reference):
    data, _, out = reference
    assert "round 1" in out and "round 2" in out and "accepted" in out
    rows = json.loads(query(data, "SELECT round, count(*) n, min(difficulty) d FROM problems GROUP BY 1 ORDER BY 1",
                            "json"))
    assert [r["round"] for r in rows] == [1, 2] and all(r["n"] > 0 for r in rows)
    one = json.loads(query(data, "SELECT id, concepts, domain, difficulty, answer, octet_length(image) png, "
                                 "octet_length(edited_image) edited, operator FROM problems LIMIT 1", "json"))[0]
    assert isinstance(one["concepts"], list) and one["concepts"] and one["png"] > 1000 and one["edited"] > 1000
    assert one["operator"] == "seed"
    rounds = json.loads(query(data, "SELECT * FROM rounds ORDER BY round", "json"))
    assert len(rounds) == 2
    assert all(m.final for m in load_manifests(data) if m.summary is not None)


def test_existing_data_needs_resume(reference):
    data, cfg, _ = reference
    proc = _evolve(data, cfg)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0 and "--resume" in err


def test_kill_9_then_resume_gives_the_identical_accepted_set(reference, tmp_path):
    ref_data, cfg, _ = reference
    data = tmp_path / "data"
    proc = _evolve(data, cfg)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:  # kill right after the first part of round 2 is committed
        if any(m.round == 2 for m in load_manifests(data)) if data.exists() else False:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = _ids(data)
    assert 0 < len(partial) < len(_ids(ref_data))
    _finish(_evolve(data, cfg, "--resume"))
    assert _ids(data) == _ids(ref_data)
    n = json.loads(query(data, "SELECT count(*) n, count(DISTINCT id) d FROM problems", "json"))[0]
    assert n["n"] == n["d"]  # nothing duplicated


def _start_head(ray_cli: str, ray_dir: str, env: dict) -> tuple[subprocess.Popen, str]:
    """`ray start --head --block` in its own session: ending that session ends this cluster and no other
    (`ray stop` would stop every Ray process on the machine)."""
    head = subprocess.Popen([ray_cli, "start", "--head", "--block", "--num-cpus=2", "--include-dashboard=false",
                             f"--temp-dir={ray_dir}", "--port=0", "--disable-usage-stats"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            start_new_session=True)
    deadline = time.monotonic() + 120
    for line in head.stdout:
        if "--address=" in line:
            return head, line.split("'")[1]
        assert time.monotonic() < deadline, "ray start did not print its address"
    raise AssertionError(f"ray start exited early with {head.wait()}")


def test_joins_a_real_local_cluster_with_address(tmp_path):
    ray_dir = tempfile.mkdtemp(prefix="fwray-", dir="/tmp")  # Ray's socket paths must stay under 107 bytes
    env = {**os.environ, "RAY_DEDUP_LOGS": "0", "RAY_AUTH_MODE": "disabled"}
    head, address = _start_head(str(Path(sys.executable).with_name("ray")), ray_dir, env)
    try:
        data = tmp_path / "data"
        _finish(_evolve(data, _config(tmp_path, n=8), "--address", address, rounds=1, env=env))
        assert len(_ids(data)) > 0
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait()
        shutil.rmtree(ray_dir, ignore_errors=True)
