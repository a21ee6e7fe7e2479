"""Tests of posekit.decode.scales: the per-person choice between the full-size and the second maps.

Hand-made people on the thresholds (tiny arrays), the decoding of rendered
maps (``tools.synthetic``), and one real close-up: a crop of ``images/bus.jpg``
where the man in the fur coat fills the frame.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from estimation.config import NUM_PARTS, BodyPart as P
from posekit.decode.decoder import DecoderParams, decode
from posekit.decode.scales import (ScaleParams, choose_people, covers, decode_passes,
                                   person_heights, row_points, to_full_grid, wants_small_pass)
from posekit.io.export import skeleton_keypoints
from tools.synthetic import make_person, render_maps

ROOT = Path(__file__).resolve().parents[1]
NAN = np.nan


def person(top: float, height: float, x: float = 10.0, slots=range(NUM_PARTS)) -> np.ndarray:
    """(18, 2) keypoints spread evenly from ``top`` over ``height`` cells, in ``slots`` only."""
    pts = np.full((NUM_PARTS, 2), NAN)
    ys = np.linspace(top, top + height, NUM_PARTS)
    for s in slots:
        pts[s] = (x, ys[s])
    return pts


def test_heights_count_found_keypoints_only():
    one = np.full((NUM_PARTS, 2), NAN)
    one[3] = (1, 5)
    assert person_heights(np.stack([person(2, 17), one])).tolist() == [17.0, 0.0]


def test_a_small_person_of_the_second_maps_is_dropped_however_well_it_scores():
    params = ScaleParams(large_height=0.5)
    full = person(0, 10)[None]
    for height, kept in ((9.9, False), (10.0, True)):       # map height 20: threshold 10 cells
        keep_full, keep_small = choose_people(full, np.array([1.0]), person(0, height)[None],
                                              np.array([100.0]), 20, params)
        assert keep_small.tolist() == [kept] and keep_full.tolist() == [not kept]


def test_a_large_person_replaces_the_fragments_it_covers_only_when_it_scores_higher():
    big = person(0, 30)[None]
    fragments = np.stack([person(0, 30, slots=range(0, 5)),      # the head: covered
                          person(0, 30, slots=range(8, 14)),     # the legs: covered
                          person(0, 30, x=40)])                  # someone else
    scores = np.array([5.0, 4.0, 9.0])
    keep_full, keep_small = choose_people(fragments, scores, big, np.array([5.5]), 40)
    assert keep_full.tolist() == [False, False, True] and keep_small.tolist() == [True]
    keep_full, keep_small = choose_people(fragments, scores, big, np.array([5.0]), 40)
    assert keep_full.tolist() == [True, True, True] and keep_small.tolist() == [False]


def test_a_large_person_the_full_size_pass_missed_is_added():
    keep_full, keep_small = choose_people(np.zeros((0, NUM_PARTS, 2)), np.zeros(0),
                                          person(0, 30)[None], np.array([0.1]), 40)
    assert keep_small.tolist() == [True]


def test_of_two_large_people_on_one_full_person_only_the_stronger_is_kept():
    full = person(0, 30)[None]
    twins = np.stack([person(0, 30), person(0.5, 30)])
    keep_full, keep_small = choose_people(full, np.array([1.0]), twins, np.array([2.0, 3.0]), 40)
    assert keep_full.tolist() == [False] and keep_small.tolist() == [False, True]


def test_cover_needs_the_share_of_keypoints_within_the_distance():
    big = person(0, 30)                      # diagonal 30 cells: distance 0.1 -> 3 cells
    near = person(0, 30, slots=range(4)).copy()
    near[:2, 0] += 2.9                        # 2 of 4 within 3 cells
    near[2:4, 0] += 3.1
    assert covers(big[None], near[None], ScaleParams(cover_share=0.5)).tolist() == [[True]]
    assert covers(big[None], near[None], ScaleParams(cover_share=0.51)).tolist() == [[False]]
    assert covers(big[None], np.full((1, NUM_PARTS, 2), NAN)).tolist() == [[False]]


def rows_of(points_list):
    """coords and (K, 20) rows holding the given (18, 2) people (score = 10 - index)."""
    coords = {meta.name: [] for meta in P if meta.value < NUM_PARTS}
    rows, next_id = [], 0
    for k, pts in enumerate(points_list):
        row = np.full(NUM_PARTS + 2, -1.0)
        for slot in range(NUM_PARTS):
            if np.isfinite(pts[slot, 0]):
                coords[P(slot).name].append((pts[slot, 0], pts[slot, 1], 0.5, next_id))
                row[slot] = next_id
                next_id += 1
        row[NUM_PARTS:] = 10 - k, np.isfinite(pts[:, 0]).sum()
        rows.append(row)
    return coords, np.array(rows).reshape(-1, NUM_PARTS + 2)


@pytest.mark.parametrize("height, parts, expected", [
    (14.9, 18, False), (15.0, 18, True),                 # trigger_height 0.15 of 100 cells
    (5.0, 9, True), (5.0, 10, False)])                   # nobody with 10 parts: look again
def test_the_small_pass_runs_for_a_large_person_or_when_only_fragments_were_found(
        height, parts, expected):
    coords, rows = rows_of([person(0, height, slots=range(parts))])
    assert wants_small_pass(coords, rows, 100) is expected


def test_the_small_pass_does_not_run_when_nobody_was_found_and_map_height_is_checked():
    coords, rows = rows_of([])
    assert not wants_small_pass(coords, rows, 100)
    with pytest.raises(ValueError, match="map_height"):
        wants_small_pass(coords, rows, 0)


def test_people_of_a_half_size_grid_land_on_the_same_pixels():
    coords, rows = rows_of([person(2, 10)])
    moved_coords, moved = to_full_grid(coords, rows, (0.5, 0.5), 100)
    assert (moved[:, :NUM_PARTS] >= 100).all()
    # Pixels at scale 1 of the moved people == pixels of the originals at scale 2.
    np.testing.assert_allclose(skeleton_keypoints(moved_coords, moved),
                               skeleton_keypoints(coords, rows, scale=2.0))
    np.testing.assert_allclose(row_points(moved_coords, moved)[0, 0], [20.5, 4.5])


@pytest.mark.parametrize("field, value", [("large_height", -0.1), ("score_gain", float("nan")),
                                          ("cover_share", 1.5), ("trigger_parts", 19),
                                          ("trigger_parts", 1.0), ("trigger_height", True),
                                          ("second_peak_threshold", 1.5),
                                          ("second_join_fragments", 1), ("flip_height", -1.0)])
def test_bad_scale_params_name_the_field(field, value):
    with pytest.raises(ValueError, match=f"ScaleParams.{field}"):
        ScaleParams(**{field: value})


def maps_of(people, shape=(60, 60)):
    return render_maps(np.stack(people), shape)


def test_a_small_complete_person_decodes_without_the_second_pass():
    hm, pf = maps_of([make_person(30, 20, 8)])
    calls = []
    timings = {}
    coords, rows = decode_passes(hm, pf, lambda flip: calls.append(1), timings=timings)
    assert not calls and timings["small_pass"] == 0.0
    want_coords, want_rows = decode(hm, pf, DecoderParams())
    np.testing.assert_array_equal(rows, want_rows)
    assert coords == want_coords


def test_a_large_person_is_taken_from_the_second_maps_when_they_see_it_better():
    """Full-size maps with a large person's legs missing; second maps with all of them."""
    whole = make_person(30, 12, 40)
    legless = whole.copy()
    legless[[P.right_knee, P.right_ankle, P.left_knee, P.left_ankle]] = NAN
    full_hm, full_pf = maps_of([legless])
    second = maps_of([whole]) + ((1.0, 1.0),)
    timings = {}
    coords, rows = decode_passes(full_hm, full_pf, lambda flip: second, timings=timings)
    assert timings["small_pass"] == 1.0 and len(rows) == 1
    assert rows[0, NUM_PARTS + 1] == 18
    alone = decode(*second[:2], DecoderParams())[1]
    assert rows[0, NUM_PARTS] == pytest.approx(alone[0, NUM_PARTS] * ScaleParams().score_gain)
    # With completion each pass completes its own people: every slot filled once.
    coords, rows = decode_passes(full_hm, full_pf, lambda flip: second,
                                 DecoderParams(complete_people=True))
    assert (rows[:, :NUM_PARTS] >= 0).all()
    assert len({p[3] for peaks in coords.values() for p in peaks}) == sum(
        len(peaks) for peaks in coords.values())


