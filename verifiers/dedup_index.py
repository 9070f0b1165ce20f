"""Near-duplicate index across rounds: is this new problem the same as one already accepted?

The rule. Two problems are near-duplicates when their questions state the same numbers (as a multiset, after
"5.0"/"5"/"five" are folded) and
  * "text+image": the figures are the same picture (ink maps within 3 cells, pHash within 16 bits) and the
    questions are similar (Jaccard of word bigrams >= 0.75: reworded filler, reordered sentences, spacing), or
  * "text": one side has no figure and the questions are near-identical (Jaccard >= 0.8), or
  * "image": the figures are the same picture and one side has no question text.
Why, from the procedural families (400 distinct drafts, 16 families, measured): a template's questions share
most words and differ in letters and numbers ("Triangle ACB has a right angle at C; CB = 2 mm and AB = 3 mm"
vs "... CB = 5 mm and AB = 13 mm"); the numbers key keeps them apart. Many questions carry no data at all
("The analogue clock shows a time. What is the size of the smaller angle ...?" for every clock; "Using the
radius and slant height marked on the cone, ...") and only the figure tells them apart, so when both sides
have figures the figures must match: near-identical text alone merged 15 of the 400 distinct drafts. A figure
alone is never enough either: every dice-sum question ("exactly 4" / "exactly 7") shares one table, and
"rectangles that are not squares" vs "rectangles of any size" on one grid differ in a few words (Jaccard
0.67), and a grid-paths question that adds "Every route must pass through the point P." (a small P on an
otherwise identical grid) keeps 0.71, hence 0.75; a rewording that changes more than that ("the vertex" vs
"the turning point", 0.68) is missed, the price of a bag-of-bigrams measure.
Cost: candidates come from LSH band keys and pHash probes (`KeyTable` lookups, capped per key), never from a
scan, so checking a problem costs about the same at 10k or 1M rows (bench/dedup.py measures it).
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from verifiers.image_hash import INK_RADIUS, PHASH_RADIUS, HammingIndex, ImageKey, ink_distance, popcount
from verifiers.near_dup import (
    BANDS,
    NUM_PERM,
    Column,
    KeyTable,
    band_keys,
    minhash_tokens,
    normalise,
    numbers_key,
    numbers_of,
)

FORMAT = 2  # bump when the stored arrays change meaning (2: shingles mixed from word hashes); from_bytes refuses others


@dataclass(frozen=True)
class DedupRules:
    """The thresholds of the rule in the module docstring."""

    text_threshold: float = 0.8  # "text": near-identical questions, one side without a figure
    pair_threshold: float = 0.75  # "text+image": similar questions on the same figure
    phash_radius: int = PHASH_RADIUS
    ink_radius: int = INK_RADIUS
    bucket_cap: int = 32  # rows read per LSH/pHash key and chunk: bounds a query on a crowded template


@dataclass(frozen=True)
class DupHit:
    """Which accepted problem a new one duplicates, and why."""

    id: str
    reason: str  # "text" | "image" | "text+image"
    similarity: float  # estimated Jaccard of the questions (0.0 when one has no text)
    image_distance: int | None = None  # pHash bits between the figures, None when not compared


Row = tuple[str, str, bytes | None]  # (problem id, question, image PNG or None)


@dataclass(frozen=True)
class _Prepared:
    """One batch (or the stored rows, as views) reduced to what the index compares."""

    ids: list[str]
    sigs: np.ndarray  # (n, NUM_PERM) uint16: low 16 bits of MinHash, chance collisions at 2**-16
    numbers: np.ndarray  # (n,) uint64 numbers key
    counts: np.ndarray  # (n,) how many numbers the question states
    has_text: np.ndarray  # (n,) bool
    images: list[ImageKey | None]
    phashes: np.ndarray  # (n,) uint64, 0 where there is no image
    has_image: np.ndarray  # (n,) bool


def _image_columns(images: Sequence[ImageKey | None]) -> tuple[np.ndarray, np.ndarray]:
    phashes = np.fromiter((k.phash if k else 0 for k in images), np.uint64, count=len(images))
    return phashes, np.fromiter((k is not None for k in images), bool, count=len(images))


def prepare(rows: Sequence[Row]) -> _Prepared:
    tokens = [normalise(q or "") for _, q, _ in rows]
    sigs = minhash_tokens(tokens).astype(np.uint16)
    nums = [numbers_of(t) for t in tokens]
    images = [ImageKey.of(png) if png else None for _, _, png in rows]
    phashes, has_image = _image_columns(images)
    return _Prepared(
        ids=[r[0] for r in rows], sigs=sigs,
        numbers=np.array([numbers_key(n) for n in nums], np.uint64).reshape(-1),
        counts=np.array([len(n) for n in nums], np.int64).reshape(-1),
        has_text=np.array([bool(t) for t in tokens], bool).reshape(-1),
        images=images, phashes=phashes, has_image=has_image)


class DedupIndex:
    """Accepted problems' questions and figures, for near-duplicate checks that do not scan the data."""

    def __init__(self, rules: DedupRules | None = None) -> None:
        self.rules = rules or DedupRules()
        self.ids: list[str] = []
        self._sigs = Column(np.uint16, NUM_PERM)
        self._numbers = Column(np.uint64)
        self._counts = Column(np.int64)
        self._has_text = Column(bool)
        self._images: list[ImageKey | None] = []
        self._phashes = Column(np.uint64)  # every row's pHash (0 without a figure), for vectorised distances
        self._has_image = Column(bool)
        self._image_rows = Column(np.int64)  # index row of each HammingIndex row
        self._text = KeyTable(cap=self.rules.bucket_cap)
        self._phash = HammingIndex(radius=self.rules.phash_radius, cap=self.rules.bucket_cap)
        self._last: tuple[tuple[Row, ...], _Prepared] | None = None  # see _prepare

    def __len__(self) -> int:
        return len(self.ids)

    # -- the public calls ------------------------------------------------------------------------------

    def check(self, id: str, question: str, image_png: bytes | None) -> DupHit | None:
        """The accepted problem this one near-duplicates, or None."""
        return self.check_many([(id, question, image_png)])[0]

    def add(self, id: str, question: str, image_png: bytes | None) -> None:
        self.add_many([(id, question, image_png)])

    def check_many(self, rows: Sequence[Row]) -> list[DupHit | None]:
        """One verdict per row, as if the rows were checked and the non-duplicates added one by one."""
        return self._check(self._prepare(rows))

    def add_many(self, rows: Sequence[Row]) -> None:
        self._add(self._prepare(rows))

    def _prepare(self, rows: Sequence[Row]) -> _Prepared:
        """`prepare`, remembering the last batch: a gate checks a problem and then adds it, and preparing
        it twice (normalise, MinHash, two image decodes) was half the cost of a one-problem check."""
        rows = tuple(rows)
        if self._last is not None and self._last[0] == rows:
            return self._last[1]
        batch = prepare(rows)
        self._last = (rows, batch)
        return batch

    def filter_new(self, rows: Sequence[Row]) -> list[DupHit | None]:
        """Check a batch and add the rows that are not duplicates: the call a round makes per part."""
        batch = self._prepare(rows)
        hits = self._check(batch)
        self._add(_take(batch, [i for i, h in enumerate(hits) if h is None]))
        return hits

    @classmethod
    def rebuild(cls, rows: Iterable[Row], rules: DedupRules | None = None, batch: int = 4096) -> DedupIndex:
        """An index over (id, question, image) rows, e.g. every accepted problem read back from the shards."""
        index, chunk = cls(rules), []
        for row in rows:
            chunk.append(row)
            if len(chunk) >= batch:
                index.add_many(chunk)
                chunk = []
        index.add_many(chunk)
        return index

    # -- internals -------------------------------------------------------------------------------------

    def _add(self, b: _Prepared) -> None:
        rows = self._sigs.extend(b.sigs)
        self.ids.extend(b.ids)
        self._numbers.extend(b.numbers)
        self._counts.extend(b.counts)
        self._has_text.extend(b.has_text)
        self._images.extend(b.images)
        self._phashes.extend(b.phashes)
        self._has_image.extend(b.has_image)
        self._text.add(band_keys(b.sigs, b.numbers), np.repeat(rows, BANDS))
        with_image = np.flatnonzero(b.has_image)
        if with_image.size:
            self._phash.add_many(b.phashes[with_image], b.numbers[with_image])
            self._image_rows.extend(rows[with_image])

    def _stored(self) -> _Prepared:
        """The stored rows seen as one prepared batch (views, no copies), for `_judge_pairs`."""
        return _Prepared(self.ids, self._sigs.view(), self._numbers.view(), self._counts.view(),
                         self._has_text.view(), self._images, self._phashes.view(), self._has_image.view())

    def _candidates(self, b: _Prepared) -> tuple[np.ndarray, np.ndarray]:
        """Distinct (query, stored row) pairs worth confirming: same LSH band or pHash within radius."""
        q, r = self._text.lookup(band_keys(b.sigs, b.numbers))
        with_image = np.flatnonzero(b.has_image)
        if with_image.size and len(self._phash):
            iq, ir, _ = self._phash.near_many(b.phashes[with_image], b.numbers[with_image])
            q = np.concatenate((q, with_image[iq]))
            r = np.concatenate((r, self._image_rows.view()[ir]))
        pair = np.unique(q * np.int64(max(1, len(self))) + r)  # sorted by query, then row
        return pair // max(1, len(self)), pair % max(1, len(self))

    def _check(self, b: _Prepared) -> list[DupHit | None]:
        """Stored rows first; then earlier rows of the batch that were not duplicates themselves."""
        q, r = self._candidates(b)
        q, r, sim, dist, reason = _judge_pairs(self.rules, b, self._stored(), q, r)
        first = np.unique(q, return_index=True)[1]  # pairs come best first per query
        hits: list[DupHit | None] = [None] * len(b.ids)
        for k in first.tolist():
            hits[int(q[k])] = _hit(self.ids, int(r[k]), reason[k], sim[k], dist[k])
        if len(b.ids) < 2:
            return hits
        inner = DedupIndex(self.rules)  # the batch against itself, so one batch never accepts two copies
        inner._add(b)
        q, r = inner._candidates(b)
        earlier = r < q
        q, r, sim, dist, reason = _judge_pairs(self.rules, b, b, q[earlier], r[earlier])
        for k in range(q.size):  # best first per query: the first earlier row that was itself kept
            i, j = int(q[k]), int(r[k])
            if hits[i] is None and hits[j] is None:
                hits[i] = _hit(b.ids, j, reason[k], sim[k], dist[k])
        return hits

    # -- persistence -----------------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """The index as one .npz blob (no pickle); the lookup tables are rebuilt on load."""
        inks = [k.ink if k else b"" for k in self._images]
        arrays = {
            "meta": np.frombuffer(json.dumps({"format": FORMAT, "rules": asdict(self.rules)}).encode(), np.uint8),
            "ids": np.frombuffer("\n".join(self.ids).encode(), np.uint8),
            "sigs": self._sigs.view(), "numbers": self._numbers.view(), "counts": self._counts.view(),
            "has_text": self._has_text.view(),
            "has_image": np.array([k is not None for k in self._images], bool),
            "phash": np.array([k.phash if k else 0 for k in self._images], np.uint64),
            "ink_ends": np.cumsum([len(x) for x in inks], dtype=np.int64),
            "ink": np.frombuffer(b"".join(inks), np.uint8),
        }
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> DedupIndex:
        with np.load(io.BytesIO(blob), allow_pickle=False) as z:
            meta = json.loads(z["meta"].tobytes())
            if meta["format"] != FORMAT:
                raise ValueError(f"dedup index format {meta['format']}, this code reads {FORMAT}")
            index = cls(DedupRules(**meta["rules"]))
            n = len(z["sigs"])
            ids = z["ids"].tobytes().decode().split("\n") if n else []
            ink, ends = z["ink"].tobytes(), z["ink_ends"].tolist()
            starts = [0, *ends[:-1]]
            images = [ImageKey(int(h), ink[a:e]) if has else None
                      for h, has, a, e in zip(z["phash"].tolist(), z["has_image"].tolist(), starts, ends, strict=True)]
            index._add(_Prepared(ids, z["sigs"], z["numbers"], z["counts"], z["has_text"], images,
                                 z["phash"], z["has_image"]))
        return index

    def save(self, path: str | Path) -> None:
        """Atomic: written beside `path` and renamed over it, so a reader never sees half an index."""
        path = Path(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(self.to_bytes())
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: str | Path) -> DedupIndex:
        return cls.from_bytes(Path(path).read_bytes())


