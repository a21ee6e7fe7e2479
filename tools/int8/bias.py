"""Bias correction of an int8 ``mobilenet_thin``: each stage's mean map error taken off its bias."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from tools.int8.rewrite import REFINED_STAGES
from tools.int8.flatbuffer import read_model, write_model

#: Graph nodes whose biases :func:`correct_biases` adjusts: the maps of each stage.
STAGE_OUTPUTS = tuple(f"Openpose/MConv_Stage{stage}_L{branch}_5_pointwise/BatchNorm/FusedBatchNorm"
                      for stage in (*REFINED_STAGES, 6) for branch in (1, 2))


def _run_all(content: bytes, batch: np.ndarray) -> Any:
    """An interpreter (reference kernels, all tensors kept) after one run on ``batch``."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from posekit.networks.mobilenet_tflite import invoke

    interpreter = Interpreter(
        model_content=content, experimental_preserve_all_tensors=True,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    invoke(interpreter, batch)
    return interpreter


def _conv_outputs(interpreter: Any, nodes: Sequence[str]) -> dict[str, tuple[int, int]]:
    """``{node: (operator index, output tensor index)}`` of the CONV_2D ops producing ``nodes``."""
    found = {}
    for op in interpreter._get_ops_details():
        if op["op_name"] != "CONV_2D":
            continue
        out = int(op["outputs"][0])
        name = interpreter._get_tensor_details(out, 0)["name"].split(";")[0]
        if name in nodes:
            found[name] = (int(op["index"]), out)
    missing = set(nodes) - set(found)
    if missing:
        raise ValueError(f"no convolution produces {sorted(missing)}")
    return found


def _channel_means(interpreter: Any, tensor: int) -> np.ndarray:
    """Per-channel mean of a (dequantized) tensor after a run."""
    details = interpreter._get_tensor_details(tensor, 0)
    values = interpreter.get_tensor(tensor).astype(np.float64)
    scale, zero = details["quantization"]
    if scale:
        values = (values - zero) * scale
    return values.reshape(-1, values.shape[-1]).mean(axis=0)


def correct_biases(data: bytes, reference: bytes, batches: Sequence[np.ndarray],
                   nodes: Sequence[str] = STAGE_OUTPUTS) -> bytes:
    """Remove the quantized model's mean error on each stage's maps (bias correction).

    Quantization shifts the mean of the maps (measured: heatmaps about +0.02
    on average, the background channel -0.1, PAFs up to +-0.07 before this
    step), and each stage passes its shift on. For the stage outputs in
    graph order, the quantized model's per-channel mean on ``batches`` is
    compared with the float model's and the difference is taken off that
    layer's bias (int32 in units of the bias scale, or float for the float
    output layers), stage by stage so that each correction sees the previous
    ones.

    Args:
        data: The quantized model (``.tflite`` content).
        reference: The float32 model of the same (rewritten) graph.
        batches: float32 ``(1, H, W, 3)`` inputs.
        nodes: Graph nodes (linear convolutions) to correct, in graph order.

    Returns:
        The corrected model's content.
    """
    from ai_edge_litert import schema_py_generated as schema

    targets = {}
    for batch in batches:
        interpreter = _run_all(reference, batch)
        where = _conv_outputs(interpreter, nodes)
        for node in nodes:
            targets[node] = targets.get(node, 0) + _channel_means(interpreter, where[node][1])
    model = read_model(data)
    graph = model.subgraphs[0]
    stages = sorted({node.split("_L")[0] for node in nodes})
    for stage in stages:
        group = [node for node in nodes if node.startswith(stage + "_")]
        means = {node: 0.0 for node in group}
        for batch in batches:
            interpreter = _run_all(data, batch)
            where = _conv_outputs(interpreter, group)
            for node in group:
                means[node] = means[node] + _channel_means(interpreter, where[node][1])
        for node in group:
            error = (means[node] - targets[node]) / len(batches)
            op_index = _conv_outputs(interpreter, [node])[node][0]
            bias = graph.tensors[graph.operators[op_index].inputs[2]]
            buffer = model.buffers[bias.buffer]
            if bias.type == schema.TensorType.INT32:
                values = np.frombuffer(bytes(buffer.data), dtype="<i4").copy()
                scales = np.asarray(bias.quantization.scale, dtype=np.float64)
                values -= np.round(error / scales).astype(np.int32)
            else:
                values = np.frombuffer(bytes(buffer.data), dtype="<f4").copy()
                values -= error.astype(np.float32)
            buffer.data = np.frombuffer(values.tobytes(), dtype=np.uint8)
        data = write_model(model)
    return data
