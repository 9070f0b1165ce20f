"""Exact answer strings for the geometry families, written the way sympy prints them.

A family states its `answer` from plain-Python arithmetic (Fractions, integer square roots) while its
`answer_code` prints a sympy result; the two must match character for character, so these helpers reproduce
sympy's printing of `c*sqrt(m)`, `c*pi` and rationals. The tests execute both sides and compare the strings.
"""

from __future__ import annotations

import math
from fractions import Fraction


def frac_str(q: Fraction | int) -> str:
    """A rational as sympy prints it.

    >>> frac_str(Fraction(7, 2)), frac_str(Fraction(-4, 2))
    ('7/2', '-2')
    """
    q = Fraction(q)
    return str(q.numerator) if q.denominator == 1 else f"{q.numerator}/{q.denominator}"


def point_str(x: Fraction | int, y: Fraction | int) -> str:
    """A point as the families' answers write it: `(7/2, -1)`."""
    return f"({frac_str(x)}, {frac_str(y)})"


def split_square(n: int) -> tuple[int, int]:
    """Write n = k*k*m with m square-free; returns (k, m).

    >>> split_square(72)
    (6, 2)
    """
    k, m, f = 1, n, 2
    while f * f <= m:
        while m % (f * f) == 0:
            m //= f * f
            k *= f
        f += 1
    return k, m


def sqrt_parts(q: Fraction) -> tuple[Fraction, int]:
    """sqrt(q) = c*sqrt(m) with rational c and square-free m (m == 1 when sqrt(q) is rational)."""
    q = Fraction(q)
    if q < 0:
        raise ValueError(f"square root of a negative number {q}")
    # sqrt(p/d) = sqrt(p*d)/d, so only an integer radicand is left to simplify.
    k, m = split_square(q.numerator * q.denominator)
    return Fraction(k, q.denominator), m


def _times(c: Fraction, factors: str) -> str:
    """sympy's layout of c*factors: `3*sqrt(2)/2`, `sqrt(2)/2`, `pi/3`, `2*pi`."""
    if c < 0:
        return "-" + _times(-c, factors)
    head = factors if c.numerator == 1 else f"{c.numerator}*{factors}"
    return head if c.denominator == 1 else f"{head}/{c.denominator}"


def radical_str(c: Fraction | int, m: int) -> str:
    """c*sqrt(m) (m square-free) as sympy prints it.

    >>> radical_str(Fraction(3, 2), 2), radical_str(5, 1)
    ('3*sqrt(2)/2', '5')
    """
    c = Fraction(c)
    if m == 1 or c == 0:
        return frac_str(c)
    return _times(c, f"sqrt({m})")


def sqrt_str(q: Fraction | int) -> str:
    """sqrt(q) in simplest radical form, as sympy prints it.

    >>> sqrt_str(Fraction(65, 4)), sqrt_str(52), sqrt_str(49)
    ('sqrt(65)/2', '2*sqrt(13)', '7')
    """
    c, m = sqrt_parts(Fraction(q))
    return radical_str(c, m)


def pi_str(c: Fraction | int, m: int = 1) -> str:
    """c*sqrt(m)*pi as sympy prints it.

    >>> pi_str(Fraction(100, 3)), pi_str(1), pi_str(Fraction(16, 3), 5)
    ('100*pi/3', 'pi', '16*sqrt(5)*pi/3')
    """
    c = Fraction(c)
    return _times(c, "pi" if m == 1 else f"sqrt({m})*pi")


def decimal_str(q: Fraction | int) -> str:
    """A rational with a terminating decimal, written exactly (`37.5`, `12`)."""
    q = Fraction(q)
    if q.denominator == 1:
        return str(q.numerator)
    for places in range(1, 7):
        scaled = q * 10**places
        if scaled.denominator == 1:
            return f"{float(q):.{places}f}"
    raise ValueError(f"{q} has no short terminating decimal")


def clear_of_tie(value: float, places: int, margin: float = 1e-3) -> bool:
    """True when rounding `value` to `places` decimals cannot flip between two computations.

    Independent computations differ in the last few bits; a value sitting on a rounding boundary could print
    differently, so families redraw such parameters instead of gambling on it.
    """
    scaled = value * 10**places
    return abs(scaled - math.floor(scaled) - 0.5) > margin


def rounded(value: float, places: int) -> str:
    """`value` rounded to `places` decimals, the same formatting the answer codes print."""
    return f"{value:.{places}f}"
