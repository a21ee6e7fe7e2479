"""Process-wide state: importing the packages changes none (environment, standard streams,
signal handlers, working directory); OpenCV's own pixel cap binds where the commands set it
(demo_image.py before its first import, Ray's workers at their start)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap

import cv2
import numpy as np

from posekit.apps.common import OPENCV_LIMIT_ENV

from conftest import ROOT

PACKAGES = ("estimation", "models", "posekit")


def module_names() -> list:
    """Every module of the three packages, as a dotted name."""
    names = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.name == "__main__.py":          # runs its command when imported
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def third_party_imports(names: list) -> list:
    """Modules of other packages that ours import when they load (outside functions), with
    each ``from x import y`` also as ``x.y``: imported before the first snapshot, as their
    own import-time effects (cv2 extends LD_LIBRARY_PATH, TensorFlow sets TF2_BEHAVIOR)
    are not ours to judge."""
    found = set()
    for name in names:
        path = ROOT.joinpath(*name.split("."))
        path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
        stack = list(ast.parse(path.read_text()).body)
        while stack:
            node = stack.pop()
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
            stack.extend(ast.iter_child_nodes(node))
    return sorted(m for m in found if m.split(".")[0] not in PACKAGES)


#: Run in a fresh interpreter: other packages first, then the state before, every module
#: of ours, the state after.
PROBE = textwrap.dedent("""
    import importlib, json, os, signal, sys

    for name in json.loads(sys.argv[2]):
        try:
            importlib.import_module(name)
        except Exception:           # ``from x import y`` of a name that is no module
            pass

    def state():
        streams = {fd: list(os.fstat(fd))[:3] for fd in (0, 1, 2)}   # mode, inode, device
        handlers = {}
        for number in signal.valid_signals():
            try:
                handlers[int(number)] = repr(signal.getsignal(number))
            except (ValueError, OSError):
                pass
        return {"env": dict(os.environ), "streams": streams, "signals": handlers,
                "cwd": os.getcwd()}

    before = state()
    for name in json.loads(sys.argv[1]):
        importlib.import_module(name)
    after = state()
    print(json.dumps({"before": before, "after": after, "modules": len(sys.modules)}))
""")


def test_importing_every_module_changes_no_process_state(tmp_path):
    names = module_names()
    assert {"posekit.io.images", "posekit.apps.demo", "posekit.apps.batch.run", "posekit.networks.inference",
            "estimation.merge"} <= set(names)
    # stdin a file, stdout a pipe, stderr another file: a redirection of any shows
    (tmp_path / "in").write_text("")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path),
           "PYTHONPATH": str(ROOT)}
    others = json.dumps(third_party_imports(names))
    with open(tmp_path / "in") as stdin, open(tmp_path / "err", "w") as stderr:
        proc = subprocess.run([sys.executable, "-c", PROBE, json.dumps(names), others],
                              cwd=tmp_path, stdin=stdin, stdout=subprocess.PIPE, stderr=stderr,
                              text=True, env=env, timeout=600)
    assert proc.returncode == 0, (tmp_path / "err").read_text()[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    before, after = report["before"], report["after"]
    assert report["modules"] > len(names)                     # the imports really ran
    changed = {key: (before["env"].get(key), after["env"].get(key))
               for key in set(before["env"]) | set(after["env"])
               if before["env"].get(key) != after["env"].get(key)}
    assert changed == {}
    assert after["streams"] == before["streams"]
    assert after["signals"] == before["signals"]
    assert after["cwd"] == before["cwd"]


# --- OpenCV's pixel cap, the second line behind posekit's header check ---------------------

CAP = "OPENCV_IO_MAX_IMAGE_PIXELS"


def big_png(tmp_path):
    """8000 x 8000 grey (64 megapixels): over the cap, small on disk."""
    path = tmp_path / "big.png"
    assert cv2.imwrite(str(path), np.zeros((8000, 8000), np.uint8))
    return path


#: Imports demo_image.py as the lab runs it, then decodes straight with OpenCV.
DEMO_PROBE = textwrap.dedent("""
    import os, sys
    sys.path.insert(0, sys.argv[2])
    import demo_image  # noqa: F401
    import cv2
    try:
        shape = cv2.imread(sys.argv[1], cv2.IMREAD_UNCHANGED).shape
    except cv2.error as exc:
        shape = "refused" if "MAX_IMAGE_PIXELS" in str(exc) else str(exc)
    print(os.environ.get("OPENCV_IO_MAX_IMAGE_PIXELS"), shape)
""")


def test_demo_image_sets_opencv_cap_before_opencv_loads_and_keeps_the_users(tmp_path):
    path = big_png(tmp_path)
    base = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}
    ours = subprocess.run([sys.executable, "-c", DEMO_PROBE, str(path), str(ROOT)],
                          capture_output=True, text=True, env=base, timeout=300)
    assert ours.stdout.split() == [OPENCV_LIMIT_ENV[CAP], "refused"], ours.stderr[-2000:]
    users = subprocess.run([sys.executable, "-c", DEMO_PROBE, str(path), str(ROOT)],
                           capture_output=True, text=True, env={**base, CAP: "70000000"},
                           timeout=300)
    assert users.stdout.split() == ["70000000", "(8000,", "8000)"], users.stderr[-2000:]


def opencv_cap_in_a_worker(path):
    """Run in a Ray worker: its cap variable and whether OpenCV refuses ``path``."""
    import os

    import cv2

    try:
        cv2.imread(path, cv2.IMREAD_UNCHANGED)
        return os.environ.get(CAP), "decoded"
    except cv2.error as exc:
        return os.environ.get(CAP), "refused" if "MAX_IMAGE_PIXELS" in str(exc) else str(exc)


def test_ray_workers_start_with_opencv_cap(tmp_path, local_ray):
    import ray
    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers lack tests/
    probe = ray.remote(opencv_cap_in_a_worker)
    assert ray.get(probe.remote(str(big_png(tmp_path))), timeout=300) == (
        OPENCV_LIMIT_ENV[CAP], "refused")
