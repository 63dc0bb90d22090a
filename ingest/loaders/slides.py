"""PowerPoint: one section per slide, with the speaker notes; `#page=N` is the slide."""

from __future__ import annotations

from pathlib import Path

from pptx import Presentation
from pptx.exc import PackageNotFoundError

from models import Locator, Section, SourceDoc
from ingest.loaders.textfile import open_package, tidy, title_from_stem


def load_pptx(path: Path, source: str) -> SourceDoc:
    deck = open_package(path, source, Presentation, "PowerPoint", (PackageNotFoundError,))
    sections = []
    first_title = None
    for number, slide in enumerate(deck.slides, 1):
        heading = _slide_title(slide)
        first_title = first_title or heading
        parts = [_shape_text(shape) for shape in slide.shapes if shape != slide.shapes.title]
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            notes = slide.notes_slide.notes_text_frame.text.strip()
            if notes:
                parts.append(f"Notes: {notes}")
        text = tidy("\n\n".join(p for p in parts if p))
        if text or heading:
            sections.append(
                Section(text=text or heading or "", locator=Locator(page=number), headings=(heading,) if heading else ())
            )
    title = (deck.core_properties.title or "").strip() or first_title or title_from_stem(path)
    return SourceDoc(source=source, kind="pptx", title=title, sections=sections)


def _slide_title(slide) -> str | None:  # type: ignore[no-untyped-def]
    shape = slide.shapes.title
    text = shape.text_frame.text.strip() if shape is not None and shape.has_text_frame else ""
    return " ".join(text.split()) or None


def _shape_text(shape) -> str:  # type: ignore[no-untyped-def]
    if shape.has_text_frame:
        return shape.text_frame.text.strip()
    if getattr(shape, "has_table", False) and shape.has_table:
        return "\n".join(" | ".join(cell.text.strip() for cell in row.cells) for row in shape.table.rows)
    if shape.shape_type == 6:  # a group: its shapes hold the text
        return "\n".join(filter(None, (_shape_text(inner) for inner in shape.shapes)))
    return ""
