"""tools/int8/qat.py: the rounding, the twin of the shipped int8 model, the write-back, settings.

Skipped without TensorFlow or the models (``make setup``; the int8 model is in
the repository). The twin is checked against the TFLite kernels on a real
image; fine-tuning's gain is measured by ``make int8`` (docs/records/int8.md), not here.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
FLOAT_MODEL = ROOT / "posekit" / "networks" / "weights" / "mobilenet_thin" / "graph_opt.tflite"
INT8_MODEL = FLOAT_MODEL.with_name("graph_opt.int8.tflite")
ZIDANE = ROOT / "images" / "zidane.jpg"
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("tensorflow") is None
    or not (FLOAT_MODEL.is_file() and INT8_MODEL.is_file() and ZIDANE.is_file()),
    reason="TensorFlow, the float32 / int8 models or the sample images missing (make setup)")


def run(content: bytes, batch: np.ndarray) -> np.ndarray:
    """The model's output with the kernels users run (XNNPACK)."""
    from posekit.networks.mobilenet_tflite import interpreter_class, invoke

    return invoke(interpreter_class()(model_content=content), batch)


def quantization(content: bytes) -> list:
    """(name, scales, zero points) of every tensor of a model."""
    from posekit.networks.mobilenet_tflite import interpreter_class

    details = interpreter_class()(model_content=content).get_tensor_details()
    return [(d["name"], d["quantization_parameters"]["scales"].tolist(),
             d["quantization_parameters"]["zero_points"].tolist()) for d in details]


@pytest.fixture(scope="module")
def batch() -> np.ndarray:
    import cv2

    from tools.int8.calibration import view

    return view(cv2.imread(str(ZIDANE)), 256)                   # (1, 144, 256, 3)


def test_fake_quant_rounds_to_the_grid_and_clamps_to_int8() -> None:
    import tensorflow as tf

    from tools.int8.qat import fake_quant

    x = tf.constant([0.26, 0.04, -0.06, 20.0, -20.0])
    assert fake_quant(x, 0.1, 0).numpy() == pytest.approx([0.3, 0.0, -0.1, 12.7, -12.8])
    # zero point -128: 0 is the lowest value (what a ReLU's output gets)
    assert fake_quant(tf.constant([-1.0, 0.55]), 0.5, -128).numpy() == pytest.approx([0.0, 0.5])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(fake_quant(x, 0.1, 0))
    assert tape.gradient(y, x).numpy().tolist() == [1, 1, 1, 0, 0]   # straight through, clamped


def test_the_twin_computes_the_int8_model_closer_than_float32_does(batch) -> None:
    from tools.int8.qat import Int8Twin

    data = INT8_MODEL.read_bytes()
    int8, float32 = run(data, batch), run(FLOAT_MODEL.read_bytes(), batch)
    twin = Int8Twin(data)(batch).numpy()
    assert twin.shape == int8.shape
    for channels in (slice(0, 18), slice(19, 57)):       # part heatmaps; PAFs
        ours = np.abs(twin - int8)[..., channels].mean()
        theirs = np.abs(float32 - int8)[..., channels].mean()
        # recipe 6 on this view: 0.52 (heatmaps), 0.70 (PAFs); recipe 4: under 0.6
        assert ours < 0.8 * theirs, (channels, ours, theirs)


def test_export_keeps_every_scale_and_untrained_weights_give_the_same_maps(batch) -> None:
    from tools.int8.qat import Int8Twin

    data = INT8_MODEL.read_bytes()
    twin = Int8Twin(data)
    exported = twin.export()
    assert quantization(exported) == quantization(data)
    assert np.array_equal(run(exported, batch), run(data, batch))
    kernel, bias = twin.trainable_variables[2:4]           # the second convolution (depthwise)
    kernel.assign_add(np.full(kernel.shape, 0.05, np.float32))
    moved = twin.export()
    assert quantization(moved) == quantization(data)
    assert not np.array_equal(run(moved, batch), run(data, batch))


