"""A PDF's structure used the way HTML headings are (issue 16): outline paths, larger-font
headings where there is no outline, printed page labels, and no empty pages."""

from __future__ import annotations

from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter
from pypdf.generic import DictionaryObject, NameObject
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from ingest.errors import UnreadableFileError
from ingest.loaders import load_document
from models import SearchHit
from rag.citations import citation_for

PAGES = [
    "Processes\nA process is a running program.",
    "Signals\nA signal interrupts a process. SIGTERM asks it to stop.\nPipes\nA pipe joins the output of one process to the input of another.",
    "More about pipes: a full pipe blocks the writer until the reader catches up.",
]


def draw(path: Path, pages: list[list[tuple[str, int]]]) -> Path:
    """Each page a list of (line, font size); a size of 16 or more is set in bold."""
    pdf = canvas.Canvas(str(path), pagesize=A4)
    for lines in pages:
        y = 780
        for text, size in lines:
            pdf.setFont("Helvetica-Bold" if size >= 16 else "Helvetica", size)
            pdf.drawString(72, y, text)
            y -= size + 6
        pdf.showPage()
    pdf.save()
    return path


def plain(path: Path, pages: list[str]) -> Path:
    return draw(path, [[(line, 11) for line in page.split("\n")] for page in pages])


def with_outline(source: Path, target: Path, labels: bool = False, extra: int = 0) -> Path:
    """The manual's outline: chapter 3 on page 1, its sections on page 2; a bookmark to a missing page."""
    writer = PdfWriter(clone_from=source)
    chapter = writer.add_outline_item("3 Processes", 0)
    writer.add_outline_item("3.2 Signals", 1, parent=chapter)
    writer.add_outline_item("3.3 Pipes", 1, parent=chapter)
    ghost = writer._add_object(DictionaryObject({NameObject("/Type"): NameObject("/Page")}))
    writer.add_outline_item("Ghost chapter", ghost)
    writer.add_outline_item("Caf\u00e9 \x00\x07 \u00dcberblick\n", 2, parent=chapter)
    for n in range(extra):
        writer.add_outline_item(f"Entry {n}", n % 3, parent=chapter)
    if labels:
        writer.set_page_label(0, 0, "/r")
        writer.set_page_label(1, 2, "/D", start=23)
    writer.write(target)
    return target


def test_the_outline_gives_each_page_its_section_path(tmp_path: Path) -> None:
    doc = load_document(with_outline(plain(tmp_path / "raw.pdf", PAGES), tmp_path / "manual.pdf"), "manual.pdf")
    assert [(s.locator.page, s.headings, s.text.split("\n")[0]) for s in doc.sections] == [
        (1, ("3 Processes",), "Processes"),
        (2, ("3 Processes", "3.2 Signals"), "Signals"),
        (2, ("3 Processes", "3.3 Pipes"), "Pipes"),
        # The last page starts inside "3.3 Pipes"; its own bookmark's odd title is made one clean line.
        (3, ("3 Processes", "Caf\u00e9 \u00dcberblick"), "More about pipes: a full pipe blocks the writer until the reader catches up."),
    ]


def test_thousands_of_outline_entries_still_load(tmp_path: Path) -> None:
    doc = load_document(with_outline(plain(tmp_path / "raw.pdf", PAGES), tmp_path / "big.pdf", extra=3000), "big.pdf")
    assert {s.locator.page for s in doc.sections} == {1, 2, 3}
    assert all(s.headings[0] == "3 Processes" for s in doc.sections)


def test_without_an_outline_larger_lines_are_the_headings(tmp_path: Path) -> None:
    pdf = draw(
        tmp_path / "notes.pdf",
        [
            [("Processes", 20), ("A process is a running program with its own memory.", 11)],
            [("Signals", 16), ("A signal interrupts a process.", 11), ("Pipes", 16), ("A pipe joins two processes.", 11)],
        ],
    )
    doc = load_document(pdf, "notes.pdf")
    assert [(s.locator.page, s.headings) for s in doc.sections] == [
        (1, ("Processes",)),
        (2, ("Processes", "Signals")),
        (2, ("Processes", "Pipes")),
    ]


def test_printed_page_labels_are_cited_and_the_link_keeps_the_pdf_page(tmp_path: Path) -> None:
    doc = load_document(with_outline(plain(tmp_path / "raw.pdf", PAGES), tmp_path / "m.pdf", labels=True), "m.pdf")
    assert [(s.locator.page, s.locator.page_label) for s in doc.sections] == [(1, "i"), (2, "23"), (2, "23"), (3, "24")]
    section = doc.sections[1]
    hit = SearchHit(
        source="m.pdf", title=doc.title, headings=section.headings, locator=section.locator, url="https://x.edu/m.pdf#page=2",
        score=1.0, text=section.text,
    )
    citation = citation_for(1, hit)
    assert citation.label() == f"{doc.title} › 3.2 Signals, p. 23 (pdf p. 2)"
    assert citation.to_json()["page"] == 2 and citation.to_json()["page_label"] == "23"
    assert section.locator.fragment() == "page=2"


def test_a_pdf_without_page_labels_cites_plain_page_numbers(tmp_path: Path) -> None:
    doc = load_document(plain(tmp_path / "p.pdf", PAGES), "p.pdf")
    assert all(s.locator.page_label is None for s in doc.sections)
    assert doc.sections[0].locator.describe() == "p. 1"


def test_a_scanned_pdf_needs_ocr_and_its_blank_pages_are_never_indexed(tmp_path: Path) -> None:
    scan = canvas.Canvas(str(tmp_path / "scan.pdf"), pagesize=A4)
    for _ in range(2):
        scan.rect(72, 72, 400, 600, fill=1)
        scan.showPage()
    scan.save()
    with pytest.raises(UnreadableFileError, match="needs OCR: no text layer"):
        load_document(tmp_path / "scan.pdf", "scan.pdf")
    assert len(PdfReader(tmp_path / "scan.pdf").pages) == 2
