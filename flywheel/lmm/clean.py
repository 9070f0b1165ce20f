"""Clean single fields of model output: code to the pixel-space contract, answers to plain text, LaTeX rescued.

Used by `flywheel/lmm/parse.py` (and `review.py` for answers). Code is only parsed with `ast`, never run:
output calls (`show`, `savefig`, `close`, `tight_layout`) are removed because the sandbox saves open figures
itself, and the canvas preamble of `flywheel/canvas.py` is prepended where the model wrote only
drawing lines. Tool code that saves a picture to a file of its own (`plt.imsave`, PIL's `.save`) has the
picture drawn into the preamble's `ax` instead: the step's image is what `ax` shows, a saved file is never
picked up. Test: `pytest tests/test_lmm_parse.py`.
"""

from __future__ import annotations

import ast
import json
import re
import textwrap
from typing import Any

from flywheel.canvas import canvas_code, tool_canvas_code

OUTPUT_CALLS = frozenset({"show", "savefig", "close", "tight_layout"})
_FENCE = re.compile(r"```[ \t]*[\w+.-]*[ \t]*\n?(.*?)(?:```|\Z)", re.DOTALL)
_MAKES_FIGURE = re.compile(r"\b(plt\.(figure|subplots|subplot|axes)|add_axes|add_subplot)\s*\(")
# JSON and Python read "\t", "\b", "\f", "\r" (and "\n", "\a", "\v") as control characters, so LaTeX written
# with one backslash ("\times", "\frac", "\beta") arrives mangled; these put the backslash back. Newline and
# tab are only restored before a LaTeX name, since both are common on purpose.
_ALWAYS = {"\x07": "\\a", "\x08": "\\b", "\x0b": "\\v", "\x0c": "\\f"}
_BEFORE_NAME = (  # the control character, the letter it swallowed, and what must follow for a LaTeX name
    ("\t", "t", "imes|heta|ext|extbf|an|riangle|au|frac|op"),
    ("\r", "r", "ight|ho|angle|floor|ceil"),
    ("\n", "n", "eq|abla|otin|geq|leq|parallel|cong"),
)


# A plain rational ("3/4", "-7/2", "\frac{3}{4}"): answer kind "number" (the prompt says so; "expression" is for
# radicals, pi and symbols), whatever kind the model or a procedural family gave it. Both compare the same way.
_RATIONAL = re.compile(r"[-+]?\d+(\.\d+)?\s*/\s*\d+(\.\d+)?|[-+]?\\d?frac\{\d+\}\{\d+\}")


def is_rational(answer: str) -> bool:
    r"""A fraction of two plain numbers.

    >>> is_rational("3/4"), is_rational(r"\frac{3}{4}"), is_rational("3*sqrt(2)"), is_rational("7")
    (True, True, False, False)
    """
    return bool(_RATIONAL.fullmatch(answer.strip()))


class FieldError(ValueError):
    """A field has a shape no cleaning can fix; parse turns it into a `bad_field` failure (never escapes)."""


def clean_latex(s: str) -> str:
    r"""Undo control characters that single-backslash LaTeX turned into.

    >>> clean_latex("\x0crac{1}{2} and 3\times 4")
    '\\frac{1}{2} and 3\\times 4'
    """
    for ch, fix in _ALWAYS.items():
        s = s.replace(ch, fix)
    for ch, letter, rests in _BEFORE_NAME:
        s = re.sub(f"{re.escape(ch)}(?=(?:{rests})(?![A-Za-z]))", "\\\\" + letter, s)
    return s


def unbox(s: str) -> str | None:
    r"""The contents of the last `\boxed{...}` (braces balanced), or None.

    >>> unbox(r"so x = \boxed{\frac{3}{4}}.")
    '\\frac{3}{4}'
    """
    start = max(s.rfind("\\boxed{"), s.rfind("\\fbox{"))
    if start < 0:
        return None
    i = s.index("{", start) + 1
    depth, j = 1, i
    while j < len(s) and depth:
        depth += {"{": 1, "}": -1}.get(s[j], 0)
        j += 1
    return s[i : j - 1].strip() if depth == 0 else None


def _number(v: float | int) -> str:
    return str(int(v)) if isinstance(v, float) and v.is_integer() and abs(v) < 1e15 else str(v)


