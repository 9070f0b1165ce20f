"""Read answer text (plain, LaTeX or unicode) into a small expression tree, without ever calling eval.

Used by `verifiers/equivalence.py`. The parser is a hand-written tokenizer plus recursive descent over a
whitelist of operators, function names and constants; `sympify`/`parse_expr` are never used because they
eval model-written text. Length, token count, nesting depth and exponent sizes are capped, so hostile input
fails fast with `ParseError` instead of hanging. Test: `pytest tests/test_equivalence.py`.
"""

from __future__ import annotations

import re
import unicodedata
from fractions import Fraction

MAX_CHARS = 2000  # longer "answers" are not answers; also bounds every regex and the parser
MAX_TOKENS = 400
MAX_DEPTH = 40  # bracket nesting and recursion depth, far below Python's recursion limit
MAX_SCI_EXP = 400  # 1e999999999 would build a gigantic Fraction

FUNCS = frozenset(
    "sqrt cbrt root sin cos tan cot sec csc asin acos atan arcsin arccos arctan sinh cosh tanh exp ln log abs"
    .split()
)
CONSTS = frozenset({"pi", "e"})
GREEK = frozenset(
    "alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi rho sigma "
    "tau upsilon phi varphi chi psi omega".split()
)
_NAMES = sorted(FUNCS | CONSTS | GREEK, key=len, reverse=True)

# ("num", Fraction) | ("sym", str) | ("const", str) | ("neg", a) | (op, a, b) | ("fn", name, args)
Node = tuple


class ParseError(ValueError):
    """The text is not an answer this module can read; the message says why."""


def matching(s: str, i: int) -> int:
    """Index of the bracket closing the one at s[i] (counting only that bracket kind), or -1."""
    opener, closer = s[i], {"(": ")", "[": "]", "{": "}"}[s[i]]
    depth = 0
    for j in range(i, len(s)):
        depth += (s[j] == opener) - (s[j] == closer)
        if depth == 0:
            return j
    return -1


# ---------------------------------------------------------------- LaTeX and unicode to plain text
_LATEX_SYMBOLS = {
    "pi": " pi ", "cdot": "*", "times": "*", "ast": "*", "div": "/", "circ": "°", "degree": "°",
    "%": "%", "$": "$", "{": "{", "}": "}", "approx": "≈", "sim": "≈", "simeq": "≈", "neq": "≠",
    "le": "≤", "leq": "≤", "ge": "≥", "geq": "≥", "infty": "∞", "in": " in ", "pm": "±",
}  # fmt: skip
_LATEX_SPACES = frozenset(
    "left right displaystyle textstyle , ; : ! quad qquad big Big bigl bigr Bigl Bigr middle limits".split()
) | {" "}
_LATEX_WRAPPERS = frozenset(
    "boxed fbox text textrm textbf textit mathrm mathbf mathit mbox operatorname mathsf rm bf".split()
)


def _latex_arg(s: str, i: int, depth: int) -> tuple[str, int]:
    """One macro argument at s[i]: a braced group, a command, or one character."""
    while i < len(s) and s[i] == " ":
        i += 1
    if i >= len(s):
        raise ParseError("LaTeX macro is missing an argument")
    if s[i] == "{":
        end = matching(s, i)
        if end < 0:
            raise ParseError("unbalanced braces")
        return latex_to_plain(s[i + 1 : end], depth + 1), end + 1
    if s[i] == "\\":
        m = re.compile(r"\\([A-Za-z]+|.)").match(s, i)
        return latex_to_plain(m.group(0), depth + 1), m.end()
    return s[i], i + 1


def _frac(out: list[str], a: str, b: str) -> str:
    """`\\frac{a}{b}`; after a bare integer with integer a, b it is a mixed number (2\\frac12 = 2.5)."""
    before = "".join(out)
    m = re.search(r"(\d+)\s*$", before)
    a, b = a.strip(), b.strip()
    if m and a.isdigit() and b.isdigit() and not re.search(r"[\w.)^]\s*$", before[: m.start()]):
        out[:] = [before[: m.start()]]
        return f"({m.group(1)}+{a}/{b})"
    return f"(({a})/({b}))"


