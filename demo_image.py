#!/usr/bin/env python3
"""The lab's demo: multi-person pose estimation on an image, a folder of images or a video.

``python demo_image.py`` does what the lab's demo does: reads
``images/1.jpg``, writes the drawn skeletons to ``output.png`` and prints the
time of each step (network, peaks, connections, grouping), then the number
of people found. ``python demo_image.py --help`` lists every option (folders,
videos, JSON outputs, decoders, thresholds); docs/cli.md and docs/video.md
show examples and the JSON formats.

This file is only the entry point the lab runs. The work is done by the
application package ``posekit``: ``posekit.apps.demo`` (this command line),
``posekit.pipeline`` (the ``PoseEstimator`` a program can use directly),
``posekit.apps.batch.run`` (extraction over large collections, on Ray Data).
"""

import os
import sys

# OpenCV's own cap on an image's pixels (posekit's limit, posekit.apps.common.OPENCV_LIMIT_ENV),
# a second line behind posekit's header check: OpenCV reads it once, when it loads, so it
# is set here, before posekit imports it (a value the user set is kept).
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", "50000000")

# ``python path/to/demo_image.py`` runs from anywhere: Python puts this file's folder first on
# the module path, so the packages beside it are found without touching sys.path.

try:
    from posekit.apps.demo import main
    from posekit.pipeline import PoseEstimator, PoseResult, load_pose_network  # noqa: F401
except ModuleNotFoundError as exc:
    # The wrong interpreter (one without the requirements): one line, not a traceback.
    if (exc.name or "").split(".")[0] in ("posekit", "estimation", "models"):
        raise
    sys.exit(f"demo_image.py: this Python ({sys.executable}) lacks the package {exc.name!r}: "
             "run `make demo` (it sets up .venv), or `.venv/bin/python demo_image.py`")

if __name__ == "__main__":
    sys.exit(main(prog="demo_image.py", default_input="images/1.jpg"))
