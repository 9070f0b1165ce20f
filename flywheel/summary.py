"""Readable round summaries for the terminal (rich tables); the numbers come from `round.summarize`."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table


def _hist(h: dict[str, int]) -> str:
    return "  ".join(f"L{k}:{v}" for k, v in sorted(h.items()))


def round_table(round_no: int, s: dict) -> Table:
    t = Table(title=f"round {round_no}", show_header=False, title_justify="left")
    t.add_column("metric", style="bold")
    t.add_column("value")
    rate = s["accepted"] / max(1, s["proposed"])
    for k in ("proposed", "rendered", "verified"):
        t.add_row(k, str(s[k]))
    t.add_row("accepted", f"{s['accepted']} ({rate:.0%} of proposed)")
    reasons = s.get("rejected_by_reason") or {}
    t.add_row("rejected", f"{s['rejected']}" + ("".join(f"\n  {n:>4}  {r}" for r, n in reasons.items())))
    ops = s.get("accepted_by_operator") or {}
    if ops:
        t.add_row("by operator", "  ".join(f"{k} {v}" for k, v in ops.items()))
    verified = s.get("verified_by") or {}
    if verified:
        author = verified.get("author_code", 0)
        note = f"\n  {author} model-made problem(s) verified by their author's code only (no solver)" if author else ""
        t.add_row("verified by", "  ".join(f"{k} {v}" for k, v in verified.items()) + note)
    models = s.get("models") or {}
    if models:
        t.add_row("model calls", "\n".join(f"{role}: {m.get('requests', 0)} requests, {m.get('cached', 0)} replayed "
                                           f"from cache, {m.get('failed', 0)} failed" for role, m in models.items()))
    t.add_row("concepts covered", f"{s['concepts_covered']} (seed concepts: {s['seed_concepts_covered']})")
    t.add_row("difficulty", f"mean {s['difficulty_mean']:.2f}  {_hist(s['difficulty_histogram'])}")
    ks = s.get("knowledge")
    if ks:
        t.add_row("knowledge system", f"{ks['concepts']} concepts, {ks['tools']} tools, {ks['edges']} edges, "
                                      f"{ks['domains']} domains (+{ks['added_concepts']} concepts, "
                                      f"+{ks['added_tools']} tools this round)")
    dup = s.get("duplicates")
    if dup:
        t.add_row("near-duplicates", f"{dup['near_duplicates']} of {dup['checked']} ({dup['rate']:.1%})")
    cost = s.get("cost_per_accepted")
    if cost and (cost["prompt_tokens"] or cost["completion_tokens"]):
        t.add_row("cost per accepted", f"{cost['prompt_tokens']:.0f} prompt + {cost['completion_tokens']:.0f} "
                                       f"completion tokens, {cost['seconds']:.2f}s")
    stages = "  ".join(f"{k} {v:.1f}s" for k, v in s["stage_seconds"].items())
    t.add_row("seconds per stage", f"{stages}  (wall {s['wall_seconds']:.1f}s)")
    return t


def totals_table(summaries: list[tuple[int, dict]]) -> Table:
    t = Table(title="evolve", title_justify="left")
    for col in ("round", "proposed", "accepted", "rejected", "concepts", "difficulty", "wall s"):
        t.add_column(col, justify="right")
    for r, s in summaries:
        t.add_row(str(r), str(s["proposed"]), str(s["accepted"]), str(s["rejected"]), str(s["concepts_covered"]),
                  f"{s['difficulty_mean']:.2f}", f"{s['wall_seconds']:.1f}")
    total = {k: sum(s[k] for _, s in summaries) for k in ("proposed", "accepted", "rejected", "wall_seconds")}
    t.add_row("all", str(total["proposed"]), str(total["accepted"]), str(total["rejected"]), "", "",
              f"{total['wall_seconds']:.1f}")
    return t


def print_round(console: Console, round_no: int, s: dict) -> None:
    console.print(round_table(round_no, s))
