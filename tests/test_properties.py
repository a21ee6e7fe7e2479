"""Property tests of estimation's public functions over generated network maps.

Maps are drawn from several families: random dense or sparse noise, all
zeros, a constant field, one huge person (up to ten times the map, mostly out
of frame) and crowds of tiny people (``tools.synthetic``), optionally
with noise. On any valid maps every function returns well-formed output
(ids that exist and sit in their part's slot, no id twice, counts that add
up); malformed maps (NaN, inf, wrong shape or dtype) raise ``ValueError``.
Sizes stay small so the whole file runs in well under a minute.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from estimation.config import NUM_PARTS, BodyPart, get_default_configuration
from estimation.connections import get_connections
from estimation.coordinates import get_coordinates
from posekit.decode.decoder import decode, decode_lab
from estimation.estimators import estimate
from posekit.io.export import skeleton_keypoints, to_coco, to_openpose
from posekit.io.maps_view import heatmap_grid, paf_picture
from estimation.renderers import draw
from tools.synthetic import crowd, make_person, render_maps

CFG = get_default_configuration()
PROPERTY = settings(max_examples=100, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DECODE_FUNCTIONS = {"decode": decode, "decode_lab": decode_lab}


@st.composite
def scenes(draw_):
    """(heatmaps (h, w, 19), pafs (h, w, 38)) float32 maps of one of several families."""
    kind = draw_(st.sampled_from(["dense", "sparse", "zeros", "constant", "huge", "crowd"]))
    rng = np.random.default_rng(draw_(st.integers(0, 2 ** 32 - 1)))
    if kind in ("dense", "sparse", "zeros", "constant"):
        h, w = draw_(st.integers(1, 12)), draw_(st.integers(1, 12))
        heat = rng.random((h, w, 19), dtype=np.float32)
        pafs = rng.uniform(-1, 1, (h, w, 38)).astype(np.float32)
        if kind == "sparse":
            heat *= rng.random((h, w, 19)) < 0.1
            pafs *= rng.random((h, w, 38)) < 0.3
        elif kind == "zeros":
            heat[:], pafs[:] = 0, 0
        elif kind == "constant":
            heat[:] = draw_(st.floats(0, 1, width=32))
            pafs[:] = draw_(st.floats(-1, 1, width=32))
        return heat, pafs
    if kind == "huge":
        h, w = draw_(st.integers(8, 40)), draw_(st.integers(8, 40))
        height = draw_(st.floats(40, 400))
        neck = (draw_(st.floats(-20, w + 20)), draw_(st.floats(-20, h + 20)))
        people = make_person(*neck, height)[None]
        shape = (h, w)
    else:
        people, shape = crowd(draw_(st.integers(2, 30)), rng, height=draw_(st.floats(5, 12)))
    heat, pafs = render_maps(people, shape)
    if draw_(st.booleans()):
        heat = heat + rng.uniform(0, 0.2, heat.shape).astype(np.float32)
        pafs = pafs + rng.uniform(-0.2, 0.2, pafs.shape).astype(np.float32)
    return heat, pafs


def id_table(coords: dict, h: int, w: int, integer: bool) -> dict:
    """``{id: (part name, score)}``; checks ids are unique and positions in the map."""
    assert set(coords) == {p.name for p in BodyPart}
    table = {}
    for name, peaks in coords.items():
        for x, y, score, pid in peaks:
            assert int(pid) not in table
            assert np.isfinite([x, y, score]).all()
            if integer:
                assert 0 <= x < w and 0 <= y < h and x == int(x) and y == int(y)
            else:
                assert -0.5 <= x <= w - 0.5 and -0.5 <= y <= h - 0.5
            table[int(pid)] = (name, score)
    return table


def check_people(coords: dict, skeletons: np.ndarray, h: int, w: int, integer: bool,
                 min_parts: int = 1) -> None:
    """Skeleton rows that use existing ids in their part's slot, each id once."""
    table = id_table(coords, h, w, integer)
    skeletons = np.asarray(skeletons)
    assert skeletons.ndim == 2 and skeletons.shape[1] == NUM_PARTS + 2
    assert np.isfinite(skeletons).all()
    used = set()
    for row in skeletons:
        slots = row[:NUM_PARTS].astype(int)
        assert (row[:NUM_PARTS] == slots).all()
        for slot, pid in enumerate(slots):
            if pid >= 0:
                assert table[pid][0] == BodyPart(slot).name
                assert pid not in used
                used.add(pid)
        assert row[NUM_PARTS + 1] == (slots >= 0).sum() >= min_parts
    scores = skeletons[:, NUM_PARTS]
    assert (np.diff(scores) <= 1e-9).all()          # sorted by score, descending


