"""A GGUF model run in this process by llama.cpp (`llama-cpp-python`)."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import LanguageModelError, ModelFileError, ModelProbeError
from rag.llm import ChatMessage, Generation, GenerationSettings, TokenCallback, fold_system_prompt
from rag.model_probe import ModelProbe

if TYPE_CHECKING:
    from llama_cpp import Llama

log = logging.getLogger(__name__)

GGUF_MAGIC = b"GGUF"


class LlamaCppModel:
    """One llama.cpp model per process, loaded on first use.

    A `Llama` object is not thread-safe (two calls at once crash inside ggml), so every
    generation holds one lock: `max_concurrency` is 1, and callers queue. With a `probe`,
    no llama.cpp code runs here before a child process has loaded the same file and
    survived (a native crash would take this whole process down).
    """

    max_concurrency = 1

    def __init__(
        self,
        path: Path,
        *,
        n_ctx: int = 4096,
        n_gpu_layers: int = -1,
        threads: int | None = None,
        fix_hint: str = "",
        gpu_requested: bool = False,
        probe: ModelProbe | None = None,
    ) -> None:
        self.path = path
        self.probe = probe
        self.gpu_requested = gpu_requested
        """`n_gpu_layers` was set on purpose, so a CPU-only build is worth a warning."""
        self.n_ctx = n_ctx
        self.n_gpu_layers = n_gpu_layers
        self.threads = threads
        self.fix_hint = fix_hint
        """What to do when the file is missing or broken, e.g. the download command."""
        self._llama: Llama | None = None
        self._load_lock = threading.Lock()
        self._generate_lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def context_window(self) -> int:
        return self.n_ctx

    @property
    def supports_system_role(self) -> bool:
        # Templates that know a system role name it; Mistral's does not and drops it silently.
        template = self.llama.metadata.get("tokenizer.chat_template", "")
        return "system" in template

    @property
    def llama(self) -> Llama:
        if self._llama is None:
            with self._load_lock:
                if self._llama is None:
                    self._llama = self._load()
        return self._llama

    def load(self) -> None:
        """Load now rather than on the first question (raises `ModelFileError`)."""
        _ = self.llama

    def count_tokens(self, text: str) -> int:
        # Tokenizing reads only the vocabulary, not the context, so it needs no lock.
        return len(self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def generate(
        self, messages: list[ChatMessage], settings: GenerationSettings, on_token: TokenCallback | None = None
    ) -> Generation:
        llama = self.llama
        if not self.supports_system_role:
            messages = fold_system_prompt(messages)
        with self._generate_lock:
            started = time.perf_counter()
            first_token: float | None = None
            pieces: list[str] = []
            try:
                stream = llama.create_chat_completion(
                    messages=list(messages),  # type: ignore[arg-type]
                    max_tokens=settings.max_tokens,
                    temperature=settings.temperature,
                    seed=settings.seed,
                    repeat_penalty=settings.repeat_penalty,
                    stream=True,
                )
                for chunk in stream:
                    piece = _delta_text(chunk)
                    if not piece:
                        continue
                    if first_token is None:
                        first_token = time.perf_counter() - started
                    pieces.append(piece)
                    if on_token is not None:
                        on_token(piece)
            except (RuntimeError, ValueError) as exc:
                raise LanguageModelError(f"llama.cpp failed while answering with {self.name}: {exc}") from exc
            text = "".join(pieces)
            return Generation(
                text=text,
                completion_tokens=len(llama.tokenize(text.encode("utf-8"), add_bos=False)) if text else 0,
                first_token_s=first_token,
                seconds=time.perf_counter() - started,
            )

    def _load(self) -> Llama:
        check_loadable(self.path, self.n_gpu_layers, self.fix_hint)
        if self.probe is not None:
            verdict = self.probe.check(self.path)
            if problem := verdict.problem(self.path):
                raise ModelProbeError(problem)
        import llama_cpp
        from llama_cpp import Llama

        if problem := gpu_build_problem(self.n_gpu_layers, self.gpu_requested, llama_cpp.llama_supports_gpu_offload()):
            log.warning("%s", problem)  # once: a model loads once per process
        if not self.offloads_to_gpu():
            _check_memory(self.path, self.fix_hint)

        started = time.perf_counter()
        try:
            llama = Llama(
                model_path=str(self.path),
                n_ctx=self.n_ctx,
                n_gpu_layers=self.n_gpu_layers,
                n_threads=self.threads,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelFileError(
                f"llama.cpp could not load {self.path}: the file is corrupt, truncated or not a model it knows "
                f"({exc}). {self.fix_hint}".strip()
            ) from exc
        log.info("loaded %s in %.1f s (n_ctx=%d, GPU offload: %s)", self.path, time.perf_counter() - started,
                 self.n_ctx, self.offloads_to_gpu())
        return llama

    def offloads_to_gpu(self) -> bool:
        """True when this llama.cpp build can put layers on a GPU and was asked to."""
        import llama_cpp

        return bool(llama_cpp.llama_supports_gpu_offload()) and self.n_gpu_layers != 0


GPU_BUILD_FIX = "make llama-cpp LLAMA_CPP_VARIANT=cuda (in the project's checkout; README, \"Running on a GPU\")"


def gpu_build_problem(n_gpu_layers: int, gpu_requested: bool, supports_offload: bool) -> str | None:
    """Why a GPU that is wanted will sit idle: this llama.cpp was built for the CPU only.

    Wanted means `n_gpu_layers` was set explicitly, or an NVIDIA GPU is visible with the
    default (-1, all layers); llama.cpp itself ignores the setting without a word.
    `supports_offload` is the build's own answer, asked by whoever already trusts it.
    """
    if n_gpu_layers == 0 or supports_offload:
        return None
    if not (gpu_requested or nvidia_gpu_visible()):
        return None
    return (
        f"llm.n_gpu_layers is {n_gpu_layers} but this llama.cpp build is CPU-only, so every layer runs on the CPU "
        f"(slowly). Rebuild it with CUDA on the GPU host: {GPU_BUILD_FIX}"
    )


def nvidia_gpu_visible() -> bool:
    return Path("/proc/driver/nvidia/version").exists() or Path("/dev/nvidia0").exists()


def check_gguf(path: Path, fix_hint: str = "") -> None:
    """Refuse a missing or non-GGUF file before llama.cpp sees it (it aborts on some bad files)."""
    if not path.is_file():
        raise ModelFileError(f"Model file {path} does not exist. {fix_hint}".strip())
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        raise ModelFileError(f"Cannot read model file {path}: {exc.strerror or exc}. {fix_hint}".strip()) from exc
    if magic != GGUF_MAGIC:
        raise ModelFileError(f"{path} is not a GGUF model file (it does not start with 'GGUF'). {fix_hint}".strip())


def check_loadable(path: Path, n_gpu_layers: int, fix_hint: str = "") -> None:
    """What can be refused without running llama.cpp: a bad file, or one that cannot fit in memory
    where it will surely run on the CPU (no GPU here, or none asked for). A probe child that
    ran out of memory would only say it was killed."""
    check_gguf(path, fix_hint)
    if n_gpu_layers == 0 or not nvidia_gpu_visible():
        _check_memory(path, fix_hint)


def _check_memory(path: Path, fix_hint: str) -> None:
    """A model run on the CPU needs its whole file in memory; refuse one that cannot fit."""
    available = _available_memory()
    size = path.stat().st_size
    if available is not None and size > available:
        raise ModelFileError(
            f"{path.name} needs about {size / 2**30:.1f} GiB of memory but only {available / 2**30:.1f} GiB is "
            "available: run it on a GPU (a CUDA build of llama-cpp-python, see README), use a smaller "
            "quantisation, or point llm.base_url at an LLM server."
        )


def _available_memory() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _delta_text(chunk: Any) -> str:
    choices = chunk.get("choices") or [{}]
    return (choices[0].get("delta") or {}).get("content") or ""
