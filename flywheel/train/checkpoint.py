"""Atomic training checkpoints: everything a killed run needs to continue as if nothing happened.

`<out>/checkpoints/step-NNNNNNN/` holds `model/` (weights + processor, loadable by `load_policy` and the hf
backend), `trainer.pt` (optimizer, scheduler, RNG states) and `state.json` (step, data cursor). It is written
under a `.tmp-` name and renamed into place, so a `step-*` folder is always complete; a kill mid-save leaves
only a temp folder, removed by the next save. `latest(out)` finds the newest one. Tests kill a run with SIGKILL.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PREFIX = "step-"


@dataclass(frozen=True)
class Resume:
    """Where a run continues: optimizer steps done and examples consumed from the data stream."""

    path: Path
    step: int
    cursor: int

    @property
    def model(self) -> Path:
        return self.path / "model"


def checkpoints_dir(out: str | Path) -> Path:
    return Path(out) / "checkpoints"


def save(out: str | Path, step: int, cursor: int, ctx: Any, keep: int = 2, extra: dict | None = None) -> Path:
    """Write checkpoint `step` for `ctx` (a StepContext) and keep the newest `keep` ones."""
    import torch

    root = checkpoints_dir(out)
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(".tmp-*"):  # a save that a kill interrupted
        shutil.rmtree(stale, ignore_errors=True)
    final = root / f"{PREFIX}{step:07d}"
    tmp = root / f".tmp-{PREFIX}{step:07d}-{os.getpid()}"
    save_model(tmp / "model", ctx.module, ctx.processor)
    torch.save({"optimizer": ctx.optimizer.state_dict(), "scheduler": ctx.scheduler.state_dict(),
                "rng": rng_state()}, tmp / "trainer.pt")
    _write_json(tmp / "state.json", {"step": step, "cursor": cursor, "config": ctx.config.to_dict(), **(extra or {})})
    if final.exists():  # the same step saved again after a resume: replace it whole
        shutil.rmtree(final)
    os.replace(tmp, final)
    _prune(root, keep)
    return final


def save_model(path: Path, model: Any, processor: Any) -> None:
    """Weights, config and processor files in one folder (what `load_policy` and HFBackend read)."""
    from transformers.utils import logging as hf_logging

    path.mkdir(parents=True, exist_ok=True)
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # a "Writing model shards" bar per checkpoint is noise in logs
    try:
        model.save_pretrained(path)
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    # Part by part: ProcessorMixin.save_pretrained fails on the empty video slot that load_processor leaves
    # where torchvision is missing; the loader rebuilds the processor from exactly these files.
    for name in processor.get_attributes():
        part = getattr(processor, name, None)
        if part is not None:
            part.save_pretrained(path)
    template = getattr(processor, "chat_template", None)
    if isinstance(template, str) and not (path / "chat_template.jinja").exists():
        (path / "chat_template.jinja").write_text(template)


def latest(out: str | Path) -> Resume | None:
    """The newest complete checkpoint under `out`, or None."""
    found = sorted(p for p in checkpoints_dir(out).glob(f"{PREFIX}*") if (p / "state.json").is_file())
    if not found:
        return None
    state = json.loads((found[-1] / "state.json").read_text())
    return Resume(found[-1], int(state["step"]), int(state["cursor"]))


def restore(resume: Resume, ctx: Any) -> None:
    """Load optimizer, scheduler and RNG states into `ctx` (the weights came in through `resume.model`)."""
    import torch

    saved = torch.load(resume.path / "trainer.pt", map_location=ctx.device, weights_only=False)
    ctx.optimizer.load_state_dict(saved["optimizer"])
    ctx.scheduler.load_state_dict(saved["scheduler"])
    set_rng_state(saved["rng"])


def rng_state() -> dict[str, Any]:
    import numpy as np
    import torch

    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    import numpy as np
    import torch

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _write_json(path: Path, value: dict) -> None:
    """Written and fsynced last: a checkpoint folder without it is never considered."""
    with open(path, "w") as f:
        json.dump(value, f, indent=1, default=str)
        f.flush()
        os.fsync(f.fileno())


def _prune(root: Path, keep: int) -> None:
    complete = sorted(p for p in root.glob(f"{PREFIX}*") if (p / "state.json").is_file())
    for old in complete[:-max(1, keep)]:
        shutil.rmtree(old, ignore_errors=True)
