"""tools/int8/build_int8.py: its failure paths (the build itself runs for minutes: `make int8`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tools.int8.build_int8", *args], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)


def test_missing_dev_set_is_one_line_and_status_1(tmp_path):
    proc = run("--dev-dir", str(tmp_path / "nowhere"), "--dest", str(tmp_path / "m.int8.tflite"))
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith("build_int8: error: dev set not found at")
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "m.int8.tflite").exists()


def test_bad_counts_are_usage_errors(tmp_path):
    for flag in ("--every", "--check-images"):
        proc = run(flag, "0", "--dev-dir", str(tmp_path))
        assert proc.returncode == 2 and "must be at least 1" in proc.stderr
