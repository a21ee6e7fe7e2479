"""End to end: the default network (mobilenet_thin) and the best decoder on the sample photos.

The expectations come from looking at the photos, not from the decoder's
output. Each visible person has a generous hand-drawn box (pixels of the
original image, ``x0, y0, x1, y1``) and the number of keypoints the photo
clearly shows of them:

* ``bus.jpg`` (810 x 1080): two men seen whole (the one in a cream fur coat,
  the one in a black coat), a walker cut by the right edge (legs, an arm and
  part of the head visible) and a person cut by the left edge (a patterned
  sleeve, a hand and a leg; finding them is optional).
* ``zidane.jpg`` (1280 x 720): two men seen from the waist up. Zidane's box
  covers his head and torso but not the arm he points across Ancelotti, so
  the boxes do not overlap.

A detection "lies on" a person when at least 75 % of its keypoints are in the
box. At 640 px Zidane, bent forward, gets two neck peaks from the network
and comes out of greedy assembly in two fragments (face and left arm; torso),
which ``posekit.decode.fragments`` joins; a face-like blob in the blurred crowd
(heuristic score 1.14) falls under ``DecoderParams.min_person_score``. Detections come from the demo's estimator with
its defaults (the image downscaled to a longer side of 640 px).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from estimation.config import NUM_PARTS

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "model_weights" / "mobilenet_thin" / "graph_opt.pb"
IMAGES = ROOT / "images"

pytestmark = pytest.mark.skipif(
    not (WEIGHTS.is_file() and (IMAGES / "bus.jpg").is_file()
         and (IMAGES / "zidane.jpg").is_file()),
    reason="mobilenet_thin weights or sample images missing: run `make setup` "
           "(`make test` fetches them)")

#: Share of a detection's keypoints that must lie in a box for it to be that person.
INSIDE = 0.75


@dataclass(frozen=True)
class Person:
    """A person visible in a photo."""

    box: tuple            # x0, y0, x1, y1 in original pixels, generous
    min_keypoints: int    # keypoints the photo clearly shows
    required: bool = True


PEOPLE = {
    "bus.jpg": {
        "man in the fur coat": Person((30, 380, 260, 920), 12),
        "man in the black coat": Person((205, 385, 360, 880), 12),
        "walker at the right edge": Person((650, 380, 820, 900), 3),
        "person at the left edge": Person((-20, 540, 95, 890), 2, required=False),
    },
    "zidane.jpg": {
        "Zidane": Person((110, 180, 730, 730), 6),
        "Ancelotti": Person((740, 30, 1160, 730), 6),
    },
}


@pytest.fixture(scope="module", params=["tflite", "int8"])
def network(request):
    """Both runtimes ``auto`` may pick: each must find the people of the photos."""
    from posekit.networks.inference import load_network

    return load_network(runtime=request.param)


def found_keypoints(estimator, name: str) -> list:
    """The found keypoints (n, 2) of every person ``estimator`` detects on photo ``name``."""
    import cv2

    result = estimator(cv2.imread(str(IMAGES / name)))
    return [person[person[:, 2] > 0, :2] for person in result.keypoints]


def grouping_only(estimator):
    """``estimator`` with the best decoder's completion off (the guesses of
    posekit.decode.completion would count as keypoints the photo shows)."""
    from posekit.decode.decoder import DecoderParams, decode

    params = DecoderParams(complete_people=False)
    estimator.decode = lambda hm, pf, timings: decode(hm, pf, params, timings=timings)
    estimator.params = params          # what the scale-aware path decodes with
    return estimator


@pytest.fixture(scope="module")
def detections(network):
    """Per photo: the found keypoints (n, 2) of every detected person, in original
    pixels, through the demo's estimator with its defaults (best decoder; the
    completion of people off, as by default: ``test_completion_only_adds_keypoints``
    checks it on)."""
    from posekit import PoseEstimator

    estimator = grouping_only(PoseEstimator(network, "best"))
    return {name: found_keypoints(estimator, name) for name in PEOPLE}


@pytest.mark.parametrize("photo", list(PEOPLE))
def test_completion_only_adds_keypoints(network, detections, photo):
    """Completion (the evaluation command's default) gives the same people, each
    with all 18 keypoints, the found ones unchanged; every person still lies on someone."""
    from posekit.decode.decoder import DecoderParams, decode
    from posekit import PoseEstimator

    estimator = PoseEstimator(network, "best")
    params = DecoderParams(complete_people=True)
    estimator.decode = lambda hm, pf, timings: decode(hm, pf, params, timings=timings)
    estimator.params = params
    completed = found_keypoints(estimator, photo)
    assert len(completed) == len(detections[photo])
    for full, found in zip(completed, detections[photo]):
        assert len(full) == NUM_PARTS
        assert {tuple(p) for p in found.tolist()} <= {tuple(p) for p in full.tolist()}
        assert max(inside(full, p.box) for p in PEOPLE[photo].values()) >= INSIDE


def inside(points: np.ndarray, box: tuple) -> float:
    """Share of ``points`` inside ``box``."""
    x0, y0, x1, y1 = box
    ok = (points[:, 0] >= x0) & (points[:, 0] <= x1) & (points[:, 1] >= y0) & (points[:, 1] <= y1)
    return float(ok.mean()) if len(points) else 0.0


def assignment(people: dict, found: list) -> dict:
    """The largest matching of required people to distinct detections lying on them
    with at least their ``min_keypoints``; ``{person: detection index}``."""
    names = [n for n, p in people.items() if p.required]
    candidates = {n: {k for k, pts in enumerate(found)
                      if inside(pts, people[n].box) >= INSIDE
                      and len(pts) >= people[n].min_keypoints} for n in names}
    best: dict = {}
    for order in itertools.permutations(range(len(found)), min(len(names), len(found))):
        match = {n: k for n, k in zip(names, order) if k in candidates[n]}
        if len(match) > len(best):
            best = match
    return best


def test_the_photos_are_the_expected_ones():
    import cv2

    assert cv2.imread(str(IMAGES / "bus.jpg")).shape == (1080, 810, 3)
    assert cv2.imread(str(IMAGES / "zidane.jpg")).shape == (720, 1280, 3)


@pytest.mark.parametrize("photo", list(PEOPLE))
def test_every_detection_lies_on_a_visible_person(detections, photo):
    for k, points in enumerate(detections[photo]):
        share = max(inside(points, p.box) for p in PEOPLE[photo].values())
        assert share >= INSIDE, (f"detection {k} ({len(points)} keypoints, x "
                                 f"{points[:, 0].min():.0f}-{points[:, 0].max():.0f}, y "
                                 f"{points[:, 1].min():.0f}-{points[:, 1].max():.0f}) is on "
                                 "nobody")


@pytest.mark.parametrize("photo", list(PEOPLE))
def test_each_visible_person_is_found_by_a_different_detection(detections, photo):
    people = PEOPLE[photo]
    match = assignment(people, detections[photo])
    missing = [n for n, p in people.items() if p.required and n not in match]
    assert not missing, f"not found with enough keypoints: {missing}"


@pytest.mark.parametrize("photo", list(PEOPLE))
def test_number_of_people(detections, photo):
    people = PEOPLE[photo].values()
    low = sum(p.required for p in people)
    assert low <= len(detections[photo]) <= len(people), \
        f"{len(detections[photo])} people: {[len(p) for p in detections[photo]]} keypoints"


def test_one_detection_per_person_at_most_for_whole_people(detections):
    """The two men seen whole on bus.jpg are each one detection (with most keypoints)."""
    people = PEOPLE["bus.jpg"]
    for name in ("man in the fur coat", "man in the black coat"):
        big = [pts for pts in detections["bus.jpg"]
               if len(pts) >= people[name].min_keypoints
               and inside(pts, people[name].box) >= INSIDE]
        assert len(big) == 1, name


def test_downscaled_run_reports_original_pixels(network):
    """Through the demo's estimator with --max-side 540: keypoints come back in the
    original photo's pixels, on the two men seen whole."""
    import cv2

    from posekit import PoseEstimator

    image = cv2.imread(str(IMAGES / "bus.jpg"))
    result = PoseEstimator(network, "best", max_side=540)(image)
    assert result.network_image.shape == (540, 405, 3) and result.scale == 2.0
    assert result.keypoints.shape == (len(result.skeletons), NUM_PARTS, 3)
    found = [p[p[:, 2] > 0, :2] for p in result.keypoints]
    people = {n: p for n, p in PEOPLE["bus.jpg"].items() if p.min_keypoints >= 12}
    assert len(assignment(people, found)) == 2


def test_zidane_is_one_detection_with_his_face_and_torso(detections):
    """Zidane's two fragments at 640 px (his face with the left arm, his torso
    with the right arm) come out as one person."""
    zidane = PEOPLE["zidane.jpg"]["Zidane"]
    on_him = [pts for pts in detections["zidane.jpg"] if inside(pts, zidane.box) >= INSIDE]
    assert len(on_him) == 1 and len(on_him[0]) >= 10, [len(p) for p in on_him]
