"""The course index in Milvus: one collection per course, dense and BM25 search, fused.

The same code serves Milvus Lite (a local database path) and a Milvus server (an
http(s) or tcp URI). BM25 needs Milvus >= 2.5 or Milvus Lite; an older server gets
dense search only, with one logged notice.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from models import Chunk, Locator, SearchHit, SearchMode
from rag.errors import IndexOperationError, IndexUnavailableError, UnknownCourseIndexError
from rag.lexical import bm25_text
from rag.lite_server import shared_server_uri
from rag.milvus_lock import MilvusLiteLock

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")

# The vector comes back so every hit gets a cosine similarity to the question, a relevance
# figure that means the same in every search mode (fused scores do not).
OUTPUT_FIELDS = ["source", "title", "headings", "locator", "url", "text", "dense"]
# Milvus caps a VARCHAR at 65,535 bytes.
MAX_VARCHAR = 65_535
INSERT_BATCH = 256
@dataclass(frozen=True)
class Fusion:
    """How dense and BM25 results are combined in hybrid search."""

    method: str = "weighted"
    """`weighted` (normalised scores, weighted sum) or `rrf` (reciprocal rank fusion).

    Weighted 0.6/0.4 is the default because it measured best on the eval set
    (`python -m bench.retrieval`); plain RRF ranked the gold section lower there.
    """
    dense_weight: float = 0.6
    rrf_k: int = 60


def _milvus_errors(method: Callable[P, R]) -> Callable[P, R]:
    """A Milvus failure mid-operation (server gone, disk full) becomes one clear `IndexOperationError`."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from pymilvus.exceptions import MilvusException

        try:
            return method(*args, **kwargs)
        except MilvusException as exc:
            index = args[0]
            raise IndexOperationError(
                f"Milvus at {getattr(index, 'uri', '?')} failed ({method.__name__.replace('_', ' ')}): {exc.message or exc}"
            ) from exc

    return wrapper


def collection_name(course: str) -> str:
    """The name searches use: an alias of the course's live generation."""
    return "mentor_" + re.sub(r"[^0-9A-Za-z_]", "_", course)


def generation_name(course: str, fingerprint: str) -> str:
    """The collection built with one fingerprint (index format, embedder, chunking).

    Naming it after what built it means a rebuild interrupted by a crash is found and
    finished by the next run, and never mixed up with the live one.
    """
    return f"{collection_name(course)}__{hashlib.sha1(fingerprint.encode()).hexdigest()[:10]}"


def is_local_uri(uri: str) -> bool:
    """A Milvus Lite database path rather than a server address."""
    return "://" not in uri


