"""Benchmark: near-duplicate checking cost per problem as the index grows (10k -> 100k -> 1M), with quality.

Every size measures the same thing: the index is pre-filled with N rows (as `build_near_index` does from the
shards), then one fixed set of new queries is checked against it, so the µs per query at 10k, 100k and 1M
are directly comparable and "flat" means the ratio to the 10k row stays near 1.
Text: templated synthetic questions (numbers and letters vary, as in the procedural families), all distinct,
with ~5% planted near-duplicates already inside the index. The queries (default 5,000) are 5% light copies of
stored questions (case, spacing, punctuation, number spelling, a filler phrase: never the numbers) and 95%
new distinct questions. Timed two ways: `check_many` over the whole query set, and `check` + `add` one
problem at a time (what flywheel/near_dups.py does per problem) on the first 1,000 queries.
Images: synthetic 64-bit pHashes in a `HammingIndex` (radius 3); queries are 5% copies 1-3 bits from a stored
hash and 95% fresh hashes, looked up as one batch and one at a time.
Recall = planted copies flagged / planted; precision = planted copies flagged / all flagged.
Each size runs in its own child process, so "peak RSS" is that size's own high-water mark (it includes the
synthetic questions). Times are CPU seconds of the process (the shared machine is loaded, wall time is
printed beside them, with the load average).
Run: `.venv/bin/python bench/dedup.py [--max 1000000] [--queries 5000] [--json]`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the project importable from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from verifiers.dedup_index import DedupIndex  # noqa: E402
from verifiers.image_hash import HammingIndex  # noqa: E402

SIZES = (10_000, 100_000, 1_000_000)
DUP_RATE = 0.05
ONE_AT_A_TIME = 1_000  # queries timed through check + add singly (the round's gate)
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


def distinct_questions(rng: random.Random, seen: set[str], n: int) -> list[str]:
    """n questions not in `seen` (and added to it): chance exact repeats are not planted copies."""
    out = []
    while len(out) < n:
        q = question(rng)
        if q not in seen:
            seen.add(q)
            out.append(q)
    return out


def synthetic(n: int, queries: int, seed: int = 0) -> tuple[list, list, set[str]]:
    """Stored rows (n, ~5% planted copies among them), query rows, and the ids of the planted query copies."""
    rng, seen = random.Random(seed), set()
    fresh = iter(distinct_questions(rng, seen, n + queries))
    rows, stored = [], []  # stored: the originals actually in the index, which query copies point at
    for i in range(n):
        if stored and rng.random() < DUP_RATE:
            rows.append((f"s{i}", variant(rng.choice(stored), rng), None))
        else:
            stored.append(next(fresh))
            rows.append((f"s{i}", stored[-1], None))
    query_rows, planted = [], set()
    for i in range(queries):
        if rng.random() < DUP_RATE:
            query_rows.append((f"d{i}", variant(rng.choice(stored), rng), None))
            planted.add(f"d{i}")
        else:
            query_rows.append((f"q{i}", next(fresh), None))
    return rows, query_rows, planted


def _clock() -> tuple[float, float]:
    return time.process_time(), time.perf_counter()


def _since(start: tuple[float, float]) -> tuple[float, float]:
    cpu, wall = _clock()
    return cpu - start[0], wall - start[1]


def _quality(flagged: set, planted: set) -> dict:
    true = len(flagged & planted)
    return {"recall": true / max(1, len(planted)), "precision": true / max(1, len(flagged)) if flagged else 1.0}


def bench_text(n: int, queries: int) -> dict:
    rows, query_rows, planted = synthetic(n, queries)
    start = _clock()
    index = DedupIndex.rebuild(rows)
    build_cpu, build_wall = _since(start)
    del rows
    start = _clock()
    hits = index.check_many(query_rows)
    check_cpu, check_wall = _since(start)
    flagged = {r[0] for r, h in zip(query_rows, hits, strict=True) if h is not None}
    single = query_rows[:ONE_AT_A_TIME]
    start = _clock()
    for id_, q, png in single:  # the round's gate: check, and add when new
        if index.check(id_, q, png) is None:
            index.add(id_, q, png)
    single_cpu, single_wall = _since(start)
    return {"kind": "text", "n": n, "queries": queries, "build_cpu_s": build_cpu, "build_wall_s": build_wall,
            "check_cpu_us": 1e6 * check_cpu / queries, "check_wall_us": 1e6 * check_wall / queries,
            "single_cpu_us": 1e6 * single_cpu / len(single), "single_wall_us": 1e6 * single_wall / len(single),
            **_quality(flagged, planted)}


def synthetic_hashes(n: int, queries: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stored hashes, query hashes, and which queries are copies (1-3 bits from a stored hash)."""
    rng = np.random.default_rng(seed)
    stored = rng.integers(0, 2**63, n, dtype=np.uint64) * np.uint64(2) + rng.integers(0, 2, n, dtype=np.uint64)
    asked = rng.integers(0, 2**63, queries, dtype=np.uint64) * np.uint64(2)
    copies = rng.random(queries) < DUP_RATE
    flips = np.zeros(int(copies.sum()), np.uint64)
    for _ in range(3):  # 1-3 distinct random bits (a repeat bit cancels, leaving fewer)
        flips ^= np.uint64(1) << rng.integers(0, 64, flips.size, dtype=np.uint64)
    asked[copies] = stored[rng.integers(0, n, flips.size)] ^ flips
    return stored, asked, copies