def test_a_second_pass_that_cannot_run_leaves_the_full_size_people():
    hm, pf = maps_of([make_person(30, 12, 40)])
    timings = {}
    _, rows = decode_passes(hm, pf, lambda flip: None, timings=timings)
    np.testing.assert_array_equal(rows, decode(hm, pf, DecoderParams())[1])
    assert timings["small_pass"] == 0.0


def test_the_mirrored_half_size_pass_is_asked_for_exactly_from_flip_height():
    """The tallest full-size person's keypoint box against flip_height * map height (60)."""
    hm, pf = maps_of([make_person(30, 12, 40)])
    coords, rows = decode(hm, pf, DecoderParams())
    tallest = person_heights(row_points(coords, rows)).max()
    for flip_height, wanted in ((tallest / 60, True), (np.nextafter(tallest / 60, 1.0), False)):
        asked = []
        timings = {}
        decode_passes(hm, pf, lambda flip: asked.append(flip), timings=timings,
                      scale_params=ScaleParams(flip_height=float(flip_height)))
        assert asked == [wanted] and timings["small_flip"] == 0.0     # the pass gave nothing
        timings = {}
        decode_passes(hm, pf, lambda flip: maps_of([make_person(30, 12, 40)]) + ((1.0, 1.0),),
                      timings=timings, scale_params=ScaleParams(flip_height=float(flip_height)))
        assert timings["small_flip"] == float(wanted) and timings["small_pass"] == 1.0


