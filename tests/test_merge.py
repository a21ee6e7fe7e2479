"""Tests of estimation.merge, the lab deliverable: sample, rules, invariants, drop-in."""

import ast
import importlib.util
import shutil
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from estimation.merge import COMPETITOR_PENALTY, check_subset, competitors, group_rows, merge

from conftest import ROOT, examples


def row(slots, score):
    """A subset row with ``{slot: id}`` filled and a stale parts_num of 0."""
    r = -np.ones(20)
    for slot, part_id in slots.items():
        r[slot] = part_id
    r[18], r[19] = score, 0
    return r


def test_handout_sample_gives_one_person(sample_subset, expected_skeleton):
    before = sample_subset.copy()
    result = merge(sample_subset)
    assert result.shape == (1, 20)
    np.testing.assert_array_equal(result[0, :18], expected_skeleton[:18])
    assert result[0, 19] == expected_skeleton[19] == 9
    assert result[0, 18] == pytest.approx(expected_skeleton[18])
    np.testing.assert_array_equal(sample_subset, before)


def test_lab_import_forms_all_give_the_merge_function(sample_subset, expected_skeleton):
    import estimation
    from estimation import merge as exported

    assert exported is merge and estimation.merge is merge
    assert exported(sample_subset)[0, :18].tolist() == expected_skeleton[:18].tolist()


def test_conflicting_row_is_set_aside():
    subset = np.array([
        row({0: 0, 1: 1}, 3.0),       # nose 0 - neck 1
        row({1: 1, 2: 2}, 2.0),       # neck 1 - right shoulder 2
        row({2: 2, 3: 3}, 1.5),       # right shoulder 2 - right elbow 3
        row({0: 5, 1: 1}, 1.0),       # a second nose on the same neck: conflict
    ])
    people = group_rows(subset)
    assert [p.ids[:4].tolist() for p in people] == [[0, 1, 2, 3]]
    assert people[0].score == pytest.approx(6.5) and people[0].rows == [0, 1, 2]
    result = merge(subset)
    assert result.shape == (1, 20) and result[0, 19] == 4



def test_equal_priorities_go_in_id_order_from_slot_0():
    """Two rows share neck 1 and conflict on the nose: the lower nose id goes first
    (slot 0 decides before slot 17, where the order is the other way)."""
    subset = np.array([row({0: 6, 1: 1, 17: 8}, 1.0), row({0: 5, 1: 1, 17: 9}, 1.0)])
    people = group_rows(subset)
    assert [(p.ids[[0, 1, 17]].tolist(), p.rows) for p in people] == [([5, 1, 9], [1])]


def test_competitors_count_rows_of_the_same_slots_sharing_an_id():
    subset = np.array([
        row({1: 1, 2: 2}, 2.0),       # neck 1 - right shoulder 2: shares neck 1 with the next two
        row({1: 1, 2: 3}, 1.0),       # neck 1 - right shoulder 3
        row({1: 1, 2: 4}, 1.0),       # neck 1 - right shoulder 4, which also ...
        row({1: 9, 2: 4}, 1.0),       # ... a second neck 9 claims
        row({2: 4, 3: 5}, 1.0),       # right shoulder 4 - elbow 5: other slots, no competitor
        row({1: 1, 5: 6}, 1.0),       # neck 1 - left shoulder 6: other slots, no competitor
    ])
    ids = subset[:, :18].astype(np.int64)
    np.testing.assert_array_equal(competitors(ids), [2, 2, 3, 1, 0, 0])
    np.testing.assert_array_equal(competitors(ids[[5, 2, 0, 4, 3, 1]]), [0, 3, 2, 0, 1, 2])
    assert competitors(np.zeros((0, 18), np.int64)).shape == (0,)



def test_id_0_is_a_filled_slot_for_competitors():
    ids = np.array([row({0: 0, 1: 1}, 1.0), row({0: 0, 1: 2}, 1.0),
                    row({0: 3, 1: 2}, 1.0)])[:, :18].astype(np.int64)
    np.testing.assert_array_equal(competitors(ids), [1, 2, 1])


