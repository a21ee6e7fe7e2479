"""Tests of estimation.lab_decoders: the lab and handout parameter checks and the
registry wrappers (pure numpy, synthetic maps)."""

import numpy as np
import pytest

from estimation.lab_decoders import (HandoutParams, LabParams, decode_handout, decode_lab,
                                     handout_registered, lab_registered)
from tools.synthetic import render_maps

from conftest import SCENE_SHAPE, scene_people


def test_lab_defaults_are_the_handouts_thresholds():
    params = LabParams()
    assert (params.peak_threshold, params.min_paf_score, params.min_num_body_parts,
            params.min_score) == (0.1, 0.05, 4, 0.4)
    assert HandoutParams().row_score == "printed"


@pytest.mark.parametrize("field, value", [
    ("peak_threshold", 0.0), ("peak_threshold", 1.0), ("peak_threshold", np.float32(0.5)),
    ("min_paf_score", -1.0), ("min_paf_score", 1.0), ("min_paf_score", 0),
    ("min_score", 0.0), ("min_score", 1e6),
    ("min_num_body_parts", 1), ("min_num_body_parts", 18), ("min_num_body_parts", np.int64(9)),
])
def test_values_at_the_ends_of_each_range_are_accepted(field, value):
    for cls in (LabParams, HandoutParams):
        assert getattr(cls(**{field: value}), field) == value


@pytest.mark.parametrize("field, value, message", [
    ("peak_threshold", np.nextafter(0.0, -1), "[0.0, 1.0]"),
    ("peak_threshold", np.nextafter(1.0, 2), "[0.0, 1.0]"),
    ("peak_threshold", float("nan"), "[0.0, 1.0]"),
    ("peak_threshold", True, "[0.0, 1.0]"),
    ("peak_threshold", "0.1", "[0.0, 1.0]"),
    ("min_paf_score", np.nextafter(-1.0, -2), "[-1.0, 1.0]"),
    ("min_paf_score", np.nextafter(1.0, 2), "[-1.0, 1.0]"),
    ("min_score", np.nextafter(0.0, -1), "[0.0, 1000000.0]"),
    ("min_score", np.nextafter(1e6, 2e6), "[0.0, 1000000.0]"),
])
def test_a_number_out_of_range_is_refused_by_name(field, value, message):
    for cls in (LabParams, HandoutParams):
        with pytest.raises(ValueError) as error:
            cls(**{field: value})
        assert str(error.value) == (f"{cls.__name__}.{field} must be a number in {message}, "
                                    f"got {value!r}")


@pytest.mark.parametrize("value", [0, 19, True, 4.0, "4"])
def test_min_num_body_parts_must_be_an_integer_from_1_to_18(value):
    for cls in (LabParams, HandoutParams):
        with pytest.raises(ValueError) as error:
            cls(min_num_body_parts=value)
        assert str(error.value) == (f"{cls.__name__}.min_num_body_parts must be an integer "
                                    f"in [1, 18], got {value!r}")


def test_handout_row_score_must_be_a_known_rule():
    assert HandoutParams(row_score="cmu").row_score == "cmu"
    with pytest.raises(ValueError) as error:
        HandoutParams(row_score="sum")
    assert str(error.value) == "HandoutParams.row_score must be one of printed, cmu, got 'sum'"


@pytest.fixture(scope="module")
def scene_maps():
    return render_maps(scene_people(), SCENE_SHAPE)


@pytest.mark.parametrize("wrapper, decoder, cls, extra", [
    (lab_registered, decode_lab, LabParams, {}),
    (handout_registered, decode_handout, HandoutParams, {"row_score": "cmu"}),
])
@pytest.mark.parametrize("fields", [
    {}, {"peak_threshold": 0.9}, {"min_paf_score": 0.99}, {"min_num_body_parts": 18},
    {"min_score": 5.0},
])
def test_registered_wrappers_pass_every_field_on(scene_maps, wrapper, decoder, cls, extra,
                                                 fields):
    heatmaps, pafs = scene_maps
    coords, people = wrapper(heatmaps, pafs, cls(**fields, **extra))
    want_coords, want_people = decoder(heatmaps, pafs, **fields, **extra)
    assert coords == want_coords
    np.testing.assert_array_equal(people, want_people)
    if fields:           # each non-default field changes the result on this scene
        _, default = decoder(heatmaps, pafs, **extra)
        assert people.shape != default.shape or not np.array_equal(people, default)


@pytest.mark.parametrize("wrapper, decoder, cls", [
    (lab_registered, decode_lab, LabParams), (handout_registered, decode_handout, HandoutParams)])
def test_registered_wrappers_pass_the_timings_on(scene_maps, wrapper, decoder, cls):
    heatmaps, pafs = scene_maps
    got, want = {}, {}
    wrapper(heatmaps, pafs, cls(), None, got)
    decoder(heatmaps, pafs, None, want)
    assert want and set(got) == set(want)
    assert all(seconds >= 0 for seconds in got.values())
