"""Spinner and dice probability: a spinner with coloured, numbered sectors (equal, or with marked central
angles), or an outcome table for two dice; find an exact probability as a fraction in lowest terms.

A procedural family (contract in generators/procedural/base.py). The stated answer counts favourable weight
with Fractions; answer_code builds sympy.stats random variables and asks P(...); check_code enumerates the
outcomes with numpy weights. The tool step hatches the favourable sectors or shades the favourable cells.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from fractions import Fraction

from flywheel.records import NamedElement, SolutionStep
from generators.procedural.base import Draft, canvas_code, tool_canvas_code
from generators.procedural.draw_other import COLOURS, frac_text

FAMILY = "spinner_dice_probability"
FRACTION = "Give the answer as a fraction in lowest terms."
PRIMES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31)


@dataclass(frozen=True)
class Cond:
    """An event on one outcome, three ways: words, a Python predicate, a numpy mask, and a callable."""

    words: str
    py: str  # over c (colour name) and n (number)
    np: str  # over arrays C and N
    test: object  # Callable[[str, int], bool]


def _number_conds(rng: random.Random, numbers: list[int]) -> list[Cond]:
    t = rng.randint(min(numbers), max(numbers) - 1)
    return [
        Cond("an even number", "n % 2 == 0", "N % 2 == 0", lambda c, n: n % 2 == 0),
        Cond("an odd number", "n % 2 == 1", "N % 2 == 1", lambda c, n: n % 2 == 1),
        Cond("a prime number", "n in (2, 3, 5, 7)", "np.isin(N, [2, 3, 5, 7])", lambda c, n: n in PRIMES),
        Cond(f"a number greater than {t}", f"n > {t}", f"N > {t}", lambda c, n: n > t),
        Cond("a multiple of 3", "n % 3 == 0", "N % 3 == 0", lambda c, n: n % 3 == 0),
    ]


def _colour_cond(col: str) -> Cond:
    return Cond(f"a {col} sector", f"c == {col!r}", f"C == {col!r}", lambda c, n: c == col)


def _either(a: Cond, b: Cond) -> Cond:
    return Cond(
        f"{a.words} or {b.words} (or both)",
        f"({a.py}) or ({b.py})",
        f"({a.np}) | ({b.np})",
        lambda c, n: a.test(c, n) or b.test(c, n),
    )


def _not(a: Cond) -> Cond:
    col = a.words.split()[1]
    return Cond(f"a sector that is not {col}", f"not ({a.py})", f"~({a.np})", lambda c, n: not a.test(c, n))


@dataclass(frozen=True)
class Spinner:
    units: tuple[int, ...]  # sector sizes in multiples of 360/total
    colours: tuple[str, ...]
    numbers: tuple[int, ...]
    equal: bool

    @property
    def angles(self) -> tuple[int, ...]:
        return tuple(360 * u // sum(self.units) for u in self.units)

    def prob(self, k: int) -> Fraction:
        return Fraction(self.units[k], sum(self.units))


def _spinner(rng: random.Random, difficulty: int) -> Spinner:
    if difficulty == 1 or (difficulty == 4 and rng.random() < 0.5):
        n = rng.choice((4, 5, 6, 8))  # sector angles stay whole degrees
        units = (1,) * n
    else:
        total = rng.choice((8, 12))
        n = rng.randint(4, 6)
        cuts = sorted(rng.sample(range(1, total), n - 1))
        units = tuple(b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True))
    palette = rng.sample(list(COLOURS), 3 if difficulty <= 2 else 4)
    colours = [palette[k % len(palette)] for k in range(n)]
    rng.shuffle(colours)
    numbers = list(range(1, n + 1)) if difficulty <= 2 else [rng.randint(1, 9) for _ in range(n)]
    rng.shuffle(numbers)
    return Spinner(units, tuple(colours), tuple(numbers), len(set(units)) == 1)


def _one_spin_cond(rng: random.Random, s: Spinner, difficulty: int) -> Cond:
    colour = _colour_cond(rng.choice(s.colours))
    number = rng.choice(_number_conds(rng, list(s.numbers)))
    if difficulty <= 2:
        return rng.choice((colour, number))
    return rng.choice((_either(colour, number), _not(colour), number))


def _spin_once(rng: random.Random, s: Spinner, difficulty: int) -> tuple:
    """Question, answer, sympy body, numpy body, favourable sectors, reasoning for one spin."""
    while True:
        cond = _one_spin_cond(rng, s, difficulty)
        fav = [k for k in range(len(s.units)) if cond.test(s.colours[k], s.numbers[k])]
        p = sum((s.prob(k) for k in fav), Fraction(0))
        if 0 < p < 1:
            break
    q = rng.choice(
        (
            f"The spinner is spun once. What is the probability that it lands on {cond.words}? ",
            f"If the spinner is spun one time, find the probability of landing on {cond.words}. ",
            f"What is the chance that a single spin gives {cond.words}? ",
        )
    )
    sym = (
        "X = FiniteRV('X', {k: sp.Rational(a, 360) for k, a in enumerate(angles)})\n"
        f"fav = [k for k, (c, n) in enumerate(zip(colours, numbers)) if {cond.py}]\n"
        "print(P(sp.Contains(X, sp.FiniteSet(*fav))))\n"
    )
    num = f"w = np.array(angles) / 360\nprint(float(w[{cond.np}].sum()))\n"
    parts = " + ".join(frac_text(s.prob(k)) for k in fav)
    why = f"The favourable sectors have probabilities {parts}, which add to {frac_text(p)}."
    return q + FRACTION, frac_text(p), sym, num, fav, why


def _spin_twice(rng: random.Random, s: Spinner) -> tuple:
    """Two independent spins: both land on one colour, or the two numbers' sum hits a target."""
    dist: dict[int, Fraction] = {}
    for k, n in enumerate(s.numbers):
        dist[n] = dist.get(n, Fraction(0)) + s.prob(k)
    if rng.random() < 0.35 or len(dist) == 1:
        col = rng.choice(s.colours)
        fav = [k for k in range(len(s.units)) if s.colours[k] == col]
        p1 = sum((s.prob(k) for k in fav), Fraction(0))
        q = f"The spinner is spun twice, independently. What is the probability that both spins land on {col}? "
        sym = (
            "codes = sorted(set(colours))\n"
            "dens = {}\nfor a, c in zip(angles, colours):\n"
            "    dens[codes.index(c)] = dens.get(codes.index(c), 0) + sp.Rational(a, 360)\n"
            "X, Y = FiniteRV('X', dens), FiniteRV('Y', dens)\n"
            f"t = codes.index({col!r})\nprint(P(sp.And(sp.Eq(X, t), sp.Eq(Y, t))))\n"
        )
        num = f"w = np.array(angles) / 360\nprint(float(np.outer(w, w)[np.ix_(C == {col!r}, C == {col!r})].sum()))\n"
        why = f"P({col}) on one spin is {frac_text(p1)}; the spins are independent, so ({frac_text(p1)})^2."
        return q + FRACTION, frac_text(p1 * p1), sym, num, fav, why
    sums = sorted({a + b for a in dist for b in dist})
    target = rng.choice(sums[1:-1] or sums)
    at_least = rng.random() < 0.5
    hit = (lambda v: v >= target) if at_least else (lambda v: v == target)
    p = sum((pa * pb for a, pa in dist.items() for b, pb in dist.items() if hit(a + b)), Fraction(0))
    words = f"at least {target}" if at_least else f"exactly {target}"
    q = "The spinner is spun twice, independently. "
    q += f"What is the probability that the sum of the two numbers is {words}? "
    event = f"X + Y >= {target}" if at_least else f"sp.Eq(X + Y, {target})"
    sym = (
        "dens = {}\nfor a, n in zip(angles, numbers):\n    dens[n] = dens.get(n, 0) + sp.Rational(a, 360)\n"
        f"X, Y = FiniteRV('X', dens), FiniteRV('Y', dens)\nprint(P({event}))\n"
    )
    op = ">=" if at_least else "=="
    num = f"w = np.array(angles) / 360\nS = np.add.outer(N, N)\nprint(float(np.outer(w, w)[S {op} {target}].sum()))\n"
    listing = ", ".join(f"P({n}) = {frac_text(p_)}" for n, p_ in sorted(dist.items()))
    why = f"One spin gives {listing}. Adding P(a)P(b) over ordered pairs with sum {words} gives {frac_text(p)}."
    return q + FRACTION, frac_text(p), sym, num, list(range(len(s.units))), why


