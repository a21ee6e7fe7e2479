"""The layering of the code, read from the source (ast): no import runs upward, no circles.

Floors, lowest first: the lab kit (``estimation``, ``models``, ``tf_netbuilder_ext``: they
import only themselves) <- ``posekit`` (the product; it reads the lab kit as ``posekit.lab``,
never by the lab's own top-level names, so a user's ``estimation`` or ``models`` cannot shadow
it) <- ``tools`` (building) <- ``benchmarks`` <- ``studies`` <- ``demo_image.py``. Inside
``posekit`` the rooms stand in :data:`ROOMS` order. Every import statement counts, also those
inside functions, and so do ``importlib.import_module`` / ``__import__`` calls.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, Iterator, Set

import pytest

from conftest import ROOT

#: Top-level packages of the repository, and the ones each must never import.
OURS = ("estimation", "models", "tf_netbuilder_ext", "posekit", "tools", "benchmarks",
        "studies", "scripts", "tests", "demo_image")
ALLOWED = {
    "estimation": {"estimation"},
    "models": {"models"},
    "tf_netbuilder_ext": {"tf_netbuilder_ext"},
    "posekit": {"posekit"},
    "tools": {"tools", "posekit", "estimation", "models"},
    "benchmarks": {"benchmarks", "tools", "posekit", "estimation", "models"},
    "studies": {"studies", "benchmarks", "tools", "posekit", "estimation", "models"},
}
#: posekit's rooms, lowest first; a room imports only rooms before it (and itself).
ROOMS = ("posekit.lab", "posekit.registry", "posekit.paths", "posekit.extras", "posekit.io", "posekit.decode",
         "posekit.networks", "posekit.results", "posekit.pipeline", "posekit.video",
         "posekit.estimator", "posekit.serve", "posekit.apps", "posekit.pytest_plugin", "posekit")
#: Longest module, in lines (the style guide's "two modules waiting to be split").
MAX_LINES = 450


def module_files(package: str) -> Iterator[Path]:
    """The package's own .py files; ``posekit/lab`` (a link to ``estimation/``) is skipped."""
    for path in sorted((ROOT / package).rglob("*.py")):
        rel = path.relative_to(ROOT)
        if rel.parts[:2] == ("posekit", "lab") or path.is_symlink():
            continue
        yield path


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> Set[str]:
    """Absolute names a module imports: statements (relative ones resolved) and importlib calls."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and node.args and (
                getattr(node.func, "attr", None) == "import_module"
                or getattr(node.func, "id", None) in ("import_module", "__import__")):
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                names.add(arg.value)
            elif isinstance(arg, ast.JoinedStr) and arg.values and isinstance(
                    arg.values[0], ast.Constant):
                names.add(str(arg.values[0].value).rstrip("."))
            else:
                names.add("<dynamic>")
    return {n for n in names if n}


def top(name: str) -> str:
    return name.split(".")[0]


def room(name: str) -> str:
    """The :data:`ROOMS` entry a posekit module belongs to (the longest prefix)."""
    return max((r for r in ROOMS if name == r or name.startswith(r + ".")), key=len)


def test_the_parser_sees_every_kind_of_import(tmp_path):
    (tmp_path / "pkg").mkdir()
    source = tmp_path / "pkg" / "m.py"
    source.write_text("import a.b\nfrom c import d\nfrom . import e\n"
                      "def f():\n    from posekit.networks.inference import infer\n"
                      "    importlib.import_module('models')\n"
                      "    import_module(f'posekit_scripts.{name}')\n"
                      "    __import__(name)\n")
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        found = imported_modules(source)
    finally:
        ROOT = saved
    assert {"a.b", "c", "c.d", "pkg", "pkg.e", "posekit.networks.inference", "models",
            "posekit_scripts", "<dynamic>"} <= found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_no_import_runs_upward(package):
    files = list(module_files(package))
    assert files, package
    bad = {}
    for path in files:
        names = imported_modules(path)
        wrong = sorted(n for n in names if (top(n) in OURS and top(n) not in ALLOWED[package])
                       or n == "<dynamic>")
        if wrong:
            bad[str(path.relative_to(ROOT))] = wrong
    assert bad == {}


def test_the_rooms_of_posekit_stand_in_order():
    bad = {}
    for path in module_files("posekit"):
        own = room(module_name(path))
        above = sorted({room(n) for n in imported_modules(path) if top(n) == "posekit"
                        and ROOMS.index(room(n)) > ROOMS.index(own)})
        if above:
            bad[module_name(path)] = above
    assert bad == {}


def _graph() -> Dict[str, Set[str]]:
    modules = {module_name(p): p for pkg in ALLOWED for p in module_files(pkg)}
    return {name: {n for n in imported_modules(path) if n in modules and n != name}
            for name, path in modules.items()}


def test_no_import_circles():
    graph, index, low, stack, on_stack, circles = _graph(), {}, {}, [], set(), []

    def visit(node: str) -> None:                      # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    assert circles == []


def test_the_circle_finder_finds_a_circle(monkeypatch):
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    monkeypatch.setitem(globals(), "_graph", lambda: graph)
    with pytest.raises(AssertionError, match="'a', 'b', 'c'"):
        test_no_import_circles()


def test_no_module_is_over_the_line_limit():
    long = {str(p.relative_to(ROOT)): n for pkg in ALLOWED for p in module_files(pkg)
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_posekit_lab_is_the_lab_kit_itself():
    """One source of truth: posekit.lab is the repository's estimation/ folder (a link)."""
    lab = ROOT / "posekit" / "lab"
    assert lab.is_symlink() and lab.resolve() == (ROOT / "estimation").resolve()
    vgg = ROOT / "posekit" / "networks" / "lab_vgg.py"
    assert vgg.is_symlink() and vgg.resolve() == (ROOT / "models" / "vgg.py").resolve()


def test_demo_image_is_a_thin_entry_point():
    """The lab's script only hands over to the application package."""
    imported = {top(n) for n in imported_modules(ROOT / "demo_image.py")}
    assert imported <= {"os", "sys", "posekit"}
    assert len((ROOT / "demo_image.py").read_text().splitlines()) < 60
