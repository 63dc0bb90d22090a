"""What the operator sees: metrics, one log line per question, no secrets in logs, health
that tells why, and a Milvus that is down at startup and comes back."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine
from typer.testing import CliRunner

from bot.app import MentorApp
from bot.cli import app
from bot.config.sections import AnswerSettings, DedupeSettings, LlmSettings, LogSettings, SlackSettings
from bot.config.settings import Settings
from bot.errors import SearchUnavailableError
from bot.ops.health import IndexWatch
from bot.ops.logs import JsonFormatter, apply_log_settings, secret_values
from bot.service.commands import ChatCommands
from bot.service.notices import SEARCH_DOWN
from bot.store.database import Database
from bot.store.question_log import QuestionLog
from models import Course, Question
from rag.llama_cpp_model import LlamaCppModel
from rag.model_files import packaged_demo_path
from tests.conftest import EXAMPLE_COURSE, REPO, example_course_app, free_port, read_until
from tests.rag.crash_gguf import write_crashing_gguf

COVERED = "How do I make a loop stop early?"
NOT_COVERED = "When is the midterm exam, and is it open book?"


@pytest.fixture(scope="module")
def mentor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MentorApp]:
    app = example_course_app(tmp_path_factory.mktemp("ops"))
    yield app
    app.close()


def test_each_question_is_counted_timed_and_logged_once_without_its_text(
    mentor: MentorApp, caplog: pytest.LogCaptureFixture
) -> None:
    commands = ChatCommands(mentor)

    async def scenario() -> None:
        await commands.ask(Question(text=COVERED, platform="web"))
        await commands.ask(Question(text=NOT_COVERED, platform="web"))

    with caplog.at_level(logging.INFO, logger="mentor.questions"):
        asyncio.run(scenario())
    exposition = commands.metrics.exposition().decode()
    assert 'mentor_questions_total{course="cs101",platform="web"} 2.0' in exposition
    assert 'mentor_answers_total{course="cs101",outcome="answer",platform="web"} 1.0' in exposition
    assert 'mentor_answers_total{course="cs101",outcome="not_covered",platform="web"} 1.0' in exposition
    assert "mentor_retrieval_seconds_count 2.0" in exposition
    assert "mentor_generation_seconds_count 1.0" in exposition, "a declined question never reached the model"
    assert "mentor_queue_depth 0.0" in exposition

    records = [r for r in caplog.records if r.name == "mentor.questions"]
    assert len(records) == 2
    lines = [json.loads(JsonFormatter().format(record)) for record in records]
    assert [line["outcome"] for line in lines] == ["answer", "not_covered"]
    assert lines[0]["course"] == "cs101" and lines[0]["platform"] == "web" and lines[0]["citations"] >= 1
    assert lines[0]["retrieve_ms"] > 0 and lines[0]["generate_ms"] > 0 and isinstance(lines[0]["question_id"], int)
    assert all("question" not in line and COVERED not in json.dumps(line) for line in lines)


def test_the_question_text_is_logged_only_when_asked_for(
    mentor: MentorApp, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mentor, "settings", mentor.settings.model_copy(update={"log": LogSettings(question_text=True)}))
    commands = ChatCommands(mentor)
    with caplog.at_level(logging.INFO, logger="mentor.questions"):
        asyncio.run(commands.ask(Question(text=NOT_COVERED, platform="discord")))
    [record] = [r for r in caplog.records if r.name == "mentor.questions"]
    assert json.loads(JsonFormatter().format(record))["question"] == NOT_COVERED


def test_an_unwritable_question_log_costs_the_feedback_link_not_the_answer(mentor: MentorApp, tmp_path: Path) -> None:
    commands = ChatCommands(mentor)
    commands.questions = QuestionLog(Database(create_engine(f"sqlite:///{tmp_path}")))  # a folder: SQLite cannot open it
    answer = asyncio.run(commands.ask(Question(text=COVERED, platform="web")))
    assert answer.kind == "answer" and answer.text and answer.question_id is None


def test_reindex_runs_are_counted_with_their_duration(mentor: MentorApp) -> None:
    commands = ChatCommands(mentor)
    commands.reindexer.reindex("cs101", "cli", "ops test")
    exposition = commands.metrics.exposition().decode()
    assert 'mentor_reindex_runs_total{course="cs101",outcome="ok"} 1.0' in exposition
    assert 'mentor_reindex_seconds_count{course="cs101"} 1.0' in exposition


def test_secrets_from_the_settings_never_reach_a_log_line(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        slack=SlackSettings(bot_token="xoxb-1111-2222-s3cr3tbot", signing_secret="signing-s3cr3t"),
        dedupe=DedupeSettings(backend="redis", redis_url="redis://mentor:r3dis-pass@cache:6379/0"),
    )
    secrets = secret_values(settings)
    assert {"xoxb-1111-2222-s3cr3tbot", "signing-s3cr3t", "redis://mentor:r3dis-pass@cache:6379/0"} <= set(secrets)

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    try:
        for form in ("text", "json"):
            apply_log_settings("INFO", form, secrets)
            log = logging.getLogger("mentor.test")
            log.warning("slack said no to %s", "xoxb-1111-2222-s3cr3tbot")
            try:
                raise RuntimeError("connect to redis://mentor:r3dis-pass@cache:6379/0 failed")
            except RuntimeError:
                log.exception("dedupe store failed")
            log.info("question", extra={"fields": {"token": "signing-s3cr3t"}})
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    written = stream.getvalue()
    assert written.count("[redacted]") >= 6
    for secret in ("s3cr3tbot", "r3dis-pass", "signing-s3cr3t"):
        assert secret not in written
    assert json.loads(written.strip().splitlines()[-1])["token"] == "[redacted]"


def test_a_gpu_asked_for_on_a_cpu_only_build_is_warned_about_once_with_the_fix(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    default = MentorApp(Settings(data_dir=tmp_path)).model_status()
    assert default.warning is None, "no GPU here and none asked for: nothing to warn about"
    asked = MentorApp(Settings(data_dir=tmp_path, llm=LlmSettings(n_gpu_layers=-1))).model_status()
    assert asked.warning is not None and "CPU-only" in asked.warning and "make llama-cpp LLAMA_CPP_VARIANT=cuda" in asked.warning

    model = LlamaCppModel(packaged_demo_path(), n_ctx=512, gpu_requested=True)
    with caplog.at_level(logging.WARNING, logger="rag.llama_cpp_model"):
        model.load()
        model.load()
        model.count_tokens("hello")
    assert [r.getMessage() for r in caplog.records].count(asked.warning) == 1


class PluggableProxy:
    """A TCP proxy in front of the real Milvus server that starts unplugged: Milvus "down", then "back"."""

    def __init__(self, port: int, target: int) -> None:
        self.port, self.target = port, target
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server: asyncio.Server | None = None

    def plug(self) -> None:
        async def start() -> asyncio.Server:
            return await asyncio.start_server(self._pipe_both, "127.0.0.1", self.port)

        self.server = asyncio.run_coroutine_threadsafe(start(), self.loop).result(10)

    def close(self) -> None:
        async def shut() -> None:
            if self.server is not None:
                self.server.close()
            pipes = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in pipes:
                task.cancel()
            await asyncio.gather(*pipes, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shut(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    async def _pipe_both(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target)
        await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer), return_exceptions=True)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


def test_milvus_down_at_startup_is_retried_and_answers_resume_when_it_returns(milvus_server: str, tmp_path: Path) -> None:
    port = free_port()
    proxy = PluggableProxy(port, int(milvus_server.rsplit(":", 1)[1]))
    settings = Settings(
        data_dir=tmp_path,
        milvus_uri=f"http://127.0.0.1:{port}",
        milvus_timeout=3.0,
        courses=[Course(name="cs101", sources=(EXAMPLE_COURSE,))],
        llm=LlmSettings(temperature=0.0, max_tokens=16, n_ctx=2048),
        answer=AnswerSettings(mode="generate"),
    )
    mentor = MentorApp(settings)
    commands = ChatCommands(mentor)
    announced: list[str] = []

    async def scenario() -> None:
        watch = IndexWatch(mentor, announced.append)
        await watch.start()
        try:
            assert not watch.state.ok and "Is the server running? Check MENTOR_MILVUS_URI" in (watch.state.problem or "")
            with pytest.raises(SearchUnavailableError) as refused:
                await commands.ask(Question(text=COVERED, platform="web"))
            assert str(refused.value) == SEARCH_DOWN

            proxy.plug()
            deadline = time.monotonic() + 60
            while not watch.state.ok and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            assert watch.state.ok and watch.state.problem is None
            await mentor.offloader.run(mentor.ingest, "cs101")
            answer = await commands.ask(Question(text=COVERED, platform="web"))
            assert answer.kind == "answer" and answer.citations
        finally:
            await watch.stop()

    try:
        asyncio.run(scenario())
    finally:
        mentor.index.drop_course("cs101")
        mentor.close()
        proxy.close()
    assert announced[0].startswith("index unreachable, retrying in the background")
    assert any(line.startswith("index reachable again") for line in announced), announced
    exposition = commands.metrics.exposition().decode()
    assert 'outcome="index_unavailable",platform="web"} 1.0' in exposition


def serve_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("MENTOR_")}
    return env | {
        "MENTOR_DATA_DIR": str(tmp_path / "state"),
        "MENTOR_COURSES": json.dumps([{"name": "cs101", "sources": [str(EXAMPLE_COURSE)]}]),
        "MENTOR_WEB__PORT": str(free_port()),
        "MENTOR_HEALTH__PORT": str(free_port()),
        "MENTOR_LLM__N_CTX": "2048",
        # These tests ask one question many times over; a repeat link would prefix their answers
        # depending on which was recorded first (repeats are tested in test_repeats and test_slack).
        "MENTOR_ANSWER__REPEAT_SIMILARITY": "0",
        "GRPC_VERBOSITY": "NONE",
    } | extra


def health_of(env: dict[str, str], until_status: int, timeout: float = 90.0) -> dict[str, object]:
    """Poll the running service's /healthz until it answers `until_status`."""
    url = f"http://127.0.0.1:{env['MENTOR_HEALTH__PORT']}/healthz"
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, timeout=5)
            last = (response.status_code, response.json())
            if response.status_code == until_status:
                return response.json()
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.5)
    raise AssertionError(f"/healthz never answered {until_status}: {last}")


