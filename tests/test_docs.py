"""Tests of the documentation: its links, make targets and commands checked against the files.

Every relative link in README.md and docs/**/*.md must name a file of the checkout and, with
``#anchor``, a heading of that file (GitHub's slugs); every ``make TARGET`` they name must be
a target of the Makefile; every command the README names (``python -m MODULE``, ``python
FILE``, ``bash FILE`` and the installed commands of pyproject.toml's [project.scripts]) must
exist, and so must those of every page below docs/. docs/README.md indexes every page,
guides apart from records (docs/records/). Nothing here is a hard-coded list: a module or
page that moves fails these tests until the documents follow it.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from conftest import ROOT

#: The README's longest allowed length, in lines (issue 30: a front door, details in docs/).
README_MAX_LINES = 250

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([\w+-]*)")
HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
#: An inline code span: a run of backticks, then text up to the same run, within a paragraph.
CODE_SPAN = re.compile(r"(`+)((?:(?!\n[ \t]*\n).)+?)(?<!`)\1(?!`)", re.DOTALL)
#: ``[text](target "title")`` and ``![alt](target)``; the text may hold one level of brackets.
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
MAKE = re.compile(r"(?<![\w./-])make((?:[ \t]+[^\s;&|#]+)+)")
PYTHON_MODULE = re.compile(r"(?<![\w-])python3?[ \t]+-m[ \t]+([A-Za-z_][\w.]*)")
RUN_FILE = re.compile(r"(?<![\w-])(?:python3?|bash)[ \t]+(?!-)([^\s'\"|;&<>()]+)")
COMMAND = re.compile(r"(?<![\w./-])(posekit(?:-[A-Za-z0-9]+)*)(?![\w./-])")
#: Fenced blocks in these languages hold no shell commands.
NOT_SHELL = {"python", "py", "text", "json", "toml", "yaml"}


def markdown_files() -> list:
    """The documents checked: README.md and every page below docs/."""
    return [ROOT / "README.md"] + sorted((ROOT / "docs").rglob("*.md"))


class Document:
    """One markdown file split into prose (fenced code blanked) and code (blocks and spans).

    Line numbers are kept: a fenced line becomes an empty prose line, so ``prose`` has
    the file's lines in place.
    """

    def __init__(self, text: str):
        prose, self.blocks = [], []
        fence, lang, body = None, "", []
        for line in text.splitlines():
            if fence is not None:
                stripped = line.strip()
                if stripped.startswith(fence) and stripped == stripped[0] * len(stripped):
                    self.blocks.append((lang, "\n".join(body)))
                    fence = None
                else:
                    body.append(line)
                prose.append("")
                continue
            match = FENCE.match(line)
            if match:
                fence, lang, body = match.group(1), match.group(2).lower(), []
                prose.append("")
                continue
            prose.append(line)
            if line.startswith("    ") and line.strip():   # an indented code block (or not)
                self.blocks.append(("", line.strip()))
        self.prose = "\n".join(prose)
        self.spans = [" ".join(m.group(2).split()) for m in CODE_SPAN.finditer(self.prose)]
        # code spans blanked to spaces of the same length (no link inside a span counts)
        self.text = CODE_SPAN.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), self.prose)

    def headings(self) -> list:
        """The text of each ATX heading outside code, in order."""
        return [m.group(2) for m in map(HEADING.match, self.prose.splitlines()) if m]

    def anchors(self) -> set:
        """Every anchor GitHub gives this file's headings (repeats get ``-1``, ``-2``...)."""
        seen, anchors = {}, set()
        for heading in self.headings():
            base = slug(heading)
            count = seen.get(base, 0)
            seen[base] = count + 1
            anchors.add(base if count == 0 else f"{base}-{count}")
        return anchors

    def links(self) -> list:
        """``(line number, target)`` of each link outside code."""
        return [(self.text.count("\n", 0, m.start()) + 1, m.group(1))
                for m in LINK.finditer(self.text)]

    def shell(self) -> list:
        """The code that may hold commands: spans and every block but Python's and data's."""
        return self.spans + [body for lang, body in self.blocks if lang not in NOT_SHELL]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its rendered text, lower case, punctuation dropped.

    Spaces become hyphens; letters, digits, ``_`` and ``-`` stay; everything else goes.
    """
    text = re.sub(r"!?\[((?:[^\[\]]|\[[^\]]*\])*)\]\([^)]*\)", r"\1", heading)   # link text
    text = re.sub(r"<[^>]+>", "", text)                                           # HTML tags
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def check_link(source: Path, target: str, anchors_of) -> str | None:
    """Why ``target`` (a link in ``source``) does not resolve, or None when it does."""
    if not target or SCHEME.match(target):
        return None if target else "empty link"
    path, _, anchor = unquote(target).partition("#")
    if path.startswith("/"):
        file = (ROOT / path.lstrip("/")).resolve()
    else:
        file = (source.parent / path).resolve() if path else source
    if file != ROOT and ROOT not in file.parents:
        return "outside the repository"
    if not file.exists():
        return "no such file"
    if anchor:
        if file.suffix != ".md" or file.is_dir():
            return "an anchor into a file that is not markdown"
        if anchor not in anchors_of(file):
            return f"no heading with the anchor #{anchor}"
    return None


def make_targets(makefile: Path) -> set:
    """The explicit targets of a Makefile (no special ``.TARGET``, variable or pattern)."""
    targets = set()
    for line in makefile.read_text().splitlines():
        match = re.match(r"^([^\s:=#][^:=#]*?)\s*::?(?!=)", line)
        if match:
            targets.update(t for t in match.group(1).split()
                           if not t.startswith(".") and "$" not in t and "%" not in t)
    return targets


def make_goals(code: str) -> list:
    """The targets of each ``make ...`` in a piece of shell (options and VAR=value skipped)."""
    goals = []
    for match in MAKE.finditer(code):
        goals += [word for word in match.group(1).split()
                  if not word.startswith("-") and "=" not in word]
    return goals


def module_exists(name: str) -> bool:
    """Whether ``python -m name`` finds a module: the project's own by its files, else by spec.

    A package of the project runs only with a ``__main__.py``.
    """
    parts = name.split(".")
    base = ROOT.joinpath(*parts)
    if base.with_suffix(".py").is_file() or (base / "__main__.py").is_file():
        return True
    if (ROOT / parts[0]).is_dir() or (ROOT / f"{parts[0]}.py").is_file():
        return False
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def module_defines(module: str, name: str) -> bool:
    """Whether the project's module file defines or imports ``name`` at top level (ast)."""
    base = ROOT.joinpath(*module.split("."))
    file = base.with_suffix(".py") if base.with_suffix(".py").is_file() else base / "__init__.py"
    if not file.is_file():
        return False
    for node in ast.parse(file.read_text(), filename=str(file)).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if node.name == name:
                return True
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            if any((alias.asname or alias.name) == name for alias in node.names):
                return True
        elif isinstance(node, ast.Assign):
            if any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
                return True
    return False


