"""Tests of estimation.coordinates on tiny hand-made heatmaps."""

import numpy as np
import pytest

from estimation.coordinates import get_coordinates


def blank(h=6, w=7):
    return np.zeros((h, w, 19), np.float32)


def test_single_peak_position_score_and_id(cfg):
    hm = blank()
    hm[2, 5, 3] = 0.9      # right_elbow at x=5, y=2
    hm[2, 4, 3] = 0.5
    coords = get_coordinates(cfg, hm)
    assert coords["right_elbow"] == [(5, 2, pytest.approx(0.9), 0)]
    assert all(coords[name] == [] for name in coords if name != "right_elbow")
    assert len(coords) == 18


def test_ids_are_global_in_slot_then_row_major_order(cfg):
    hm = blank()
    hm[4, 1, 0] = hm[1, 5, 0] = 0.8      # two noses
    hm[0, 0, 17] = 0.7                   # left ear
    hm[3, 3, 1] = 0.6                    # neck
    coords = get_coordinates(cfg, hm)
    assert [p[:2] + (p[3],) for p in coords["nose"]] == [(5, 1, 0), (1, 4, 1)]
    assert coords["neck"][0][3] == 2
    assert coords["left_ear"][0][3] == 3


def test_threshold_and_plateau(cfg):
    hm = blank()
    hm[1, 1, 0] = 0.05                 # below the default threshold 0.1
    hm[4, 2, 2] = hm[4, 3, 2] = 0.5    # a plateau of two equal cells -> one peak
    coords = get_coordinates(cfg, hm)
    assert coords["nose"] == []
    assert [p[:2] for p in coords["right_shoulder"]] == [(3, 4)]
    assert len(get_coordinates(cfg, hm, threshold=0.01)["nose"]) == 1


def test_background_channel_is_ignored_and_18_channels_accepted(cfg):
    hm = blank()
    hm[2, 2, 18] = 1.0
    assert sum(map(len, get_coordinates(cfg, hm).values())) == 0
    assert sum(map(len, get_coordinates(cfg, hm[:, :, :18]).values())) == 0


@pytest.mark.parametrize("bad, message", [
    (np.zeros((5, 5)), "shape"),
    (np.zeros((5, 5, 10)), "channels"),
    (np.zeros((0, 5, 19)), "empty"),
    (np.full((3, 3, 19), np.nan), "NaN"),
    (np.array([["a"]]), "numeric"),
])
def test_rejects_malformed_heatmaps(cfg, bad, message):
    with pytest.raises(ValueError, match=message):
        get_coordinates(cfg, bad)
