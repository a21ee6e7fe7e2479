"""``mobilenet_thin`` on the TensorFlow Lite interpreter (XNNPACK), the fast CPU runtime.

The frozen graph ``graph_opt.pb`` is converted once, at set-up time, by
``posekit-fetch`` (:func:`posekit.apps.fetch.convert`; ``make setup`` runs it) into
``model_weights/mobilenet_thin/graph_opt.tflite`` plus a small manifest
``graph_opt.tflite.json`` (SHA-256 of the source graph and of the converted
file, TensorFlow version). The conversion is plain float32 (no quantisation):
the graph's ``image:0`` -> ``Openpose/concat_stage7:0`` path, pruned and
converted with a fully dynamic ``(None, None, None, 3)`` input, so any padded
size can be fed. Nothing is downloaded and nothing is converted at run time.

At run time :class:`MobilenetThinTFLite` has the same call contract as
``posekit.networks.mobilenet_thin.MobilenetThin`` (float32 BGR 0..255 batch in, 57
channels out). It keeps one interpreter per input shape, up to
``max_shapes`` of them (least recently used dropped first), each sized
(``resize_tensor_input`` then ``allocate_tensors``, which re-plans every
XNNPACK operator) once, so a folder of mixed sizes pays that set-up once per
padded shape, not at every change of size; :attr:`reshapes` counts the
set-ups. The interpreter comes from the ``ai_edge_litert`` package when
it is installed, else from TensorFlow's own ``tf.lite.Interpreter``; both
apply the XNNPACK delegate to the float model. ``num_threads`` defaults to
the number of CPU cores this process may use.

Before loading, the manifest is checked against the converted file and the
source graph (a stale or corrupt conversion raises ``ValueError`` naming the
file and the command that regenerates it; a missing one raises
``FileNotFoundError`` the same way).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from posekit.extras import require
from posekit.io.atomic import write_group
from posekit.networks.mobilenet_thin import (
    INPUT_TENSOR,
    NUM_CHANNELS,
    OUTPUT_TENSOR,
    file_sha256,
    load_graph_def,
)

#: Suffix of the converted model, next to its source ``.pb``.
TFLITE_SUFFIX = ".tflite"
#: Suffix appended to the converted model's name for its manifest.
MANIFEST_SUFFIX = ".json"
#: Format tag written into (and required from) the manifest.
MANIFEST_FORMAT = "openpose-lab/tflite-conversion/1"

#: Interpreters kept per model, one per input shape: the 8 commonest padded shapes cover 85 %
#: of the COCO dev images (32-px buckets); each holds its own arena (docs/records/int8.md).
DEFAULT_MAX_SHAPES = 8
#: Input pixels of all kept shapes together: an arena is about 50-80 MB at 480x640, so this
#: (8 such shapes) bounds the interpreters' memory however large the images are.
MAX_CACHED_PIXELS = 8 * 480 * 640

REGENERATE = ("regenerate it from the frozen graph: `posekit-fetch` (in a checkout: `make "
              "assets`) for float32, `make int8` in a checkout for int8")


def converted_path(weights: str | os.PathLike[str]) -> Path:
    """Where the converted model of a frozen graph lives: same name, ``.tflite`` suffix."""
    return Path(weights).with_suffix(TFLITE_SUFFIX)


def manifest_path(tflite_path: str | os.PathLike[str]) -> Path:
    """The manifest of a converted model: ``<name>.tflite.json``."""
    tflite_path = Path(tflite_path)
    return tflite_path.with_name(tflite_path.name + MANIFEST_SUFFIX)


def concrete_network(graph_def: Any) -> Any:
    """The graph's ``image:0`` -> ``Openpose/concat_stage7:0`` path as a ``tf.function``.

    Args:
        graph_def: A ``mobilenet_thin`` GraphDef (as from ``load_graph_def``).

    Returns:
        A ``tf.function`` with one ``(None, None, None, 3)`` float32 input named ``image``.
    """
    require("tensorflow", "converting a frozen graph to TFLite")
    import tensorflow as tf

    def import_graph() -> None:
        tf.compat.v1.import_graph_def(graph_def, name="")

    wrapped = tf.compat.v1.wrap_function(import_graph, [])
    pruned = wrapped.prune(wrapped.graph.get_tensor_by_name(INPUT_TENSOR),
                           wrapped.graph.get_tensor_by_name(OUTPUT_TENSOR))

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32,
                                                name="image")])
    def network(image: Any) -> Any:
        return pruned(image)

    return network


def convert_frozen_graph(weights: str | os.PathLike[str],
                         expected_sha256: str | None = None) -> bytes:
    """Convert the ``mobilenet_thin`` frozen graph to a float32 TFLite flatbuffer.

    Args:
        weights: The frozen graph ``.pb``.
        expected_sha256: If given, the ``.pb`` must have this SHA-256.

    Returns:
        The ``.tflite`` file content: one input ``(-1, -1, -1, 3)`` float32
        (raw BGR 0..255), one output ``(-1, -1, -1, 57)`` float32.

    Raises:
        FileNotFoundError, ValueError: as ``posekit.networks.mobilenet_thin.load_graph_def``.
    """
    require("tensorflow", "converting a frozen graph to TFLite")
    import tensorflow as tf

    network = concrete_network(load_graph_def(weights, expected_sha256))
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [network.get_concrete_function()], network)
    converter.optimizations = []  # float32 as is: outputs must match TensorFlow's
    return converter.convert()


def write_model(dest: Path, data: bytes, manifest: dict) -> None:
    """Write a converted model and its manifest together: both appear, or neither does.

    Raises:
        ValueError: ``dest`` or its manifest's path is a link or a folder.
        OSError: the write failed (nothing is replaced).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    write_group([(dest, data), (manifest_path(dest),
                                (json.dumps(manifest, indent=2) + "\n").encode())], durable=True)