def project_scripts() -> dict:
    """pyproject.toml's [project.scripts]: command -> ``module:function``."""
    tomllib = pytest.importorskip("tomllib")            # Python 3.11+
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]


def missing_commands(code_pieces: list, scripts: dict) -> list:
    """Each command named in the pieces of shell that does not exist, with why."""
    missing = []
    for code in code_pieces:
        for module in PYTHON_MODULE.findall(code):
            if not module_exists(module):
                missing.append(f"python -m {module}: no such module")
        for path in RUN_FILE.findall(code):
            if not (ROOT / path).is_file():
                missing.append(f"{path}: no such file")
        for command in COMMAND.findall(code):
            if command not in scripts:
                missing.append(f"{command}: not in pyproject.toml [project.scripts]")
                continue
            module, _, function = scripts[command].partition(":")
            if not module_exists(module) or not module_defines(module, function):
                missing.append(f"{command}: {scripts[command]} does not exist")
    return missing


def _anchors_cache():
    cache = {}

    def anchors_of(file: Path) -> set:
        if file not in cache:
            cache[file] = Document(file.read_text()).anchors()
        return cache[file]
    return anchors_of


# --- the checkers themselves, on made-up documents -----------------------------------------

def test_slugs_follow_githubs_rules():
    assert slug("Sub-cell refinement (`posekit/decode/refine.py`)") == \
        "sub-cell-refinement-posekitdecoderefinepy"
    assert slug("Recipe 4 (shipped before recipe 6): fine-tuned") == \
        "recipe-4-shipped-before-recipe-6-fine-tuned"
    assert slug('The table ([lab_kit.md](lab_kit.md) "Using merge.py", `bench_merge`)') == \
        "the-table-lab_kitmd-using-mergepy-bench_merge"
    assert slug("Zidane whole (`a`, `DecoderParams.min_person_score`)") == \
        "zidane-whole-a-decoderparamsmin_person_score"
    assert slug("int8 / float32: 2.5x?") == "int8--float32-25x"


def test_the_parser_sees_headings_links_and_code_but_no_link_in_code():
    doc = Document("# Title\n\nSee [a](a.md#x) and `[b](b.md)`.\n\n```bash\n# not a heading\n"
                   "make demo  # comment\n[c](c.md)\n```\n\n## Title\n## Title\n"
                   "    nice make mutation\n![pic](p.jpg \"t\") `python -m\nposekit.cli`\n")
    assert doc.headings() == ["Title", "Title", "Title"]
    assert doc.anchors() == {"title", "title-1", "title-2"}
    assert doc.links() == [(3, "a.md#x"), (14, "p.jpg")]
    assert [goal for code in doc.shell() for goal in make_goals(code)] == ["demo", "mutation"]
    assert any(PYTHON_MODULE.search(code) for code in doc.spans)


