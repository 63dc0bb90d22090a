"""The llama.cpp build: portable CPU code only, one definition of its flags, no stale wheel.

The check that refuses a bad build is itself tested on any machine: tiny libraries
compiled here with AMX, AVX-512 and AVX-VNNI code must be refused, whatever this
machine's CPU can run (the instructions are only disassembled, never executed).
"""

from __future__ import annotations

import platform
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from rag.cpu_flags import isa_not_enabled, kernel_cpu_flags
from rag.model_files import packaged_demo_path
from rag.model_probe import ModelProbe
from scripts import llama_cpp_build as build
from tests.conftest import REPO

pytestmark = pytest.mark.skipif(
    sys.platform != "linux" or platform.machine() != "x86_64" or not shutil.which("gcc"),
    reason="the portable set is defined for x86-64 Linux, and the check is tested with gcc",
)


SOURCES = {
    "amx": ("-mamx-tile", "void tiles(const void *cfg) { _tile_loadconfig(cfg); _tile_release(); }"),
    "avx512": ("-mavx512f", "void add(float *a, const float *b) "
               "{ _mm512_storeu_ps(a, _mm512_add_ps(_mm512_loadu_ps(a), _mm512_loadu_ps(b))); }"),
    "avx512vl": ("-mavx512f -mavx512vl", "__m256i rot(__m256i a) { return _mm256_rol_epi32(a, 3); }"),
    "avxvnni": ("-mavxvnni", "__m256i dot(__m256i a, __m256i b, __m256i c) { return _mm256_dpbusd_avx_epi32(a, b, c); }"),
    "avx2": ("-mavx2 -mfma -mf16c", "void muladd(float *a, const float *b) { __m256 x = _mm256_loadu_ps(a); "
             "_mm256_storeu_ps(a, _mm256_fmadd_ps(x, _mm256_loadu_ps(b), x)); }"),
}


def compiled(tmp_path: Path, kind: str, name: str = "libggml-cpu.so") -> Path:
    """A shared library holding one function built with `kind`'s instruction set."""
    flags, body = SOURCES[kind]
    folder = tmp_path / f"{kind}-{name}"
    folder.mkdir()
    source = folder / "code.c"
    source.write_text("#include <immintrin.h>\n" + body + "\n")
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", *flags.split(), str(source), "-o", str(folder / name)], check=True)
    return folder


def wheel_holding(tmp_path: Path, library_dir: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / "llama_cpp_python-0.3.36-cp311-cp311-linux_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for library in library_dir.glob("*.so"):
            archive.write(library, f"llama_cpp/lib/{library.name}")
    return wheel


def test_the_installed_llama_cpp_holds_only_portable_instructions() -> None:
    """Fails on a build made for some machine's own CPU, on any machine: the code is read, not run."""
    lib_dir = build.installed_lib_dir(sys.executable)
    assert any(p.name == "libggml-cpu.so" for p in build.cpu_code_libraries(lib_dir))
    build.check_libraries(lib_dir)


def test_what_the_installed_build_says_it_uses_is_enabled_by_this_kernel(tmp_path: Path) -> None:
    verdict = ModelProbe(None).run(packaged_demo_path())
    assert verdict.ok, verdict.detail
    used = re.findall(r"(\w+) = 1", verdict.system_info)
    assert "AVX2" in used and not {"AMX_INT8", "AVX512", "AVX512_VNNI", "AVX_VNNI"} & set(used), verdict.system_info
    assert isa_not_enabled(verdict.system_info, kernel_cpu_flags()) == []


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("amx", "ldtilecfg"), ("avx512", "%zmm"), ("avx512vl", "vprold"), ("avxvnni", "vpdpbusd")],
)
def test_the_check_refuses_code_outside_the_portable_set(tmp_path: Path, kind: str, expected: str) -> None:
    folder = compiled(tmp_path, kind)
    with pytest.raises(build.BuildError) as refused:
        build.check_libraries(folder)
    message = str(refused.value)
    assert expected in message and "libggml-cpu.so" in message and "make llama-cpp" in message


