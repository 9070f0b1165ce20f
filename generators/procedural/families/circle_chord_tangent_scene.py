"""The figures of circle_chord_tangent: every random draw `make` takes before its question wording.

Split from the family so its extensions (circle_chord_tangent_ext) can rebuild a parent's figure exactly with
`scene(random.Random(parent_seed), level)`, and so both files stay under 500 lines.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from fractions import Fraction

from generators.procedural import draw_geometry as dg
from generators.procedural.base import canvas_code
from generators.procedural.exact_geometry import sqrt_parts

W, H = 620, 560
TRIPLES = ((3, 4, 5), (5, 12, 13), (8, 15, 17), (7, 24, 25), (6, 8, 10), (9, 12, 15), (12, 16, 20))


@dataclass(frozen=True)
class Scene:
    """One figure: `kind` chord | tangent | radius | distance | contact; `r` the radius (a float for 'radius');
    `nums` the given integers (d, op, t, c by kind); `pts` pixels by name (O, A, B, M, P, T...)."""

    kind: str
    r: float
    nums: dict[str, int]
    fmt: str
    pts: dict[str, dg.Pt]
    render: str
    frame: dg.Frame
    phi: float = 0.0
    extra: dict[str, dg.Pt] = field(default_factory=dict)


def scene(rng: random.Random, difficulty: int) -> Scene:
    """The figure `make` draws at this level (1: chord; 2: tangent; 3: either; 4: radius or OP; 5: contact)."""
    if difficulty == 1 or (difficulty == 3 and rng.random() < 0.5):
        return _chord_scene(rng, difficulty)
    if difficulty in (2, 3):
        return _tangent_scene(rng, difficulty)
    if difficulty == 4:
        return _radius_scene(rng) if rng.random() < 0.5 else _distance_scene(rng)
    return _contact_scene(rng)


def _chord_scene(rng: random.Random, difficulty: int) -> Scene:
    if difficulty == 1:
        p, q, r = rng.choice(TRIPLES)
        d, half = (p, q) if rng.random() < 0.5 else (q, p)
        fmt = "exact"
    else:
        while True:
            r, d = rng.randint(4, 15), rng.randint(1, 12)
            if d < r and 0.2 < d / r < 0.85 and sqrt_parts(Fraction(r * r - d * d))[1] != 1:
                break
        fmt = "radical"
    phi = rng.uniform(0, 2 * math.pi)
    code, po, pa, pb, pm, frame = _chord_figure(r, d, phi, f"{r} cm", None)
    return Scene("chord", r, {"d": d}, fmt, {"O": po, "A": pa, "B": pb, "M": pm}, code, frame, phi)


def _radius_scene(rng: random.Random) -> Scene:
    c, d = rng.randint(4, 24), rng.randint(2, 12)
    while not 0.25 < 2 * d / c < 2.5:
        c, d = rng.randint(4, 24), rng.randint(2, 12)
    r = math.sqrt(Fraction(c * c, 4) + d * d)
    phi = rng.uniform(0, 2 * math.pi)
    code, po, pa, pb, pm, frame = _chord_figure(r, d, phi, None, f"{c} cm")
    return Scene("radius", r, {"c": c, "d": d}, "either", {"O": po, "A": pa, "B": pb, "M": pm}, code, frame, phi)


def _tangent_scene(rng: random.Random, difficulty: int) -> Scene:
    if difficulty == 2:
        a, b, op = rng.choice(TRIPLES)
        r, fmt = (a, "exact") if rng.random() < 0.5 else (b, "exact")
    else:
        while True:
            r, op = rng.randint(3, 12), rng.randint(5, 20)
            if 1.25 < op / r < 3.5 and sqrt_parts(Fraction(op * op - r * r))[1] != 1:
                break
        fmt = "radical"
    code, po, pp, pt, frame = _tangent_figure(r, op, {"radius": f"{r} cm", "op": f"{op} cm", "pt": "x"}, rng)
    return Scene("tangent", r, {"op": op}, fmt, {"O": po, "P": pp, "T": pt}, code, frame)


def _distance_scene(rng: random.Random) -> Scene:
    while True:
        r, t = rng.randint(3, 12), rng.randint(4, 20)
        if 0.4 < t / r < 3.5:
            break
    op = math.sqrt(r * r + t * t)
    code, po, pp, pt, frame = _tangent_figure(r, op, {"radius": f"{r} cm", "op": "x", "pt": f"{t} cm"}, rng)
    return Scene("distance", r, {"t": t}, "either", {"O": po, "P": pp, "T": pt}, code, frame)


def _contact_scene(rng: random.Random) -> Scene:
    while True:
        r, op = rng.randint(3, 10), rng.randint(5, 20)
        if 1.3 < op / r < 3.2:
            break
    phi = rng.uniform(0, 2 * math.pi)
    code, (po, pp, pa, pb, pm, m_pos), frame = _contact_figure(r, op, phi)
    pts = {"O": po, "P": pp, "A": pa, "B": pb, "M": pm}
    return Scene("contact", r, {"op": op}, "fraction", pts, code, frame, phi, {"m_label": m_pos})


def _circle_frame(r: float, extra: list[tuple[float, float]]) -> dg.Frame:
    pts = [(-r, -r), (r, r), *extra]
    return dg.fit_frame(pts, (80, 70, W - 80, H - 70))


def _polar(radius: float, angle: float) -> tuple[float, float]:
    return (radius * math.cos(angle), radius * math.sin(angle))


def _chord_points(r: float, d: float, phi: float):
    """Midpoint M at distance d from O in direction phi, and the chord's ends A and B."""
    half = math.sqrt(r * r - d * d)
    m = _polar(d, phi)
    a = (m[0] - half * math.sin(phi), m[1] + half * math.cos(phi))
    b = (m[0] + half * math.sin(phi), m[1] - half * math.cos(phi))
    return m, a, b