@pytest.mark.parametrize("rows", [
    [{0: 1, 1: 0}],                          # one row: its two entries are not competitors
    [{0: 0, 5: 1}, {0: 2, 5: 3}],            # same slots, different ids
    [{0: 1, 1: 4}, {1: 3, 2: 6}, {1: 4}],    # id 4 shared by rows of different slots
])
def test_rows_sharing_no_id_in_the_same_slots_have_no_competitors(rows):
    # Each (slots filled, slot, id) key must stay distinct, whatever the ids.
    ids = np.array([row(r, 1.0) for r in rows])[:, :18].astype(np.int64)
    assert competitors(ids).tolist() == [0] * len(rows)


def test_competitors_of_empty_rows_are_int64_zeros():
    counts = competitors(np.full((3, 18), -1, np.int64))
    assert counts.dtype == np.int64 and counts.tolist() == [0, 0, 0]


def test_competitors_are_int64_one_per_row_with_trailing_empty_rows():
    ids = np.array([row({1: 1, 2: 2}, 1.0), row({1: 1, 2: 3}, 1.0),
                    row({}, 1.0), row({}, 1.0)])[:, :18].astype(np.int64)
    counts = competitors(ids)
    assert counts.dtype == np.int64 and counts.tolist() == [1, 1, 0, 0]
    assert merge(np.array([row({1: 1, 2: 2}, 1.0), row({}, 1.0)]), 2, 0).shape == (1, 20)


@pytest.mark.parametrize("elbow_score, first", [(1.625, 2), (1.5625, 0)])
def test_a_row_with_a_competitor_yields_to_a_weaker_uncontested_row(elbow_score, first):
    """The greedy order is score - COMPETITOR_PENALTY x competitors: 2.0 - 0.4 = 1.6."""
    assert COMPETITOR_PENALTY == 0.4
    subset = np.array([
        row({1: 1, 2: 2}, 2.0),            # neck 1 - right shoulder 2 (one competitor: 1.6)
        row({1: 1, 2: 7}, 1.0),            # neck 1 - right shoulder 7 (one competitor: 0.6)
        row({2: 3, 3: 4}, elbow_score),    # right shoulder 3 - elbow 4 (none)
    ])
    people = group_rows(subset)
    assert people[0].rows[0] == first       # people come in the order they were started


def test_people_that_conflict_in_two_slots_are_not_fused_through_a_shared_row():
    subset = np.array([
        row({0: 0, 1: 1, 14: 7}, 5.0),           # person X: nose 0, neck 1, right eye 7
        row({0: 5, 14: 8, 2: 2, 3: 3}, 4.0),     # person Y: nose 5, right eye 8, shoulder, elbow
        row({1: 1, 2: 2}, 1.0),                  # neck 1 - right shoulder 2 links X and Y
    ])
    people = group_rows(subset)
    assert len(people) == 2
    owners = {}
    for k, p in enumerate(people):
        for part_id in p.ids[p.ids >= 0]:
            assert part_id not in owners
            owners[part_id] = k
    assert owners[1] != owners[2]
    assert sorted(r for p in people for r in p.rows) == [0, 1]


def test_people_that_conflict_in_one_slot_are_fused_and_the_stronger_keeps_it():
    """One part detected twice: X and Y are one person with two noses."""
    subset = np.array([
        row({0: 0, 1: 1, 14: 7}, 5.0),   # X: nose 0, neck 1, right eye 7
        row({0: 5, 2: 2, 3: 3}, 4.0),    # Y: nose 5, right shoulder 2, elbow 3
        row({1: 1, 2: 2}, 1.0),          # neck 1 - right shoulder 2 links X and Y
    ])
    people = group_rows(subset)
    assert len(people) == 1
    person = people[0]
    assert person.ids[[0, 1, 2, 3, 14]].tolist() == [0, 1, 2, 3, 7]   # X's nose, not Y's
    assert person.score == pytest.approx(10.0) and sorted(person.rows) == [0, 1, 2]
    # The weaker side's nose wins when its person is the stronger one.
    subset[1, 18] = 6.0
    assert group_rows(subset)[0].ids[0] == 5



@pytest.mark.parametrize("extra, nose", [(3.0, 5), (1.0, 0)])
def test_in_a_fusion_the_person_scored_higher_at_that_point_keeps_the_slot(extra, nose):
    """Y starts after X but grows to 4 + extra: above X's 5.0 it keeps its nose; tied, X does."""
    subset = np.array([
        row({0: 0, 1: 1, 14: 7}, 5.0),   # X: nose 0
        row({0: 5, 2: 2, 3: 3}, 4.0),    # Y: nose 5
        row({3: 3, 4: 4}, extra),        # joins Y
        row({1: 1, 2: 2}, 1.0),          # links X and Y
    ])
    people = group_rows(subset)
    assert [p.ids[[0, 1, 2, 3, 4, 14]].tolist() for p in people] == [[nose, 1, 2, 3, 4, 7]]
    assert people[0].score == pytest.approx(10.0 + extra)


