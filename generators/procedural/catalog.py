"""Every procedural family, by name: the one place the wiring is visible (no registry, no discovery)."""

from __future__ import annotations

from generators.procedural.base import Extension, Family
from generators.procedural.families import (
    bar_chart_stats,
    bar_chart_stats_ext,
    circle_chord_tangent,
    circle_chord_tangent_ext,
    clock_angle_ruler,
    clock_angle_ruler_ext,
    coordinate_line_intersection,
    coordinate_line_intersection_ext,
    count_rectangles_triangles,
    count_rectangles_triangles_ext,
    function_graph_reading,
    function_graph_reading_ext,
    graph_shortest_path,
    graph_shortest_path_ext,
    grid_paths_counting,
    grid_paths_counting_ext,
    law_of_cosines_sines,
    law_of_cosines_sines_ext,
    pie_chart_percent,
    pie_chart_percent_ext,
    polygon_angles,
    polygon_angles_ext,
    right_triangle_pythagoras,
    right_triangle_pythagoras_ext,
    solid_box_cylinder,
    solid_box_cylinder_ext,
    spinner_dice_probability,
    spinner_dice_probability_ext,
    triangle_area,
    triangle_area_ext,
    triangle_centers,
    triangle_centers_ext,
)

FAMILIES: dict[str, Family] = {
    m.FAMILY: m.make
    for m in (
        # geometry, trigonometry, analytic and solid geometry
        triangle_area,
        right_triangle_pythagoras,
        circle_chord_tangent,
        coordinate_line_intersection,
        polygon_angles,
        triangle_centers,
        law_of_cosines_sines,
        solid_box_cylinder,
        # charts, functions, probability, counting, graphs, measurement
        bar_chart_stats,
        pie_chart_percent,
        function_graph_reading,
        spinner_dice_probability,
        grid_paths_counting,
        count_rectangles_triangles,
        graph_shortest_path,
        clock_angle_ruler,
    )
}

# Extension operators by family (issue 5): a family appears here once it implements `parallel` / `sequential`.
PARALLEL: dict[str, Extension] = {
    triangle_area.FAMILY: triangle_area_ext.parallel,
    right_triangle_pythagoras.FAMILY: right_triangle_pythagoras_ext.parallel,
    circle_chord_tangent.FAMILY: circle_chord_tangent_ext.parallel,
    coordinate_line_intersection.FAMILY: coordinate_line_intersection_ext.parallel,
    polygon_angles.FAMILY: polygon_angles_ext.parallel,
    triangle_centers.FAMILY: triangle_centers_ext.parallel,
    law_of_cosines_sines.FAMILY: law_of_cosines_sines_ext.parallel,
    solid_box_cylinder.FAMILY: solid_box_cylinder_ext.parallel,
    bar_chart_stats.FAMILY: bar_chart_stats_ext.parallel,
    pie_chart_percent.FAMILY: pie_chart_percent_ext.parallel,
    graph_shortest_path.FAMILY: graph_shortest_path_ext.parallel,
    clock_angle_ruler.FAMILY: clock_angle_ruler_ext.parallel,
    grid_paths_counting.FAMILY: grid_paths_counting_ext.parallel,
    count_rectangles_triangles.FAMILY: count_rectangles_triangles_ext.parallel,
    spinner_dice_probability.FAMILY: spinner_dice_probability_ext.parallel,
    function_graph_reading.FAMILY: function_graph_reading_ext.parallel,
}
SEQUENTIAL: dict[str, Extension] = {
    triangle_area.FAMILY: triangle_area_ext.sequential,
    right_triangle_pythagoras.FAMILY: right_triangle_pythagoras_ext.sequential,
    circle_chord_tangent.FAMILY: circle_chord_tangent_ext.sequential,
    coordinate_line_intersection.FAMILY: coordinate_line_intersection_ext.sequential,
    polygon_angles.FAMILY: polygon_angles_ext.sequential,
    triangle_centers.FAMILY: triangle_centers_ext.sequential,
    law_of_cosines_sines.FAMILY: law_of_cosines_sines_ext.sequential,
    solid_box_cylinder.FAMILY: solid_box_cylinder_ext.sequential,
    bar_chart_stats.FAMILY: bar_chart_stats_ext.sequential,
    pie_chart_percent.FAMILY: pie_chart_percent_ext.sequential,
    graph_shortest_path.FAMILY: graph_shortest_path_ext.sequential,
    clock_angle_ruler.FAMILY: clock_angle_ruler_ext.sequential,
    grid_paths_counting.FAMILY: grid_paths_counting_ext.sequential,
    count_rectangles_triangles.FAMILY: count_rectangles_triangles_ext.sequential,
    spinner_dice_probability.FAMILY: spinner_dice_probability_ext.sequential,
    function_graph_reading.FAMILY: function_graph_reading_ext.sequential,
}
