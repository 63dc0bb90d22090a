"""Fitting the prompt into the context window, counted with SmolLM2's own tokenizer."""

from __future__ import annotations

from models import Locator, SearchHit, Turn
from rag.llama_cpp_model import LlamaCppModel
from rag.prompt import DEFAULT_POLICY, build_prompt

PARAGRAPH = (
    "A for loop walks over the items of a sequence in order. The break statement leaves the innermost loop at "
    "once, and continue skips to the next item. An else clause after a loop runs only when no break happened. "
)


def hits(n: int, words: int = 150) -> list[SearchHit]:
    body = " ".join((PARAGRAPH * 20).split()[:words])
    return [
        SearchHit(
            source=f"week{i}.pdf", title=f"Week {i}", headings=("Loops",), locator=Locator(page=i), score=1 - i / 100,
            text=f"({i}) {body}",
        )
        for i in range(1, n + 1)
    ]


def total_tokens(model: LlamaCppModel, messages: list) -> int:
    return sum(model.count_tokens(m["content"]) for m in messages)


def test_everything_fits_when_there_is_room(smollm2: LlamaCppModel) -> None:
    history = [Turn(role="user", text="What is a loop?"), Turn(role="assistant", text="A loop repeats code [1].")]
    prompt = build_prompt(
        "How do I stop one early?", hits(3, 40), history,
        count_tokens=smollm2.count_tokens, context_window=2048, answer_tokens=256,
    )
    assert [m["role"] for m in prompt.messages] == ["system", "user", "assistant", "user"]
    assert DEFAULT_POLICY in prompt.messages[0]["content"]
    last = prompt.messages[-1]["content"]
    assert "[1] Week 1 › Loops (p. 1)" in last and "[3] Week 3 › Loops (p. 3)" in last
    assert last.endswith("Question: How do I stop one early?")
    assert len(prompt.sources) == 3 and prompt.history_used == 2


def test_a_course_policy_replaces_the_default(smollm2: LlamaCppModel) -> None:
    prompt = build_prompt(
        "q", hits(1, 10), [], count_tokens=smollm2.count_tokens, context_window=2048, answer_tokens=256,
        policy="You are the CS101 mentor. Never write code for labs.",
    )
    assert prompt.messages[0]["content"].startswith("You are the CS101 mentor.")
    assert DEFAULT_POLICY not in prompt.messages[0]["content"]


def test_the_oldest_turns_go_first_then_the_weakest_sources(smollm2: LlamaCppModel) -> None:
    history = [Turn(role="user" if i % 2 == 0 else "assistant", text=f"turn {i}: " + PARAGRAPH * 3) for i in range(30)]
    prompt = build_prompt(
        "And what about while loops?", hits(5), history,
        count_tokens=smollm2.count_tokens, context_window=1024, answer_tokens=256,
    )
    assert total_tokens(smollm2, prompt.messages) <= 1024 - 256
    assert prompt.history_used == 0
    assert 1 <= len(prompt.sources) < 5
    assert [hit.source for hit in prompt.sources] == [f"week{i}.pdf" for i in range(1, len(prompt.sources) + 1)]


def test_some_history_survives_when_only_part_of_it_fits(smollm2: LlamaCppModel) -> None:
    history = [Turn(role="user" if i % 2 == 0 else "assistant", text=f"turn {i}: " + PARAGRAPH) for i in range(12)]
    prompt = build_prompt(
        "And while loops?", hits(2, 60), history, count_tokens=smollm2.count_tokens, context_window=1200, answer_tokens=256,
    )
    assert 0 < prompt.history_used < 12
    kept = [m["content"] for m in prompt.messages[1:-1]]
    assert kept[-1].startswith("turn 11:")
    assert len(prompt.sources) == 2
    assert total_tokens(smollm2, prompt.messages) <= 1200 - 256


def test_one_huge_source_is_cut_to_fit_rather_than_dropped(smollm2: LlamaCppModel) -> None:
    prompt = build_prompt(
        "What does break do?", hits(1, 3000), [], count_tokens=smollm2.count_tokens, context_window=768, answer_tokens=256,
    )
    assert len(prompt.sources) == 1
    assert prompt.messages[-1]["content"].count("…") == 1
    assert total_tokens(smollm2, prompt.messages) <= 768 - 256


def test_a_question_longer_than_the_window_is_cut_and_nothing_raises(smollm2: LlamaCppModel) -> None:
    question = "Why does this fail? " + "x = [1, 2, 3] " * 400
    prompt = build_prompt(
        question, hits(3), [Turn(role="user", text="hi")], count_tokens=smollm2.count_tokens, context_window=600,
        answer_tokens=256,
    )
    assert total_tokens(smollm2, prompt.messages) <= 600 - 256
    assert prompt.sources == [] and prompt.history_used == 0
    assert "Question: Why does this fail?" in prompt.messages[-1]["content"]
