"""Build, cache, install and check llama-cpp-python the one way this project does.

llama-cpp-python compiles llama.cpp from source, and its default (`GGML_NATIVE=ON`,
`-march=native`) takes every instruction set the build machine's CPUID reports. Some
virtual machines report AMX and AVX-512 extensions they never enable, so such a build
dies with a general protection fault at the first matrix multiply; and a wheel built
that way on one host, left in pip's cache (which is not keyed on `CMAKE_ARGS`), crashes
on the next. So every build here goes through this file: the Makefile and the
Dockerfile both call it, with the flags defined once below.

- The CPU code is built for a fixed, portable x86-64 level (AVX2, FMA, F16C, BMI2),
  never for the build machine (README, "The llama.cpp build", has the measurements).
- Built wheels are cached under a key made of the exact flags, the requirement and the
  Python, so a wheel is only ever reused by a build that asked for the same flags; pip's
  own wheel cache is bypassed.
- Every wheel, fresh or cached, and every install is disassembled and refused when its
  CPU code holds instructions outside the portable set (AMX tiles, AVX-512, AVX-VNNI).

Standard library only: it runs before the project's virtualenv has anything in it, and
in the Docker build stage.

    python scripts/llama_cpp_build.py install --python .venv/bin/python [--variant cpu|cuda]
    python scripts/llama_cpp_build.py wheel --variant cuda --out /wheels
    python scripts/llama_cpp_build.py verify --python .venv/bin/python   # or --path DIR_OR_WHEEL
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "llama-cpp-python"
CACHE_FORMAT = 1
"""Bump when what goes into a cached wheel changes without the flags changing."""

PORTABLE_CPU_FLAGS = (
    "-DGGML_NATIVE=OFF",
    "-DGGML_BACKEND_DL=OFF",
    "-DGGML_CPU_ALL_VARIANTS=OFF",
    "-DGGML_SSE42=ON",
    "-DGGML_AVX=ON",
    "-DGGML_AVX2=ON",
    "-DGGML_FMA=ON",
    "-DGGML_F16C=ON",
    "-DGGML_BMI2=ON",
    "-DGGML_AVX_VNNI=OFF",
    "-DGGML_AVX512=OFF",
    "-DGGML_AVX512_VBMI=OFF",
    "-DGGML_AVX512_VNNI=OFF",
    "-DGGML_AVX512_BF16=OFF",
    "-DGGML_AMX_TILE=OFF",
    "-DGGML_AMX_INT8=OFF",
    "-DGGML_AMX_BF16=OFF",
)
"""x86-64-v3 (Haswell, 2013, and every AMD since Zen): fastest of the builds that cannot
fault on a machine of this kind. Every switch is spelled out so a `CMAKE_ARGS` in the
environment or a changed upstream default cannot add one back."""

DEFAULT_CUDA_ARCHITECTURES = "80;86;89;90"
"""A100, A10/RTX 30xx, L4/RTX 40xx, H100/H200 (compute capability without the dot)."""

VARIANTS = ("cpu", "cuda")


def cmake_flags(variant: str, cuda_architectures: str = DEFAULT_CUDA_ARCHITECTURES) -> tuple[str, ...]:
    """The complete `CMAKE_ARGS` for a build: the portable CPU code, plus CUDA kernels for `cuda`."""
    if variant == "cpu":
        return (*PORTABLE_CPU_FLAGS, "-DGGML_CUDA=OFF")
    if variant == "cuda":
        return (*PORTABLE_CPU_FLAGS, "-DGGML_CUDA=ON", f"-DCMAKE_CUDA_ARCHITECTURES={cuda_architectures}")
    raise BuildError(f"unknown variant {variant!r}: choose one of {', '.join(VARIANTS)}")


class BuildError(Exception):
    """A build, an install or a check that failed; the message says what to do."""


# ------------------------------------------------------------------ what the CPU code may use

AMX = re.compile(r"^(ldtilecfg|sttilecfg|tileloadd\w*|tilestored|tilerelease|tilezero|tdp\w+|tcmmi\w+|tcmmr\w+)$")
EVEX_REGISTER = re.compile(r"%(zmm\d+|k[0-7]\b|[xy]mm(1[6-9]|2\d|3[01])\b)")
EVEX_ONLY = re.compile(
    r"^v(pternlog|permt2|permi2|pmov(s|us)?(qd|qw|qb|dw|db|wb)\b|pmovm2|pmov[bwdq]2m|prol|pror|psraq|pabsq|"
    r"p(max|min)[su]q|pmullq|cvtt?p[sd]2u?qq|cvtu?qq2p|cvtt?p[sd]2udq|cvtudq2p|rcp14|rsqrt14|rcp28|rsqrt28|getexp|"
    r"getmant|fixupimm|rndscale|scalef|range|reduce|(extract|insert)[fi](32|64)x|broadcast[fi](32|64)x|align[dq]|"
    r"p?compress|p?expand|pconflict|plzcnt|pdpbusd|pdpwssd|dpbf16ps|cvtne2?ps2bf16|permb|pmultishiftqb|popcnt[bwdq]|"
    r"pshld|pshrd|pdpb[su]{2}d)"
)
"""Instructions with no VEX encoding: AVX-512 (on any register) and AVX-VNNI/AVX512-VNNI."""


@dataclass(frozen=True)
class Finding:
    library: str
    instruction: str
    kind: str

    def __str__(self) -> str:
        return f"{self.library}: {self.instruction} ({self.kind})"


SHOWN_FINDINGS = 12


def foreign_instructions(library: Path, limit: int = 5) -> list[Finding]:
    """Instructions in `library` outside the portable set, at most `limit` of each kind."""
    objdump = shutil.which("objdump")
    if objdump is None:
        raise BuildError("objdump is needed to check the llama.cpp build: install binutils (apt-get install binutils)")
    process = subprocess.Popen(
        [objdump, "-d", "--no-show-raw-insn", "-M", "att", str(library)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1 << 20,
    )
    assert process.stdout is not None
    found: dict[str, list[Finding]] = {"AMX": [], "AVX-512": [], "AVX-512 or AVX-VNNI": []}
    for line in process.stdout:
        parts = line.split("\t")
        if len(parts) < 2:
            continue
        instruction = parts[1].strip()
        vex_prefixed = instruction.startswith("{vex}")  # objdump marks the VEX forms of AVX-VNNI and kin
        words = instruction.removeprefix("{vex}").split()
        mnemonic = words[0] if words else ""
        if AMX.match(mnemonic):
            kind = "AMX"
        elif EVEX_REGISTER.search(instruction):
            kind = "AVX-512"
        elif vex_prefixed or EVEX_ONLY.match(mnemonic):
            kind = "AVX-512 or AVX-VNNI"
        else:
            continue
        if len(found[kind]) < limit:
            found[kind].append(Finding(library.name, " ".join(instruction.split()), kind))
    _, errors = process.communicate()
    if process.returncode != 0:
        raise BuildError(f"objdump could not read {library}: {errors.strip()}")
    return [finding for kind in found.values() for finding in kind]


def cpu_code_libraries(lib_dir: Path) -> list[Path]:
    """The libraries whose code runs on the CPU, each once (the CUDA one holds GPU kernels, and is huge).

    Wheels carry `libx.so`, `libx.so.0` and `libx.so.0.y.z` as copies, not links: one is read.
    """
    seen: dict[str, Path] = {}
    for path in sorted(lib_dir.glob("lib*.so*"), key=lambda p: len(p.name)):
        if path.is_file() and not path.is_symlink() and "cuda" not in path.name:
            seen.setdefault(hashlib.sha256(path.read_bytes()).hexdigest(), path)
    return sorted(seen.values())


def check_libraries(lib_dir: Path) -> None:
    """Raise when the libraries in `lib_dir` would run instructions outside the portable set."""
    if platform.machine() not in ("x86_64", "AMD64"):
        return  # the portable set is defined for x86-64 only
    libraries = cpu_code_libraries(lib_dir)
    if not any(p.name.startswith("libggml-cpu") for p in libraries):
        raise BuildError(f"no libggml-cpu in {lib_dir}: this is not a llama-cpp-python build this project knows")
    findings = [finding for library in libraries for finding in foreign_instructions(library, limit=2)]
    if findings:
        listed = "\n  ".join(str(f) for f in findings[:SHOWN_FINDINGS])
        if len(findings) > SHOWN_FINDINGS:
            listed += f"\n  … and more in {len({f.library for f in findings})} libraries"
        raise BuildError(
            f"the llama.cpp build in {lib_dir} uses instructions outside the portable x86-64-v3 set, so it can "
            f"crash a machine that does not enable them:\n  {listed}\n"
            "It was built for some machine's own CPU (GGML_NATIVE). Rebuild it with `make llama-cpp` "
            "(or `python scripts/llama_cpp_build.py install --python .venv/bin/python`)."
        )


def check_wheel(wheel: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="llama-wheel-") as scratch:
        with zipfile.ZipFile(wheel) as archive:
            members = [m for m in archive.namelist() if m.startswith("llama_cpp/lib/")]
            archive.extractall(scratch, members)
        check_libraries(Path(scratch) / "llama_cpp" / "lib")


def installed_lib_dir(python: str) -> Path:
    """Where `python`'s llama_cpp keeps its libraries, found without loading them."""
    probe = "import importlib.util as u; s = u.find_spec('llama_cpp'); print(s.submodule_search_locations[0] if s else '')"
    result = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=False)
    location = result.stdout.strip()
    if result.returncode != 0 or not location:
        raise BuildError(f"llama-cpp-python is not installed for {python}")
    return Path(location) / "lib"


