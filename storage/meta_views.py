"""Rows for the catalog's two small views: `rounds` (from the manifests) and `concepts` (knowledge.json).

Each function returns `(columns, rows)`: DuckDB column names with types, and plain tuples, so the catalog
can build the views with SQL alone. Summary dicts the round stores in its manifests are flattened here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from storage.manifest import KNOWLEDGE, CorruptShardError, PartManifest

Columns = list[tuple[str, str]]  # (name, DuckDB type)

ROUNDS_COLUMNS: Columns = [
    ("round", "BIGINT"),
    ("parts", "BIGINT"),
    ("accepted", "BIGINT"),
    ("rejected", "BIGINT"),
    ("skipped", "BIGINT"),
    ("files", "BIGINT"),
    ("bytes", "BIGINT"),
    ("final", "BOOLEAN"),
    ("started_at", "DOUBLE"),
    ("committed_at", "DOUBLE"),
    ("schema_version", "BIGINT"),
    ("code_version", "VARCHAR"),
    ("knowledge_version", "VARCHAR"),
    ("config", "VARCHAR"),  # JSON text: config->>'$.evolve.rounds' in DuckDB
]
CONCEPTS_COLUMNS: Columns = [
    ("id", "VARCHAR"),
    ("name", "VARCHAR"),
    ("kind", "VARCHAR"),  # "concept" | "tool"
    ("domain", "VARCHAR"),
    ("level", "BIGINT"),
    ("added_round", "BIGINT"),
    ("description", "VARCHAR"),
    ("prerequisites", "VARCHAR[]"),
    ("parents", "VARCHAR[]"),
    ("tool_kind", "VARCHAR"),
]
_INT64 = range(-(2**63), 2**63)


# ------------------------------------------------------------------------------------------------------------
# rounds: one row per committed round
# ------------------------------------------------------------------------------------------------------------


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested summary dicts become `outer_inner` columns; lists and scalars stay as they are.

    >>> flatten({"accepted": 3, "seconds": {"render": 1.5}})
    {'accepted': 3, 'seconds_render': 1.5}
    """
    out: dict[str, Any] = {}
    for key, value in d.items():
        if isinstance(value, dict) and value:
            out.update(flatten(value, f"{prefix}{key}_"))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _version_text(v: Any) -> str | None:
    """Knowledge versions arrive as text or as a dict; a dict's "hash" is what people compare."""
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, dict) and "hash" in v:
        return str(v["hash"])
    return json.dumps(v, sort_keys=True, default=str)


def _round_row(parts: list[PartManifest]) -> tuple[tuple, dict[str, Any]]:
    """The fixed columns of one round and its merged summary (later parts override earlier keys)."""
    last, summary = parts[-1], {}
    for p in parts:
        summary.update(p.summary or {})
    code = last.code_version
    files = [f for p in parts for f in p.files]
    row = (
        last.round,
        len(parts),
        sum(p.accepted for p in parts),
        sum(p.rejected for p in parts),
        sum(p.skipped for p in parts),
        len(files),
        sum(f.bytes for f in files),
        any(p.final for p in parts),
        min(p.started_at for p in parts),
        max(p.committed_at for p in parts),
        max(p.schema_version for p in parts),
        f"{code.get('package')}+{(code.get('git_commit') or 'nogit')[:12]}",
        _version_text(last.knowledge_version),
        json.dumps(last.config, sort_keys=True, default=str),
    )
    return row, summary


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v in _INT64


def _is_number(v: Any) -> bool:
    return _is_int(v) or isinstance(v, float)


def infer_column(values: list[Any]) -> tuple[str, list[Any]]:
    """A DuckDB type the values agree on, and the values to insert; JSON text when they do not agree.

    >>> infer_column([1, 2.5, None])
    ('DOUBLE', [1.0, 2.5, None])
    >>> infer_column([["a"], "b"])
    ('VARCHAR', ['["a"]', '"b"'])
    """
    present = [v for v in values if v is not None]
    lists = [v for v in present if isinstance(v, list | tuple)]
    checks = [
        ("BOOLEAN", lambda v: isinstance(v, bool), lambda v: v),
        ("BIGINT", _is_int, lambda v: v),
        ("DOUBLE", _is_number, float),
        ("VARCHAR", lambda v: isinstance(v, str), lambda v: v),
    ]
    for typ, ok, cast in checks:
        if present and all(ok(v) for v in present):
            return typ, [None if v is None else cast(v) for v in values]
        if present and len(lists) == len(present) and all(ok(x) for v in lists for x in v):
            return f"{typ}[]", [None if v is None else [cast(x) for x in v] for v in values]
    return "VARCHAR", [None if v is None else json.dumps(v, default=str) for v in values]


def rounds_rows(manifests: list[PartManifest]) -> tuple[Columns, list[tuple]]:
    """One row per committed round: counts, times, versions, then its flattened summary columns.

    A summary key that clashes with a fixed column is renamed `summary_<key>`.
    """
    by_round: dict[int, list[PartManifest]] = {}
    for m in manifests:
        by_round.setdefault(m.round, []).append(m)
    rows, summaries = [], []
    for r in sorted(by_round):
        row, summary = _round_row(by_round[r])
        rows.append(row)
        summaries.append(flatten(summary))
    columns = list(ROUNDS_COLUMNS)
    fixed = {name for name, _ in ROUNDS_COLUMNS}
    extra = []
    for key in dict.fromkeys(k for s in summaries for k in s):
        typ, values = infer_column([s.get(key) for s in summaries])
        columns.append((f"summary_{key}" if key in fixed else key, typ))
        extra.append(values)
    return columns, [row + tuple(col[i] for col in extra) for i, row in enumerate(rows)]


# ------------------------------------------------------------------------------------------------------------
# concepts: the knowledge-system snapshot the caller keeps at <data>/knowledge.json
# ------------------------------------------------------------------------------------------------------------


def _coerce(value: Any, typ: str) -> Any:
    if typ.endswith("[]"):  # missing lists read as empty, as `KnowledgeSystem.rows()` writes them
        return [str(v) for v in value] if isinstance(value, list | tuple) else []
    if value is None:
        return None
    if typ == "BIGINT":
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


def concepts_rows(data: Path | str) -> tuple[Columns, list[tuple]]:
    """The knowledge snapshot at <data>/knowledge.json as rows; no rows (same columns) when it is absent."""
    path = Path(data) / KNOWLEDGE
    if not path.exists():
        return CONCEPTS_COLUMNS, []
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise CorruptShardError(path, f"unreadable knowledge snapshot ({e})") from None
    rows = [tuple(_coerce(r.get(c), t) for c, t in CONCEPTS_COLUMNS) for r in _knowledge_rows(doc)]
    return CONCEPTS_COLUMNS, rows
