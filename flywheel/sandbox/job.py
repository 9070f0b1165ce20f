"""The job process: drop every privilege, then run untrusted code and save the figures it left open.

Runs in a child forked from a warm worker, so matplotlib, numpy, sympy, shapely and Pillow are already in
memory. Everything this module does after `drop_privileges` is as reachable by the job's code as by us, so
nothing it reports is trusted for containment: the supervisor decides the status from what the kernel says.
"""

from __future__ import annotations

import fcntl
import io
import json
import linecache
import os
import resource
import stat
import sys
import traceback
from typing import NoReturn

from flywheel.sandbox import syscalls as sc
from flywheel.sandbox.types import MiB, SandboxLimits

REPORT_FD = 3
SOURCE_NAME = "main.py"
JOB_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
           "MPLBACKEND": "Agg", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def _address_space_now() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 2048 * MiB


def set_limits(limits: SandboxLimits) -> None:
    """Kernel limits, inherited by every process the job starts. Hard = soft so the job cannot raise them."""
    cpu = limits.effective_cpu_s()
    # The warm interpreter already maps hundreds of MB; the job gets `memory_mb` on top of that.
    address_space = _address_space_now() + limits.memory_mb * MiB
    fsize = limits.file_size_mb * MiB
    for res, soft, hard in (
        (resource.RLIMIT_CPU, cpu, cpu + 1),  # SIGXCPU at soft, SIGKILL at hard even if SIGXCPU is ignored
        (resource.RLIMIT_AS, address_space, address_space),
        (resource.RLIMIT_NPROC, limits.max_procs, limits.max_procs),
        (resource.RLIMIT_NOFILE, limits.max_open_files, limits.max_open_files),
        (resource.RLIMIT_FSIZE, fsize, fsize),
        (resource.RLIMIT_CORE, 0, 0),
        (resource.RLIMIT_MEMLOCK, 0, 0),
        (resource.RLIMIT_MSGQUEUE, 0, 0),
    ):
        resource.setrlimit(res, (soft, hard))


def drop_privileges(uid: int, userns: bool) -> None:
    """Become an unprivileged uid that owns nothing on the host, with no way back (no_new_privs).

    In a user namespace the job already is `uid` (see jail.enter_user_namespace) but still holds every
    capability of its new namespace: those are dropped instead.
    """
    if userns:
        sc.drop_capabilities()
    elif os.geteuid() == 0:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    sc.prctl(sc.PR_SET_NO_NEW_PRIVS, 1)
    # Changing uid marks the process non-dumpable, which hides its own /proc/self from it; ordinary code
    # (and libraries) read /proc/self, and other uids and namespaces still cannot trace it.
    sc.prctl(sc.PR_SET_DUMPABLE, 1)


def close_inherited_fds(keep: set[int]) -> None:
    """Close every inherited descriptor except `keep` and read-only regular files.

    Pipes to the pool, namespace handles and anything writable must not reach job code. Read-only regular
    files stay: the warm libraries hold some (matplotlib's fonts read glyphs from an open file lazily), and
    closing them under the library would make it read whatever file later takes that number.
    """
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd < 3 or fd in keep:
            continue
        try:
            st = os.fstat(fd)
            read_only = (fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE) == os.O_RDONLY
        except OSError:
            continue
        if not (stat.S_ISREG(st.st_mode) and read_only):
            os.close(fd)


def _wire_stdio(stdout_fd: int, stderr_fd: int, report_fd: int) -> None:
    devnull = os.open("/dev/null", os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(stdout_fd, 1)
    os.dup2(stderr_fd, 2)
    os.dup2(report_fd, REPORT_FD)
    for fd in (stdout_fd, stderr_fd, report_fd, devnull):
        if fd > REPORT_FD:
            os.close(fd)
    close_inherited_fds({REPORT_FD})  # every worker/pool descriptor is gone before job code runs
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8",
                                  errors="backslashreplace", line_buffering=True)
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8",
                                  errors="backslashreplace", line_buffering=True)


def _error_line(exc: BaseException) -> int | None:
    if isinstance(exc, SyntaxError) and exc.filename == SOURCE_NAME:
        return exc.lineno
    line = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename == SOURCE_NAME:
            line = lineno
    return line


def _save_open_figures() -> list[str]:
    """Figures left open (and never saved by the code) become figure_<n>.png at their own DPI and size."""
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None:
        return []
    saved = []
    for num in plt.get_fignums():
        fig = plt.figure(num)
        if getattr(fig, "_flywheel_saved", False):
            continue
        name = f"figure_{num}.png"
        fig.savefig(name, dpi=fig.dpi, format="png")
        saved.append(name)
    plt.close("all")
    return saved


def _execute(code: str) -> tuple[int, dict]:
    linecache.cache[SOURCE_NAME] = (len(code), None, code.splitlines(True), SOURCE_NAME)
    scope = {"__name__": "__main__", "__file__": SOURCE_NAME, "__builtins__": __builtins__}
    exit_code, report = 0, {"ok": True}
    try:
        exec(compile(code, SOURCE_NAME, "exec"), scope)  # noqa: S102 - this *is* the sandboxed execution
    except SystemExit as exc:
        code_val = exc.code
        exit_code = code_val if isinstance(code_val, int) else (0 if code_val is None else 1)
        if code_val is not None and not isinstance(code_val, int):
            print(code_val, file=sys.stderr)
        if exit_code != 0:
            report = {"ok": False, "type": "SystemExit", "message": f"exit code {exit_code}",
                      "line": _error_line(exc)}
    except BaseException as exc:  # noqa: BLE001 - every failure of job code is data
        exit_code = 1
        tb = exc.__traceback__.tb_next if exc.__traceback__ else None
        traceback.print_exception(type(exc), exc, tb, file=sys.stderr)
        report = {"ok": False, "type": type(exc).__name__, "message": str(exc)[:2000], "line": _error_line(exc)}
    return exit_code, report


def run_job(code: str, job_dir: str, uid: int, limits: SandboxLimits,
            stdout_fd: int, stderr_fd: int, report_fd: int, isolated: bool, userns: bool = False) -> NoReturn:
    """Never returns: the process ends with the job's exit code (and, as PID 1, takes its namespace along)."""
    try:
        if isolated:
            from flywheel.sandbox import jail

            jail.enter_job_namespaces(min(64, limits.disk_mb))
            if userns:  # before the rlimits: RLIMIT_NPROC then counts only this namespace's processes
                jail.enter_user_namespace(uid)
        os.setsid()  # own session and group: the supervisor can always kill the job's whole group
        _wire_stdio(stdout_fd, stderr_fd, report_fd)
        set_limits(limits)
        drop_privileges(uid, userns)
        os.chdir(job_dir)
        os.umask(0o077)
        os.environ.clear()
        os.environ.update(JOB_ENV, HOME=job_dir, TMPDIR=job_dir, PWD=job_dir)
        sys.argv = [SOURCE_NAME]
    except BaseException as exc:  # noqa: BLE001
        os.write(2, f"sandbox setup failed: {exc!r}\n".encode())
        os._exit(70)
    exit_code, report = _execute(code)
    try:
        report["figures"] = _save_open_figures()
    except BaseException as exc:  # noqa: BLE001
        traceback.print_exception(type(exc), exc, None, file=sys.stderr)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        os.write(REPORT_FD, (json.dumps(report) + "\n").encode())
    except BaseException:  # noqa: BLE001 - a closed or full pipe must not change the exit code
        pass
    os._exit(exit_code)
