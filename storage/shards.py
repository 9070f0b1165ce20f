"""Commit a round's accepted problems and rejections as zstd Parquet shards, atomically, part by part.

The round hands each batch to `ShardWriter.commit_part`: files are written and fsynced in the writer's
staging folder, renamed into `problems/round-NNNN/` and `rejections/round-NNNN/`, and become visible only when
the part's manifest is linked into `_manifests/` last. A killed writer leaves nothing visible; the next writer
removes its leftovers. The readers (storage/readers.py, re-exported here) see committed files only.
A full disk (ENOSPC, EDQUOT) during a commit removes what the part had staged or placed and raises
StorageFullError: the part is not committed, earlier parts stay intact, and a rerun with space resumes.
Tested by tests/test_storage.py, which SIGKILLs a real writer process mid-commit.
"""

from __future__ import annotations

import errno
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from flywheel.records import (
    SCHEMA_VERSION,
    Problem,
    Rejection,
    problems_to_table,
    rejections_to_table,
)
from storage.manifest import (
    PROBLEMS,
    REJECTIONS,
    SCHEMAS,
    STAGING,
    FileEntry,
    PartManifest,
    code_version,
    fsync_dir,
    manifest_dir,
    manifest_path,
    round_name,
    sha256_file,
    write_synced,
)
from storage.readers import (
    committed_ids,
    committed_paths,
    committed_rounds,
    read_rejections,
    read_round,
    read_table,
)
from storage.staging import LOCK, register_writer, release_writer

# The readers are re-exported so callers can take the writer and its read side from one module.
__all__ = [
    "ShardWriter",
    "StorageFullError",
    "committed_ids",
    "committed_paths",
    "committed_rounds",
    "read_rejections",
    "read_round",
    "read_table",
]

# Roll to a new file past this estimated size: big enough for fast scans, small enough to rewrite or copy.
FILE_BYTES = 256 << 20
# Row groups of PNG rows of a few tens of MB: a reader decodes one at a time with bounded memory.
ROW_GROUP_BYTES = 32 << 20
# Dictionary-encoding unique PNG bytes only costs time (the writer tries, then falls back): about a third of
# the write time for image-heavy shards. Every other top-level column keeps dictionary encoding.
_DICTIONARY_COLUMNS = {ds: [f.name for f in s if not pa.types.is_binary(f.type)] for ds, s in SCHEMAS.items()}
Hook = Callable[[str, Path], None]  # (event, path): "staged" | "placed" | "committed"; progress and tests


class StorageFullError(OSError):
    """No space (or quota) left while committing a part; nothing of that part was committed."""