def test_the_mirrored_pass_runs_where_only_fragments_were_found_however_small():
    """A 9-part person (trigger_parts 10: a fragment), far under flip_height: mirrored too;
    with trigger_parts 9 it is a person, too small for the half-size pass at all."""
    small = make_person(30, 12, 12)
    small[9:] = NAN                                                 # 9 parts left
    hm, pf = maps_of([small])
    rows = decode(hm, pf, DecoderParams())[1]
    assert len(rows) == 1 and rows[0, NUM_PARTS + 1] == 9
    for trigger_parts, asked in ((10, [True]), (9, [])):
        calls = []
        decode_passes(hm, pf, lambda flip: calls.append(flip),
                      scale_params=ScaleParams(trigger_parts=trigger_parts))
        assert calls == asked


def test_the_second_maps_are_decoded_at_their_own_peak_threshold():
    """A large person's nose peak sitting exactly on second_peak_threshold is not a peak
    (peaks must exceed it): the person taken from the second maps has no nose; just below
    the peak's value, it has. The full-size maps lack the legs, so the second maps' person
    is taken either way."""
    whole = make_person(30, 12, 40)
    legless = whole.copy()
    legless[[P.right_knee, P.right_ankle, P.left_knee, P.left_ankle]] = NAN
    full_hm, full_pf = maps_of([legless])
    second_hm, second_pf = maps_of([whole])
    nose = second_hm[..., P.nose]
    second_hm[..., P.nose] = nose * (0.5 / nose.max())      # the nose peak: exactly 0.5
    second = (second_hm, second_pf, (1.0, 1.0))
    for threshold, has_nose in ((0.5, False), (float(np.nextafter(np.float32(0.5), 0)), True)):
        _, rows = decode_passes(full_hm, full_pf, lambda flip: second,
                                scale_params=ScaleParams(second_peak_threshold=threshold))
        assert len(rows) == 1 and (rows[0, P.nose] >= 0) == has_nose
        assert rows[0, P.left_ankle] >= 0                           # from the second maps


# --- end to end on a real close-up -----------------------------------------------------------

BUS = ROOT / "images" / "bus.jpg"
WEIGHTS = ROOT / "model_weights" / "mobilenet_thin" / "graph_opt.pb"


@pytest.mark.skipif(not (BUS.is_file() and WEIGHTS.is_file()),
                    reason="images/bus.jpg or the mobilenet_thin weights missing (make setup)")
@pytest.mark.parametrize("runtime", ["tflite", "int8"])
def test_the_men_filling_a_close_up_get_their_hips_and_knees_in_place(runtime):
    """bus.jpg's two men cropped to a 480x640 portrait (x 0-435, y 360-940: the man in
    the fur coat fills ~93 % of its height). Read off the photo: the man in the black
    coat (right) has his hips at y 280-360 and his knees at y 380-470; the full-size
    pass alone puts a hip on his coat (y < 260). The scale-aware default finds both
    hips and knees in place, and each man once."""
    import cv2

    from posekit import PoseEstimator
    from posekit.networks.inference import load_network

    crop = cv2.resize(cv2.imread(str(BUS))[360:940, 0:435], (480, 640),
                      interpolation=cv2.INTER_AREA)
    network = load_network(runtime=runtime)
    ok = {}
    for aware in (False, True):
        people = PoseEstimator(network, scale_aware=aware)(crop).keypoints
        men = [k for k in people if k[P.nose, 2] > 0]
        right = [k for k in men if k[P.nose, 0] > 250]
        assert len(right) == 1 and len(men) - len(right) == 1
        him = right[0]
        hips, knees = him[[P.right_hip, P.left_hip]], him[[P.right_knee, P.left_knee]]
        ok[aware] = bool((hips[:, 2] > 0).all() and (280 <= hips[:, 1]).all()
                         and (hips[:, 1] <= 360).all() and (knees[:, 2] > 0).all()
                         and (380 <= knees[:, 1]).all() and (knees[:, 1] <= 470).all())
    assert ok == {False: False, True: True}


