"""Extensions of pie_chart_percent (issue 5): another question about the same pie (parallel), and the survey
growing after the parent's question, with the newcomers' choice written in a note on the figure and an arrow to
their sector (sequential).

They live beside the family module to keep it short. Both replay the parent's pie and question from its seed
with `scene`; the sequential programs start from the value the parent's own programs print.
"""

from __future__ import annotations

import math
import random
from dataclasses import replace
from fractions import Fraction

from flywheel.records import NamedElement, SolutionStep
from generators.procedural.base import Draft
from generators.procedural.chain import RUN_PROGRAM, embed, harder, recap
from generators.procedural.draw_other import SYMPY_FIXED, fixed, is_tie
from generators.procedural.families.pie_chart_percent import (
    ASKS,
    CX,
    CY,
    FAMILY,
    KINDS,
    Ask,
    H,
    Pie,
    R,
    W,
    _sector_point,
    _tool,
    draft_of,
    scene,
)

__all__ = ["FAMILY", "parallel", "sequential"]
FIRST_LEVEL = {kind: min(lv for lv, kinds in KINDS.items() if kind in kinds) for kind in ASKS}
CONCEPTS = ("statistics_charts.pie_chart_percent", "statistics_charts.percent", "statistics_charts.percent_change")
CORNERS = ((10, H - 8, "left", "bottom"), (W - 10, H - 8, "right", "bottom"), (10, 50, "left", "top"),
           (W - 10, 50, "right", "top"))


def parallel(rng: random.Random, parent_seed: int, parent_level: int) -> Draft:
    """Another kind of question (percent, angle, count, ...) about a sector of the parent's pie."""
    kind, ask, text, _ = scene(random.Random(parent_seed), parent_level)
    pie = ask.pie
    kinds = sorted(k for k in ASKS if k != kind and (k != "percent" or pie.hidden is not None))
    rng.shuffle(kinds)
    for new_kind in kinds:
        target = pie.hidden if new_kind == "percent" else rng.randrange(len(pie.pcts))
        others = [i for i in range(len(pie.pcts)) if pie.pcts[i] != pie.pcts[target]]
        if new_kind in ("more", "reverse") and not others:
            continue
        new = replace(ask, target=target, other=rng.choice(others) if others else target)
        level = max(FIRST_LEVEL[new_kind], parent_level - 1)
        return draft_of(new_kind, new, text, ASKS[new_kind](rng, new), level)
    raise AssertionError("a pie always allows a count and an angle question")


def _chain(kind: str, ask: Ask, a: str) -> tuple[str, str, str]:
    """How the sector's first count c follows from the parent's answer `a`: words, sympy, numpy (A = answer)."""
    n, p = ask.total, ask.p
    if kind == "percent":
        return f"{a}% of {n} is", f"{n} * A / 100", f"{n} * A / 100"
    if kind == "angle":
        return f"an angle of {a} degrees is {a}/360 of the {n}, which is", f"{n} * A / 360", f"{n} * A / 360"
    if kind == "reverse_total":
        return f"{p}% of the {a} surveyed is", f"A * {ask.sym()} / 100", f"A * {ask.num()} / 100"
    return "the first answer gives", "A", "A"  # count, reverse: the parent's answer is the sector's count


def _programs(parent: Draft, sym_tail: str, num_tail: str) -> tuple[str, str]:
    sym = (
        "import sympy as sp\n" + SYMPY_FIXED + RUN_PROGRAM
        + f"A = sp.Rational(last_line({embed(parent.answer_code)}))\n" + sym_tail
    )
    num = "import numpy as np\n" + RUN_PROGRAM + f"A = float(last_line({embed(parent.check_code)}))\n" + num_tail
    return sym, num


