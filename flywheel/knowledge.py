"""The knowledge system: concepts of visual mathematics, the visual tools that edit figures, and their growth.

Proposers pick concepts and tools from it; the evolve step grows it with candidate nodes, merging
near-duplicates; each round's manifest records `ks.version`. Layer L1 (stdlib only). The bundled seed lives in
`flywheel/data/seed_*.json`; `KnowledgeSystem.seed()` loads it. Tests: `pytest tests/test_knowledge.py`.
A `KnowledgeSystem` is an immutable value: `grow()` returns a new one, so a round keeps the exact system it
started with and two rounds can never disagree about what "the" system was.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from functools import cache, lru_cache
from graphlib import CycleError, TopologicalSorter
from importlib import resources
from pathlib import Path
from typing import Any

from flywheel.checkpoints import checkpoint

DOMAINS: tuple[str, ...] = (
    "plane_geometry", "solid_geometry", "analytic_geometry", "trigonometry", "functions_graphs",
    "statistics_charts", "probability", "counting", "graph_theory", "spatial_logic", "measurement",
)  # fmt: skip
TOOL_KINDS: tuple[str, ...] = ("construct", "annotate", "measure", "transform", "focus")
ROW_KEYS = ("id", "kind", "name", "domain", "level", "description", "prerequisites", "parents", "tool_kind",
            "example", "added_round")  # fmt: skip
FORMAT = 1  # bump when the saved file's layout changes
FUZZY_TOKEN_RATIO = 0.88  # catches "theorm"/"theorem", "coloring"/"colouring"; keeps "incenter"/"circumcenter" apart
FUZZY_NAME_JACCARD = 0.8  # share of fuzzily matched tokens two names need before they count as one node


@dataclass(frozen=True)
class Concept:
    """A piece of knowledge a problem exercises; `prerequisites` are concept ids it builds on."""

    id: str
    name: str
    description: str
    domain: str
    prerequisites: tuple[str, ...]
    level: int  # 1 foundational ... 5 advanced
    added_round: int = 0  # 0 for the seed, n for nodes grown in round n
    parents: tuple[str, ...] = ()  # concepts this one was evolved from (provenance)


@dataclass(frozen=True)
class VisualTool:
    """An operation an interactive solution performs on the figure; `example` is a snippet of such tool code."""

    id: str
    name: str
    description: str
    kind: str  # one of TOOL_KINDS
    example: str
    added_round: int = 0


@dataclass(frozen=True)
class KnowledgeVersion:
    """What a round manifest records: a content hash plus counts a person can sanity-check at a glance."""

    hash: str
    concepts: int
    tools: int
    edges: int
    domains: int

    def __str__(self) -> str:
        return f"ks-{self.hash}"


@dataclass(frozen=True)
class GrowthReport:
    """What `grow` did with each candidate; failures are data, so rejected candidates are listed, not raised."""

    round: int
    added_concepts: tuple[str, ...] = ()
    added_tools: tuple[str, ...] = ()
    merged: dict[str, str] = field(default_factory=dict)  # candidate name -> existing id it duplicates
    rejected: dict[str, str] = field(default_factory=dict)  # candidate name -> reason
    unresolved: tuple[tuple[str, str], ...] = ()  # (new id, prerequisite/parent reference that matched nothing)

    @property
    def added(self) -> tuple[str, ...]:
        return self.added_concepts + self.added_tools


_STOP = frozenset("a an the of and or in on for to with from by its at as is are into using".split())
_IRREGULAR = {
    "vertices": "vertex", "indices": "index", "matrices": "matrix", "axes": "axis", "radii": "radius",
    "foci": "focus", "polyhedra": "polyhedron", "dice": "die", "data": "data", "series": "series",
}  # fmt: skip
_SPELLING = (("colour", "color"), ("centre", "center"), ("metre", "meter"), ("litre", "liter"),
             ("behaviour", "behavior"), ("neighbour", "neighbor"))  # fmt: skip


def _singular(word: str) -> str:
    """Crude English singular; both sides of a comparison go through it, so consistency matters more than grammar."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith("sses"):
        return word[:-2]
    if word.endswith(("ches", "shes", "xes", "zes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def tokens(text: str) -> list[str]:
    """Normalised content words: ascii, lower case, possessives and stop words dropped, singular, US spelling.

    >>> tokens("The Pythagorean Theorems, revisited")
    ['pythagorean', 'theorem', 'revisited']
    """
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"'s\b", "", text)
    out = []
    for word in re.findall(r"[a-z0-9]+", text):
        if word in _STOP:
            continue
        word = _singular(word)
        for british, american in _SPELLING:
            word = word.replace(british, american)
        out.append(word)
    return out


@lru_cache(maxsize=16384)
def _token_set(text: str) -> frozenset[str]:
    # Cached: growth and search compare every candidate against every node's name and description.
    return frozenset(tokens(text))


def name_key(name: str) -> str:
    """Order-free key of a name: two names with the same key are the same node.

    >>> name_key("Theorem of Pythagoras") == name_key("pythagoras' theorems")
    True
    """
    return " ".join(sorted(_token_set(name)))


def _token_match(a: str, b: str) -> bool:
    """Long tokens match when nearly equal (typos, spelling variants); short ones and numbers only when equal."""
    # Cheap exits first (this runs for every token pair): typos rarely hit the first two letters, and
    # 2 * min / (len a + len b) is an upper bound of difflib's ratio.
    if a[:2] != b[:2] or a == b:
        return a == b
    la, lb = len(a), len(b)
    if min(la, lb) < 5 or 2 * min(la, lb) / (la + lb) < FUZZY_TOKEN_RATIO or a.isdigit():
        return False
    return difflib.SequenceMatcher(None, a, b).ratio() >= FUZZY_TOKEN_RATIO


def name_similarity(a: str, b: str) -> float:
    """Soft token Jaccard of two names: fuzzily matched tokens over the size of the union."""
    ta, tb = _token_set(a), _token_set(b)
    if not ta or not tb:
        return 0.0
    only_b = tb - ta
    matched = len(ta & tb) + sum(1 for x in ta - tb if any(_token_match(x, y) for y in only_b))
    return matched / (len(ta) + len(tb) - matched)


def slug(name: str) -> str:
    """Id-safe slug of a name.

    >>> slug("Heron's formula (3 sides)")
    'herons_formula_3_sides'
    """
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower().replace("'", "")
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")[:48].strip("_") or "node"


def _node(cls: type[Concept] | type[VisualTool], d: Mapping[str, Any]) -> Any:
    """Build a node from a JSON object; lists become tuples, unknown keys are ignored."""
    known = {f.name for f in fields(cls)}
    try:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k in known})
    except TypeError as e:  # a missing field
        raise ValueError(f"{cls.__name__.lower()} {d.get('id', '?')!r}: {e}") from None


