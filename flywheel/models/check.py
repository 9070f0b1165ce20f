"""`flywheel models check`: load every configured role's model and time one real request with an image."""

from __future__ import annotations

import io
import time

from flywheel.config import FlywheelConfig
from flywheel.models.base import GenerationRequest, Message, SamplingParams


def probe_image() -> bytes:
    """A small labelled triangle, so vision models get a real image to look at."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (224, 224), "white")
    draw = ImageDraw.Draw(img)
    draw.polygon([(30, 190), (190, 190), (80, 40)], outline="black", width=3)
    for name, xy in (("A", (18, 192)), ("B", (194, 192)), ("C", (74, 22))):
        draw.text(xy, name, fill="black")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def check_models(cfg: FlywheelConfig, max_tokens: int = 32) -> list[dict]:
    """One row per role: backend, model, load seconds, request latency, tokens, tokens/s, error."""
    from flywheel.models.pool import build_pools, close_pools

    roles = cfg.models.roles()
    if not roles:
        raise ValueError("no model is configured: add [models.<role>] sections (see docs/models.md)")
    pools = build_pools(roles)
    request = GenerationRequest(
        (Message.of("user", "Name the vertices of the triangle in the image.", probe_image()),),
        SamplingParams(max_tokens=max_tokens, temperature=0.0), tag="models-check")
    rows = []
    try:
        for role, pool in pools.items():
            load = max(i["load_s"] for i in pool.info())
            t0 = time.monotonic()
            (done,) = pool.generate([request])
            wall = time.monotonic() - t0
            rows.append({"role": role, "backend": pool.spec.backend, "model": pool.spec.model,
                         "load_s": round(load, 2), "latency_s": round(wall, 3),
                         "prompt_tokens": done.prompt_tokens, "completion_tokens": done.completion_tokens,
                         "tokens_per_s": round(done.completion_tokens / wall, 1) if wall else 0.0,
                         "error": done.error, "text": (done.texts[0] if done.texts else "")[:80]})
    finally:
        close_pools(pools)
    return rows
