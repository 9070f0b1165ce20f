"""Find and read the JSON that language models wrap in prose: fenced or bare, strict or sloppy, whole or cut off.

Used by `flywheel/lmm/parse.py` for proposer, judge and extractor outputs. Nothing here evaluates text: a
span is read by `json.loads`, then by `ast.literal_eval` (Python literals only: single quotes, True/None,
tuples), then by a small tokenizer that rewrites near-JSON (comments, trailing commas, smart quotes, bare keys,
stray quotes inside code strings) into JSON. Test: `pytest tests/test_lmm_parse.py`.
"""

from __future__ import annotations

import ast
import json
import re
import warnings
from dataclasses import dataclass
from typing import Any

# Quote characters that may open a string, and what closes each. Models sometimes use typographic quotes as
# JSON delimiters; inside a straight-quoted string they are ordinary content, so only openers matter here.
CLOSERS = {'"': ('"',), "'": ("'",), "“": ("”", "“"), "”": ("”",), "‘": ("’",)}
TRIPLES = ('"""', "'''")
BRACKETS = {"{": "}", "[": "]"}
WORDS = {"True": "true", "False": "false", "None": "null", "true": "true", "false": "false", "null": "null"}
ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\", "/": "/",
           "\n": ""}  # fmt: skip
MAX_TEXT = 200_000  # longer outputs are cut: no proposal is that long, and it bounds the scan
SCAN_BUDGET = 1_500_000  # characters the bracket matcher may visit per text (hostile input stays fast)
MAX_UNCLOSED = 32  # unclosed openers remembered; past that the text is junk anyway


@dataclass(frozen=True)
class ParseFailure:
    """Why model text gave nothing usable: a short reason code, a sentence, and the text itself."""

    reason: str
    detail: str
    raw: str


@dataclass(frozen=True)
class Found:
    """What a scan found: decoded values with their offset and source text, spans that would not decode (with
    the decoder's complaint) and the offsets of openers that never closed (a cut-off output)."""

    values: tuple[tuple[int, str, Any], ...]
    failed: tuple[tuple[str, str], ...]
    unclosed: tuple[int, ...]


def _comment_end(s: str, i: int) -> int | None:
    """If a comment starts at s[i] (outside strings), the index just past it."""
    if s.startswith("//", i) or s[i] == "#":
        j = s.find("\n", i)
        return len(s) if j < 0 else j
    if s.startswith("/*", i):
        j = s.find("*/", i + 2)
        return len(s) if j < 0 else j + 2
    return None


_VALUE_START = re.compile(r'["“{\[\-0-9}\]]|(?:true|false|null)\b')


def _plausible_close(s: str, j: int) -> bool:
    """Whether the double quote at s[j] really closes a JSON string (used by the lenient pass only).

    It must be followed by a separator and, after a comma or colon, by the start of a JSON value: so the
    quotes in `ax.text(5, 5, "C", fontsize=12)` written unescaped inside a code string stay content.
    """
    k = j + 1
    while k < len(s) and s[k] in " \t\r\n":
        k += 1
    if k >= len(s) or s[k] in "}]":
        return True
    if s[k] not in ",:":
        return False
    k += 1
    while k < len(s) and s[k] in " \t\r\n":
        k += 1
    return k >= len(s) or _VALUE_START.match(s, k) is not None


def _string_end(s: str, i: int, guard: bool = False) -> int | None:
    """Index just past the string opening at s[i], or None if the text ends first."""
    for triple in TRIPLES:
        if s.startswith(triple, i):
            j = i + 3
            while j < len(s):
                if s[j] == "\\":
                    j += 2
                elif s.startswith(triple, j):
                    return j + 3
                else:
                    j += 1
            return None
    closers, j = CLOSERS[s[i]], i + 1
    while j < len(s):
        if s[j] == "\\":
            j += 2
        elif s[j] in closers and not (guard and s[i] == '"' and not _plausible_close(s, j)):
            return j + 1
        else:
            j += 1
    return None


def _decode_body(body: str) -> str:
    """Resolve backslash escapes the way JSON and Python agree on; unknown ones (LaTeX's \\sqrt) stay as typed."""
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c != "\\" or i + 1 >= len(body):
            out.append(c)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt == "u" and len(body) >= i + 6:
            try:
                out.append(chr(int(body[i + 2 : i + 6], 16)))
                i += 6
                continue
            except ValueError:
                pass
        out.append(ESCAPES.get(nxt, "\\" + nxt))
        i += 2
    return "".join(out)


