"""int8 ``mobilenet_thin`` for TFLite: an exact weight rewrite, then post-training quantization.

The recipe (:data:`RECIPE`), applied by :func:`convert_int8`: an exact rewrite
of the float weights (:func:`prepared_graph`: stage maps rescaled inside the
concatenations, 1x1 depthwise layers folded, channel ranges equalised), then
TFLite's post-training quantization (per-channel int8 weights, per-tensor int8
activations) with the cheap tail of every stage kept float
(:func:`float_nodes_list`: layers 2-5 of each stage branch, about 5 % of the
arithmetic), then :func:`correct_biases` on the stage outputs. The model
takes float32 BGR 0..255 and returns float32 maps, like the float32 model.

The shipped model is built by ``scripts/build_int8.py`` (``make int8``),
calibrated on dev images (:func:`dev_calibration_batches`), and committed with
its manifest; :func:`calibration_batches` (the sample images) serves builds
without the dev set. Why each step, and what each measured, is in
``docs/int8.md``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from estimation.config import NUM_HEATMAPS, NUM_PAFS
from models.mobilenet_thin import INPUT_TENSOR, OUTPUT_TENSOR, load_graph_def
from models.paths import images_dir

#: Version of the recipe, recorded in the manifest (see :func:`is_current`); 2 keeps the
#: stage tails float (docs/int8.md).
RECIPE = 2
#: Suffix of the int8 model, replacing the frozen graph's ``.pb``.
INT8_SUFFIX = ".int8.tflite"
#: Sample images used for calibration (fetched by ``scripts/fetch_assets.py``).
CALIBRATION_IMAGES = ("bus.jpg", "zidane.jpg")
#: Longer side of the calibration inputs (the demo's and the evaluation's usual sizes).
CALIBRATION_SIDES = (368, 480, 640)
#: Stages whose maps feed a next stage (stage 6 is the output).
REFINED_STAGES = (1, 2, 3, 4, 5)
#: Factor applied to the stage maps inside the concatenations (see module docstring);
#: chosen on the debugger's errors and map MAE on the sample images.
BELIEF_SCALE = 16.0
#: Longest side of the calibration inputs used for bias correction (it runs TFLite's
#: reference kernels, stage by stage: the 368-px views keep it to seconds).
BIAS_CORRECTION_SIDE = 368
#: Bounds of the equalization factors (dead channels have range 0).
EQUALIZE_CLIP = (1e-3, 1e3)
#: Nodes left float: the two stage-6 output convolutions and the final concatenation.
#: (Graph node names; a converted tensor is matched by the first name of its fused name,
#: ``Identity`` being the converted model's output.)
FLOAT_NODES = (
    "Openpose/MConv_Stage6_L1_5_pointwise/BatchNorm/FusedBatchNorm",
    "Openpose/MConv_Stage6_L2_5_pointwise/BatchNorm/FusedBatchNorm",
    "Identity",
)
#: Graph nodes of the stage tails (layers 2-5 of every stage branch), kept float: the
#: 64-channel layers where int8 noise reached the maps (map error /7, dev AP 0.176 ->
#: 0.275 on 100 images) for about 9 % more time (docs/int8.md).
STAGE_TAIL_PATTERN = r"^Openpose/MConv_Stage\d_L\d_[2345]_"


def int8_path(weights: str | os.PathLike[str]) -> Path:
    """Where the int8 model of a graph lives: ``graph_opt.pb`` -> ``graph_opt.int8.tflite``."""
    weights = Path(weights)
    return weights.with_name(weights.stem + INT8_SUFFIX)


def calibration_batches(image_dir: str | os.PathLike[str] | None = None,
                        names: Sequence[str] = CALIBRATION_IMAGES,
                        sides: Sequence[int] = CALIBRATION_SIDES) -> list[np.ndarray]:
    """Calibration inputs from the sample images: sizes, mirrors and crops.

    Args:
        image_dir: Folder of the images (default ``images/`` of the project).
        names: Image file names in that folder.
        sides: Longer side, in pixels, of each resized copy.

    Returns:
        float32 ``(1, H, W, 3)`` BGR batches (``H``, ``W`` multiples of 8):
        for each image and side, the resized image, its mirror and its
        centre crop of half the area.

    Raises:
        FileNotFoundError: An image is missing (the message says to run ``make setup``).
        ValueError: An image cannot be decoded.
    """
    import cv2

    image_dir = Path(image_dir) if image_dir is not None else images_dir()
    batches = []
    for name in names:
        path = image_dir / name
        if not path.is_file():
            raise FileNotFoundError(f"calibration image {path} not found: run `make setup` "
                                    "(or `python scripts/fetch_assets.py`) to fetch it")
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"calibration image {path} cannot be decoded: delete it and "
                             "rerun `make setup`")
        height, width = image.shape[:2]
        for side in sides:
            factor = side / max(height, width)
            size = (max(8, round(width * factor) // 8 * 8), max(8, round(height * factor) // 8 * 8))
            resized = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            h, w = resized.shape[:2]
            crop = resized[h // 4 // 8 * 8:(h // 4 + h // 2) // 8 * 8 + 8,
                           w // 4 // 8 * 8:(w // 4 + w // 2) // 8 * 8 + 8]
            for variant in (resized, resized[:, ::-1], crop):
                batches.append(np.ascontiguousarray(variant, dtype=np.float32)[None])
    return batches


def _consts(graph_def: Any) -> dict[str, Any]:
    """``{name: NodeDef}`` of the graph's Const nodes."""
    return {node.name: node for node in graph_def.node if node.op == "Const"}


