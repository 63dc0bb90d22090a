"""Load a GGUF and decode a few tokens in a short-lived child process before this one trusts it.

A native crash in llama.cpp (an instruction the CPU or its VM does not enable, a GGUF
that trips an assertion) kills the whole process, and with it every student talking to
it. So no llama.cpp code runs in the process that serves students until a child has
survived the same load and a short decode with the same build, model file and settings.
The verdict is cached in the data dir per llama.cpp build, model file and CPU, so the
probe costs about a second once per machine.

Run as `python -m rag.model_probe MODEL_PATH N_GPU_LAYERS [THREADS]`, the child prints one
JSON line on success; anything else (a signal, a timeout, an error) is the verdict.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from importlib import metadata, util
from pathlib import Path
from typing import Literal

from rag.cpu_flags import cpu_identity, isa_not_enabled, kernel_cpu_flags

log = logging.getLogger(__name__)

Outcome = Literal["ok", "crashed", "hung", "failed", "unsafe"]

REBUILD_HINT = (
    "Rebuild llama.cpp without instructions taken from the build machine: `make llama-cpp` in the project's "
    "checkout (README, \"The llama.cpp build\"), or rebuild the Docker image"
)
CACHE_FORMAT = 1
CACHE_ENTRIES = 20
STDERR_TAIL_LINES = 2
STDERR_LINE_CHARS = 240
PROBE_CONTEXT = 256
PROBE_PROMPT = " ".join(["The course covers loops, functions, lists, tuples and dictionaries."] * 4)
"""Long enough (about 60 tokens) to run the batched matrix multiply, the kernel that faulted on AMX."""
PROBE_TOKENS = 4


@dataclass(frozen=True)
class ProbeResult:
    outcome: Outcome
    detail: str
    """For the operator: the signal, the timeout, the child's last words, or what it measured."""
    seconds: float
    killed_by: int | None = None
    """The signal that killed the child, when one did."""
    gpu_offload: bool | None = None
    """Whether this llama.cpp build can offload to a GPU (as the child saw it); None if it never said."""
    system_info: str = ""
    probed_at: float = 0.0

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    @property
    def worth_keeping(self) -> bool:
        """A hang may be a slow disk at boot, and SIGKILL comes from outside (often the OOM
        killer): neither says anything lasting about the build, so the next start asks again."""
        return self.outcome != "hung" and self.killed_by != signal.SIGKILL

    def problem(self, model: Path) -> str | None:
        """What a student's operator reads when the model is not trusted; None when it is."""
        if self.ok:
            return None
        if self.outcome == "crashed":
            return (f"llama.cpp crashed while loading {model.name} in a test process ({self.detail}), so it is not "
                    f"loaded here and answers show the best passages instead. {REBUILD_HINT}; if the model file is "
                    "the cause, fetch it again.")
        if self.outcome == "hung":
            return (f"llama.cpp did not finish loading {model.name} in a test process ({self.detail}), so it is not "
                    "loaded here and answers show the best passages instead. Check the file's disk, or raise "
                    "llm.probe_timeout for a slow one.")
        if self.outcome == "unsafe":
            return f"this llama.cpp build would crash here ({self.detail}), so {model.name} is not loaded. {REBUILD_HINT}."
        return f"llama.cpp could not load {model.name} in a test process ({self.detail})."

    def to_json(self) -> dict[str, object]:
        return asdict(self)


