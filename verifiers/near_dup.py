"""Text side of near-duplicate removal: normalised questions, word-bigram MinHash, LSH bands in a sorted table.

Normalisation folds what never changes a problem (Unicode forms, case, punctuation, spacing, how a number is
written: "5.0", "5" and "five" are one token) and keeps the numbers themselves: a math question with other
numbers is another problem. So every key also carries `numbers_key` (the question's numbers as a multiset),
and two questions can only be duplicates when their numbers agree. MinHash signatures are computed for whole
batches with numpy; LSH band keys go into a `KeyTable` (sorted numpy chunks, merged like a binary counter),
so a lookup is a binary search per chunk and a bucket read, capped, never a scan of the data.
Layer L2 (stdlib and numpy); used by verifiers/dedup_index.py, timed in bench/dedup.py.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

NUM_PERM = 128
BANDS = 16  # 16 bands x 8 rows: a pair at Jaccard 0.8 shares a band with p = 0.998, at 0.5 with p = 0.06
ROWS = NUM_PERM // BANDS
SHINGLE = 2  # word bigrams (shingle_batch pairs words): one changed word in 25 moves Jaccard to ~0.85, not ~0.8

_WORDS = {w: str(i) for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve "
                                          "thirteen fourteen fifteen sixteen seventeen eighteen nineteen "
                                          "twenty".split())}
_NUMBER = re.compile(r"\d+(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")
_TOKEN = re.compile(r"\d+(?:\.\d+)?|[^\W\d_]+", re.UNICODE)


def _canonical_number(text: str) -> str:
    """'1,000' -> '1000', '5.0' -> '5', '0.50' -> '0.5': one spelling per value."""
    text = text.replace(",", "")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    whole, dot, frac = text.partition(".")
    return (whole.lstrip("0") or "0") + dot + frac


def normalise(question: str) -> list[str]:
    """Tokens of a question after folding everything that does not change the problem.

    >>> normalise("Find  AB, given AB = 5.0 cm and BC = Five cm!")
    ['find', 'ab', 'given', 'ab', '5', 'cm', 'and', 'bc', '5', 'cm']
    """
    text = unicodedata.normalize("NFKC", question).casefold()
    text = _NUMBER.sub(lambda m: " " + _canonical_number(m.group()) + " ", text)
    return [_WORDS.get(t, t) for t in _TOKEN.findall(text)]


def numbers_of(tokens: Sequence[str]) -> tuple[str, ...]:
    """The question's numbers, sorted: the part of a math problem that rewording must not change."""
    return tuple(sorted(t for t in tokens if t[0].isdigit()))


