"""The layering of the packages, read from the source (ast): no import runs upward.

estimation (numpy) <- models (networks) <- posekit (application) <- demo_image.py.
Every import statement counts, also those inside functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import ROOT

#: package -> the project's packages it must never import
FORBIDDEN = {
    "estimation": {"models", "posekit", "demo_image", "benchmarks", "scripts", "tests"},
    "models": {"posekit", "demo_image", "benchmarks", "scripts", "tests"},
    "posekit": {"demo_image", "benchmarks", "scripts", "tests"},
}


def imported_packages(path: Path, package: str) -> set:
    """Top-level names imported by a module (relative imports resolve to ``package``)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add(package if node.level else (node.module or "").split(".")[0])
    return names


def test_the_parser_sees_every_kind_of_import(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("import a.b\nfrom c import d\nfrom . import e\n"
                      "def f():\n    from models.inference import infer\n")
    assert imported_packages(source, "pkg") == {"a", "c", "pkg", "models"}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_import_runs_upward(package):
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, package
    bad = {str(f.relative_to(ROOT)): sorted(imported_packages(f, package) & FORBIDDEN[package])
           for f in files}
    assert {f: names for f, names in bad.items() if names} == {}


def test_demo_image_is_a_thin_entry_point():
    """The lab's script only hands over to the application package."""
    imported = imported_packages(ROOT / "demo_image.py", "")
    assert imported <= {"os", "sys", "pathlib", "posekit"}
    assert len((ROOT / "demo_image.py").read_text().splitlines()) < 60
