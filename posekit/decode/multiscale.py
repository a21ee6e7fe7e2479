"""Test-time augmentation: undo horizontal flips and fuse maps from several scales.

Geometry: a network run on a copy of the image resized by ``scale`` (OpenCV's
half-pixel convention) returns maps whose cell ``c`` is centred on original
pixel ``(8c + 4) / scale - 0.5``. Maps of any scale are resampled onto the grid
of an output scale with that exact mapping (bilinear), then averaged.
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

from posekit.lab.checks import check_maps
from posekit.decode.types import default_config
from posekit.lab.config import STRIDE, BodyPart, PoseConfig

Maps = Tuple[np.ndarray, np.ndarray]


def mirror_name(name: str) -> str:
    """The left/right mirror of a part or limb name (``left_eye`` <-> ``right_eye``)."""
    return "-".join(p.replace("left_", "\0").replace("right_", "left_").replace("\0", "right_")
                    for p in name.split("-"))


def flip_channel_orders(config: PoseConfig) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Channel permutations that turn maps of a mirrored image into maps of the image.

    Returns:
        ``heatmap_order`` (19,), ``paf_order`` (38,) index arrays and
        ``paf_sign`` (38,): -1 on the x components, +1 on the y components.
    """
    n_heat = len(config.body_parts) + 1
    heat = np.arange(n_heat)
    for part, meta in config.body_parts.items():
        heat[meta.heatmap_idx] = config.body_parts[BodyPart[mirror_name(part.name)]].heatmap_idx
    by_name = {limb.name: limb for limb in config.connection_types}
    paf = np.arange(2 * len(config.connection_types))
    sign = np.ones(len(paf))
    for limb in config.connection_types:
        twin = by_name[mirror_name(limb.name)]
        paf[limb.paf_dx_idx], paf[limb.paf_dy_idx] = twin.paf_dx_idx, twin.paf_dy_idx
        sign[limb.paf_dx_idx] = -1.0
    return heat, paf, sign


def unflip_maps(heatmaps: np.ndarray, pafs: np.ndarray,
                config: Optional[PoseConfig] = None) -> Maps:
    """Turn the maps of a horizontally mirrored image into maps of the image.

    Args:
        heatmaps: (H, W, 19) maps computed on ``image[:, ::-1]``.
        pafs: (H, W, 38) PAFs computed on the mirrored image.
        config: pose configuration (default COCO-18).

    Returns:
        (heatmaps, pafs) mirrored back, left/right channels swapped and the
        PAF x components negated.

    Raises:
        ValueError: malformed maps.
    """
    config = config or default_config()
    heat_order, paf_order, paf_sign = flip_channel_orders(config)
    hm = check_maps("heatmaps", heatmaps, len(heat_order))
    pf = check_maps("pafs", pafs, len(paf_order))
    return (np.ascontiguousarray(hm[:, ::-1, heat_order]),
            np.ascontiguousarray(pf[:, ::-1, paf_order] * paf_sign.astype(np.float32)))


def resample(maps: np.ndarray, src_scale: Tuple[float, float], dst_scale: float,
             dst_shape: Tuple[int, int], src_shift_x: float = 0.0) -> np.ndarray:
    """Resample (H, W, C) maps from one image scale's stride-8 grid to another's.

    Args:
        maps: (H, W, C) float32 maps of an image resized by ``src_scale``
            (x, y factors relative to the original image).
        dst_scale: scale of the output grid (relative to the original image).
        dst_shape: (h, w) of the output grid.
        src_shift_x: the source map's cell ``j`` lies at x position
            ``j + src_shift_x`` of its own grid (non-zero for unflipped maps
            of an image whose width is not a multiple of 8).

    Returns:
        (h, w, C) float32 maps (bilinear; edges replicated).
    """
    ax = src_scale[0] / dst_scale
    ay = src_scale[1] / dst_scale
    half = STRIDE / 2
    # dst cell j is centred on original pixel (8j + 4)/dst - 0.5, which is src
    # cell ((8j + 4) * src/dst - 4) / 8 = a*j + (a - 1) * half / 8.
    matrix = np.array([[ax, 0.0, (ax - 1) * half / STRIDE - src_shift_x],
                       [0.0, ay, (ay - 1) * half / STRIDE]])
    if maps.shape[:2] == tuple(dst_shape) and np.allclose(matrix, np.eye(2, 3)):
        return maps
    channels = maps.shape[2]
    out = [cv2.warpAffine(np.ascontiguousarray(maps[:, :, k:k + 256]), matrix,
                          (int(dst_shape[1]), int(dst_shape[0])),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE).reshape(*dst_shape, -1)
           for k in range(0, channels, 256)]
    return np.concatenate(out, axis=2)


def fuse_maps(runs: Sequence[Tuple[np.ndarray, np.ndarray, Tuple[float, float], int]],
              dst_scale: float, dst_shape: Tuple[int, int],
              config: Optional[PoseConfig] = None) -> Maps:
    """Average the maps of several network runs on one output grid.

    Args:
        runs: ``(heatmaps, pafs, (scale_x, scale_y), flipped_width)`` per run,
            where the network saw the image resized by the scales, and
            mirrored when ``flipped_width`` (the width in pixels of the image
            it saw) is non-zero.
        dst_scale: image scale of the output grid.
        dst_shape: (h, w) of the output grid, in cells.
        config: pose configuration (default COCO-18).

    Returns:
        Averaged (h, w, 19) heatmaps and (h, w, 38) PAFs.

    Raises:
        ValueError: no runs, or malformed maps.
    """
    if not runs:
        raise ValueError("fuse_maps needs at least one run")
    heat_sum = paf_sum = None
    for heatmaps, pafs, scale, flipped_width in runs:
        shift = 0.0
        if flipped_width:
            heatmaps, pafs = unflip_maps(heatmaps, pafs, config)
            # Mirrored cell c is centred on pixel W - 1 - (8c + 3.5): after
            # reversing, index j sits at j + (W - 8w) / 8 of the grid.
            shift = (flipped_width - STRIDE * heatmaps.shape[1]) / STRIDE
        hm = resample(check_maps("heatmaps", heatmaps, 19), scale, dst_scale, dst_shape, shift)
        pf = resample(check_maps("pafs", pafs, 38), scale, dst_scale, dst_shape, shift)
        heat_sum = hm if heat_sum is None else heat_sum + hm
        paf_sum = pf if paf_sum is None else paf_sum + pf
    return heat_sum / len(runs), paf_sum / len(runs)
