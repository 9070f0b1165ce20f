"""Training examples from the flywheel's shards: rows picked by SQL, turned into transcripts per stage.

`select(data, sql)` reads problems through the DuckDB views (storage/catalog.py); `BUILDERS[stage]` turns one
problem into examples: perception questions about its named elements (exact pixel answers from the render),
a cold-start transcript from its interactive solution, or an RL prompt. `examples()` is the no-Ray path (a
plain list); `ray_dataset()` feeds Ray Train through Ray Data with the same builders, one row per example.
Tests in tests/test_train_sft.py.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from pathlib import Path

from flywheel.records import NamedElement, Problem, table_to_problems
from flywheel.train.config import TrainConfig
from flywheel.train.formats import Example, Segment, answer_text, code_text, prompt_segment, sandbox_segment


def select(data: str | Path, sql: str) -> list[Problem]:
    """Problems the query returns (it must select whole rows of `problems`, e.g. `SELECT * ... WHERE ...`)."""
    from storage.catalog import connect

    con = connect(data)
    try:
        return table_to_problems(con.sql(sql).to_arrow_table())
    finally:
        con.close()


# -- perception -------------------------------------------------------------------------------------------

# Question forms for "where is it?"; the answer is always "(x, y)" in integer pixels, top-left origin.
WHERE = (
    "What are the pixel coordinates of {label}?",
    "Locate {label} in the image. Give its position as (x, y) in pixels, with the origin at the top left.",
    "Where is {label}? Answer with its pixel coordinates (x, y).",
    "Find {label} and report its (x, y) pixel position.",
)
NEAREST = "Which of {names} is nearest to the pixel ({x}, {y})? Answer with its name."


def label(e: NamedElement) -> str:
    """How a question names an element: a short name after its kind, a long one first.

    >>> label(NamedElement("B", "vertex", 10.0, 20.0)), label(NamedElement("hour hand tip", "point", 1.0, 2.0))
    ('vertex B', 'the hour hand tip (point)')
    """
    kind = e.kind.replace("_", " ")
    return f"{kind} {e.name}" if len(e.name) <= 3 else f"the {e.name} ({kind})"


def pixel(e: NamedElement) -> str:
    return f"({round(e.x)}, {round(e.y)})"


def perception_examples(p: Problem, cfg: TrainConfig) -> list[Example]:
    """Up to `cfg.perception_questions` questions about `p`'s elements: mostly coordinates, plus one
    nearest-element question when the figure has several well-separated elements. Seeded by problem id."""
    rng = random.Random(f"{cfg.seed}:{p.id}")
    unique = _unambiguous(p.elements)
    if p.image is None or not unique:
        return []
    out = []
    for k, e in enumerate(rng.sample(unique, min(len(unique), cfg.perception_questions))):
        question = rng.choice(WHERE).format(label=label(e))
        out.append(_qa(p, f"where{k}", question, pixel(e), "point"))
    nearest = _nearest_question(unique, rng)
    if nearest and len(out) >= cfg.perception_questions:
        out[-1] = _qa(p, "nearest", *nearest, "text")
    elif nearest:
        out.append(_qa(p, "nearest", *nearest, "text"))
    return out


def _unambiguous(elements: tuple[NamedElement, ...]) -> list[NamedElement]:
    """Elements whose label names exactly one position (a label used twice would have two right answers)."""
    counts: dict[str, int] = {}
    for e in elements:
        counts[label(e)] = counts.get(label(e), 0) + 1
    return [e for e in elements if counts[label(e)] == 1]


def _nearest_question(elements: list[NamedElement], rng: random.Random) -> tuple[str, str] | None:
    """A pixel close to one element and clearly farther from the rest (so the answer is not a judgement call)."""
    if len(elements) < 2:
        return None
    target = rng.choice(elements)
    others = [math.dist((target.x, target.y), (e.x, e.y)) for e in elements if e is not target]
    if min(others) < 40:  # too crowded to ask
        return None
    radius = min(others) / 4
    angle = rng.uniform(0, 2 * math.pi)
    x, y = round(target.x + radius * math.cos(angle)), round(target.y + radius * math.sin(angle))
    names = ", ".join(label(e) for e in elements)
    return NEAREST.format(names=names, x=x, y=y), label(target)


def _qa(p: Problem, suffix: str, question: str, answer: str, kind: str) -> Example:
    segments = (prompt_segment(question, p.image), Segment("model", answer_text(answer)))
    return Example(f"{p.id}:{suffix}", "perception", segments, answer, kind)


# -- cold-start SFT and RL ---------------------------------------------------------------------------------


def sft_examples(p: Problem, cfg: TrainConfig) -> list[Example]:
    """The interactive solution as a transcript: reasoning, `<code>` with the step's tool code, the sandbox's
    edited image, more reasoning, `<answer>`. The shards keep only the image after the *last* tool step, so
    an earlier step's output says in text that the figure changed (procedural families have one step)."""
    if p.image is None or p.edited_image is None or not any(s.kind == "code" for s in p.solution):
        return []
    last_code = max(i for i, s in enumerate(p.solution) if s.kind == "code")
    segments: list[Segment] = [prompt_segment(p.question, p.image)]
    text: list[str] = []
    for i, step in enumerate(p.solution):
        if step.kind == "think":
            text.append(step.text.strip())
            continue
        text.append(f"{step.text.strip()}\n{code_text(step.code)}".strip())
        segments.append(Segment("model", "\n".join(t for t in text if t)))
        text = []
        output = sandbox_segment("", p.edited_image) if i == last_code else sandbox_segment("The figure was edited.")
        segments.append(output)
    text.append(answer_text(p.answer))
    segments.append(Segment("model", "\n".join(t for t in text if t)))
    return [Example(f"{p.id}:sft", "sft", tuple(segments), p.answer, p.answer_kind)]


