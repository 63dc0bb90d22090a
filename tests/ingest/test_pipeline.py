"""Incremental ingest with the real loaders, the real MiniLM and Milvus Lite."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from docx import Document
from pptx import Presentation
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from ingest.chunker import ChunkingPolicy
from ingest.errors import ExcludeRulesError, SourceFolderError
from ingest.pipeline import IngestPipeline
from models import Course
from rag.embedder import SentenceTransformerEmbedder
from rag.index import MilvusIndex
from tests.conftest import catalog_in

PAGES = [
    "Reading a traceback. The last line names the exception type and its message.",
    "Opening a file with mode w truncates it: everything that was in it is gone.",
    "Use pathlib.Path to join folder names instead of gluing strings together.",
]


class CountingEmbedder:
    """The real embedder, counting what it is asked to embed."""

    def __init__(self, inner: SentenceTransformerEmbedder) -> None:
        self.inner = inner
        self.embedded: list[str] = []

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    @property
    def max_tokens(self) -> int:
        return self.inner.max_tokens

    def fingerprint(self) -> str:
        return self.inner.fingerprint()

    def count_tokens(self, texts: list[str]) -> list[int]:
        return self.inner.count_tokens(texts)

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return self.inner.token_spans(text)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.embedded += texts
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


def write_pdf(path: Path, pages: list[str]) -> None:
    pdf = canvas.Canvas(str(path), pagesize=A4)
    pdf.setTitle("Lecture 5: Errors and files")
    for text in pages:
        pdf.drawString(72, 760, text)
        pdf.showPage()
    pdf.save()


@pytest.fixture
def course_dir(tmp_path: Path) -> Path:
    root = tmp_path / "materials"
    (root / "week2").mkdir(parents=True)
    (root / "week2" / "loops.md").write_text(
        "# Loops\n\n## Break\n\nThe break statement stops the innermost loop early.\n\n"
        "## Continue\n\nThe continue statement skips to the next iteration.\n",
        encoding="utf-8",
    )
    (root / "syllabus.txt").write_text("Office hours are on Tuesdays at 3 pm in room 204.\n", encoding="utf-8")
    write_pdf(root / "errors.pdf", PAGES)
    (root / "diagram.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    return root


@pytest.fixture
def pipeline(tmp_path: Path, lite_index: MilvusIndex, embedder: SentenceTransformerEmbedder) -> IngestPipeline:
    return IngestPipeline(lite_index, CountingEmbedder(embedder), catalog_in(tmp_path), ChunkingPolicy())


def course(root: Path) -> Course:
    return Course(name="cs101", sources=(root,), base_url="https://cs101.example.edu/notes")


def top_hit(pipeline: IngestPipeline, query: str):
    hits = pipeline.index.search("cs101", query, pipeline.embedder.embed_query(query), k=1)
    return hits[0] if hits else None


def test_a_full_ingest_indexes_every_readable_file_with_its_links(pipeline: IngestPipeline, course_dir: Path) -> None:
    report = pipeline.ingest(course(course_dir))
    assert sorted(report.added) == ["errors.pdf", "syllabus.txt", "week2/loops.md"]
    assert report.skipped == ["diagram.png"]
    assert report.failed == []
    assert report.chunks_written == pipeline.index.count_chunks("cs101") == 6
    hit = top_hit(pipeline, "what happens to my file when I open it for writing?")
    assert (hit.source, hit.locator.page, hit.url) == ("errors.pdf", 2, "https://cs101.example.edu/notes/errors.pdf#page=2")
    hit = top_hit(pipeline, "how do I get out of a loop before it ends")
    assert (hit.locator.anchor, hit.url) == ("break", "https://cs101.example.edu/notes/week2/loops.md#break")


def test_nothing_changed_means_nothing_parsed_or_embedded(
    pipeline: IngestPipeline, course_dir: Path, lite_index: MilvusIndex, tmp_path: Path
) -> None:
    pipeline.ingest(course(course_dir))
    cold = SentenceTransformerEmbedder()
    again = IngestPipeline(lite_index, cold, catalog_in(tmp_path), ChunkingPolicy()).ingest(course(course_dir))
    assert sorted(again.unchanged) == ["errors.pdf", "syllabus.txt", "week2/loops.md"]
    assert again.added == again.changed == again.removed == [] and again.chunks_written == 0
    assert cold._model is None, "an unchanged course never even loads the embedding model"


def test_an_edited_file_alone_is_embedded_again(pipeline: IngestPipeline, course_dir: Path) -> None:
    pipeline.ingest(course(course_dir))
    pipeline.embedder.embedded.clear()
    (course_dir / "syllabus.txt").write_text("Office hours moved to Thursdays at 10 am in room 118.\n", encoding="utf-8")
    report = pipeline.ingest(course(course_dir))
    assert report.changed == ["syllabus.txt"] and len(report.unchanged) == 2
    assert len(pipeline.embedder.embedded) == 1 and "Thursdays" in pipeline.embedder.embedded[0]
    assert pipeline.index.count_chunks("cs101") == 6
    assert "Thursdays" in top_hit(pipeline, "when are office hours?").text


def test_a_deleted_file_disappears_from_the_index(pipeline: IngestPipeline, course_dir: Path) -> None:
    pipeline.ingest(course(course_dir))
    (course_dir / "errors.pdf").unlink()
    report = pipeline.ingest(course(course_dir))
    assert report.removed == ["errors.pdf"] and report.chunks_removed == 3
    assert pipeline.index.count_chunks("cs101") == 3
    assert "errors.pdf" not in pipeline.manifest.files(live(pipeline))


def test_a_corrupted_file_keeps_its_old_chunks_and_is_retried(pipeline: IngestPipeline, course_dir: Path) -> None:
    pipeline.ingest(course(course_dir))
    good_hash = pipeline.manifest.files(live(pipeline))["errors.pdf"].sha256
    (course_dir / "errors.pdf").write_bytes(b"%PDF-1.4\n" + b"garbage" * 50)
    report = pipeline.ingest(course(course_dir))
    assert [f.source for f in report.failed] == ["errors.pdf"]
    assert "PDF" in report.failed[0].reason
    assert pipeline.index.count_chunks("cs101") == 6
    assert top_hit(pipeline, "open a file for writing").source == "errors.pdf"
    assert pipeline.manifest.files(live(pipeline))["errors.pdf"].sha256 == good_hash
    assert [f.source for f in pipeline.ingest(course(course_dir)).failed] == ["errors.pdf"], "tried again next time"


def test_bad_files_are_reported_and_the_good_ones_still_land(pipeline: IngestPipeline, course_dir: Path) -> None:
    (course_dir / "empty.md").write_text("")
    (course_dir / "binary.txt").write_bytes(b"\x00\x01\x02 not text")
    (course_dir / "latin1.txt").write_bytes("caf\xe9 au lait".encode("latin-1"))
    report = pipeline.ingest(course(course_dir))
    reasons = {f.source: f.reason for f in report.failed}
    assert set(reasons) == {"empty.md", "binary.txt", "latin1.txt"}
    assert "empty" in reasons["empty.md"]
    assert "binary" in reasons["binary.txt"]
    assert "UTF-8" in reasons["latin1.txt"]
    assert len(report.added) == 3


def test_a_scanned_pdf_is_a_failure_that_asks_for_ocr_and_indexes_nothing(pipeline: IngestPipeline, course_dir: Path) -> None:
    scan = canvas.Canvas(str(course_dir / "scan.pdf"), pagesize=A4)
    scan.rect(72, 72, 400, 600, fill=1)
    scan.showPage()
    scan.save()
    report = pipeline.ingest(course(course_dir))
    assert [(f.source, "needs OCR: no text layer" in f.reason) for f in report.failed] == [("scan.pdf", True)]
    assert "scan.pdf" not in report.added and len(report.added) == 3


def with_broken_xml(good: Path, bad: Path, member: str) -> None:
    """A copy of a real Office file whose `member` is XML that no parser accepts."""
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(bad, "w") as target:
        for item in source.infolist():
            target.writestr(item, b"<w:document><unclosed" if item.filename == member else source.read(item.filename))
    good.unlink()


def test_a_file_that_breaks_its_parser_is_reported_and_the_ingest_goes_on(pipeline: IngestPipeline, course_dir: Path) -> None:
    (course_dir / "cells.ipynb").write_text(json.dumps({"cells": [1, 2], "nbformat": 4}))
    word = Document()
    word.add_paragraph("Lab 3 asks you to read a file line by line.")
    word.save(course_dir / "good.docx")
    with_broken_xml(course_dir / "good.docx", course_dir / "lab3.docx", "word/document.xml")
    deck = Presentation()
    deck.slides.add_slide(deck.slide_layouts[5]).shapes.title.text = "Exceptions"
    deck.save(course_dir / "good.pptx")
    with_broken_xml(course_dir / "good.pptx", course_dir / "slides.pptx", "ppt/slides/slide1.xml")
    report = pipeline.ingest(course(course_dir))
    reasons = {f.source: f.reason for f in report.failed}
    assert set(reasons) == {"cells.ipynb", "lab3.docx", "slides.pptx"}
    assert "AttributeError" in reasons["cells.ipynb"] and "XMLSyntaxError" in reasons["lab3.docx"]
    assert sorted(report.added) == ["errors.pdf", "syllabus.txt", "week2/loops.md"]
    assert pipeline.index.count_chunks("cs101") == 6


def test_a_missing_source_folder_is_a_clear_error(pipeline: IngestPipeline, tmp_path: Path) -> None:
    with pytest.raises(SourceFolderError, match="Source folder not found: .*nowhere"):
        pipeline.ingest(course(tmp_path / "nowhere"))


def test_changing_the_chunking_rebuilds_the_index(pipeline: IngestPipeline, course_dir: Path) -> None:
    pipeline.ingest(course(course_dir))
    smaller = IngestPipeline(pipeline.index, pipeline.embedder, pipeline.manifest, ChunkingPolicy(size=64, overlap=8))
    report = smaller.ingest(course(course_dir))
    assert len(report.added) == 3 and report.unchanged == []
    assert pipeline.index.count_chunks("cs101") == report.chunks_written


def test_a_rebuild_keeps_the_chunks_of_a_file_it_cannot_read(pipeline: IngestPipeline, course_dir: Path) -> None:
    pipeline.ingest(course(course_dir))
    old = live(pipeline)
    good = pipeline.manifest.files(old)["errors.pdf"]
    (course_dir / "errors.pdf").write_bytes(b"%PDF-1.4\n" + b"garbage" * 50)
    smaller = IngestPipeline(pipeline.index, pipeline.embedder, pipeline.manifest, ChunkingPolicy(size=64, overlap=8))
    report = smaller.ingest(course(course_dir))
    assert report.rebuilt and live(pipeline) != old
    assert [f.source for f in report.failed] == ["errors.pdf"] and "PDF" in report.failed[0].reason
    hit = top_hit(pipeline, "what happens to my file when I open it for writing?")
    assert (hit.source, hit.locator.page, hit.url) == ("errors.pdf", 2, "https://cs101.example.edu/notes/errors.pdf#page=2")
    assert pipeline.manifest.files(live(pipeline))["errors.pdf"] == good, "the old entry came along: the file is retried"
    assert pipeline.index.count_chunks("cs101") == report.chunks_written + good.chunks
    write_pdf(course_dir / "errors.pdf", PAGES[:1])
    mended = smaller.ingest(course(course_dir))
    assert mended.changed == ["errors.pdf"] and mended.failed == []
    assert pipeline.index.count_chunks("cs101") == report.chunks_written + 1, "the carried chunks gave way to the mended file's"


def test_excluded_files_are_never_ingested_and_leave_once_excluded(pipeline: IngestPipeline, course_dir: Path) -> None:
    (course_dir / "solutions").mkdir()
    (course_dir / "solutions" / "lab1.md").write_text("# Lab 1\n\nThe answer is a while loop.\n")
    (course_dir / "week2" / "loops-solution.md").write_text("# Loops solution\n\nUse break.\n")
    (course_dir / "drafts.md").write_text("# Draft\n\nNot for students yet.\n")
    (course_dir / ".mentorignore").write_text("# unfinished\ndrafts.md\n")
    excluding = Course(name="cs101", sources=(course_dir,), exclude=("solutions/**", "*-solution.*"))
    report = pipeline.ingest(excluding)
    assert sorted(report.added) == ["errors.pdf", "syllabus.txt", "week2/loops.md"] and report.failed == []
    (course_dir / ".mentorignore").write_text("drafts.md\nsyllabus.txt\n")
    again = pipeline.ingest(excluding)
    assert again.removed == ["syllabus.txt"] and "syllabus.txt" not in pipeline.manifest.files(live(pipeline))
    assert top_hit(pipeline, "when are office hours?").source != "syllabus.txt"


def test_a_broken_mentorignore_stops_the_ingest_with_its_name_and_keeps_the_index(pipeline: IngestPipeline, course_dir: Path) -> None:
    pipeline.ingest(course(course_dir))
    (course_dir / ".mentorignore").write_text("solutions/\nlab[1.md\n")
    with pytest.raises(ExcludeRulesError, match=r"\.mentorignore, line 2: '\[' in 'lab\[1\.md' is never closed"):
        pipeline.ingest(course(course_dir))
    assert pipeline.index.count_chunks("cs101") == 6


def live(pipeline: IngestPipeline) -> str:
    generation = pipeline.index.live_generation("cs101")
    assert generation is not None
    return generation
