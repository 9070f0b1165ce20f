"""One row of numbers per committed round, for `flywheel report`.

Round summaries (in the part manifests) are the first source; what a summary lacks is derived from the
committed problems and rejections (DuckDB) or from `knowledge.json`, and what cannot be derived stays None so
the plots can say "not recorded". Old data therefore always yields rows. Tested in tests/test_report.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from storage.manifest import KNOWLEDGE, load_manifests

LEVELS = (1, 2, 3, 4, 5)


def level_of(difficulty: float) -> int:
    """The 1-5 level a difficulty falls in: truncated, as the round summary's histogram counts it, then clamped
    so that every problem lands in a bar of the plot and a section of the gallery.

    >>> [level_of(d) for d in (0.0, 1.0, 2.9, 5.0, 7.5)]
    [1, 1, 2, 5, 5]
    """
    return min(LEVELS[-1], max(LEVELS[0], int(difficulty)))


@dataclass(frozen=True)
class KnowledgeCounts:
    """Size of the knowledge system after a round, and what that round added."""

    concepts: int
    tools: int
    edges: int
    domains: int
    added_concepts: int | None = None
    added_tools: int | None = None


@dataclass(frozen=True)
class Duplicates:
    checked: int
    near_duplicates: int
    rate: float


@dataclass(frozen=True)
class CostPerAccepted:
    prompt_tokens: float
    completion_tokens: float
    seconds: float


@dataclass(frozen=True)
class RoundMetrics:
    """Everything the report plots for one round; None means neither recorded nor derivable.

    `derived` names the fields computed here rather than read from the round summary, so a plot can say so.
    """

    round: int
    final: bool
    proposed: int
    accepted: int
    rejected: int
    rejected_by_reason: dict[str, int]
    accepted_by_operator: dict[str, int]
    concepts_covered: int
    seed_concepts_covered: int | None
    cumulative_concepts: int
    cumulative_seed_concepts: int | None
    difficulty_mean: float | None
    difficulty_histogram: dict[int, int]
    knowledge: KnowledgeCounts | None
    duplicates: Duplicates | None
    cost: CostPerAccepted | None
    wall_seconds: float | None
    derived: frozenset[str] = field(default_factory=frozenset)

    @property
    def acceptance_rate(self) -> float:
        return self.accepted / self.proposed if self.proposed else 0.0


@dataclass(frozen=True)
class ReportData:
    """The rows plus facts about the whole data dir that no single round holds."""

    rounds: tuple[RoundMetrics, ...]
    seed_concepts: int | None  # concepts in the seed knowledge system (None without knowledge.json)
    seed_knowledge: KnowledgeCounts | None  # the system before round 1


def round_summaries(data: Path) -> dict[int, tuple[dict[str, Any], bool]]:
    """Each committed round's merged summary (later parts override earlier keys) and its final mark."""
    out: dict[int, tuple[dict[str, Any], bool]] = {}
    for m in load_manifests(data):
        summary, final = out.get(m.round, ({}, False))
        out[m.round] = ({**summary, **(m.summary or {})}, final or m.final)
    return out


def _by_round(con: duckdb.DuckDBPyConnection, sql: str) -> dict[int, dict[Any, Any]]:
    """Rows (round, key, value) as {round: {key: value}}."""
    out: dict[int, dict[Any, Any]] = {}
    try:
        rows = con.execute(sql).fetchall()
    except duckdb.BinderException:  # shards older than a column the query needs: that metric is not recorded
        return out
    for r, key, value in rows:
        out.setdefault(int(r), {})[key] = value
    return out


def _derived_tables(con: duckdb.DuckDBPyConnection) -> dict[str, dict[int, dict[Any, Any]]]:
    """Per-round counts from the committed rows, one query each."""
    return {
        "accepted": _by_round(con, "SELECT round, 'n', count(*) FROM problems GROUP BY ALL"),
        "rejected": _by_round(con, "SELECT round, 'n', count(*) FROM rejections GROUP BY ALL"),
        "reasons": _by_round(con, "SELECT round, stage || ':' || reason, count(*) FROM rejections GROUP BY ALL"),
        "operator": _by_round(con, "SELECT round, operator, count(*) FROM problems GROUP BY ALL"),
        # int() in round.summarize truncates, so floor here: level 2.7 counts as level 2 in both places
        "levels": _by_round(con, "SELECT round, CAST(floor(difficulty) AS BIGINT), count(*) FROM problems "
                                 "GROUP BY ALL"),
        "mean": _by_round(con, "SELECT round, 'mean', avg(difficulty) FROM problems GROUP BY ALL"),
        "cost": _by_round(con, "SELECT round, 'cost', [avg(cost.prompt_tokens), avg(cost.completion_tokens), "
                               "avg(coalesce(list_sum(map_values(cost.seconds)), 0))] FROM problems GROUP BY ALL"),
        "dedup": _by_round(con, "SELECT round, 'n', count(*) FROM rejections WHERE stage = 'dedup' GROUP BY ALL"),
    }