def write_converted(weights: str | os.PathLike[str], dest: str | os.PathLike[str] | None = None,
                    expected_sha256: str | None = None) -> Path:
    """Convert ``weights`` and write the model and its manifest atomically.

    Each file is written to a temporary name and renamed; the model first,
    then its manifest. A reader checks the model's hash against the manifest,
    so an interrupted run leaves either a consistent pair or one that fails
    verification with a clear message (never a silently wrong model).

    Args:
        weights: The frozen graph ``.pb``.
        dest: Output ``.tflite`` path (default :func:`converted_path` of ``weights``).
        expected_sha256: If given, the ``.pb`` must have this SHA-256.

    Returns:
        The path of the written ``.tflite``.
    """
    require("tensorflow", "converting a frozen graph to TFLite")
    import tensorflow as tf

    weights = Path(weights)
    dest = Path(dest) if dest is not None else converted_path(weights)
    data = convert_frozen_graph(weights, expected_sha256)
    manifest = {
        "format": MANIFEST_FORMAT,
        "source": weights.name,
        "source_sha256": file_sha256(weights),
        "tflite_sha256": hashlib.sha256(data).hexdigest(),
        "tensorflow": tf.__version__,
    }
    write_model(dest, data, manifest)
    return dest


def is_current(tflite_path: str | os.PathLike[str], source_sha256: str) -> bool:
    """Whether ``tflite_path`` exists, matches its manifest and was made from ``source_sha256``."""
    try:
        read_verified(tflite_path, source_sha256)
    except (OSError, ValueError):
        return False
    return True


