"""Where a PDF's sections start: its outline (bookmarks), else its larger-font lines.

A manual's pages otherwise carry only the file's name as their heading, so neither BM25
nor the embedding learns which chapter a page belongs to; an HTML page's heading path was
worth about 0.08 MRR on the eval set.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Iterator, Sequence

from pypdf import PageObject, PdfReader
from pypdf.errors import PyPdfError

log = logging.getLogger(__name__)

HeadingPath = tuple[str, ...]
Starts = dict[int, list[HeadingPath]]
"""0-based page number -> the heading paths that start on it, in reading order."""

MAX_TITLE = 160
# A line this much larger than the body text is a heading.
HEADING_SCALE = 1.15
MAX_HEADING_CHARS = 90
MAX_FONT_LEVELS = 3
MIN_PIECE_CHARS = 40
SECTION_NUMBER = re.compile(r"^(?:\d+(?:\.\d+)*\.?|[A-Z]\.?)\s+(?=\S)")


def clean_title(raw: object) -> str:
    """One printable line, whatever encoding or junk the producer put in the title."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in str(raw or ""))
    return " ".join(text.split())[:MAX_TITLE]


def outline_starts(reader: PdfReader) -> Starts:
    """The outline's entries by the page they open, walked once without recursion.

    Entries that point at no page of this file, or have no title, are skipped; an outline
    pypdf cannot read at all leaves the file without one rather than failing it.
    """
    try:
        outline = reader.outline
    except (PyPdfError, ValueError, KeyError, TypeError, IndexError, AttributeError, RecursionError) as exc:
        log.info("ignoring an unreadable PDF outline (%s: %s)", type(exc).__name__, exc)
        return {}
    starts: Starts = {}
    pages = len(reader.pages)
    for path, entry in _walk(outline):
        try:
            number = reader.get_destination_page_number(entry)
        except (PyPdfError, ValueError, KeyError, TypeError, IndexError, AttributeError):
            continue
        if number is not None and 0 <= number < pages:
            starts.setdefault(number, []).append(path)
    return starts


def _walk(outline: Sequence[object]) -> Iterator[tuple[HeadingPath, object]]:
    """(heading path, entry) in document order: pypdf nests an entry's children in the list after it."""
    stack: list[tuple[Iterator[object], HeadingPath]] = [(iter(outline), ())]
    last: HeadingPath = ()
    while stack:
        items, parent = stack[-1]
        item = next(items, None)
        if item is None:
            stack.pop()
            continue
        if isinstance(item, list):
            stack.append((iter(item), last))
            continue
        title = clean_title(getattr(item, "title", ""))
        if title:
            last = (*parent, title)
            yield last, item


def font_starts(pages: Sequence[PageObject]) -> tuple[list[str], Starts]:
    """Page texts, and headings found as lines set larger than the body text.

    Used only where the PDF has no outline. Sizes are read in the same pass as the text;
    the body size is the one most characters are set in, and up to three larger sizes
    become heading levels, largest first. Bold alone is not used: bold words inside a
    paragraph would pass for headings.
    """
    texts: list[str] = []
    lines: list[list[tuple[float, str]]] = []
    sizes: Counter[float] = Counter()
    for page in pages:
        runs: list[tuple[float, str]] = []

        def visit(text: str, cm: list[float], tm: list[float], font: object, size: float) -> None:
            scale = abs(tm[3] * cm[3]) or 1.0
            if text.strip():
                runs.append((round(size * scale, 1), text))

        texts.append(page.extract_text(visitor_text=visit) or "")
        page_lines = _runs_to_lines(runs)
        lines.append(page_lines)
        for size, line in page_lines:
            sizes[size] += len(line)
    if not sizes:
        return texts, {}
    body = sizes.most_common(1)[0][0]
    larger = sorted((s for s in sizes if s >= body * HEADING_SCALE), reverse=True)[:MAX_FONT_LEVELS]
    starts: Starts = {}
    path: list[tuple[int, str]] = []
    for number, page_lines in enumerate(lines):
        for size, line in page_lines:
            if size in larger and len(line) <= MAX_HEADING_CHARS:
                level = larger.index(size)
                path = [(lvl, h) for lvl, h in path if lvl < level] + [(level, clean_title(line))]
                starts.setdefault(number, []).append(tuple(h for _, h in path))
    return texts, starts


def _runs_to_lines(runs: list[tuple[float, str]]) -> list[tuple[float, str]]:
    """Join text runs into lines (a run ending in a newline ends one), each at its largest size."""
    lines: list[tuple[float, str]] = []
    size, parts = 0.0, []
    for run_size, text in runs:
        for piece in re.split(r"(\n)", text):
            if piece == "\n":
                if "".join(parts).strip():
                    lines.append((size, " ".join("".join(parts).split())))
                size, parts = 0.0, []
            elif piece:
                size, parts = max(size, run_size), [*parts, piece]
    if "".join(parts).strip():
        lines.append((size, " ".join("".join(parts).split())))
    return lines


def split_page(text: str, carried: HeadingPath, starts: Sequence[HeadingPath]) -> list[tuple[HeadingPath, str]]:
    """A page's text cut where its sections start, each piece with its heading path.

    The text before the first heading belongs to the section carried over from the page
    before. A heading whose line cannot be found in the text starts where the previous
    one did, so the page still gets the deepest path that begins on it.
    """
    cuts: list[tuple[int, HeadingPath]] = [(0, carried)]
    for path in starts:
        position = cuts[-1][0]
        match = _heading_line(path[-1]).search(text, position)
        cuts.append((match.start() if match else position, path))
    pieces: list[tuple[HeadingPath, str]] = []
    held = ""
    for number, ((start, path), (end, _)) in enumerate(zip(cuts, [*cuts[1:], (len(text), ())])):
        piece = f"{held}\n{text[start:end]}".strip()
        # A running header or a page number above the page's first heading is no section of its own.
        held = piece if number == 0 and len(piece) < MIN_PIECE_CHARS and end < len(text) else ""
        if piece and not held:
            pieces.append((path, piece))
    return pieces


def _heading_line(title: str) -> re.Pattern[str]:
    """The title alone on its line, with or without its section number ("2.3 ", "A ", "7.1.1.1 ")."""
    words = r"\s+".join(re.escape(word) for word in SECTION_NUMBER.sub("", title).split())
    return re.compile(rf"^[ \t]*(?:[\w.]+[ \t]+)?{words}[ \t]*$", re.MULTILINE | re.IGNORECASE)
