"""Shared fixtures: the real packaged MiniLM, Milvus Lite in a temp folder, a real Milvus server,
a real Redis server, a real PostgreSQL server; and small helpers for waiting on a child process or a condition."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from ingest.manifest import Manifest  # noqa: E402
from rag.embedder import SentenceTransformerEmbedder  # noqa: E402
from rag.index import MilvusIndex  # noqa: E402
from rag.llama_cpp_model import LlamaCppModel  # noqa: E402
from rag.model_files import packaged_demo_path  # noqa: E402
from rag.model_probe import ModelProbe  # noqa: E402
from tests.postgres_server import PostgresServer  # noqa: E402

if TYPE_CHECKING:
    from bot.app import MentorApp

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_COURSE = REPO / "examples" / "course"
EVAL_COURSE = REPO.parent / "shared" / "eval" / "course"


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    model = SentenceTransformerEmbedder()
    model.warm_up()
    return model


@pytest.fixture(scope="session")
def smollm2() -> LlamaCppModel:
    """The packaged SmolLM2-135M on llama.cpp: the real model, small enough for every test run.

    Probed in a child first: a llama.cpp build that crashes this machine fails the tests
    that need it, with the reason, instead of killing pytest before it can say anything.
    """
    verdict = ModelProbe(None).check(packaged_demo_path())
    if problem := verdict.problem(packaged_demo_path()):
        pytest.fail(problem)
    model = LlamaCppModel(packaged_demo_path(), n_ctx=2048)
    model.load()
    return model


@pytest.fixture
def lite_index(tmp_path: Path) -> Iterator[MilvusIndex]:
    index = MilvusIndex(str(tmp_path / "milvus.db"))
    index.connect()
    yield index
    index.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def milvus_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real standalone Milvus 2.3 (the `milvus` package) on 127.0.0.1: no BM25 there."""
    from milvus import MilvusServer

    server = MilvusServer()
    server.set_base_dir(str(tmp_path_factory.mktemp("milvus-server")))
    server.listen_port = free_port()
    server.start()
    try:
        yield f"http://127.0.0.1:{server.listen_port}"
    finally:
        server.stop()


@pytest.fixture
def server_index(milvus_server: str) -> Iterator[MilvusIndex]:
    index = MilvusIndex(milvus_server)
    index.connect()
    yield index
    for name in index.client.list_collections():
        for alias in index.client.list_aliases(name).get("aliases", []):
            index.client.drop_alias(alias)
        index.client.drop_collection(name)
    index.close()


def example_course_app(data_dir: Path, **course_options: object) -> MentorApp:
    """A real MentorApp over the sample course as `cs101`, ingested, with SmolLM2 kept short and greedy
    and writing the answers (not quoting them), so the adapters' streaming is exercised. Repeat links
    are off: the tests ask the same question again and again (`test_repeats` turns them on)."""
    from bot.app import MentorApp
    from bot.config.sections import AnswerSettings
    from bot.config.settings import LlmSettings, Settings
    from models import Course

    settings = Settings(
        data_dir=data_dir,
        courses=[Course(name="cs101", sources=(EXAMPLE_COURSE,), **course_options)],
        llm=LlmSettings(temperature=0.0, max_tokens=24, n_ctx=2048),
        answer=AnswerSettings(mode="generate", repeat_similarity=0),
    )
    app = MentorApp(settings)
    app.ingest("cs101")
    return app


def read_until(stream: IO[str], marker: str, limit: int = 200) -> list[str]:
    """Lines of a child's output up to the one containing `marker` (which must come)."""
    lines: list[str] = []
    while len(lines) < limit:
        line = stream.readline()
        if not line:
            break
        lines.append(line)
        if marker in line:
            return lines
    raise AssertionError(f"{marker!r} never came: {lines}")


async def until(predicate: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Poll `predicate()` (for state the fake does not see, like the question log) until truthy."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)
    return predicate()


def start_redis(port: int, *extra: str) -> subprocess.Popen[bytes]:
    """A throwaway redis-server on 127.0.0.1:`port`, no persistence, answering PING when returned."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed; `apt-get install redis-server` (CI installs it)")
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    probe = redis.Redis(host="127.0.0.1", port=port, socket_timeout=0.5, retry=Retry(NoBackoff(), 0))
    deadline = time.monotonic() + 10
    while True:
        try:
            probe.ping()
            break
        except redis.AuthenticationError:
            break  # It answers; this probe just has no password.
        except redis.ConnectionError:
            if server.poll() is not None or time.monotonic() > deadline:
                stop_redis(server)
                raise RuntimeError(f"redis-server on port {port} did not start") from None
            time.sleep(0.05)
    probe.close()
    return server


def stop_redis(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    port = free_port()
    server = start_redis(port)
    yield f"redis://127.0.0.1:{port}/0"
    stop_redis(server)


def start_postgres() -> PostgresServer:
    """A real PostgreSQL server; skips the test, saying what to install, where none can be had."""
    try:
        return PostgresServer.start(free_port())
    except LookupError as missing:
        pytest.skip(str(missing))


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One server for the whole run; each test that needs a database makes its own on it."""
    server = start_postgres()
    yield server
    server.remove()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A fresh, empty database on that server for one test."""
    return postgres_server.new_database()


def catalog_in(folder: Path) -> Manifest:
    """An ingest catalog in a state database of its own, in `folder` (created and migrated)."""
    from bot.store.database import Database

    return Manifest(Database.open(f"sqlite:///{folder / 'state.sqlite'}").engine)


def record_outcomes(job: object, method: str, outcomes: list[object]) -> None:
    """Wrap `job.method` (a scheduled coroutine) so each call's result is appended to `outcomes`:
    how tests see that a firing ran on one replica and was skipped on the others."""
    original = getattr(job, method)

    async def recorded(*arguments: object) -> object:
        outcomes.append(await original(*arguments))
        return outcomes[-1]

    setattr(job, method, recorded)


class FrozenClock:
    """The one clock a `MentorApp` reads (`clock=`), frozen; a test moves it by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now
