"""Shared test fixtures: configuration and the synthetic scene of known people."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from estimation.config import get_default_configuration  # noqa: E402
from estimation.synthetic import make_person  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"

#: (h, w) of the synthetic scene's maps, in cells (an 800x480 image at stride 8).
SCENE_SHAPE = (60, 100)


def scene_people() -> np.ndarray:
    """Four known people: two overlapping, one partly out of frame, one missing parts.

    Returns:
        (4, 18, 2) keypoints in cells, NaN for missing parts.
    """
    return np.array([
        make_person(20.3, 12.2, 50),                                 # whole
        make_person(45.1, 14.4, 48, missing=(9, 10, 12, 13, 15)),    # no legs, no left eye
        make_person(61.7, 10.6, 46),                                 # overlaps the previous
        make_person(95.4, 20.1, 50),                                 # legs and left arm out of frame
    ])


@pytest.fixture
def cfg():
    return get_default_configuration()
