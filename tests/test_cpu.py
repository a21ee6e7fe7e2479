"""posekit.networks.cpu: the CPU's flags and the int8 decision, on CPUs described as data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from posekit.networks import cpu as cpus

ZEN4 = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 9R14 96-Core Processor
flags\t\t: fpu sse2 avx avx2 fma avx512f avx512bw avx512_vnni avx512_bf16
"""
ZEN3 = """processor\t: 0
model name\t: AMD EPYC 7R13 Processor
flags\t\t: fpu sse2 avx avx2 fma
"""
ALDER_LAKE = "model name\t: 12th Gen Intel(R) Core(TM) i7-1260P\nflags\t\t: avx2 avx_vnni\n"
GRAVITON3 = "processor\t: 0\nFeatures\t: fp asimd asimddp i8mm sve\nCPU part\t: 0xd40\n"
CORTEX_A72 = "processor\t: 0\nFeatures\t: fp asimd crc32\n"


@pytest.mark.parametrize("text, machine, pays, named", [
    (ZEN4, "x86_64", True, "avx512_vnni"),
    (ALDER_LAKE, "x86_64", True, "avx_vnni"),
    (ZEN3, "x86_64", False, "none of the 8-bit dot-product instructions"),
    (GRAVITON3, "aarch64", True, "asimddp, i8mm"),
    (CORTEX_A72, "aarch64", False, "none of the 8-bit dot-product instructions"),
    ("", "x86_64", False, "reports no CPU flags"),
])
def test_int8_pays_only_with_dot_product_instructions(text: str, machine: str, pays: bool,
                                                      named: str) -> None:
    cpu = cpus.parse_cpuinfo(text, machine)
    got, reason = cpus.int8_pays(cpu)
    assert got is pays and named in reason


def test_parse_reads_the_first_processor_only() -> None:
    cpu = cpus.parse_cpuinfo(ZEN3 + "\n" + ZEN4.replace("processor\t: 0", "processor\t: 1"),
                             "x86_64")
    assert cpu.model == "AMD EPYC 7R13 Processor" and "avx512_vnni" not in cpu.flags
    assert cpus.int8_pays(cpu)[0] is False


def test_apple_silicon_without_proc_cpuinfo() -> None:
    cpu = cpus.CpuInfo("Apple M2", frozenset(), "arm64", "Darwin")
    assert cpus.int8_pays(cpu) == (True, "Apple M2: Apple silicon has Arm's dot-product extension")


def test_flags_must_be_a_frozenset_of_strings() -> None:
    with pytest.raises(ValueError, match="flags"):
        cpus.CpuInfo("x", {"avx2"}, "x86_64")  # a set, not frozen


def test_this_cpu_matches_proc_cpuinfo() -> None:
    if not cpus.PROC_CPUINFO.is_file():
        pytest.skip("no /proc/cpuinfo on this system")
    cpu = cpus.this_cpu()
    text = cpus.PROC_CPUINFO.read_text()
    assert cpu.model and cpu.model in text
    assert all(flag in text for flag in cpu.flags)


ROOT = Path(__file__).resolve().parent.parent
WEIGHTS = ROOT / "model_weights" / "mobilenet_thin" / "graph_opt.pb"


def _fake_models(folder: Path, int8: bool, passed: bool, tflite: bool = True) -> Path:
    """A graph with (empty) converted models and manifests beside it: choose_runtime reads names."""
    graph = folder / "graph_opt.pb"
    graph.write_bytes(b"graph")
    if tflite:
        (folder / "graph_opt.tflite").write_bytes(b"model")
        (folder / "graph_opt.tflite.json").write_text("{}")
    if int8:
        (folder / "graph_opt.int8.tflite").write_bytes(b"model")
        (folder / "graph_opt.int8.tflite.json").write_text(json.dumps({"passed_check": passed}))
    return graph


@pytest.mark.parametrize("int8, passed, text, expected, why", [
    (True, True, ZEN4, "int8", "avx512_vnni"),
    (True, True, ZEN3, "tflite", "none of the 8-bit"),
    (True, False, ZEN4, "tflite", "did not pass its accuracy check"),
    (False, False, ZEN4, "tflite", "no int8 model"),
])
def test_auto_runtime_choice(tmp_path: Path, int8: bool, passed: bool, text: str, expected: str,
                             why: str) -> None:
    from posekit.networks import mobilenet_tflite as mtl
    from posekit.networks.inference import choose_runtime

    if not mtl.available():
        pytest.skip("no TFLite interpreter installed")
    graph = _fake_models(tmp_path, int8, passed)
    runtime, reason = choose_runtime(graph, cpus.parse_cpuinfo(text, "x86_64"))
    assert runtime == expected and why in reason


def test_auto_without_float_manifest_falls_back_to_tensorflow(tmp_path: Path) -> None:
    from posekit.networks.inference import choose_runtime

    graph = _fake_models(tmp_path, int8=False, passed=False)
    (tmp_path / "graph_opt.tflite.json").unlink()
    runtime, reason = choose_runtime(graph, cpus.parse_cpuinfo(ZEN3, "x86_64"))
    assert runtime == "tensorflow" and "no converted float32 TFLite model" in reason


def test_load_network_reports_the_choice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from posekit.networks import mobilenet_tflite as mtl
    from posekit.networks.inference import load_network

    from posekit.networks.mobilenet_thin import SHIPPED_GRAPH

    if not (mtl.available() and WEIGHTS.is_file()):
        pytest.skip("no TFLite interpreter, or the graph not fetched (run `make setup`)")
    shutil.copyfile(WEIGHTS, tmp_path / "graph_opt.pb")
    for name in ("graph_opt.tflite", "graph_opt.tflite.json",
                 "graph_opt.int8.tflite", "graph_opt.int8.tflite.json"):
        shutil.copyfile(SHIPPED_GRAPH.with_name(name), tmp_path / name)
    manifest = json.loads((tmp_path / "graph_opt.int8.tflite.json").read_text())
    manifest["passed_check"] = True
    (tmp_path / "graph_opt.int8.tflite.json").write_text(json.dumps(manifest))
    for text, expected in ((ZEN4, "int8"), (ZEN3, "tflite")):
        monkeypatch.setattr(cpus, "this_cpu", lambda text=text: cpus.parse_cpuinfo(text, "x86_64"))
        net = load_network(weights=tmp_path / "graph_opt.pb", num_threads=1)
        assert net.runtime == expected and net.runtime_reason
    net = load_network(weights=tmp_path / "graph_opt.pb", runtime="tflite", num_threads=1)
    assert net.runtime_reason == "runtime='tflite' was asked for"
