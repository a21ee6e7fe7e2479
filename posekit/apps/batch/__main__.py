"""``python -m posekit.apps.batch``: the same as ``posekit-batch``."""

from posekit.apps.batch.run import entry

entry()
