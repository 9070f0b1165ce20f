"""Pie chart percentages: labelled sectors drawn to scale, one percentage possibly missing, a total or a count
given in words; find a missing percentage, a count or a central angle.

A procedural family (contract in generators/procedural/base.py). Sectors run clockwise in pixel space from a
start bearing, so their drawn angles are exactly 3.6 degrees per percent. The tool step shades the sector(s)
the question is about and draws their bounding radii.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from fractions import Fraction

from flywheel.records import NamedElement, SolutionStep
from generators.procedural.base import Draft, canvas_code, tool_canvas_code
from generators.procedural.draw_other import SYMPY_FIXED, fixed

FAMILY = "pie_chart_percent"
W, H = 680, 560
CX, CY, R = 340, 300, 170

# (title, what the chart shows, people word, verb phrase, categories)
THEMES = (
    (
        "Favourite sport",
        "the favourite sport of a group of students",
        "students",
        "chose",
        ("Football", "Tennis", "Swimming", "Basketball", "Cycling", "Golf"),
    ),
    (
        "How workers travel to work",
        "how a group of workers travel to work",
        "workers",
        "travel by",
        ("Car", "Bus", "Train", "Bicycle", "Walking", "Tram"),
    ),
    (
        "Favourite fruit",
        "the favourite fruit of a group of children",
        "children",
        "chose",
        ("Apple", "Banana", "Mango", "Grapes", "Orange", "Cherry"),
    ),
    (
        "Favourite pet",
        "the favourite pet of a group of pupils",
        "pupils",
        "chose",
        ("Dog", "Cat", "Fish", "Rabbit", "Bird", "Hamster"),
    ),
)
SECTORS = {1: (3, 4), 2: (4, 4), 3: (4, 5), 4: (5, 5), 5: (5, 6)}
UNIT = {1: 5, 2: 5, 3: 2, 4: 1, 5: 1}  # percentages are multiples of this
TOTAL_STEP = {5: 20, 2: 50, 1: 100}  # totals that make every count a whole number
FILLS = ("#8ecae6", "#ffb703", "#90be6d", "#f28482", "#cdb4db", "#f6bd60")
KINDS = {
    1: ("percent", "count"),
    2: ("percent", "count", "angle"),
    3: ("count", "angle", "more"),
    4: ("angle", "reverse", "more"),
    5: ("reverse", "more", "reverse_total"),
}


@dataclass(frozen=True)
class Pie:
    """What the figure shows: names, true percentages, which one is printed as '?', and the start bearing."""

    names: tuple[str, ...]
    pcts: tuple[int, ...]
    hidden: int | None
    start: float

    def bounds(self, k: int) -> tuple[float, float]:
        """Clockwise bearings (degrees from 12 o'clock) where sector k starts and ends."""
        a = self.start + 3.6 * sum(self.pcts[:k])
        return a, a + 3.6 * self.pcts[k]


@dataclass(frozen=True)
class Ask:
    """The asked sector in context: how its percentage is known, and the survey size."""

    pie: Pie
    people: str
    verb: str
    target: int
    other: int
    total: int

    @property
    def p(self) -> int:
        return self.pie.pcts[self.target]

    @property
    def name(self) -> str:
        return self.pie.names[self.target]

    def first_step(self) -> str:
        """Reasoning that recovers the target's percentage (subtracting from 100% when it is hidden)."""
        if self.pie.hidden != self.target:
            return f"{self.name} is labelled {self.p}%. "
        known = sum(self.pie.pcts) - self.p
        return f"The shown percentages add to {known}%, so {self.name} is 100 - {known} = {self.p}%. "

    def sym(self) -> str:
        """sympy expression for the target's percentage, recomputed from what the figure shows."""
        if self.pie.hidden != self.target:
            return f"sp.Integer({self.p})"
        known = [q for i, q in enumerate(self.pie.pcts) if i != self.target]
        return f"(100 - sp.Add(*{known}))"

    def num(self) -> str:
        """numpy expression for the same percentage, via the other sectors' central angles."""
        if self.pie.hidden != self.target:
            return f"{self.p}"
        known = [q for i, q in enumerate(self.pie.pcts) if i != self.target]
        return f"((360 - np.sum(np.array({known}) * 3.6)) / 3.6)"


Result = tuple[str, str, str, str, tuple[int, ...], str]  # question, answer, sympy, numpy, shaded, reasoning


def _split(rng: random.Random, k: int, unit: int) -> tuple[int, ...]:
    """k percentages, multiples of `unit`, each at least 8, summing to 100."""
    low = max(2, math.ceil(8 / unit))
    spare = 100 // unit - k * low
    cuts = sorted(rng.randint(0, spare) for _ in range(k - 1))
    parts = [b - a for a, b in zip([0, *cuts], [*cuts, spare], strict=True)]
    return tuple((low + p) * unit for p in parts)


def _point(bearing: float, radius: float) -> tuple[float, float]:
    t = math.radians(bearing)
    return CX + radius * math.sin(t), CY - radius * math.cos(t)


def _sector_point(pie: Pie, k: int) -> tuple[float, float]:
    """Where a sector's name points: inside the coloured sector, on its middle bearing.

    (The text label is anchored at one of its edges, often on blank paper, so it would not locate the
    sector for perception data.)
    """
    a, b = pie.bounds(k)
    return _point((a + b) / 2, 0.6 * R)


def _ask_percent(rng: random.Random, a: Ask) -> Result:
    q = rng.choice(
        (
            f"What percentage of the {a.people} {a.verb} {a.name}? ",
            f"What percentage does the {a.name} sector show? ",
        )
    )
    q += "Give the answer in percent as a whole number."
    return q, str(a.p), f"print({a.sym()})\n", f"print(float({a.num()}))\n", (a.target,), a.first_step()


def _ask_angle(rng: random.Random, a: Ask) -> Result:
    q = rng.choice(
        (
            f"What is the central angle of the sector for {a.name}? ",
            f"Find the angle at the centre of the pie taken up by {a.name}. ",
        )
    )
    ang = fixed(Fraction(a.p * 36, 10), 1)
    return (
        q + "Give the answer in degrees, rounded to 1 decimal place.",
        ang,
        f"print(fixed({a.sym()} * 360 / 100, 1))\n",
        f"print(round(float({a.num()} * 3.6), 1))\n",
        (a.target,),
        a.first_step() + f"The central angle is {a.p}% of 360 degrees = {ang} degrees.",
    )


def _ask_count(rng: random.Random, a: Ask) -> Result:
    q = rng.choice(
        (
            f"{a.total} {a.people} were surveyed. How many of them {a.verb} {a.name}? ",
            f"The survey asked {a.total} {a.people}. How many {a.people} {a.verb} {a.name}? ",
        )
    )
    n = a.total * a.p // 100
    return (
        q + "Give the answer as a whole number.",
        str(n),
        f"print({a.total} * {a.sym()} / 100)\n",
        f"print(float({a.total} * ({a.num()} * 3.6) / 360))\n",
        (a.target,),
        a.first_step() + f"{a.p}% of {a.total} is {a.total} x {a.p}/100 = {n}.",
    )


def _ask_more(rng: random.Random, a: Ask) -> Result:
    o_p = a.pie.pcts[a.other]
    big, small = (a.target, a.other) if a.p > o_p else (a.other, a.target)
    diff = a.total * abs(a.p - o_p) // 100
    q = (
        f"{a.total} {a.people} were surveyed. How many more {a.people} {a.verb} {a.pie.names[big]} than "
        f"{a.pie.names[small]}? Give the answer as a whole number."
    )
    return (
        q,
        str(diff),
        f"print(sp.Abs({a.total} * ({a.sym()} - {o_p}) / 100))\n",
        f"print(float(abs({a.total} * {a.num()} / 100 - {a.total} * {o_p} / 100)))\n",
        (a.target, a.other),
        a.first_step() + f"{a.pie.names[a.other]} is {o_p}%. The difference is {abs(a.p - o_p)}% of "
        f"{a.total} = {diff}.",
    )


def _ask_reverse(rng: random.Random, a: Ask) -> Result:
    o_name, o_p = a.pie.names[a.other], a.pie.pcts[a.other]
    given = a.total * o_p // 100
    n = a.total * a.p // 100
    q = f"Exactly {given} {a.people} {a.verb} {o_name}. How many {a.people} {a.verb} {a.name}? "
    return (
        q + "Give the answer as a whole number.",
        str(n),
        f"print(sp.Rational({given}, {o_p}) * {a.sym()})\n",
        f"print(float({given} * {a.num()} / {o_p}))\n",
        (a.target, a.other),
        a.first_step() + f"{o_name} is {o_p}% = {given} {a.people}, so 1% is {given}/{o_p} and "
        f"{a.name} is {a.p} x {given}/{o_p} = {n}.",
    )


def _ask_reverse_total(rng: random.Random, a: Ask) -> Result:
    o_name, o_p = a.pie.names[a.target], a.p
    given = a.total * o_p // 100
    q = f"Exactly {given} {a.people} {a.verb} {o_name}. How many {a.people} were surveyed in total? "
    return (
        q + "Give the answer as a whole number.",
        str(a.total),
        f"n = sp.symbols('n')\nprint(sp.solve(sp.Eq(n * {a.sym()} / 100, {given}), n)[0])\n",
        f"print(float({given} / ({a.num()} / 100)))\n",
        (a.target,),
        a.first_step() + f"{o_p}% of the total is {given}, so the total is {given} x 100/{o_p} = {a.total}.",
    )


ASKS = {
    "percent": _ask_percent,
    "angle": _ask_angle,
    "count": _ask_count,
    "more": _ask_more,
    "reverse": _ask_reverse,
    "reverse_total": _ask_reverse_total,
}


RENDER_BODY = """
def at(bearing, radius):
    t = np.radians(bearing)
    return CX + radius * np.sin(t), CY - radius * np.cos(t)
a = start
for name, text, pct, fill in zip(names, texts, pcts, fills):
    b = a + 3.6 * pct
    ts = np.linspace(a, b, max(2, int(pct * 2)))
    xs, ys = at(ts, R)
    ax.fill(np.r_[CX, xs, CX], np.r_[CY, ys, CY], facecolor=fill, edgecolor='black', lw=1.5)
    m = (a + b) / 2
    lx, ly = at(m, R + 22)
    s = np.sin(np.radians(m)); c = np.cos(np.radians(m))
    ha = 'left' if s > 0.3 else ('right' if s < -0.3 else 'center')
    va = 'bottom' if c > 0.5 else ('top' if c < -0.5 else 'center')
    ax.text(lx, ly, name + '\\n' + text, ha=ha, va=va, fontsize=13, multialignment='center')
    a = b
ax.plot([CX], [CY], 'ko', ms=4)
ax.text(W / 2, 28, title, ha='center', va='center', fontsize=15, weight='bold')
"""


def _render(pie: Pie, title: str) -> str:
    texts = ["?" if i == pie.hidden else f"{p}%" for i, p in enumerate(pie.pcts)]
    data = (
        f"W, CX, CY, R = {W}, {CX}, {CY}, {R}\nstart = {pie.start}\n"
        f"names = {list(pie.names)!r}\ntexts = {texts!r}\npcts = {list(pie.pcts)!r}\n"
        f"fills = {list(FILLS[: len(pie.names)])!r}\ntitle = {title!r}\n"
    )
    return canvas_code(W, H) + data + RENDER_BODY


def _tool(pie: Pie, shaded: tuple[int, ...]) -> str:
    spans = [pie.bounds(k) for k in shaded]
    return tool_canvas_code(W, H) + (
        f"CX, CY, R = {CX}, {CY}, {R}\nspans = {spans!r}\n"
        "for a, b in spans:\n"
        "    t = np.radians(np.linspace(a, b, 60))\n"
        "    xs, ys = CX + R * np.sin(t), CY - R * np.cos(t)\n"
        "    ax.fill(np.r_[CX, xs, CX], np.r_[CY, ys, CY], facecolor='none', hatch='//',\n"
        "            edgecolor='red', lw=3)\n"
        "    mid = np.radians((a + b) / 2)\n"
        "    ax.text(CX + 0.55 * R * np.sin(mid), CY - 0.55 * R * np.cos(mid), f'{b - a:.1f}°',\n"
        "            color='red', fontsize=12, ha='center', va='center',\n"
        "            bbox=dict(facecolor='white', edgecolor='red'))\n"
    )


def _setup(rng: random.Random, difficulty: int) -> tuple[str, Ask, str]:
    """Draw the pie and decide which sector is asked about (and hidden, for the two-step versions)."""
    title, about, people, verb, pool = rng.choice(THEMES)
    k = rng.randint(*SECTORS[difficulty])
    pcts = _split(rng, k, UNIT[difficulty])
    kind = rng.choice(KINDS[difficulty])
    target = rng.randrange(k)
    others = [i for i in range(k) if pcts[i] != pcts[target]]
    if not others and kind in ("more", "reverse"):
        kind = "count"
    hide = kind == "percent" or rng.random() < (0.3 if difficulty == 1 else 0.7)
    start = 0.0 if difficulty <= 2 else float(rng.choice(range(0, 360, 15)))
    pie = Pie(tuple(rng.sample(pool, k)), pcts, target if hide else None, start)
    total = TOTAL_STEP[UNIT[difficulty]] * rng.randint(2, 9)
    ask = Ask(pie, people, verb, target, rng.choice(others) if others else target, total)
    return kind, ask, f"{title}|{about}"


def scene(rng: random.Random, difficulty: int) -> tuple[str, Ask, str, Result]:
    """The pie and the question make() draws: extensions replay it from the parent's seed."""
    kind, ask, text = _setup(rng, difficulty)
    return kind, ask, text, ASKS[kind](rng, ask)


def make(rng: random.Random, difficulty: int) -> Draft:
    """One pie chart and one percentage question about it."""
    return draft_of(*scene(rng, difficulty), difficulty)


def draft_of(kind: str, ask: Ask, text: str, result: Result, difficulty: int) -> Draft:
    """The problem for one pie and one question (shared by make and the parallel extension)."""
    title, about = text.split("|")
    pie = ask.pie
    q, answer, sym_body, num_body, shaded, why = result
    hint = " One sector's percentage is missing and is marked '?'." if pie.hidden is not None else ""
    question = f"The pie chart shows {about}.{hint} {q}"
    texts = ["?" if i == pie.hidden else f"{p}%" for i, p in enumerate(pie.pcts)]
    shown = ", ".join(f"{n} {t}" for n, t in zip(pie.names, texts, strict=True))
    solution = (
        SolutionStep("think", f"The sectors read: {shown}. The percentages of a whole pie add to 100%."),
        SolutionStep(
            "code",
            "Shade the sector(s) the question asks about and mark their central angles.",
            _tool(pie, shaded),
        ),
        SolutionStep("think", why),
        SolutionStep("think", f"The answer is {answer}."),
    )
    elements = (NamedElement("O", "center", CX, CY),) + tuple(
        NamedElement(n, "sector", *(round(c, 2) for c in _sector_point(pie, i))) for i, n in enumerate(pie.names)
    )
    return Draft(
        family=FAMILY,
        concepts=("statistics_charts.pie_chart_percent", "statistics_charts.pie_chart_angles")
        if kind == "angle"
        else ("statistics_charts.pie_chart_percent", "statistics_charts.percent"),
        domain="statistics_charts",
        difficulty=difficulty,
        question=question,
        answer=answer,
        answer_kind="number",
        render_code=_render(pie, title),
        answer_code="import sympy as sp\n" + SYMPY_FIXED + sym_body,
        check_code="import numpy as np\n" + num_body,
        solution=solution,
        elements=elements,
        tools=("tool.region_shading", "tool.angle_mark"),
        width=W,
        height=H,
    )
