"""`flywheel report`: one HTML page with plots across rounds and a gallery of sample problems.

metrics.py gathers one row per round (from round summaries, else derived from the committed rows), plots.py
draws the PNGs, gallery.py picks samples per difficulty level and writes their images, page.py writes
index.html. Layer L3: reads through storage/, never writes to the data dir. Tested in tests/test_report.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Report:
    """What `build_report` wrote, for the CLI's one-line summary."""

    index: Path
    rounds: int
    accepted: int
    plots: int
    samples: int

    def describe(self) -> str:
        return (f"{self.rounds} round(s), {self.accepted:,} accepted problems, {self.plots} plots, "
                f"{self.samples} gallery samples")


def build_report(data: Path | str, out: Path | str) -> Report:
    """Write `out/index.html` plus `out/plots/*.png` and `out/gallery/*.png` for the data dir `data`."""
    from flywheel.report.gallery import build_gallery
    from flywheel.report.metrics import gather
    from flywheel.report.page import render_page
    from flywheel.report.plots import write_plots
    from storage.catalog import connect

    data, out = Path(data), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    report = gather(data)
    plots = write_plots(report, out)
    con = connect(data)
    try:
        gallery = build_gallery(con, out)
    finally:
        con.close()
    index = out / "index.html"
    tmp = out / "index.html.tmp"  # a reader never sees half a page
    tmp.write_text(render_page(data.resolve(), report, plots, gallery), encoding="utf-8")
    tmp.replace(index)
    samples = sum(len(v) for v in gallery.values())
    return Report(index, len(report.rounds), sum(r.accepted for r in report.rounds), len(plots), samples)


def write_report(data: Path, out: Path) -> Path:
    """Write the report for `data` into `out`; returns the path of index.html."""
    return build_report(data, out).index
