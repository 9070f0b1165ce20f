"""Do a model-made problem's answer_code and check_code compute, and compute differently? (verify stage)

The author states the answer and writes both codes, so two codes that agree prove nothing unless each one
computes from the problem's data and they are not the same computation. Plain functions on source text; the
verify stage (`verifiers/checks.py`) runs the perturbed copies in the same sandbox batch as the normal runs.
Procedural problems are never checked here: their answers are computed independently by construction.

Rule, exactly (each step names what it rejects):
- *Stated quantities* S: the absolute values, 0 and 1 left out, of the numbers in the question (a "35%" adds
  0.35; precision and range phrases such as "1 decimal place", "nearest 0.1", "at most 180°" are not data)
  and the numbers the figure prints: string literals of the render code (style keyword values such as colours
  and box styles left out) and values of names shown through f-strings, `str()`, `.format()` or the text
  argument of `ax.text`/`annotate`, resolved through plain literal assignments and loops over them. Fewer
  than two such numbers make S empty: a lone number is a scale or a bound ("out of 10"), not the data.
- *Literals* of a code: its int and float constants (and number strings given to Rational/Fraction/...),
  subscript indices left out (`solve(...)[0]` picks a result).
  A literal is *stated* if its absolute value is in S, or the largest literal-only expression around it
  (`Rational(7, 2)`, `0.5 * 6`) has a value in S.
- *The answer written out*: a literal-only expression equal to the stated answer that is a bare number or a
  constructor of numbers (`42`, `42.0`, `Rational(84, 2)`), or arithmetic on numbers none of which is stated
  (`84 / 2` when the question states 6 and 7, S not empty); for a point answer a pair of numbers equal to it.
  Only a value printed or stored as it is can be the answer written out (`print(42)`, `x = 42`,
  `np.float64(42)`); an operand or a data item (`binomial(6, 2)` for 6, `[15, 5, 15]` for a median of 15) is
  not. Its literals are not *inputs*; every other literal is. A code with no number at all that computes from
  string data (`list('RBRYBYRY')`, not a keyword value, format or symbol name, not holding the answer) passes.
- constant_answer_code (for either code; the detail names it): (a) statically, the code has no input, or S is
  not empty and no input is stated, unless two inputs have two or more decimals (coordinates measured off the
  drawing); (b) dynamically, every input is perturbed (see `STEPS`: uneven growth, so no
  common shift or scaling) and the perturbed code, run beside the normal one, prints the same last line. A
  perturbed run that fails or prints nothing is inconclusive and passes. So `a, b = 6, 7; print(a*b)` passes
  for a question stating 6 and 7; `print(42)`, `x = 42; print(x)`, `print(Rational(84, 2))` fail (a) and
  `a = 6; b = 7; print(42)` fails (b).
- copied_check_code: see `verifiers/same_computation.py` (the two codes reduce to the same normal form).

Limits, said plainly: a value the problem never states as a number (coordinates read off a grid, a bar read off
an axis) is not in S. When S is empty only a bare number is "the answer written out" (`print(84 / 2)` passes
there: it cannot be told from arithmetic on values read off the grid); when S is not empty, a code computing only
from unstated round values fails (a): a check that measures the drawing with whole coordinates, or one that
hard-codes an intermediate (`np.roots([1, 0, -64])` for 10² - 6²). A discrete output (a count, a comparison) can
survive a perturbation by chance. Code that ignores its data in a contrived way (`42 + 0 * a`) passes: this is a
check against lazy or hallucinated code, not against an adversary. Test: `pytest tests/test_independence.py`.
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass
from fractions import Fraction

from flywheel.records import Problem
from flywheel.sandbox import SandboxResult
from verifiers.equivalence import equivalent
from verifiers.parse_answer import ParseError, parse_tuple

CONSTRUCTORS = frozenset({"Rational", "Fraction", "Integer", "Float", "S", "sympify", "float", "int", "N",
                          "nsimplify", "Decimal", "mpf"})  # fmt: skip
WRITERS = CONSTRUCTORS | {"print", "float64", "int64", "float32", "str", "repr", "round", "abs", "format", "array"}
STYLE_KWARGS = frozenset({"color", "c", "fc", "ec", "facecolor", "edgecolor", "ls", "linestyle", "marker", "fmt",
                          "ha", "va", "horizontalalignment", "verticalalignment", "boxstyle", "family", "fontfamily",
                          "weight", "fontweight", "style", "fontstyle", "fontsize", "size", "cmap", "hatch",
                          "arrowstyle", "connectionstyle", "capstyle", "joinstyle", "bbox", "arrowprops",
                          "markerfacecolor", "markeredgecolor", "mfc", "mec", "colors", "textcoords", "xycoords",
                          "rotation", "zorder", "alpha", "lw", "linewidth", "ms", "markersize", "pad"})  # fmt: skip
TEXT_CALLS = {"text": 2, "annotate": 0, "set_title": 0, "set_xlabel": 0, "set_ylabel": 0, "suptitle": 0,
              "title": 0, "xlabel": 0, "ylabel": 0}  # the text argument's position
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_PRECISION = re.compile(r"\d+\s*(?:decimal\s+(?:places?|digits?)|d\.\s?p\.?|dp\b|significant\s+(?:figures?|digits?)"
                        r"|sig\.?\s*figs?|s\.\s?f\.?)|nearest\s+\d+(?:\.\d+)?", re.IGNORECASE)  # fmt: skip
_RANGE = re.compile(r"(?:at\s+most|at\s+least|no\s+more\s+than|less\s+than|more\s+than)\s+\d+\s*(?:°|degrees)"
                    r"|ending\s+in\s+\.\d+", re.IGNORECASE)  # "the angle that is at most 180°": the answer's range
_COLOUR = re.compile(r"#[0-9a-fA-F]{3,8}|C\d|tab:\w+")  # colour strings anywhere (also in data lists)
_FORMAT_FIELD = re.compile(r"%[-+ 0#]*\d*(?:\.\d+)?[a-zA-Z]|\{[^{}]*\}")  # '%.1f', '{:.2f}': not text


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def _in(value: float, stated: frozenset[float]) -> bool:
    return any(_close(abs(value), s) for s in stated)


# ----------------------------------------------------------------------------------------------------
# Stated quantities
# ----------------------------------------------------------------------------------------------------


def text_numbers(text: str) -> set[float]:
    """Numbers a text states, precision phrases left out; a percentage also as a fraction.

    >>> sorted(text_numbers("AB = 7 cm, 35% shaded; give it to 2 decimal places"))
    [0.35, 7.0, 35.0]
    """
    text = _PRECISION.sub(" ", text)
    text = _RANGE.sub(" ", text)
    out = set()
    for m in _NUMBER.finditer(text):
        out.add(float(m.group()))
        if text[m.end():m.end() + 2].lstrip().startswith("%"):
            out.add(float(m.group()) / 100)
    return out


def _call_name(node: ast.AST) -> str:
    func = node.func if isinstance(node, ast.Call) else node
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _literal_numbers(node: ast.AST) -> set[float] | None:
    """The numbers of a literal (containers of numbers and strings allowed); None if it is not a literal."""
    if isinstance(node, ast.Constant):
        return {abs(float(node.value))} if is_number(node.value) else set()
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        return _literal_numbers(node.operand)
    if isinstance(node, ast.Tuple | ast.List | ast.Set | ast.Dict):
        items = node.keys + node.values if isinstance(node, ast.Dict) else node.elts
        parts = [_literal_numbers(e) for e in items if e is not None]
        return None if any(p is None for p in parts) else set().union(*parts)
    return None


def _literal_env(tree: ast.AST) -> dict[str, set[float]]:
    """Names bound to literals (or loops over them), with every number they may hold; a loop over a list of
    tuples binds position by position, so `for name, a, b in objects` shows `name` without `a` and `b`."""
    env: dict[str, set[float]] = {}
    nodes: dict[str, ast.AST] = {}

    def numbers(value: ast.AST) -> set[float] | None:
        lit = _literal_numbers(value)
        return lit if lit is not None else env.get(value.id) if isinstance(value, ast.Name) else None

    def add(target: ast.AST, found: set[float] | None) -> None:
        for name in (n.id for n in ast.walk(target) if isinstance(n, ast.Name)):
            if found is not None:
                env[name] = env.get(name, set()) | found

    def bind(target: ast.AST, value: ast.AST) -> None:
        if isinstance(target, ast.Tuple | ast.List) and isinstance(value, ast.Tuple | ast.List) \
                and len(target.elts) == len(value.elts):
            for t, v in zip(target.elts, value.elts, strict=True):
                bind(t, v)
        else:
            add(target, numbers(value))
            if isinstance(target, ast.Name):
                nodes[target.id] = value

    def bind_each(target: ast.AST, iterable: ast.AST) -> None:
        """`for target in iterable`: zip and enumerate position by position, else every number to every name."""
        name = _call_name(iterable) if isinstance(iterable, ast.Call) else ""
        items = nodes.get(iterable.id) if isinstance(iterable, ast.Name) else iterable
        if isinstance(target, ast.Tuple) and name == "zip" and len(target.elts) == len(iterable.args):
            for t, arg in zip(target.elts, iterable.args, strict=True):
                bind_each(t, arg)
        elif isinstance(target, ast.Tuple) and name == "enumerate" and len(target.elts) == 2 and iterable.args:
            bind_each(target.elts[1], iterable.args[0])
        elif isinstance(target, ast.Tuple) and isinstance(items, ast.List | ast.Tuple) and items.elts and all(
                isinstance(e, ast.Tuple) and len(e.elts) == len(target.elts) for e in items.elts):
            for j, t in enumerate(target.elts):
                for e in items.elts:
                    bind(t, e.elts[j])
        else:
            add(target, numbers(iterable))

    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                bind(target, node.value)
        elif isinstance(node, ast.For | ast.comprehension):
            bind_each(node.target, node.iter)
    return env


def _shown_values(node: ast.AST, env: dict[str, set[float]]) -> set[float]:
    """Numbers an expression printed into the figure shows: a literal, or a (subscripted) name bound to one."""
    while isinstance(node, ast.Subscript | ast.Attribute | ast.Starred):
        node = node.value
    lit = _literal_numbers(node)
    if lit is not None:
        return lit
    return set(env.get(node.id, ())) if isinstance(node, ast.Name) else set()


def _style_strings(tree: ast.AST) -> set[int]:
    """ids of string constants given as style values (colours, box styles, alignment), not shown as text."""
    out: set[int] = set()
    for node in ast.walk(tree):
        styled = []
        if isinstance(node, ast.keyword) and node.arg in STYLE_KWARGS:
            styled.append(node.value)
        elif isinstance(node, ast.Dict):
            styled += [v for k, v in zip(node.keys, node.values, strict=True)
                       if isinstance(k, ast.Constant) and k.value in STYLE_KWARGS]
        elif isinstance(node, ast.Call) and _call_name(node) == "use":
            styled += node.args
        if isinstance(node, ast.FormattedValue) and node.format_spec is not None:
            styled.append(node.format_spec)
        out |= {id(c) for s in styled for c in ast.walk(s) if isinstance(c, ast.Constant)}
    return out


def figure_numbers(render_code: str) -> set[float]:
    """Numbers the figure prints as text, read from the render code (see the module docstring)."""
    try:
        tree = ast.parse(render_code)
    except SyntaxError:
        return set()
    env, style = _literal_env(tree), _style_strings(tree)
    out: set[float] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in style \
                and not _COLOUR.fullmatch(node.value):
            out |= text_numbers(_FORMAT_FIELD.sub(" ", node.value))
        elif isinstance(node, ast.FormattedValue):
            out |= _shown_values(node.value, env)
        elif isinstance(node, ast.Call):
            name = _call_name(node)
            shown = list(node.args) if name in ("str", "format", "repr") else []
            if name in TEXT_CALLS and len(node.args) > TEXT_CALLS[name]:
                shown.append(node.args[TEXT_CALLS[name]])
            if name == "format" and isinstance(node.func, ast.Attribute):
                shown += [k.value for k in node.keywords]
            for arg in shown:
                out |= _shown_values(arg, env)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Constant):
            parts = node.right.elts if isinstance(node.right, ast.Tuple) else [node.right]
            for arg in parts:
                out |= _shown_values(arg, env)
    return out


def stated_quantities(question: str, render_code: str) -> frozenset[float]:
    """S: what the question and the figure state as numbers (absolute values)."""
    # 0 and 1 are left out: an origin label, "1 cm squares", "1 decimal place" are never visible in the code;
    # a lone number is usually a scale or a bound ("out of 10"), not the data: then S is empty
    found = (text_numbers(question) | figure_numbers(render_code)) - {0.0, 1.0}
    return frozenset(found) if len(found) >= 2 else frozenset()


# ----------------------------------------------------------------------------------------------------
# Literals of a code: inputs, the answer written out, perturbation
# ----------------------------------------------------------------------------------------------------


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _number_string(node: ast.AST, parent: ast.AST | None) -> bool:
    """'10' in Rational('10'): a number written as a string for a constructor."""
    return (isinstance(node, ast.Constant) and isinstance(node.value, str) and isinstance(parent, ast.Call)
            and _call_name(parent) in CONSTRUCTORS and re.fullmatch(r"\s*-?\d+(\.\d+)?(/\d+)?\s*", node.value)
            is not None)  # fmt: skip


def literal_value(node: ast.AST) -> Fraction | float | None:
    """The value of a literal-only expression (numbers, + - * / // % **, numeric constructors), else None."""
    if isinstance(node, ast.Constant):
        if is_number(node.value):
            return Fraction(node.value) if isinstance(node.value, int) else node.value
        return None
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        v = literal_value(node.operand)
        return None if v is None else (-v if isinstance(node.op, ast.USub) else v)
    if isinstance(node, ast.BinOp):
        a, b = literal_value(node.left), literal_value(node.right)
        return None if a is None or b is None else _binop(node.op, a, b)
    if isinstance(node, ast.Call) and _call_name(node) in CONSTRUCTORS | {"sqrt"} and not node.keywords \
            and 1 <= len(node.args) <= 2:
        args = [Fraction(a.value.strip()) if _number_string(a, node) else literal_value(a) for a in node.args]
        if any(a is None for a in args):
            return None
        if _call_name(node) == "sqrt":
            return math.sqrt(args[0]) if len(args) == 1 and args[0] >= 0 else None
        return args[0] if len(args) == 1 else (Fraction(args[0]) / Fraction(args[1]) if args[1] else None)
    return None


def _binop(op: ast.operator, a: Fraction | float, b: Fraction | float) -> Fraction | float | None:
    try:
        if isinstance(op, ast.Add):
            return a + b
        if isinstance(op, ast.Sub):
            return a - b
        if isinstance(op, ast.Mult):
            return a * b
        if isinstance(op, ast.Div):
            return Fraction(a) / Fraction(b) if isinstance(a, Fraction) and isinstance(b, Fraction) else a / b
        if isinstance(op, ast.FloorDiv | ast.Mod):
            return a // b if isinstance(op, ast.FloorDiv) else a % b
        if isinstance(op, ast.Pow) and abs(b) <= 64 and abs(a) < 1e12:
            r = a**b
            return r if isinstance(r, Fraction | float) else None
    except (ZeroDivisionError, OverflowError, ValueError, TypeError):
        return None
    return None


@dataclass(frozen=True)
class Literals:
    """A code's literals split by the rule: what it computes from, and whether any input is stated."""
    inputs: tuple[ast.Constant, ...]
    stated: tuple[ast.Constant, ...]
    written_out: tuple[str, ...]  # the answer written out, as source
    text_data: bool = False  # string data the code computes from ('RBRYBYRY'), when it has no number at all


def _leaves(node: ast.AST) -> list[ast.Constant]:
    parents = {id(c): p for p in ast.walk(node) for c in ast.iter_child_nodes(p)}
    return [c for c in ast.walk(node) if isinstance(c, ast.Constant)
            and (is_number(c.value) or _number_string(c, parents.get(id(c))))]


def _answer_targets(answer: str, kind: str) -> tuple[list[str], bool]:
    """The stated answer as comparable parts: one value, or a point's coordinates (and whether it is a point)."""
    if kind == "point" or (kind in ("auto", "expression") and answer.strip()[:1] in "([" and "," in answer):
        try:
            items, _, _ = parse_tuple(answer)
            return items, True
        except ParseError:
            return [answer], False
    return [answer], False


def _equals(target: str, value: Fraction | float) -> bool:
    shown = str(value) if isinstance(value, Fraction) else repr(float(value))
    return equivalent(target, shown, kind="expression").equal


def _written_out(node: ast.AST, value, targets: list[str], point: bool, stated: frozenset[float]) -> bool:
    if point:
        return False
    bare = _plain(node) or (isinstance(node, ast.Call) and _call_name(node) in CONSTRUCTORS
                            and all(_plain(a) for a in node.args))
    if not bare and (not stated or any(_in(float(_leaf_value(c)), stated) for c in _leaves(node))):
        return False
    return _equals(targets[0], value)


def _plain(node: ast.AST) -> bool:
    """A number as written: 42, -4.5, '10'."""
    while isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        node = node.operand
    return isinstance(node, ast.Constant)


def _pair_written_out(node: ast.AST, targets: list[str]) -> bool:
    """(-4, -1), [x, y] or Point(-4, -1) of numbers equal to a stated point."""
    elts = node.elts if isinstance(node, ast.Tuple | ast.List) else node.args if isinstance(node, ast.Call) else []
    if len(elts) != len(targets) or len(targets) < 2:
        return False
    values = [literal_value(e) for e in elts]
    return all(v is not None and _equals(t, v) for v, t in zip(values, targets, strict=True))


def split_literals(code: str, stated: frozenset[float], answer: str, kind: str = "auto") -> Literals | None:
    """The code's literals under the rule; None when the code does not parse."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    targets, point = _answer_targets(answer, kind)
    inputs, stated_inputs, written = [], [], []
    todo: list[tuple[ast.AST, ast.AST | None]] = [(tree, None)]
    while todo:
        node, parent = todo.pop()
        if point and _pair_written_out(node, targets):
            written.append(ast.unparse(node))
            continue
        if isinstance(node, ast.Subscript):  # an index picks a result (`solve(...)[0]`), it is not data
            todo.append((node.value, node))
            continue
        value = literal_value(node) if isinstance(node, ast.expr) else None
        if value is None:
            todo.extend((child, node) for child in reversed(list(ast.iter_child_nodes(node))))
            continue
        leaves = _leaves(node)
        if _standalone(parent) and _written_out(node, value, targets, point, stated):
            written.append(ast.unparse(node))
            continue
        inputs += leaves
        whole = _in(float(value), stated)
        stated_inputs += [c for c in leaves if whole or _in(float(_leaf_value(c)), stated)]
    return Literals(tuple(inputs), tuple(stated_inputs), tuple(written), _text_data(tree, answer))


def _standalone(parent: ast.AST | None) -> bool:
    """A value printed or stored as it is (`print(42)`, `x = 42`, `float(42)`), not an operand or data item
    (`binomial(6, 2)`, `[15, 5, 15]`)."""
    if isinstance(parent, ast.Call):
        return _call_name(parent) in WRITERS
    return parent is None or isinstance(parent, ast.Assign | ast.AnnAssign | ast.Return | ast.Expr |
                                        ast.FormattedValue)


def _text_data(tree: ast.AST, answer: str) -> bool:
    """Strings that are data: not keyword values, format strings, symbol names, or (text holding) the answer."""
    skip = {id(c) for n in ast.walk(tree) for c in ast.walk(n) if isinstance(n, ast.keyword | ast.JoinedStr)
            or (isinstance(n, ast.Call) and _call_name(n) in ("symbols", "Symbol", "print", "format"))}
    wanted = answer.strip().replace(" ", "")
    return any(isinstance(c, ast.Constant) and isinstance(c.value, str) and len(c.value) >= 2 and id(c) not in skip
               and not (wanted and wanted in c.value.replace(" ", "")) for c in ast.walk(tree))


def _leaf_value(c: ast.Constant) -> Fraction | float:
    return c.value if is_number(c.value) else Fraction(c.value.strip())


def _measured(lits: Literals) -> bool:
    """Two or more inputs with two or more decimals: coordinates measured off the drawing (0.3548, 173.168), data
    the problem shows without stating; a number worked out by hand (64, 84, 12.5) does not look like that."""
    return sum(1 for c in lits.inputs if isinstance(c.value, float) and round(c.value * 10, 9) % 1) >= 2


def static_reason(lits: Literals | None, stated: frozenset[float]) -> str | None:
    """Rule (a): why the code cannot depend on the stated quantities, or None."""
    if lits is None:
        return None  # does not parse: the sandbox run reports the error
    shown = f" (prints {lits.written_out[0][:60]!r}, the answer written out)" if lits.written_out else ""
    if not lits.inputs and (lits.written_out or not lits.text_data):
        return "no number in the code except the answer itself" + shown
    if not lits.inputs:
        return None  # computes from string data only ('RBRYBYRY'.count('R')): nothing to perturb
    if stated and not lits.stated and not _measured(lits):
        numbers = ", ".join(sorted({f"{float(_leaf_value(c)):g}" for c in lits.inputs})[:8])
        quantities = ", ".join(f"{s:g}" for s in sorted(stated)[:8])
        return f"uses none of the stated quantities ({quantities}); its numbers are {numbers}"
    return None


STEPS = (1, 2, 3)  # the k-th input grows by STEPS[k % 3] halves of itself (at least 1): large and uneven, so
# neither a shift or scaling of every number at once (areas, angles) nor an order-preserving nudge (a count
# above the mean) can leave a computing code's output unchanged


def _bumped(value: int | float | Fraction, k: int) -> int | float | Fraction:
    step = STEPS[k % len(STEPS)]
    if isinstance(value, int | Fraction):  # + step as well: 1/3 must not become 3/9
        return value + step * max(1, math.ceil(abs(value) / 2)) + step
    return value * (1 + step / 2) if value else step / 2


def perturbed_code(code: str, lits: Literals) -> str:
    """The code with every input literal changed (rule (b)); ast-unparsed, so formatting differs."""
    tree = ast.parse(code)
    spans = sorted({(c.lineno, c.col_offset, c.end_lineno, c.end_col_offset) for c in lits.inputs})
    wanted = {span: k for k, span in enumerate(spans)}

    class Bump(ast.NodeTransformer):
        def visit_Constant(self, node: ast.Constant) -> ast.Constant:
            k = wanted.get((node.lineno, node.col_offset, node.end_lineno, node.end_col_offset))
            if k is None:
                return node
            if isinstance(node.value, str):
                return ast.copy_location(ast.Constant(str(_bumped(Fraction(node.value.strip()), k))), node)
            return ast.copy_location(ast.Constant(_bumped(node.value, k)), node)

    return ast.unparse(Bump().visit(tree))


def same_output(normal: str, perturbed: str) -> bool:
    """Rule (b): the perturbed run printed the same last line (also "42" vs "42.0")."""
    if not perturbed:
        return False  # printed nothing: inconclusive
    if normal == perturbed:
        return True
    try:
        return _close(float(normal), float(perturbed))
    except ValueError:
        return False



@dataclass(frozen=True)
class Plan:
    """What rule (a) decided about one code, and the perturbed code rule (b) runs when (a) passed."""

    which: str  # "answer_code" | "check_code"
    static: str | None
    perturbed: str | None


def plan(p: Problem, which: str, stated: frozenset[float] | None = None) -> Plan:
    stated = stated_quantities(p.question, p.render_code) if stated is None else stated
    code = getattr(p, which)
    lits = split_literals(code, stated, p.answer, p.answer_kind)
    reason = static_reason(lits, stated)
    runs = reason is None and lits is not None and bool(lits.inputs)
    return Plan(which, reason, perturbed_code(code, lits) if runs else None)


def constant_reason(pl: Plan, normal: SandboxResult, perturbed: SandboxResult | None) -> str | None:
    """`constant_answer_code: <which> ...` when rule (a) or (b) says the code prints a constant, else None."""
    if pl.static is not None:
        return f"constant_answer_code: {pl.which} {pl.static}"
    if perturbed is not None and normal.ok and perturbed.ok and same_output(normal.last_line(), perturbed.last_line()):
        return (f"constant_answer_code: {pl.which} prints {normal.last_line()[:60]!r} even with every input "
                "number changed")
    return None
