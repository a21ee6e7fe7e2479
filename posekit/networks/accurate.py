"""The accurate mode: a network's maps averaged over several input scales and a mirrored pass."""

from __future__ import annotations

from typing import Any

import numpy as np

from posekit.lab.config import STRIDE

from posekit.networks.network import PoseNetwork, infer, output_size, validate_image

#: The accurate mode's input scales and mirrored pass (the evaluation's best measured setting,
#: README "Accuracy"); used by :func:`accurate_network`.
ACCURATE_SCALES = (0.75, 1.0, 1.5)
ACCURATE_FLIP = True


def accurate_network(network: PoseNetwork, scales: "tuple[float, ...]" = ACCURATE_SCALES,
                     flip: bool = ACCURATE_FLIP) -> PoseNetwork:
    """The accurate mode: ``network`` averaged over several scales and a mirrored pass.

    The result has the same contract as ``network`` (:func:`infer` returns
    maps on the input's own stride-8 grid), so any caller of :func:`infer`
    gets the accurate mode unchanged; it costs one network run per scale
    (twice with ``flip``). For maps on a finer grid (better localisation at
    the largest scale) call :func:`infer_multiscale` directly, as the
    evaluation does.

    Args:
        network: A :class:`PoseNetwork` (e.g. from ``load_network(runtime="int8")``).
        scales: Positive input scales.
        flip: Also run the mirrored image at each scale.

    Returns:
        A new :class:`PoseNetwork` named ``"<name>+accurate"``, same runtime.

    Raises:
        ValueError: ``scales`` is empty or not all positive.
    """
    scales = tuple(float(s) for s in scales)
    if not scales or min(scales) <= 0:
        raise ValueError(f"scales must be positive numbers, got {scales}")

    def run(padded_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        heatmaps, pafs, _ = infer_multiscale(network, padded_bgr[0], scales, flip, 1.0)
        return heatmaps[None], pafs[None]

    wrapped = PoseNetwork(f"{network.name}+accurate", run, network.model, STRIDE,
                          network.runtime)
    wrapped.base = network  # type: ignore[attr-defined]
    return wrapped


def infer_multiscale(network: PoseNetwork | Any, bgr_image: np.ndarray,
                     scales: "tuple[float, ...]" = (1.0,), flip: bool = False,
                     output_scale: float | None = None,
                     ) -> tuple[np.ndarray, np.ndarray, float]:
    """Maps averaged over several input scales and, optionally, a mirrored pass.

    Each scale runs the network on the image resized by that factor (and on
    its mirror image when ``flip``); the maps are resampled onto the stride-8
    grid of ``output_scale`` with exact cell-centre geometry and averaged
    (see ``posekit.decode.multiscale``).

    Args:
        network: as for :func:`infer`.
        bgr_image: uint8 ``(H, W, 3)`` BGR image, ``H, W >= 8``.
        scales: positive resize factors of the image, e.g. ``(1.0, 1.5)``.
        flip: also run each scale on the horizontally mirrored image.
        output_scale: scale of the returned grid (default: the largest scale).

    Returns:
        ``(heatmaps (h, w, 19), pafs (h, w, 38), output_scale)`` with
        ``h = ceil(H * output_scale / 8)``, ``w = ceil(W * output_scale / 8)``;
        divide map positions back by ``output_scale`` (export's ``scale``
        argument is ``1 / output_scale``).

    Raises:
        ValueError: bad image, no or non-positive scales, or a scale that
            makes the image smaller than 8x8.
    """
    import cv2

    from posekit.decode.multiscale import fuse_maps

    validate_image(bgr_image)
    scales = tuple(float(s) for s in scales)
    if not scales or min(scales) <= 0:
        raise ValueError(f"scales must be positive numbers, got {scales}")
    output_scale = float(output_scale or max(scales))
    height, width = bgr_image.shape[:2]
    runs = []
    for scale in scales:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        if min(size) < STRIDE:
            raise ValueError(f"scale {scale} makes the {width}x{height} image smaller than "
                             f"{STRIDE}x{STRIDE}")
        resized = bgr_image if size == (width, height) else cv2.resize(
            bgr_image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
        factors = (size[0] / width, size[1] / height)
        heatmaps, pafs = infer(network, resized)
        runs.append((heatmaps, pafs, factors, 0))
        if flip:
            heatmaps, pafs = infer(network, np.ascontiguousarray(resized[:, ::-1]))
            runs.append((heatmaps, pafs, factors, size[0]))
    shape = output_size(round(height * output_scale), round(width * output_scale))
    heatmaps, pafs = fuse_maps(runs, output_scale, shape)
    return heatmaps, pafs, output_scale


def small_pass_maps(network: PoseNetwork | Any, bgr_image: np.ndarray, heatmaps: np.ndarray,
                    pafs: np.ndarray, scale: float = 0.5, flip: bool = False,
                    ) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """The scale-aware mode's second pass: the image at ``scale``, averaged with the full-size maps.

    The half-size pass sees large people whole (a quarter of the full pass's
    work); its maps are resampled onto the full-size grid and averaged with
    the full-size ones, which keeps their localisation
    (``posekit.decode.scales`` decodes these and picks people from them
    only where they are large).

    Args:
        network: as for :func:`infer`.
        bgr_image: the uint8 ``(H, W, 3)`` BGR image the full pass saw.
        heatmaps: its ``(h, w, 19)`` full-size heatmaps.
        pafs: its ``(h, w, 38)`` full-size PAFs.
        scale: resize factor of the second pass, in (0, 1).
        flip: also run the mirrored image at ``scale`` (another quarter of
            the work); the three maps are averaged with equal weights.

    Returns:
        ``(heatmaps (h, w, 19), pafs (h, w, 38), (1.0, 1.0))``: averaged maps
        on the full-size grid (the last item: their grid's size relative to
        the full-size one, as ``posekit.decode.scales.SmallPass`` returns).

    Raises:
        ValueError: bad image or maps, ``scale`` not in (0, 1), ``flip`` not a
            bool, or an image that ``scale`` makes smaller than 8x8.
    """
    from posekit.decode.multiscale import fuse_maps

    if isinstance(scale, bool) or not isinstance(scale, (int, float, np.number)) \
            or not 0 < scale < 1:
        raise ValueError(f"scale must be a number in (0, 1), got {scale!r}")
    if not isinstance(flip, (bool, np.bool_)):
        raise ValueError(f"flip must be a bool, got {flip!r}")
    validate_image(bgr_image)
    height, width = bgr_image.shape[:2]
    if heatmaps.shape[:2] != output_size(height, width):
        raise ValueError(f"heatmaps of shape {heatmaps.shape} are not the maps of a "
                         f"{width}x{height} image")
    import cv2

    size = (round(width * scale), round(height * scale))
    if min(size) < STRIDE:
        raise ValueError(f"scale {scale} makes the {width}x{height} image smaller than "
                         f"{STRIDE}x{STRIDE}")
    small = cv2.resize(bgr_image, size, interpolation=cv2.INTER_AREA)
    factors = (size[0] / width, size[1] / height)
    runs = [(heatmaps, pafs, (1.0, 1.0), 0), (*infer(network, small), factors, 0)]
    if flip:
        runs.append((*infer(network, np.ascontiguousarray(small[:, ::-1])), factors, size[0]))
    fused = fuse_maps(runs, 1.0, heatmaps.shape[:2])
    return fused[0], fused[1], (1.0, 1.0)