@dataclass(frozen=True)
class Dice:
    a: tuple[int, ...]
    b: tuple[int, ...]
    op: str  # "+" or "x"
    blank: bool  # cells left empty: the reader works each outcome out

    def value(self, x: int, y: int) -> int:
        return x + y if self.op == "+" else x * y


def _dice(rng: random.Random, difficulty: int) -> Dice:
    std = tuple(range(1, 7))
    if difficulty == 5:
        faces = [tuple(sorted(rng.randint(0, 8) for _ in range(6))) for _ in range(2)]
        return Dice(faces[0], faces[1], "+", True)
    return Dice(std, std, "x" if difficulty == 4 else "+", False)


def _dice_conds(rng: random.Random, d: Dice) -> list[Cond]:
    vals = sorted({d.value(x, y) for x in d.a for y in d.b})
    t = rng.choice(vals[1:-1] or vals)
    m = rng.choice((3, 4, 5))
    return [
        Cond(f"exactly {t}", f"v == {t}", f"V == {t}", lambda v: v == t),
        Cond(f"at least {t}", f"v >= {t}", f"V >= {t}", lambda v: v >= t),
        Cond(f"less than {t}", f"v < {t}", f"V < {t}", lambda v: v < t),
        Cond("a prime number", "sp.isprime(v)", f"np.isin(V, {list(PRIMES)})", lambda v: v in PRIMES),
        Cond(f"a multiple of {m}", f"v % {m} == 0", f"V % {m} == 0", lambda v: v % m == 0),
        Cond("an even number", "v % 2 == 0", "V % 2 == 0", lambda v: v % 2 == 0),
    ]


