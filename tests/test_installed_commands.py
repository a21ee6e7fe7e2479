"""The commands as installed and as a user sees them (issue 32, items 3, 4 and 8).

Each runs the real command in a subprocess (``python -m MODULE`` is what the console
script calls: ``MODULE:main()`` with no arguments), from a folder that is not the
checkout, and reads everything it printed, native libraries' lines included:

* ``--version`` on the four commands and ``posekit.__version__`` (pyproject's version in a
  checkout); ``posekit`` with no input prints its usage, never a checkout path; no help
  text mentions ``make``;
* a run prints nothing but its own lines (no TensorFlow, TFLite or Ray lines, no warning),
  and nothing at all with ``-q``;
* ``-o NAME.avi`` for a video is refused in one line, never a folder named ``NAME.avi``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import IMAGES, ROOT, write_clip

WEIGHTS = ROOT / "model_weights" / "mobilenet_thin" / "graph_opt.pb"
needs_network = pytest.mark.skipif(
    not (WEIGHTS.is_file() and (IMAGES / "bus.jpg").is_file()),
    reason="weights or sample images missing (make setup)")

#: The console scripts of pyproject.toml: program name -> the module whose main() runs.
COMMANDS = {"posekit": "posekit.apps.demo", "posekit-batch": "posekit.apps.batch.run",
            "posekit-eval": "posekit.apps.evaluate", "posekit-fetch": "posekit.apps.fetch",
            "posekit-serve": "posekit.apps.serve"}


def command(module: str, *args, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``python -m module ARGS`` in ``cwd`` (the packages found through PYTHONPATH)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def pyproject_version() -> str:
    text = (ROOT / "pyproject.toml").read_text()
    return re.search(r'^\[project\].*?^version = "([^"]+)"', text, re.M | re.S).group(1)


# --- 3. installed commands that know they are installed -------------------------------------

@pytest.mark.parametrize("prog", sorted(COMMANDS))
def test_every_command_prints_its_name_and_posekits_version(prog, tmp_path):
    proc = command(COMMANDS[prog], "--version", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"{prog} {pyproject_version()}\n" and proc.stderr == ""


def test_the_library_has_a_version_from_the_one_place(tmp_path):
    code = "import posekit; print(posekit.__version__)"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() == pyproject_version(), proc.stderr


def test_posekit_without_an_input_prints_its_usage_not_a_checkout_path(tmp_path):
    proc = command("posekit.apps.demo", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("usage: posekit "), proc.stderr
    assert proc.stderr.splitlines()[-1] == ("posekit: error: no input: give an image, a folder "
                                            "of images or a video file (see --help)")
    assert "images/1.jpg" not in proc.stderr and "make" not in proc.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("prog", sorted(COMMANDS))
def test_no_help_text_mentions_make_or_a_checkout_path(prog, tmp_path):
    proc = command(COMMANDS[prog], "--help", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert not re.search(r"\bmake\b", proc.stdout), proc.stdout
    for checkout_only in ("images/1.jpg", "demo_image.py", "python -m"):
        assert checkout_only not in proc.stdout


# --- 4. quiet by default ----------------------------------------------------------------------

#: The lines an image run prints on stdout: the decoder's timings, then the count.
RESULT_LINE = re.compile(r"^([a-z ]+:\s+\d+\.\d{4} s|people: \d+, written to .+)$")


@needs_network
def test_an_image_run_prints_only_its_own_lines(tmp_path):
    proc = command("posekit.apps.demo", IMAGES / "bus.jpg", "-o", tmp_path / "bus.png",
                   "--max-side", "320", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert all(line.startswith("posekit: note: ") for line in proc.stderr.splitlines()), \
        proc.stderr                                    # no TFLite / TensorFlow line
    lines = proc.stdout.splitlines()
    assert lines and all(RESULT_LINE.match(line) for line in lines), proc.stdout
    assert lines[-1].startswith("people: ")


@needs_network
def test_a_quiet_run_prints_nothing(tmp_path):
    proc = command("posekit.apps.demo", IMAGES / "bus.jpg", "-o", tmp_path / "bus.png", "-q",
                   cwd=tmp_path)
    assert proc.returncode == 0
    assert (proc.stdout, proc.stderr) == ("", "")
    assert (tmp_path / "bus.png").is_file()


@needs_network
def test_a_batch_run_prints_no_ray_line_and_no_warning(tmp_path, small_bus):
    import cv2

    (tmp_path / "in").mkdir()
    for name in ("a.jpg", "b.jpg"):
        cv2.imwrite(str(tmp_path / "in" / name), small_bus)
    proc = command("posekit.apps.batch.run", tmp_path / "in", "-o", tmp_path / "out",
                   "--num-cpus", "2", "--object-store-mb", "200", "--actors", "1", "-q",
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (proc.stdout, proc.stderr) == ("", "")      # no Ray, TFLite or warning line


def test_the_batch_rate_counts_from_the_start_not_from_the_first_chunk(tmp_path):
    """Frames come back in chunks: 30 frames, the first 10 s after the start and the last
    10 ms after the first, are 3 frames/s (the issue's bar said 1925.95)."""
    from posekit.apps.batch.results import Tracker

    tracker = Tracker([], tmp_path, journal=None, quiet=True)
    tracker.start, tracker.first, tracker.last, tracker.frames = 100.0, 110.0, 110.01, 30
    assert tracker.steady_rate() == pytest.approx(30 / 10.01)


# --- 8. -o NAME.avi ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["drawn.avi", "drawn.MKV"])
def test_a_video_output_in_another_format_is_refused_in_one_line(tmp_path, small_bus, name):
    write_clip(tmp_path / "clip.avi", small_bus, 3)
    proc = command("posekit.apps.demo", tmp_path / "clip.avi", "-o", tmp_path / name,
                   cwd=tmp_path)
    lines = proc.stderr.splitlines()
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"posekit: error: -o {tmp_path / name}: ")
    assert "drawn.mp4" in lines[0]
    assert not (tmp_path / name).exists()             # never a folder named like a video
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.avi"]


def test_a_folder_input_refuses_an_output_named_like_a_video(tmp_path, small_bus):
    import cv2

    (tmp_path / "in").mkdir()
    cv2.imwrite(str(tmp_path / "in" / "a.jpg"), small_bus)
    proc = command("posekit.apps.demo", tmp_path / "in", "-o", tmp_path / "drawn.mp4",
                   cwd=tmp_path)
    lines = proc.stderr.splitlines()
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr
    assert "-o names the output folder" in lines[0]
    assert not (tmp_path / "drawn.mp4").exists()
