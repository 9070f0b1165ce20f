"""Bar chart statistics: read bar heights off a gridded chart, then compute a statistic from them.

A procedural family (contract in generators/procedural/base.py). Every bar ends exactly on a gridline so the
values are readable; harder levels label only every other gridline and ask multi-step statistics. The tool
step draws reference lines from the relevant bar tops to the value axis and outlines those bars.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from flywheel.records import NamedElement, SolutionStep
from generators.procedural.base import Draft, canvas_code, tool_canvas_code
from generators.procedural.draw_other import SYMPY_FIXED, fixed, is_tie

FAMILY = "bar_chart_stats"
W, H = 640, 480
LEFT, RIGHT, TOP, BOTTOM = 90, 610, 70, 400

NAMES = ("Ann", "Ben", "Cara", "Dev", "Eli", "Fay", "Gus", "Hana")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug")
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
FRUITS = ("Apples", "Pears", "Plums", "Kiwis", "Mangos", "Limes", "Figs")
# (title, value-axis label, unit word, categories)
THEMES = (
    ("Books read by each student this year", "Number of books", "books", NAMES),
    ("Monthly rainfall in a town", "Rainfall (mm)", "mm", MONTHS),
    ("Cars sold by a dealer each day", "Cars sold", "cars", DAYS),
    ("Fruit sold at a market stall", "Mass sold (kg)", "kg", FRUITS),
    ("Visitors to a museum each month", "Visitors", "visitors", MONTHS),
)
STEPS = {1: 1, 2: 2, 3: 5, 4: 10, 5: 20}
BARS = {1: (4, 4), 2: (4, 5), 3: (5, 6), 4: (6, 6), 5: (6, 7)}


@dataclass(frozen=True)
class Chart:
    """The data one figure shows."""

    title: str
    ylabel: str
    unit: str
    labels: tuple[str, ...]
    values: tuple[int, ...]
    step: int
    ymax: int
    label_every: int

    def x(self, i: int) -> float:
        return LEFT + (RIGHT - LEFT) / len(self.values) * (i + 0.5)

    def y(self, v: float) -> float:
        return BOTTOM - v * (BOTTOM - TOP) / self.ymax


@dataclass(frozen=True)
class Ask:
    """One question about a chart: its text, answer, the two checking programs' bodies and tool hints."""

    question: str
    answer: str
    answer_body: str
    check_body: str
    bars: tuple[int, ...]
    levels: tuple[tuple[float, str], ...]
    reasoning: str
    concepts: tuple[str, ...]
    value: Callable[[tuple[int, ...]], Fraction]  # the exact statistic of any bar heights (extensions use it)


def _chart(rng: random.Random, difficulty: int) -> Chart:
    title, ylabel, unit, pool = rng.choice(THEMES)
    n = rng.randint(*BARS[difficulty])
    step = STEPS[difficulty]
    lines = rng.randint(8, 12)
    start = rng.randint(0, len(pool) - n) if pool in (MONTHS, DAYS) else 0
    labels = pool[start : start + n] if pool in (MONTHS, DAYS) else tuple(rng.sample(pool, n))
    values = tuple(step * rng.randint(1, lines) for _ in range(n))
    while len(set(values)) < 3:  # differences, ranges and medians need bars of different heights
        values = tuple(step * rng.randint(1, lines) for _ in range(n))
    every = 2 if difficulty >= 4 and lines % 2 == 0 else 1
    return Chart(title, ylabel, unit, tuple(labels), values, step, step * lines, every)


def _two(rng: random.Random, chart: Chart) -> tuple[int, int]:
    """Two bars with different heights, the taller first."""
    pairs = [(i, j) for i in range(len(chart.values)) for j in range(len(chart.values))]
    pairs = [(i, j) for i, j in pairs if chart.values[i] > chart.values[j]]
    return rng.choice(pairs)


