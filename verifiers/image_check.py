"""Cheap pixel checks on a rendered figure: a real PNG of sane size, neither blank nor solid ink, with ink at
every named element; plus `images_differ` to tell whether a tool edit changed the image.

Runs in the verify stage after rendering (`VERIFIERS["image"]`) on numpy arrays of the decoded PNG: a 600x600
figure takes a few milliseconds. Pixel positions use the top-left origin, x right and y down, like
`NamedElement`. Test: `pytest tests/test_image_check.py`.
"""

from __future__ import annotations

import io
import math
import struct
from collections.abc import Sequence

import numpy as np
from PIL import Image

from flywheel.records import NamedElement, Verdict

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MIN_SIDE, MAX_SIDE = 160, 4096
INK_THRESHOLD = 48  # channel distance from the background that counts as ink; faint anti-aliasing does not
MIN_INK = 0.001  # below this fraction of ink pixels the figure is blank
MAX_INK = 0.85  # above it the figure is mostly ink (a filled canvas, an inverted or noise image)
RADIUS = 6  # pixels around an element's position searched for ink: markers and labels sit on the point


def _open(png: bytes) -> Image.Image | None:
    """The PNG opened lazily (header only), or None when it is not one."""
    if not isinstance(png, bytes | bytearray) or not png.startswith(PNG_SIGNATURE):
        return None
    try:
        image = Image.open(io.BytesIO(png))
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    return image if image.format == "PNG" else None


def _header_size(png: bytes) -> tuple[int, int] | None:
    """(width, height) from the IHDR chunk, read without PIL so an absurd size never reaches a decoder."""
    if isinstance(png, bytes | bytearray) and len(png) >= 24 and png[:8] == PNG_SIGNATURE and png[12:16] == b"IHDR":
        return struct.unpack(">II", png[16:24])
    return None


def _rgb(image: Image.Image) -> np.ndarray:
    """Decoded pixels as an (H, W, 3) uint8 array, transparency composited onto white like a viewer would."""
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if "transparency" in image.info or "A" in image.mode else "RGB")
    pixels = np.asarray(image)
    if pixels.shape[2] == 3:
        return pixels
    alpha = pixels[..., 3]
    if alpha.min() == 255:  # matplotlib's default: RGBA but opaque, so skip the blend (most of the cost)
        return pixels[..., :3]
    a = alpha[..., None].astype(np.uint16)
    return ((pixels[..., :3] * a + 255 * (255 - a)) // 255).astype(np.uint8)


def _decode(png: bytes) -> np.ndarray | None:
    image = _open(png)
    if image is None or max(image.size) > MAX_SIDE:
        return None
    try:
        return _rgb(image)
    except (OSError, ValueError, Image.DecompressionBombError):  # truncated or corrupt pixel data
        return None


def ink_mask(rgb: np.ndarray) -> np.ndarray:
    """Pixels that differ from the background, taken as the most common colour on the border."""
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]]).astype(np.int32)
    packed = (border[:, 0] << 16) | (border[:, 1] << 8) | border[:, 2]
    values, counts = np.unique(packed, return_counts=True)
    bg = int(values[np.argmax(counts)])
    levels = np.arange(256)
    mask = np.zeros(rgb.shape[:2], dtype=bool)
    for channel, shift in enumerate((16, 8, 0)):  # a 256-entry table per channel: no (H, W, 3) int arrays
        far = np.abs(levels - ((bg >> shift) & 255)) > INK_THRESHOLD
        mask |= far[rgb[..., channel]]
    return mask


def _element_check(mask: np.ndarray, element: NamedElement, radius: int) -> str | None:
    """None when there is ink within `radius` of the element, else the failure code."""
    height, width = mask.shape
    x, y = element.x, element.y
    if not (math.isfinite(x) and math.isfinite(y) and 0 <= x < width and 0 <= y < height):
        return f"element_outside:{element.name}"
    cx, cy = int(round(x)), int(round(y))
    y0, x0 = max(cy - radius, 0), max(cx - radius, 0)
    window = mask[y0 : cy + radius + 1, x0 : cx + radius + 1]
    yy, xx = np.ogrid[y0 : y0 + window.shape[0], x0 : x0 + window.shape[1]]
    disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= radius * radius
    return None if bool((window & disc).any()) else f"label_missing:{element.name}"


def _verdict(failures: list[str], total: int, run: int) -> Verdict:
    """Score counts checks not run (after an undecodable or oversized image) as failed."""
    passed = run - len(failures)
    return Verdict("image", not failures and run == total, passed / total, ";".join(failures) or "ok")


def check_image(
    png: bytes,
    width: int | None = None,
    height: int | None = None,
    elements: Sequence[NamedElement] = (),
    radius: int = RADIUS,
) -> Verdict:
    """Check a rendered figure; the reason lists failure codes joined by ";" ("ok" when all pass).

    Codes: not_png, too_small, too_large, size_mismatch, blank, saturated, element_outside:<name>,
    label_missing:<name>. Score is the fraction of checks passed (png, size bounds, expected size when given,
    blank, saturated, one per element).
    """
    total = 5 + (width is not None or height is not None) + len(elements)
    image = _open(png)
    header = _header_size(png)
    if image is None and header is None:
        return _verdict(["not_png"], total, 1)
    w, h = header or image.size
    if max(w, h) > MAX_SIDE:  # refuse before decoding: a huge canvas is also a decompression bomb
        return _verdict(["too_large"], total, 2)
    rgb = _decode(png)
    if rgb is None:
        return _verdict(["not_png"], total, 1)
    failures = ["too_small"] if min(w, h) < MIN_SIDE else []
    if (width is not None and w != width) or (height is not None and h != height):
        failures.append("size_mismatch")
    mask = ink_mask(rgb)
    ink = float(mask.mean())
    if ink < MIN_INK:  # also covers a single colour: ink differs from the border's colour, so it makes two
        failures.append("blank")
    if ink > MAX_INK:
        failures.append("saturated")
    failures += [code for e in elements if (code := _element_check(mask, e, radius)) is not None]
    return _verdict(failures, total, total)


def images_differ(a_png: bytes, b_png: bytes, tolerance: int = 8) -> float:
    """Fraction of pixels whose colour changed by more than `tolerance` in some channel (1.0 if sizes differ).

    Raises ValueError when either input is not a decodable PNG; run `check_image` first on untrusted bytes.
    """
    if a_png == b_png and _open(a_png) is not None:
        return 0.0
    a, b = _decode(a_png), _decode(b_png)
    if a is None or b is None:
        raise ValueError("not_png")
    if a.shape != b.shape:
        return 1.0
    changed = np.zeros(a.shape[:2], dtype=bool)
    for channel in range(3):  # per channel: a reduction over a length-3 axis is several times slower
        x, y = a[..., channel], b[..., channel]
        changed |= (np.maximum(x, y) - np.minimum(x, y)) > tolerance  # |x - y| without uint8 wrap-around
    return float(changed.mean())
