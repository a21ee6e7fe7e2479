"""Round trips: ideal maps of known people -> coordinates -> connections -> people.

Both our pipeline and a replica of the handout's kit (one subset row per
connection, connections not one-to-one) must give back the same people.
"""

import numpy as np
import pytest

from estimation.handout import estimate_rows_reference, get_connections_reference
from estimation.connections import get_connections
from estimation.coordinates import get_coordinates
from estimation.estimators import connections_to_subset, estimate
from estimation.merge import merge
from tools.synthetic import render_maps, visible

from conftest import SCENE_SHAPE, scene_people


def decoded_people(coords, skeletons):
    """(K, 18, 2) positions of decoded skeletons, NaN where a slot is empty."""
    where = {p[3]: p[:2] for peaks in coords.values() for p in peaks}
    out = np.full((len(skeletons), 18, 2), np.nan)
    for k, row in enumerate(skeletons):
        for slot, part_id in enumerate(row[:18].astype(int)):
            if part_id >= 0:
                out[k, slot] = where[part_id]
    return out


def assert_same_people(truth, shape, decoded):
    """Every true person comes back once, with exactly its visible parts, each within a cell."""
    ok = visible(truth, shape)
    assert len(decoded) == len(truth)
    unmatched = list(range(len(decoded)))
    for person, seen in zip(truth, ok):
        neck = person[1]
        k = min(unmatched, key=lambda j: np.nansum(np.abs(decoded[j, 1] - neck)))
        unmatched.remove(k)
        found = np.isfinite(decoded[k, :, 0])
        np.testing.assert_array_equal(found, seen)
        err = np.abs(decoded[k][seen] - person[seen]).max()
        assert err <= 1.0, f"a part is {err:.2f} cells off"


@pytest.fixture
def scene():
    people = scene_people()
    heatmaps, pafs = render_maps(people, SCENE_SHAPE)
    return people, heatmaps, pafs


def test_round_trip_through_our_pipeline(cfg, scene):
    people, heatmaps, pafs = scene
    coords = get_coordinates(cfg, heatmaps)
    skeletons = estimate(cfg, get_connections(cfg, coords, pafs))
    assert_same_people(people, SCENE_SHAPE, decoded_people(coords, skeletons))
    np.testing.assert_array_equal(skeletons[:, 19], (skeletons[:, :18] >= 0).sum(1))


def test_round_trip_through_the_handout_kit_with_our_merge(cfg, scene):
    people, heatmaps, pafs = scene
    coords = get_coordinates(cfg, heatmaps)
    subset = estimate_rows_reference(cfg, get_connections_reference(cfg, coords, pafs))
    skeletons = merge(subset)
    assert_same_people(people, SCENE_SHAPE, decoded_people(coords, skeletons))


def test_handout_kit_rows_conflict_and_merge_still_separates_people(cfg):
    """Two people side by side: the kit keeps cross-person limbs, merge must not fuse them."""
    from tools.synthetic import make_person
    people = np.array([make_person(12.3, 8.2, 40), make_person(30.6, 8.4, 40)])
    heatmaps, pafs = render_maps(people, (44, 44), limb_width=6.0)   # wide, blurry PAFs
    coords = get_coordinates(cfg, heatmaps)
    subset = estimate_rows_reference(cfg, get_connections_reference(cfg, coords, pafs))
    ids = subset[:, :18]
    filled = ids[ids >= 0]
    assert len(set(filled.tolist())) < len(filled)            # rows do share ids
    skeletons = merge(subset)
    flat = skeletons[:, :18][skeletons[:, :18] >= 0]
    assert len(flat) == len(set(flat.tolist()))


def test_empty_maps_give_no_people(cfg):
    heatmaps = np.zeros((20, 20, 19), np.float32)
    pafs = np.zeros((20, 20, 38), np.float32)
    coords = get_coordinates(cfg, heatmaps)
    assert estimate(cfg, get_connections(cfg, coords, pafs)).shape == (0, 20)


def test_subset_rows_carry_both_parts_and_scores(cfg):
    conns = [np.zeros((0, 5))] * 19
    conns[0] = np.array([[3, 7, 0.9, 0.8, 0.5]])        # neck 3 - right shoulder 7
    subset = connections_to_subset(cfg, conns)
    assert subset.shape == (1, 20)
    assert subset[0, 1] == 3 and subset[0, 2] == 7
    assert subset[0, 18] == pytest.approx(2.2) and subset[0, 19] == 2


@pytest.mark.parametrize("bad, message", [
    ([np.zeros((0, 5))] * 18, "19 arrays"),
    ([np.zeros((2, 4))] + [np.zeros((0, 5))] * 18, "shape"),
    ([np.array([[0, 1, 0.5, 0.5, np.nan]])] + [np.zeros((0, 5))] * 18, "NaN"),
    ([np.array([[0.5, 1, 0.5, 0.5, 0.5]])] + [np.zeros((0, 5))] * 18, "integers"),
])
def test_rejects_malformed_connections(cfg, bad, message):
    with pytest.raises(ValueError, match=message):
        estimate(cfg, bad)
