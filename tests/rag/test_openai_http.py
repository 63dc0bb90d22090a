"""OpenAIChatModel against llama-cpp-python's real OpenAI-compatible server, and against stub servers that misbehave.

Nothing is mocked: every failure is a real socket on 127.0.0.1 doing the wrong thing, so the
tests see what httpx really raises when a production LLM server breaks.
"""

from __future__ import annotations

import json
import logging
import math
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from rag.errors import LanguageModelError
from rag.llama_cpp_model import LlamaCppModel
from rag.llm import ChatMessage, GenerationSettings
from rag.model_files import PACKAGED_DEMO, packaged_demo_path
from rag.openai_http import OpenAIChatModel
from tests.conftest import free_port

SERVER_START_DEADLINE_S = 60.0
GREEDY = GenerationSettings(max_tokens=32, temperature=0.0, seed=42)
QUESTION: list[ChatMessage] = [
    {"role": "system", "content": "You are a concise teaching assistant."},
    {"role": "user", "content": "What is a variable in Python? Answer in one sentence."},
]


# --- llama-cpp-python's own server ------------------------------------------------------------


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The packaged SmolLM2 behind `python -m llama_cpp.server`; yields its `/v1` base URL.

    `--interrupt_requests False`: by default that server ends a stream early (with `[DONE]`)
    as soon as another request queues, which would truncate answers in the parallel test.
    Output goes to a file, not a pipe, so a chatty server can never block on a full pipe.
    """
    port = free_port()
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(packaged_demo_path()),
        "--model_alias", PACKAGED_DEMO,
        "--host", "127.0.0.1",
        "--port", str(port),
        "--n_ctx", "2048",
        "--interrupt_requests", "False",
    ]
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        _wait_until_serving(process, f"http://127.0.0.1:{port}/v1/models", log_path)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_serving(process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    """Poll `url` until it answers 200; fail with the server's own output if it dies or never does."""
    deadline = time.monotonic() + SERVER_START_DEADLINE_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"llama_cpp.server exited with {process.returncode}:\n{_tail(log_path)}")
        try:
            if httpx.get(url, timeout=1.0, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"llama_cpp.server did not answer {url} within {SERVER_START_DEADLINE_S:.0f} s:\n{_tail(log_path)}")


def _tail(path: Path, chars: int = 4000) -> str:
    return path.read_text(errors="replace")[-chars:]


@pytest.fixture(scope="module")
def served_model(llama_server: str) -> Iterator[OpenAIChatModel]:
    model = OpenAIChatModel(llama_server, PACKAGED_DEMO, context_window=2048, parallel=2, timeout=30.0, retries=0)
    yield model
    model.close()


def test_generate_streams_the_reply(served_model: OpenAIChatModel) -> None:
    pieces: list[str] = []
    generation = served_model.generate(QUESTION, GREEDY, pieces.append)
    assert generation.text.strip()
    assert len(pieces) > 1, "the reply should arrive in pieces, not as one block"
    assert "".join(pieces) == generation.text
    assert generation.first_token_s is not None
    assert 0 < generation.first_token_s <= generation.seconds


def test_greedy_generation_is_deterministic(served_model: OpenAIChatModel) -> None:
    assert served_model.generate(QUESTION, GREEDY).text == served_model.generate(QUESTION, GREEDY).text


def test_count_tokens_uses_the_servers_tokenizer(served_model: OpenAIChatModel) -> None:
    # SmolLM2's GGUF does not add BOS, so the server's /extras/tokenize (add_bos by default)
    # counts plain text exactly as the in-process tokenizer (add_bos=False) does.
    sentence = "Retrieval-augmented generation grounds each answer in the course material."
    in_process = LlamaCppModel(packaged_demo_path(), n_ctx=2048).count_tokens(sentence)
    assert served_model.count_tokens(sentence) == in_process
    assert in_process != math.ceil(len(sentence.encode()) / 3), "pick a sentence the estimate gets wrong"


def test_concurrent_generations_all_get_answers(served_model: OpenAIChatModel) -> None:
    topics = ["a list", "a loop", "a function", "a dictionary"]
    questions: list[list[ChatMessage]] = [
        [{"role": "user", "content": f"What is {topic} in Python? One sentence."}] for topic in topics
    ]
    settings = GenerationSettings(max_tokens=16, temperature=0.0, seed=42)
    with ThreadPoolExecutor(max_workers=len(questions)) as pool:
        answers = list(pool.map(lambda messages: served_model.generate(messages, settings), questions))
    assert all(answer.text.strip() for answer in answers)


# --- stub servers that fail on purpose ------------------------------------------------------------

Responder = Callable[["_StubHandler"], None]
"""Writes one whole HTTP response (or deliberately less) to the handler's socket."""


@dataclass(frozen=True)
class SeenRequest:
    path: str
    headers: dict[str, str]
    """Lower-cased names, since HTTP header names are case-insensitive."""
    body: Any


