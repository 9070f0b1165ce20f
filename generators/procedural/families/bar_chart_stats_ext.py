"""Extensions of bar_chart_stats (issue 5): another statistic of the same chart (parallel), and how the parent's
statistic changes when one bar is given a new value, drawn as a red dashed outline (sequential).

They live beside the family module because it is near the 500-line cap. Both replay the parent's chart and
question from its seed with `scene`; the sequential programs run the parent's own programs on the old and the
new bar heights and subtract.
"""

from __future__ import annotations

import random
import re
from fractions import Fraction

from flywheel.records import NamedElement, SolutionStep
from generators.procedural.base import Draft
from generators.procedural.chain import RUN_PROGRAM, embed, harder, recap
from generators.procedural.draw_other import SYMPY_FIXED, fixed, is_tie
from generators.procedural.families.bar_chart_stats import (
    ASKS,
    BOTTOM,
    BY_LEVEL,
    FAMILY,
    LEFT,
    RIGHT,
    Ask,
    Chart,
    _tool,
    draft_of,
    scene,
)

__all__ = ["FAMILY", "parallel", "sequential"]
FIRST_LEVEL = {key: min(lv for lv, keys in BY_LEVEL.items() if key in keys) for key in ASKS}


def parallel(rng: random.Random, parent_seed: int, parent_level: int) -> Draft:
    """Another statistic of the parent's chart: same render code, a question computing a different quantity."""
    chart, ask = scene(random.Random(parent_seed), parent_level)
    keys = sorted(ASKS)
    rng.shuffle(keys)
    for key in keys:
        other = ASKS[key](rng, chart)
        if other.answer_body != ask.answer_body and other.answer != ask.answer:
            # honest level: the question's own level, pulled towards the chart's (its scale sets the reading work)
            return draft_of(chart, other, (FIRST_LEVEL[key] + parent_level + 1) // 2)
    raise AssertionError("every bar chart supports several statistics")  # nine kinds; at most a few coincide


def _change(rng: random.Random, chart: Chart, ask: Ask, places: int) -> tuple[tuple[int, ...], int, Fraction]:
    """Bars and one new grid value for them that changes the rounded answer: one bar, a bar the question uses
    when one can; two bars when no single bar moves it (a median among repeated heights)."""
    before = Fraction(fixed(ask.value(chart.values), places))
    n = len(chart.values)
    for group in ([(k,) for k in range(n)], [(i, j) for i in range(n) for j in range(i + 1, n)]):
        options = []
        for ks in group:
            for v in range(chart.step, chart.ymax + 1, chart.step):
                after = ask.value(tuple(v if k in ks else x for k, x in enumerate(chart.values)))
                negative = after < 0 <= before and "decrease" not in ask.question  # a missing bar cannot be < 0
                moved = not is_tie(after, places) and Fraction(fixed(after, places)) != before
                if all(v != chart.values[k] for k in ks) and moved and not negative:
                    options.append((set(ks) <= set(ask.bars), ks, v, Fraction(fixed(after, places)) - before))
        if options:
            return rng.choice([o for o in options if o[0]] or options)[1:]
    raise AssertionError("moving two bars anywhere on the grid changes every statistic the family asks")


def _programs(parent: Draft, old: tuple[int, ...], new: tuple[int, ...], places: int) -> tuple[str, str]:
    swap = f".replace({f'values = {list(old)!r}'!r}, {f'values = {list(new)!r}'!r}, 1)\n"
    sym = (
        "import sympy as sp\n" + SYMPY_FIXED + RUN_PROGRAM + f"original = {embed(parent.answer_code)}\n"
        f"changed = original{swap}"
        "before, after = sp.Rational(last_line(original)), sp.Rational(last_line(changed))\n"
        f"print(fixed(after - before, {places}))\n"
    )
    num = (
        "import numpy as np\n" + RUN_PROGRAM + f"original = {embed(parent.check_code)}\nchanged = original{swap}"
        f"print(round(float(last_line(changed)) - float(last_line(original)), {places}))\n"
    )
    return sym, num


def _outlines(chart: Chart, ks: tuple[int, ...], v: int) -> str:
    """Render code for the change: a red dashed outline and a label at the new height of each changed bar."""
    slot = (RIGHT - LEFT) / len(chart.values)
    top = round(chart.y(v), 2)
    code = f"# the change: red dashed outlines show the new value of {' and '.join(chart.labels[k] for k in ks)}\n"
    for k in ks:
        x, old_top = round(chart.x(k) - 0.3 * slot, 2), chart.y(chart.values[k])
        label_x = round(max(chart.x(k), LEFT + 75), 2)  # the first bar's label would cover the value axis
        code += (
            f"ax.add_patch(plt.Rectangle(({x}, {top}), {round(0.6 * slot, 2)}, {round(BOTTOM - top, 2)}, fill=False,\n"
            "                           edgecolor='red', ls='--', lw=2.5, zorder=4))\n"
            f"ax.text({label_x}, {round(min(top, old_top) - 6, 2)}, 'new {chart.labels[k]} = {v}', color='red',\n"
            "        ha='center', va='bottom', fontsize=12, weight='bold', zorder=7,\n"
            "        bbox=dict(facecolor='white', edgecolor='red', pad=1.5))\n"
        )
    return code


def sequential(rng: random.Random, parent_seed: int, parent_level: int) -> Draft:
    """The parent's statistic, then its change when one bar takes a new value (a red dashed outline)."""
    chart, ask = scene(random.Random(parent_seed), parent_level)
    parent = draft_of(chart, ask, parent_level)
    places = len(parent.answer.split(".")[1]) if "." in parent.answer else 0
    ks, v, delta = _change(rng, chart, ask, places)
    new = tuple(v if k in ks else x for k, x in enumerate(chart.values))
    after, answer = fixed(ask.value(new), places), fixed(delta, places)
    name = " and ".join(chart.labels[k] for k in ks)
    top = round(chart.y(v), 2)
    render = parent.render_code + _outlines(chart, ks, v)
    tool = _tool(chart, ask) + (
        f"ax.plot([{LEFT}, {RIGHT}], [{top}, {top}], ':', color='purple', lw=2.5, zorder=6)\n"
        f"ax.text({LEFT + 4}, {top - 4}, 'new level {v}', color='purple', fontsize=12, va='bottom', zorder=7)\n"
    )
    match = re.search(r"Give the answer (in [^,.]+)", ask.question)
    unit = match.group(1).replace(" as a whole number", "") if match else ""
    fmt = f"rounded to {places} decimal place{'s' if places > 1 else ''}" if places else "as a whole number"
    question = (
        f"{parent.question} Now suppose the {'value for' if len(ks) == 1 else 'values for'} {name} "
        f"{'is' if len(ks) == 1 else 'are both'} changed to {v} "
        f"{chart.unit}, as the red dashed outline{'s show' if len(ks) > 1 else ' shows'}, and the same question is "
        "asked again. By how much does its answer change? Give the answer "
        f"{unit} {fmt}, as the new answer minus the original one (negative for a decrease)."
    ).replace("  ", " ")
    sym, num = _programs(parent, chart.values, new, places)
    solution = (
        recap(parent.question, parent.answer, ask.reasoning),
        SolutionStep("code", f"Mark the bars the question uses and the new level of {name}.", tool),
        SolutionStep(
            "think",
            f"With {name} at {v} the values are {', '.join(map(str, new))}; "
            f"the same calculation now gives {after}.",
        ),
        SolutionStep("think", f"The change is {after} - ({parent.answer}) = {answer}. The answer is {answer}."),
    )
    elements = tuple(NamedElement(f"new {chart.labels[k]}", "bar_top", round(chart.x(k), 2), top) for k in ks)
    return Draft(
        family=FAMILY,
        concepts=parent.concepts + ("statistics_charts.comparing_distributions",),
        domain=parent.domain,
        difficulty=harder(parent_level),
        question=question,
        answer=answer,
        answer_kind="number",
        render_code=render,
        answer_code=sym,
        check_code=num,
        solution=solution,
        elements=parent.elements + elements,
        tools=parent.tools,
        width=parent.width,
        height=parent.height,
    )
