"""Tests of posekit/extras.py: each optional package's extra, and the one line a missing one gives."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from posekit import extras
from posekit.extras import EXTRA_OF, MissingExtra, install_hint, require

ROOT = Path(__file__).resolve().parents[1]


def _project() -> dict:
    tomllib = pytest.importorskip("tomllib")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _name(spec: str) -> str:
    return re.split(r"[\[<>=!~; ]", spec.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_install_hint_names_the_extra():
    assert install_hint("eval") == "pip install 'posekit[eval]'"


def test_require_passes_an_installed_package():
    assert require("pycocotools", "COCO evaluation") is None


def test_require_names_the_extra_of_a_missing_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "pycocotools", None)     # as if not installed
    with pytest.raises(MissingExtra) as info:
        require("pycocotools", "COCO evaluation")
    assert str(info.value) == ("COCO evaluation needs pycocotools, which is not installed: "
                               "pip install 'posekit[eval]'")
    assert isinstance(info.value, ImportError) and "\n" not in str(info.value)


def test_require_refuses_a_package_of_no_extra():
    with pytest.raises(ValueError, match="package must be one of"):
        require("numpy", "anything")


def test_every_extra_named_exists_and_installs_its_package():
    """EXTRA_OF's extra for each module lists the distribution that provides it (or an
    extra that does), so the printed `pip install` really brings the package."""
    optional = _project()["optional-dependencies"]
    distribution = {"imageio_ffmpeg": "imageio-ffmpeg", "pycocotools": "pycocotools",
                    "ray": "ray", "fastapi": "fastapi", "uvicorn": "uvicorn",
                    "tensorflow": {"tensorflow", "tensorflow-cpu"}, "setuptools": "setuptools",
                    "Cython": "cython"}
    for module, extra in EXTRA_OF.items():
        wanted = distribution[module]
        wanted = wanted if isinstance(wanted, set) else {wanted}
        assert {_name(s) for s in optional[extra]} & wanted, (module, extra)


def test_the_default_install_is_what_inference_needs_and_all_is_every_extra():
    project = _project()
    assert {_name(s) for s in project["dependencies"]} == {
        "numpy", "opencv-python-headless", "ai-edge-litert", "tqdm"}
    optional = project["optional-dependencies"]
    named = set(re.search(r"\[(.*)\]", optional["all"][0]).group(1).split(","))
    assert named == set(optional) - {"all", "test", "lab"}
    assert optional["lab"] == ["posekit[tensorflow]"]


def test_the_extras_docstring_table_lists_every_extra():
    optional = _project()["optional-dependencies"]
    for extra in set(optional) - {"test"}:
        assert re.search(rf"^{extra}\s", extras.__doc__, re.M), extra


@pytest.mark.parametrize("blocked, argv, extra", [
    ("pycocotools", ["posekit-eval", "--images", "x", "--annotations", "y.json"], "eval"),
    ("ray", ["posekit-batch", "a.jpg", "-o", "out"], "batch"),
    ("tensorflow", ["posekit", "a.jpg", "--runtime", "tensorflow"], "tensorflow"),
])
def test_each_command_says_which_extra_is_missing_in_one_line(blocked, argv, extra, tmp_path,
                                                              monkeypatch, capsys):
    from posekit.apps import demo, evaluate
    from posekit.apps.batch import run as batch

    mains = {"posekit": demo.main, "posekit-eval": evaluate.main, "posekit-batch": batch.main}
    monkeypatch.chdir(tmp_path)
    import shutil

    bus = ROOT / "images" / "bus.jpg"
    if not bus.is_file():
        pytest.skip("images/bus.jpg missing (run `make setup`)")
    shutil.copyfile(bus, tmp_path / "a.jpg")
    monkeypatch.setitem(sys.modules, blocked, None)
    status = mains[argv[0]](argv[1:])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 1
    assert err[-1].startswith(f"{argv[0]}: error: ") and err[-1].endswith(install_hint(extra))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jpg"]       # nothing written
