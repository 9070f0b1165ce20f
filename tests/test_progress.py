"""Progress lines of a round (flywheel/progress.py): counts per stage, and what a log file receives."""

from __future__ import annotations

import io

from flywheel.progress import ProgressBoard, ProgressView, render_lines


def test_board_counts_what_each_stage_did():
    board = ProgressBoard(["propose", "render"])
    board.started("propose", 8)
    board.finished("propose", 8, (6, 2))
    board.started("render", 6)
    board.finished("render", 4, (3, 1))
    board.admitted(3, 0)
    snap = board.snapshot()
    assert snap["stages"]["propose"] == {"received": 8, "done": 8, "problems": 6, "rejections": 2}
    assert snap["stages"]["render"]["received"] - snap["stages"]["render"]["done"] == 2  # still inside
    assert snap["accepted"] == 3


def test_lines_show_model_load_only_for_model_stages():
    snap = {"stages": {"propose": {"received": 32, "done": 16, "problems": 40, "rejections": 1},
                       "verify": {"received": 10, "done": 10, "problems": 9, "rejections": 1}},
            "accepted": 9, "committed": 0}
    lines = render_lines("round 2", snap, {"propose": {"in_flight": 16, "tokens_per_s": 812.4, "cached": 5}}, 12.0)
    assert lines[0].startswith("round 2") and "accepted 9" in lines[0]
    assert "in flight 16" in lines[1] and "812 tok/s" in lines[1] and "cached 5" in lines[1]
    assert "in flight" not in lines[2] and "rejected 1" in lines[2]


class _LocalBoard:
    """The board's remote interface over a plain board, so the view runs without Ray."""

    def __init__(self, board: ProgressBoard):
        self.snapshot = type("M", (), {"remote": staticmethod(board.snapshot)})


def test_a_log_file_gets_a_block_at_the_end_not_a_stream_of_redraws(monkeypatch):
    import ray

    board = ProgressBoard(["render"])
    board.started("render", 3)
    board.finished("render", 3, (3, 0))
    monkeypatch.setattr(ray, "get", lambda value, timeout=None: value)
    out = io.StringIO()
    with ProgressView(_LocalBoard(board), "round 1", stream=out, interval_s=3600):
        pass
    text = out.getvalue()
    assert text.count("round 1") == 1 and "render" in text and "\x1b[" not in text  # no terminal escapes
