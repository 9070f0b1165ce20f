"""The report's single HTML page: a table of the rounds, the plots and the gallery, all by relative links.

Plain HTML with inline CSS and no script, so the folder can be copied anywhere and opened from disk. Every
piece of text from the data (questions, answers, reasons, ids) goes through `html.escape`: a question is model
output and may contain markup. Tested in tests/test_report.py.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

from flywheel.report.gallery import Sample
from flywheel.report.metrics import ReportData, RoundMetrics
from flywheel.report.plots import PLOTS

CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; padding: 0 1em; }
h1 { margin-bottom: 0.2em; } .muted { color: #666; font-size: 0.9em; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }
th { background: #f3f3f3; } td.text { text-align: left; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
.cards { display: flex; flex-wrap: wrap; gap: 1em; }
.card { border: 1px solid #ccc; border-radius: 6px; padding: 0.8em; width: 520px; background: #fafafa; }
.card .imgs { display: flex; gap: 0.5em; } .card .imgs figure { margin: 0; width: 50%; }
.card img { width: 100%; border: 1px solid #ddd; background: white; }
.card figcaption { font-size: 0.8em; color: #666; text-align: center; }
.q { white-space: pre-wrap; margin: 0.6em 0; } .a { font-weight: bold; }
.meta { font-size: 0.8em; color: #555; } code { font-size: 0.95em; }
"""


def esc(value: object) -> str:
    """Any value as HTML-safe text (quotes too, so it is also safe inside an attribute).

    >>> esc('<script>alert("x")</script>')
    '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'
    """
    return html.escape(str(value), quote=True)


def _num(v: float | int | None, fmt: str = "{:,}") -> str:
    return "n/r" if v is None else fmt.format(v)


def _round_cells(r: RoundMetrics) -> list[str]:
    k, d, c = r.knowledge, r.duplicates, r.cost
    return [
        f"{r.round}" + ("" if r.final else " (incomplete)"),
        _num(r.proposed), _num(r.accepted), f"{100 * r.acceptance_rate:.0f}%", _num(r.rejected),
        _num(r.concepts_covered), _num(r.seed_concepts_covered), _num(r.cumulative_concepts),
        _num(r.difficulty_mean, "{:.2f}"),
        " ".join(f"L{lv}:{n}" for lv, n in sorted(r.difficulty_histogram.items())) or "-",
        "n/r" if k is None else f"{k.concepts} / {k.tools}",
        "n/r" if d is None else f"{100 * d.rate:.1f}%",
        "n/r" if c is None else f"{c.prompt_tokens + c.completion_tokens:,.0f} tok, {c.seconds:.2f}s",
        _num(r.wall_seconds, "{:.1f}"),
    ]


def rounds_table(rows: Sequence[RoundMetrics]) -> str:
    heads = ["round", "proposed", "accepted", "rate", "rejected", "concepts", "seed concepts", "concepts so far",
             "difficulty mean", "levels", "knowledge (concepts / tools)", "duplicates", "cost / accepted",
             "wall s"]
    out = ["<table>", "<tr>" + "".join(f"<th>{esc(h)}</th>" for h in heads) + "</tr>"]
    for r in rows:
        out.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in _round_cells(r)) + "</tr>")
    out.append("</table>")
    derived = sorted({f for r in rows for f in r.derived})
    if derived:
        out.append(f'<p class="muted">Derived from the committed rows or knowledge.json because a round summary '
                   f'lacks them: {esc(", ".join(derived))}. n/r = not recorded.</p>')
    return "\n".join(out)


def reasons_table(rows: Sequence[RoundMetrics]) -> str:
    """Every rejection reason with its count per round (the plot folds the rare ones together)."""
    reasons = sorted({k for r in rows for k in r.rejected_by_reason},
                     key=lambda k: (-sum(r.rejected_by_reason.get(k, 0) for r in rows), k))
    if not reasons:
        return '<p class="muted">No rejections.</p>'
    out = ["<table>", "<tr><th>stage:reason</th>" + "".join(f"<th>round {r.round}</th>" for r in rows) + "</tr>"]
    for k in reasons:
        cells = "".join(f"<td>{r.rejected_by_reason.get(k, 0)}</td>" for r in rows)
        out.append(f'<tr><td class="text"><code>{esc(k)}</code></td>{cells}</tr>')
    out.append("</table>")
    return "\n".join(out)


def _image(path: str | None, caption: str) -> str:
    if path is None:
        return f'<figure><p class="muted">no {esc(caption)}</p></figure>'
    return (f'<figure><a href="{esc(path)}"><img src="{esc(path)}" alt="{esc(caption)}" loading="lazy"></a>'
            f"<figcaption>{esc(caption)}</figcaption></figure>")


def sample_card(s: Sample) -> str:
    parent = "none" if s.parent_id is None else s.parent_id
    planned = "" if s.planned_level is None else f" (asked for level {s.planned_level})"
    return "\n".join([
        '<div class="card">',
        f'<div class="imgs">{_image(s.image, "image")}{_image(s.edited_image, "edited image")}</div>',
        f'<div class="q">{esc(s.question)}</div>',
        f'<div>Answer: <span class="a">{esc(s.answer)}</span></div>',
        f'<div class="meta">id <code>{esc(s.id)}</code> · round {s.round} · {esc(s.family)} · operator '
        f"{esc(s.operator)} · parent <code>{esc(parent)}</code> · difficulty {s.difficulty:.2f}{planned}<br>"
        f"concepts: {esc(', '.join(s.concepts) or '-')}</div>",
        "</div>",
    ])


def gallery_html(gallery: dict[int, list[Sample]]) -> str:
    if not gallery:
        return '<p class="muted">No accepted problems to show.</p>'
    out = []
    for level in sorted(gallery):
        out.append(f'<h3 id="level-{level}">Level {level}</h3>')
        out.append('<div class="cards">' + "\n".join(sample_card(s) for s in gallery[level]) + "</div>")
    return "\n".join(out)


def render_page(data_dir: Path, report: ReportData, plots: dict[str, str], gallery: dict[int, list[Sample]]) -> str:
    """The whole page as one string."""
    rows = report.rounds
    total = sum(r.accepted for r in rows)
    figures = "\n".join(f'<h3 id="{esc(n)}">{esc(PLOTS[n][0])}</h3><figure><img src="{esc(p)}" '
                        f'alt="{esc(PLOTS[n][0])}"></figure>' for n, p in plots.items())
    levels = " · ".join(f'<a href="#level-{lv}">level {lv}</a>' for lv in sorted(gallery))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>flywheel report: {esc(data_dir.name)}</title>
<style>{CSS}</style></head><body>
<h1>flywheel report</h1>
<p class="muted">data: <code>{esc(data_dir)}</code> · {len(rows)} round(s) · {total:,} accepted problems</p>
<h2>Rounds</h2>
{rounds_table(rows)}
<h2>Plots</h2>
{figures}
<h3>All rejection reasons</h3>
{reasons_table(rows)}
<h2>Gallery</h2>
<p class="muted">Samples per difficulty level, chosen deterministically (families in turn, ids in order). {levels}</p>
{gallery_html(gallery)}
</body></html>
"""
