"""Word: one section per heading, anchored by the heading's slug."""

from __future__ import annotations

from pathlib import Path

from docx import Document
from docx.opc.exceptions import PackageNotFoundError
from docx.table import Table
from docx.text.paragraph import Paragraph

from models import Locator, Section, SourceDoc
from ingest.loaders.slugs import SlugMaker
from ingest.loaders.textfile import open_package, tidy, title_from_stem


def load_docx(path: Path, source: str) -> SourceDoc:
    document = open_package(path, source, Document, "Word", (PackageNotFoundError,))
    slug = SlugMaker()
    sections: list[Section] = []
    path_: list[tuple[int, str]] = []
    anchor: str | None = None
    current: list[str] = []
    styled_title: str | None = None

    def close() -> None:
        text = tidy("\n\n".join(current))
        if text:
            sections.append(Section(text=text, locator=Locator(anchor=anchor), headings=tuple(h for _, h in path_)))
        current.clear()

    for block in document.iter_inner_content():
        if isinstance(block, Table):
            current.append("\n".join(" | ".join(cell.text.strip() for cell in row.cells) for row in block.rows))
            continue
        level = _heading_level(block)
        text = block.text.strip()
        if level == 0 and text:
            styled_title = styled_title or text
        elif level and text:
            close()
            path_ = [(lvl, h) for lvl, h in path_ if lvl < level] + [(level, text)]
            anchor = slug(text)
        elif text:
            current.append(text)
    close()
    first_heading = next((s.headings[0] for s in sections if s.headings), None)
    title = (document.core_properties.title or "").strip() or styled_title or first_heading or title_from_stem(path)
    return SourceDoc(source=source, kind="docx", title=title, sections=sections)


def _heading_level(paragraph: Paragraph) -> int | None:
    """0 for the Title style, N for "Heading N", None for body text."""
    name = (paragraph.style.name if paragraph.style is not None else "") or ""
    if name == "Title":
        return 0
    if name.startswith("Heading"):
        digits = name.removeprefix("Heading").strip()
        return int(digits) if digits.isdigit() else 1
    return None
