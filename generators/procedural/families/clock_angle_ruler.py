"""Measurement instruments: the angle between the hands of an analogue clock, the length of objects laid
against a millimetre ruler, or an angle read on a double-scale protractor.

A procedural family (contract in generators/procedural/base.py). Stated answers come from the readings in
Fractions; answer_code recomputes them symbolically in sympy; check_code measures the drawn geometry itself
with numpy (hand vectors, pixel distances, ray directions). The tool step draws the hands' rays with the
angle, guide lines at the objects' ends, or the arc between the protractor rays.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from fractions import Fraction

from flywheel.records import NamedElement, SolutionStep
from generators.procedural.base import Draft, canvas_code, tool_canvas_code
from generators.procedural.draw_other import SYMPY_FIXED, fixed

FAMILY = "clock_angle_ruler"
DEGREES = "Give the answer in degrees, as a whole number or a decimal ending in .5."


def degrees_text(value: Fraction) -> str:
    """Clock and protractor answers are whole or half degrees: '90' or '127.5'."""
    return str(value.numerator) if value.denominator == 1 else fixed(value, 1)


SYMPY_DEGREES = "def show(a):\n    return str(a) if a.is_integer else f'{float(a):.1f}'\n"


@dataclass(frozen=True)
class Part:
    """One finished variant, ready for make()."""

    question: str
    answer: str
    answer_code: str
    check_code: str
    render_code: str
    tool: str
    steps: tuple[str, str, str]  # reading, tool caption, reasoning
    elements: tuple[NamedElement, ...]
    size: tuple[int, int]
    concepts: tuple[str, ...]
    tools: tuple[str, ...]


# ---------------------------------------------------------------- clock
CW = CH = 560
CX, CY, CR = 280, 280, 235


def _hands(h: int, m: int) -> tuple[Fraction, Fraction]:
    """Clockwise bearings from 12 of the hour and minute hands."""
    return Fraction(30 * (h % 12)) + Fraction(m, 2), Fraction(6 * m)


def _smaller(h: int, m: int) -> Fraction:
    hour, minute = _hands(h, m)
    d = abs(hour - minute) % 360
    return min(d, 360 - d)


def _tip(bearing: float, r: float) -> tuple[float, float]:
    t = math.radians(bearing)
    return round(CX + r * math.sin(t), 2), round(CY - r * math.cos(t), 2)


CLOCK_BODY = """
ax.add_patch(plt.Circle((CX, CY), R, facecolor='#fffdf5', edgecolor='black', lw=4))
for i in range(60):
    t = np.radians(6 * i)
    inner = R - (24 if i % 5 == 0 else 11)
    ax.plot([CX + inner * np.sin(t), CX + (R - 3) * np.sin(t)], [CY - inner * np.cos(t), CY - (R - 3) * np.cos(t)],
            color='black', lw=3 if i % 5 == 0 else 1.2)
for k in range(1, 13):
    t = np.radians(30 * k)
    ax.text(CX + 0.78 * R * np.sin(t), CY - 0.78 * R * np.cos(t), str(k), ha='center', va='center', fontsize=22)
for bearing, length, width in ((hour, 0.5 * R, 8), (minute, R - 14, 4)):
    t = np.radians(bearing)
    ax.plot([CX, CX + length * np.sin(t)], [CY, CY - length * np.cos(t)], color='black', lw=width,
            solid_capstyle='round')
ax.add_patch(plt.Circle((CX, CY), 9, color='black'))
"""


def _clock_time(rng: random.Random, difficulty: int) -> tuple[int, int]:
    step = {1: 30, 2: 10, 3: 5}.get(difficulty, 1)
    while True:
        h, m = rng.randint(1, 12), step * rng.randrange(60 // step)
        if _smaller(h, m) >= 12:  # hands that nearly overlap are hard to tell apart
            return h, m


def _clock_programs(h: int, m: int, later: int, kind: str) -> tuple[str, str]:
    """sympy: exact bearings from the minutes since 12; numpy: the angle between the hands' unit vectors."""
    sym = (
        f"import sympy as sp\n{SYMPY_DEGREES}total = {h % 12} * 60 + {m} + {later}\n"
        "hour = sp.Rational(total % 720, 2)\nminute = 6 * (total % 60)\n"
        "d = sp.Mod(hour - minute, 360)\nsmall = sp.Min(d, 360 - d)\n"
        f"print(show({'360 - small' if kind == 'reflex' else 'small'}))\n"
    )
    num = (
        f"import numpy as np\nt = ({h % 12} * 60 + {m} + {later}) % 720\n"
        "hb, mb = np.radians(t / 2), np.radians(6 * (t % 60))\n"
        "u, v = np.array([np.sin(hb), np.cos(hb)]), np.array([np.sin(mb), np.cos(mb)])\n"
        "a = np.degrees(np.arccos(np.clip(u @ v, -1, 1)))\n"
        f"print(float({'360 - a' if kind == 'reflex' else 'a'}))\n"
    )
    return sym, num


