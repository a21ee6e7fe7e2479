"""Tests of posekit.pipeline: the library API (PoseEstimator, PoseResult, load_pose_network)."""

from __future__ import annotations

import numpy as np
import pytest

from estimation.config import NUM_PARTS
from posekit.decode.decoder import DecoderParams
from estimation.lab_decoders import LabParams
from posekit.decode.registry import DECODERS
from posekit.networks.inference import PoseNetwork
from posekit import PoseEstimator, PoseResult, load_pose_network
from posekit.pipeline import PoseEstimator as CoreEstimator
from posekit.pipeline import THRESHOLDS, decoder_defaults, make_decoder

from conftest import ROOT

WEIGHTS = ROOT / "model_weights" / "mobilenet_thin" / "graph_opt.pb"


def zero_network(calls=None) -> PoseNetwork:
    """A stand-in network whose maps are all zero (no people), counting its calls."""

    def backend(batch):
        if calls is not None:
            calls.append(batch.shape)
        _, hp, wp, _ = batch.shape
        return (np.zeros((1, hp // 8, wp // 8, 19), np.float32),
                np.zeros((1, hp // 8, wp // 8, 38), np.float32))

    return PoseNetwork("zero", backend)


def test_result_of_an_empty_scene_has_every_field():
    calls = []
    result = PoseEstimator(zero_network(calls), max_side=64)(np.zeros((96, 128, 3), np.uint8))
    assert isinstance(result, PoseResult)
    assert result.network_image.shape == (48, 64, 3) and result.scale == 2.0
    assert result.keypoints.shape == (0, NUM_PARTS, 3) and result.scores.shape == (0,)
    assert set(result.timings) == {"network", "peaks", "connections", "grouping"}
    assert result.coco(3) == [] and result.openpose()["people"] == []
    assert len(calls) == 1     # nobody found: no second, half-size pass (posekit.decode.scales)


@pytest.mark.parametrize("image, fragment", [
    (np.zeros((40, 40), np.uint8), "(40, 40)"),
    (np.zeros((40, 40, 3), np.float32), "float32"),
    ([[0, 0, 0]], "list"),
])
@pytest.mark.parametrize("kind, argument", [(CoreEstimator, r"image must be"),
                                            (PoseEstimator, r"source(\[0\])? must be")])
def test_a_bad_image_is_a_value_error(image, fragment, kind, argument):
    """The core names its argument ``image``; posekit.PoseEstimator (posekit.estimator) ``source``."""
    estimator = kind(zero_network())
    with pytest.raises(ValueError, match=argument) as info:
        estimator(image)
    assert fragment in str(info.value)


@pytest.mark.parametrize("kwargs, name", [
    ({"decoder": "nope"}, "decoder"), ({"decoder": None}, "decoder"),
    ({"max_side": -1}, "max_side"), ({"max_side": 1.5}, "max_side"),
    ({"max_side": True}, "max_side"), ({"max_side": "640"}, "max_side"),
    ({"max_side": 0}, "max_side"), ({"max_side": 16}, "max_side"),
    ({"max_side": np.float64(640)}, "max_side"), ({"max_side": np.bool_(True)}, "max_side"),
    ({"network": "abc"}, "network"), ({"network": 42}, "network"),
    ({"network": zero_network}, "network"),
    ({"thresholds": ["peak_threshold"]}, "thresholds"), ({"thresholds": "x=1"}, "thresholds"),
    ({"thresholds": {"peak_threshold": "high"}}, "peak_threshold"),
    ({"config": "coco"}, "config"),
])
def test_bad_settings_are_value_errors_naming_the_argument(kwargs, name):
    """At construction, never at the first call (PoseEstimator(network="abc") was a
    TypeError on the first image, thresholds=[...] an AttributeError)."""
    kwargs = {"network": zero_network(), **kwargs}
    with pytest.raises(ValueError, match=name):
        PoseEstimator(**kwargs)


@pytest.mark.parametrize("value", [np.int64(640), np.int32(64), np.uint16(100), 32, 10 ** 6])
def test_numpy_integers_are_a_max_side(value):
    """np.int64(640) (from a numpy computation or a config array) was refused."""
    estimator = PoseEstimator(zero_network(), max_side=value)
    assert estimator.max_side == int(value) and type(estimator.max_side) is int
    result = estimator(np.zeros((1000, 2000, 3), np.uint8))
    assert result.scale == pytest.approx(2000 / min(int(value), 2000), rel=0.02)


@pytest.mark.parametrize("value, accepted", [
    (None, True), (32, True), (640, True), (np.int64(640), True), (31, False), (0, False),
    (-5, False), (640.0, False), (True, False), ("640", False)])
def test_one_max_side_rule_for_the_library_and_the_commands(value, accepted):
    """PoseEstimator, imageio.fit_max_side and the commands' --max-side all go through
    imageio.check_max_side: None is the library's one "off"; the commands' 0 becomes None."""
    import argparse

    from posekit.io import images as imageio

    from posekit.apps import common as options

    image = np.zeros((40, 4000, 3), np.uint8)
    if accepted:
        assert PoseEstimator(zero_network(), max_side=value).max_side == value
        assert imageio.fit_max_side(image, value)[0].shape[1] == (4000 if value is None
                                                                  else int(value))
    else:
        for call in (lambda: PoseEstimator(zero_network(), max_side=value),
                     lambda: imageio.fit_max_side(image, value)):
            with pytest.raises(ValueError, match="max_side must be None .* >= 32"):
                call()
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if value == 0:
            assert options.max_side("0") is None               # --max-side 0: never
        elif accepted:
            assert options.max_side(str(value)) == value
        else:
            with pytest.raises(argparse.ArgumentTypeError, match="0 .* or >= 32"):
                options.max_side(str(value))


def test_decoder_defaults_come_from_the_decoders():
    params, lab = DecoderParams(), LabParams()
    assert decoder_defaults("best") == {"peak_threshold": params.peak_threshold,
                                        "paf_threshold": params.min_paf_score,
                                        "min_parts": params.min_parts,
                                        "min_score": params.min_mean_score}
    assert decoder_defaults("lab") == {"peak_threshold": 0.1, "paf_threshold": 0.05,
                                       "min_parts": 4, "min_score": 0.4}     # the lab's
    assert lab.min_num_body_parts == 4 and decoder_defaults("handout") == decoder_defaults("lab")
    for name in DECODERS:
        assert callable(make_decoder(name))


def test_missing_weights_are_a_value_error_naming_the_file(tmp_path):
    with pytest.raises(ValueError, match="not found at .*missing.pb"):
        load_pose_network("mobilenet_thin", str(tmp_path / "missing.pb"))
    for weights in (123, ["a.pb"]):                       # a TypeError from pathlib before
        with pytest.raises(ValueError, match="weights must be a path"):
            load_pose_network("mobilenet_thin", weights)


@pytest.mark.skipif(not WEIGHTS.is_file(), reason="weights not fetched (make setup)")
def test_default_network_is_loaded_lazily_on_the_first_call(small_bus):
    estimator = PoseEstimator()
    assert estimator.network is None
    people = estimator(small_bus)
    network = estimator.network
    assert network is not None and len(people.keypoints) >= 1
    estimator(small_bus)
    assert estimator.network is network                       # loaded once


def test_an_unknown_threshold_key_is_a_value_error_naming_it():
    with pytest.raises(ValueError) as info:
        PoseEstimator(zero_network(), thresholds={"bogus": 1})
    assert "'bogus'" in str(info.value)
    assert all(t.dest in str(info.value) for t in THRESHOLDS)
    with pytest.raises(ValueError, match="peak_thresold"):
        make_decoder("lab", {"peak_thresold": 0.2})
    make_decoder("lab", {"peak_threshold": 0.2, "min_parts": None})     # known keys are fine


def test_an_image_shrunk_below_8_pixels_says_what_happened():
    estimator = PoseEstimator(zero_network(), max_side=640)
    with pytest.raises(ValueError) as info:
        estimator(np.zeros((4, 1000, 3), np.uint8))       # 1000 -> 640 wide, 4 -> 3 tall
    message = str(info.value)
    assert "max_side 640 shrinks this 1000x4 image to 640x3" in message and "8x8" in message
    assert "pass None (never shrink)" in message
    assert PoseEstimator(zero_network(), max_side=None)(np.zeros((8, 1000, 3), np.uint8))


def test_one_estimator_called_from_threads_runs_one_network_call_at_a_time():
    import threading
    import time

    inside, most = [0], [0]
    guard = threading.Lock()

    def backend(batch):
        with guard:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        time.sleep(0.002)                       # long enough for threads to overlap
        with guard:
            inside[0] -= 1
        _, hp, wp, _ = batch.shape
        return (np.zeros((1, hp // 8, wp // 8, 19), np.float32),
                np.zeros((1, hp // 8, wp // 8, 38), np.float32))

    estimator = PoseEstimator(PoseNetwork("counting", backend), max_side=64)
    errors = []

    def work():
        try:
            for _ in range(20):
                assert estimator(np.zeros((96, 128, 3), np.uint8)).keypoints.shape[0] == 0
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and most[0] == 1