# --- valid maps ------------------------------------------------------------------------------

@PROPERTY
@given(scenes(), st.floats(0.0, 0.9))
def test_get_coordinates(scene, threshold):
    heat, _ = scene
    coords = get_coordinates(CFG, heat, threshold=threshold)
    table = id_table(coords, *heat.shape[:2], integer=True)
    assert sorted(table) == list(range(len(table)))       # ids 0..n-1
    for name, peaks in coords.items():
        for x, y, score, _ in peaks:
            assert score == heat[y, x, BodyPart[name]] > threshold


@PROPERTY
@given(scenes())
def test_get_connections_and_estimate(scene):
    heat, pafs = scene
    coords = get_coordinates(CFG, heat)
    table = id_table(coords, *heat.shape[:2], integer=True)
    connections = get_connections(CFG, coords, pafs)
    assert len(connections) == len(CFG.connection_types)
    for limb, rows in zip(CFG.connection_types, connections):
        rows = np.asarray(rows).reshape(-1, 5)
        assert len(set(rows[:, 0])) == len(rows) == len(set(rows[:, 1]))   # one-to-one
        for id_a, id_b, score_a, score_b, limb_score in rows:
            assert table[int(id_a)] == (limb.from_body_part.name, score_a)
            assert table[int(id_b)] == (limb.to_body_part.name, score_b)
            assert limb_score > 0
    skeletons = estimate(CFG, connections)
    check_people(coords, skeletons, *heat.shape[:2], integer=True, min_parts=4)


@PROPERTY
@given(scenes(), st.sampled_from(sorted(DECODE_FUNCTIONS)))
def test_decoders(scene, name):
    heat, pafs = scene
    coords, skeletons = DECODE_FUNCTIONS[name](heat, pafs)
    check_people(coords, skeletons, *heat.shape[:2], integer=(name == "decode_lab"),
                 min_parts=3 if name == "decode" else 4)


@FEW
@given(scenes(), st.sampled_from(sorted(DECODE_FUNCTIONS)), st.floats(0.25, 4.0))
def test_draw_and_export(scene, name, scale):
    heat, pafs = scene
    coords, skeletons = DECODE_FUNCTIONS[name](heat, pafs)
    h, w = heat.shape[:2]
    image = np.random.default_rng(0).integers(0, 256, (8 * h, 8 * w, 3), dtype=np.uint8)
    before = image.copy()
    drawn = draw(CFG, image, coords, skeletons, resize_fac=8)
    assert drawn.shape == image.shape and drawn.dtype == np.uint8
    np.testing.assert_array_equal(image, before)
    keypoints = skeleton_keypoints(coords, skeletons, scale=scale)
    assert keypoints.shape == (len(skeletons), NUM_PARTS, 3) and np.isfinite(keypoints).all()
    filled = np.asarray(skeletons)[:, :NUM_PARTS] >= 0 if len(skeletons) else \
        np.zeros((0, NUM_PARTS), bool)
    assert (keypoints[~filled] == 0).all() and (keypoints[filled][:, 2] > 0).all()
    assert (keypoints[filled][:, :2] >= -0.5 * scale - 0.5).all()
    assert (keypoints[filled][:, 0] <= 8 * w * scale).all()
    results = to_coco(keypoints, np.asarray(skeletons)[:, NUM_PARTS] if len(skeletons)
                      else [], image_id=7)
    assert len(results) == len(skeletons)
    assert all(len(r["keypoints"]) == 51 and r["image_id"] == 7 for r in results)
    people = to_openpose(keypoints)["people"]
    assert [len(p["pose_keypoints_2d"]) for p in people] == [54] * len(skeletons)