# --- the second pass's maps (posekit.networks.accurate.small_pass_maps) ------------------------

def constant_network(calls):
    """A stand-in network whose maps are 1 on a full-size input (96 px high), 3 otherwise."""
    from posekit.networks.inference import PoseNetwork

    def backend(batch):
        calls.append(batch.shape)
        _, hp, wp, _ = batch.shape
        value = 1.0 if hp == 96 else 3.0
        return (np.full((1, hp // 8, wp // 8, 19), value, np.float32),
                np.full((1, hp // 8, wp // 8, 38), value, np.float32))

    return PoseNetwork("constant", backend)


def test_the_second_maps_average_the_half_size_pass_with_the_full_size_maps():
    from posekit.networks.accurate import small_pass_maps

    calls = []
    image = np.zeros((96, 128, 3), np.uint8)
    full_hm, full_pf = np.ones((12, 16, 19), np.float32), np.ones((12, 16, 38), np.float32)
    hm, pf, factors = small_pass_maps(constant_network(calls), image, full_hm, full_pf)
    assert len(calls) == 1 and calls[0][1] < 96 and factors == (1.0, 1.0)   # 64x48, padded
    assert hm.shape == (12, 16, 19) and pf.shape == (12, 16, 38)
    np.testing.assert_allclose(hm, 2.0)
    np.testing.assert_allclose(pf, 2.0)


def test_the_mirrored_half_size_pass_is_averaged_in_with_equal_weights():
    """Full-size maps 1, the half-size and its mirrored pass 3 (PAF x components of the
    mirrored pass negated back: -3): (1 + 3 + 3) / 3 on heatmaps and PAF y, (1 + 3 - 3) / 3
    on PAF x."""
    from posekit.networks.accurate import small_pass_maps

    calls = []
    image = np.zeros((96, 128, 3), np.uint8)
    full_hm, full_pf = np.ones((12, 16, 19), np.float32), np.ones((12, 16, 38), np.float32)
    hm, pf, _ = small_pass_maps(constant_network(calls), image, full_hm, full_pf, flip=True)
    assert len(calls) == 2 and all(c[1] < 96 for c in calls)
    np.testing.assert_allclose(hm, 7 / 3, rtol=1e-6)
    np.testing.assert_allclose(pf[..., 1::2], 7 / 3, rtol=1e-6)          # y components
    np.testing.assert_allclose(pf[..., 0::2], 1 / 3, rtol=1e-6)          # x components


@pytest.mark.parametrize("kwargs, message", [
    ({"scale": 1.0}, "scale must be"), ({"scale": True}, "scale must be"),
    ({"flip": 1}, "flip must be a bool"),
    ({"heatmaps": np.ones((6, 8, 19), np.float32)}, "heatmaps of shape")])
def test_bad_second_pass_arguments_are_value_errors(kwargs, message):
    from posekit.networks.accurate import small_pass_maps

    args = {"heatmaps": np.ones((12, 16, 19), np.float32),
            "pafs": np.ones((12, 16, 38), np.float32), **kwargs}
    with pytest.raises(ValueError, match=message):
        small_pass_maps(constant_network([]), np.zeros((96, 128, 3), np.uint8), **args)


def test_a_network_that_already_averages_scales_gets_no_second_pass():
    """--accurate (accurate_network) stays as measured: the half-size pass is for one
    full-size pass only, and for the best decoder only."""
    from posekit import PoseEstimator
    from posekit.networks.inference import accurate_network, load_network

    network = load_network(runtime="tflite")
    assert PoseEstimator(network).scale_aware
    assert not PoseEstimator(accurate_network(network)).scale_aware
    assert not PoseEstimator(network, decoder="lab").scale_aware
    assert not PoseEstimator(network, scale_aware=False).scale_aware
