"""A search hit widened to its page or section, for quote mode.

Search keeps one chunk per page or section, and the sentence that answers a question can
sit in a neighbouring chunk of the same section: quotes are picked from the hit's chunk
and its neighbours, still cited to the one section they all belong to.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from models import SearchHit
from rag.index import Place


class SectionReader(Protocol):
    """Reads the stored chunks of pages or sections (`MilvusIndex` is one)."""

    def section_chunks(self, course: str, places: Sequence[Place]) -> dict[Place, list[str]]: ...


def widened_hits(reader: SectionReader, course: str, hits: Sequence[SearchHit], reach: int) -> list[SearchHit]:
    """Each hit with its text widened to `reach` chunks of its section on each side, in one query."""
    chunks = reader.section_chunks(course, [(hit.source, hit.locator) for hit in hits])
    return [hit.model_copy(update={"text": section_text(hit.text, chunks.get((hit.source, hit.locator), []), reach)}) for hit in hits]


def section_text(chunk: str, section: list[str], reach: int) -> str:
    """`chunk` joined with up to `reach` of its neighbours in `section` on each side.

    A long section (a whole HTML page under one heading) stays bounded, so quoting it costs
    about the same as quoting a short one. A chunk no longer in its section (reindexed since
    the search) is read alone.
    """
    if chunk not in section:
        return chunk
    at = section.index(chunk)
    return join_overlapping(section[max(0, at - reach) : at + reach + 1])


def join_overlapping(texts: Sequence[str]) -> str:
    """Consecutive chunks as one text: the chunker repeats the last sentences of one chunk at
    the start of the next, so that repeat is dropped; chunks with no repeat are joined by a
    line break, which continues a paragraph or a code block alike."""
    joined = texts[0] if texts else ""
    for text in texts[1:]:
        repeated = _repeated(joined, text)
        joined += text[repeated:] if repeated else "\n" + text
    return joined


def _repeated(before: str, after: str) -> int:
    """The length of the longest start of `after` that ends `before`, cut where a sentence or line ends."""
    for size in range(min(len(before), len(after)), 0, -1):
        if (size == len(after) or after[size].isspace()) and before.endswith(after[:size]):
            return size
    return 0