class StubServer:
    """A threaded HTTP server on 127.0.0.1: request n gets responder n, and the last responder repeats."""

    def __init__(self, responders: list[Responder]) -> None:
        self.responders = responders
        self.requests: list[SeenRequest] = []
        self.stop = threading.Event()
        """Set at teardown, so a stalling responder gives up at once."""
        self.open_streams = 0
        self.max_open_streams = 0
        self._lock = threading.Lock()
        self._httpd = _StubHTTPServer(("127.0.0.1", 0), _StubHandler)
        self._httpd.stub = self
        # A short poll interval: shutdown() waits for it, once per test.
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_port}/v1"

    def record(self, request: SeenRequest) -> Responder:
        with self._lock:
            self.requests.append(request)
            return self.responders[min(len(self.requests), len(self.responders)) - 1]

    def stream_opened(self) -> None:
        with self._lock:
            self.open_streams += 1
            self.max_open_streams = max(self.max_open_streams, self.open_streams)

    def stream_closing(self) -> None:
        with self._lock:
            self.open_streams -= 1

    def close(self) -> None:
        self.stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()


class _StubHTTPServer(ThreadingHTTPServer):
    stub: StubServer


class _StubHandler(BaseHTTPRequestHandler):
    @property
    def stub(self) -> StubServer:
        return cast(_StubHTTPServer, self.server).stub

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {name.lower(): value for name, value in self.headers.items()}
        responder = self.stub.record(SeenRequest(self.path, headers, json.loads(raw) if raw else None))
        responder(self)

    do_GET = do_POST

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the tests read `StubServer.requests`, not an access log."""


def _event(payload: object) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def _delta(content: str) -> bytes:
    return _event({"choices": [{"index": 0, "delta": {"content": content}}]})


ROLE_EVENT = _event({"choices": [{"index": 0, "delta": {"role": "assistant"}}]})


def sse(*pieces: str, done: bool = True, delay: float = 0.0) -> Responder:
    """A well-formed OpenAI chat stream of `pieces`, ended by `[DONE]` unless `done` is False.

    HTTP/1.0 with no Content-Length: the body ends when the connection closes, so a missing
    `[DONE]` is the only sign that the stream was cut short.
    """

    def respond(handler: _StubHandler) -> None:
        handler.stub.stream_opened()
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.end_headers()
        handler.wfile.write(ROLE_EVENT)
        for piece in pieces:
            time.sleep(delay)
            handler.wfile.write(_delta(piece))
        handler.stub.stream_closing()
        if done:
            handler.wfile.write(b"data: [DONE]\n\n")

    return respond


def status(code: int, body: str, headers: dict[str, str] | None = None) -> Responder:
    """A complete response with a Content-Length, e.g. an error or an HTML page."""

    def respond(handler: _StubHandler) -> None:
        data = body.encode()
        handler.send_response(code)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    return respond


def raw_stream(data: bytes) -> Responder:
    """A 200 event-stream response whose body is exactly `data`, however broken."""

    def respond(handler: _StubHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.end_headers()
        handler.wfile.write(data)

    return respond


def stall(handler: _StubHandler) -> None:
    """Never answer (until teardown): the client's read timeout must fire."""
    handler.stub.stop.wait(10)


def drop_after(*pieces: str) -> Responder:
    """A chunked HTTP/1.1 stream cut off after `pieces`, with no final chunk: a crashed server."""

    def respond(handler: _StubHandler) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        events = [ROLE_EVENT, *(_delta(piece) for piece in pieces)]
        handler.wfile.write(head + b"".join(b"%x\r\n%s\r\n" % (len(event), event) for event in events))
        handler.close_connection = True

    return respond


StartStub = Callable[..., StubServer]
MakeModel = Callable[..., OpenAIChatModel]


@pytest.fixture
def stub_server() -> Iterator[StartStub]:
    """Starts a `StubServer` with the given responders; every one started is shut down after the test."""
    servers: list[StubServer] = []

    def start(*responders: Responder) -> StubServer:
        server = StubServer(list(responders))
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def make_model() -> Iterator[MakeModel]:
    """An `OpenAIChatModel` with test-sized timeouts and one retry; closed after the test."""
    models: list[OpenAIChatModel] = []

    def make(base_url: str, **options: Any) -> OpenAIChatModel:
        model = OpenAIChatModel(base_url, "stub-model", **{"timeout": 2.0, "retries": 1, **options})
        models.append(model)
        return model

    yield make
    for model in models:
        model.close()


HELLO: list[ChatMessage] = [{"role": "user", "content": "Hello?"}]


def test_api_key_is_sent_as_bearer_token(stub_server: StartStub, make_model: MakeModel) -> None:
    server = stub_server(sse("Hi"))
    make_model(server.base_url, api_key="sk-test").generate(HELLO, GREEDY)
    make_model(server.base_url).generate(HELLO, GREEDY)
    with_key, without_key = server.requests
    assert with_key.path == "/v1/chat/completions"
    assert with_key.headers["authorization"] == "Bearer sk-test"
    assert "authorization" not in without_key.headers
    assert with_key.body["stream"] is True
    assert with_key.body["messages"] == HELLO
    assert (with_key.body["model"], with_key.body["temperature"], with_key.body["seed"]) == ("stub-model", 0.0, 42)


