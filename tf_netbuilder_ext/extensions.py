"""The lab demo's ``register_tf_netbuilder_extensions``: a documented no-op here.

See the package docstring: ``models.create_openpose()`` needs no custom
layers, so there is nothing to register. Calling it any number of times is
harmless and imports nothing.
"""

from __future__ import annotations


def register_tf_netbuilder_extensions() -> None:
    """Do nothing: our VGG model is plain Keras (kept for the lab's demo)."""
    return None
