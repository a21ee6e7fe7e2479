"""The light install, for real: ``pip install <checkout>`` into a fresh venv, then the installed command.

A fresh virtual environment (no system site packages) gets ``pip install`` of
this checkout with the default dependencies only; then, from another folder,
``posekit bus.jpg -o out.png`` must run the shipped int8 model on a CPU with
8-bit dot products (float32 TFLite elsewhere) with no TensorFlow installed,
print nothing but its result lines, and each optional part must say in one
line which extra it needs. The environment must stay under 400 MB.

It needs the package registry (pip) and takes about 30 s; a machine where
pip cannot reach its index skips it with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUS = ROOT / "images" / "bus.jpg"
#: The issue's bound on the default install (x86_64 Linux).
MAX_ENVIRONMENT_MB = 400
#: The lines `posekit IMAGE -o OUT` prints on standard output: its step times and result.
RESULT_LINES = ("network:", "peaks:", "connections:", "grouping:", "people:")


def _size_mb(folder: Path) -> float:
    """Bytes of the regular files under ``folder`` (links not followed), in MB."""
    total = 0
    for dirpath, _, files in os.walk(folder):
        for name in files:
            path = Path(dirpath) / name
            if not path.is_symlink():
                total += path.stat().st_size
    return total / 1e6


@pytest.fixture(scope="module")
def light_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with ``pip install`` of a copy of the checkout (default dependencies)."""
    if not BUS.is_file():
        pytest.skip("images/bus.jpg missing (run `make setup`)")
    base = tmp_path_factory.mktemp("light")
    source = base / "source"
    top_level = {".venv", ".venv-mutation", ".git", "mutants", "build", "model_weights",
                 "images", "output", "output.png"}
    everywhere = shutil.ignore_patterns("*.egg-info", "__pycache__", ".pytest_cache",
                                        ".hypothesis")

    def ignore(folder: str, names: list) -> set:
        skipped = set(everywhere(folder, names))
        return skipped | (top_level & set(names) if Path(folder) == ROOT else set())

    shutil.copytree(ROOT, source, symlinks=True, ignore=ignore)
    env_dir = base / "env"
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(env_dir)
    python = env_dir / "bin" / "python"
    proc = subprocess.run([str(python), "-m", "pip", "install", "--quiet",
                           "--disable-pip-version-check", str(source)],
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["?"])[-1]
        if "No matching distribution" in proc.stderr or "connection" in proc.stderr.lower():
            pytest.skip(f"pip cannot reach its index here: {last}")
        raise AssertionError(proc.stderr)
    return env_dir


def _run(env_dir: Path, command: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "POSEKIT"))}
    env["POSEKIT_HOME"] = str(cwd / "home")             # an empty data folder
    return subprocess.run([str(env_dir / "bin" / command), *args], capture_output=True,
                          text=True, timeout=300, cwd=cwd, env=env)


def test_the_default_install_is_light_and_has_no_tensorflow(light_env):
    assert _size_mb(light_env) < MAX_ENVIRONMENT_MB
    proc = subprocess.run([str(light_env / "bin" / "python"), "-m", "pip", "list",
                           "--format=freeze", "--disable-pip-version-check"],
                          capture_output=True, text=True, timeout=120)
    installed = {line.split("==")[0].lower() for line in proc.stdout.splitlines()}
    assert {"posekit", "numpy", "opencv-python-headless", "ai-edge-litert", "tqdm"} <= installed
    assert not installed & {"tensorflow", "tensorflow-cpu", "ray", "imageio-ffmpeg",
                            "pycocotools", "fastapi", "uvicorn", "cython"}


def test_the_installed_demo_runs_the_shipped_model_quietly(light_env, tmp_path):
    from posekit.networks import cpu as cpus

    shutil.copyfile(BUS, tmp_path / "bus.jpg")
    proc = _run(light_env, "posekit", "bus.jpg", "-o", "out.png", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split()[0] for line in lines] == list(RESULT_LINES), proc.stdout
    assert int(lines[-1].split()[1].rstrip(",")) >= 3
    # standard error: at most the one note on the downscaled input, no TensorFlow/TFLite lines
    assert all(line.startswith("posekit: note: ") for line in proc.stderr.splitlines()), proc.stderr
    assert (tmp_path / "out.png").stat().st_size > 0
    # which model ran: -v says; int8 where this CPU has 8-bit dot products
    verbose = _run(light_env, "posekit", "bus.jpg", "-o", "out2.png", "-v", cwd=tmp_path)
    expected = "int8" if cpus.int8_pays(cpus.this_cpu())[0] else "tflite"
    assert f"mobilenet_thin runs on {expected}" in verbose.stderr, verbose.stderr


def test_the_installed_library_takes_a_path_without_tensorflow(light_env, tmp_path):
    shutil.copyfile(BUS, tmp_path / "bus.jpg")
    code = ("import sys, posekit; r = posekit.PoseEstimator()('bus.jpg'); "
            "print(len(r.people), 'tensorflow' in sys.modules, posekit.__version__)")
    proc = _run(light_env, "python", "-c", code, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    people, tensorflow, version = proc.stdout.split()
    assert int(people) >= 3 and tensorflow == "False" and version[0].isdigit()


@pytest.mark.parametrize("argv, extra", [
    (["posekit-batch", "bus.jpg", "-o", "poses"], "batch"),
    (["posekit-eval", "--images", ".", "--annotations", "a.json"], "eval"),
    (["posekit", "bus.jpg", "--runtime", "tensorflow"], "tensorflow"),
    (["posekit", "clip.avi", "-o", "drawn.mp4"], "video"),
])
def test_a_missing_extra_is_one_line_naming_its_install(light_env, tmp_path, argv, extra):
    import cv2

    shutil.copyfile(BUS, tmp_path / "bus.jpg")
    inputs = ["bus.jpg"]
    if "clip.avi" in argv:                 # a 3-frame MJPEG clip: reading needs only OpenCV
        writer = cv2.VideoWriter(str(tmp_path / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"),
                                 10, (160, 200))
        for _ in range(3):
            writer.write(cv2.resize(cv2.imread(str(BUS)), (160, 200)))
        writer.release()
        inputs.append("clip.avi")
    proc = _run(light_env, *argv, cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].endswith(f"pip install 'posekit[{extra}]'"), \
        proc.stderr
    assert "Traceback" not in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(inputs)