def _ask_difference(rng: random.Random, c: Chart) -> Ask:
    i, j = _two(rng, c)
    a, b = c.labels[i], c.labels[j]
    q = rng.choice(
        (
            f"According to the bar chart, how much greater is the value for {a} than for {b}? ",
            f"Read the chart: what is the difference between the values for {a} and {b}? ",
            f"By how much does the bar for {a} exceed the bar for {b}? ",
        )
    )
    q += f"Give the answer in {c.unit} as a whole number."
    va, vb = c.values[i], c.values[j]
    return Ask(
        q,
        str(va - vb),
        f"print(sp.Abs(sp.Integer(values[{i}]) - sp.Integer(values[{j}])))\n",
        f"print(float(np.abs(np.subtract(values[{i}], values[{j}]))))\n",
        (i, j),
        ((va, f"{a} = {va}"), (vb, f"{b} = {vb}")),
        f"{a} reads {va} and {b} reads {vb}, so the difference is {va} - {vb} = {va - vb}.",
        ("statistics_charts.bar_chart_reading", "functions_graphs.reading_graph_values"),
        lambda v: Fraction(abs(v[i] - v[j])),
    )


def _ask_range(rng: random.Random, c: Chart) -> Ask:
    hi = max(range(len(c.values)), key=lambda k: c.values[k])
    lo = min(range(len(c.values)), key=lambda k: c.values[k])
    if c.values[hi] == c.values[lo]:
        return _ask_difference(rng, c)
    q = rng.choice(
        (
            "What is the range of the values shown in the bar chart? ",
            "Find the range (largest value minus smallest value) of the data in the chart. ",
        )
    )
    q += f"Give the answer in {c.unit} as a whole number."
    top, low = c.values[hi], c.values[lo]
    return Ask(
        q,
        str(top - low),
        "print(sp.Max(*values) - sp.Min(*values))\n",
        "print(float(np.ptp(np.array(values))))\n",
        (hi, lo),
        ((top, f"max = {top}"), (low, f"min = {low}")),
        f"The tallest bar is {c.labels[hi]} at {top} and the shortest is {c.labels[lo]} at {low}; "
        f"range = {top} - {low} = {top - low}.",
        ("statistics_charts.bar_chart_reading", "statistics_charts.range"),
        lambda v: Fraction(max(v) - min(v)),
    )


def _ask_total(rng: random.Random, c: Chart) -> Ask:
    q = rng.choice(
        (
            "What is the total of all the values shown in the bar chart? ",
            "Add up the heights of all the bars. What is the total? ",
        )
    )
    q += f"Give the answer in {c.unit} as a whole number."
    total = sum(c.values)
    return Ask(
        q,
        str(total),
        "print(sp.Add(*[sp.Integer(v) for v in values]))\n",
        "print(float(np.sum(values)))\n",
        tuple(range(len(c.values))),
        (),
        f"The values are {', '.join(map(str, c.values))}; their total is {total}.",
        ("statistics_charts.bar_chart_reading", "functions_graphs.reading_graph_values"),
        lambda v: Fraction(sum(v)),
    )


def _ask_mean(rng: random.Random, c: Chart) -> Ask:
    mean = Fraction(sum(c.values), len(c.values))
    q = rng.choice(
        (
            "What is the mean of the values shown in the bar chart? ",
            "Compute the average (arithmetic mean) of all the bar heights. ",
            f"Find the mean value per category ({c.unit}) in the chart. ",
        )
    )
    q += f"Give the answer in {c.unit}, rounded to 2 decimal places."
    return Ask(
        q,
        fixed(mean, 2),
        "print(fixed(sp.Rational(sum(values), len(values)), 2))\n",
        "print(round(float(np.mean(values)), 2))\n",
        tuple(range(len(c.values))),
        ((float(mean), f"mean = {fixed(mean, 2)}"),),
        f"The total is {sum(c.values)} over {len(c.values)} bars, so the mean is "
        f"{sum(c.values)}/{len(c.values)} = {fixed(mean, 2)}.",
        ("statistics_charts.bar_chart_reading", "statistics_charts.mean"),
        lambda v: Fraction(sum(v), len(v)),
    )