def bench_phash(n: int, queries: int) -> dict:
    stored, asked, copies = synthetic_hashes(n, queries)
    start = _clock()
    index = HammingIndex(radius=3)
    for lo in range(0, n, 4096):  # the batch size DedupIndex.rebuild uses
        index.add_many(stored[lo:lo + 4096])
    build_cpu, build_wall = _since(start)
    start = _clock()
    q, _, _ = index.near_many(asked)
    check_cpu, check_wall = _since(start)
    start = _clock()
    single = [index.near_many(asked[i:i + 1])[0].size > 0 for i in range(min(ONE_AT_A_TIME, queries))]
    single_cpu, single_wall = _since(start)
    planted = set(np.flatnonzero(copies).tolist())
    assert set(np.flatnonzero(single).tolist()) == set(np.unique(q).tolist()) & set(range(len(single)))
    return {"kind": "phash", "n": n, "queries": queries, "build_cpu_s": build_cpu, "build_wall_s": build_wall,
            "check_cpu_us": 1e6 * check_cpu / queries, "check_wall_us": 1e6 * check_wall / queries,
            "single_cpu_us": 1e6 * single_cpu / len(single), "single_wall_us": 1e6 * single_wall / len(single),
            **_quality(set(np.unique(q).tolist()), planted)}


def run_one(kind: str, n: int, queries: int) -> dict:
    result = (bench_text if kind == "text" else bench_phash)(n, queries)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def in_child(kind: str, n: int, queries: int) -> dict:
    """One size in a fresh process, so its peak RSS is its own."""
    out = subprocess.run([sys.executable, __file__, "--one", kind, str(n), "--queries", str(queries)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def table(title: str, results: list[dict]) -> None:
    base = results[0]
    print(f"\n{title}")
    print(f"{'size':>10}{'build s':>9}{'build us/row':>13}{'check us/q':>11}{'(wall)':>8}{'vs 10k':>8}"
          f"{'1-by-1 us/q':>12}{'(wall)':>8}{'vs 10k':>8}{'recall':>8}{'precision':>10}{'peak RSS MB':>12}")
    for r in results:
        print(f"{r['n']:>10,}{r['build_cpu_s']:>9.1f}{1e6 * r['build_cpu_s'] / r['n']:>13.1f}"
              f"{r['check_cpu_us']:>11.1f}{r['check_wall_us']:>8.0f}{r['check_cpu_us'] / base['check_cpu_us']:>7.2f}x"
              f"{r['single_cpu_us']:>12.1f}{r['single_wall_us']:>8.0f}"
              f"{r['single_cpu_us'] / base['single_cpu_us']:>7.2f}x"
              f"{r['recall']:>8.4f}{r['precision']:>10.4f}{r['peak_rss_mb']:>12.0f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max", type=int, default=SIZES[-1], help="largest index size to run")
    parser.add_argument("--queries", type=int, default=5_000, help="new problems checked at every size")
    parser.add_argument("--only", choices=("text", "phash"), help="run one table")
    parser.add_argument("--json", action="store_true", help="print the results as JSON after the tables")
    parser.add_argument("--one", nargs=2, metavar=("KIND", "N"), help=argparse.SUPPRESS)  # child mode
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one[0], int(args.one[1]), args.queries)))
        return 0
    sizes = [s for s in SIZES if s <= args.max] or [args.max]
    load_before, results = os.getloadavg(), {}
    print(f"load average at start: {load_before[0]:.1f} {load_before[1]:.1f} {load_before[2]:.1f} "
          f"on {os.cpu_count()} cores; {args.queries:,} queries per size")
    titles = {"text": "Text near-duplicates (DedupIndex, questions only; CPU µs per query)",
              "phash": "Image pHash lookup (HammingIndex, radius 3; CPU µs per query)"}
    for kind in ("text", "phash"):
        if args.only in (None, kind):
            results[kind] = [in_child(kind, n, args.queries) for n in sizes]
            table(titles[kind], results[kind])
    load_after = os.getloadavg()
    print(f"\nload average at end: {load_after[0]:.1f} {load_after[1]:.1f} {load_after[2]:.1f}")
    if args.json:
        print(json.dumps({"load_avg": {"start": load_before, "end": load_after}, **results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
