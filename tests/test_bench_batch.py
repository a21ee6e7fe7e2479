"""Tests of benchmarks/bench_batch.py's helpers (the benchmark itself is not run here)."""

from __future__ import annotations

import json

import pytest

from benchmarks.bench_batch import batch_rate, demo_rate, link_images


def test_rates_are_read_from_each_command_s_own_report(tmp_path):
    assert demo_rate("x\n50 images in 10.0 s (5.00 images/s), written to out\n") == 5.0
    (tmp_path / "manifest.json").write_text(json.dumps(
        {"summary": {"frames": 51, "seconds": 30.0, "startup_seconds": 10.0}}))
    assert batch_rate(tmp_path) == 2.5
    with pytest.raises(SystemExit):
        demo_rate("no summary")


def test_images_are_linked_not_copied(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    for name in ("b.jpg", "a.png", "c.txt"):
        (source / name).write_bytes(b"x")
    link_images(source, tmp_path / "in", 2)
    linked = sorted((tmp_path / "in").iterdir())
    assert [p.name for p in linked] == ["a.png", "b.jpg"] and all(p.is_symlink() for p in linked)
    with pytest.raises(SystemExit):
        link_images(source, tmp_path / "more", 3)
