"""Bounded work for any map: the per-part candidate cap and blocked pair scoring."""

import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

from estimation.config import get_default_configuration
from estimation.connections import get_connections
from estimation.coordinates import get_coordinates
from posekit.decode.decoder import DecoderParams, find_peaks, kit_connections
from estimation.handout import get_connections_reference, get_coordinates_reference
from estimation.limits import (
    MAX_PEAKS_PER_PART, CandidateCapWarning, blocks, strongest_per_part)

from conftest import ROOT
from posekit.lab import limits as lab_limits


def test_strongest_per_part_keeps_the_best_in_input_order():
    part = np.array([0, 0, 0, 1, 1, 0])
    score = np.array([0.1, 0.9, 0.5, 0.2, 0.3, 0.7])
    with pytest.warns(CandidateCapWarning, match="only the 2 strongest"):
        kept = strongest_per_part(part, score, cap=2)
    assert kept.tolist() == [1, 3, 4, 5]


def test_strongest_per_part_is_silent_under_the_cap():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert strongest_per_part(np.array([0, 1, 1]), np.ones(3), cap=2).tolist() == [0, 1, 2]
        assert strongest_per_part(np.zeros(0, int), np.zeros(0)).tolist() == []


@pytest.mark.parametrize("cap, part, score, message", [
    (0, [0], [1.0], "cap"), (2, [0, 1], [1.0], "differ")])
def test_strongest_per_part_rejects_bad_arguments(cap, part, score, message):
    with pytest.raises(ValueError, match=message):
        strongest_per_part(np.array(part), np.array(score), cap=cap)


def test_blocks_cover_the_range_once():
    assert [(s.start, s.stop) for s in blocks(7, 3)] == [(0, 3), (3, 6), (6, 7)]
    assert list(blocks(0, 3)) == []


def checkerboard(h=60, w=60):
    """Maps with an isolated peak on every other row and column: 900 per part."""
    yy, xx = np.mgrid[:h, :w]
    grid = (yy % 2 == 0) & (xx % 2 == 0)
    board = (grid * (0.5 + 0.4 * np.sin(xx * 0.37 + yy * 0.11))).astype(np.float32)
    return np.repeat(board[:, :, None], 19, axis=2)


def test_every_peak_finder_keeps_at_most_the_cap(cfg):
    heatmaps = checkerboard()
    with pytest.warns(CandidateCapWarning):
        coords = get_coordinates(cfg, heatmaps)
    assert max(map(len, coords.values())) == MAX_PEAKS_PER_PART
    ids = [p[3] for part in coords.values() for p in part]
    assert ids == list(range(len(ids)))                     # ids stay contiguous
    kept = coords["nose"]
    floor = min(p[2] for p in kept)
    board = heatmaps[:, :, 0]
    assert (board > floor + 1e-6).sum() <= MAX_PEAKS_PER_PART   # the strongest were kept
    # The product's decoder reads the lab kit as posekit.lab (one file, its own module object).
    with pytest.warns(lab_limits.CandidateCapWarning):
        peaks = find_peaks(heatmaps, DecoderParams(refine_peaks=False), cfg)
    assert np.bincount(peaks.part).max() == MAX_PEAKS_PER_PART


def test_get_connections_caps_user_coords(cfg):
    rng = np.random.default_rng(1)
    coords, k = {}, 0
    for meta in cfg.body_parts.values():
        pts = rng.integers(0, 40, size=(300, 2))
        coords[meta.body_part.name] = [(int(x), int(y), float(s), k + i) for i, ((x, y), s)
                                       in enumerate(zip(pts, rng.random(300)))]
        k += 300
    pafs = rng.standard_normal((40, 40, 38)).astype(np.float32)
    with pytest.warns(CandidateCapWarning):
        conns = get_connections(cfg, coords, pafs, threshold=-1.0)
    weakest_kept = {}
    for name, peaks in coords.items():
        weakest_kept[name] = sorted(p[2] for p in peaks)[-MAX_PEAKS_PER_PART]
    scores = {p[3]: (name, p[2]) for name, peaks in coords.items() for p in peaks}
    for conn in conns:
        for id_a, id_b in conn[:, :2].astype(int):
            for i in (id_a, id_b):
                name, s = scores[i]
                assert s >= weakest_kept[name]


def test_get_connections_refuses_coords_outside_the_pafs(cfg):
    coords = get_coordinates(cfg, checkerboard(20, 20)[:, :, :19] * 0 + _one_peak(20, 20))
    with pytest.raises(ValueError, match="outside the PAF maps of 10 x 10"):
        get_connections(cfg, coords, np.zeros((10, 10, 38), np.float32))


def _one_peak(h, w):
    maps = np.zeros((h, w, 19), np.float32)
    maps[15, 15] = 0.9
    return maps


@pytest.mark.parametrize("kwargs, message", [
    ({"mid_num": 1}, "mid_num"), ({"mid_num": 10 ** 6}, "mid_num"), ({"mid_num": 2.5}, "mid_num"),
    ({"threshold": float("nan")}, "threshold"), ({"min_support_ratio": 2.0}, "min_support")])
def test_get_connections_refuses_bad_parameters(cfg, kwargs, message):
    coords = get_coordinates(cfg, _one_peak(20, 20))
    with pytest.raises(ValueError, match=message):
        get_connections(cfg, coords, np.zeros((20, 20, 38), np.float32), **kwargs)


@pytest.mark.parametrize("seed", range(4))
def test_kit_connections_equal_the_handout_loops(cfg, seed):
    rng = np.random.default_rng(seed)
    # 10 x 10 noise: about 20 peaks per part, all limbs dense; the reference's Python loops
    # cost the square of the peaks, so a larger map only makes the test slower.
    heatmaps = rng.random((10, 10, 19)).astype(np.float32)
    pafs = (rng.random((10, 10, 38)) * 2 - 1).astype(np.float32)
    coords = get_coordinates_reference(cfg, heatmaps, threshold=0.5)
    for threshold in (0.05, -0.5):
        ours = kit_connections(cfg, coords, pafs, threshold=threshold)
        kit = get_connections_reference(cfg, coords, pafs, threshold=threshold)
        for a, b in zip(ours, kit):
            np.testing.assert_array_equal(a, b)


def test_noise_maps_at_zero_thresholds_stay_under_a_memory_limit():
    """100x100 noise maps, every threshold at its floor: once > 14 GB, now bounded.

    Runs in a child process whose address space is capped at 2 GB, so a
    regression fails fast with MemoryError instead of exhausting the machine.
    """
    code = textwrap.dedent("""
        import resource, warnings
        import numpy as np
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
        warnings.simplefilter("ignore")
        from posekit.decode.decoder import DecoderParams, decode, decode_handout, decode_lab
        rng = np.random.default_rng(0)
        hm = rng.random((100, 100, 19), dtype=np.float32)
        pf = rng.random((100, 100, 38), dtype=np.float32) * 2 - 1
        params = DecoderParams(peak_threshold=0.0, min_paf_score=-1.0, attach_min_paf_score=-1.0)
        print(len(decode(hm, pf, params)[1]),
              len(decode_lab(hm, pf, peak_threshold=0.0, min_paf_score=-1.0)[1]),
              len(decode_handout(hm, pf, peak_threshold=0.0, min_paf_score=-1.0)[1]))
    """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, env={"PYTHONPATH": str(ROOT),
                                                       "OPENBLAS_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert all(int(n) > 0 for n in proc.stdout.split())
