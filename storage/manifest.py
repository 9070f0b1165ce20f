"""The on-disk layout of a data dir and the part manifests that define what is committed.

A file is committed exactly when a manifest under `<data>/_manifests/` lists it; everything else is invisible.
The writer (`storage/shards.py`), the DuckDB catalog and fsck all read the layout through this module.
Layout and guarantees are described in docs/storage.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from dataclasses import asdict, dataclass, field, is_dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow as pa

from flywheel.records import PROBLEM_SCHEMA, REJECTION_SCHEMA

PROBLEMS = "problems"
REJECTIONS = "rejections"
MANIFESTS = "_manifests"
STAGING = "_staging"
KNOWLEDGE = "knowledge.json"
SCHEMAS: dict[str, pa.Schema] = {PROBLEMS: PROBLEM_SCHEMA, REJECTIONS: REJECTION_SCHEMA}
MANIFEST_FORMAT = "flywheel-part-manifest/1"


class CorruptShardError(Exception):
    """A committed file (shard or manifest) is missing, truncated, altered or unreadable.

    Raised instead of a pyarrow/DuckDB traceback; `path` names the file and `problem` says what is wrong.
    """

    def __init__(self, path: Path | str, problem: str):
        super().__init__(f"corrupt shard {path}: {problem}")
        self.path = str(path)
        self.problem = problem


@dataclass(frozen=True)
class FileEntry:
    """One committed Parquet file: where it is (relative to the data dir) and what it must look like."""

    path: str
    dataset: str  # "problems" | "rejections"
    rows: int
    bytes: int
    sha256: str


@dataclass(frozen=True)
class PartManifest:
    """One committed part of a round. A round is the union of its parts, in part order."""

    round: int
    part: int
    writer: str  # the writer's token; also embedded in its file names
    files: tuple[FileEntry, ...]
    accepted: int
    rejected: int
    final: bool = False  # the caller's "this round is complete" mark
    skipped: int = 0  # problems and rejections dropped because they were already committed
    schema_version: int = 1
    config: dict[str, Any] = field(default_factory=dict)
    code_version: dict[str, Any] = field(default_factory=dict)
    knowledge_version: Any = None
    started_at: float = 0.0
    committed_at: float = 0.0
    summary: dict[str, Any] | None = None

    def to_json(self) -> str:
        return json.dumps({"format": MANIFEST_FORMAT, **asdict(self)}, indent=1, sort_keys=True, default=_jsonable)

    @staticmethod
    def from_json(text: str) -> PartManifest:
        d = json.loads(text)
        if d.pop("format", None) != MANIFEST_FORMAT:
            raise ValueError(f"not a {MANIFEST_FORMAT} manifest")
        d["files"] = tuple(FileEntry(**f) for f in d["files"])
        return PartManifest(**d)


def _jsonable(value: Any) -> Any:
    """Caller-supplied config/versions/summaries: dataclasses become dicts, sets lists, the rest text."""
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    return str(value)


def round_name(round_: int) -> str:
    """Folder name of a round; zero-padded so folders sort in round order.

    Deliberately not hive style (`round=0001`): DuckDB and pyarrow.dataset would read that as a text/int32
    partition column clashing with the int64 `round` column every file already carries.
    """
    return f"round-{round_:04d}"


def manifest_dir(data: Path, round_: int) -> Path:
    return data / MANIFESTS / round_name(round_)


def manifest_path(data: Path, round_: int, part: int) -> Path:
    return manifest_dir(data, round_) / f"part-{part:05d}.json"


def manifest_files(data: Path) -> list[Path]:
    """Every part manifest file under the data dir, sorted."""
    return sorted(Path(data, MANIFESTS).glob("round-*/part-*.json"))


def read_manifest(path: Path) -> PartManifest:
    try:
        return PartManifest.from_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError, KeyError) as e:
        raise CorruptShardError(path, f"unreadable manifest ({type(e).__name__}: {e})") from None


def load_manifests(data: Path | str, round_: int | None = None) -> list[PartManifest]:
    """All committed parts (of one round, or of all rounds), sorted by (round, part)."""
    data = Path(data)
    paths = manifest_files(data) if round_ is None else sorted(manifest_dir(data, round_).glob("part-*.json"))
    return sorted((read_manifest(p) for p in paths), key=lambda m: (m.round, m.part))


def committed_entries(
    manifests: list[PartManifest], dataset: str | None = None, round_: int | None = None
) -> list[FileEntry]:
    """The committed files, in commit order, optionally of one dataset and/or round."""
    return [
        f
        for m in manifests
        if round_ is None or m.round == round_
        for f in m.files
        if dataset is None or f.dataset == dataset
    ]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_entry(data: Path, entry: FileEntry, *, checksum: bool) -> str | None:
    """What is wrong with a committed file (missing, wrong size, wrong sha256), or None if it looks right."""
    path = data / entry.path
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return "missing"
    if size != entry.bytes:
        return f"size {size} bytes, manifest says {entry.bytes}"
    if checksum and sha256_file(path) != entry.sha256:
        return "sha256 does not match the manifest (bytes changed)"
    return None


def foreign_entries(data: Path | str) -> list[str]:
    """Names in `data` when it is a non-empty folder holding nothing a flywheel run makes (another tool's folder,
    a git checkout, unrelated Parquet), else []: commands refuse such a folder instead of writing into it."""
    data = Path(data)
    if not data.is_dir():
        return []
    names = sorted(p.name for p in data.iterdir())
    ours = {PROBLEMS, REJECTIONS, MANIFESTS, STAGING, KNOWLEDGE, ".lock", "cache"}
    return [] if not names or ours & set(names) else names


def fsync_dir(path: Path) -> None:
    """Make a rename or link inside `path` durable (a crash after this keeps it)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_synced(path: Path, text: str) -> None:
    """Write and fsync a file, so a later rename/link never exposes a partial one."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


@cache
def code_version() -> dict[str, Any]:
    """Package version plus the git commit of the source tree when it is a checkout (else None)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        pkg = version("flywheel")
    except PackageNotFoundError:
        pkg = "unknown"
    root = Path(__file__).resolve().parent.parent
    commit = None
    if (root / ".git").exists():  # skip the subprocess for installed copies
        try:
            out = subprocess.run(
                ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
            )
            if out.returncode == 0 and out.stdout.strip():
                commit = out.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass  # no git binary, or it hung: the package version alone still identifies the code
    return {"package": pkg, "git_commit": commit}