@contextmanager
def running_serve(env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    server = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve"], cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stderr is not None
        read_until(server.stderr, "serving")
        yield server
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0
    finally:
        server.kill()


def test_a_running_service_reports_its_health_and_metrics(tmp_path: Path) -> None:
    example_course_app(tmp_path / "state").close()
    env = serve_env(tmp_path)
    with running_serve(env):
        health = health_of(env, 200)
        assert health["status"] == "ok" and health["platforms"] == {"web": True}
        assert health["index"]["ok"] and health["model"]["ok"] and health["dedupe"]["ok"]  # type: ignore[index]
        metrics = httpx.get(f"http://127.0.0.1:{env['MENTOR_HEALTH__PORT']}/metrics", timeout=5)
        assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
        assert "mentor_queue_depth 0.0" in metrics.text and "# TYPE mentor_answers_total counter" in metrics.text
        checked = CliRunner().invoke(app, ["health"], env=env, catch_exceptions=False)
        assert checked.exit_code == 0 and json.loads(checked.stdout)["status"] == "ok"
    stopped = CliRunner().invoke(app, ["health"], env=env, catch_exceptions=False)
    assert stopped.exit_code == 1 and "is `mentor serve` running?" in " ".join(stopped.stderr.split())


def test_an_unreachable_milvus_keeps_the_service_up_and_health_says_why(tmp_path: Path) -> None:
    env = serve_env(tmp_path, MENTOR_MILVUS_URI=f"http://127.0.0.1:{free_port()}", MENTOR_MILVUS_TIMEOUT="2")
    with running_serve(env):
        health = health_of(env, 503)
        assert health["platforms"] == {"web": True} and health["model"]["ok"] is not None  # type: ignore[index]
        assert health["index"]["ok"] is False and "Check MENTOR_MILVUS_URI" in health["index"]["problem"]  # type: ignore[index]
        checked = CliRunner().invoke(app, ["health"], env=env, catch_exceptions=False)
        assert checked.exit_code == 1 and json.loads(checked.stdout)["status"] == "unhealthy"


def test_a_model_that_crashes_llama_cpp_leaves_the_service_up_and_health_says_why(tmp_path: Path) -> None:
    crash = write_crashing_gguf(tmp_path / "crash.gguf")
    env = serve_env(tmp_path, MENTOR_LLM__MODEL=str(crash))
    server = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve"], cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stderr is not None
        started = " ".join(" ".join(read_until(server.stderr, "serving")).split())
        assert "model not ready, answers fall back to passages: llama.cpp crashed while loading crash.gguf" in started
        assert "SIGABRT" in started and "make llama-cpp" in started
        health = health_of(env, 503)
        model = health["model"]
        assert model["ok"] is False and "SIGABRT" in model["problem"] and "make llama-cpp" in model["problem"]  # type: ignore[index]
        assert health["index"]["ok"] and health["platforms"] == {"web": True}  # type: ignore[index]
        assert server.poll() is None, "the process students talk to is still up"
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0
    finally:
        server.kill()


def test_serve_with_nothing_to_serve_says_what_to_set(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["serve"], env=serve_env(tmp_path, MENTOR_WEB__ENABLED="false"), catch_exceptions=False)
    assert result.exit_code == 2
    message = " ".join(result.stderr.split())
    assert "MENTOR_SLACK__BOT_TOKEN" in message and "MENTOR_DISCORD__TOKEN" in message and "MENTOR_WEB__ENABLED=true" in message
