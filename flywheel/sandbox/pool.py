"""`Sandbox`: a pool of warm workers that runs jobs in order, concurrently, or as futures.

One thread per worker pulls jobs from a shared queue, so a slow job never holds up the others. A worker
that dies (or stops answering) is replaced and its job retried once; a job that kills two workers in a row
comes back as status "killed". Closing the pool (or the owner dying) takes every worker and job with it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import queue
import select
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import Future

from flywheel.sandbox import protocol
from flywheel.sandbox.precheck import precheck
from flywheel.sandbox.types import SandboxError, SandboxJob, SandboxLimits, SandboxResult

log = logging.getLogger(__name__)
OWNER_GRACE_S = 30.0
_STOP = object()
ISOLATIONS = ("auto", "strict", "degraded")
_REFUSAL = ("sandbox: refusing to run code without isolation: not root, and no unprivileged user namespaces "
            "here ({why}). Without them, model-written code could read your files and keys, reach the network "
            "and kill your processes. To run it anyway, set `[sandbox] isolation = \"degraded\"` in the config "
            "(Sandbox(isolation=\"degraded\")).")


def worker_env() -> dict[str, str]:
    """The whole environment of a worker, built from nothing: no caller variable (API keys) gets through."""
    cache = os.environ.get("MPLCONFIGDIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "matplotlib")
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
            "MPLBACKEND": "Agg", "MPLCONFIGDIR": cache, "MALLOC_ARENA_MAX": "2",
            "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "PYTHONDONTWRITEBYTECODE": "1", "TMPDIR": tempfile.gettempdir()}


# Run once by `isolation_mode` as the caller: what a worker does first without root.
_USERNS_PROBE = """
from flywheel.sandbox import jail, syscalls as sc
jail.enter_user_namespace(0)
sc.unshare(sc.CLONE_NEWNS | sc.CLONE_NEWPID | sc.CLONE_NEWNET | sc.CLONE_NEWIPC | sc.CLONE_NEWUTS)
sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)
sc.mount("probe", "/tmp", "tmpfs", sc.MS_NOSUID | sc.MS_NODEV, "size=1m")
"""


def userns_blockers() -> list[str]:
    """The kernel settings that forbid unprivileged user namespaces here (empty: none found)."""
    found = []
    for path, bad in (("/proc/sys/kernel/unprivileged_userns_clone", "0"), ("/proc/sys/user/max_user_namespaces", "0"),
                      ("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1")):
        try:
            with open(path) as f:
                if f.read().strip() == bad:
                    found.append(f"{path} = {bad}")
        except OSError:
            continue
    return found


@functools.lru_cache(maxsize=1)
def userns_error() -> str | None:
    """Why this process cannot build the jail in an unprivileged user namespace; None when it can."""
    probe = subprocess.run([sys.executable, "-I", "-c", _USERNS_PROBE], env=worker_env(), cwd="/",
                           capture_output=True, timeout=60)
    if probe.returncode == 0:
        return None
    return "; ".join(userns_blockers() or probe.stderr.decode(errors="replace").strip().splitlines()[-1:]) or \
        f"probe exit code {probe.returncode}"


def isolation_mode() -> str:
    """"full" (root: namespaces and a uid switch), "userns" (not root: the same namespaces inside an
    unprivileged user namespace) or "degraded" (neither; see the module docstring). Probed once per process."""
    if not sys.platform.startswith("linux"):
        return "degraded"
    if os.geteuid() == 0:
        return "full"
    return "userns" if userns_error() is None else "degraded"


def isolation_available() -> bool:
    """Full isolation: as root, or through unprivileged user namespaces where the kernel allows them."""
    return isolation_mode() != "degraded"


class _Worker:
    """One warm worker process and the pipe protocol to it."""

    def __init__(self, slot: int, mode: str):
        self.slot, self.mode = slot, mode
        self.uid = 200_000 + (os.getpid() % 100_000) * 100 + slot % 100 if mode != "degraded" else os.getuid()
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-m", "flywheel.sandbox.worker", str(os.getpid())],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=worker_env(), cwd="/", close_fds=True)
        hello = {"uid": self.uid, "job_base": os.path.realpath(tempfile.gettempdir()), "mode": mode}
        protocol.write_frame(self.proc.stdin.fileno(), hello)
        ready = protocol.read_frame(self.proc.stdout.fileno())
        if not ready or not ready.get("ready"):
            self.kill()
            raise RuntimeError(f"sandbox worker {slot} failed to start (exit code {self.proc.poll()})")

    def run(self, job: SandboxJob, limits: SandboxLimits) -> SandboxResult | None:
        """The result, or None when the worker died or stopped answering (then it is killed)."""
        try:
            protocol.write_frame(self.proc.stdin.fileno(), (job, limits))
            out = self.proc.stdout.fileno()
            if select.select([out], [], [], limits.wall_s + OWNER_GRACE_S)[0]:
                result = protocol.read_frame(out)
                if isinstance(result, SandboxResult):
                    return result
        except (OSError, ValueError, EOFError):
            pass
        self.kill()
        return None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass

    def close(self) -> None:
        try:
            self.proc.stdin.close()  # end of stream: the worker exits after its current job
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()


class Sandbox:
    """A pool of warm, isolated workers. Use as a context manager, or call `close()`.

    `isolation`: "auto" (or "strict") runs fully isolated (as root, or in unprivileged user namespaces) and
    refuses to start where neither is possible; "degraded" then runs anyway, with rlimits, a clean
    environment and a process group only (config: `[sandbox] isolation = "degraded"`).
    """

    def __init__(self, workers: int | None = None, limits: SandboxLimits | None = None,
                 isolation: str = "auto"):
        if isolation not in ISOLATIONS:
            raise ValueError(f"sandbox: isolation must be one of {', '.join(ISOLATIONS)}; got {isolation!r}")
        self.limits = limits or SandboxLimits()
        self.mode = isolation_mode()
        self.isolated = self.mode != "degraded"
        if not self.isolated:
            if isolation != "degraded":
                why = (userns_error() or "unknown") if sys.platform.startswith("linux") else "not Linux"
                raise RuntimeError(_REFUSAL.format(why=why))
            log.warning("sandbox: running with DEGRADED isolation (no namespaces): jobs can read your files, "
                        "reach the network and signal your processes")
        self.size = max(1, workers or min(4, os.cpu_count() or 1))
        self._queue: queue.Queue = queue.Queue()
        self._closed = False
        self._started = threading.Event()
        self._errors: list[BaseException] = []
        self._threads = [threading.Thread(target=self._serve, args=(i,), daemon=True, name=f"sandbox-{i}")
                         for i in range(self.size)]
        for t in self._threads:
            t.start()

    # -- serving -------------------------------------------------------------------------------------
    def _serve(self, slot: int) -> None:
        worker: _Worker | None = None
        try:  # start warm now, not on the first job
            worker = _Worker(slot, self.mode)
        except Exception as exc:  # noqa: BLE001 - retried (and reported) when a job arrives
            log.warning("sandbox worker %d failed to start: %s", slot, exc)
        while True:
            item = self._queue.get()
            if item is _STOP:
                break
            job, limits, future = item
            if not future.set_running_or_notify_cancel():
                continue
            result = None
            for _attempt in range(2):
                try:
                    worker = worker or _Worker(slot, self.mode)
                except Exception as exc:  # noqa: BLE001 - a pool that cannot start is a sandbox failure
                    future.set_exception(exc)
                    break
                result = worker.run(job, limits)
                if result is not None:
                    break
                worker = None  # died: replace it and retry once
            if future.done():
                continue
            future.set_result(result or SandboxResult(
                "killed", error=SandboxError("WorkerDied", "the sandbox worker died twice running this job")))
        if worker is not None:
            worker.close()

    # -- API -----------------------------------------------------------------------------------------
    def submit(self, code: str, inputs: dict[str, bytes] | None = None,
               limits: SandboxLimits | None = None) -> Future:
        return self.submit_job(SandboxJob.of(code, inputs, limits))

    def submit_job(self, job: SandboxJob) -> Future:
        if self._closed:
            raise RuntimeError("sandbox is closed")
        limits = job.limits or self.limits
        future: Future = Future()
        refused = precheck(job.code, limits)
        if refused is not None:
            future.set_result(SandboxResult("forbidden", error=SandboxError("Forbidden", refused)))
            return future
        self._queue.put((job, limits, future))
        return future

    def run(self, code: str, inputs: dict[str, bytes] | None = None,
            limits: SandboxLimits | None = None) -> SandboxResult:
        return self.submit(code, inputs, limits).result()

    def map(self, jobs: Iterable[SandboxJob | str | tuple], window: int | None = None) -> Iterator[SandboxResult]:
        """Results in input order, streaming: at most `window` jobs are queued ahead of the consumer."""
        window = window or self.size * 4
        pending: list[Future] = []
        for item in jobs:
            pending.append(self.submit_job(_as_job(item)))
            if len(pending) >= window:
                yield pending.pop(0).result()
        for fut in pending:
            yield fut.result()

    async def arun(self, code: str, inputs: dict[str, bytes] | None = None,
                   limits: SandboxLimits | None = None) -> SandboxResult:
        return await asyncio.wrap_future(self.submit(code, inputs, limits))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for _ in self._threads:
            self._queue.put(_STOP)
        for t in self._threads:
            t.join(timeout=60)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _as_job(item: SandboxJob | str | tuple) -> SandboxJob:
    if isinstance(item, SandboxJob):
        return item
    if isinstance(item, str):
        return SandboxJob.of(item)
    return SandboxJob.of(*item)
