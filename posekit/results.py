"""Typed results: the people found in one image, as frozen per-person records.

``PoseEstimator(...)(image)`` returns a :class:`PoseResult`; its ``people``
are :class:`Person` records (keypoints in image pixels with their names,
score, box, optional track id) with ``to_json()``. The lab's own format (map
cells in ``coords``, (K, 20) rows in ``skeletons``) stays on the result for
the lab path (drawing, export, the batch's OpenPose JSON).

Scores are in [0, 1]: a person's ``score`` is its confidence, the predicted
probability that it matches a true person at COCO's OKS >= 0.5
(:mod:`posekit.decode.confidence`; the decoder's own score is ``raw_score``);
a keypoint's score is the network's heatmap value at it, clipped to [0, 1].
:meth:`PoseResult.filtered` is the one place the ``conf`` and ``kpt_conf``
thresholds are applied.
"""

from __future__ import annotations

import dataclasses
import types
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

import numpy as np

from posekit.decode.confidence import UNFITTED, check_conf, kept
from posekit.lab.config import NUM_PARTS, BodyPart, PoseConfig, get_default_configuration
from posekit.io.drawing import draw_poses
from posekit.io.export import COCO_ORDER, to_coco, to_openpose

#: The 18 keypoint names in slot order (CMU / COCO-18: ``"nose"``, ``"neck"``, ...).
KEYPOINT_NAMES: Tuple[str, ...] = tuple(part.name for part in BodyPart)
#: Values of ``color``: the channel order of the caller's images.
COLORS = ("bgr", "rgb")


def check_color(color: object) -> str:
    """``color`` when it is one of :data:`COLORS`.

    Raises:
        ValueError: naming ``color``.
    """
    if color not in COLORS:
        raise ValueError(f"color must be one of {', '.join(COLORS)}, got {color!r}")
    return color


def _read_only(array: np.ndarray) -> np.ndarray:
    """``array`` with writing switched off (a frozen record's arrays must not change)."""
    array.flags.writeable = False
    return array


