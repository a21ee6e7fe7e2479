"""posekit: the application layer of the pose estimator (above ``models`` and ``estimation``).

The pipeline object, image / video files, and the commands::

    from posekit import PoseEstimator
    people = PoseEstimator()(image).keypoints     # (K, 18, 3) x, y, score in image pixels

Modules: ``pipeline`` (PoseEstimator, load_pose_network), ``results`` (PoseResult,
Person), ``imageio`` (reading; writing in ``atomic``, videos in ``video``), ``options``
(the commands' shared options), ``cli`` (the demo's command line, run by
``demo_image.py``), ``evaluate`` (``python -m posekit.evaluate``: COCO AP) and
``batch`` (``python -m posekit.batch``: extraction over many files on Ray Data).
Layers: ``estimation`` (numpy) <- ``models`` (networks) <- ``posekit``; nothing
below imports this package.
"""

from .pipeline import PoseEstimator, load_pose_network
from .results import KEYPOINT_NAMES, Person, PoseResult

__all__ = ["KEYPOINT_NAMES", "Person", "PoseEstimator", "PoseResult", "load_pose_network"]
