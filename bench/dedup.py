"""Benchmark: near-duplicate checking cost per problem as the data grows (10k -> 100k -> 1M), with quality.

Text: templated synthetic questions (numbers and names vary, as in the procedural families) with ~5% planted
near-duplicates (case, spacing, punctuation, number spelling, a filler word), pushed through
`DedupIndex.filter_new` in batches the way a round would; recall and precision are on the planted copies.
Images: synthetic 64-bit pHashes with ~5% planted copies 1-3 bits away, through `HammingIndex`.
Run: `.venv/bin/python bench/dedup.py [--max 1000000] [--batch 10000]`.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the project importable from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from verifiers.dedup_index import DedupIndex  # noqa: E402
from verifiers.image_hash import HammingIndex  # noqa: E402

SIZES = (10_000, 100_000, 1_000_000)
TEMPLATES = (
    "In triangle {A}{B}{C}, {A}{B} = {x} cm, {B}{C} = {y} cm and angle {B} = {z} degrees. Find {A}{C} to 1 decimal.",
    "A box is {x} cm long, {y} cm wide and {z} cm high. What is its volume in cubic centimetres?",
    "The circle with centre {A} has radius {x} m; a chord is {y} m from {A}. How long is the chord, in m?",
    "{name} buys {x} pens at {y} cents each and pays with a {z} cent coin. How much change does {name} get?",
    "Line {A}{B} passes through ({x}, {y}) and ({z}, {w}). Find the gradient of line {A}{B} as a fraction.",
    "A spinner has {x} equal sectors, {y} of them red. It is spun {z} times; find the chance of red every time.",
)
NAMES = ("Ada", "Ben", "Chen", "Dara", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jun")


def question(rng: random.Random) -> str:
    letters = rng.sample("ABCDEFGHKLMNPQRSTUVWXYZ", 3)
    return rng.choice(TEMPLATES).format(A=letters[0], B=letters[1], C=letters[2], name=rng.choice(NAMES),
                                        x=rng.randint(2, 400), y=rng.randint(2, 400), z=rng.randint(2, 400),
                                        w=rng.randint(2, 400))


def variant(q: str, rng: random.Random) -> str:
    """A near-duplicate of `q`: what a careless copy or a light rewording changes, never the numbers."""
    edits = (lambda s: s.upper(), lambda s: "  " + s.replace(" ", "   ") + " ", lambda s: s.replace(",", " ,"),
             lambda s: "Please answer: " + s, lambda s: s.replace(" cm", ".0 cm").replace(" m;", ".0 m;"),
             lambda s: s.replace("?", "??").replace(".", " ."))
    return rng.choice(edits)(q)


def synthetic(n: int, seed: int = 0, dup_rate: float = 0.05) -> tuple[list[tuple[str, str, None]], set[str]]:
    """n rows; a planted copy points back at a random earlier original. Returns rows and the planted ids."""
    rng = random.Random(seed)
    rows, originals, planted = [], [], set()
    for i in range(n):
        if originals and rng.random() < dup_rate:
            rows.append((f"d{i}", variant(rng.choice(originals), rng), None))
            planted.add(f"d{i}")
        else:
            q = question(rng)
            originals.append(q)
            rows.append((f"q{i}", q, None))
    return rows, planted


def bench_text(n: int, batch: int) -> dict:
    rows, planted = synthetic(n)
    index, flagged = DedupIndex(), set()
    start = time.perf_counter()
    for lo in range(0, n, batch):
        part = rows[lo:lo + batch]
        flagged.update(r[0] for r, hit in zip(part, index.filter_new(part), strict=True) if hit is not None)
    seconds = time.perf_counter() - start
    true = len(flagged & planted)
    return {"n": n, "seconds": seconds, "recall": true / max(1, len(planted)),
            "precision": true / max(1, len(flagged))}


def bench_phash(n: int, batch: int) -> dict:
    rng = np.random.default_rng(0)
    hashes = rng.integers(0, 2**63, n, dtype=np.uint64) * np.uint64(2) + rng.integers(0, 2, n, dtype=np.uint64)
    planted = np.flatnonzero(rng.random(n) < 0.05)
    planted = planted[planted > 0]
    source = (rng.random(planted.size) * planted).astype(np.int64)  # an earlier row
    flips = np.zeros(planted.size, np.uint64)
    for _ in range(3):  # 1-3 distinct random bits (a repeat bit cancels, leaving fewer)
        flips ^= np.uint64(1) << rng.integers(0, 64, planted.size, dtype=np.uint64)
    hashes[planted] = hashes[source] ^ flips
    index, found = HammingIndex(radius=3), 0
    start = time.perf_counter()
    for lo in range(0, n, batch):
        part = hashes[lo:lo + batch]
        if len(index):
            q, rows, _ = index.near_many(part)
            found += np.unique(q).size
        index.add_many(part)
    seconds = time.perf_counter() - start
    in_batch_sources = np.sum(source // batch == planted // batch)  # copies of a row in their own batch
    return {"n": n, "seconds": seconds, "recall": found / max(1, planted.size - in_batch_sources)}


def table(title: str, results: list[dict], quality: tuple[str, ...]) -> None:
    base = results[0]["seconds"] / results[0]["n"]
    print(f"\n{title}")
    print(f"{'size':>10}{'seconds':>10}{'us/problem':>12}{'vs 10k':>9}" + "".join(f"{q:>11}" for q in quality))
    for r in results:
        per = r["seconds"] / r["n"]
        print(f"{r['n']:>10,}{r['seconds']:>10.2f}{per * 1e6:>12.1f}{per / base:>8.2f}x"
              + "".join(f"{r[q]:>11.4f}" for q in quality))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max", type=int, default=SIZES[-1], help="largest size to run")
    parser.add_argument("--batch", type=int, default=10_000, help="problems per filter_new call (a round's part)")
    args = parser.parse_args(argv)
    sizes = [s for s in SIZES if s <= args.max] or [args.max]
    table("Text near-duplicates (DedupIndex.filter_new, questions only)",
          [bench_text(n, args.batch) for n in sizes], ("recall", "precision"))
    table("Image pHash lookup (HammingIndex, radius 3; recall on copies in earlier batches)",
          [bench_phash(n, args.batch) for n in sizes], ("recall",))
    return 0


if __name__ == "__main__":
    sys.exit(main())
