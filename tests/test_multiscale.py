"""Tests of posekit.decode.multiscale: flip undoing and scale fusion geometry."""

import numpy as np
import pytest

from estimation.config import BodyPart
from posekit.decode.decoder import DecoderParams, find_peaks
from posekit.decode.multiscale import fuse_maps, mirror_name, resample, unflip_maps
from tools.synthetic import make_person, render_maps


def mirrored(people, width):
    """People of the mirrored image: x -> width - 1 - x, left and right parts swapped."""
    out = people.copy()
    out[..., 0] = width - 1 - out[..., 0]
    swap = [BodyPart[mirror_name(p.name)] for p in BodyPart]
    return out[:, swap]


def test_mirror_names():
    assert mirror_name("left_eye") == "right_eye"
    assert mirror_name("neck-right_shoulder") == "neck-left_shoulder"
    assert mirror_name("nose") == "nose"


def test_unflip_turns_maps_of_the_mirror_image_into_maps_of_the_image(cfg):
    people = np.array([make_person(14.3, 8.2, 40), make_person(31.6, 9.1, 38)])
    shape = (44, 48)
    heat, paf = render_maps(people, shape)
    heat_m, paf_m = render_maps(mirrored(people, shape[1]), shape)
    back_h, back_p = unflip_maps(heat_m, paf_m)
    np.testing.assert_allclose(back_h, heat, atol=1e-5)
    np.testing.assert_allclose(back_p, paf, atol=1e-5)


def single_peak(x, y, shape):
    people = np.full((1, 18, 2), np.nan)
    people[0, BodyPart.nose] = (x, y)
    return render_maps(people, shape, sigma=1.5)


def located(heatmaps, cfg):
    peaks = find_peaks(heatmaps, DecoderParams(), cfg)
    assert peaks.part.tolist() == [BodyPart.nose]
    return peaks.xy[0]


def test_resample_from_a_double_scale_grid(cfg):
    # Cell c of the scale-1 grid is centred on pixel 8c + 3.5, which is cell
    # 2c + 0.5 of the grid of the image resized by 2.
    heat, _ = single_peak(2 * 6.5 + 0.5, 2 * 4.0 + 0.5, (24, 32))
    back = resample(heat, (2.0, 2.0), 1.0, (12, 16))
    assert back.shape == (12, 16, 19)
    np.testing.assert_allclose(located(back, cfg), [6.5, 4.0], atol=0.05)


def test_flipped_maps_of_an_odd_width_image_land_on_the_right_cell(cfg):
    width = 60                      # 8 cells, the last one half padding
    x_pixel = 20.0
    cell = (x_pixel - 3.5) / 8      # 2.0625
    mirror_cell = (width - 1 - x_pixel - 3.5) / 8
    heat_m, paf_m = single_peak(mirror_cell, 3.0, (7, 8))
    heat, _ = fuse_maps([(heat_m, paf_m, (1.0, 1.0), width)], 1.0, (7, 8))
    np.testing.assert_allclose(located(heat, cfg), [cell, 3.0], atol=0.1)


def test_fuse_averages_runs_and_rejects_none():
    a = np.ones((4, 4, 19), np.float32), np.zeros((4, 4, 38), np.float32)
    b = np.zeros((4, 4, 19), np.float32), np.ones((4, 4, 38), np.float32)
    heat, paf = fuse_maps([(*a, (1.0, 1.0), 0), (*b, (1.0, 1.0), 0)], 1.0, (4, 4))
    assert np.allclose(heat, 0.5) and np.allclose(paf, 0.5)
    with pytest.raises(ValueError, match="at least one"):
        fuse_maps([], 1.0, (4, 4))
