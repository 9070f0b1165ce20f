"""Ray Train launch: a TorchTrainer whose workers run loop.run_worker on their shard of a Ray Data dataset.

Ray only launches workers, feeds data and wraps the model for DDP; the step is the same plain PyTorch that
`train_local` runs. Rank 0 writes checkpoints and metrics into `out` (on a cluster `out` must be shared storage,
e.g. an NFS or object-store mount); a worker group that Ray restarts after a failure resumes from the newest
checkpoint there. `flywheel train --workers N` lands here; `--workers 0` (or `--no-ray`) skips Ray entirely.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from flywheel.train.config import TrainConfig


def train_ray(cfg: TrainConfig, data: str | Path, model: str, out: str | Path, workers: int = 1,
              use_gpu: bool = False, cpus_per_worker: float = 1.0, max_failures: int = 0) -> dict[str, Any]:
    """Run the stage on `workers` Ray Train workers; returns the last reported metrics."""
    import ray
    from ray.train import FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    from flywheel.train.data import ray_dataset
    from flywheel.train.metrics import read

    started = _init_ray()
    out = Path(out).resolve()
    try:
        trainer = TorchTrainer(
            _worker,
            train_loop_config={"cfg": cfg, "model": model, "out": str(out)},
            scaling_config=ScalingConfig(num_workers=workers, use_gpu=use_gpu,
                                         resources_per_worker={"CPU": cpus_per_worker}),
            run_config=RunConfig(name="train", storage_path=str(out / "ray"),
                                 failure_config=FailureConfig(max_failures=max_failures)),
            datasets={"train": ray_dataset(data, cfg)},
        )
        trainer.fit()
    finally:
        if started:
            ray.shutdown()
    metrics = out / "metrics.jsonl"  # what rank 0 logged (Ray's result keeps metrics only with checkpoints)
    return read(metrics)[-1] if metrics.is_file() else {}


def _worker(config: dict[str, Any]) -> None:
    """train_loop_per_worker: the shared loop over this worker's shard, with DDP and per-step reports."""
    import ray.train
    import ray.train.torch

    from flywheel.train.loop import run_worker

    cfg: TrainConfig = config["cfg"]
    context = ray.train.get_context()
    shard = ray.train.get_dataset_shard("train")
    device = ray.train.torch.get_device()
    run_worker(cfg, config["model"], config["out"], shard_source(shard), rank=context.get_world_rank(),
               world_size=context.get_world_size(), device=str(device), prepare=_prepare,
               report=ray.train.report)


def _prepare(model):
    """DDP around the model when there are several workers; one worker trains the bare model."""
    import ray.train
    import ray.train.torch

    if ray.train.get_context().get_world_size() == 1:
        return model
    return ray.train.torch.prepare_model(model, move_to_device=False)


def shard_source(shard):
    """A loop.Source over a Ray Data shard: endless epochs in the dataset's order, skipping `cursor` rows
    (the examples a resumed run already trained on)."""
    from flywheel.train.data import table_to_examples

    def stream(cursor: int):
        seen, empty = 0, True
        while True:
            for block in shard.iter_batches(batch_size=16, batch_format="pyarrow"):
                for example in table_to_examples(block):
                    empty = False
                    if seen >= cursor:
                        yield example
                    seen += 1
            if empty:
                raise ValueError("this worker's data shard is empty: check the data folder and SQL selection")

    return stream


def _init_ray() -> bool:
    """Join RAY_ADDRESS or start a quiet local instance; True when this call started it."""
    import ray

    if ray.is_initialized():
        return False
    quiet = {"log_to_driver": True, "configure_logging": True, "logging_level": logging.WARNING}
    address = os.environ.get("RAY_ADDRESS")
    ray.init(address=address, **quiet) if address else ray.init(include_dashboard=False, **quiet)
    ray.data.DataContext.get_current().enable_progress_bars = False
    return True
