"""studies/int8_maps.py: the peak comparison of int8 and float32 heatmaps (hand-made maps)."""

from __future__ import annotations

import numpy as np
import pytest

from studies import int8_maps


def maps(*peaks: tuple) -> np.ndarray:
    """(7, 7, 19) zeros with ``(y, x, part, value)`` peaks."""
    out = np.zeros((7, 7, 19), np.float32)
    for y, x, part, value in peaks:
        out[y, x, part] = value
    return out


def test_a_peak_must_be_above_the_floor_and_the_maximum_of_its_neighbourhood() -> None:
    heat = np.zeros((5, 5), np.float32)
    heat[1, 1], heat[3, 3], heat[3, 2] = 0.1, 0.3, 0.2
    assert list(zip(*np.nonzero(int8_maps.local_peaks(heat)))) == [(3, 3)]
    assert int8_maps.local_peaks(heat, floor=0.09)[1, 1]


def test_same_moved_lost_and_extra_peaks_are_counted_apart() -> None:
    ref = maps((1, 1, 0, 0.5), (5, 5, 0, 0.8), (3, 3, 4, 0.15))
    quant = maps((1, 1, 0, 0.4),            # same cell, 0.8 of the float32 value
                 (5, 4, 0, 0.7),            # one cell away
                 (0, 6, 7, 0.3))            # part 4 lost; an extra peak of part 7
    stats = int8_maps.peak_statistics([(quant, ref)])
    assert stats["peaks"] == 3 and stats["extra"] == 1
    assert (stats["same"], stats["moved"], stats["lost"]) == pytest.approx((1 / 3, 1 / 3, 1 / 3))
    bands = {low: (count, ratio) for low, _, count, ratio in stats["bands"]}
    assert bands[0.1] == (1, pytest.approx(0.0))          # part 4: int8 is 0 there
    assert bands[0.4] == (1, pytest.approx(0.8))
    assert bands[0.6] == (1, pytest.approx(0.0))          # int8 peaked one cell beside it
    assert bands[0.2][0] == 0 and np.isnan(bands[0.2][1])


def test_the_background_channel_is_not_compared() -> None:
    ref, quant = maps((3, 3, 18, 0.9)), maps()
    assert int8_maps.peak_statistics([(quant, ref)])["peaks"] == 0


def test_noise_has_the_asked_size_on_each_map_and_keeps_the_scale() -> None:
    heat, pafs = np.zeros((40, 50, 19), np.float32), np.ones((40, 50, 38), np.float32)
    noisy = int8_maps.with_noise([(heat, pafs, 0.5)], heat_sd=0.01, paf_sd=0.1, seed=3)
    (h, p, scale), = noisy
    assert scale == 0.5 and h.dtype == p.dtype == np.float32
    assert h.std() == pytest.approx(0.01, rel=0.05) and abs(h.mean()) < 0.001
    assert p.std() == pytest.approx(0.1, rel=0.05) and p.mean() == pytest.approx(1, abs=0.01)
    assert np.array_equal(int8_maps.with_noise([(heat, pafs, 0.5)], 0.01, 0.1, 3)[0][0], h)
    assert not np.array_equal(int8_maps.with_noise([(heat, pafs, 0.5)], 0.01, 0.1, 4)[0][0], h)
