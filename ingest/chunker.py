"""Token-aware chunking with the embedder's own tokenizer.

all-MiniLM-L6-v2 reads 256 word pieces and silently drops the rest, so every chunk,
together with the heading path that is embedded with it, is measured in that
tokenizer's pieces, never in characters or words.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from ingest.citations import citation_url
from models import ALWAYS, Chunk, Section, SourceDoc
from rag.embedder import TokenCounter

# [CLS] and [SEP] take two places in the window.
SPECIAL_TOKENS = 2
# A heading path longer than this is not worth squeezing the chunk for.
MAX_CONTEXT_TOKENS = 48
MIN_BODY_TOKENS = 32

SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")
FENCE = re.compile(r"^\s*(```|~~~)")


@dataclass(frozen=True)
class ChunkingPolicy:
    size: int = 200
    """Target tokens of body text per chunk (capped by the embedder's window)."""
    overlap: int = 40
    """Tokens of the previous chunk's tail repeated at the start of the next, within a section."""


@dataclass(frozen=True)
class _Unit:
    text: str
    tokens: int
    separator: str
    """What joins this unit to the one before it: a paragraph break, a line break or a space."""


def chunk_document(
    doc: SourceDoc,
    *,
    course: str,
    file_hash: str,
    base_url: str | None,
    policy: ChunkingPolicy,
    counter: TokenCounter,
    release_at: int = ALWAYS,
) -> list[Chunk]:
    """Split a document into chunks; a chunk never spans two sections or two files."""
    chunks: list[Chunk] = []
    source_key = hashlib.sha1(doc.source.encode()).hexdigest()[:12]
    for section in doc.sections:
        if not section.text.strip():
            continue
        context = heading_context(doc.title, section.headings, counter)
        for body in _section_bodies(section, context, policy, counter):
            chunks.append(
                Chunk(
                    id=f"{source_key}-{file_hash[:12]}-{len(chunks):05d}",
                    course=course,
                    source=doc.source,
                    title=doc.title,
                    headings=section.headings,
                    text=body,
                    locator=section.locator,
                    url=citation_url(base_url, doc.source, section.locator),
                    file_hash=file_hash,
                    release_at=release_at,
                    context=context,
                )
            )
    return chunks


def heading_context(title: str, headings: tuple[str, ...], counter: TokenCounter) -> str:
    """The heading path a chunk is embedded under, at most `MAX_CONTEXT_TOKENS` word pieces.

    The one place the path is capped, so no chunk's embedding text outgrows the window.
    Outer parts give way first (the title, then outer headings): the innermost heading
    names the section's topic best. A lone part still too long is cut at a word piece.
    """
    parts = [part for part in (title, *headings) if part]
    while len(parts) > 1 and counter.count_tokens([" > ".join(parts)])[0] > MAX_CONTEXT_TOKENS:
        parts.pop(0)
    context = " > ".join(parts)
    spans = counter.token_spans(context) if context else []
    return context[: spans[MAX_CONTEXT_TOKENS - 1][1]].rstrip() if len(spans) > MAX_CONTEXT_TOKENS else context


def _section_bodies(section: Section, context: str, policy: ChunkingPolicy, counter: TokenCounter) -> list[str]:
    context_tokens = counter.count_tokens([context])[0] if context else 0
    budget = max(MIN_BODY_TOKENS, min(policy.size, counter.max_tokens - SPECIAL_TOKENS - context_tokens))
    units = _fit_units(_split_units(section.text), budget, counter)
    return _pack(units, budget, min(policy.overlap, budget // 2))


def _split_units(text: str) -> list[tuple[str, str]]:
    """Sentences of prose and lines of code, each with the separator that precedes it."""
    units: list[tuple[str, str]] = []
    separator = ""
    for block, is_code in _blocks(text):
        if is_code:
            for line in block.split("\n"):
                units.append((line, separator))
                separator = "\n"
        else:
            for sentence in SENTENCE_END.split(block):
                if sentence.strip():
                    units.append((sentence.strip(), separator))
                    separator = " "
        separator = "\n\n"
    return units


def _blocks(text: str) -> list[tuple[str, bool]]:
    """Paragraphs and fenced code blocks; a code block is kept whole across blank lines."""
    blocks: list[tuple[str, bool]] = []
    current: list[str] = []
    in_fence = False

    def close(is_code: bool) -> None:
        if any(line.strip() for line in current):
            blocks.append(("\n".join(current).strip("\n"), is_code))
        current.clear()

    for line in text.split("\n"):
        if FENCE.match(line):
            if in_fence:
                current.append(line)
                close(True)
            else:
                close(False)
                current.append(line)
            in_fence = not in_fence
        elif in_fence:
            current.append(line)
        elif not line.strip():
            close(False)
        else:
            current.append(line)
    close(in_fence)
    return blocks


def _fit_units(raw: list[tuple[str, str]], budget: int, counter: TokenCounter) -> list[_Unit]:
    """Count every unit once; cut any unit that alone exceeds the budget at word-piece boundaries."""
    counts = counter.count_tokens([text for text, _ in raw]) if raw else []
    units: list[_Unit] = []
    for (text, separator), tokens in zip(raw, counts, strict=True):
        if tokens <= budget:
            units.append(_Unit(text, tokens, separator))
            continue
        spans = counter.token_spans(text)
        for start in range(0, len(spans), budget):
            window = spans[start : start + budget]
            gap = text[spans[start - 1][1] : window[0][0]] if start else separator
            units.append(_Unit(text[window[0][0] : window[-1][1]], len(window), gap))
    return units


def _pack(units: list[_Unit], budget: int, overlap: int) -> list[str]:
    bodies: list[str] = []
    current: list[_Unit] = []
    used = 0
    for unit in units:
        if current and used + unit.tokens > budget:
            bodies.append(_join(current))
            current, used = _overlap_tail(current, overlap, budget - unit.tokens)
        current.append(unit)
        used += unit.tokens
    if current:
        bodies.append(_join(current))
    return bodies


def _overlap_tail(units: list[_Unit], overlap: int, room: int) -> tuple[list[_Unit], int]:
    tail: list[_Unit] = []
    used = 0
    for unit in reversed(units):
        if used + unit.tokens > min(overlap, room):
            break
        tail.insert(0, unit)
        used += unit.tokens
    return tail, used


def _join(units: list[_Unit]) -> str:
    return "".join((unit.separator if i else "") + unit.text for i, unit in enumerate(units))
