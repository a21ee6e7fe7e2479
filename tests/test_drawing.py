"""Tests of the drawing (posekit.io.drawing): skeleton, box and label per person, the
options (line width, labels, kpt_conf), one path for images and video frames, the CLI flags,
and keypoints_coco17."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from estimation.config import NUM_PARTS, BodyPart, get_default_configuration
from estimation.renderers import draw
from posekit import Person, PoseResult
from posekit.apps import demo as cli
from posekit.apps.demo_run import Run
from posekit.io.drawing import BOX_COLORS
from posekit.networks.network import PoseNetwork
from posekit.video.stream import draw_people

SIZE = 200
NECK, RSHO, RELB = int(BodyPart.neck), int(BodyPart.right_shoulder), int(BodyPart.right_elbow)


def one_person(elbow_score: float = 0.9) -> np.ndarray:
    """(1, 18, 3): neck (100, 60), right shoulder (80, 70), right elbow (70, 110)."""
    points = np.zeros((1, NUM_PARTS, 3))
    points[0, NECK] = 100, 60, 0.9
    points[0, RSHO] = 80, 70, 0.9
    points[0, RELB] = 70, 110, elbow_score
    return points


def result_of(points: np.ndarray, score: float = 0.5, track_id=None,
              image: np.ndarray = None) -> PoseResult:
    """A PoseResult of one person over a black image (no maps: drawing needs none)."""
    image = np.zeros((SIZE, SIZE, 3), np.uint8) if image is None else image
    people = tuple(Person.from_keypoints(p, score, track_id) for p in points)
    return PoseResult(people, image, "bgr", image, 1.0, np.zeros((25, 25, 19), np.float32),
                      np.zeros((25, 25, 38), np.float32), {}, np.zeros((0, NUM_PARTS + 2)))


def drawn_mask(image: np.ndarray) -> np.ndarray:
    return image.any(axis=2)


def test_plot_draws_a_box_around_the_keypoints():
    out = result_of(one_person()).plot()
    color = np.array(BOX_COLORS[0], np.uint8)
    box = (out == color).all(axis=2)
    # keypoints span x 70..100, y 60..110; the box is 4 pixels clear of them (joints: radius 3)
    x0, y0, x1, y1 = 66, 56, 104, 114
    assert box[85, x0] and box[85, x1] and box[y1, 85] and box[y0, 85]
    assert not box[85, x0 - 3] and not box[85, x1 + 3] and not box[y1 + 3, 85]
    assert not box[y0 + 3:y1 - 2, x0 + 3:x1 - 2].any()     # a frame, not a filled box
    assert not result_of(one_person()).plot(labels=False)[85, x0].any()


def test_no_limb_or_joint_under_kpt_conf():
    result = result_of(one_person(elbow_score=0.2))
    shown = result.plot(labels=False, kpt_conf=0.1)
    hidden = result.plot(labels=False, kpt_conf=0.3)
    assert shown[90, 75].any() and shown[110, 70].any()     # limb middle, elbow joint
    assert not hidden[88:93, 72:78].any() and not hidden[105:116, 65:76].any()
    assert hidden[65, 90].any()                             # neck - shoulder stays


def test_a_weak_keypoint_is_drawn_fainter():
    strong = result_of(one_person(0.9)).plot(labels=False)[110, 70].astype(int).sum()
    weak = result_of(one_person(0.1)).plot(labels=False)[110, 70].astype(int).sum()
    assert 0 < weak < strong / 2


def test_labels_on_and_off_change_the_label_area_only():
    result = result_of(one_person(), score=0.97, track_id=7)
    on, off = result.plot(), result.plot(labels=False)
    label_area = (slice(0, 56), slice(60, SIZE))            # above the box's top edge
    assert (on[label_area] != off[label_area]).any(axis=2).sum() > 50
    assert not off[label_area].any()
    other_score = result_of(one_person(), score=0.54, track_id=7).plot()
    untracked = result_of(one_person(), score=0.97).plot()
    assert (other_score[label_area] != on[label_area]).any()   # the score is written
    assert (untracked[label_area] != on[label_area]).any()     # so is the track id


def test_line_width_changes_the_drawn_area():
    result = result_of(one_person())
    thin = drawn_mask(result.plot(line_width=1)).sum()
    thick = drawn_mask(result.plot(line_width=6)).sum()
    assert thick > 2 * thin > 0


@pytest.mark.parametrize("option, value", [("line_width", 0), ("line_width", 2.5),
                                           ("line_width", True), ("kpt_conf", -0.1),
                                           ("kpt_conf", float("nan")), ("kpt_conf", "0.3"),
                                           ("labels", "no")])
def test_bad_drawing_options_are_value_errors_naming_them(option, value):
    with pytest.raises(ValueError, match=option):
        result_of(one_person()).plot(**{option: value})


def test_bad_keypoints_are_value_errors_and_far_ones_are_clipped():
    image = np.zeros((SIZE, SIZE, 3), np.uint8)
    points = one_person()
    points[0, RELB, 0] = np.nan
    with pytest.raises(ValueError, match="keypoints"):
        draw_people(get_default_configuration(), image, points)
    with pytest.raises(ValueError, match="keypoints"):
        draw_people(get_default_configuration(), image, points[:, :17])
    with pytest.raises(ValueError, match="scores"):
        draw_people(get_default_configuration(), image, one_person(), scores=[1.0, 2.0])
    points[0, RELB, 0] = 1e15                               # off the image: a limb to the edge
    assert draw_people(get_default_configuration(), image, points, labels=False)[70, 190].any()


def test_video_frames_use_the_same_drawing_with_ids():
    image = np.zeros((SIZE, SIZE, 3), np.uint8)
    points = one_person()
    result = result_of(points, score=0.5, track_id=3)
    frame = draw_people(get_default_configuration(), image, points, np.array([3]),
                        np.array([0.5]))
    assert np.array_equal(frame, result.plot())
    assert np.array_equal(draw_people(get_default_configuration(), image, points, labels=False),
                          result.plot(labels=False))


def test_confident_keypoints_look_as_the_lab_drawing(small_bus):
    """Without labels, keypoints scored >= 0.5 are drawn as estimation.renderers.draw draws."""
    points = one_person()
    coords, skeleton = {}, np.full((1, NUM_PARTS + 2), -1.0)
    for slot in np.flatnonzero(points[0, :, 2] > 0):
        coords.setdefault(str(slot), []).append((*points[0, slot], int(slot)))
        skeleton[0, slot] = slot
    image = cv2.resize(small_bus, (SIZE, SIZE))
    lab = draw(get_default_configuration(), image, coords, skeleton, resize_fac=1)
    ours = result_of(points, image=image).plot(labels=False)
    assert np.abs(lab.astype(int) - ours).max() <= 1


def test_keypoints_coco17_in_coco_order_pinned_by_hand():
    points = np.zeros((2, NUM_PARTS, 3))
    points[:, :, 0] = np.arange(NUM_PARTS)                  # x = our slot
    points[:, :, 1] = 100 + np.arange(NUM_PARTS)
    points[:, :, 2] = 0.5
    points[1, 1:] = 0                                       # second person: the nose only
    coco = result_of(points).keypoints_coco17()
    assert coco.shape == (2, 17, 3)
    # nose, l/r eye, l/r ear, l/r shoulder, l/r elbow, l/r wrist, l/r hip, l/r knee, l/r ankle
    assert coco[0, :, 0].tolist() == [0, 15, 14, 17, 16, 5, 2, 6, 3, 7, 4, 11, 8, 12, 9, 13, 10]
    assert coco[0, :, 1].tolist() == [100 + s for s in coco[0, :, 0].tolist()]
    assert coco[1].tolist() == [[0, 100, 0.5]] + [[0, 0, 0]] * 16
    assert result_of(points[:0]).keypoints_coco17().shape == (0, 17, 3)


@pytest.mark.parametrize("flag, value", [("--line-width", "0"), ("--line-width", "2.5"),
                                         ("--kpt-conf", "-1"), ("--kpt-conf", "nan"),
                                         ("--kpt-conf", "x")])
def test_bad_drawing_flags_are_one_line_errors(capsys, flag, value):
    with pytest.raises(SystemExit) as exit_:
        cli.build_parser().parse_args(["in.jpg", flag, value])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert flag in err and ("must be" in err or "expected a number" in err)
    assert len(err.strip().splitlines()) == 1


def test_drawing_flags_parse():
    args = cli.build_parser().parse_args(["in.jpg", "--line-width", "3", "--no-labels",
                                          "--kpt-conf", "0.4"])
    assert (args.line_width, args.labels, args.kpt_conf) == (3, False, 0.4)
    args = cli.build_parser().parse_args(["in.jpg"])
    assert (args.line_width, args.labels, args.kpt_conf) == (None, True, 0.0)


def test_drawing_flags_reach_the_drawn_image(tmp_path, monkeypatch):
    """--line-width, --no-labels and --kpt-conf change the written image as plot() does."""
    image = np.zeros((SIZE, SIZE, 3), np.uint8)
    cv2.imwrite(str(tmp_path / "in.png"), image)
    result = result_of(one_person(elbow_score=0.2), score=0.5)
    monkeypatch.setattr(cli, "load_pose_network",
                        lambda *a, **k: PoseNetwork("fake", lambda batch: None))
    monkeypatch.setattr(Run, "estimate", lambda self, image, name: result)

    def written(*flags):
        out = tmp_path / f"out{len(list(tmp_path.glob('out*')))}.png"
        assert cli.main([str(tmp_path / "in.png"), "-o", str(out), "-q", *flags]) == 0
        return cv2.imread(str(out))

    assert np.array_equal(written(), result.plot())
    for flags, kwargs in [(["--no-labels"], {"labels": False}),
                          (["--line-width", "5"], {"line_width": 5}),
                          (["--kpt-conf", "0.3"], {"kpt_conf": 0.3})]:
        got = written(*flags)
        assert np.array_equal(got, result.plot(**kwargs)) and not np.array_equal(got, written())
