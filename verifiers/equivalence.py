"""Decide whether a model's answer equals the reference: numbers, expressions, choices, points, text.

Used by the executed-answer and cross-model checks and by the answer reward. Reading text is
`verifiers/parse_answer.py` (a restricted parser, never eval); here values are compared: complex floats within
a relative+absolute tolerance first, then an exact sympy check under a size budget, and for expressions in
variables random numeric sampling. No signals or threads, so it is safe inside Ray actor threads; a failure to
read an answer is `Match(False, "unparseable: ...")`, never an exception. Test: `pytest tests/test_equivalence.py`.

Rules worth knowing:
- "%" is a unit by default ("25%" == "25" != "0.25"); kind="percent" also lets "25%" equal "0.25".
- `decimals=n` widens the tolerance to half a unit in the n-th decimal place ("0.333" == "1/3" at n=3).
- Points keep their order; a set written with braces, "{1, 2}", is unordered.
- `log` is the natural log, `e` is Euler's number; variables are sampled in [0.5, 3], so sqrt(x^2) == x.
- In auto mode a run of letters that reads as a word ("yes", "ABC", also "xy") makes the answer text.
"""

from __future__ import annotations

import cmath
import math
import random
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import sympy

from verifiers.parse_answer import (
    MAX_CHARS,
    Node,
    ParseError,
    choice_letter,
    free_symbols,
    is_wordy,
    matching,
    normalise_text,
    parse_math,
    parse_tuple,
    strip_number_decorations,
    to_plain,
)

KINDS = ("auto", "number", "percent", "expression", "choice", "point", "text")
SYMBOLIC_BUDGET = 400  # upper bound on terms after expansion; above it only numeric sampling runs
MAX_SYMBOLIC_EXPONENT = 200
MAX_INT_BITS = 10_000  # exact integers sympy may build (2^10000 is fine, 9^9^9 is not)
SAMPLES = 8


@dataclass(frozen=True)
class Match:
    """The outcome of one comparison; the values are normalised forms for logs and reports."""

    equal: bool
    reason: str
    expected_value: str = ""
    got_value: str = ""


@dataclass(frozen=True)
class _Tol:
    rel: float
    abs: float
    decimals: int | None

    def close(self, a: complex, b: complex) -> bool:
        bound = max(self.rel * max(abs(a), abs(b)), self.abs)
        if self.decimals is not None:  # the rounded side may be off by half a unit of its last digit
            bound = max(bound, 0.5 * 10.0 ** (-self.decimals) * (1 + 1e-9))
        return abs(a - b) <= bound


class _EvalError(ValueError):
    pass


class _TooBig(ValueError):
    pass


# ---------------------------------------------------------------- final-answer extraction
_PHRASES = (  # prefixes only: the answer runs to the end of its line, and a later phrase may share the line
    re.compile(r"final\s+answer\s*(?:is)?\s*\**\s*[:：]?\s*\**", re.I),
    re.compile(r"the\s+(?:correct\s+|final\s+)?answer\s+is\s*[:：]?\s*", re.I),
    re.compile(r"^[\s*#]*answer\s*\**\s*[:：]\s*\**", re.I | re.M),
)
_TAIL_CHARS = 100_000  # final answers sit at the end; bounds the work on very long outputs


def _last_tag(text: str) -> list[tuple[int, str]]:
    lower = text.lower()  # rfind, not a lazy regex: many unclosed tags would make a regex quadratic
    close = lower.rfind("</answer>")
    start = lower.rfind("<answer>", 0, max(close, 0))
    return [(start, text[start + 8 : close])] if close >= 0 and start >= 0 else []


def _last_boxed(text: str) -> list[tuple[int, str]]:
    for m in list(re.finditer(r"\\(?:boxed|fbox)\s*\{", text))[-20:][::-1]:
        end = matching(text[: m.end() + MAX_CHARS], m.end() - 1)
        if end > 0:
            return [(m.start(), text[m.end() : end])]
    return []


def _clean_final(s: str) -> str:
    s = s.strip().strip("*").strip()
    sentence_end = re.search(r"\.\s", s)  # "12. Because ..." -> "12"; a decimal point has no space after it
    if sentence_end:
        s = s[: sentence_end.start()]
    return s.rstrip(".").strip().strip("*$").strip()


