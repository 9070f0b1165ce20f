"""Named crash points for the resume tests: `FLYWHEEL_KILL_AT=<name>[:<n>]` SIGKILLs this process's whole
process group the n-th time (default 1st) the run reaches `checkpoint(name)`. Unset, a checkpoint costs one
dict lookup. The names and where each sits are listed in docs/storage.md ("Named checkpoints"); the sweep
that kills at each of them and compares the resumed run with an uninterrupted one is tests/test_resume_sweep.py.
"""

from __future__ import annotations

import os
import signal

ENV = "FLYWHEEL_KILL_AT"
_reached: dict[str, int] = {}


def target(spec: str | None) -> tuple[str, int] | None:
    """`name[:n]` as (name, n); None when unset.

    >>> target("part_committed:3"), target("before_round"), target("")
    (('part_committed', 3), ('before_round', 1), None)
    """
    if not spec:
        return None
    name, _, n = spec.partition(":")
    return name, int(n or 1)


def checkpoint(name: str) -> None:
    """Die here, like a power cut of the whole run (driver and its children), if the environment says so."""
    spec = os.environ.get(ENV)
    if not spec:
        return
    want = target(spec)
    if want is None or want[0] != name:
        return
    _reached[name] = _reached.get(name, 0) + 1
    if _reached[name] == want[1]:
        os.killpg(os.getpgrp(), signal.SIGKILL)
