"""Tokens per second of SmolLM2 under three ways of building llama.cpp's CPU code, in one run.

The choice behind scripts/llama_cpp_build.py (README, "The llama.cpp build"):

- `avx2`: `GGML_NATIVE=OFF`, the x86-64-v3 baseline the project ships;
- `avx512`: the same plus AVX-512 (F, VBMI, VNNI, BF16), only where this machine's kernel
  lists those flags;
- `dispatch`: `GGML_BACKEND_DL=ON` + `GGML_CPU_ALL_VARIANTS=ON`, one CPU library per
  micro-architecture, the best one chosen at run time by ggml's CPUID score.

All three compile the llama.cpp that the project's llama-cpp-python requirement vendors
(its source distribution, fetched from the package index). `llama-bench` is built once,
in the `avx2` tree; the other trees build only the ggml libraries, which `llama-bench` then
loads in their place (same source, same ABI), so only the CPU code differs. Slow: it
compiles llama.cpp and 12 CPU variants (about 25 minutes on 2 cores); build trees are
reused by a second run.

    .venv/bin/python -m bench.llama_builds [--work /tmp/llama-builds] [--rounds 5] [--repetitions 5]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tarfile
from pathlib import Path

from rag.cpu_flags import kernel_cpu_flags
from rag.model_files import packaged_demo_path
from scripts.llama_cpp_build import PORTABLE_CPU_FLAGS, requirement

COMMON = ["-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release", "-DBUILD_SHARED_LIBS=ON", "-DLLAMA_CURL=OFF",
          "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_SERVER=OFF"]
AVX512 = ["-DGGML_AVX512=ON", "-DGGML_AVX512_VBMI=ON", "-DGGML_AVX512_VNNI=ON", "-DGGML_AVX512_BF16=ON"]
AVX512_KERNEL_FLAGS = {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl", "avx512vbmi", "avx512_vnni", "avx512_bf16"}
DISPATCH = ["-DGGML_NATIVE=OFF", "-DGGML_BACKEND_DL=ON", "-DGGML_CPU_ALL_VARIANTS=ON"]


def source_tree(work: Path) -> Path:
    """llama.cpp as the project's llama-cpp-python requirement vendors it."""
    found = sorted(work.glob("llama_cpp_python-*/vendor/llama.cpp"))
    if found:
        return found[-1]
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                    "--dest", str(work), requirement()], check=True)
    (archive,) = work.glob("llama_cpp_python-*.tar.gz")
    with tarfile.open(archive) as tar:
        tar.extractall(work, filter="data")
    return sorted(work.glob("llama_cpp_python-*/vendor/llama.cpp"))[-1]


def build(source: Path, tree: Path, flags: list[str], targets: list[str]) -> None:
    subprocess.run(["cmake", "-S", str(source), "-B", str(tree), *COMMON, *flags], check=True, capture_output=True)
    subprocess.run(["cmake", "--build", str(tree), "--target", *targets, f"-j{os.cpu_count() or 2}"], check=True)


def bench(llama_bench: Path, libraries: Path, repetitions: int, threads: int) -> dict[str, object]:
    """Prompt processing (512 tokens) and generation (128 tokens), mean tokens/s over `repetitions`."""
    env = {**os.environ, "LD_LIBRARY_PATH": str(libraries)}
    command = [str(llama_bench), "-m", str(packaged_demo_path()), "-p", "512", "-n", "128", "-t", str(threads),
               "-r", str(repetitions), "-o", "json"]
    result = subprocess.run(command, env=env, cwd=libraries, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        return {"error": f"exit {result.returncode}: {result.stderr.strip()[-300:]}"}
    rows = json.loads(result.stdout)
    speeds = {("prompt" if row["n_prompt"] else "generate"): row["avg_ts"] for row in rows}
    loaded = re.findall(r"loaded CPU backend from (\S+)", result.stderr)
    return {**speeds, "cpu_library": Path(loaded[-1]).name if loaded else "libggml-cpu.so (linked)"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, default=Path("/tmp/llama-builds"))
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    source = source_tree(args.work)

    base = args.work / "avx2"
    build(source, base, list(PORTABLE_CPU_FLAGS), ["llama-bench"])
    runs = {"avx2": base / "bin"}
    if AVX512_KERNEL_FLAGS <= kernel_cpu_flags():
        build(source, args.work / "avx512", [*PORTABLE_CPU_FLAGS, *AVX512], ["ggml-cpu"])
        runs["avx512"] = args.work / "avx512" / "bin"
    else:
        print("avx512: skipped, this machine's kernel does not list every AVX-512 flag it needs", file=sys.stderr)
    build(source, args.work / "dispatch", DISPATCH, ["ggml"])
    runs["dispatch"] = args.work / "dispatch" / "bin"

    # Rounds interleave the builds, so a noisy neighbour on a shared machine hits them alike.
    rounds: dict[str, list[dict[str, object]]] = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, libraries in runs.items():
            rounds[name].append(bench(base / "bin" / "llama-bench", libraries, args.repetitions, args.threads))
    print(f"SmolLM2-135M Q4_1, {args.threads} threads; median of {args.rounds} interleaved rounds "
          f"of {args.repetitions} repetitions; tokens/s")
    print(f"{'build':<10} {'prompt (pp512)':>15} {'generate (tg128)':>17}  CPU library chosen")
    medians: dict[str, tuple[float, float]] = {}
    for name, results in rounds.items():
        failed = [r["error"] for r in results if "error" in r]
        if failed:
            print(f"{name:<10} failed: {failed[0]}")
            continue
        medians[name] = (statistics.median(float(r["prompt"]) for r in results),  # type: ignore[arg-type]
                         statistics.median(float(r["generate"]) for r in results))  # type: ignore[arg-type]
        prompt, generate = medians[name]
        ratio = ""
        if name != "avx2" and "avx2" in medians:
            ratio = f"  (x{prompt / medians['avx2'][0]:.2f} prompt, x{generate / medians['avx2'][1]:.2f} generate vs avx2)"
        print(f"{name:<10} {prompt:>15.1f} {generate:>17.1f}  {results[-1]['cpu_library']}{ratio}")


if __name__ == "__main__":
    main()