def _chord_figure(r: float, d: float, phi: float, radius_label: str | None, chord_label: str | None):
    """Render code and pixel points for a circle, its chord AB and optionally the drawn radius OA."""
    m, a, b = _chord_points(r, d, phi)
    frame = _circle_frame(r, [])
    po, pa, pb, pm = (frame.px(p) for p in ((0, 0), a, b, m))
    code = canvas_code(W, H) + dg.circle(po, r * frame.scale) + dg.segment(pa, pb, lw=2.2)
    if radius_label:
        code += dg.segment(po, pa, lw=1.8)
        code += dg.text(dg.side_label_pos(po, pa, pb, 12, radius_label), radius_label, dg.VALUE_PT, box=True)
    if chord_label:
        code += dg.text(dg.side_label_pos(pa, pb, po, 12, chord_label), chord_label, dg.VALUE_PT, box=True)
    code += dg.dot(po, size=5) + dg.text(dg.away(po, pm, 18) if d > 0 else (po[0], po[1] - 18), "O")
    for name, p in (("A", pa), ("B", pb)):
        code += dg.dot(p, size=5) + dg.text(dg.away(p, po, 18), name)
    return code, po, pa, pb, pm, frame


def _tangent_figure(r: float, op: float, labels: dict[str, str], rng: random.Random):
    """Circle, external point P, tangent PT (drawn a little past T), a labelled radius OQ and segment OP.

    `labels` maps 'radius', 'op', 'pt' to the text written on each (a missing key: no label; 'op' absent and
    not drawn when it is not part of the problem's givens)."""
    phi, s = rng.uniform(0, 2 * math.pi), rng.choice([1, -1])
    alpha = math.acos(r / op)
    p, t = _polar(op, phi), _polar(r, phi + s * alpha)
    q = _polar(r, phi + math.pi - 0.9 * s)
    beyond = (t[0] + 0.35 * (t[0] - p[0]), t[1] + 0.35 * (t[1] - p[1]))
    frame = _circle_frame(r, [p, beyond])
    po, pp, pt, pq, pbeyond = (frame.px(x) for x in ((0, 0), p, t, q, beyond))
    code = canvas_code(W, H) + dg.circle(po, r * frame.scale) + dg.segment(pp, pbeyond, lw=2)
    code += dg.segment(po, pq, lw=1.8)
    code += dg.text(dg.side_label_pos(po, pq, pp, 12, labels["radius"]), labels["radius"], dg.VALUE_PT, box=True)
    if "op" in labels:
        code += dg.segment(po, pp, color="#555555", lw=1.6, ls="--")
        code += dg.text(dg.side_label_pos(po, pp, pt, 12, labels["op"]), labels["op"], dg.VALUE_PT, box=True)
    code += dg.text(dg.side_label_pos(pp, pt, po, 12, labels["pt"]), labels["pt"], dg.VALUE_PT, box=True)
    code += dg.dot(po, size=5) + dg.text(dg.away(po, pt, 18), "O")
    for name, x in (("P", pp), ("T", pt)):
        code += dg.dot(x, size=5) + dg.text(dg.away(x, po, 18), name)
    return code, po, pp, pt, frame


def _contact_figure(r: int, op: int, phi: float):
    """Circle, tangents PA and PB (drawn past A and B), dashed OP, chord AB; also M and a spot for its label."""
    alpha = math.acos(r / op)
    p, a, b, q = _polar(op, phi), _polar(r, phi + alpha), _polar(r, phi - alpha), _polar(r, phi + math.pi)
    m = _polar(r * r / op, phi)
    ext = [(x[0] + 0.3 * (x[0] - p[0]), x[1] + 0.3 * (x[1] - p[1])) for x in (a, b)]
    frame = _circle_frame(r, [p, *ext])
    po, pp, pa, pb, pq, pm = (frame.px(x) for x in ((0, 0), p, a, b, q, m))
    code = canvas_code(W, H) + dg.circle(po, r * frame.scale)
    for x in ext:
        code += dg.segment(pp, frame.px(x), lw=2)
    code += dg.segment(po, pq, lw=1.8) + dg.segment(po, pp, lw=1.6, color="#555555", ls="--")
    code += dg.segment(pa, pb, lw=2, color=dg.ACCENT)
    code += dg.text(dg.side_label_pos(po, pq, pa, 12, f"{r} cm"), f"{r} cm", dg.VALUE_PT, box=True)
    op_text = f"OP = {op} cm"  # named: beside the dashed OP it could otherwise be read as a tangent length
    code += dg.text(dg.side_label_pos(pm, pp, pa, 12, op_text), op_text, dg.VALUE_PT, box=True)
    code += dg.text(dg.side_label_pos(pa, pm, pp, 12, "x"), "x", dg.VALUE_PT + 2, box=True)
    # O's label sits between the drawn radius OQ and the perpendicular to OP, clear of the tool's radii
    code += dg.dot(po, size=5) + dg.text(frame.px(_polar(0.22 * r, phi + 0.75 * math.pi)), "O")
    for name, x in (("P", pp), ("A", pa), ("B", pb)):
        code += dg.dot(x, size=5) + dg.text(dg.away(x, po, 18), name)
    m_label = frame.px(_polar(r * r / op + 0.12 * r, phi - 0.25))  # just past M, on B's side of OP
    return code, (po, pp, pa, pb, pm, m_label), frame
