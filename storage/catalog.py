"""DuckDB over the committed shards: views `problems`, `rejections`, `rounds`, `concepts`, and `query()`.

The views read exactly the files the manifests list (an explicit list to `read_parquet`, never a glob), so a
half-written part is invisible. Broken files surface as `CorruptShardError` naming the file, not a DuckDB
traceback. This is what `flywheel query "SELECT ..."` calls; tests in tests/test_storage.py.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from storage.formats import FORMATS
from storage.manifest import (
    PROBLEMS,
    REJECTIONS,
    SCHEMAS,
    CorruptShardError,
    check_entry,
    committed_entries,
    load_manifests,
)
from storage.meta_views import Columns, concepts_rows, rounds_rows

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
        _rows_view(con, "rounds", *rounds_rows(manifests))
        _rows_view(con, "concepts", *concepts_rows(data))
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


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def duck_type(t: pa.DataType) -> str:
    """The DuckDB spelling of an Arrow type used in our schemas.

    >>> duck_type(pa.list_(pa.struct([("x", pa.float64()), ("ok", pa.bool_())])))
    'STRUCT("x" DOUBLE, "ok" BOOLEAN)[]'
    """
    simple = {pa.string(): "VARCHAR", pa.int64(): "BIGINT", pa.float64(): "DOUBLE", pa.bool_(): "BOOLEAN"}
    if t in simple:
        return simple[t]
    if pa.types.is_binary(t):
        return "BLOB"
    if pa.types.is_map(t):
        return f"MAP({duck_type(t.key_type)}, {duck_type(t.item_type)})"
    if pa.types.is_list(t):
        return f"{duck_type(t.value_type)}[]"
    if pa.types.is_struct(t):
        return "STRUCT(" + ", ".join(f"{_ident(f.name)} {duck_type(f.type)}" for f in t) + ")"
    raise TypeError(f"duck_type: no DuckDB spelling for {t}")


# The views are built with plain SQL, never from Arrow objects: pyarrow imports pandas the first time it
# converts anything, which would add about a second to every `flywheel query`.


def _dataset_view(con: duckdb.DuckDBPyConnection, name: str, paths: list[str]) -> None:
    if not paths:  # no committed files yet: an empty view that still has every column and type
        cols = ", ".join(f"CAST(NULL AS {duck_type(f.type)}) AS {_ident(f.name)}" for f in SCHEMAS[name])
        con.execute(f"CREATE VIEW {name} AS SELECT {cols} LIMIT 0")
        return
    files = "[" + ", ".join(_sql_string(p) for p in paths) + "]"
    # union_by_name: shards written under an older schema version (fewer columns) still read, with NULLs.
    # hive_partitioning off: a `key=value` folder a person adds must never shadow a real column.
    sql = f"SELECT * FROM read_parquet({files}, union_by_name = true, hive_partitioning = false)"
    con.execute(f"CREATE VIEW {name} AS {sql}")


def _rows_view(con: duckdb.DuckDBPyConnection, name: str, columns: Columns, rows: list[tuple]) -> None:
    """A small table filled from Python rows, shown as a view named `name`."""
    spec = ", ".join(f"{_ident(c)} {t}" for c, t in columns)
    con.execute(f"CREATE TABLE _{name}_rows ({spec})")
    if rows:
        con.executemany(f"INSERT INTO _{name}_rows VALUES ({', '.join('?' * len(columns))})", rows)
    con.execute(f"CREATE VIEW {name} AS SELECT * FROM _{name}_rows")
