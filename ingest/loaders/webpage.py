"""HTML: one section per `<section id>` (Sphinx, most static-site generators), else per heading.

Only the main content is read: navigation, headers, footers and scripts would make every
page look alike to the search.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from bs4 import BeautifulSoup, Comment, NavigableString, Tag

from ingest.loaders.slugs import SlugMaker
from ingest.loaders.textfile import decode_text, read_bytes, tidy, title_from_stem
from models import Locator, Section, SourceDoc

HEADINGS = ["h1", "h2", "h3", "h4", "h5", "h6"]
CLUTTER = ["script", "style", "nav", "header", "footer", "aside", "noscript", "template", "form"]
META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_\-]+)""", re.IGNORECASE)
WHITESPACE = re.compile(r"\s+")
BLOCKS = {"p", "pre", "li", "div", "tr", "dt", "dd", "blockquote", "table", "ul", "ol", "dl", "figure"}


def load_html(path: Path, source: str) -> SourceDoc:
    data = read_bytes(path, source)
    declared = META_CHARSET.search(data[:4096])
    text = decode_text(data, source, declared.group(1).decode().lower() if declared else "utf-8-sig")
    soup = BeautifulSoup(text, "lxml")
    assets = _embedded_files(soup, source)
    main = _main_content(soup)
    for tag in main.find_all(CLUTTER):
        tag.decompose()
    for link in main.select("a.headerlink"):
        link.decompose()
    title = _title(soup, main, path)
    sections = _by_sections(main, title) if main.find("section", id=True) else _by_headings(main, title)
    return SourceDoc(source=source, kind="html", title=title, sections=sections, assets=assets)


def _embedded_files(soup: BeautifulSoup, source: str) -> list[str]:
    """The course files the page shows with it, its images and stylesheets, as course-relative names.

    Only relative links count: a site-absolute or external one names no file of the
    course, and one that climbs out of the course is ignored.
    """
    refs = [tag.get("src") for tag in soup.find_all(["img", "source"])]
    refs += [
        candidate.split()[0]
        for tag in soup.find_all(["img", "source"])
        for candidate in str(tag.get("srcset") or "").split(",")
        if candidate.strip()
    ]
    refs += [link.get("href") for link in soup.find_all("link") if {"stylesheet", "icon"} & set(link.get("rel") or [])]
    names: set[str] = set()
    for ref in refs:
        link = urlsplit(str(ref or "").strip())
        if link.scheme or link.netloc or not link.path or link.path.startswith("/"):
            continue
        name = posixpath.normpath(posixpath.join(posixpath.dirname(source), unquote(link.path)))
        if name != ".." and not name.startswith("../"):
            names.add(name)
    return sorted(names)


def _main_content(soup: BeautifulSoup) -> Tag:
    for selector in ("main", "[role=main]", "article", "div.body"):
        found = soup.select_one(selector)
        if found is not None:
            return found
    return soup.body or soup


def _title(soup: BeautifulSoup, main: Tag, path: Path) -> str:
    h1 = main.find("h1") or soup.find("h1")
    if h1 is not None and h1.get_text(strip=True):
        return _heading_text(h1)
    if soup.title is not None and soup.title.get_text(strip=True):
        return soup.title.get_text(" ", strip=True)
    return title_from_stem(path)


def _heading_text(tag: Tag) -> str:
    return " ".join(tag.get_text(" ", strip=True).replace("¶", "").split())


def _by_sections(main: Tag, title: str) -> list[Section]:
    elements = main.find_all("section", id=True)
    paths = []
    for element in elements:
        headings = [_heading_text(h) for h in _section_headings(element)]
        paths.append(tuple(headings[1:] if headings and headings[0] == title else headings))
    # Innermost sections first: each is read and then taken out, so the section around
    # it reads only its own text.
    texts: dict[int, str] = {}
    for element in reversed(elements):
        heading = element.find(HEADINGS)
        if heading is not None and heading.find_parent("section") is element:
            heading.decompose()
        texts[id(element)] = _block_text(element)
        element.extract()
    return [
        Section(text=texts[id(element)], locator=Locator(anchor=element["id"]), headings=path)
        for element, path in zip(elements, paths, strict=True)
        if texts[id(element)]
    ]


def _section_headings(section: Tag) -> list[Tag]:
    """The heading of this section and of every section around it, outermost first."""
    chain = [section, *[s for s in section.find_parents("section") if s.get("id")]]
    found = []
    for element in reversed(chain):
        heading = element.find(HEADINGS)
        if heading is not None and heading.find_parent("section") is element:
            found.append(heading)
    return found


def _by_headings(main: Tag, title: str) -> list[Section]:
    """Split the page at every heading; the text before the first one is a section too."""
    slug = SlugMaker()
    sections: list[Section] = []
    path: list[tuple[int, str]] = []
    current: list[str] = []
    anchor: str | None = None

    def close() -> None:
        text = tidy("\n".join(current))
        if text:
            trail = tuple(h for level, h in path if not (level == 1 and h == title))
            sections.append(Section(text=text, locator=Locator(anchor=anchor), headings=trail))
        current.clear()

    for element in _headings_and_outer_blocks(main):
        if element.name in HEADINGS:
            close()
            level, heading = int(element.name[1]), _heading_text(element)
            path = [(lvl, h) for lvl, h in path if lvl < level] + [(level, heading)]
            anchor = _heading_anchor(element) or slug(heading)
        else:
            current.append(_block_text(element))
    close()
    return sections


def _headings_and_outer_blocks(main: Tag) -> list[Tag]:
    """Headings, and the outermost blocks with no heading inside, in reading order.

    Wrappers around headings are looked through, and a block inside a taken block is
    not taken again, so nothing is read twice.
    """
    found: list[Tag] = []
    taken: set[int] = set()
    for element in main.find_all(HEADINGS + sorted(BLOCKS)):
        if element.name in HEADINGS:
            found.append(element)
        elif element.find(HEADINGS) is None and not any(id(parent) in taken for parent in element.parents):
            taken.add(id(element))
            found.append(element)
    return found


def _heading_anchor(heading: Tag) -> str | None:
    if heading.get("id"):
        return heading["id"]
    inner = heading.find("a", attrs={"id": True}) or heading.find("a", attrs={"name": True})
    if inner is not None:
        return inner.get("id") or inner.get("name")
    parent = heading.parent
    if isinstance(parent, Tag) and parent.get("id") and parent.find(HEADINGS) is heading:
        return parent["id"]
    return None


def _block_text(element: Tag) -> str:
    """Text with paragraph and line structure kept; code blocks keep their indentation."""
    for text in element.find_all(string=True):
        if text.find_parent("pre") is None and isinstance(text, NavigableString) and not isinstance(text, Comment):
            text.replace_with(WHITESPACE.sub(" ", str(text)))
    for pre in element.find_all("pre"):
        pre.replace_with("\n\n```\n" + pre.get_text().strip("\n") + "\n```\n\n")
    for br in element.find_all("br"):
        br.replace_with("\n")
    for block in element.find_all(sorted(BLOCKS - {"pre"})):
        block.insert_before("\n\n")
        block.insert_after("\n\n")
    lines, in_code = [], False
    for line in element.get_text().split("\n"):
        if line.strip().startswith("```"):
            in_code = not in_code
            lines.append(line.strip())
        else:
            lines.append(line.rstrip() if in_code else line.strip())
    return tidy("\n".join(lines))
