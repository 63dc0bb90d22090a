"""Quote mode: the sentences of the retrieved passages that best answer a question, word for word.

No language model writes anything, so nothing here can be wrong in a way the course is
not: each quote is a whole sentence (or list item, or table row) of a passage, with the
code block it introduces, scored against the question by meaning (the embedder already
loaded for search) and by the question's words it contains (the stemmed BM25 vocabulary).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote as url_quote

from models import Citation, SearchHit
from rag.citations import CONSULTED, SourceKey, citation_for, source_key
from rag.embedder import Embedder
from rag.lexical import share_of_terms, terms_of
from rag.vector_cache import VectorCache

_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
BACKTICKS = "```"
_ITEM = re.compile(r"^\s*(?:[-*•▪‣]|\d{1,3}[.)])\s+")
_HEADING = re.compile(r"^\s*#{1,6}\s")
# A sentence may start in lower case: course text opens sentences with `range(5)` or `self`.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+(?=\S)")
_ABBREVIATION = re.compile(r"(?:\b(?:e\.g|i\.e|etc|vs|cf|fig|no|dr|mr|mrs|ms|approx)|\b[A-Za-z])\.$", re.IGNORECASE)
_CLAUSE = re.compile(r"[,;:]\s|\s[-–—]\s")


@dataclass(frozen=True)
class Unit:
    """One quotable piece of a passage: a sentence, list item or table row, or a lone code block."""

    text: str
    code: str | None = None
    """The fenced code block the sentence introduces (it ends with a colon), kept with it."""
    continues: bool = False
    """The unit before it is a sentence of the same paragraph, so the two may be quoted together."""

    def scored_text(self) -> str:
        return f"{self.text}\n{self.code}" if self.code and self.text else self.code or self.text

    def embedded_text(self, chars: int) -> str:
        """The start of `scored_text`, what its meaning is judged by: MiniLM was trained on about
        128 word pieces, and the rest of a long code block only costs time."""
        return self.scored_text()[:chars]


@dataclass(frozen=True)
class Quote:
    unit: Unit
    hit: SearchHit
    rank: int
    """The hit's place in the search results (0 is the best)."""
    score: float


_Single = tuple[Unit, SearchHit, int, tuple[int, int]]
"""A unit, its hit, the hit's rank, and the unit's key (rank, place in the passage)."""


@dataclass(frozen=True)
class QuotePolicy:
    passages: int = 4
    """How many of the top passages quotes are taken from."""
    section_reach: int = 2
    """Chunks of a passage's section read on each side of the one search returned."""
    max_quotes: int = 3
    margin: float = 0.08
    """A quote scoring more than this below the best one is left out: 1 good quote beats 3 loose ones."""
    lexical_weight: float = 0.3
    max_chars: int = 320
    """A longer sentence is cut at a clause (or a space), never mid-word."""
    min_words: int = 4
    embedded_chars: int = 250
    shortlist: int = 16
    """Units embedded per question, chosen first by the question's words they hold and whether
    search matched their chunk: embedding every sentence of four sections took most of a second
    on a laptop CPU, and the answer is nearly always among the lexically closest (chosen on the
    shared eval set with `embedded_chars`: the largest pair under 300 ms at p95 there)."""
    matched_bonus: float = 0.25
    """Added to a unit's shortlist score when it sits in the chunk search returned for its hit."""
    cached_units: int = 4096
    """Vectors of units kept for the next questions (about 1.5 kB each): the same few sections
    answer most of a course's questions, and embedding their sentences is most of quote mode's time."""