class MilvusIndex:
    """Reads and writes course chunks in Milvus.

    Construction is cheap; `connect()` opens the database (or reaches the server) once.

    >>> index = MilvusIndex(".mentor/milvus.db")
    >>> index.search("cs101", "what does break do?", vector, k=5)   # doctest: +SKIP
    """

    def __init__(self, uri: str, token: str | None = None, timeout: float = 10.0) -> None:
        self.uri = uri
        self._token = token
        self._timeout = timeout
        self._client: Any = None
        self._lock = MilvusLiteLock(Path(uri).resolve()) if is_local_uri(uri) else None
        self._server_has_bm25: bool | None = None
        self._collection_has_bm25: dict[str, bool] = {}
        self._noticed_dense_only = False
        self.via_shared_server: str | None = None
        """The loopback server this process reaches a Lite database through, when another process serves it."""
        # While a server is down, every question tries to connect; one attempt at a time.
        self._connect_lock = threading.Lock()

    @property
    def is_local(self) -> bool:
        return self._lock is not None

    def connect(self) -> None:
        if self._client is not None:
            return
        with self._connect_lock:
            if self._client is None:
                self._connect()

    def _connect(self) -> None:
        from pymilvus import MilvusClient
        from pymilvus.exceptions import MilvusException

        uri = self.uri
        if self._lock is not None:
            # `mentor serve` holds the database and serves it on loopback: join it there.
            shared = shared_server_uri(Path(self.uri))
            if shared is not None:
                uri = shared
                self.via_shared_server = shared
            else:
                self._lock.acquire()
                Path(self.uri).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._client = MilvusClient(uri=uri, token=self._token or "", timeout=self._timeout)
            version = self._client.get_server_version()
        except MilvusException as exc:
            self.close()
            where = f"the Milvus Lite database {self.uri}" if self.is_local else f"Milvus at {self.uri}"
            raise IndexUnavailableError(
                f"Cannot open {where}: {exc.message or exc}. "
                + ("Is another program using it?" if self.is_local else "Is the server running? Check MENTOR_MILVUS_URI.")
            ) from exc
        self._server_has_bm25 = _supports_bm25(str(version))
        log.debug("connected to %s (Milvus %s, BM25 %s)", self.uri, version, self._server_has_bm25)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
            if self._lock is not None and self.via_shared_server is None:
                # pymilvus leaves Milvus Lite's in-process server (and its database lock)
                # running until the process exits; another process may want the file now.
                from milvus_lite import server_manager_instance

                server_manager_instance.release_server(self.uri)
        self.via_shared_server = None
        if self._lock is not None:
            self._lock.release()

    @property
    def client(self) -> Any:
        self.connect()
        return self._client

    @_milvus_errors
    def ping(self) -> None:
        """Raises `IndexUnavailableError` or `IndexOperationError` unless Milvus answers now."""
        self.client.get_server_version()

    # -- collections ------------------------------------------------------------------

    @_milvus_errors
    def ensure_collection(self, name: str, dimension: int) -> None:
        """Create a generation's collection if it is missing, and make sure it is loaded."""
        if name not in self.client.list_collections():
            self._create(name, dimension)
        self._load(name)

    @_milvus_errors
    def live_generation(self, course: str) -> str | None:
        """The collection the course's alias points at (searches read it); None before the first ingest.

        An index from before aliases (a plain collection under the alias's name) counts as live.
        """
        alias = collection_name(course)
        collections = self.client.list_collections()
        for name in collections:
            if name.startswith(alias + "__") and alias in self.client.list_aliases(name).get("aliases", []):
                return name
        return alias if alias in collections else None

    @_milvus_errors
    def publish(self, course: str, generation: str) -> None:
        """Point the course's alias at `generation` in one step, then drop the generations it replaced.

        Searches switch from the old collection to the new one between two requests;
        none of them sees an empty or half-built index.
        """
        alias = collection_name(course)
        collections = self.client.list_collections()
        live = self.live_generation(course)
        if live == alias:
            # The pre-alias layout: its collection holds the alias's name, so it must go
            # first. The only moment without an index, once, at the upgrade.
            self.client.drop_collection(alias)
            self._collection_has_bm25.pop(alias, None)
            live = None
        if live is None:
            self.client.create_alias(generation, alias)
        elif live != generation:
            self.client.alter_alias(generation, alias)
        for name in collections:
            if name.startswith(alias + "__") and name != generation:
                self.client.drop_collection(name)
                self._collection_has_bm25.pop(name, None)

    @_milvus_errors
    def drop_course(self, course: str) -> None:
        """Remove the course's alias and every generation of its index."""
        alias = collection_name(course)
        live = self.live_generation(course)
        if live is not None and live != alias:
            self.client.drop_alias(alias)
        for name in self.client.list_collections():
            if name == alias or name.startswith(alias + "__"):
                self.client.drop_collection(name)
                self._collection_has_bm25.pop(name, None)

    def _create(self, name: str, dimension: int) -> None:
        from pymilvus import DataType, Function, FunctionType, MilvusClient

        with_bm25 = bool(self._server_has_bm25)
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
        schema.add_field("source", DataType.VARCHAR, max_length=2048)
        schema.add_field("file_hash", DataType.VARCHAR, max_length=64)
        schema.add_field("title", DataType.VARCHAR, max_length=2048)
        schema.add_field("headings", DataType.VARCHAR, max_length=4096)
        schema.add_field("locator", DataType.VARCHAR, max_length=1024)
        schema.add_field("url", DataType.VARCHAR, max_length=4096)
        schema.add_field("text", DataType.VARCHAR, max_length=MAX_VARCHAR)
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dimension)
        index_params = self.client.prepare_index_params()
        index_params.add_index("dense", index_type="HNSW", metric_type="COSINE", params={"M": 16, "efConstruction": 200})
        if with_bm25:
            # BM25 reads the heading path too: a section's heading often names the topic its body never repeats.
            schema.add_field(
                "search_text",
                DataType.VARCHAR,
                max_length=MAX_VARCHAR,
                enable_analyzer=True,
                analyzer_params={"tokenizer": "standard"},
            )
            schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
            schema.add_function(
                Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["search_text"], output_field_names=["sparse"])
            )
            index_params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        self.client.create_collection(name, schema=schema, index_params=index_params, consistency_level="Strong")
        self._collection_has_bm25[name] = with_bm25

    def _load(self, name: str) -> None:
        # Milvus Lite reopens collections released; a server may have released them too.
        state = self.client.get_load_state(name).get("state")
        if getattr(state, "name", str(state)) != "Loaded":
            self.client.load_collection(name)

    def _has_bm25(self, name: str) -> bool:
        if name not in self._collection_has_bm25:
            fields = self.client.describe_collection(name).get("fields", [])
            self._collection_has_bm25[name] = any(field["name"] == "sparse" for field in fields)
        return self._collection_has_bm25[name]

    # -- writes -------------------------------------------------------------------------

    @_milvus_errors
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
        stale = f"source == {_literal(source)}"
        if keep:
            stale += f" and file_hash not in {_literal(sorted(keep))}"
        self.client.delete(collection, filter=stale)

    @_milvus_errors
    def delete_document(self, collection: str, source: str) -> None:
        if self.client.has_collection(collection):
            self._load(collection)
            self.client.delete(collection, filter=f"source == {_literal(source)}")

    @_milvus_errors
    def finalize(self, collection: str, timeout: float = 300.0) -> None:
        """Seal new rows and wait until they are indexed.

        Until then Milvus Lite scans them row by row, and its background index build
        competes with every search for the CPU.
        """
        if not self.client.has_collection(collection):
            return
        self.client.flush(collection)
        deadline = time.monotonic() + timeout
        for field in ("dense", "sparse") if self._has_bm25(collection) else ("dense",):
            while self.client.describe_index(collection, field).get("pending_index_rows", 0) and time.monotonic() < deadline:
                time.sleep(0.05)

    # -- reads --------------------------------------------------------------------------

    @_milvus_errors
    def count_chunks(self, course: str) -> int:
        name = collection_name(course)
        if not self.client.has_collection(name):
            return 0
        self._load(name)
        rows = self.client.query(name, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"]) if rows else 0

    @_milvus_errors
    def search(
        self,
        course: str,
        query: str,
        vector: list[float],
        *,
        k: int = 5,
        mode: SearchMode = "hybrid",
        fusion: Fusion = Fusion(),
    ) -> list[SearchHit]:
        """The k best sections for a query, at most one hit per page or section."""
        name = collection_name(course)
        if not self.client.has_collection(name):
            raise UnknownCourseIndexError(
                f"The course {course!r} has no index yet: run `mentor ingest --course {course}` first."
            )
        self._load(name)
        if mode != "dense" and not self._has_bm25(name):
            if not self._noticed_dense_only:
                log.warning("Milvus at %s has no BM25 (it needs Milvus >= 2.5): searching dense vectors only", self.uri)
                self._noticed_dense_only = True
            mode = "dense"
        terms = bm25_text(query)
        if not terms:
            # Nothing but stop words: only the dense side can tell one page from another.
            mode = "dense"
        limit = k * 3
        raw = self._search(name, terms, vector, limit, mode, fusion)
        return _distinct_sections(raw, k, vector, negated=mode == "bm25")

    def _search(self, name: str, terms: str, vector: list[float], limit: int, mode: SearchMode, fusion: Fusion) -> list[dict]:
        from pymilvus import AnnSearchRequest, RRFRanker, WeightedRanker

        dense_params = {"metric_type": "COSINE", "params": {"ef": max(64, limit)}}
        bm25_params = {"metric_type": "BM25"}
        if mode == "dense":
            result = self.client.search(name, [vector], anns_field="dense", limit=limit, search_params=dense_params, output_fields=OUTPUT_FIELDS)
        elif mode == "bm25":
            result = self.client.search(name, [terms], anns_field="sparse", limit=limit, search_params=bm25_params, output_fields=OUTPUT_FIELDS)
        else:
            requests = [
                AnnSearchRequest([vector], "dense", dense_params, limit),
                AnnSearchRequest([terms], "sparse", bm25_params, limit),
            ]
            ranker = (
                RRFRanker(fusion.rrf_k)
                if fusion.method == "rrf"
                else WeightedRanker(fusion.dense_weight, 1.0 - fusion.dense_weight, norm_score=True)
            )
            result = self.client.hybrid_search(name, requests, ranker, limit=limit, output_fields=OUTPUT_FIELDS)
        return list(result[0]) if result else []


def _supports_bm25(version: str) -> bool:
    if version.startswith("milvus_lite"):
        return True
    match = re.search(r"(\d+)\.(\d+)", version)
    return bool(match) and (int(match[1]), int(match[2])) >= (2, 5)


def _literal(value: object) -> str:
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
    }
    if with_bm25:
        row["search_text"] = _clip(bm25_text(chunk.embedding_text()))
    return row


def _distinct_sections(raw: list[dict], k: int, query_vector: list[float], negated: bool) -> list[SearchHit]:
    """Keep the best chunk of each page or section, so k hits point at k places.

    A section's similarity is its most similar candidate chunk's, which need not be the
    chunk that ranked first.
    """
    hits: dict[tuple[str, str], SearchHit] = {}
    for item in raw:
        entity = item["entity"]
        key = (entity["source"], entity["locator"])
        similarity = _cosine(query_vector, entity["dense"])
        if key in hits:
            if similarity > (hits[key].similarity or 0.0):
                hits[key] = hits[key].model_copy(update={"similarity": similarity})
            continue
        if len(hits) == k:
            continue
        hits[key] = SearchHit(
            source=entity["source"],
            title=entity["title"],
            headings=tuple(json.loads(entity["headings"] or "[]")),
            locator=Locator.model_validate_json(entity["locator"]),
            url=entity["url"] or None,
            # Milvus Lite reports BM25 scores negated; a BM25 score is never below zero.
            score=abs(float(item["distance"])) if negated else float(item["distance"]),
            text=entity["text"],
            similarity=similarity,
        )
    return list(hits.values())


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0
