"""One way to do each job (issue 30), read from the source: each job has one home.

Each check names the job, the one module that does it, and the pattern another
module would need to do it again. Tests are left out (they may build what they
check); the lab kit is left out where the lab's own contracts need the code.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List

import pytest

from conftest import ROOT

PACKAGES = ("posekit", "tools", "studies", "benchmarks", "estimation", "models")

#: job -> (the pattern that does it, the files allowed to)
JOBS = {
    "COCO AP (pycocotools' evaluation)": (r"\bCOCOeval\b", {"posekit/io/coco.py"}),
    "atomic write-then-rename through mkstemp": (r"\bmkstemp\(", set()),
    "the repository root from __file__": (r"^ROOT\s*=.*__file__", {"posekit/paths.py"}),
    "module path edits": (r"sys\.path\.(insert|append)\(", set()),
    "the interruption's exit status": (r"(=|return)\s*130\b", {"posekit/apps/command.py"}),
    "signal handlers": (r"signal\.signal\(", {"posekit/apps/command.py"}),
    "a command's error type": (r"^class \w*Error\(Exception\)",
                               {"posekit/apps/command.py", "posekit/networks/assets.py"}),
    "maps -> keypoints -> COCO": (r"to_coco\(\s*skeleton_keypoints\(", {"posekit/io/export.py"}),
}


def sources() -> Dict[str, str]:
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT)
            if rel.parts[:2] == ("posekit", "lab") or path.is_symlink():
                continue
            out[rel.as_posix()] = path.read_text()
    return out


def doers(pattern: str, texts: Dict[str, str]) -> List[str]:
    rx = re.compile(pattern, re.M)
    return sorted(name for name, text in texts.items() if rx.search(text))


@pytest.mark.parametrize("job", sorted(JOBS))
def test_each_job_has_one_home(job):
    pattern, allowed = JOBS[job]
    assert set(doers(pattern, sources())) <= allowed


def test_the_checks_see_a_second_home():
    texts = {"a.py": "ROOT = Path(__file__).parent\n", "b.py": "ev = COCOeval(t, f)\n",
             "c.py": "x = to_coco(\n    skeleton_keypoints(c, s), s[:, -2], 1)\n"}
    assert doers(JOBS["the repository root from __file__"][0], texts) == ["a.py"]
    assert doers(JOBS["COCO AP (pycocotools' evaluation)"][0], texts) == ["b.py"]
    assert doers(JOBS["maps -> keypoints -> COCO"][0], texts) == ["c.py"]
