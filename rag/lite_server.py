"""Milvus Lite shared over loopback gRPC, so one database serves several processes.

Milvus Lite admits one process per database. `mentor serve` holds it open for
hours, so it serves it on 127.0.0.1 instead and leaves an advert beside the
database; `mentor ingest` or `mentor reindex` in another shell finds the advert
and connects to that server rather than opening the file.
"""

from __future__ import annotations

import errno
import functools
import json
import os
import socket
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rag.errors import IndexLockedError, IndexUnavailableError
from rag.milvus_lock import MilvusLiteLock
from rag.owned_lock import OwnedLock

HOST = "127.0.0.1"
# How long in-flight requests get to finish when the server stops.
STOP_GRACE_S = 2.0
# A live server on loopback accepts at once; a dead port refuses at once.
CONNECT_TIMEOUT_S = 1.0
# Milvus Lite 2.x's C++ server opens its port about half a second after it starts.
LITE2_STARTUP_S = 30.0
# ... and closes it within a moment of losing its lock (70 ms measured on an idle machine).
LITE2_EXIT_S = 10.0


def advert_path(db_path: Path) -> Path:
    """`<db>.server.json` beside the database: where its server says where to reach it."""
    db_path = db_path.resolve()
    return db_path.with_name(db_path.name + ".server.json")


class SharedLiteServer:
    """Milvus Lite served on loopback for every process of this data folder.

    Keep the object referenced while it serves: the lock lives in it, and
    dropping it would leave a server running on a database no longer guarded.
    """

    def __init__(self, db_path: Path, port: int = 0) -> None:
        self.db_path = db_path.resolve()
        self.port = port
        self._lock = MilvusLiteLock(self.db_path)
        self._server: Any = None
        self._db: Any = None
        self._child: Any = None
        self._uri: str | None = None

    @property
    def uri(self) -> str | None:
        return self._uri

    def start(self) -> str:
        """Open the database, serve it and advertise it; the lock refuses a second server or a direct opener."""
        if self._uri is not None:
            return self._uri
        self._lock.acquire()
        try:
            if self.port:
                # A killed `mentor serve` on Lite 2.x leaves its C++ server to notice the dropped lock and exit.
                _ensure_port_free(self.port, patience_s=LITE2_EXIT_S if lite_is_cpp() else 0.0)
            port = self._serve_lite2() if lite_is_cpp() else self._serve_lite3()
            self._uri = f"http://{HOST}:{port}"
            _write_advert(advert_path(self.db_path), self._uri)
        except BaseException:
            self.stop()
            raise
        return self._uri

    def _serve_lite3(self) -> int:
        """Milvus Lite 3.x: its Python engine, served from a thread of this process."""
        from milvus_lite.adapter.grpc.server import start_server_in_thread
        from milvus_lite.exceptions import DataDirLockedError

        try:
            self._server, self._db, port = start_server_in_thread(data_dir=str(self.db_path), host=HOST, port=self.port)
        except DataDirLockedError as exc:
            raise _opened_elsewhere(self.db_path) from exc
        return port

    def _serve_lite2(self) -> int:
        """Milvus Lite 2.x: its C++ server, a child process that exits when this one does (see `_watched_server_class`)."""
        port = self.port or _any_free_port()
        server = _watched_server_class()(str(self.db_path), f"{HOST}:{port}")
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        if not server.start():
            raise _opened_elsewhere(self.db_path)
        self._child = server
        deadline = time.monotonic() + LITE2_STARTUP_S
        while True:
            try:
                with socket.create_connection((HOST, port), timeout=CONNECT_TIMEOUT_S):
                    return port
            except OSError:
                if time.monotonic() >= deadline:
                    raise IndexUnavailableError(f"Milvus Lite did not start serving {self.db_path} on port {port}.") from None
                time.sleep(0.1)

    def stop(self) -> None:
        """Stop advertising first, so no client is sent to a server on its way down."""
        advert = advert_path(self.db_path)
        try:
            if self._uri is not None:
                advert.unlink(missing_ok=True)
            if self._child is not None:
                self._child.stop()
            if self._server is not None:
                self._server.stop(grace=STOP_GRACE_S).wait(STOP_GRACE_S + 1)
            if self._db is not None:
                self._db.close()
        finally:
            self._server = self._db = self._child = self._uri = None
            self._lock.release()


def _opened_elsewhere(db_path: Path) -> IndexLockedError:
    # Opened without our lock: a bare pymilvus script, or pymilvus in this very process,
    # which keeps a directly opened database until the process exits.
    return IndexLockedError(
        f"The index database {db_path} is open in another program or an earlier direct "
        "connection of this one: stop it and start again."
    )


@functools.cache
def lite_is_cpp() -> bool:
    """Milvus Lite 2.x is installed: the C++ build of Milvus, run as a child process (3.x is Python, in process)."""
    import milvus_lite

    return int(milvus_lite.__version__.split(".")[0]) < 3


def _watched_server_class() -> type:
    from milvus_lite.server import Server

    class WatchedServer(Server):
        """Milvus Lite 2.x's server on a TCP address, told which lock file to watch.

        Its own `Server` passes the lock file only when it serves a Unix socket; without it
        the C++ server outlives a killed `mentor serve` and keeps the port and the database.
        With it, the server exits as soon as the kernel drops this process's lock.
        """

        @property
        def args(self) -> list[str]:
            return [*super().args, self._lock_path]

    return WatchedServer


def shared_server_uri(db_path: Path) -> str | None:
    """The URI of the server advertised for this database, only if it is live.

    A server killed outright leaves its advert behind; the lock it held is what
    tells a stale advert from a live one, so a client is never sent to a dead port.
    """
    advert = advert_path(db_path)
    if not advert.exists() or _remove_if_unheld(advert, MilvusLiteLock(db_path.resolve()).path):
        return None
    try:
        record = json.loads(advert.read_text())
        uri, pid = str(record["uri"]), int(record["pid"])
        address = urlsplit(uri)
        host, port = address.hostname, address.port
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if host is None or port is None or not _alive(pid):
        return None
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S):
            return uri
    except OSError:
        return None


def _write_advert(path: Path, uri: str) -> None:
    record = {
        "pid": os.getpid(),
        "uri": uri,
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": sys.orig_argv,
    }
    # Written aside and renamed, so a reader never sees half an advert.
    partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    partial.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(partial, path)


def _remove_if_unheld(advert: Path, lock_path: Path) -> bool:
    """Remove the advert if no process holds the database lock; True when it was stale.

    The removal happens while this probe holds the lock, so it cannot race a new
    server, which takes the lock before it writes its advert.
    """
    with OwnedLock(lock_path).unless_held() as unheld:
        if unheld:
            advert.unlink(missing_ok=True)
        return unheld


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _any_free_port() -> int:
    """Milvus Lite 2.x cannot be asked for port 0 and say which it took: pick one for it."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def _ensure_port_free(port: int, patience_s: float = 0.0) -> None:
    """Refuse a port another program listens on (after `patience_s`, for one on its way out).

    gRPC binds with SO_REUSEPORT, so a second gRPC server on the same port binds
    without error and the kernel splits connections between two databases. A
    plain bind (without SO_REUSEPORT) is refused by any listener there.
    """
    deadline = time.monotonic() + patience_s
    while True:
        with socket.socket() as probe:
            # Tolerate connections in TIME_WAIT from a server that just went away.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((HOST, port))
                return
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
        if time.monotonic() >= deadline:
            raise IndexUnavailableError(f"Port {port} on {HOST} is already in use: choose another port, or 0 for any free one.")
        time.sleep(0.1)
