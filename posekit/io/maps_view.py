"""Pictures of the network's maps, for looking at what the decoder gets (numpy + OpenCV).

* :func:`heatmap_grid`: the 18 part heatmaps as a grid of tiles (6 columns,
  3 rows by default). Each tile is the photo, dimmed and shrunk so that its
  longer side is at most ``tile_side`` pixels, in grey and dimmed, with the
  heatmap on top in the JET colour map (opacity = twice the heatmap value,
  capped at 1, so that weak peaks show) and the part's name in a corner.
* :func:`paf_picture`: all 19 limbs' part affinity fields in one picture of
  the photo's size. At every cell the limb with the strongest field wins; its
  direction is the hue (a colour wheel in the top-left corner shows which hue
  is which direction, in image coordinates: right, down, left, up) and its
  magnitude the brightness (over the dimmed grey photo).

Maps are upsampled so that map cell ``i`` lands on pixel ``8 i + 3.5`` (the
cell-centre convention of :func:`posekit.lab.renderers.cell_to_pixel`).
"""

from __future__ import annotations

import math
from typing import Optional, Tuple

import cv2
import numpy as np

from posekit.lab.checks import check_maps
from posekit.lab.config import NUM_PARTS, STRIDE, PoseConfig, get_default_configuration
from posekit.lab.renderers import check_image

#: Default number of tile columns of :func:`heatmap_grid`.
GRID_COLUMNS = 6
#: Default longest side of one tile, in pixels.
TILE_SIDE = 320
#: Brightness kept of the (grey) photo under the maps.
DIM = 0.4
#: Heatmap opacity per unit of heatmap value (capped at 1).
HEAT_GAIN = 2.0


def tile_size(image_shape: Tuple[int, ...], tile_side: int = TILE_SIDE) -> Tuple[int, int]:
    """``(height, width)`` of one tile: the image shrunk to ``tile_side`` (never enlarged)."""
    height, width = int(image_shape[0]), int(image_shape[1])
    factor = min(1.0, tile_side / max(height, width))
    return max(1, round(height * factor)), max(1, round(width * factor))


def grid_shape(image_shape: Tuple[int, ...], n_tiles: int = NUM_PARTS,
               columns: int = GRID_COLUMNS, tile_side: int = TILE_SIDE) -> Tuple[int, int]:
    """``(height, width)`` of the picture :func:`heatmap_grid` makes for an image."""
    th, tw = tile_size(image_shape, tile_side)
    columns = max(1, min(columns, n_tiles))
    return math.ceil(n_tiles / columns) * th, columns * tw


def _upsample(maps: np.ndarray, out_hw: Tuple[int, int], factor: float) -> np.ndarray:
    """Resize (h, w, C) maps by ``factor`` (pixel-centre aligned) and crop to ``out_hw``."""
    h, w = maps.shape[:2]
    size = (max(out_hw[1], round(w * factor)), max(out_hw[0], round(h * factor)))
    big = cv2.resize(maps, size, interpolation=cv2.INTER_LINEAR)
    if big.ndim == 2:
        big = big[:, :, None]
    return big[:out_hw[0], :out_hw[1]]


