"""PDF: sections by page, cut where the outline says a section starts; a citation opens the page (`#page=N`)."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from pypdf import PdfReader
from pypdf.errors import FileNotDecryptedError, PyPdfError

from ingest.errors import UnreadableFileError
from ingest.loaders.pdf_outline import clean_title, font_starts, outline_starts, split_page
from ingest.loaders.textfile import read_bytes, tidy, title_from_stem
from models import Locator, Section, SourceDoc

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
    starts = outline_starts(reader)
    if starts:
        texts = [page.extract_text() or "" for page in reader.pages]
    else:
        texts, starts = font_starts(reader.pages)
    labels = _printed_labels(reader)
    sections = []
    carried: tuple[str, ...] = ()
    for index, raw in enumerate(texts):
        text = tidy(SPACE_RUNS.sub(" ", BROKEN_WORD.sub(r"\1\2", raw)))
        locator = Locator(page=index + 1, page_label=labels.get(index))
        sections += [Section(text=piece, locator=locator, headings=path) for path, piece in split_page(text, carried, starts.get(index, []))]
        carried = starts[index][-1] if starts.get(index) else carried
    if not sections:
        raise UnreadableFileError(source, "needs OCR: no text layer (a scanned PDF?); run OCR on it, save the result and re-ingest")
    metadata_title = clean_title((reader.metadata.title if reader.metadata else None) or "")
    # Many PDF producers fill the title with a placeholder nobody chose.
    if metadata_title.lower() in PLACEHOLDER_TITLES:
        metadata_title = ""
    return SourceDoc(source=source, kind="pdf", title=metadata_title or title_from_stem(path), sections=sections)


def _printed_labels(reader: PdfReader) -> dict[int, str]:
    """0-based page -> the number printed on it, only where the PDF defines page labels that differ.

    pypdf numbers pages 1, 2, 3... when the file defines none; those say nothing new.
    """
    if "/PageLabels" not in reader.trailer["/Root"]:
        return {}
    try:
        labels = reader.page_labels
    except (PyPdfError, ValueError, KeyError, TypeError, IndexError, AttributeError):
        return {}
    return {index: label for index, label in enumerate(map(clean_title, labels)) if label and label != str(index + 1)}
