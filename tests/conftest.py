"""Shared test fixtures: configuration and the synthetic scene of known people."""

from __future__ import annotations

import os
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from estimation.config import get_default_configuration  # noqa: E402
from tools.synthetic import make_person  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"

#: Share of the examples the bigger property tests run by default, so that `make test`
#: stays within two minutes on 2 cores; `POSEKIT_THOROUGH=1 make test` runs all.
THOROUGH = bool(os.environ.get("POSEKIT_THOROUGH"))


def examples(count: int) -> int:
    """Hypothesis ``max_examples`` for a property test written for ``count`` examples:
    ``count`` when thorough, else a fifth of it (at least 100)."""
    return count if THOROUGH else max(100, count // 5)


#: (h, w) of the synthetic scene's maps, in cells (an 800x480 image at stride 8).
SCENE_SHAPE = (60, 100)


def scene_people() -> np.ndarray:
    """Four known people: two overlapping, one partly out of frame, one missing parts.

    Returns:
        (4, 18, 2) keypoints in cells, NaN for missing parts.
    """
    return np.array([
        make_person(20.3, 12.2, 50),                                 # whole
        make_person(45.1, 14.4, 48, missing=(9, 10, 12, 13, 15)),    # no legs, no left eye
        make_person(61.7, 10.6, 46),                                 # overlaps the previous
        make_person(95.4, 20.1, 50),                                 # legs and left arm out of frame
    ])


#: Under pytest-xdist (`make test` runs two workers), test files that share a run-wide thing
#: go to one worker together, so that it is built once: the local Ray of the batch tests,
#: the replica of the lab's checkpoint. Every other file is a unit of its own (its module
#: fixtures built once); the two-node cluster too (it stops a local Ray of its worker first).
XDIST_GROUPS = {
    "test_batch.py": "ray", "test_batch_reliability.py": "ray",
    "test_handout_demo.py": "replica", "test_vgg.py": "replica",
}
#: The longest units (seconds of wall, mostly waiting on Ray's processes), handed out first so
#: that the short files fill the other worker meanwhile.
XDIST_FIRST = ("test_cluster.py", "ray", "replica")


def _xdist_unit(path: Path) -> str:
    return XDIST_GROUPS.get(path.name, path.name)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """Send whole units (a file, or the files of an XDIST_GROUPS group) to the workers, in
    collection order. xdist's own ``--dist loadgroup`` cannot be used: with pytest 9 it does
    not group (xdist 3.8 renames ``item._nodeid``, which pytest 9 no longer reads)."""
    from xdist.scheduler import LoadScopeScheduling

    class ByUnit(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _xdist_unit(Path(nodeid.split("::", 1)[0]))

    config.option.loadscopereorder = False
    return ByUnit(config, log)


def pytest_collection_modifyitems(config, items):
    """On an xdist worker, the XDIST_FIRST units first (the order of collection is the order
    in which units are handed out); a run in one process keeps the files' order."""
    if not hasattr(config, "workerinput"):
        return
    rank = {unit: k for k, unit in enumerate(XDIST_FIRST)}
    items.sort(key=lambda item: rank.get(_xdist_unit(item.path), len(rank)))


@pytest.fixture
def cfg():
    return get_default_configuration()


@pytest.fixture(scope="session")
def replica_prefix(tmp_path_factory) -> Path:
    """The replica of the lab's VGG checkpoint (tests/replica_checkpoint.py), written once per
    test run: its prefix (``<tmp>/openpose``, with ``.index`` and ``.data-00000-of-00001``)."""
    pytest.importorskip("tensorflow")
    from replica_checkpoint import write_replica

    prefix = tmp_path_factory.mktemp("replica") / "openpose"
    write_replica(prefix)
    return prefix


@pytest.fixture(scope="session", autouse=True)
def _ray_address_local():
    """RAY_ADDRESS=local for the run (this process and the commands it starts): a Ray started
    without an address is a new local one, never the latest cluster on the machine, which
    ``ray.init()`` otherwise joins (``/tmp/ray/ray_current_cluster``, written by the two-node
    cluster of tests/test_cluster.py on the other xdist worker, or by another user's cluster).
    Commands given ``--address`` are not affected."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAY_ADDRESS", "local")
        yield


@pytest.fixture(scope="session")
def _ray_for_the_run():
    """Stops the shared local Ray (:func:`local_ray`) at the end of the run."""
    yield
    import sys as _sys

    if "ray" in _sys.modules and _sys.modules["ray"].is_initialized():
        _sys.modules["ray"].shutdown()


@pytest.fixture(scope="module")
def local_ray(_ray_for_the_run):
    """One local Ray (2 CPUs, 200 MB object store, 127.0.0.1) for the batch tests of the
    run: started by the first module that needs it, kept for the next ones (a start costs
    5-8 s on 2 cores), stopped at the end of the run. tests/test_cluster.py stops it
    first, as its cluster needs this process free of Ray."""
    pytest.importorskip("ray")
    from posekit.apps.batch import run as batch

    batch.start_ray(num_cpus=2, object_store_mb=200)        # a no-op when already running


# The handout's sample of merge() (sample_subset, expected_skeleton): the root conftest.py.


# --- image files in unusual formats (tests of posekit.io.images and demo_image.py) -------

IMAGES = ROOT / "images"


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + tag + data
            + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))


def write_palette_png(path: Path, bgr: np.ndarray) -> np.ndarray:
    """Write ``bgr`` as an 8-bit palette PNG (6 x 6 x 6 colour cube; OpenCV cannot write one).

    Returns:
        The BGR image the file holds (the colours after quantisation).
    """
    levels = (bgr.astype(np.int32) * 5 + 127) // 255          # 0..5 per channel
    index = (levels[..., 2] * 36 + levels[..., 1] * 6 + levels[..., 0]).astype(np.uint8)
    palette = bytes(v for r in range(6) for g in range(6) for b in range(6)
                    for v in (51 * r, 51 * g, 51 * b))
    height, width = index.shape
    raw = b"".join(b"\x00" + row.tobytes() for row in index)
    path.write_bytes(b"\x89PNG\r\n\x1a\n"
                     + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0))
                     + _png_chunk(b"PLTE", palette)
                     + _png_chunk(b"IDAT", zlib.compress(raw))
                     + _png_chunk(b"IEND", b""))
    return (levels * 51).astype(np.uint8)


def write_clip(path: Path, image: np.ndarray, frames: int) -> None:
    """An MJPG video of ``frames`` frames: ``image`` rolled 3 px further right in each."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10,
                             (image.shape[1], image.shape[0]))
    for k in range(frames):
        writer.write(np.roll(image, 3 * k, axis=1))
    writer.release()


def wait_for_file(proc, path: Path, seconds: float = 240, poll: float = 0.1) -> None:
    """Wait until ``path`` exists while ``proc`` still runs (fails if it ends or time runs out)."""
    import time

    deadline = time.monotonic() + seconds
    while not path.exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(poll)


@pytest.fixture(scope="session")
def small_bus() -> np.ndarray:
    """images/bus.jpg at a quarter of its size (203 x 270), BGR uint8."""
    import cv2

    path = IMAGES / "bus.jpg"
    if not path.is_file():
        pytest.skip("images/bus.jpg missing (run `make setup`)")
    return cv2.resize(cv2.imread(str(path)), (203, 270), interpolation=cv2.INTER_AREA)


@pytest.fixture
def odd_pngs(tmp_path, small_bus):
    """Grayscale, RGBA, 16-bit and palette PNGs made from bus.jpg, with the BGR image
    each should load as: ``{name: (path, expected_bgr)}``."""
    import cv2

    grey = cv2.cvtColor(small_bus, cv2.COLOR_BGR2GRAY)
    files = {}
    path = tmp_path / "grey.png"
    cv2.imwrite(str(path), grey)
    files["grey"] = (path, cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))
    path = tmp_path / "rgba.png"
    rgba = cv2.cvtColor(small_bus, cv2.COLOR_BGR2BGRA)
    rgba[:, :100, 3] = 0                      # left part transparent
    cv2.imwrite(str(path), rgba)
    expected = small_bus.copy()
    expected[:, :100] = 128                   # composited over mid-grey
    files["rgba"] = (path, expected)
    path = tmp_path / "deep16.png"
    cv2.imwrite(str(path), small_bus.astype(np.uint16) * 257)
    files["deep16"] = (path, small_bus)
    path = tmp_path / "grey16.png"
    cv2.imwrite(str(path), grey.astype(np.uint16) * 257)
    files["grey16"] = (path, cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))
    path = tmp_path / "palette.png"
    files["palette"] = (path, write_palette_png(path, small_bus))
    return files
