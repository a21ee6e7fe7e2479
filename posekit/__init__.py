"""posekit: the pose estimator as a library and commands, standing on the lab kit (``posekit.lab``).

    from posekit import PoseEstimator
    people = PoseEstimator()("bus.jpg").keypoints  # (K, 18, 3) x, y, score in image pixels

Rooms, lowest first (``tests/test_layers.py`` holds them to this order):
``lab`` (the lab kit, the repository's ``estimation/`` under posekit's name),
``registry`` (the one registry type), ``paths`` (where the repository and the
assets are), ``io`` (files), ``decode`` (maps to people), ``networks`` (images
to maps), ``results`` and ``pipeline`` (the library: :class:`PoseEstimator`),
``video`` (frames, tracking, smoothing, streams), ``estimator`` (:class:`PoseEstimator`
taking paths, PIL images, lists, folders and videos, and tracking: ``docs/library.md``),
``apps`` (the commands).
Nothing of the lab kit, ``tools/`` or ``studies/`` imports this package's
names by the lab's own top-level names: a user's ``estimation`` or ``models``
package cannot shadow ours.
"""

from posekit.estimator import PoseEstimator
from posekit.paths import version as _version
from posekit.pipeline import load_pose_network
from posekit.results import KEYPOINT_NAMES, Person, PoseResult

#: The installed distribution's version (a checkout: pyproject.toml's).
__version__ = _version()

__all__ = ["KEYPOINT_NAMES", "Person", "PoseEstimator", "PoseResult", "__version__",
           "load_pose_network"]
