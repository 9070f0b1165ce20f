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
from dataclasses import dataclass

from flywheel.records import AnswerKind, NamedElement, SolutionStep

DPI = 100


@dataclass(frozen=True)
class Draft:
    """What a family emits before rendering; the round turns it into a `Problem`."""

    family: str
    concepts: tuple[str, ...]
    domain: str
    difficulty: int
    question: str
    answer: str
    answer_kind: AnswerKind
    render_code: str
    answer_code: str
    check_code: str
    solution: tuple[SolutionStep, ...]
    elements: tuple[NamedElement, ...]
    tools: tuple[str, ...]
    width: int
    height: int


Family = Callable[[random.Random, int], Draft]

# An extension operator: (rng for its own choices, parent seed, parent level) -> a new Draft built on the parent
# problem that `make(random.Random(parent_seed), parent_level)` produced. Parallel extensions keep the parent's
# render code byte for byte (same image, another question); sequential ones add constructions and use the
# parent's answer as an intermediate step.
Extension = Callable[[random.Random, int, int], Draft]


def canvas_code(width: int, height: int) -> str:
    """Preamble for render code: a full-bleed pixel-space axes with a top-left origin."""
    return (
        "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\nimport numpy as np\n"
        f"fig = plt.figure(figsize=({width}/{DPI}, {height}/{DPI}), dpi={DPI})\n"
        "ax = fig.add_axes([0, 0, 1, 1])\n"
        f"ax.set_xlim(0, {width}); ax.set_ylim({height}, 0); ax.axis('off')\n"
        "fig.patch.set_facecolor('white')\n"
    )


def tool_canvas_code(width: int, height: int) -> str:
    """Preamble for tool code: load the current `image.png` into the same pixel-space axes."""
    return (
        "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\nimport numpy as np\n"
        "img = plt.imread('image.png')\n"
        f"fig = plt.figure(figsize=({width}/{DPI}, {height}/{DPI}), dpi={DPI})\n"
        "ax = fig.add_axes([0, 0, 1, 1])\n"
        f"ax.imshow(img, extent=(0, {width}, {height}, 0))\n"
        f"ax.set_xlim(0, {width}); ax.set_ylim({height}, 0); ax.axis('off')\n"
    )
