"""tools/int8/tidy.py: which requantizations go, what the concatenations and biases become.

Skipped without TensorFlow or the models (``make setup``; the int8 model is in
the repository). The speed it buys is measured by ``benchmarks/bench_int8.py``
(docs/records/int8.md), not here.
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
DELTA = 5e-6                  # relative scale difference of the copies put back (< SAME_SCALE_RTOL)
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("tensorflow") is None
    or not (FLOAT_MODEL.is_file() and INT8_MODEL.is_file() and ZIDANE.is_file()),
    reason="TensorFlow, the float32 / int8 models or the sample images missing (make setup)")


def graph(content: bytes) -> tuple:
    """(model, subgraph, op name of every op) of a ``.tflite`` content."""
    from tools.int8.flatbuffer import op_names, read_model

    model = read_model(content)
    return model, model.subgraphs[0], op_names(model)


def params(g, index: int) -> tuple:
    q = g.tensors[index].quantization
    return float(q.scale[0]), int(q.zeroPoint[0])


def requantizations(content: bytes) -> int:
    from ai_edge_litert import schema_py_generated as schema

    _, g, kinds = graph(content)
    return sum(kind == "QUANTIZE" and all(g.tensors[i].type == schema.TensorType.INT8
                                          for i in (op.inputs[0], op.outputs[0]))
               for op, kind in zip(g.operators, kinds))


def run(content: bytes, batch: np.ndarray) -> np.ndarray:
    from posekit.networks.mobilenet_tflite import interpreter_class, invoke

    return invoke(interpreter_class()(model_content=content), batch)


def real_values(content: bytes, batch: np.ndarray, tensor: int) -> np.ndarray:
    """The values int8 ``tensor`` holds after a run on ``batch``, dequantized."""
    from posekit.networks.mobilenet_tflite import interpreter_class

    interpreter = interpreter_class()(model_content=content,
                                      experimental_preserve_all_tensors=True)
    interpreter.resize_tensor_input(0, batch.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], batch)
    interpreter.invoke()
    scale, zero = interpreter.get_tensor_details()[tensor]["quantization"]
    return scale * (interpreter.get_tensor(tensor).astype(np.float64) - zero)


@pytest.fixture(scope="module")
def shipped() -> bytes:
    return INT8_MODEL.read_bytes()


@pytest.fixture(scope="module")
def untidy(shipped) -> bytes:
    """The shipped model with the converter's four feature copies put back.

    Each stage concatenation (and the maps quantized into it) gets the scale
    the features' scale x (1 + DELTA), as the converter's own calibration of
    each concatenation does (by under 1e-6), the int32 biases of the convolutions
    reading it follow, and it reads the features through an int8 -> int8
    ``QUANTIZE`` again.
    """
    from ai_edge_litert import schema_py_generated as schema

    from tools.int8.flatbuffer import write_model

    model, g, kinds = graph(shipped)
    concats = [op for op, kind in zip(g.operators, kinds) if kind == "CONCATENATION"
               and g.tensors[op.outputs[0]].type == schema.TensorType.INT8]
    features, stages = concats[0].outputs[0], concats[1:]
    assert all(features in op.inputs for op in stages)
    quantize = kinds.index("QUANTIZE")
    for op in stages[:4]:
        copy = schema.TensorT()
        copy.name, copy.type = b"feature_copy", schema.TensorType.INT8
        copy.shape, copy.shapeSignature = g.tensors[features].shape, \
            g.tensors[features].shapeSignature
        copy.quantization = schema.QuantizationParametersT()
        g.tensors.append(copy)
        index = len(g.tensors) - 1
        scale, zero = params(g, features)
        for i in [*op.inputs, op.outputs[0]]:
            if i != features:
                g.tensors[i].quantization.scale = np.array([scale * (1 + DELTA)], np.float32)
        for reader in g.operators:
            if op.outputs[0] in reader.inputs and len(reader.inputs) == 3:
                bias = g.tensors[reader.inputs[2]]
                bias.quantization.scale = (np.asarray(bias.quantization.scale, np.float64)
                                           * (1 + DELTA)).astype(np.float32)
        copy.quantization.scale = np.array([scale * (1 + DELTA)], np.float32)
        copy.quantization.zeroPoint = np.array([zero], np.int64)
        requant = schema.OperatorT()
        requant.opcodeIndex = g.operators[quantize].opcodeIndex
        requant.inputs = np.array([features], np.int32)
        requant.outputs = np.array([index], np.int32)
        op.inputs = np.array([index if i == features else i for i in op.inputs], np.int32)
        g.operators.insert(g.operators.index(op), requant)
    return write_model(model)


@pytest.fixture(scope="module")
def batch() -> np.ndarray:
    import cv2

    from tools.int8.calibration import view

    return view(cv2.imread(str(ZIDANE)), 256)


def test_the_shipped_model_has_no_requantization_left(shipped) -> None:
    from tools.int8.tidy import drop_identity_requantizations

    assert requantizations(shipped) == 0
    assert drop_identity_requantizations(shipped) == (shipped, 0)


@pytest.mark.filterwarnings("ignore:.*experimental_preserve_all_tensors")
def test_the_copies_go_and_the_maps_stay(untidy, shipped, batch) -> None:
    from tools.int8.tidy import drop_identity_requantizations

    assert requantizations(untidy) == 4
    tidy, dropped = drop_identity_requantizations(untidy)
    assert dropped == 4 and requantizations(tidy) == 0
    _, g, kinds = graph(tidy)
    assert len(kinds) == len(graph(untidy)[2]) - 4
    for op, kind in zip(g.operators, kinds):
        if kind == "CONCATENATION" and g.tensors[op.outputs[0]].quantization.scale is not None \
                and len(g.tensors[op.outputs[0]].quantization.scale):
            assert {params(g, i) for i in [*op.inputs, op.outputs[0]]} == \
                {params(g, op.outputs[0])}
    # the first stage concatenation holds the same values: on the grid of the
    # features, up to the rare rounding tie that a scale 5e-6 off flips
    first = next(op.outputs[0] for op, kind in zip(g.operators, kinds)
                 if kind == "CONCATENATION" and b"Stage2" in g.tensors[op.outputs[0]].name)
    step = params(g, first)[0]
    before, after = (real_values(content, batch, first) for content in (untidy, tidy))
    off = np.abs(after - before)
    assert np.mean(off > 0.01 * step) < 1e-3 and off.max() < 1.01 * step
    # further on, such a flip moves the maps as much as any rounding does
    # (docs/records/int8.md), but not further from float32 than they were
    float32 = run(FLOAT_MODEL.read_bytes(), batch)
    error_before = np.abs(run(untidy, batch) - float32).mean()
    assert np.abs(run(tidy, batch) - float32).mean() < 1.1 * error_before
    assert drop_identity_requantizations(tidy) == (tidy, 0)


def test_biases_follow_the_scale_of_what_they_read(untidy) -> None:
    from tools.int8.tidy import drop_identity_requantizations

    tidy, _ = drop_identity_requantizations(untidy)
    _, g, kinds = graph(tidy)
    checked = 0
    for op, kind in zip(g.operators, kinds):
        if kind in ("CONV_2D", "DEPTHWISE_CONV_2D") and g.tensors[op.inputs[2]].type == 2:
            weights = np.asarray(g.tensors[op.inputs[1]].quantization.scale, np.float64)
            bias = np.asarray(g.tensors[op.inputs[2]].quantization.scale, np.float64)
            np.testing.assert_allclose(bias, params(g, op.inputs[0])[0] * weights, rtol=DELTA / 10)
            checked += 1
    assert checked >= 12                       # the stages' first layers read concatenations


def test_a_concatenation_that_not_only_convolutions_read_keeps_its_copy(untidy) -> None:
    from ai_edge_litert import schema_py_generated as schema

    from tools.int8.tidy import drop_identity_requantizations
    from tools.int8.flatbuffer import write_model

    # a max pooling (int8: same scale in and out, no bias to rescale) reads a
    # stage concatenation that reads a copy: giving it the features' scale would
    # break that op
    model, g, kinds = graph(untidy)
    last = [op for op, kind in zip(g.operators, kinds) if kind == "CONCATENATION"
            and any(g.tensors[i].name == b"feature_copy" for i in op.inputs)][-1]
    pool = next(op for op, kind in zip(g.operators, kinds) if kind == "MAX_POOL_2D")
    pooled = schema.TensorT()
    pooled.name, pooled.type = b"pooled", schema.TensorType.INT8
    pooled.quantization = schema.QuantizationParametersT()
    pooled.quantization.scale = np.array(params(g, last.outputs[0])[:1], np.float32)
    pooled.quantization.zeroPoint = np.array(params(g, last.outputs[0])[1:], np.int64)
    g.tensors.append(pooled)
    reader = schema.OperatorT()
    reader.opcodeIndex, reader.builtinOptionsType, reader.builtinOptions = \
        pool.opcodeIndex, pool.builtinOptionsType, pool.builtinOptions
    reader.inputs = np.array([last.outputs[0]], np.int32)
    reader.outputs = np.array([len(g.tensors) - 1], np.int32)
    g.operators.insert(g.operators.index(last) + 1, reader)
    tidy, dropped = drop_identity_requantizations(write_model(model))
    assert dropped == 3 and requantizations(tidy) == 1


def test_a_requantization_that_changes_values_stays(untidy) -> None:
    from tools.int8.tidy import SAME_SCALE_RTOL, drop_identity_requantizations

    # the bar is on the relative difference of the two scales, DELTA here
    assert drop_identity_requantizations(untidy, rtol=0.8 * DELTA) == (untidy, 0)
    assert drop_identity_requantizations(untidy, rtol=1.2 * DELTA)[1] == 4
    assert SAME_SCALE_RTOL < 1 / 256


def test_a_float_model_is_returned_as_it_is() -> None:
    from tools.int8.tidy import drop_identity_requantizations

    content = FLOAT_MODEL.read_bytes()
    assert drop_identity_requantizations(content) == (content, 0)


@pytest.mark.parametrize("rtol", [-1e-6, 1 / 256, float("nan")])
def test_bad_arguments_are_refused(rtol) -> None:
    from tools.int8.tidy import drop_identity_requantizations

    with pytest.raises(ValueError, match="rtol"):
        drop_identity_requantizations(FLOAT_MODEL.read_bytes(), rtol=rtol)
    with pytest.raises(ValueError, match="data"):
        drop_identity_requantizations(b"not a model")