def _dimmed_grey(image: np.ndarray) -> np.ndarray:
    """The photo in grey at :data:`DIM` brightness, as (H, W, 3) float32."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32) * DIM
    return np.repeat(grey[:, :, None], 3, axis=2)


def _label(tile: np.ndarray, text: str) -> None:
    """Write ``text`` in the tile's top-left corner, white on a black outline."""
    scale = max(0.35, tile.shape[1] / 600)
    org = (4, 4 + int(18 * scale))
    cv2.putText(tile, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(tile, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1,
                cv2.LINE_AA)


def heatmap_grid(image: np.ndarray, heatmaps: np.ndarray, config: Optional[PoseConfig] = None,
                 columns: int = GRID_COLUMNS, tile_side: int = TILE_SIDE) -> np.ndarray:
    """Draw every part's heatmap over the dimmed photo, one tile per part.

    Args:
        image: ``(H, W, 3)`` uint8 BGR, the image the network saw.
        heatmaps: ``(h, w, >= 18)`` maps at stride 8 (``h = ceil(H / 8)``).
        config: pose configuration (part order and names; default COCO-18).
        columns: tiles per row.
        tile_side: longest side of a tile in pixels (tiles are never larger
            than the image).

    Returns:
        ``grid_shape(image.shape, 18, columns, tile_side) + (3,)`` uint8 BGR;
        tiles fill the grid row by row in slot order, unused tiles are black.

    Raises:
        ValueError: malformed image or heatmaps, ``columns`` or ``tile_side`` < 1.
    """
    config = config or get_default_configuration()
    image = check_image(image)
    parts = list(config.body_parts.values())
    maps = check_maps("heatmaps", heatmaps, max(p.heatmap_idx for p in parts) + 1)
    if columns < 1 or tile_side < 1:
        raise ValueError(f"columns and tile_side must be >= 1, got {columns}, {tile_side}")
    th, tw = tile_size(image.shape, tile_side)
    factor = tw / image.shape[1] * STRIDE
    photo = _dimmed_grey(cv2.resize(image, (tw, th), interpolation=cv2.INTER_AREA))
    heat = np.clip(_upsample(maps[:, :, [p.heatmap_idx for p in parts]], (th, tw), factor),
                   0.0, 1.0)
    columns = max(1, min(columns, len(parts)))
    out = np.zeros((*grid_shape(image.shape, len(parts), columns, tile_side), 3), np.uint8)
    for k, meta in enumerate(parts):
        level = heat[:, :, k]
        colour = cv2.applyColorMap(np.rint(level * 255).astype(np.uint8), cv2.COLORMAP_JET)
        alpha = np.minimum(level * HEAT_GAIN, 1.0)[:, :, None]
        tile = np.rint(photo * (1 - alpha) + colour * alpha).astype(np.uint8)
        _label(tile, meta.body_part.name.replace("_", " "))
        cv2.rectangle(tile, (0, 0), (tw - 1, th - 1), (64, 64, 64), 1)
        row, col = divmod(k, columns)
        out[row * th:(row + 1) * th, col * tw:(col + 1) * tw] = tile
    return out


def direction_colours(dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """BGR colours (uint8, full brightness) whose hue encodes the direction ``(dx, dy)``.

    Hue 0 (red) points right (+x); the hue turns with the angle measured
    towards +y (down in an image).
    """
    dx, dy = np.broadcast_arrays(np.asarray(dx, np.float64), np.asarray(dy, np.float64))
    angle = np.mod(np.arctan2(dy, dx), 2 * np.pi).reshape(-1, 1)
    hsv = np.full((angle.shape[0], 1, 3), 255, np.uint8)
    hsv[..., 0] = np.rint(angle / (2 * np.pi) * 180).astype(np.int32) % 180
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR).reshape(dx.shape + (3,))


def _colour_wheel(canvas: np.ndarray) -> None:
    """Draw the hue legend (a ring, hue = direction from its centre) in the top-left corner."""
    radius = max(6, min(canvas.shape[:2]) // 14)
    if 2 * radius + 8 > min(canvas.shape[:2]):
        return
    gy, gx = np.mgrid[-radius:radius + 1, -radius:radius + 1].astype(np.float64)
    dist = np.hypot(gx, gy)
    ring = (dist <= radius) & (dist >= radius * 0.45)
    y0 = x0 = 4
    patch = canvas[y0:y0 + 2 * radius + 1, x0:x0 + 2 * radius + 1]
    patch[ring] = direction_colours(gx, gy)[ring]


def paf_picture(image: np.ndarray, pafs: np.ndarray, config: Optional[PoseConfig] = None,
                legend: bool = True) -> np.ndarray:
    """Draw the strongest limb field at every pixel: direction as hue, magnitude as brightness.

    Args:
        image: ``(H, W, 3)`` uint8 BGR, the image the network saw.
        pafs: ``(h, w, 38)`` part affinity fields at stride 8.
        config: pose configuration (PAF channel pairs; default COCO-18).
        legend: draw the direction colour wheel in the top-left corner.

    Returns:
        ``(H, W, 3)`` uint8 BGR.

    Raises:
        ValueError: malformed image or PAFs.
    """
    config = config or get_default_configuration()
    image = check_image(image)
    limbs = config.connection_types
    maps = check_maps("pafs", pafs, max(max(l.paf_dx_idx, l.paf_dy_idx) for l in limbs) + 1)
    dx = maps[:, :, [l.paf_dx_idx for l in limbs]]
    dy = maps[:, :, [l.paf_dy_idx for l in limbs]]
    best = np.argmax(dx ** 2 + dy ** 2, axis=2)[:, :, None]
    field = np.concatenate([np.take_along_axis(dx, best, 2),
                            np.take_along_axis(dy, best, 2)], axis=2)
    height, width = image.shape[:2]
    field = _upsample(field, (height, width), STRIDE)
    alpha = np.clip(np.hypot(field[:, :, 0], field[:, :, 1]), 0.0, 1.0)[:, :, None]
    colour = direction_colours(field[:, :, 0], field[:, :, 1]).astype(np.float32)
    out = np.rint(_dimmed_grey(image) * (1 - alpha) + colour * alpha).astype(np.uint8)
    if legend:
        _colour_wheel(out)
    return out