def clean_answer(value: Any) -> str:
    r"""An answer as the plain text the equivalence checker reads.

    >>> clean_answer(r"The answer is $\boxed{12}$."), clean_answer(7.0), clean_answer([3, -4.5])
    ('12', '7', '(3, -4.5)')
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return _number(value)
    if isinstance(value, list | tuple):
        parts = [clean_answer(v) for v in value]
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        return f"({', '.join(parts)})" if numeric and len(parts) == 2 else ", ".join(parts)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    s = clean_latex(str(value)).strip()
    boxed = unbox(s)
    s = boxed if boxed is not None else s
    s = re.sub(r"^\s*(?:\*\*)?(?:final\s+)?answer\s*(?:is)?\s*[:=]?\s*(?:\*\*)?\s*", "", s, flags=re.IGNORECASE)
    s = re.sub(r"^the answer is\s*", "", s, flags=re.IGNORECASE).strip()
    for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"), ("**", "**")):
        if s.startswith(left) and s.endswith(right) and len(s) > len(left) + len(right):
            s = s[len(left) : -len(right)].strip()
    return s[:-1].rstrip() if s.endswith(".") and len(s) > 1 else s  # "Yes." -> "Yes", "12." -> "12"


def clean_code(value: Any, name: str, fixes: list[str]) -> str:
    """Code as one dedented string: fences stripped, lists of lines joined, doubly escaped newlines undone."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        value = "\n".join(value)
    if not isinstance(value, str):
        raise FieldError(f"{name} must be code text, got {type(value).__name__}")
    code = value
    if "```" in code:
        blocks = [b for b in _FENCE.findall(code) if b.strip()]
        code = "\n".join(blocks) if blocks else code.replace("```", "")
        fixes.append("code_fence_stripped")
    if "\n" not in code.strip() and "\\n" in code and not _parses(code):
        unescaped = code.replace("\\n", "\n").replace("\\t", "\t").replace('\\"', '"')
        if _parses(unescaped):
            code = unescaped
            fixes.append("code_unescaped")
    code = textwrap.dedent(code.replace("\r\n", "\n")).strip("\n")
    return "\n".join(line.rstrip() for line in code.split("\n")) + "\n"


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def strip_output_calls(code: str, fixes: list[str]) -> str:
    """Remove top-level `plt.show()`, `savefig(...)`, `close(...)`, `tight_layout()` statements.

    The sandbox saves every open figure at its own size: a `close` would lose the figure, a `savefig` with
    `bbox_inches='tight'` would crop away the pixel coordinates. Code that does not parse is left alone (the
    render stage reports its error).
    """
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return code
    targets = [n for n in tree.body if _call_name(n) in OUTPUT_CALLS]
    if not targets:
        return code
    fixes.append("output_calls_removed")
    return _replace_statements(code, [(n, "") for n in targets])


def _call_name(n: ast.stmt) -> str | None:
    """The called name of a top-level expression statement `f(...)` / `x.f(...)`, else None."""
    if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Call)):
        return None
    return getattr(n.value.func, "attr", getattr(n.value.func, "id", None))


def _replace_statements(code: str, edits: list[tuple[ast.stmt, str]]) -> str:
    """Each statement replaced by its new text ("" removes it; `pass` keeps a shared line valid)."""
    lines = code.split("\n")
    for n, new in sorted(edits, key=lambda e: (e[0].lineno, e[0].col_offset), reverse=True):  # bottom up
        head = lines[n.lineno - 1].encode()[: n.col_offset].decode()
        tail = lines[n.end_lineno - 1].encode()[n.end_col_offset :].decode()  # type: ignore[index]
        alone = not head.strip() and tail.strip() in ("", ";")
        lines[n.lineno - 1 : n.end_lineno] = ([new] if new else []) if alone else [head + (new or "pass") + tail]
    return "\n".join(lines)


def _saved_picture(n: ast.stmt) -> str | None:
    """The picture a top-level `plt.imsave(name, arr)` or `<PIL image>.save('x.png')` writes, as source."""
    name, call = _call_name(n), getattr(n, "value", None)
    if name == "imsave" and isinstance(call, ast.Call) and len(call.args) >= 2:
        return ast.unparse(call.args[1])
    if name == "save" and isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.args:
        target = call.args[0]
        if isinstance(target, ast.Constant) and re.search(r"\.(png|jpe?g)$", str(target.value), re.IGNORECASE):
            return ast.unparse(call.func.value)
    return None


def redirect_saves(code: str, width: int, height: int, fixes: list[str]) -> tuple[str, bool]:
    """Tool code that saves a picture to a file (a crop or zoom, typically) draws it into `ax` instead, filling
    the canvas, so it becomes the step's image; True when something was redirected.

    >>> redirect_saves("im.crop((0, 0, 9, 9)).save('zoom.png')", 600, 480, [])[0]
    'ax.imshow(np.asarray(im.crop((0, 0, 9, 9))), extent=(0, 600, 480, 0))'
    """
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return code, False
    edits = [(n, f"ax.imshow(np.asarray({pic}), extent=(0, {width}, {height}, 0))")
             for n in tree.body if (pic := _saved_picture(n)) is not None]
    if not edits:
        return code, False
    fixes.append("tool_file_save_redirected")
    return _replace_statements(code, edits), True


def with_canvas(code: str, width: int, height: int, fixes: list[str]) -> str:
    """Render code under the pixel-space contract: the canvas preamble first unless the code makes its own
    figure (kept as written and noted; the image check then tells whether it honoured the contract)."""
    code = strip_output_calls(code, fixes)
    if _MAKES_FIGURE.search(code):
        fixes.append("own_figure")
        return code
    return canvas_code(width, height) + code


def tool_code_contract(code: str, width: int, height: int, fixes: list[str]) -> str:
    """Tool code that starts from `image.png`: the tool preamble first unless the code loads the image itself
    (and draws into its own figure); a picture saved to a file is drawn into the preamble's `ax` instead."""
    code = strip_output_calls(code, fixes)
    code, redirected = redirect_saves(code, width, height, fixes)
    if redirected and not _MAKES_FIGURE.search(code):
        return tool_canvas_code(width, height) + code
    if "imread" in code or "image.png" in code:
        fixes.append("own_tool_canvas")
        return code
    if _MAKES_FIGURE.search(code):
        fixes.append("tool_code_ignores_image")
        return code
    return tool_canvas_code(width, height) + code
