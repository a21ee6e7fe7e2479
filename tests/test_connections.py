"""Tests of estimation.connections on hand-made PAFs."""

import warnings

import numpy as np
import pytest

from estimation.config import BodyPart
from estimation.connections import (get_connections, match_per_limb, peaks_table,
                                     strongest_candidates)
from estimation.limits import MAX_PEAKS_PER_PART, CandidateCapWarning


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


def test_peaks_table_of_no_candidates_is_empty_with_zero_bounds(cfg):
    table, bounds = peaks_table(cfg, empty_coords(cfg))
    assert table.shape == (0, 4)
    assert bounds.tolist() == [0] * 19


def test_peaks_table_groups_by_slot_and_keeps_four_columns(cfg):
    coords = empty_coords(cfg)
    coords["neck"] = [(3, 4, 0.5, 7, 99.0), (5, 6, 0.25, 8, 99.0)]   # a fifth value is cut
    coords["nose"] = [(1, 2, 0.75, 9, 99.0)]
    table, bounds = peaks_table(cfg, coords)
    assert table.tolist() == [[1, 2, 0.75, 9], [3, 4, 0.5, 7], [5, 6, 0.25, 8]]
    assert bounds.tolist() == [0, 1, 3] + [3] * 16


def capped_table(n_first):
    """``n_first`` candidates of slot 0 (scores 1/2 ... ; the weakest last), 2 of slot 3."""
    first = [(k, 0, 1.0 / (k + 2), k) for k in range(n_first)]
    third = [(0, 1, 0.5, 1000), (1, 1, 0.25, 1001)]
    counts = [n_first, 0, 0, 2] + [0] * 14
    return np.array(first + third, np.float64), np.concatenate(([0], np.cumsum(counts)))


def test_strongest_candidates_at_the_cap_keeps_all_silently():
    table, bounds = capped_table(MAX_PEAKS_PER_PART)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kept, kept_bounds = strongest_candidates(table, bounds)
    assert kept.tolist() == table.tolist()
    assert kept_bounds.tolist() == bounds.tolist()


def test_strongest_candidates_over_the_cap_drop_the_weakest_and_recount():
    table, bounds = capped_table(MAX_PEAKS_PER_PART + 1)   # the last of slot 0 is weakest
    with pytest.warns(CandidateCapWarning):
        kept, kept_bounds = strongest_candidates(table, bounds)
    assert kept.tolist() == np.delete(table, MAX_PEAKS_PER_PART, axis=0).tolist()
    assert kept_bounds.tolist() == [0, 128, 128, 128, 130] + [130] * 14
    assert kept_bounds.dtype == np.intp


@pytest.mark.parametrize("extra, found", [(0, 1), (1, 0)])
def test_get_connections_drops_the_weakest_candidate_over_the_cap(cfg, extra, found):
    # 127 strong necks in row 0 plus one weak neck at (2, 9) on the only supported
    # limb; one more strong neck (extra=1) makes it the 129th: it is dropped.
    pafs = np.zeros((12, 200, 38), np.float32)
    k = limb_index(cfg, BodyPart.neck, BodyPart.right_shoulder)
    pafs[9, 2:9, cfg.connection_types[k].paf_dx_idx] = 0.8
    coords = empty_coords(cfg)
    strong = MAX_PEAKS_PER_PART - 1 + extra
    coords["neck"] = [(x, 0, 0.9, x) for x in range(strong)] + [(2, 9, 0.1, 500)]
    coords["right_shoulder"] = [(8, 9, 0.7, 501)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CandidateCapWarning)
        rows = get_connections(cfg, coords, pafs)[k]
    assert rows[:, :2].tolist() == [[500, 501]] * found
