"""Quote mode on awkward course material, end to end through the real index and MiniLM."""

from __future__ import annotations

from pathlib import Path

from ingest.chunker import ChunkingPolicy
from ingest.pipeline import IngestPipeline
from models import Course, Question
from rag.answerer import PASSAGES_LEAD, Answerer
from rag.embedder import SentenceTransformerEmbedder
from rag.index import MilvusIndex
from rag.retriever import HybridRetriever
from tests.conftest import catalog_in


def answer(tmp_path: Path, embedder: SentenceTransformerEmbedder, files: dict[str, str], question: str):
    (tmp_path / "course").mkdir()
    for name, text in files.items():
        (tmp_path / "course" / name).write_text(text, encoding="utf-8")
    course = Course(name="cs101", sources=(tmp_path / "course",))
    index = MilvusIndex(str(tmp_path / "milvus.db"))
    try:
        assert not IngestPipeline(index, embedder, catalog_in(tmp_path), ChunkingPolicy()).ingest(course).failed
        no_model = lambda: None  # noqa: E731 - quote mode never asks for the model
        return Answerer(HybridRetriever(index, embedder), no_model).answer(Question(text=question), course, mode="quote")  # type: ignore[arg-type,return-value]
    finally:
        index.close()


def test_a_slide_of_bullet_fragments_gives_its_passage_not_a_broken_quote(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> None:
    slides = "# Week 3\n\n## Lists\n\n- mutable\n- ordered\n- any items\n\n## Tuples\n\n- immutable\n- hashable\n"
    answered = answer(tmp_path, embedder, {"slides.md": slides}, "are python lists mutable or immutable?")
    assert answered.kind == "quote", "the same shape as any quote-mode answer"
    assert answered.text.startswith(PASSAGES_LEAD), "no fragment of under four words is quoted as if it answered, and nothing failed"
    assert answered.citations[0].source == "slides.md" and answered.citations[0].anchor == "lists"
    assert "“- mutable - ordered - any items”" in answered.text, "the slide itself, to read"


def test_material_in_another_language_than_the_question_is_declined_not_misquoted(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> None:
    german = (
        "# Schleifen\n\n## Schleifen vorzeitig beenden\n\n"
        "Die Anweisung break beendet die innerste Schleife sofort. Mit continue springt man zum nächsten Durchlauf.\n"
    )
    answered = answer(tmp_path, embedder, {"schleifen.md": german}, "How do I make a loop stop early?")
    assert answered.kind == "not_covered", "the grounding check finds none of the question's words, so the honest decline"
