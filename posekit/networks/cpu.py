"""Which runtime pays on this CPU: its model and instruction flags, and the int8 decision.

``runtime="auto"`` takes the int8 model only where int8 arithmetic is much
faster than float32: on CPUs with 8-bit dot-product instructions (x86 VNNI or
AMX, Arm's dot-product extension). Without them XNNPACK's int8 kernels run
about as fast as its float32 ones (docs/records/int8.md has the measured ratios for
each CPU). The decision reads only the flags the operating system reports,
so it costs no timing and needs no cache; tests pass a :class:`CpuInfo` built
from data.
"""

from __future__ import annotations

import logging
import platform
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

#: x86 flags (``/proc/cpuinfo`` names) of 8-bit dot-product instructions that XNNPACK's
#: int8 kernels use; avx512_vnni measured on an AMD Zen 4 and an Intel Xeon (docs/records/int8.md).
X86_INT8_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8"})
#: Arm flags of the dot-product extension (``asimddp``) and 8-bit matrix multiply (``i8mm``).
ARM_INT8_FLAGS = frozenset({"asimddp", "i8mm"})
#: Where Linux reports the CPU.
PROC_CPUINFO = Path("/proc/cpuinfo")


@dataclass(frozen=True)
class CpuInfo:
    """A CPU as the operating system reports it.

    Attributes:
        model: The model name (``"AMD EPYC"``, ``"Intel(R) Xeon(R) ..."``; ``""`` if unknown).
        flags: Instruction-set flags, ``/proc/cpuinfo`` spelling (lower case).
        machine: ``platform.machine()`` (``"x86_64"``, ``"aarch64"``, ``"arm64"``).
        system: ``platform.system()`` (``"Linux"``, ``"Darwin"``, ...).
    """

    model: str
    flags: frozenset
    machine: str
    system: str = "Linux"

    def __post_init__(self) -> None:
        if not isinstance(self.flags, frozenset) or not all(isinstance(f, str) for f in self.flags):
            raise ValueError(f"flags must be a frozenset of str, got {self.flags!r}")

    @property
    def int8_flags(self) -> frozenset:
        """The flags present that make int8 fast (empty when none)."""
        return self.flags & (X86_INT8_FLAGS | ARM_INT8_FLAGS)


def parse_cpuinfo(text: str, machine: str, system: str = "Linux") -> CpuInfo:
    """A :class:`CpuInfo` from the text of ``/proc/cpuinfo`` (first processor's entries).

    Args:
        text: The file's content (x86: ``model name`` / ``flags``; Arm:
            ``Features``, and ``model name`` or ``CPU part``).
        machine: ``platform.machine()`` of that CPU.
        system: ``platform.system()``.

    Returns:
        The CPU's model and flags (empty when the text has none).
    """
    model, flags = "", frozenset()
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip().lower()
        if key in ("model name", "hardware") and not model:
            model = value.strip()
        elif key in ("flags", "features") and not flags:
            flags = frozenset(value.lower().split())
    return CpuInfo(model, flags, machine, system)


def this_cpu() -> CpuInfo:
    """This machine's CPU (flags empty where the system does not report them)."""
    machine, system = platform.machine(), platform.system()
    try:
        text = PROC_CPUINFO.read_text(errors="replace")
    except OSError:
        return CpuInfo(platform.processor(), frozenset(), machine, system)
    return parse_cpuinfo(text, machine, system)


def int8_pays(cpu: CpuInfo) -> tuple[bool, str]:
    """Whether int8 runs much faster than float32 on ``cpu``, and why (one line).

    Args:
        cpu: The CPU (:func:`this_cpu` or one described as data).

    Returns:
        ``(pays, reason)``; ``reason`` names the CPU and the flags that decided.
    """
    name = cpu.model or cpu.machine or "this CPU"
    found = cpu.int8_flags
    if found:
        return True, f"{name} has 8-bit dot-product instructions ({', '.join(sorted(found))})"
    if cpu.system == "Darwin" and cpu.machine == "arm64":
        return True, f"{name}: Apple silicon has Arm's dot-product extension"
    if not cpu.flags:
        return False, f"{name}: the system reports no CPU flags, so int8 is not assumed faster"
    wanted = ", ".join(sorted(X86_INT8_FLAGS | ARM_INT8_FLAGS))
    return False, (f"{name} has none of the 8-bit dot-product instructions ({wanted}): "
                   "int8 runs about as fast as float32 there")
