"""The int8 ``mobilenet_thin`` model at run time: where it lives, its recipe, its manifest's verdict.

The model is built outside the installed package (``tools/int8``, ``make int8``)
and committed with its manifest; this module is what loading it needs: the
file name beside the frozen graph, whether it passed its accuracy check, and
whether it is current (intact, from this graph, of this recipe).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from posekit.networks import mobilenet_tflite as mtl

#: Version of the recipe, recorded in the manifest (see :func:`is_current`); 2 keeps the
#: stage tails float, 3 also equalises the concatenations' inputs, 4 also fine-tunes the
#: weights quantization-aware (tools/int8/qat.py), 5 is 3 with the early backbone float
#: too, 6 is 5 fine-tuned like 4, 7 and 8 are 5 and 6 without the converter's copies of
#: the features (tools/int8/tidy.py; docs/records/int8.md).
RECIPE = 8
#: The recipe of a model built without training images (``tools.int8.build.write_int8``
#: calibrated on the sample images): recipe 8 without the fine-tuning, current as well.
UNTRAINED_RECIPE = 7
#: Suffix of the int8 model, replacing the frozen graph's ``.pb``.
INT8_SUFFIX = ".int8.tflite"


def int8_path(weights: str | os.PathLike[str]) -> Path:
    """Where the int8 model of a graph lives: ``graph_opt.pb`` -> ``graph_opt.int8.tflite``."""
    weights = Path(weights)
    return weights.with_name(weights.stem + INT8_SUFFIX)


def _manifest(path: str | os.PathLike[str]) -> dict:
    """The model's manifest as a dict (empty when missing or unreadable)."""
    try:
        manifest = json.loads(mtl.manifest_path(path).read_text())
    except (OSError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def passed_check(path: str | os.PathLike[str]) -> bool:
    """Whether the int8 model's manifest says it passed its accuracy check (False if unreadable)."""
    return _manifest(path).get("passed_check") is True


def is_int8(path: str | os.PathLike[str]) -> bool:
    """Whether the TFLite model at ``path`` is an int8 build, read from its manifest (its recipe)."""
    return "recipe" in _manifest(path)


def is_current(path: str | os.PathLike[str], source_sha256: str) -> bool:
    """Whether the int8 model at ``path`` is intact, from ``source_sha256`` and of this recipe.

    :data:`RECIPE`, or :data:`UNTRAINED_RECIPE` for a model built without training images.
    """
    if not mtl.is_current(path, source_sha256):
        return False
    return _manifest(path).get("recipe") in (RECIPE, UNTRAINED_RECIPE)
