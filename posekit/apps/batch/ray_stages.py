"""The two Ray Data stages of a batch run: decode files into frames, then find the people.

Both run inside Ray workers and exchange plain columns (numbers, strings,
bytes), so any block of rows can be sent between machines:

* :func:`decode_items` (parallel tasks, one item per call, a generator): a
  row per frame with its pixels (``height x width x 3`` uint8 bytes), in
  chunks of :data:`FRAME_CHUNK` frames, so a long video is never held whole;
  then one end row per item (``frame = -1``) with the number of frames and
  the error that stopped it, if any.
* :class:`PoseActor` (an actor pool): loads the network once, turns each
  frame row into the OpenPose JSON bytes the demo writes (untracked) and the
  people's keypoints (for the driver's tracker, :mod:`posekit.apps.batch.tracks`),
  and passes end rows through. An error on one frame becomes that row's ``error``.

Failures never raise out of a stage: a raised exception would stop the
whole dataset, and one bad file must not end a run.
"""

from __future__ import annotations

from typing import Dict, Iterator, List, Optional

import numpy as np

from posekit.io import images as imageio
from posekit.video.reader import VideoReader

#: Frames per decoded block of a video (at 1080p about 25 MB).
FRAME_CHUNK = 4
#: Largest frame accepted, in pixels: the demo's limit (``imageio.MAX_IMAGE_PIXELS``).
MAX_PIXELS = imageio.MAX_IMAGE_PIXELS


def _frame_rows(item: int, first: int, frames: List[np.ndarray],
                times: Optional[List[float]] = None) -> Dict[str, np.ndarray]:
    """Rows of ``frames``; ``time`` is each video frame's seconds, -1 for an image."""
    return {"item": np.full(len(frames), item, np.int64),
            "time": (np.array(times, np.float64) if times is not None
                     else np.full(len(frames), -1.0)),
            "frame": np.arange(first, first + len(frames), dtype=np.int64),
            "height": np.array([f.shape[0] for f in frames], np.int64),
            "width": np.array([f.shape[1] for f in frames], np.int64),
            "pixels": np.array([np.ascontiguousarray(f).tobytes() for f in frames], object),
            "total": np.full(len(frames), -1, np.int64),
            "error": np.array([""] * len(frames), object)}


def _end_row(item: int, total: int, error: str) -> Dict[str, np.ndarray]:
    return {"item": np.array([item], np.int64), "time": np.array([-1.0]),
            "frame": np.array([-1], np.int64),
            "height": np.zeros(1, np.int64), "width": np.zeros(1, np.int64),
            "pixels": np.array([b""], object), "total": np.array([total], np.int64),
            "error": np.array([error], object)}


def _check_pixels(height: int, width: int, path: str) -> None:
    if height * width > MAX_PIXELS:
        raise ValueError(f"{path} is too large: {width}x{height} pixels (limit "
                         f"{MAX_PIXELS // 1_000_000} megapixels)")


def _decode(item: int, path: str, kind: str) -> Iterator[Dict[str, np.ndarray]]:
    """Frame rows of one file, then its end row."""
    emitted = 0
    try:
        if kind == "image":
            image = imageio.read_image(path)
            _check_pixels(*image.shape[:2], path)
            yield _frame_rows(item, 0, [image])
            emitted = 1
        else:
            with VideoReader(path) as reader:
                info = reader.info
                _check_pixels(info.height, info.width, path)
                chunk: List[np.ndarray] = []
                times: List[float] = []
                for seconds, frame in reader.timed():   # the video's own clock, as the demo
                    chunk.append(frame)
                    times.append(seconds)
                    if len(chunk) == FRAME_CHUNK:
                        yield _frame_rows(item, emitted, chunk, times)
                        emitted += len(chunk)
                        chunk, times = [], []
                if chunk:
                    yield _frame_rows(item, emitted, chunk, times)
                    emitted += len(chunk)
                reader.check_complete(emitted)      # the demo's check too
    except Exception as exc:  # noqa: BLE001 - any failure is this item's, recorded, not raised
        yield _end_row(item, emitted, " ".join(str(exc).split()) or type(exc).__name__)
        return
    yield _end_row(item, emitted, "")


