"""The rescoring fit script's pieces (tools/fit_rescore.py) on hand-made data."""

import numpy as np
import pytest

from posekit.decode.rescore import NUM_FEATURES
from tools import fit_rescore as fr


def test_oks_by_hand():
    truth = np.zeros((17, 3))
    truth[:, 2] = 2
    found = truth.copy()
    found[0, 0] = 1.0                        # nose 1 px off, area 100
    e = 1.0 / (2 * fr.SIGMAS[0]) ** 2 / 100 / 2
    expected = (16 + np.exp(-e)) / 17
    assert fr.oks_matrix([found], [(truth, 100.0)])[0, 0] == pytest.approx(expected, rel=1e-9)


def test_assigned_oks_gives_each_person_to_one_detection():
    oks = np.array([[0.9, 0.2], [0.8, 0.1], [0.3, 0.6]])
    np.testing.assert_allclose(fr.assigned_oks(oks), [0.9, 0.0, 0.6])
    np.testing.assert_allclose(fr.assigned_oks(np.zeros((2, 0))), [0.0, 0.0])


def test_fit_learns_a_separable_target():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, NUM_FEATURES))
    y = 1 / (1 + np.exp(-3 * x[:, 0]))
    model = fr.fit(x, y, hidden=0, seed=0, epochs=500, rate=0.05)
    assert np.corrcoef(model(x), y)[0, 1] > 0.99
    again = fr.fit(x, y, hidden=0, seed=0, epochs=500, rate=0.05)
    np.testing.assert_array_equal(model(x), again(x))            # seeded
