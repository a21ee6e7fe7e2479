"""The exact weight rewrite of ``mobilenet_thin`` that prepares it for int8 quantization.

Stage maps rescaled inside the concatenations (:func:`rescale_beliefs`), 1x1
depthwise layers folded into the next pointwise layer
(:func:`fold_1x1_depthwise`), and channel ranges equalised across
pointwise -> ReLU -> convolution chains and depthwise -> pointwise pairs
(:func:`equalize_pointwise`, :func:`equalize_depthwise`) and across the
inputs of each concatenation (:func:`equalize_concats`). Each step keeps the
network's function (the rewritten graph gives the original maps); why each
one helps int8 is in ``docs/records/int8.md`` and ``docs/records/speed.md``.
"""

from __future__ import annotations

import os
from typing import Any, Iterable, Sequence

import numpy as np

from estimation.config import NUM_HEATMAPS, NUM_PAFS
from posekit.networks.mobilenet_thin import INPUT_TENSOR, load_graph_def

#: Stages whose maps feed a next stage (stage 6 is the output).
REFINED_STAGES = (1, 2, 3, 4, 5)
#: Factor applied to the stage maps inside the concatenations; chosen on the
#: quantization debugger's errors and map MAE on the sample images (docs/records/speed.md).
BELIEF_SCALE = 16.0
#: Bounds of the equalization factors (dead channels have range 0).
EQUALIZE_CLIP = (1e-3, 1e3)

def _consts(graph_def: Any) -> dict[str, Any]:
    """``{name: NodeDef}`` of the graph's Const nodes."""
    return {node.name: node for node in graph_def.node if node.op == "Const"}


def _get(node: Any) -> np.ndarray:
    from tensorflow.python.framework import tensor_util

    return tensor_util.MakeNdarray(node.attr["value"].tensor)


def _set(node: Any, value: np.ndarray) -> None:
    from tensorflow.python.framework import tensor_util

    node.attr["value"].tensor.CopyFrom(tensor_util.make_tensor_proto(value.astype(np.float32)))


def _consumers(graph_def: Any) -> dict[str, list[Any]]:
    """``{node name: [NodeDef reading it]}`` of the graph."""
    consumers: dict[str, list[Any]] = {}
    for node in graph_def.node:
        for name in node.input:
            consumers.setdefault(name.split(":")[0], []).append(node)
    return consumers


def rescale_beliefs(graph_def: Any, factor: float = BELIEF_SCALE) -> Any:
    """Scale the maps passed between stages by ``factor`` (an exact rewrite, in place).

    For each stage ``s`` in :data:`REFINED_STAGES`, the last pointwise layers
    ``MConv_Stage{s}_L{1,2}_5_pointwise`` (weights and bias; no activation
    follows) are multiplied by ``factor`` and the depthwise filters of the
    next stage's first layers are divided by it on the 57 map channels
    (38 PAFs then 19 heatmaps, the concatenation's order).

    Args:
        graph_def: The ``mobilenet_thin`` GraphDef.
        factor: Positive scale.

    Returns:
        ``graph_def`` (modified).

    Raises:
        ValueError: ``factor`` is not positive, or the graph lacks a layer.
    """
    if not factor > 0:
        raise ValueError(f"factor must be positive, got {factor!r}")
    consts = _consts(graph_def)
    try:
        for stage in REFINED_STAGES:
            for branch in (1, 2):
                prefix = f"Openpose/MConv_Stage{stage}_L{branch}_5_pointwise/"
                for name in (prefix + "weights", prefix + "Conv2D_bn_offset"):
                    _set(consts[name], _get(consts[name]) * factor)
                dw = consts[f"Openpose/MConv_Stage{stage + 1}_L{branch}_1_depthwise/"
                            "depthwise_weights"]
                filt = _get(dw).copy()
                filt[:, :, :NUM_PAFS + NUM_HEATMAPS] /= factor
                _set(dw, filt)
    except KeyError as exc:
        raise ValueError(f"graph is not mobilenet_thin: no layer {exc}") from None
    return graph_def


def fold_1x1_depthwise(graph_def: Any) -> Any:
    """Fold each 1x1 depthwise convolution into the pointwise convolution it feeds (exact).

    A 1x1 depthwise layer (layers 4 and 5 of every stage branch, 24 in all)
    only multiplies each channel by a constant; the next pointwise layer
    takes that factor into its input-channel weights and reads the depthwise
    layer's input directly. One quantized tensor less per fold (and one op less).

    Returns:
        ``graph_def`` (modified: the folded nodes are removed).
    """
    consts = _consts(graph_def)
    consumers = _consumers(graph_def)
    removed = set()
    for node in graph_def.node:
        if node.op != "DepthwiseConv2dNative" or node.input[1] not in consts:
            continue
        filt = _get(consts[node.input[1]])
        readers = consumers.get(node.name, [])
        if (filt.shape[:2] != (1, 1) or filt.shape[3] != 1
                or list(node.attr["strides"].list.i) != [1, 1, 1, 1] or not readers
                or not all(r.op == "Conv2D" and r.input[0] == node.name for r in readers)):
            continue
        for reader in readers:
            weights = consts[reader.input[1]]
            _set(weights, _get(weights) * filt[0, 0, :, 0][None, None, :, None])
            reader.input[0] = node.input[0]
        removed.update((node.name, node.input[1]))
    kept = [node for node in graph_def.node if node.name not in removed]
    del graph_def.node[:]
    graph_def.node.extend(kept)
    return graph_def


