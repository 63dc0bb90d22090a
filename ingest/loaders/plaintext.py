"""Plain text: one section, no locator."""

from __future__ import annotations

from pathlib import Path

from models import Section, SourceDoc
from ingest.loaders.textfile import read_text, tidy, title_from_stem


def load_text(path: Path, source: str) -> SourceDoc:
    return SourceDoc(source=source, kind="text", title=title_from_stem(path), sections=[Section(text=tidy(read_text(path, source)))])