def test_settings_and_inputs_are_checked() -> None:
    from tools.int8.qat import FineTune, fine_tune

    for bad in (dict(steps=-1), dict(steps=1.5), dict(learning_rate=0), dict(peak_weight=-1),
                dict(sides=(4, 100)), dict(sides=(300, 300)), dict(average=1.0),
                dict(average=-0.1)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            FineTune(**bad)
    data = INT8_MODEL.read_bytes()
    with pytest.raises(ValueError, match="images"):
        fine_tune(data, FLOAT_MODEL.read_bytes(), [], FineTune(steps=1))
    assert fine_tune(data, FLOAT_MODEL.read_bytes(), [], FineTune(steps=0)) == data


def test_an_op_it_does_not_simulate_is_refused() -> None:
    from ai_edge_litert import schema_py_generated as schema

    from tools.int8.qat import Int8Twin
    from tools.int8.flatbuffer import read_model, write_model

    model = read_model(INT8_MODEL.read_bytes())
    code = model.operatorCodes[model.subgraphs[0].operators[-1].opcodeIndex]
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.ADD
    with pytest.raises(ValueError, match="ADD of the model is not simulated"):
        Int8Twin(write_model(model))


@pytest.fixture(scope="module")
def tiny_models() -> tuple:
    """(int8, float32) TFLite models of a tiny network with every op the twin knows:
    conv + ReLU, depthwise, concatenation, max pooling, a linear conv."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    w1, w2 = (tf.constant(rng.normal(0, 0.2, shape), tf.float32)
              for shape in ((3, 3, 3, 8), (1, 1, 16, 4)))
    dw = tf.constant(rng.normal(0, 0.5, (3, 3, 8, 1)), tf.float32)

    @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.float32)])
    def net(x):
        a = tf.nn.relu(tf.nn.conv2d(x / 255.0, w1, 1, "SAME") + 0.1)
        c = tf.concat([a, tf.nn.depthwise_conv2d(a, dw, [1, 1, 1, 1], "SAME")], -1)
        return tf.nn.conv2d(tf.nn.max_pool2d(c, 2, 2, "SAME"), w2, 1, "SAME") - 0.05

    converter = tf.lite.TFLiteConverter.from_concrete_functions([net.get_concrete_function()],
                                                                net)
    reference = converter.convert()
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: (
        [rng.uniform(0, 255, (1, 16, 16, 3)).astype(np.float32)] for _ in range(8))
    return converter.convert(), reference


def test_the_twin_of_a_tiny_model_computes_its_kernels(tiny_models) -> None:
    from tools.int8.qat import Int8Twin

    data, reference = tiny_models
    batch = np.random.default_rng(1).uniform(0, 255, (1, 24, 32, 3)).astype(np.float32)
    int8, float32 = run(data, batch), run(reference, batch)
    twin = Int8Twin(data)(batch).numpy()
    assert np.abs(twin - int8).mean() < 0.25 * np.abs(float32 - int8).mean()


def test_two_steps_of_fine_tuning_change_weights_and_no_scale(tiny_models, tmp_path) -> None:
    import cv2

    from tools.int8.qat import FineTune, fine_tune

    data, reference = tiny_models
    image = tmp_path / "small.png"
    cv2.imwrite(str(image), cv2.resize(cv2.imread(str(ZIDANE)), (96, 56)))
    batch = np.random.default_rng(2).uniform(0, 255, (1, 24, 32, 3)).astype(np.float32)
    tuned = fine_tune(data, reference, [image],
                      FineTune(steps=2, learning_rate=1e-2, sides=(32, 48), average=0.0))
    assert quantization(tuned) == quantization(data)
    assert not np.array_equal(run(tuned, batch), run(data, batch))
    with pytest.raises(ValueError, match="cannot be decoded"):
        fine_tune(data, reference, [tmp_path / "missing.png"], FineTune(steps=1))