def _median(v: tuple[int, ...]) -> Fraction:
    ranked = sorted(v)
    return Fraction(ranked[(len(v) - 1) // 2] + ranked[len(v) // 2], 2)


def _ask_median(rng: random.Random, c: Chart) -> Ask:
    order = sorted(range(len(c.values)), key=lambda k: c.values[k])
    n = len(order)
    mids = (order[n // 2],) if n % 2 else (order[n // 2 - 1], order[n // 2])
    median = Fraction(sum(c.values[k] for k in mids), len(mids))
    q = rng.choice(("What is the median of the values shown in the bar chart? ", "Find the median bar height. "))
    q += f"Give the answer in {c.unit}, rounded to 1 decimal place."
    ranked = ", ".join(str(c.values[k]) for k in order)
    return Ask(
        q,
        fixed(median, 1),
        "import statistics\nfrom fractions import Fraction\n"
        "print(fixed(sp.Rational(statistics.median([Fraction(v) for v in values])), 1))\n",
        "print(round(float(np.median(values)), 1))\n",
        mids,
        tuple((c.values[k], f"{c.values[k]}") for k in mids),
        f"In order the values are {ranked}; the middle value(s) give a median of {fixed(median, 1)}.",
        ("statistics_charts.bar_chart_reading", "statistics_charts.median"),
        _median,
    )


def _ask_percent_change(rng: random.Random, c: Chart) -> Ask:
    i, j = rng.sample(range(len(c.values)), 2)
    va, vb = c.values[i], c.values[j]
    change = Fraction(vb - va, va) * 100
    if va == vb or is_tie(change, 1):
        return _ask_mean(rng, c)
    a, b = c.labels[i], c.labels[j]
    q = rng.choice(
        (
            f"What is the percent change from the value for {a} to the value for {b}? ",
            f"Taking {a} as the starting value, by what percentage does the value change at {b}? ",
        )
    )
    q += "Give the answer in percent, rounded to 1 decimal place, negative for a decrease."
    return Ask(
        q,
        fixed(change, 1),
        f"print(fixed((sp.Integer(values[{j}]) - values[{i}]) / sp.Integer(values[{i}]) * 100, 1))\n",
        f"print(round(float(100 * (values[{j}] / values[{i}] - 1)), 1))\n",
        (i, j),
        ((va, f"{a} = {va}"), (vb, f"{b} = {vb}")),
        f"From {va} to {vb} the change is {vb - va}; {vb - va}/{va} x 100 = {fixed(change, 1)}%.",
        ("statistics_charts.bar_chart_reading", "statistics_charts.percent_change"),
        lambda v: Fraction(v[j] - v[i], v[i]) * 100,
    )


def _ask_share(rng: random.Random, c: Chart) -> Ask:
    i = rng.randrange(len(c.values))
    share = Fraction(c.values[i] * 100, sum(c.values))
    if is_tie(share, 1):
        return _ask_median(rng, c)
    q = f"What percentage of the total of all the bars does {c.labels[i]} make up? "
    q += "Give the answer in percent, rounded to 1 decimal place."
    return Ask(
        q,
        fixed(share, 1),
        f"print(fixed(sp.Integer(values[{i}]) * 100 / sp.Add(*values), 1))\n",
        f"print(round(float(values[{i}] / np.sum(values) * 100), 1))\n",
        (i,),
        ((c.values[i], f"{c.labels[i]} = {c.values[i]}"),),
        f"{c.labels[i]} is {c.values[i]} out of a total of {sum(c.values)}, which is {fixed(share, 1)}%.",
        ("statistics_charts.bar_chart_reading", "statistics_charts.percent"),
        lambda v: Fraction(v[i] * 100, sum(v)),
    )


def _ask_above_mean(rng: random.Random, c: Chart) -> Ask:
    mean = Fraction(sum(c.values), len(c.values))
    above = tuple(k for k, v in enumerate(c.values) if v > mean)
    q = rng.choice(
        (
            "How many of the categories have a value strictly greater than the mean of all the values? ",
            "Compare each bar with the mean of the chart. How many bars are above the mean? ",
        )
    )
    q += "Give the answer as a whole number."
    return Ask(
        q,
        str(len(above)),
        "m = sp.Rational(sum(values), len(values))\nprint(sum(1 for v in values if sp.Integer(v) > m))\n",
        "print(float(np.count_nonzero(np.array(values) > np.mean(values))))\n",
        above,
        ((float(mean), f"mean = {fixed(mean, 2)}"),),
        f"The mean is {sum(c.values)}/{len(c.values)} = {fixed(mean, 2)}; the bars above it are "
        f"{', '.join(c.labels[k] for k in above) or 'none'}, so the count is {len(above)}.",
        ("statistics_charts.bar_chart_reading", "statistics_charts.mean"),
        lambda v: Fraction(sum(1 for x in v if x * len(v) > sum(v))),
    )


def _ask_new_value(rng: random.Random, c: Chart) -> Ask:
    n, total = len(c.values), sum(c.values)
    options = [x for x in range(c.step, c.ymax + 1, c.step) if (total + x) % (n + 1) == 0]
    if not options:
        return _ask_above_mean(rng, c)
    x = rng.choice(options)
    target = (total + x) // (n + 1)
    q = (
        f"One more category is added to the chart. What value must it have so that the mean of all "
        f"{n + 1} categories is exactly {target} {c.unit}? Give the answer in {c.unit} as a whole number."
    )
    return Ask(
        q,
        str(x),
        f"x = sp.symbols('x')\nprint(sp.solve(sp.Eq((sp.Add(*values) + x) / {n + 1}, {target}), x)[0])\n",
        f"print(float({target} * {n + 1} - np.sum(values)))\n",
        tuple(range(n)),
        ((target, f"target mean = {target}"),),
        f"The new total must be {target} x {n + 1} = {target * (n + 1)}; the bars already sum to {total}, "
        f"so the new value is {target * (n + 1)} - {total} = {x}.",
        ("statistics_charts.bar_chart_reading", "statistics_charts.missing_value_mean"),
        lambda v: Fraction(target * (len(v) + 1) - sum(v)),
    )


ASKS: dict[str, Callable[[random.Random, Chart], Ask]] = {
    "difference": _ask_difference,
    "range": _ask_range,
    "total": _ask_total,
    "mean": _ask_mean,
    "median": _ask_median,
    "percent_change": _ask_percent_change,
    "share": _ask_share,
    "above_mean": _ask_above_mean,
    "new_value": _ask_new_value,
}
BY_LEVEL = {
    1: ("difference", "range", "total"),
    2: ("mean", "median", "range", "difference"),
    3: ("mean", "median", "percent_change", "share"),
    4: ("percent_change", "above_mean", "share", "median"),
    5: ("new_value", "above_mean", "percent_change"),
}

RENDER_BODY = """
scale = (BOTTOM - TOP) / ymax
for k in range(ymax // step + 1):
    y = BOTTOM - k * step * scale
    major = k % label_every == 0
    ax.plot([LEFT, RIGHT], [y, y], color='0.72' if major else '0.86', lw=1, zorder=0)
    if major:
        ax.plot([LEFT - 6, LEFT], [y, y], color='black', lw=1.2)
        ax.text(LEFT - 10, y, str(k * step), ha='right', va='center', fontsize=12)
slot = (RIGHT - LEFT) / len(values)
for i, (v, name) in enumerate(zip(values, labels)):
    cx = LEFT + slot * (i + 0.5)
    top = BOTTOM - v * scale
    ax.add_patch(plt.Rectangle((cx - 0.3 * slot, top), 0.6 * slot, BOTTOM - top,
                               facecolor='#6fa8dc', edgecolor='black', lw=1.2, zorder=2))
    ax.text(cx, BOTTOM + 10, name, ha='center', va='top', fontsize=12)
ax.plot([LEFT, LEFT], [BOTTOM, TOP - 12], color='black', lw=1.5, zorder=3)
ax.plot([LEFT, RIGHT], [BOTTOM, BOTTOM], color='black', lw=1.5, zorder=3)
ax.text((LEFT + RIGHT) / 2, 32, title, ha='center', va='center', fontsize=15, weight='bold')
ax.text(26, (TOP + BOTTOM) / 2, ylabel, rotation=90, ha='center', va='center', fontsize=13)
"""


def _render(c: Chart) -> str:
    data = (
        f"LEFT, RIGHT, TOP, BOTTOM = {LEFT}, {RIGHT}, {TOP}, {BOTTOM}\n"
        f"values = {list(c.values)!r}\nlabels = {list(c.labels)!r}\n"
        f"step, ymax, label_every = {c.step}, {c.ymax}, {c.label_every}\n"
        f"title = {c.title!r}\nylabel = {c.ylabel!r}\n"
    )
    return canvas_code(W, H) + data + RENDER_BODY


def _tool(c: Chart, ask: Ask) -> str:
    """Outline the bars the question uses and run dashed reference lines to the value axis."""
    boxes = []
    slot = (RIGHT - LEFT) / len(c.values)
    for k in ask.bars:
        top = c.y(c.values[k])
        boxes.append((round(c.x(k) - 0.3 * slot, 2), round(top, 2), round(0.6 * slot, 2), round(BOTTOM - top, 2)))
    levels = [(round(c.y(v), 2), text) for v, text in ask.levels]
    return tool_canvas_code(W, H) + (
        f"boxes = {boxes!r}\nlevels = {levels!r}\n"
        "for x, y, w, h in boxes:\n"
        "    ax.add_patch(plt.Rectangle((x, y), w, h, fill=False, edgecolor='red', lw=3, zorder=5))\n"
        "for y, text in levels:\n"
        f"    ax.plot([{LEFT}, {RIGHT}], [y, y], '--', color='red', lw=2, zorder=6)\n"
        f"    ax.text({RIGHT} - 4, y - 4, text, color='red', fontsize=12, ha='right', va='bottom',\n"
        "            bbox=dict(facecolor='white', edgecolor='none', alpha=0.8, pad=1), zorder=7)\n"
    )


def scene(rng: random.Random, difficulty: int) -> tuple[Chart, Ask]:
    """The chart and the question make() draws: extensions replay it from the parent's seed."""
    chart = _chart(rng, difficulty)
    return chart, ASKS[rng.choice(BY_LEVEL[difficulty])](rng, chart)


def make(rng: random.Random, difficulty: int) -> Draft:
    """One bar chart and one statistics question about it."""
    return draft_of(*scene(rng, difficulty), difficulty)


def draft_of(chart: Chart, ask: Ask, difficulty: int) -> Draft:
    """The problem for one chart and one question (shared by make and the parallel extension)."""
    question = f"The bar chart shows {chart.title[0].lower() + chart.title[1:]}. {ask.question}"
    head = f"values = {list(chart.values)!r}\n"
    answer_code = "import sympy as sp\n" + SYMPY_FIXED + head + ask.answer_body
    check_code = "import numpy as np\n" + head + ask.check_body
    readings = ", ".join(f"{lab} = {v}" for lab, v in zip(chart.labels, chart.values, strict=True))
    scale_note = (
        "every other gridline is labelled, so unlabelled lines lie halfway between"
        if (chart.label_every == 2)
        else "every gridline is labelled"
    )
    solution = (
        SolutionStep("think", f"The gridlines are {chart.step} apart ({scale_note}). Reading the bars: {readings}."),
        SolutionStep("code", "Mark the bars and levels the question needs against the value axis.", _tool(chart, ask)),
        SolutionStep("think", ask.reasoning),
        SolutionStep("think", f"The answer is {ask.answer}."),
    )
    elements = tuple(
        NamedElement(lab, "bar_top", round(chart.x(k), 2), round(chart.y(v), 2))
        for k, (lab, v) in enumerate(zip(chart.labels, chart.values, strict=True))
    )
    return Draft(
        family=FAMILY,
        concepts=ask.concepts,
        domain="statistics_charts",
        difficulty=difficulty,
        question=question,
        answer=ask.answer,
        answer_kind="number",
        render_code=_render(chart),
        answer_code=answer_code,
        check_code=check_code,
        solution=solution,
        elements=elements,
        tools=("tool.horizontal_guide", "tool.highlight"),
        width=W,
        height=H,
    )