def _dice_question(rng: random.Random, d: Dice, difficulty: int) -> tuple:
    """Question, answer, sympy body, numpy body, favourable cells, reasoning for a two-dice event."""
    word = "sum" if d.op == "+" else "product"
    while True:
        conds = _dice_conds(rng, d)
        cond = rng.choice(conds[:1] if difficulty == 2 else conds)
        fav = [(i, j) for i, x in enumerate(d.a) for j, y in enumerate(d.b) if cond.test(d.value(x, y))]
        if 0 < len(fav) < 36:
            break
    p = Fraction(len(fav), 36)
    q = rng.choice(
        (
            f"Dice A and B are rolled together. What is the probability that the {word} of the two numbers is "
            f"{cond.words}? ",
            f"Both dice are rolled once. Find the probability that the {word} of the numbers rolled is {cond.words}. ",
        )
    )
    expr = "X + Y" if d.op == "+" else "X * Y"
    sym = (
        "X = FiniteRV('X', {f: sp.Rational(A.count(f), 6) for f in set(A)})\n"
        "Y = FiniteRV('Y', {f: sp.Rational(B.count(f), 6) for f in set(B)})\n"
        f"fav = [v for v in {{{expr.replace('X', 'x').replace('Y', 'y')} for x in A for y in B}} if {cond.py}]\n"
        f"print(P(sp.Contains({expr}, sp.FiniteSet(*fav))))\n"
    )
    np_op = "np.add.outer" if d.op == "+" else "np.multiply.outer"
    num = f"V = {np_op}(np.array(A), np.array(B))\nprint(float(np.mean({cond.np})))\n"
    why = (
        f"All 36 cells are equally likely; {len(fav)} of them have a {word} that is {cond.words}, so "
        f"P = {len(fav)}/36 = {frac_text(p)}."
    )
    return q + FRACTION, frac_text(p), sym, num, fav, why


SPIN_W, SPIN_H, CX, CY, R = 600, 620, 300, 300, 230
DICE_W = DICE_H = 600
X0, Y0, CELL = 112, 112, 64  # dice table: top-left corner and cell size

