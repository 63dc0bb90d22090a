"""Shared fixtures: the real packaged MiniLM, Milvus Lite in a temp folder, a real Milvus server."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from rag.embedder import SentenceTransformerEmbedder  # noqa: E402
from rag.index import MilvusIndex  # noqa: E402
from rag.llama_cpp_model import LlamaCppModel  # noqa: E402
from rag.model_files import packaged_demo_path  # noqa: E402

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
    """The packaged SmolLM2-135M on llama.cpp: the real model, small enough for every test run."""
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
    """A real MentorApp over the sample course as `cs101`, ingested, with SmolLM2 kept short and greedy."""
    from bot.app import MentorApp
    from bot.settings import LlmSettings, Settings
    from models import Course

    settings = Settings(
        data_dir=data_dir,
        courses=[Course(name="cs101", sources=(EXAMPLE_COURSE,), **course_options)],
        llm=LlmSettings(temperature=0.0, max_tokens=24, n_ctx=2048),
    )
    app = MentorApp(settings)
    app.ingest("cs101")
    return app
