"""Near-duplicate removal: text normalisation and MinHash, image hashes, the combined rule, persistence, cost."""

from __future__ import annotations

import io
import random

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from generators.procedural.catalog import FAMILIES  # noqa: E402
from verifiers.dedup_index import FORMAT, DedupIndex  # noqa: E402
from verifiers.image_hash import HammingIndex, ImageKey, hamming, phash, same_image  # noqa: E402
from verifiers.near_dup import (  # noqa: E402
    KeyTable,
    minhash,
    minhash_tokens,
    normalise,
    numbers_of,
    shingle_batch,
    shingles,
)


def figure(points, label="ABC", size=(4, 3)) -> bytes:
    """A small triangle figure drawn here (trusted test code), as the families draw theirs."""
    fig = plt.figure(figsize=size, dpi=100)
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_xlim(0, 400)
    ax.set_ylim(300, 0)
    ax.axis("off")
    ax.add_patch(plt.Polygon(points, closed=True, fill=False, lw=2))
    for (x, y), name in zip(points, label, strict=True):
        ax.text(x, y - 12, name, fontsize=12)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi)
    plt.close(fig)
    return buf.getvalue()


def jpeg_then_png(png: bytes) -> bytes:
    im = Image.open(io.BytesIO(png)).convert("RGB")
    a = io.BytesIO()
    im.save(a, "JPEG", quality=80)
    b = io.BytesIO()
    Image.open(io.BytesIO(a.getvalue())).save(b, "PNG")
    return b.getvalue()


def shifted(png: bytes, dx: int = 2, dy: int = 1) -> bytes:
    im = Image.open(io.BytesIO(png)).convert("RGB")
    canvas = Image.new("RGB", im.size, "white")
    canvas.paste(im, (dx, dy))
    out = io.BytesIO()
    canvas.save(out, "PNG")
    return out.getvalue()


TRI = [(60, 250), (340, 240), (200, 50)]
OTHER = [(40, 200), (360, 260), (120, 40)]
Q = "In triangle ABC, AB = 7 cm, BC = 5 cm and angle B = 40°. Find the length of AC, rounded to 1 decimal place."


def test_normalise_folds_form_but_keeps_numbers():
    assert normalise("Find  AB,\tgiven AB = 5.0 CM!") == normalise("find ab given ab = 5 cm")
    assert normalise("Ｆｉｎｄ five") == ["find", "5"]  # NFKC full-width letters, number words
    assert numbers_of(normalise("1,000 and 0.50 and 3")) == ("0.5", "1000", "3")
    assert numbers_of(normalise(Q)) != numbers_of(normalise(Q.replace("7 cm", "8 cm")))


def test_minhash_estimates_jaccard():
    a, b = normalise(Q), normalise(Q.replace("Find", "Work out"))
    sa, sb = set(shingles(a)), set(shingles(b))
    true = len(sa & sb) / len(sa | sb)
    sig = minhash([shingles(a), shingles(b), shingles(a)])
    assert (sig[0] == sig[2]).all()
    assert abs((sig[0] == sig[1]).mean() - true) < 0.15


def test_shingle_batch_matches_one_question_at_a_time_and_keeps_short_questions():
    toks = [normalise(Q), [], normalise("five"), normalise("Find AB"), normalise(Q.upper())]
    _, counts = shingle_batch(toks)
    assert counts.tolist() == [len(toks[0]) - 1, 1, 1, 1, len(toks[0]) - 1]
    batch = minhash_tokens(toks)
    assert np.array_equal(batch, np.concatenate([minhash_tokens([t]) for t in toks]))
    assert (batch[0] == batch[4]).all() and not (batch[1] == batch[2]).all()


def test_text_variants_caught_and_template_siblings_not():
    index = DedupIndex()
    index.add("p1", Q, None)
    for variant in ("  in TRIANGLE abc ,ab=7 cm, bc = 5 cm and angle b = 40 °. find the length of ac, rounded to "
                    "one decimal place", Q.replace("Find", "Please find"), Q.replace("7 cm", "7.0 cm")):
        hit = index.check("v", variant, None)
        assert hit is not None and hit.id == "p1" and hit.reason == "text", variant
    for sibling in (Q.replace("7 cm", "8 cm"), Q.replace("40°", "45°")):  # other numbers: another problem
        assert index.check("s", sibling, None) is None


