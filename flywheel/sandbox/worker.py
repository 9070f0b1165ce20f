"""A warm sandbox worker: imports the heavy libraries once, then forks one supervised child per job.

Started by `Sandbox` as `python -I -m flywheel.sandbox.worker OWNER_PID` with a clean environment; talks to
its pool over stdin/stdout frames only. After warming up it enters a user namespace (when not root),
becomes PID 1 of a worker-wide PID namespace, moves into the jail (flywheel.sandbox.jail), and supervises
one job at a time (flywheel.sandbox.supervisor): one fork per job, the job itself PID 1 of a nested namespace.
"""

from __future__ import annotations

import gc
import os
import signal
import sys
import time

from flywheel.sandbox import jail, protocol, supervisor
from flywheel.sandbox import syscalls as sc
from flywheel.sandbox.types import SandboxError, SandboxResult


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


def _serve(proto_in: int, proto_out: int, uid: int, job_base: str, worker_pidns: int | None,
           userns: bool) -> None:
    gc.freeze()  # keep the warm heap out of the collector: fewer copy-on-write faults in every forked job
    while True:
        msg = protocol.read_frame(proto_in)
        if msg is None:
            return
        job, limits = msg
        try:
            result = supervisor.supervise(job, limits, uid, job_base, worker_pidns, userns)
        except Exception as exc:  # noqa: BLE001 - a sandbox fault is reported for this job, the worker goes on
            result = SandboxResult("killed", error=SandboxError("SandboxFailure", repr(exc)))
        protocol.write_frame(proto_out, result)


def _become_namespace_init() -> None:
    """Go on as the forked serving process, PID 1 of a worker-wide PID namespace.

    Every job namespace nests inside it, so if the server dies, for whatever reason, the kernel kills every
    job with it. The original process only waits and passes on the exit status.
    """
    sc.unshare(sc.CLONE_NEWPID)
    pid = os.fork()
    if pid != 0:
        _, status = os.waitpid(pid, 0)
        os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
    sc.prctl(sc.PR_SET_PDEATHSIG, signal.SIGKILL)


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
    uid, job_base, mode = hello["uid"], hello["job_base"], hello["mode"]
    t0 = time.monotonic()
    warm_up()
    worker_pidns = None
    if mode == "degraded":  # no PID namespace: orphans of a job must come back to us to be killed
        sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)
    else:
        if mode == "userns":
            jail.enter_user_namespace(0)  # root of its own user namespace only: enough to build the jail
        _become_namespace_init()
        job_base = jail.build_worker_root(job_base)
        worker_pidns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    protocol.write_frame(proto_out, {"ready": True, "pid": os.getpid(), "warm_s": time.monotonic() - t0})
    _serve(proto_in, proto_out, uid, job_base, worker_pidns, mode == "userns")


if __name__ == "__main__":
    main()
