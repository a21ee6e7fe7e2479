"""Where the downloadable assets live: the checkout's folders, else a per-user data folder.

A checkout (or an editable install, ``pip install -e .``) keeps its weights
and sample images beside the packages: ``model_weights/`` and ``images/`` at
the repository root, filled by ``make setup``. A regular install
(``pip install .``) has no repository, so the same two folders live under the
per-user data folder :func:`data_home`, filled by ``posekit-fetch``:

* ``$POSEKIT_HOME`` when set;
* else ``$XDG_DATA_HOME/posekit`` when ``XDG_DATA_HOME`` is set;
* else ``~/.local/share/posekit``.

Nothing here touches the disk beyond checking whether the checkout's folder exists.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

#: The folder holding ``models/``: the repository root in a checkout, site-packages when installed.
ROOT = Path(__file__).resolve().parent.parent

#: What to run when an asset is missing (installed: the console command; checkout: make).
FETCH_HINT = "run `posekit-fetch` (in a checkout: `make setup`)"


def data_home() -> Path:
    """The per-user data folder of an installed posekit (see the module docstring)."""
    home = os.environ.get("POSEKIT_HOME")
    if home:
        return Path(home).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base / "posekit"


def in_checkout() -> bool:
    """True when the packages run from a repository checkout (its ``model_weights/`` exists)."""
    return (ROOT / "model_weights").is_dir()


def assets_root() -> Path:
    """The folder holding ``model_weights/`` and ``images/``: the checkout, else the data home."""
    return ROOT if in_checkout() else data_home()


def weights_dir() -> Path:
    """``model_weights/`` of :func:`assets_root`."""
    return assets_root() / "model_weights"


def images_dir() -> Path:
    """``images/`` of :func:`assets_root` (the sample photos)."""
    return assets_root() / "images"


def version() -> str:
    """posekit's version: the installed distribution's metadata, else (a checkout run without
    installing) the version in the repository's ``pyproject.toml``, the one place it is
    written; ``"0+unknown"`` when neither is found."""
    from importlib import metadata

    try:
        return metadata.version("posekit")
    except metadata.PackageNotFoundError:
        pass
    try:
        text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return "0+unknown"
    project = re.search(r"^\[project\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
    found = project and re.search(r'^version\s*=\s*"([^"]+)"', project.group(1), re.M)
    return found.group(1) if found else "0+unknown"