def _latex_command(s: str, i: int, name: str, out: list[str], depth: int) -> int:
    """Append the plain form of command `name` (already consumed up to i); return the new index."""
    if name in ("frac", "dfrac", "tfrac", "cfrac"):
        a, i = _latex_arg(s, i, depth)
        b, i = _latex_arg(s, i, depth)
        out.append(_frac(out, a, b))
    elif name == "sqrt":
        index = None
        m = re.compile(r"\s*\[([^\]]*)\]").match(s, i)
        if m:
            index, i = latex_to_plain(m.group(1), depth + 1), m.end()
        a, i = _latex_arg(s, i, depth)
        out.append(f" sqrt({a})" if index is None else f" root({a},{index})")
    elif name in _LATEX_WRAPPERS:
        a, i = _latex_arg(s, i, depth)
        out.append(f" {a} ")
    elif name in _LATEX_SPACES:
        out.append(" ")
    else:
        out.append(_LATEX_SYMBOLS.get(name, f" {name} "))  # \sin, \theta, \alpha ... keep the bare name
    return i


def latex_to_plain(s: str, depth: int = 0) -> str:
    """Rewrite LaTeX math as plain infix text: `\\frac{1}{2}` -> `((1)/(2))`, `x^{2}` -> `x^(2)`."""
    if depth > MAX_DEPTH:
        raise ParseError("LaTeX nested too deeply")
    latexish = "\\" in s
    out: list[str] = []
    i = 0
    while i < len(s):
        ch = s[i]
        if ch == "\\":
            m = re.compile(r"\\([A-Za-z]+|.?)").match(s, i)
            i = _latex_command(s, m.end(), m.group(1), out, depth)
        elif ch in "^_" and i + 1 < len(s) and s[i + 1] == "{":
            end = matching(s, i + 1)
            if end < 0:
                raise ParseError("unbalanced braces")
            inner = latex_to_plain(s[i + 2 : end], depth + 1)
            out.append(f"^({inner})" if ch == "^" else "_" + re.sub(r"\W", "", inner))
            i = end + 1
        elif ch in "{}" and latexish:  # in LaTeX bare braces group; in plain text they mark a set
            out.append("(" if ch == "{" else ")")
            i += 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


_UNICODE = str.maketrans(
    {
        "−": "-", "–": "-", "—": "-", "×": "*", "·": "*", "⋅": "*", "∙": "*", "÷": "/", "π": " pi ",
        "∛": " cbrt ", "θ": " theta ", "α": " alpha ", "β": " beta ", "°": " ° ", "º": " ° ",
        "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u2002": " ", "\u2003": " ", "（": "(", "）": ")",
        "，": ",", "：": ":", "＝": "=",
    }
)  # fmt: skip
_SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+")


def normalise_unicode(s: str) -> str:
    """Map unicode math to ASCII forms: `2√3` stays (√ is an operator), `x²` -> `x^(2)`, `½` -> ` 1/2`."""
    s = s.translate(_UNICODE)
    s = re.sub(r"[⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺]+", lambda m: "^(" + m.group(0).translate(_SUPERSCRIPT) + ")", s)
    s = re.sub(r"[\u00bc-\u00be\u2150-\u215e]", lambda m: " " + _vulgar(m.group(0)), s)
    return s


def _vulgar(ch: str) -> str:
    value = Fraction(unicodedata.numeric(ch)).limit_denominator(100)
    return f"{value.numerator}/{value.denominator}"


def to_plain(s: str) -> str:
    """Length-check, then LaTeX and unicode to plain text, with `$`, `\\(...\\)` and markdown stripped."""
    if len(s) > MAX_CHARS:
        raise ParseError(f"answer longer than {MAX_CHARS} characters")
    if _max_nesting(s) > MAX_DEPTH:
        raise ParseError("brackets nested too deeply")
    s = re.sub(r"\\[()\[\]]", " ", s)  # \( \) \[ \] math delimiters
    s = normalise_unicode(latex_to_plain(s))
    s = re.sub(r"\^\s*\(?\s*°\s*\)?", " ", s).replace("°", " ")  # 45^\circ, 45°: degrees are a unit
    return s.replace("$", " ").replace("**", "^").replace("`", " ").strip()


def _max_nesting(s: str) -> int:
    depth = top = 0
    for ch in s:
        if ch in "([{":
            depth += 1
            top = max(top, depth)
        elif ch in ")]}":
            depth -= 1
    return top


