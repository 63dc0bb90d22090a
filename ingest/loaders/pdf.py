"""PDF: one section per page, so a citation opens the page (`#page=N`)."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from pypdf import PdfReader
from pypdf.errors import FileNotDecryptedError, PyPdfError

from models import Locator, Section, SourceDoc
from ingest.errors import UnreadableFileError
from ingest.loaders.textfile import read_bytes, tidy, title_from_stem

# "exam-\nple" is one word broken at a line end; "well-\nknown" loses its hyphen too, a fair trade.
BROKEN_WORD = re.compile(r"(\w)-\n(\w)")
SPACE_RUNS = re.compile(r"[ \t]{2,}")
PLACEHOLDER_TITLES = {"untitled", "untitled document", "(anonymous)", "title"}


def load_pdf(path: Path, source: str) -> SourceDoc:
    read_bytes(path, source)
    pypdf_log = logging.getLogger("pypdf")
    level = pypdf_log.level
    pypdf_log.setLevel(logging.ERROR)
    try:
        return _read(path, source)
    except UnreadableFileError:
        raise
    except FileNotDecryptedError as exc:
        raise UnreadableFileError(source, "the PDF is password-protected; save an unprotected copy") from exc
    except (PyPdfError, ValueError, KeyError, TypeError, IndexError, AttributeError, OSError, RecursionError) as exc:
        # pypdf fails on damaged files in many ways; none of them is worth a traceback.
        raise UnreadableFileError(source, f"not a readable PDF ({type(exc).__name__}: {exc})") from exc
    finally:
        pypdf_log.setLevel(level)


def _read(path: Path, source: str) -> SourceDoc:
    reader = PdfReader(path, strict=False)
    if reader.is_encrypted and not reader.decrypt(""):
        raise UnreadableFileError(source, "the PDF is password-protected; save an unprotected copy")
    sections = []
    for number, page in enumerate(reader.pages, 1):
        text = tidy(SPACE_RUNS.sub(" ", BROKEN_WORD.sub(r"\1\2", page.extract_text() or "")))
        if text:
            sections.append(Section(text=text, locator=Locator(page=number)))
    if not sections:
        raise UnreadableFileError(source, "no extractable text (a scanned PDF? run OCR first)")
    metadata_title = ((reader.metadata.title if reader.metadata else None) or "").strip()
    # Many PDF producers fill the title with a placeholder nobody chose.
    if metadata_title.lower() in PLACEHOLDER_TITLES:
        metadata_title = ""
    return SourceDoc(source=source, kind="pdf", title=metadata_title or title_from_stem(path), sections=sections)
