"""The containment suite again, as an ordinary user: most people run flywheel without root, and CI runs as root.

The test makes a user, gives it an interpreter it can read (the system Python of our version plus hard links to
the packages a job and pytest need; our own Python lives under /root, mode 0700) and runs
tests/test_sandbox_containment.py as that user, where the sandbox must choose "userns" mode and contain every
attack. Skips, saying why, where it cannot run: not root, no such system Python, no user namespaces.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
USER = "flywheel-sbx"
PATH = "/usr/local/bin:/usr/bin:/bin"
# Top-level entries of site-packages the containment suite imports, found by importing them in our own venv.
_LOADED = """
import sys, pytest, _pytest.pytester
from flywheel.sandbox import worker
worker.warm_up()
sp = next(p for p in sys.path if p.endswith("site-packages"))
names = {m.__file__[len(sp) + 1:].split("/")[0] for m in list(sys.modules.values())
         if (getattr(m, "__file__", None) or "").startswith(sp + "/")}
print(sp)
print("\\n".join(sorted(n for n in names if not n.startswith("__editable__"))))
"""

needs_root = pytest.mark.skipif(os.geteuid() != 0 or not sys.platform.startswith("linux"),
                                reason="creating a test user needs root on Linux (CI runs as root)")


def _system_python() -> str | None:
    """A Python of our version that an ordinary user can start (not ours: it lives under /root)."""
    name = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    found = shutil.which(name, path=PATH)
    return os.path.realpath(found) if found else None


def _as_user(cmd: list[str], account: pwd.struct_passwd, timeout: float, **kw) -> subprocess.CompletedProcess:
    env = {"PATH": PATH, "HOME": account.pw_dir, "USER": account.pw_name, "LOGNAME": account.pw_name,
           "LANG": "C.UTF-8", "FLYWHEEL_TEST_SECRET": os.environ.get("FLYWHEEL_TEST_SECRET", "s3cr3t-api-key-7f1d")}
    return subprocess.run(cmd, user=account.pw_uid, group=account.pw_gid, extra_groups=[], env=env,
                          capture_output=True, text=True, timeout=timeout, **kw)


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        if src.is_dir():
            shutil.copytree(src, dst, copy_function=os.link, symlinks=True)
        else:
            os.link(src, dst)
    except OSError:  # another filesystem: copy instead
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(src, dst, symlinks=True) if src.is_dir() else shutil.copy2(src, dst)


@pytest.fixture(scope="module")
def user_python():
    """(account, interpreter): a test user and a venv of the system Python it can read and run."""
    base = _system_python()
    if base is None or shutil.which("useradd", path=PATH + ":/usr/sbin:/sbin") is None:
        pytest.skip(f"needs useradd and a system python{sys.version_info[0]}.{sys.version_info[1]}")
    try:
        account = pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/usr/sbin/nologin", USER], check=True,
                       env={"PATH": PATH + ":/usr/sbin:/sbin"})
        account = pwd.getpwnam(USER)
    # /var/tmp: usually the disk of our venv (hard links), and readable by the user, unlike pytest's tmp.
    venv = Path(tempfile.mkdtemp(prefix="flywheel-nonroot-", dir="/var/tmp"))
    venv.chmod(0o755)
    try:
        subprocess.run([base, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
        site_src, *names = subprocess.run([sys.executable, "-c", _LOADED], capture_output=True, text=True,
                                          check=True, cwd=REPO, timeout=120).stdout.split()
        site_src = Path(site_src)
        site_dst = next(venv.glob("lib/python3*/site-packages"))
        libs = [p.name for p in site_src.glob("*.libs")]  # vendored shared libraries of numpy, pillow, shapely
        for name in sorted({*names, *libs, "contourpy", "six.py"}):
            if (site_src / name).exists():
                _link_or_copy(site_src / name, site_dst / name)
        (site_dst / "flywheel-src.pth").write_text(f"{REPO}\n")
        subprocess.run(["chmod", "-R", "a+rX", str(venv)], check=True)
        yield account, str(venv / "bin" / "python")
    finally:
        shutil.rmtree(venv, ignore_errors=True)


@needs_root
def test_containment_suite_passes_as_a_user(user_python):
    account, python = user_python
    mode = _as_user([python, "-c", "from flywheel.sandbox import isolation_mode; print(isolation_mode())"],
                    account, timeout=120, cwd="/")
    assert mode.returncode == 0, mode.stderr
    if mode.stdout.split()[-1:] != ["userns"]:
        pytest.skip(f"no unprivileged user namespaces on this kernel: {mode.stderr.strip()[-300:]}")
    r = _as_user([python, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                  "-W", "ignore::pytest.PytestConfigWarning", "tests/test_sandbox_containment.py"],
                 account, timeout=900, cwd=REPO)
    tail = (r.stdout + r.stderr)[-6000:]
    assert r.returncode == 0, tail
    assert "skipped" not in r.stdout and " passed" in r.stdout, tail


# -- where no namespaces are possible (simulated: the mode is what the pool asks for) ---------------------------
def test_without_namespaces_the_pool_refuses_unless_degraded_is_asked_for(monkeypatch):
    import flywheel.sandbox.pool as pool

    monkeypatch.setattr(pool, "isolation_mode", lambda: "degraded")
    monkeypatch.setattr(pool, "userns_error", lambda: "/proc/sys/user/max_user_namespaces = 0")
    with pytest.raises(RuntimeError, match=r'isolation = "degraded".*') as err:
        pool.Sandbox(workers=1)
    assert "max_user_namespaces = 0" in str(err.value)
    with pytest.raises(ValueError, match="isolation must be one of"):
        pool.Sandbox(workers=1, isolation="none")
    marker = f"{os.getpid()}.4242"  # sleep's argument: names the job's leftovers on the host
    daemons = ("import os, subprocess, time\n"
               f"subprocess.Popen(['sleep', '{marker}'])\n"
               "if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
               f"        os.execvp('sleep', ['sleep', '{marker}'])\n"
               "    os._exit(0)\nprint('parent exits')\n")
    with pool.Sandbox(workers=1, isolation="degraded") as sb:  # asked for: runs, clean env, says so
        r = sb.run("import os\nprint(sorted(os.environ))")
        assert r.status == "ok" and r.isolation == "degraded"
        assert "FLYWHEEL_TEST_SECRET" not in r.stdout and "PATH" in r.stdout
        t0 = time.monotonic()
        r = sb.run(daemons)
        assert r.status == "ok" and r.stdout == "parent exits\n" and time.monotonic() - t0 < 10
        assert _processes_with(marker) == []  # nothing the job started outlives it, not even a new session


def _processes_with(arg: str) -> list[int]:
    found = []
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if arg.encode() in f.read().split(b"\0"):
                    found.append(int(pid))
        except OSError:
            continue
    return found