def _to_dict(node: Concept | VisualTool) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(node).items()}


@cache
def _seed() -> KnowledgeSystem:
    # Cached: the value is immutable, and every proposer and test would otherwise re-parse the same files.
    data = resources.files("flywheel").joinpath("data")
    concepts = [_node(Concept, d) for d in json.loads(data.joinpath("seed_concepts.json").read_text("utf-8"))]
    tools = [_node(VisualTool, d) for d in json.loads(data.joinpath("seed_tools.json").read_text("utf-8"))]
    return KnowledgeSystem(concepts, tools)


def _validate(concepts: tuple[Concept, ...], tools: tuple[VisualTool, ...]) -> tuple[str, ...]:
    """Raise ValueError naming the offending id; return concept ids in topological order (prerequisites first)."""
    for nodes, what in ((concepts, "concept"), (tools, "tool")):
        ids = [n.id for n in nodes]
        if len(set(ids)) != len(ids):
            raise ValueError(f"duplicate {what} id {next(i for i in ids if ids.count(i) > 1)!r}")
    known = {c.id for c in concepts}
    for c in concepts:
        if c.domain not in DOMAINS:
            raise ValueError(f"concept {c.id!r}: unknown domain {c.domain!r} (known: {', '.join(DOMAINS)})")
        if not re.fullmatch(rf"{c.domain}\.[a-z0-9_]+", c.id):
            raise ValueError(f"concept {c.id!r}: id must be '{c.domain}.<snake_slug>'")
        if not isinstance(c.level, int) or not 1 <= c.level <= 5:
            raise ValueError(f"concept {c.id!r}: level {c.level!r} is not an integer in 1..5")
        for ref in c.prerequisites + c.parents:
            if ref not in known:
                raise ValueError(f"concept {c.id!r}: unknown prerequisite or parent id {ref!r}")
    for t in tools:
        if not re.fullmatch(r"tool\.[a-z0-9_]+", t.id):
            raise ValueError(f"tool {t.id!r}: id must be 'tool.<snake_slug>'")
        if t.kind not in TOOL_KINDS:
            raise ValueError(f"tool {t.id!r}: unknown kind {t.kind!r} (known: {', '.join(TOOL_KINDS)})")
    try:
        return tuple(TopologicalSorter({c.id: c.prerequisites for c in concepts}).static_order())
    except CycleError as e:
        raise ValueError(f"prerequisite cycle through {' -> '.join(e.args[1])}") from None


