"""Smoke tests of benchmarks/bench_pipeline.py on tiny inputs (no timing is asserted)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks import bench_pipeline as bp
from estimation.handout import get_coordinates_reference
from estimation.coordinates import get_coordinates

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "model_weights" / "mobilenet_thin" / "graph_opt.pb"
BUS = ROOT / "images" / "bus.jpg"
needs_network = pytest.mark.skipif(
    not (importlib.util.find_spec("tensorflow") and WEIGHTS.is_file() and BUS.is_file()),
    reason="TensorFlow, mobilenet_thin weights or images/bus.jpg missing (run `make setup`)")


def _rows(markdown: str, label: str) -> list:
    return [line for line in markdown.splitlines() if line.startswith(f"| {label}")]


def test_synthetic_run_prints_one_row_per_stage() -> None:
    results, markdown = bp.run(people=(2, 3), repeat=1, synthetic_only=True, log=lambda m: None)
    assert "| maps | stage | handout reference (ms) | lab path (ms) | best decoder (ms) " \
           "| reference / lab | reference / best |" in markdown
    for n in (2, 3):
        rows = _rows(markdown, f"synthetic {n} people")
        assert [row.split("|")[2].strip() for row in rows] == [*bp.STAGES, "total"]
        assert all(row.count("|") == 8 for row in rows)
    assert "Network" not in markdown and "Demo pipeline" not in markdown
    label = next(iter(results["stages"]))
    assert set(results["stages"][label]) == set(bp.DECODERS)
    assert all(np.isfinite(v) and v >= 0 for med in results["stages"][label].values()
               for v in med.values())


def test_main_writes_json(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "bench.json"
    assert bp.main(["--synthetic-only", "--people", "2", "--repeat", "1", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert len(_rows(printed, "synthetic 2 people")) == 4
    data = json.loads(out.read_text())
    assert list(data["stages"]) == [label for label in data["stages"] if "synthetic 2" in label]


def test_bad_arguments_exit_with_usage_error() -> None:
    for argv in (["--limit", "0"], ["--runs", "0"], ["--people", "a,b"]):
        with pytest.raises(SystemExit) as info:
            bp.main(argv)
        assert info.value.code == 2


def test_reference_peaks_match_lab_peaks_without_plateaus(cfg) -> None:
    heatmaps, _ = bp.synthetic_scene(3)
    ref = get_coordinates_reference(cfg, heatmaps)
    lab = get_coordinates(cfg, heatmaps)
    assert ref.keys() == lab.keys()
    for name in ref:
        assert [p[:2] for p in ref[name]] == [p[:2] for p in lab[name]]
        assert [p[3] for p in ref[name]] == [p[3] for p in lab[name]]


def test_tables_format_network_and_pipeline_rows() -> None:
    net = bp.network_table({"bus": {"tensorflow": 2000.0, "tflite": 800.0},
                            "small": {"tensorflow": 400.0, "tflite": 150.0}})
    assert net.splitlines()[0].startswith("| input | tensorflow ms | tensorflow img/s | "
                                          "tflite ms")
    assert "| bus | 2000.0 | 0.50 | 800.0 | 1.25 | 2.5x |" in net
    pipe = bp.pipeline_table({"tflite": {"network": 150.0, "decode": 10.0, "draw": 1.0,
                                         "total": 161.0, "fps": 1000 / 161}}, "368x656 input")
    assert "| tflite | 150.0 | 10.00 | 1.00 | 161.0 | 6.21 |" in pipe


@needs_network
def test_network_functions_on_a_tiny_image() -> None:
    import cv2

    networks = bp.load_networks()
    assert "tensorflow" in networks
    image = cv2.resize(cv2.imread(str(BUS)), (96, 128))
    times = bp.time_networks(networks, image, runs=1, warmup=0)
    assert set(times) == set(networks) and all(len(t) == 1 for t in times.values())
    assert bp.max_map_difference(networks, [image]) <= 1e-3 or len(networks) == 1
    maps, seconds = bp.network_maps(networks["tensorflow"], [BUS])
    assert len(maps) == len(seconds) == 1 and maps[0][0].shape == (135, 102, 19)
    pipe = bp.pipeline_times(networks["tensorflow"], image, runs=1, warmup=0)
    assert set(pipe) == {"network", "decode", "draw", "total", "fps"}
    med = bp.bench_maps([(maps[0][0][:40, :40], maps[0][1][:40, :40])])
    assert set(med) == set(bp.DECODERS)
    if "tflite" in networks:
        cost = bp.shape_change_cost(networks["tflite"], image, image[:64], runs=1)
        assert set(cost) == {"resize", "first_call_extra"} and cost["resize"] > 0
