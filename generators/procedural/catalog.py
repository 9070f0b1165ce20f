"""Every procedural family, by name: the one place the wiring is visible (no registry, no discovery)."""

from __future__ import annotations

from generators.procedural.base import Family
from generators.procedural.families import (
    bar_chart_stats,
    circle_chord_tangent,
    coordinate_line_intersection,
    function_graph_reading,
    grid_paths_counting,
    pie_chart_percent,
    polygon_angles,
    right_triangle_pythagoras,
    spinner_dice_probability,
    triangle_area,
    triangle_centers,
)

FAMILIES: dict[str, Family] = {
    m.FAMILY: m.make
    for m in (
        triangle_area,
        right_triangle_pythagoras,
        circle_chord_tangent,
        coordinate_line_intersection,
        polygon_angles,
        triangle_centers,
        bar_chart_stats,
        pie_chart_percent,
        function_graph_reading,
        spinner_dice_probability,
        grid_paths_counting,
    )
}
