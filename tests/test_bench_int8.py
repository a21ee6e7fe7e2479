"""Smoke tests of benchmarks/bench_int8.py and studies/cpu_peak.py (no timing asserted)."""

from __future__ import annotations

import shutil

import pytest

from benchmarks import bench_int8

from studies import cpu_peak


def test_table_has_medians_and_ratios() -> None:
    times = {"368x656": {"int8": [0.1, 0.3, 0.2], "tflite": [0.4, 0.4, 0.4],
                         "tensorflow": [0.8, 0.8, 0.9]}}
    lines = bench_int8.table(times).splitlines()
    assert lines[0].startswith("| input | int8 ms | tflite ms | tensorflow ms")
    assert "int8 / tflite" in lines[0] and "tflite / tensorflow" in lines[0]
    row = [cell.strip() for cell in lines[2].strip("|").split("|")]
    assert row[:4] == ["368x656", "200.0", "400.0", "800.0"]
    assert row[-3:] == ["2.00x", "4.00x", "2.00x"]


def test_table_leaves_out_missing_runtimes() -> None:
    text = bench_int8.table({"a": {"tflite": [0.5], "tensorflow": [1.0]}})
    assert "int8" not in text and "2.00x" in text


def test_cpu_flags_lists_only_simd_flags() -> None:
    flags = cpu_peak.cpu_flags().split()
    assert all(f.startswith(("avx", "fma", "amx")) or "vnni" in f or "bf16" in f for f in flags)


@pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None,
                    reason="no C compiler")
def test_instruction_peak_measures_each_instruction() -> None:
    import platform

    if platform.machine() not in ("x86_64", "AMD64") or "avx2" not in cpu_peak.cpu_flags():
        pytest.skip("needs an x86-64 CPU with AVX2")
    peak = cpu_peak.instruction_peak()
    assert set(peak) == set(cpu_peak.INSTRUCTIONS)
    assert all(0.1 < rate < 100 for rate in peak.values())  # G instructions/s on one core