# ---------------------------------------------------------------- number decorations (units, %, "x =")
_UNIT_WORDS = (
    "mm cm dm km m in inch inches ft feet foot yd yard yards mi mile miles kg g mg lb lbs oz s sec secs "
    "second seconds min mins minute minutes h hr hrs hour hours ms l ml liter liters litre litres meter "
    "meters metre metres centimeter centimeters centimetre centimetres millimeter millimeters kilometer "
    "kilometers unit units deg degree degrees rad rads radian radians dollar dollars cent cents usd percent "
    "pixel pixels px"
).split()
_UNIT_TAIL = re.compile(
    r"\s*(?:(?:square|sq\.?|cubic|cu\.?)\s*)?(?<![A-Za-z])(?:"
    + "|".join(sorted(_UNIT_WORDS, key=len, reverse=True))
    + r")\.?(?:\s*\^\s*\(?\s*[23]\s*\)?)?\s*$",
    re.I,
)
_LEAD_WORDS = re.compile(r"^\s*(?:approximately|approx\.?|about|around|roughly|nearly|exactly|≈|~)\s*", re.I)


def strip_number_decorations(s: str) -> tuple[str, bool]:
    """Drop units, currency, degree marks, "≈", a `name =` prefix and thousands commas; report a `%`.

    >>> strip_number_decorations("AB = 1,234.5 cm")
    ('1234.5', False)
    """
    if "=" in s:
        s = s[s.rindex("=") + 1 :]
    s = s.replace("°", " ").replace("€", " ").replace("£", " ")
    percent = "%" in s or re.search(r"percent\s*$", s, re.I) is not None
    s = s.replace("%", " ")
    for _ in range(4):  # "12 sq cm", "≈ 3 m^2", "12 apples": each pass removes one unit or lead word
        new = _LEAD_WORDS.sub("", _UNIT_TAIL.sub("", s))
        tail = re.search(r"(?<=[\d)\s])[A-Za-z]{3,}\.?\s*$", new)
        if tail and tail.group(0).rstrip(". ") not in FUNCS | CONSTS | GREEK:
            new = new[: tail.start()]
        if new == s or not new.strip():
            break
        s = new
    s = re.sub(r"(?<![\d.,])(\d{1,3}(?:,\d{3})+)(?![\d,])", lambda m: m.group(1).replace(",", ""), s)
    s = re.sub(r"(?<![\w.)^/])(\d+)\s+(\d+)\s*/\s*(\d+)(?![\w.(^])", r"(\1+\2/\3)", s)  # mixed number
    return s.strip(), percent


# ---------------------------------------------------------------- tokenizer and parser
_TOKEN = re.compile(
    r"\s*(?:(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|(?P<id>[A-Za-z]+(?:_[A-Za-z0-9]+)?)"
    r"|(?P<op>\^|[-+*/(),√\[\]]))"
)


def _split_word(word: str) -> list[tuple[str, str]]:
    """A letter run as known names and single-letter symbols: `sinx` -> sin, x; `xy` -> x, y."""
    base, _, sub = word.partition("_")
    parts: list[tuple[str, str]] = []
    i = 0
    while i < len(base):
        name = next((n for n in _NAMES if base.startswith(n, i)), base[i])
        kind = "fn" if name in FUNCS else "const" if name in CONSTS else "sym"
        parts.append((kind, name))
        i += len(name)
    if sub:
        parts[-1] = ("sym", parts[-1][1] + "_" + sub)
    return parts


def tokenize(s: str) -> list[tuple[str, str]]:
    """Tokens as (kind, text) with kind in num, sym, const, fn, op; anything else is a ParseError."""
    tokens: list[tuple[str, str]] = []
    i, s = 0, s.rstrip()
    while i < len(s):
        m = _TOKEN.match(s, i)
        if not m or m.end() == i:
            raise ParseError(f"unexpected character {s[i:].lstrip()[:1]!r}")
        i = m.end()
        if m.group("num"):
            tokens.append(("num", m.group("num")))
        elif m.group("id"):
            if len(m.group("id")) > MAX_TOKENS:
                raise ParseError("too many tokens")
            tokens.extend(_split_word(m.group("id")))
        else:
            op = m.group("op")
            tokens.append(("op", {"[": "(", "]": ")"}.get(op, op)))
        if len(tokens) > MAX_TOKENS:
            raise ParseError("too many tokens")
    return tokens


