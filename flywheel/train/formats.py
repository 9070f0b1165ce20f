"""The transcript format every training stage shares: tags, segments, the system prompt and the parser.

A transcript is a prompt (system + question + figure), then the model's text, in which `<code>` blocks call the
sandbox; each call's result comes back as a `<sandbox_output>` segment (printed text and/or the edited image),
until the model writes `<answer>`. SFT examples are built in this shape (flywheel/train/data.py), RL rollouts
are produced in it (rollout.py) and both are tokenised by encode.py, so the two stages see identical token
layouts. Only "model" segments carry loss. Pure Python; tests in tests/test_train_sft.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

CODE = ("<code>", "</code>")
OUTPUT = ("<sandbox_output>", "</sandbox_output>")
ANSWER = ("<answer>", "</answer>")
THINK = ("<think>", "</think>")
# Where a segment's image goes in its text. Each segment with an image holds exactly one; encode.py swaps it for
# the model's own vision placeholder (for Qwen: <|vision_start|><|image_pad|><|vision_end|>).
IMAGE = "<image>"
# The tags that end one generation call in a rollout: after `</code>` the sandbox runs, after `</answer>` the
# transcript is complete.
STOP_TAGS = (CODE[1], ANSWER[1])

Role = Literal["prompt", "model", "sandbox"]


@dataclass(frozen=True)
class Segment:
    """One span of a transcript. Loss falls only on "model" segments; an `image` (PNG bytes) is shown where
    the text holds `IMAGE` (the figure in the prompt, the edited figure in a sandbox output). `token_ids`: a
    model segment's sampled tokens when the sampler reported them; encode.py then trains on exactly those
    instead of re-tokenising the text (which can give other, and more, tokens)."""

    role: Role
    text: str
    image: bytes | None = None
    token_ids: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        marks = self.text.count(IMAGE)
        if marks != (1 if self.image is not None else 0):
            raise ValueError(f"{self.role} segment: {marks} {IMAGE} marks for {int(self.image is not None)} image")
        if self.token_ids is not None and (self.role != "model" or self.image is not None):
            raise ValueError("only a model segment without an image carries sampled token ids")


@dataclass(frozen=True)
class Example:
    """One training item. `segments[0]` is the prompt (the user's turn; the system prompt is added by
    encode.py); the rest alternate model text and sandbox results. RL examples hold the prompt only."""

    id: str
    stage: str  # perception | sft | rl
    segments: tuple[Segment, ...]
    answer: str
    answer_kind: str

    @property
    def prompt(self) -> Segment:
        return self.segments[0]

    @property
    def images(self) -> tuple[bytes, ...]:
        return tuple(s.image for s in self.segments if s.image is not None)


def system_prompt() -> str:
    """The instructions every stage trains and samples with (kept short: the tiny model's context is 2k)."""
    return (
        "You solve visual problems and may edit the figure with Python. Think step by step. To draw on the "
        f"figure, write code between {CODE[0]} and {CODE[1]}: it runs in a sandbox whose folder holds the "
        "current figure as image.png (pixel coordinates, origin at the top left); save your edited figure "
        "(any .png, or leave the matplotlib figure open) and print values you need. The result comes back "
        f"between {OUTPUT[0]} and {OUTPUT[1]}. Finish with the final answer between {ANSWER[0]} and "
        f"{ANSWER[1]}."
    )


def prompt_segment(question: str, image: bytes | None) -> Segment:
    """The user's turn: the figure first, then the question (the order vision chat templates expect)."""
    return Segment("prompt", f"{IMAGE}\n{question}" if image is not None else question, image)


def code_text(code: str) -> str:
    """A tool call as the model writes it."""
    return f"{CODE[0]}\n{code.strip()}\n{CODE[1]}"


def answer_text(answer: str) -> str:
    return f"{ANSWER[0]}{answer}{ANSWER[1]}"


def sandbox_segment(printed: str = "", image: bytes | None = None) -> Segment:
    """What the environment appends after a `</code>`: the edited image and/or the printed text (or the error
    message). An empty result still says so, so the model can tell its code ran."""
    body = printed.strip()
    parts = [IMAGE] if image is not None else []
    parts += [body] if body else ([] if image is not None else ["(no output)"])
    return Segment("sandbox", f"\n{OUTPUT[0]}" + "\n".join(parts) + f"{OUTPUT[1]}\n", image)


@dataclass(frozen=True)
class Parsed:
    """What model text contains. `answer` is the text of the first `<answer>` block (None if there is none);
    `code` the body of each closed `<code>` block in order (markdown fences stripped); `well_formed` is True
    when tags pair up, nothing follows `</answer>` and every code block was closed before the answer."""

    answer: str | None
    code: tuple[str, ...]
    well_formed: bool


_BLOCK = {tag: re.compile(re.escape(tag[0]) + r"(.*?)" + re.escape(tag[1]), re.S) for tag in (CODE, ANSWER)}
_FENCE = re.compile(r"^\s*```[a-zA-Z0-9_+-]*\s*\n(.*?)\n?\s*```\s*$", re.S)


def strip_fence(code: str) -> str:
    """Code without a surrounding markdown fence (the paper's format fences it; ours need not).

    >>> strip_fence("```python\\nprint(1)\\n```")
    'print(1)'
    """
    match = _FENCE.match(code)
    return (match.group(1) if match else code).strip()


def parse_response(text: str) -> Parsed:
    """Answer and code blocks in a model's text (sandbox outputs may be included; they are skipped).

    >>> parse_response("<code>print(2)</code><sandbox_output>2</sandbox_output><answer>2</answer>")
    Parsed(answer='2', code=('print(2)',), well_formed=True)
    """
    model_text = re.sub(re.escape(OUTPUT[0]) + r".*?" + re.escape(OUTPUT[1]), "", text, flags=re.S)
    answers = _BLOCK[ANSWER].findall(model_text)
    answer = answers[0].strip() if answers else None
    before = model_text.split(ANSWER[0], 1)[0]
    code = tuple(strip_fence(c) for c in _BLOCK[CODE].findall(before))
    balanced = all(model_text.count(o) == model_text.count(c) for o, c in (CODE, ANSWER, THINK))
    tail = model_text.split(ANSWER[1], 1)[1].strip() if answer is not None else ""
    well_formed = answer is not None and len(answers) == 1 and balanced and not tail
    return Parsed(answer, code, well_formed)


def transcript_text(segments: tuple[Segment, ...]) -> str:
    """Model and sandbox text joined (the prompt left out): what rewards read."""
    return "".join(s.text for s in segments if s.role != "prompt")
