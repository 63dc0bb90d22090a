"""Turning the model's `[n]` markers into the answer's citations."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

from models import Citation, SearchHit

SourceKey = tuple[str, int | None, str | None]

# The sources consulted attached to an answer that cites nothing: enough to check it, few enough to read.
CONSULTED = 3

# `[2]`, `[1, 3]`, `[1][2]` (two matches), `[Source 2]`, `[source 1; 2]`.
MARKER = re.compile(r"\s?\[(?:sources?\s*)?(\d{1,3}(?:\s*[,;]\s*(?:sources?\s*)?\d{1,3})*)\]", re.IGNORECASE)


def citation_for(n: int, hit: SearchHit, *, see_also: bool = False) -> Citation:
    return Citation(
        n=n,
        title=hit.title,
        source=hit.source,
        page=hit.locator.page,
        page_label=hit.locator.page_label,
        anchor=hit.locator.anchor,
        url=hit.url,
        headings=hit.headings,
        see_also=see_also,
    )


def resolve_citations(text: str, sources: Sequence[SearchHit]) -> tuple[str, list[Citation]]:
    """Renumber the markers in order of first use; return the sources they cite, then the best
    few the model read but did not cite, as "see also" (sources consulted).

    Two sources on the same page or section share one number; a marker outside
    1..len(sources) is dropped, since it points at nothing the model was shown. The best
    `CONSULTED` pages are always among the citations, cited or not: a model can cite the
    wrong page, or none, and the page retrieval ranked best is then still a click away
    (as quote mode attaches them, `rag.quotes.compose`).
    """
    numbers: dict[SourceKey, int] = {}
    citations: list[Citation] = []

    def renumber(match: re.Match[str]) -> str:
        cited: list[int] = []
        for raw in re.findall(r"\d+", match.group(1)):
            index = int(raw)
            if not 1 <= index <= len(sources):
                continue
            hit = sources[index - 1]
            key = source_key(hit)
            if key not in numbers:
                numbers[key] = len(numbers) + 1
                citations.append(citation_for(numbers[key], hit))
            if numbers[key] not in cited:
                cited.append(numbers[key])
        lead = match.group(0)[0] if match.group(0)[0].isspace() else ""
        if cited:
            return lead + "".join(f"[{n}]" for n in cited)
        # A dropped marker takes its space with it, unless another marker follows and needs it.
        return lead if match.string[match.end():match.end() + 1] == "[" else ""

    cleaned = MARKER.sub(renumber, text).strip()
    return cleaned, citations + consulted(sources, cited=numbers)


def consulted(sources: Sequence[SearchHit], cited: Collection[SourceKey] = ()) -> list[Citation]:
    """Of the best `CONSULTED` distinct pages or sections, those not `cited`, as "see also" citations
    numbered after the cited ones.

    The model read all of them; where no marker says it used one, the best few still let a
    student check the answer, since one lone passage may be the wrong one.
    """
    picked: dict[SourceKey, SearchHit] = {}
    for hit in sources:
        if len(picked) == CONSULTED:
            break
        picked.setdefault(source_key(hit), hit)
    extra = [hit for key, hit in picked.items() if key not in cited]
    return [citation_for(n, hit, see_also=True) for n, hit in enumerate(extra, len(cited) + 1)]


def source_key(hit: SearchHit) -> SourceKey:
    """Two hits on the same page or section are one source."""
    return (hit.source, hit.locator.page, hit.locator.anchor)


def partial_text(text: str, sources: Sequence[SearchHit]) -> str:
    """What a reader may see of an answer still being written, with markers already renumbered.

    Text from an unclosed `[` on is held back until the marker is complete, so what
    was shown is always a prefix of what comes next.
    """
    opening = text.rfind("[")
    if opening != -1 and "]" not in text[opening:]:
        text = text[:opening]
    return resolve_citations(text, sources)[0] if text.strip() else ""
