"""Read what is committed: the files the manifests list, as paths, Arrow tables or records.

Nothing here looks at a folder listing, so a writer's half-finished part is never seen. Ray Data, exports and
the trainer should take `committed_paths()` (an explicit list) rather than globbing the data dir.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from flywheel.records import Problem, Rejection, table_to_problems, table_to_rejections
from storage.manifest import (
    PROBLEMS,
    REJECTIONS,
    SCHEMAS,
    CorruptShardError,
    check_entry,
    committed_entries,
    load_manifests,
)


def committed_paths(data: Path | str, dataset: str = PROBLEMS, round: int | None = None) -> list[Path]:
    """Absolute paths of committed files (for Ray Data / exports: pass this list, never a glob)."""
    data = Path(data)
    return [data / f.path for f in committed_entries(load_manifests(data, round), dataset, round)]


def read_table(
    data: Path | str, dataset: str = PROBLEMS, round: int | None = None, columns: list[str] | None = None
) -> pa.Table:
    """The committed rows of a dataset as one Arrow table; CorruptShardError names a broken file."""
    data = Path(data)
    tables = []
    for entry in committed_entries(load_manifests(data, round), dataset, round):
        problem = check_entry(data, entry, checksum=False)
        if problem:
            raise CorruptShardError(data / entry.path, problem)
        try:
            tables.append(_read_columns(data / entry.path, columns, SCHEMAS[dataset]))
        except (pa.ArrowException, OSError) as e:
            raise CorruptShardError(data / entry.path, f"unreadable Parquet ({e})") from None
    if not tables:
        schema = SCHEMAS[dataset]
        return schema.empty_table().select(columns) if columns else schema.empty_table()
    return pa.concat_tables(tables, promote_options="default")


def _read_columns(path: Path, columns: list[str] | None, schema: pa.Schema) -> pa.Table:
    """A shard's `columns`; one written under an older schema gets NULLs (read back as defaults) for a known
    column it lacks, e.g. `depth` before schema version 3."""
    if columns is None:
        return pq.read_table(path)
    have = set(pq.read_schema(path).names)
    table = pq.read_table(path, columns=[c for c in columns if c in have or c not in schema.names])
    for name in columns:
        if name not in have and name in schema.names:
            table = table.append_column(schema.field(name), pa.nulls(len(table), schema.field(name).type))
    return table.select(columns)


def committed_ids(data: Path | str) -> set[str]:
    """Ids of every committed problem, all rounds."""
    return set(read_table(data, PROBLEMS, columns=["id"]).column("id").to_pylist())


def committed_rounds(data: Path | str, final_only: bool = False) -> list[int]:
    """Rounds with at least one committed part (or, with `final_only`, a part marked final), ascending."""
    return sorted({m.round for m in load_manifests(data) if m.final or not final_only})


def read_round(data: Path | str, round: int) -> list[Problem]:
    """A round's accepted problems, in commit order."""
    return table_to_problems(read_table(data, PROBLEMS, round))


def read_rejections(data: Path | str, round: int) -> list[Rejection]:
    """A round's rejections, in commit order."""
    return table_to_rejections(read_table(data, REJECTIONS, round))
