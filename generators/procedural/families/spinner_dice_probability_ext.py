"""Extensions of spinner_dice_probability (issue 5): another event on the same spinner or dice table (parallel),
and the parent's experiment repeated a few times, noted on the figure, asking for a binomial probability whose
success chance is the parent's answer (sequential).

They live beside the family module, which is near the 500-line cap. Both replay the parent's spinner or dice
from its seed with `scene`; the sequential programs start from the probability the parent's programs print.
"""

from __future__ import annotations

import random
from dataclasses import replace
from fractions import Fraction
from math import comb

from flywheel.records import NamedElement, SolutionStep
from generators.procedural.base import Draft
from generators.procedural.chain import RUN_PROGRAM, embed, harder, recap
from generators.procedural.draw_other import frac_text
from generators.procedural.families.spinner_dice_probability import (
    FAMILY,
    FRACTION,
    Dice,
    _dice_parts,
    _dice_question,
    _spin_once,
    _spin_twice,
    _spinner_parts,
    draft_of,
    scene,
)

__all__ = ["FAMILY", "parallel", "sequential"]


def _parent(seed: int, level: int) -> tuple[object, Draft]:
    rng = random.Random(seed)
    thing = scene(rng, level)
    parts = _dice_parts(rng, thing, level) if isinstance(thing, Dice) else _spinner_parts(rng, thing, level)
    return thing, draft_of(parts, level)


def parallel(rng: random.Random, parent_seed: int, parent_level: int) -> Draft:
    """Another event on the same spinner (one spin or two) or dice table, with a different probability."""
    thing, parent = _parent(parent_seed, parent_level)
    for attempt in range(200):
        if isinstance(thing, Dice):
            made, level = _dice_question(rng, thing, max(3, parent_level) if attempt > 20 else parent_level), None
        elif rng.random() < 0.5:
            level = min(parent_level, 3)
            made = _spin_once(rng, thing, level)
        else:
            made, level = _spin_twice(rng, thing), 4
        if made[1] != parent.answer and made[2] not in parent.answer_code:
            break
    if isinstance(thing, Dice):
        return draft_of(_dice_parts(rng, thing, parent_level, made), parent_level)
    return draft_of(_spinner_parts(rng, thing, level, made), max(level, parent_level - 1))


def _event(rng: random.Random, p: Fraction) -> tuple[int, str, str, Fraction, str, str]:
    """n repetitions and an event on the number of wins: (n, words, sympy event, probability, numpy mask, why)."""
    n = rng.choice((2, 3))
    q = 1 - p
    kind = rng.choice(("at_least_one", "exactly", "all_but"))
    if kind == "at_least_one":
        value = 1 - q**n
        why = f"P(at least one win) = 1 - (1 - {frac_text(p)})^{n} = {frac_text(value)}."
        return n, "at least one win", "X >= 1", value, "wins >= 1", why
    k = rng.randint(1, n - 1) if kind == "exactly" else n - 1
    value = comb(n, k) * p**k * q ** (n - k)
    why = f"P(exactly {k} wins) = C({n},{k}) x ({frac_text(p)})^{k} x ({frac_text(q)})^{n - k} = {frac_text(value)}."
    return n, f"exactly {k} win{'s' if k > 1 else ''}", f"sp.Eq(X, {k})", value, f"wins == {k}", why


def sequential(rng: random.Random, parent_seed: int, parent_level: int) -> Draft:
    """The parent's probability p, then a binomial probability over n independent repeats with success chance p."""
    thing, parent = _parent(parent_seed, parent_level)
    p = Fraction(parent.answer)
    n, words, event, value, mask, why = _event(rng, p)
    answer = frac_text(value)
    note = f"Played {n} times\n(independent rounds)"
    top = 52 if isinstance(thing, Dice) else 6  # below the dice title, clear of the table; above the spinner
    render = parent.render_code + (
        f"# the change: the game note ({n} independent rounds)\n"
        f"ax.text(6, {top}, {note!r}, ha='left', va='top', fontsize=10, color='darkred',\n"
        "        bbox=dict(facecolor='#fff3f0', edgecolor='darkred', pad=3), zorder=8)\n"
    )
    question = (
        f"{parent.question.replace(FRACTION, '').strip()} Call that event a win. As the note on the figure says, the "
        f"whole experiment is played {n} times, independently. What is the probability of {words} in the {n} rounds? "
        + FRACTION
    )
    sym = (
        "import sympy as sp\nfrom sympy.stats import Binomial, P\n" + RUN_PROGRAM
        + f"p = sp.Rational(last_line({embed(parent.answer_code)}))\nX = Binomial('X', {n}, p)\nprint(P({event}))\n"
    )
    num = (
        "import numpy as np\nfrom itertools import product\n" + RUN_PROGRAM
        + f"p = float(last_line({embed(parent.check_code)}))\n"
        f"rounds = np.array(list(product([0, 1], repeat={n})))\nwins = rounds.sum(axis=1)\n"
        "weight = np.prod(np.where(rounds == 1, p, 1 - p), axis=1)\n"
        f"print(float(weight[{mask}].sum()))\n"
    )
    solution = (
        recap(parent.question, parent.answer, parent.solution[2].text),
        parent.solution[1],
        SolutionStep("think", f"Each round is a win with probability p = {parent.answer}, independently. {why}"),
        SolutionStep("think", f"The answer is {answer}."),
    )
    return replace(
        parent,
        difficulty=harder(parent_level),
        question=question,
        answer=answer,
        render_code=render,
        answer_code=sym,
        check_code=num,
        solution=solution,
        elements=parent.elements + (NamedElement("game note", "label", 6, top),),
        concepts=parent.concepts[:3] + ("probability.binomial_probability",),
    )
