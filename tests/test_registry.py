"""Tests of the decoder and network registries: a decoder and a network registered from
outside the packages run through PoseEstimator and the demo's command line by name."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest

from estimation.config import NUM_PARTS, ROW_WIDTH
from posekit.decode.registry import DECODERS, get_decoder, register_decoder
from posekit.networks.inference import load_network, runtimes
from posekit.networks.network import PoseNetwork
from posekit.networks.registry import NETWORKS, NetworkEntry, get_network, register_network
from posekit import PoseEstimator, load_pose_network
from posekit.apps import demo as cli

#: The bright pixel the toy network finds (x, y), in the 64x48 test image.
SPOT = (41, 22)


@dataclass(frozen=True)
class ArgmaxParams:
    """The toy decoder's one threshold."""

    level: float = 0.5


def argmax_decode(heatmaps, pafs, params, config=None, timings=None):
    """One person holding the nose at the strongest nose cell, when it exceeds ``level``."""
    nose = heatmaps[:, :, 0]
    y, x = np.unravel_index(int(np.argmax(nose)), nose.shape)
    coords = {"NOSE": [(float(x), float(y), float(nose[y, x]), 0)]}
    if nose[y, x] <= params.level:
        return coords, np.zeros((0, ROW_WIDTH))
    row = np.full(ROW_WIDTH, -1.0)
    row[0], row[NUM_PARTS], row[NUM_PARTS + 1] = 0, float(nose[y, x]), 1
    return coords, row[None]


