"""Model-made answer and check codes must compute from the stated quantities, and differently: hand-written codes
in the styles models write, both ways, through the real sandbox (rule (b) runs the perturbed copies there)."""

from __future__ import annotations

import pytest

from flywheel.canvas import canvas_code, tool_canvas_code
from flywheel.records import Problem, Rejection, SolutionStep, make_problem
from flywheel.sandbox import SandboxJob, SandboxLimits
from generators.render import render_batch
from verifiers.checks import verify_batch
from verifiers.independence import figure_numbers, plan, stated_quantities, text_numbers
from verifiers.same_computation import copied, normal_form

Q67 = "Triangle ABC has AB = 6 cm and BC = 7 cm with a right angle at B. Find AB times BC."
GRID = "Triangle DEF is drawn on the grid of unit squares. What is its area in square units?"
LINES = "On the coordinate grid, lines EF and GH join grid points. At what point P do they cross?"
BARS = "The bar chart shows rainfall each month, with each bar's value printed on it. What is the median value?"
BAR_RENDER = "values = [15, 5, 15, 20, 45, 15]\nfor i, v in enumerate(values):\n    ax.text(50 * i, 400 - v, f'{v}')\n"
RECT_RENDER = "w, h = 6, 7\nax.text(10, 10, f'{w} cm', color='#1f77b4')\nax.text(10, 20, str(h) + ' cm')\n"

# (name, question, answer, kind, code, render code): each must pass both rules
COMPUTING = [
    ("sympy_rational", "A triangle has base 6 cm and height 7 cm. What is its area?", "21", "number",
     "from sympy import Rational\nb, h = 6, 7\nprint(Rational(1, 2) * b * h)", ""),
    ("numpy_cross", "A triangle has vertices A(0, 0), B(6, 0) and C(0, 7). What is its area?", "21", "number",
     "import numpy as np\nA, B, C = np.array([0, 0]), np.array([6, 0]), np.array([0, 7])\n"
     "print(abs(np.cross(B - A, C - A)) / 2)", ""),
    ("shapely", "A triangle has vertices A(0, 0), B(6, 0) and C(0, 7). What is its area?", "21", "number",
     "from shapely.geometry import Polygon\nprint(Polygon([(0, 0), (6, 0), (0, 7)]).area)", ""),
    ("loop", "A pentagon has interior angles 100°, 110°, 120°, 95° and x. Find x.", "115", "number",
     "angles = [100, 110, 120, 95]\ntotal = 0\nfor a in angles:\n    total += a\nprint((5 - 2) * 180 - total)", ""),
    ("helper_function", "A right triangle has legs 5 and 12. How long is the hypotenuse?", "13", "number",
     "import math\n\ndef hypotenuse(a, b):\n    return math.sqrt(a**2 + b**2)\n\nprint(hypotenuse(5, 12))", ""),
    ("fractions", "A bag holds 3 red and 5 blue balls. What is the probability of drawing red?", "3/8", "number",
     "from fractions import Fraction\nred, blue = 3, 5\nprint(Fraction(red, red + blue))", ""),
    ("sympy_solve_labels", "In quadrilateral ABCD three angles are marked. Find the fourth angle x.", "63",
     "number", "from sympy import Eq, solve, symbols\nx = symbols('x')\nprint(solve(Eq(x + 145 + 65 + 87, 360), x)[0])",
     "ax.text(10, 10, '145°')\nax.text(90, 10, '65°')\nax.text(10, 90, '87°', fontsize=12)\n"),
    ("grid_read_off", GRID, "12", "number",
     "from sympy import Point, Polygon\nprint(abs(Polygon(Point(3, 1), Point(11, 1), Point(9, 4)).area))",
     "for i in range(13):\n    ax.plot([40 * i] * 2, [0, 400], color='0.8')\n"),
    ("point_on_grid", LINES, "(-4, -1)", "point",
     "from sympy import Line, Point\nP = Line(Point(-5, -1), Point(2, -1)).intersection("
     "Line(Point(-4, -3), Point(-4, 3)))[0]\nprint(f'({P.x}, {P.y})')", ""),
    ("median_equal_to_data", BARS, "15", "number",
     "import statistics\nvalues = [15, 5, 15, 20, 45, 15]\nprint(statistics.median(values))", BAR_RENDER),
    ("fstring_labels_inline_arithmetic", "What is the perimeter of the rectangle?", "26", "number",
     "print(2 * (6 + 7))", RECT_RENDER),
    ("percent", "35% of the 80 students walk to school. How many walk?", "28", "number",
     "share, students = 0.35, 80\nprint(round(share * students))", ""),
    ("law_of_cosines", "In triangle PQR, QP = 14 km, PR = 8 km and angle P = 111°. Find QR to 1 decimal place.",
     "18.4", "number", "import numpy as np\nv = np.sqrt(8**2 + 14**2 - 2 * 8 * 14 * np.cos(np.radians(111)))\n"
     "print(round(float(v), 1))", ""),
    ("brief_example", Q67, "42", "number", "a, b = 6, 7\nprint(a*b)", ""),
    ("answer_as_an_operand", "How many more edges make the 6 vertices a complete graph?", "6", "number",
     "from sympy import binomial\nedges = [(1, 2), (2, 3), (3, 4), (4, 5), (5, 6), (6, 1), (1, 4), (2, 5), (3, 6)]\n"
     "print(binomial(6, 2) - len(edges))", ""),
    ("string_data", "The spinner has eight equal sectors. What is the probability of red twice?", "9/64", "number",
     "import numpy as np\ns = np.array(list('RBRYBYRY'))\nprint(((s[:, None] == 'R') & (s[None, :] == 'R')).mean())",
     ""),
    ("ratio_kept_by_a_uniform_bump", "A = (-5, -2), B = (4, 7) and AP : PB = 1 : 2. Find P.", "(-2, 1)", "point",
     "from sympy import Point, Rational\nA, B = Point(-5, -2), Point(4, 7)\nP = A + Rational(1, 3) * (B - A)\n"
     "print(f'({P.x}, {P.y})')", ""),
    ("measured_coordinates", "In quadrilateral ABCD three angles are marked. Find the fourth angle x.", "63",
     "number", "import numpy as np\nV, P = np.array([0.0, 0.0]), np.array([0.3548525119295185, 1.2143418335486342])\n"
     "Q = np.array([1.04126581017034, 0.19695040581094073])\nu, w = P - V, Q - V\n"
     "print(float(np.degrees(np.arccos(u @ w / (np.linalg.norm(u) * np.linalg.norm(w))))))",
     "ax.text(10, 10, '145°')\nax.text(90, 10, '65°')\nax.text(10, 90, '87°', fontsize=12)\n"),
    ("incidental_number_only", "The dot plot shows quiz scores (out of 10). What is the median score?", "7",
     "number", "import numpy as np\nprint(np.median(np.repeat([5, 6, 7, 8, 9], [2, 3, 5, 4, 1])))", ""),
]  # fmt: skip

