"""Measure this CPU's per-core arithmetic peak and what XNNPACK reaches in float32 and int8.

Run from the project root (needs a C compiler, ``cc``, for part 1)::

    python -m studies.cpu_peak [--no-kernels]

1. **Instruction peak** (C + inline assembly, compiled into a temporary
   folder): 12 independent AVX2 instructions per loop iteration, timed with
   the thread's CPU time (so another process sharing the core does not count),
   for ``vfmadd231ps`` (8 float32 multiply-adds), ``vpmaddubsw`` (32 uint8 x
   int8 products, the core of non-VNNI int8 kernels) and ``vpmaddwd``
   (16 int16 multiply-adds, what XNNPACK's AVX2 int8 convolutions use after
   sign-extending). Prints the instructions per second and the multiply-adds
   per second per core. The CPU flags (AVX-512, VNNI) are printed from
   ``/proc/cpuinfo``.
2. **XNNPACK kernels** (``--no-kernels`` skips it): six 1x1 convolutions
   256 -> 256 channels (and six 3x3 depthwise ones) on a 92x160 map, as
   float32 and as int8 TFLite models, one thread (timed with the thread's
   CPU time, which XNNPACK runs on with one thread), calls interleaved;
   prints multiply-adds per second of each.

No timing is asserted anywhere.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional, Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

#: The instruction-throughput probe; {body} is replaced per instruction.
C_SOURCE = r"""
#include <stdio.h>
#include <time.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_THREAD_CPUTIME_ID,&t);
  return t.tv_sec+t.tv_nsec*1e-9;}
#define R12(I) I(0) I(1) I(2) I(3) I(4) I(5) I(6) I(7) I(8) I(9) I(10) I(11)
#define FMA(i) "vfmadd231ps %%ymm15, %%ymm14, %%ymm" #i "\n\t"
#define MUB(i) "vpmaddubsw %%ymm15, %%ymm14, %%ymm" #i "\n\t"
#define MWD(i) "vpmaddwd %%ymm15, %%ymm14, %%ymm" #i "\n\t"
#define LOOP(X) __asm__ volatile("vpxor %%ymm14,%%ymm14,%%ymm14\n\t" \
  "vpxor %%ymm15,%%ymm15,%%ymm15\n1:\n\t" R12(X) "dec %0\n\tjnz 1b" : "+r"(n) :: "memory")
static double run(int kind){long n=50000000; double t=now();
  if(kind==0) LOOP(FMA); if(kind==1) LOOP(MUB); if(kind==2) LOOP(MWD); return now()-t;}
int main(void){const char*name[]={"vfmadd231ps","vpmaddubsw","vpmaddwd"};
  for(int k=0;k<3;k++){double best=1e9; for(int r=0;r<5;r++){double t=run(k); if(t<best)best=t;}
    printf("%s %.4f\n", name[k], 12.0*50000000/best/1e9);} return 0;}
"""
#: Multiply-adds per instruction and what they are.
INSTRUCTIONS = {
    "vfmadd231ps": (8, "float32 FMA (8 lanes)"),
    "vpmaddubsw": (32, "uint8 x int8 -> int16 pairs (32 products)"),
    "vpmaddwd": (16, "int16 x int16 -> int32 pairs (16 products)"),
}


def cpu_flags() -> str:
    """The SIMD flags of interest present in /proc/cpuinfo (empty if unreadable)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines()
                  if line.startswith("flags")), [])
    wanted = [f for f in flags if f.startswith(("avx", "fma", "amx")) or "vnni" in f
              or "bf16" in f]
    return " ".join(sorted(wanted))


def instruction_peak() -> Optional[dict]:
    """``{instruction: G instructions/s}`` on one core, or None without a C compiler."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return None
    with tempfile.TemporaryDirectory() as folder:
        source, binary = Path(folder) / "peak.c", Path(folder) / "peak"
        source.write_text(C_SOURCE)
        subprocess.run([compiler, "-O2", "-o", str(binary), str(source)], check=True)
        out = subprocess.run([str(binary)], check=True, capture_output=True, text=True).stdout
    return {name: float(value) for name, value in (line.split() for line in out.splitlines())}


def _layers_model(int8: bool, depthwise: bool, channels: int = 256) -> bytes:
    import numpy as np
    import tensorflow as tf

    inputs = tf.keras.Input((92, 160, channels), batch_size=1)
    x = inputs
    for _ in range(6):
        x = (tf.keras.layers.DepthwiseConv2D(3, padding="same")(x) if depthwise
             else tf.keras.layers.Conv2D(channels, 1, activation="relu")(x))
    converter = tf.lite.TFLiteConverter.from_keras_model(tf.keras.Model(inputs, x))
    if int8:
        rng = np.random.default_rng(0)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: (
            [rng.random((1, 92, 160, channels), dtype=np.float32)] for _ in range(3))
    with contextlib.redirect_stdout(io.StringIO()):  # Keras export prints its signature
        return converter.convert()


def kernel_throughput(runs: int = 7) -> dict:
    """``{(layer kind, dtype): G multiply-adds/s}`` of XNNPACK, one thread, interleaved."""
    import numpy as np

    from posekit.networks.mobilenet_tflite import interpreter_class

    cls = interpreter_class()
    results = {}
    for depthwise in (False, True):
        macs = 6 * 92 * 160 * 256 * (9 if depthwise else 256)
        interpreters = {}
        for int8 in (False, True):
            interpreter = cls(model_content=_layers_model(int8, depthwise), num_threads=1)
            interpreter.allocate_tensors()
            interpreters["int8" if int8 else "float32"] = interpreter
        x = np.random.default_rng(1).random((1, 92, 160, 256), dtype=np.float32)
        best = {name: float("inf") for name in interpreters}
        for _ in range(runs):
            for name, interpreter in interpreters.items():
                interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
                start = time.thread_time()
                interpreter.invoke()
                best[name] = min(best[name], time.thread_time() - start)
        kind = "3x3 depthwise" if depthwise else "1x1 conv 256->256"
        for name, seconds in best.items():
            results[(kind, name)] = macs / seconds / 1e9
    return results


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m studies.cpu_peak",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--no-kernels", action="store_true", help="skip the XNNPACK part")
    args = parser.parse_args(argv)
    print(f"CPU SIMD flags: {cpu_flags() or '(unknown)'}")
    peak = instruction_peak()
    if peak is None:
        print("no C compiler (cc): instruction peak skipped")
    else:
        print("| instruction | what | G instr/s per core | G multiply-adds/s per core |")
        print("|---|---|---:|---:|")
        for name, rate in peak.items():
            per, what = INSTRUCTIONS[name]
            print(f"| `{name}` | {what} | {rate:.2f} | {rate * per:.1f} |")
    if not args.no_kernels:
        print("| XNNPACK layer (1 thread, 92x160 map) | dtype | G multiply-adds/s |")
        print("|---|---|---:|")
        for (kind, dtype), rate in kernel_throughput().items():
            print(f"| {kind} | {dtype} | {rate:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
