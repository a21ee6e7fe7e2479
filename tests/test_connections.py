"""Tests of estimation.connections on hand-made PAFs."""

import numpy as np
import pytest

from estimation.config import BodyPart
from estimation.connections import get_connections, match_per_limb


def empty_coords(cfg):
    return {meta.body_part.name: [] for meta in cfg.body_parts.values()}


def limb_index(cfg, a, b):
    return next(k for k, l in enumerate(cfg.connection_types)
                if (l.from_body_part, l.to_body_part) == (a, b))


def test_horizontal_limb_is_found_with_its_mean_projection(cfg):
    pafs = np.zeros((10, 12, 38), np.float32)
    k = limb_index(cfg, BodyPart.neck, BodyPart.right_shoulder)
    pafs[4, 2:9, cfg.connection_types[k].paf_dx_idx] = 0.8   # neck (2,4) -> shoulder (8,4)
    coords = empty_coords(cfg)
    coords["neck"] = [(2, 4, 0.9, 0)]
    coords["right_shoulder"] = [(8, 4, 0.7, 1), (8, 8, 0.6, 2)]
    conns = get_connections(cfg, coords, pafs)
    assert len(conns) == 19
    assert conns[k].shape == (1, 5)
    np.testing.assert_allclose(conns[k][0], [0, 1, 0.9, 0.7, 0.8], rtol=1e-6)
    assert all(len(c) == 0 for i, c in enumerate(conns) if i != k)


def test_opposite_direction_is_rejected(cfg):
    pafs = np.zeros((10, 12, 38), np.float32)
    k = limb_index(cfg, BodyPart.neck, BodyPart.right_shoulder)
    pafs[4, 2:9, cfg.connection_types[k].paf_dx_idx] = -0.8
    coords = empty_coords(cfg)
    coords["neck"] = [(2, 4, 0.9, 0)]
    coords["right_shoulder"] = [(8, 4, 0.7, 1)]
    assert len(get_connections(cfg, coords, pafs)[k]) == 0


def test_support_ratio_gates_partial_limbs(cfg):
    pafs = np.zeros((10, 12, 38), np.float32)
    k = limb_index(cfg, BodyPart.neck, BodyPart.right_shoulder)
    pafs[4, 2:7, cfg.connection_types[k].paf_dx_idx] = 1.0   # only 2/3 of the segment
    coords = empty_coords(cfg)
    coords["neck"] = [(2, 4, 0.9, 0)]
    coords["right_shoulder"] = [(8, 4, 0.7, 1)]
    assert len(get_connections(cfg, coords, pafs)[k]) == 0
    assert len(get_connections(cfg, coords, pafs, min_support_ratio=0.5)[k]) == 1


def test_each_part_used_once_per_limb_type(cfg):
    pafs = np.zeros((10, 12, 38), np.float32)
    k = limb_index(cfg, BodyPart.neck, BodyPart.right_shoulder)
    pafs[:, :, cfg.connection_types[k].paf_dx_idx] = 1.0     # every rightward pair scores
    coords = empty_coords(cfg)
    coords["neck"] = [(1, 2, 0.9, 0), (1, 6, 0.9, 1)]
    coords["right_shoulder"] = [(8, 2, 0.7, 2), (8, 6, 0.7, 3)]
    rows = get_connections(cfg, coords, pafs)[k]
    assert sorted(map(tuple, rows[:, :2].astype(int))) == [(0, 2), (1, 3)]


def test_matching_is_one_to_one_per_limb_type_highest_score_first():
    limb = np.array([0, 0, 0, 0, 1])
    a = np.array([0, 0, 1, 1, 0])
    b = np.array([2, 3, 2, 3, 2])
    score = np.array([0.9, 0.8, 0.85, 0.1, 0.5])
    # limb 0: (0,2) first, then (1,3) as 0 and 2 are taken; limb 1 reuses 0 and 2
    assert match_per_limb(limb, a, b, score).tolist() == [0, 4, 3]


@pytest.mark.parametrize("bad, message", [
    (np.zeros((5, 5, 20)), "channels"),
    (np.zeros((5, 5)), "shape"),
    (np.full((5, 5, 38), np.inf), "NaN or infinite"),
])
def test_rejects_malformed_pafs(cfg, bad, message):
    with pytest.raises(ValueError, match=message):
        get_connections(cfg, empty_coords(cfg), bad)


def test_rejects_malformed_coords(cfg):
    pafs = np.zeros((5, 5, 38), np.float32)
    coords = empty_coords(cfg)
    del coords["neck"]
    with pytest.raises(ValueError, match="neck"):
        get_connections(cfg, coords, pafs)
    coords = empty_coords(cfg)
    coords["neck"] = [(1, 2)]
    with pytest.raises(ValueError, match="neck"):
        get_connections(cfg, coords, pafs)
    coords["neck"] = [(1, float("nan"), 0.5, 0)]
    with pytest.raises(ValueError, match="NaN"):
        get_connections(cfg, coords, pafs)