def _take(b: _Prepared, keep: list[int]) -> _Prepared:
    return _Prepared([b.ids[i] for i in keep], b.sigs[keep], b.numbers[keep], b.counts[keep], b.has_text[keep],
                     [b.images[i] for i in keep], b.phashes[keep], b.has_image[keep])


REASONS = ("image", "text", "text+image")  # rank order: prefer the strongest evidence, then the closest text


def _judge_pairs(rules: DedupRules, b: _Prepared, s: _Prepared, q: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, ...]:
    """The rule of the module docstring over (query `q` of `b`, row `r` of `s`) pairs, all at once.

    Returns the pairs that are duplicates as (q, r, similarity, pHash distance or -1, reason rank), ordered
    by query, then best first: strongest reason, highest similarity, oldest row. Only pairs whose figures
    pass the pHash gate reach the (per-pair, Python) ink-map comparison; the rest is numpy.
    """
    keep = s.numbers[r] == b.numbers[q]
    q, r = q[keep], r[keep]
    both_text = b.has_text[q] & s.has_text[r]
    sim = np.where(both_text, (s.sigs[r] == b.sigs[q]).mean(axis=1) if q.size else 0.0, 0.0)
    both_image = b.has_image[q] & s.has_image[r]
    dist = np.where(both_image, popcount(b.phashes[q] ^ s.phashes[r]), -1)
    same = both_image & (dist <= rules.phash_radius)
    for k in np.flatnonzero(same).tolist():
        same[k] = ink_distance(b.images[q[k]].ink, s.images[r[k]].ink) <= rules.ink_radius
    reason = np.full(q.size, -1, np.int64)
    reason[same & ~both_text] = 0
    reason[both_text & ~both_image & (sim >= rules.text_threshold)] = 1
    reason[same & both_text & (sim >= rules.pair_threshold)] = 2
    hit = reason >= 0
    q, r, sim, dist, reason = q[hit], r[hit], sim[hit], dist[hit], reason[hit]
    order = np.lexsort((r, -sim, -reason, q))
    return q[order], r[order], sim[order], dist[order], reason[order]


def _hit(ids: Sequence[str], row: int, reason: int, sim: float, dist: int) -> DupHit:
    return DupHit(ids[row], REASONS[reason], float(sim), None if dist < 0 else int(dist))