def test_nothing_listening_fails_after_the_retries(make_model: MakeModel, caplog: pytest.LogCaptureFixture) -> None:
    model = make_model(f"http://127.0.0.1:{free_port()}/v1", timeout=1.0, retries=1)
    with caplog.at_level(logging.WARNING, logger="rag.openai_http"):
        with pytest.raises(LanguageModelError, match="cannot connect"):
            model.generate(HELLO, GREEDY)
    assert sum("retrying" in record.getMessage() for record in caplog.records) == 1


def test_html_instead_of_an_event_stream_is_refused(stub_server: StartStub, make_model: MakeModel) -> None:
    page = "<!doctype html>\n<html><body>Welcome to nginx!</body></html>"
    server = stub_server(status(200, page, {"Content-Type": "text/html"}))
    with pytest.raises(LanguageModelError, match="not an event stream"):
        make_model(server.base_url).generate(HELLO, GREEDY)
    assert len(server.requests) == 1


def test_an_event_that_is_not_json_is_refused(stub_server: StartStub, make_model: MakeModel) -> None:
    server = stub_server(raw_stream(b"data: {not json\n\n"))
    with pytest.raises(LanguageModelError, match="cannot read"):
        make_model(server.base_url).generate(HELLO, GREEDY)


def test_an_error_event_is_reported(stub_server: StartStub, make_model: MakeModel) -> None:
    server = stub_server(raw_stream(_event({"error": {"message": "context length exceeded"}})))
    with pytest.raises(LanguageModelError, match="context length exceeded"):
        make_model(server.base_url).generate(HELLO, GREEDY)


def test_a_server_slower_than_the_timeout_fails_with_a_timeout(stub_server: StartStub, make_model: MakeModel) -> None:
    server = stub_server(stall)
    with pytest.raises(LanguageModelError, match="timed out"):
        make_model(server.base_url, timeout=0.3, retries=1).generate(HELLO, GREEDY)
    assert len(server.requests) == 2, "a timeout before any text is retried"


def test_503_with_retry_after_is_retried_then_streams(stub_server: StartStub, make_model: MakeModel) -> None:
    server = stub_server(status(503, "busy", {"Retry-After": "0"}), sse("Hi", " there"))
    started = time.perf_counter()
    generation = make_model(server.base_url).generate(HELLO, GREEDY)
    assert generation.text == "Hi there"
    assert len(server.requests) == 2
    assert time.perf_counter() - started < 0.4, "Retry-After: 0 should replace the 0.5 s backoff"


def test_400_is_reported_with_its_body_and_not_retried(stub_server: StartStub, make_model: MakeModel) -> None:
    server = stub_server(status(400, '{"error": "messages must not be empty"}', {"Content-Type": "application/json"}))
    with pytest.raises(LanguageModelError, match="HTTP 400.*messages must not be empty"):
        make_model(server.base_url, retries=2).generate(HELLO, GREEDY)
    assert len(server.requests) == 1


def test_a_stream_cut_after_text_fails_without_retry(stub_server: StartStub, make_model: MakeModel) -> None:
    server = stub_server(drop_after("Hi"), sse("Hi", " again"))
    shown: list[str] = []
    with pytest.raises(LanguageModelError):
        make_model(server.base_url, retries=2).generate(HELLO, GREEDY, shown.append)
    assert shown == ["Hi"]
    assert len(server.requests) == 1, "text already shown to the reader must not be written twice"


def test_a_stream_cut_before_any_text_is_retried(stub_server: StartStub, make_model: MakeModel) -> None:
    server = stub_server(drop_after(), sse("Hi"))
    assert make_model(server.base_url, retries=1).generate(HELLO, GREEDY).text == "Hi"
    assert len(server.requests) == 2


def test_a_stream_that_ends_without_done_is_an_error_not_a_short_answer(stub_server: StartStub, make_model: MakeModel) -> None:
    server = stub_server(sse("Hi", done=False))
    with pytest.raises(LanguageModelError, match=r"ended before \[DONE\]"):
        make_model(server.base_url, retries=0).generate(HELLO, GREEDY)


def test_parallel_caps_the_requests_in_flight(stub_server: StartStub, make_model: MakeModel) -> None:
    server = stub_server(sse("a", "b", "c", delay=0.05))
    model = make_model(server.base_url, parallel=2)
    with ThreadPoolExecutor(max_workers=5) as pool:
        texts = list(pool.map(lambda _: model.generate(HELLO, GREEDY).text, range(5)))
    assert texts == ["abc"] * 5
    assert server.max_open_streams == 2


def test_count_tokens_estimates_when_the_server_cannot_tokenize(stub_server: StartStub, make_model: MakeModel) -> None:
    server = stub_server(status(404, "Not Found"))
    model = make_model(server.base_url)
    text = "Größe der Liste: len(xs)"
    assert model.count_tokens(text) == math.ceil(len(text.encode("utf-8")) / 3)
    assert [request.path for request in server.requests] == ["/extras/tokenize", "/tokenize", "/tokenize"]
    model.count_tokens("again")
    assert len(server.requests) == 3, "the missing tokenizer is found out once, not on every call"
