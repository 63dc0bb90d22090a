"""Loaders on files the tests make with the real libraries, and on the eval course's real pages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from docx import Document
from pptx import Presentation
from pptx.util import Inches
from pypdf import PdfReader, PdfWriter
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from ingest.errors import UnreadableFileError
from ingest.loaders import is_supported, load_document
from ingest.loaders.slugs import slugify
from tests.conftest import EVAL_COURSE


def make_pdf(path: Path, pages: list[str], title: str | None = "Lecture 5: Files") -> Path:
    pdf = canvas.Canvas(str(path), pagesize=A4)
    if title:
        pdf.setTitle(title)
    for text in pages:
        y = 780
        for line in text.split("\n"):
            pdf.drawString(72, y, line)
            y -= 14
        pdf.showPage()
    pdf.save()
    return path


def load(path: Path):
    return load_document(path, path.name)


def test_pdf_one_section_per_page_with_page_numbers(tmp_path: Path) -> None:
    doc = load(make_pdf(tmp_path / "files.pdf", ["Opening files.", "", "Mode w trun-\ncates the file."]))
    assert doc.kind == "pdf" and doc.title == "Lecture 5: Files"
    assert [(s.locator.page, s.text) for s in doc.sections] == [(1, "Opening files."), (3, "Mode w truncates the file.")]


def test_pdf_title_falls_back_to_the_file_name(tmp_path: Path) -> None:
    assert load(make_pdf(tmp_path / "week-3_errors.pdf", ["x"], title=None)).title == "week 3 errors"


def encrypt(source: Path, target: Path, password: str) -> Path:
    writer = PdfWriter(clone_from=PdfReader(source))
    writer.encrypt(user_password=password, owner_password="owner", algorithm="RC4-128")
    writer.write(target)
    return target


def test_a_password_protected_pdf_is_a_clear_error(tmp_path: Path) -> None:
    locked = encrypt(make_pdf(tmp_path / "plain.pdf", ["secret notes"]), tmp_path / "locked.pdf", "hunter2")
    with pytest.raises(UnreadableFileError, match="password-protected; save an unprotected copy"):
        load(locked)


def test_a_pdf_encrypted_without_a_user_password_still_loads(tmp_path: Path) -> None:
    opened = encrypt(make_pdf(tmp_path / "plain.pdf", ["open notes"]), tmp_path / "open.pdf", "")
    assert load(opened).sections[0].text == "open notes"


@pytest.mark.parametrize("content", [b"%PDF-1.7\n1 0 obj << /Type /Catalog", b"this is not a pdf", bytes(range(256)) * 4])
def test_a_corrupt_pdf_is_a_clear_error(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "broken.pdf").write_bytes(content)
    with pytest.raises(UnreadableFileError, match="not a readable PDF"):
        load(tmp_path / "broken.pdf")


def test_a_truncated_real_pdf_is_a_clear_error(tmp_path: Path) -> None:
    data = make_pdf(tmp_path / "whole.pdf", ["page one", "page two"]).read_bytes()
    (tmp_path / "cut.pdf").write_bytes(data[: len(data) // 3])
    with pytest.raises(UnreadableFileError):
        load(tmp_path / "cut.pdf")


def test_pptx_one_section_per_slide_with_notes_and_tables(tmp_path: Path) -> None:
    deck = Presentation()
    for title, body in [("Loops", "for and while"), ("Break", "leave a loop early"), ("Summary", "")]:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
    deck.slides[1].notes_slide.notes_text_frame.text = "Mention the else clause."
    table = deck.slides[2].shapes.add_table(2, 2, Inches(1), Inches(3), Inches(4), Inches(1)).table
    table.cell(0, 0).text, table.cell(0, 1).text = "keyword", "effect"
    table.cell(1, 0).text, table.cell(1, 1).text = "continue", "next round"
    deck.save(tmp_path / "week2.pptx")
    doc = load(tmp_path / "week2.pptx")
    assert doc.kind == "pptx" and doc.title == "Loops"
    assert [s.locator.page for s in doc.sections] == [1, 2, 3]
    assert doc.sections[1].headings == ("Break",)
    assert "leave a loop early" in doc.sections[1].text and "Notes: Mention the else clause." in doc.sections[1].text
    assert "continue | next round" in doc.sections[2].text


def test_docx_sections_by_heading_with_tables(tmp_path: Path) -> None:
    document = Document()
    document.core_properties.title = "Lab handbook"
    document.add_paragraph("Read this before the first lab.")
    document.add_heading("Setup", level=1)
    document.add_paragraph("Install Python 3.11.")
    document.add_heading("Virtual environments", level=2)
    document.add_paragraph("Create one per project.")
    table = document.add_table(rows=1, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "python -m venv .venv", "creates it"
    document.add_heading("Submitting", level=1)
    document.add_paragraph("Upload a zip.")
    document.save(tmp_path / "lab.docx")
    doc = load(tmp_path / "lab.docx")
    assert doc.title == "Lab handbook"
    assert [(s.locator.anchor, s.headings) for s in doc.sections] == [
        (None, ()),
        ("setup", ("Setup",)),
        ("virtual-environments", ("Setup", "Virtual environments")),
        ("submitting", ("Submitting",)),
    ]
    assert "python -m venv .venv | creates it" in doc.sections[2].text


@pytest.mark.parametrize(("suffix", "what"), [(".pptx", "PowerPoint"), (".docx", "Word")])
def test_an_office_file_that_is_not_one(tmp_path: Path, suffix: str, what: str) -> None:
    (tmp_path / f"fake{suffix}").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(UnreadableFileError, match=f"not a readable {what} file"):
        load(tmp_path / f"fake{suffix}")


MARKDOWN = """---
title: "Week 2: Loops"
author: staff
---
Intro before any heading.