@FEW
@given(scenes())
def test_map_pictures(scene):
    heat, pafs = scene
    h, w = heat.shape[:2]
    image = np.full((8 * h - 3, 8 * w - 5, 3), 50, np.uint8) if min(h, w) > 1 else \
        np.full((8 * h, 8 * w, 3), 50, np.uint8)
    assert paf_picture(image, pafs).shape == image.shape
    grid = heatmap_grid(image, heat)
    assert grid.ndim == 3 and grid.dtype == np.uint8


# --- invalid maps ----------------------------------------------------------------------------

def _all_calls(heat, pafs):
    """Every public entry point that reads maps, as zero-argument callables."""
    coords = {p.name: [] for p in BodyPart}
    return {
        "get_coordinates": lambda: get_coordinates(CFG, heat),
        "get_connections": lambda: get_connections(CFG, coords, pafs),
        "decode": lambda: decode(heat, pafs),
        "decode_lab": lambda: decode_lab(heat, pafs),
        "heatmap_grid": lambda: heatmap_grid(np.zeros((8, 8, 3), np.uint8), heat),
        "paf_picture": lambda: paf_picture(np.zeros((8, 8, 3), np.uint8), pafs),
    }


@PROPERTY
@given(scenes(), st.sampled_from([np.nan, np.inf, -np.inf]), st.booleans(),
       st.integers(0, 2 ** 31))
def test_nan_and_inf_raise_value_error(scene, bad, in_heatmaps, where):
    heat, pafs = (a.copy() for a in scene)
    target = heat if in_heatmaps else pafs
    target.reshape(-1)[where % target.size] = bad
    calls = _all_calls(heat, pafs)
    readers = ["get_coordinates", "decode", "decode_lab", "heatmap_grid"] if in_heatmaps \
        else ["get_connections", "decode", "decode_lab", "paf_picture"]
    for name in readers:
        with pytest.raises(ValueError):
            calls[name]()


@pytest.mark.parametrize("heat, pafs", [
    (np.zeros((4, 4), np.float32), np.zeros((4, 4), np.float32)),              # 2-D
    (np.zeros((4, 4, 10), np.float32), np.zeros((4, 4, 20), np.float32)),      # few channels
    (np.zeros((0, 4, 19), np.float32), np.zeros((0, 4, 38), np.float32)),      # empty
    (np.full((4, 4, 19), "a"), np.full((4, 4, 38), "a")),                       # not numbers
    (np.zeros((1, 4, 4, 19), np.float32), np.zeros((1, 4, 4, 38), np.float32)),  # batch
])
@pytest.mark.parametrize("name", ["get_coordinates", "get_connections", "decode", "decode_lab",
                                  "heatmap_grid", "paf_picture"])
def test_malformed_maps_raise_value_error(heat, pafs, name):
    with pytest.raises(ValueError):
        _all_calls(heat, pafs)[name]()


@pytest.mark.parametrize("name", ["decode", "decode_lab"])
def test_maps_of_different_sizes_raise_value_error(name):
    heat, pafs = render_maps(make_person(10, 5, 20)[None], (20, 20))
    with pytest.raises(ValueError):
        DECODE_FUNCTIONS[name](heat, pafs[:12])


def test_unknown_ids_raise_value_error():
    coords = {p.name: [] for p in BodyPart}
    row = -np.ones((1, NUM_PARTS + 2))
    row[0, 0] = 3
    with pytest.raises(ValueError):
        draw(CFG, np.zeros((8, 8, 3), np.uint8), coords, row)
    with pytest.raises(ValueError):
        skeleton_keypoints(coords, row)