def _get(node: Any) -> np.ndarray:
    from tensorflow.python.framework import tensor_util

    return tensor_util.MakeNdarray(node.attr["value"].tensor)


def _set(node: Any, value: np.ndarray) -> None:
    from tensorflow.python.framework import tensor_util

    node.attr["value"].tensor.CopyFrom(tensor_util.make_tensor_proto(value.astype(np.float32)))


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
    consumers: dict[str, list[Any]] = {}
    for node in graph_def.node:
        for name in node.input:
            consumers.setdefault(name.split(":")[0], []).append(node)
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
    consumers: dict[str, list[Any]] = {}
    for node in graph_def.node:
        for name in node.input:
            consumers.setdefault(name.split(":")[0], []).append(node)
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


def prepared_graph(weights: str | os.PathLike[str], batches: Sequence[np.ndarray],
                   expected_sha256: str | None = None,
                   belief_scale: float = BELIEF_SCALE) -> Any:
    """The frozen graph with :func:`rescale_beliefs` and :func:`equalize_depthwise` applied."""
    graph_def = load_graph_def(weights, expected_sha256)
    rescale_beliefs(graph_def, belief_scale)
    fold_1x1_depthwise(graph_def)
    equalize_pointwise(graph_def, batches)
    return equalize_depthwise(graph_def, depthwise_ranges(graph_def, batches))


