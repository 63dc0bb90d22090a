"""Markdown: one section per heading, anchored by GitHub-style slugs.

markdown-it-py finds the headings, so a `# comment` inside a code fence or a setext
heading (`Title` over `=====`) is read the way a renderer reads it.
"""

from __future__ import annotations

import re
from pathlib import Path

from markdown_it import MarkdownIt
from markdown_it.token import Token

from models import Locator, Section, SourceDoc
from ingest.loaders.textfile import read_text, tidy, title_from_stem
from ingest.loaders.slugs import SlugMaker

FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n(?:---|\.\.\.)\s*\n", re.DOTALL)
TITLE_LINE = re.compile(r"^title:\s*(.+?)\s*$", re.MULTILINE)


def load_markdown(path: Path, source: str) -> SourceDoc:
    text = read_text(path, source)
    title, body = _front_matter(text)
    headings = markdown_headings(body)
    if title is None:
        title = next((h for level, h, _, _ in headings if level == 1), None) or title_from_stem(path)
    return SourceDoc(source=source, kind="markdown", title=title, sections=_sections(body, headings, title))


def _front_matter(text: str) -> tuple[str | None, str]:
    match = FRONT_MATTER.match(text)
    if not match:
        return None, text
    title = TITLE_LINE.search(match.group(1))
    return (title.group(1).strip("'\"") if title else None), text[match.end() :]


def markdown_headings(text: str) -> list[tuple[int, str, int, int]]:
    """(level, heading text, first line, line after the heading) for every real heading."""
    tokens = MarkdownIt("commonmark").parse(text)
    found = []
    for i, token in enumerate(tokens):
        if token.type == "heading_open" and token.map:
            found.append((int(token.tag[1]), _plain(tokens[i + 1]), token.map[0], token.map[1]))
    return found


def _plain(inline: Token) -> str:
    """A heading's text as rendered: `` `set()` `` reads as `set()`, as GitHub slugs it."""
    parts = [child.content if child.type in ("text", "code_inline") else " " for child in inline.children or [] if child.type != "html_inline"]
    return " ".join("".join(parts).split()) or inline.content.strip()


def _sections(body: str, headings: list[tuple[int, str, int, int]], title: str) -> list[Section]:
    lines = body.split("\n")
    slug = SlugMaker()
    sections: list[Section] = []
    path: list[tuple[int, str]] = []
    preamble_end = headings[0][2] if headings else len(lines)
    preamble = tidy("\n".join(lines[:preamble_end]))
    if preamble:
        sections.append(Section(text=preamble))
    for i, (level, heading, _, after) in enumerate(headings):
        end = headings[i + 1][2] if i + 1 < len(headings) else len(lines)
        path = [(lvl, h) for lvl, h in path if lvl < level] + [(level, heading)]
        anchor = slug(heading)
        text = tidy("\n".join(lines[after:end]))
        if text:
            trail = tuple(h for _, h in path)
            if trail and trail[0] == title:
                trail = trail[1:]
            sections.append(Section(text=text, locator=Locator(anchor=anchor), headings=trail))
    return sections