class KnowledgeSystem:
    """Concepts (a prerequisite DAG over fixed domains) and visual tools; immutable, compared by content."""

    def __init__(self, concepts: Iterable[Concept], tools: Iterable[VisualTool]) -> None:
        self._concept_list = tuple(concepts)
        self._tool_list = tuple(tools)
        self._order = _validate(self._concept_list, self._tool_list)
        self._rank = {cid: i for i, cid in enumerate(self._order)}
        self._concepts = {c.id: c for c in self._concept_list}
        self._tools = {t.id: t for t in self._tool_list}
        deps: dict[str, list[str]] = {cid: [] for cid in self._concepts}
        for c in self._concept_list:
            for p in c.prerequisites:
                deps[p].append(c.id)
        self._dependents = {k: tuple(v) for k, v in deps.items()}
        self._version: KnowledgeVersion | None = None

    @classmethod
    def seed(cls) -> KnowledgeSystem:
        """The bundled seed system (369 concepts in 11 domains, 32 tools at the time of writing)."""
        return _seed()

    @classmethod
    def load(cls, path: str | Path) -> KnowledgeSystem:
        """Read a file written by `save`; a stored version that does not match the content is an error."""
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ValueError(f"{path}: not a knowledge system file of format {FORMAT}")
        ks = cls([_node(Concept, d) for d in doc["concepts"]], [_node(VisualTool, d) for d in doc["tools"]])
        stored = doc.get("version")
        # A hand-edited file keeps its old hash; refusing it keeps manifests honest. Drop "version" to accept.
        if stored is not None and stored.get("hash") != ks.version.hash:
            raise ValueError(f"{path}: stored version {stored.get('hash')!r} != content {ks.version.hash!r}")
        return ks

    def save(self, path: str | Path) -> Path:
        """Write concepts, tools and the version record as one deterministic JSON file, atomically (a temp file
        beside it, fsynced, renamed over it): a run killed mid-write leaves the old file whole, never half."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "format": FORMAT,
            "version": asdict(self.version),
            "concepts": [_to_dict(c) for c in self._concept_list],
            "tools": [_to_dict(t) for t in self._tool_list],
        }
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(json.dumps(doc, ensure_ascii=False, indent=1) + "\n")
            f.flush()
            os.fsync(f.fileno())
        checkpoint("knowledge_written")  # the new system is on disk, the old one still in place
        os.replace(tmp, path)
        checkpoint("knowledge_saved")
        return path

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, KnowledgeSystem):
            return NotImplemented
        return self._concept_list == other._concept_list and self._tool_list == other._tool_list

    def __repr__(self) -> str:
        v = self.version
        return f"KnowledgeSystem({v}, {v.concepts} concepts, {v.tools} tools, {v.edges} edges)"

    @property
    def version(self) -> KnowledgeVersion:
        """Content hash over every field of every node (order-free), plus counts."""
        if self._version is None:
            body = {
                "concepts": sorted((_to_dict(c) for c in self._concept_list), key=lambda d: d["id"]),
                "tools": sorted((_to_dict(t) for t in self._tool_list), key=lambda d: d["id"]),
            }
            digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:12]
            edges = sum(len(c.prerequisites) for c in self._concept_list)
            self._version = KnowledgeVersion(digest, len(self), len(self._tools), edges, len(self.domains()))
        return self._version

    def __len__(self) -> int:
        """Number of concepts (tools are counted by `len(ks.tools)`)."""
        return len(self._concepts)

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._concepts or node_id in self._tools

    @property
    def concepts(self) -> tuple[Concept, ...]:
        return self._concept_list

    @property
    def tools(self) -> tuple[VisualTool, ...]:
        return self._tool_list

    def concept(self, concept_id: str) -> Concept:
        if concept_id not in self._concepts:
            raise KeyError(f"unknown concept id {concept_id!r}")
        return self._concepts[concept_id]

    def tool(self, tool_id: str) -> VisualTool:
        if tool_id not in self._tools:
            raise KeyError(f"unknown tool id {tool_id!r}")
        return self._tools[tool_id]

    def domains(self) -> tuple[str, ...]:
        """Domains that hold at least one concept, in the fixed DOMAINS order."""
        present = {c.domain for c in self._concept_list}
        return tuple(d for d in DOMAINS if d in present)

    def by_domain(self, domain: str) -> tuple[Concept, ...]:
        if domain not in DOMAINS:
            raise ValueError(f"unknown domain {domain!r} (known: {', '.join(DOMAINS)})")
        return tuple(c for c in self._concept_list if c.domain == domain)

    def prerequisites(self, concept_id: str, transitive: bool = False) -> tuple[str, ...]:
        """Direct prerequisites in stored order; transitive ones in a learnable order (each after its own)."""
        direct = self.concept(concept_id).prerequisites
        if not transitive:
            return direct
        found: set[str] = set()
        stack = list(direct)
        while stack:
            cid = stack.pop()
            if cid not in found:
                found.add(cid)
                stack.extend(self._concepts[cid].prerequisites)
        return tuple(sorted(found, key=self._rank.__getitem__))

    def dependents(self, concept_id: str) -> tuple[str, ...]:
        """Concepts that list this one as a direct prerequisite."""
        self.concept(concept_id)
        return self._dependents[concept_id]

    def search(self, text: str, limit: int = 10) -> list[Concept | VisualTool]:
        """Concepts and tools ranked by normalised query words found in their name (x3) and description (x1)."""
        query = _token_set(text)
        if not query:
            return []
        scored = []
        for node in self._concept_list + self._tool_list:
            score = 3 * len(query & _token_set(node.name)) + len(query & _token_set(node.description))
            if name_key(node.name) == " ".join(sorted(query)):
                score += 10  # the query *is* this node's name
            if score:
                scored.append((-score, node.id, node))
        return [node for _, _, node in sorted(scored, key=lambda s: s[:2])[:limit]]

    def match_concept(self, name: str) -> str | None:
        """Id of the existing concept that `name` duplicates (same key, or fuzzily similar), else None."""
        return _match(name, self._concept_list)

    def match_tool(self, name: str) -> str | None:
        """Id of the existing tool that `name` duplicates, else None."""
        return _match(name, self._tool_list)

    def rows(self) -> list[dict[str, Any]]:
        """One plain dict per node (concepts, then tools) with the same keys, for a DuckDB/Arrow table."""
        rows = [{**_to_dict(c), "kind": "concept"} for c in self._concept_list]
        rows += [{**_to_dict(t), "kind": "tool", "tool_kind": t.kind} for t in self._tool_list]
        return [{k: row.get(k, [] if k in ("prerequisites", "parents") else None) for k in ROW_KEYS} for row in rows]

    def stats(self) -> dict[str, Any]:
        """Counts for reports: totals, concepts per domain and per level, tools per kind."""
        v = self.version
        return {
            "concepts": v.concepts, "tools": v.tools, "edges": v.edges, "domains": v.domains,
            "per_domain": {d: len(self.by_domain(d)) for d in self.domains()},
            "per_level": {lv: sum(c.level == lv for c in self._concept_list) for lv in range(1, 6)},
            "tool_kinds": {k: sum(t.kind == k for t in self._tool_list) for k in TOOL_KINDS},
        }  # fmt: skip

    def grow(
        self,
        new_concepts: Iterable[Concept | Mapping[str, Any]] = (),
        new_tools: Iterable[VisualTool | Mapping[str, Any]] = (),
        round: int = 0,
    ) -> tuple[KnowledgeSystem, GrowthReport]:
        """Merge candidate nodes; return the grown system and what happened to each candidate.

        A candidate that duplicates an existing node (or an earlier candidate) maps to that node's id and
        changes nothing. A new concept gets id `<domain>.<slug(name)>` (suffixed if taken); its prerequisites
        and parents may be ids or names and are resolved against the system so far, and parents count as
        prerequisites too (a concept evolved from X builds on X). References that match nothing are dropped
        and listed in `unresolved`. New nodes only point at existing ones, so the graph stays acyclic.
        """
        concepts, tools = list(self._concept_list), list(self._tool_list)
        added: dict[str, list[str]] = {"concept": [], "tool": []}
        merged: dict[str, str] = {}
        rejected: dict[str, str] = {}
        unresolved: list[tuple[str, str]] = []
        for what, cands, nodes in (("concept", new_concepts, concepts), ("tool", new_tools, tools)):
            for cand in cands:
                cand = asdict(cand) if isinstance(cand, Concept | VisualTool) else cand
                name = str(cand.get("name") or "").strip()
                problem = _problem(what, name, cand)
                existing = None if problem else _match(name, nodes)
                if problem:
                    rejected[name or "<empty>"] = problem
                elif existing is not None:
                    merged[name] = existing
                else:
                    nodes.append(_new_concept(cand, concepts, round, unresolved) if what == "concept"
                                 else _new_tool(cand, tools, round))  # fmt: skip
                    added[what].append(nodes[-1].id)
        report = GrowthReport(round, tuple(added["concept"]), tuple(added["tool"]), merged, rejected, tuple(unresolved))
        return KnowledgeSystem(concepts, tools), report


def _problem(what: str, name: str, cand: Mapping[str, Any]) -> str | None:
    """Why a candidate cannot become a node, or None if it can."""
    if not tokens(name):
        return f"{what} has no usable name"
    if what == "concept" and cand.get("domain") not in DOMAINS:
        return f"unknown domain {cand.get('domain')!r}"
    if what == "tool" and cand.get("kind") not in TOOL_KINDS:
        return f"unknown tool kind {cand.get('kind')!r}"
    return None


def _match(name: str, nodes: Iterable[Concept | VisualTool]) -> str | None:
    """Exact key match wins; otherwise the most similar node at or above the fuzzy threshold."""
    key = name_key(name)
    if not key:
        return None
    best, best_score = None, FUZZY_NAME_JACCARD
    for node in nodes:
        if name_key(node.name) == key:
            return node.id
        score = name_similarity(name, node.name)
        if score >= best_score and (best is None or score > best_score):
            best, best_score = node.id, score
    return best


def _unique_id(prefix: str, name: str, taken: set[str]) -> str:
    base = f"{prefix}.{slug(name)}"
    new_id, n = base, 2
    while new_id in taken:
        new_id, n = f"{base}_{n}", n + 1
    return new_id


def _resolve(refs: Iterable[str], concepts: list[Concept], new_id: str, unresolved: list) -> list[str]:
    """Turn ids or names into existing concept ids, in order, without repeats; note what matched nothing."""
    by_id = {c.id for c in concepts}
    out: list[str] = []
    for ref in refs:
        cid = ref if ref in by_id else _match(str(ref), concepts)
        if cid is None:
            unresolved.append((new_id, ref))
        elif cid not in out:
            out.append(cid)
    return out


def _new_concept(cand: Mapping[str, Any], concepts: list[Concept], round: int, unresolved: list) -> Concept:
    name, domain = str(cand["name"]).strip(), str(cand["domain"])
    new_id = _unique_id(domain, name, {c.id for c in concepts})
    refs = {k: cand.get(k) or () for k in ("parents", "prerequisites")}
    refs = {k: [v] if isinstance(v, str) else list(v) for k, v in refs.items()}  # a model may give one string
    parents = _resolve(refs["parents"], concepts, new_id, unresolved)
    prereqs = _resolve(refs["prerequisites"] + parents, concepts, new_id, unresolved)
    level = cand.get("level")
    if not isinstance(level, int) or isinstance(level, bool):
        levels = {c.id: c.level for c in concepts}
        level = max((levels[p] for p in prereqs), default=2) + 1  # one step past what it builds on
    desc = str(cand.get("description", "")).strip()
    return Concept(new_id, name, desc, domain, tuple(prereqs), min(5, max(1, level)), round, tuple(parents))


def _new_tool(cand: Mapping[str, Any], tools: list[VisualTool], round: int) -> VisualTool:
    name = str(cand["name"]).strip()
    new_id = _unique_id("tool", name, {t.id for t in tools})
    desc, example = str(cand.get("description", "")).strip(), str(cand.get("example", ""))
    return VisualTool(new_id, name, desc, str(cand["kind"]), example, round)