def convert_int8(weights: str | os.PathLike[str], expected_sha256: str | None = None,
                 batches: Sequence[np.ndarray] | None = None,
                 belief_scale: float = BELIEF_SCALE,
                 float_nodes: Sequence[str] | None = None,
                 correct: bool = True, rewrite: bool = True) -> tuple[bytes, bytes]:
    """Build the int8 TFLite model (float32 input and output) and its float32 twin.

    Args:
        weights: The frozen graph ``.pb``.
        expected_sha256: If given, the ``.pb`` must have this SHA-256.
        batches: Calibration inputs (default :func:`calibration_batches`).
        belief_scale: Factor of :func:`rescale_beliefs`.
        float_nodes: Graph nodes kept float (None: :func:`float_nodes_list` of the
            recipe; empty: everything int8).
        correct: Apply :func:`correct_biases` (on the inputs of at most
            :data:`BIAS_CORRECTION_SIDE` pixels).
        rewrite: Apply the exact weight rewrite of :func:`prepared_graph`
            first. ``rewrite=False, float_nodes=(), correct=False`` is plain
            post-training quantization (the issue's first probe), kept to
            measure its speed and error against this recipe.

    Returns:
        ``(int8 model, float32 model of the rewritten graph)`` as ``.tflite``
        contents; both take ``(-1, -1, -1, 3)`` float32 BGR 0..255 and
        return ``(-1, -1, -1, 57)`` float32. The float32 twin computes the
        original network's maps within 1e-5.

    Raises:
        FileNotFoundError, ValueError: missing / corrupt graph or calibration images.
    """
    import tensorflow as tf

    from models.mobilenet_tflite import concrete_network

    if batches is None:
        batches = calibration_batches()
    if rewrite:
        graph_def = prepared_graph(weights, batches, expected_sha256, belief_scale)
    else:
        graph_def = load_graph_def(weights, expected_sha256)
    network = concrete_network(graph_def)
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [network.get_concrete_function()], network)
    reference = converter.convert()
    if float_nodes is None:
        float_nodes = float_nodes_list(reference)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([batch] for batch in batches)
    if float_nodes:
        options = tf.lite.experimental.QuantizationDebugOptions(
            denylisted_nodes=_tflite_tensor_names(reference, float_nodes))
        debugger = tf.lite.experimental.QuantizationDebugger(
            converter=converter, debug_dataset=lambda: ([batch] for batch in batches[:1]),
            debug_options=options)
        data = debugger.get_nondebug_quantized_model()
    else:
        data = converter.convert()
    if correct:
        data = correct_biases(data, reference,
                              [b for b in batches if max(b.shape[1:3]) <= BIAS_CORRECTION_SIDE])
    return data, reference


def _tflite_tensor_names(model: bytes, nodes: Sequence[str]) -> list[str]:
    """Full names of the tensors of TFLite ``model`` produced by graph ``nodes``.

    The converter names a tensor after all the graph nodes fused into it,
    joined by ``;``; a node matches the tensors whose first name it is.

    Raises:
        ValueError: A node matches no tensor.
    """
    from models.mobilenet_tflite import interpreter_class

    details = interpreter_class()(model_content=model).get_tensor_details()
    names = []
    for node in nodes:
        found = [d["name"] for d in details if d["name"].split(";")[0] == node]
        if not found:
            raise ValueError(f"no converted tensor comes from graph node {node!r}")
        names += found
    return names


def float_nodes_list(reference: bytes, tails: bool = True) -> list[str]:
    """Graph nodes kept float: :data:`FLOAT_NODES` plus, with ``tails``, the stage tails.

    Args:
        reference: The float32 TFLite model of the rewritten graph (its tensor
            names carry the graph node names).
        tails: Also keep the nodes matching :data:`STAGE_TAIL_PATTERN` float.

    Returns:
        Node names, :data:`FLOAT_NODES` first.
    """
    import re

    from models.mobilenet_tflite import interpreter_class

    names = list(FLOAT_NODES)
    if tails:
        details = interpreter_class()(model_content=reference).get_tensor_details()
        found = sorted({d["name"].split(";")[0] for d in details
                        if re.match(STAGE_TAIL_PATTERN, d["name"].split(";")[0])})
        names += [name for name in found if name not in names]
    return names


