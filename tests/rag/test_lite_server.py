"""SharedLiteServer: one Milvus Lite database served to several real processes over loopback."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from pymilvus import DataType, MilvusClient

from rag.errors import IndexLockedError, IndexUnavailableError
from rag.index import MilvusIndex
from rag.lite_server import SharedLiteServer, advert_path, shared_server_uri
from rag.milvus_lock import MilvusLiteLock
from tests.conftest import REPO, free_port

# The stand-in for `mentor serve`: serve the database, say where, run until killed.
SERVE = """
import sys, time
from pathlib import Path
from rag.lite_server import SharedLiteServer
server = SharedLiteServer(Path(sys.argv[1]))
print(server.start(), flush=True)
while True:
    time.sleep(60)
"""

# The stand-in for `mentor ingest` from another shell: find the server, write through it.
WRITE_THROUGH_SERVER = """
import sys
from pathlib import Path
from pymilvus import MilvusClient
from rag.lite_server import shared_server_uri
client = MilvusClient(uri=shared_server_uri(Path(sys.argv[1])))
client.insert("shared", [{"id": i, "vector": [float(i), 1.0, 0.0, 0.0]} for i in range(100, 105)])
client.flush("shared")
client.close()
"""

STARTUP_S = 30.0


def python(script: str, *args: str, **options: Any) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "GRPC_VERBOSITY": "NONE"}
    return subprocess.Popen([sys.executable, "-c", script, *args], cwd=REPO, env=env, text=True, **options)


@contextmanager
def serving_process(db: Path, log: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A separate process serving `db`; yields it and the URI it printed, and always kills it."""
    with log.open("w") as stderr:
        proc = python(SERVE, str(db), stdout=subprocess.PIPE, stderr=stderr)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], STARTUP_S)
        uri = proc.stdout.readline().strip() if ready else ""
        assert uri.startswith("http://127.0.0.1:"), f"server did not start: {log.read_text()}"
        yield proc, uri
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()


def create_and_fill(client: MilvusClient, ids: range) -> None:
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=4)
    index_params = client.prepare_index_params()
    index_params.add_index("vector", index_type="FLAT", metric_type="L2")
    client.create_collection("shared", schema=schema, index_params=index_params, consistency_level="Strong")
    client.insert("shared", [{"id": i, "vector": [float(i), 1.0, 0.0, 0.0]} for i in ids])
    client.flush("shared")


def count(client: MilvusClient) -> int:
    client.load_collection("shared")
    return int(client.query("shared", filter="", output_fields=["count(*)"])[0]["count(*)"])


def nearest(client: MilvusClient, i: int) -> int:
    hits = client.search("shared", [[float(i), 1.0, 0.0, 0.0]], anns_field="vector", limit=1)
    return int(hits[0][0]["id"])


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "data" / "milvus.db"


def test_two_processes_share_one_database_through_the_server(db: Path, tmp_path: Path) -> None:
    with serving_process(db, tmp_path / "serve.log") as (proc, uri):
        assert shared_server_uri(db) == uri
        advert = json.loads(advert_path(db).read_text())
        assert advert["pid"] == proc.pid and advert["uri"] == uri
        assert advert["command"][-1] == str(db) and advert["started_at"]

        first = MilvusClient(uri=uri)
        create_and_fill(first, range(10))
        assert nearest(first, 3) == 3

        writer = python(WRITE_THROUGH_SERVER, str(db))
        try:
            assert writer.wait(timeout=STARTUP_S) == 0
        finally:
            writer.kill()

        second = MilvusClient(uri=uri)
        assert count(second) == 15
        assert nearest(second, 7) == 7 and nearest(second, 102) == 102
        assert count(first) == 15
        first.close()
        second.close()