def _growth(rng: random.Random, kind: str, ask: Ask, parent: Draft) -> tuple:
    """The newcomers all choose the parent's sector: what percentage chose it now? (question, answer, ...)"""
    n, c = ask.total, ask.total * ask.p // 100
    m = rng.choice([m for m in range(2, max(4, n // 4)) if not is_tie(Fraction((c + m) * 100, n + m), 1)])
    share = Fraction((c + m) * 100, n + m)
    words, sym_c, num_c = _chain(kind, ask, parent.answer)
    note = f"Later {m} more {ask.people} joined;\nall of them {ask.verb} {ask.name}."
    if kind in ("percent", "angle"):
        note = f"At first {n} {ask.people} were surveyed.\n" + note
    q = (
        f"Then, as the note on the figure says, {m} more {ask.people} joined the survey and all of them {ask.verb} "
        f"{ask.name}. What percentage of all the {ask.people} now {ask.verb} {ask.name}? "
        "Give the answer in percent, rounded to 1 decimal place."
    )
    why = f"{ask.name}: {words} {c} {ask.people}; now ({c} + {m}) / ({n} + {m}) x 100 = {fixed(share, 1)}%."
    sym, num = _programs(
        parent,
        f"c = {sym_c}\nprint(fixed((c + {m}) * 100 / sp.Integer({n} + {m}), 1))\n",
        f"c = {num_c}\nprint(round(float((c + {m}) * 100 / ({n} + {m})), 1))\n",
    )
    return q, fixed(share, 1), sym, num, note, ask.target, why


def _catch_up(rng: random.Random, ask: Ask, parent: Draft) -> tuple:
    """The newcomers all choose the smaller of the parent's two sectors: how big is the gap now?"""
    a = int(parent.answer)
    big, small = (ask.target, ask.other) if ask.p > ask.pie.pcts[ask.other] else (ask.other, ask.target)
    m = rng.randint(1, a - 1)
    big_name, small_name = ask.pie.names[big], ask.pie.names[small]
    note = f"Later {m} more {ask.people} joined;\nall of them {ask.verb} {small_name}."
    q = (
        f"Then, as the note on the figure says, {m} more {ask.people} joined the survey and all of them {ask.verb} "
        f"{small_name}. How many more {ask.people} now {ask.verb} {big_name} than {small_name}? "
        "Give the answer as a whole number."
    )
    why = f"The gap was {a}; the {m} newcomers all add to {small_name}, so it shrinks to {a} - {m} = {a - m}."
    sym, num = _programs(parent, f"print(A - {m})\n", f"print(float(A - {m}))\n")
    return q, str(a - m), sym, num, note, small, why


def _box(x: float, y: float, w: float, h: float, ha: str, va: str) -> tuple[float, float, float, float]:
    x0 = x if ha == "left" else x - w if ha == "right" else x - w / 2
    y0 = y if va == "top" else y - h if va == "bottom" else y - h / 2
    return x0, x0 + w, y0, y0 + h


def _corner(pie: Pie, note: str) -> tuple[int, int, str, str]:
    """The canvas corner for the note whose box overlaps the sector labels least (estimated text extents)."""
    labels = []
    for k, name in enumerate(pie.names):
        t = math.radians(sum(pie.bounds(k)) / 2)
        sx, cx = math.sin(t), math.cos(t)
        ha = "left" if sx > 0.3 else ("right" if sx < -0.3 else "center")
        va = "bottom" if cx > 0.5 else ("top" if cx < -0.5 else "center")
        x, y = CX + (R + 22) * sx, CY - (R + 22) * cx
        labels.append(_box(x, y, 8.5 * max(len(name), 4), 40, ha, va))
    size = (7 * max(len(line) for line in note.split("\n")) + 12, 17 * (note.count("\n") + 1) + 10)

    def overlap(corner: tuple[int, int, str, str]) -> float:
        a = _box(corner[0], corner[1], *size, corner[2], corner[3])
        cover = [max(0, min(a[1], b[1]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[2], b[2])) for b in labels]
        return sum(cover)

    return min(CORNERS, key=overlap)


def sequential(rng: random.Random, parent_seed: int, parent_level: int) -> Draft:
    """The parent's answer, then a change to the survey (a note with an arrow on the figure) that builds on it."""
    kind, ask, text, result = scene(random.Random(parent_seed), parent_level)
    parent = draft_of(kind, ask, text, result, parent_level)
    made = _catch_up(rng, ask, parent) if kind == "more" else _growth(rng, kind, ask, parent)
    q, answer, sym, num, note, sector, why = made
    tip = tuple(round(c, 2) for c in _sector_point(ask.pie, sector))
    x, y, ha, va = _corner(ask.pie, note)
    lines = note.count("\n") + 1
    start = (x + (150 if ha == "left" else -150), y + (1 if va == "top" else -1) * (18 * lines + 6))
    render = parent.render_code + (
        "# the change: a note about the newcomers, with an arrow to the sector they chose\n"
        f"ax.text({x}, {y}, {note!r}, ha={ha!r}, va={va!r}, fontsize=11, color='darkred',\n"
        "        bbox=dict(facecolor='#fff3f0', edgecolor='darkred', pad=4), zorder=6)\n"
        f"ax.annotate('', xy={tip!r}, xytext={start!r},\n"
        "            arrowprops=dict(arrowstyle='->', color='darkred', lw=2.5), zorder=6)\n"
    )
    solution = (
        recap(parent.question, parent.answer, result[5]),
        SolutionStep("code", "Shade the sector(s) involved and mark their central angles.", _tool(ask.pie, result[4])),
        SolutionStep("think", why),
        SolutionStep("think", f"The answer is {answer}."),
    )
    return Draft(
        family=FAMILY,
        concepts=CONCEPTS,
        domain=parent.domain,
        difficulty=harder(parent_level),
        question=f"{parent.question} {q}",
        answer=answer,
        answer_kind="number",
        render_code=render,
        answer_code=sym,
        check_code=num,
        solution=solution,
        elements=parent.elements + (NamedElement("note", "label", x, y),),
        tools=parent.tools + ("tool.text_annotation",),
        width=parent.width,
        height=parent.height,
    )
