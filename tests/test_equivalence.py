"""Answer equivalence: hand-written cases for every kind, tolerance rules, extraction and hostile input."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from verifiers import equivalence, parse_answer
from verifiers.equivalence import Match, equivalent, extract_final_answer, infer_kind

EQUAL = [
    # numbers: plain, fractions, mixed, separators, units, currency, approximations
    ("3/4", "0.75", "number"),
    ("0.75", "3/4", "auto"),
    ("1.5", "1 1/2", "auto"),
    ("-1.5", "-1 1/2", "auto"),
    ("2.5", r"2\frac{1}{2}", "auto"),
    ("1.5", "1½", "auto"),
    ("1234", "1,234", "auto"),
    ("1000000", "1,000,000", "number"),
    ("1234.5", "AB = 1,234.5 cm", "number"),
    ("12", "12 cm", "auto"),
    ("12", "12 cm^2", "auto"),
    ("12", "12 square units", "auto"),
    ("12", "12 apples", "auto"),
    ("45", "45°", "auto"),
    ("45", "45 degrees", "auto"),
    ("45", r"45^\circ", "auto"),
    ("45", r"45^{\circ}", "auto"),
    ("3.5", "$3.50", "auto"),
    ("3.5", r"\$3.50", "auto"),
    ("3.14159", "≈ 3.14159", "auto"),
    ("3.14159", "approximately 3.14159", "auto"),
    ("5", "x = 5", "number"),
    ("0.0015", "1.5e-3", "auto"),
    ("0.0015", r"1.5 \times 10^{-3}", "auto"),
    ("120", "1.2 × 10²", "auto"),
    ("-0", "0", "auto"),
    ("1e-7", "0", "number"),  # within the default abs_tol of 1e-6
    ("2", "2.0000001", "auto"),
    ("25%", "25", "auto"),  # % is a unit unless kind="percent"
    # LaTeX and unicode
    ("0.5", r"\frac{1}{2}", "auto"),
    ("0.5", r"\dfrac{1}{2}", "auto"),
    ("0.5", r"\frac12", "auto"),
    ("0.5", r"$\frac{1}{2}$", "auto"),
    ("5", r"\boxed{5}", "auto"),
    ("5", "$5$", "auto"),
    ("2*sqrt(3)", r"2\sqrt{3}", "auto"),
    ("2*sqrt(3)", "2√3", "auto"),
    ("2*sqrt(3)", "√12", "auto"),
    ("2*sqrt(3)", "sqrt(12)", "auto"),
    ("2", r"\sqrt[3]{8}", "auto"),
    ("-2", "cbrt(-8)", "auto"),
    ("pi", r"\pi", "auto"),
    ("pi/4", r"\frac{\pi}{4}", "auto"),
    ("2*pi", "2π", "auto"),
    ("9", "3²", "auto"),
    ("6", "2×3", "auto"),
    ("-1", "−1", "auto"),
    ("30000", r"3\times10^{4}", "auto"),
    ("12", r"12\text{ cm}", "auto"),
    # exact values
    ("sqrt(8)", "2sqrt(2)", "auto"),
    ("1/sqrt(2)", "sqrt(2)/2", "auto"),
    ("3√2", "√18", "auto"),
    ("sin(pi/6)", "1/2", "auto"),
    ("1/(1+sqrt(2))", "sqrt(2)-1", "auto"),
    ("2^2000", "4^1000", "auto"),  # floats overflow; sympy proves it
    ("0.866", r"\frac{\sqrt{3}}{2}", "auto"),
    # expressions
    ("x^2", "x**2", "auto"),
    ("x^2 - 1", "(x-1)(x+1)", "auto"),
    ("2x", "2*x", "auto"),
    ("2x+3y", "3y+2x", "auto"),
    ("2xy", "2yx", "expression"),
    ("(x^2-1)/(x-1)", "x+1", "auto"),
    ("sin(x)^2+cos(x)^2", "1", "expression"),
    ("y = 2x + 1", "2x+1", "auto"),
    ("x^2-1", "x^{2}-1", "auto"),
    ("(a+b+c+d+e)^100", "(e+d+c+b+a)^100", "expression"),  # too big to expand: sampled
    # points and sets
    ("(3, 4)", "(3,4)", "auto"),
    ("(3, 4)", "[3, 4]", "auto"),
    ("(3, 4)", "x=3, y=4", "auto"),
    ("(3, 4)", "y=4, x=3", "auto"),
    ("(3, 4)", "A(3, 4)", "auto"),
    ("(4, 1)", "Point2D(4, 1)", "point"),  # sympy prints a reflected Point like this
    ("(3, 4)", "(x, y) = (3, 4)", "auto"),
    ("(1/2, √3/2)", "(0.5, 0.866025)", "auto"),
    ("(1/2, 0.8660254)", r"\left(\frac{1}{2}, \frac{\sqrt{3}}{2}\right)", "point"),
    ("{1, 2}", "{2, 1}", "auto"),
    # choices
    ("B", "B", "auto"),
    ("B", "(B)", "auto"),
    ("B", "B.", "auto"),
    ("B", "B) 12 cm", "auto"),
    ("B", "Answer: B", "auto"),
    ("B", "option b", "auto"),
    ("B", "The answer is (B)", "choice"),
    ("B", r"\boxed{B}", "auto"),
    ("B", r"\textbf{(B)}", "auto"),
    ("(C)", "c)", "choice"),
    # text
    ("yes", "Yes.", "auto"),
    ("right triangle", "Right  Triangle", "auto"),
    ("isosceles", "ISOSCELES!", "text"),
]

DIFFERENT = [
    ("(4, 1)", "Point2D(1, 4)", "point"),
    ("0.333", "1/3", "auto"),  # equal only with decimals=3
    ("1/3", "0.33", "number"),
    ("12", "13 cm", "auto"),
    ("12", "12.01", "auto"),
    ("1e-7", "1e-3", "auto"),
    ("3.14", "pi", "number"),
    ("2", "2x", "number"),
    ("2", "-2", "auto"),
    ("25%", "0.25", "auto"),  # only with kind="percent"
    ("sqrt(8)", "3", "auto"),
    ("sqrt(2)", "sqrt(3)", "auto"),
    ("x^2", "x^3", "auto"),
    ("x^2 - 1", "(x-1)^2", "auto"),
    ("x", "y", "expression"),
    ("2x+1", "2x-1", "auto"),
    ("x+1", "x-1", "auto"),  # text normalisation would wrongly call these equal
    ("(1, 2)", "(2, 1)", "auto"),  # points keep their order
    ("(3, 4)", "(3, 4.1)", "auto"),
    ("(3, 4)", "(3, 4, 5)", "auto"),
    ("(3, 4)", "x=4, y=3", "auto"),
    ("{1, 2}", "{1, 3}", "auto"),
    ("B", "C", "auto"),
    ("B", "(A)", "auto"),
    ("B", "option c", "choice"),
    ("B", "12 cm", "choice"),  # no letter and no options given
    ("A", "a triangle", "auto"),
    ("yes", "no", "auto"),
    ("acute", "obtuse", "text"),
    ("5", "", "auto"),
    ("", "", "text"),
]


@pytest.mark.parametrize(("expected", "got", "kind"), EQUAL)
def test_equal(expected: str, got: str, kind: str) -> None:
    match = equivalent(expected, got, kind)
    assert match.equal, match


@pytest.mark.parametrize(("expected", "got", "kind"), DIFFERENT)
def test_different(expected: str, got: str, kind: str) -> None:
    match = equivalent(expected, got, kind)
    assert not match.equal, match


def test_case_count() -> None:
    assert len(EQUAL) + len(DIFFERENT) >= 80


def test_decimals_widen_tolerance_to_half_a_unit() -> None:
    assert equivalent("1/3", "0.333", decimals=3).equal
    assert equivalent("0.333", "1/3", decimals=3).equal  # either side may be the rounded one
    assert not equivalent("1/3", "0.334", decimals=3).equal
    assert not equivalent("1/3", "0.33", decimals=3).equal  # rounded to fewer places than asked
    assert equivalent("pi", "3.14", decimals=2).equal
    assert not equivalent("pi", "3.15", decimals=2).equal


def test_tolerances_are_parameters() -> None:
    assert not equivalent("1e-7", "0", abs_tol=1e-9).equal
    assert equivalent("100", "100.5", rel_tol=1e-2).equal
    assert not equivalent("100", "100.5").equal
    assert equivalent("sqrt(12)", "2*sqrt(3)", rel_tol=0, abs_tol=0).equal  # exact, not float luck


def test_percent_kind() -> None:
    assert equivalent("25%", "0.25", "percent").equal
    assert equivalent("0.25", "25%", "percent").equal
    assert equivalent("25%", "25", "percent").equal
    assert equivalent("25%", "25 percent", "percent").equal
    assert not equivalent("25%", "0.3", "percent").equal
    assert not equivalent("0.25", "0.0025", "percent").equal  # no % sign: compared as written


def test_choice_against_option_text() -> None:
    options = {"A": "10 cm", "B": "12 cm", "C": "√2"}
    assert equivalent("B", "12", "choice", choices=options).equal
    assert equivalent("C", "sqrt(2)", "choice", choices=options).equal
    assert not equivalent("A", "12 cm", "choice", choices=options).equal
    assert not equivalent("A", "11 cm", "choice", choices=options).equal


def test_match_values_and_reasons() -> None:
    match = equivalent("1/2", r"\frac{2}{4}")
    assert match == Match(True, "equal", "0.5", "0.5")
    assert equivalent("B", "C").reason == "different choice"
    assert equivalent("x^2-1", "(x-1)(x+1)").reason == "symbolically equal"
    assert equivalent("sin(x)^2+cos(x)^2", "1", "expression").reason.startswith("agree at")
    assert equivalent("2", "3").reason == "values differ: 2 vs 3"


def test_infer_kind() -> None:
    kinds = {"B": "choice", "(C)": "choice", "12 cm": "number", "1,234": "number", "(3, 4)": "point",
             "x = 3, y = 4": "point", "x^2+1": "expression", "yes": "text", "root(8, 3)": "number"}  # fmt: skip
    assert {answer: infer_kind(answer) for answer in kinds} == kinds


def test_unknown_kind_is_a_caller_bug() -> None:
    with pytest.raises(ValueError):
        equivalent("1", "1", kind="numbr")


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("so x = 2. The answer is \\boxed{\\frac{1}{2}}.", "\\frac{1}{2}"),
        ("<answer>The answer is \\boxed{5}</answer>", "5"),
        ("<answer> 7 </answer> then <answer>8</answer>", "8"),
        ("\\boxed{3} first, but \\boxed{\\sqrt{\\frac{1}{2}}} wins", "\\sqrt{\\frac{1}{2}}"),
        ("Final answer: 12 cm.", "12 cm"),
        ("**Final Answer:** B", "B"),
        ("Final answer: $\\boxed{x^{2}}$", "x^{2}"),
        ("work\nAnswer: (C)\n", "(C)"),
        ("The answer is 3.5. Because the side is 7.", "3.5"),
        ("the answer is 1 but wait, the answer is 2", "2"),
        ("nothing here", None),
        ("<answer>unclosed", None),
        ("\\boxed{unbalanced", None),
        ("", None),
    ],
)
def test_extract_final_answer(text: str, answer: str | None) -> None:
    assert extract_final_answer(text) == answer


def test_extract_then_compare() -> None:
    output = "The triangle is right-angled, so AC = √(3²+4²).\n<answer>\\boxed{5\\text{ cm}}</answer>"
    assert equivalent("5", extract_final_answer(output)).equal
    assert equivalent("5", extract_final_answer("I am not sure.")) == Match(False, "unparseable: no answer", "5")


HOSTILE = [
    "__import__('os').system('echo pwned')",
    "().__class__.__bases__[0].__subclasses__()",
    "eval('1+1')",
    "lambda: 1",
    "9**9**9**9",
    "9^9^9^9",
    "2^2^2^2^2",
    "(2^1000)^(2^1000)",
    "10^(10^6)",
    "e^(10^6)",
    "exp(exp(exp(exp(x))))",
    "(1+sqrt(2))^1000",
    "(x+y+z+w+v+u)^200",
    "1e999999999",
    "(" * 10000,
    "(" * 41 + "1" + ")" * 41,
    "-" * 1000 + "1",
    "sin" * 600 + "x",
    "√" * 1500 + "2",
    "1" * 100_000,
    "x+" * 5000 + "1",
    "\\frac{" * 500,
    "\\sqrt{" * 300 + "2" + "}" * 300,
    "{" * 3000,
    "1/0",
    "log(0)",
    "\x00\x01",
]


@pytest.mark.timeout(20)
@pytest.mark.parametrize("hostile", HOSTILE)
@pytest.mark.parametrize("kind", ["auto", "number", "expression", "point", "choice", "text"])
def test_hostile_input_is_unequal_and_harmless(hostile: str, kind: str, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = hostile.replace("echo pwned", f"touch {marker}")
    match = equivalent("7", payload, kind)
    assert isinstance(match, Match) and not match.equal
    assert not marker.exists()
    if kind == "auto":
        assert equivalent(payload, "7").equal is False  # hostile reference text fails safely too


def test_no_eval_in_sources() -> None:
    for module in (equivalence, parse_answer):
        source = Path(module.__file__).read_text()
        assert not re.search(r"(?<![\w.])(eval|exec|compile|__import__)\s*\(", source), module.__name__
        assert not re.search(r"sympify\s*\(|parse_expr\s*\(|import signal|signal\.", source), module.__name__


def test_runs_in_worker_threads() -> None:
    # Ray actors call this from threads, where signal-based timeouts would fail.
    cases = [("2\\sqrt{3}", "sqrt(12)"), ("x^2-1", "(x+1)(x-1)"), ("(3, 4)", "[3,4]"), ("B", "(B)")] * 8
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda pair: equivalent(*pair), cases))
    assert all(match.equal for match in results)