def test_strongest_link_is_fused_first():
    """Z links to X (strongly) and to Y (weakly); X and Y conflict in two slots."""
    subset = np.array([
        row({0: 0, 1: 1, 14: 7}, 5.0),            # X
        row({0: 5, 1: 6, 14: 8}, 4.5),            # Y: conflicts with X in 3 slots
        row({0: 9, 2: 2, 3: 3}, 4.0),             # Z: nose 9 conflicts with both
        row({1: 1, 2: 2}, 2.0),                   # X - Z
        row({1: 6, 2: 2}, 1.0),                   # Y - Z
    ])
    people = group_rows(subset)
    assert len(people) == 2
    fused = next(p for p in people if p.ids[1] == 1)
    assert fused.ids[[0, 1, 2, 3]].tolist() == [0, 1, 2, 3]
    assert sorted(fused.rows) == [0, 2, 3]



def test_links_rank_by_the_sum_of_their_rows_not_by_the_people_order():
    """Z links to X by one row of 1.5 and to Y (started later) by two rows of 1.0."""
    subset = np.array([
        row({0: 0, 1: 1, 14: 7}, 5.0),            # X (person 0)
        row({0: 5, 1: 6, 14: 8}, 4.5),            # Y (person 1): conflicts with X in 3 slots
        row({0: 9, 2: 2, 3: 3}, 4.0),             # Z (person 2): nose 9 conflicts with both
        row({1: 1, 2: 2}, 1.5),                   # X - Z: 1.5
        row({1: 6, 2: 2}, 1.0),                   # Y - Z: 1.0 + 1.0 = 2.0, fused first
        row({14: 8, 3: 3}, 1.0),
    ])
    people = group_rows(subset)
    assert [p.ids[[0, 1, 2, 3, 14]].tolist() for p in people] == [
        [0, 1, -1, -1, 7], [5, 6, 2, 3, 8]]       # Y is the stronger: its nose stays
    assert [p.score for p in people] == [5.0, 10.5]
    assert [sorted(p.rows) for p in people] == [[0], [1, 2, 4, 5]]



def test_equal_links_go_in_the_people_start_order_not_the_row_order():
    subset = np.array([
        row({0: 0, 1: 1, 14: 7}, 5.0),            # X (person 0)
        row({0: 5, 1: 6, 14: 8}, 4.5),            # Y (person 1)
        row({0: 9, 2: 2, 3: 3}, 4.0),             # Z (person 2)
        row({1: 6, 2: 2}, 1.0),                   # Y - Z, the earlier row
        row({1: 1, 2: 2}, 1.0),                   # X - Z, an equal link: pair (0, 2) first
    ])
    people = group_rows(subset)
    assert [p.ids[[0, 1, 2, 3, 14]].tolist() for p in people] == [
        [0, 1, 2, 3, 7], [5, 6, -1, -1, 8]]
    assert [sorted(p.rows) for p in people] == [[0, 2, 4], [1]]


def test_a_skipped_link_does_not_end_the_fusion_pass():
    conflicting = np.array([
        row({0: 0, 1: 1, 14: 7}, 5.0),            # X (person 0)
        row({0: 9, 8: 20, 9: 21}, 4.5),           # Z (person 1): conflicts with X in 1 slot
        row({0: 5, 14: 8, 2: 2, 3: 3}, 4.0),      # Y (person 2): conflicts with X in 2 slots
        row({1: 1, 2: 2}, 3.0),                   # X - Y: strongest link, not fused
        row({1: 1, 8: 20}, 1.0),                  # X - Z: fused after it
    ])
    people = group_rows(conflicting)
    assert [sorted(p.rows) for p in people] == [[0, 1, 4], [2]]
    assert people[0].ids[[0, 1, 8, 9, 14]].tolist() == [0, 1, 20, 21, 7]
    dead = np.array([
        row({0: 0, 1: 1, 14: 7}, 5.0),            # X (person 0)
        row({0: 5, 1: 6, 14: 8}, 4.5),            # Y (person 1)
        row({0: 9, 2: 2, 3: 3}, 4.0),             # Z (person 2)
        row({0: 30, 10: 31}, 3.5),                # W (person 3)
        row({1: 6, 2: 2}, 2.0),                   # Y - Z first: Z is gone ...
        row({1: 1, 2: 2}, 1.5),                   # ... so X - Z is skipped
        row({1: 1, 10: 31}, 0.5),                 # X - W still fuses
    ])
    people = group_rows(dead)
    assert [sorted(p.rows) for p in people] == [[0, 3, 6], [1, 2, 4]]


