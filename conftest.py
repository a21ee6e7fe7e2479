"""Graders' fixtures at the repository root: ``sample_subset`` and ``expected_skeleton``.

Any test file in this checkout (``tests/`` or beside this file) can take them as
arguments; they come from ``posekit/pytest_plugin.py``, loaded by path so that
nothing else of posekit (OpenCV, TensorFlow) is imported. Installed packages get
the same fixtures through the plugin's ``pytest11`` entry point.
"""

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "_posekit_grading_fixtures", Path(__file__).resolve().parent / "posekit" / "pytest_plugin.py")
_plugin = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_plugin)

sample_subset = _plugin.sample_subset
expected_skeleton = _plugin.expected_skeleton
