"""A warm sandbox worker: imports the heavy libraries once, then forks one supervised child per job.

Started by `Sandbox` as `python -I -m flywheel.sandbox.worker OWNER_PID` with a clean environment; talks to
its pool over stdin/stdout frames only. Per job: unshare a PID namespace, fork the supervisor (PID 1 there),
restore our own PID namespace for the next fork, wait for the supervisor's result frame.
"""

from __future__ import annotations

import gc
import os
import select
import signal
import sys
import time

from flywheel.sandbox import protocol
from flywheel.sandbox import syscalls as sc
from flywheel.sandbox.types import SandboxError, SandboxJob, SandboxLimits, SandboxResult

SUPERVISOR_GRACE_S = 10.0


def warm_up() -> None:
    """Import and exercise what jobs use, so a forked job pays no import or font-loading cost."""
    import io  # noqa: F401

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.figure
    import matplotlib.patches  # noqa: F401
    import matplotlib.pyplot as plt
    import numpy as np
    import PIL.Image
    import PIL.ImageDraw
    import PIL.ImageFont  # noqa: F401
    import shapely.affinity  # noqa: F401
    import shapely.geometry
    import shapely.ops  # noqa: F401
    import sympy
    from mpl_toolkits import mplot3d  # noqa: F401

    original_savefig = matplotlib.figure.Figure.savefig

    def savefig(self, *args, **kwargs):  # remember which figures the job saved itself
        self._flywheel_saved = True
        return original_savefig(self, *args, **kwargs)

    matplotlib.figure.Figure.savefig = savefig
    fig, ax = plt.subplots(figsize=(2, 2), dpi=50)
    ax.plot(np.arange(3), np.arange(3), "o-")
    ax.text(0.5, 0.5, "A $x^2$", fontsize=12)
    ax.add_patch(matplotlib.patches.Circle((1, 1), 0.5, alpha=0.3))
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close("all")
    PIL.Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    assert shapely.geometry.Polygon([(0, 0), (1, 0), (0, 1)]).area > 0
    sympy.nsimplify(sympy.sqrt(8) / 2 + sympy.Rational(1, 3))
    sympy.solve(sympy.Symbol("x") ** 2 - 2)


def _run_one(job: SandboxJob, limits: SandboxLimits, uid: int, job_base: str, isolated: bool,
             own_pidns: int | None) -> SandboxResult:
    r_fd, w_fd = os.pipe()
    if isolated:
        sc.unshare(sc.CLONE_NEWPID)
    pid = os.fork()
    if pid == 0:  # the supervisor
        try:
            os.close(r_fd)
            os.dup2(w_fd, 3)
            sc.prctl(sc.PR_SET_PDEATHSIG, signal.SIGKILL)  # worker gone => namespace gone => job gone
            from flywheel.sandbox import jail, supervisor
            from flywheel.sandbox.job import close_inherited_fds

            if isolated:
                jail.enter_job_namespace(job_base, limits.disk_mb)  # mounts the /proc we list fds from
            close_inherited_fds({3})
            if isolated:
                result = supervisor.supervise(job, limits, uid, job_base)
            else:
                result = supervisor.supervise_on_host(job, limits, uid, job_base)
            protocol.write_frame(3, result)
        except BaseException as exc:  # noqa: BLE001 - report, never raise out of a forked child
            try:
                protocol.write_frame(3, SandboxResult("killed", error=SandboxError("SandboxFailure", repr(exc))))
            except BaseException:  # noqa: BLE001
                pass
        os._exit(0)
    if isolated and own_pidns is not None:
        sc.setns(own_pidns, sc.CLONE_NEWPID)
    os.close(w_fd)
    result = None
    try:
        if select.select([r_fd], [], [], limits.wall_s + SUPERVISOR_GRACE_S)[0]:
            result = protocol.read_frame(r_fd)
    finally:
        os.close(r_fd)
        if result is None:  # a stuck supervisor: killing it (PID 1) takes its whole namespace down
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    if result is None:
        result = SandboxResult("killed", error=SandboxError("SupervisorDied", "the job supervisor did not report"))
    return result


def main() -> None:
    owner = int(sys.argv[1])
    sc.prctl(sc.PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != owner:  # the pool died before we armed the death signal
        os._exit(0)
    proto_in, proto_out = os.dup(0), os.dup(1)
    devnull = os.open("/dev/null", os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(2, 1)  # stray prints from libraries must never corrupt the protocol
    hello = protocol.read_frame(proto_in)
    if hello is None:
        return
    uid, job_base, isolated = hello["uid"], hello["job_base"], hello["isolated"]
    t0 = time.monotonic()
    warm_up()
    own_pidns = None
    if isolated:
        from flywheel.sandbox import jail

        own_pidns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        jail.build_worker_root(job_base)
    protocol.write_frame(proto_out, {"ready": True, "pid": os.getpid(), "warm_s": time.monotonic() - t0})
    gc.freeze()  # keep the warm heap out of the collector: fewer copy-on-write faults in every forked job
    while True:
        msg = protocol.read_frame(proto_in)
        if msg is None:
            return
        job, limits = msg
        protocol.write_frame(proto_out, _run_one(job, limits, uid, job_base, isolated, own_pidns))
        _reap_finished()


def _reap_finished() -> None:
    """Reap supervisors that already reported. Their exit (tearing down the job's namespaces) takes a few
    milliseconds of kernel work that the caller need not wait for."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


if __name__ == "__main__":
    main()