def read_verified(tflite_path: str | os.PathLike[str], source_sha256: str | None) -> bytes:
    """Read a converted model after checking it against its manifest.

    Args:
        tflite_path: The ``.tflite`` file.
        source_sha256: SHA-256 the source graph must have had (None: not checked).

    Returns:
        The model bytes.

    Raises:
        FileNotFoundError: The model or its manifest is missing.
        ValueError: Unreadable manifest, hash mismatch (corrupt file) or a
            model converted from another graph (stale); the message names
            the file and how to regenerate it.
    """
    tflite_path = Path(tflite_path)
    manifest_file = manifest_path(tflite_path)
    for path in (tflite_path, manifest_file):
        if not path.is_file():
            raise FileNotFoundError(f"converted mobilenet_thin model {path} not found: "
                                    f"{REGENERATE}.")
    try:
        manifest = json.loads(manifest_file.read_text())
        if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
            raise ValueError(f"format is not {MANIFEST_FORMAT!r}")
        expected_model = str(manifest["tflite_sha256"])
        converted_from = str(manifest["source_sha256"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise ValueError(f"manifest {manifest_file} of the converted model is unreadable "
                         f"({exc}): {REGENERATE}.") from exc
    data = tflite_path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_model:
        raise ValueError(f"converted mobilenet_thin model {tflite_path} is corrupt (SHA-256 "
                         f"{actual}, its manifest says {expected_model}): {REGENERATE}.")
    if source_sha256 is not None and converted_from != source_sha256.lower():
        raise ValueError(f"converted mobilenet_thin model {tflite_path} is stale: it was "
                         f"converted from a graph with SHA-256 {converted_from}, the graph "
                         f"now is {source_sha256.lower()}: {REGENERATE}.")
    return data


def interpreter_class() -> Any:
    """The TFLite interpreter class: ``ai_edge_litert``'s if installed, else TensorFlow's.

    Raises:
        ImportError: Neither is importable (the message names the package to install).
    """
    try:
        from ai_edge_litert.interpreter import Interpreter
        return Interpreter
    except ImportError:
        pass
    try:
        import tensorflow as tf
    except ImportError:
        raise ImportError("no TFLite interpreter is installed: pip install ai-edge-litert "
                          "(a dependency of posekit)") from None
    return tf.lite.Interpreter


def invoke(interpreter: Any, batch: np.ndarray) -> np.ndarray:
    """Run ``interpreter`` once on ``batch``, resized to its shape.

    Args:
        interpreter: A TFLite interpreter with one input and one output.
        batch: float32 ``(1, H, W, 3)`` input.

    Returns:
        The output tensor (a copy).
    """
    interpreter.resize_tensor_input(0, batch.shape, strict=True)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], batch)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def available() -> bool:
    """Whether a TFLite interpreter can be imported (without importing it)."""
    import importlib.util

    return any(importlib.util.find_spec(name) is not None
               for name in ("ai_edge_litert", "tensorflow"))


