"""Citation links: a course's public base URL plus the file and the place in it."""

from __future__ import annotations

from urllib.parse import quote

from models import Locator


def citation_url(base_url: str | None, source: str, locator: Locator) -> str | None:
    """`{base}/{file}#page=N` for a PDF page, `#anchor` for a section; None without a base URL.

    >>> citation_url("https://cs101.example.edu/notes", "week 1/loops.pdf", Locator(page=3))
    'https://cs101.example.edu/notes/week%201/loops.pdf#page=3'
    """
    if not base_url:
        return None
    url = f"{base_url.rstrip('/')}/{quote(source)}"
    fragment = locator.fragment()
    return f"{url}#{quote(fragment, safe='=-_.~')}" if fragment else url