# ------------------------------------------------------------------------------ the wheel

def requirement(pyproject: Path = REPO / "pyproject.toml") -> str:
    """llama-cpp-python's requirement, as pyproject.toml (the one list of dependencies) gives it."""
    dependencies = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    for dependency in dependencies:
        if re.match(r"llama-cpp-python\b", dependency):
            return dependency
    raise BuildError(f"{pyproject} does not list {PACKAGE}")


def cache_key(spec: str, flags: Iterable[str], python_tag: str = sys.implementation.cache_tag or "") -> str:
    identity = {"format": CACHE_FORMAT, "requirement": spec, "cmake_args": list(flags),
                "python": python_tag, "machine": platform.machine()}
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:20]


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(os.environ.get("MENTOR_LLAMA_WHEEL_CACHE", Path(base) / "ai-mentor" / "llama-cpp-wheels"))


def cached_wheel(cache_dir: Path, key: str) -> Path | None:
    """The wheel cached under exactly `key`, if it is there and passes the check.

    A wheel that fails the check (copied in by hand, or left by a build of another
    version of this file) is removed rather than trusted.
    """
    folder = cache_dir / key
    wheels = sorted(folder.glob("*.whl"))
    if len(wheels) != 1:
        return None
    try:
        check_wheel(wheels[0])
    except (BuildError, zipfile.BadZipFile) as exc:
        print(f"llama_cpp_build: not reusing {wheels[0]}: {exc}", file=sys.stderr)
        shutil.rmtree(folder, ignore_errors=True)
        return None
    return wheels[0]


