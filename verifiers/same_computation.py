"""Is a check code the answer code's computation again? (verify stage, reason `copied_check_code`)

Both codes reduce to a normal form and equal normal forms are the same computation: imports and docstrings
dropped; names assigned once at top level by a plain assignment inlined into later statements; module prefixes
(`np.`, `sympy.`, `math.`, any imported module alias) stripped; conversion wrappers (float, int, str, repr,
round, N, evalf, n, simplify, doit, nsimplify, sympify, S, Float, format, abs, a one-value f-string) dropped;
literal-only expressions folded to their value (`Rational(1, 2)` is 0.5); division by a number made a
multiplication; operands of + and * sorted; the remaining names the code binds renamed v0, v1, ... in order of
appearance; symbol names (`symbols('x')`) made one. So `a = 6; b = 7; print(a*b/2)` and
`print(float(0.5 * 7.0 * 6))` are copies, while a sympy `Polygon(...).area` and a shoelace loop over the same
points are not. Test: `pytest tests/test_independence.py`.
"""

from __future__ import annotations

import ast
import builtins

from verifiers.independence import is_number, literal_value

WRAPPERS = frozenset({"float", "int", "str", "round", "N", "evalf", "n", "simplify", "nsimplify", "sympify", "S",
                      "Float", "format", "abs", "repr"})  # fmt: skip
MAX_NORMAL_FORM = 200_000  # characters: inlining a name used everywhere can blow up; beyond this, compare nothing

# ----------------------------------------------------------------------------------------------------


def _assign_counts(tree: ast.Module) -> dict[str, int]:
    counts: dict[str, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            counts[node.id] = counts.get(node.id, 0) + 1
        elif isinstance(node, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef):
            counts[node.name] = counts.get(node.name, 0) + 1
    return counts


def _single_assignments(stmt: ast.stmt, counts: dict[str, int]) -> list[tuple[str, ast.expr]] | None:
    """`x = e` or `a, b = e1, e2` binding names assigned nowhere else; None for any other statement."""
    if not isinstance(stmt, ast.Assign) or len(stmt.targets) != 1:
        return None
    target, value = stmt.targets[0], stmt.value
    if isinstance(target, ast.Name):
        pairs = [(target, value)]
    elif isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple) and len(target.elts) == len(value.elts):
        pairs = list(zip(target.elts, value.elts, strict=True))
    else:
        return None
    if all(isinstance(t, ast.Name) and counts.get(t.id) == 1 for t, _ in pairs):
        return [(t.id, v) for t, v in pairs]
    return None


class _Normalise(ast.NodeTransformer):
    """Bottom-up: inline, strip module prefixes and wrappers, fold numbers, sort commutative operands."""

    def __init__(self, inline: dict[str, ast.expr], modules: set[str]):
        self.inline, self.modules = inline, modules

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if isinstance(node.ctx, ast.Load) and node.id in self.inline:
            return self.inline[node.id]
        return node

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        node = self.generic_visit(node)
        if isinstance(node.value, ast.Name) and node.value.id in self.modules:
            return ast.Name(node.attr, node.ctx)
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        node = self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id in ("symbols", "Symbol", "Dummy"):  # symbols('x') = ('t')
            node.args = [ast.Constant("s") if isinstance(a, ast.Constant) else a for a in node.args]
        if isinstance(node.func, ast.Attribute) and node.func.attr in ("evalf", "n", "simplify", "doit"):
            return node.func.value
        if isinstance(node.func, ast.Name) and node.func.id in WRAPPERS and node.args:
            return node.args[0]
        return self._fold(node)

    def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.AST:
        node = self.generic_visit(node)
        values = [v for v in node.values if isinstance(v, ast.FormattedValue)]
        return values[0].value if len(values) == 1 and len(node.values) == 1 else node

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        return self._fold(self.generic_visit(node))

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        node = self._fold(self.generic_visit(node))
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and isinstance(node.right, ast.Constant) \
                and is_number(node.right.value) and node.right.value:
            node = ast.BinOp(node.left, ast.Mult(), ast.Constant(round(1 / node.right.value, 12)))
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mult):
            op = type(node.op)
            flat = _flatten(node, op)
            flat.sort(key=ast.dump)
            node = flat[0]
            for operand in flat[1:]:
                node = ast.BinOp(node, op(), operand)
        return node

    @staticmethod
    def _fold(node: ast.AST) -> ast.AST:
        value = literal_value(node)
        return ast.Constant(round(float(value), 12)) if value is not None else node


def _flatten(node: ast.AST, op: type) -> list[ast.AST]:
    if isinstance(node, ast.BinOp) and isinstance(node.op, op):
        return _flatten(node.left, op) + _flatten(node.right, op)
    return [node]


def _rename(tree: ast.AST, keep: set[str]) -> None:
    """Names the code binds become v0, v1, ... in order of appearance; imported and builtin names stay."""
    names: dict[str, str] = {}
    seen: set[int] = set()  # an inlined expression can sit in the tree twice: rename each node once

    def canon(name: str) -> str:
        return name if name in keep else names.setdefault(name, f"v{len(names)}")

    for node in ast.walk(tree):
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, ast.Name):
            node.id = canon(node.id)
        elif isinstance(node, ast.arg):
            node.arg = canon(node.arg)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            node.name = canon(node.name)


def normal_form(code: str) -> str | None:
    """The code reduced to its computation (see the module docstring); None if it does not parse or explodes."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    modules, imported = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported |= {a.asname or a.name for a in node.names}
            modules |= {a.asname or a.name for a in node.names if a.name in ("stats", "linalg", "geometry")}
    counts, inline, body = _assign_counts(tree), {}, []
    for stmt in tree.body:
        if isinstance(stmt, ast.Import | ast.ImportFrom) or (isinstance(stmt, ast.Expr)
                                                              and isinstance(stmt.value, ast.Constant)):
            continue
        stmt = _Normalise(inline, modules).visit(stmt)
        pairs = _single_assignments(stmt, counts)
        if pairs is None:
            body.append(stmt)
        else:
            inline.update(pairs)
        if sum(len(ast.dump(v)) for v in inline.values()) > MAX_NORMAL_FORM:
            return None
    module = ast.Module(body=body, type_ignores=[])
    _rename(module, imported | modules | set(dir(builtins)) | {"print"})
    out = ast.dump(module, annotate_fields=False)
    return out if len(out) <= MAX_NORMAL_FORM else None


def copied(answer_code: str, check_code: str) -> bool:
    """The check code is the answer code's computation again (equal normal forms)."""
    a = normal_form(answer_code)
    return a is not None and a == normal_form(check_code)