def rl_examples(p: Problem, cfg: TrainConfig) -> list[Example]:
    """The prompt only: the policy writes the rest in rollouts; the answer is what rewards check against."""
    if p.image is None:
        return []
    return [Example(f"{p.id}:rl", "rl", (prompt_segment(p.question, p.image),), p.answer, p.answer_kind)]


Builder = Callable[[Problem, TrainConfig], list[Example]]
BUILDERS: dict[str, Builder] = {"perception": perception_examples, "sft": sft_examples, "rl": rl_examples}


def examples(data: str | Path, cfg: TrainConfig) -> list[Example]:
    """Every example of `cfg.stage` from the rows `cfg.selection` picks (the no-Ray path)."""
    build = BUILDERS[cfg.stage]
    return [e for p in select(data, cfg.selection) for e in build(p, cfg)]


# -- Ray Data ----------------------------------------------------------------------------------------------


def _example_schema():
    import pyarrow as pa

    segment = pa.struct([("role", pa.string()), ("text", pa.string()), ("image", pa.binary())])
    return pa.schema([("id", pa.string()), ("stage", pa.string()), ("segments", pa.list_(segment)),
                      ("answer", pa.string()), ("answer_kind", pa.string())])


def examples_to_table(items: list[Example]):
    """Examples as an Arrow table (Ray Data blocks are Arrow tables)."""
    import pyarrow as pa

    rows = [{"id": e.id, "stage": e.stage, "answer": e.answer, "answer_kind": e.answer_kind,
             "segments": [{"role": s.role, "text": s.text, "image": s.image} for s in e.segments]} for e in items]
    return pa.Table.from_pylist(rows, schema=_example_schema())


def table_to_examples(table) -> list[Example]:
    return [Example(r["id"], r["stage"], tuple(Segment(s["role"], s["text"], s["image"]) for s in r["segments"]),
                    r["answer"], r["answer_kind"]) for r in table.to_pylist()]


def build_block(batch, cfg: TrainConfig):
    """Ray Data `map_batches` function: a block of problem rows in, a block of example rows out."""
    build = BUILDERS[cfg.stage]
    return examples_to_table([e for p in table_to_problems(batch) for e in build(p, cfg)])


def ray_dataset(data: str | Path, cfg: TrainConfig):
    """A Ray Data dataset of example rows. The SQL selection runs once here (DuckDB over the files the
    manifests list); building examples runs in Ray tasks, block by block. Order is kept, so a resumed run
    that skips the rows it already trained on skips the same ones."""
    import ray

    from flywheel.records import problems_to_table

    ray.data.DataContext.get_current().execution_options.preserve_order = True
    table = problems_to_table(select(data, cfg.selection))
    # A quarter CPU per task: on a small machine the Ray Train workers hold the rest.
    return ray.data.from_arrow(table).map_batches(build_block, fn_kwargs={"cfg": cfg}, batch_format="pyarrow",
                                                  batch_size=8, num_cpus=0.25)
