"""Tests of estimation.handout (the kit's stages as printed) and the ``handout`` decoder."""

import numpy as np
import pytest

from estimation.decoder import DECODERS, decode_handout
from estimation.handout import (
    estimate_rows_reference, get_connections_reference, get_coordinates_reference,
    merge_greedy_reference)
from estimation.merge import merge
from estimation.synthetic import make_person, render_maps

from conftest import SCENE_SHAPE, scene_people
from test_estimators import assert_same_people, decoded_people


@pytest.fixture
def scene():
    people = scene_people()
    heatmaps, pafs = render_maps(people, SCENE_SHAPE)
    return people, heatmaps, pafs


def test_handout_decoder_is_offered_by_the_tools():
    assert DECODERS["handout"] is decode_handout


def test_handout_decoder_round_trip(scene):
    people, heatmaps, pafs = scene
    timings = {}
    coords, skeletons = decode_handout(heatmaps, pafs, timings=timings)
    assert_same_people(people, SCENE_SHAPE, decoded_people(coords, skeletons))
    assert set(timings) == {"peaks", "connections", "grouping"}


def test_handout_decoder_is_the_kit_stages_then_merge(cfg, scene):
    _, heatmaps, pafs = scene
    coords, skeletons = decode_handout(heatmaps, pafs)
    assert coords == get_coordinates_reference(cfg, heatmaps)
    rows = estimate_rows_reference(cfg, get_connections_reference(cfg, coords, pafs))
    np.testing.assert_array_equal(skeletons, merge(rows))


def test_handout_decoder_passes_thresholds_and_merge(scene):
    _, heatmaps, pafs = scene
    seen = {}

    def spy(rows, min_num_body_parts, min_score):
        seen.update(rows=len(rows), parts=min_num_body_parts, score=min_score)
        return merge(rows, min_num_body_parts, min_score)

    _, skeletons = decode_handout(heatmaps, pafs, min_num_body_parts=17, min_score=0.1,
                                  merge_fn=spy)
    assert seen["parts"] == 17 and seen["score"] == 0.1 and seen["rows"] > 0
    assert (skeletons[:, 19] >= 17).all()
    coords, _ = decode_handout(heatmaps, pafs, peak_threshold=0.99)
    assert sum(map(len, coords.values())) == 0


@pytest.mark.parametrize("bad, message", [
    (np.zeros((10, 10, 5)), "channels"),
    (np.full((10, 10, 19), np.nan), "NaN"),
])
def test_handout_decoder_rejects_bad_maps(bad, message):
    with pytest.raises(ValueError, match=message):
        decode_handout(bad, np.zeros((10, 10, 38)))


def test_handout_decoder_rejects_maps_of_different_sizes():
    with pytest.raises(ValueError, match="differ"):
        decode_handout(np.zeros((10, 10, 19)), np.zeros((12, 10, 38)))


def test_greedy_reference_skips_conflicting_rows(sample_subset, expected_skeleton):
    result = merge_greedy_reference(sample_subset)
    assert result.shape == (1, 20)
    np.testing.assert_array_equal(result[0, :18], expected_skeleton[:18])
    assert result[0, 18] == pytest.approx(expected_skeleton[18])
    second_nose = -np.ones(20)
    second_nose[[0, 1, 18]] = 99, 1, 0.5          # another nose on the sample's neck (id 1)
    again = merge_greedy_reference(np.vstack([sample_subset, second_nose]))
    np.testing.assert_array_equal(again, result)


def test_our_merge_fuses_what_greedy_leaves_in_fragments(cfg):
    """Small people: the kit's ``>=`` gives twin peaks on plateaus, so rows conflict.

    Greedy skips every conflicting row and leaves fragments; our fusion pass
    joins people that conflict in one slot (a twin peak) and keeps them apart
    otherwise.
    """
    people = np.array([make_person(12.3, 8.2, 30), make_person(40.6, 8.4, 30)])
    heatmaps, pafs = render_maps(people, (40, 56))
    coords = get_coordinates_reference(cfg, heatmaps)
    assert sum(map(len, coords.values())) > 2 * 18           # twin peaks exist
    rows = estimate_rows_reference(cfg, get_connections_reference(cfg, coords, pafs))
    ours, greedy = merge(rows), merge_greedy_reference(rows)
    assert len(ours) < len(greedy)
    biggest = np.sort(ours[:, 19])[::-1][:2]
    assert (biggest >= np.sort(greedy[:, 19])[::-1][:2]).all() and biggest.min() >= 13
    decoded = decoded_people(coords, ours[:2])
    for person in decoded:             # each of the two big skeletons is one true person
        necks = np.abs(people[:, 1, 0] - person[1, 0])
        owner = int(np.argmin(necks))
        seen = np.isfinite(person[:, 0])
        assert np.abs(person[seen] - people[owner][seen]).max() <= 1.5
