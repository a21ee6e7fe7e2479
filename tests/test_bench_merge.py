"""Smoke tests of benchmarks/bench_merge.py (no timing is asserted)."""

import json
import shutil

import numpy as np
import pytest

from benchmarks import bench_merge

from conftest import ROOT
from test_evaluate import coco_set, person

WEIGHTS = ROOT / "model_weights" / "mobilenet_thin" / "graph_opt.pb"


def test_table_has_one_row_per_method_and_ratios_to_greedy():
    report = {m: {"AP": 0.1 * (k + 1), "AP50": 0.5, "crashes": k, "grouping_ms": 2.0 * (k + 1),
                  "images": 3} for k, m in enumerate(bench_merge.METHODS)}
    lines = bench_merge.table(report).splitlines()
    assert len(lines) == 2 + len(bench_merge.METHODS)
    assert lines[2].startswith("| handout kit + our merge.py | 0.100 | 0.500 | 0 | 2.00 | 0.50x |")
    assert lines[3].endswith("| 4.00 | 1.00x |")


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
    for row in report.values():
        assert row["images"] == 2 and row["crashes"] == 0
        assert np.isfinite(row["grouping_ms"]) and 0 <= row["AP"] <= 1
    assert "| our lab path |" in capsys.readouterr().out