def _clock_tool(hour: float, minute: float) -> str:
    """Extend both hands (and the 12 o'clock ray) to the rim and arc the angle between the hands."""
    return tool_canvas_code(CW, CH) + (
        f"CX, CY, R = {CX}, {CY}, {CR}\nhour, minute = {hour}, {minute}\n"
        "for b, c in ((hour, 'red'), (minute, 'blue'), (0, 'gray')):\n"
        "    t = np.radians(b)\n"
        "    ax.plot([CX, CX + R * np.sin(t)], [CY, CY - R * np.cos(t)], '--', color=c, lw=2.5)\n"
        "lo, hi = sorted((hour, minute))\n"
        "if hi - lo > 180:\n"
        "    lo, hi = hi, lo + 360\n"
        "t = np.radians(np.linspace(lo, hi, 80))\n"
        "ax.plot(CX + 60 * np.sin(t), CY - 60 * np.cos(t), color='darkorange', lw=4)\n"
        "ax.text(CX + 10, CY + 40, f'hour hand {hour:g}°, minute hand {minute:g}° (from 12)', color='darkred',\n"
        "        fontsize=12, ha='center', bbox=dict(facecolor='white', edgecolor='darkred'))\n"
    )


def clock_scene(rng: random.Random, difficulty: int) -> tuple[int, int, str, int]:
    """Time shown (h, m), question kind and minutes later: what the clock variant draws before its wording."""
    h, m = _clock_time(rng, difficulty)
    kind = rng.choice({4: ("smaller", "reflex"), 5: ("later", "reflex")}.get(difficulty, ("smaller",)))
    later = rng.choice(range(10, 55, 5)) if kind == "later" else 0
    if clock_degenerate(h, m, kind, later):
        return clock_scene(rng, difficulty)
    return h, m, kind, later


