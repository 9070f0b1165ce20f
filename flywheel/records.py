"""The one record that flows through the flywheel: a `Problem`, plus the small records it carries.

Every stage takes `Problem` records and returns `Problem` records (filled with `dataclasses.replace`) or a
rejection. The Arrow schema beside these classes is the single schema used by the shard writer, the DuckDB
views, the exports and the trainer. Layer L0: imports nothing from the project (stdlib and pyarrow only).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal

import pyarrow as pa

Operator = Literal["seed", "parallel", "sequential", "repair"]
AnswerKind = Literal["number", "expression", "choice", "point", "text"]


@dataclass(frozen=True)
class NamedElement:
    """A named thing in the rendered image (vertex, centre, intersection) at its pixel position.

    Pixels use the image's top-left origin, x to the right and y down, so perception data can be read
    straight off the record.
    """

    name: str
    kind: str
    x: float
    y: float


@dataclass(frozen=True)
class SolutionStep:
    """One step of an interactive solution: reasoning text, or tool code that edits the current image."""

    kind: Literal["think", "code"]
    text: str
    code: str = ""


@dataclass(frozen=True)
class Verdict:
    """One check's outcome. `passed is None` means the check does not apply to this problem."""

    name: str
    passed: bool | None
    score: float = 0.0
    reason: str = ""


@dataclass(frozen=True)
class Cost:
    """What a problem cost to make: model tokens and wall seconds per stage."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


# ----------------------------------------------------------------------------------------------------
# The problem record and its id
# ----------------------------------------------------------------------------------------------------

# Bump when a column changes meaning or type; readers find it in the manifest and the Parquet metadata.
SCHEMA_VERSION = 3  # 2: `level` column; 3: `depth`


def _canonical_json(obj: object) -> str:
    """One spelling per value, so the same content always hashes the same on every machine."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def make_problem_id(
    question: str, render_code: str, answer: str, answer_code: str, parent_id: str | None
) -> str:
    """The 16-hex-digit content hash that names a problem: same content (and parent) -> same id.

    >>> make_problem_id("Q?", "draw()", "1", "print(1)", None)
    'bcdfbbe907b755a0'
    """
    payload = {
        "question": question,
        "render_code": render_code,
        "answer": answer,
        "answer_code": answer_code,
        "parent_id": parent_id,
    }
    return hashlib.sha256(_canonical_json(payload).encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Problem:
    """One synthesised problem at any stage of the round; later stages fill more fields.

    `id` is empty until `with_id()` (or `make_problem`) computes the content hash. Sequences are stored as
    tuples and `difficulty` as a float, so a record read back from Parquet compares equal to the one written.
    """

    id: str = ""
    round: int = 0
    parent_id: str | None = None
    operator: Operator = "seed"
    family: str = ""
    concepts: tuple[str, ...] = ()
    tools: tuple[str, ...] = ()
    domain: str = ""
    difficulty: float = 0.0  # the calibrated estimate (verifiers/difficulty.py); starts as the planned level
    level: int = 0  # the level 1-5 the generator was asked for (0: unknown, e.g. older data)
    depth: int = 0  # extension depth: seed 0, an extension its parent's + 1, a repair that of what it repairs
    question: str = ""
    answer: str = ""
    answer_kind: AnswerKind = "number"
    render_code: str = ""
    answer_code: str = ""
    check_code: str = ""
    image: bytes | None = None
    width: int = 0
    height: int = 0
    solution: tuple[SolutionStep, ...] = ()
    edited_image: bytes | None = None
    elements: tuple[NamedElement, ...] = ()
    verdicts: tuple[Verdict, ...] = ()
    proposer: str = "procedural"
    verifier: str = ""
    verified_by: str = ""  # procedural | author_code | solver: who confirmed the answer independently
    cost: Cost = field(default_factory=Cost)
    seed: int = 0
    created_at: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        # Normalise what callers commonly pass as lists/ints; frozen, hence object.__setattr__.
        for name in ("concepts", "tools", "solution", "elements", "verdicts"):
            value = getattr(self, name)
            if not isinstance(value, tuple):
                object.__setattr__(self, name, tuple(value))
        object.__setattr__(self, "difficulty", float(self.difficulty))
        object.__setattr__(self, "created_at", float(self.created_at))

    def content_id(self) -> str:
        """The id this record's content hashes to (whatever `id` currently holds)."""
        return make_problem_id(self.question, self.render_code, self.answer, self.answer_code, self.parent_id)

    def with_id(self) -> Problem:
        """A copy whose `id` is the content hash; redo after changing question, code, answer or parent."""
        return replace(self, id=self.content_id())


def make_problem(**fields: Any) -> Problem:
    """Build a `Problem` and compute its id in one step (any `id` passed in is ignored)."""
    fields.pop("id", None)
    return Problem(**fields).with_id()


# ----------------------------------------------------------------------------------------------------
# Rejections: failures are data
# ----------------------------------------------------------------------------------------------------

RAW_CAP = 16_000  # characters of raw model text/code kept per rejection: enough to debug, bounded on disk


def cap_raw(raw: str, cap: int = RAW_CAP) -> str:
    """Trim `raw` to at most `cap` chars, saying how much was cut; idempotent, so round trips are exact."""
    if len(raw) <= cap:
        return raw
    marker = f"\n...[truncated {len(raw)} chars]"
    return raw[: max(0, cap - len(marker))] + marker


def raw_input_id(raw: str) -> str:
    """Id for a rejection that has no problem yet (e.g. unparseable model output): a hash of the raw input."""
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:16]


