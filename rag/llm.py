"""The one interface every language model backend speaks: chat messages in, streamed text out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol, TypedDict


class ChatMessage(TypedDict):
    role: Literal["system", "user", "assistant"]
    content: str


TokenCallback = Callable[[str], None]
"""Called with each piece of text as the model writes it, on the generating thread."""


@dataclass(frozen=True)
class GenerationSettings:
    max_tokens: int = 384
    temperature: float = 0.2
    seed: int = 0
    repeat_penalty: float = 1.1
    """Small models loop on a phrase without it; llama.cpp's own default is 1.1."""


@dataclass(frozen=True)
class Generation:
    text: str
    completion_tokens: int | None
    first_token_s: float | None
    """Seconds from the request to the first piece of text; None when nothing was written."""
    seconds: float


class LanguageModel(Protocol):
    """A chat model. Implementations are safe to call from several threads at once.

    `max_concurrency` says how many generations really run in parallel (1 for an
    in-process llama.cpp, the server's slots for an HTTP server); callers size their
    worker pools from it.
    """

    @property
    def name(self) -> str: ...

    @property
    def context_window(self) -> int: ...

    @property
    def max_concurrency(self) -> int: ...

    @property
    def supports_system_role(self) -> bool: ...

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` in this model's own vocabulary."""
        ...

    def generate(
        self, messages: list[ChatMessage], settings: GenerationSettings, on_token: TokenCallback | None = None
    ) -> Generation:
        """Write the assistant's reply; raises `LanguageModelError` when the model cannot."""
        ...


def fold_system_prompt(messages: list[ChatMessage]) -> list[ChatMessage]:
    """Merge system messages into the first user turn, for templates with no system role.

    Mistral's template silently drops a `system` message, which would lose the
    instructions and the sources; it also wants strictly alternating user/assistant
    turns, so consecutive turns of one role are joined.
    """
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    folded: list[ChatMessage] = []
    for message in messages:
        if message["role"] == "system":
            continue
        if folded and folded[-1]["role"] == message["role"]:
            folded[-1] = {"role": message["role"], "content": folded[-1]["content"] + "\n\n" + message["content"]}
        else:
            folded.append({"role": message["role"], "content": message["content"]})
    if folded and folded[0]["role"] == "assistant":
        folded.insert(0, {"role": "user", "content": "(earlier in this thread)"})
    if system:
        if folded:
            folded[0] = {"role": "user", "content": system + "\n\n" + folded[0]["content"]}
        else:
            folded = [{"role": "user", "content": system}]
    return folded
