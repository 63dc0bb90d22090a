"""The course index in Milvus: one collection per course, dense and BM25 search, fused.

The same code serves Milvus Lite (a local database path) and a Milvus server (an
http(s) or tcp URI). BM25 needs Milvus >= 2.5 or Milvus Lite; an older server gets
dense search only, with one logged notice.

One class in five parts, each a module: `connection` (the client, the Lite lock, what
the server supports), `generations` (the alias and the collections behind it),
`writes` (rows in, sealed and indexed), `search` (dense, BM25, fused; one hit per
section) and `sections` (every chunk of the sections found). `names` says what each
collection is called; `memory` keeps the copies Milvus Lite 3.x courses are searched from.
"""

from __future__ import annotations

from rag.index.generations import Generations
from rag.index.names import collection_name, generation_name, is_local_uri
from rag.index.search import Fusion, Search
from rag.index.sections import Place, Sections
from rag.index.writes import INSERT_BATCH, Writes

__all__ = ["INSERT_BATCH", "Fusion", "MilvusIndex", "Place", "collection_name", "generation_name", "is_local_uri"]


class MilvusIndex(Generations, Writes, Search, Sections):
    """Reads and writes course chunks in Milvus.

    Construction is cheap; `connect()` opens the database (or reaches the server) once.

    >>> index = MilvusIndex(".mentor/milvus.db")
    >>> index.search("cs101", "what does break do?", vector, k=5)   # doctest: +SKIP
    """
