"""The decoder's data types, below every stage that passes them: peaks and the lab's coords view."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Dict, List, Tuple

import numpy as np

from posekit.lab.config import PoseConfig, get_default_configuration


@lru_cache(maxsize=1)
def default_config() -> PoseConfig:
    """The COCO-18 configuration the decoders use when given none: built once (it is
    immutable; building it costs more than decoding a small image's limbs)."""
    return get_default_configuration()


#: The lab's view of the peaks: {part name: [(x, y, score, id)]}, in cells.
Coords = Dict[str, List[Tuple[float, float, float, int]]]


@dataclass(frozen=True)
class Peaks:
    """All keypoint candidates of one image; the index of a peak is its id.

    Attributes:
        xy: (N, 2) float64 sub-cell positions (x, y) in cells.
        score: (N,) float64 raw heatmap value at the peak cell.
        part: (N,) int64 body-part slot; peaks are sorted by part, then row-major.
    """

    xy: np.ndarray
    score: np.ndarray
    part: np.ndarray

    def to_coords(self, config: PoseConfig) -> Coords:
        """The lab's ``{part name: [(x, y, score, id)]}`` view of the peaks."""
        bounds = np.searchsorted(self.part, np.arange(len(config.body_parts) + 1))
        rows = list(zip(self.xy[:, 0].tolist(), self.xy[:, 1].tolist(),
                        self.score.tolist(), range(len(self.score))))
        return {meta.body_part.name: rows[bounds[meta.slot_idx]:bounds[meta.slot_idx + 1]]
                for meta in config.body_parts.values()}
