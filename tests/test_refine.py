"""Sub-cell refinements (posekit.decode.refine) on hand-made peaks."""

import numpy as np
import pytest

from posekit.decode.refine import REFINERS, log_parabola, parabola, taylor


def gaussian(cx: float, cy: float, sigma: float = 0.8, size: int = 9) -> np.ndarray:
    """(size, size, 1) sampled Gaussian centred at (cx, cy) cells."""
    y, x = np.mgrid[0:size, 0:size]
    return np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * sigma ** 2))[..., None].astype(np.float32)


def at(maps, y, x):
    return maps, np.array([y]), np.array([x]), np.array([0])


@pytest.mark.parametrize("dx, dy", [(0.3, -0.2), (-0.45, 0.1), (0.0, 0.0)])
def test_taylor_and_log_parabola_recover_a_gaussian_centre(dx, dy):
    maps = gaussian(4 + dx, 4 + dy)
    for refine in (taylor, log_parabola):
        np.testing.assert_allclose(refine(*at(maps, 4, 4))[0], [dx, dy], atol=1e-4)


def test_parabola_by_hand():
    # x neighbours 0.2 | 1.0 | 0.6: shift 0.5 * (0.2 - 0.6) / (0.2 - 2 + 0.6) = 1/6.
    maps = np.zeros((3, 3, 1), np.float32)
    maps[1, :, 0] = [0.2, 1.0, 0.6]
    maps[0, 1, 0] = maps[2, 1, 0] = 0.5
    np.testing.assert_allclose(parabola(*at(maps, 1, 1))[0], [1 / 6, 0.0], atol=1e-6)


def test_flat_or_saddle_peaks_are_not_moved():
    flat = np.ones((3, 3, 1), np.float32)
    for refine in REFINERS.values():
        np.testing.assert_array_equal(refine(*at(flat, 1, 1))[0], [0.0, 0.0])


def test_offsets_stay_within_half_a_cell_on_any_map():
    rng = np.random.default_rng(0)
    maps = rng.random((6, 6, 2)).astype(np.float32)
    ys, xs, ch = np.nonzero(np.ones((6, 6, 2), bool))
    for refine in REFINERS.values():
        out = refine(maps, ys, xs, ch)
        assert out.shape == (len(ys), 2) and np.isfinite(out).all() and np.abs(out).max() <= 0.5
