"""Graders' pytest fixtures: the handout's sample input of ``merge()`` and its one skeleton.

Registered as a pytest plugin (entry point ``pytest11``), so any test file run
where posekit is installed can take them as arguments, and loaded by the
repository's root ``conftest.py`` in a checkout::

    from pytest import approx
    from posekit.lab.merge import merge

    def test_graded(sample_subset, expected_skeleton):
        assert merge(sample_subset)[0] == approx(expected_skeleton)

Installed, pytest loads it by itself (do not also pass ``-p posekit.pytest_plugin``:
pytest refuses a plugin registered twice); in a bare checkout ``-p`` loads it.
Imports only the standard library, numpy and pytest (not the rest of posekit).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

#: The handout's sample (copied from its kit): the subset, the expected ids, score and parts.
SAMPLE = Path(__file__).resolve().parent / "data" / "sample_subset.json"


def _sample() -> dict:
    return json.loads(SAMPLE.read_text())


@pytest.fixture
def sample_subset() -> np.ndarray:
    """The handout's sample input of ``merge()``: (9, 20) float64 rows, one per limb."""
    return np.array(_sample()["subset"], dtype=np.float64)


@pytest.fixture
def expected_skeleton() -> np.ndarray:
    """The one skeleton ``merge(sample_subset)`` must return: (20,) float64 = 18 slot ids,
    score (the sum of the nine row scores), parts_num (9)."""
    sample = _sample()
    return np.array(sample["expected_single_skeleton_ids"]
                    + [sample["sum_of_row_scores"], sample["expected_parts_num"]],
                    dtype=np.float64)
