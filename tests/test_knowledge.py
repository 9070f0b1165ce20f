"""The bundled seed knowledge system and its API: data shape, queries, files, growth with dedup, validation."""

from __future__ import annotations

import json
import re
from importlib import resources

import duckdb
import pyarrow as pa
import pytest

from flywheel.knowledge import (
    DOMAINS,
    FUZZY_NAME_JACCARD,
    TOOL_KINDS,
    Concept,
    KnowledgeSystem,
    name_key,
    name_similarity,
)

REQUIRED = {
    "plane_geometry": "triangle_area pythagorean_theorem triangle_angle_sum similar_triangles circle_area "
    "circle_circumference inscribed_angle polygon_interior_angles parallelogram_area trapezoid_area "
    "triangle_centroid triangle_circumcenter perpendicular_bisector angle_bisector midpoint median_of_triangle "
    "altitude_of_triangle shoelace_area regular_polygon chord_length tangent_line sector_area arc_length "
    "isosceles_triangle",
    "trigonometry": "sine_cosine_tangent law_of_sines law_of_cosines unit_circle angle_of_elevation radians",
    "analytic_geometry": "distance_formula midpoint_formula slope line_equation line_intersection circle_equation "
    "point_to_line_distance reflection_over_line parallel_lines_slope perpendicular_lines_slope "
    "polygon_area_coordinates lattice_points",
    "functions_graphs": "linear_function quadratic_function parabola_vertex function_roots function_intersection "
    "exponential_function piecewise_function function_maximum reading_graph_values derivative_slope",
    "statistics_charts": "bar_chart_reading mean median mode range pie_chart_percent line_chart_trend histogram "
    "weighted_mean scatter_plot percent_change",
    "probability": "classical_probability complementary_events independent_events expected_value "
    "geometric_probability conditional_probability spinner_probability dice_probability",
    "counting": "multiplication_principle permutations combinations grid_paths counting_rectangles "
    "counting_triangles inclusion_exclusion lattice_path_counting",
    "graph_theory": "vertex_degree handshake_lemma shortest_path minimum_spanning_tree euler_path "
    "connected_components graph_coloring tree_properties adjacency",
    "spatial_logic": "grid_counting symmetry_lines rotation reflection net_of_cube mirror_image path_on_grid "
    "pattern_sequence cube_counting",
    "solid_geometry": "cuboid_volume cuboid_surface_area cylinder_volume cone_volume sphere_volume prism_volume "
    "space_diagonal pyramid_volume",
    "measurement": "perimeter area_units unit_conversion ruler_reading protractor_angle scale_drawing clock_angle "
    "grid_area",
}
REQUIRED_TOOLS = (
    "auxiliary_line perpendicular parallel_line circle point_label region_shading crop_zoom measure_length "
    "angle_mark midpoint_mark angle_bisector reflection grid_overlay highlight arrow bounding_box "
    "coordinate_readout connect_points extend_segment tangent_line polygon_outline text_annotation distance_mark "
    "rotation"
).split()


@pytest.fixture(scope="module")
def ks() -> KnowledgeSystem:
    return KnowledgeSystem.seed()


def _raw(name: str) -> list[dict]:
    return json.loads(resources.files("flywheel").joinpath("data", name).read_text("utf-8"))


def _doc(ks: KnowledgeSystem, tmp_path) -> dict:
    return json.loads(ks.save(tmp_path / "ks.json").read_text("utf-8"))


def _write(tmp_path, doc: dict):
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(doc))
    return path


# ---------------------------------------------------------------------------------------------- seed data


def test_seed_counts(ks):
    assert len(ks) >= 300
    assert ks.domains() == DOMAINS and len(DOMAINS) == 11
    assert len(ks.tools) >= 24
    for domain in DOMAINS:
        assert len(ks.by_domain(domain)) >= 20, domain
    stats = ks.stats()
    assert sum(stats["per_domain"].values()) == stats["concepts"] == len(ks)
    assert stats["edges"] == sum(len(c.prerequisites) for c in ks.concepts) > len(ks)
    assert set(stats["tool_kinds"]) == set(TOOL_KINDS) and all(stats["tool_kinds"].values())


def test_required_ids_present(ks):
    missing = [f"{d}.{s}" for d, slugs in REQUIRED.items() for s in slugs.split() if f"{d}.{s}" not in ks]
    assert missing == []
    assert [t for t in REQUIRED_TOOLS if f"tool.{t}" not in ks] == []


