"""Tests of estimation.renderers.draw."""

import numpy as np
import pytest

from estimation.renderers import cell_to_pixel, draw


def test_draw_returns_new_image_with_limbs_and_leaves_input_alone(cfg):
    image = np.zeros((80, 80, 3), np.uint8)
    coords = {meta.body_part.name: [] for meta in cfg.body_parts.values()}
    coords["neck"] = [(2, 2, 0.9, 0)]
    coords["right_shoulder"] = [(7, 2, 0.9, 1)]
    skeleton = -np.ones((1, 20))
    skeleton[0, 1], skeleton[0, 2], skeleton[0, 18], skeleton[0, 19] = 0, 1, 2.0, 2
    out = draw(cfg, image, coords, skeleton, resize_fac=8)
    assert image.max() == 0
    assert out.shape == image.shape and out.dtype == np.uint8
    y = int(cell_to_pixel(2, 8))
    assert out[y, 30:50].any(axis=1).all()          # the limb between x=19.5 and x=59.5
    assert not out[70:, :].any()


def test_no_skeletons_draws_nothing(cfg):
    image = np.full((10, 10, 3), 7, np.uint8)
    coords = {meta.body_part.name: [] for meta in cfg.body_parts.values()}
    np.testing.assert_array_equal(draw(cfg, image, coords, np.zeros((0, 20))), image)


def test_cell_centre_convention():
    assert cell_to_pixel(0, 8) == pytest.approx(3.5)
    assert cell_to_pixel(2.0, 1) == pytest.approx(2.0)


def test_rejects_bad_image_and_unknown_ids(cfg):
    coords = {meta.body_part.name: [] for meta in cfg.body_parts.values()}
    with pytest.raises(ValueError, match="uint8"):
        draw(cfg, np.zeros((10, 10)), coords, np.zeros((0, 20)))
    skeleton = -np.ones((1, 20))
    skeleton[0, 0] = 5
    with pytest.raises(ValueError, match="id 5"):
        draw(cfg, np.zeros((10, 10, 3), np.uint8), coords, skeleton)
