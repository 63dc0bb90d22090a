"""The sample course that `make run` ingests: every file loads, and questions land on their section."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.chunker import ChunkingPolicy
from ingest.pipeline import IngestPipeline
from models import Course
from rag.embedder import SentenceTransformerEmbedder
from rag.index import MilvusIndex
from rag.retriever import HybridRetriever
from tests.conftest import EXAMPLE_COURSE, catalog_in

QUESTIONS = [
    ("what does break do in a loop?", "02-control-flow.md", "stopping-a-loop-early-break-and-continue", None),
    ("why does my function keep the items from the last time I called it", "03-functions.md", "the-mutable-default-trap", None),
    ("7 / 2 gives 3.5 but I want 3", "01-getting-started.md", "division---and-", None),
    ("how do I make an empty set", "04-data-structures.html", "sets", None),
    ("if I open a file with mode w is the old content gone?", "05-errors-and-files.pdf", None, 4),
    ("how do I catch the error when int() gets letters", "05-errors-and-files.pdf", None, 2),
    ("input() gives me a string but I need a number", "01-getting-started.md", "reading-with-input", None),
    ("TypeError unhashable type list when using a list as dictionary key", "04-data-structures.html", "hashable-keys", None),
    ("UnicodeDecodeError when opening a file", "05-errors-and-files.pdf", None, 6),
]


@pytest.fixture(scope="module")
def retriever(tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder):
    data = tmp_path_factory.mktemp("example")
    index = MilvusIndex(str(data / "milvus.db"))
    report = IngestPipeline(index, embedder, catalog_in(data), ChunkingPolicy()).ingest(
        Course(name="cs101", sources=(EXAMPLE_COURSE,), base_url="https://cs101.example.edu/notes")
    )
    assert report.failed == [] and len(report.added) == 5
    yield HybridRetriever(index, embedder)
    index.close()


@pytest.mark.parametrize(("question", "source", "anchor", "page"), QUESTIONS)
def test_a_students_question_lands_on_the_section_that_answers_it(
    retriever: HybridRetriever, question: str, source: str, anchor: str | None, page: int | None
) -> None:
    top = retriever.search("cs101", question, k=3).hits
    assert (top[0].source, top[0].locator.anchor, top[0].locator.page) == (source, anchor, page)
    fragment = f"page={page}" if page else anchor
    assert top[0].url == f"https://cs101.example.edu/notes/{source}#{fragment}"


def test_the_sample_course_is_small_and_has_every_promised_format() -> None:
    files = sorted(p.name for p in EXAMPLE_COURSE.iterdir())
    assert {Path(f).suffix for f in files} == {".md", ".html", ".pdf"}
    assert sum(p.stat().st_size for p in EXAMPLE_COURSE.iterdir()) < 300_000
