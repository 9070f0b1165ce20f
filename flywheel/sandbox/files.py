"""Run Python files through one sandbox pool and copy their images out: what `flywheel sandbox run` does."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path

from flywheel.sandbox.pool import Sandbox
from flywheel.sandbox.types import SandboxJob, SandboxLimits, SandboxResult


def _write_new(out_dir: Path, name: str, data: bytes) -> Path:
    """Write without ever overwriting: another run may share the folder, so pick a free name atomically."""
    stem, suffix = os.path.splitext(name)
    for n in range(10_000):
        path = out_dir / (name if n == 0 else f"{stem}-{n}{suffix}")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        except FileExistsError:
            continue
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return path.resolve()
    raise FileExistsError(f"no free file name for {name} in {out_dir}")


def result_record(file: str, result: SandboxResult, image_paths: Sequence[Path]) -> dict:
    """The JSON shape of one result; `images` are absolute paths of the copies in the output folder."""
    return {
        "file": str(Path(file).resolve()), "status": result.status, "stdout": result.stdout,
        "stderr": result.stderr, "images": [str(p) for p in image_paths],
        "error": asdict(result.error) if result.error else None, "wall_s": result.wall_s,
        "cpu_s": result.cpu_s, "exit_code": result.exit_code, "signal": result.signal,
        "stdout_truncated": result.stdout_truncated, "stderr_truncated": result.stderr_truncated,
        "isolation": result.isolation,
    }


def run_files(files: Sequence[str], inputs: Sequence[str], limits: SandboxLimits, out_dir: str,
              workers: int | None = None, isolation: str = "auto") -> Iterator[dict]:
    """Yield one result record per file, in order, as each finishes (`isolation` as for `Sandbox`)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    input_files = {os.path.basename(p): Path(p).read_bytes() for p in inputs}
    jobs = [SandboxJob.of(Path(f).read_text(encoding="utf-8", errors="replace"), input_files, limits)
            for f in files]
    with Sandbox(workers=workers or min(len(jobs), os.cpu_count() or 1, 4), limits=limits,
                 isolation=isolation) as sb:
        for file, result in zip(files, sb.map(jobs), strict=True):
            stem = Path(file).stem
            paths = [_write_new(out, f"{stem}-{img.name}", img.png) for img in result.images]
            yield result_record(file, result, paths)
