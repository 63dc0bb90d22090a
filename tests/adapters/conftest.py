"""Fixtures for the adapters' burst and fault tests: a fake LLM server, and a MentorApp that uses it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.fake_llm import FakeLLM
from bot.app import MentorApp
from bot.config.sections import LlmSettings
from tests.conftest import example_course_app


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLLM]:
    """Streams each answer in 0.2 s, 4 at once, like `llama_cpp.server --parallel 4`."""
    server = FakeLLM(answer_seconds=0.2, slots=4).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def llm_mentor(tmp_path_factory: pytest.TempPathFactory, llm: FakeLLM) -> Iterator[MentorApp]:
    """The example course, answered by `llm` (the generation step is real HTTP streaming)."""
    app = example_course_app(tmp_path_factory.mktemp("burst"))
    app.settings = app.settings.model_copy(update={"llm": LlmSettings(base_url=llm.base_url, model="fake", parallel=4, max_tokens=64)})
    yield app
    app.close()
