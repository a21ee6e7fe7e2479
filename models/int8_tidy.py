"""Drops the requantizations of an int8 TFLite model that change no value.

The converter calibrates every concatenation's range on its own, so the
recipe's concatenations, whose inputs the weight rewrite gave one range, end
up with scales a few parts in ten million apart (0.27473396 against
0.27473417) and zero points one step apart. It then copies the backbone
features once per stage through a ``QUANTIZE`` int8 -> int8 op that maps each
value to itself: four full copies of an 864-channel tensor per image. This
pass gives such a concatenation (and the float maps quantized into it) the
scale and zero point of the tensor it copies, then removes the copy. The
values the model computes stay on the same grid; only the largest and smallest
representable value of a concatenation may move by one step.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

#: Largest relative difference of two scales treated as the same: the converter's
#: own disagreement is under 1e-6; a requantization that changes a value needs at
#: least 1 / 256.
SAME_SCALE_RTOL = 1e-5


def _code(model: Any, op: Any) -> int:
    code = model.operatorCodes[op.opcodeIndex]
    return max(code.builtinCode, code.deprecatedBuiltinCode)


def _params(tensor: Any) -> tuple[float, int]:
    q = tensor.quantization
    return float(np.atleast_1d(q.scale)[0]), int(np.atleast_1d(q.zeroPoint)[0])


def _set_params(tensor: Any, scale: float, zero_point: int) -> None:
    tensor.quantization.scale = np.array([scale], np.float32)
    tensor.quantization.zeroPoint = np.array([zero_point], np.int64)


def _realign(model: Any, tensors: Any, consumers: dict, index: int, scale: float,
             zero_point: int) -> None:
    """Give int8 tensor ``index`` new parameters; rescale the int32 biases that use its scale."""
    from ai_edge_litert import schema_py_generated as schema

    old_scale = _params(tensors[index])[0]
    _set_params(tensors[index], scale, zero_point)
    for op in consumers.get(index, []):
        if _code(model, op) not in (schema.BuiltinOperator.CONV_2D,
                                    schema.BuiltinOperator.DEPTHWISE_CONV_2D):
            continue
        bias = tensors[op.inputs[2]]
        if bias.type != schema.TensorType.INT32:
            continue
        buffer = model.buffers[bias.buffer]
        values = np.frombuffer(bytes(buffer.data), "<i4").astype(np.float64)
        buffer.data = np.frombuffer(
            np.round(values * old_scale / scale).astype("<i4").tobytes(), np.uint8)
        bias.quantization.scale = (np.asarray(bias.quantization.scale, np.float64)
                                   * scale / old_scale).astype(np.float32)


def drop_identity_requantizations(data: bytes,
                                  rtol: float = SAME_SCALE_RTOL) -> tuple[bytes, int]:
    """Remove every int8 -> int8 ``QUANTIZE`` whose output holds its input's values.

    A requantization is removed when its scales agree within ``rtol`` and its
    output feeds only concatenations whose other inputs are float values
    quantized into them. Those concatenations and inputs take the scale and
    zero point of the requantization's input (int8 concatenation needs one
    scale and zero point for all its tensors); the int32 biases of the
    convolutions reading a concatenation follow its new scale.

    Args:
        data: An int8 ``.tflite`` model with one subgraph.
        rtol: Largest relative difference of the two scales.

    Returns:
        ``(model, number of ops removed)``; the model is ``data`` itself when
        nothing was removed.

    Raises:
        ValueError: ``rtol`` is not in [0, 1 / 256); ``data`` is not a TFLite
            model with one subgraph.
    """
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    if not 0 <= rtol < 1 / 256:
        raise ValueError(f"rtol must be in [0, 1/256), got {rtol}")
    try:
        model = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
    except Exception as error:  # flatbuffers raises whatever the bytes trip on
        raise ValueError(f"data is not a TFLite model: {error}") from None
    if model.subgraphs is None or len(model.subgraphs) != 1:
        raise ValueError("data must be a TFLite model with one subgraph")
    ops = schema.BuiltinOperator
    graph = model.subgraphs[0]
    tensors = graph.tensors
    int8 = schema.TensorType.INT8
    producer = {int(out): op for op in graph.operators for out in op.outputs}
    consumers: dict[int, list] = {}
    for op in graph.operators:
        for index in op.inputs:
            consumers.setdefault(int(index), []).append(op)

    def float_quantized(index: int) -> bool:
        op = producer.get(index)
        return (op is not None and _code(model, op) == ops.QUANTIZE
                and tensors[op.inputs[0]].type == schema.TensorType.FLOAT32)

    kept, source_of = [], {}
    for op in graph.operators:
        if _code(model, op) == ops.QUANTIZE and all(
                tensors[i].type == int8 for i in (op.inputs[0], op.outputs[0])):
            source, out = int(op.inputs[0]), int(op.outputs[0])
            (scale, zero), scale_out = _params(tensors[source]), _params(tensors[out])[0]
            users = consumers.get(out, [])
            concats = [u for u in users if _code(model, u) == ops.CONCATENATION]
            others = [int(i) for u in concats for i in u.inputs if int(i) != out]
            if (abs(scale_out / scale - 1) < rtol and users and len(concats) == len(users)
                    and all(float_quantized(i) for i in others) and out not in graph.outputs):
                for concat in concats:
                    for index in others:
                        _realign(model, tensors, consumers, index, scale, zero)
                    _realign(model, tensors, consumers, int(concat.outputs[0]), scale, zero)
                source_of[out] = source
                continue
        kept.append(op)
    if not source_of:
        return data, 0
    for op in kept:
        op.inputs = np.array([source_of.get(int(i), int(i)) for i in op.inputs], np.int32)
    graph.operators = kept
    builder = flatbuffers.Builder(len(data) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    logger.info("dropped %d requantizations that change no value", len(source_of))
    return bytes(builder.Output()), len(source_of)
