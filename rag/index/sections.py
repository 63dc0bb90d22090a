"""Whole pages and sections: every stored chunk of the places a search found.

Search returns one chunk per page or section (its best); quote mode reads the others too,
since the sentence that answers can sit in a sibling chunk of the same section.
"""

from __future__ import annotations

from collections.abc import Sequence

from models import Locator
from rag.index.connection import MilvusConnection, milvus_errors
from rag.index.names import collection_name
from rag.index.writes import QUERY_WINDOW, literal

Place = tuple[str, Locator]
"""A page or section: its source file and locator, as search keys its hits."""


class Sections(MilvusConnection):
    @milvus_errors
    def section_chunks(self, course: str, places: Sequence[Place]) -> dict[Place, list[str]]:
        """The texts of each place's chunks in document order, in one query for all of them.

        A place with no chunks left (a reindex removed it since the search) is missing.
        """
        name = collection_name(course)
        if not places or not self.client.has_collection(name):
            return {}
        self._load(name)
        wanted = " or ".join(
            f"(source == {literal(source)} and locator == {literal(locator.model_dump_json(exclude_none=True))})"
            for source, locator in dict.fromkeys(places)
        )
        rows = self.client.query(name, filter=wanted, output_fields=["id", "source", "locator", "text"], limit=QUERY_WINDOW)
        found: dict[Place, list[str]] = {}
        # Chunk ids end in the chunk's place in its document, zero-padded: their order is the text's.
        for row in sorted(rows, key=lambda row: row["id"]):
            found.setdefault((row["source"], Locator.model_validate_json(row["locator"])), []).append(row["text"])
        return found
