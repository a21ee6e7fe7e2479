"""The product stands on the lab kit without leaning on its names: nothing of the user's shadows ours.

A folder with its own ``models/`` and ``estimation/`` packages (most ML projects
have a ``models/``; a grader's student kit has an ``estimation/``) comes first on
the module path of a program run there. The library and the commands must work
there, from the checkout and from the built wheel; the wheel holds ``posekit``
only; the demo imports no build or study code.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT

BUS = ROOT / "images" / "bus.jpg"
WEIGHTS = ROOT / "model_weights" / "mobilenet_thin" / "graph_opt.pb"
needs_assets = pytest.mark.skipif(not (BUS.is_file() and WEIGHTS.is_file()),
                                  reason="weights or sample images missing (make setup)")

LIBRARY = ("import cv2, sys\n"
           "from posekit import PoseEstimator\n"
           "result = PoseEstimator()(cv2.imread(sys.argv[1]))\n"
           "print(len(result.people))\n")


def user_folder(tmp_path: Path) -> Path:
    """A project folder of the user's with its own ``models``, ``estimation`` and ``tools``."""
    folder = tmp_path / "project"
    for name in ("models", "estimation", "tools", "posekit_scripts", "tf_netbuilder_ext"):
        (folder / name).mkdir(parents=True)
        (folder / name / "__init__.py").write_text(
            f"raise ImportError('the user\\'s own {name} package was imported')\n")
    return folder


def run(args: list, cwd: Path, pythonpath: str, **env: str) -> subprocess.CompletedProcess:
    environ = dict(os.environ, PYTHONPATH=pythonpath, TF_CPP_MIN_LOG_LEVEL="3", **env)
    return subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          timeout=240, cwd=cwd, env=environ)


@needs_assets
def test_the_library_and_the_demo_work_beside_the_users_own_packages(tmp_path):
    folder = user_folder(tmp_path)
    proc = run(["-c", LIBRARY, str(BUS)], folder, str(ROOT))
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout.split()[-1]) >= 3              # bus.jpg: 4 people, 3 at least whole
    proc = run(["-m", "posekit.apps.demo", str(BUS), "-o", "out.png", "-q"], folder, str(ROOT))
    assert proc.returncode == 0, proc.stderr
    assert (folder / "out.png").stat().st_size > 0


def test_every_command_starts_beside_the_users_own_packages(tmp_path):
    folder = user_folder(tmp_path)
    commands = {"posekit.apps.demo": "posekit", "posekit.apps.batch": "posekit-batch",
                "posekit.apps.evaluate": "posekit-eval", "posekit.apps.fetch": "posekit-fetch",
                "posekit.apps.serve": "posekit-serve"}
    for module, name in commands.items():
        proc = run(["-m", module, "--help"], folder, str(ROOT))
        assert proc.returncode == 0, (module, proc.stderr)
        assert proc.stdout.startswith(f"usage: {name} "), (module, proc.stdout[:80])


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """posekit's wheel, built from a copy of what it is made of (the build leaves its
    scratch folders there, not in the checkout) with the interpreter's own setuptools."""
    source, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("wheel")
    for name in ("posekit", "estimation", "models"):
        shutil.copytree(ROOT / name, source / name, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                           "--no-build-isolation", "-q", "-w", str(out), str(source)],
                          capture_output=True, text=True, timeout=300, cwd=out)
    if proc.returncode != 0 and "No module named" in proc.stderr:
        pytest.skip(f"cannot build a wheel here: {proc.stderr.strip().splitlines()[-1]}")
    assert proc.returncode == 0, proc.stderr
    (built,) = out.glob("posekit-*.whl")
    return built


def test_the_wheel_holds_posekit_only_with_the_lab_kit_inside(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"posekit"}
    # the lab kit ships as real files under posekit's name, the same bytes as estimation/
    for name in ("merge.py", "config.py", "handout.py", "lab_decoders.py"):
        data = zipfile.ZipFile(wheel).read(f"posekit/lab/{name}")
        assert data == (ROOT / "estimation" / name).read_bytes()
    assert zipfile.ZipFile(wheel).read("posekit/networks/lab_vgg.py") == \
        (ROOT / "models" / "vgg.py").read_bytes()
    assert "posekit/decode/rescore_weights.json" in names
    # the two networks ship as package data, byte for byte the checkout's, with their
    # manifests and the licence notice of the graph they come from
    shipped = ROOT / "posekit" / "networks" / "weights"
    for name in ("NOTICE", "mobilenet_thin/graph_opt.tflite", "mobilenet_thin/graph_opt.tflite.json",
                 "mobilenet_thin/graph_opt.int8.tflite", "mobilenet_thin/graph_opt.int8.tflite.json"):
        data = zipfile.ZipFile(wheel).read(f"posekit/networks/weights/{name}")
        assert data == (shipped / name).read_bytes(), name
    # the service's page is package data (issue 34)
    assert {f"posekit/serve/page/{n}" for n in ("index.html", "page.js", "page.css")} <= set(names)
    assert not [n for n in names if n.startswith(("posekit/tools", "tools/", "studies/"))]


@needs_assets
def test_the_installed_package_works_beside_the_users_own_packages(wheel, tmp_path):
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    home = tmp_path / "home"                       # an empty per-user data folder: the
    home.mkdir()                                   # networks come from the package itself
    folder = user_folder(tmp_path)
    proc = run(["-c", "import posekit, sys; print(posekit.__file__)"], folder, str(site))
    assert proc.stdout.strip() == str(site / "posekit" / "__init__.py"), proc.stderr
    proc = run(["-c", LIBRARY, str(BUS)], folder, str(site), POSEKIT_HOME=str(home))
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout.split()[-1]) >= 3


@needs_assets
def test_the_demo_imports_no_build_study_or_lab_root_code(tmp_path):
    """``python -X importtime``: what the demo's run loads, read from the interpreter itself."""
    proc = run(["-X", "importtime", str(ROOT / "demo_image.py"), str(BUS), "-o",
                str(tmp_path / "out.png"), "-q"], ROOT, str(ROOT))
    assert proc.returncode == 0, proc.stderr[-2000:]
    loaded = {line.split("|")[-1].strip() for line in proc.stderr.splitlines()
              if line.startswith("import time:") and "|" in line}
    assert "posekit.networks.inference" in loaded and "posekit.decode.decoder" in loaded
    ours = {m for m in loaded if m.split(".")[0] in
            ("tools", "studies", "benchmarks", "scripts", "estimation", "models")}
    assert ours == set()
