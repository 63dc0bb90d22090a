"""The answerer on the sample course with the real SmolLM2: cited answers, honest refusals, fallbacks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.chunker import ChunkingPolicy
from ingest.pipeline import IngestPipeline
from models import Course, Question, Turn
from rag.answerer import NOT_COVERED, RETRIEVAL_ONLY, Answerer, AnswerPolicy
from rag.embedder import SentenceTransformerEmbedder
from rag.errors import EmptyQueryError, QuestionTooLongError
from rag.index import MilvusIndex
from rag.llama_cpp_model import LlamaCppModel
from rag.llm import ChatMessage, Generation, GenerationSettings, LanguageModel, TokenCallback
from rag.retriever import HybridRetriever
from tests.conftest import EXAMPLE_COURSE, catalog_in

COURSE = Course(name="cs101", sources=(EXAMPLE_COURSE,), base_url="https://cs101.example.edu/notes")
GREEDY = GenerationSettings(max_tokens=64, temperature=0.0, seed=1)


class CountingFactory:
    """Hands out the model and counts how often the answerer asked for it."""

    def __init__(self, model: LanguageModel) -> None:
        self.model = model
        self.calls = 0

    def __call__(self) -> LanguageModel:
        self.calls += 1
        return self.model


@pytest.fixture(scope="module")
def retriever(tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder) -> Iterator[HybridRetriever]:
    data = tmp_path_factory.mktemp("answers")
    index = MilvusIndex(str(data / "milvus.db"))
    report = IngestPipeline(index, embedder, catalog_in(data), ChunkingPolicy()).ingest(COURSE)
    assert not report.failed
    yield HybridRetriever(index, embedder)
    index.close()


def test_a_covered_question_gets_an_answer_citing_the_pages_it_was_given(
    retriever: HybridRetriever, smollm2: LlamaCppModel
) -> None:
    streamed: list[str] = []
    answer = Answerer(retriever, CountingFactory(smollm2), GREEDY).answer(
        Question(text="How do I stop a loop early?"), COURSE, streamed.append
    )
    assert answer.kind == "answer" and answer.grounded
    assert answer.text.strip() and answer.model == smollm2.name
    assert answer.citations, "every answer carries a source"
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    assert any(c.source == "02-control-flow.md" for c in answer.citations)
    assert all(c.url and c.url.startswith("https://cs101.example.edu/notes/") for c in answer.citations)
    assert streamed and answer.text.startswith(streamed[-1].rstrip())
    assert answer.timings.retrieve_ms > 0 and answer.timings.generate_ms > 0
    assert answer.timings.first_token_ms is not None


def test_a_question_the_course_does_not_cover_never_reaches_the_model(
    retriever: HybridRetriever, smollm2: LlamaCppModel
) -> None:
    factory = CountingFactory(smollm2)
    answer = Answerer(retriever, factory, GREEDY).answer(Question(text="When is the midterm and is it open book?"), COURSE)
    assert factory.calls == 0
    assert (answer.kind, answer.grounded, answer.text, answer.citations) == ("not_covered", False, NOT_COVERED, [])
    assert answer.model is None


def test_a_model_that_cannot_load_leaves_the_best_passages_with_their_links(
    retriever: HybridRetriever, tmp_path: Path
) -> None:
    missing = LlamaCppModel(tmp_path / "mistral.gguf", fix_hint="Fetch it with: mentor models download mistral-7b-instruct")
    answer = Answerer(retriever, lambda: missing, GREEDY).answer(Question(text="how do I make an empty set"), COURSE)
    assert answer.kind == "retrieval_only" and answer.grounded and answer.model is None
    assert answer.text.startswith(RETRIEVAL_ONLY)
    assert answer.citations[0].url == "https://cs101.example.edu/notes/04-data-structures.html#sets"
    assert len(answer.citations) == AnswerPolicy().passages_when_offline
    assert "[1] " in answer.text and "[3] " in answer.text
    assert answer.notice and "mistral.gguf does not exist" in answer.notice and "mentor models download" in answer.notice


def test_a_long_thread_is_trimmed_not_refused(retriever: HybridRetriever, smollm2: LlamaCppModel) -> None:
    history = tuple(
        Turn(role="user" if i % 2 == 0 else "assistant", text=f"message {i} about loops and lists " * 60) for i in range(40)
    )
    answer = Answerer(retriever, CountingFactory(smollm2), GenerationSettings(max_tokens=16, temperature=0.0)).answer(
        Question(text="so what does continue do?", history=history), COURSE
    )
    assert answer.kind == "answer" and answer.citations


def test_empty_and_over_long_questions_are_refused_with_the_limit(retriever: HybridRetriever, smollm2: LlamaCppModel) -> None:
    answerer = Answerer(retriever, CountingFactory(smollm2), GREEDY)
    with pytest.raises(EmptyQueryError):
        answerer.answer(Question(text=" \n\t "), COURSE)
    with pytest.raises(QuestionTooLongError, match="4,000"):
        answerer.answer(Question(text="why " * 1001), COURSE)


class PromptRecorder:
    """The real SmolLM2, keeping each prompt it was given."""

    def __init__(self, model: LlamaCppModel) -> None:
        self.model = model
        self.prompts: list[list[ChatMessage]] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self.model, name)

    def generate(self, messages: list[ChatMessage], settings: GenerationSettings, on_token: TokenCallback | None = None) -> Generation:
        self.prompts.append(list(messages))
        return self.model.generate(messages, settings, on_token)


THREAD = (Turn(role="user", text="what is a for loop in python?"), Turn(role="assistant", text="It repeats code for each item."))


@pytest.mark.parametrize(("turns", "kept"), [(0, 0), (1, 1), (10, 2)])
def test_history_turns_keeps_exactly_that_many_turns(
    retriever: HybridRetriever, smollm2: LlamaCppModel, turns: int, kept: int
) -> None:
    recorder = PromptRecorder(smollm2)
    answerer = Answerer(retriever, lambda: recorder, GenerationSettings(max_tokens=4, temperature=0.0), AnswerPolicy(max_history_turns=turns))
    answerer.answer(Question(text="so how do I stop a loop early?", history=THREAD), COURSE)
    (messages,) = recorder.prompts
    assert [m["content"] for m in messages[1:-1]] == [turn.text for turn in THREAD[len(THREAD) - kept:]]


def test_pasted_code_keeps_its_newlines_and_indentation(retriever: HybridRetriever, smollm2: LlamaCppModel) -> None:
    code = "Why does my loop never stop?\r\n\r\n    while True:\n        if done:  \n            continue\n"
    recorder = PromptRecorder(smollm2)
    answerer = Answerer(retriever, lambda: recorder, GenerationSettings(max_tokens=4, temperature=0.0))
    assert answerer.check(Question(text=f"  {code}  ")) == "Why does my loop never stop?\n\n    while True:\n        if done:\n            continue"
    answerer.answer(Question(text=code), COURSE)
    (messages,) = recorder.prompts
    assert "    while True:\n        if done:\n            continue" in messages[-1]["content"]
    with pytest.raises(QuestionTooLongError):
        answerer.check(Question(text="x\n" * 2001))


def test_quote_mode_answers_in_the_courses_own_words_without_the_model(retriever: HybridRetriever, smollm2: LlamaCppModel) -> None:
    factory = CountingFactory(smollm2)
    answerer = Answerer(retriever, factory, GREEDY)
    answer = answerer.answer(Question(text="What is the difference between a list and a tuple?"), COURSE, mode="quote")
    assert factory.calls == 0 and answer.model is None
    assert (answer.kind, answer.grounded, answer.notice) == ("quote", True, None)
    assert answer.text.startswith("The course materials say:\n\n\u201cThe difference between a list and a tuple is mutability")
    first = answer.citations[0]
    assert first.source == "04-data-structures.html" and first.anchor == "list-or-tuple" and not first.see_also
    assert first.url and first.url.startswith(COURSE.base_url + "/04-data-structures.html#list-or-tuple:~:text=The%20difference")
    assert all(quote in (citation.excerpt or "") for citation in answer.citations for quote in citation.quotes)
    assert answer.timings.generate_ms > 0 and answer.timings.first_token_ms is None
    declined = answerer.answer(Question(text="When is the midterm and is it open book?"), COURSE, mode="quote")
    assert (declined.kind, declined.text) == ("not_covered", NOT_COVERED), "the same honest decline"


def test_auto_quotes_for_a_weak_model_and_when_the_model_fails(retriever: HybridRetriever, smollm2: LlamaCppModel, tmp_path: Path) -> None:
    demo = CountingFactory(smollm2)
    quoted = Answerer(retriever, demo, GREEDY, demo_model=True).answer(Question(text="How do I stop a loop early?"), COURSE, mode="auto")
    assert (quoted.kind, quoted.notice, demo.calls) == ("quote", None, 0)
    strong = Answerer(retriever, demo, GREEDY).answer(Question(text="How do I stop a loop early?"), COURSE, mode="auto")
    assert strong.kind == "answer" and demo.calls == 1
    missing = LlamaCppModel(tmp_path / "mistral.gguf")
    failed = Answerer(retriever, lambda: missing, GREEDY).answer(Question(text="How do I stop a loop early?"), COURSE, mode="auto")
    assert failed.kind == "quote" and failed.notice and "mistral.gguf does not exist" in failed.notice