def depthwise_pairs(graph_def: Any) -> list[tuple[str, str, str]]:
    """Every depthwise convolution that feeds a pointwise convolution directly.

    Returns:
        ``(depthwise node, depthwise weights, pointwise weights)`` names, in
        graph order.
    """
    by_name = {node.name: node for node in graph_def.node}
    pairs = []
    for node in graph_def.node:
        if node.op == "Conv2D":
            source = by_name.get(node.input[0])
            if source is not None and source.op == "DepthwiseConv2dNative":
                pairs.append((source.name, source.input[1], node.input[1]))
    return pairs


def channel_ranges(graph_def: Any, batches: Iterable[np.ndarray],
                   names: Sequence[str]) -> dict[str, np.ndarray]:
    """Largest absolute output per channel of the nodes ``names`` over ``batches``.

    Returns:
        ``{node name: float (C,)}``.
    """
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
    fetches = [graph.get_tensor_by_name(name + ":0") for name in names]
    ranges = {name: None for name in names}
    with tf.compat.v1.Session(graph=graph) as session:
        for batch in batches:
            outputs = session.run(fetches, {INPUT_TENSOR: batch})
            for name, out in zip(names, outputs):
                peak = np.abs(out).max(axis=(0, 1, 2))
                ranges[name] = peak if ranges[name] is None else np.maximum(ranges[name], peak)
    return ranges


def depthwise_ranges(graph_def: Any, batches: Iterable[np.ndarray]) -> dict[str, np.ndarray]:
    """:func:`channel_ranges` of every depthwise layer of :func:`depthwise_pairs`."""
    return channel_ranges(graph_def, batches, [pair[0] for pair in depthwise_pairs(graph_def)])


def pointwise_chains(graph_def: Any) -> list[tuple[str, str, str, list[str]]]:
    """Pointwise convolutions (+ bias, + ReLU) whose output feeds only convolutions.

    Returns:
        ``(output node, pointwise weights, bias, [weights of each consuming convolution])``.
    """
    by_name = {node.name: node for node in graph_def.node}
    consumers = _consumers(graph_def)
    chains = []
    for node in graph_def.node:
        if node.op != "Conv2D" or by_name[node.input[1]].op != "Const":
            continue
        after = consumers.get(node.name, [])
        if len(after) != 1 or after[0].op != "BiasAdd":
            continue
        bias = after[0]
        relu = consumers.get(bias.name, [])
        if len(relu) != 1 or relu[0].op != "Relu":
            continue
        readers = consumers.get(relu[0].name, [])
        if readers and all(r.op in ("DepthwiseConv2dNative", "Conv2D")
                           and r.input[0] == relu[0].name for r in readers):
            chains.append((relu[0].name, node.input[1], bias.input[1],
                           [r.input[1] for r in readers]))
    return chains


def equalize_pointwise(graph_def: Any, batches: Sequence[np.ndarray]) -> Any:
    """Give every channel of a pointwise -> ReLU -> convolution chain the same range (exact).

    Output channel ``o`` of the pointwise layer (weights column and bias) is
    multiplied by ``t_o = R / r_o`` (``r_o``: its largest output on
    ``batches``, ``R``: the largest over its channels) and the consuming
    convolutions divide their input channel ``o`` by ``t_o``; ReLU commutes
    with a positive factor. The pointwise layer (and a depthwise consumer)
    has one weight scale per output channel in TFLite, so that costs nothing
    there, and every channel of the shared activation scale now uses all of
    its 256 steps.

    Returns:
        ``graph_def`` (modified).
    """
    consts = _consts(graph_def)
    chains = pointwise_chains(graph_def)
    ranges = channel_ranges(graph_def, batches, [chain[0] for chain in chains])
    low, high = EQUALIZE_CLIP
    for out, weights, bias, readers in chains:
        r = ranges[out]
        factor = np.where(r > 0, r.max() / np.maximum(r, 1e-12), 1.0)
        factor = np.clip(factor, low, high)
        _set(consts[weights], _get(consts[weights]) * factor)
        _set(consts[bias], _get(consts[bias]) * factor)
        for reader in readers:
            _set(consts[reader], _get(consts[reader]) / factor[None, None, :, None])
    return graph_def


