"""Ideal network maps rendered from known people, for tests and benchmarks.

Heatmaps follow eq. 7 of Cao et al. (2017) (a Gaussian per keypoint, maximum
over people) and PAFs eq. 9-10 (the limb's unit vector on a band around the
segment, averaged where several people's limbs overlap). As in CMU's training
code, the band also reaches ``limb_width`` past each end of the segment. Coordinates are in
heatmap cells; cell ``(i, j)`` is the grid point ``x = j, y = i``.
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from estimation.config import NUM_PARTS, PoseConfig, get_default_configuration

# A standing person facing the camera, relative to the neck, in person heights
# (image right is the person's left). Parts are at least ~0.05 apart so that
# peaks stay distinct for persons 40+ cells tall.
_TEMPLATE = np.array([
    (0.00, -0.11),   # nose
    (0.00, 0.00),    # neck
    (-0.11, 0.01),   # right shoulder
    (-0.15, 0.17),   # right elbow
    (-0.17, 0.32),   # right wrist
    (0.11, 0.01),    # left shoulder
    (0.15, 0.17),    # left elbow
    (0.17, 0.32),    # left wrist
    (-0.07, 0.31),   # right hip
    (-0.08, 0.52),   # right knee
    (-0.08, 0.73),   # right ankle
    (0.07, 0.31),    # left hip
    (0.08, 0.52),    # left knee
    (0.08, 0.73),    # left ankle
    (-0.04, -0.16),  # right eye
    (0.04, -0.16),   # left eye
    (-0.09, -0.13),  # right ear
    (0.09, -0.13),   # left ear
])


def make_person(neck_x: float, neck_y: float, height: float,
                missing: Tuple[int, ...] = (), jitter: float = 0.0,
                rng: Optional[np.random.Generator] = None) -> np.ndarray:
    """Keypoints of a template person.

    Args:
        neck_x: neck x position, in cells.
        neck_y: neck y position, in cells.
        height: person height (top of head to ankles is ~0.9 of it), in cells.
        missing: slots to leave out (NaN).
        jitter: standard deviation of per-keypoint noise, in cells.
        rng: random generator used when ``jitter`` > 0.

    Returns:
        (18, 2) float64 keypoints (x, y) in cells, NaN for missing parts.
    """
    pts = _TEMPLATE * height + np.array([neck_x, neck_y])
    if jitter > 0:
        pts = pts + (rng or np.random.default_rng(0)).normal(0, jitter, pts.shape)
    pts[list(missing)] = np.nan
    return pts


def visible(people: np.ndarray, shape: Tuple[int, int]) -> np.ndarray:
    """Mask of keypoints that exist and lie inside a (h, w) grid.

    Args:
        people: (P, 18, 2) keypoints in cells, NaN for missing.
        shape: (h, w) grid size.

    Returns:
        (P, 18) bool.
    """
    x, y = people[..., 0], people[..., 1]
    with np.errstate(invalid="ignore"):
        return (np.isfinite(x) & np.isfinite(y) & (x >= -0.5) & (y >= -0.5)
                & (x < shape[1] - 0.5) & (y < shape[0] - 0.5))


def render_maps(people: np.ndarray, shape: Tuple[int, int], sigma: float = 1.0,
                limb_width: float = 1.0, config: Optional[PoseConfig] = None,
                ) -> Tuple[np.ndarray, np.ndarray]:
    """Render ideal heatmaps and PAFs for known people.

    Args:
        people: (P, 18, 2) keypoints (x, y) in cells; NaN or out-of-grid
            keypoints are not rendered (limbs touching them neither).
        shape: (h, w) size of the maps.
        sigma: Gaussian spread of the heatmap peaks, in cells.
        limb_width: half-width of a PAF band, in cells.
        config: pose configuration (default: COCO-18).

    Returns:
        ``heatmaps`` (h, w, 19) float32 (channel 18 = background) and
        ``pafs`` (h, w, 38) float32.

    Raises:
        ValueError: if ``people`` is not (P, 18, 2) or ``shape`` is empty.
    """
    config = config or get_default_configuration()
    people = np.asarray(people, dtype=np.float64).reshape(-1, NUM_PARTS, 2) \
        if np.size(people) else np.zeros((0, NUM_PARTS, 2))
    h, w = int(shape[0]), int(shape[1])
    if h <= 0 or w <= 0:
        raise ValueError(f"shape must be positive, got {shape}")
    ok = visible(people, (h, w))
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float64)
    heatmaps = np.zeros((h, w, NUM_PARTS + 1), np.float32)
    for p, person in enumerate(people):
        for part in np.flatnonzero(ok[p]):
            d2 = (gx - person[part, 0]) ** 2 + (gy - person[part, 1]) ** 2
            np.maximum(heatmaps[:, :, part], np.exp(-d2 / sigma ** 2), out=heatmaps[:, :, part])
    heatmaps[:, :, NUM_PARTS] = 1.0 - heatmaps[:, :, :NUM_PARTS].max(-1)
    pafs = np.zeros((h, w, 2 * len(config.connection_types)), np.float32)
    for limb in config.connection_types:
        a, b = int(limb.from_body_part), int(limb.to_body_part)
        total = np.zeros((h, w, 2))
        count = np.zeros((h, w))
        for p, person in enumerate(people):
            if not (ok[p, a] and ok[p, b]):
                continue
            vec = person[b] - person[a]
            length = np.hypot(*vec)
            if length == 0:
                continue
            unit = vec / length
            rx, ry = gx - person[a, 0], gy - person[a, 1]
            along = rx * unit[0] + ry * unit[1]
            across = np.abs(rx * unit[1] - ry * unit[0])
            band = ((along >= -limb_width) & (along <= length + limb_width)
                    & (across <= limb_width))
            total[band] += unit
            count[band] += 1
        nz = count > 0
        pafs[nz, limb.paf_dx_idx] = total[nz, 0] / count[nz]
        pafs[nz, limb.paf_dy_idx] = total[nz, 1] / count[nz]
    return heatmaps, pafs


def crowd(n_people: int, rng: np.random.Generator, height: float = 40.0,
          columns: Optional[int] = None) -> Tuple[np.ndarray, Tuple[int, int]]:
    """A grid of ``n_people`` jittered template people, for scaling benchmarks.

    Returns:
        ``people`` (n, 18, 2) in cells and the (h, w) grid that holds them.
    """
    columns = columns or int(np.ceil(np.sqrt(n_people)))
    rows = int(np.ceil(n_people / columns))
    step_x, step_y = 0.45 * height, 1.0 * height
    people = np.array([
        make_person((k % columns + 0.5) * step_x, (k // columns) * step_y + 0.22 * height,
                    height, jitter=0.3, rng=rng)
        for k in range(n_people)])
    return people, (int(rows * step_y), int(columns * step_x))
