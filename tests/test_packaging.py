"""Installability: where assets are looked for, the wrong interpreter, the graders' plugin."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from posekit import paths

ROOT = Path(__file__).resolve().parents[1]


def test_checkout_keeps_its_assets_beside_the_packages():
    assert paths.in_checkout()
    assert paths.weights_dir() == ROOT / "model_weights"
    assert paths.images_dir() == ROOT / "images"


def test_installed_packages_use_the_per_user_data_folder(monkeypatch, tmp_path):
    monkeypatch.setattr(paths, "ROOT", tmp_path / "site-packages")     # no model_weights/ there
    monkeypatch.setenv("POSEKIT_HOME", str(tmp_path / "home"))
    assert not paths.in_checkout()
    assert paths.weights_dir() == tmp_path / "home" / "model_weights"
    assert paths.images_dir() == tmp_path / "home" / "images"
    monkeypatch.delenv("POSEKIT_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert paths.data_home() == tmp_path / "xdg" / "posekit"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert paths.data_home() == tmp_path / "user" / ".local" / "share" / "posekit"


def test_missing_weights_name_the_fetch_command(tmp_path):
    from posekit.pipeline import load_pose_network

    with pytest.raises(ValueError, match="posekit-fetch") as info:
        load_pose_network("mobilenet_thin", str(tmp_path / "graph_opt.pb"))
    assert "make setup" in str(info.value)


def test_wrong_interpreter_gets_one_line_naming_the_command():
    # -S: no site-packages, so numpy, OpenCV and TensorFlow are missing, as in a bare python3.
    proc = subprocess.run([sys.executable, "-S", str(ROOT / "demo_image.py")],
                          capture_output=True, text=True, timeout=60, cwd=ROOT.parent)
    assert proc.returncode == 1
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert "lacks the package" in lines[0] and "`make demo`" in lines[0]


def test_console_commands_and_plugin_point_at_real_functions():
    import importlib

    tomllib = pytest.importorskip("tomllib")            # Python 3.11+

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    entries = dict(project["scripts"], **project["entry-points"]["pytest11"])
    assert set(project["scripts"]) == {"posekit", "posekit-batch", "posekit-eval", "posekit-fetch",
                                       "posekit-serve"}
    for target in entries.values():
        module, _, attr = target.partition(":")
        loaded = importlib.import_module(module)
        assert callable(getattr(loaded, attr)) if attr else loaded


def test_fetch_command_reports_its_folder_and_finds_everything_present(capsys):
    from posekit.networks.mobilenet_thin import DEFAULT_WEIGHTS
    from posekit.apps import fetch

    if not (DEFAULT_WEIGHTS.is_file() and (ROOT / "images" / "bus.jpg").is_file()):
        pytest.skip("assets not fetched (make setup)")
    assert fetch.main([]) == 0                   # idempotent: nothing downloaded or converted
    out = capsys.readouterr().out
    assert f"assets folder {ROOT}" in out
    assert "present and verified" in out and "wrote" not in out


def test_graders_plugin_gives_the_fixtures_to_any_test_file(tmp_path):
    test = tmp_path / "test_grader.py"
    test.write_text("from pytest import approx\n"
                    "from estimation.merge import merge\n\n"
                    "def test_graded(sample_subset, expected_skeleton):\n"
                    "    assert merge(sample_subset)[0] == approx(expected_skeleton)\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    # Installed (its pytest11 entry point found), pytest loads the plugin by itself and a
    # second `-p` would be refused; from a bare checkout, `-p` does what installing does.
    installed = any(ep.value == "posekit.pytest_plugin"
                    for ep in entry_points(group="pytest11"))
    load = [] if installed else ["-p", "posekit.pytest_plugin"]
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           *load, "--rootdir", str(tmp_path), str(test)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout


def test_evaluate_help_shows_no_none_default(capsys):
    from posekit.apps import evaluate

    with pytest.raises(SystemExit) as info:
        evaluate.main(["--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert "--weights" in text and "(default: None)" not in text


def test_every_required_package_is_a_dependency_of_the_package():
    """What requirements.txt installs for running (not the test tools) is what `pip install .`
    (with its extras) installs too: a package left out works in the checkout only."""
    import re

    tomllib = pytest.importorskip("tomllib")

    def name(spec: str) -> str:
        return re.split(r"[\[<>=!~; ]", spec.strip(), maxsplit=1)[0].lower().replace("_", "-")

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {name(s) for s in project["dependencies"]}
    declared |= {name(s) for extra in project["optional-dependencies"].values() for s in extra}
    runtime = (ROOT / "requirements.txt").read_text().split("# Tests")[0]
    required = {name(line) for line in runtime.splitlines()
                if line.strip() and not line.startswith("#")}
    assert "imageio-ffmpeg" in required and "ray" in required
    assert required - declared == set()


def test_batch_command_without_ray_names_the_install_command(tmp_path, monkeypatch, capsys):
    """A Python without Ray: one line naming `pip install 'posekit[batch]'`, nothing written."""
    from posekit.apps.batch import run as batch

    monkeypatch.setitem(sys.modules, "ray", None)          # `import ray` fails, as without it
    (tmp_path / "a.jpg").write_bytes(b"not read")
    assert batch.main([str(tmp_path / "a.jpg"), "-o", str(tmp_path / "out")]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "posekit-batch: error: posekit-batch needs ray, which is not installed: "
        "pip install 'posekit[batch]'"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jpg"]