# (name, question, answer, kind, code, render code): each must be rejected as constant
CONSTANT = [
    ("bare_int", Q67, "42", "number", "print(42)", ""),
    ("bare_float", Q67, "42", "number", "print(42.0)", ""),
    ("through_a_name", Q67, "42", "number", "x = 42\nprint(x)", ""),
    ("rational_in_disguise", Q67, "42", "number", "from sympy import Rational\nprint(Rational(84, 2))", ""),
    ("unused_inputs", Q67, "42", "number", "a = 6\nb = 7\nprint(42)", ""),
    ("string", Q67, "42", "number", "answer = '42'\nprint(answer)", ""),
    ("numpy_scalar", Q67, "42", "number", "import numpy as np\nprint(np.float64(42))", ""),
    ("unstated_numbers", Q67, "42", "number", "x = 84\ny = 2\nprint(x / y)", ""),
    ("loop_of_unstated", Q67, "42", "number", "total = 0\nfor i in range(3):\n    total += 14\nprint(total)", ""),
    ("computed_then_ignored", "A triangle has base 6 cm and height 7 cm. What is its area?", "21", "number",
     "import math\nside = 6\nother = 7\narea = side * other / 2  # the area\nprint(21)", ""),
    ("fraction_written_out", "A bag holds 3 red and 5 blue balls. What is the probability of drawing red?",
     "3/8", "number", "from fractions import Fraction\nprint(Fraction(3, 8))", ""),
    ("point_written_out", LINES, "(-4, -1)", "point", "P = (-4, -1)\nprint(f'({P[0]}, {P[1]})')", ""),
    ("sympy_point_written_out", LINES, "(-4, -1)", "point",
     "from sympy import Point\nP = Point(-4, -1)\nprint(f'({P.x}, {P.y})')", ""),
    ("answer_in_a_sentence", Q67, "42", "number", "print('The answer is 42')", ""),
    ("precomputed_intermediate", "Chord AB lies 6 cm from the centre O and OA = 10 cm. How long is AB?", "16",
     "number", "import numpy as np\nxs = np.roots([1.0, 0.0, -64.0])\nprint(float(abs(xs[0] - xs[1])))", ""),
]  # fmt: skip