SPINNER_BODY = """
def at(bearing, radius):
    t = np.radians(bearing)
    return CX + radius * np.sin(t), CY - radius * np.cos(t)
a = 0
for ang, col, num in zip(angles, fills, numbers):
    b = a + ang
    xs, ys = at(np.linspace(a, b, max(2, ang)), R)
    ax.fill(np.r_[CX, xs, CX], np.r_[CY, ys, CY], facecolor=col, edgecolor='black', lw=2)
    tx, ty = at((a + b) / 2, 0.6 * R)
    ax.text(tx, ty, str(num), ha='center', va='center', fontsize=24, weight='bold')
    if show_angles:
        tx, ty = at((a + b) / 2, 0.86 * R)
        ax.text(tx, ty, f'{ang}°', ha='center', va='center', fontsize=12,
                bbox=dict(facecolor='white', edgecolor='none', alpha=0.8, pad=1))
    a = b
ax.add_patch(plt.Circle((CX, CY), 9, color='black'))
for i, (name, col) in enumerate(key):
    x = CX - 90 * (len(key) - 1) / 2 + 90 * i
    ax.add_patch(plt.Rectangle((x - 34, 572), 18, 18, facecolor=col, edgecolor='black'))
    ax.text(x - 10, 581, name, ha='left', va='center', fontsize=13)
ax.text(CX, 32, 'Spinner', ha='center', va='center', fontsize=16, weight='bold')
"""

DICE_BODY = """
for r in range(7):
    for c in range(7):
        head = r == 0 or c == 0
        ax.add_patch(plt.Rectangle((X0 + c * CELL, Y0 + r * CELL), CELL, CELL,
                                   facecolor='#dde7f3' if head else 'white', edgecolor='black', lw=1.2))
ax.text(X0 + CELL / 2, Y0 + CELL / 2, op, ha='center', va='center', fontsize=18, weight='bold')
for i, f in enumerate(A):
    ax.text(X0 + (i + 1.5) * CELL, Y0 + CELL / 2, str(f), ha='center', va='center', fontsize=16, weight='bold')
for j, f in enumerate(B):
    ax.text(X0 + CELL / 2, Y0 + (j + 1.5) * CELL, str(f), ha='center', va='center', fontsize=16, weight='bold')
    for i, g in enumerate(A):
        if not blank:
            v = f + g if op == '+' else f * g
            ax.text(X0 + (i + 1.5) * CELL, Y0 + (j + 1.5) * CELL, str(v), ha='center', va='center', fontsize=15)
ax.text(X0 + 4 * CELL, Y0 - 18, 'Die A', ha='center', va='center', fontsize=14)
ax.text(X0 - 24, Y0 + 4 * CELL, 'Die B', ha='center', va='center', fontsize=14, rotation=90)
ax.text(X0 + 3.5 * CELL, 36, title, ha='center', va='center', fontsize=16, weight='bold')
"""


def _spinner_render(s: Spinner) -> str:
    key = [(c, COLOURS[c]) for c in sorted(set(s.colours))]
    data = (
        f"CX, CY, R = {CX}, {CY}, {R}\nangles = {list(s.angles)!r}\nnumbers = {list(s.numbers)!r}\n"
        f"fills = {[COLOURS[c] for c in s.colours]!r}\nkey = {key!r}\nshow_angles = {not s.equal}\n"
    )
    return canvas_code(SPIN_W, SPIN_H) + data + SPINNER_BODY


def _dice_render(d: Dice) -> str:
    title = "Two dice: " + ("faces of each die" if d.blank else ("sum" if d.op == "+" else "product") + " table")
    data = (
        f"X0, Y0, CELL = {X0}, {Y0}, {CELL}\nA = {list(d.a)!r}\nB = {list(d.b)!r}\n"
        f"op = {'+' if d.op == '+' else '×'!r}\nblank = {d.blank}\ntitle = {title!r}\n"
    )
    return canvas_code(DICE_W, DICE_H) + data + DICE_BODY