def _number(text: str) -> Fraction:
    exp = re.search(r"[eE]([+-]?\d+)$", text)
    if exp and abs(int(exp.group(1))) > MAX_SCI_EXP:
        raise ParseError("exponent too large")
    return Fraction(text)


class _Parser:
    """Recursive descent: expr := term (+|- term)*; term := unary ((*|/|implicit) unary)*;
    unary := (-|+) unary | power; power := atom (^ unary)?; atom := num | name | (expr) | fn arg | √ atom.
    """

    def __init__(self, tokens: list[tuple[str, str]]):
        self.tokens, self.i, self.depth = tokens, 0, 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.i] if self.i < len(self.tokens) else ("end", "")

    def take(self, text: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok[0] == "end" or (text is not None and tok[1] != text):
            raise ParseError(f"expected {text or 'more input'} at token {self.i}")
        self.i += 1
        return tok

    def nest(self, delta: int) -> None:
        self.depth += delta
        if self.depth > 3 * MAX_DEPTH:
            raise ParseError("expression nested too deeply")

    def expr(self) -> Node:
        self.nest(1)
        node = self.term()
        while self.peek() in (("op", "+"), ("op", "-")):
            op = self.take()[1]
            node = (op, node, self.term())
        self.nest(-1)
        return node

    def term(self) -> Node:
        node = self.unary()
        while True:
            kind, text = self.peek()
            if (kind, text) in (("op", "*"), ("op", "/")):
                self.take()
                node = (text, node, self.unary())
            elif kind in ("sym", "const", "fn") or (kind, text) in (("op", "("), ("op", "√")):
                node = ("*", node, self.unary())  # implicit multiplication: 2x, 2(x+1), (x-1)(x+1), 2√3
            elif kind == "num":
                raise ParseError("two numbers in a row")  # "1 234" is not 234
            else:
                return node

    def unary(self) -> Node:
        if self.peek() in (("op", "-"), ("op", "+")):
            self.nest(1)
            sign = self.take()[1]
            node = self.unary()
            self.nest(-1)
            return ("neg", node) if sign == "-" else node
        return self.power()

    def power(self) -> Node:
        base = self.atom()
        if self.peek() == ("op", "^"):
            self.take()
            self.nest(1)
            base = ("^", base, self.unary())  # right-associative: 2^3^2 = 2^9
            self.nest(-1)
        return base

    def atom(self) -> Node:
        self.nest(1)  # sinsinsin...x and √√√...2 recurse here without passing expr()
        node = self._atom()
        self.nest(-1)
        return node

    def _atom(self) -> Node:
        kind, text = self.take()
        if kind == "num":
            return ("num", _number(text))
        if kind in ("sym", "const"):
            return (kind, text)
        if kind == "fn":
            return self.call(text)
        if text == "(":
            node = self.expr()
            self.take(")")
            return node
        if text == "√":
            return ("fn", "sqrt", (self.atom(),))
        raise ParseError(f"unexpected {text!r}")

    def call(self, name: str) -> Node:
        exponent = None
        if self.peek() == ("op", "^"):  # sin^2 x
            self.take()
            exponent = self.atom()
        if self.peek() == ("op", "("):
            self.take()
            args = [self.expr()]
            while self.peek() == ("op", ","):
                self.take()
                args.append(self.expr())
            self.take(")")
        else:
            args = [self.power()]  # sin x, sqrt 3
        arity = {"root": (2,), "log": (1, 2)}.get(name, (1,))
        if len(args) not in arity:
            raise ParseError(f"{name} takes {arity} arguments")
        node = ("fn", name, tuple(args))
        return node if exponent is None else ("^", node, exponent)


def parse_plain(s: str) -> Node:
    """Parse plain infix text (after `to_plain`) into a Node tree."""
    tokens = tokenize(s)
    if not tokens:
        raise ParseError("empty")
    parser = _Parser(tokens)
    node = parser.expr()
    if parser.i != len(tokens):
        raise ParseError(f"unexpected {tokens[parser.i][1]!r}")
    return node


def parse_math(raw: str, number: bool) -> tuple[Node, bool]:
    """Parse an answer; `number=True` first strips units, "≈" and `name =`. Returns (node, had a % sign)."""
    s = to_plain(raw)
    percent = False
    if number:
        s, percent = strip_number_decorations(s)
    elif s.count("=") == 1 and re.fullmatch(r"\s*[A-Za-z]\w*\s*(?:\(\s*[A-Za-z]\s*\))?\s*", s.split("=")[0]):
        s = s.split("=")[1]  # "y = 2x + 1", "f(x) = x^2": the right-hand side is the answer
    return parse_plain(s), percent


def is_wordy(s: str) -> bool:
    """True when plain text holds a word rather than a product of variables ("yes", "ABC", "xy")."""
    for run in re.findall(r"[A-Za-z]{2,}", s):
        names = [name for _, name in _split_word(run)]
        if any(len(a) == 1 and len(b) == 1 for a, b in zip(names, names[1:], strict=False)):
            return True
    return False


def free_symbols(node: Node) -> set[str]:
    if node[0] == "sym":
        return {node[1]}
    if node[0] in ("num", "const"):
        return set()
    children = node[2] if node[0] == "fn" else node[1:]
    return set().union(*(free_symbols(c) for c in children))


# ---------------------------------------------------------------- points, choices, text
def split_top_level(s: str) -> list[str]:
    """Split on commas/semicolons that are not inside brackets: "(1, f(2,3))" -> ["(1", " f(2,3))"]."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(s):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch in ",;" and depth == 0:
            parts.append(s[start:i])
            start = i + 1
    return parts + [s[start:]]


def parse_tuple(raw: str) -> tuple[list[str], list[str | None], bool]:
    """A point or set as (items, names, ordered). Braces mean an unordered set; (…), […], "x=3, y=4" a point.

    >>> parse_tuple("x=3, y=4")
    (['3', '4'], ['x', 'y'], True)
    """
    s = to_plain(raw).strip().rstrip(".")
    if "=" in s and re.search(r"=\s*[(\[{][^=]*$", s):  # "(x, y) = (3, 4)"
        s = s[s.rindex("=") + 1 :].strip()
    s = re.sub(r"^(?:Point(?:2D|3D)?|[A-Z]\w{0,2}'*)\s*(?=\()", "", s)  # "A(3, 4)", "P1(3, 4)", sympy's "Point2D(3, 4)"
    ordered = not (s.startswith("{") and s.endswith("}"))
    if s[:1] + s[-1:] in ("()", "[]", "{}") and matching(s, 0) == len(s) - 1:
        s = s[1:-1]
    items, names = [], []
    for part in split_top_level(s):
        m = re.fullmatch(r"\s*([A-Za-z]\w*)\s*=(.*)", part, re.S)
        names.append(m.group(1) if m else None)
        items.append((m.group(2) if m else part).strip())
    if any(not item for item in items):
        raise ParseError("empty coordinate")
    return items, names, ordered


_CHOICE_PREFIX = re.compile(
    r"^\s*(?:(?:the\s+)?(?:correct\s+|final\s+)?(?:answer|option|choice)\s*(?:is)?\s*[:：]?\s*)", re.I
)


def choice_letter(raw: str) -> str | None:
    """The option letter in "B", "(B)", "B.", "B) 12 cm", "Answer: B", "option b"; None if there is none.

    Lower case counts only alone, before ")" or "." or after a prefix word: "a triangle" is no choice.
    """
    s = re.sub(r"[*`$]|\\textbf|\\text|\\boxed|\\mathrm", "", raw[:MAX_CHARS]).strip().strip("{}").strip()
    prefixed = _CHOICE_PREFIX.match(s)
    if prefixed:
        s = s[prefixed.end() :]
    m = re.match(r"^[(\[]?\s*([A-Za-z])\s*(?:[)\].:]|$|\s)", s)
    if not m:
        return None
    letter = m.group(1)
    bracketed = s[:1] in "([" or s[m.end(1) :].lstrip()[:1] in (")", "]", ".", ":")
    if letter.islower() and not (prefixed or bracketed or len(s) == 1):
        return None
    return letter.upper()


def normalise_text(s: str) -> str:
    """Lower case, letters and digits only: "Triangle  ABC." -> "triangleabc"."""
    s = unicodedata.normalize("NFKC", s[:MAX_CHARS]).casefold()
    return "".join(ch for ch in s if ch.isalnum())
