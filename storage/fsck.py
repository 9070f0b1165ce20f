"""Check a data dir end to end without changing it: the thorough counterpart to the catalog's cheap checks.

Every committed file must exist, have the size and sha256 its manifest records, and decode as Parquet (page
checksums verified) with the expected schema and row count; committed problem ids must be unique. Leftovers
of dead writers are listed as orphans (harmless: invisible to readers, removed by the next writer).
Run it as `fsck(data)`; tests in tests/test_storage.py corrupt files on purpose.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from storage.manifest import (
    PROBLEMS,
    SCHEMAS,
    CorruptShardError,
    FileEntry,
    PartManifest,
    committed_entries,
    manifest_files,
    read_manifest,
    sha256_file,
)
from storage.staging import find_orphans, live_tokens


@dataclass(frozen=True)
class FsckIssue:
    """One thing wrong. kind: missing | size | checksum | unreadable | schema | rows | manifest | duplicate."""

    path: str
    kind: str
    detail: str


@dataclass(frozen=True)
class FsckReport:
    """What fsck found; `ok` is False when any committed data is missing or corrupt (orphans do not count)."""

    ok: bool
    files_checked: int
    rows_checked: int
    bytes_checked: int
    issues: tuple[FsckIssue, ...]
    orphans: tuple[str, ...]

    def describe(self) -> str:
        """A few lines for people: the verdict, then one line per issue and per orphan."""
        head = "ok" if self.ok else f"CORRUPT: {len(self.issues)} issue(s)"
        lines = [f"{head}: {self.files_checked} files, {self.rows_checked} rows, {self.bytes_checked} bytes checked"]
        lines += [f"  {i.kind}: {i.path}: {i.detail}" for i in self.issues]
        lines += [f"  orphan (ignored by readers): {o}" for o in self.orphans]
        return "\n".join(lines)


def _check_file(data: Path, entry: FileEntry) -> tuple[str, str] | None:
    """(kind, detail) of the first thing wrong with one committed file, or None."""
    path = data / entry.path
    if not path.is_file():
        return "missing", "listed in a manifest but not on disk"
    size = path.stat().st_size
    if size != entry.bytes:
        return "size", f"{size} bytes on disk, manifest says {entry.bytes} (truncated or appended)"
    if sha256_file(path) != entry.sha256:
        return "checksum", "sha256 differs from the manifest (bytes changed)"
    try:
        pf = pq.ParquetFile(path)
        expected = SCHEMAS[entry.dataset]
        if not pf.schema_arrow.remove_metadata().equals(expected.remove_metadata()):
            got = ", ".join(f"{f.name}:{f.type}" for f in pf.schema_arrow)
            return "schema", f"columns are not the {entry.dataset} schema: {got}"
        if pf.metadata.num_rows != entry.rows:
            return "rows", f"{pf.metadata.num_rows} rows, manifest says {entry.rows}"
        pq.read_table(path, page_checksum_verification=True)  # decode every page
    except (pa.ArrowException, OSError) as e:
        return "unreadable", f"{type(e).__name__}: {e}"
    return None


def _load(data: Path, issues: list[FsckIssue]) -> list[PartManifest]:
    manifests = []
    for path in manifest_files(data):
        try:
            manifests.append(read_manifest(path))
        except CorruptShardError as e:
            issues.append(FsckIssue(str(path), "manifest", e.problem))
    return manifests


def _duplicate_ids(data: Path, good: list[FileEntry]) -> list[FsckIssue]:
    """Committed problem ids must be unique across all rounds: the writer's own invariant, re-checked."""
    seen: Counter[str] = Counter()
    issues = []
    for entry in (e for e in good if e.dataset == PROBLEMS):
        ids = pq.read_table(data / entry.path, columns=["id"]).column("id").to_pylist()
        repeated = [i for i in ids if seen[i]]
        seen.update(ids)
        if repeated:
            detail = f"{len(repeated)} problem id(s) committed earlier, e.g. {repeated[0]}"
            issues.append(FsckIssue(str(data / entry.path), "duplicate", detail))
    return issues


def fsck(data: Path | str) -> FsckReport:
    """Check every committed file and list orphans; never modifies anything."""
    data = Path(data)
    issues: list[FsckIssue] = []
    manifests = _load(data, issues)
    entries = committed_entries(manifests)
    for path, n in Counter(e.path for e in entries).items():
        if n > 1:
            issues.append(FsckIssue(str(data / path), "duplicate", f"listed by {n} manifests"))
    good = []
    for entry in entries:
        found = _check_file(data, entry)
        if found:
            issues.append(FsckIssue(str(data / entry.path), *found))
        else:
            good.append(entry)
    issues += _duplicate_ids(data, good)
    # With a broken manifest we cannot tell committed from orphaned files, so list none rather than guess.
    orphans = [] if any(i.kind == "manifest" for i in issues) else find_orphans(data, live_tokens(data))
    return FsckReport(
        ok=not issues,
        files_checked=len(entries),
        rows_checked=sum(e.rows for e in good),
        bytes_checked=sum(e.bytes for e in good),
        issues=tuple(issues),
        orphans=tuple(str(p) for p in orphans),
    )