def _spinner_tool(s: Spinner, fav: list[int], label_probs: bool) -> str:
    starts = [sum(s.angles[:k]) for k in range(len(s.angles))]
    # hatching every sector (two-spin sums use them all) would only hide the numbers: then just label them
    spans = [(starts[k], starts[k] + s.angles[k]) for k in fav] if len(fav) < len(s.angles) else []
    probs = [(starts[k] + s.angles[k] / 2, frac_text(s.prob(k))) for k in fav] if label_probs else []
    return tool_canvas_code(SPIN_W, SPIN_H) + (
        f"CX, CY, R = {CX}, {CY}, {R}\nspans = {spans!r}\nprobs = {probs!r}\n"
        "for a, b in spans:\n"
        "    t = np.radians(np.linspace(a, b, 60))\n"
        "    xs, ys = CX + R * np.sin(t), CY - R * np.cos(t)\n"
        "    ax.fill(np.r_[CX, xs, CX], np.r_[CY, ys, CY], facecolor='none', hatch='xx', edgecolor='black', lw=4)\n"
        "for m, text in probs:\n"
        "    t = np.radians(m)\n"
        "    ax.text(CX + 0.3 * R * np.sin(t), CY - 0.3 * R * np.cos(t), text, ha='center', va='center',\n"
        "            fontsize=12, bbox=dict(facecolor='white', edgecolor='black'))\n"
    )


def _dice_tool(d: Dice, fav: list[tuple[int, int]]) -> str:
    """Shade the favourable cells and write each one's value in it (the blank tables need it most)."""
    cells = [(X0 + (i + 1) * CELL, Y0 + (j + 1) * CELL, d.value(d.a[i], d.b[j]) if d.blank else "") for i, j in fav]
    return tool_canvas_code(DICE_W, DICE_H) + (
        f"CELL = {CELL}\ncells = {cells!r}\n"
        "for x, y, v in cells:\n"
        "    ax.add_patch(plt.Rectangle((x + 3, y + 3), CELL - 6, CELL - 6, facecolor='gold', alpha=0.45,\n"
        "                               edgecolor='darkorange', lw=2.5))\n"
        "    ax.text(x + CELL - 8, y + 8, str(v), ha='right', va='top', fontsize=11, color='darkred')\n"
        f"ax.text({X0 + 3.5 * CELL}, {Y0 + 7 * CELL + 22}, f'favourable cells: {{len(cells)}} of 36',\n"
        "        ha='center', va='center', fontsize=13, color='darkorange', weight='bold')\n"
    )


@dataclass(frozen=True)
class Parts:
    """Everything make() needs from one variant (spinner or dice)."""

    question: str
    answer: str
    answer_code: str
    check_code: str
    render_code: str
    steps: tuple[str, str, str]  # reading, tool caption, reasoning
    tool: str
    elements: tuple[NamedElement, ...]
    size: tuple[int, int]
    concepts: tuple[str, ...]


def _at(bearing: float, radius: float) -> tuple[float, float]:
    t = math.radians(bearing)
    return round(CX + radius * math.sin(t), 2), round(CY - radius * math.cos(t), 2)


def _spinner_parts(rng: random.Random, s: Spinner, difficulty: int, made: tuple | None = None) -> Parts:
    """The spinner problem; `made` (question parts) is drawn here unless an extension supplies it."""
    twice = difficulty >= 4 if made is None else "spun twice" in made[0]
    if made is None:
        made = _spin_twice(rng, s) if twice else _spin_once(rng, s, difficulty)
    q, ans, sym, num, fav, why = made
    sizes = "equal sectors" if s.equal else "sectors whose central angles are marked"
    intro = (
        f"The spinner is divided into {len(s.units)} {sizes}; each sector shows a number and is coloured as "
        "in the key. "
    )
    head = f"angles = {list(s.angles)!r}\ncolours = {list(s.colours)!r}\nnumbers = {list(s.numbers)!r}\n"
    starts = [sum(s.angles[:k]) for k in range(len(s.angles))]
    elements = [NamedElement("centre", "center", CX, CY)] + [
        NamedElement(f"{s.numbers[k]} ({s.colours[k]})", "label", *_at(starts[k] + s.angles[k] / 2, 0.6 * R))
        for k in range(len(s.angles))
    ]
    listing = ", ".join(f"{n} {c} {a}°" for n, c, a in zip(s.numbers, s.colours, s.angles, strict=True))
    concepts = ("probability.spinner_probability", "probability.geometric_probability")
    return Parts(
        intro + q,
        ans,
        "import sympy as sp\nfrom sympy.stats import FiniteRV, P\n" + head + sym,
        "import numpy as np\n" + head + "C = np.array(colours)\nN = np.array(numbers)\n" + num,
        _spinner_render(s),
        (
            f"Reading the sectors (number, colour, angle): {listing}. Each sector's probability is angle/360.",
            "Hatch the sectors that matter and write each one's probability in it.",
            why,
        ),
        _spinner_tool(s, fav, label_probs=True),
        tuple(elements),
        (SPIN_W, SPIN_H),
        concepts + (("probability.independent_events",) if twice else ()),
    )


