"""The network interface: a padded image in, stride-8 heatmaps and PAFs out, for any back-end.

:class:`PoseNetwork` wraps a back-end; :func:`infer` pads an image at the
bottom and right with mid-grey up to a multiple of ``bucket`` pixels, runs it,
and crops the maps to ``ceil(H / 8) x ceil(W / 8)`` cells (cell ``(i, j)``
covers pixels ``[8i, 8i + 8) x [8j, 8j + 8)``). Why padding and buckets, and
what they cost: docs/inference.md.
"""

from __future__ import annotations

import math
import sys
import weakref
from typing import Any, Callable

import numpy as np

from posekit.extras import require

from posekit.lab.config import NUM_HEATMAPS, NUM_PAFS, STRIDE

#: Default bucket: padded sizes are multiples of this many pixels (docs/inference.md, "Buckets").
DEFAULT_BUCKET = 32
#: Pad value (all three channels): exactly 0 after the VGG's ``x / 256 - 0.5``.
PAD_VALUE = 128
#: Index of the last-stage PAFs / heatmaps in the VGG model's 12 outputs.
VGG_PAF_INDEX = 10
VGG_HEATMAP_INDEX = 11

#: Largest image the network takes, in pixels (16 megapixels, 4000 x 4000): the
#: network's activations grow with the area (about 0.26 GB per megapixel with
#: mobilenet_thin on TFLite). Measured worst case: docs/limits.md.
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
    check_bucket(bucket)
    return math.ceil(height / bucket) * bucket, math.ceil(width / bucket) * bucket


def check_bucket(bucket: int) -> None:
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
        check_bucket(bucket)
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
        background; PAF channels are as in ``posekit.lab.config``.

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
    from posekit.networks.mobilenet_thin import MobilenetThin
    from posekit.networks.mobilenet_tflite import MobilenetThinTFLite

    if isinstance(model, MobilenetThin):
        return PoseNetwork("mobilenet_thin", mobilenet_backend(model), model,
                           runtime="tensorflow")
    if isinstance(model, MobilenetThinTFLite):
        return PoseNetwork("mobilenet_thin", mobilenet_backend(model), model, runtime="tflite")
    return wrap_openpose_model(model)


def mobilenet_backend(model: Any) -> Backend:
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
    10 and heatmaps ``(N, H/8, W/8, 19)`` at index 11 (``posekit.networks.lab_vgg``'s
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
        require("tensorflow", "a Keras network")
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
