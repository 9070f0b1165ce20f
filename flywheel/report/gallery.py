"""Sample problems per difficulty level for the report page, with their images written as PNG files.

The choice is deterministic (same data, same samples): per level, problems are taken in id order, one family at
a time in turn, so a level shows several families rather than the first family's ids. Only the chosen rows'
images are read. Tested in tests/test_report.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from flywheel.report.metrics import level_of

PER_LEVEL = 3
GALLERY_DIR = "gallery"


@dataclass(frozen=True)
class Sample:
    """One gallery entry; image paths are relative to the report folder (None when the problem has none)."""

    id: str
    level: int
    round: int
    family: str
    operator: str
    parent_id: str | None
    difficulty: float
    planned_level: int | None  # the level the generator was asked for (None in data older than that column)
    concepts: tuple[str, ...]
    question: str
    answer: str
    image: str | None
    edited_image: str | None


def choose(rows: list[tuple[str, str, float]], per_level: int = PER_LEVEL) -> dict[int, list[str]]:
    """Ids to show per level from (id, family, difficulty) rows: families take turns, ids in order.

    >>> choose([("b", "f", 1.0), ("a", "f", 1.2), ("c", "g", 1.5), ("d", "g", 3.0)], per_level=2)
    {1: ['a', 'c'], 3: ['d']}
    """
    by_level: dict[int, dict[str, list[str]]] = {}
    for pid, family, difficulty in sorted(rows):
        by_level.setdefault(level_of(difficulty), {}).setdefault(family or "", []).append(pid)
    chosen: dict[int, list[str]] = {}
    for level in sorted(by_level):
        queues = [by_level[level][f] for f in sorted(by_level[level])]
        picked: list[str] = []
        while len(picked) < per_level and any(queues):
            for q in queues:
                if q and len(picked) < per_level:
                    picked.append(q.pop(0))
        chosen[level] = picked
    return chosen


def _write_png(out: Path, name: str, png: bytes | None) -> str | None:
    if not png:
        return None
    # ids are hex content hashes, but a file name must never depend on that holding
    rel = f"{GALLERY_DIR}/{re.sub(r'[^0-9A-Za-z_-]', '_', name)}.png"
    (out / rel).write_bytes(png)
    return rel


_COLUMNS = ("id", "round", "family", "operator", "parent_id", "difficulty", "level", "concepts", "question",
            "answer", "image", "edited_image")


def _select(con: duckdb.DuckDBPyConnection) -> str:
    """The gallery's columns, NULL for any that shards written before that column existed lack."""
    present = {row[0] for row in con.execute("DESCRIBE problems").fetchall()}
    return ", ".join(c if c in present else f"NULL AS {c}" for c in _COLUMNS)


def build_gallery(con: duckdb.DuckDBPyConnection, out: Path, per_level: int = PER_LEVEL) -> dict[int, list[Sample]]:
    """Choose samples per level and write their images under `out/gallery/`; levels without problems are absent."""
    rows = con.execute("SELECT id, family, difficulty FROM problems").fetchall()
    chosen = choose([(str(i), str(f or ""), float(d or 0.0)) for i, f, d in rows], per_level)
    ids = [pid for level in chosen for pid in chosen[level]]
    folder = out / GALLERY_DIR
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):  # images of an earlier report into the same folder would pile up
        old.unlink()
    if not ids:
        return {}
    found = {r[0]: r for r in con.execute(f"SELECT {_select(con)} FROM problems WHERE list_contains(?, id)",
                                          [ids]).fetchall()}
    gallery: dict[int, list[Sample]] = {}
    for level, level_ids in chosen.items():
        for pid in level_ids:
            row = dict(zip(_COLUMNS, found[pid], strict=True))
            gallery.setdefault(level, []).append(Sample(
                id=pid, level=level, round=int(row["round"]), family=row["family"] or "",
                operator=row["operator"] or "", parent_id=row["parent_id"],
                difficulty=float(row["difficulty"] or 0.0), planned_level=row["level"] or None,
                concepts=tuple(row["concepts"] or ()), question=row["question"] or "", answer=row["answer"] or "",
                image=_write_png(out, pid, row["image"]),
                edited_image=_write_png(out, f"{pid}-edited", row["edited_image"]),
            ))
    return gallery
