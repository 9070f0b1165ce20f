"""The one record that flows through the flywheel: a `Problem`, plus the small records it carries.

Every stage takes `Problem` records and returns `Problem` records (filled with `dataclasses.replace`) or a
rejection. The Arrow schema beside these classes is the single schema used by the shard writer, the DuckDB
views, the exports and the trainer. Layer L0: imports nothing from the project.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

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
