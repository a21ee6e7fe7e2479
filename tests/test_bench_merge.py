"""Smoke tests of benchmarks/bench_merge.py (no timing is asserted)."""

import json
import shutil

import numpy as np
import pytest

from benchmarks import bench_merge

from conftest import ROOT
from test_evaluate import coco_set, person

WEIGHTS = ROOT / "model_weights" / "mobilenet_thin" / "graph_opt.pb"


def test_table_puts_the_two_kits_side_by_side_with_ratios_to_greedy():
    report = {m: {kit: {"AP": 0.1 * (k + 1) + 0.01 * j, "AP50": 0.5, "crashes": k + j,
                        "grouping_ms": 2.0 * (k + 1) + j, "images": 3}
                  for j, kit in enumerate(bench_merge.KITS)}
              for k, m in enumerate(bench_merge.METHODS)}
    lines = bench_merge.table(report).splitlines()
    assert len(lines) == 2 + len(bench_merge.METHODS)
    assert "kit as printed (2 sA + sB)" in lines[0] and "CMU row score" in lines[0]
    assert lines[2] == ("| our merge.py | 0.100 | 0.500 | 0.110 | 0.500 | 0 / 1 "
                        "| 2.00 / 3.00 | 0.50x |")
    assert lines[3].endswith("| 4.00 / 5.00 | 1.00x |")
    assert lines[4].startswith("| our lab path")


def write_cache(folder, entries, shape=(46, 46)):
    """Rendered maps of one synthetic person per image, as the network cache stores them."""
    from tools.synthetic import make_person, render_maps

    folder.mkdir()
    for image_id, scale in entries:
        heatmaps, pafs = render_maps(np.array([make_person(22.0, 6.0, 30)]), shape)
        np.savez(folder / f"{image_id}.npz", heatmaps=heatmaps, pafs=pafs, out_scale=scale)


def test_runs_from_a_maps_cache_in_both_kits(tmp_path, capsys):
    (tmp_path / "images").mkdir()
    coco_set(tmp_path / "person_keypoints.json",
             [(1, "a.jpg", 368, 368, [person(100, 40, 250)]),
              (2, "b.jpg", 368, 368, [person(100, 40, 250)])])
    write_cache(tmp_path / "maps", [(1, 1.0), (2, 1.0)])
    out = tmp_path / "report.json"
    assert bench_merge.main(["--dev-dir", str(tmp_path), "--maps-cache", str(tmp_path / "maps"),
                             "--quiet", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert set(report) == set(bench_merge.METHODS)
    for method in report.values():
        assert set(method) == {"printed", "cmu"}
        for row in method.values():
            assert row["images"] == 2 and row["crashes"] == 0 and 0 <= row["AP"] <= 1
    assert "maps from" in capsys.readouterr().out
    (tmp_path / "maps" / "2.npz").unlink()
    assert bench_merge.main(["--dev-dir", str(tmp_path), "--maps-cache", str(tmp_path / "maps"),
                             "--quiet"]) == 2
    assert "no 2.npz for image 2" in capsys.readouterr().err


def test_bad_arguments(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        bench_merge.main(["--limit", "0"])
    assert exit_info.value.code == 2
    assert bench_merge.main(["--dev-dir", str(tmp_path), "--quiet"]) == 2
    assert "not found" in capsys.readouterr().err


@pytest.mark.skipif(not WEIGHTS.exists(), reason="network weights not fetched (make setup)")
def test_runs_on_a_tiny_dev_set(tmp_path, capsys):
    (tmp_path / "images").mkdir()
    for name in ("bus.jpg", "zidane.jpg"):
        shutil.copy(ROOT / "images" / name, tmp_path / "images" / name)
    coco_set(tmp_path / "person_keypoints.json",
             [(1, "bus.jpg", 810, 1080, [person(100, 400, 400)]),
              (2, "zidane.jpg", 1280, 720, [person(300, 100, 500)])])
    out = tmp_path / "report.json"
    assert bench_merge.main(["--dev-dir", str(tmp_path), "--quiet", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert set(report) == set(bench_merge.METHODS)
    for method in report.values():
        for row in method.values():
            assert row["images"] == 2 and row["crashes"] == 0
            assert np.isfinite(row["grouping_ms"]) and 0 <= row["AP"] <= 1
    assert "| our lab path" in capsys.readouterr().out