def test_image_hash_catches_reencoded_and_shifted_and_separates_figures():
    png = figure(TRI)
    key = ImageKey.of(png)
    for copy in (jpeg_then_png(png), shifted(png), shifted(png, -3, 2)):
        assert same_image(key, ImageKey.of(copy))
    moved = [(x + 25, y) if i == 2 else (x, y) for i, (x, y) in enumerate(TRI)]  # one vertex moved 25 px
    for other in (figure(OTHER), figure(moved)):
        assert not same_image(key, ImageKey.of(other))
    # Relabelling the vertices is the same picture to the ink map (letters sit inside its one-cell tolerance):
    # the question's own letters then decide, through the text similarity.
    assert same_image(key, ImageKey.of(figure(TRI, label="PQR")))
    assert hamming(phash(png), phash(jpeg_then_png(png))) <= 4


def test_same_figure_question_pairs():
    png, other = figure(TRI), figure(OTHER)
    q = "The figure shows triangle ABC with its side lengths marked. Find the area of triangle ABC."
    index = DedupIndex()
    index.add("a", q, png)
    hit = index.check("b", "  The figure shows triangle ABC with its side lengths marked; find the AREA of "
                      "triangle ABC!", shifted(png))
    assert hit is not None and hit.reason == "text+image" and hit.id == "a"
    assert index.check("c", q, other) is None  # same template, another figure: the data differ
    assert index.check("d", "The figure shows triangle ABC with its side lengths marked. Find the perimeter "
                       "of triangle ABC and the length of its longest median.", png) is None  # parallel
    assert index.check("e", "", jpeg_then_png(png)).reason == "image"


def test_batch_keeps_the_first_copy_only():
    index = DedupIndex()
    hits = index.filter_new([("a", Q, None), ("b", Q.upper(), None), ("c", Q.replace("7 cm", "9 cm"), None)])
    assert [h.id if h else None for h in hits] == [None, "a", None]
    assert index.ids == ["a", "c"]


def test_batch_verdicts_match_single_checks():
    """The vectorised confirmation picks the same best row as checking one problem at a time."""
    png, other = figure(TRI), figure(OTHER)
    q = "The figure shows triangle ABC with its side lengths marked. Find the area of triangle ABC."
    index = DedupIndex.rebuild([("a", Q, None), ("b", q, png), ("c", q.upper(), None), ("d", "", other),
                                ("e", Q.replace("7 cm", "9 cm"), None)])
    queries = [("x", Q.lower(), None), ("y", q + "!", shifted(png)), ("z", q, None), ("w", "", other),
               ("v", Q.replace("7 cm", "8 cm"), None), ("u", q, other)]
    singles = [index.check(*row) for row in queries]
    assert index.check_many(queries) == singles
    assert [(h.id, h.reason) if h else None for h in singles] == [
        ("a", "text"), ("b", "text+image"), ("b", "text"), ("d", "image"), None, ("c", "text")]
    # "z": b and c tie (text, similarity 1.0) and the older row wins; "u": another figure than b's, but c has
    # no figure, so near-identical text decides.
    index.check("t", Q.upper(), None)
    index.add("t", Q.upper(), None)  # the gate's check-then-add reuses the prepared row
    assert index.ids[-1] == "t" and index.check("s", Q.upper(), None).id == "a"


def test_procedural_drafts_are_not_flagged():
    """Different drafts from every family's templates (text only here): near-identical text is rare, and
    the ones flagged must be the same question with the same answer."""
    drafts = [make(random.Random(seed), 1 + seed % 5) for make in FAMILIES.values() for seed in range(20)]
    index = DedupIndex()
    hits = index.filter_new([(f"d{i}", d.question, None) for i, d in enumerate(drafts)])
    by_id = {f"d{i}": d for i, d in enumerate(drafts)}
    flagged = [(d, by_id[h.id]) for d, h in zip(drafts, hits, strict=True) if h]
    for a, b in flagged:  # text-only rule: numbers agree and text is near-identical
        assert numbers_of(normalise(a.question)) == numbers_of(normalise(b.question))
    assert len(flagged) < len(drafts) // 4


