"""The acceptance table of the proposer-reply corpus: what each hand-written problem was expected to get
(tests/fixtures/proposer_replies/*.expect.json) against what a round stored in DATA actually did with it.

    python scripts/corpus_table.py DATA [--corpus tests/fixtures/proposer_replies]

Prints markdown: a summary (expected outcome x actual outcome, with counts) and one row per problem. Corpus
problems are tied to records by content id (question, render code, answer, answer code: what the parser makes
of the reply), falling back to the question text for accepted problems. `tests/test_proposer_corpus.py`
imports the helpers here.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "fixtures" / "proposer_replies"
DEFAULT_JUDGE = {"question_answer": 9, "drawing": 9, "tool_edit": 8, "numbers": 9, "reason": "consistent"}


@dataclass(frozen=True)
class Expected:
    """One problem of one reply, as its .expect.json states it."""

    reply: str  # the file stem, e.g. "001-triangle-fenced"
    question_contains: str
    outcome: str  # "accepted" or "<stage>:<reason>"
    true_answer: str
    judge: dict = field(compare=False, hash=False)
    note: str = ""

    @property
    def kind(self) -> str:
        return "correct" if self.outcome == "accepted" else self.outcome


@dataclass(frozen=True)
class Reply:
    name: str
    text: str
    style: str
    problems: tuple[Expected, ...]


def load_corpus(folder: Path = CORPUS) -> list[Reply]:
    """Every `NNN-slug.txt` with its `NNN-slug.expect.json`, in file order; a reply without one is an error."""
    replies = []
    for txt in sorted(folder.glob("[0-9][0-9][0-9]-*.txt")):
        spec = json.loads(txt.with_suffix(".expect.json").read_text(encoding="utf-8"))
        problems = tuple(Expected(txt.stem, p["question_contains"], p["outcome"], str(p["true_answer"]),
                                  {**DEFAULT_JUDGE, **p.get("judge", {})}, p.get("note", ""))
                         for p in spec["problems"])  # fmt: skip
        replies.append(Reply(txt.stem, txt.read_text(encoding="utf-8"), spec.get("style", ""), problems))
    return replies


def expectation(question: str, candidates: list[Expected]) -> Expected | None:
    """The one expectation whose `question_contains` occurs in `question` (None if none or several)."""
    hits = [e for e in candidates if e.question_contains in question]
    return hits[0] if len(hits) == 1 else None


def parsed(reply: Reply) -> list[tuple[Expected | None, object]]:
    """(expectation, draft or ParseFailure) for every candidate the parser finds in the reply."""
    from flywheel.lmm.parse import ProposalDraft, parse_candidates

    out = []
    for item in parse_candidates(reply.text):
        question = item.question if isinstance(item, ProposalDraft) else ""
        out.append((expectation(question, list(reply.problems)), item))
    return out


def corpus_ids(replies: list[Reply]) -> dict[str, Expected]:
    """Content id -> expectation, for every corpus problem the parser turns into a draft."""
    from flywheel.lmm.parse import ProposalDraft, to_problem

    ids = {}
    for reply in replies:
        for exp, item in parsed(reply):
            if exp is not None and isinstance(item, ProposalDraft):
                ids[to_problem(item, 1, "corpus").id] = exp
    return ids


def actual_outcomes(data: Path, replies: list[Reply]) -> dict[Expected, str]:
    """What the round stored for each corpus problem: "accepted", "<stage>:<reason>" or "missing"."""
    from storage.catalog import query

    accepted = json.loads(query(data, "SELECT id, question FROM problems", "json"))
    rejected = json.loads(query(data, "SELECT id, stage, reason FROM rejections", "json"))
    by_id = corpus_ids(replies)
    everything = [e for r in replies for e in r.problems]
    out = {e: "missing" for e in everything}
    for row in rejected:
        if row["id"] in by_id:
            out[by_id[row["id"]]] = f"{row['stage']}:{row['reason']}"
    for row in accepted:  # accepted wins: a repaired problem keeps its question but not its id
        exp = by_id.get(row["id"]) or expectation(row["question"], everything)
        if exp is not None:
            out[exp] = "accepted"
    return out


def table(outcomes: dict[Expected, str]) -> str:
    """Markdown: expected kind x actual outcome counts, then one row per problem."""
    counts = Counter((e.kind, got) for e, got in outcomes.items())
    ok = sum(1 for e, got in outcomes.items() if got == e.outcome)
    lines = [f"{ok} of {len(outcomes)} corpus problems got their expected outcome.", "",
             "| expected | actual | problems |", "|---|---|---|"]  # fmt: skip
    for (kind, got), n in sorted(counts.items(), key=lambda kv: (kv[0][0] != "correct", kv[0])):
        lines.append(f"| {kind} | {'accepted' if got == 'accepted' else got} | {n} |")
    lines += ["", "| reply | question contains | expected | actual | |", "|---|---|---|---|---|"]
    for e, got in sorted(outcomes.items(), key=lambda kv: (kv[0].reply, kv[0].question_contains)):
        mark = "ok" if got == e.outcome else "**MISMATCH**"
        lines.append(f"| {e.reply} | {e.question_contains[:40]} | {e.outcome} | {got} | {mark} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", type=Path, help="the data directory of a round run on the corpus")
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    args = ap.parse_args(argv)
    replies = load_corpus(args.corpus)
    print(table(actual_outcomes(args.data, replies)))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
