"""DuckDB over the committed shards: views `problems`, `rejections`, `rounds`, `concepts`, and `query()`.

The views read exactly the files the manifests list (an explicit list to `read_parquet`, never a glob), so a
half-written part is invisible. Broken files surface as `CorruptShardError` naming the file, not a DuckDB
traceback. This is what `flywheel query "SELECT ..."` calls; tests in tests/test_storage.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from storage.formats import FORMATS
from storage.manifest import (
    KNOWLEDGE,
    PROBLEMS,
    REJECTIONS,
    SCHEMAS,
    CorruptShardError,
    PartManifest,
    check_entry,
    committed_entries,
    load_manifests,
)

ROUNDS_SCHEMA = pa.schema(
    [
        ("round", pa.int64()),
        ("parts", pa.int64()),
        ("accepted", pa.int64()),
        ("rejected", pa.int64()),
        ("skipped", pa.int64()),
        ("files", pa.int64()),
        ("bytes", pa.int64()),
        ("final", pa.bool_()),
        ("started_at", pa.float64()),
        ("committed_at", pa.float64()),
        ("schema_version", pa.int64()),
        ("code_version", pa.string()),
        ("knowledge_version", pa.string()),
        ("config", pa.string()),  # JSON text: config->>'$.evolve.rounds' in DuckDB
    ]
)
CONCEPTS_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("name", pa.string()),
        ("kind", pa.string()),  # "concept" | "tool"
        ("domain", pa.string()),
        ("level", pa.int64()),
        ("added_round", pa.int64()),
        ("description", pa.string()),
        ("prerequisites", pa.list_(pa.string())),
        ("parents", pa.list_(pa.string())),
        ("tool_kind", pa.string()),
    ]
)
# DuckDB errors that are about the SQL itself, never about a file: no need to check any shard.
_SQL_ERRORS = (duckdb.ParserException, duckdb.BinderException, duckdb.CatalogException, duckdb.SyntaxException)


def connect(data: Path | str, *, verify: bool = False) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the four views over `data`.

    Every committed file is checked for existence and size first (cheap, catches truncation); `verify=True`
    also checks every sha256 (reads everything). Raises CorruptShardError naming the first bad file.
    """
    data = Path(data)
    manifests = load_manifests(data)
    for entry in committed_entries(manifests):
        problem = check_entry(data, entry, checksum=verify)
        if problem:
            raise CorruptShardError(data / entry.path, problem)
    con = duckdb.connect()
    try:
        for dataset in (PROBLEMS, REJECTIONS):
            paths = [str(data / f.path) for f in committed_entries(manifests, dataset)]
            _dataset_view(con, dataset, paths)
        _arrow_view(con, "rounds", rounds_table(manifests))
        _arrow_view(con, "concepts", concepts_table(data))
    except duckdb.Error as err:
        con.close()
        raise (diagnose(data, err) or err) from None
    except BaseException:
        con.close()
        raise
    return con


def query(data: Path | str, sql: str, fmt: str = "table", *, verify: bool = False) -> str:
    """Run one SQL query over the views and render it as "table", "json" (one array) or "csv"."""
    if fmt not in FORMATS:
        raise ValueError(f"query: format must be one of {sorted(FORMATS)}, not {fmt!r}")
    con = connect(data, verify=verify)
    try:
        cursor = con.execute(sql)
        if cursor.description is None:  # a statement without a result set
            return ""
        columns = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    except duckdb.Error as err:
        found = diagnose(data, err)
        if found is None:
            raise
        raise found from None
    finally:
        con.close()
    return FORMATS[fmt](columns, rows)


def diagnose(data: Path | str, err: duckdb.Error) -> CorruptShardError | None:
    """Map a DuckDB error to the committed file behind it, or None when no file is at fault.

    Files the message names are checked first; then all files by size, then by sha256. A file DuckDB names
    that still matches its manifest is reported as unreadable (corrupt when written, or a DuckDB limit).
    """
    if isinstance(err, _SQL_ERRORS):
        return None
    data = Path(data)
    entries = committed_entries(load_manifests(data))
    message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    named = [e for e in entries if str(data / e.path) in str(err)]
    for checksum in (False, True):
        for entry in named + [e for e in entries if e not in named]:
            problem = check_entry(data, entry, checksum=checksum)
            if problem:
                return CorruptShardError(data / entry.path, f"{problem} (DuckDB: {message})")
    if named:
        return CorruptShardError(data / named[0].path, f"unreadable (DuckDB: {message})")
    return None


