"""Image checks on PNGs drawn here with PIL and matplotlib: blank, labelled, missing labels, sizes, non-PNG."""

from __future__ import annotations

import io
import struct
import zlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from flywheel.records import NamedElement, Verdict  # noqa: E402
from verifiers.image_check import check_image, images_differ, ink_mask  # noqa: E402

A = NamedElement("A", "vertex", 100.0, 500.0)
B = NamedElement("B", "vertex", 500.0, 500.0)
C = NamedElement("C", "vertex", 300.0, 150.0)


def _png(image: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt)
    return buf.getvalue()


def _triangle(size: tuple[int, int] = (600, 600), mode: str = "RGB", background=(255, 255, 255)) -> Image.Image:
    image = Image.new(mode, size, background)
    draw = ImageDraw.Draw(image)
    points = [(A.x, A.y), (B.x, B.y), (C.x, C.y)]
    draw.polygon(points, outline=(0, 0, 0, 255), width=2)
    for x, y in points:
        draw.ellipse((x - 4, y - 4, x + 4, y + 4), fill=(200, 30, 30, 255))
    return image


def _matplotlib_triangle(width: int = 600, height: int = 500) -> bytes:
    """The procedural canvas convention: full-bleed axes whose data coordinates are pixels, y down."""
    fig = plt.figure(figsize=(width / 100, height / 100), dpi=100)
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.axis("off")
    ax.plot([100, 500, 300, 100], [400, 400, 80, 400], "k-", lw=2)
    ax.plot([300], [80], "o", color="tab:blue", ms=6)
    ax.text(300, 70, "C", ha="center", va="bottom", fontsize=14)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def test_labelled_figure_passes() -> None:
    verdict = check_image(_png(_triangle()), 600, 600, [A, B, C])
    assert verdict == Verdict("image", True, 1.0, "ok")


def test_matplotlib_pixel_canvas_puts_elements_where_named() -> None:
    png = _matplotlib_triangle()
    elements = [NamedElement("A", "vertex", 100, 400), NamedElement("C", "vertex", 300, 80)]
    assert check_image(png, 600, 500, elements).passed
    assert check_image(png, 600, 500, [NamedElement("far", "point", 550, 40)]).reason == "label_missing:far"


def test_blank_image() -> None:
    verdict = check_image(_png(Image.new("RGB", (600, 600), "white")))
    assert verdict.passed is False and verdict.reason == "blank"
    assert verdict.score == pytest.approx(4 / 5)
    assert check_image(_png(Image.new("RGB", (600, 600), (30, 60, 90)))).reason == "blank"


def test_a_few_stray_pixels_are_still_blank() -> None:
    image = Image.new("RGB", (600, 600), "white")
    image.putpixel((300, 300), (0, 0, 0))
    assert check_image(_png(image)).reason == "blank"


def test_saturated_image() -> None:
    image = Image.new("RGB", (600, 600), "white")
    ImageDraw.Draw(image).rectangle((3, 3, 596, 596), fill="black")
    assert check_image(_png(image)).reason == "saturated"
    noise = np.random.default_rng(0).integers(0, 256, (300, 300, 3), dtype=np.uint8)
    assert check_image(_png(Image.fromarray(noise))).reason == "saturated"


def test_missing_label_and_element_outside() -> None:
    missing = NamedElement("D", "vertex", 50.0, 50.0)
    outside = NamedElement("E", "vertex", 650.0, 10.0)
    verdict = check_image(_png(_triangle()), elements=[A, missing, outside, B])
    assert verdict.passed is False
    assert verdict.reason == "label_missing:D;element_outside:E"
    assert verdict.score == pytest.approx(7 / 9)


def test_element_just_beside_the_ink_counts_within_radius() -> None:
    near = NamedElement("near", "vertex", A.x - 8, A.y)  # left of the dot (radius 4), away from the edges
    assert check_image(_png(_triangle()), elements=[near]).passed
    assert not check_image(_png(_triangle()), elements=[near], radius=2).passed


def test_size_checks() -> None:
    png = _png(_triangle())
    assert check_image(png, 640, 600).reason == "size_mismatch"
    assert check_image(png, height=480).reason == "size_mismatch"
    small = Image.new("RGB", (120, 200), "white")
    ImageDraw.Draw(small).line((10, 10, 110, 190), fill="black", width=3)
    assert check_image(_png(small)).reason == "too_small"
    large = _png(Image.new("L", (4100, 200), 255))
    verdict = check_image(large)
    assert verdict.reason == "too_large" and verdict.score == pytest.approx(1 / 5)


def test_absurd_header_size_is_refused_before_decoding() -> None:
    png = bytearray(_png(_triangle()))
    png[16:24] = struct.pack(">II", 100_000, 100_000)  # what a decompression bomb claims
    ihdr = bytes(png[12:29])
    png[29:33] = struct.pack(">I", zlib.crc32(ihdr))
    assert check_image(bytes(png)).reason == "too_large"


@pytest.mark.parametrize(
    "data",
    [b"", b"hello", b"\x89PNG\r\n\x1a\n", b"GIF89a" + b"\0" * 100, "jpeg", "truncated"],
)
def test_not_png(data: bytes | str) -> None:
    if data == "jpeg":
        data = _png(_triangle(), fmt="JPEG")
    elif data == "truncated":
        data = _png(_triangle())[:300]
    verdict = check_image(data, 600, 600, [A])
    assert verdict == Verdict("image", False, 0.0, "not_png")


def test_transparent_background_is_composited_on_white() -> None:
    image = _triangle(mode="RGBA", background=(0, 0, 0, 0))  # black but fully transparent
    assert check_image(_png(image), elements=[A, B, C]).passed
    assert check_image(_png(image.convert("LA"))).passed  # grey + alpha
    assert check_image(_png(_triangle().convert("P"))).passed  # palette


