"""`flywheel sandbox run`: the JSON contract, images in --out, exit codes, nothing left running."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from flywheel.cli import main

FIGURE = "import matplotlib.pyplot as plt\nprint('drawing')\nplt.plot([0, 1], [1, 0])\n"


def _write(tmp_path: Path, name: str, code: str) -> str:
    path = tmp_path / name
    path.write_text(code)
    return str(path)


def test_json_is_one_object_per_file_in_order(tmp_path):
    files = [_write(tmp_path, "a.py", FIGURE), _write(tmp_path, "b.py", "import sys\nprint('x')\nsys.exit(3)\n"),
             _write(tmp_path, "c.py", "print(open('data.txt').read())\n")]
    data = _write(tmp_path, "data.txt", "payload")
    out = tmp_path / "out"
    out.mkdir()  # --out may already exist
    res = CliRunner().invoke(main, ["sandbox", "run", *files[:2], "--json", "--out", str(out),
                                    files[2], "--input", data, "--timeout", "5", "--memory-mb", "512"])
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert len(lines) == 3
    recs = [json.loads(line) for line in lines]
    assert [r["status"] for r in recs] == ["ok", "error", "ok"]
    for r in recs:
        assert {"status", "stdout", "stderr", "images", "error", "wall_s"} <= r.keys()
    assert recs[0]["stdout"] == "drawing\n" and recs[0]["error"] is None
    assert len(recs[0]["images"]) == 1
    img = Path(recs[0]["images"][0])
    assert img.is_absolute() and img.parent == out.resolve() and img.read_bytes().startswith(b"\x89PNG")
    assert recs[1]["error"]["type"] == "SystemExit" and recs[1]["stdout"] == "x\n"
    assert recs[2]["stdout"] == "payload\n"


def test_human_output_and_timeout_status(tmp_path):
    f = _write(tmp_path, "loop.py", "while True:\n    pass\n")
    res = CliRunner().invoke(main, ["sandbox", "run", f, "--timeout", "1", "--out", str(tmp_path / "o")])
    assert res.exit_code == 0 and "timeout" in res.output


def _workers_started_by(pid: int) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                cmd = Path(f"/proc/{name}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"flywheel.sandbox.worker" in cmd and str(pid).encode() in cmd:
                found.append(int(name))
    return found


def test_two_commands_at_once_and_nothing_left_behind(tmp_path):
    f = _write(tmp_path, "slow.py", "import time\ntime.sleep(1)\nprint('done')\n")
    g = _write(tmp_path, "daemon.py", "import subprocess\nsubprocess.Popen(['sleep', '120'])\nprint('spawned')\n")
    cmd = [sys.executable, "-m", "flywheel.cli", "sandbox", "run", f, g, "--json", "--out", str(tmp_path / "o")]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (stdout, stderr) in zip(procs, outs, strict=True):
        assert p.returncode == 0, stderr
        assert [json.loads(line)["stdout"] for line in stdout.splitlines()] == ["done\n", "spawned\n"]
        assert _workers_started_by(p.pid) == []