def _read_string(s: str, i: int, guard: bool) -> tuple[str, int]:
    end = _string_end(s, i, guard)
    if end is None:
        raise ValueError(f"unterminated string at {i}")
    width = 3 if s.startswith(TRIPLES, i) else 1
    return _decode_body(s[i + width : end - width]), end


def _drop_trailing_comma(out: list[str]) -> None:
    k = len(out) - 1
    while k >= 0 and out[k].isspace():
        k -= 1
    if k >= 0 and out[k] == ",":
        del out[k]


def relax(s: str, guard: bool = False) -> str:
    """Rewrite near-JSON (Python literals, JS comments, trailing commas, smart quotes, bare keys) as JSON.

    >>> relax("{'a': (1, 2,), b: True, // note\\n}")
    '{"a": [1, 2], "b": true \\n}'
    """
    out: list[str] = []
    i = 0
    while i < len(s):
        c = s[i]
        if c in CLOSERS:
            text, i = _read_string(s, i, guard)
            out.append(json.dumps(text, ensure_ascii=False))
            continue
        end = _comment_end(s, i)
        if end is not None:
            i = end
            continue
        if c.isalpha() or c == "_":
            j = i
            while j < len(s) and (s[j].isalnum() or s[j] == "_"):
                j += 1
            word, k = s[i:j], j
            while k < len(s) and s[k] in " \t":
                k += 1
            bare_key = word not in WORDS and k < len(s) and s[k] == ":"
            out.append(WORDS.get(word) or (json.dumps(word) if bare_key else word))
            i = j
            continue
        if c in "}])":
            _drop_trailing_comma(out)
        out.append({"(": "[", ")": "]"}.get(c, c))
        i += 1
    return "".join(out)


def decode(span: str) -> tuple[Any, str | None]:
    """(value, None) for the first reader that accepts the span, else (None, the last reader's complaint)."""
    try:
        return json.loads(span, strict=False), None
    except (ValueError, RecursionError):
        pass
    try:
        with warnings.catch_warnings():  # "\s" in a literal is an invalid-escape warning, not an error
            warnings.simplefilter("ignore")
            return ast.literal_eval(span), None
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        pass
    error = "unreadable"
    for guard in (False, True):
        try:
            return json.loads(relax(span, guard)), None
        except (ValueError, RecursionError) as exc:
            error = str(exc)[:200]
    return None, error


def _match(s: str, i: int, budget: list[int]) -> int | None:
    """Index just past the bracket closing s[i]; None if the text ends first; -1 if the brackets cross."""
    stack, j = [BRACKETS[s[i]]], i + 1
    while j < len(s):
        c = s[j]
        if c in CLOSERS:
            end = _string_end(s, j)
            if end is None:
                budget[0] -= len(s) - j
                return None
            budget[0] -= end - j
            j = end
            continue
        end = _comment_end(s, j) if c in "/#" else None
        if end is not None:
            j = end
            continue
        if c in BRACKETS:
            stack.append(BRACKETS[c])
        elif c in "}]":
            if c != stack.pop():
                return -1
            if not stack:
                budget[0] -= j - i
                return j + 1
        j += 1
    budget[0] -= len(s) - i
    return None


def final_text(text: str) -> tuple[str, bool]:
    """The part of a reasoning model's output after its thinking, and whether it stopped while still thinking.

    Drafts sketched inside `<think>` are not the answer; a `</think>` with no opener (the chat template
    opened it) counts too.
    """
    head, sep, tail = text.rpartition("</think>")
    if sep:
        return tail, False
    return text, "<think>" in text


def scan(text: str) -> Found:
    """Every top-level JSON-like value in `text`, in order of appearance.

    A span that closes but will not decode is recorded and then searched inside, so JSON wrapped in a
    bracketed aside is still found; an opener that never closes is recorded and also searched inside, so the
    complete candidates of a cut-off array are kept.
    """
    s = text[:MAX_TEXT]
    values, failed, unclosed = [], [], []
    budget, i = [SCAN_BUDGET], 0
    while i < len(s) and budget[0] > 0:
        if s[i] not in BRACKETS:
            i += 1
            continue
        end = _match(s, i, budget)
        if end is None:
            unclosed.append(i)
            if len(unclosed) >= MAX_UNCLOSED:
                break
        elif end > 0:
            value, error = decode(s[i:end])
            if error is None:
                values.append((i, s[i:end], value))
                i = end
                continue
            failed.append((s[i:end], error))
        i += 1
    return Found(tuple(values), tuple(failed), tuple(unclosed))
