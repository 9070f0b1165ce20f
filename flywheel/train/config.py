"""Trainer configuration: one frozen `TrainConfig` per stage, and a curriculum that lists stages in order.

Every field has a default and a comment; a TOML file overrides any subset and the CLI a few dials on top, the
same way flywheel/config.py works for evolve. The RL fields are read by grpo.py/rollout.py/rewards.py. A
curriculum file (jobs/curriculum.toml) has a `[defaults]` table and one `[[stage]]` table per stage with its
SQL selection and overrides; `load_curriculum` turns each into a full TrainConfig. Stdlib only.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flywheel.config import check_types

STAGES = ("perception", "sft", "rl")

# What each stage trains on when `sql` is empty: problems with what the stage's examples are built from.
DEFAULT_SQL = {
    "perception": "SELECT * FROM problems WHERE len(elements) > 0 ORDER BY id",
    "sft": "SELECT * FROM problems WHERE len(solution) > 0 AND edited_image IS NOT NULL ORDER BY id",
    "rl": "SELECT * FROM problems ORDER BY id",
}


@dataclass(frozen=True)
class TrainConfig:
    stage: str = "sft"  # perception | sft | rl
    steps: int = 100  # optimizer steps to run (the data repeats, reshuffled, when it runs out)
    lr: float = 1e-5  # peak learning rate (paper: 1e-5 for both SFT stages, 5e-7 for RL)
    min_lr_ratio: float = 0.1  # cosine decays to lr * this (paper's RL schedule)
    warmup: float = 0.03  # fraction of steps with linear warm-up
    weight_decay: float = 0.1
    max_grad_norm: float = 1.0  # gradient clipping; 0 = off
    batch_size: int = 4  # examples per micro-batch (rl: prompts per micro-batch, each sampled group_size times)
    grad_accum: int = 1  # micro-batches per optimizer step
    max_length: int = 2048  # tokens per example; longer text is cut, examples whose images do not fit are skipped
    checkpoint_every: int = 50  # steps between checkpoints (the last step always saves); 0 = only the last
    keep_checkpoints: int = 2  # complete checkpoints kept on disk
    log_every: int = 1  # steps between console lines (the JSONL gets every step)
    seed: int = 0  # data order, sampling and init of anything random
    sql: str = ""  # rows to train on, over the DuckDB views (problems, rounds); empty = DEFAULT_SQL[stage]
    device: str = "cpu"  # cpu | cuda (Ray workers with a GPU use their own)
    dtype: str = "float32"  # float32 | bfloat16 (GPU)
    perception_questions: int = 4  # perception questions built per image
    gradient_checkpointing: bool = False  # recompute activations in backward: less memory, ~30% more compute
    # -- RL (GRPO) ------------------------------------------------------------------------------------
    group_size: int = 8  # G: samples per prompt; advantages are relative within the group
    kl_coef: float = 0.01  # beta of the k3 KL to the frozen reference; 0 = no reference model is loaded
    clip_eps_low: float = 0.2  # ratio clipped to [1 - low, 1 + high]
    clip_eps_high: float = 0.2
    scale_rewards: bool = True  # divide advantages by the group's std (False: mean-centred only)
    max_turns: int = 4  # generate/execute rounds per rollout
    max_new_tokens: int = 256  # tokens per generation call
    temperature: float = 1.0
    top_p: float = 1.0
    tool_wall_s: float = 10.0  # sandbox wall-time limit per tool call
    reward_weights: tuple[tuple[str, float], ...] = (("accuracy", 1.0), ("format", 0.5), ("tool_use", 0.3))

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"train: stage must be one of {STAGES}, got {self.stage!r}")
        for name in ("steps", "batch_size", "grad_accum", "max_length", "group_size", "max_turns"):
            if getattr(self, name) < 1:
                raise ValueError(f"train: {name} must be >= 1, got {getattr(self, name)}")
        object.__setattr__(self, "reward_weights", _pairs(self.reward_weights))

    @property
    def selection(self) -> str:
        """The SQL that picks this stage's rows."""
        return self.sql or DEFAULT_SQL[self.stage]

    @property
    def rewards(self) -> dict[str, float]:
        return dict(self.reward_weights)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _pairs(value: Any) -> tuple[tuple[str, float], ...]:
    """Reward weights from a TOML table ({"accuracy": 1.0}) or pairs, as sorted-by-name pairs (hashable)."""
    items = value.items() if isinstance(value, dict) else value
    return tuple(sorted((str(k), float(v)) for k, v in items))


def train_config(values: dict[str, Any] | None = None, **overrides: Any) -> TrainConfig:
    """A TrainConfig from a dict (TOML table) plus keyword overrides (None values ignored)."""
    merged = {**(values or {}), **{k: v for k, v in overrides.items() if v is not None}}
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(merged) - known)
    if unknown:
        raise ValueError(f"train config: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in merged.items()}
    check_types(TrainConfig, {k: v for k, v in kwargs.items() if not isinstance(v, dict)}, "train")  # key named
    return TrainConfig(**kwargs)


def load_train_config(path: str | Path | None = None, **overrides: Any) -> TrainConfig:
    """Defaults, then the file, then `overrides` (None values ignored). The file is either a plain config (a
    `[train]` table) or a curriculum (`[defaults]` + `[[stage]]` tables): then the stage named by
    `overrides["stage"]` is picked, its table applied over `[defaults]`."""
    if path is None:
        return train_config(None, **overrides)
    with open(path, "rb") as f:
        raw = tomllib.load(f)
    if "stage" not in raw:
        return train_config(raw.get("train", {}), **overrides)
    stage = overrides.get("stage") or raw.get("defaults", {}).get("stage")
    picked = [c for c in load_curriculum(path) if c.stage == stage]
    if not picked:
        raise ValueError(f"{path}: no [[stage]] with stage = {stage!r}")
    return train_config(_explicit(picked[0]), **overrides)


def load_curriculum(path: str | Path) -> tuple[TrainConfig, ...]:
    """The stages of a curriculum file in order, each `[[stage]]` table applied over `[defaults]`. The model
    is not a key: a job runs the stages in order, each starting from the previous stage's `<out>/model`."""
    with open(path, "rb") as f:
        raw = tomllib.load(f)
    defaults = raw.get("defaults", {})
    stages = tuple(train_config(defaults, **table) for table in raw.get("stage", []))
    if not stages:
        raise ValueError(f"{path}: no [[stage]] tables")
    return stages


def _explicit(cfg: TrainConfig) -> dict[str, Any]:
    return {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)}
