"""Extensions of clock_angle_ruler (issue 5): another reading of the same instrument (parallel), and a change drawn
in red on it (the clock runs on, an object is cut, a ray turns) whose effect on the parent's answer is asked
(sequential).

They live beside the family module, which is at the 500-line cap. Both replay the parent's variant and scene
from its seed; the sequential programs run the parent's programs and the changed scene's programs and subtract.
"""

from __future__ import annotations

import math
import random
from dataclasses import replace
from fractions import Fraction

from flywheel.records import NamedElement, SolutionStep
from generators.procedural.base import Draft
from generators.procedural.chain import RUN_PROGRAM, embed, harder, recap
from generators.procedural.draw_other import SYMPY_FIXED, fixed
from generators.procedural.families.clock_angle_ruler import (
    FAMILY,
    PR,
    PX,
    PX_MM,
    PY,
    R0,
    SYMPY_DEGREES,
    VARIANTS,
    Part,
    _clock_tool,
    _hands,
    _protractor_tool,
    _ray_end,
    _tip,
    clock_degenerate,
    clock_part,
    clock_scene,
    degrees_text,
    draft_of,
    protractor_part,
    protractor_scene,
    ruler_part,
    ruler_scene,
)

__all__ = ["FAMILY", "parallel", "sequential"]
CLOCK_LEVEL = {"smaller": 1, "reflex": 4, "later": 5}


def _replay(seed: int, level: int) -> tuple[str, tuple, Part]:
    """The parent's variant, scene and finished part, drawn exactly as make() draws them."""
    rng = random.Random(seed)
    variant = rng.choice(sorted(VARIANTS))
    if variant == "clock":
        scene = clock_scene(rng, level)
        return variant, scene, clock_part(rng, *scene)
    if variant == "ruler":
        scene = (ruler_scene(rng, level),)
        return variant, scene, ruler_part(scene[0], level)
    scene = protractor_scene(rng, level)
    return variant, scene, protractor_part(rng, *scene, level)


def _right_end(objs: list[tuple], level: int) -> Part:
    """One object on the ruler: where does its right end lie? (a reading, not a length)"""
    name, _, b, _, _ = objs[0]
    base = ruler_part(objs, level)
    reading = fixed(Fraction(b, 10), 1)
    return replace(
        base,
        question="The figure shows a ruler marked in centimetres and millimetres. What does the ruler read at the "
        f"right end of the {name}? Give the answer in cm as a decimal with 1 decimal place.",
        answer=reading,
        answer_code=f"import sympy as sp\n{SYMPY_FIXED}print(fixed(sp.Rational({b}, 10), 1))\n",
        check_code=f"x = {round(R0 + PX_MM * b, 2)}\nprint(round((x - {R0}) / {PX_MM} / 10, 1))\n",
        steps=(base.steps[0], base.steps[1], f"The right end of the {name} is {b} mm from 0: it reads {reading} cm."),
    )