def dev_calibration_batches(dev_images: Sequence[str | os.PathLike[str]],
                            sides: Sequence[int] = (640, 368)) -> list[np.ndarray]:
    """Calibration inputs from dev images: each at each longer side, plus the mirror of the first.

    Args:
        dev_images: Image paths.
        sides: Longer side of each resized copy, in pixels (the first is also mirrored).

    Returns:
        float32 ``(1, H, W, 3)`` BGR batches, ``H`` and ``W`` multiples of 8.

    Raises:
        ValueError: An image cannot be decoded.
    """
    import cv2

    batches = []
    for path in dev_images:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"calibration image {path} cannot be decoded")
        height, width = image.shape[:2]
        for k, side in enumerate(sides):
            factor = side / max(height, width)
            size = (max(8, round(width * factor) // 8 * 8), max(8, round(height * factor) // 8 * 8))
            resized = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            views = (resized, resized[:, ::-1]) if k == 0 else (resized,)
            batches += [np.ascontiguousarray(view, dtype=np.float32)[None] for view in views]
    return batches


#: Accuracy check of a fresh int8 model, run at conversion on the calibration inputs:
#: mean absolute difference from the float32 graph's maps, over the 18 part heatmaps and
#: over the 38 PAF channels. Conservative bars (a quarter of a typical keypoint threshold,
#: 0.02-0.03): no int8 model has reached dev AP 0.320 yet to calibrate them against; the
#: current one measures about 0.012 / 0.022 here and dev AP 0.149 on 60 images (README).
MAX_HEATMAP_MAE = 0.005
MAX_PAF_MAE = 0.005


def map_errors(data: bytes, reference: bytes, batches: Sequence[np.ndarray]) -> dict[str, float]:
    """Mean absolute difference of two TFLite models' maps over ``batches``.

    Args:
        data: The model checked (``.tflite`` content).
        reference: The float32 model (``.tflite`` content).
        batches: float32 ``(1, H, W, 3)`` inputs.

    Returns:
        ``{"heatmap_mae": ..., "paf_mae": ...}`` (18 part heatmaps; 38 PAF channels).
    """
    from models.mobilenet_tflite import interpreter_class

    cls = interpreter_class()
    totals = np.zeros(2)
    for batch in batches:
        outs = []
        for content in (data, reference):
            interpreter = cls(model_content=content)
            interpreter.resize_tensor_input(0, batch.shape, strict=True)
            interpreter.allocate_tensors()
            interpreter.set_tensor(interpreter.get_input_details()[0]["index"], batch)
            interpreter.invoke()
            outs.append(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]))
        diff = np.abs(outs[0] - outs[1])
        totals += (diff[..., :NUM_HEATMAPS - 1].mean(), diff[..., NUM_HEATMAPS:].mean())
    heatmap, paf = totals / max(1, len(batches))
    return {"heatmap_mae": float(heatmap), "paf_mae": float(paf)}


