"""What this machine's CPU can run, as the kernel says (it lists only what the OS enabled,
where CPUID may claim more), and llama.cpp's names for the same instruction sets."""

from __future__ import annotations

import platform
from pathlib import Path

ISA_FLAGS = {
    "SSE3": "pni", "SSSE3": "ssse3", "AVX": "avx", "AVX2": "avx2", "F16C": "f16c", "FMA": "fma", "BMI2": "bmi2",
    "AVX_VNNI": "avx_vnni", "AVX512": "avx512f", "AVX512_VBMI": "avx512vbmi", "AVX512_VNNI": "avx512_vnni",
    "AVX512_BF16": "avx512_bf16", "AMX_INT8": "amx_int8",
}
"""llama.cpp's system-info names for x86 instruction sets, and the flag Linux lists when it enables each."""


def isa_not_enabled(system_info: str, kernel_flags: frozenset[str]) -> list[str]:
    """Instruction sets the build says it uses that the kernel does not list as enabled.

    Only meaningful on x86-64 Linux, where /proc/cpuinfo lists what the OS enabled.
    """
    if not kernel_flags:
        return []
    used = [name for name, flag in ISA_FLAGS.items() if f"{name} = 1" in system_info]
    return [name for name in used if ISA_FLAGS[name] not in kernel_flags]


def kernel_cpu_flags() -> frozenset[str]:
    return frozenset(_cpuinfo_field("flags").split())


def cpu_identity() -> list[str]:
    return [platform.machine(), _cpuinfo_field("model name"), *sorted(kernel_cpu_flags())]


def _cpuinfo_field(name: str) -> str:
    """The first processor's `name` line in /proc/cpuinfo; empty where there is none (not Linux)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == name:
                return value.strip()
    except OSError:
        pass
    return ""