def parallel(rng: random.Random, parent_seed: int, parent_level: int) -> Draft:
    """Another reading of the parent's instrument: same render code, a different quantity."""
    variant, scene, _ = _replay(parent_seed, parent_level)
    if variant == "clock":
        h, m, kind, _ = scene
        kinds = [k for k in sorted(CLOCK_LEVEL) if k != kind]
        rng.shuffle(kinds)
        for new_kind in kinds:
            later = rng.choice(range(10, 55, 5)) if new_kind == "later" else 0
            if not clock_degenerate(h, m, new_kind, later):
                return draft_of(clock_part(rng, h, m, new_kind, later), max(CLOCK_LEVEL[new_kind], parent_level - 1))
        return draft_of(clock_part(rng, h, m, "smaller", 0), parent_level)  # unreachable: 'smaller' never degenerates
    if variant == "ruler":
        objs = scene[0]
        if len(objs) == 2:  # difference <-> total
            return draft_of(ruler_part(objs, 9 - parent_level), parent_level)
        return draft_of(_right_end(objs, parent_level), parent_level)
    a, b, c = scene
    base = protractor_part(rng, a, b, c, parent_level)
    rays = [("A", a), ("B", b)] + ([("C", c)] if parent_level == 5 else [])
    name, d = rng.choice([r for r in rays if 0 < r[1] < 180])
    part = replace(
        base,
        question="The figure shows a protractor with its centre at O and rays drawn from O. What is the angle between "
        f"ray O{name} and the left-hand half of the base line? Give the answer in degrees, as a whole number.",
        answer=str(180 - d),
        answer_code=f"import sympy as sp\nprint(sp.Integer(180) - {d})\n",
        check_code=f"import numpy as np\nv = np.array({_exact_end(d)!r}) - np.array([{PX}, {PY}])\n"
        "print(float(np.degrees(np.arccos(np.dot(v, [-1, 0]) / np.linalg.norm(v)))))\n",
        tool=_protractor_tool([(name, d)], d, 180),
        steps=(
            base.steps[0],
            "Mark where the ray crosses the scale and arc the angle to the left half of the base line.",
            f"O{name} reads {d} on the outer scale, so the angle to the left half of the base line is 180 - {d} = "
            f"{180 - d} degrees (the inner scale reads it directly).",
        ),
    )
    return draft_of(part, max(2, parent_level - 1))


def _exact_end(d: int) -> tuple[float, float]:
    """Where ray d meets the scale, unrounded (the numeric check measures the angle from it)."""
    return PX + PR * math.cos(math.radians(d)), PY - PR * math.sin(math.radians(d))


def _programs(old: Part, new: Part, show: str) -> tuple[str, str]:
    sym = (
        "import sympy as sp\n" + SYMPY_FIXED + SYMPY_DEGREES + RUN_PROGRAM
        + f"before = sp.Rational(last_line({embed(old.answer_code)}))\n"
        f"after = sp.Rational(last_line({embed(new.answer_code)}))\nprint({show})\n"
    )
    num = (
        RUN_PROGRAM + f"before = float(last_line({embed(old.check_code)}))\n"
        f"after = float(last_line({embed(new.check_code)}))\nprint(after - before)\n"
    )
    return sym, num


