"""Tests of posekit.io.maps_view: heatmap grid and PAF picture."""

import numpy as np
import pytest

from estimation.config import BodyPart
from posekit.io.maps_view import (
    DIM,
    direction_colours,
    grid_shape,
    heatmap_grid,
    paf_picture,
    tile_size,
)


def test_tile_and_grid_sizes():
    assert tile_size((1080, 810)) == (320, 240)
    assert tile_size((100, 60)) == (100, 60)                   # never enlarged
    assert grid_shape((1080, 810)) == (3 * 320, 6 * 240)      # 18 tiles, 6 columns
    assert grid_shape((100, 60), columns=4) == (5 * 100, 4 * 60)


def test_heatmap_lands_in_its_part_tile_at_its_place():
    image = np.full((80, 160, 3), 100, np.uint8)
    heatmaps = np.zeros((10, 20, 19), np.float32)
    heatmaps[6, 15, BodyPart.left_wrist] = 1.0               # cell (x=15, y=6)
    out = heatmap_grid(image, heatmaps)
    assert out.shape == (*grid_shape(image.shape), 3) and out.dtype == np.uint8
    th, tw = tile_size(image.shape)
    row, col = divmod(int(BodyPart.left_wrist), 6)
    tile = out[row * th:(row + 1) * th, col * tw:(col + 1) * tw].astype(int)
    colour = np.abs(tile - tile[70, 10]).sum(-1)              # difference to a plain spot
    colour[:20] = 0                                           # ignore the part's name
    y, x = np.unravel_index(np.argmax(colour), colour.shape)
    assert abs(x - (15 * 8 + 3.5)) <= 4 and abs(y - (6 * 8 + 3.5)) <= 4
    other = out[0:th, 0:tw].astype(int)                       # the nose tile: no heat
    assert np.abs(other[30:-1, 1:-1] - round(100 * DIM)).max() <= 1   # inside the border


def test_paf_hue_follows_direction_and_zero_field_keeps_the_dim_photo():
    image = np.full((64, 64, 3), 200, np.uint8)
    pafs = np.zeros((8, 8, 38), np.float32)
    pafs[:, :4, 12] = 1.0           # left half: neck->right shoulder pointing right (+x)
    pafs[:4, 4:, 13] = 1.0          # top right: pointing down (+y)
    out = paf_picture(image, pafs, legend=False)
    assert out.shape == image.shape
    np.testing.assert_array_equal(out[40, 12], direction_colours(np.array(1.0),
                                                                 np.array(0.0)))
    np.testing.assert_array_equal(out[12, 52], direction_colours(np.array(0.0),
                                                                 np.array(1.0)))
    assert not np.array_equal(out[40, 12], out[12, 52])
    assert (np.abs(out[60, 60].astype(int) - round(200 * DIM)) <= 1).all()


def test_legend_is_drawn_in_the_corner():
    image = np.zeros((140, 140, 3), np.uint8)
    pafs = np.zeros((18, 18, 38), np.float32)
    assert paf_picture(image, pafs)[:25, :25].any()
    assert not paf_picture(image, pafs, legend=False).any()


@pytest.mark.parametrize("maker", [heatmap_grid, paf_picture])
def test_bad_maps_raise_value_error(maker):
    image = np.zeros((16, 16, 3), np.uint8)
    with pytest.raises(ValueError):
        maker(image, np.zeros((2, 2, 3), np.float32))
    bad = np.zeros((2, 2, 38), np.float32)
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError):
        maker(image, bad)
    with pytest.raises(ValueError):
        maker(np.zeros((16, 16), np.uint8), np.zeros((2, 2, 38), np.float32))