class ShardWriter:
    """Writes one round, in as many atomic parts as the caller likes; use as a context manager.

    Problems whose id is already committed (any round) and rejections already committed in this round (same
    id, stage, reason) are skipped, so re-committing a part after a resume never duplicates rows.
    """

    def __init__(
        self,
        data: Path | str,
        round: int,
        *,
        config: dict[str, Any] | None = None,
        knowledge_version: Any = None,
        file_bytes: int = FILE_BYTES,
        row_group_bytes: int = ROW_GROUP_BYTES,
        hook: Hook | None = None,
    ):
        self.data, self.round = Path(data), round
        self.config, self.knowledge_version = dict(config or {}), knowledge_version
        self.file_bytes, self.row_group_bytes, self.hook = file_bytes, row_group_bytes, hook
        self.token = uuid.uuid4().hex[:12]
        self.data.mkdir(parents=True, exist_ok=True)
        self._lock_fd: int | None = register_writer(self.data, self.token)
        self._staging = self.data / STAGING / self.token
        try:
            self._ids = committed_ids(self.data)
            self._rejection_keys = _rejection_keys(self.data, round)
        except BaseException:  # e.g. CorruptShardError: do not leave a locked staging folder behind
            self.close()
            raise

    @property
    def committed(self) -> frozenset[str]:
        """Ids committed so far (all rounds): a resumed round skips work whose output is in here."""
        return frozenset(self._ids)

    def commit_part(
        self,
        problems: Sequence[Problem] = (),
        rejections: Sequence[Rejection] = (),
        *,
        summary: dict[str, Any] | None = None,
        final: bool = False,
    ) -> PartManifest | None:
        """Commit one part atomically; returns its manifest, or None when there was nothing new to write.

        `summary` (any JSON-able dict) shows up flattened in the `rounds` view; `final=True` marks the round
        complete. A part with no new rows is still written when it carries a summary or the final mark.
        """
        if self._lock_fd is None:
            raise RuntimeError("ShardWriter: commit_part after close()")
        started = time.time()
        fresh = self._fresh_problems(problems)
        fresh_rej = self._fresh_rejections(rejections)
        skipped = len(problems) + len(rejections) - len(fresh) - len(fresh_rej)
        if not fresh and not fresh_rej and summary is None and not final:
            return None
        part = _next_part(self.data, self.round)
        try:
            return self._commit(part, fresh, fresh_rej, skipped, started, summary, final)
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT) or isinstance(exc, StorageFullError):
                raise
            self._discard_uncommitted()
            raise StorageFullError(exc.errno, f"no space left on device while committing round {self.round} "
                                   f"part {part} to {self.data}; that part was not committed (its files were "
                                   "removed) and earlier parts are intact: free some space, then rerun with "
                                   "--resume") from exc

    def _commit(self, part: int, fresh: list[Problem], fresh_rej: list[Rejection], skipped: int, started: float,
                summary: dict[str, Any] | None, final: bool) -> PartManifest:
        staged = self._stage(PROBLEMS, fresh, problems_to_table, _problem_bytes, part)
        staged += self._stage(REJECTIONS, fresh_rej, rejections_to_table, _rejection_bytes, part)
        files = self._place(staged)
        manifest = PartManifest(
            round=self.round,
            part=part,
            writer=self.token,
            files=tuple(files),
            accepted=len(fresh),
            rejected=len(fresh_rej),
            final=final,
            skipped=skipped,
            schema_version=SCHEMA_VERSION,
            config=self.config,
            code_version=code_version(),
            knowledge_version=self.knowledge_version,
            started_at=started,
            committed_at=time.time(),
            summary=summary,
        )
        manifest = self._publish(manifest)
        self._ids.update(p.id for p in fresh)
        self._rejection_keys.update(_rejection_key(r) for r in fresh_rej)
        return manifest

    def _discard_uncommitted(self) -> None:
        """After a failed commit: remove what this writer staged and placed that no manifest lists (a part
        whose manifest got linked is committed and kept)."""
        listed = set(committed_paths(self.data, PROBLEMS, self.round) + committed_paths(self.data, REJECTIONS,
                                                                                          self.round))
        for path in self._staging.iterdir():
            if path.is_file() and path.name != LOCK:
                path.unlink(missing_ok=True)
        for dataset in (PROBLEMS, REJECTIONS):
            for path in (self.data / dataset / round_name(self.round)).glob(f"part-*-{self.token}-*.parquet"):
                if path not in listed:
                    path.unlink(missing_ok=True)

    def close(self) -> None:
        """Drop the staging folder and the lock; a writer that dies without this is cleaned up by the next."""
        if self._lock_fd is not None:
            release_writer(self.data, self.token, self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _fresh_problems(self, problems: Sequence[Problem]) -> list[Problem]:
        seen, fresh = set(self._ids), []
        for p in problems:
            if not p.id or p.id != p.content_id():
                raise ValueError(f"ShardWriter: problem id {p.id!r} is not its content hash (call with_id())")
            if p.round != self.round:
                raise ValueError(f"ShardWriter: problem {p.id} is from round {p.round}, not {self.round}")
            if p.id not in seen:
                seen.add(p.id)
                fresh.append(p)
        return fresh

    def _fresh_rejections(self, rejections: Sequence[Rejection]) -> list[Rejection]:
        seen, fresh = set(self._rejection_keys), []
        for r in rejections:
            if r.round != self.round:
                raise ValueError(f"ShardWriter: rejection {r.id} is from round {r.round}, not {self.round}")
            if _rejection_key(r) not in seen:
                seen.add(_rejection_key(r))
                fresh.append(r)
        return fresh

    def _stage(
        self,
        dataset: str,
        records: Sequence[Any],
        to_table: Callable[[Sequence[Any]], pa.Table],
        estimate: Callable[[Any], int],
        part: int,
    ) -> list[tuple[str, Path, int]]:
        """Write records as Parquet files in staging, fsynced; returns (dataset, staged path, rows)."""
        staged = []
        chunks = _chunks(records, estimate, self.file_bytes, self.row_group_bytes)
        for seq, (chunk, group_rows) in enumerate(chunks):
            path = self._staging / f"{dataset}-part-{part:05d}-{self.token}-{seq:03d}.parquet"
            with open(path, "wb") as f:
                # Page checksums let fsck (pyarrow) catch bit rot inside a page, not only in the file hash.
                opts = {"compression": "zstd", "row_group_size": group_rows, "write_page_checksum": True}
                pq.write_table(to_table(chunk), f, use_dictionary=_DICTIONARY_COLUMNS[dataset], **opts)
                f.flush()
                os.fsync(f.fileno())
            staged.append((dataset, path, len(chunk)))
            self._emit("staged", path)
        return staged

    def _place(self, staged: list[tuple[str, Path, int]]) -> list[FileEntry]:
        """Rename staged files into their round folders (still invisible: no manifest lists them yet)."""
        entries, folders = [], set()
        for dataset, path, rows in staged:
            name = path.name.removeprefix(f"{dataset}-")
            dest = self.data / dataset / round_name(self.round) / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            size, digest = path.stat().st_size, sha256_file(path)
            os.rename(path, dest)
            folders.update((dest.parent, dest.parent.parent))
            entries.append(FileEntry(dest.relative_to(self.data).as_posix(), dataset, rows, size, digest))
            self._emit("placed", dest)
        for folder in folders:
            fsync_dir(folder)
        return entries

    def _publish(self, manifest: PartManifest) -> PartManifest:
        """The commit point: link the fsynced manifest into place; `link` fails rather than overwrite."""
        folder = manifest_dir(self.data, self.round)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = self._staging / "manifest.json"
        while True:
            write_synced(tmp, manifest.to_json())
            target = manifest_path(self.data, self.round, manifest.part)
            try:
                os.link(tmp, target)
                break
            except FileExistsError:  # another writer took this part number first
                manifest = replace(manifest, part=manifest.part + 1)
        tmp.unlink()
        fsync_dir(folder)
        fsync_dir(folder.parent)
        self._emit("committed", target)
        return manifest

    def _emit(self, event: str, path: Path) -> None:
        if self.hook is not None:
            self.hook(event, path)


def _chunks(
    records: Sequence[Any], estimate: Callable[[Any], int], file_bytes: int, group_bytes: int
) -> Iterator[tuple[list[Any], int]]:
    """Split records into files of about `file_bytes`, each with a row-group size of about `group_bytes`."""
    chunk: list[Any] = []
    size = 0
    for r in records:
        chunk.append(r)
        size += estimate(r)
        if size >= file_bytes:
            yield chunk, max(1, len(chunk) * group_bytes // size)
            chunk, size = [], 0
    if chunk:
        yield chunk, max(1, len(chunk) * group_bytes // max(size, 1))


def _problem_bytes(p: Problem) -> int:
    steps = sum(len(s.text) + len(s.code) for s in p.solution)
    text = len(p.question) + len(p.render_code) + len(p.answer_code) + len(p.check_code) + steps
    return len(p.image or b"") + len(p.edited_image or b"") + text + 256


def _rejection_bytes(r: Rejection) -> int:
    return len(r.raw) + len(r.detail) + 128


def _rejection_key(r: Rejection) -> tuple[str, str, str]:
    return (r.id, r.stage, r.reason)


def _next_part(data: Path, round: int) -> int:
    numbers = [
        int(m.group(1))
        for p in manifest_dir(data, round).glob("part-*.json")
        if (m := re.fullmatch(r"part-(\d+)\.json", p.name))
    ]
    return max(numbers, default=-1) + 1


def _rejection_keys(data: Path, round: int) -> set[tuple[str, str, str]]:
    t = read_table(data, REJECTIONS, round, columns=["id", "stage", "reason"])
    return set(zip(*(t.column(c).to_pylist() for c in ("id", "stage", "reason")), strict=True))
