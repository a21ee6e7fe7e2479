"""The settings of a batch run that change its outputs, recorded per item so a rerun never mixes them.

An item's outputs depend on the network (model, the SHA-256 of its weights,
the runtime that actually ran and the SHA-256 of the file that runtime
loaded), the decoder with every one of its parameters (the thresholds, given
or default, among them), ``--max-side`` and, for a video, whether and how its
people were tracked. The batch command has no smoothing. :func:`run_settings`
gathers them once, in the driver, from the network it loaded there;
``runtime="auto"`` is resolved there and every actor then loads that runtime
(:class:`posekit.apps.batch.ray_stages.PoseActor` checks that its network file has the
same SHA-256, so a node with other files fails its frames instead of mixing
networks). Each done item's record holds :func:`item_settings`; a rerun skips
an item only when they are equal to the rerun's (:func:`posekit.apps.batch.manifest.is_complete`),
so a changed setting redoes the items it touches, and the ``--table`` of a run
holds one set of settings.
"""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from posekit.networks.mobilenet_thin import file_sha256


def files_sha256(paths: Sequence[Path]) -> str:
    """SHA-256 (hex) over the names and contents of ``paths``, in the order given.

    Raises:
        OSError: a file cannot be read.
    """
    total = hashlib.sha256()
    for path in paths:
        total.update(os.fsencode(Path(path).name) + b"\0" + bytes.fromhex(file_sha256(path)))
    return total.hexdigest()


def weights_files(model: str, weights: Optional[str]) -> List[Path]:
    """The files of ``model``'s weights: the file itself, or a checkpoint prefix's files.

    Raises:
        ValueError: unknown model, or no file found.
    """
    from posekit.networks.registry import get_network

    path = Path(weights) if weights is not None else Path(get_network(model).default_weights())
    if path.is_file():
        return [path]
    found = sorted(p for p in path.parent.glob(glob.escape(path.name) + ".*") if p.is_file())
    if not found:
        raise ValueError(f"no weights files at {path}")
    return found


def network_file(network: Any) -> Optional[Path]:
    """The model file a loaded network's runtime read (a converted TFLite model), or None
    when the runtime read the weights themselves."""
    path = getattr(getattr(network, "model", None), "path", None)
    return Path(path) if path is not None and Path(path).is_file() else None


def network_sha256(network: Any, model: str, weights: Optional[str]) -> str:
    """SHA-256 of what ``network`` was loaded from: its runtime's model file, else the weights.

    Raises:
        OSError / ValueError: the files cannot be read.
    """
    own = network_file(network)
    return files_sha256([own] if own is not None else weights_files(model, weights))


def _plain(value: Any) -> Any:
    """``value`` as JSON gives it back (tuples as lists), so recorded and fresh settings compare."""
    return json.loads(json.dumps(value, default=str))


def decoder_parameters(decoder: str, thresholds: Dict[str, Any]) -> Dict[str, Any]:
    """Every parameter of ``decoder`` with the threshold overrides applied (None: default).

    Raises:
        ValueError: unknown decoder or a bad threshold.
    """
    from posekit.decode.registry import get_decoder

    params = get_decoder(decoder).make_params(thresholds)
    if dataclasses.is_dataclass(params):
        return _plain(dataclasses.asdict(params))
    return _plain(vars(params))


def run_settings(network: Any, model: str, weights: Optional[str], decoder: str,
                 thresholds: Dict[str, Any], max_side: Optional[int], track: bool) -> dict:
    """The settings of a run, for its manifest and each item's record.

    Args:
        network: the network the driver loaded (``network.runtime``: the runtime it runs on).
        model, weights: as given to the command (None: the model's default weights).
        decoder, thresholds: the decoder and the threshold flags (None: the default).
        max_side: ``--max-side`` (None or 0: never downscale).
        track: whether video frames are tracked.

    Raises:
        OSError / ValueError: the weights cannot be read.
    """
    from posekit.video.tracking import TrackerParams

    return _plain({
        "model": model,
        "weights_sha256": files_sha256(weights_files(model, weights)),
        "runtime": network.runtime,
        "network_sha256": network_sha256(network, model, weights),
        "decoder": decoder,
        "decoder_params": decoder_parameters(decoder, thresholds),
        "max_side": max_side,
        "track": bool(track),
        "tracker_params": dataclasses.asdict(TrackerParams()) if track else None,
    })


def item_settings(settings: dict, kind: str) -> dict:
    """The part of ``settings`` that an item of ``kind`` depends on (an image: no tracking)."""
    if kind == "video":
        return dict(settings)
    return {k: v for k, v in settings.items() if k not in ("track", "tracker_params")}


def changed(recorded: Optional[dict], current: dict) -> List[str]:
    """The names of the settings that differ (all of ``current``'s when none were recorded)."""
    if not isinstance(recorded, dict):
        return sorted(current)
    return sorted(k for k in set(recorded) | set(current) if recorded.get(k) != current.get(k))
