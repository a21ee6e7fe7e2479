"""Post-processing of OpenPose-style maps (numpy only): peaks, limbs, people.

The lab's stages live in their own modules (``coordinates``, ``connections``,
``estimators``, ``merge``, ``renderers``); the handout's own algorithms in
``handout``; the project's decoder in ``decoder``. ``merge`` is exported here
as the function, so the lab's ``from estimation import merge`` followed by
``merge(subset)`` works (``from estimation.merge import merge`` works too).
Nothing here imports TensorFlow or the ``models`` package.
"""

from .merge import merge

__all__ = ["merge"]