COPIED = [
    ("identical", "a, b = 6, 7\nprint(a * b)", "a, b = 6, 7\nprint(a * b)"),
    ("renamed_and_wrapped", "a, b = 6, 7\nprint(a * b)", "import numpy as np\nw = 7.0\nh = 6.0\nprint(float(w * h))"),
    ("rational_vs_float", "from sympy import Rational\nprint(Rational(1, 2) * 6 * 7)", "print(0.5 * 7 * 6)"),
    ("division_vs_half", "b = 6\nh = 7\nprint(b * h / 2)", "print(0.5 * 6 * 7)"),
    ("module_prefixes", "import math\nprint(math.sqrt(5**2 + 12**2))",
     "import numpy as np\nprint(np.sqrt(12**2 + 5**2))"),
    ("evalf_and_N", "from sympy import sqrt\nd = sqrt(5**2 + 12**2)\nprint(d)",
     "import sympy as sp\nprint(sp.N(sp.sqrt(5**2 + 12**2)))"),
    ("comments_docstring_fstring", '"""Area."""\n# base times height\nb, h = 6, 7\nprint(b * h)',
     "x = 6  # AB\ny = 7\nprint(f'{x * y}')"),
]  # fmt: skip

DIFFERENT = [
    ("sympy_vs_shoelace",
     "from sympy import Point, Polygon\nprint(Polygon(Point(0, 0), Point(6, 0), Point(0, 7)).area)",
     "pts = [(0, 0), (6, 0), (0, 7)]\ns = 0\nfor (x1, y1), (x2, y2) in zip(pts, pts[1:] + pts[:1]):\n"
     "    s += x1 * y2 - x2 * y1\nprint(abs(s) / 2)"),
    ("cosine_rule_vs_coordinates",
     "import math\nprint(math.sqrt(8**2 + 14**2 - 2 * 8 * 14 * math.cos(math.radians(111))))",
     "import numpy as np\nC = 8 * np.array([np.cos(np.radians(111)), np.sin(np.radians(111))])\n"
     "print(np.linalg.norm(C - np.array([14, 0])))"),
    ("solve_vs_sqrt", "from sympy import solve, symbols\nx = symbols('x', positive=True)\n"
     "print(solve(x**2 + 10**2 - 26**2, x)[0])", "import math\nprint(math.sqrt(26**2 - 10**2))"),
    ("helper_vs_inline", "def area(b, h):\n    return b * h / 2\nprint(area(6, 7))", "print(6 * 7 / 2)"),
]  # fmt: skip


def _constant(sandbox, question: str, answer: str, kind: str, code: str, render: str) -> str | None:
    """Rules (a) and (b) as the verify stage applies them: the reason, or None for a computing code."""
    p = make_problem(question=question, answer=answer, answer_kind=kind, answer_code=code, render_code=render)
    pl = plan(p, "answer_code")
    if pl.static is not None:
        return pl.static
    normal, perturbed = sandbox.map([SandboxJob.of(code), SandboxJob.of(pl.perturbed)]) if pl.perturbed else (
        sandbox.run(code), None)  # fmt: skip
    assert normal.ok, normal.stderr
    return "same output" if perturbed is not None and perturbed.ok and normal.last_line() == perturbed.last_line() \
        else None


@pytest.mark.parametrize("name,question,answer,kind,code,render", COMPUTING, ids=[c[0] for c in COMPUTING])
def test_computing_codes_pass(sandbox, name, question, answer, kind, code, render):
    assert _constant(sandbox, question, answer, kind, code, render) is None


@pytest.mark.parametrize("name,question,answer,kind,code,render", CONSTANT, ids=[c[0] for c in CONSTANT])
def test_constant_codes_are_caught(sandbox, name, question, answer, kind, code, render):
    assert _constant(sandbox, question, answer, kind, code, render) is not None


@pytest.mark.parametrize("name,answer_code,check_code", COPIED, ids=[c[0] for c in COPIED])
def test_copied_check_codes_are_caught(name, answer_code, check_code):
    assert copied(answer_code, check_code)


@pytest.mark.parametrize("name,answer_code,check_code", DIFFERENT, ids=[c[0] for c in DIFFERENT])
def test_different_computations_are_not_copies(name, answer_code, check_code):
    assert not copied(answer_code, check_code)


