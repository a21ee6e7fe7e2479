"""Tests of benchmarks/bench_completion.py: the typical limb lengths it fits."""

import numpy as np

from benchmarks import bench_completion
from estimation.config import get_default_configuration
from tools.synthetic import make_person, render_maps


def test_limb_lengths_recover_the_template_up_to_scale():
    """Two images, template people of heights 40 and 60 cells: the fitted
    lengths are the template's limb lengths times one common factor."""
    cfg = get_default_configuration()
    slot_a, slot_b = cfg.limb_arrays[:2]
    maps = {}
    for k, height in enumerate((40.0, 60.0)):
        person = make_person(40, 8, height)
        heatmaps, pafs = render_maps(person[None], (80, 80))
        maps[k] = heatmaps, pafs, 1.0
    fitted = bench_completion.limb_lengths(maps)
    template = np.hypot(*(make_person(0, 0, 1.0)[slot_a] - make_person(0, 0, 1.0)[slot_b]).T)
    ratio = fitted / template
    assert np.isfinite(ratio).all()
    np.testing.assert_allclose(ratio / np.median(ratio), 1.0, atol=0.05)
    assert 40 <= np.median(ratio) <= 60           # between the two people's heights
