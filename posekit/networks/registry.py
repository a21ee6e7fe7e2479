"""The network registry: each pose network by name, with its loader, default weights, weight check and runtimes.

``posekit.networks.inference.load_network`` and ``posekit.load_pose_network`` (and so
every command's ``--model``) read :data:`NETWORKS`; a new network is one
:func:`register_network` call, from any package.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Optional, Protocol, Tuple

from posekit.registry import Registry
from posekit.extras import require
from posekit.paths import weights_dir

from posekit.networks.network import DEFAULT_BUCKET, PoseNetwork, wrap_openpose_model
from posekit.networks.runtimes import (MOBILENET_RUNTIMES, check_mobilenet_weights, default_mobilenet_weights,
                       load_mobilenet)


logger = logging.getLogger(__name__)


class Loader(Protocol):
    """Loads a network: ``(weights or None, bucket, runtime, num_threads, verify_hash) -> PoseNetwork``.

    The loader checks the weights itself, reading them once (``verify_hash``: compare
    given weights with the pinned ones too; default weights are always checked).
    """

    def __call__(self, weights: "str | os.PathLike[str] | None", bucket: int, runtime: str,
                 num_threads: Optional[int], verify_hash: bool) -> PoseNetwork:
        """Load; ``runtime`` is ``"auto"`` or one of the entry's runtimes.

        Raises:
            ValueError: bad or corrupt weights.
            FileNotFoundError: missing weights.
        """


@dataclass(frozen=True)
class NetworkEntry:
    """One registered network.

    Attributes:
        name: registry key (``--model NAME``).
        load: the :class:`Loader`.
        default_weights: returns the default weights path (read at call time).
        check_weights: ``(weights or None, verify_hash) -> None``; raises
            ValueError with a one-line message (missing or wrong weights).
        runtimes: the runtimes it runs on besides ``"auto"``.
    """

    name: str
    load: Loader
    default_weights: Callable[[], Path]
    check_weights: Callable[["str | os.PathLike[str] | None", bool], None]
    runtimes: Tuple[str, ...] = ("tensorflow",)


#: Every network by name, in registration order (the first is the default).
NETWORKS: Registry[NetworkEntry] = Registry("network")


def register_network(entry: NetworkEntry, replace: bool = False) -> NetworkEntry:
    """Add ``entry`` to :data:`NETWORKS`.

    Raises:
        ValueError: an empty or taken name, or no runtime.
    """
    NETWORKS.check_name(entry.name, replace)
    if not entry.runtimes:
        raise ValueError(f"network {entry.name!r} needs at least one runtime")
    return NETWORKS.add(entry.name, entry, replace)


def get_network(name: str) -> NetworkEntry:
    """The registered network ``name``.

    Raises:
        ValueError: no network of that name (the message lists the names).
    """
    return NETWORKS.lookup(name)


# --- the two built-in networks ---------------------------------------------------------------

def default_vgg_weights() -> Path:
    """Prefix of the lab's VGG checkpoint (``model_weights/openpose``)."""
    return weights_dir() / "openpose"


def check_vgg_weights(weights: "str | os.PathLike[str] | None", verify_hash: bool = True) -> None:
    """Check that the VGG checkpoint's index exists (it has no pinned hash).

    Raises:
        ValueError: ``<prefix>.index`` is missing.
    """
    prefix = os.fspath(weights) if weights is not None else str(default_vgg_weights())
    if not Path(prefix + ".index").is_file():
        raise ValueError(f"VGG weights not found: {prefix}.index is missing (copy the lab's "
                         "checkpoint openpose.index and openpose.data-00000-of-00001 into "
                         "model_weights/, see model_weights/README.md)")


def load_vgg(weights: "str | os.PathLike[str] | None", bucket: int = DEFAULT_BUCKET,
             runtime: str = "auto", num_threads: Optional[int] = None,
             verify_hash: bool = False) -> PoseNetwork:
    """The lab's VGG (Keras) with its checkpoint; runs on TensorFlow only.

    Raises:
        ValueError: the checkpoint's index is missing.
    """
    check_vgg_weights(weights, verify_hash)
    require("tensorflow", "the lab's VGG")
    from posekit.networks.lab_vgg import create_openpose

    model = create_openpose()
    model.load_weights(os.fspath(weights) if weights is not None else str(default_vgg_weights()))
    return wrap_openpose_model(model, "vgg", bucket)


register_network(NetworkEntry("mobilenet_thin", load_mobilenet, default_mobilenet_weights,
                              check_mobilenet_weights, MOBILENET_RUNTIMES))
register_network(NetworkEntry("vgg", load_vgg, default_vgg_weights, check_vgg_weights,
                              ("tensorflow",)))