def split_units(text: str, max_chars: int = QuotePolicy.max_chars) -> list[Unit]:
    """The quotable pieces of a passage, in order; headings are left out (they label, not answer)."""
    units: list[Unit] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            sentences = split_sentences(" ".join(paragraph))
            units.extend(Unit(cut_sentence(s, max_chars), continues=n > 0) for n, s in enumerate(sentences))
            paragraph.clear()

    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = _FENCE.match(line)
        if fence:
            marker = fence.group(1)
            closing = next((j for j in range(i + 1, len(lines)) if lines[j].strip().startswith(marker)), None)
            end = len(lines) - 1 if closing is None else closing
            flush()
            # Backticks whatever the source used: Slack and Discord read no `~~~` fence, and
            # would format the code inside one (`__init__` in bold).
            code = "\n".join([BACKTICKS + lines[i].strip()[len(marker):], *lines[i + 1 : end if closing else end + 1], BACKTICKS])
            if units and units[-1].text.endswith(":") and units[-1].code is None:
                units[-1] = Unit(units[-1].text, code, units[-1].continues)
            else:
                units.append(Unit("", code))
            i = end + 1
            continue
        stripped = line.strip()
        if not stripped or _HEADING.match(line):
            flush()
        elif _ITEM.match(line) or stripped.count("|") >= 2:
            flush()
            paragraph.append(stripped)
            flush()
        else:
            paragraph.append(stripped)
        i += 1
    flush()
    return [unit for unit in units if unit.text or unit.code]


def split_sentences(text: str) -> list[str]:
    """Sentences of a paragraph; "e.g. Python" or "Fig. 3" does not end one."""
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        if _ABBREVIATION.search(text[start:match.start()]):
            continue
        sentences.append(text[start:match.start()].strip())
        start = match.end()
    sentences.append(text[start:].strip())
    return [s for s in sentences if s]


