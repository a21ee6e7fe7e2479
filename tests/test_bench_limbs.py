"""benchmarks/bench_limbs.py: the ground truth of a found limb (right, neighbour, far, unknown)."""

import numpy as np
import pytest

from benchmarks.bench_limbs import label_limbs, truth
from posekit.lab.config import BodyPart, get_default_configuration

CONFIG = get_default_configuration()
P = BodyPart
UPPER_ARM = next(k for k, limb in enumerate(CONFIG.connection_types)
                 if (limb.from_body_part, limb.to_body_part) == (P.right_shoulder, P.right_elbow))


def annotation(image_id, shoulder, elbow, area=10000.0, elbow_visible=2):
    """A COCO person with a right shoulder, a right elbow and a left shoulder."""
    kp = np.zeros((17, 3))
    kp[6] = (*shoulder, 2)                    # COCO right shoulder
    kp[8] = (*elbow, elbow_visible)           # COCO right elbow
    kp[5] = (shoulder[0] + 60, shoulder[1], 2)
    return {"image_id": image_id, "keypoints": kp.ravel().tolist(), "area": area,
            "num_keypoints": int((kp[:, 2] > 0).sum()), "iscrowd": 0}


def test_truth_maps_coco_keypoints_to_slots_with_the_neck_between_the_shoulders():
    gt = truth({"annotations": [annotation(7, (100, 100), (100, 160)),
                                {"image_id": 7, "keypoints": [0] * 51, "area": 1,
                                 "num_keypoints": 0, "iscrowd": 0}]})
    (xy, area), = gt[7]                       # the person without keypoints is left out
    assert area == 10000.0
    assert xy[P.right_shoulder].tolist() == [100, 100]
    assert xy[P.right_elbow].tolist() == [100, 160]
    assert xy[P.neck].tolist() == [130, 100]
    assert np.isnan(xy[P.nose]).all()


@pytest.mark.parametrize("elbow, expected", [
    ((100, 161), 0),          # both ends on the same annotated person
    ((300, 161), 1),          # the elbow is the neighbour's
    ((100, 230), 2),          # the elbow is far from its person's elbow
])
def test_a_found_upper_arm_is_labelled_against_the_annotated_people(elbow, expected):
    people = truth({"annotations": [annotation(1, (100, 100), (100, 160)),
                                    annotation(1, (300, 100), (300, 160))]})[1]
    found = np.full((1, 18, 2), np.nan)
    found[0, P.right_shoulder] = (101, 100)
    found[0, P.left_shoulder] = (160, 100)
    found[0, P.right_elbow] = elbow
    labels = label_limbs(found, people, CONFIG)
    assert labels[0, UPPER_ARM] == expected
    assert (labels[0] == -1).sum() == len(CONFIG.connection_types) - 1   # one limb found


def test_an_unannotated_end_or_image_is_unknown():
    people = truth({"annotations": [annotation(1, (100, 100), (100, 160), elbow_visible=0)]})[1]
    found = np.full((1, 18, 2), np.nan)
    found[0, P.right_shoulder] = (101, 100)
    found[0, P.right_elbow] = (100, 230)
    assert label_limbs(found, people, CONFIG)[0, UPPER_ARM] == 3
    assert label_limbs(found, [], CONFIG)[0, UPPER_ARM] == 3
    assert label_limbs(np.zeros((0, 18, 2)), people, CONFIG).shape == (0, 19)