Loops
=====

```python
# not a heading
for i in range(3):
    print(i)
```

## Examples

First.

## Examples

Second, same heading.

### Break & Continue!

Leave early.
"""


def test_markdown_sections_slugs_front_matter_and_code_fences(tmp_path: Path) -> None:
    (tmp_path / "loops.md").write_text(MARKDOWN, encoding="utf-8")
    doc = load(tmp_path / "loops.md")
    assert doc.title == "Week 2: Loops"
    assert [(s.locator.anchor, s.headings) for s in doc.sections] == [
        (None, ()),
        ("loops", ("Loops",)),
        ("examples", ("Loops", "Examples")),
        ("examples-1", ("Loops", "Examples")),
        ("break--continue", ("Loops", "Examples", "Break & Continue!")),
    ]
    assert "# not a heading" in doc.sections[1].text and "author" not in doc.sections[0].text


def test_github_slugs() -> None:
    assert slugify("Default Argument Values") == "default-argument-values"
    assert slugify("What's `set()`?") == "whats-set"
    assert slugify("Unicode: Ünïcode") == "unicode-ünïcode"


def test_html_with_nested_sections_reads_the_main_content_only(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text(
        "<html><head><title>Ignored</title><script>var x = 1;</script></head><body>"
        "<nav>Home | Next</nav><main><section id='loops'><h1>Loops<a class='headerlink' href='#loops'>¶</a></h1>"
        "<p>Loops   repeat\n   code.</p><section id='break'><h2>Break</h2><p>Leave early.</p>"
        "<pre>for x in xs:\n    break</pre></section></section></main><footer>© staff</footer></body></html>",
        encoding="utf-8",
    )
    doc = load(tmp_path / "page.html")
    assert doc.title == "Loops"
    assert [(s.locator.anchor, s.headings, s.text) for s in doc.sections] == [
        ("loops", (), "Loops repeat code."),
        ("break", ("Break",), "Leave early.\n\n```\nfor x in xs:\n    break\n```"),
    ]


def test_html_without_sections_splits_at_headings(tmp_path: Path) -> None:
    (tmp_path / "faq.html").write_bytes(
        "<html><head><meta charset='iso-8859-1'><title>FAQ</title></head><body><p>Welcome.</p>"
        "<h2 id='grading'>Grading</h2><p>Weekly quizzes.</p><h2><a name='late'></a>Late work</h2><p>Ask first.</p>"
        "<h2>Caf\xe9 hours</h2><p>Fridays.</p></body></html>".encode("latin-1")
    )
    doc = load(tmp_path / "faq.html")
    assert doc.title == "FAQ"
    assert [(s.locator.anchor, s.text) for s in doc.sections] == [
        (None, "Welcome."), ("grading", "Weekly quizzes."), ("late", "Ask first."), ("café-hours", "Fridays.")
    ]


@pytest.mark.skipif(not EVAL_COURSE.exists(), reason="the shared eval course is not beside this checkout")
def test_a_real_sphinx_page() -> None:
    doc = load_document(EVAL_COURSE / "python-tutorial" / "controlflow.html", "controlflow.html")
    assert doc.title == "4. More Control Flow Tools"
    section = next(s for s in doc.sections if s.locator.anchor == "default-argument-values")
    assert section.headings == ("4.8. More on Defining Functions", "4.8.1. Default Argument Values")
    assert "The default value is evaluated only once" in section.text
    assert all("¶" not in s.text and "Navigation" not in s.text for s in doc.sections)


def test_notebook_cells_grouped_under_headings(tmp_path: Path) -> None:
    cells = [
        {"cell_type": "markdown", "source": ["# Lab 3\n", "Work in pairs."]},
        {"cell_type": "code", "source": "x = 1\nprint(x)", "outputs": [{"text": "1"}]},
        {"cell_type": "markdown", "source": "## Part A: lists\nMake a list."},
        {"cell_type": "code", "source": ["items = []\n", "items.append(1)"], "outputs": []},
        {"cell_type": "raw", "source": "ignored"},
    ]
    (tmp_path / "lab3.ipynb").write_text(json.dumps({"cells": cells, "nbformat": 4, "nbformat_minor": 5, "metadata": {}}))
    doc = load(tmp_path / "lab3.ipynb")
    assert doc.title == "Lab 3"
    assert [(s.locator.cell, s.locator.anchor, s.headings) for s in doc.sections] == [
        (1, "lab-3", ()),
        (3, "part-a-lists", ("Part A: lists",)),
    ]
    assert doc.sections[0].text == "Work in pairs.\n\n```python\nx = 1\nprint(x)\n```"
    assert "items.append(1)" in doc.sections[1].text and "ignored" not in doc.sections[1].text


def test_a_broken_notebook(tmp_path: Path) -> None:
    (tmp_path / "lab.ipynb").write_text('{"cells": ')
    with pytest.raises(UnreadableFileError, match="not a valid Jupyter notebook"):
        load(tmp_path / "lab.ipynb")


def test_plain_text(tmp_path: Path) -> None:
    (tmp_path / "office_hours.txt").write_text("\ufeffTuesdays 3 pm.   \r\n\r\n\r\n\r\nRoom 204.", encoding="utf-8")
    doc = load(tmp_path / "office_hours.txt")
    assert (doc.title, doc.sections[0].text, doc.sections[0].locator.fragment()) == ("office hours", "Tuesdays 3 pm.\n\nRoom 204.", "")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.md", b"", "the file is empty"),
        ("blank.txt", b"  \n\n ", "the file is empty"),
        ("empty.pdf", b"", "the file is empty"),
        ("image.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary content in a text file"),
        ("latin1.txt", "résumé".encode("latin-1"), r"not UTF-8 text \(invalid byte 0xe9 at offset 1\); re-save it as UTF-8"),
        ("only-headings.md", b"# Title\n\n## Empty\n", "no text found"),
        ("archive.zip", b"PK", r"no loader for '\.zip' files"),
    ],
)
def test_bad_files_get_a_clear_reason(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(UnreadableFileError, match=message) as caught:
        load(tmp_path / name)
    assert caught.value.source == name


def test_supported_extensions_ignore_case() -> None:
    assert is_supported(Path("NOTES.MD")) and is_supported(Path("a.Pdf")) and not is_supported(Path("photo.jpg"))


def test_html_headings_inside_wrappers_and_code_read_once(tmp_path: Path) -> None:
    (tmp_path / "notes.html").write_text(
        "<html><body><div class='container'><div class='content'>"
        "<h2 id='loops'>Loops</h2><div class='note'><p>Repeat work.</p><pre>while True:\n    pass</pre></div>"
        "<h2 id='sets'>Sets</h2><p>Use set().</p></div></div></body></html>",
        encoding="utf-8",
    )
    doc = load(tmp_path / "notes.html")
    assert [(s.locator.anchor, s.text) for s in doc.sections] == [
        ("loops", "Repeat work.\n\n```\nwhile True:\n    pass\n```"),
        ("sets", "Use set()."),
    ]


def test_html_names_the_images_and_stylesheets_it_shows(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text(
        "<html><head><link rel='stylesheet' href='../css/site.css?v=2'><link rel='icon' href='fav.ico'>"
        "<link rel='canonical' href='page.html'></head><body><h1>Loops</h1><p>Text.</p>"
        "<img src='img/a%20b.png'><picture><source srcset='img/c.webp 1x, img/c@2x.webp 2x'></picture>"
        "<img src='https://cdn.example.com/x.png'><img src='/abs.png'><img src='../../../etc/passwd'><img src='data:x'>"
        "</body></html>"
    )
    doc = load_document(tmp_path / "page.html", "week1/page.html")
    assert doc.assets == ["css/site.css", "week1/fav.ico", "week1/img/a b.png", "week1/img/c.webp", "week1/img/c@2x.webp"]
