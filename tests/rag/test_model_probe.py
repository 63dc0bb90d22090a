"""The model is loaded in a child process before this one trusts it: a crash or a hang there
costs the answers their model, never the process that students talk to."""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from rag.errors import ModelProbeError
from rag.llama_cpp_model import LlamaCppModel
from rag.model_files import packaged_demo_path
from rag.model_probe import ModelProbe, ProbeResult
from tests.rag.crash_gguf import write_crashing_gguf


def probe_child(timeout: float = 30.0) -> int:
    """The pid of this process's probe child, once it has started."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            if parent == os.getpid() and b"rag.model_probe" in cmdline:
                return int(entry)
        time.sleep(0.005)
    raise AssertionError("the probe child never started")


def probe_while(probe: Callable[[], ProbeResult], act_on_child: Callable[[int], None]) -> ProbeResult:
    """Run `probe` in a thread and do something to its child process meanwhile."""
    result: list[ProbeResult] = []
    worker = threading.Thread(target=lambda: result.append(probe()))
    worker.start()
    act_on_child(probe_child())
    worker.join(timeout=120)
    assert result, "the probe never came back"
    return result[0]


def cached_outcomes(cache: Path) -> list[str]:
    return [entry["outcome"] for entry in json.loads(cache.read_text())["results"].values()]


def test_the_packaged_model_is_probed_once_then_trusted_from_the_cache(tmp_path: Path) -> None:
    cache = tmp_path / "model-probe.json"
    first = ModelProbe(cache).check(packaged_demo_path())
    assert first.ok and first.problem(packaged_demo_path()) is None, first.detail
    assert first.gpu_offload is False and "AVX2 = 1" in first.system_info
    # A new process (a new probe object) reads the verdict instead of starting a child.
    assert ModelProbe(cache).check(packaged_demo_path()) == first
    assert cached_outcomes(cache) == ["ok"]


def test_a_gguf_that_crashes_llama_cpp_is_never_loaded_here(tmp_path: Path) -> None:
    model_path = write_crashing_gguf(tmp_path / "crash.gguf")
    cache = tmp_path / "model-probe.json"
    verdict = ModelProbe(cache).check(model_path)
    assert verdict.outcome == "crashed" and "SIGABRT" in verdict.detail, verdict
    problem = verdict.problem(model_path) or ""
    assert "crash.gguf" in problem and "make llama-cpp" in problem

    model = LlamaCppModel(model_path, n_ctx=512, probe=ModelProbe(cache))
    with pytest.raises(ModelProbeError, match="SIGABRT"):
        model.load()
    assert cached_outcomes(cache) == ["crashed"], "the verdict is kept: the next start does not crash a child again"


def test_a_child_killed_by_a_fault_is_reported_with_its_signal(tmp_path: Path) -> None:
    def segfault(pid: int) -> None:
        os.kill(pid, signal.SIGSTOP)  # hold it, so it cannot finish first
        os.kill(pid, signal.SIGSEGV)
        os.kill(pid, signal.SIGCONT)

    verdict = probe_while(lambda: ModelProbe(None).run(packaged_demo_path()), segfault)
    assert verdict.outcome == "crashed"
    assert "SIGSEGV (signal 11: a memory or protection fault" in verdict.detail


def test_a_model_that_hangs_is_not_loaded_and_the_hang_is_not_cached(tmp_path: Path) -> None:
    cache = tmp_path / "model-probe.json"
    probe = ModelProbe(cache, timeout_s=3)
    verdict = probe_while(lambda: probe.check(packaged_demo_path()), lambda pid: os.kill(pid, signal.SIGSTOP))
    assert verdict.outcome == "hung" and verdict.detail == "no answer within 3 s"
    assert not cache.exists(), "a hang may be a slow disk at boot: the next start asks again"

    model = LlamaCppModel(packaged_demo_path(), n_ctx=512, probe=probe)
    with pytest.raises(ModelProbeError, match=r"did not finish loading .*llm\.probe_timeout"):
        model.load()  # the same process remembers the hang instead of waiting again


def test_a_child_killed_from_outside_is_not_held_against_the_build(tmp_path: Path) -> None:
    """SIGKILL is the OOM killer's (or an operator's) doing: the next start probes again."""
    cache = tmp_path / "model-probe.json"
    verdict = probe_while(lambda: ModelProbe(cache).check(packaged_demo_path()), lambda pid: os.kill(pid, signal.SIGKILL))
    assert verdict.outcome == "crashed" and verdict.killed_by == signal.SIGKILL and "lack of memory" in verdict.detail
    assert not cache.exists()
    assert ModelProbe(cache).check(packaged_demo_path()).ok


@pytest.mark.parametrize(
    "garbage",
    ["{not json", json.dumps([1, 2]), json.dumps({"format": 99, "results": {}}),
     json.dumps({"format": 1, "results": {"KEY": {"outcome": "ok", "bogus": True}}})],
)
def test_a_corrupt_cached_verdict_is_ignored_and_the_model_probed_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, garbage: str
) -> None:
    cache = tmp_path / "model-probe.json"
    probe = ModelProbe(cache)
    cache.write_text(garbage.replace("KEY", probe.key(packaged_demo_path())))
    with caplog.at_level(logging.WARNING, logger="rag.model_probe"):
        verdict = probe.check(packaged_demo_path())
    assert verdict.ok
    assert any("probing again" in record.getMessage() for record in caplog.records)
    assert cached_outcomes(cache) == ["ok"], "the cache is rewritten whole"


def test_the_verdict_is_kept_per_build_model_and_cpu(tmp_path: Path) -> None:
    probe = ModelProbe(tmp_path / "model-probe.json")
    other = tmp_path / "copy.gguf"
    other.write_bytes(packaged_demo_path().read_bytes())
    assert probe.key(packaged_demo_path()) != probe.key(other)
    assert probe.key(packaged_demo_path()) != ModelProbe(None, n_gpu_layers=0).key(packaged_demo_path())
    assert probe.key(packaged_demo_path()) == ModelProbe(None).key(packaged_demo_path())