def numbers_key(numbers: tuple[str, ...]) -> int:
    """A stable 63-bit key for a number multiset (stable across processes, unlike `hash`)."""
    digest = hashlib.blake2b(" ".join(numbers).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def shingles(tokens: Sequence[str]) -> list[int]:
    """64-bit hashes of the word bigrams (the whole question when it is shorter than two words)."""
    flat, _ = shingle_batch([tokens])
    return flat.tolist()


_LAST = np.uint64(0x5DEECE66D)  # stands for "no next word": a one-word question's only shingle


def shingle_batch(token_lists: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
    """Word-bigram hashes of many questions as one flat uint64 array plus the count per question.

    Each distinct word is hashed once per batch (a dict), and the bigrams are mixed from word hashes in
    numpy: Python touches each word once, not each bigram's joined string. An empty question is one
    empty word, so every question has at least one shingle (reduceat needs non-empty groups).
    """
    token_lists = [t or ("",) for t in token_lists]
    vocab = {w: zlib.crc32(w.encode()) for w in {w for t in token_lists for w in t}}
    words = np.fromiter((vocab[w] for t in token_lists for w in t), np.uint64)
    counts = np.fromiter((len(t) for t in token_lists), np.int64, count=len(token_lists))
    last = np.zeros(words.size, bool)
    last[np.cumsum(counts) - 1] = True
    following = np.append(words[1:], _LAST)
    following[last] = _LAST
    keep = ~last | np.repeat(counts == 1, counts)  # bigrams, or the single word of a one-word question
    return mix(words[keep], following[keep]), np.maximum(counts - 1, 1)


def _permutations(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 2**63, NUM_PERM, dtype=np.uint64) * np.uint64(2) + np.uint64(1)  # odd multipliers
    b = rng.integers(0, 2**63, NUM_PERM, dtype=np.uint64)
    return a, b


_A, _B = _permutations(20251106)


def minhash(shingle_lists: Sequence[Sequence[int]]) -> np.ndarray:
    """MinHash signatures, (n, NUM_PERM) uint32, of questions given as lists of shingle hashes."""
    lengths = np.fromiter((len(x) for x in shingle_lists), np.int64, count=len(shingle_lists))
    return minhash_flat(np.fromiter((h for x in shingle_lists for h in x), np.uint64), lengths)


def minhash_flat(flat: np.ndarray, lengths: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """MinHash signatures for questions whose shingles lie end to end in `flat` (each length >= 1).

    Each permutation is multiply-shift hashing, `(a*x + b) mod 2**64 >> 32`, a universal family that needs no
    modulo; numpy wraps uint64 products, which is exactly the mod. Questions go in chunks to bound memory,
    and the arithmetic is in place (one (shingles, NUM_PERM) buffer per chunk).
    """
    out = np.empty((len(lengths), NUM_PERM), dtype=np.uint32)
    ends = np.cumsum(lengths)
    starts = ends - lengths
    with np.errstate(over="ignore"):
        for lo in range(0, len(lengths), chunk):
            hi = min(lo + chunk, len(lengths))
            hashed = np.multiply.outer(np.asarray(flat[starts[lo]:ends[hi - 1]], np.uint64), _A)
            hashed += _B[None, :]
            hashed >>= np.uint64(32)
            out[lo:hi] = np.minimum.reduceat(hashed, starts[lo:hi] - starts[lo], axis=0)
    return out


def minhash_tokens(token_lists: Sequence[Sequence[str]]) -> np.ndarray:
    """MinHash signatures of normalised questions (their word bigrams)."""
    return minhash_flat(*shingle_batch(token_lists))


def jaccard_estimate(sig: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Share of equal signature slots: the MinHash estimate of Jaccard similarity, one per row of `others`."""
    return (others == sig[None, :]).mean(axis=1)


def mix(*parts: np.ndarray | int) -> np.ndarray:
    """A 64-bit mix of uint64 columns (splitmix64 finaliser after each part), for bucket keys. In place:
    bucket keys are mixed for every check, and for one question the temporaries were most of its cost."""
    h = np.zeros(np.broadcast_shapes(*(np.shape(p) for p in parts)), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for p in parts:
            h ^= np.asarray(p, dtype=np.uint64)
            h *= np.uint64(0x9E3779B97F4A7C15)
            h ^= h >> np.uint64(31)
            h *= np.uint64(0xBF58476D1CE4E5B9)
            h ^= h >> np.uint64(29)
    return h


def band_keys(signatures: np.ndarray, numbers: np.ndarray) -> np.ndarray:
    """(n, BANDS) uint64 bucket keys: each band's ROWS slots, the band's index and the numbers key mixed.

    Keys use the low 16 bits of each slot (what the index stores), read four slots to a uint64 word, so a
    band is two words to mix, not eight slots. Keys are rebuilt on load, never stored, so byte order is moot.
    """
    n = signatures.shape[0]
    words = np.ascontiguousarray(signatures, dtype=np.uint16).view(np.uint64).reshape(n, BANDS, ROWS // 4)
    return mix(numbers[:, None], np.arange(BANDS, dtype=np.uint64)[None, :],
               *(words[:, :, k] for k in range(ROWS // 4)))


class Column:
    """A growable numpy array (capacity doubles), so adding rows one batch at a time stays linear overall."""

    def __init__(self, dtype: type | np.dtype, width: int = 0) -> None:
        self._shape = (width,) if width else ()
        self._data = np.empty((16, *self._shape), dtype)
        self._n = 0

    def extend(self, values: np.ndarray) -> np.ndarray:
        """Append rows; returns their row numbers."""
        values = np.asarray(values, self._data.dtype).reshape(-1, *self._shape)
        need = self._n + len(values)
        if need > len(self._data):
            grown = np.empty((max(need, 2 * len(self._data)), *self._shape), self._data.dtype)
            grown[: self._n] = self._data[: self._n]
            self._data = grown
        self._data[self._n:need] = values
        rows = np.arange(self._n, need)
        self._n = need
        return rows

    def view(self) -> np.ndarray:
        return self._data[: self._n]

    def __len__(self) -> int:
        return self._n


@dataclass
class KeyTable:
    """A multimap uint64 key -> row held in sorted numpy chunks: add in batches, look up in batches.

    Chunks merge like a binary counter (a new chunk absorbs every older chunk not more than twice its size),
    so there are O(log n) chunks and each row is re-sorted O(log n) times. `lookup` reads at most `cap` rows
    per key, the oldest (chunks are kept oldest first), so what it returns depends only on the order rows were
    added, never on how they were batched: an index rebuilt from the shards after a kill answers exactly as the
    live one did (tests/test_dedup.py). A bucket that grows with the data (a template whose questions are all
    alike) costs a query a bounded amount, at the price of recall inside that bucket.
    """

    cap: int = 32
    chunks: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)

    def add(self, keys: np.ndarray, rows: np.ndarray) -> None:
        keys, rows = np.asarray(keys, np.uint64).ravel(), np.asarray(rows, np.int64).ravel()
        if keys.size == 0:
            return
        while self.chunks and self.chunks[-1][0].size <= 2 * keys.size:
            old_keys, old_rows = self.chunks.pop()
            keys, rows = np.concatenate((old_keys, keys)), np.concatenate((old_rows, rows))
        order = np.argsort(keys, kind="stable")  # stable: older rows stay first inside a bucket
        self.chunks.append((keys[order], rows[order]))

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(query index, row) pairs for every stored row under any of `keys` (a 1-D or 2-D array per query)."""
        keys = np.asarray(keys, np.uint64)
        owner = np.repeat(np.arange(keys.shape[0]), keys[0].size if keys.ndim > 1 else 1)
        order = np.argsort(keys.ravel())  # sorted needles make searchsorted cache-friendly (10x on 1M rows)
        flat, owner = keys.ravel()[order], owner[order]
        found_q, found_r = [], []
        left = np.full(flat.size, self.cap, np.int64)  # rows each needle may still read, across chunks
        for chunk_keys, chunk_rows in self.chunks:
            lo = np.searchsorted(chunk_keys, flat, "left")
            hi = np.minimum(np.searchsorted(chunk_keys, flat, "right"), lo + left)
            counts = hi - lo
            left -= counts
            hit = counts > 0
            if not hit.any():
                continue
            counts, lo = counts[hit], lo[hit]
            starts = np.repeat(lo - np.concatenate(([0], np.cumsum(counts)[:-1])), counts)
            found_r.append(chunk_rows[starts + np.arange(counts.sum())])
            found_q.append(np.repeat(owner[hit], counts))
        if not found_q:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        return np.concatenate(found_q), np.concatenate(found_r)

    def __len__(self) -> int:
        return sum(k.size for k, _ in self.chunks)
