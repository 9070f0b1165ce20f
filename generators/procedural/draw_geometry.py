"""Matplotlib source snippets that the geometry families paste into their render and tool code.

Every helper returns source text that draws in the pixel-space axes of `base.canvas_code` (origin top-left,
y down). A family computes pixel positions once, in Python, rounds them with `rnd`, and the same numbers go
into the code and into its NamedElements, so perception labels are exact. Exercised by
tests/test_families_geometry.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Pt = tuple[float, float]

LABEL_PT = 15  # vertex names
VALUE_PT = 13  # lengths and angles written on the figure
TOOL_COLOR = "#d62728"
ACCENT = "#1f77b4"


def rnd(p: Pt) -> Pt:
    """Pixel positions carry two decimals, both in the code and in the NamedElements."""
    return (round(p[0], 2), round(p[1], 2))


@dataclass(frozen=True)
class Frame:
    """Maps problem coordinates (y up) to pixels (y down) with one uniform scale, so figures stay to scale."""

    scale: float
    ox: float
    oy: float

    def px(self, p: Pt) -> Pt:
        return rnd((self.ox + self.scale * p[0], self.oy - self.scale * p[1]))


def fit_frame(points: list[Pt], box: tuple[float, float, float, float]) -> Frame:
    """The largest uniform scale that fits `points` in the pixel box (left, top, right, bottom), centred."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    left, top, right, bottom = box
    span_x, span_y = max(max(xs) - min(xs), 1e-9), max(max(ys) - min(ys), 1e-9)
    scale = min((right - left) / span_x, (bottom - top) / span_y)
    cx, cy = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
    return Frame(scale, (left + right) / 2 - scale * cx, (top + bottom) / 2 + scale * cy)


def unit(dx: float, dy: float) -> Pt:
    n = math.hypot(dx, dy)
    return (dx / n, dy / n)


def away(p: Pt, centre: Pt, dist: float) -> Pt:
    """The point `dist` pixels beyond p, on the ray from `centre` through p (labels outside a shape)."""
    u = unit(p[0] - centre[0], p[1] - centre[1])
    return rnd((p[0] + dist * u[0], p[1] + dist * u[1]))


def side_label_pos(p: Pt, q: Pt, inside: Pt, dist: float = 20, label: str = "") -> Pt:
    """Midpoint of pq pushed perpendicular to it, on the side away from `inside`.

    The label's half-size (about 5.5 px a character wide, 9 px tall at 13 pt) is added in the push
    direction, so text beside a steep segment clears it as well as text beside a flat one.
    """
    mx, my = (p[0] + q[0]) / 2, (p[1] + q[1]) / 2
    nx, ny = unit(-(q[1] - p[1]), q[0] - p[0])
    if (inside[0] - mx) * nx + (inside[1] - my) * ny > 0:
        nx, ny = -nx, -ny
    if label:
        dist += 5.5 * len(label) * abs(nx) + 9 * abs(ny)
    return rnd((mx + dist * nx, my + dist * ny))


def dimension(p: Pt, q: Pt, inside: Pt, gap: float, label: str, size: int = VALUE_PT) -> str:
    """A double-headed dimension line parallel to pq, `gap` px away from `inside`, with its label on it."""
    nx, ny = unit(-(q[1] - p[1]), q[0] - p[0])
    mx, my = (p[0] + q[0]) / 2, (p[1] + q[1]) / 2
    if (inside[0] - mx) * nx + (inside[1] - my) * ny > 0:
        nx, ny = -nx, -ny
    a, b = rnd((p[0] + gap * nx, p[1] + gap * ny)), rnd((q[0] + gap * nx, q[1] + gap * ny))
    return (
        f"ax.annotate('', xy=({a[0]:.2f}, {a[1]:.2f}), xytext=({b[0]:.2f}, {b[1]:.2f}), "
        "arrowprops=dict(arrowstyle='<->', color='#555555', lw=1.3, shrinkA=0, shrinkB=0))\n"
        + text(((a[0] + b[0]) / 2, (a[1] + b[1]) / 2), label, size=size, box=True)
    )