def test_seed_files_are_a_well_formed_dag():
    """Checked on the raw JSON with a separate walk, so the module's own validation is not trusted blindly."""
    concepts = _raw("seed_concepts.json")
    by_id = {c["id"]: c for c in concepts}
    assert len(by_id) == len(concepts)
    for c in concepts:
        assert c["domain"] in DOMAINS and re.fullmatch(rf"{c['domain']}\.[a-z0-9_]+", c["id"])
        assert 1 <= c["level"] <= 5
        assert len(c["description"].split()) >= 8 and c["description"].endswith("."), c["id"]
        assert all(p in by_id and p != c["id"] for p in c["prerequisites"]), c["id"]
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(cid: str) -> None:
        assert state.get(cid) != 1, f"cycle through {cid}"
        if state.get(cid) == 2:
            return
        state[cid] = 1
        for p in by_id[cid]["prerequisites"]:
            visit(p)
        state[cid] = 2

    for cid in by_id:
        visit(cid)
    tools = _raw("seed_tools.json")
    assert len({t["id"] for t in tools}) == len(tools)
    assert all(t["kind"] in TOOL_KINDS and t["example"] and t["description"] for t in tools)


def test_no_two_seed_nodes_would_merge(ks):
    """Growth must never fold one seed concept into another, so seed names sit below the dedup threshold."""
    for nodes in (ks.concepts, ks.tools):
        assert len({name_key(n.name) for n in nodes}) == len(nodes)
        close = [
            (a.id, b.id)
            for i, a in enumerate(nodes)
            for b in nodes[i + 1 :]
            if name_similarity(a.name, b.name) >= FUZZY_NAME_JACCARD
        ]
        assert close == []


# ---------------------------------------------------------------------------------------------- queries


def test_lookups_and_graph_queries(ks):
    law = ks.concept("trigonometry.law_of_cosines")
    assert law.domain == "trigonometry" and law.added_round == 0
    assert ks.tool("tool.crop_zoom").kind == "focus"
    assert "plane_geometry.pythagorean_theorem" in ks.prerequisites(law.id)
    chain = ks.prerequisites(law.id, transitive=True)
    assert {"plane_geometry.triangle_area", "measurement.rectangle_area"} <= set(chain)
    for i, cid in enumerate(chain):  # learnable order: everything a concept needs comes before it
        assert set(ks.prerequisites(cid)) <= set(chain[:i])
    assert law.id in ks.dependents("plane_geometry.pythagorean_theorem")
    assert ks.dependents("trigonometry.double_angle") == ()
    with pytest.raises(KeyError, match="no_such"):
        ks.concept("plane_geometry.no_such")
    with pytest.raises(ValueError, match="astrology"):
        ks.by_domain("astrology")


def test_search_normalises_tokens(ks):
    assert ks.search("The Pythagorean theorems")[0].id == "plane_geometry.pythagorean_theorem"
    assert ks.search("circle area", limit=3)[0].id == "plane_geometry.circle_area"
    assert ks.search("zoom")[0].id == "tool.crop_zoom"
    assert len(ks.search("angle", limit=4)) == 4
    assert ks.search("the of and") == [] and ks.search("xyzzy") == []


def test_rows_load_into_duckdb(ks):
    rows = ks.rows()
    assert len(rows) == len(ks) + len(ks.tools)
    assert len({tuple(r) for r in rows}) == 1  # every row has the same keys in the same order
    nodes = pa.Table.from_pylist(rows)  # noqa: F841 (DuckDB finds the Arrow table by its variable name)
    counts = dict(duckdb.sql("SELECT kind, count(*) FROM nodes GROUP BY kind").fetchall())
    assert counts == {"concept": len(ks), "tool": len(ks.tools)}
    [(n,)] = duckdb.sql(
        "SELECT count(*) FROM nodes WHERE list_contains(prerequisites, 'plane_geometry.pythagorean_theorem')"
    ).fetchall()
    assert n == len(ks.dependents("plane_geometry.pythagorean_theorem"))


# ---------------------------------------------------------------------------------------------- files


def test_save_load_round_trip(ks, tmp_path):
    path = ks.save(tmp_path / "a" / "ks.json")
    back = KnowledgeSystem.load(path)
    assert back == ks and back.version == ks.version
    assert back.save(tmp_path / "b.json").read_bytes() == path.read_bytes()
    grown, _ = ks.grow([{"name": "Reuleaux triangle", "domain": "plane_geometry", "description": "x.",
                         "parents": ["plane_geometry.equilateral_triangle"]}], round=3)  # fmt: skip
    again = KnowledgeSystem.load(grown.save(tmp_path / "g.json"))
    assert again == grown and again.concept("plane_geometry.reuleaux_triangle").added_round == 3
    assert again.concept("plane_geometry.reuleaux_triangle").parents == ("plane_geometry.equilateral_triangle",)


# ---------------------------------------------------------------------------------------------- growth


def test_grow_merges_near_duplicates(ks):
    cands = [
        {"name": n, "domain": "plane_geometry", "description": "a^2 + b^2 = c^2."}
        for n in ("Pythagorean theorem", "pythagorean theorems", "The Pythagorean Theorem", "Theorem, Pythagorean")
    ]
    cands.append({"name": "Pythagorean theorm", "domain": "trigonometry"})  # a typo, in another domain
    tools = [{"name": "Crop & zoom", "kind": "focus"}, {"name": "Highlights", "kind": "focus"}]
    grown, report = ks.grow(cands, tools, round=1)
    assert report.added == ()
    assert set(report.merged.values()) == {"plane_geometry.pythagorean_theorem", "tool.crop_zoom", "tool.highlight"}
    assert len(report.merged) == 7
    assert grown == ks and grown.version == ks.version


