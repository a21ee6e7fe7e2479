"""Edges of the lab stages' contracts (estimation.coordinates, .connections, .estimators).

Argument ranges end exactly where the messages say, messages name the argument,
empty and one-pair inputs keep their shapes, the defaults are the lab's.
Written against mutation-testing survivors (docs/records/mutation.md).
"""

import numpy as np
import pytest

from estimation.connections import get_connections
from estimation.coordinates import get_coordinates
from estimation.estimators import check_connections, estimate
from tools.synthetic import make_person, render_maps


def empty_coords(cfg):
    return {meta.body_part.name: [] for meta in cfg.body_parts.values()}


def test_get_coordinates_message_names_the_heatmaps(cfg):
    with pytest.raises(ValueError, match=r"^heatmaps must have at least 18 channels"):
        get_coordinates(cfg, np.zeros((4, 4, 17), np.float32))


def test_get_connections_messages_name_the_argument(cfg):
    coords = empty_coords(cfg)
    with pytest.raises(ValueError, match=r"^pafs must have at least 38 channels"):
        get_connections(cfg, coords, np.zeros((4, 4, 37), np.float32))
    pafs = np.zeros((4, 4, 38), np.float32)
    for mid_num in (2, 100):
        assert len(get_connections(cfg, coords, pafs, mid_num=mid_num)) == 19
    for mid_num in (1, 101):
        with pytest.raises(ValueError, match=r"^mid_num must be an integer in \[2, 100\]"):
            get_connections(cfg, coords, pafs, mid_num=mid_num)
    for threshold in (-1.0, 1.0):
        get_connections(cfg, coords, pafs, threshold=threshold)
    for threshold in (-1.01, 1.01):
        with pytest.raises(ValueError, match=r"^threshold must be in \[-1.0, 1.0\]"):
            get_connections(cfg, coords, pafs, threshold=threshold)
    get_connections(cfg, coords, pafs, min_support_ratio=1.0)
    with pytest.raises(ValueError, match=r"^min_support_ratio must be in \[0.0, 1.0\]"):
        get_connections(cfg, coords, pafs, min_support_ratio=1.01)


def test_no_candidates_give_empty_five_column_arrays(cfg):
    out = get_connections(cfg, empty_coords(cfg), np.zeros((4, 4, 38), np.float32))
    assert [c.shape for c in out] == [(0, 5)] * 19


def test_connections_stay_sorted_by_limb_score_within_each_type(cfg):
    """Rows of all types are matched together, then split by type: the split keeps
    each type's rows in descending score (an unstable sort would not)."""
    rng = np.random.default_rng(2)
    people = np.array([make_person(12 + 14 * i, 10 + (i % 2), 40, jitter=0.4, rng=rng)
                       for i in range(7)])
    heatmaps, pafs = render_maps(people, (50, 110))
    pafs *= np.float32(0.6) + np.float32(0.4) * rng.random(pafs.shape).astype(np.float32)
    conns = get_connections(cfg, get_coordinates(cfg, heatmaps), pafs)
    assert sum(len(c) for c in conns) > 100 and max(len(c) for c in conns) == 7
    for c in conns:
        assert (np.diff(c[:, 4]) <= 0).all()


def test_support_is_counted_per_pair(cfg):
    """Two pairs of one block, one fully supported, one with no supporting sample."""
    pafs = np.zeros((10, 20, 38), np.float32)
    pafs[:, :, 12] = 0.01                               # positive but below 0.05
    pafs[6, :, 12] = 1.0                                # a perfect band on row 6
    coords = empty_coords(cfg)
    coords["neck"] = [(2, 2, 0.9, 0), (2, 6, 0.9, 1)]
    coords["right_shoulder"] = [(15, 2, 0.9, 2), (15, 6, 0.9, 3)]
    conns = get_connections(cfg, coords, pafs)
    assert conns[0][:, :2].tolist() == [[1, 3]]        # row 2 (mean 0.01) has no support


def test_malformed_coords_messages(cfg):
    pafs = np.zeros((8, 8, 38), np.float32)
    coords = empty_coords(cfg)
    coords["neck"] = [(1, 1, 0.5, 0)]
    coords["right_shoulder"] = [(2, 2, 0.5, 1, 7)]      # each part fine alone, not together
    with pytest.raises(ValueError, match=r"^coords entries must be \(x, y, score, id\)"):
        get_connections(cfg, coords, pafs)
    coords["right_shoulder"] = [(2, 2, 0.5)]
    with pytest.raises(ValueError, match=r"^coords\['right_shoulder'\] must be a list of "
                                         r"\(x, y, score, id\), got 3 values"):
        get_connections(cfg, coords, pafs)
    coords["right_shoulder"] = [(2, "a", 0.5, 1)]
    with pytest.raises(ValueError, match=r"^coords\['right_shoulder'\] must be a list"):
        get_connections(cfg, coords, pafs)