def write_int8(weights: str | os.PathLike[str], dest: str | os.PathLike[str] | None = None,
               expected_sha256: str | None = None,
               image_dir: str | os.PathLike[str] | None = None, plain: bool = False,
               batches: Sequence[np.ndarray] | None = None, calibration: dict | None = None,
               accuracy_check: Any = None) -> Path:
    """Build the int8 model, check it against the float32 one, write both files atomically.

    The manifest (``<model>.json``, the format of ``models.mobilenet_tflite``)
    also records the calibration images, the check's errors, the bars and
    ``passed_check``; ``runtime="auto"`` takes the model only when it passed.

    Args:
        weights: The frozen graph ``.pb``.
        dest: Output path (default :func:`int8_path` of ``weights``).
        expected_sha256: If given, the ``.pb`` must have this SHA-256.
        image_dir: Folder of :data:`CALIBRATION_IMAGES` (default ``images/``).
        plain: Build plain post-training quantization instead (every layer
            int8, no rewrite, no bias correction; same calibration inputs),
            for ``benchmarks/bench_int8.py --plain``; never the default model.
        batches: Calibration inputs (default: :func:`calibration_batches` of
            the sample images in ``image_dir``).
        calibration: What ``batches`` are, for the manifest (required with ``batches``).
        accuracy_check: Optional callable, int8 model bytes -> dict with a
            boolean ``"passed"`` (e.g. dev AP against float32); recorded in
            the manifest and required for ``passed_check``.

    Returns:
        The path of the written model.

    Raises:
        FileNotFoundError, ValueError: missing / corrupt graph or calibration images.
    """
    import hashlib
    import json

    import tensorflow as tf

    from models import mobilenet_tflite as mtl
    from models.mobilenet_thin import file_sha256

    weights = Path(weights)
    dest = Path(dest) if dest is not None else int8_path(weights)
    if batches is None:
        batches = calibration_batches(image_dir)
        calibration = {"images": list(CALIBRATION_IMAGES), "sides": list(CALIBRATION_SIDES),
                       "inputs": len(batches)}
    elif calibration is None:
        raise ValueError("calibration must describe the batches passed")
    if plain:
        data, reference = convert_int8(weights, expected_sha256, batches, float_nodes=(),
                                       correct=False, rewrite=False)
    else:
        data, reference = convert_int8(weights, expected_sha256, batches)
    errors = map_errors(data, reference, batches[::3])  # every third view
    passed = errors["heatmap_mae"] <= MAX_HEATMAP_MAE and errors["paf_mae"] <= MAX_PAF_MAE
    accuracy = accuracy_check(data) if accuracy_check is not None else None
    if accuracy is not None:
        passed = passed and bool(accuracy["passed"])
    manifest = {
        "format": mtl.MANIFEST_FORMAT,
        "source": weights.name,
        "source_sha256": file_sha256(weights),
        "tflite_sha256": hashlib.sha256(data).hexdigest(),
        "tensorflow": tf.__version__,
        "quantization": "int8 (per-channel weights, per-tensor activations; float outputs)",
        "recipe": "plain" if plain else RECIPE,
        "float_nodes": "none" if plain else "stage outputs and stage tails (layers 2-5)",
        "calibration": calibration,
        "check": errors,
        "bars": {"heatmap_mae": MAX_HEATMAP_MAE, "paf_mae": MAX_PAF_MAE},
        "accuracy": accuracy,
        "passed_check": passed,
    }
    mtl._write_atomic(data, dest)
    mtl._write_atomic((json.dumps(manifest, indent=2) + "\n").encode(), mtl.manifest_path(dest))
    return dest


def passed_check(path: str | os.PathLike[str]) -> bool:
    """Whether the int8 model's manifest says it passed its accuracy check (False if unreadable)."""
    import json

    from models.mobilenet_tflite import manifest_path

    try:
        manifest = json.loads(manifest_path(path).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("passed_check") is True


#: Graph nodes whose biases :func:`correct_biases` adjusts: the maps of each stage.
STAGE_OUTPUTS = tuple(f"Openpose/MConv_Stage{stage}_L{branch}_5_pointwise/BatchNorm/FusedBatchNorm"
                      for stage in (*REFINED_STAGES, 6) for branch in (1, 2))


def _run_all(content: bytes, batch: np.ndarray) -> Any:
    """An interpreter (reference kernels, all tensors kept) after one run on ``batch``."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(
        model_content=content, experimental_preserve_all_tensors=True,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interpreter.resize_tensor_input(0, batch.shape, strict=True)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], batch)
    interpreter.invoke()
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
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    targets = {}
    for batch in batches:
        interpreter = _run_all(reference, batch)
        where = _conv_outputs(interpreter, nodes)
        for node in nodes:
            targets[node] = targets.get(node, 0) + _channel_means(interpreter, where[node][1])
    model = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
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
        builder = flatbuffers.Builder(len(data) + 1024)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        data = bytes(builder.Output())
    return data


def is_current(path: str | os.PathLike[str], source_sha256: str) -> bool:
    """Whether the int8 model at ``path`` is intact, from ``source_sha256`` and of :data:`RECIPE`."""
    import json

    from models import mobilenet_tflite as mtl

    if not mtl.is_current(path, source_sha256):
        return False
    try:
        manifest = json.loads(mtl.manifest_path(path).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("recipe") == RECIPE