def decode_items(batch: Dict[str, np.ndarray]) -> Iterator[Dict[str, np.ndarray]]:
    """Ray Data ``map_batches`` function (a generator): items in, frame rows out.

    Args:
        batch: columns ``item`` (int), ``path`` (str), ``kind`` ("image" / "video").

    Yields:
        Column batches: ``item``, ``frame`` (-1 on end rows), ``height``,
        ``width``, ``pixels`` (bytes), ``total`` (frames of the item, on end
        rows; else -1), ``error`` ("" unless the item failed).
    """
    for item, path, kind in zip(batch["item"], batch["path"], batch["kind"]):
        yield from _decode(int(item), str(path), str(kind))


class PoseActor:
    """Ray Data actor: the network, loaded once per actor; frame rows in, JSON rows out."""

    def __init__(self, model: str = "mobilenet_thin", weights: Optional[str] = None,
                 runtime: str = "auto", threads: Optional[int] = None, decoder: str = "best",
                 thresholds: Optional[Dict[str, float]] = None,
                 max_side: Optional[int] = None, skip_hash_check: bool = False,
                 network_sha256: Optional[str] = None) -> None:
        """Load the network (see :func:`posekit.pipeline.load_pose_network`).

        With ``network_sha256`` (the driver's, :mod:`posekit.apps.batch.settings`), a
        network loaded from other files (another copy of the weights on this
        machine) fails every frame with one error instead of mixing networks in
        one run.

        Raises:
            ValueError / RuntimeError: the network cannot be loaded.
        """
        from posekit.apps.batch.settings import network_sha256 as sha256_of
        from posekit.pipeline import PoseEstimator, load_pose_network

        network = load_pose_network(model, weights, skip_hash_check, runtime, num_threads=threads)
        self.estimator = PoseEstimator(network, decoder, thresholds, max_side)
        self.node = ""                  # the Ray node this actor runs on (recorded per item)
        try:
            import ray

            if ray.is_initialized():
                self.node = ray.get_runtime_context().get_node_id()
        except ImportError:
            pass
        self.mismatch = ""              # why this actor's network is not the run's
        if network_sha256 is not None:
            mine = sha256_of(network, model, weights)
            if mine != network_sha256:
                self.mismatch = (f"node {self.node or '?'} loaded another network ({runtime} "
                                 f"from files of SHA-256 {mine[:12]}..., the run's are "
                                 f"{network_sha256[:12]}...): give every machine the same "
                                 "project and weights")

    def __call__(self, batch: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        """Rows of :func:`decode_items` in; ``item``, ``frame``, ``time``, ``total``,
        ``error``, ``json`` (the OpenPose JSON bytes of a frame, ``person_id`` -1),
        ``keypoints`` (its people, (K, 18, 3) float64 bytes), ``people`` and ``node``
        (the Ray node id of this actor) out."""
        count = len(batch["item"])
        payload = np.array([b""] * count, object)
        keypoints = np.array([b""] * count, object)
        people = np.zeros(count, np.int64)
        errors = np.array(list(batch["error"]), object)
        for row in range(count):
            frame = int(batch["frame"][row])
            if frame < 0:
                continue
            if self.mismatch:
                errors[row] = f"frame {frame}: {self.mismatch}"
                continue
            shape = (int(batch["height"][row]), int(batch["width"][row]), 3)
            image = np.frombuffer(batch["pixels"][row], np.uint8).reshape(shape)
            try:
                result = self.estimator(image)
            except Exception as exc:  # noqa: BLE001 - recorded with the item, never raised
                errors[row] = f"frame {frame}: {' '.join(str(exc).split())}"
                continue
            doc = result.openpose()
            seconds = float(batch["time"][row]) if "time" in batch else -1.0
            if seconds >= 0:                     # a video frame: its time, as the demo writes
                doc["time"] = round(seconds, 6)
            payload[row] = imageio.json_bytes(doc)
            keypoints[row] = np.ascontiguousarray(result.keypoints, np.float64).tobytes()
            people[row] = len(result.skeletons)
        times = batch["time"] if "time" in batch else np.full(count, -1.0)
        return {"item": batch["item"], "frame": batch["frame"], "time": times,
                "total": batch["total"], "error": errors, "json": payload,
                "keypoints": keypoints, "people": people,
                "node": np.array([self.node] * count, object)}


def actor_class(**settings: object) -> type:
    """A :class:`PoseActor` subclass bound to ``settings`` (its constructor's keywords).

    Ray Data ships the class itself to the workers, so no constructor
    arguments travel through the object store.
    """

    def __init__(self: PoseActor) -> None:
        PoseActor.__init__(self, **settings)

    return type("ConfiguredPoseActor", (PoseActor,), {"__init__": __init__})
