"""Loaders turn one file into a `SourceDoc`: sections with the locator a citation links to."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ingest.errors import UnreadableFileError
from ingest.loaders.markdown_notes import load_markdown
from ingest.loaders.notebook import load_notebook
from ingest.loaders.pdf import load_pdf
from ingest.loaders.plaintext import load_text
from ingest.loaders.slides import load_pptx
from ingest.loaders.webpage import load_html
from ingest.loaders.word import load_docx
from models import SourceDoc

Loader = Callable[[Path, str], SourceDoc]

LOADERS: dict[str, Loader] = {
    ".pdf": load_pdf,
    ".pptx": load_pptx,
    ".docx": load_docx,
    ".html": load_html,
    ".htm": load_html,
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".txt": load_text,
    ".ipynb": load_notebook,
}


def is_supported(path: Path) -> bool:
    return path.suffix.lower() in LOADERS


def load_document(path: Path, source: str) -> SourceDoc:
    """Read one file; any problem with it is an `UnreadableFileError` that says what to do.

    This is the one place a loader's failure is caught: a parser meets malformed files in
    ways no loader can list (python-docx's XML errors, a notebook whose cells are not
    objects), and one such file must never stop the ingest of the others.
    """
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise UnreadableFileError(
            source, f"no loader for '{path.suffix or path.name}' files; supported: {', '.join(sorted(LOADERS))}"
        )
    try:
        document = loader(path, source)
    except UnreadableFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever a third-party parser raises on a malformed file
        raise UnreadableFileError(
            source, f"could not be read ({type(exc).__name__}: {exc}); open it in its application, save it again and re-ingest"
        ) from exc
    if not any(section.text.strip() for section in document.sections):
        raise UnreadableFileError(source, "no text found in the file")
    return document