def test_compatible_people_are_fused_through_a_shared_row():
    subset = np.array([
        row({0: 0, 1: 1}, 5.0),
        row({2: 2, 3: 3}, 4.0),
        row({1: 1, 2: 2}, 1.0),
    ])
    result = merge(subset)
    assert result.shape == (1, 20)
    assert result[0, :4].tolist() == [0, 1, 2, 3]
    assert result[0, 18] == pytest.approx(10.0)


def test_pruning_by_parts_and_mean_score():
    few = [row({0: 0, 1: 1}, 3.0), row({1: 1, 2: 2}, 3.0)]                  # 3 parts
    weak = [row({3: 10, 4: 11}, 0.3), row({4: 11, 5: 12}, 0.3),
            row({5: 12, 6: 13}, 0.3)]                                        # 4 parts, 0.225/part
    strong = [row({8: 20, 9: 21}, 2.0), row({9: 21, 10: 22}, 2.0),
              row({10: 22, 11: 23}, 2.0)]
    result = merge(np.array(few + weak + strong))
    assert result.shape == (1, 20) and result[0, 8] == 20
    assert merge(np.array(few + weak + strong), min_num_body_parts=3, min_score=0.2).shape[0] == 3



def test_pruning_goes_on_past_a_dropped_person():
    # People start in descending row score: the dropped one (1.8 > 1.5) comes first.
    weak = [row({0: 0, 1: 1}, 1.8)]                                    # 1.8 / 2 parts = 0.9
    strong = [row({8: 20, 9: 21}, 1.5), row({9: 21, 10: 22}, 1.5),
              row({10: 22, 11: 23}, 1.5)]                              # 4.5 / 4 parts
    result = merge(np.array(weak + strong), min_num_body_parts=2, min_score=1.0)
    assert result[:, 8:12].tolist() == [[20, 21, 22, 23]]
    result = merge(np.array(weak + strong), min_num_body_parts=3, min_score=0.0)  # too few
    assert result[:, 8:12].tolist() == [[20, 21, 22, 23]]


def test_a_one_part_person_is_kept_when_the_minimum_allows_it():
    result = merge(np.array([row({5: 7}, 0.5)]), min_num_body_parts=1, min_score=0.0)
    assert result.tolist() == [[-1] * 5 + [7] + [-1] * 12 + [0.5, 1]]


def test_a_person_with_all_18_parts_passes_min_num_body_parts_18():
    rows = [row({s: s, s + 1: s + 1}, 1.0) for s in range(17)]     # a chain over all slots
    result = merge(np.array(rows), min_num_body_parts=18)
    assert result[:, :18].tolist() == [list(range(18))]
    assert result[0, 18:].tolist() == [17.0, 18]



@pytest.mark.parametrize("slot", [0, 1, 17])
def test_equal_scores_are_ordered_by_ids_not_by_start_order(slot):
    # Both people score 2.0; the one with id 6 starts first (one row of 2.0), the one
    # with id 5 later (two rows of 1.0 that compete: priority 1.0 - 0.4 each).
    subset = np.array([row({slot: 6}, 2.0), row({slot: 5}, 1.0), row({slot: 5}, 1.0)])
    assert [p.ids[slot] for p in group_rows(subset)] == [6, 5]
    result = merge(subset, min_num_body_parts=1)
    assert result[:, slot].tolist() == [5, 6]
    assert result[:, 18:].tolist() == [[2.0, 1], [2.0, 1]]


@pytest.mark.parametrize("empty", [np.zeros((0, 20)), [], np.array([])])
def test_empty_input_gives_empty_output(empty):
    assert merge(empty).shape == (0, 20)


