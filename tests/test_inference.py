"""Tests for posekit/networks/inference.py and posekit/networks/mobilenet_thin.py.

Tests that run the real ``mobilenet_thin`` graph are skipped when TensorFlow
is missing or the weights / sample image have not been fetched
(``make setup``). Input validation and lazy-import tests always run.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from posekit.networks.inference import (
    NUM_HEATMAPS,
    NUM_PAFS,
    PoseNetwork,
    infer,
    output_size,
    padded_size,
    validate_image,
)

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "model_weights" / "mobilenet_thin" / "graph_opt.pb"
BUS = ROOT / "images" / "bus.jpg"

HAS_TF = importlib.util.find_spec("tensorflow") is not None
needs_tf = pytest.mark.skipif(not HAS_TF, reason="TensorFlow not installed")
needs_weights = pytest.mark.skipif(
    not (HAS_TF and WEIGHTS.is_file() and BUS.is_file()),
    reason="TensorFlow, mobilenet_thin weights or images/bus.jpg missing (run `make setup`)",
)

#: Max |difference| allowed between padded and unpadded maps at least
#: INTERIOR_MARGIN cells from the padded edges (measured: <= 0.002).
INTERIOR_TOLERANCE = 0.01
INTERIOR_MARGIN = 16


@pytest.fixture(scope="module")
def network() -> PoseNetwork:
    from posekit.networks.inference import load_network

    return load_network("mobilenet_thin", runtime="tflite")  # the same on every CPU


@pytest.fixture(scope="module")
def bus() -> np.ndarray:
    import cv2

    image = cv2.imread(str(BUS))
    assert image is not None and image.shape == (1080, 810, 3)
    return image


def test_importing_packages_does_not_import_tensorflow() -> None:
    code = (
        "import sys, models, estimation, posekit.networks.inference, posekit.networks.mobilenet_thin; "
        "sys.exit(1 if 'tensorflow' in sys.modules else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_size_rules() -> None:
    assert output_size(1080, 810) == (135, 102)
    assert output_size(9, 15) == (2, 2)
    assert padded_size(1080, 810) == (1088, 832)
    assert padded_size(1080, 810, bucket=8) == (1080, 816)
    assert padded_size(64, 65, bucket=64) == (64, 128)
    with pytest.raises(ValueError, match="multiple of 8"):
        padded_size(100, 100, bucket=12)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((64, 64), np.uint8),
        np.zeros((64, 64, 4), np.uint8),
        np.zeros((64, 64, 1), np.uint8),
        np.zeros((64, 64, 3), np.float32),
        np.zeros((7, 64, 3), np.uint8),
        np.zeros((64, 7, 3), np.uint8),
        np.zeros((1, 64, 64, 3), np.uint8),
        [[0, 0, 0]],
    ],
)
def test_bad_input_raises_value_error(bad: Any) -> None:
    with pytest.raises(ValueError, match="image must"):
        validate_image(bad)
    backend_calls = []
    net = PoseNetwork("stub", lambda x: backend_calls.append(x))  # never reached
    with pytest.raises(ValueError, match="image must"):
        infer(net, bad)
    assert backend_calls == []


def test_unsupported_network_raises_type_error() -> None:
    with pytest.raises(TypeError, match="pose network"):
        infer(object(), np.zeros((16, 16, 3), np.uint8))


@needs_weights
@pytest.mark.parametrize("size", [(1080, 810), (333, 250), (200, 120), (9, 15)])
def test_output_shapes(network: PoseNetwork, bus: np.ndarray, size: tuple[int, int]) -> None:
    height, width = size
    heatmaps, pafs = infer(network, bus[:height, :width])
    h, w = -(-height // 8), -(-width // 8)
    assert heatmaps.shape == (h, w, NUM_HEATMAPS) and heatmaps.dtype == np.float32
    assert pafs.shape == (h, w, NUM_PAFS) and pafs.dtype == np.float32


@needs_weights
def test_bus_maps_are_plausible(network: PoseNetwork, bus: np.ndarray) -> None:
    heatmaps, pafs = infer(network, bus)
    # People are present: strong part peaks; background channel (18) low on them.
    assert heatmaps[..., :18].max() > 0.5
    assert heatmaps[..., 18].min() < 0.2
    assert np.abs(pafs).max() > 0.5


@needs_weights
def test_padding_matches_unpadded_interior(network: PoseNetwork, bus: np.ndarray) -> None:
    image = np.ascontiguousarray(bus[:600, :456])  # multiple of 8, not of the 32-px bucket
    assert padded_size(600, 456, network.bucket) != (600, 456)
    heatmaps, pafs = infer(network, image)
    reference = network.model(image[None].astype(np.float32))[0]  # unpadded run
    assert reference.shape == (75, 57, NUM_HEATMAPS + NUM_PAFS)
    padded = np.concatenate([heatmaps, pafs], axis=-1)
    assert padded.shape == reference.shape
    diff = np.abs(padded - reference)
    interior = diff[: 75 - INTERIOR_MARGIN, : 57 - INTERIOR_MARGIN]
    assert interior.max() < INTERIOR_TOLERANCE
    assert diff.mean() < 0.005


@needs_weights
def test_same_bucket_reuses_input_shape(bus: np.ndarray) -> None:
    from posekit.networks.inference import load_network

    net = load_network("mobilenet_thin", bucket=32)
    infer(net, bus[:200, :150])
    infer(net, bus[:193, :129])  # same 32-px bucket: (224, 160)
    assert net.input_shapes == {(224, 160)}
    assert net.calls_per_shape == {(224, 160): 2}
    infer(net, bus[:230, :150])  # next bucket down the rows
    assert net.input_shapes == {(224, 160), (256, 160)}
    assert net.model.calls == 3


@needs_weights
def test_infer_accepts_bare_mobilenet(network: PoseNetwork, bus: np.ndarray) -> None:
    image = bus[:128, :96]
    expected = infer(network, image)
    got = infer(network.model, image)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])


@needs_tf
def test_missing_weights_raise_file_not_found(tmp_path: Path) -> None:
    from posekit.networks.inference import load_network

    missing = tmp_path / "graph_opt.pb"
    with pytest.raises(FileNotFoundError, match="make setup") as info:
        load_network("mobilenet_thin", weights=missing)
    assert str(missing) in str(info.value)


@needs_tf
def test_corrupt_weights_raise_value_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import posekit.networks.mobilenet_thin as mt
    from posekit.networks.inference import load_network

    garbage = tmp_path / "graph_opt.pb"
    garbage.write_bytes(bytes(range(256)) * 10)
    with pytest.raises(ValueError, match="not a valid TensorFlow frozen graph") as info:
        load_network("mobilenet_thin", weights=garbage)
    assert str(garbage) in str(info.value) and "make setup" in str(info.value)

    # The default file is hash-checked where it is read: by the tensorflow runtime (the
    # TFLite runtimes run the models shipped in the package and never read it).
    monkeypatch.setattr(mt, "DEFAULT_WEIGHTS", garbage)
    assert load_network("mobilenet_thin").runtime in ("int8", "tflite")
    with pytest.raises(ValueError, match="corrupt") as info:
        load_network("mobilenet_thin", runtime="tensorflow")
    assert str(garbage) in str(info.value) and "make setup" in str(info.value)


def test_unknown_network_name() -> None:
    from posekit.networks.inference import load_network

    with pytest.raises(ValueError, match="unknown network"):
        load_network("resnet")


def _tiny_openpose_model() -> Any:
    """Keras stand-in with the VGG contract: RGB in, 12 outputs, [10] PAFs, [11] heatmaps.

    Heatmap channel c is the 8x8 mean of input channel c % 3 (so channel 0 = R).
    """
    import keras

    inputs = keras.Input(shape=(None, None, 3))
    pooled = keras.layers.AveragePooling2D(8)(inputs)
    heat = keras.layers.Conv2D(NUM_HEATMAPS, 1, use_bias=False, name="heat")(pooled)
    paf = keras.layers.Conv2D(NUM_PAFS, 1, use_bias=False, name="paf")(pooled)
    model = keras.Model(inputs, [paf, heat] * 6)
    kernel = np.zeros((1, 1, 3, NUM_HEATMAPS), np.float32)
    for c in range(NUM_HEATMAPS):
        kernel[0, 0, c % 3, c] = 1.0
    model.get_layer("heat").set_weights([kernel])
    return model


@needs_tf
def test_keras_adapter_rgb_order_shapes_and_single_trace() -> None:
    from posekit.networks.inference import wrap_openpose_model

    model = _tiny_openpose_model()
    net = wrap_openpose_model(model, bucket=32)
    rng = np.random.default_rng(0)
    for height, width in [(64, 48), (61, 45), (100, 130)]:
        image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        heatmaps, pafs = infer(net, image)
        h, w = output_size(height, width)
        assert heatmaps.shape == (h, w, NUM_HEATMAPS) and pafs.shape == (h, w, NUM_PAFS)
        full = (height // 8, width // 8)  # cells fully inside the image
        red = image[: full[0] * 8, : full[1] * 8, 2].astype(np.float32)
        expected = red.reshape(full[0], 8, full[1], 8).mean(axis=(1, 3))
        np.testing.assert_allclose(heatmaps[: full[0], : full[1], 0], expected, rtol=1e-5)
    assert net.input_shapes == {(64, 64), (128, 160)}
    assert net.tracing_count() == 1  # one trace for all sizes

    # A bare model passed to infer() is wrapped once and the wrapper reused.
    image = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    first = infer(model, image)
    second = infer(model, image)
    np.testing.assert_array_equal(first[0], second[0])


def test_predict_duck_typing() -> None:
    class Duck:
        def __init__(self) -> None:
            self.shapes: list[tuple[int, ...]] = []

        def predict(self, batch: np.ndarray) -> list[np.ndarray]:
            self.shapes.append(batch.shape)
            n, h, w, _ = batch.shape
            return [np.full((n, h // 8, w // 8, NUM_PAFS if i % 2 == 0 else NUM_HEATMAPS),
                            i, np.float32) for i in range(12)]

    duck = Duck()
    heatmaps, pafs = infer(duck, np.zeros((50, 70, 3), np.uint8))
    assert duck.shapes == [(1, 64, 96, 3)]
    assert heatmaps.shape == (7, 9, NUM_HEATMAPS) and np.all(heatmaps == 11)
    assert pafs.shape == (7, 9, NUM_PAFS) and np.all(pafs == 10)


def test_the_network_input_is_bounded_before_the_backend_runs() -> None:
    from posekit.networks.inference import MAX_NETWORK_PIXELS

    backend_calls = []
    net = PoseNetwork("stub", lambda x: backend_calls.append(x))  # never reached
    at_limit = np.zeros((4000, 4000, 3), np.uint8)
    assert at_limit.shape[0] * at_limit.shape[1] == MAX_NETWORK_PIXELS
    assert validate_image(at_limit) is at_limit
    with pytest.raises(ValueError, match="4001x4000 pixels is too large for the network"):
        infer(net, np.zeros((4000, 4001, 3), np.uint8))
    assert backend_calls == []