def build_environment(flags: tuple[str, ...], base: dict[str, str]) -> dict[str, str]:
    """`base` with the build's own `CMAKE_ARGS`: whatever the shell had set is replaced, not extended."""
    return {**base, "CMAKE_ARGS": " ".join(flags), "FORCE_CMAKE": "1",
            "CMAKE_BUILD_PARALLEL_LEVEL": base.get("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 2))}


def pip_wheel_command(python: str, spec: str, out_dir: Path) -> list[str]:
    """Compile from the source distribution; pip's wheel cache, not keyed on `CMAKE_ARGS`, is never read."""
    return [python, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-cache-dir",
            "--no-binary", PACKAGE, "--wheel-dir", str(out_dir), spec]


def build_wheel(python: str, spec: str, flags: tuple[str, ...], out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    env = build_environment(flags, dict(os.environ))
    print(f"llama_cpp_build: compiling {spec} (several minutes) with CMAKE_ARGS={env['CMAKE_ARGS']}", file=sys.stderr)
    if subprocess.run(pip_wheel_command(python, spec, out_dir), env=env, check=False).returncode != 0:
        raise BuildError(f"building {spec} failed (pip's output is above); it needs a C++ compiler and cmake")
    wheels = sorted(out_dir.glob("llama_cpp_python-*.whl"))
    if len(wheels) != 1:
        raise BuildError(f"expected one llama-cpp-python wheel in {out_dir}, found {len(wheels)}")
    check_wheel(wheels[0])
    return wheels[0]


def wheel_for(python: str, variant: str, cache_dir: Path, cuda_architectures: str) -> Path:
    """A checked wheel built with this project's flags: from the cache, or built and cached now."""
    spec, flags = requirement(), cmake_flags(variant, cuda_architectures)
    key = cache_key(spec, flags, _python_tag(python))
    if (wheel := cached_wheel(cache_dir, key)) is not None:
        print(f"llama_cpp_build: reusing {wheel} (built with the same flags)", file=sys.stderr)
        return wheel
    cache_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=cache_dir))
    try:
        built = build_wheel(python, spec, flags, scratch)
        (scratch / "build.json").write_text(json.dumps({"requirement": spec, "cmake_args": list(flags)}, indent=2))
        folder = cache_dir / key
        shutil.rmtree(folder, ignore_errors=True)
        scratch.rename(folder)  # atomic: a half-built folder is never found under the key
        return folder / built.name
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def install(python: str, variant: str, cache_dir: Path, cuda_architectures: str) -> None:
    wheel = wheel_for(python, variant, cache_dir, cuda_architectures)
    # --force-reinstall: the same version built with other flags must be replaced, not kept.
    command = [python, "-m", "pip", "install", "--quiet", "--no-deps", "--force-reinstall", str(wheel)]
    if subprocess.run(command, check=False).returncode != 0:
        raise BuildError(f"installing {wheel} failed (pip's output is above)")
    # The wheel was checked before it was installed; `verify` checks again after anything else installs.
    print(f"llama_cpp_build: installed {wheel.name} ({variant}); its CPU code is portable", file=sys.stderr)


def _python_tag(python: str) -> str:
    result = subprocess.run([python, "-c", "import sys; print(sys.implementation.cache_tag)"],
                            capture_output=True, text=True, check=False)
    return result.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("install", "wheel"):
        sub = commands.add_parser(name)
        sub.add_argument("--python", default=sys.executable, help="the interpreter whose pip builds (and installs)")
        sub.add_argument("--variant", choices=VARIANTS, default=os.environ.get("LLAMA_CPP_VARIANT", "cpu"))
        sub.add_argument("--cuda-architectures", default=os.environ.get("CUDA_ARCHITECTURES", DEFAULT_CUDA_ARCHITECTURES))
        sub.add_argument("--cache-dir", type=Path, default=default_cache_dir())
        if name == "wheel":
            sub.add_argument("--out", type=Path, required=True, help="where the wheel is copied")
    verify = commands.add_parser("verify")
    target = verify.add_mutually_exclusive_group(required=True)
    target.add_argument("--python", help="check the llama-cpp-python installed for this interpreter")
    target.add_argument("--path", type=Path, help="check a wheel, or a folder of libraries")
    flags = commands.add_parser("flags")
    flags.add_argument("--variant", choices=VARIANTS, default="cpu")
    args = parser.parse_args(argv)
    try:
        if args.command == "install":
            install(args.python, args.variant, args.cache_dir, args.cuda_architectures)
        elif args.command == "wheel":
            wheel = wheel_for(args.python, args.variant, args.cache_dir, args.cuda_architectures)
            args.out.mkdir(parents=True, exist_ok=True)
            shutil.copy2(wheel, args.out / wheel.name)
            print(args.out / wheel.name)
        elif args.command == "verify":
            if args.python:
                check_libraries(installed_lib_dir(args.python))
            elif args.path.suffix == ".whl":
                check_wheel(args.path)
            else:
                check_libraries(args.path)
            print("llama_cpp_build: the CPU code uses only the portable instruction set")
        else:
            print(" ".join(cmake_flags(args.variant)))
    except BuildError as exc:
        print(f"llama_cpp_build: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