@pytest.mark.parametrize("bad, message", [
    (np.zeros((3, 19)), "shape"),
    (np.zeros(20), "shape"),
    (np.full((1, 20), np.nan), "NaN"),
    (np.array([row({0: 1.5}, 1.0)]), "integers"),
    (np.array([row({0: -3}, 1.0)]), "integers"),
    (np.array([row({0: 4}, 1.0), row({1: 4}, 1.0)]), "two different slots"),
    (np.array([row({0: 1e19}, 1.0)]), "integers in"),
    (np.array([row({0: 2.0 ** 53}, 1.0), row({1: 2.0 ** 53 + 1}, 1.0)]), "integers in"),
    (np.array([row({0: 1}, 1e308), row({1: 2}, 1e308)]), "overflows"),
    (np.array([row({0: 1}, 1.0)]).astype(complex), "real numbers"),
    (np.array([row({0: 1}, 1.0)]).astype(str), "real numbers"),
    ([["a"] * 20], "real numbers"),
    (np.array([row({0: 1}, 1.0)]).astype(object), "real numbers"),
])
def test_rejects_malformed_subsets(bad, message):
    with pytest.raises(ValueError, match=message):
        merge(bad)


@pytest.mark.parametrize("bad, message", [
    (np.full((1, 20), np.inf), "subset contains NaN or infinite values"),
    (np.array([row({0: 1}, 1e308), row({1: 2}, -1e308)]),     # |scores| overflow, not the sum
     "subset scores are too large: their sum overflows float64"),
    (np.array([row({0: 4}, 1.0), row({1: 4}, 1.0)]),
     "subset places one part id in two different slots"),
    (np.array([row({0: 0, 1: 1}, 1.0), row({2: 0, 3: 3}, 1.0)]),     # id 0 counts too
     "subset places one part id in two different slots"),
])
def test_malformed_subset_messages_are_exact(bad, message):
    with warnings.catch_warnings():
        warnings.simplefilter("error")               # refused, without a RuntimeWarning
        with pytest.raises(ValueError) as error:
            merge(bad)
    assert str(error.value) == message


@pytest.mark.parametrize("empty", [[], np.array([]), np.zeros((0, 20))])
def test_empty_subsets_give_no_people_even_without_thresholds(empty):
    assert group_rows(empty) == []
    assert merge(empty, 0, -1.0).shape == (0, 20)


@pytest.mark.parametrize("subset", [
    np.array([row({0: 0, 1: 1}, 2.0)]).astype(np.int64),
    np.array([row({0: 0, 1: 1}, 2.0)]).astype(np.float32),
    np.zeros((0, 20), np.int32),
])
def test_check_subset_returns_a_float64_copy(subset):
    arr = check_subset(subset)
    assert arr.dtype == np.float64 and arr.tolist() == subset.tolist()
    assert not np.shares_memory(arr, subset)


def test_slot_id_minus_2_is_refused():
    with pytest.raises(ValueError, match="integers in"):
        merge(np.array([row({0: -2, 1: 1, 2: 2, 3: 3}, 4.0)]))


def test_largest_exact_id_is_kept():
    big = 2 ** 53 - 1
    subset = np.array([row({0: big, 1: 0, 2: 1, 3: 2}, 4.0)])
    result = merge(subset)
    assert int(result[0, 0]) == big


def test_huge_but_summable_scores_merge_and_merge_again():
    subset = np.array([row({0: 0, 1: 1}, 1e307), row({1: 1, 2: 2}, 1e307),
                       row({2: 2, 3: 3}, 1e307)])
    once = merge(subset)
    assert np.isfinite(once).all()
    np.testing.assert_array_equal(merge(once), once)


@pytest.mark.parametrize("kwargs, message", [
    ({"min_num_body_parts": float("nan")}, "min_num_body_parts"),
    ({"min_num_body_parts": -1}, "min_num_body_parts"),
    ({"min_num_body_parts": 19}, "min_num_body_parts"),
    ({"min_num_body_parts": 2.5}, "min_num_body_parts"),
    ({"min_num_body_parts": True}, "min_num_body_parts"),
    ({"min_num_body_parts": "4"}, "min_num_body_parts"),
    ({"min_score": float("nan")}, "min_score"),
    ({"min_score": float("inf")}, "min_score"),
    ({"min_score": "0.4"}, "min_score"),
    ({"min_score": None}, "min_score"),
])
def test_rejects_bad_thresholds(sample_subset, kwargs, message):
    with pytest.raises(ValueError, match=message):
        merge(sample_subset, **kwargs)