@dataclass(frozen=True)
class Person:
    """One person found in an image.

    Attributes:
        keypoints: (18, 3) float64 ``x, y, score`` in image pixels, slot order
            of :data:`KEYPOINT_NAMES`; a missing keypoint is all zeros. Read-only.
            A score is the heatmap value at the keypoint, clipped to [0, 1].
        score: the confidence in [0, 1]: the predicted probability that the
            person matches a true person at COCO's OKS >= 0.5
            (:mod:`posekit.decode.confidence`; higher ranks first).
        box: ``(x0, y0, x1, y1)`` of the found keypoints, in pixels.
        track_id: the person's track across frames, None for a single image.
        raw_score: the decoder's own person score (unbounded; the confidence
            is an increasing function of it), None when not given.
    """

    keypoints: np.ndarray
    score: float
    box: Tuple[float, float, float, float]
    track_id: Optional[int] = None
    raw_score: Optional[float] = None

    names = KEYPOINT_NAMES

    @classmethod
    def from_keypoints(cls, keypoints: np.ndarray, score: float,
                       track_id: Optional[int] = None,
                       raw_score: Optional[float] = None) -> "Person":
        """A record from (18, 3) ``x, y, score`` keypoints (rows of zeros are missing).

        The box spans the keypoints with a score > 0 (all zeros when none has).

        Args:
            keypoints: (18, 3) ``x, y, score``, scores in [0, 1].
            score: the person's confidence, in [0, 1].
            track_id: its track, None when not tracked.
            raw_score: the decoder's own score, None when unknown.

        Raises:
            ValueError: ``keypoints`` is not (18, 3) or has a score outside [0, 1],
                ``score`` is not in [0, 1] (NaN included).
        """
        points = np.array(keypoints, dtype=np.float64)
        if points.shape != (NUM_PARTS, 3):
            raise ValueError(f"keypoints must have shape ({NUM_PARTS}, 3), got {points.shape}")
        if not ((points[:, 2] >= 0) & (points[:, 2] <= 1)).all():
            raise ValueError("keypoints' scores must be in [0, 1], got "
                             f"{points[:, 2].min():.4g}..{points[:, 2].max():.4g}")
        found = points[points[:, 2] > 0, :2]
        box = (*found.min(0).tolist(), *found.max(0).tolist()) if len(found) else (0.0,) * 4
        return cls(_read_only(points), check_conf(score, "score"), tuple(box), track_id,
                   None if raw_score is None else float(raw_score))

    def hiding(self, kpt_conf: float) -> "Person":
        """This person with the keypoints scored under ``kpt_conf`` made missing (zeros) and
        the box around the others; itself when none is.

        Raises:
            ValueError: ``kpt_conf`` not in [0, 1] (NaN included).
        """
        shown = kept(self.keypoints[:, 2], check_conf(kpt_conf, "kpt_conf"))
        if shown.sum() == (self.keypoints[:, 2] > 0).sum():
            return self
        return Person.from_keypoints(self.keypoints * shown[:, None], self.score,
                                     self.track_id, self.raw_score)

    def keypoint(self, name: str) -> Optional[Tuple[float, float, float]]:
        """``(x, y, score)`` of the keypoint ``name``, None when it was not found.

        Raises:
            ValueError: ``name`` is not one of :data:`KEYPOINT_NAMES`.
        """
        if name not in KEYPOINT_NAMES:
            raise ValueError(f"name must be one of {', '.join(KEYPOINT_NAMES)}, got {name!r}")
        x, y, score = self.keypoints[KEYPOINT_NAMES.index(name)].tolist()
        return (x, y, score) if score > 0 else None

    def to_json(self) -> Dict[str, Any]:
        """A JSON-ready dict: ``keypoints`` ({name: [x, y, score]}, found ones only),
        ``score`` (the confidence, 0..1), ``score_raw`` (the decoder's score, null when
        unknown), ``box`` ([x0, y0, x1, y1]) and ``track_id`` (null for an image)."""
        return {"keypoints": {name: [round(v, 3) for v in row]
                              for name, row in zip(KEYPOINT_NAMES, self.keypoints.tolist())
                              if row[2] > 0},
                "score": self.score, "score_raw": self.raw_score,
                "box": [round(v, 3) for v in self.box], "track_id": self.track_id}


