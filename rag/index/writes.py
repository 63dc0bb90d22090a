"""Writing a course's chunks: one document's rows replaced at a time, then sealed and indexed."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping

from models import ALWAYS, Chunk, Locator
from rag.errors import IndexOperationError
from rag.index.connection import MilvusConnection, milvus_errors
from rag.lexical import bm25_text

log = logging.getLogger(__name__)

# Milvus caps a VARCHAR at 65,535 bytes.
MAX_VARCHAR = 65_535
INSERT_BATCH = 256
# The most rows one Milvus query returns.
QUERY_WINDOW = 16_384
STORED_FIELDS = ["id", "source", "file_hash", "title", "headings", "locator", "url", "text", "release_at"]
# Sources asked about in one filter expression.
SOURCE_BATCH = 512


class Writes(MilvusConnection):
    @milvus_errors
    def write_document(self, collection: str, source: str, chunks: list[Chunk], vectors: list[list[float]]) -> None:
        """Replace one document's chunks: the new ones land before the old ones go.

        A search running meanwhile sees the old version, both, or the new one, never
        neither; a crash between the two steps leaves stale rows that the next write of
        the same file removes.
        """
        with_bm25 = self._has_bm25(collection)
        rows = [_row(chunk, vector, with_bm25) for chunk, vector in zip(chunks, vectors, strict=True)]
        for start in range(0, len(rows), INSERT_BATCH):
            self.client.upsert(collection, rows[start : start + INSERT_BATCH])
        keep = {chunk.file_hash for chunk in chunks}
        stale = f"source == {literal(source)}"
        if keep:
            stale += f" and file_hash not in {literal(sorted(keep))}"
        self.client.delete(collection, filter=stale)
        self._changed(collection)

    @milvus_errors
    def delete_document(self, collection: str, source: str) -> None:
        if self.client.has_collection(collection):
            self._load(collection)
            self.client.delete(collection, filter=f"source == {literal(source)}")
            self._changed(collection)

    @milvus_errors
    def document_chunks(self, collection: str, course: str, source: str) -> list[Chunk]:
        """One document's chunks as stored, in order, without vectors or heading context.

        What a rebuild carries over for a file it cannot read; up to 16,384 chunks (Milvus's
        query window), far more than any one course file makes.
        """
        if not self.client.has_collection(collection):
            return []
        self._load(collection)
        fields = [field for field in STORED_FIELDS if field in self._fields(collection)]
        rows = self.client.query(collection, filter=f"source == {literal(source)}", output_fields=fields, limit=QUERY_WINDOW)
        return [
            Chunk(
                id=row["id"],
                course=course,
                source=row["source"],
                title=row["title"],
                headings=tuple(json.loads(row["headings"] or "[]")),
                text=row["text"],
                locator=Locator.model_validate_json(row["locator"]),
                url=row["url"] or None,
                file_hash=row["file_hash"],
                release_at=row.get("release_at", ALWAYS),
            )
            for row in sorted(rows, key=lambda row: row["id"])
        ]

    @milvus_errors
    def stale_releases(self, collection: str, wanted: Mapping[str, int]) -> set[str]:
        """The sources among `wanted` whose rows carry another release time than the one given.

        One query per distinct release time (a term has a few dozen) and batch of sources,
        so a reindex finds the dates the config moved without reading any file again.
        """
        if not wanted or not self.client.has_collection(collection):
            return set()
        self._load(collection)
        by_time: dict[int, list[str]] = {}
        for source, release_at in wanted.items():
            by_time.setdefault(release_at, []).append(source)
        stale: set[str] = set()
        for release_at, sources in by_time.items():
            for start in range(0, len(sources), SOURCE_BATCH):
                pending = sources[start : start + SOURCE_BATCH]
                while pending:
                    rows = self.client.query(
                        collection,
                        filter=f"source in {literal(pending)} and release_at != {int(release_at)}",
                        output_fields=["source"],
                        limit=QUERY_WINDOW,
                    )
                    found = {row["source"] for row in rows}
                    stale |= found
                    # A full window may hide more sources: ask again without the ones found.
                    pending = [source for source in pending if source not in found] if len(rows) == QUERY_WINDOW else []
        return stale

    @milvus_errors
    def set_release(self, collection: str, source: str, release_at: int) -> int:
        """Give one document's rows a new release time, keeping their vectors: no re-embedding. Returns the rows moved."""
        self._load(collection)
        fields = [*STORED_FIELDS, "dense"] + (["search_text"] if self._has_bm25(collection) else [])
        rows = self.client.query(collection, filter=f"source == {literal(source)}", output_fields=fields, limit=QUERY_WINDOW)
        moved = [{**{field: row[field] for field in fields}, "release_at": int(release_at)} for row in rows]
        for start in range(0, len(moved), INSERT_BATCH):
            self.client.upsert(collection, moved[start : start + INSERT_BATCH])
        self._changed(collection)
        return len(moved)

    @milvus_errors
    def finalize(self, collection: str, timeout: float = 300.0) -> None:
        """Seal new rows and wait until they are indexed.

        Until then Milvus Lite scans them row by row, and its background index build
        competes with every search for the CPU. A name that is not a collection (a course's
        name instead of its generation's) is an error: returning would leave rows unsealed.
        """
        if not self.client.has_collection(collection):
            raise IndexOperationError(f"Cannot finalize {collection!r}: there is no such collection (pass a generation's name).")
        self.client.flush(collection)
        deadline = time.monotonic() + timeout
        for field in ("dense", "sparse") if self._has_bm25(collection) else ("dense",):
            while self.client.describe_index(collection, field).get("pending_index_rows", 0):
                if time.monotonic() >= deadline:
                    log.warning("%s: the %s index is still building after %.0f s; searches scan the rest meanwhile", collection, field, timeout)
                    break
                time.sleep(0.05)


def literal(value: object) -> str:
    """A Milvus filter literal; JSON's escaping is what the expression parser reads."""
    return json.dumps(value, ensure_ascii=False)


def _clip(text: str, limit: int = MAX_VARCHAR) -> str:
    encoded = text.encode()
    return text if len(encoded) <= limit else encoded[:limit].decode(errors="ignore")


def _row(chunk: Chunk, vector: list[float], with_bm25: bool) -> dict[str, object]:
    row: dict[str, object] = {
        "id": chunk.id,
        "source": _clip(chunk.source, 2048),
        "file_hash": chunk.file_hash,
        "title": _clip(chunk.title, 2048),
        "headings": _clip(json.dumps(list(chunk.headings), ensure_ascii=False), 4096),
        "locator": chunk.locator.model_dump_json(exclude_none=True),
        "url": _clip(chunk.url or "", 4096),
        "text": _clip(chunk.text),
        "dense": vector,
        "release_at": chunk.release_at,
    }
    if with_bm25:
        row["search_text"] = _clip(bm25_text(chunk.embedding_text()))
    return row
