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

from tools.int8.flatbuffer import op_names, read_model, write_model

logger = logging.getLogger(__name__)

#: Largest relative difference of two scales treated as the same: the converter's
#: own disagreement is under 1e-6; a requantization that changes a value needs at
#: least 1 / 256.
SAME_SCALE_RTOL = 1e-5


def _params(tensor: Any) -> tuple[float, int]:
    q = tensor.quantization
    return float(np.atleast_1d(q.scale)[0]), int(np.atleast_1d(q.zeroPoint)[0])


def _realign(model: Any, readers: list, index: int, scale: float, zero_point: int) -> None:
    """Give int8 tensor ``index`` new parameters and rescale the int32 biases of ``readers``.

    ``readers`` are the convolutions reading the tensor (bias scale = input
    scale x weight scale).
    """
    tensors = model.subgraphs[0].tensors
    old_scale = _params(tensors[index])[0]
    tensors[index].quantization.scale = np.array([scale], np.float32)
    tensors[index].quantization.zeroPoint = np.array([zero_point], np.int64)
    for op in readers:
        bias = tensors[op.inputs[2]]
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
    quantized into them, and which only convolutions read. Those
    concatenations and inputs take the scale and zero point of the
    requantization's input (int8 concatenation needs one scale and zero point
    for all its tensors); the int32 biases of the convolutions reading a
    concatenation follow its new scale.

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
    from ai_edge_litert import schema_py_generated as schema

    if not 0 <= rtol < 1 / 256:
        raise ValueError(f"rtol must be in [0, 1/256), got {rtol}")
    model = read_model(data)
    if model.subgraphs is None or len(model.subgraphs) != 1:
        raise ValueError("data must be a TFLite model with one subgraph")
    graph = model.subgraphs[0]
    tensors, int8 = graph.tensors, schema.TensorType.INT8
    kind = {id(op): name for op, name in zip(graph.operators, op_names(model))}
    producer = {int(out): op for op in graph.operators for out in op.outputs}
    readers: dict[int, list] = {}
    for op in graph.operators:
        for index in op.inputs:
            readers.setdefault(int(index), []).append(op)

    def quantized_from_float(index: int) -> bool:
        op = producer.get(index)
        return (op is not None and kind[id(op)] == "QUANTIZE"
                and tensors[op.inputs[0]].type == schema.TensorType.FLOAT32)

    def read_by_convolutions(index: int, besides: Any = ()) -> bool:
        return all(kind[id(op)] in ("CONV_2D", "DEPTHWISE_CONV_2D")
                   and tensors[op.inputs[2]].type == schema.TensorType.INT32
                   for op in readers.get(index, []) if op not in besides)

    kept, source_of = [], {}
    for op in graph.operators:
        if kind[id(op)] == "QUANTIZE" and all(
                tensors[i].type == int8 for i in (op.inputs[0], op.outputs[0])):
            source, out = int(op.inputs[0]), int(op.outputs[0])
            (scale, zero), scale_out = _params(tensors[source]), _params(tensors[out])[0]
            concats = readers.get(out, [])
            others = {int(i) for c in concats for i in c.inputs if int(i) != out}
            outputs = {int(c.outputs[0]) for c in concats}
            if (abs(scale_out / scale - 1) < rtol and concats and out not in graph.outputs
                    and all(kind[id(c)] == "CONCATENATION" for c in concats)
                    and all(quantized_from_float(i) and read_by_convolutions(i, concats)
                            for i in others)
                    and all(read_by_convolutions(i) for i in outputs)):
                for index in others | outputs:
                    _realign(model, [r for r in readers.get(index, []) if r not in concats],
                             index, scale, zero)
                source_of[out] = source
                continue
        kept.append(op)
    if not source_of:
        return data, 0
    for op in kept:
        op.inputs = np.array([source_of.get(int(i), int(i)) for i in op.inputs], np.int32)
    graph.operators = kept
    logger.info("dropped %d requantizations that change no value", len(source_of))
    return write_model(model), len(source_of)