def clock_degenerate(h: int, m: int, kind: str, later: int) -> bool:
    """A reflex 180 or a zero angle later on would be degenerate."""
    total = (h % 12) * 60 + m + later
    return kind != "smaller" and _smaller((total // 60) % 12 or 12, total % 60) in (0, 180)


def _clock(rng: random.Random, difficulty: int) -> Part:
    return clock_part(rng, *clock_scene(rng, difficulty))


def clock_part(rng: random.Random, h: int, m: int, kind: str, later: int) -> Part:
    """The clock problem for one scene (the wording is drawn from rng)."""
    total = (h % 12) * 60 + m + later
    h2, m2 = (total // 60) % 12 or 12, total % 60
    small = _smaller(h2, m2)
    ans = 360 - small if kind == "reflex" else small
    q = {
        "smaller": rng.choice(
            (
                "What is the size of the smaller angle between the hour hand and the minute hand? ",
                "Find the angle between the two hands of the clock (the one that is at most 180 degrees). ",
            )
        ),
        "reflex": "What is the size of the reflex angle between the hour hand and the minute hand? ",
        "later": f"What will the smaller angle between the hands be {later} minutes after the time shown? ",
    }[kind]
    hour, minute = _hands(h, m)
    sym, num = _clock_programs(h, m, later, kind)
    render = (
        canvas_code(CW, CH)
        + f"CX, CY, R = {CX}, {CY}, {CR}\nhour, minute = {float(hour)}, {float(minute)}\n"
        + CLOCK_BODY
    )
    why = (
        f"At {h}:{m:02d} the hour hand is at 30 x {h % 12} + {m}/2 = {degrees_text(hour)} degrees and the minute hand "
    )
    why += f"at 6 x {m} = {degrees_text(minute)} degrees from 12."
    if later:
        why += f" {later} minutes later it is {h2}:{m2:02d}, with a smaller angle of {degrees_text(small)} degrees."
    elif kind == "reflex":
        why += f" The smaller angle is {degrees_text(small)}, so the reflex angle is 360 - {degrees_text(small)}."
    elements = (
        NamedElement("centre", "center", CX, CY),
        NamedElement("hour hand tip", "point", *_tip(float(hour), 0.5 * CR)),
        NamedElement("minute hand tip", "point", *_tip(float(minute), CR - 14)),
    ) + tuple(NamedElement(str(k), "label", *_tip(30 * k, 0.78 * CR)) for k in (12, 3, 6, 9))
    return Part(
        "The analogue clock shows a time. " + q + DEGREES,
        degrees_text(ans),
        sym,
        num,
        render,
        _clock_tool(float(hour), float(minute)),
        (f"The clock reads {h}:{m:02d}.", "Extend both hands to rays and mark the angle between them.", why),
        elements,
        (CW, CH),
        ("measurement.clock_angle", "measurement.clock_reading")
        + (("measurement.elapsed_time",) if later else ("measurement.angle_types",) if kind == "reflex" else ()),
        ("tool.auxiliary_line", "tool.angle_mark"),
    )


# ---------------------------------------------------------------- ruler
RW, RH = 760, 420
R0, PX_MM, RULER_TOP = 40, 5.2, 280  # x of the 0 mark, pixels per millimetre, top edge of the ruler
RULER_CM = 13

RULER_BODY = """
ax.add_patch(plt.Rectangle((X0 - 20, TOP), PX * 10 * CM + 40, 78, facecolor='#f7e7a6', edgecolor='black', lw=1.5))
for i in range(10 * CM + 1):
    x = X0 + PX * i
    size = 26 if i % 10 == 0 else (17 if i % 5 == 0 else 10)
    ax.plot([x, x], [TOP, TOP + size], color='black', lw=1.3 if i % 10 == 0 else 0.9)
    if i % 10 == 0:
        ax.text(x, TOP + 42, str(i // 10), ha='center', va='center', fontsize=13)
ax.text(X0 + PX * 10 * CM, TOP + 64, 'cm', ha='right', va='center', fontsize=12)
for name, a, b, y, colour in objects:
    xa, xb = X0 + PX * a, X0 + PX * b
    tip = min(30, (xb - xa) / 4)
    ax.fill([xa, xb - tip, xb, xb - tip, xa], [y - 12, y - 12, y, y + 12, y + 12], facecolor=colour,
            edgecolor='black', lw=1.5)
    ax.text((xa + xb - tip) / 2, y, name, ha='center', va='center', fontsize=13, weight='bold')
    for x in (xa, xb):
        ax.plot([x, x], [y + 14 if x == xa else y + 2, TOP], ':', color='0.35', lw=1.2)
"""


def _span(rng: random.Random, difficulty: int, cm: int) -> tuple[int, int]:
    """Millimetre readings of an object's two ends: from 0 to a whole cm at level 1, then off-zero and
    ending between centimetre marks."""
    if difficulty == 1:
        return 0, 10 * rng.randint(4, 9)
    while True:
        a = 10 * rng.randint(1, 4) if difficulty == 2 else rng.randint(5, 45)
        b = a + rng.randint(35, 10 * cm - a - 3)
        if b % 10:
            return a, b


def _ruler_ask(objs: list[tuple], difficulty: int) -> tuple:
    """Question, exact answer, unit, sympy and numpy expressions, and reasoning for one or two objects."""
    (n1, a1, b1, _, _) = objs[0]
    len1 = b1 - a1
    if len(objs) == 1:
        unit = "cm" if difficulty in (1, 3) else "mm"
        q = f"What is the length of the {n1}? " if a1 % 20 else f"How long is the {n1}, measured from end to end? "
        ans = Fraction(len1, 10) if unit == "cm" else Fraction(len1)
        sym_expr = f"sp.Rational({b1} - {a1}, {10 if unit == 'cm' else 1})"
        num_expr = "lengths[0] / 10" if unit == "cm" else "lengths[0]"
        why = f"The {n1} runs from {fixed(Fraction(a1, 10), 1)} cm to {fixed(Fraction(b1, 10), 1)} cm: {len1} mm."
    else:
        (n2, a2, b2, _, _) = objs[1]
        len2 = b2 - a2
        longer, shorter = (n1, n2) if len1 > len2 else (n2, n1)
        unit = "mm" if difficulty == 4 else "cm"
        if difficulty == 4:
            q = f"How much longer is the {longer} than the {shorter}? "
            ans = Fraction(abs(len1 - len2))
            sym_expr, num_expr = f"sp.Abs(sp.Integer({b1} - {a1}) - ({b2} - {a2}))", "abs(lengths[0] - lengths[1])"
        else:
            q = f"The {n1} and the {n2} are laid end to end. What is their total length? "
            ans = Fraction(len1 + len2, 10)
            sym_expr, num_expr = f"sp.Rational({b1} - {a1} + {b2} - {a2}, 10)", "(lengths[0] + lengths[1]) / 10"
        why = f"The {n1} measures {len1} mm and the {n2} {len2} mm."
    return q, ans, unit, sym_expr, num_expr, why


def _ruler_tool(objs: list[tuple], px_ends: list[tuple[float, float]]) -> str:
    """Red lines from each object's ends down onto the scale, each with its reading."""
    readings = [(fixed(Fraction(a, 10), 1), fixed(Fraction(b, 10), 1)) for _, a, b, _, _ in objs]
    return tool_canvas_code(RW, RH) + (
        f"ends = {px_ends!r}\nreadings = {readings!r}\n"
        f"rows = {[y for *_, y, _ in objs]!r}\n"
        "for (xa, xb), (ra, rb), y in zip(ends, readings, rows):\n"
        "    for x, r in ((xa, ra), (xb, rb)):\n"
        f"        ax.plot([x, x], [y - 20, {RULER_TOP + 30}], color='red', lw=2)\n"
        "        ax.text(x, y - 24, r + ' cm', color='red', fontsize=12, ha='center', va='bottom',\n"
        "                bbox=dict(facecolor='white', edgecolor='red', pad=1.5))\n"
    )


def ruler_scene(rng: random.Random, difficulty: int) -> list[tuple]:
    """The objects (name, start mm, end mm, row y, colour) laid along the ruler."""
    n_obj = 2 if difficulty >= 4 else 1
    objs = []
    for k, (name, colour) in enumerate((("pencil", "#8ecae6"), ("nail", "#cfcfcf"))[:n_obj]):
        a, b = _span(rng, difficulty, RULER_CM)
        objs.append((name, a, b, 224 - 64 * k if n_obj == 2 else 210, colour))
    if n_obj == 2 and objs[0][2] - objs[0][1] == objs[1][2] - objs[1][1]:
        return ruler_scene(rng, difficulty)
    return objs


def _ruler(rng: random.Random, difficulty: int) -> Part:
    """Objects lie along the ruler with dotted guides from their ends; read their lengths."""
    return ruler_part(ruler_scene(rng, difficulty), difficulty)


def ruler_part(objs: list[tuple], difficulty: int) -> Part:
    """The ruler problem for one set of objects."""
    cm = RULER_CM
    q, ans, unit, sym_expr, num_expr, why = _ruler_ask(objs, difficulty)
    fmt = "a whole number" if unit == "mm" or difficulty == 1 else "a decimal with 1 decimal place"
    places = 1 if unit == "cm" and difficulty > 1 else 0
    answer = fixed(ans, places)
    px_ends = [(round(R0 + PX_MM * a, 2), round(R0 + PX_MM * b, 2)) for _, a, b, _, _ in objs]
    num = (
        f"import numpy as np\nends = np.array({px_ends!r})\nlengths = (ends[:, 1] - ends[:, 0]) / {PX_MM}\n"
        f"print(round(float({num_expr}), {places}))\n"
    )
    sym = "import sympy as sp\n" + SYMPY_FIXED + f"print(fixed({sym_expr}, {places}))\n"
    render = canvas_code(RW, RH) + (
        f"X0, PX, TOP, CM = {R0}, {PX_MM}, {RULER_TOP}, {cm}\n"
        f"objects = {[(n, a, b, y, c) for n, a, b, y, c in objs]!r}\n" + RULER_BODY
    )
    elements = []
    for name, a, b, y, _ in objs:
        elements += [
            NamedElement(f"{name} left end", "point", round(R0 + PX_MM * a, 2), y),
            NamedElement(f"{name} right end", "point", round(R0 + PX_MM * b, 2), y),
        ]
    return Part(
        f"The figure shows a ruler marked in centimetres and millimetres. {q}Give the answer in {unit} as {fmt}.",
        answer,
        sym,
        num,
        render,
        _ruler_tool(objs, px_ends),
        (
            "Each small mark on the ruler is 1 mm and each numbered mark is 1 cm.",
            "Drop lines from the ends of each object onto the scale and read them.",
            why,
        ),
        tuple(elements),
        (RW, RH),
        ("measurement.ruler_reading", "measurement.length_units")
        + (("measurement.unit_conversion",) if unit == "cm" and difficulty > 1 else ()),
        ("tool.measure_length", "tool.auxiliary_line"),
    )


# ---------------------------------------------------------------- protractor
PW, PH = 660, 440
PX, PY, PR = 330, 380, 270

PROTRACTOR_BODY = """
t = np.radians(np.linspace(0, 180, 181))
ax.fill(np.r_[CX + R * np.cos(t)], np.r_[CY - R * np.sin(t)], facecolor='#e8f1fb', edgecolor='black', lw=1.8)
ax.plot([CX - R, CX + R], [CY, CY], color='black', lw=1.8)
for d in range(181):
    c, s = np.cos(np.radians(d)), np.sin(np.radians(d))
    size = 22 if d % 10 == 0 else (14 if d % 5 == 0 else 8)
    ax.plot([CX + (R - size) * c, CX + R * c], [CY - (R - size) * s, CY - R * s], color='black',
            lw=1.2 if d % 10 == 0 else 0.7)
    if d % 10 == 0:
        ax.text(CX + (R - 36) * c, CY - (R - 36) * s, str(d), ha='center', va='center', fontsize=11,
                rotation=d - 90)
        ax.text(CX + (R - 62) * c, CY - (R - 62) * s, str(180 - d), ha='center', va='center', fontsize=11,
                color='#a33', rotation=d - 90)
for name, d in rays:
    c, s = np.cos(np.radians(d)), np.sin(np.radians(d))
    ax.plot([CX, CX + (R + 16) * c], [CY, CY - (R + 16) * s], color='#1f3f9f', lw=2.4)
    ax.text(CX + (R + 34) * c, CY - (R + 34) * s, name, ha='center', va='center', fontsize=16, weight='bold')
ax.plot(CX, CY, 'ko', ms=6)
ax.text(CX, CY + 24, 'O', ha='center', va='center', fontsize=16, weight='bold')
"""


def _ray_end(d: float, r: float) -> tuple[float, float]:
    return round(PX + r * math.cos(math.radians(d)), 2), round(PY - r * math.sin(math.radians(d)), 2)


def _protractor_tool(rays: list[tuple[str, int]], lo: int, hi: int) -> str:
    """Arc angle AOB, ring where each ray meets the scale and write its reading."""
    return tool_canvas_code(PW, PH) + (
        f"CX, CY, R = {PX}, {PY}, {PR}\nrays = {rays!r}\n"
        f"t = np.radians(np.linspace({lo}, {hi}, 80))\n"
        "ax.plot(CX + 70 * np.cos(t), CY - 70 * np.sin(t), color='darkorange', lw=4)\n"
        "for name, d in rays:\n"
        "    c, s = np.cos(np.radians(d)), np.sin(np.radians(d))\n"
        "    ax.plot(CX + R * c, CY - R * s, 'o', ms=12, mfc='none', mec='red', mew=2.5)\n"
        "    ax.text(CX + 150 * c, CY - 150 * s, f'{name}: {d}', color='red', fontsize=12, ha='center',\n"
        "            bbox=dict(facecolor='white', edgecolor='red'))\n"
        "if len(rays) == 3:  # the bisector OD of angle AOB\n"
        f"    m = np.radians({(lo + hi) / 2})\n"
        "    ax.plot([CX, CX + R * np.cos(m)], [CY, CY - R * np.sin(m)], '--', color='green', lw=2.5)\n"
        "    ax.text(CX + (R + 22) * np.cos(m), CY - (R + 22) * np.sin(m), 'D', color='green', fontsize=15,\n"
        "            weight='bold', ha='center', va='center')\n"
    )


def protractor_scene(rng: random.Random, difficulty: int) -> tuple[int, int, int]:
    """Readings of rays OA, OB and (level 5) OC on the outer scale."""
    step = {1: 10, 2: 5}.get(difficulty, 1)
    while True:
        a = step * rng.randint(1, 170 // step)
        b = 0 if difficulty == 1 else (rng.choice((0, 180)) if difficulty == 2 else rng.randint(3, 177))
        c = rng.randint(3, 177)
        far = min(abs(a - b), abs(a - c), abs(b - c)) if difficulty == 5 else abs(a - b)
        if far >= 20:
            return a, b, c


def _protractor(rng: random.Random, difficulty: int) -> Part:
    """Rays from the centre O cross the scale; read angle AOB (or, at level 5, an angle to a bisector)."""
    return protractor_part(rng, *protractor_scene(rng, difficulty), difficulty)


def protractor_part(rng: random.Random, a: int, b: int, c: int, difficulty: int) -> Part:
    """The protractor problem for one set of rays (the wording is drawn from rng)."""
    rays = [("A", a), ("B", b)] + ([("C", c)] if difficulty == 5 else [])
    if difficulty == 5:
        ans = abs(Fraction(a + b, 2) - c)
        q = "Ray OD (not drawn) bisects angle AOB. What is the size of angle DOC? "
        sym_expr = f"sp.Abs((sp.Integer({a}) + {b}) / 2 - {c})"
        num_expr = "abs(np.degrees(np.arctan2(*(u[0] + u[1])[::-1])) - deg[2])"
        why = f"OA reads {a} and OB reads {b} on the outer scale, so OD is at {degrees_text(Fraction(a + b, 2))}; "
        why += f"OC reads {c}, so angle DOC = {degrees_text(ans)} degrees."
    else:
        ans = Fraction(abs(a - b))
        q = rng.choice(
            (
                "What is the size of angle AOB? ",
                "Use the protractor to find angle AOB. ",
                "How many degrees are there between rays OA and OB? ",
            )
        )
        sym_expr = f"sp.Abs(sp.Integer({a}) - {b})"
        num_expr = "np.degrees(np.arccos(np.clip(u[0] @ u[1], -1, 1)))"
        why = f"On the outer scale OA reads {a} and OB reads {b}, so angle AOB = |{a} - {b}| = {abs(a - b)} degrees."
    ends = [(PX + PR * math.cos(math.radians(d)), PY - PR * math.sin(math.radians(d))) for _, d in rays]
    num = (
        f"import numpy as np\nO = np.array([{PX}, {PY}])\nends = np.array({ends!r})\n"
        "vec = (ends - O) * np.array([1, -1])\nu = vec / np.linalg.norm(vec, axis=1)[:, None]\n"
        "deg = np.degrees(np.arctan2(vec[:, 1], vec[:, 0]))\n"
        f"print(float({num_expr}))\n"
    )
    sym = f"import sympy as sp\n{SYMPY_DEGREES}print(show({sym_expr}))\n"
    render = canvas_code(PW, PH) + f"CX, CY, R = {PX}, {PY}, {PR}\nrays = {rays!r}\n" + PROTRACTOR_BODY
    elements = (NamedElement("O", "vertex", PX, PY),) + tuple(
        NamedElement(name, "point", *_ray_end(d, PR + 34)) for name, d in rays
    )
    return Part(
        "The figure shows a protractor with its centre at O and rays drawn from O. " + q + DEGREES,
        degrees_text(ans),
        sym,
        num,
        render,
        _protractor_tool(rays, *sorted((a, b))),
        (
            "The outer (black) scale runs 0 to 180 anticlockwise from the right; the inner (red) scale runs the other "
            "way. Read every ray on the same scale.",
            "Mark where each ray crosses the scale and arc the angle.",
            why,
        ),
        elements,
        (PW, PH),
        ("measurement.protractor_angle", "measurement.angle_measure")
        + (("plane_geometry.angle_bisector",) if difficulty == 5 else ()),
        ("tool.angle_mark", "tool.measure_angle"),
    )


VARIANTS = {"clock": _clock, "ruler": _ruler, "protractor": _protractor}


def make(rng: random.Random, difficulty: int) -> Draft:
    """A clock, a ruler or a protractor, chosen at random at every level."""
    return draft_of(VARIANTS[rng.choice(sorted(VARIANTS))](rng, difficulty), difficulty)


def draft_of(part: Part, difficulty: int) -> Draft:
    """The problem for one finished variant (shared by make and the extensions)."""
    read, caption, why = part.steps
    solution = (
        SolutionStep("think", read),
        SolutionStep("code", caption, part.tool),
        SolutionStep("think", why),
        SolutionStep("think", f"The answer is {part.answer}."),
    )
    return Draft(
        family=FAMILY,
        concepts=part.concepts,
        domain="measurement",
        difficulty=difficulty,
        question=part.question,
        answer=part.answer,
        answer_kind="number",
        render_code=part.render_code,
        answer_code=part.answer_code,
        check_code=part.check_code,
        solution=solution,
        elements=part.elements,
        tools=part.tools,
        width=part.size[0],
        height=part.size[1],
    )