@dataclass(frozen=True)
class Rejection:
    """Why a candidate failed: the stage, a machine-friendly reason code and the raw text that failed.

    `id` is the problem id when a problem existed, else `raw_input_id(raw)`. `raw` is capped at `RAW_CAP`.
    """

    id: str
    round: int
    stage: str  # propose | render | verify | crosscheck | image | dedup | repair | ...
    reason: str  # short code, e.g. "answer_mismatch", "render_timeout"
    detail: str = ""
    family: str = ""
    operator: str = ""
    parent_id: str | None = None
    raw: str = ""
    created_at: float = field(default_factory=time.time)
    # The problem that failed, carried between stages so a repairer can fix it; never written to storage
    # (the Arrow schema has no such column) and ignored by equality.
    problem: Problem | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "raw", cap_raw(self.raw))
        object.__setattr__(self, "created_at", float(self.created_at))


def reject(p: Problem, stage: str, reason: str, detail: str = "", raw: str = "") -> Rejection:
    """The rejection of an existing problem (keeps its id, family, operator and parent)."""
    return Rejection(
        id=p.id or p.content_id(),
        round=p.round,
        stage=stage,
        reason=reason,
        detail=detail,
        family=p.family,
        operator=p.operator,
        parent_id=p.parent_id,
        raw=raw,
        problem=p,
    )


# ----------------------------------------------------------------------------------------------------
# Arrow schemas: defined once, used by the shard writer, the DuckDB views, the exports and the trainer
# ----------------------------------------------------------------------------------------------------

STEP_TYPE = pa.struct([("kind", pa.string()), ("text", pa.string()), ("code", pa.string())])
ELEMENT_TYPE = pa.struct(
    [("name", pa.string()), ("kind", pa.string()), ("x", pa.float64()), ("y", pa.float64())]
)
VERDICT_TYPE = pa.struct(
    [("name", pa.string()), ("passed", pa.bool_()), ("score", pa.float64()), ("reason", pa.string())]
)
# Cost stays one struct column (SQL: cost.prompt_tokens, cost.seconds['render']): a map keeps per-stage
# seconds queryable without a column per stage and without JSON parsing.
COST_TYPE = pa.struct(
    [
        ("prompt_tokens", pa.int64()),
        ("completion_tokens", pa.int64()),
        ("seconds", pa.map_(pa.string(), pa.float64())),
    ]
)

_META = {b"flywheel.schema_version": str(SCHEMA_VERSION).encode()}

PROBLEM_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("round", pa.int64()),
        ("parent_id", pa.string()),
        ("operator", pa.string()),
        ("family", pa.string()),
        ("concepts", pa.list_(pa.string())),
        ("tools", pa.list_(pa.string())),
        ("domain", pa.string()),
        ("difficulty", pa.float64()),
        ("level", pa.int64()),
        ("depth", pa.int64()),
        ("question", pa.string()),
        ("answer", pa.string()),
        ("answer_kind", pa.string()),
        ("render_code", pa.string()),
        ("answer_code", pa.string()),
        ("check_code", pa.string()),
        ("image", pa.binary()),
        ("width", pa.int64()),
        ("height", pa.int64()),
        ("solution", pa.list_(STEP_TYPE)),
        ("edited_image", pa.binary()),
        ("elements", pa.list_(ELEMENT_TYPE)),
        ("verdicts", pa.list_(VERDICT_TYPE)),
        ("proposer", pa.string()),
        ("verifier", pa.string()),
        ("verified_by", pa.string()),
        ("cost", COST_TYPE),
        ("seed", pa.int64()),
        ("created_at", pa.float64()),
    ],
    metadata={**_META, b"flywheel.record": b"problem"},
)

