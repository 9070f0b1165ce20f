"""The report's figures: one matplotlib Figure per question a person asks about the rounds, saved as PNG.

Figures are built with `matplotlib.figure.Figure` (Agg canvas, no pyplot state), so the report never depends on
a display or on a backend someone else selected. A metric that is neither recorded nor derivable is drawn as
"not recorded"; one that was derived says from what, in a footnote. Tested in tests/test_report.py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from flywheel.report.metrics import LEVELS, ReportData, RoundMetrics

DPI = 100
OPERATORS = ("seed", "parallel", "sequential", "repair")
OPERATOR_COLORS = {"seed": "#4c72b0", "parallel": "#55a868", "sequential": "#c44e52", "repair": "#8172b2"}
TOP_REASONS = 8  # more reasons than this share one "other" band; the table on the page lists them all


def _figure(panels: int = 1, width: float = 8.0) -> tuple[Figure, list[Axes]]:
    fig = Figure(figsize=(width if panels == 1 else 5.0 * panels, 4.6), dpi=DPI, layout="constrained")
    # keep a strip at the bottom free for the footnote, which the layout engine does not know about
    fig.get_layout_engine().set(rect=(0, 0.04, 1, 0.96))
    axes = fig.subplots(1, panels)
    return fig, list(axes) if panels > 1 else [axes]


def _round_axis(ax: Axes, rounds: Sequence[int], ylabel: str, counts: bool = False) -> None:
    """Round numbers as x ticks; `counts` keeps y ticks on whole numbers (no "0.2 rejections")."""
    ax.set_xticks(list(rounds), [str(r) for r in rounds])
    if counts:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("round")
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
    if rounds:
        ax.set_xlim(min(rounds) - 0.6, max(rounds) + 0.6)


def _not_recorded(ax: Axes, what: str) -> None:
    ax.text(0.5, 0.5, f"{what}:\nnot recorded", ha="center", va="center", transform=ax.transAxes,
            fontsize=13, color="0.4")


def _missing(ax: Axes, rounds: Sequence[int]) -> None:
    """Mark rounds that have no value for this plot, so a gap is never read as zero."""
    for x in rounds:
        ax.annotate("not\nrecorded", (x, 0.02), xycoords=("data", "axes fraction"), ha="center", va="bottom",
                    fontsize=8, color="0.4")


def _footnote(fig: Figure, rows: Sequence[RoundMetrics], field: str, source: str) -> None:
    """Say when a plotted value was derived rather than read from the round summary."""
    derived = [r.round for r in rows if field in r.derived and getattr(r, field) is not None]
    if derived:
        which = ("all rounds" if len(derived) == len(rows) else
                 ("round " if len(derived) == 1 else "rounds ") + ", ".join(map(str, derived)))
        fig.text(0.01, 0.005, f"{which}: derived from {source} (not in the round summary)", fontsize=8,
                 color="0.35", ha="left", va="bottom")


def _bar_labels(ax: Axes, xs: Sequence[int], heights: Sequence[float], texts: Sequence[str]) -> None:
    for x, h, t in zip(xs, heights, texts, strict=True):
        ax.annotate(t, (x, h), xytext=(0, 3), textcoords="offset points", ha="center", va="bottom", fontsize=9)


def plot_accepted(data: ReportData) -> Figure:
    """Accepted problems per round, stacked by the operator that made them."""
    rows, rounds = data.rounds, [r.round for r in data.rounds]
    fig, (ax,) = _figure()
    names = [o for o in OPERATORS if any(r.accepted_by_operator.get(o) for r in rows)]
    names += sorted({o for r in rows for o in r.accepted_by_operator} - set(OPERATORS))
    bottom = [0.0] * len(rows)
    for name in names:
        vals = [float(r.accepted_by_operator.get(name, 0)) for r in rows]
        ax.bar(rounds, vals, bottom=bottom, label=name, color=OPERATOR_COLORS.get(name), width=0.6)
        bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
    if not names:  # no operator counts at all: plain totals
        bottom = [float(r.accepted) for r in rows]
        ax.bar(rounds, bottom, color="#4c72b0", width=0.6, label="accepted")
    _bar_labels(ax, rounds, [float(r.accepted) for r in rows], [str(r.accepted) for r in rows])
    ax.set_title("Accepted problems per round, by operator")
    _round_axis(ax, rounds, "accepted problems", counts=True)
    ax.set_ylim(0, max([r.accepted for r in rows] + [1]) * 1.15)
    ax.legend(title="operator", loc="upper left", fontsize=9)
    _footnote(fig, rows, "accepted_by_operator", "the problems' operator column")
    return fig


def plot_acceptance(data: ReportData) -> Figure:
    """Share of proposed candidates that were accepted."""
    rows, rounds = data.rounds, [r.round for r in data.rounds]
    fig, (ax,) = _figure()
    rates = [100 * r.acceptance_rate for r in rows]
    ax.plot(rounds, rates, marker="o", color="#4c72b0", label="accepted / proposed")
    for r, rate in zip(rows, rates, strict=True):
        ax.annotate(f"{rate:.0f}% ({r.accepted}/{r.proposed})", (r.round, rate), xytext=(0, 8),
                    textcoords="offset points", ha="center", fontsize=9,
                    bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.9})
    ax.set_title("Acceptance rate per round")
    _round_axis(ax, rounds, "accepted / proposed (%)")
    ax.set_ylim(0, 115)
    ax.legend(loc="lower left", fontsize=9)
    _footnote(fig, rows, "proposed", "accepted + rejected")
    return fig


def plot_rejections(data: ReportData) -> Figure:
    """Rejections per round by stage:reason; the rarest reasons share one band."""
    rows, rounds = data.rounds, [r.round for r in data.rounds]
    fig, (ax,) = _figure(width=10.0)
    totals: dict[str, int] = {}
    for r in rows:
        for reason, n in r.rejected_by_reason.items():
            totals[reason] = totals.get(reason, 0) + int(n)
    top = sorted(totals, key=lambda k: (-totals[k], k))[:TOP_REASONS]
    bands = [(t, lambda r, t=t: r.rejected_by_reason.get(t, 0)) for t in top]
    if len(totals) > len(top):
        bands.append(("other", lambda r: sum(n for k, n in r.rejected_by_reason.items() if k not in top)))
    bottom = [0.0] * len(rows)
    colors = [f"C{i}" for i in range(10)]
    for i, (name, count) in enumerate(bands):
        vals = [float(count(r)) for r in rows]
        ax.bar(rounds, vals, bottom=bottom, label=name, width=0.6, color=colors[i % 10] if name != "other" else "0.7")
        bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
    if not totals:
        ax.text(0.5, 0.5, "no rejections", ha="center", va="center", transform=ax.transAxes, color="0.4")
    _bar_labels(ax, rounds, bottom, [str(r.rejected) for r in rows])
    ax.set_title("Rejections per round, by stage:reason")
    _round_axis(ax, rounds, "rejected candidates", counts=True)
    ax.set_ylim(0, max(bottom + [1.0]) * 1.15)
    if bands:
        ax.legend(title="stage:reason", loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    _footnote(fig, rows, "rejected_by_reason", "the rejections table")
    return fig


def plot_coverage(data: ReportData) -> Figure:
    """Concepts the accepted problems exercise: per round, and how much of the seed system is covered so far."""
    rows, rounds = data.rounds, [r.round for r in data.rounds]
    fig, (left, right) = _figure(2)
    # thick and pale under thin and dark: the two lines coincide while every concept is a seed concept
    left.plot(rounds, [r.concepts_covered for r in rows], marker="o", ms=10, lw=5, alpha=0.45,
              label="concepts covered this round")
    if any(r.seed_concepts_covered is not None for r in rows):
        left.plot(rounds, [r.seed_concepts_covered for r in rows], marker="s", color="#c44e52",
                  label="of which seed concepts")
    left.plot(rounds, [r.cumulative_concepts for r in rows], marker="^", ls="--", label="distinct so far")
    left.set_title("Concepts covered")
    _round_axis(left, rounds, "concepts", counts=True)
    left.set_ylim(0, max([r.cumulative_concepts for r in rows] + [1]) * 1.15)
    left.legend(loc="lower right", fontsize=9)
    if data.seed_concepts and all(r.cumulative_seed_concepts is not None for r in rows):
        shares = [100 * (r.cumulative_seed_concepts or 0) / data.seed_concepts for r in rows]
        right.plot(rounds, shares, marker="o", color="#55a868")
        for r, s in zip(rows, shares, strict=True):
            right.annotate(f"{s:.1f}%", (r.round, s), xytext=(0, 6), textcoords="offset points", ha="center",
                           fontsize=9)
        right.set_ylim(0, max(shares + [1.0]) * 1.25)
        right.set_title(f"Seed concepts covered so far (of {data.seed_concepts})")
    else:
        _not_recorded(right, "seed concepts (no knowledge.json)")
        right.set_title("Seed concepts covered so far")
    _round_axis(right, rounds, "share of seed concepts (%)")
    _footnote(fig, rows, "concepts_covered", "the problems' concepts column")
    return fig


def plot_knowledge(data: ReportData) -> Figure:
    """Size of the knowledge system after each round (0 = the seed) and what each round added."""
    rows = [r for r in data.rounds if r.knowledge is not None]
    fig, axes = _figure(3)
    if not rows:
        for ax in axes:
            _not_recorded(ax, "knowledge system")
            _round_axis(ax, [r.round for r in data.rounds], "nodes")
        fig.suptitle("Knowledge-system growth")
        return fig
    seed = [(0, data.seed_knowledge)] if data.seed_knowledge else []
    points = seed + [(r.round, r.knowledge) for r in rows]
    xs = [x for x, _ in points]
    everywhere = sorted(set(xs) | {r.round for r in data.rounds})
    missing = [r.round for r in data.rounds if r.knowledge is None]
    panels = ((axes[0], ("concepts", "edges"), "concepts and prerequisite edges"),
              (axes[1], ("tools", "domains"), "visual tools and domains"))
    for ax, fields, title in panels:
        for f in fields:
            ys = [getattr(k, f) for _, k in points]
            ax.plot(xs, ys, marker="o", label=f)
            ax.annotate(str(ys[-1]), (xs[-1], ys[-1]), xytext=(4, 0), textcoords="offset points", fontsize=9)
        ax.set_title(title)
        _round_axis(ax, everywhere, "count", counts=True)
        _missing(ax, missing)
        ax.set_ylim(0, max(max(getattr(k, f) for _, k in points) for f in fields) * 1.2 + 1)
        ax.legend(loc="lower right", fontsize=9)
    rounds = [r.round for r in rows]
    for offset, f in ((-0.18, "added_concepts"), (0.18, "added_tools")):
        vals = [getattr(r.knowledge, f) or 0 for r in rows]
        axes[2].bar([x + offset for x in rounds], vals, width=0.36, label=f.replace("_", " "))
    added = [(r.knowledge.added_concepts or 0) + (r.knowledge.added_tools or 0) for r in rows if r.knowledge]
    if not any(added):
        axes[2].text(0.5, 0.5, "nothing added", ha="center", va="center", transform=axes[2].transAxes, color="0.4")
    axes[2].set_title("added in the round")
    _round_axis(axes[2], [r.round for r in data.rounds], "new nodes", counts=True)
    _missing(axes[2], missing)
    axes[2].set_ylim(0, max(added + [1]) * 1.2)
    axes[2].legend(loc="upper left", fontsize=9)
    fig.suptitle("Knowledge-system growth" + (" (round 0 = seed)" if seed else ""))
    _footnote(fig, data.rounds, "knowledge", "knowledge.json (each node's added_round)")
    return fig


def plot_difficulty(data: ReportData) -> Figure:
    """Share of each difficulty level per round (stacked), with the mean difficulty on a second axis."""
    rows, rounds = data.rounds, [r.round for r in data.rounds]
    fig, (ax,) = _figure(width=9.0)
    cmap = {lv: c for lv, c in zip(LEVELS, ("#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15"), strict=True)}
    bottom = [0.0] * len(rows)
    for level in LEVELS:
        vals = [100 * r.difficulty_histogram.get(level, 0) / max(1, sum(r.difficulty_histogram.values()))
                for r in rows]
        ax.bar(rounds, vals, bottom=bottom, width=0.6, color=cmap[level], label=f"level {level}",
               edgecolor="white")
        for x, b, v, r in zip(rounds, bottom, vals, rows, strict=True):
            if v >= 6:  # a label in a thin band would be unreadable; the page's table has every count
                ax.text(x, b + v / 2, str(r.difficulty_histogram.get(level, 0)), ha="center", va="center",
                        fontsize=8, color="black" if level < 4 else "white")
        bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
    ax.set_title("Difficulty levels per round (bar labels: problems)")
    _round_axis(ax, rounds, "share of accepted problems (%)")
    ax.set_ylim(0, 100)
    twin = ax.twinx()
    means = [r.difficulty_mean for r in rows]
    twin.plot([x for x, m in zip(rounds, means, strict=True) if m is not None], [m for m in means if m is not None],
              color="black", marker="D", label="mean difficulty")
    for x, m in zip(rounds, means, strict=True):
        if m is not None:
            twin.annotate(f"mean {m:.2f}", (x, m), xytext=(0, 9), textcoords="offset points", ha="center",
                          fontsize=9, bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "0.5", "alpha": 0.9})
    twin.set_ylim(0, 5.5)
    twin.set_ylabel("mean difficulty")
    handles = ax.get_legend_handles_labels()[0][::-1] + twin.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.08, 1.0), fontsize=9)
    _footnote(fig, rows, "difficulty_histogram", "the problems' difficulty column")
    return fig


def plot_duplicates(data: ReportData) -> Figure:
    """Near-duplicate rate per round, as the dedup stage saw it."""
    rows = [r for r in data.rounds if r.duplicates is not None]
    rounds = [r.round for r in data.rounds]
    fig, (ax,) = _figure()
    if not rows:
        _not_recorded(ax, "duplicate rate")
    else:
        rates = [100 * r.duplicates.rate for r in rows if r.duplicates]
        xs = [r.round for r in rows]
        ax.bar(xs, rates, width=0.6, color="#c44e52")
        _bar_labels(ax, xs, rates, [f"{100 * d.rate:.1f}%\n{d.near_duplicates}/{d.checked}"
                                    for d in (r.duplicates for r in rows) if d])
        ax.set_ylim(0, max(rates + [1.0]) * 1.4)
    ax.set_title("Duplicate rate per round (duplicates / candidates checked)")
    _round_axis(ax, rounds, "duplicates (%)")
    if rows:
        _missing(ax, [r.round for r in data.rounds if r.duplicates is None])
    _footnote(fig, data.rounds, "duplicates", "dedup-stage rejections / (accepted + those)")
    return fig


def plot_cost(data: ReportData) -> Figure:
    """Model tokens and stage seconds spent per accepted problem."""
    rows = [r for r in data.rounds if r.cost is not None]
    rounds = [r.round for r in data.rounds]
    fig, (tokens, seconds) = _figure(2)
    if not rows:
        _not_recorded(tokens, "tokens per accepted problem")
        _not_recorded(seconds, "seconds per accepted problem")
    else:
        xs = [r.round for r in rows]
        prompt = [r.cost.prompt_tokens for r in rows if r.cost]
        completion = [r.cost.completion_tokens for r in rows if r.cost]
        tokens.bar(xs, prompt, width=0.6, label="prompt", color="#4c72b0")
        tokens.bar(xs, completion, bottom=prompt, width=0.6, label="completion", color="#dd8452")
        total = [p + c for p, c in zip(prompt, completion, strict=True)]
        _bar_labels(tokens, xs, total, [f"{t:,.0f}" for t in total])
        if not any(total):
            tokens.text(0.5, 0.5, "no model tokens spent", ha="center", va="center",
                        transform=tokens.transAxes, color="0.4")
        tokens.set_ylim(0, max(total + [1.0]) * 1.2)
        tokens.legend(loc="upper left", fontsize=9)
        secs = [r.cost.seconds for r in rows if r.cost]
        seconds.bar(xs, secs, width=0.6, color="#55a868")
        _bar_labels(seconds, xs, secs, [f"{s:.2f}s" for s in secs])
        seconds.set_ylim(0, max(secs + [0.1]) * 1.2)
    tokens.set_title("Model tokens per accepted problem")
    seconds.set_title("Stage seconds per accepted problem")
    _round_axis(tokens, rounds, "tokens")
    _round_axis(seconds, rounds, "seconds (sum over stages)")
    if rows:
        for ax in (tokens, seconds):
            _missing(ax, [r.round for r in data.rounds if r.cost is None])
    _footnote(fig, data.rounds, "cost", "accepted problems' own cost (rejected work not counted)")
    return fig


# name -> (heading on the page, figure builder); the page shows them in this order
PLOTS: dict[str, tuple[str, Callable[[ReportData], Figure]]] = {
    "accepted": ("Accepted problems", plot_accepted),
    "acceptance": ("Acceptance rate", plot_acceptance),
    "rejections": ("Rejections by reason", plot_rejections),
    "coverage": ("Concept coverage", plot_coverage),
    "knowledge": ("Knowledge-system growth", plot_knowledge),
    "difficulty": ("Difficulty per round", plot_difficulty),
    "duplicates": ("Duplicate rate", plot_duplicates),
    "cost": ("Cost per accepted problem", plot_cost),
}


def write_plots(data: ReportData, out: Path) -> dict[str, str]:
    """Save every plot as `out/plots/<name>.png`; returns name -> path relative to `out`."""
    (out / "plots").mkdir(parents=True, exist_ok=True)
    written = {}
    for name, (_, build) in PLOTS.items():
        rel = f"plots/{name}.png"
        build(data).savefig(out / rel, dpi=DPI)
        written[name] = rel
    return written