def cut_sentence(sentence: str, max_chars: int) -> str:
    """`sentence` if it fits, else cut at its last clause boundary (or space) before the limit, with "…"."""
    if len(sentence) <= max_chars:
        return sentence
    head = sentence[:max_chars]
    clauses = [m.start() for m in _CLAUSE.finditer(head) if m.start() > max_chars // 2]
    cut = clauses[-1] if clauses else head.rfind(" ")
    return (head[:cut] if cut > 0 else head).rstrip(" ,;:-–—") + "…"


class QuotePicker:
    """Picks 1 to `max_quotes` quotes from the top passages for a question."""

    def __init__(self, embedder: Embedder, policy: QuotePolicy = QuotePolicy()) -> None:
        self.embedder = embedder
        self.policy = policy
        self.vectors = VectorCache(embedder, policy.cached_units)

    def pick(self, question: str, hits: Sequence[SearchHit], matched: Sequence[str] = ()) -> list[Quote]:
        """The best quotes, best first: always one from the top passage (retrieval, which saw the
        whole passage and its headings, ranks better than one sentence alone), then any within
        `margin` of the best. A quote is one sentence or two neighbours of one paragraph.

        `matched`: the chunk search returned for each hit, when `hits` were widened to their sections."""
        units = [(split_units(hit.text, self.policy.max_chars), hit, rank) for rank, hit in enumerate(hits[: self.policy.passages])]
        singles = [(unit, hit, rank, (rank, n)) for found, hit, rank in units for n, unit in enumerate(found) if self._quotable(unit)]
        if not singles:
            return []
        terms = terms_of(question)
        singles = self._shortlisted(singles, terms, matched)
        query = self.embedder.embed_query(question)
        vectors = dict(zip((key for *_, key in singles), self.vectors.embed([u.embedded_text(self.policy.embedded_chars) for u, *_ in singles])))
        candidates: list[tuple[Quote, frozenset[tuple[int, int]]]] = []
        for found, hit, rank in units:
            for n, unit in enumerate(found):
                if (rank, n) not in vectors:
                    continue
                spans = [((rank, n),)]
                after = found[n + 1] if n + 1 < len(found) else None
                if after is not None and after.continues and (rank, n + 1) in vectors and unit.code is None:
                    spans.append(((rank, n), (rank, n + 1)))
                for span in spans:
                    joined = Unit(" ".join(found[k].text for _, k in span), found[span[-1][1]].code, unit.continues)
                    vector = _normalised([sum(parts) for parts in zip(*(vectors[key] for key in span))])
                    similarity = sum(q * v for q, v in zip(query, vector))
                    coverage = share_of_terms(terms, joined.scored_text())
                    quote = Quote(joined, hit, rank, similarity + self.policy.lexical_weight * coverage)
                    candidates.append((quote, frozenset(span)))
        candidates.sort(key=lambda pair: pair[0].score, reverse=True)
        best = candidates[0][0].score
        top_passage = next((pair for pair in candidates if pair[0].rank == 0), None)
        chosen: list[tuple[Quote, frozenset[tuple[int, int]]]] = [top_passage] if top_passage else []
        for quote, span in candidates:
            if len(chosen) == self.policy.max_quotes or quote.score < best - self.policy.margin:
                break
            if not any(span & taken for _, taken in chosen):
                chosen.append((quote, span))
        return sorted((quote for quote, _ in chosen), key=lambda quote: quote.score, reverse=True)

    def _shortlisted(self, singles: list[_Single], terms: set[str], matched: Sequence[str]) -> list[_Single]:
        """The `shortlist` units worth embedding, in their original order."""
        if len(singles) <= self.policy.shortlist:
            return singles
        chunks = [_flat(chunk) for chunk in matched]

        def score(single: _Single) -> float:
            unit, _, rank, _ = single
            inside = rank < len(chunks) and _flat(unit.scored_text().removesuffix("…"))[:80] in chunks[rank]
            return share_of_terms(terms, unit.scored_text()) + (self.policy.matched_bonus if inside else 0.0)

        kept = {single[3] for single in sorted(singles, key=score, reverse=True)[: self.policy.shortlist]}
        return [single for single in singles if single[3] in kept]

    def _quotable(self, unit: Unit) -> bool:
        return bool(unit.code) or len(unit.text.split()) >= self.policy.min_words


def _flat(text: str) -> str:
    return " ".join(text.split())


def _normalised(vector: list[float]) -> list[float]:
    norm = sum(v * v for v in vector) ** 0.5 or 1.0
    return [v / norm for v in vector]


QUOTE_LEAD = "The course materials say:"
_MARKUP = re.compile(r"[`*_]+")


def compose(quotes: Sequence[Quote], hits: Sequence[SearchHit] = ()) -> tuple[str, list[Citation]]:
    """The answer's text and citations: quotes grouped by source (best group first), each cited;
    then each of the top `CONSULTED` hits not quoted, as "see also": a sentence can come from
    the wrong page, and the page retrieval ranked best is then still a click away."""
    groups: dict[SourceKey, list[Quote]] = {}
    for quote in quotes:
        groups.setdefault(source_key(quote.hit), []).append(quote)
    parts = [QUOTE_LEAD]
    citations: list[Citation] = []
    for n, group in enumerate(groups.values(), 1):
        for quote in group:
            unit = quote.unit
            if unit.text:
                parts.append(f"\u201c{unit.text}\u201d [{n}]" + (f"\n{unit.code}" if unit.code else ""))
            else:
                parts.append(f"From [{n}]:\n{unit.code}")
        hit = group[0].hit
        sentences = tuple(q.unit.text.removesuffix("…") for q in group if q.unit.text)
        citation = citation_for(n, hit).model_copy(
            update={"quotes": sentences, "excerpt": hit.text, "url": text_fragment_url(hit, sentences[0] if sentences else "")}
        )
        citations.append(citation)
    for hit in hits[:CONSULTED]:
        if all(source_key(hit) != (c.source, c.page, c.anchor) for c in citations):
            citations.append(citation_for(len(citations) + 1, hit, see_also=True))
    return "\n\n".join(parts), citations


def text_fragment_url(hit: SearchHit, sentence: str) -> str | None:
    """An HTML page's link that scrolls to (and highlights) the sentence: `#anchor:~:text=start,end`."""
    if not hit.url or not sentence or not hit.source.lower().endswith((".html", ".htm")):
        return hit.url
    words = _MARKUP.sub("", sentence).split()
    if not words:
        return hit.url
    directive = _fragment_text(" ".join(words)) if len(words) <= 8 else (
        f"{_fragment_text(' '.join(words[:5]))},{_fragment_text(' '.join(words[-3:]))}"
    )
    return f"{hit.url}{'' if '#' in hit.url else '#'}:~:text={directive}"


def _fragment_text(text: str) -> str:
    # `-`, `,` and `&` have a meaning inside a text directive, so they are escaped too.
    return url_quote(text, safe="").replace("-", "%2D")
