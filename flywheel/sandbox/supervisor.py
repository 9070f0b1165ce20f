"""Job supervision, done by the warm worker itself (trusted, root, never running job code).

Per job it mounts a fresh tmpfs folder, forks the job as PID 1 of a new PID namespace, watches its output
and the clock, and ends it with SIGKILL: a PID namespace dies with its first process, so daemons, double
forks, new sessions and children holding the pipes go with it, and `wait4` returns only once all of them
are gone. The status comes from what the kernel reports (exit code, signal, CPU time), never from the
job's own words.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import stat
import tempfile
import time
from dataclasses import replace

from flywheel.sandbox import jail
from flywheel.sandbox import syscalls as sc
from flywheel.sandbox.job import run_job
from flywheel.sandbox.types import MiB, SandboxError, SandboxImage, SandboxJob, SandboxLimits, SandboxResult

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
REPORT_CAP = 64 * 1024


class _Capture:
    """Keeps the first `cap` bytes of a stream and counts the rest, so a flood cannot block or bloat."""

    def __init__(self, cap: int):
        self.cap, self.data, self.truncated = cap, bytearray(), False

    def feed(self, chunk: bytes) -> None:
        room = self.cap - len(self.data)
        if room > 0:
            self.data += chunk[:room]
        if len(chunk) > max(room, 0):
            self.truncated = True

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


def _prepare_folder(job_base: str, job: SandboxJob, uid: int) -> str:
    job_dir = os.path.join(job_base, f"job-{os.urandom(6).hex()}")
    os.mkdir(job_dir, 0o700)
    for name, data in job.inputs:
        path = os.path.join(job_dir, os.path.basename(name))
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chown(path, uid, uid)
    os.chown(job_dir, uid, uid)
    return job_dir


def _watch(pid: int, fds: dict[int, _Capture], deadline: float) -> bool:
    """Pump the job's pipes until it exits or the deadline passes. True when it timed out."""
    pidfd = os.pidfd_open(pid)
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    for fd in fds:
        poller.register(fd, select.POLLIN)
    open_fds = set(fds)
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return True
            for fd, _ in poller.poll(min(left, 1.0) * 1000):
                if fd == pidfd:
                    return False
                chunk = os.read(fd, 1 << 16)
                if chunk:
                    fds[fd].feed(chunk)
                elif fd in open_fds:
                    poller.unregister(fd)
                    open_fds.discard(fd)
    finally:
        os.close(pidfd)


def _drain(fds: dict[int, _Capture], limit_s: float = 2.0) -> None:
    """After the kill every writer is gone; read what is left up to EOF (bounded, just in case)."""
    end = time.monotonic() + limit_s
    for fd, cap in fds.items():
        os.set_blocking(fd, False)
        while time.monotonic() < end:
            try:
                chunk = os.read(fd, 1 << 16)
            except BlockingIOError:
                if not select.select([fd], [], [], max(0.0, end - time.monotonic()))[0]:
                    break
                continue
            if not chunk:
                break
            cap.feed(chunk)


def _end_job(pid: int, isolated: bool) -> tuple[int, object]:
    """SIGKILL the job and wait for it; returns its wait status and resource usage.

    Isolated, the job is PID 1 of its namespace: its death kills every process of the namespace and the
    kernel reaps them before our wait4 returns. Degraded (no namespaces), the worker is a child subreaper:
    what escaped the job's group (daemons, double forks, new sessions) is reparented to it and killed here.
    """
    if not isolated:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    _, status, usage = os.wait4(pid, 0)
    if not isolated:
        _kill_descendants()
    return status, usage


def _children() -> list[int]:
    pids = []
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/children") as f:
                pids += [int(p) for p in f.read().split()]
        except OSError:
            continue
    return pids


def _kill_descendants(rounds: int = 1000) -> None:
    """SIGKILL and reap our children until none is left (orphans of the job keep arriving while it lasts)."""
    for _ in range(rounds):
        children = _children()
        if not children:
            return
        for child in children:
            try:
                os.kill(child, signal.SIGKILL)
            except OSError:
                pass
        for child in children:
            try:
                os.waitpid(child, 0)
            except ChildProcessError:
                pass


