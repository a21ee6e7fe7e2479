"""The learned person score's features and model (posekit.decode.rescore)."""

import json

import numpy as np
import pytest

from posekit.decode.rescore import (FEATURE_NAMES, NUM_FEATURES, WEIGHTS_PATH, Rescorer,
                                default_rescorer, limb_matrix, person_features)


def test_features_by_hand():
    slots = np.full((2, 18), -1)
    slots[0, [1, 2]] = [0, 1]          # neck (0, 0), right shoulder (3, 4)
    slots[1, [0]] = [2]                # a nose alone at (1, 1)
    scores = np.array([0.5, 0.3, 0.9])
    xy = np.array([[0.0, 0.0], [3.0, 4.0], [1.0, 1.0]])
    limbs = limb_matrix([{0: 0.6}, {}])
    f = person_features(slots, limbs, scores, xy, np.array([np.e, 1.0]))
    row = dict(zip(FEATURE_NAMES, f[0]))
    assert f.shape == (2, NUM_FEATURES)
    assert row["peak_1"] == 0.5 and row["peak_2"] == 0.3 and row["peak_0"] == 0.0
    assert row["limb_0"] == 0.6 and row["limb_1"] == 0.0
    assert row["parts_share"] == pytest.approx(2 / 18) and row["mean_peak"] == pytest.approx(0.4)
    assert row["mean_limb"] == pytest.approx(0.6)
    assert row["log_diag"] == pytest.approx(np.log(5.0))
    assert row["log_heuristic"] == pytest.approx(1)
    # Boxes get half a cell each side: 4 x 5 and 1 x 1; the nose's box lies inside.
    assert row["max_iou"] == pytest.approx(1 / 20) and dict(zip(FEATURE_NAMES, f[1]))[
        "max_inside"] == pytest.approx(1.0)
    assert row["relative_diag"] == 1.0 and f[1, FEATURE_NAMES.index("log_diag")] == 0.0


def test_mismatched_people_are_refused():
    with pytest.raises(ValueError, match="same people"):
        person_features(np.full((2, 18), -1), limb_matrix([{}]), np.zeros(0), np.zeros((0, 2)),
                        np.ones(2))


def test_rescorer_formula_and_round_trip():
    w = np.zeros((NUM_FEATURES, 1))
    w[0, 0] = 2.0
    model = Rescorer(np.zeros(NUM_FEATURES), np.ones(NUM_FEATURES), ((w, np.array([-1.0])),))
    x = np.zeros((1, NUM_FEATURES))
    x[0, 0] = 0.5                       # 2 * 0.5 - 1 = 0 -> sigmoid 0.5
    assert model(x)[0] == pytest.approx(0.5)
    again = Rescorer.from_dict(json.loads(json.dumps(model.to_dict())))
    assert again(x)[0] == pytest.approx(0.5)


def test_bad_weights_are_refused():
    good = json.loads(WEIGHTS_PATH.read_text())
    with pytest.raises(ValueError, match="other features"):
        Rescorer.from_dict(dict(good, features=good["features"][:-1]))
    with pytest.raises(ValueError, match="one output"):
        Rescorer.from_dict(dict(good, layers=[]))


def test_committed_weights_predict_an_oks():
    x = np.random.default_rng(0).random((5, NUM_FEATURES))
    out = default_rescorer()(x)
    assert out.shape == (5,) and ((out > 0) & (out < 1)).all()
