"""Perceptual hashes of rendered figures and a Hamming-radius lookup that does not compare against everything.

`phash(png)` is the classic 64-bit DCT hash (grey, 32x32, 2-D DCT, the 8x8 lowest frequencies against their
median): a re-encoded or slightly shifted render of the same figure lands within a few bits. It is the lookup
key. Thin strokes (clock hands, a moved label) barely move those 64 bits, so `ink_map` keeps a finer map of
where the ink is for confirmation; two figures are the same image only when both agree (`same_image`).
`HammingIndex` finds stored hashes within a few bits by multi-index hashing (pigeonhole over two 32-bit
halves), so a query reads 66 buckets instead of every row.
Layer L2 (numpy and PIL only); tested in tests/test_dedup.py, timed in bench/dedup.py.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from verifiers.near_dup import Column, KeyTable, mix

HASH_SIDE = 32  # pHash works on a 32x32 grey thumbnail and keeps its 8x8 lowest frequencies
LOW = 8
INK_SIDE, INK_CELLS, INK_LEVEL = 256, 64, 160  # the confirmation map: 64x64 cells over a 256x256 thumbnail

# Measured on 400 rendered procedural figures (16 families): JPEG re-encoding and 1-3 px shifts leave the
# tolerant ink distance at <= 1, while different figures of a family are >= 6 apart (two clocks minutes
# apart: 13), except figures that are truly the same picture (every dice-sum table). pHash moves <= 4 bits
# for 95% of shifted copies but up to 28 on a sparse figure (its 8x8 coefficients sit near their median), so
# it is the lookup (exact within 3 bits) and a loose gate; the ink map is the judge.
PHASH_RADIUS = 16
INK_RADIUS = 3


def _dct_matrix(n: int) -> np.ndarray:
    """Orthonormal DCT-II as a matrix, so the 2-D transform is two matrix products (no scipy needed)."""
    k = np.arange(n)[:, None]
    m = np.sqrt(2.0 / n) * np.cos(np.pi * (2 * np.arange(n)[None, :] + 1) * k / (2 * n))
    m[0] /= np.sqrt(2.0)
    return m


_DCT = _dct_matrix(HASH_SIDE)
_WEIGHTS = (1 << np.arange(63, -1, -1, dtype=np.uint64)).astype(np.uint64)


def _grey(png: bytes, side: int) -> np.ndarray:
    """The PNG as a `side` x `side` grey array; transparency is laid on white, as a viewer shows it."""
    with Image.open(io.BytesIO(png)) as im:
        im = im.convert("RGBA")
        canvas = Image.new("RGBA", im.size, (255, 255, 255, 255))
        canvas.alpha_composite(im)
        small = canvas.convert("L").resize((side, side), Image.Resampling.LANCZOS)
    return np.asarray(small, dtype=np.float64)


def _pack(bits: np.ndarray) -> int:
    return int((bits.astype(np.uint64) * _WEIGHTS).sum(dtype=np.uint64))


def phash(png: bytes) -> int:
    """64-bit DCT perceptual hash of a PNG, as a Python int (bit 63 is the DC term's comparison)."""
    grey = _grey(png, HASH_SIDE)
    low = (_DCT @ grey @ _DCT.T)[:LOW, :LOW].ravel()
    return _pack(low > np.median(low))


def ink_map(png: bytes) -> bytes:
    """Where the ink is: a 64x64 grid over a 256x256 thumbnail, a cell set when its darkest pixel is < 160.

    pHash averages thin strokes away (two clocks a few minutes apart are <= 4 bits apart), so confirmation
    uses this finer map, compared with a one-cell tolerance (`ink_distance`) that absorbs re-encoding and
    shifts of a few pixels. Stored zlib-compressed (a figure is mostly white): ~100 bytes instead of 512.
    """
    grey = _grey(png, INK_SIDE).reshape(INK_CELLS, INK_SIDE // INK_CELLS, INK_CELLS, INK_SIDE // INK_CELLS)
    return zlib.compress(np.packbits(grey.min(axis=(1, 3)) < INK_LEVEL).tobytes(), 9)


def _unpack_ink(blob: bytes) -> np.ndarray:
    return np.unpackbits(np.frombuffer(zlib.decompress(blob), np.uint8)).astype(bool).reshape(INK_CELLS, INK_CELLS)


def _dilate(m: np.ndarray) -> np.ndarray:
    p = np.pad(m, 1)
    out = np.zeros_like(m)
    for dy in range(3):
        for dx in range(3):
            out |= p[dy:dy + m.shape[0], dx:dx + m.shape[1]]
    return out


def ink_distance(a: bytes, b: bytes) -> int:
    """Inked cells of either map with no inked cell within one cell in the other (0 for a shifted copy)."""
    ma, mb = _unpack_ink(a), _unpack_ink(b)
    return int((ma & ~_dilate(mb)).sum() + (mb & ~_dilate(ma)).sum())


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


@dataclass(frozen=True)
class ImageKey:
    """What the index keeps of one image: the 64-bit pHash for lookup and the ink map for confirmation."""

    phash: int
    ink: bytes

    @staticmethod
    def of(png: bytes) -> ImageKey:
        return ImageKey(phash(png), ink_map(png))


def same_image(a: ImageKey, b: ImageKey, phash_radius: int = PHASH_RADIUS, ink_radius: int = INK_RADIUS) -> bool:
    """Both hashes within their radius: the same figure up to encoding and small shifts."""
    return hamming(a.phash, b.phash) <= phash_radius and ink_distance(a.ink, b.ink) <= ink_radius


_FLIPS = np.concatenate(([0], 1 << np.arange(32))).astype(np.uint64)  # the band itself and its 32 one-bit flips


def _halves(hashes: np.ndarray) -> np.ndarray:
    return np.stack((hashes & np.uint64(0xFFFFFFFF), hashes >> np.uint64(32)), axis=1)  # (n, 2)


def _salted(salts: np.ndarray | None, n: int) -> np.ndarray:
    return np.zeros(n, np.uint64) if salts is None else np.asarray(salts, np.uint64)


def probe_keys(hashes: np.ndarray, salts: np.ndarray | None = None) -> np.ndarray:
    """(n, 66) keys a query reads: each 32-bit half of the hash and every value one bit away, salted."""
    hashes = np.asarray(hashes, np.uint64)
    probes = _halves(hashes)[:, :, None] ^ _FLIPS[None, None, :]  # (n, 2, 33)
    band = np.arange(2, dtype=np.uint64)[None, :, None]
    return mix(_salted(salts, len(hashes))[:, None, None], band, probes).reshape(len(hashes), -1)


def store_keys(hashes: np.ndarray, salts: np.ndarray | None = None) -> np.ndarray:
    """(n, 2) keys a row is stored under: its two 32-bit halves, salted (the probes' unflipped keys)."""
    hashes = np.asarray(hashes, np.uint64)
    return mix(_salted(salts, len(hashes))[:, None], np.arange(2, dtype=np.uint64)[None, :], _halves(hashes))


@dataclass
class HammingIndex:
    """64-bit hashes, for "which stored rows are within `radius` bits of this hash?" without a scan.

    Multi-index hashing: a row is stored under its two 32-bit halves; a query reads its own halves and every
    value one bit away from them (66 keys). Two hashes at most 3 bits apart differ in at most one bit in one
    half (pigeonhole), so every row within 3 bits is found; rows 4-7 bits apart are found when their
    differences fall unevenly. On unrelated hashes a 32-bit half collides with p = 2**-32 per probe, so the
    candidates per query stay flat as the index grows. `salt` (e.g. the question's numbers key) narrows a
    bucket to rows that could match at all.
    """

    radius: int = PHASH_RADIUS
    cap: int = 32
    table: KeyTable = field(init=False)
    _hashes: Column = field(init=False)

    def __post_init__(self) -> None:
        self.table = KeyTable(cap=self.cap)
        self._hashes = Column(np.uint64)

    @property
    def hashes(self) -> np.ndarray:
        return self._hashes.view()

    def add_many(self, hashes: Sequence[int] | np.ndarray, salts: np.ndarray | None = None) -> np.ndarray:
        """Store hashes; returns their rows."""
        hashes = np.asarray(hashes, np.uint64)
        rows = self._hashes.extend(hashes)
        self.table.add(store_keys(hashes, salts), np.repeat(rows, 2))
        return rows

    def near_many(self, hashes: Sequence[int] | np.ndarray, salts: np.ndarray | None = None,
                  radius: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(query index, row, distance) for every stored row found within `radius` bits of a query."""
        hashes = np.asarray(hashes, np.uint64)
        q, rows = self.table.lookup(probe_keys(hashes, salts))
        if q.size:
            pairs = np.unique(np.stack((q, rows), axis=1), axis=0)
            q, rows = pairs[:, 0], pairs[:, 1]
        dist = popcount(hashes[q] ^ self.hashes[rows])
        keep = dist <= (self.radius if radius is None else radius)
        return q[keep], rows[keep], dist[keep]

    def __len__(self) -> int:
        return len(self._hashes)


def popcount(x: np.ndarray) -> np.ndarray:
    """Bits set per uint64 (numpy 2's bitwise_count)."""
    return np.bitwise_count(np.asarray(x, np.uint64)).astype(np.int64)