def default_num_threads() -> int:
    """CPU cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class MobilenetThinTFLite:
    """The converted ``mobilenet_thin`` on a TFLite interpreter.

    Attributes:
        path: The ``.tflite`` file.
        num_threads: Interpreter threads.
        interpreter: ``"ai_edge_litert"`` or ``"tf.lite"``: whose interpreter runs it.
        calls: Completed calls.
        reshapes: Times the input was resized (and tensors re-allocated):
            1 after any number of calls with one shape.
        reshape_seconds: Seconds spent in those resizes (``resize_tensor_input``
            plus ``allocate_tensors``), all together.
    """

    def __init__(self, path: str | os.PathLike[str], source_sha256: str | None = None,
                 num_threads: int | None = None, max_shapes: int = DEFAULT_MAX_SHAPES) -> None:
        """Load and check a converted model.

        Args:
            path: The ``.tflite`` file (with its manifest beside it).
            source_sha256: SHA-256 its source graph must have had (None: not checked).
            num_threads: Interpreter threads; None: :func:`default_num_threads`.
            max_shapes: Interpreters kept, one per input shape (at least 1); the
                least recently used go first, also while the kept shapes
                hold more than :data:`MAX_CACHED_PIXELS` input pixels.

        Raises:
            FileNotFoundError: Model or manifest missing.
            ValueError: Corrupt, stale or not the ``mobilenet_thin`` model,
                ``num_threads`` < 1 or ``max_shapes`` < 1.
            ImportError: No TFLite interpreter is installed.
        """
        self.path = Path(path)
        if num_threads is None:
            num_threads = default_num_threads()
        if not isinstance(num_threads, int) or num_threads < 1:
            raise ValueError(f"num_threads must be a positive integer or None, got {num_threads!r}")
        if not isinstance(max_shapes, int) or max_shapes < 1:
            raise ValueError(f"max_shapes must be a positive integer, got {max_shapes!r}")
        data = read_verified(self.path, source_sha256)
        self._data = data
        self.num_threads = num_threads
        interpreter = self._new_interpreter()
        inputs = interpreter.get_input_details()
        outputs = interpreter.get_output_details()
        if (len(inputs) != 1 or len(outputs) != 1 or inputs[0]["dtype"] != np.float32
                or len(inputs[0]["shape_signature"]) != 4 or inputs[0]["shape_signature"][-1] != 3
                or outputs[0]["shape_signature"][-1] != NUM_CHANNELS):
            raise ValueError(f"{self.path} is not the converted mobilenet_thin model (inputs "
                             f"{[tuple(i['shape_signature']) for i in inputs]}, outputs "
                             f"{[tuple(o['shape_signature']) for o in outputs]}): {REGENERATE}.")
        self.interpreter = "ai_edge_litert" if type(interpreter).__module__.startswith(
            "ai_edge_litert") else "tf.lite"
        self.max_shapes = max_shapes
        self.calls = 0
        self.reshapes = 0
        self.reshape_seconds = 0.0
        self._spare: Any = interpreter  # sized by the first call
        self._interpreters: OrderedDict[tuple[int, ...], Any] = OrderedDict()
        self._input = inputs[0]["index"]
        self._output = outputs[0]["index"]
        self._shape: tuple[int, ...] | None = None
        self._closed = False
        self._lock = threading.Lock()

    def _new_interpreter(self) -> Any:
        """A fresh interpreter on the model (not yet sized)."""
        cls = interpreter_class()
        with warnings.catch_warnings():
            # TF 2.19's tf.lite.Interpreter warns that it moves to ai_edge_litert in TF 2.20.
            warnings.filterwarnings("ignore", message=r"(?s).*tf\.lite\.Interpreter is deprecated")
            try:
                return cls(model_content=self._data, num_threads=self.num_threads)
            except (ValueError, RuntimeError) as exc:
                raise ValueError(f"converted mobilenet_thin model {self.path} cannot be loaded "
                                 f"({exc}): {REGENERATE}.") from exc

    @property
    def shapes(self) -> tuple[tuple[int, ...], ...]:
        """Input shapes with a sized interpreter, least recently used first."""
        return tuple(self._interpreters)

    def _interpreter_for(self, shape: tuple[int, ...]) -> Any:
        """The interpreter sized for ``shape`` (set up on first use; caller holds the lock)."""
        interpreter = self._interpreters.get(shape)
        if interpreter is not None:
            self._interpreters.move_to_end(shape)
            return interpreter
        pixels = shape[1] * shape[2]
        while self._interpreters and (
                len(self._interpreters) >= self.max_shapes
                or pixels + sum(s[1] * s[2] for s in self._interpreters) > MAX_CACHED_PIXELS):
            self._interpreters.popitem(last=False)
        interpreter, self._spare = (self._spare, None) if self._spare is not None else (
            self._new_interpreter(), None)
        start = time.perf_counter()
        interpreter.resize_tensor_input(self._input, shape, strict=True)
        interpreter.allocate_tensors()
        self.reshape_seconds += time.perf_counter() - start
        self.reshapes += 1
        self._interpreters[shape] = interpreter
        return interpreter

    @property
    def input_shape(self) -> tuple[int, ...] | None:
        """The batch shape the interpreter is currently allocated for."""
        return self._shape

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """Run the network (same contract as ``MobilenetThin.__call__``).

        Args:
            images: float32 ``(N, H, W, 3)`` BGR batch, values 0..255 (other
                real dtypes are cast).

        Returns:
            float32 ``(N, ceil(H/8), ceil(W/8), 57)``: heatmaps then PAFs.

        Raises:
            ValueError: ``images`` is not a 4-D batch with 3 channels.
            RuntimeError: The network was closed.
        """
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"expected a (N, H, W, 3) batch, got shape {images.shape}")
        batch = np.ascontiguousarray(images, dtype=np.float32)
        with self._lock:
            if self._closed:
                raise RuntimeError("MobilenetThinTFLite network was closed")
            interpreter = self._interpreter_for(tuple(int(n) for n in batch.shape))
            self._shape = batch.shape
            interpreter.set_tensor(self._input, batch)
            interpreter.invoke()
            out = interpreter.get_tensor(self._output)  # a copy
            self.calls += 1
        return out

    def close(self) -> None:
        """Release the interpreters (further calls raise RuntimeError)."""
        with self._lock:
            self._closed = True
            self._interpreters.clear()
            self._spare = None
            self._shape = None

    def __enter__(self) -> MobilenetThinTFLite:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"MobilenetThinTFLite(path={str(self.path)!r}, num_threads={self.num_threads}, "
                f"interpreter={self.interpreter!r})")