def bisector_pos(v: Pt, a: Pt, b: Pt, dist: float) -> Pt:
    """A point `dist` pixels from vertex v along the bisector of angle avb (angle labels)."""
    ua, ub = unit(a[0] - v[0], a[1] - v[1]), unit(b[0] - v[0], b[1] - v[1])
    u = unit(ua[0] + ub[0], ua[1] + ub[1])
    return rnd((v[0] + dist * u[0], v[1] + dist * u[1]))


def foot(p: Pt, a: Pt, b: Pt) -> Pt:
    """Foot of the perpendicular from p to line ab (unrounded)."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    t = ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / (dx * dx + dy * dy)
    return (a[0] + t * dx, a[1] + t * dy)


def segment(p: Pt, q: Pt, color: str = "black", lw: float = 2.0, ls: str = "-", z: int = 2, alpha: float = 1.0) -> str:
    return (
        f"ax.plot([{p[0]:.2f}, {q[0]:.2f}], [{p[1]:.2f}, {q[1]:.2f}], color={color!r}, lw={lw}, "
        f"ls={ls!r}, zorder={z}, alpha={alpha}, solid_capstyle='round')\n"
    )


def polygon(points: list[Pt], color: str = "black", lw: float = 2.0, face: str | None = None) -> str:
    """A closed outline, optionally filled with a light face colour under it."""
    xs = ", ".join(f"{p[0]:.2f}" for p in points)
    ys = ", ".join(f"{p[1]:.2f}" for p in points)
    code = ""
    if face:
        code += f"ax.fill([{xs}], [{ys}], color={face!r}, alpha=0.35, lw=0, zorder=1)\n"
    first = points[0]
    return code + (f"ax.plot([{xs}, {first[0]:.2f}], [{ys}, {first[1]:.2f}], color={color!r}, lw={lw}, zorder=2)\n")


def shade(points: list[Pt], color: str = TOOL_COLOR, alpha: float = 0.3) -> str:
    xs = ", ".join(f"{p[0]:.2f}" for p in points)
    ys = ", ".join(f"{p[1]:.2f}" for p in points)
    return f"ax.fill([{xs}], [{ys}], color={color!r}, alpha={alpha}, lw=0, zorder=1)\n"


def dot(p: Pt, color: str = "black", size: float = 6.0) -> str:
    return f"ax.plot([{p[0]:.2f}], [{p[1]:.2f}], 'o', color={color!r}, ms={size}, zorder=4)\n"


def text(p: Pt, s: str, size: int = LABEL_PT, color: str = "black", bold: bool = False, box: bool = False) -> str:
    """Centred text; `box` puts a white backing under it so grid lines never cross a label."""
    extra = ", fontweight='bold'" if bold else ""
    if box:
        extra += ", bbox=dict(boxstyle='round,pad=0.15', fc='white', ec='none', alpha=0.9)"
    return (
        f"ax.text({p[0]:.2f}, {p[1]:.2f}, {s!r}, ha='center', va='center', fontsize={size}, "
        f"color={color!r}, zorder=5{extra})\n"
    )


def right_angle(v: Pt, a: Pt, b: Pt, size: float = 13, color: str = "black", lw: float = 1.5) -> str:
    """The small square that marks angle avb as right."""
    ua, ub = unit(a[0] - v[0], a[1] - v[1]), unit(b[0] - v[0], b[1] - v[1])
    p1 = (v[0] + size * ua[0], v[1] + size * ua[1])
    p2 = (p1[0] + size * ub[0], p1[1] + size * ub[1])
    p3 = (v[0] + size * ub[0], v[1] + size * ub[1])
    return (
        f"ax.plot([{p1[0]:.2f}, {p2[0]:.2f}, {p3[0]:.2f}], [{p1[1]:.2f}, {p2[1]:.2f}, {p3[1]:.2f}], "
        f"color={color!r}, lw={lw}, zorder=3)\n"
    )


def arc(v: Pt, a: Pt, b: Pt, radius: float, color: str = "black", lw: float = 1.5) -> str:
    """An arc marking angle avb (the side under 180 degrees), drawn as a polyline in pixel space."""
    t1 = math.atan2(a[1] - v[1], a[0] - v[0])
    delta = math.atan2(b[1] - v[1], b[0] - v[0]) - t1
    delta = (delta + math.pi) % (2 * math.pi) - math.pi
    return (
        f"t = np.linspace({t1:.6f}, {t1 + delta:.6f}, 40)\n"
        f"ax.plot({v[0]:.2f} + {radius}*np.cos(t), {v[1]:.2f} + {radius}*np.sin(t), color={color!r}, "
        f"lw={lw}, zorder=3)\n"
    )


def circle(c: Pt, r: float, color: str = "black", lw: float = 2.0, ls: str = "-") -> str:
    return (
        f"ax.add_patch(plt.Circle(({c[0]:.2f}, {c[1]:.2f}), {r:.2f}, fill=False, color={color!r}, lw={lw}, "
        f"ls={ls!r}, zorder=2))\n"
    )


def ellipse_arc(c: Pt, rx: float, ry: float, t1: float, t2: float, color: str = "black", ls: str = "-") -> str:
    """Part of an axis-aligned ellipse, angles in radians measured in pixel space (y down)."""
    return (
        f"t = np.linspace({t1:.6f}, {t2:.6f}, 80)\n"
        f"ax.plot({c[0]:.2f} + {rx:.2f}*np.cos(t), {c[1]:.2f} + {ry:.2f}*np.sin(t), color={color!r}, lw=2.0, "
        f"ls={ls!r}, zorder=2)\n"
    )


def grid(origin: Pt, step: float, xr: tuple[int, int], yr: tuple[int, int], axes: bool = True) -> str:
    """A unit grid (and, if `axes`, numbered x/y axes) whose math point (0, 0) sits at pixel `origin`."""
    ox, oy = origin
    x0, x1 = ox + xr[0] * step, ox + xr[1] * step
    y0, y1 = oy - yr[1] * step, oy - yr[0] * step
    code = (
        f"for i in range({xr[0]}, {xr[1] + 1}):\n"
        f"    ax.plot([{ox:.2f} + i*{step}]*2, [{y0:.2f}, {y1:.2f}], color='#c8c8c8', lw=1, zorder=0)\n"
        f"for j in range({yr[0]}, {yr[1] + 1}):\n"
        f"    ax.plot([{x0:.2f}, {x1:.2f}], [{oy:.2f} - j*{step}]*2, color='#c8c8c8', lw=1, zorder=0)\n"
    )
    if not axes:
        return code
    return code + (
        f"ax.annotate('', xy=({x1 + 14:.2f}, {oy:.2f}), xytext=({x0 - 6:.2f}, {oy:.2f}), "
        "arrowprops=dict(arrowstyle='->', color='black', lw=1.5), zorder=1)\n"
        f"ax.annotate('', xy=({ox:.2f}, {y0 - 14:.2f}), xytext=({ox:.2f}, {y1 + 6:.2f}), "
        "arrowprops=dict(arrowstyle='->', color='black', lw=1.5), zorder=1)\n"
        f"ax.text({x1 + 14:.2f}, {oy + 14:.2f}, 'x', fontsize=13, ha='center', va='center', style='italic')\n"
        f"ax.text({ox + 16:.2f}, {y0 - 10:.2f}, 'y', fontsize=13, ha='center', va='center', style='italic')\n"
        f"for i in range({xr[0]}, {xr[1] + 1}):\n"
        f"    ax.text({ox:.2f} + i*{step}, {oy + 13:.2f}, str(i) if i else '', fontsize=11, ha='center', "
        "va='center', color='#333333')\n"
        f"for j in range({yr[0]}, {yr[1] + 1}):\n"
        f"    ax.text({ox - 9:.2f}, {oy:.2f} - j*{step}, str(j) if j else '', fontsize=11, ha='right', "
        "va='center', color='#333333')\n"
        f"ax.text({ox - 9:.2f}, {oy + 13:.2f}, '0', fontsize=11, ha='right', va='center', color='#333333')\n"
    )
