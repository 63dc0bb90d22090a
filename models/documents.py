"""Documents as loaders see them, and the chunks the index stores."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

DocumentKind = Literal["pdf", "pptx", "docx", "html", "markdown", "text", "notebook"]


class Locator(BaseModel):
    """Where in a file a piece of text sits: what a citation link points at.

    `page` is the 1-based PDF page or slide number; `anchor` an HTML id or a heading
    slug; `cell` the 1-based notebook cell. A plain text file has none of them.
    """

    model_config = ConfigDict(frozen=True)

    page: int | None = None
    anchor: str | None = None
    cell: int | None = None
    page_label: str | None = None
    """The number printed on the page where the PDF defines one that differs from `page`
    (a manual's "23" on its 29th page); links still open `#page=<page>`."""

    def fragment(self) -> str:
        """The URL fragment a browser understands: `page=N` for PDFs, the anchor otherwise."""
        if self.anchor:
            return self.anchor
        if self.page is not None:
            return f"page={self.page}"
        return ""

    def describe(self) -> str:
        """A short human label, e.g. `p. 3`, `slide 4`, `#loops`, `cell 7`."""
        if self.page is not None:
            return page_text(self.page, self.page_label)
        if self.cell is not None:
            return f"cell {self.cell}"
        if self.anchor:
            return f"#{self.anchor}"
        return ""


def page_text(page: int, label: str | None) -> str:
    """`p. 29`, or `p. 23 (pdf p. 29)` where the page prints its own number."""
    return f"p. {label} (pdf p. {page})" if label else f"p. {page}"


class Section(BaseModel):
    """One page, slide, heading section or notebook cell group of a document."""

    model_config = ConfigDict(frozen=True)

    text: str
    locator: Locator = Locator()
    headings: tuple[str, ...] = ()
    """The heading path this section sits under, outermost first, its own heading last."""


class SourceDoc(BaseModel):
    """A whole file as a loader read it: a title and its sections in reading order."""

    source: str
    """Path relative to the course root, with forward slashes."""
    kind: DocumentKind
    title: str
    sections: list[Section]
    assets: list[str] = []
    """Course-relative names of the files it shows with it (an HTML page's images and
    stylesheets): `/files` serves them because the page is indexed."""


class Chunk(BaseModel):
    """A piece of a document small enough for the embedder to read whole."""

    id: str
    course: str
    source: str
    title: str
    headings: tuple[str, ...] = ()
    text: str
    locator: Locator
    url: str | None = None
    file_hash: str
    release_at: int = 0
    """When the material is released, in UTC epoch seconds (`models.release`); 0: always visible."""
    context: str = ""
    """The heading path embedded before the text, as the chunker capped it to fit the
    embedder's window (`ingest.chunker.heading_context`); empty embeds the text alone."""

    def embedding_text(self) -> str:
        """The text the embedder sees: the heading path first, then the chunk.

        Students ask in their own words; the heading names the topic even where the
        chunk's body never does.
        """
        return f"{self.context}\n{self.text}" if self.context else self.text
