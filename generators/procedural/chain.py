"""Helpers for the extension operators of the non-geometry families (parallel and sequential, issue 5).

A sequential problem uses its parent's answer as an intermediate step, and so do its programs: the new
answer_code runs the parent's own answer program (as text, in the sandbox) and continues from the value it
prints; check_code does the same with the parent's numeric program. `run_program_code` is the snippet that
makes that possible; `embed` writes a program as a readable string literal.
"""

from __future__ import annotations

import re

from flywheel.records import SolutionStep

# Pasted into answer/check code: run a whole program and return the last line it printed (its answer).
RUN_PROGRAM = (
    "import contextlib, io\n"
    "def last_line(program):\n"
    "    out = io.StringIO()\n"
    "    with contextlib.redirect_stdout(out):\n"
    "        exec(program, {})\n"
    "    return out.getvalue().strip().splitlines()[-1]\n"
)

_FORMAT = re.compile(r"\s*Give the (answer|exact value)\b.*$", re.S)


def embed(program: str) -> str:
    """A program as a string literal: raw triple quotes when that is safe (readable), repr otherwise."""
    if "'''" not in program and not program.endswith("\\"):
        return "r'''" + program + "'''"
    return repr(program)


def core(question: str) -> str:
    """A question without its closing 'Give the answer ...' format sentence (the extension states its own)."""
    return _FORMAT.sub("", question).strip()


def harder(parent_level: int) -> int:
    """A sequential problem is one level above its parent, clamped to the scale's top."""
    return min(5, parent_level + 1)


def recap(parent_question: str, parent_answer: str, parent_why: str) -> SolutionStep:
    """The first step of a sequential solution: re-derive the parent's answer, stated in full."""
    return SolutionStep(
        "think",
        f"First the original question: {core(parent_question)} {parent_why} So the original answer is {parent_answer}.",
    )
