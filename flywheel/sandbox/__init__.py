"""The sandbox: the one place where model-written or generated Python runs.

Call `Sandbox().run(code, inputs={"image.png": png}, limits=SandboxLimits(...)) -> SandboxResult`, or
`submit`/`map`/`arun` to stream many jobs through the warm pool; `flywheel.sandbox.ray_pool` shares one
pool per node with many Ray callers; `flywheel sandbox run FILE.py` runs files from the command line.

How a job runs: a warm worker (started with an environment built from nothing, heavy libraries imported,
then made PID 1 of a worker-wide PID namespace and moved into private mount/network/IPC/UTS namespaces and
a read-only root that holds only the system and Python directories) mounts a fresh size-capped tmpfs
folder and forks the job as PID 1 of a nested PID namespace; the job mounts its own /proc, drops to an
unprivileged uid (distinct per worker, never 0), sets no_new_privs and kernel rlimits, then runs the code.

Modes (`isolation_mode()`, and `SandboxResult.isolation` of every result):
- "full": as root. Namespaces as above; the job switches to its uid with setresuid.
- "userns": not root, where the kernel allows unprivileged user namespaces (probed once per process). The
  worker first enters a user namespace that maps the caller to 0 (root there only), then builds the same
  namespaces and jail; each job enters a nested user namespace as its unprivileged uid and drops every
  capability. Everything below is contained the same way; on the host, jobs run as the caller's uid.
- "degraded": neither. `Sandbox()` refuses to start; `Sandbox(isolation="degraded")` (config
  `[sandbox] isolation = "degraded"`) runs with rlimits, a clean environment, and every descendant of
  the job killed at its end (the worker is a child subreaper) only.

Threat model
------------
Contained (each has a test in tests/test_sandbox_*.py that attacks it from inside a job):
- CPU and wall time: infinite loops, ignored signals (SIGKILL from the worker and the RLIMIT_CPU hard limit).
- Memory: RLIMIT_AS of `memory_mb` above the warm interpreter, per process -> "memory" or "killed".
- Processes/threads (RLIMIT_NPROC on the job's own uid; with "userns", counted in the job's own user
  namespace), open files (RLIMIT_NOFILE), file size
  (RLIMIT_FSIZE), disk use (size- and inode-capped tmpfs), stdout/stderr floods (capped, drained).
- Filesystem: the only writable place is the job's own tmpfs folder; the root is read-only and does not
  contain /root, /home, /tmp, /run or other jobs' folders; root-only files stay unreadable (uid != 0).
- Network: the worker's network namespace has only a downed loopback: no TCP/UDP/Unix-socket traffic to the
  host, loopback included; abstract Unix sockets are per namespace too.
- Processes outside the job: invisible (PID namespace) and unsignalable (other uid, kill(-1) stays inside the
  namespace). The job is PID 1 of its namespace, so when it ends (or is killed at its limit) the kernel
  ends daemons, double forks, new sessions and children holding its pipes; the worker is PID 1 of the
  enclosing namespace, so if the worker dies every job goes too (and the worker dies with its pool).
- Secrets in the environment: workers start with an environment built from nothing, so neither os.environ
  nor /proc/*/environ of any process a job can see holds a caller's variable.
- Privilege: no capabilities after the uid switch, no_new_privs blocks setuid binaries, hard limits cannot
  be raised.
- Forged output: results travel in length-prefixed frames on descriptors the job never holds; the status is
  decided from the kernel's exit status and CPU accounting, not from what the job prints or reports.

Not contained (and why):
- Kernel exploits: jobs share the host kernel (no seccomp filter or VM); use VMs/gVisor for hostile tenants.
- Total memory of a fork bomb that also allocates: RLIMIT_AS is per process; a cgroup would bound the sum
  and is not used yet (cgroup v1/v2 layouts vary between hosts).
- CPU side channels and timing; reading world-readable files in /usr, /etc and the Python directories.
- Degraded mode (no root and no user namespaces, or off Linux), only when asked for: rlimits, a fresh
  folder, a clean environment and every descendant killed at the end (tested in
  tests/test_sandbox_nonroot.py), nothing more: the job runs as the caller, so it can read the caller's
  files and /proc/<pid>/environ of the caller's processes, reach the network, and signal the caller's
  processes (the worker included). Results say `isolation="degraded"`.
- "userns": the kernel's user-namespace code is more attack surface than root mode's (still no seccomp);
  on the host, jobs run as the caller's uid, so they count against the caller's own RLIMIT_NPROC too.
  Where the kernel refuses namespaces even to root, workers fail to start and the pool reports it.
"""

from flywheel.sandbox.pool import Sandbox, isolation_available, isolation_mode
from flywheel.sandbox.types import (
    STATUSES,
    SandboxError,
    SandboxImage,
    SandboxJob,
    SandboxLimits,
    SandboxResult,
    Status,
)

__all__ = ["STATUSES", "Sandbox", "SandboxError", "SandboxImage", "SandboxJob", "SandboxLimits",
           "SandboxResult", "Status", "isolation_available", "isolation_mode"]