def test_the_checkers_report_what_does_not_exist(tmp_path):
    page = ROOT / "docs" / "page.md"          # never written: links resolve from its folder
    cached = _anchors_cache()
    assert check_link(page, "https://example.org/x", cached) is None
    assert check_link(ROOT / "README.md", "docs/no_such_page.md", cached) == "no such file"
    assert check_link(page, "../README.md#no-such-heading", cached) == \
        "no heading with the anchor #no-such-heading"
    assert check_link(page, "../../outside.md", cached) == "outside the repository"
    makefile = tmp_path / "Makefile"
    makefile.write_text("X ?= 1\nY := 2\n.PHONY: a b\na b: c\n\techo\n$(Z): d\nc:: \n")
    assert make_targets(makefile) == {"a", "b", "c"}
    assert make_goals("POSEKIT_THOROUGH=1 make test-thorough N=2; make -j2 a") == \
        ["test-thorough", "a"]
    scripts = {"posekit-x": "posekit.no_such_module:main", "posekit": "posekit.apps.demo:nothing"}
    assert missing_commands(["python -m posekit.no_such_module", "python -m json.tool",
                             ".venv/bin/python no_such_script.py", "posekit-y a",
                             "posekit-x", "posekit photo.jpg"], scripts) == [
        "python -m posekit.no_such_module: no such module",
        "no_such_script.py: no such file",
        "posekit-y: not in pyproject.toml [project.scripts]",
        "posekit-x: posekit.no_such_module:main does not exist",
        "posekit: posekit.apps.demo:nothing does not exist"]


# --- the documents --------------------------------------------------------------------------

@pytest.mark.parametrize("page", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    anchors_of = _anchors_cache()
    broken = []
    for line, target in Document(page.read_text()).links():
        why = check_link(page, target, anchors_of)
        if why:
            broken.append(f"{page.relative_to(ROOT)}:{line}: ({target}) {why}")
    assert not broken, "\n".join(broken)


def test_every_make_target_named_exists():
    targets = make_targets(ROOT / "Makefile")
    named = {}
    for page in markdown_files():
        for code in Document(page.read_text()).shell():
            for goal in make_goals(code):
                named.setdefault(goal, str(page.relative_to(ROOT)))
    assert "test" in named, "the README names `make test`: the parser found no make command"
    missing = {goal: page for goal, page in named.items() if goal not in targets}
    assert not missing, f"make targets named but not in the Makefile: {missing}"


def test_every_command_the_readme_names_exists():
    readme = Document((ROOT / "README.md").read_text())
    scripts = project_scripts()
    shell = readme.shell()
    assert any(COMMAND.search(code) for code in shell), "no installed command found"
    assert any(PYTHON_MODULE.search(code) for code in shell), "no python -m found"
    missing = missing_commands(shell, scripts)
    assert not missing, "\n".join(missing)


@pytest.mark.parametrize("page", markdown_files()[1:], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_command_a_docs_page_names_exists(page):
    missing = missing_commands(Document(page.read_text()).shell(), project_scripts())
    assert not missing, "\n".join(missing)


def test_the_readme_is_a_front_door():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= README_MAX_LINES
    targets = [target for _, target in Document("\n".join(lines)).links()]
    assert "docs/README.md" in targets, "the README links the docs' front page"


def test_the_docs_front_page_indexes_every_guide_and_record():
    index = ROOT / "docs" / "README.md"
    doc = Document(index.read_text())
    section, linked = None, {"guides": set(), "records": set()}
    for line in doc.text.splitlines():
        heading = HEADING.match(line)
        if heading:
            title = heading.group(2).lower()
            section = next((key for key in linked if title.startswith(key)), None)
        elif section:
            for match in LINK.finditer(line):
                path = match.group(1).partition("#")[0]
                linked[section].add((index.parent / path).resolve())
    pages = {page for page in (ROOT / "docs").rglob("*.md") if page != index}
    records = {page for page in pages if page.parent.name == "records"}
    assert records, "docs/records/ holds the measurement records"
    assert pages - records - linked["guides"] == set(), "guides missing from 'Guides'"
    assert records - linked["records"] == set(), "records missing from 'Records'"
    assert linked["guides"] & records == set() and linked["records"] & (pages - records) == set()


def test_no_file_holds_a_merge_conflict_marker():
    """A half-resolved merge never lands: no line of a source or document file starts with
    git's conflict markers."""
    markers = ("<<<<<<< ", ">>>>>>> ", "=======\n")
    bad = []
    for path in ROOT.rglob("*"):
        rel = path.relative_to(ROOT)
        if (rel.parts[0] in (".git", ".venv", "build") or path.is_symlink() or not path.is_file()
                or path.suffix not in (".py", ".md", ".toml", ".txt", ".json", ".cfg")):
            continue
        lines = path.read_text(errors="replace").splitlines(keepends=True)
        if any(line.startswith(markers[:2]) for line in lines) and any(
                line == markers[2] for line in lines):
            bad.append(str(rel))
    assert bad == []