def extract_final_answer(text: str) -> str | None:
    """The model's final answer: the last `<answer>`, `\\boxed{}`, "Final answer:" or "The answer is".

    The candidate that starts last wins, so `<answer>The answer is \\boxed{5}</answer>` gives "5".
    >>> extract_final_answer("so x = 2. The answer is \\\\boxed{\\\\frac{1}{2}}.")
    '\\\\frac{1}{2}'
    """
    text = (text or "")[-_TAIL_CHARS:]
    cands = _last_tag(text) + _last_boxed(text)
    for pattern in _PHRASES:
        last = next(iter(deque(pattern.finditer(text), maxlen=1)), None)
        if last is not None:
            line_end = text.find("\n", last.end())
            cands.append((last.start(), text[last.end() : line_end if line_end >= 0 else len(text)]))
    best = None
    for pos, content in cands:
        cleaned = _clean_final(content)
        if cleaned and (best is None or pos >= best[0]):
            best = (pos, cleaned)
    return best[1] if best else None


# ---------------------------------------------------------------- numeric evaluation (complex floats)
def _root(x: complex, n: complex) -> complex:
    if x.imag == 0 and x.real < 0 and n.imag == 0 and n.real % 2 == 1:  # real odd root: cbrt(-8) = -2
        return -((-x.real) ** (1 / n.real))
    return _pow(x, 1 / n)


_FUNCS: dict[str, Callable[..., complex]] = {
    "sqrt": cmath.sqrt, "cbrt": lambda x: _root(x, 3), "root": _root, "sin": cmath.sin, "cos": cmath.cos,
    "tan": cmath.tan, "cot": lambda x: 1 / cmath.tan(x), "sec": lambda x: 1 / cmath.cos(x),
    "csc": lambda x: 1 / cmath.sin(x), "asin": cmath.asin, "acos": cmath.acos, "atan": cmath.atan,
    "arcsin": cmath.asin, "arccos": cmath.acos, "arctan": cmath.atan, "sinh": cmath.sinh, "cosh": cmath.cosh,
    "tanh": cmath.tanh, "exp": cmath.exp, "ln": cmath.log, "abs": lambda x: complex(abs(x)),
    "log": lambda x, b=None: cmath.log(x) if b is None else cmath.log(x) / cmath.log(b),
}  # fmt: skip


def _pow(a: complex, b: complex) -> complex:
    if a.imag == 0 and b.imag == 0 and (a.real > 0 or float(b.real).is_integer()):
        return complex(a.real**b.real)  # stay real for (-2)^3; float overflow raises OverflowError
    if a == 0:
        if b.real > 0:
            return 0j
        raise ZeroDivisionError("0 to a non-positive power")
    return a**b


def _evaluate(node: Node, env: dict[str, complex]) -> complex:
    op = node[0]
    if op == "num":
        return complex(float(node[1]))
    if op == "sym":
        return env[node[1]]
    if op == "const":
        return complex(math.pi if node[1] == "pi" else math.e)
    if op == "neg":
        return -_evaluate(node[1], env)
    if op == "fn":
        return complex(_FUNCS[node[1]](*(_evaluate(arg, env) for arg in node[2])))
    a, b = _evaluate(node[1], env), _evaluate(node[2], env)
    if op == "^":
        return _pow(a, b)
    return {"+": a + b, "-": a - b, "*": a * b}[op] if op != "/" else a / b


def _value(node: Node, env: dict[str, complex] | None = None) -> complex:
    """Numeric value as a finite complex number, or _EvalError (overflow, division by zero, domain)."""
    try:
        value = _evaluate(node, env or {})
    except (ArithmeticError, ValueError, KeyError, TypeError) as err:
        raise _EvalError(type(err).__name__) from err
    if not cmath.isfinite(value):
        raise _EvalError("not finite")
    return value


def _fmt(z: complex) -> str:
    if abs(z.imag) <= 1e-12 * max(1.0, abs(z.real)):
        return f"{z.real + 0.0:.10g}"  # + 0.0 turns -0 into 0
    return f"{z.real:.6g}{z.imag:+.6g}i"


