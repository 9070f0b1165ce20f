"""Live progress of a round: one line per stage with counts that move, plus the model pools' load.

Stage actors report each batch to a `ProgressBoard` actor (fire-and-forget, so reporting never slows a stage);
the driver's `ProgressView` polls the board and the pools twice a second and draws one line per stage:
records in, problems out, rejections, records inside the stage now, and for model stages the requests in
flight and tokens per second of their pool. On a terminal the lines redraw in place (rich); otherwise one
block every `interval_s` seconds, so a log file stays readable. Layer L1; Ray is imported lazily.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO


@dataclass
class StageCount:
    received: int = 0  # records that entered the stage
    done: int = 0  # records the stage has finished with
    problems: int = 0  # problems it emitted
    rejections: int = 0  # rejections it produced (not counting those it passed through)

    @property
    def inside(self) -> int:
        return self.received - self.done


class ProgressBoard:
    """Counts per stage (a plain class; `ray.remote` makes it the round's board actor)."""

    def __init__(self, stages: list[str]):
        self.counts = {s: StageCount() for s in stages}
        self.accepted = 0
        self.committed = 0

    def started(self, stage: str, n: int) -> None:
        self.counts.setdefault(stage, StageCount()).received += n

    def finished(self, stage: str, n: int, outcomes: tuple[int, int]) -> None:
        c = self.counts.setdefault(stage, StageCount())
        c.done += n
        c.problems += outcomes[0]
        c.rejections += outcomes[1]

    def admitted(self, accepted: int, committed: int) -> None:
        self.accepted, self.committed = accepted, committed

    def snapshot(self) -> dict[str, Any]:
        return {"stages": {s: vars(c).copy() for s, c in self.counts.items()}, "accepted": self.accepted,
                "committed": self.committed}


def start_board(stages: list[str]) -> Any:
    """The board as a small threaded actor (0 CPUs: it must never wait for a CPU a stage holds)."""
    import ray

    return ray.remote(ProgressBoard).options(num_cpus=0, max_concurrency=4).remote(stages)


@dataclass
class ProgressView:
    """Draws the board; `loads` maps a model stage's name to a callable returning its pool's `load()` dict."""

    board: Any
    title: str
    loads: dict[str, Callable[[], dict]] = field(default_factory=dict)
    stream: TextIO | None = None
    interval_s: float = 30.0
    live: bool | None = None  # None: redraw in place only on a terminal
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _t0: float = field(default_factory=time.monotonic)

    def __enter__(self) -> ProgressView:
        import sys

        self.stream = self.stream or sys.stderr
        if self.live is None:
            self.live = self.stream.isatty()
        self._thread = threading.Thread(target=self._run, name="flywheel-progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def lines(self) -> list[str]:
        import ray

        try:
            snap = ray.get(self.board.snapshot.remote(), timeout=2)
        except Exception:  # noqa: BLE001 - a slow board only delays the display
            return []
        return render_lines(self.title, snap, {s: _safe(f) for s, f in self.loads.items()},
                            time.monotonic() - self._t0)

    def _run(self) -> None:
        if self.live:
            self._run_live()
            return
        last = time.monotonic()
        while not self._stop.wait(0.5):
            if time.monotonic() - last >= self.interval_s:
                last = time.monotonic()
                self._print(self.lines())
        self._print(self.lines())

    def _print(self, lines: list[str]) -> None:
        if lines and self.stream is not None:
            self.stream.write("\n".join(lines) + "\n")
            self.stream.flush()

    def _run_live(self) -> None:
        from rich.console import Console
        from rich.live import Live
        from rich.text import Text

        console = Console(file=self.stream)
        with Live(Text(""), console=console, refresh_per_second=4, transient=False) as live:
            while not self._stop.wait(0.5):
                live.update(Text("\n".join(self.lines())))
            live.update(Text("\n".join(self.lines())))


def _safe(load: Callable[[], dict]) -> dict:
    try:
        return load() or {}
    except Exception:  # noqa: BLE001 - a pool that cannot answer shows no load, the run goes on
        return {}


def render_lines(title: str, snap: dict[str, Any], loads: dict[str, dict], elapsed_s: float) -> list[str]:
    """One line per stage, e.g. `  solve    in 96  out 80  rejected 12  inside 4  | in flight 32  410 tok/s`.

    >>> render_lines("round 1", {"stages": {"render": {"received": 4, "done": 3, "problems": 2,
    ...   "rejections": 1}}, "accepted": 2, "committed": 0}, {}, 1.0)[1]
    '  render    in 4      out 2      rejected 1      inside 1    '
    """
    head = f"{title}  {elapsed_s:5.0f}s  accepted {snap.get('accepted', 0)}  committed {snap.get('committed', 0)}"
    out = [head]
    for stage, c in snap.get("stages", {}).items():
        line = (f"  {stage:<9} in {c['received']:<6} out {c['problems']:<6} rejected {c['rejections']:<6} "
                f"inside {c['received'] - c['done']:<4}")
        load = loads.get(stage)
        if load:
            line += f"| in flight {load.get('in_flight', 0):<4} {load.get('tokens_per_s', 0.0):7.0f} tok/s"
            if load.get("cached"):
                line += f"  cached {load['cached']}"
        out.append(line)
    return out
