"""Render query results (column names + DuckDB rows) as a text table, one JSON array, or CSV.

Bytes (the PNG columns) are never dumped: they render as `{"png_bytes": N}` (N = length) in every format,
so `SELECT *` stays readable and small; fetch the image itself with Python or `flywheel show`. Lists stay
lists and structs/maps become objects in JSON; in CSV and the table they are written as that same JSON.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
import math
import uuid
from collections.abc import Callable, Sequence
from typing import Any

TABLE_CELL = 48  # characters per cell in the text table; longer text is cut with "…"


def plain(value: Any) -> Any:
    """A JSON-ready copy of a DuckDB value (bytes -> {"png_bytes": N}; NaN/inf -> None).

    >>> plain({"img": b"abc", "xs": (1.5, float("nan"))})
    {'img': {'png_bytes': 3}, 'xs': [1.5, None]}
    """
    if isinstance(value, bytes | bytearray | memoryview):
        return {"png_bytes": len(value)}
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


def _unique(columns: Sequence[str]) -> list[str]:
    """Column names made unique (`id`, `id_1`, ...) so JSON objects never silently drop a column."""
    seen: dict[str, int] = {}
    out = []
    for c in columns:
        n = seen.get(c, 0)
        seen[c] = n + 1
        out.append(c if n == 0 else f"{c}_{n}")
    return out


def _scalar_text(value: Any) -> str:
    """One cell as text: strings as they are, NULL as empty, everything nested as compact JSON."""
    v = plain(value)
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"))


def to_json(columns: Sequence[str], rows: Sequence[tuple]) -> str:
    names = _unique(columns)
    return json.dumps([dict(zip(names, map(plain, row), strict=True)) for row in rows], ensure_ascii=False)


def to_csv(columns: Sequence[str], rows: Sequence[tuple]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([_scalar_text(v) for v in row] for row in rows)
    return buf.getvalue()


def _cell(value: Any) -> str:
    text = "NULL" if value is None else _scalar_text(value).replace("\n", "\\n")
    return text if len(text) <= TABLE_CELL else text[: TABLE_CELL - 1] + "…"


def _is_number_column(rows: Sequence[tuple], i: int) -> bool:
    values = [r[i] for r in rows if r[i] is not None]
    return bool(values) and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def to_table(columns: Sequence[str], rows: Sequence[tuple]) -> str:
    """A fixed-width table for people; numbers right-aligned, long cells cut."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    numeric = [_is_number_column(rows, i) for i in range(len(columns))]

    def line(parts: Sequence[str]) -> str:
        return " | ".join(
            p.rjust(w) if num else p.ljust(w) for p, w, num in zip(parts, widths, numeric, strict=True)
        ).rstrip()

    out = [line(columns), "-+-".join("-" * w for w in widths)]
    out += [line(r) for r in cells]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out) + "\n"


FORMATS: dict[str, Callable[[Sequence[str], Sequence[tuple]], str]] = {
    "table": to_table,
    "json": to_json,
    "csv": to_csv,
}
