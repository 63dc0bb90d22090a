"""A chat model behind an OpenAI-compatible HTTP server: llama.cpp's server, vLLM, and the like.

This is how many users are served at once: the server batches requests across its
slots (`--parallel N`), and this process only streams text back.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable, Generator, Iterator
from functools import partial

import httpx

from rag.errors import LanguageModelError
from rag.llm import ChatMessage, Generation, GenerationSettings, TokenCallback

log = logging.getLogger(__name__)

RETRYABLE_STATUS = {408, 429, 500, 502, 503, 504}
BYTES_PER_TOKEN_ESTIMATE = 3
"""When the server cannot tokenize: a cautious guess (real tokenizers average 3.5–4.5 bytes)."""


class OpenAIChatModel:
    """Streams chat completions from `{base_url}/chat/completions`."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        context_window: int = 4096,
        parallel: int = 4,
        timeout: float = 60.0,
        retries: int = 2,
        supports_system_role: bool = True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self._context_window = context_window
        self._parallel = parallel
        self.retries = retries
        self._supports_system_role = supports_system_role
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            headers=headers, timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)), trust_env=False
        )
        self._slots = threading.Semaphore(parallel)
        self._tokenize: Callable[[str], int] | None = None
        self._tokenize_lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.model

    @property
    def context_window(self) -> int:
        return self._context_window

    @property
    def max_concurrency(self) -> int:
        return self._parallel

    @property
    def supports_system_role(self) -> bool:
        return self._supports_system_role

    def count_tokens(self, text: str) -> int:
        with self._tokenize_lock:
            if self._tokenize is None:
                self._tokenize = self._find_tokenizer()
        return self._tokenize(text)

    def generate(
        self, messages: list[ChatMessage], settings: GenerationSettings, on_token: TokenCallback | None = None
    ) -> Generation:
        body = {
            "model": self.model,
            "messages": messages,
            "max_tokens": settings.max_tokens,
            "temperature": settings.temperature,
            "seed": settings.seed,
            # Not OpenAI's, but llama.cpp's servers and vLLM read it; others ignore it.
            "repeat_penalty": settings.repeat_penalty,
            "stream": True,
        }
        with self._slots:
            for attempt in range(self.retries + 1):
                started = time.perf_counter()
                pieces: list[str] = []
                first_token: float | None = None
                try:
                    for piece in self._stream(body):
                        if first_token is None:
                            first_token = time.perf_counter() - started
                        pieces.append(piece)
                        if on_token is not None:
                            on_token(piece)
                    return Generation(
                        text="".join(pieces),
                        completion_tokens=None,
                        first_token_s=first_token,
                        seconds=time.perf_counter() - started,
                    )
                except _Retryable as exc:
                    # Text already shown to a reader cannot be taken back, so only a silent failure is retried.
                    if pieces or attempt == self.retries:
                        raise LanguageModelError(f"The LLM server at {self.base_url} failed: {exc}") from exc
                    delay = exc.retry_after if exc.retry_after is not None else 0.5 * 2**attempt
                    log.warning("LLM server: %s; retrying in %.1f s", exc, delay)
                    time.sleep(min(delay, 10.0))
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._client.close()

    def _stream(self, body: dict[str, object]) -> Iterator[str]:
        try:
            with self._client.stream("POST", f"{self.base_url}/chat/completions", json=body) as response:
                if response.status_code in RETRYABLE_STATUS:
                    retry_after = response.headers.get("retry-after")
                    raise _Retryable(
                        f"HTTP {response.status_code}", float(retry_after) if retry_after and retry_after.isdigit() else None
                    )
                if response.status_code != 200:
                    response.read()
                    raise LanguageModelError(
                        f"The LLM server at {self.base_url} refused the request: HTTP {response.status_code} "
                        f"{response.text[:200]}"
                    )
                finished = yield from _sse_text(response.iter_lines(), self.base_url)
                if not finished:
                    raise _Retryable("the answer stream ended before [DONE]")
        except httpx.TimeoutException as exc:
            raise _Retryable(f"timed out ({type(exc).__name__})") from exc
        except httpx.ConnectError as exc:
            raise _Retryable(f"cannot connect ({exc})") from exc
        except httpx.TransportError as exc:
            raise _Retryable(f"connection lost ({exc})") from exc

    def _find_tokenizer(self) -> Callable[[str], int]:
        """The server's own tokenizer if it has one (llama.cpp, llama-cpp-python, vLLM), else an estimate."""
        root = self.base_url.removesuffix("/v1")
        probes: list[tuple[str, Callable[[str], dict[str, str]]]] = [
            (f"{root}/extras/tokenize", lambda text: {"input": text, "model": self.model}),
            (f"{root}/tokenize", lambda text: {"content": text}),
            (f"{root}/tokenize", lambda text: {"model": self.model, "prompt": text}),
        ]
        for url, payload in probes:
            try:
                response = self._client.post(url, json=payload("probe"))
                if response.status_code == 200 and isinstance(response.json().get("tokens"), list):
                    return partial(_remote_count, self._client, url, payload)
            except (httpx.HTTPError, ValueError, AttributeError):
                continue
        log.info("the LLM server at %s has no tokenize endpoint: estimating token counts", self.base_url)
        return _estimate_tokens


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


def _remote_count(client: httpx.Client, url: str, payload: Callable[[str], dict[str, str]], text: str) -> int:
    try:
        return len(client.post(url, json=payload(text)).json()["tokens"])
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return _estimate_tokens(text)


def _estimate_tokens(text: str) -> int:
    return math.ceil(len(text.encode("utf-8")) / BYTES_PER_TOKEN_ESTIMATE)


def _sse_text(lines: Iterator[str], base_url: str) -> Generator[str, None, bool]:
    """The text pieces of an OpenAI chat-completion event stream; returns whether `[DONE]` arrived.

    Anything that is not an event stream is the server's fault.
    """
    for line in lines:
        if not line or line.startswith(":") or line.startswith(("event:", "id:", "retry:")):
            continue
        if not line.startswith("data:"):
            raise LanguageModelError(f"The LLM server at {base_url} sent something that is not an event stream: {line[:80]!r}")
        data = line[len("data:"):].strip()
        if data == "[DONE]":
            return True
        try:
            event = json.loads(data)
            if "error" in event:
                raise LanguageModelError(f"The LLM server at {base_url} reported an error: {event['error']}")
            choices = event["choices"]
            piece = (choices[0].get("delta") or {}).get("content") if choices else None
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise LanguageModelError(f"The LLM server at {base_url} sent an event this client cannot read: {data[:80]!r}") from exc
        if piece:
            yield piece
    return False
