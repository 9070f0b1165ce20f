"""Typed inputs and outputs of the sandbox: limits, a job, its result.

These are plain frozen dataclasses so results cross process and Ray boundaries (pickle) unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal["ok", "error", "timeout", "memory", "killed", "forbidden"]
STATUSES: tuple[Status, ...] = ("ok", "error", "timeout", "memory", "killed", "forbidden")

MiB = 1024 * 1024


@dataclass(frozen=True)
class SandboxLimits:
    """Per-job limits. Every field is enforced by the kernel at run time, not by inspecting the code."""

    wall_s: float = 10.0  # wall-clock seconds before the whole job is killed (status "timeout")
    cpu_s: float | None = None  # CPU seconds (RLIMIT_CPU); None = wall_s rounded up
    memory_mb: int = 1024  # memory the job may add on top of the warm interpreter it was forked from
    max_procs: int = 256  # processes + threads of the job (RLIMIT_NPROC on its own uid, pids cgroup)
    max_open_files: int = 1024  # RLIMIT_NOFILE
    file_size_mb: int = 64  # largest file the job may write (RLIMIT_FSIZE); also the cap per returned PNG
    disk_mb: int = 256  # size of the job's private tmpfs folder (bounds many files of max size)
    output_bytes: int = 1 * MiB  # stdout and stderr are each kept up to this many bytes
    max_images: int = 32  # PNGs returned at most
    max_source_bytes: int = 4 * MiB  # larger source is "forbidden" before it runs
    deny_imports: tuple[str, ...] = ()  # optional static pre-check ("forbidden"); runtime limits still apply

    def effective_cpu_s(self) -> int:
        return max(1, int(-(-(self.cpu_s if self.cpu_s is not None else self.wall_s) // 1)))


@dataclass(frozen=True)
class SandboxImage:
    """A PNG that came back from a job: a file it saved in its folder, or a figure it left open."""

    name: str
    png: bytes


@dataclass(frozen=True)
class SandboxError:
    """Why a job did not finish cleanly: the exception (or exit/signal) and the line of the job's code."""

    type: str
    message: str
    line: int | None = None


@dataclass(frozen=True)
class SandboxResult:
    status: Status
    stdout: str = ""
    stderr: str = ""
    images: tuple[SandboxImage, ...] = ()
    error: SandboxError | None = None
    wall_s: float = 0.0
    cpu_s: float = 0.0
    exit_code: int | None = None
    signal: int | None = None
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    max_rss_mb: float = 0.0
    isolation: str = "full"

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def last_line(self) -> str:
        """The last non-empty stdout line: where answer code prints its answer."""
        lines = [ln.strip() for ln in self.stdout.splitlines() if ln.strip()]
        return lines[-1] if lines else ""


@dataclass(frozen=True)
class SandboxJob:
    """One unit of work: source code plus input files that appear in the job's folder by name."""

    code: str
    inputs: tuple[tuple[str, bytes], ...] = ()
    limits: SandboxLimits | None = None

    @staticmethod
    def of(code: str, inputs: dict[str, bytes] | None = None, limits: SandboxLimits | None = None) -> SandboxJob:
        return SandboxJob(code, tuple(sorted((inputs or {}).items())), limits)