def test_grow_adds_new_nodes_and_links_them(ks):
    cands = [
        {"name": "Reuleaux triangle", "domain": "plane_geometry", "description": "A curve of constant width.",
         "prerequisites": ["Equilateral triangles", "plane_geometry.arc_length", "Quantum foam"]},
        {"name": "Reuleaux Triangles", "domain": "plane_geometry"},  # duplicate of the candidate just above
        {"name": "Triangle excenter", "domain": "plane_geometry", "parents": "triangle incenter", "level": 9},
        Concept("ignored.id", "Buffon's needle", "Dropping needles on lines estimates pi.", "probability",
                ("probability.geometric_probability",), 4),
        {"name": "Horoscope reading", "domain": "astrology"},
    ]  # fmt: skip
    tools = [{"name": "Protractor overlay", "kind": "measure", "example": "ax.add_patch(...)"},
             {"name": "Sparkles", "kind": "decorate"}]  # fmt: skip
    grown, report = ks.grow(cands, tools, round=2)
    new = ("plane_geometry.reuleaux_triangle", "plane_geometry.triangle_excenter", "probability.buffons_needle")
    assert report.added_concepts == new and report.added_tools == ("tool.protractor_overlay",)
    assert report.merged == {"Reuleaux Triangles": "plane_geometry.reuleaux_triangle"}
    assert set(report.rejected) == {"Horoscope reading", "Sparkles"}
    assert report.unresolved == (("plane_geometry.reuleaux_triangle", "Quantum foam"),)
    reuleaux = grown.concept(new[0])
    assert reuleaux.prerequisites == ("plane_geometry.equilateral_triangle", "plane_geometry.arc_length")
    assert reuleaux.added_round == 2 and reuleaux.level == 4  # one past its hardest prerequisite (arc length: 3)
    excenter = grown.concept(new[1])
    assert excenter.parents == excenter.prerequisites == ("plane_geometry.triangle_incenter",)
    assert excenter.level == 5  # clamped
    assert new[0] in grown.dependents("plane_geometry.arc_length")
    assert len(grown) == len(ks) + 3 and len(grown.tools) == len(ks.tools) + 1
    assert len(ks) == len(KnowledgeSystem.seed())  # the original value is untouched
    assert grown.version != ks.version and grown.version.concepts == len(ks) + 3
    assert grown.version.edges == ks.version.edges + 4


def test_grow_gives_unique_ids(ks):
    """Slugs are cut at 48 characters, so two different long names can share one; the second gets a suffix."""
    side = "Probability that a random chord is longer than the side of the inscribed triangle"
    radius = "Probability that a random chord is longer than the radius of its circle"
    grown, report = ks.grow([{"name": side, "domain": "probability"}, {"name": radius, "domain": "probability"}])
    first = "probability.probability_that_a_random_chord_is_longer_than_t"
    assert report.added_concepts == (first, first + "_2")
    assert grown.concept(first + "_2").name == radius


# ---------------------------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "breakage, message",
    [
        (lambda d: d["concepts"][5]["prerequisites"].append("counting.no_such"), "counting.no_such"),
        (lambda d: d["concepts"].append(dict(d["concepts"][7])), "duplicate concept id"),
        (lambda d: d["tools"].append(dict(d["tools"][0])), "duplicate tool id 'tool.auxiliary_line'"),
        (lambda d: d["concepts"][0].update(domain="astrology"), "unknown domain 'astrology'"),
        (lambda d: d["concepts"][0].update(level=7), "level 7"),
        (lambda d: d["tools"][0].update(kind="paint"), "unknown kind 'paint'"),
        (lambda d: d["concepts"][0].pop("name"), "name"),
        (lambda d: d.update(format=99), "format"),
    ],
)
def test_load_rejects_broken_files(ks, tmp_path, breakage, message):
    doc = _doc(ks, tmp_path)
    doc.pop("version")
    breakage(doc)
    with pytest.raises(ValueError, match=re.escape(message)):
        KnowledgeSystem.load(_write(tmp_path, doc))


def test_load_rejects_stale_versions_and_cycles(ks, tmp_path):
    doc = _doc(ks, tmp_path)
    doc["concepts"][0]["description"] = "Edited by hand after saving."
    with pytest.raises(ValueError, match="stored version"):
        KnowledgeSystem.load(_write(tmp_path, doc))
    doc.pop("version")
    assert KnowledgeSystem.load(_write(tmp_path, doc)).version != ks.version
    by_id = {c["id"]: c for c in doc["concepts"]}
    by_id["plane_geometry.triangle_area"]["prerequisites"].append("trigonometry.law_of_cosines")
    with pytest.raises(ValueError, match=r"cycle through .*plane_geometry\.triangle_area"):
        KnowledgeSystem.load(_write(tmp_path, doc))