def show(node: Node) -> str:
    """A fully parenthesised plain form of a parsed answer, for Match values."""
    op = node[0]
    if op == "num":
        return str(node[1])
    if op in ("sym", "const"):
        return node[1]
    if op == "neg":
        return f"-{show(node[1])}"
    if op == "fn":
        return f"{node[1]}({', '.join(show(arg) for arg in node[2])})"
    return f"({show(node[1])} {'^' if op == '^' else op} {show(node[2])})"


# ---------------------------------------------------------------- exact check with sympy, size-bounded
def _expansion_size(node: Node) -> int:
    """Upper bound on the number of terms `expand` can produce, capped just above the budget."""
    cap, op = SYMBOLIC_BUDGET + 1, node[0]
    if op in ("num", "sym", "const"):
        return 1
    if op == "neg":
        return _expansion_size(node[1])
    if op == "fn":
        return min(cap, 1 + sum(_expansion_size(arg) for arg in node[2]))
    a, b = _expansion_size(node[1]), _expansion_size(node[2])
    if op in "+-":
        return min(cap, a + b)
    if op in "*/":
        return min(cap, a * b)
    exponent = node[2][1] if node[2][0] == "neg" else node[2]
    if _rational(node[1]) and _rational(node[2]):
        return 1  # sympy evaluates it to one number; _sympy_pow bounds its digits
    if exponent[0] == "num" and exponent[1].denominator == 1:
        n = abs(exponent[1].numerator)
        return cap if n > MAX_SYMBOLIC_EXPONENT else min(cap, a ** min(n, 16))
    return min(cap, a + b)


def _rational(node: Node) -> bool:
    return node[0] == "num" or (node[0] in ("neg", "+", "-", "*", "/", "^") and all(map(_rational, node[1:])))


_SYMPY_FUNCS: dict[str, Callable[..., sympy.Expr]] = {
    "sqrt": sympy.sqrt, "sin": sympy.sin, "cos": sympy.cos, "tan": sympy.tan, "cot": sympy.cot,
    "sec": sympy.sec, "csc": sympy.csc, "asin": sympy.asin, "acos": sympy.acos, "atan": sympy.atan,
    "arcsin": sympy.asin, "arccos": sympy.acos, "arctan": sympy.atan, "sinh": sympy.sinh, "cosh": sympy.cosh,
    "tanh": sympy.tanh, "exp": sympy.exp, "ln": sympy.log, "log": sympy.log, "abs": sympy.Abs,
    "cbrt": lambda x: sympy.real_root(x, 3) if x.is_number and x.is_negative else sympy.root(x, 3),
    "root": lambda x, n: sympy.real_root(x, n) if x.is_number and x.is_negative else sympy.root(x, n),
}  # fmt: skip


def _sympy_pow(base: sympy.Expr, exp: sympy.Expr) -> sympy.Expr:
    if base.is_Rational and exp.is_Number:  # sympy evaluates these at once: bound the digits first
        bits = max(abs(base.p).bit_length(), base.q.bit_length())
        if bits * abs(float(exp)) > MAX_INT_BITS:
            raise _TooBig("power too large")
    elif exp.is_Number and abs(exp) > 1000:
        raise _TooBig("exponent above 1000")
    return base**exp


def _to_sympy(node: Node) -> sympy.Expr:
    op = node[0]
    if op == "num":
        value: Fraction = node[1]
        if max(value.numerator.bit_length(), value.denominator.bit_length()) > MAX_INT_BITS:
            raise _TooBig("number too large")
        return sympy.Rational(value.numerator, value.denominator)
    if op == "sym":
        return sympy.Symbol(node[1], positive=True)  # matches the positive sampling domain
    if op == "const":
        return sympy.pi if node[1] == "pi" else sympy.E
    if op == "neg":
        return -_to_sympy(node[1])
    if op == "fn":
        return _SYMPY_FUNCS[node[1]](*(_to_sympy(arg) for arg in node[2]))
    a, b = _to_sympy(node[1]), _to_sympy(node[2])
    if op == "^":
        return _sympy_pow(a, b)
    return {"+": a + b, "-": a - b, "*": a * b}[op] if op != "/" else a / b


def _symbolic_equal(a: Node, b: Node) -> bool:
    """True only when sympy proves a - b == 0 within the size budget; False means "not proven"."""
    if _expansion_size(("-", a, b)) > SYMBOLIC_BUDGET:
        return False
    try:
        diff = _to_sympy(a) - _to_sympy(b)
        if diff == 0 or sympy.expand(diff) == 0:
            return True
        return not diff.is_number and sympy.cancel(diff) == 0
    except Exception:  # noqa: BLE001 - sympy raises many types; this step only ever proves equality
        return False