def test_integral_float_and_numpy_thresholds_are_accepted(sample_subset, expected_skeleton):
    for parts, score in ((4.0, 0.4), (np.int64(9), np.float32(0.4)), (0, -5)):
        result = merge(sample_subset, parts, score)
        np.testing.assert_array_equal(result[0, :18], expected_skeleton[:18])


# --- property tests ----------------------------------------------------------

@st.composite
def subsets(draw):
    """Random subsets whose ids each live in one fixed slot (as the kit's ids do)."""
    n_ids = draw(st.integers(1, 40))
    slot_of = draw(st.lists(st.integers(0, 17), min_size=n_ids, max_size=n_ids))
    n_rows = draw(st.integers(0, 30))
    rows = []
    for _ in range(n_rows):
        chosen = draw(st.lists(st.integers(0, n_ids - 1), min_size=1, max_size=5, unique=True))
        slots = {}
        for part_id in chosen:
            slots.setdefault(slot_of[part_id], part_id)
        score = draw(st.floats(-1.0, 5.0, allow_nan=False).map(lambda s: round(s, 3)))
        r = row(slots, score)
        r[19] = draw(st.integers(0, 18))     # stale parts_num
        rows.append(r)
    return np.array(rows).reshape(-1, 20)


@settings(max_examples=examples(1500), deadline=None)
@given(subsets(), st.integers(0, 6), st.floats(0.0, 2.0))
def test_merge_invariants(subset, min_parts, min_score):
    before = subset.copy()
    result = merge(subset, min_num_body_parts=min_parts, min_score=min_score)
    np.testing.assert_array_equal(subset, before)
    assert result.ndim == 2 and result.shape[1] == 20
    ids = result[:, :18]
    filled = ids[ids >= 0]
    assert len(filled) == len(set(filled.tolist())), "a part id is in two people"
    assert set(filled.tolist()) <= set(subset[:, :18][subset[:, :18] >= 0].tolist())
    parts = (ids >= 0).sum(1)
    np.testing.assert_array_equal(result[:, 19], parts)
    assert (parts >= min_parts).all() and (parts > 0).all()
    assert (result[:, 18] / np.maximum(parts, 1) >= min_score - 1e-9).all()
    assert (np.diff(result[:, 18]) <= 1e-12).all(), "not sorted by score"


@settings(max_examples=examples(1000), deadline=None)
@given(subsets())
def test_people_hold_only_ids_of_their_rows_and_sum_their_scores(subset):
    people = group_rows(subset)
    seen_rows = []
    for person in people:
        member_ids = subset[person.rows, :18]
        assert set(person.ids[person.ids >= 0].tolist()) <= set(member_ids[member_ids >= 0].tolist())
        assert person.score == pytest.approx(subset[person.rows, 18].sum())
        seen_rows += person.rows
        for slot in range(18):
            if person.ids[slot] >= 0:
                assert person.ids[slot] in member_ids[:, slot]
    assert len(seen_rows) == len(set(seen_rows))


@settings(max_examples=examples(1000), deadline=None)
@given(subsets(), st.randoms(use_true_random=False))
def test_result_does_not_depend_on_row_order(subset, random):
    order = list(range(len(subset)))
    random.shuffle(order)
    np.testing.assert_array_equal(merge(subset[order], 1, -10), merge(subset, 1, -10))


@settings(max_examples=examples(500), deadline=None)
@given(subsets())
def test_merging_a_result_again_changes_nothing(subset):
    once = merge(subset, 1, -10)
    np.testing.assert_array_equal(merge(once, 1, -10), once)


# --- drop-in -----------------------------------------------------------------

def test_merge_imports_only_numpy_and_the_standard_library():
    tree = ast.parse((ROOT / "estimation" / "merge.py").read_text())
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "merge.py must not use relative imports"
            modules.add(node.module.split(".")[0])
    assert modules - set(sys.stdlib_module_names) <= {"numpy"}


def test_merge_works_as_a_lone_file_in_the_handout_kit(tmp_path, sample_subset, expected_skeleton):
    kit = tmp_path / "EAI_Lab3" / "estimation"
    kit.mkdir(parents=True)
    shutil.copy(ROOT / "estimation" / "merge.py", kit / "merge.py")
    spec = importlib.util.spec_from_file_location("kit_merge", kit / "merge.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.merge(sample_subset)
    np.testing.assert_array_equal(result, merge(sample_subset))
    np.testing.assert_array_equal(result[0, :18], expected_skeleton[:18])