@dataclass(frozen=True, repr=False)
class PoseResult:
    """The people found in one image.

    Attributes:
        people: the :class:`Person` records, best score first.
        image: the caller's image, (H, W, 3) uint8 in ``color`` order (not copied).
        color: ``"bgr"`` or ``"rgb"``, the channel order of ``image``.
        network_image: (h, w, 3) uint8 BGR, the image the network saw (downscaled if large).
        scale: original size / network size (1.0 when not downscaled).
        heatmaps: (h / 8, w / 8, 19) float32 maps of ``network_image``.
        pafs: (h / 8, w / 8, 38) float32.
        coords, skeletons: the decoder's lab format (map cells; (K, 20) rows),
            for the lab path.
        timings: seconds per stage (``network``, then the decoder's stages).
        path: the file the image came from (None: an array or a PIL image).
        frame: the frame's index in its video (None: not a video frame).
    """

    people: Tuple[Person, ...]
    image: np.ndarray
    color: str
    network_image: np.ndarray
    scale: float
    heatmaps: np.ndarray
    pafs: np.ndarray
    coords: Mapping[str, list]
    skeletons: np.ndarray
    timings: Mapping[str, float] = field(default_factory=dict)
    path: Optional[str] = None
    frame: Optional[int] = None

    keypoint_names = KEYPOINT_NAMES

    @property
    def keypoints(self) -> np.ndarray:
        """(K, 18, 3) ``x, y, score`` in image pixels (zeros: missing)."""
        if not self.people:
            return np.zeros((0, NUM_PARTS, 3))
        return np.stack([p.keypoints for p in self.people])

    @property
    def scores(self) -> np.ndarray:
        """(K,) person confidences in [0, 1] (:attr:`Person.score`)."""
        return np.array([p.score for p in self.people], dtype=np.float64)

    @property
    def raw_scores(self) -> np.ndarray:
        """(K,) the decoder's person scores (:attr:`Person.raw_score`; NaN where unknown)."""
        return np.array([np.nan if p.raw_score is None else p.raw_score for p in self.people],
                        dtype=np.float64)

    def filtered(self, conf: float = 0.0, kpt_conf: float = 0.0) -> "PoseResult":
        """This result with weak people left out and weak keypoints hidden.

        The one place the thresholds apply (the estimator's ``conf`` / ``kpt_conf``,
        the ``posekit`` command's ``--conf`` / ``--kpt-conf``, the drawing's ``kpt_conf``).

        Args:
            conf: people with a confidence (:attr:`Person.score`) under it are left
                out; one equal to it is kept.
            kpt_conf: keypoints scored under it become missing (zeros; each box
                spans the others); one equal to it is kept. A person keeps its
                confidence whatever keypoints are hidden.

        Returns:
            A new result (``coords``, ``skeletons`` and the maps stay the decoder's,
            unfiltered); this one when nothing is left out or hidden.

        Raises:
            ValueError: ``conf`` or ``kpt_conf`` not a number in [0, 1] (NaN included),
                naming it.
        """
        conf, kpt_conf = check_conf(conf, "conf"), check_conf(kpt_conf, "kpt_conf")
        people = tuple(p.hiding(kpt_conf) for p in self.people if p.score >= conf)
        if len(people) == len(self.people) and all(a is b for a, b in zip(people, self.people)):
            return self
        return dataclasses.replace(self, people=people)

    def keypoints_coco17(self) -> np.ndarray:
        """(K, 17, 3) ``x, y, score`` in COCO-17 order (nose, left_eye, right_eye, ...,
        right_ankle; no neck), zeros where missing."""
        return self.keypoints[:, [int(part) for part in COCO_ORDER]]

    def coco(self, image_id: int) -> List[dict]:
        """COCO keypoint results for this image (17 keypoints, COCO order; ``score``: the
        confidence, 0..1)."""
        return to_coco(self.keypoints, self.scores, image_id)

    def openpose(self) -> dict:
        """OpenPose JSON for this image (``pose_keypoints_2d``, 18 CMU keypoints)."""
        return to_openpose(self.keypoints)

    def to_json(self) -> List[Dict[str, Any]]:
        """Every person's :meth:`Person.to_json`, best first."""
        return [person.to_json() for person in self.people]

    def table(self) -> Union["Any", List[Dict[str, Any]]]:
        """One row per person: ``person, score, x0, y0, x1, y1, track_id, score_raw``
        (``score`` the confidence, ``score_raw`` the decoder's), then
        ``<name>_x, <name>_y, <name>_score`` per keypoint (NaN when missing).

        Returns:
            A ``pandas.DataFrame`` when pandas is installed, else a list of
            plain dicts (the same columns).
        """
        rows = []
        for k, person in enumerate(self.people):
            row: Dict[str, Any] = {"person": k, "score": person.score,
                                   **dict(zip(("x0", "y0", "x1", "y1"), person.box)),
                                   "track_id": person.track_id,
                                   "score_raw": person.raw_score}
            for name, (x, y, s) in zip(KEYPOINT_NAMES, person.keypoints.tolist()):
                found = s > 0
                row.update({f"{name}_x": x if found else float("nan"),
                            f"{name}_y": y if found else float("nan"),
                            f"{name}_score": s if found else float("nan")})
            rows.append(row)
        try:
            import pandas
        except ImportError:
            return rows
        return pandas.DataFrame(rows)

    def drawn(self, original: np.ndarray, config: Optional[PoseConfig] = None,
              line_width: Optional[int] = None, labels: bool = True,
              kpt_conf: float = 0.0) -> np.ndarray:
        """Every person drawn over a copy of ``original`` (the full-size BGR input):
        skeleton, box and label (track id when tracked, score), as
        :func:`posekit.io.drawing.draw_poses`.

        Args:
            original: (H, W, 3) uint8 BGR.
            config: limbs and colours (default: the default configuration).
            line_width: limb and box width in pixels (None: the lab drawing's).
            labels: draw each person's box and label.
            kpt_conf: keypoints scored under it, and limbs touching them, are not drawn
                (:meth:`filtered`'s rule).

        Returns:
            (H, W, 3) uint8 BGR.

        Raises:
            ValueError: a bad image or option (named).
        """
        shown = self.filtered(kpt_conf=kpt_conf)
        return draw_poses(original, shown.keypoints, shown.scores,
                          [p.track_id for p in shown.people]
                          if any(p.track_id is not None for p in shown.people)
                          else None, config, line_width, labels)

    def plot(self, line_width: Optional[int] = None, labels: bool = True,
             kpt_conf: float = 0.0) -> np.ndarray:
        """A drawn copy of the input image, in its own channel order (``color``).

        Args:
            line_width: limb and box width in pixels (None: ``max(2, min(H, W) / 200)``).
            labels: draw each person's box and label (``#track_id score``).
            kpt_conf: keypoints scored under it, and limbs touching them, are not
                drawn (weaker keypoints above it are drawn fainter).

        Returns:
            (H, W, 3) uint8, the people over the image (the input is untouched).

        Raises:
            ValueError: a bad option (named).
        """
        bgr = self.image if self.color == "bgr" else np.ascontiguousarray(self.image[..., ::-1])
        out = self.drawn(bgr, line_width=line_width, labels=labels, kpt_conf=kpt_conf)
        return out if self.color == "bgr" else np.ascontiguousarray(out[..., ::-1])

    def __repr__(self) -> str:
        h, w = self.image.shape[:2]
        seconds = sum(self.timings.values())
        where = "" if self.path is None else f", {self.path}"
        where += "" if self.frame is None else f" frame {self.frame}"
        return (f"PoseResult({len(self.people)} people, {w}x{h} {self.color}, "
                f"scale {self.scale:.3g}, {seconds:.3f} s{where})")