def _read_regular(path: str, cap: int) -> tuple[int, bytes] | None:
    """(mtime, bytes) of a regular file of at most `cap` bytes, opened without following links; else None.

    Anything else the job may have named *.png (a symlink to a root-only file, a FIFO that would block, a
    directory, a device) is skipped: the collector runs as root, so it must never be led elsewhere.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > cap:
            return None
        chunks, size = [], 0
        while size <= cap:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return (st.st_mtime_ns, b"".join(chunks)) if size <= cap else None
    except OSError:
        return None
    finally:
        os.close(fd)


def collect_images(job_dir: str, job: SandboxJob, limits: SandboxLimits) -> tuple[SandboxImage, ...]:
    """Regular PNG files in the job folder (not following links), unchanged inputs left out."""
    inputs = dict(job.inputs)
    found = []
    with os.scandir(job_dir) as it:
        names = sorted(e.name for e in it if e.name.lower().endswith(".png"))
    for name in names:
        if len(found) >= limits.max_images:
            break
        got = _read_regular(os.path.join(job_dir, name), limits.file_size_mb * MiB)
        if got and got[1].startswith(PNG_MAGIC) and inputs.get(name) != got[1]:
            found.append((got[0], name, got[1]))
    return tuple(SandboxImage(name, data) for _, name, data in sorted(found))


def _status(timed_out: bool, wait_status: int, report: dict, cpu_s: float,
            limits: SandboxLimits) -> tuple[str, SandboxError | None, int | None, int | None]:
    code = os.waitstatus_to_exitcode(wait_status)
    sig = -code if code < 0 else None
    exit_code = code if code >= 0 else None
    if timed_out:
        return "timeout", SandboxError("Timeout", f"wall time limit of {limits.wall_s:g}s exceeded"), exit_code, sig
    if sig in (signal.SIGXCPU, signal.SIGKILL) and cpu_s >= limits.effective_cpu_s() - 0.05:
        return "timeout", SandboxError("Timeout", f"CPU time limit of {limits.effective_cpu_s()}s exceeded"), None, sig
    if report.get("type") == "MemoryError":
        return "memory", SandboxError("MemoryError", f"memory limit of {limits.memory_mb} MB exceeded",
                                      report.get("line")), exit_code, sig
    if sig is not None:
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        return "killed", SandboxError("Killed", f"killed by {name}"), None, sig
    if exit_code == 0:
        return "ok", None, 0, None
    if report.get("type"):
        err = SandboxError(str(report["type"])[:200], str(report.get("message", ""))[:2000],
                           report.get("line") if isinstance(report.get("line"), int) else None)
    else:
        err = SandboxError("SystemExit", f"exit code {exit_code}")
    return "error", err, exit_code, None


def _parse_report(raw: _Capture) -> dict:
    for line in reversed(raw.text().splitlines()):
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict):
            return obj
    return {}


def supervise(job: SandboxJob, limits: SandboxLimits, uid: int, job_base: str,
              worker_pidns: int | None, userns: bool = False) -> SandboxResult:
    """Run one job to completion. `worker_pidns` is None in degraded mode (no namespaces); `userns` when the
    worker is root only of its own user namespace (the job then maps itself to `uid` in a nested one)."""
    isolated = worker_pidns is not None
    if isolated:
        jail.mount_job_folder(job_base, limits.disk_mb)
    else:
        job_base = tempfile.mkdtemp(prefix="flywheel-job-", dir=job_base)
    try:
        result = _supervise_in(job, limits, uid, job_base, worker_pidns, userns)
    finally:
        if isolated:
            jail.unmount_job_folder(job_base)
        else:
            shutil.rmtree(job_base, ignore_errors=True)
    return replace(result, isolation=("userns" if userns else "full") if isolated else "degraded")


def _supervise_in(job: SandboxJob, limits: SandboxLimits, uid: int, job_base: str,
                  worker_pidns: int | None, userns: bool) -> SandboxResult:
    # With a user namespace the job's uid maps to the worker's own 0, so the folder stays ours.
    job_dir = _prepare_folder(job_base, job, 0 if userns else uid)
    pipes = [os.pipe() for _ in range(3)]
    t0 = time.monotonic()
    if worker_pidns is not None:
        sc.unshare(sc.CLONE_NEWPID)  # the next child is PID 1 of a new namespace
    pid = os.fork()
    if pid == 0:
        for r, _ in pipes:
            os.close(r)
        run_job(job.code, job_dir, uid, limits, pipes[0][1], pipes[1][1], pipes[2][1], worker_pidns is not None,
                userns)
    if worker_pidns is not None:
        sc.setns(worker_pidns, sc.CLONE_NEWPID)  # later forks of ours stay in our own namespace
    for _, w in pipes:
        os.close(w)
    out, err, rep = _Capture(limits.output_bytes), _Capture(limits.output_bytes), _Capture(REPORT_CAP)
    fds = {pipes[0][0]: out, pipes[1][0]: err, pipes[2][0]: rep}
    try:
        timed_out = _watch(pid, fds, t0 + limits.wall_s)
        wait_status, usage = _end_job(pid, worker_pidns is not None)
        wall = time.monotonic() - t0
        _drain(fds)
    finally:
        for fd in fds:
            os.close(fd)
    cpu_s = usage.ru_utime + usage.ru_stime
    status, error, exit_code, sig = _status(timed_out, wait_status, _parse_report(rep), cpu_s, limits)
    return SandboxResult(status=status, stdout=out.text(), stderr=err.text(),
                         images=collect_images(job_dir, job, limits), error=error,
                         wall_s=round(wall, 4), cpu_s=round(cpu_s, 4), exit_code=exit_code, signal=sig,
                         stdout_truncated=out.truncated, stderr_truncated=err.truncated,
                         max_rss_mb=round(usage.ru_maxrss / 1024, 1))