def test_ink_mask_reads_background_from_the_border() -> None:
    image = np.full((200, 200, 3), (20, 20, 40), dtype=np.uint8)  # a dark theme
    image[50:60, 50:150] = (250, 250, 250)
    mask = ink_mask(image)
    assert mask.sum() == 10 * 100


def test_images_differ() -> None:
    before = _png(_triangle())
    edited = _triangle()
    ImageDraw.Draw(edited).rectangle((0, 0, 59, 59), fill=(0, 0, 255))  # 3600 px of 360000
    assert images_differ(before, before) == 0.0
    assert images_differ(before, _png(_triangle())) == 0.0
    assert images_differ(before, _png(edited)) == pytest.approx(0.01)
    assert images_differ(before, _png(_triangle((600, 500)))) == 1.0
    faint = np.asarray(_triangle()).copy()
    faint[:, :, 0] = np.where(faint[:, :, 0] > 5, faint[:, :, 0] - 5, faint[:, :, 0])  # below tolerance 8
    assert images_differ(before, _png(Image.fromarray(faint))) == 0.0
    assert images_differ(before, _png(Image.fromarray(faint)), tolerance=0) > 0.5
    with pytest.raises(ValueError):
        images_differ(before, b"not a png")


# ----------------------------------------------------------------------------------------------------
# A figure drawn outside the canvas (the render stage's probe, model-made problems only)
# ----------------------------------------------------------------------------------------------------

INSIDE = {
    "labels_near_the_edges": "ax.text(4, 240, 'A', ha='left', fontsize=14)\nax.text(596, 470, 'B', ha='right', "
                             "va='bottom')\nax.text(300, 6, 'AB = 7 cm', ha='center', va='top')",
    "background_rectangle_is_the_canvas": "ax.add_patch(plt.Rectangle((0, 0), 600, 480, color='#f0f0f0'))\n"
                                          "ax.add_patch(plt.Circle((300, 240), 200, fill=False))",
    "a_line_may_run_off_the_edge": "ax.plot([-100, 700], [100, 380], 'k-')\nax.axhline(240)\n"
                                   "ax.text(300, 250, 'y = x + 1')",
    "empty_annotation_arrow": "ax.annotate('', xy=(590, 240), xytext=(10, 240), arrowprops=dict(arrowstyle='->'))",
}
OUTSIDE = {
    "label_past_the_right_edge": "ax.text(615, 240, 'C')",
    "label_above_the_top": "ax.text(300, -30, 'AB = 7')",
    "long_label_running_off": "ax.text(520, 240, 'the hypotenuse is 13 m long', fontsize=14)",
    "circle_leaving_the_canvas": "ax.add_patch(plt.Circle((560, 240), 120, fill=False))",
    "polygon_below_the_bottom": "ax.add_patch(plt.Polygon([(100, 400), (300, 560), (500, 400)]))",
    "figure_text": "fig.text(1.05, 0.5, 'note')",
}


def _render(body: str, proposer: str = "model-x"):
    from flywheel.canvas import canvas_code, tool_canvas_code
    from flywheel.records import SolutionStep, make_problem

    tool = tool_canvas_code(600, 480) + "ax.plot([100, 500], [100, 380], 'r-', lw=4)\n"
    return make_problem(question=f"Q {body}", answer="1", render_code=canvas_code(600, 480) + body + "\n",
                        width=600, height=480, proposer=proposer, solution=(SolutionStep("code", "draw", tool),))


def test_canvas_probe_both_ways(sandbox) -> None:
    from flywheel.records import Problem, Rejection
    from flywheel.sandbox import SandboxLimits
    from generators.render import render_batch

    cases = {**INSIDE, **OUTSIDE}
    out = dict(zip(cases, render_batch([_render(b) for b in cases.values()], sandbox, SandboxLimits(wall_s=20)),
                   strict=True))  # fmt: skip
    for name in INSIDE:
        p = out[name]
        assert isinstance(p, Problem) and p.edited_image, (name, p)
        assert [(v.name, v.passed) for v in p.verdicts] == [("canvas", True)], name
    for name in OUTSIDE:
        r = out[name]
        assert isinstance(r, Rejection) and (r.stage, r.reason) == ("image", "image_outside_canvas"), (name, r)
        assert "outside_canvas" in r.detail and r.raw.endswith(cases[name] + "\n")
    assert "'C' spans x 615.." in out["label_past_the_right_edge"].detail


def test_procedural_figures_are_not_probed(sandbox) -> None:
    from flywheel.records import Problem
    from flywheel.sandbox import SandboxLimits
    from generators.render import render_batch

    [p] = render_batch([_render(OUTSIDE["label_past_the_right_edge"], "procedural")], sandbox, SandboxLimits())
    assert isinstance(p, Problem) and p.verdicts == ()


def test_canvas_verdict_reads_only_the_probe_line() -> None:
    from generators.render import CANVAS_MARK, canvas_verdict

    assert canvas_verdict("hello\n", 600, 480).passed is None
    assert canvas_verdict(CANVAS_MARK + "{not json", 600, 480).passed is None
    ok = canvas_verdict(f"{CANVAS_MARK}[\"x\"]\n{CANVAS_MARK}[]\n", 600, 480)  # the last line (the probe's) counts
    assert ok.passed is True
    bad = canvas_verdict(CANVAS_MARK + '[["\'C\'", 615, 230, 625, 250]]', 600, 480)
    assert bad.passed is False and "'C' spans x 615..625, y 230..250" in bad.reason
