"""Tests of posekit.decode.completion: guessed positions for the slots a person lacks."""

import numpy as np
import pytest

from posekit.decode.completion import (LIMB_LENGTHS, MIN_GUESS_SCORE, MIN_PAF_NORM,
                                   POINTED_RADIUS, UNPOINTED_RADIUS, complete)
from estimation.config import NUM_PARTS, BodyPart, get_default_configuration
from posekit.decode.decoder import DecoderParams, decode, find_peaks
from tools.synthetic import make_person, render_maps

from conftest import SCENE_SHAPE, scene_people

H, W = 24, 30
NECK = (10.0, 10.0)
#: Right shoulder one neck-right_shoulder length (limb 0) times 2 to the right
#: of the neck: the person's scale is exactly 2.
SHOULDER = (10.0 + 2 * LIMB_LENGTHS[0], 10.0)


def scene():
    """Peaks (neck, right shoulder), one person holding them, empty maps."""
    slots = np.full((1, NUM_PARTS), -1)
    slots[0, BodyPart.neck], slots[0, BodyPart.right_shoulder] = 0, 1
    return (slots, np.array([NECK, SHOULDER]), np.zeros((H, W, 19), np.float32),
            np.zeros((H, W, 38), np.float32))


def guess(out, slot):
    """(x, y, value) guessed for ``slot`` of person 0."""
    slots, xy, value = out
    i = slots[0, slot] - 2                          # the two peaks come first
    assert i >= 0
    return (*xy[i].tolist(), float(value[i]))


def test_the_paf_points_to_the_disc_and_its_strongest_cell_wins():
    slots, xy, heatmaps, pafs = scene()
    pafs[10, 13, 14:16] = (1.1 * MIN_PAF_NORM, 0.0)  # shoulder -> elbow points right
    length = 2 * LIMB_LENGTHS[2]                    # 5.82: centre (SHOULDER x + 5.82, 10)
    centre_x = SHOULDER[0] + length
    heatmaps[10, 19, BodyPart.right_elbow] = 0.5    # 0.06 from the centre: inside
    heatmaps[12, 19, BodyPart.right_elbow] = 0.9    # 2.0 away > 0.3 x 5.82 = 1.746: outside
    assert abs(centre_x - 19) ** 2 + 4 > (POINTED_RADIUS * length) ** 2
    out = complete(slots, xy, heatmaps, pafs, _cfg())
    assert guess(out, BodyPart.right_elbow) == (19.0, 10.0, 0.5)
    assert (out[0] >= 0).all()                      # every slot filled, ids 2, 3, ...
    assert sorted(out[0][0].tolist()) == list(range(NUM_PARTS))


def test_a_weak_paf_searches_a_wider_disc_around_the_filled_slot():
    slots, xy, heatmaps, pafs = scene()
    pafs[10, 10, 20:22] = (0.9 * MIN_PAF_NORM, 0.0)  # below the minimum: no direction
    length = 2 * LIMB_LENGTHS[1]                    # 3.14; radius 1.2 x 3.14 = 3.77
    assert 3.0 < UNPOINTED_RADIUS * length < 4.0
    heatmaps[10, 7, BodyPart.left_shoulder] = 0.3   # 3 from the neck: inside
    heatmaps[14, 10, BodyPart.left_shoulder] = 0.8  # 4 from the neck: outside
    out = complete(slots, xy, heatmaps, pafs, _cfg())
    assert guess(out, BodyPart.left_shoulder) == (7.0, 10.0, pytest.approx(0.3))


def test_a_guess_is_the_origin_of_the_next_wave():
    slots, xy, heatmaps, pafs = scene()
    pafs[10, 13, 14:16] = (1.0, 0.0)
    heatmaps[10, 19, BodyPart.right_elbow] = 0.5
    pafs[10, 19, 16:18] = (0.0, 1.0)               # elbow -> wrist points down
    # centre (19, 10 + 2 x 1.93 = 13.86); radius 1.16 -> 1.5 (the minimum)
    heatmaps[14, 19, BodyPart.right_wrist] = 0.4
    heatmaps[10, 19, BodyPart.right_wrist] = 0.9    # at the elbow: outside
    out = complete(slots, xy, heatmaps, pafs, _cfg())
    assert guess(out, BodyPart.right_wrist) == (19.0, 14.0, pytest.approx(0.4))


def test_of_two_filled_neighbours_the_stronger_disc_wins():
    slots, xy, heatmaps, pafs = scene()
    slots[0, BodyPart.right_wrist] = 2
    xy = np.vstack([xy, [[24.0, 10.0]]])             # a wrist right of the missing elbow
    heatmaps[10, 18, BodyPart.right_elbow] = 0.2     # near the shoulder's disc centre
    heatmaps[10, 21, BodyPart.right_elbow] = 0.6     # near the wrist's (weak PAF: disc 1.2 L)
    out = complete(slots, xy, heatmaps, pafs, _cfg())
    i = out[0][0, BodyPart.right_elbow] - 3
    assert out[1][i].tolist() == [21.0, 10.0] and out[2][i] == pytest.approx(0.6)


