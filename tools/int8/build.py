"""int8 ``mobilenet_thin`` for TFLite: an exact weight rewrite, then post-training quantization.

The recipe (:data:`RECIPE`), applied by :func:`convert_int8`: an exact rewrite
of the float weights (:func:`prepared_graph`: stage maps rescaled inside the
concatenations, 1x1 depthwise layers folded, channel ranges equalised, within
chains and across the concatenations' inputs), then
TFLite's post-training quantization (per-channel int8 weights, per-tensor int8
activations) with the cheap tail of every stage and the backbone's first
layers kept float (:func:`float_nodes_list`: layers 2-5 of each stage branch,
about 5 % of the arithmetic, and ``Conv2d_1`` to ``Conv2d_4``), then
:func:`correct_biases` on the stage outputs, then (given
training images) quantization-aware fine-tuning of the weights with every
scale kept (``tools.int8.qat``), then the converter's requantizations that
change no value are dropped (``tools.int8.tidy``). The model takes float32 BGR 0..255 and
returns float32 maps, like the float32 model.

The shipped model is built by ``tools/int8/build_int8.py`` (``make int8``),
calibrated on dev images (:func:`dev_calibration_batches`), and committed with
its manifest; :func:`calibration_batches` (the sample images) serves builds
without the dev set. Why each step, and what each measured, is in
``docs/records/int8.md``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from estimation.config import NUM_HEATMAPS
from tools.int8.bias import STAGE_OUTPUTS, correct_biases  # noqa: F401  (re-exported)
from tools.int8.calibration import (CALIBRATION_IMAGES, CALIBRATION_SIDES,  # noqa: F401
                                     calibration_batches, dev_calibration_batches)
from tools.int8.rewrite import (BELIEF_SCALE, EQUALIZE_CLIP, REFINED_STAGES,  # noqa: F401
                                 _consts, _get, _set, channel_ranges, depthwise_pairs,
                                 depthwise_ranges, equalize_depthwise, equalize_pointwise,
                                 fold_1x1_depthwise, pointwise_chains, prepared_graph,
                                 rescale_beliefs)
from tools.int8.tidy import drop_identity_requantizations
from posekit.networks.int8_model import (INT8_SUFFIX, RECIPE, UNTRAINED_RECIPE,  # noqa: F401
                                        int8_path, is_current, passed_check)
from posekit.networks.mobilenet_thin import load_graph_def

#: Longest side of the calibration inputs used for bias correction (it runs TFLite's
#: reference kernels, stage by stage: the 368-px views keep it to seconds).
BIAS_CORRECTION_SIDE = 368
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
#: 0.275 on 100 images) for about 9 % more time (docs/records/int8.md).
STAGE_TAIL_PATTERN = r"^Openpose/MConv_Stage\d_L\d_[2345]_"
#: Graph nodes of the backbone layers ``Conv2d_1`` to ``Conv2d_4`` (after the first), kept
#: float: the layers whose int8 weights carried most of the remaining map error (map
#: loss /5 on held-out views, dev AP +0.03) for about 4-5 % more time (docs/records/int8.md).
EARLY_BACKBONE_PATTERN = r"^MobilenetV1/Conv2d_[1-4]_"
#: Every float layer of the recipe beyond :data:`FLOAT_NODES`.
FLOAT_PATTERN = STAGE_TAIL_PATTERN + "|" + EARLY_BACKBONE_PATTERN


def convert_int8(weights: str | os.PathLike[str], expected_sha256: str | None = None,
                 batches: Sequence[np.ndarray] | None = None,
                 belief_scale: float = BELIEF_SCALE,
                 float_nodes: Sequence[str] | None = None,
                 correct: bool = True, rewrite: bool = True,
                 float_pattern: str | None = FLOAT_PATTERN,
                 train_images: Sequence[str | os.PathLike[str]] = (),
                 fine_tune: Any = None) -> tuple[bytes, bytes]:
    """Build the int8 TFLite model (float32 input and output) and its float32 twin.

    Args:
        weights: The frozen graph ``.pb``.
        expected_sha256: If given, the ``.pb`` must have this SHA-256.
        batches: Calibration inputs (default :func:`calibration_batches`).
        belief_scale: Factor of :func:`rescale_beliefs`.
        float_nodes: Graph nodes kept float (None: :func:`float_nodes_list` with
            ``float_pattern``; empty: everything int8).
        float_pattern: Node-name pattern of the float layers beyond
            :data:`FLOAT_NODES` when ``float_nodes`` is None (None: none).
        correct: Apply :func:`correct_biases` (on the inputs of at most
            :data:`BIAS_CORRECTION_SIDE` pixels).
        rewrite: Apply the exact weight rewrite of :func:`prepared_graph`
            first, and drop the requantizations that change no value last
            (:func:`tools.int8.tidy.drop_identity_requantizations`).
            ``rewrite=False, float_nodes=(), correct=False`` is plain
            post-training quantization (the issue's first probe), kept to
            measure its speed and error against this recipe.
        train_images: Images of the quantization-aware fine-tuning, last
            (``tools.int8.qat.fine_tune``); empty: none (recipe 7, :data:`UNTRAINED_RECIPE`).
        fine_tune: ``tools.int8.qat.FineTune`` settings (None: the defaults).

    Returns:
        ``(int8 model, float32 model of the rewritten graph)`` as ``.tflite``
        contents; both take ``(-1, -1, -1, 3)`` float32 BGR 0..255 and
        return ``(-1, -1, -1, 57)`` float32. The float32 twin computes the
        original network's maps within 1e-5.

    Raises:
        FileNotFoundError, ValueError: missing / corrupt graph or calibration images.
    """
    import tensorflow as tf

    from posekit.networks.mobilenet_tflite import concrete_network

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
        float_nodes = float_nodes_list(reference, float_pattern)
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
    if train_images:
        from tools.int8 import qat as int8_qat

        data = int8_qat.fine_tune(data, reference, list(train_images),
                                  fine_tune if fine_tune is not None else int8_qat.FineTune())
    if rewrite:
        data, _ = drop_identity_requantizations(data)
    return data, reference


def _tflite_tensor_names(model: bytes, nodes: Sequence[str]) -> list[str]:
    """Full names of the tensors of TFLite ``model`` produced by graph ``nodes``.

    The converter names a tensor after all the graph nodes fused into it,
    joined by ``;``; a node matches the tensors whose first name it is.

    Raises:
        ValueError: A node matches no tensor.
    """
    from posekit.networks.mobilenet_tflite import interpreter_class

    details = interpreter_class()(model_content=model).get_tensor_details()
    names = []
    for node in nodes:
        found = [d["name"] for d in details if d["name"].split(";")[0] == node]
        if not found:
            raise ValueError(f"no converted tensor comes from graph node {node!r}")
        names += found
    return names


def float_nodes_list(reference: bytes, pattern: str | None = FLOAT_PATTERN) -> list[str]:
    """Graph nodes kept float: :data:`FLOAT_NODES` plus those whose name matches ``pattern``.

    Args:
        reference: The float32 TFLite model of the rewritten graph (its tensor
            names carry the graph node names).
        pattern: Regular expression searched in each node name (default: the
            stage tails and the early backbone, :data:`FLOAT_PATTERN`); None:
            :data:`FLOAT_NODES` only.

    Returns:
        Node names, :data:`FLOAT_NODES` first.
    """
    import re

    from posekit.networks.mobilenet_tflite import interpreter_class

    names = list(FLOAT_NODES)
    if pattern is not None:
        details = interpreter_class()(model_content=reference).get_tensor_details()
        found = sorted({d["name"].split(";")[0] for d in details
                        if re.search(pattern, d["name"].split(";")[0])})
        names += [name for name in found if name not in names]
    return names


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
    from posekit.networks.mobilenet_tflite import interpreter_class, invoke

    cls = interpreter_class()
    totals = np.zeros(2)
    for batch in batches:
        outs = [invoke(cls(model_content=content), batch) for content in (data, reference)]
        diff = np.abs(outs[0] - outs[1])
        totals += (diff[..., :NUM_HEATMAPS - 1].mean(), diff[..., NUM_HEATMAPS:].mean())
    heatmap, paf = totals / max(1, len(batches))
    return {"heatmap_mae": float(heatmap), "paf_mae": float(paf)}


def write_int8(weights: str | os.PathLike[str], dest: str | os.PathLike[str] | None = None,
               expected_sha256: str | None = None,
               image_dir: str | os.PathLike[str] | None = None, plain: bool = False,
               batches: Sequence[np.ndarray] | None = None, calibration: dict | None = None,
               accuracy_check: Any = None, train_images: Sequence[str | os.PathLike[str]] = (),
               training: dict | None = None, fine_tune: Any = None) -> Path:
    """Build the int8 model, check it against the float32 one, write both files atomically.

    The manifest (``<model>.json``, the format of ``posekit.networks.mobilenet_tflite``)
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
        train_images: Images of the quantization-aware fine-tuning (default
            none: recipe 7, :data:`UNTRAINED_RECIPE`; ``tools/int8/build_int8.py`` passes dev images).
        training: What ``train_images`` are, for the manifest (required with them;
            the settings of ``fine_tune`` are added to it).
        fine_tune: ``tools.int8.qat.FineTune`` settings (None: the defaults).

    Returns:
        The path of the written model.

    Raises:
        FileNotFoundError, ValueError: missing / corrupt graph or calibration images.
    """
    import hashlib
    import json

    import tensorflow as tf

    from posekit.networks import mobilenet_tflite as mtl
    from posekit.networks.mobilenet_thin import file_sha256

    weights = Path(weights)
    dest = Path(dest) if dest is not None else int8_path(weights)
    if batches is None:
        batches = calibration_batches(image_dir)
        calibration = {"images": list(CALIBRATION_IMAGES), "sides": list(CALIBRATION_SIDES),
                       "inputs": len(batches)}
    elif calibration is None:
        raise ValueError("calibration must describe the batches passed")
    if train_images and training is None:
        raise ValueError("training must describe the train_images passed")
    if plain:
        data, reference = convert_int8(weights, expected_sha256, batches, float_nodes=(),
                                       correct=False, rewrite=False)
    else:
        if train_images:
            from dataclasses import asdict

            from tools.int8 import qat as int8_qat

            fine_tune = fine_tune if fine_tune is not None else int8_qat.FineTune()
            training = {**training, **asdict(fine_tune)}
        data, reference = convert_int8(weights, expected_sha256, batches,
                                       train_images=train_images, fine_tune=fine_tune)
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
        "recipe": "plain" if plain else (RECIPE if train_images else UNTRAINED_RECIPE),
        "float_nodes": "none" if plain else ("stage outputs, stage tails (layers 2-5) and "
                                              "backbone layers Conv2d_1 to Conv2d_4"),
        "calibration": calibration,
        "fine_tuning": training if train_images and not plain else None,
        "check": errors,
        "bars": {"heatmap_mae": MAX_HEATMAP_MAE, "paf_mae": MAX_PAF_MAE},
        "accuracy": accuracy,
        "passed_check": passed,
    }
    mtl.write_model(dest, data, manifest)
    return dest