def equalize_depthwise(graph_def: Any, ranges: dict[str, np.ndarray]) -> Any:
    """Cross-layer equalization of each depthwise -> pointwise pair (exact, in place).

    Args:
        graph_def: The GraphDef.
        ranges: :func:`depthwise_ranges` of that graph.

    Returns:
        ``graph_def`` (modified).
    """
    consts = _consts(graph_def)
    low, high = EQUALIZE_CLIP
    for dw_node, dw_weights, pw_weights in depthwise_pairs(graph_def):
        dw, pw = _get(consts[dw_weights]), _get(consts[pw_weights])
        weight_range = np.abs(pw).max(axis=(0, 1, 3))  # per input channel
        factor = np.sqrt(np.maximum(ranges[dw_node], 1e-12) / np.maximum(weight_range, 1e-12))
        factor = np.clip(factor, low, high)
        _set(consts[dw_weights], dw / factor[None, None, :, None])
        _set(consts[pw_weights], pw * factor[None, None, :, None])
    return graph_def


#: Channel-preserving ops that commute with a positive per-channel factor.
_COMMUTING = ("BiasAdd", "Relu", "MaxPool")


def _divide_readers(name: str, factor: np.ndarray, offset: int, graph: dict[str, Any]) -> None:
    """Divide input channels ``offset:offset+len(factor)`` of every convolution reading ``name``.

    Follows commuting ops (bias, ReLU, max pooling) and concatenations
    forward; ``graph`` holds ``consts``, ``consumers`` and ``channels``.

    Raises:
        ValueError: Some reader is neither a convolution nor a commuting op.
    """
    for reader in graph["consumers"].get(name, []):
        if reader.op in ("Conv2D", "DepthwiseConv2dNative") and reader.input[0] == name:
            weights = graph["consts"][reader.input[1]]
            filt = _get(weights).copy()
            filt[:, :, offset:offset + factor.size] /= factor[None, None, :, None]
            _set(weights, filt)
        elif reader.op in _COMMUTING and reader.input[0] == name:
            _divide_readers(reader.name, factor, offset, graph)
        elif reader.op == "ConcatV2":
            before = 0
            for source in reader.input[:-1]:
                if source == name:
                    break
                before += graph["channels"][source]
            _divide_readers(reader.name, factor, offset + before, graph)
        else:
            raise ValueError(f"{name!r} is read by {reader.name!r} ({reader.op}), "
                             "which a channel factor cannot pass")


def equalize_concats(graph_def: Any, batches: Sequence[np.ndarray]) -> Any:
    """Give every channel entering the stages' concatenations one range (exact, in place).

    TFLite's int8 concatenation makes its inputs share one scale, so a
    channel whose range is a seventh of the largest keeps a seventh of the
    256 steps. Each source of ``feat_concat`` and of the stage
    concatenations (a convolution, then bias, ReLU, max pooling) has its
    output channel ``c`` multiplied by ``R / r_c`` (``r_c``: its largest
    output on ``batches``, ``R``: the largest over all the sources), and
    every convolution that reads it, directly or through a concatenation,
    divides its input channel by the same factor. Concatenations read by
    anything but convolutions (the network's output) are left alone.

    Returns:
        ``graph_def`` (modified).

    Raises:
        ValueError: A source does not come from a convolution with a bias.
    """
    nodes = {node.name: node for node in graph_def.node}
    consumers = _consumers(graph_def)
    concats = [node for node in graph_def.node if node.op == "ConcatV2"
               and consumers.get(node.name) and all(r.op in ("ConcatV2", "DepthwiseConv2dNative", "Conv2D")
                       for r in consumers.get(node.name, []))]
    names = {node.name for node in concats}
    sources = sorted({s for node in concats for s in node.input[:-1] if s not in names})
    ranges = channel_ranges(graph_def, batches, sources)
    channels = {name: ranges[name].size for name in sources}
    for node in concats:  # graph order: a concatenation's inputs come first
        channels[node.name] = sum(channels[s] for s in node.input[:-1])
    graph = {"consts": _consts(graph_def), "consumers": consumers, "channels": channels}
    top = max(float(r.max()) for r in ranges.values())
    low, high = EQUALIZE_CLIP
    for source in sources:
        r = ranges[source]
        factor = np.clip(np.where(r > 0, top / np.maximum(r, 1e-12), 1.0), low, high)
        conv, bias = nodes[source], None
        while conv.op in _COMMUTING:
            if conv.op == "BiasAdd":
                bias = conv.input[1]
            conv = nodes[conv.input[0]]
        if conv.op != "Conv2D" or bias is None:
            raise ValueError(f"concatenation input {source!r} does not come from a "
                             "convolution with a bias")
        for const in (conv.input[1], bias):
            value = _get(graph["consts"][const])
            _set(graph["consts"][const], value * factor)
        _divide_readers(conv.name, factor, 0, graph)
    return graph_def


def prepared_graph(weights: str | os.PathLike[str], batches: Sequence[np.ndarray],
                   expected_sha256: str | None = None,
                   belief_scale: float = BELIEF_SCALE) -> Any:
    """The frozen graph with every rewrite of this module applied, in a fixed order."""
    graph_def = load_graph_def(weights, expected_sha256)
    rescale_beliefs(graph_def, belief_scale)
    fold_1x1_depthwise(graph_def)
    equalize_pointwise(graph_def, batches)
    equalize_concats(graph_def, batches)
    return equalize_depthwise(graph_def, depthwise_ranges(graph_def, batches))
