"""The filesystem a job sees: a read-only root that holds only what Python needs, and one writable folder.

Built once per warm worker (after its imports, so nothing lazy is missing) inside private mount, network,
IPC and UTS namespaces; each job then gets a size-capped tmpfs as its folder and, as PID 1 of its own PID
namespace, private mount and IPC namespaces with a /proc that shows only its own processes.
Host paths such as /root, /home, /tmp, /run and other jobs'
folders simply do not exist in the view, so neither reading, writing nor connecting to a Unix socket there is
possible. Without root the same is built inside a user namespace (`enter_user_namespace`): the worker is
root only there, and each job enters a nested one as an unprivileged uid with no capabilities.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable

from flywheel.sandbox import syscalls as sc

SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")


def python_dirs() -> list[str]:
    """Directories the interpreter and every imported package live in (read-only inside the jail)."""
    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable))}
    dirs.update(p for p in sys.path if p and os.path.isdir(p))
    for mod in list(sys.modules.values()):
        for p in list(getattr(mod, "__path__", None) or []):
            if isinstance(p, str) and os.path.isdir(p):
                dirs.add(os.path.dirname(os.path.realpath(p)))
        f = getattr(mod, "__file__", None)
        if isinstance(f, str) and os.path.isfile(f):
            dirs.add(os.path.dirname(os.path.realpath(f)))
    # Never the filesystem root or a home: the jail exposes only what imports need.
    return [d for d in (os.path.realpath(x) for x in dirs) if d not in ("/", "/root", "/home", "/tmp")]


def minimal_cover(paths: Iterable[str]) -> list[str]:
    """Drop paths that lie inside another path of the set.

    >>> minimal_cover(["/usr/lib/x", "/usr", "/opt/a", "/opt/ab"])
    ['/opt/a', '/opt/ab', '/usr']
    """
    out: list[str] = []
    for p in sorted(set(paths)):
        if not any(p == q or p.startswith(q.rstrip("/") + "/") for q in out):
            out.append(p)
    return out


def _bind(fd: int, target: str, is_dir: bool, devices: bool = False) -> None:
    if is_dir:
        os.makedirs(target, mode=0o755, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
        with open(target, "ab"):
            pass
    src = f"/proc/self/fd/{fd}"
    sc.mount(src, target, None, sc.MS_BIND | sc.MS_REC)
    if devices:
        if not sc.make_readonly_recursive(target, nodev=False):
            sc.mount(None, target, None, sc.MS_REMOUNT | sc.MS_BIND | sc.MS_RDONLY | sc.MS_NOSUID)
    elif not sc.make_readonly_recursive(target):
        sc.mount(None, target, None, sc.MS_REMOUNT | sc.MS_BIND | sc.MS_RDONLY | sc.MS_NOSUID | sc.MS_NODEV)


def jobs_mountpoint(tmp_dir: str, bound: Iterable[str]) -> str:
    """Where each job's tmpfs goes: `<TMPDIR>/flywheel-jobs`, unless that lies inside a read-only bind
    (then /tmp/flywheel-jobs). Never TMPDIR itself: the venv or the project may live below it.

    >>> jobs_mountpoint("/tmp", ["/tmp/ci/.venv"])
    '/tmp/flywheel-jobs'
    >>> jobs_mountpoint("/work/proj/tmp", ["/work/proj"])
    '/tmp/flywheel-jobs'
    """
    inside = any(tmp_dir == b or tmp_dir.startswith(b.rstrip("/") + "/") for b in bound)
    return os.path.join("/tmp" if inside else tmp_dir, "flywheel-jobs")


def enter_user_namespace(inner_uid: int) -> None:
    """Enter a new user namespace in which this process's uid and gid appear as `inner_uid` (one id mapped).

    The worker maps the caller to 0 (root inside, to mount and pivot; nothing on the host); a job maps the
    worker's 0 to an unprivileged uid, so RLIMIT_NPROC counts the job's own processes only.
    """
    uid, gid = os.getuid(), os.getgid()
    sc.unshare(sc.CLONE_NEWUSER)
    for name, text in (("setgroups", "deny"), ("uid_map", f"{inner_uid} {uid} 1"),
                       ("gid_map", f"{inner_uid} {gid} 1")):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)


def build_worker_root(tmp_dir: str, extra_ro: Iterable[str] = ()) -> str:
    """Enter private namespaces and pivot into a fresh read-only root. Runs once in the worker, as root (of
    the host, or of its user namespace), already PID 1 of the worker's PID namespace: its /proc goes into the
    new root before the host's is detached (a user namespace may mount proc only while one is visible).

    Returns the (empty) directory on which each job's tmpfs folder is mounted.
    """
    sc.unshare(sc.CLONE_NEWNS | sc.CLONE_NEWNET | sc.CLONE_NEWIPC | sc.CLONE_NEWUTS)
    sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)
    symlinks: dict[str, str] = {}
    sources: dict[str, tuple[int, bool]] = {}
    for path in minimal_cover([*SYSTEM_DIRS, *python_dirs(), *extra_ro]):
        if os.path.islink(path) and path in SYSTEM_DIRS:
            symlinks[path] = os.readlink(path)
        elif os.path.exists(path):
            # Open before the tmpfs goes up: the source may live under the mount point we are about to cover.
            sources[path] = (os.open(path, os.O_PATH | os.O_CLOEXEC), os.path.isdir(path))
    devices = {d: os.open(d, os.O_PATH | os.O_CLOEXEC) for d in DEVICES if os.path.exists(d)}

    job_base = jobs_mountpoint(tmp_dir, sources)
    new_root = "/tmp" if os.path.isdir("/tmp") else "/mnt"
    sc.mount("flywheel-jail", new_root, "tmpfs", sc.MS_NOSUID | sc.MS_NODEV, "mode=0755,size=16m")
    for path, (fd, is_dir) in sources.items():
        _bind(fd, new_root + path, is_dir)
        os.close(fd)
    for path, fd in devices.items():
        _bind(fd, new_root + path, False, devices=True)
        os.close(fd)
    for path, dest in symlinks.items():
        os.symlink(dest, new_root + path)
    for d in ("/proc", "/dev/shm", job_base):
        os.makedirs(new_root + d, mode=0o755, exist_ok=True)
    sc.mount("proc", new_root + "/proc", "proc", sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC)

    os.chdir(new_root)
    sc.pivot_root(".", ".")
    sc.umount2(".", sc.MNT_DETACH)
    os.chdir("/")
    sc.mount(None, "/", None, sc.MS_REMOUNT | sc.MS_RDONLY | sc.MS_NOSUID | sc.MS_NODEV)
    return job_base


def mount_job_folder(job_base: str, disk_mb: int) -> None:
    """In the worker: a fresh size- and inode-capped tmpfs for the next job (unmounted after it)."""
    sc.mount("flywheel-job", job_base, "tmpfs", sc.MS_NOSUID | sc.MS_NODEV,
             f"mode=0755,size={disk_mb}m,nr_inodes=8192")


def unmount_job_folder(job_base: str) -> None:
    sc.umount2(job_base, sc.MNT_DETACH)


def enter_job_namespaces(shm_mb: int) -> None:
    """In the job, still root and PID 1 of its own PID namespace: private mounts and IPC, a fresh /proc,
    and a small private /dev/shm (multiprocessing's semaphores live there)."""
    sc.unshare(sc.CLONE_NEWNS | sc.CLONE_NEWIPC | sc.CLONE_NEWUTS)
    sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)
    sc.mount("proc", "/proc", "proc", sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC)
    sc.mount("flywheel-shm", "/dev/shm", "tmpfs", sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC,
             f"mode=1777,size={shm_mb}m,nr_inodes=1024")
