"""The contract every procedural problem family follows, and the drawing conventions they share.

A family is a plain function `make(rng: random.Random, difficulty: int) -> Draft`. It computes its answer
three ways that share no code: the stated `answer` (plain Python at generation time), `answer_code`
(symbolic, sympy, printed by the sandbox) and `check_code` (numeric, numpy/shapely, printed by the sandbox).
Render code and tool code run only in the sandbox, never in-process.

Pixel convention (so named elements are exact): the figure is `width` x `height` pixels at `DPI`, one
full-bleed axes whose data coordinates *are* pixels with the origin at the top-left (y grows down).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from flywheel.canvas import DPI, canvas_code, tool_canvas_code
from flywheel.records import Draft

__all__ = ["DPI", "Draft", "Extension", "Family", "canvas_code", "tool_canvas_code"]


Family = Callable[[random.Random, int], Draft]

# An extension operator: (rng for its own choices, parent seed, parent level) -> a new Draft built on the parent
# problem that `make(random.Random(parent_seed), parent_level)` produced. Parallel extensions keep the parent's
# render code byte for byte (same image, another question); sequential ones add constructions and use the
# parent's answer as an intermediate step.
Extension = Callable[[random.Random, int, int], Draft]