def test_check_connections_shapes_and_ids(cfg):
    ok = [np.zeros((0, 5))] * 19
    assert [c.shape for c in check_connections(cfg, ok)] == [(0, 5)] * 19
    one = list(ok)
    one[0] = np.zeros((1, 1))
    with pytest.raises(ValueError, match=r"^connections for limb neck-right_shoulder must "
                                         r"have shape \(K, 5\)"):
        check_connections(cfg, one)
    one[0] = np.array([[0.5, 1, 0.5, 0.5, 0.5]])       # a fractional id, not negative
    with pytest.raises(ValueError, match=r"have ids that are not integers >= 0$"):
        check_connections(cfg, one)


def chain_connections(cfg, value):
    """A 4-part chain neck - right shoulder - elbow - wrist, every score ``value``."""
    conns = [np.zeros((0, 5)) for _ in range(19)]
    conns[0] = np.array([[0, 1, value, value, value]])
    conns[2] = np.array([[1, 2, value, value, value]])
    conns[3] = np.array([[2, 3, value, value, value]])
    return conns


def test_estimate_defaults_are_the_labs(cfg):
    # 3 rows of 0.9 over 4 parts: 0.675 per part, above the lab's 0.4.
    assert estimate(cfg, chain_connections(cfg, 0.3)).shape == (1, 20)
    # 3 rows of 0.3 over 4 parts: 0.225 per part, below it.
    assert estimate(cfg, chain_connections(cfg, 0.1)).shape == (0, 20)


def test_matching_keeps_ties_in_input_order():
    # 45 pairs, all kept; scores tie in runs that numpy's default (unstable) sort reorders.
    from estimation.connections import match_per_limb
    score = np.r_[np.full(20, 3.0), np.full(20, 2.0), np.full(5, 3.0)]
    kept = match_per_limb(np.zeros(45, int), np.arange(45), np.arange(45) + 100, score)
    assert kept.tolist() == list(range(20)) + list(range(40, 45)) + list(range(20, 40))
    # Pairs j and j + 23 share part A: in that order 40-42 and 20-21 and 23-39 lose it.
    kept = match_per_limb(np.zeros(45, int), np.arange(45) % 23, np.arange(45) + 100, score)
    assert kept.tolist() == list(range(20)) + [43, 44, 22]


@pytest.mark.parametrize("x,y", [(6.2, 1.0), (-0.7, 2.0), (3.0, 3.6), (1.0, -0.6)])
def test_a_candidate_outside_any_edge_is_named(cfg, x, y):
    coords = empty_coords(cfg)
    coords["neck"] = [(1.0, 1.0, 0.5, 0), (x, y, 0.75, 1)]   # the second one is outside
    with pytest.raises(ValueError, match=rf"^coords has a candidate at \(x={x:g}, y={y:g}\), "
                                         r"outside the PAF maps of 4 x 6 cells"):
        get_connections(cfg, coords, np.zeros((4, 6, 38), np.float32))
    coords["neck"] = [(x, y, 0.75, 1)]                        # alone, too
    with pytest.raises(ValueError, match=r"outside the PAF maps"):
        get_connections(cfg, coords, np.zeros((4, 6, 38), np.float32))


def test_segment_units_for_short_and_coincident_segments():
    from estimation.connections import sample_projections, segment_samples
    _, _, unit, length = segment_samples(np.array([[1.0, 1.0], [2.0, 2.0]]),
                                         np.array([[1.6, 1.0], [2.0, 2.0]]), 3)
    np.testing.assert_allclose(unit, [[1.0, 0.0], [0.0, 0.0]])
    np.testing.assert_allclose(length, [0.6, 0.0])
    maps = np.ones((4, 4, 2), np.float32)
    proj = sample_projections(maps, np.array([[2.0, 2.0]]), np.array([[2.0, 2.0]]),
                              np.array([0]), np.array([1]), 3)
    assert proj.tolist() == [[0.0, 0.0, 0.0]]