# ---------------------------------------------------------------- comparing parsed values
def _sample(a: Node, b: Node, names: list[str], tol: _Tol) -> tuple[bool | None, str]:
    """Compare at random points; None when too few points evaluate on both sides."""
    rng, valid = random.Random(20251106), 0
    for _ in range(SAMPLES):
        env = {name: complex(rng.uniform(0.5, 3.0)) for name in names}
        try:
            va, vb = _value(a, env), _value(b, env)
        except _EvalError:
            continue
        valid += 1
        if not tol.close(va, vb):
            where = ", ".join(f"{n}={v.real:.4g}" for n, v in env.items())
            return False, f"differ at {where}: {_fmt(va)} vs {_fmt(vb)}"
    if valid < 3:
        return None, f"unparseable: only {valid} of {SAMPLES} sample points evaluate"
    return True, f"agree at {valid} random points"


def compare_nodes(a: Node, b: Node, tol: _Tol) -> tuple[bool, str]:
    """(equal, reason) for two parsed values: tolerance first, then exact sympy, then sampling."""
    names = sorted(free_symbols(a) | free_symbols(b))
    if names:
        if _symbolic_equal(a, b):
            return True, "symbolically equal"
        ok, why = _sample(a, b, names, tol)
        return bool(ok), why
    try:
        va, vb = _value(a), _value(b)
    except _EvalError as err:
        va = vb = None
        failure = f"unparseable: cannot evaluate ({err})"
    if va is not None and tol.close(va, vb):
        return True, "equal" if va == vb else f"within tolerance (|diff| = {abs(va - vb):.3g})"
    if _symbolic_equal(a, b):
        return True, "exactly equal (symbolic)"
    return False, failure if va is None else f"values differ: {_fmt(va)} vs {_fmt(vb)}"


def _display(node: Node) -> str:
    try:
        return _fmt(_value(node)) if not free_symbols(node) else show(node)
    except _EvalError:
        return show(node)[:200]


def _compare_number(expected: str, got: str, tol: _Tol, percent: bool) -> Match:
    e, e_pct = parse_math(expected, number=True)
    g, g_pct = parse_math(got, number=True)
    shown = (_display(e), _display(g))
    if free_symbols(e) or free_symbols(g):
        return Match(False, "not a number: has variables", *shown)
    ok, why = compare_nodes(e, g, tol)
    if not ok and percent and e_pct != g_pct:  # "25%" vs "0.25": read the % side as a fraction of 100
        hundred = ("num", Fraction(100))
        scaled = (("/", e, hundred), g) if e_pct else (e, ("/", g, hundred))
        ok, why2 = compare_nodes(*scaled, tol)
        why = f"as a percentage: {why2}" if ok else why
    return Match(ok, why, *shown)


def _compare_expression(expected: str, got: str, tol: _Tol) -> Match:
    e, _ = parse_math(expected, number=False)
    g, _ = parse_math(got, number=False)
    ok, why = compare_nodes(e, g, tol)
    return Match(ok, why, show(e), show(g))


def _letter_of(text: str, choices: dict[str, str] | None) -> str | None:
    letter = choice_letter(text)
    if letter is not None or not choices:
        return letter
    hits = [k.upper() for k, option in choices.items() if equivalent(option, text, "auto").equal]
    return hits[0] if len(hits) == 1 else None  # the option text itself, when it names exactly one option


def _compare_choice(expected: str, got: str, choices: dict[str, str] | None) -> Match:
    e, g = _letter_of(expected, choices), _letter_of(got, choices)
    if e is None:
        return Match(False, "unparseable: expected answer names no choice", expected[:80], got[:80])
    if g is None:
        return Match(False, "unparseable: no choice letter in answer", e, got[:80])
    return Match(e == g, "same choice" if e == g else "different choice", e, g)


def _coordinate(item: str) -> Node:
    return parse_math(item, number=False)[0]


