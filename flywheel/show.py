"""`flywheel show`: one committed problem as a single PNG sheet a person can check at a glance.

The sheet puts the rendered image beside the question, answer and verdicts, and the interactive solution's
steps beside the image its tool code produced, under a header with the id, round, lineage, family,
difficulty and concepts. Layout is computed in pixels and images are placed 1:1 (`figimage`), so labels
in the figure stay as sharp as the family drew them. Layer L3; tests in tests/test_cli_show.py.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
from matplotlib.backends.backend_agg import get_hinting_flag
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, findfont, get_font
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from PIL import Image, UnidentifiedImageError

from flywheel.records import PROBLEM_SCHEMA, Problem, table_to_problems
from storage.catalog import connect, diagnose

DPI = 100
MARGIN, GAP, PAD = 24, 32, 8  # pixels: sheet edge, between the two columns, around blocks
SECTION = 28  # pixels between sections, with a rule in the middle
COL_MIN, COL_MAX = 560, 800  # a column is as wide as the widest image, within these bounds
IMG_MAX_H = 680  # taller images are scaled down; tiny ones are scaled up by a whole factor
QUESTION_LINES, ANSWER_LINES, SOLUTION_LINES, STEP_LINES, CODE_LINES = 24, 6, 80, 6, 10

# Font size (pt), weight, family, colour per kind of line; one dict, so the look is tuned in one place.
STYLES: dict[str, dict] = {
    "title": {"size": 17, "weight": "bold", "family": "DejaVu Sans Mono", "color": "#111111"},
    "head": {"size": 12.5, "weight": "bold", "family": "DejaVu Sans", "color": "#1a3d6d"},
    "body": {"size": 11.5, "weight": "normal", "family": "DejaVu Sans", "color": "#111111"},
    "answer": {"size": 14, "weight": "bold", "family": "DejaVu Sans", "color": "#111111"},
    "meta": {"size": 10.5, "weight": "normal", "family": "DejaVu Sans", "color": "#333333"},
    "dim": {"size": 10, "weight": "normal", "family": "DejaVu Sans", "color": "#777777"},
    "code": {"size": 9.5, "weight": "normal", "family": "DejaVu Sans Mono", "color": "#7a2e0e"},
    "pass": {"size": 10, "weight": "normal", "family": "DejaVu Sans Mono", "color": "#1b7a2b"},
    "fail": {"size": 10, "weight": "bold", "family": "DejaVu Sans Mono", "color": "#c0221b"},
    "na": {"size": 10, "weight": "normal", "family": "DejaVu Sans Mono", "color": "#777777"},
}
# Tool code starts with the same canvas set-up every time; hiding it leaves the lines that draw.
_SETUP = re.compile(
    r"^\s*(import |from \S+ import |matplotlib\.use\(|img = plt\.imread\(|fig = plt\.figure\(|"
    r"ax = fig\.add_axes\(|ax\.imshow\(img|ax\.set_xlim\(|fig\.patch\.set_facecolor\(|(plt|fig)\.savefig\()"
)


class ShowError(Exception):
    """No problem, or more than one, matches the id given: the CLI prints this as one line."""


# ------------------------------------------------------------------------------------------------------------
# Finding the problem
# ------------------------------------------------------------------------------------------------------------


def find_problem(data: Path | str, id_prefix: str) -> Problem:
    """The committed problem whose id starts with `id_prefix` (a full id or any unique prefix).

    Raises ShowError when none or several match, CorruptShardError when a committed file is broken.
    """
    prefix = id_prefix.strip().lower()
    if not prefix:
        raise ShowError("give a problem id, or a unique prefix of one")
    if not Path(data).is_dir():
        raise ShowError(f"no data dir at {data}")
    con = connect(data)
    try:
        sql = "SELECT id FROM problems WHERE starts_with(id, ?) ORDER BY id LIMIT 6"
        ids = [row[0] for row in con.execute(sql, [prefix]).fetchall()]
        if len(ids) == 1:
            cursor = con.execute("SELECT * FROM problems WHERE id = ?", [ids[0]])
            names = [d[0] for d in cursor.description]
            rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
            return table_to_problems(pa.Table.from_pylist(rows, schema=PROBLEM_SCHEMA))[0]
        if ids:
            shown = ", ".join(ids[:5]) + (", ..." if len(ids) > 5 else "")
            raise ShowError(f"id prefix {prefix!r} is ambiguous: it matches {shown}; give more digits")
        sql = "SELECT id, round, stage, reason FROM rejections WHERE starts_with(id, ?) ORDER BY round LIMIT 1"
        rejected = con.execute(sql, [prefix]).fetchall()
    except duckdb.Error as err:
        raise (diagnose(data, err) or err) from None
    finally:
        con.close()
    if rejected:
        rid, rnd, stage, reason = rejected[0]
        raise ShowError(f"{rid} was rejected in round {rnd} at {stage} ({reason}), not accepted: "
                        f"see flywheel query \"SELECT * FROM rejections WHERE id = '{rid}'\"")
    raise ShowError(f"no committed problem has an id starting with {prefix!r} in {data}")


def show(data: Path | str, id_prefix: str, out: Path | str | None = None) -> Path:
    """Write the sheet of one problem to `out` (default `<id>.png` here); returns the path written."""
    problem = find_problem(data, id_prefix)
    path = Path(out) if out is not None else Path(f"{problem.id}.png")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(make_sheet(problem))
    return path


# ------------------------------------------------------------------------------------------------------------
# Blocks: what a column holds (lines of text, images, gaps), measured before anything is drawn
# ------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    text: str
    style: str = "body"


@dataclass(frozen=True)
class Picture:
    pixels: np.ndarray | None  # RGBA, already scaled to its display size; None draws a placeholder
    note: str = ""  # shown in the placeholder, or "" for an image


@dataclass(frozen=True)
class Gap:
    px: int = 10


Block = Text | Picture | Gap


def _line_px(style: str) -> int:
    return round(STYLES[style]["size"] * 1.45 * DPI / 72)


@cache
def _glyph_px(ch: str, style: str) -> float:
    """Advance width of one character in pixels as Agg draws it (hinted, so whole pixels; cached)."""
    s = STYLES[style]
    font = get_font(findfont(FontProperties(family=s["family"], weight=s["weight"])))
    font.set_size(s["size"], DPI)
    # Hinting moves advances by up to ~5% at these sizes (wider for 10.5 pt, narrower for 11.5 pt), so
    # measure with the flags the renderer uses; unhinted widths let lines overflow their column.
    try:
        return font.load_char(ord(ch), flags=get_hinting_flag()).horiAdvance / 64
    except RuntimeError:  # a glyph the font lacks (e.g. U+27C2 ⟂): Agg draws a box about as wide as "M"
        return font.load_char(ord("M"), flags=get_hinting_flag()).horiAdvance / 64


def text_px(text: str, style: str) -> float:
    """Width of `text` in pixels, as summed glyph advances (kerning ignored: a few pixels per line)."""
    return sum(_glyph_px(ch, style) for ch in text)


def _height(block: Block) -> int:
    if isinstance(block, Text):
        return _line_px(block.style)
    if isinstance(block, Gap):
        return block.px
    return (block.pixels.shape[0] if block.pixels is not None else 120) + 2 * PAD


def _fit(para: str, style: str, width_px: float, indent: str) -> list[str]:
    """Greedy word wrap by measured width; a word wider than a whole line is broken where it must be."""
    lines: list[str] = []
    line = ""
    for word in para.split():
        trial = f"{line} {word}" if line else indent + word
        if line and text_px(trial, style) > width_px:
            lines.append(line)
            trial = indent + word
        line = trial
        while text_px(line, style) > width_px and len(line) > len(indent) + 1:
            head = _cut(line, style, width_px, mark="").text
            lines.append(head)
            line = indent + line[len(head):]
    return [*lines, line] if line or not lines else lines


def wrap(text: str, style: str, width_px: float, indent: str = "", max_lines: int = 0) -> list[Text]:
    """Word-wrap `text` (keeping its own line breaks) into lines that fit `width_px` pixels in `style`.

    >>> [t.text for t in wrap("one two three", "code", 80)]
    ['one two', 'three']
    """
    lines: list[str] = []
    for para in text.expandtabs(4).splitlines() or [""]:
        lines += _fit(para, style, width_px, indent) or [indent]
    if max_lines and len(lines) > max_lines:
        hidden = len(lines) - max_lines + 1
        lines = lines[: max_lines - 1] + [f"{indent}... ({hidden} more line{'s' if hidden > 1 else ''})"]
    return [Text(line, style) for line in lines]


def _cut(line: str, style: str, width_px: float, mark: str = "…") -> Text:
    """`line` shortened to fit `width_px`, ending in `mark` when anything was cut."""
    if text_px(line, style) <= width_px:
        return Text(line, style)
    budget, used, n = width_px - text_px(mark, style), 0.0, 0
    while n < len(line) and used + _glyph_px(line[n], style) <= budget:
        used += _glyph_px(line[n], style)
        n += 1
    return Text(line[: max(n, 1)] + mark, style)


def picture(png: bytes | None, max_w: int) -> Picture:
    """Decode and scale an image for the sheet; broken or absent bytes become a labelled placeholder."""
    if not png:
        return Picture(None, "no image")
    try:
        img = Image.open(io.BytesIO(png))
        img.load()
    except (UnidentifiedImageError, OSError, ValueError) as err:
        return Picture(None, f"{len(png)} bytes that do not decode as an image ({type(err).__name__})")
    img = img.convert("RGBA")
    w, h = img.size
    fit = min(max_w / w, IMG_MAX_H / h)
    if fit < 1:  # too big: shrink smoothly
        img = img.resize((max(1, round(w * fit)), max(1, round(h * fit))), Image.Resampling.LANCZOS)
    elif fit >= 2 and max(w, h) < 240:  # tiny: enlarge by a whole factor so pixels stay crisp
        k = min(4, int(fit))
        img = img.resize((w * k, h * k), Image.Resampling.NEAREST)
    return Picture(np.asarray(img))


# ------------------------------------------------------------------------------------------------------------
# Content of each section
# ------------------------------------------------------------------------------------------------------------


def _header(p: Problem, width: int) -> list[Block]:
    lineage = p.operator if p.parent_id is None else f"{p.operator} of {p.parent_id}"
    facts = [f"round {p.round}", lineage, f"family {p.family or '?'}", f"domain {p.domain or '?'}",
             f"difficulty {p.difficulty:g}"]
    seconds = ", ".join(f"{k} {v:.2f} s" for k, v in p.cost.seconds.items())
    tokens = p.cost.prompt_tokens + p.cost.completion_tokens
    created = dt.datetime.fromtimestamp(p.created_at, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    extra = [f"proposer {p.proposer or '?'}", f"verifier {p.verifier or '?'}",
             f"verified by {p.verified_by or 'not recorded'}", f"depth {p.depth}", f"seed {p.seed}",
             f"{p.width}×{p.height} px", f"{tokens} tokens" + (f" ({seconds})" if seconds else ""), created]
    return [
        Text(f"problem {p.id}", "title"),
        Gap(4),
        *wrap("   ·   ".join(facts), "meta", width),
        *wrap("concepts: " + (", ".join(p.concepts) or "none"), "meta", width, max_lines=3),
        *wrap("tools: " + (", ".join(p.tools) or "none"), "meta", width, max_lines=2),
        *wrap("   ·   ".join(extra), "dim", width),
    ]


def _verdict_lines(p: Problem, width: int) -> list[Text]:
    if not p.verdicts:
        return [Text("no verdicts recorded", "dim")]
    name_w = max(len(v.name) for v in p.verdicts)
    lines: list[Text] = []
    for v in p.verdicts:
        mark, style = ("✓", "pass") if v.passed else ("–", "na") if v.passed is None else ("✗", "fail")
        score = "" if v.passed is None else f"{v.score:.3g}"  # a check that does not apply has no score
        head = f"{mark} {v.name:<{name_w}}  {score:<6}  "
        body = wrap(v.reason or "", style, width - text_px(head, style), max_lines=3)
        lines.append(Text(head + body[0].text, style))
        lines += [Text(" " * len(head) + t.text, style) for t in body[1:]]
    return lines


def _question_column(p: Problem, width: int) -> list[Block]:
    blocks: list[Block] = [Text("Question", "head"), *wrap(p.question or "(empty)", "body", width,
                                                             max_lines=QUESTION_LINES)]
    blocks += [Gap(12), Text(f"Answer  ({p.answer_kind})", "head"),
               *wrap(p.answer or "(empty)", "answer", width, max_lines=ANSWER_LINES)]
    blocks += [Gap(12), Text("Verdicts", "head"), *_verdict_lines(p, width)]
    if p.elements:
        named = "; ".join(f"{e.name} ({e.x:.0f}, {e.y:.0f})" for e in p.elements)
        blocks += [Gap(12), Text(f"Named elements ({len(p.elements)}, pixels from top-left)", "head"),
                   *wrap(named, "meta", width, max_lines=4)]
    return blocks


def _code_lines(code: str, width: int) -> list[Text]:
    lines = [ln for ln in code.splitlines() if ln.strip()]
    body = [ln for ln in lines if not _SETUP.match(ln)]
    out = [_cut("    " + ln, "code", width) for ln in body[:CODE_LINES]]
    notes = []
    if len(lines) > len(body):
        notes.append(f"{len(lines) - len(body)} set-up lines hidden")
    if len(body) > CODE_LINES:
        notes.append(f"{len(body) - CODE_LINES} more lines not shown")
    return out + ([Text("       (" + "; ".join(notes) + ")", "dim")] if notes else [])


def _solution_column(p: Problem, width: int) -> list[Block]:
    codes = sum(s.kind == "code" for s in p.solution)
    blocks: list[Block] = [Text(f"Interactive solution ({len(p.solution)} steps, {codes} with tool code)", "head")]
    if not p.solution:
        return blocks + [Text("no solution recorded", "dim")]
    lines: list[Block] = []
    for i, step in enumerate(p.solution, 1):
        label = "think" if step.kind == "think" else "tool"
        hang = "     "  # continuation lines start under the step's text, not its number
        text = wrap(f"{i}. [{label}] {step.text}", "body", width - text_px(hang, "body"), max_lines=STEP_LINES)
        lines += [text[0], *(Text(hang + t.text, "body") for t in text[1:])]
        if step.code:
            lines += _code_lines(step.code, width)
        lines.append(Gap(6))
    if len(lines) > SOLUTION_LINES:
        lines = lines[: SOLUTION_LINES - 1] + [Text(f"... ({len(lines) - SOLUTION_LINES + 1} more lines)", "dim")]
    return blocks + [Gap(4), *lines]


def _image_column(title: str, pic: Picture, width: int) -> list[Block]:
    return [_cut(title, "head", width), pic]


# ------------------------------------------------------------------------------------------------------------
# The sheet
# ------------------------------------------------------------------------------------------------------------


def make_sheet(problem: Problem) -> bytes:
    """The PNG bytes of one problem's sheet: header, then image | question, answer, verdicts, then
    solution steps | edited image. Works on any `Problem`, committed or not (missing parts are labelled)."""
    p = problem
    image, edited = picture(p.image, COL_MAX), picture(p.edited_image, COL_MAX)
    widest = max((pic.pixels.shape[1] for pic in (image, edited) if pic.pixels is not None), default=0)
    col = min(COL_MAX, max(COL_MIN, widest))
    width = 2 * MARGIN + 2 * col + GAP
    header = _header(p, 2 * col + GAP)
    rows = [
        (_image_column(_caption("Rendered image", p.image, image), image, col), _question_column(p, col)),
        (_solution_column(p, col), _image_column(_caption("Edited image (after the tool code)",
                                                          p.edited_image, edited), edited, col)),
    ]
    heights = [_total(header)] + [max(_total(left), _total(right)) for left, right in rows]
    height = 2 * MARGIN + sum(heights) + 2 * SECTION
    fig = Figure(figsize=(width / DPI, height / DPI), dpi=DPI, facecolor="white")
    y = MARGIN
    _draw(fig, header, MARGIN, y, width, height)
    y += heights[0]
    for (left, right), h in zip(rows, heights[1:], strict=True):
        _rule(fig, y + SECTION // 2, width, height)
        y += SECTION
        _draw(fig, left, MARGIN, y, width, height)
        _draw(fig, right, MARGIN + col + GAP, y, width, height)
        y += h
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, facecolor="white")  # no tight bbox: the layout is already exact
    return buf.getvalue()


def _caption(title: str, png: bytes | None, pic: Picture) -> str:
    if pic.pixels is None:
        return title
    with Image.open(io.BytesIO(png or b"")) as img:
        w, h = img.size
    shown = pic.pixels.shape[1] / w
    return f"{title}  {w}×{h} px" + ("" if shown == 1 else f", shown at {shown:.0%}")


def _total(blocks: list[Block]) -> int:
    return sum(_height(b) for b in blocks)


def _rule(fig: Figure, y: int, width: int, height: int) -> None:
    fig.add_artist(Line2D([MARGIN / width, 1 - MARGIN / width], [1 - y / height] * 2,
                          transform=fig.transFigure, color="#c8c8c8", lw=1))


def _draw(fig: Figure, blocks: list[Block], x: int, y: int, width: int, height: int) -> None:
    """Draw blocks top-down from pixel (x, y), y measured from the top of the sheet."""
    for block in blocks:
        if isinstance(block, Text):
            s = STYLES[block.style]
            fig.text(x / width, 1 - y / height, block.text, va="top", ha="left", fontsize=s["size"],
                     fontweight=s["weight"], family=s["family"], color=s["color"], parse_math=False)
        elif isinstance(block, Picture):
            _draw_picture(fig, block, x, y + PAD, width, height)
        y += _height(block)


def _draw_picture(fig: Figure, pic: Picture, x: int, y: int, width: int, height: int) -> None:
    if pic.pixels is None:
        w, h = COL_MIN, 120
        fig.text((x + w / 2) / width, 1 - (y + h / 2) / height, pic.note, ha="center", va="center",
                 fontsize=STYLES["dim"]["size"], color=STYLES["dim"]["color"], parse_math=False)
        style = {"ls": "--", "edgecolor": "#aaaaaa"}
    else:
        h, w = pic.pixels.shape[:2]
        # figimage places pixels 1:1 (no resampling); its offset is the lower-left corner from the bottom.
        fig.figimage(pic.pixels, xo=x, yo=height - y - h, origin="upper")
        style = {"edgecolor": "#b0b0b0"}
    frame = Rectangle(((x - 1) / width, 1 - (y + h + 1) / height), (w + 2) / width, (h + 2) / height,
                      transform=fig.transFigure, fill=False, lw=1, **style)
    fig.add_artist(frame)