def test_an_index_on_a_served_database_joins_the_server_and_a_second_server_is_refused(db: Path, tmp_path: Path) -> None:
    with serving_process(db, tmp_path / "serve.log") as (proc, uri):
        client = MilvusClient(uri=uri)
        create_and_fill(client, range(4))
        client.close()
        index = MilvusIndex(str(db))
        index.connect()
        assert index.via_shared_server == uri
        assert count(index.client) == 4
        index.close()
        with pytest.raises(IndexLockedError, match=f"process {proc.pid} "):
            SharedLiteServer(db).start()
        # The refused newcomer leaves the running server's advert alone.
        assert shared_server_uri(db) == uri


def test_a_killed_server_leaves_no_live_advert_and_its_data_survives(db: Path, tmp_path: Path) -> None:
    with serving_process(db, tmp_path / "serve.log") as (proc, uri):
        client = MilvusClient(uri=uri)
        create_and_fill(client, range(10))
        client.close()
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert advert_path(db).exists()

        assert shared_server_uri(db) is None
        assert not advert_path(db).exists()

    # Same port straight away: a restarted `mentor serve --port N` must not wait for the old socket.
    server = SharedLiteServer(db, port=int(uri.rsplit(":", 1)[1]))
    try:
        assert server.start() == uri
        client = MilvusClient(uri=uri)
        assert count(client) == 10 and nearest(client, 4) == 4
        client.close()
    finally:
        server.stop()


def test_stop_removes_the_advert_and_frees_the_database(db: Path) -> None:
    server = SharedLiteServer(db)
    uri = server.start()
    assert server.uri == uri and shared_server_uri(db) == uri

    server.stop()
    server.stop()
    assert server.uri is None
    assert not advert_path(db).exists() and shared_server_uri(db) is None
    # Last: pymilvus keeps a directly opened Lite database open until this process exits.
    index = MilvusIndex(str(db))
    index.connect()
    index.close()


def test_a_second_server_in_the_same_process_is_refused(db: Path) -> None:
    first = SharedLiteServer(db)
    first.start()
    try:
        with pytest.raises(IndexLockedError, match=f"process {os.getpid()} "):
            SharedLiteServer(db).start()
        assert shared_server_uri(db) == first.uri
    finally:
        first.stop()
    second = SharedLiteServer(db)
    try:
        assert second.start().startswith("http://127.0.0.1:")
    finally:
        second.stop()


def test_a_port_in_use_is_refused_rather_than_shared(tmp_path: Path) -> None:
    # gRPC binds with SO_REUSEPORT: without the check both would bind and split the traffic.
    port = free_port()
    first = SharedLiteServer(tmp_path / "a.db", port=port)
    first.start()
    try:
        with pytest.raises(IndexUnavailableError, match=f"Port {port} "):
            SharedLiteServer(tmp_path / "b.db", port=port).start()
        other = SharedLiteServer(tmp_path / "b.db")
        assert other.start() != first.uri
        other.stop()
    finally:
        first.stop()


def test_an_advert_is_trusted_only_while_its_process_and_port_are_live(db: Path) -> None:
    # The lock is held, as by a process that opened the database directly after a server died.
    lock = MilvusLiteLock(db.resolve())
    lock.acquire()
    try:
        advert = advert_path(db)
        advert.write_text("{not json")
        assert shared_server_uri(db) is None

        gone = python("import os; print(os.getpid())", stdout=subprocess.PIPE)
        try:
            pid = int(gone.communicate(timeout=STARTUP_S)[0])
        finally:
            gone.kill()
        advert.write_text(json.dumps({"pid": pid, "uri": f"http://127.0.0.1:{free_port()}"}))
        assert shared_server_uri(db) is None

        advert.write_text(json.dumps({"pid": os.getpid(), "uri": f"http://127.0.0.1:{free_port()}"}))
        started = time.monotonic()
        assert shared_server_uri(db) is None
        assert time.monotonic() - started < 1.5
    finally:
        lock.release()
    assert shared_server_uri(db) is None and not advert.exists()