def test_a_disc_off_the_map_takes_the_nearest_cell():
    slots, xy, heatmaps, pafs = scene()
    xy = np.array([[1.0, 10.0], [1.0 + 2 * LIMB_LENGTHS[0], 10.0]])
    pafs[10, 4, 14:16] = (-1.0, 0.0)                # elbow far to the left, off the map
    heatmaps[10, 0, BodyPart.right_elbow] = 0.25
    out = complete(slots, xy, heatmaps, pafs, _cfg())
    x, y, v = guess(out, BodyPart.right_elbow)
    assert (x, y) == (0.0, 10.0) and v == pytest.approx(0.25)


def test_a_person_without_a_limb_is_left_alone():
    slots = np.full((2, NUM_PARTS), -1)
    slots[0, BodyPart.nose], slots[0, BodyPart.left_knee] = 0, 1     # no limb joins them
    slots[1, BodyPart.neck], slots[1, BodyPart.right_shoulder] = 2, 3
    xy = np.array([[3.0, 3.0], [5.0, 20.0], NECK, SHOULDER])
    out = complete(slots, xy, np.zeros((H, W, 19)), np.zeros((H, W, 38)), _cfg())
    assert out[0][0].tolist() == slots[0].tolist()
    assert (out[0][1] >= 4).sum() == NUM_PARTS - 2 and len(out[1]) == NUM_PARTS - 2


def test_no_people_and_full_people_give_no_guesses():
    z = np.zeros((H, W, 19)), np.zeros((H, W, 38))
    out = complete(np.zeros((0, NUM_PARTS), int), np.zeros((0, 2)), *z, _cfg())
    assert out[0].shape == (0, NUM_PARTS) and out[1].shape == (0, 2) and out[2].shape == (0,)
    full = np.arange(NUM_PARTS)[None]
    out = complete(full, np.random.default_rng(0).uniform(0, 20, (NUM_PARTS, 2)), *z, _cfg())
    assert out[0].tolist() == full.tolist() and len(out[1]) == 0


def test_bad_slots_are_refused():
    z = np.zeros((H, W, 19)), np.zeros((H, W, 38))
    with pytest.raises(ValueError, match="slots must be"):
        complete(np.zeros((1, 17), int), np.zeros((1, 2)), *z, _cfg())
    with pytest.raises(ValueError, match="part_xy has 1 rows"):
        complete(np.array([[0, 1] + [-1] * 16]), np.zeros((1, 2)), *z, _cfg())


def test_decode_completes_people_and_lists_the_guesses_in_coords():
    person = make_person(30, 12, 60, missing=(4,))   # no right wrist
    heatmaps, pafs = render_maps(person[None], (70, 60))
    coords, grouped = decode(heatmaps, pafs, params=DecoderParams(complete_people=False))
    coords_full, full = decode(heatmaps, pafs, params=DecoderParams(complete_people=True))
    assert grouped[0, 4] == -1 and grouped[0, 19] == 17
    assert (full[0, :18] >= 0).all() and full[0, 19] == 18
    found = grouped[0, :18] >= 0
    assert full[0, :18][found].tolist() == grouped[0, :18][found].tolist()
    assert full[0, 18] == grouped[0, 18]               # the person score is untouched
    wrist = [p for p in coords_full["right_wrist"] if p[3] == full[0, 4]]
    assert len(wrist) == 1 and wrist[0][2] == MIN_GUESS_SCORE      # nothing there: the floor
    assert coords_full["right_wrist"][:len(coords["right_wrist"])] == coords["right_wrist"]
    # The guess is listed at the (x, y) that completion returned for it.
    peaks = find_peaks(heatmaps, DecoderParams(), get_default_configuration())
    _, new_xy, _ = complete(grouped[:, :18].astype(np.int64), peaks.xy, heatmaps, pafs,
                            get_default_configuration())
    assert len(new_xy) == 1 and new_xy[0, 0] != new_xy[0, 1]
    assert wrist[0][:2] == tuple(new_xy[0].tolist())


def test_completion_keeps_every_part_the_grouping_found():
    heatmaps, pafs = render_maps(scene_people(), SCENE_SHAPE)
    _, grouped = decode(heatmaps, pafs, params=DecoderParams(complete_people=False))
    _, full = decode(heatmaps, pafs, params=DecoderParams(complete_people=True))
    assert len(full) == len(grouped)
    found = grouped[:, :18] >= 0
    assert (full[:, :18][found] == grouped[:, :18][found]).all()
    assert (full[:, :18] >= 0).all()
    assert len(full) > 1 and full[:, 19].tolist() == [18] * len(full)   # per person


def test_complete_people_must_be_a_bool():
    with pytest.raises(ValueError, match="complete_people"):
        DecoderParams(complete_people=1)


def _cfg():
    from estimation.config import get_default_configuration
    return get_default_configuration()


def test_a_guess_scores_at_least_the_floor():
    slots, xy, heatmaps, pafs = scene()
    heatmaps[:] = -0.05                               # networks give slightly negative maps
    heatmaps[10, 19, BodyPart.right_elbow] = 0.5 * MIN_GUESS_SCORE
    pafs[10, 13, 14:16] = (1.0, 0.0)
    out = complete(slots, xy, heatmaps, pafs, _cfg())
    assert (out[2] == MIN_GUESS_SCORE).all() and len(out[2]) == NUM_PARTS - 2
    assert guess(out, BodyPart.right_elbow)[:2] == (19.0, 10.0)
