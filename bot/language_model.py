"""The language model that writes answers, built from the `llm` settings, and what status says of it.

An LLM server (`llm.base_url`) or llama.cpp in process on a GGUF file; the in-process model
is probed in a child first, so a build or file that would crash the bot is found out there.
"""

from __future__ import annotations

from pathlib import Path

from bot.config.sections import LlmSettings
from bot.status import ModelStatus
from rag.errors import ModelFileError
from rag.llama_cpp_model import LlamaCppModel, check_loadable, gpu_build_problem
from rag.llm import LanguageModel
from rag.model_files import PACKAGED_DEMO, PACKAGED_DISTRIBUTION, resolve_model
from rag.model_probe import ModelProbe
from rag.openai_http import OpenAIChatModel


def language_model_for(llm: LlmSettings, models_dir: Path, probe: ModelProbe) -> LanguageModel:
    """The configured model; llama.cpp loads on its first question, not here."""
    if llm.base_url:
        return OpenAIChatModel(
            llm.base_url,
            llm.model or "",
            api_key=llm.api_key.get_secret_value() if llm.api_key else None,
            context_window=llm.n_ctx,
            parallel=llm.parallel,
            timeout=llm.timeout,
            retries=llm.retries,
        )
    model_file = resolve_model(llm.model, models_dir)
    return LlamaCppModel(
        model_file.path,
        n_ctx=llm.n_ctx,
        n_gpu_layers=llm.n_gpu_layers,
        threads=llm.threads,
        fix_hint=model_file.fix_hint,
        gpu_requested="n_gpu_layers" in llm.model_fields_set,
        probe=probe,
    )


def model_status_for(llm: LlmSettings, models_dir: Path, probe: ModelProbe) -> ModelStatus:
    """What answers students; an in-process model is probed first (once per machine, then cached)."""
    if llm.base_url:
        return ModelStatus(llm.model or "", llm.base_url, True, None, False, None)
    try:
        model_file = resolve_model(llm.model, models_dir)
        check_loadable(model_file.path, llm.n_gpu_layers, model_file.fix_hint)
    except ModelFileError as exc:
        return ModelStatus(llm.model or PACKAGED_DEMO, llm.model or PACKAGED_DISTRIBUTION, False, str(exc), not llm.model, None)
    verdict = probe.check(model_file.path)
    if problem := verdict.problem(model_file.path):
        return ModelStatus(model_file.name, str(model_file.path), False, problem, model_file.is_demo, None, probe=verdict)
    supports_offload = bool(verdict.gpu_offload)
    warning = gpu_build_problem(llm.n_gpu_layers, "n_gpu_layers" in llm.model_fields_set, supports_offload)
    return ModelStatus(
        model_file.name, str(model_file.path), True, None, model_file.is_demo,
        supports_offload and llm.n_gpu_layers != 0, warning, verdict,
    )