def _clock_change(rng: random.Random, scene: tuple, level: int) -> tuple:
    h, m, kind, later = scene
    while True:
        more = rng.choice(range(5, 60, 5)) if level <= 3 else rng.randint(3, 57)
        if not clock_degenerate(h, m, kind, later + more):
            new = clock_part(random.Random(0), h, m, kind, later + more)
            if new.answer != clock_part(random.Random(0), h, m, kind, later).answer:
                break
    total = (h % 12) * 60 + m + later + more
    hour, minute = (float(x) for x in _hands((total // 60) % 12 or 12, total % 60))
    draw = (
        f"# the change: the hands {more} minutes later, dashed red\n"
        f"for bearing, length, width in (({hour}, 0.5 * R, 5), ({minute}, R - 14, 3)):\n"
        "    t = np.radians(bearing)\n"
        "    ax.plot([CX, CX + length * np.sin(t)], [CY, CY - length * np.cos(t)], '--', color='red', lw=width)\n"
        f"ax.text(CX, CY + 0.42 * R, '{more} min later', color='red', fontsize=14, weight='bold', ha='center',\n"
        "        bbox=dict(facecolor='white', edgecolor='red'))\n"
    )
    change = (
        f"the clock runs on: the red dashed hands show the time {more} minutes after the time that question is about, "
        "and the same question is asked for that time"
    )
    element = NamedElement("later minute hand tip", "point", *_tip(minute, 221))
    return new, replace(new, tool=_clock_tool(hour, minute)), draw, change, element, None


def _ruler_change(rng: random.Random, scene: tuple, level: int) -> tuple:
    objs = scene[0]
    k = rng.randrange(len(objs))
    name, a, b, y, colour = objs[k]
    while True:
        cut = rng.randint(a + 15, b - 5)
        new_objs = [o if i != k else (name, a, cut, y, colour) for i, o in enumerate(objs)]
        on_grid = (cut % 10 == 0) == (level == 1)  # level 1 reads whole centimetres only
        if on_grid and (len(objs) == 1 or cut - a != new_objs[1 - k][2] - new_objs[1 - k][1]):
            break
    new = ruler_part(new_objs, level)
    xc, xb = round(R0 + PX_MM * cut, 2), round(R0 + PX_MM * b, 2)
    draw = (
        f"# the change: the {name} is cut at the red line; the hatched piece is removed\n"
        f"ax.add_patch(plt.Rectangle(({xc}, {y - 14}), {round(xb - xc, 2)}, 28, facecolor='none', hatch='xx',\n"
        "                           edgecolor='red', lw=1.5, zorder=5))\n"
        f"ax.plot([{xc}, {xc}], [{y - 22}, {y + 22}], color='red', lw=3, zorder=6)\n"
        f"ax.text({xc}, {y - 26}, 'cut', color='red', fontsize=13, weight='bold', ha='center', va='bottom')\n"
    )
    change = f"the {name} is cut at the red line and the hatched piece is removed; the same question is asked again"
    places = len(new.answer.split(".")[1]) if "." in new.answer else 0
    element = NamedElement(f"{name} cut", "point", xc, y)
    return new, new, draw, change, element, places


def _protractor_change(rng: random.Random, scene: tuple, level: int) -> tuple:
    a, b, c = scene
    step = {1: 10, 2: 5}.get(level, 1)
    while True:
        a2 = step * rng.randint(1, 170 // step)
        far = min(abs(a2 - b), abs(a2 - c), abs(b - c)) if level == 5 else abs(a2 - b)
        if a2 != a and far >= 20 and abs(a2 - a) >= 8:
            break
    new = protractor_part(random.Random(0), a2, b, c, level)
    ex, ey = _ray_end(a2, PR + 16)
    lx, ly = _ray_end(a2, PR + 36)
    draw = (
        "# the change: ray OA turned to the red dashed ray OA'\n"
        f"ax.plot([CX, {ex}], [CY, {ey}], '--', color='red', lw=2.6)\n"
        f"ax.text({lx}, {ly}, \"A'\", color='red', fontsize=16, weight='bold', ha='center', va='center')\n"
    )
    change = "ray OA is turned to the red dashed ray OA', and the same question is asked with OA' in place of OA"
    return new, new, draw, change, NamedElement("A'", "point", lx, ly), None


CHANGES = {"clock": _clock_change, "ruler": _ruler_change, "protractor": _protractor_change}


def sequential(rng: random.Random, parent_seed: int, parent_level: int) -> Draft:
    """The parent's reading, then how it changes after a change drawn in red on the instrument."""
    variant, scene, part = _replay(parent_seed, parent_level)
    parent = draft_of(part, parent_level)
    new, shown, draw, change, element, places = CHANGES[variant](rng, scene, parent_level)
    delta = Fraction(new.answer) - Fraction(parent.answer)
    answer = degrees_text(delta) if places is None else fixed(delta, places)
    show = "show(after - before)" if places is None else f"fixed(after - before, {places})"
    unit = "in degrees" if places is None else ("in mm" if "answer in mm" in parent.question else "in cm")
    question = (
        f"{parent.question} Now {change}. By how much does the answer change? Give the answer {unit} as the new "
        "answer minus the original one (negative for a decrease)."
    )
    sym, num = _programs(part, new, show)
    solution = (
        recap(parent.question, parent.answer, part.steps[2]),
        SolutionStep("code", "Mark the changed figure the same way: " + shown.steps[1][0].lower() + shown.steps[1][1:],
                     shown.tool),
        SolutionStep("think", f"After the change: {new.steps[2]} The new answer is {new.answer}."),
        SolutionStep("think", f"The change is {new.answer} - {parent.answer} = {answer}. The answer is {answer}."),
    )
    return replace(
        parent,
        difficulty=harder(parent_level),
        question=question,
        answer=answer,
        render_code=parent.render_code + draw,
        answer_code=sym,
        check_code=num,
        solution=solution,
        elements=parent.elements + (element,),
    )
