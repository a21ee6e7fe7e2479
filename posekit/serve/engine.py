"""The service's network, loaded once at start (in the background: ``/readyz`` says when),
and the estimation of one uploaded image (``conf`` / ``kpt_conf``: ``PoseResult.filtered``)."""

from __future__ import annotations

import copy
import os
import socket
import threading
import time
from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np

from posekit.estimator import PoseEstimator
from posekit.io.images import check_max_side
from posekit.pipeline import load_pose_network
from posekit.results import PoseResult
from posekit.serve.settings import ServeSettings
from posekit.serve.uploads import decode_upload

#: Distinct per-request ``max_side`` values kept (each a shallow copy sharing the network).
MAX_VARIANTS = 8


def server_name() -> str:
    """``host:pid`` of this process (the ``X-Posekit-Server`` header)."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Engine:
    """The loaded estimator (one network), loaded by :meth:`start` in a thread.

    Args:
        settings: the service's settings.
        loader: builds the estimator (default: ``load_pose_network`` from ``settings``);
            tests give their own.
        name: says which process served a request (``X-Posekit-Server``).
    """

    def __init__(self, settings: ServeSettings,
                 loader: Optional[Callable[[ServeSettings], PoseEstimator]] = None,
                 name: Optional[str] = None) -> None:
        self.settings = settings
        self.loader = loader or load_estimator
        self.name = name or server_name()
        self.error: Optional[str] = None
        self._estimator: Optional[PoseEstimator] = None
        self._variants: Dict[Optional[int], PoseEstimator] = {}
        self._lock = threading.Lock()
        self._thread: Optional[threading.Thread] = None

    @property
    def ready(self) -> bool:
        """Whether the network is loaded."""
        return self._estimator is not None

    def start(self, wait: bool = False) -> None:
        """Load the network in a thread (once); with ``wait``, until it is loaded."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._load, name="posekit-load",
                                                daemon=True)
                self._thread.start()
        if wait:
            self._thread.join()

    def _load(self) -> None:
        try:
            self._estimator = self.loader(self.settings)
        except Exception as exc:                     # reported by /readyz, one line
            self.error = " ".join(f"cannot load the network: {exc}".split())

    def estimator(self, max_side: Optional[int]) -> PoseEstimator:
        """The estimator for ``max_side`` (the settings' when None), sharing the network."""
        base = self._estimator
        if base is None:
            raise RuntimeError(self.error or "the network is still loading")
        if max_side is None or max_side == base.max_side:
            return base
        with self._lock:
            variant = self._variants.get(max_side)
            if variant is None:
                if len(self._variants) >= MAX_VARIANTS:
                    self._variants.pop(next(iter(self._variants)))
                variant = copy.copy(base)          # shares the network and its lock
                variant.max_side = check_max_side(max_side)
                self._variants[max_side] = variant
            return variant

    def estimate(self, data: bytes, max_side: Optional[int] = None, half_size: bool = False
                 ) -> Tuple[PoseResult, Dict[str, float]]:
        """Decode an upload and find its people (blocking: run it in a worker thread).

        Args:
            data: the image's bytes.
            max_side: the longest side fed to the network (None: the settings').
            half_size: the network sees the image at half that size, once (a stream's
                frame whose people were all large: ``posekit.video.adaptive``).

        Returns:
            ``(result, timings)``: timings in seconds, ``decode`` then the stages.

        Raises:
            UploadError: a refused image (its status).
            ValueError: an image the estimator refuses.
            RuntimeError: the network is not loaded.
        """
        start = time.perf_counter()
        image = decode_upload(data)
        decoded = time.perf_counter()
        result = self.estimator(max_side)(image, half_size=half_size)
        return result, {"decode": decoded - start, **result.timings}


def load_estimator(settings: ServeSettings) -> PoseEstimator:
    """The estimator of ``settings`` (its network loaded now).

    Raises:
        ValueError, RuntimeError: as ``load_pose_network``.
    """
    network = load_pose_network(settings.model, settings.weights, settings.skip_hash_check,
                                settings.runtime)
    return PoseEstimator(network, settings.decoder, None, settings.max_side)


def result_json(result: PoseResult, timings: Dict[str, float], **extra: Any) -> Dict[str, Any]:
    """The JSON answer of one image: size, people (keypoints by name, each ``[x, y,
    score]``; score, box ``[x0, y0, x1, y1]``, track id) and timings in ms."""
    height, width = result.image.shape[:2]
    return {"width": width, "height": height, "people": result.to_json(),
            "timings_ms": {k: round(v * 1000, 2) for k, v in timings.items()}, **extra}