def test_the_check_passes_avx2_code_and_refuses_a_folder_without_llama_cpp(tmp_path: Path) -> None:
    build.check_libraries(compiled(tmp_path, "avx2"))
    with pytest.raises(build.BuildError, match="no libggml-cpu"):
        build.check_libraries(compiled(tmp_path, "avx2", name="libsomething.so"))


def test_a_build_that_claims_more_than_the_kernel_enables_is_unsafe() -> None:
    """The AMX host: CPUID (and so -march=native) said AMX and AVX512-VNNI; the kernel listed neither."""
    info = "CPU : SSE3 = 1 | AVX = 1 | AVX2 = 1 | AVX512 = 1 | AVX512_VNNI = 1 | AMX_INT8 = 1 | OPENMP = 1 |"
    kernel = frozenset({"pni", "avx", "avx2", "avx512f"})
    assert isa_not_enabled(info, kernel) == ["AVX512_VNNI", "AMX_INT8"]
    assert isa_not_enabled(info, frozenset()) == [], "no /proc/cpuinfo (not Linux): no claim either way"


def test_a_cached_wheel_is_reused_only_under_the_same_flags_and_only_when_it_passes(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    spec = build.requirement()
    portable = build.cache_key(spec, build.cmake_flags("cpu"))
    native = build.cache_key(spec, ("-DGGML_NATIVE=ON",))
    assert portable != native and portable != build.cache_key(spec, build.cmake_flags("cuda"))

    wheel_holding(tmp_path, compiled(tmp_path, "avx512"), cache / native)
    assert build.cached_wheel(cache, portable) is None, "a wheel built with other flags is never found"

    wheel_holding(tmp_path, compiled(tmp_path, "amx"), cache / portable)
    assert build.cached_wheel(cache, portable) is None
    assert not (cache / portable).exists(), "a wheel under the right key that fails the check is thrown away"

    good = wheel_holding(tmp_path, compiled(tmp_path, "avx2"), cache / portable)
    assert build.cached_wheel(cache, portable) == good


def test_the_flags_are_defined_once_portable_and_used_by_the_makefile_and_the_dockerfile() -> None:
    flags = build.cmake_flags("cpu")
    assert "-DGGML_NATIVE=OFF" in flags and "-DGGML_AVX2=ON" in flags
    for switched_off in ("AVX512", "AVX512_VNNI", "AVX_VNNI", "AMX_TILE", "AMX_INT8", "CPU_ALL_VARIANTS"):
        assert f"-DGGML_{switched_off}=OFF" in flags
    assert "-DGGML_CUDA=ON" in build.cmake_flags("cuda") and "-DGGML_NATIVE=OFF" in build.cmake_flags("cuda")
    for path in ("Makefile", "Dockerfile"):
        text = (REPO / path).read_text()
        assert "scripts/llama_cpp_build.py" in text, path
        assert "-DGGML_" not in text and "CMAKE_ARGS=" not in text, f"{path} must take its flags from the script"
    assert "make run" in (REPO / ".ci" / "run").read_text(), "CI runs the main job after the tests"
    run_target = (REPO / "Makefile").read_text().split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert run_target.index("mentor models probe") < run_target.index("mentor ask"), (
        "the main job fails on an untrusted model instead of passing on retrieval-only answers"
    )


def test_flags_in_the_environment_cannot_reach_the_build() -> None:
    """A `CMAKE_ARGS=-DGGML_NATIVE=ON` left in a shell must not turn the build native again."""
    env = build.build_environment(build.cmake_flags("cpu"), {"CMAKE_ARGS": "-DGGML_NATIVE=ON", "PATH": "/usr/bin"})
    assert env["CMAKE_ARGS"] == " ".join(build.cmake_flags("cpu")) and env["PATH"] == "/usr/bin"
    command = build.pip_wheel_command(sys.executable, "llama-cpp-python==0.3.36", Path("/tmp/out"))
    assert "--no-cache-dir" in command and command[command.index("--no-binary") + 1] == "llama-cpp-python", (
        "pip's own wheel cache (not keyed on CMAKE_ARGS) is never read, and no prebuilt wheel is taken"
    )
