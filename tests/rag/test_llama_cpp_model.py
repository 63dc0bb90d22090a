"""In-process llama.cpp with the packaged SmolLM2: real generation, streaming, and bad model files."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from rag.errors import ModelFileError
from rag.llama_cpp_model import LlamaCppModel
from rag.llm import ChatMessage, GenerationSettings, fold_system_prompt

GREEDY = GenerationSettings(max_tokens=24, temperature=0.0, seed=7)
MESSAGES: list[ChatMessage] = [
    {"role": "system", "content": "You are a helpful teaching assistant. Answer in one sentence."},
    {"role": "user", "content": "What does the break statement do in a Python loop?"},
]


def test_generation_streams_the_text_it_returns(smollm2: LlamaCppModel) -> None:
    pieces: list[str] = []
    generation = smollm2.generate(MESSAGES, GREEDY, pieces.append)
    assert generation.text.strip()
    assert "".join(pieces) == generation.text
    assert len(pieces) > 1
    assert generation.first_token_s is not None and generation.first_token_s <= generation.seconds
    assert 0 < (generation.completion_tokens or 0) <= GREEDY.max_tokens + 1


def test_temperature_zero_and_a_seed_give_the_same_answer_twice(smollm2: LlamaCppModel) -> None:
    assert smollm2.generate(MESSAGES, GREEDY).text == smollm2.generate(MESSAGES, GREEDY).text


def test_calls_from_several_threads_take_turns_instead_of_crashing(smollm2: LlamaCppModel) -> None:
    results: list[str] = []
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            results.append(smollm2.generate(MESSAGES, GenerationSettings(max_tokens=8, temperature=0.0)).text)
        except BaseException as exc:  # noqa: BLE001 - the test reports whatever a thread hit
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert len(results) == 3 and len(set(results)) == 1


def test_tokens_are_counted_with_the_models_own_vocabulary(smollm2: LlamaCppModel) -> None:
    text = "Use a set to drop duplicates from a list."
    assert smollm2.count_tokens(text) == len(smollm2.llama.tokenize(text.encode(), add_bos=False, special=False))
    assert smollm2.count_tokens(text * 10) > 5 * smollm2.count_tokens(text)


def test_smollm2s_template_has_a_system_role(smollm2: LlamaCppModel) -> None:
    assert smollm2.supports_system_role


def test_a_template_without_a_system_role_gets_it_folded_into_the_first_user_turn() -> None:
    folded = fold_system_prompt(
        [
            {"role": "system", "content": "Policy."},
            {"role": "assistant", "content": "Earlier answer."},
            {"role": "user", "content": "Follow-up one."},
            {"role": "user", "content": "Follow-up two."},
        ]
    )
    assert [m["role"] for m in folded] == ["user", "assistant", "user"]
    assert folded[0]["content"].startswith("Policy.\n\n")
    assert folded[2]["content"] == "Follow-up one.\n\nFollow-up two."


def test_a_missing_model_file_names_the_path_and_the_fix(tmp_path: Path) -> None:
    model = LlamaCppModel(tmp_path / "mistral.gguf", fix_hint="Fetch it with: mentor models download mistral-7b-instruct")
    with pytest.raises(ModelFileError, match=r"mistral\.gguf does not exist.*mentor models download mistral-7b-instruct"):
        model.load()


def test_a_file_that_is_not_gguf_is_refused_before_llama_cpp_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "model.gguf"
    path.write_text("<html>Not Found</html>")
    with pytest.raises(ModelFileError, match="not a GGUF model file"):
        LlamaCppModel(path).load()


def test_a_truncated_gguf_is_refused_with_the_fix(smollm2: LlamaCppModel, tmp_path: Path) -> None:
    path = tmp_path / "truncated.gguf"
    with smollm2.path.open("rb") as source:
        path.write_bytes(source.read(200_000))
    model = LlamaCppModel(path, fix_hint="Fetch it again.")
    with pytest.raises(ModelFileError, match=r"could not load .*truncated\.gguf.*Fetch it again\."):
        model.load()


def test_a_model_bigger_than_free_memory_is_refused_on_the_cpu(tmp_path: Path) -> None:
    path = tmp_path / "huge.gguf"
    with path.open("wb") as handle:
        handle.write(b"GGUF")
        try:
            handle.truncate(1 << 42)  # sparse: 4 TiB on paper, four bytes on disk
        except OSError as exc:
            pytest.skip(f"this filesystem cannot hold a sparse file that large ({exc})")
    with pytest.raises(ModelFileError, match=r"needs about .* GiB of memory but only .* GiB is available"):
        LlamaCppModel(path, n_gpu_layers=0).load()
