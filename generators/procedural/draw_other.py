"""Small helpers shared by the chart, probability, counting, graph and measurement families.

Exact rounding lives here because three ways of computing one answer (plain Python, sympy, numpy) must print
the same digits: families reject rounding ties (`is_tie`), so half-up, half-even and float rounding all agree.
"""

from __future__ import annotations

from fractions import Fraction

# Named fills whose names a reader can say from the picture (used by pies and spinners).
COLOURS: dict[str, str] = {
    "red": "#e8554e",
    "blue": "#4a7fd4",
    "green": "#4caf50",
    "yellow": "#f2c94c",
    "orange": "#f2994a",
    "purple": "#9b6bd3",
}


def is_tie(value: Fraction, places: int) -> bool:
    """True when `value` sits exactly halfway between two `places`-decimal numbers.

    >>> is_tie(Fraction(1, 8), 2), is_tie(Fraction(1, 3), 2)
    (True, False)
    """
    scaled = value * 10**places * 2
    return scaled.denominator == 1 and scaled.numerator % 2 == 1


def fixed(value: Fraction | int, places: int) -> str:
    """Format an exact value with exactly `places` decimals (no ties by contract).

    >>> fixed(Fraction(37, 3), 2), fixed(5, 0), fixed(Fraction(-1, 40), 1)
    ('12.33', '5', '0.0')
    """
    value = Fraction(value)
    if is_tie(value, places):
        raise ValueError(f"{value} is a rounding tie at {places} places")
    rounded = Fraction(round(value * 10**places), 10**places)
    return f"{float(rounded):.{places}f}" if places else str(rounded.numerator)


def frac_text(value: Fraction) -> str:
    """An exact fraction written the way sympy prints it ('3/8', '2')."""
    value = Fraction(value)
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


# Pasted into sympy answer code: half-up rounding of an exact Rational, printed with fixed decimals.
SYMPY_FIXED = (
    "def fixed(r, places):\n"
    "    q = sp.floor(sp.Rational(r) * 10**places + sp.Rational(1, 2))\n"
    "    return f'{float(sp.Rational(q, 10**places)):.{places}f}' if places else str(q)\n"
)
