"""The pose pipeline as a library: image in, people out, with the time of each stage.

``PoseEstimator`` holds a loaded network (``models``) and a decoder
(``estimation``); calling it on a ``(H, W, 3)`` uint8 image (BGR, or RGB with
``color="rgb"``) returns a frozen :class:`~posekit.results.PoseResult`
(:class:`~posekit.results.Person` records in original pixels, the maps, the
stage times). Constructed without a network it loads the default one
(``mobilenet_thin``, fastest runtime) on its first call::

    from posekit import PoseEstimator
    result = PoseEstimator()(image)
    result.people[0].to_json()     # {"keypoints": {"nose": [x, y, score], ...}, "score", ...}
    result.scores                  # (K,) confidences in [0, 1]; conf=0.5 keeps those >= 0.5
    result.keypoints               # (K, 18, 3) x, y, score
    result.plot()                  # a drawn copy of the image

``posekit.PoseEstimator`` is :class:`posekit.estimator.PoseEstimator`, this class taking
paths, PIL images, lists, folders and videos too, with ``track`` (``docs/library.md``).

Errors are exceptions (``ValueError`` for bad arguments, weights or images);
the command-line tools turn them into their one-line messages.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Optional, Tuple

import numpy as np

from posekit.decode.confidence import calibration, check_conf
from posekit.lab.config import STRIDE, PoseConfig, get_default_configuration
from posekit.decode.registry import THRESHOLD_NAMES, get_decoder
from posekit.io.export import skeleton_keypoints

from posekit.io import images as imageio
from posekit.results import PoseResult, check_color, make_result

logger = logging.getLogger(__name__)

from posekit.paths import ROOT  # noqa: E402
from posekit.extras import MissingExtra  # noqa: E402
#: Longest image side fed to the network by default (larger images are downscaled):
#: COCO's size, where the decoder was tuned; at full resolution bus.jpg's people
#: (~800 px tall) fall apart into 14 fragments, at 640 px they are 4 whole people.
DEFAULT_MAX_SIDE = 640
STAGES = ("network", "peaks", "connections", "grouping")
#: Default ``conf``: people with a lower confidence are left out. 0: every person the
#: decoder keeps (its own pruning, ``min_person_score``, already drops the weakest); any
#: higher value lowered dev AP (docs/records/confidence.md).
DEFAULT_CONF = 0.0
#: Default ``kpt_conf``: keypoints scored lower are hidden. 0: every keypoint found
#: (hiding any lowered dev AP: a guess near the truth still counts in COCO's OKS).
DEFAULT_KPT_CONF = 0.0
#: Smallest side the network takes (one stride-8 cell).
MIN_SIDE = STRIDE


# --- grouping thresholds -------------------------------------------------------------------

@dataclass(frozen=True)
class Threshold:
    """A common grouping threshold exposed as a flag (each decoder maps it to its own field)."""

    dest: str
    type: type
    help: str


THRESHOLDS = (
    Threshold("peak_threshold", float,
              "a heatmap peak must exceed this value to become a keypoint candidate"),
    Threshold("paf_threshold", float,
              "a PAF sample along a candidate limb supports the limb when its projection on "
              "the limb exceeds this"),
    Threshold("min_parts", int, "people with fewer keypoints are dropped"),
    Threshold("min_score", float,
              "people whose mean score per keypoint is lower are dropped (best: mean heatmap "
              "peak; lab, handout: person score / keypoints, limb scores included)"),
)
assert tuple(t.dest for t in THRESHOLDS) == THRESHOLD_NAMES


def decoder_defaults(decoder: str) -> Dict[str, float]:
    """Default of every threshold flag ``decoder`` has, read from its parameters.

    Raises:
        ValueError: unknown decoder.
    """
    return get_decoder(decoder).defaults()


Decode = Callable[[np.ndarray, np.ndarray, Dict[str, float]], Tuple[dict, np.ndarray]]


def make_decoder(name: str, overrides: Optional[Dict[str, float]] = None) -> Decode:
    """A ``(heatmaps, pafs, timings) -> (coords, skeletons)`` function.

    Args:
        name: a key of ``posekit.decode.registry.DECODERS`` (``"best"``, ``"lab"``, ...).
        overrides: threshold values by flag name (``peak_threshold``, ...);
            missing or None keeps the decoder's default.

    Raises:
        ValueError: unknown decoder name, an unknown threshold name in
            ``overrides`` (a typo must not fall back to the default), or one
            the decoder lacks.
    """
    entry = get_decoder(name)
    params = entry.make_params(overrides)
    return lambda hm, pf, timings: entry(hm, pf, params, timings=timings)


# --- one image -----------------------------------------------------------------------------

class PoseEstimator:
    """A loaded network plus a decoder: image in, people out; nothing is rebuilt per call.

    Safe to call from several threads: the network (loaded once, on the first
    call when none is given) runs one image at a time under a lock, the
    grouping of each image runs in its caller's thread. Nothing process-wide
    (standard error, signals) is touched.
    """

    def __init__(self, network: Optional[object] = None, decoder: str = "best",
                 thresholds: Optional[Dict[str, float]] = None,
                 max_side: Optional[int] = DEFAULT_MAX_SIDE,
                 config: Optional[PoseConfig] = None, scale_aware: bool = True,
                 conf: float = DEFAULT_CONF, kpt_conf: float = DEFAULT_KPT_CONF) -> None:
        """Set up.

        Args:
            network: a network from ``posekit.networks.inference.load_network`` or
                :func:`load_pose_network` (or a model ``posekit.networks.inference.infer``
                wraps: ``MobilenetThin``, ``MobilenetThinTFLite``, a Keras or
                any model with ``predict``); None: the default network
                (``mobilenet_thin``, runtime ``auto``), loaded on the first call.
            decoder: a key of ``posekit.decode.registry.DECODERS`` (``"best"``, ``"lab"``).
            thresholds: threshold overrides by flag name (see :func:`make_decoder`).
            max_side: longer images are downscaled to this side first: None
                (never) or an integer >= 32 (``posekit.io.images.check_max_side``;
                numpy integers too).
            config: pose configuration (None: COCO-18).
            scale_aware: with the ``"best"`` decoder, run a second, half-size
                pass when the full-size one suggests a large person (a quarter
                of its work) and take large people from it
                (``posekit.decode.scales``); ignored by the other decoders and
                for a network that already averages scales (``accurate_network``).
            conf: default of each call's ``conf``: people whose confidence
                (``Person.score``, in [0, 1]) is under it are left out.
            kpt_conf: default of each call's ``kpt_conf``: keypoints scored under
                it are hidden (``PoseResult.filtered``).

        Raises:
            ValueError: a ``network`` that is none of those, an unknown decoder,
                ``thresholds`` not a mapping or with an unknown name or bad
                value, a bad ``max_side``, a ``config`` that is not a
                ``PoseConfig``, a ``scale_aware`` that is not a bool, ``conf`` or
                ``kpt_conf`` not in [0, 1] (each message names the argument).
        """
        check_network(network)
        if not isinstance(scale_aware, (bool, np.bool_)):
            raise ValueError(f"scale_aware must be a bool, got {scale_aware!r}")
        self.network = network
        self.conf = check_conf(conf, "conf")
        self.kpt_conf = check_conf(kpt_conf, "kpt_conf")
        self.decoder = decoder
        self.decode = make_decoder(decoder, thresholds)
        # A network that already averages several scales (accurate_network, which keeps the
        # one it wraps as ``base``) gets no second pass: --accurate stays as measured.
        self.scale_aware = (bool(scale_aware) and decoder == "best"
                            and getattr(network, "base", None) is None)
        #: The decoder's parameters the scale-aware path decodes with (``self.decode`` has
        #: its own copy: replace both to change them).
        self.params = get_decoder(decoder).make_params(thresholds)
        self.max_side = imageio.check_max_side(max_side)
        if config is not None and not isinstance(config, PoseConfig):
            raise ValueError(f"config must be an posekit.lab.config.PoseConfig or None, got "
                             f"{type(config).__name__}")
        self.config = config or get_default_configuration()
        self._lock = threading.Lock()

    def __call__(self, image: np.ndarray, color: str = "bgr", conf: Optional[float] = None,
                 kpt_conf: Optional[float] = None, *, half_size: bool = False) -> PoseResult:
        """Find the people in an image.

        Args:
            image: (H, W, 3) uint8, channels in ``color`` order.
            color: ``"bgr"`` (OpenCV's order, the default) or ``"rgb"``
                (Pillow's, matplotlib's).
            conf: people with a confidence under it are left out (None: the
                estimator's ``conf``); one equal to it is kept.
            kpt_conf: keypoints scored under it are hidden (None: the
                estimator's ``kpt_conf``).
            half_size: run the network once, on the image at half the size it would
                otherwise see (a quarter of the pixels, no second pass): for frames
                whose people are all large (``posekit.video.adaptive``); an image
                whose half would be under the network's minimum runs as usual.

        Returns:
            A :class:`posekit.results.PoseResult`: ``people`` (K records,
            keypoints (18, 3) in image pixels, ``score`` the confidence in
            [0, 1]), ``keypoints`` (K, 18, 3), ``plot()`` and the maps.

        Raises:
            ValueError: ``image`` is not a (H, W, 3) uint8 array, or it is
                (after downscaling) smaller than 8x8; an unknown ``color``;
                ``conf`` or ``kpt_conf`` not in [0, 1]; ``half_size`` not a bool; or
                the default network cannot be loaded.
        """
        check_color(color)
        if not isinstance(half_size, (bool, np.bool_)):
            raise ValueError(f"half_size must be a bool, got {half_size!r}")
        conf, kpt_conf = self.thresholds_of(conf, kpt_conf)
        if not (isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3
                and image.dtype == np.uint8):
            shape = getattr(image, "shape", None)
            dtype = getattr(image, "dtype", type(image).__name__)
            raise ValueError(f"image must be a (H, W, 3) uint8 BGR array, got shape {shape} "
                             f"of {dtype}")
        from posekit.networks.inference import infer

        bgr = image if color == "bgr" else np.ascontiguousarray(image[..., ::-1])
        small, scale = imageio.fit_max_side(bgr, self.max_side)
        if small is not image and min(small.shape[:2]) < MIN_SIDE:
            raise ValueError(f"max_side {self.max_side} shrinks this {image.shape[1]}x"
                             f"{image.shape[0]} image to {small.shape[1]}x{small.shape[0]}, "
                             f"below the network's {MIN_SIDE}x{MIN_SIDE} minimum; raise "
                             "max_side or pass None (never shrink)")
        if half_size and min(small.shape[:2]) >= 2 * MIN_SIDE \
                and max(small.shape[:2]) >= 2 * imageio.MIN_MAX_SIDE:
            small, extra = imageio.fit_max_side(small, max(small.shape[:2]) // 2)
            scale *= extra
        else:
            half_size = False
        if small is not bgr:
            logger.debug("%dx%d image downscaled to %dx%d (max_side %s)", image.shape[1],
                         image.shape[0], small.shape[1], small.shape[0], self.max_side)
        timings: Dict[str, float] = {}
        with self._lock:          # one network run at a time (interpreters are not reentrant)
            if self.network is None:
                logger.info("loading the default network (mobilenet_thin, runtime auto)")
                self.network = load_pose_network("mobilenet_thin", None)
            start = time.perf_counter()
            heatmaps, pafs = infer(self.network, small)
            timings["network"] = time.perf_counter() - start
        if self.scale_aware and not half_size:
            coords, skeletons = self._decode_scales(small, heatmaps, pafs, timings)
        else:
            coords, skeletons = self.decode(heatmaps, pafs, timings)
        keypoints = skeleton_keypoints(coords, skeletons, STRIDE, scale)
        confidence = calibration(self.decoder, getattr(self.network, "name", None),
                                 getattr(self.network, "runtime", None))
        return make_result(image, color, small, scale, heatmaps, pafs, coords, skeletons,
                           keypoints, timings, confidence).filtered(conf, kpt_conf)

    def thresholds_of(self, conf: Optional[float], kpt_conf: Optional[float]
                      ) -> Tuple[float, float]:
        """``(conf, kpt_conf)`` of a call: the given ones checked, the estimator's for None.

        Raises:
            ValueError: ``conf`` or ``kpt_conf`` not in [0, 1] (NaN included), named.
        """
        return (self.conf if conf is None else check_conf(conf, "conf"),
                self.kpt_conf if kpt_conf is None else check_conf(kpt_conf, "kpt_conf"))


    def _decode_scales(self, bgr: np.ndarray, heatmaps: np.ndarray, pafs: np.ndarray,
                       timings: Dict[str, float]) -> Tuple[dict, np.ndarray]:
        """:func:`posekit.decode.scales.decode_passes` with the half-size pass
        on this network (its seconds join ``timings["network"]``)."""
        from posekit.decode.scales import SMALL_SCALE, decode_passes
        from posekit.networks.accurate import small_pass_maps

        def small_pass(flip: bool):
            if min(bgr.shape[:2]) * SMALL_SCALE < 2 * MIN_SIDE:
                return None
            with self._lock:
                start = time.perf_counter()
                maps = small_pass_maps(self.network, bgr, heatmaps, pafs, SMALL_SCALE, flip)
                timings["network"] += time.perf_counter() - start
            return maps

        stages: Dict[str, float] = {}
        out = decode_passes(heatmaps, pafs, small_pass, self.params, config=self.config,
                            timings=stages)
        timings.update((k, v) for k, v in stages.items() if k in STAGES)
        return out


# --- network -------------------------------------------------------------------------------

def check_network(network: object) -> None:
    """Refuse, when given, what ``posekit.networks.inference.infer`` cannot run (it would raise a
    TypeError at the first image).

    Raises:
        ValueError: ``network`` is not None, a ``PoseNetwork``, a ``MobilenetThin``,
            a ``MobilenetThinTFLite`` or a model with a ``predict`` method.
    """
    from posekit.networks.mobilenet_thin import MobilenetThin
    from posekit.networks.mobilenet_tflite import MobilenetThinTFLite
    from posekit.networks.network import PoseNetwork

    if network is None or isinstance(network, (PoseNetwork, MobilenetThin, MobilenetThinTFLite)) \
            or callable(getattr(network, "predict", None)):
        return
    raise ValueError("network must be None (the default network) or a loaded network "
                     "(load_pose_network, posekit.networks.inference.load_network, or a model with "
                     f"predict), got {type(network).__name__} {str(network)[:40]!r}")


def load_pose_network(model: str = "mobilenet_thin", weights: Optional[str] = None,
                      skip_hash_check: bool = False, runtime: str = "auto",
                      num_threads: Optional[int] = None):
    """Check the weights, then load the network on ``runtime``.

    Args:
        model: a key of ``posekit.networks.registry.NETWORKS`` (``"mobilenet_thin"``, ``"vgg"``).
        weights: weights file / checkpoint prefix; None: the model's default.
        skip_hash_check: accept weights that are not the pinned ones.
        runtime: ``"auto"`` or one of the network's runtimes.
        num_threads: TFLite threads; None: every core this process may use.

    Raises:
        ValueError: unknown model, ``weights`` not a path, missing or corrupt
            weights, or any loading failure (one-line message naming the file).
        MissingExtra: the runtime's package is not installed (one line naming the extra).
        RuntimeError: the network could not be loaded for another missing package.
    """
    if weights is not None and not isinstance(weights, (str, os.PathLike)):
        raise ValueError(f"weights must be a path or None, got {type(weights).__name__}")
    try:
        from posekit.networks.inference import load_network

        return load_network(model, weights, runtime=runtime, num_threads=num_threads,
                            verify_hash=not skip_hash_check)
    except MissingExtra:
        raise
    except ImportError as exc:
        raise RuntimeError(f"cannot load the network: {exc}") from None
    except (OSError, ValueError) as exc:
        raise ValueError(str(exc)) from None