def load_toy(weights, bucket, runtime, num_threads, verify_hash):
    """A network whose nose map is 1 at the cell of the image's brightest pixel."""
    check_toy_weights(weights, verify_hash)           # a loader checks its own weights

    def backend(batch):
        _, hp, wp, _ = batch.shape
        heat = np.zeros((1, hp // 8, wp // 8, 19), np.float32)
        y, x = np.unravel_index(int(np.argmax(batch[0].sum(-1))), batch.shape[1:3])
        heat[0, y // 8, x // 8, 0] = 1.0
        return heat, np.zeros((1, hp // 8, wp // 8, 38), np.float32)

    return PoseNetwork("toy", backend, bucket=bucket, runtime="numpy")


def check_toy_weights(weights, verify_hash):
    """The toy network takes no weights."""
    if weights is not None:
        raise ValueError(f"the toy network takes no weights, got {weights}")


@pytest.fixture
def plugins():
    """Register the toy decoder and network for one test, then remove them."""
    register_decoder("argmax", argmax_decode, ArgmaxParams, {"peak_threshold": "level"},
                     "the strongest nose cell")
    register_network(NetworkEntry("toy", load_toy, lambda: None, check_toy_weights,
                                  ("numpy",)))
    yield
    DECODERS.pop("argmax")
    NETWORKS.pop("toy")


def spot_image() -> np.ndarray:
    image = np.zeros((48, 64, 3), np.uint8)
    image[SPOT[1], SPOT[0]] = 255
    return image


def test_a_registered_decoder_and_network_run_through_the_library(plugins):
    estimator = PoseEstimator(load_pose_network("toy"), decoder="argmax")
    people = estimator(spot_image()).keypoints
    assert people.shape == (1, NUM_PARTS, 3)
    # The nose sits at the centre of the spot's 8x8 cell (40..47, 16..23).
    assert tuple(people[0, 0]) == (43.5, 19.5, 1.0)
    assert not people[0, 1:].any()
    # The common threshold reaches the decoder's own field.
    strict = PoseEstimator(load_pose_network("toy"), "argmax", {"peak_threshold": 1.0})
    assert len(strict(spot_image()).keypoints) == 0


def test_a_registered_decoder_and_network_run_through_the_cli(plugins, tmp_path):
    import cv2

    cv2.imwrite(str(tmp_path / "spot.png"), spot_image())
    status = cli.main([str(tmp_path / "spot.png"), "-o", str(tmp_path / "out.png"), "--model",
                       "toy", "--runtime", "numpy", "--decoder", "argmax", "--json",
                       str(tmp_path / "people.json"), "-q"])
    assert status == 0 and (tmp_path / "out.png").is_file()
    people = json.loads((tmp_path / "people.json").read_text())
    assert len(people) == 1 and people[0]["keypoints"][:3] == [43.5, 19.5, 1]
    status = cli.main([str(tmp_path / "spot.png"), "-o", str(tmp_path / "none.png"), "--model",
                       "toy", "--decoder", "argmax", "--peak-threshold", "1", "--json",
                       str(tmp_path / "none.json"), "-q"])
    assert status == 0 and json.loads((tmp_path / "none.json").read_text()) == []


def test_verbose_commands_log_the_runtime_chosen(plugins, tmp_path, capsys):
    import cv2

    cv2.imwrite(str(tmp_path / "spot.png"), spot_image())
    args = [str(tmp_path / "spot.png"), "-o", str(tmp_path / "out.png"), "--model", "toy",
            "--decoder", "argmax"]
    assert cli.main(args + ["-v"]) == 0
    assert "INFO posekit.networks.inference: toy runs on numpy" in capsys.readouterr().err
    assert cli.main(args) == 0
    assert "runs on" not in capsys.readouterr().err              # INFO only with -v


def test_the_registries_name_their_choices_and_refuse_bad_entries(plugins):
    assert "argmax" in DECODERS and "numpy" in runtimes()
    with pytest.raises(ValueError, match="unknown decoder 'nope'.*best, lab, handout, argmax"):
        get_decoder("nope")
    with pytest.raises(ValueError, match="unknown network 'nope'.*mobilenet_thin, vgg, toy"):
        get_network("nope")
    with pytest.raises(ValueError, match="already registered"):
        register_decoder("argmax", argmax_decode, ArgmaxParams, {})
    with pytest.raises(ValueError, match="frozen dataclass"):
        register_decoder("loose", argmax_decode, dict, {})
    with pytest.raises(ValueError, match="has no field 'lvl'"):
        register_decoder("typo", argmax_decode, ArgmaxParams, {"peak_threshold": "lvl"})
    with pytest.raises(ValueError, match="decoder 'argmax' has no 'min_parts'"):
        get_decoder("argmax").make_params({"min_parts": 3})
    assert get_decoder("argmax").make_params({"min_parts": None}) == ArgmaxParams()
    with pytest.raises(ValueError, match="the numpy runtime exists only for toy"):
        load_network("vgg", runtime="numpy")
    with pytest.raises(ValueError, match="thresholds must be a mapping"):
        get_decoder("argmax").make_params(["peak_threshold"])
    with pytest.raises(ValueError, match="unknown runtime 'gpu'"):
        load_network("toy", runtime="gpu")
    with pytest.raises(ValueError, match="takes no weights"):
        load_pose_network("toy", "w.bin")


@dataclass(frozen=True)
class NeedsAValue:
    """Parameters without defaults: ``NeedsAValue()`` fails."""

    level: float


@pytest.mark.parametrize("change, name", [
    ({"decode_fn": None}, "decode_fn"), ({"decode_fn": "argmax"}, "decode_fn"),
    ({"params": ArgmaxParams()}, "params"), ({"params": NeedsAValue}, "params"),
    ({"thresholds": ["peak_threshold"]}, "thresholds"), ({"thresholds": None}, "thresholds"),
    ({"thresholds": {"bogus": "level"}}, "thresholds"), ({"help": None}, "help"),
    ({"help": 3}, "help"), ({"replace": "yes"}, "replace"), ({"name": ""}, "name"),
    ({"name": 7}, "name"),
])
def test_a_bad_registration_is_a_value_error_naming_the_argument(change, name):
    """Nothing is registered: register_decoder(..., decode_fn=None) once went in, and then
    decoding by that name raised TypeError."""
    before = dict(DECODERS)
    args = dict(name="bad", decode_fn=argmax_decode, params=ArgmaxParams,
                thresholds={"peak_threshold": "level"}, help="a decoder")
    args.update(change)
    with pytest.raises(ValueError, match=name):
        register_decoder(**args)
    assert DECODERS == before