class ModelProbe:
    """Decides whether a GGUF may be loaded in this process, by loading it in a child first."""

    def __init__(
        self,
        cache_path: Path | None,
        *,
        timeout_s: float = 120.0,
        n_gpu_layers: int = -1,
        threads: int | None = None,
    ) -> None:
        self.cache_path = cache_path
        self.timeout_s = timeout_s
        self.n_gpu_layers = n_gpu_layers
        self.threads = threads
        self._lock = threading.Lock()
        self._seen: dict[str, ProbeResult] = {}

    def check(self, model: Path, *, fresh: bool = False) -> ProbeResult:
        """The verdict for `model`: remembered, cached on disk, or probed now (once at a time).

        `fresh` probes again whatever was kept, and keeps the new verdict.
        """
        key = self.key(model)
        with self._lock:
            if key in self._seen and not fresh:
                return self._seen[key]
            result = None if fresh else self._cached(key)
            if result is None:
                result = self.run(model)
                if result.worth_keeping:
                    self._store(key, result)
            self._seen[key] = result
            return result

    def run(self, model: Path) -> ProbeResult:
        """Probe now, ignoring any cached verdict."""
        command = [sys.executable, "-m", "rag.model_probe", str(model), str(self.n_gpu_layers), str(self.threads or 0)]
        started = time.perf_counter()
        log.info("probing %s in a child process", model)
        try:
            child = subprocess.run(
                command, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace", timeout=self.timeout_s,
                # No gdb backtrace on abort: it is slow, and buries the one line that says why.
                env={**os.environ, "PYTHONPATH": _import_root(), "GGML_NO_BACKTRACE": "1"}, check=False,
            )
        except subprocess.TimeoutExpired:
            return ProbeResult("hung", f"no answer within {self.timeout_s:g} s", self.timeout_s, probed_at=time.time())
        seconds = time.perf_counter() - started
        if child.returncode < 0:
            detail = f"killed by {describe_signal(-child.returncode)}"
            if tail := _tail(child.stderr):
                detail += f"; its last words: {tail}"
            return ProbeResult("crashed", detail, seconds, killed_by=-child.returncode, probed_at=time.time())
        report = _report(child.stdout)
        if child.returncode != 0 or report is None:
            reason = _tail(child.stderr) or f"exit code {child.returncode}"
            return ProbeResult("failed", reason, seconds, probed_at=time.time())
        info, offload = str(report.get("system_info", "")), bool(report.get("gpu_offload"))
        if missing := isa_not_enabled(info, kernel_cpu_flags()):
            return ProbeResult("unsafe", f"it was compiled for {', '.join(missing)}, which this machine's kernel does "
                               "not enable", seconds, gpu_offload=offload, system_info=info, probed_at=time.time())
        detail = f"loaded and decoded {PROBE_TOKENS} tokens in {seconds:.1f} s"
        return ProbeResult("ok", detail, seconds, gpu_offload=offload, system_info=info, probed_at=time.time())

    def key(self, model: Path) -> str:
        """What the verdict depends on: the llama.cpp build, the model file, the CPU and the offload setting."""
        try:
            stat = model.stat()
            model_id = [str(model.resolve()), stat.st_size, stat.st_mtime_ns]
        except OSError:
            model_id = [str(model), None, None]
        identity = {"format": CACHE_FORMAT, "llama_cpp": llama_cpp_build_id(), "model": model_id,
                    "cpu": cpu_identity(), "n_gpu_layers": self.n_gpu_layers}
        return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:24]

    def _cached(self, key: str) -> ProbeResult | None:
        entries = self._read_cache()
        raw = entries.get(key)
        if raw is None:
            return None
        try:
            return ProbeResult(**raw)
        except TypeError as exc:
            log.warning("ignoring a malformed probe verdict in %s (%s); probing again", self.cache_path, exc)
            return None

    def _read_cache(self) -> dict[str, dict[str, object]]:
        if self.cache_path is None or not self.cache_path.exists():
            return {}
        try:
            data = json.loads(self.cache_path.read_text())
            if data.get("format") != CACHE_FORMAT or not isinstance(data.get("results"), dict):
                raise ValueError("not a probe cache of this version")
            return {k: v for k, v in data["results"].items() if isinstance(v, dict)}
        except (OSError, ValueError, AttributeError) as exc:
            log.warning("ignoring the unreadable probe cache %s (%s); probing again", self.cache_path, exc)
            return {}

    def _store(self, key: str, result: ProbeResult) -> None:
        if self.cache_path is None:
            return
        entries = self._read_cache()
        entries[key] = result.to_json()
        newest = dict(sorted(entries.items(), key=lambda item: float(item[1].get("probed_at") or 0))[-CACHE_ENTRIES:])
        try:
            self.cache_path.parent.mkdir(parents=True, exist_ok=True)
            scratch = self.cache_path.with_name(f".{self.cache_path.name}.{os.getpid()}.tmp")
            scratch.write_text(json.dumps({"format": CACHE_FORMAT, "results": newest}, indent=1))
            os.replace(scratch, self.cache_path)
        except OSError as exc:  # the verdict still holds for this process; the next one probes again
            log.warning("could not save the probe verdict to %s: %s", self.cache_path, exc)


def describe_signal(number: int) -> str:
    try:
        name = signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
    meaning = {
        "SIGSEGV": "a memory or protection fault, as from an instruction the CPU does not enable",
        "SIGILL": "an instruction this CPU does not have",
        "SIGBUS": "a bus error, as from a model file cut short under it",
        "SIGABRT": "llama.cpp aborted, usually on a model file it cannot read",
        "SIGKILL": "killed from outside, often for lack of memory",
    }.get(name)
    return f"{name} (signal {number}{': ' + meaning if meaning else ''})"


def llama_cpp_build_id() -> list[object]:
    """The installed llama-cpp-python, told apart by its version and its libraries, without loading them."""
    try:
        version = metadata.version("llama-cpp-python")
    except metadata.PackageNotFoundError:
        return ["not installed"]
    spec = util.find_spec("llama_cpp")
    lib_dir = Path(spec.submodule_search_locations[0]) / "lib" if spec and spec.submodule_search_locations else None
    libraries = sorted(lib_dir.glob("*.so*")) if lib_dir and lib_dir.is_dir() else []
    return [version, *[[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in libraries]]


def _import_root() -> str:
    """The folder holding the `rag` package, so the child imports the same code."""
    root = str(Path(__file__).resolve().parents[1])
    existing = os.environ.get("PYTHONPATH")
    return root + (os.pathsep + existing if existing else "")


def _report(stdout: str) -> dict[str, object] | None:
    for line in reversed(stdout.splitlines()):
        if line.startswith("{"):
            try:
                report = json.loads(line)
            except ValueError:
                return None
            return report if isinstance(report, dict) and report.get("probe") == "ok" else None
    return None


def _tail(stderr: str) -> str:
    lines = [" ".join(line.split())[:STDERR_LINE_CHARS] for line in stderr.splitlines() if line.strip()]
    return " | ".join(lines[-STDERR_TAIL_LINES:])


def _child(model: str, n_gpu_layers: int, threads: int) -> None:
    """Runs in the child: load, decode, say so. A crash here is the verdict."""
    import llama_cpp

    system_info = llama_cpp.llama_print_system_info().decode("utf-8", "replace")
    offload = bool(llama_cpp.llama_supports_gpu_offload())
    llm = llama_cpp.Llama(model_path=model, n_ctx=PROBE_CONTEXT, n_gpu_layers=n_gpu_layers,
                          n_threads=threads or None, verbose=True)
    llm.create_completion(PROBE_PROMPT, max_tokens=PROBE_TOKENS, temperature=0.0)
    print(json.dumps({"probe": "ok", "system_info": system_info, "gpu_offload": offload}), flush=True)


if __name__ == "__main__":
    _child(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 0)