def test_persistence_round_trip(tmp_path):
    png = figure(TRI)
    index = DedupIndex.rebuild([("a", Q, None), ("b", "Find the area of triangle ABC.", png), ("c", "", png)])
    path = tmp_path / "dedup.npz"
    index.save(path)
    again = DedupIndex.load(path)
    assert again.ids == ["a", "b", "c"] and list(tmp_path.iterdir()) == [path]
    assert again.check("x", Q.lower(), None).id == "a"
    assert again.check("y", "Find the area of triangle ABC!", jpeg_then_png(png)).id == "b"
    assert again.to_bytes() == index.to_bytes()
    with np.load(io.BytesIO(index.to_bytes())) as z:
        arrays = {k: z[k] for k in z.files}
    old, new = f'"format": {FORMAT}'.encode(), b'"format": 9'
    arrays["meta"] = np.frombuffer(arrays["meta"].tobytes().replace(old, new), np.uint8)
    other = io.BytesIO()
    np.savez(other, **arrays)
    with pytest.raises(ValueError, match="format 9"):
        DedupIndex.from_bytes(other.getvalue())


def test_hamming_index_finds_all_within_three_bits_and_reads_few_rows():
    rng = np.random.default_rng(1)
    hashes = rng.integers(0, 2**63, 20_000, dtype=np.uint64) * np.uint64(2)
    index = HammingIndex(radius=3)
    index.add_many(hashes)
    flips = [np.uint64(1) << np.uint64(b) for b in (0, 33, 62)]
    queries = hashes[:500] ^ flips[0] ^ flips[1] ^ flips[2]  # 3 bits away, spread over both halves
    q, rows, dist = index.near_many(queries)
    assert set(zip(q.tolist(), rows.tolist(), strict=True)) >= {(i, i) for i in range(500)}
    assert (dist <= 3).all()
    found_q, _ = index.table.lookup(__import__("verifiers.image_hash", fromlist=["x"]).probe_keys(queries))
    assert found_q.size <= 2 * 500  # unrelated rows almost never share a 32-bit half: candidates stay flat


def test_candidates_per_query_bounded_as_the_index_grows():
    """Cost is structural: a crowded template bucket is read at most `cap` rows per key."""
    table = KeyTable(cap=8)
    keys = np.full(5_000, 42, np.uint64)  # every row in one bucket, the worst template
    for lo in range(0, 5_000, 500):
        table.add(keys[lo:lo + 500], np.arange(lo, lo + 500))
    q, rows = table.lookup(np.array([42, 7], np.uint64))
    assert len(table) == 5_000 and (q == 0).all()
    assert rows.size <= 8 and len(table.chunks) <= 14  # log-many chunks
    assert rows.tolist() == sorted(rows.tolist()) or len(set(rows.tolist())) == rows.size


def test_crowded_bucket_answer_does_not_depend_on_batching():
    """The live gate adds one row at a time; after a kill the index is rebuilt from the shards in big batches.
    Both must read the same (oldest) rows of a crowded bucket, or a resumed run admits differently."""
    rng = np.random.default_rng(0)
    keys = np.where(rng.random(300) < 0.5, 42, rng.integers(0, 9, 300)).astype(np.uint64)
    live, rebuilt = KeyTable(cap=8), KeyTable(cap=8)
    for row in range(300):
        live.add(keys[row:row + 1], np.array([row]))
    rebuilt.add(keys[:200], np.arange(200))
    for row in range(200, 300):
        rebuilt.add(keys[row:row + 1], np.array([row]))
    needles = np.array([42, 3, 5], np.uint64)
    a, b = live.lookup(needles), rebuilt.lookup(needles)
    assert sorted(zip(*a, strict=True)) == sorted(zip(*b, strict=True))
    assert sorted(a[1][a[0] == 0].tolist()) == np.flatnonzero(keys == 42)[:8].tolist()  # the oldest eight
