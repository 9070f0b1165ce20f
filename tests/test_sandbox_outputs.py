"""The sandbox returns the right things: images that match the code, values, errors with lines."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from flywheel.sandbox import SandboxJob, SandboxLimits

SQUARE = """
import matplotlib.pyplot as plt
fig = plt.figure(figsize=(3, 2), dpi=100)
ax = fig.add_axes([0, 0, 1, 1]); ax.set_xlim(0, 300); ax.set_ylim(200, 0); ax.axis('off')
ax.add_patch(plt.Rectangle((50, 40), 100, 60, color='red'))
"""


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def test_open_figure_comes_back_at_its_size_with_the_drawing(sandbox):
    r = sandbox.run(SQUARE)
    assert r.status == "ok", r.stderr
    assert [i.name for i in r.images] == ["figure_1.png"]
    px = _pixels(r.images[0].png)
    assert px.shape == (200, 300, 3)
    assert tuple(px[70, 100]) == (255, 0, 0)  # inside the square (row = y, top-left origin)
    assert tuple(px[150, 250]) == (255, 255, 255)


def test_saved_png_is_returned_and_not_duplicated_by_the_open_figure(sandbox):
    r = sandbox.run(SQUARE + "fig.savefig('edited.png')\nprint('edited.png')\n")
    assert r.status == "ok"
    assert [i.name for i in r.images] == ["edited.png"]


def test_input_image_is_readable_and_unchanged_inputs_are_not_returned(sandbox):
    base = sandbox.run(SQUARE).images[0].png
    code = (
        "import matplotlib.pyplot as plt\nimg = plt.imread('image.png')\nprint(img.shape[:2])\n"
        "fig = plt.figure(figsize=(3, 2), dpi=100); ax = fig.add_axes([0, 0, 1, 1]); ax.imshow(img); ax.axis('off')\n"
        "ax.plot([0, 299], [0, 199], color='blue', lw=4)\n"
    )
    r = sandbox.run(code, inputs={"image.png": base, "notes.txt": b"hello"})
    assert r.status == "ok", r.stderr
    assert r.stdout.strip() == "(200, 300)"
    assert [i.name for i in r.images] == ["figure_1.png"]
    assert _pixels(r.images[0].png).shape == (200, 300, 3)


def test_values_and_last_line(sandbox):
    r = sandbox.run("import sympy as sp\nprint('working')\nprint(sp.sqrt(12))\n")
    assert r.ok and r.last_line() == "2*sqrt(3)"


def test_exception_type_message_and_line(sandbox):
    r = sandbox.run("a = 1\nb = 2\n\nprint(a)\n[][b]\n")
    assert r.status == "error"
    assert (r.error.type, r.error.line) == ("IndexError", 5)
    assert "list index out of range" in r.error.message
    assert 'File "main.py", line 5' in r.stderr
    assert r.stdout == "1\n"


def test_error_inside_a_function_reports_the_deepest_job_line(sandbox):
    r = sandbox.run("def f(x):\n    return 1 / x\n\nf(0)\n")
    assert (r.status, r.error.type, r.error.line) == ("error", "ZeroDivisionError", 2)


def test_syntax_error_has_its_line(sandbox):
    r = sandbox.run("x = 1\ny = (\n")
    assert r.status == "error" and r.error.type == "SyntaxError" and r.error.line == 2


def test_sys_exit_nonzero_keeps_earlier_output(sandbox):
    r = sandbox.run("print('before')\nimport sys\nsys.exit(3)\n")
    assert r.status == "error" and r.exit_code == 3
    assert r.stdout == "before\n"
    assert r.error.type == "SystemExit"


@pytest.mark.parametrize("code", ["import sys; sys.exit(0)", "import sys; sys.exit()", "raise SystemExit"])
def test_clean_exits_are_ok(sandbox, code):
    assert sandbox.run(code).status == "ok"


def test_os_exit_is_an_error_with_its_code(sandbox):
    r = sandbox.run("import os\nprint('x', flush=True)\nos._exit(5)\n")
    assert r.status == "error" and r.exit_code == 5 and r.stdout == "x\n"


def test_ordinary_exec_compile_base64_run_fine(sandbox):
    code = (
        "import base64\nsrc = base64.b64decode(base64.b64encode(b'y = 6 * 7'))\n"
        "exec(compile(src, 'inner', 'exec'))\nprint(eval('y'))\n"
    )
    r = sandbox.run(code)
    assert r.status == "ok" and r.last_line() == "42"


def test_static_precheck_is_opt_in_and_reports_forbidden(sandbox):
    limits = SandboxLimits(deny_imports=("socket",))
    r = sandbox.run("import socket\n", limits=limits)
    assert r.status == "forbidden" and "socket" in r.error.message
    assert sandbox.run("import json\nprint(1)", limits=limits).status == "ok"
    big = SandboxLimits(max_source_bytes=100)
    assert sandbox.run("x = 1\n" * 50, limits=big).status == "forbidden"


def test_map_keeps_order_and_runs_concurrently(sandbox):
    jobs = [SandboxJob.of(f"import time\ntime.sleep(0.3 if {i} % 2 else 0)\nprint({i})") for i in range(8)]
    results = list(sandbox.map(jobs))
    assert [r.last_line() for r in results] == [str(i) for i in range(8)]


def test_async_form(sandbox):
    import asyncio

    async def main():
        return await asyncio.gather(*(sandbox.arun(f"print({i} * 2)") for i in range(4)))

    assert [r.last_line() for r in asyncio.run(main())] == ["0", "2", "4", "6"]


def test_job_folder_is_fresh_and_private(sandbox):
    r1 = sandbox.run("import os\nopen('left.txt', 'w').write('x')\nprint(os.getcwd())\nprint(os.listdir('.'))")
    r2 = sandbox.run("import os\nprint(os.getcwd())\nprint(os.listdir('.'))\nprint(os.listdir('..'))")
    assert r1.ok and r2.ok
    cwd1, cwd2 = r1.stdout.split("\n")[0], r2.stdout.split("\n")[0]
    assert cwd1 != cwd2
    assert r2.stdout.split("\n")[1] == "[]"
    assert r2.stdout.split("\n")[2] == str([cwd2.rsplit("/", 1)[1]])  # only its own folder is in view


def test_temp_folder_honours_tmpdir(tmp_path, monkeypatch):
    import tempfile

    from flywheel.sandbox import Sandbox

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    with Sandbox(workers=1) as sb:
        r = sb.run("import os, tempfile\nprint(os.getcwd())\nprint(tempfile.gettempdir())")
    cwd, tmp = r.stdout.split()
    assert cwd.startswith(str(tmp_path.resolve()) + "/") and tmp == cwd
    assert list(tmp_path.iterdir()) == []  # nothing left behind on the host


def test_ordinary_process_and_thread_use_works(sandbox):
    code = (
        "import subprocess, sys\nfrom multiprocessing import Pool\nfrom concurrent.futures import ThreadPoolExecutor\n"
        "print(subprocess.run([sys.executable, '-c', 'print(6 * 7)'], capture_output=True, text=True).stdout.strip())\n"
        "with Pool(2) as p:\n    print(p.map(abs, [-1, -2]))\n"
        "with ThreadPoolExecutor(3) as ex:\n    print(list(ex.map(abs, [-3, -4])))\n"
    )
    r = sandbox.run(code, limits=SandboxLimits(wall_s=30))
    assert r.status == "ok", r.stderr
    assert r.stdout.split("\n")[:3] == ["42", "[1, 2]", "[3, 4]"]


def test_jobs_still_reach_python_when_tmpdir_holds_the_venv(monkeypatch):
    """CI clones into /tmp: the job folders must never cover the interpreter's own directories."""
    import os
    import sys
    import tempfile

    from flywheel.sandbox import Sandbox

    holder = os.path.dirname(os.path.realpath(sys.prefix))
    before = sorted(os.listdir(holder))
    monkeypatch.setenv("TMPDIR", holder)
    monkeypatch.setattr(tempfile, "tempdir", None)
    code = ("import matplotlib, matplotlib.pyplot as plt\nprint(len(open(matplotlib.__file__).read()) > 0)\n"
            "fig = plt.figure(figsize=(2, 1)); fig.text(0.1, 0.5, 'label A', fontsize=12)\n")
    with Sandbox(workers=1) as sb:
        r = sb.run(code)
    assert r.status == "ok", r.stderr
    assert r.stdout == "True\n" and [i.name for i in r.images] == ["figure_1.png"] and r.stderr == ""
    assert sorted(os.listdir(holder)) == before
