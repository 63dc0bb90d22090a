"""Jupyter notebooks: cells grouped under their markdown headings, code included, outputs not."""

from __future__ import annotations

import json
from pathlib import Path

from models import Locator, Section, SourceDoc
from ingest.errors import UnreadableFileError
from ingest.loaders.markdown_notes import markdown_headings
from ingest.loaders.slugs import SlugMaker
from ingest.loaders.textfile import read_text, tidy, title_from_stem


def load_notebook(path: Path, source: str) -> SourceDoc:
    try:
        cells = json.loads(read_text(path, source))["cells"]
        if not isinstance(cells, list):
            raise TypeError("'cells' is not a list")
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise UnreadableFileError(source, f"not a valid Jupyter notebook ({type(exc).__name__}: {exc})") from exc
    slug = SlugMaker()
    sections: list[Section] = []
    trail: list[tuple[int, str]] = []
    parts: list[str] = []
    start, anchor = 1, None
    title: str | None = None

    def close() -> None:
        text = tidy("\n\n".join(parts))
        if text:
            sections.append(Section(text=text, locator=Locator(cell=start, anchor=anchor), headings=tuple(h for _, h in trail)))
        parts.clear()

    for number, cell in enumerate(cells, 1):
        content = cell_source(cell)
        if not content.strip():
            continue
        if cell.get("cell_type") == "code":
            parts.append(f"```python\n{content.strip()}\n```")
            continue
        if cell.get("cell_type") != "markdown":
            continue
        headings = markdown_headings(content)
        if headings and headings[0][2] == 0:
            close()
            level, heading = headings[0][0], headings[0][1]
            title = title or (heading if level == 1 else None)
            trail = [(lvl, h) for lvl, h in trail if lvl < level] + [(level, heading)]
            start, anchor = number, slug(heading)
            content = "\n".join(content.split("\n")[headings[0][3] :])
        parts.append(content)
    close()
    title = title or title_from_stem(path)
    for i, section in enumerate(sections):
        if section.headings and section.headings[0] == title:
            sections[i] = section.model_copy(update={"headings": section.headings[1:]})
    return SourceDoc(source=source, kind="notebook", title=title, sections=sections)


def cell_source(cell: dict) -> str:
    content = cell.get("source", "")
    return "".join(content) if isinstance(content, list) else str(content)