def _sql_string(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _dataset_view(con: duckdb.DuckDBPyConnection, name: str, paths: list[str]) -> None:
    if not paths:  # no committed files yet: an empty view that still has every column and type
        _arrow_view(con, name, SCHEMAS[name].empty_table())
        return
    files = "[" + ", ".join(_sql_string(p) for p in paths) + "]"
    # union_by_name: shards written under an older schema version (fewer columns) still read, with NULLs.
    # hive_partitioning off: a `key=value` folder a person adds must never shadow a real column.
    sql = f"SELECT * FROM read_parquet({files}, union_by_name = true, hive_partitioning = false)"
    con.execute(f"CREATE VIEW {name} AS {sql}")


def _arrow_view(con: duckdb.DuckDBPyConnection, name: str, table: pa.Table) -> None:
    con.register(f"_arrow_{name}", table)
    con.execute(f"CREATE VIEW {name} AS SELECT * FROM _arrow_{name}")


# ------------------------------------------------------------------------------------------------------------
# rounds: one row per committed round, from the manifests
# ------------------------------------------------------------------------------------------------------------


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested summary dicts become `outer_inner` columns; lists and scalars stay as they are.

    >>> _flatten({"accepted": 3, "seconds": {"render": 1.5}})
    {'accepted': 3, 'seconds_render': 1.5}
    """
    out: dict[str, Any] = {}
    for key, value in d.items():
        if isinstance(value, dict) and value:
            out.update(_flatten(value, f"{prefix}{key}_"))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _round_row(parts: list[PartManifest]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The fixed columns of one round and its merged summary (later parts override earlier keys)."""
    last, summary = parts[-1], {}
    for p in parts:
        summary.update(p.summary or {})
    code = last.code_version
    files = [f for p in parts for f in p.files]
    row = {
        "round": last.round,
        "parts": len(parts),
        "accepted": sum(p.accepted for p in parts),
        "rejected": sum(p.rejected for p in parts),
        "skipped": sum(p.skipped for p in parts),
        "files": len(files),
        "bytes": sum(f.bytes for f in files),
        "final": any(p.final for p in parts),
        "started_at": min(p.started_at for p in parts),
        "committed_at": max(p.committed_at for p in parts),
        "schema_version": max(p.schema_version for p in parts),
        "code_version": f"{code.get('package')}+{(code.get('git_commit') or 'nogit')[:12]}",
        "knowledge_version": _version_text(last.knowledge_version),
        "config": json.dumps(last.config, sort_keys=True, default=str),
    }
    return row, summary


def _version_text(v: Any) -> str | None:
    """Knowledge versions arrive as text or as a dict; a dict's "hash" is what people compare."""
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, dict) and "hash" in v:
        return str(v["hash"])
    return json.dumps(v, sort_keys=True, default=str)


def _column(values: list[Any]) -> pa.Array:
    """A typed column when the values agree on a type, else their JSON text."""
    try:
        arr = pa.array(values)
        if not pa.types.is_null(arr.type):
            return arr
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        pass
    return pa.array([None if v is None else json.dumps(v, default=str) for v in values], pa.string())


def rounds_table(manifests: list[PartManifest]) -> pa.Table:
    """One row per committed round: counts, times, versions, plus its flattened summary dict."""
    by_round: dict[int, list[PartManifest]] = {}
    for m in manifests:
        by_round.setdefault(m.round, []).append(m)
    rows, summaries = [], []
    for r in sorted(by_round):
        row, summary = _round_row(by_round[r])
        rows.append(row)
        summaries.append(_flatten(summary))
    table = pa.Table.from_pylist(rows, schema=ROUNDS_SCHEMA)
    keys = list(dict.fromkeys(k for s in summaries for k in s))
    for key in keys:
        name = f"summary_{key}" if key in ROUNDS_SCHEMA.names else key
        table = table.append_column(name, _column([s.get(key) for s in summaries]))
    return table


# ------------------------------------------------------------------------------------------------------------
# concepts: the knowledge-system snapshot the caller keeps at <data>/knowledge.json
# ------------------------------------------------------------------------------------------------------------


def _coerce(value: Any, typ: pa.DataType) -> Any:
    if pa.types.is_list(typ):  # missing lists read as empty, as `KnowledgeSystem.rows()` writes them
        return [str(v) for v in value] if isinstance(value, list | tuple) else []
    if value is None:
        return None
    if pa.types.is_integer(typ):
        try:
            return int(value)
        except (TypeError, ValueError):
            return None
    return str(value)


def _knowledge_rows(doc: Any) -> list[dict[str, Any]]:
    """Rows from either shape: `KnowledgeSystem.save()` ({"concepts": [...], "tools": [...]}) or `.rows()`."""
    if isinstance(doc, list):
        return [r for r in doc if isinstance(r, dict)]
    if not isinstance(doc, dict):
        return []
    rows = [{**r, "kind": "concept"} for r in doc.get("concepts", []) if isinstance(r, dict)]
    # A saved tool's own "kind" (draw, measure, ...) is its tool_kind; the row's kind says "tool".
    rows += [{**r, "tool_kind": r.get("kind"), "kind": "tool"} for r in doc.get("tools", []) if isinstance(r, dict)]
    return rows


def concepts_table(data: Path | str) -> pa.Table:
    """The knowledge snapshot at <data>/knowledge.json as rows; an empty table (same columns) if absent."""
    path = Path(data) / KNOWLEDGE
    if not path.exists():
        return CONCEPTS_SCHEMA.empty_table()
    try:
        rows = _knowledge_rows(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as e:
        raise CorruptShardError(path, f"unreadable knowledge snapshot ({e})") from None
    columns = {f.name: [_coerce(r.get(f.name), f.type) for r in rows] for f in CONCEPTS_SCHEMA}
    return pa.Table.from_pydict(columns, schema=CONCEPTS_SCHEMA)