REJECTION_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("round", pa.int64()),
        ("stage", pa.string()),
        ("reason", pa.string()),
        ("detail", pa.string()),
        ("family", pa.string()),
        ("operator", pa.string()),
        ("parent_id", pa.string()),
        ("raw", pa.string()),
        ("created_at", pa.float64()),
    ],
    metadata={**_META, b"flywheel.record": b"rejection"},
)


def _cost_out(c: Cost) -> dict[str, Any]:
    return {
        "prompt_tokens": c.prompt_tokens,
        "completion_tokens": c.completion_tokens,
        "seconds": list(c.seconds.items()),
    }


def _cost_in(d: dict[str, Any] | None) -> Cost:
    if d is None:
        return Cost()
    return Cost(d["prompt_tokens"] or 0, d["completion_tokens"] or 0, dict(d["seconds"] or []))


# Per-column converters where the Arrow value differs from the Python one; every other column is copied as is.
_TO_ARROW: dict[str, Callable[[Any], Any]] = {
    "concepts": list,
    "tools": list,
    "solution": lambda steps: [asdict(s) for s in steps],
    "elements": lambda els: [asdict(e) for e in els],
    "verdicts": lambda vs: [asdict(v) for v in vs],
    "cost": _cost_out,
}
_FROM_ARROW: dict[str, Callable[[Any], Any]] = {
    "concepts": tuple,
    "tools": tuple,
    "solution": lambda rows: tuple(SolutionStep(**r) for r in rows),
    "elements": lambda rows: tuple(NamedElement(**r) for r in rows),
    "verdicts": lambda rows: tuple(Verdict(**r) for r in rows),
    "cost": _cost_in,
}


def _records_to_table(records: Sequence[Any], schema: pa.Schema) -> pa.Table:
    columns = {}
    for name in schema.names:
        convert = _TO_ARROW.get(name) if schema is PROBLEM_SCHEMA else None
        values = [getattr(r, name) for r in records]
        columns[name] = [convert(v) for v in values] if convert else values
    return pa.Table.from_pydict(columns, schema=schema)


def _table_to_records(table: pa.Table, cls: type, convert: dict[str, Callable[[Any], Any]]) -> list[Any]:
    # Columns the table lacks (an older schema) and NULLs keep the dataclass default (None stays None where
    # that is the default); unknown columns are ignored.
    wanted = [f.name for f in fields(cls) if f.name in table.column_names]
    out = []
    for row in table.select(wanted).to_pylist():
        kwargs = {k: convert[k](v) if k in convert else v for k, v in row.items() if v is not None}
        out.append(cls(**kwargs))
    return out


def problems_to_table(problems: Sequence[Problem]) -> pa.Table:
    """Problems -> an Arrow table with `PROBLEM_SCHEMA` (images stay PNG bytes)."""
    return _records_to_table(problems, PROBLEM_SCHEMA)


def table_to_problems(table: pa.Table) -> list[Problem]:
    """The inverse of `problems_to_table`; exact for tables it wrote."""
    return _table_to_records(table, Problem, _FROM_ARROW)


def rejections_to_table(rejections: Sequence[Rejection]) -> pa.Table:
    """Rejections -> an Arrow table with `REJECTION_SCHEMA`."""
    return _records_to_table(rejections, REJECTION_SCHEMA)


def table_to_rejections(table: pa.Table) -> list[Rejection]:
    """The inverse of `rejections_to_table`."""
    return _table_to_records(table, Rejection, {})


@dataclass(frozen=True)
class Draft:
    """What a procedural family or a parsed model reply holds before rendering; the round turns it into a `Problem`."""

    family: str
    concepts: tuple[str, ...]
    domain: str
    difficulty: int
    question: str
    answer: str
    answer_kind: AnswerKind
    render_code: str
    answer_code: str
    check_code: str
    solution: tuple[SolutionStep, ...]
    elements: tuple[NamedElement, ...]
    tools: tuple[str, ...]
    width: int
    height: int