def test_stated_quantities_read_question_and_figure_text():
    assert text_numbers("Give x to 2 decimal places; the angle at most 180 degrees; 35% of 80") == {35, 0.35, 80}
    assert figure_numbers(RECT_RENDER) == {6, 7}  # f-string and str() labels resolved; the colour's digits are not
    assert figure_numbers(BAR_RENDER) == {15, 5, 20, 45}
    objects = "objects = [('pencil', 7, 68, '#e6b8a2')]\nfor name, a, b, colour in objects:\n    ax.text(a, b, name)\n"
    assert figure_numbers(objects) == set()  # the loop binds position by position: `name` holds no number
    assert stated_quantities("Each square is 1 cm; O is the origin (0).", "") == frozenset()
    assert normal_form("this is not python(") is None and not copied("print(", "print(")


# ----------------------------------------------------------------------------------------------------
# Through verify_batch and the real sandbox
# ----------------------------------------------------------------------------------------------------

RENDER = canvas_code(600, 480) + "ax.plot([100, 500], [400, 400], 'k-', lw=2)\nax.text(300, 60, 'AB = 6, BC = 7')\n"
TOOL = tool_canvas_code(600, 480) + "ax.plot([100, 100], [400, 100], 'r-', lw=4)\n"


def _problem(answer_code: str, check_code: str, answer: str = "42", proposer: str = "model-x") -> Problem:
    return make_problem(question=Q67, answer=answer, render_code=RENDER, answer_code=answer_code,
                        check_code=check_code, width=600, height=480, proposer=proposer,
                        solution=(SolutionStep("think", "Draw BC."), SolutionStep("code", "edge", TOOL)))


def test_verify_batch_rejects_constant_and_copied_codes_of_model_made_problems(sandbox):
    cases = {
        "good": _problem("a, b = 6, 7\nprint(a * b)", "import numpy as np\nprint(float(np.prod([6.0, 7.0])))"),
        "constant": _problem("print(42)", "print(42.0)"),
        "constant_check": _problem("a, b = 6, 7\nprint(a * b)", "a = 6\nb = 7\nprint(42.0)"),
        "copied": _problem("a, b = 6, 7\nprint(a * b)", "x = 7.0\ny = 6.0\nprint(float(y * x))"),
        "wrong": _problem("a, b = 6, 7\nprint(a * b)", "print(6.0 * 7.0)", answer="43"),
        "procedural": _problem("print(42)", "print(42.0)", proposer="procedural"),
    }
    limits = SandboxLimits(wall_s=20)
    rendered = render_batch(list(cases.values()), sandbox, limits)
    assert all(isinstance(p, Problem) for p in rendered), rendered
    out = dict(zip(cases, verify_batch(rendered, sandbox, limits), strict=True))
    assert isinstance(out["good"], Problem) and out["good"].verified_by == "author_code"
    assert [v.name for v in out["good"].verdicts][-3:] == ["independence", "image", "tool_edit"]
    got = {k: (r.stage, r.reason) for k, r in out.items() if isinstance(r, Rejection)}
    assert got == {"constant": ("verify", "constant_answer_code"), "constant_check": ("verify", "constant_answer_code"),
                   "copied": ("verify", "copied_check_code"), "wrong": ("verify", "executed_mismatch")}
    assert "check_code" in out["constant_check"].detail and "answer_code" in out["constant"].detail
    assert "# check_code" in out["copied"].raw
    procedural = out["procedural"]  # procedural behaviour is unchanged: no independence verdict, accepted
    assert isinstance(procedural, Problem) and procedural.verified_by == "procedural"
    assert "independence" not in {v.name for v in procedural.verdicts}


def test_verified_by_is_a_column_sql_can_group_by(tmp_path):
    import json

    from flywheel.records import problems_to_table, table_to_problems
    from storage.catalog import query
    from storage.shards import ShardWriter

    who = ("procedural", "author_code", "author_code", "solver")
    problems = [make_problem(round=1, question=f"Q{i}", answer=str(i), verified_by=w) for i, w in enumerate(who)]
    with ShardWriter(tmp_path / "data", 1) as w:
        w.commit_part(problems, [], final=True)
    rows = json.loads(query(tmp_path / "data", "SELECT verified_by, count(*) AS n FROM problems GROUP BY 1 "
                                               "ORDER BY 1", "json"))  # fmt: skip
    assert rows == [{"verified_by": "author_code", "n": 2}, {"verified_by": "procedural", "n": 1},
                    {"verified_by": "solver", "n": 1}]
    older = problems_to_table(problems).drop_columns(["verified_by"])  # a shard written before the column
    assert [p.verified_by for p in table_to_problems(older)] == ["", "", "", ""]
