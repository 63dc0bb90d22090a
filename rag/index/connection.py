"""Reaching Milvus: a Milvus Lite database (locked to one process, or joined through the
loopback server `mentor serve` runs) or a Milvus server, and what it supports."""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from rag.errors import IndexOperationError, IndexUnavailableError
from rag.index.memory import MemoryCopies, new_revision
from rag.index.names import collection_name, is_local_uri
from rag.index.pointers import LivePointers
from rag.lite_server import lite_is_cpp, shared_server_uri
from rag.milvus_lock import MilvusLiteLock

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")


def milvus_errors(method: Callable[P, R]) -> Callable[P, R]:
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


class MilvusConnection:
    """One client per index, opened once by `connect()`; the base of `MilvusIndex`'s parts."""

    def __init__(self, uri: str, token: str | None = None, timeout: float = 10.0, memory_rows: int = 200_000) -> None:
        self.uri = uri
        self.memory_rows = memory_rows
        """Milvus Lite 3.x: live generations of up to this many chunks are searched from memory (`memory`); 0 never."""
        self._memory: MemoryCopies | None = None
        self._token = token
        self._timeout = timeout
        self._client: Any = None
        self._lock = MilvusLiteLock(Path(uri).resolve()) if is_local_uri(uri) else None
        self._server_has_bm25: bool | None = None
        self._server_version: str | None = None
        self._collection_fields: dict[str, frozenset[str]] = {}
        self._loading = threading.Lock()
        """One load at a time: two searches that both find a collection released would load it twice,
        and Milvus Lite answers a search that lands between the two with "released"."""
        self._noticed_dense_only = False
        self._noticed_no_release: dict[str, bool] = {}
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
            version = self._version()
        except MilvusException as exc:
            self.close()
            where = f"the Milvus Lite database {self.uri}" if self.is_local else f"Milvus at {self.uri}"
            raise IndexUnavailableError(
                f"Cannot open {where}: {exc.message or exc}. "
                + ("Is another program using it?" if self.is_local else "Is the server running? Check MENTOR_MILVUS_URI.")
            ) from exc
        self._server_version = version
        self._server_has_bm25 = _supports_bm25(version)
        log.debug("connected to %s (Milvus %s, BM25 %s)", self.uri, version, self._server_has_bm25)

    def _version(self) -> str:
        """The engine's version string, asked of the server, which also proves it answers."""
        if self.is_local and lite_is_cpp():
            # Its C++ server has no GetVersion (pymilvus would log the UNIMPLEMENTED as an error).
            import milvus_lite

            self._client.list_collections()
            return f"milvus_lite-{milvus_lite.__version__}"
        return str(self._client.get_server_version())

    @property
    def is_lite2(self) -> bool:
        """Milvus Lite 2.x, the C++ build of Milvus: fast, but no aliases (see `pointers`) and no HNSW."""
        return self.is_local and lite_is_cpp()

    def searched_collection(self, course: str) -> str:
        """The name a search of the course reads: its alias, or on Milvus Lite 2.x the generation it points at."""
        alias = collection_name(course)
        return (self._pointers.get(alias) or alias) if self.is_lite2 else alias

    @property
    def _pointers(self) -> LivePointers:
        return LivePointers(Path(self.uri))

    def engine(self) -> str:
        """What serves this index, for `mentor status` and benchmarks: `milvus-lite 3.2.2 (embedded)`,
        `milvus-lite 3.2.2 (via http://127.0.0.1:PORT)` or `Milvus 2.5.4 at http://host:19530`."""
        self.connect()
        version = self._server_version or "?"
        if not version.startswith("milvus_lite"):
            return f"Milvus {version} at {self.uri}"
        where = f"via {self.via_shared_server}" if self.via_shared_server else "embedded"
        return f"milvus-lite {version.removeprefix('milvus_lite').lstrip('-_ ')} ({where})"

    def close(self) -> None:
        if self._memory is not None:
            self._memory.close()
            self._memory = None
        if self._client is not None:
            self._client.close()
            self._client = None
            if self._lock is not None and self.via_shared_server is None:
                # pymilvus leaves Milvus Lite's in-process server (and its database lock)
                # running until the process exits; another process may want the file now.
                from milvus_lite.server_manager import server_manager_instance

                server_manager_instance.release_server(self.uri)
        self.via_shared_server = None
        if self._lock is not None:
            self._lock.release()

    @property
    def client(self) -> Any:
        self.connect()
        return self._client

    @milvus_errors
    def ping(self) -> None:
        """Raises `IndexUnavailableError` or `IndexOperationError` unless Milvus answers now."""
        self.client.get_server_version()

    def _load(self, name: str) -> None:
        self._load_with(self.client, name)

    def _load_with(self, client: Any, name: str) -> None:
        # Milvus Lite reopens collections released; a server may have released them too.
        with self._loading:
            state = client.get_load_state(name).get("state")
            if getattr(state, "name", str(state)) != "Loaded":
                client.load_collection(name)

    @property
    def searches_from_memory(self) -> bool:
        """Milvus Lite 3.x (embedded or through its loopback server), unless `memory_rows` is 0.

        Its pure-Python engine is what memory copies make fast; Lite 2.x and Milvus servers search in C++.
        """
        return self.memory_rows > 0 and self.is_local and not lite_is_cpp()

    @property
    def memory(self) -> MemoryCopies:
        """This client's copies of live generations (only used where `searches_from_memory`)."""
        client = self.client
        if self._memory is None:
            self._memory = MemoryCopies(client, self.memory_rows, self._load_with)
        return self._memory

    def _changed(self, collection: str) -> None:
        """Tell every process's memory copy that `collection`'s rows changed (see `rag.index.memory`)."""
        if self.searches_from_memory:
            self.client.alter_collection_properties(collection, new_revision())

    def _fields(self, name: str) -> frozenset[str]:
        if name not in self._collection_fields:
            fields = self.client.describe_collection(name).get("fields", [])
            self._collection_fields[name] = frozenset(field["name"] for field in fields)
        return self._collection_fields[name]

    def _has_bm25(self, name: str) -> bool:
        return "sparse" in self._fields(name)

    def _has_release(self, name: str) -> bool:
        """Rows carry `release_at`; a collection built before release dates has none until it is rebuilt.

        Only a yes is remembered: an alias (what searches name) moves to a rebuilt generation, maybe
        published by another process, and from then on its release times must be honoured.
        """
        if "release_at" not in self._fields(name):
            self._collection_fields.pop(name, None)
            return "release_at" in self._fields(name)
        return True


def _supports_bm25(version: str) -> bool:
    """Milvus and Milvus Lite alike have the BM25 function from 2.5 on (`milvus_lite-3.2.2`, `v2.5.4`)."""
    match = re.search(r"(\d+)\.(\d+)", version)
    return bool(match) and (int(match[1]), int(match[2])) >= (2, 5)