def _concepts_by_round(con: duckdb.DuckDBPyConnection) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    try:
        rows = con.execute("SELECT DISTINCT round, unnest(concepts) FROM problems").fetchall()
    except duckdb.BinderException:
        return out
    for r, concept in rows:
        out.setdefault(int(r), set()).add(concept)
    return out


def _levels(d: dict[Any, Any]) -> dict[int, int]:
    """A histogram keyed by level 1-5; keys arrive as text from JSON ("3") or as numbers.

    >>> _levels({"0": 2, "1": 1, "3": 4, "x": 9})
    {1: 3, 3: 4}
    """
    out: dict[int, int] = {}
    for k, v in d.items():
        try:
            level, n = level_of(float(k)), int(v)
        except (TypeError, ValueError):
            continue
        out[level] = out.get(level, 0) + n
    return dict(sorted(out.items()))


def _count(v: Any) -> int | None:
    """A recorded "added" value may be a count or the list of added ids."""
    if isinstance(v, list | tuple):
        return len(v)
    return int(v) if isinstance(v, int | float) else None


def knowledge_by_round(data: Path, rounds: list[int]) -> tuple[dict[int, KnowledgeCounts], KnowledgeCounts | None]:
    """Growth replayed from `knowledge.json`: every node records the round that added it (0 = seed)."""
    from storage.meta_views import concepts_rows

    if not (data / KNOWLEDGE).exists():
        return {}, None
    columns, rows = concepts_rows(data)
    nodes = [dict(zip([c for c, _ in columns], row, strict=True)) for row in rows]

    def upto(r: int) -> KnowledgeCounts:
        live = [n for n in nodes if (n["added_round"] or 0) <= r]
        concepts = [n for n in live if n["kind"] == "concept"]
        return KnowledgeCounts(
            concepts=len(concepts),
            tools=len(live) - len(concepts),
            edges=sum(len(n["prerequisites"]) for n in concepts),  # as KnowledgeSystem.version counts them
            domains=len({n["domain"] for n in concepts if n["domain"]}),
            added_concepts=sum(1 for n in concepts if (n["added_round"] or 0) == r),
            added_tools=sum(1 for n in live if n["kind"] != "concept" and (n["added_round"] or 0) == r),
        )

    return {r: upto(r) for r in rounds}, upto(0)


def seed_concept_ids(data: Path) -> frozenset[str] | None:
    from storage.meta_views import concepts_rows

    if not (data / KNOWLEDGE).exists():
        return None
    _, rows = concepts_rows(data)  # columns: id, name, kind, domain, level, added_round, ...
    return frozenset(r[0] for r in rows if r[2] == "concept" and not r[5])


def _recorded_knowledge(s: dict[str, Any]) -> KnowledgeCounts | None:
    k = s.get("knowledge")
    if not isinstance(k, dict) or not all(isinstance(k.get(f), int) for f in ("concepts", "tools")):
        return None
    return KnowledgeCounts(k["concepts"], k["tools"], int(k.get("edges") or 0), int(k.get("domains") or 0),
                           _count(k.get("added_concepts")), _count(k.get("added_tools")))


def _recorded_duplicates(s: dict[str, Any]) -> Duplicates | None:
    d = s.get("duplicates")
    if not isinstance(d, dict) or not isinstance(d.get("checked"), int | float):
        return None
    checked, near = int(d["checked"]), int(d.get("near_duplicates") or 0)
    rate = d.get("rate")
    return Duplicates(checked, near, float(rate) if isinstance(rate, int | float) else near / max(1, checked))


def _recorded_cost(s: dict[str, Any]) -> CostPerAccepted | None:
    c = s.get("cost_per_accepted")
    if not isinstance(c, dict):
        return None
    seconds = c.get("seconds", 0.0)
    if isinstance(seconds, dict):  # per-stage seconds: the plot shows their total
        seconds = sum(v for v in seconds.values() if isinstance(v, int | float))
    return CostPerAccepted(float(c.get("prompt_tokens") or 0), float(c.get("completion_tokens") or 0),
                           float(seconds or 0))