def make_result(image: np.ndarray, color: str, network_image: np.ndarray, scale: float,
                heatmaps: np.ndarray, pafs: np.ndarray, coords: Mapping[str, list],
                skeletons: np.ndarray, keypoints: np.ndarray,
                timings: Dict[str, float],
                confidence: Callable[[np.ndarray], np.ndarray] = UNFITTED) -> PoseResult:
    """A :class:`PoseResult` from the decoder's output and its (K, 18, 3) pixel keypoints.

    ``confidence`` maps the skeletons' raw scores (K,) to confidences in [0, 1]
    (:func:`posekit.decode.confidence.calibration`); keypoint scores are clipped to [0, 1].
    """
    raw = np.asarray(skeletons, np.float64).reshape(-1, NUM_PARTS + 2)[:, NUM_PARTS]
    conf = np.clip(confidence(raw), 0.0, 1.0) if len(raw) else raw
    points = np.asarray(keypoints, np.float64).copy()
    if len(points):
        points[..., 2] = np.clip(points[..., 2], 0.0, 1.0)
    people = tuple(Person.from_keypoints(p, float(c), raw_score=float(r))
                   for p, c, r in zip(points, conf, raw))
    return PoseResult(people, image, color, network_image, scale, heatmaps, pafs,
                      types.MappingProxyType(dict(coords)), _read_only(skeletons),
                      types.MappingProxyType(dict(timings)))