def _dice_parts(rng: random.Random, d: Dice, difficulty: int, made: tuple | None = None) -> Parts:
    """The dice problem; `made` (question parts) is drawn here unless an extension supplies it."""
    q, ans, sym, num, fav, why = made or _dice_question(rng, d, difficulty)
    word = "sum" if d.op == "+" else "product"
    if d.blank:
        intro = (
            "Dice A and B are fair six-sided dice whose faces are listed in the table's headers (die A across the "
            "top, die B down the side); faces may repeat and each face is equally likely. The cells are blank. "
        )
    else:
        intro = (
            f"Dice A and B are fair standard dice. The table shows the {word} of the two numbers for each of the "
            f"36 equally likely outcomes (die A across the top, die B down the side). "
        )
    head = f"A = {list(d.a)!r}\nB = {list(d.b)!r}\n"
    elements = [NamedElement(f"A{i + 1}", "label", X0 + (i + 1.5) * CELL, Y0 + CELL / 2) for i in range(6)]
    elements += [NamedElement(f"B{j + 1}", "label", X0 + CELL / 2, Y0 + (j + 1.5) * CELL) for j in range(6)]
    return Parts(
        intro + q,
        ans,
        "import sympy as sp\nfrom sympy.stats import FiniteRV, P\n" + head + sym,
        "import numpy as np\n" + head + num,
        _dice_render(d),
        (
            f"Die A has faces {list(d.a)} and die B has faces {list(d.b)}: 36 equally likely ordered outcomes.",
            "Shade every cell of the table whose outcome is favourable and count them.",
            why,
        ),
        _dice_tool(d, fav),
        tuple(elements),
        (DICE_W, DICE_H),
        ("probability.dice_probability", "probability.sample_space")
        + (("probability.sum_of_two_dice",) if d.op == "+" else ("probability.classical_probability",)),
    )


def scene(rng: random.Random, difficulty: int) -> Spinner | Dice:
    """The spinner or dice make() draws: extensions replay it from the parent's seed."""
    return _dice(rng, difficulty) if difficulty >= 2 and rng.random() < 0.45 else _spinner(rng, difficulty)


def make(rng: random.Random, difficulty: int) -> Draft:
    """A spinner (spun once, or twice from level 4) or, from level 2, a two-dice outcome table."""
    thing = scene(rng, difficulty)
    parts = _dice_parts(rng, thing, difficulty) if isinstance(thing, Dice) else _spinner_parts(rng, thing, difficulty)
    return draft_of(parts, difficulty)


def draft_of(parts: Parts, difficulty: int) -> Draft:
    """The problem for one finished variant (shared by make and the extensions)."""
    read, caption, why = parts.steps
    solution = (
        SolutionStep("think", read),
        SolutionStep("code", caption, parts.tool),
        SolutionStep("think", why),
        SolutionStep("think", f"The answer is {parts.answer}."),
    )
    return Draft(
        family=FAMILY,
        concepts=parts.concepts,
        domain="probability",
        difficulty=difficulty,
        question=parts.question,
        answer=parts.answer,
        answer_kind="expression",
        render_code=parts.render_code,
        answer_code=parts.answer_code,
        check_code=parts.check_code,
        solution=solution,
        elements=parts.elements,
        tools=("tool.region_shading", "tool.highlight"),
        width=parts.size[0],
        height=parts.size[1],
    )