@dataclass(frozen=True)
class _Derived:
    """What the committed rows and knowledge.json say, for the fields a summary may lack."""

    tables: dict[str, dict[int, dict[Any, Any]]]
    concepts: dict[int, set[str]]
    seed_ids: frozenset[str] | None
    knowledge: dict[int, KnowledgeCounts]

    def get(self, table: str, r: int, key: Any = "n", default: Any = 0) -> Any:
        return self.tables[table].get(r, {}).get(key, default)

    def cumulative(self, r: int) -> set[str]:
        return set().union(*(c for k, c in self.concepts.items() if k <= r))


def _pick(derived: list[str], name: str, recorded: Any, fallback: Any) -> Any:
    """The summary's value when it has one, else the derived one (and remember that it was derived)."""
    if recorded is not None:
        return recorded
    derived.append(name)
    return fallback


def _row(r: int, s: dict[str, Any], final: bool, d: _Derived) -> RoundMetrics:
    derived: list[str] = []

    def num(key: str) -> Any:
        return s.get(key) if isinstance(s.get(key), int | float) and not isinstance(s.get(key), bool) else None

    accepted = _pick(derived, "accepted", num("accepted"), d.get("accepted", r))
    rejected = _pick(derived, "rejected", num("rejected"), d.get("rejected", r))
    covered = d.concepts.get(r, set())
    seed = d.seed_ids
    cost = d.get("cost", r, "cost", None)
    dedup = d.get("dedup", r)
    mean = d.get("mean", r, "mean", None)
    return RoundMetrics(
        round=r,
        final=final,
        proposed=_pick(derived, "proposed", num("proposed"), accepted + rejected),
        accepted=int(accepted),
        rejected=int(rejected),
        rejected_by_reason=_pick(derived, "rejected_by_reason", _dict(s, "rejected_by_reason"),
                                 d.tables["reasons"].get(r, {})),
        accepted_by_operator=_pick(derived, "accepted_by_operator", _dict(s, "accepted_by_operator"),
                                   d.tables["operator"].get(r, {})),
        concepts_covered=_pick(derived, "concepts_covered", num("concepts_covered"), len(covered)),
        seed_concepts_covered=_pick(derived, "seed_concepts_covered", num("seed_concepts_covered"),
                                    None if seed is None else len(covered & seed)),
        cumulative_concepts=len(d.cumulative(r)),
        cumulative_seed_concepts=None if seed is None else len(d.cumulative(r) & seed),
        difficulty_mean=_pick(derived, "difficulty_mean", num("difficulty_mean"), mean),
        difficulty_histogram=_levels(_pick(derived, "difficulty_histogram", _dict(s, "difficulty_histogram"),
                                             d.tables["levels"].get(r, {}))),
        knowledge=_pick(derived, "knowledge", _recorded_knowledge(s), d.knowledge.get(r)),
        duplicates=_pick(derived, "duplicates", _recorded_duplicates(s),
                         Duplicates(int(accepted) + dedup, dedup, dedup / max(1, int(accepted) + dedup))),
        cost=_pick(derived, "cost", _recorded_cost(s), None if cost is None else CostPerAccepted(*map(float, cost))),
        wall_seconds=num("wall_seconds"),
        derived=frozenset(derived),
    )


def _dict(s: dict[str, Any], key: str) -> dict[str, Any] | None:
    v = s.get(key)
    return v if isinstance(v, dict) else None


def gather(data: Path | str) -> ReportData:
    """Rows for every committed round of `data`, in round order (CorruptShardError names a broken file)."""
    from storage.catalog import connect

    data = Path(data)
    summaries = round_summaries(data)
    con = connect(data)
    try:
        tables, concepts = _derived_tables(con), _concepts_by_round(con)
    finally:
        con.close()
    knowledge, seed_knowledge = knowledge_by_round(data, sorted(summaries))
    seed_ids = seed_concept_ids(data)
    d = _Derived(tables, concepts, seed_ids, knowledge)
    rows = tuple(_row(r, s, final, d) for r, (s, final) in sorted(summaries.items()))
    return ReportData(rows, None if seed_ids is None else len(seed_ids), seed_knowledge)