def _xyz_order(nodes: list[Node], names: list[str | None]) -> list[Node]:
    """Named coordinates "y=4, x=3" in x, y, z order; other names keep the written order."""
    if None in names or len(set(names)) != len(names) or not set(names) <= {"x", "y", "z"}:
        return nodes
    return [nodes[names.index(name)] for name in sorted(names)]


def _compare_point(expected: str, got: str, tol: _Tol) -> Match:
    (e_items, e_names, ordered), (g_items, g_names, _) = parse_tuple(expected), parse_tuple(got)
    e_nodes, g_nodes = [_coordinate(i) for i in e_items], [_coordinate(i) for i in g_items]
    if None not in e_names + g_names and sorted(e_names) == sorted(g_names) and len(set(e_names)) == len(e_names):
        g_nodes = [g_nodes[g_names.index(name)] for name in e_names]  # "b=2, a=1" matches "a=1, b=2"
    else:
        e_nodes, g_nodes = _xyz_order(e_nodes, e_names), _xyz_order(g_nodes, g_names)
    shown = ("(" + ", ".join(map(_display, e_nodes)) + ")", "(" + ", ".join(map(_display, g_nodes)) + ")")
    if len(e_nodes) != len(g_nodes):
        return Match(False, f"{len(e_nodes)} coordinates expected, got {len(g_nodes)}", *shown)
    if ordered:
        for i, (a, b) in enumerate(zip(e_nodes, g_nodes, strict=True)):
            ok, why = compare_nodes(a, b, tol)
            if not ok:
                return Match(False, f"coordinate {i + 1}: {why}", *shown)
        return Match(True, "all coordinates equal", *shown)
    unused = list(g_nodes)
    for a in e_nodes:  # sets: greedy matching is enough for well-separated elements
        hit = next((b for b in unused if compare_nodes(a, b, tol)[0]), None)
        if hit is None:
            return Match(False, f"set element {_display(a)} missing", *shown)
        unused.remove(hit)
    return Match(True, "same set", *shown)


def _compare_text(expected: str, got: str) -> Match:
    e, g = normalise_text(expected), normalise_text(got)
    ok = bool(e) and e == g
    return Match(ok, "same text" if ok else "different text", e[:200], g[:200])


def infer_kind(expected: str) -> str:
    """The kind of a reference answer: choice letter, point/set, number, expression, else text."""
    if re.fullmatch(r"\s*[(\[]?\s*[A-Z]\s*[)\].]?\s*", expected):
        return "choice"
    try:
        plain = to_plain(expected)
        if re.search("[,;]", re.sub(r"\d{1,3}(?:,\d{3})+(?![\d,])", "0", plain)):  # thousands aren't points
            items = parse_tuple(expected)[0]
            if len(items) > 1:  # not "root(8, 3)"
                [_coordinate(item) for item in items]
                return "point"
        if not free_symbols(parse_math(expected, number=True)[0]):
            return "number"
        if is_wordy(strip_number_decorations(plain)[0]):
            return "text"
        parse_math(expected, number=False)
        return "expression"
    except ParseError:
        return "text"


def equivalent(
    expected: str,
    got: str | None,
    kind: str = "auto",
    rel_tol: float = 1e-4,
    abs_tol: float = 1e-6,
    decimals: int | None = None,
    choices: dict[str, str] | None = None,
) -> Match:
    """Whether `got` states the same answer as `expected`; see the module docstring for the rules.

    >>> equivalent("2\\\\sqrt{3}", "sqrt(12)").equal
    True
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    if not isinstance(got, str):  # extract_final_answer found nothing
        return Match(False, "unparseable: no answer", expected[:80], "")
    if max(len(expected), len(got)) > MAX_CHARS:
        return Match(False, f"unparseable: answer longer than {MAX_CHARS} characters", expected[:80], got[:80])
    kind = infer_kind(expected) if kind == "auto" else kind
    tol = _Tol(rel_tol, abs_tol, decimals)
    try:
        if kind in ("number", "percent"):
            return _compare_number(expected, got, tol, percent=kind == "percent")
        if kind == "expression":
            return _compare_expression(expected, got, tol)
        if kind == "point":
            return _compare_point(expected, got, tol)
        if kind == "choice":
            return _compare_choice(expected, got, choices)
        return _compare_text(expected, got)
    except ParseError as err:
        return Match(False, f"unparseable: {err}", expected[:80], got[:80])
