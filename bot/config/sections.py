"""The sections of the settings (`llm`, `slack`, `web`, …): each a small pydantic model whose
fields are what `MENTOR_<SECTION>__<NAME>` and `[section]` in `mentor.toml` set."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from models import SearchMode
from rag.rerank import RerankName


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EmbeddingSettings(_Section):
    model: str | None = None
    """A local sentence-transformers folder; unset means the packaged all-MiniLM-L6-v2."""
    device: str = "cpu"
    batch_size: int = Field(64, ge=1, le=4096)


class ChunkingSettings(_Section):
    size: int = Field(200, ge=32, le=8192)
    """Target word pieces per chunk; always capped by the embedder's window."""
    overlap: int = Field(40, ge=0)

    @model_validator(mode="after")
    def _overlap_below_size(self) -> ChunkingSettings:
        if self.overlap >= self.size:
            raise ValueError(f"chunking.overlap ({self.overlap}) must be smaller than chunking.size ({self.size})")
        return self


class SearchSettings(_Section):
    mode: SearchMode = "hybrid"
    k: int = Field(5, ge=1, le=100)
    fusion: Literal["weighted", "rrf"] = "rrf"
    dense_weight: float = Field(0.6, ge=0.0, le=1.0)
    rrf_k: int = Field(20, ge=1)
    rerank: RerankName = "lexical"
    """Reorders the first stage's candidates: `lexical`, `mmr` or `cross-encoder` (with
    `rerank_model`); `none` keeps the first stage's order (README, "Search")."""
    rerank_candidates: int = Field(30, ge=1, le=100)
    """With a reranker: the distinct sections the first stage gathers for it (at least k); without one it gathers k."""
    rerank_dense_weight: float = Field(0.9, ge=0.0, le=1.0)
    """`lexical` only: the cosine similarity's share; the rest is BM25 over the candidates."""
    rerank_model: str | None = None
    """`cross-encoder` only: a local sentence-transformers cross-encoder folder (never downloaded)."""

    @model_validator(mode="after")
    def _cross_encoder_needs_model(self) -> SearchSettings:
        if self.rerank == "cross-encoder" and not self.rerank_model:
            raise ValueError("search.rerank = \"cross-encoder\" needs search.rerank_model: a local cross-encoder folder")
        return self


class LlmSettings(_Section):
    """The language model: in-process llama.cpp (the default) or an OpenAI-compatible server."""

    model: str | None = None
    """A catalog name (`mentor models list`), a GGUF path, or with `base_url` the server's
    model name; unset means the packaged SmolLM2-135M demo model."""
    base_url: str | None = None
    """An OpenAI-compatible server (`http://127.0.0.1:8080/v1`); unset runs llama.cpp in process."""
    api_key: SecretStr | None = None
    n_ctx: int = Field(4096, ge=512, le=131072)
    n_gpu_layers: int = Field(-1, ge=-1)
    """-1 puts every layer on the GPU when llama.cpp was built with CUDA; ignored on a CPU build."""
    threads: int | None = Field(None, ge=1)
    seed: int = 0
    temperature: float = Field(0.2, ge=0.0, le=2.0)
    repeat_penalty: float = Field(1.1, ge=1.0, le=2.0)
    max_tokens: int = Field(384, ge=16, le=8192)
    """The answer's budget; the prompt gets the rest of `n_ctx`."""
    timeout: float = Field(60.0, gt=0)
    retries: int = Field(2, ge=0, le=10)
    parallel: int = Field(4, ge=1, le=256)
    """Generations the server runs at once (its `--parallel`); in-process llama.cpp runs one."""
    probe_timeout: float = Field(120.0, gt=0)
    """Seconds a child process gets to load the in-process model and decode a few tokens
    before this one trusts it; past that the model is taken to hang and is not loaded."""

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://", value):
            raise ValueError(f"base_url must start with http:// or https:// (got {value!r})")
        return value

    @model_validator(mode="after")
    def _server_needs_model(self) -> LlmSettings:
        if self.base_url and not self.model:
            raise ValueError("llm.model must name the server's model when llm.base_url is set")
        return self


class AnswerSettings(_Section):
    mode: Literal["auto", "generate", "quote"] = "auto"
    """`generate`: the model writes answers; `quote`: the course's own sentences, no model;
    `auto`: quote while the demo model is configured, else generate (quoting when it fails) (README, "Answer modes")."""
    min_relevance: float = Field(0.435, ge=-1.0, le=2.0)
    """Below this grounding score the course is taken not to cover a question (README, "Grounding")."""
    max_question_chars: int = Field(4000, ge=1)
    history_turns: int = Field(10, ge=0, le=100)
    queue_size: int = Field(1000, ge=1)
    """Questions waiting for their turn, at most: a class's burst is queued, and only past this
    is a student asked to come back (told when). Memory per waiting question is a few KB."""
    per_student_per_minute: int = Field(6, ge=0)
    """Questions one student may ask in a minute (0: no limit); past it they are told once, kindly."""
    retrieval_workers: int = Field(2, ge=1, le=64)
    """Searches at once, on threads of their own: a decline or a quote never waits for the model."""
    repeat_similarity: float = Field(0.81, ge=0, le=1)
    """How close (cosine, MiniLM) a new question must be to one answered before to link that thread
    first; 0 turns it off. Chosen on written pairs (`bench.repeats`): precision 0.86 out of sample."""
    repeat_weeks: int = Field(4, ge=1, le=52)
    """How far back an earlier question may be linked."""


ChannelMode = Literal["mention", "forum", "off"]
"""`mention`: answer messages that mention the bot; `forum`: answer every new post (a Discord
forum post, a top-level Slack message) in its own thread, no mention needed; `off`: answer nothing."""


class ChannelRoute(_Section):
    """One entry of a platform's channel map: the course a channel (or guild, or workspace) asks
    about, and how the bot listens there. A bare course name (`"C0123" = "cs101"`) sets only the course.

    A channel's entry wins over its guild's, field by field: a guild can name the course and
    one of its channels only the mode.
    """

    course: str | None = None
    """None: the course of the guild or workspace entry, else the default course."""
    mode: ChannelMode = "mention"
    follow_ups: Literal["mention", "always"] = "mention"
    """In `forum` mode, later messages in a post's thread: answered when they mention the bot, or always."""


def _routes(value: Any) -> Any:
    """The channel map as `ChannelRoute`s, a bare course name being the course alone."""
    if isinstance(value, dict):
        return {key: {"course": route} if isinstance(route, str) else route for key, route in value.items()}
    return value


class AttachmentSettings(_Section):
    """Files attached to questions: text and code files are read into the question; others are named in the reply."""

    max_bytes: int = Field(100_000, ge=0)
    """A text or code file up to this size is downloaded and read (0: none is); a larger file is not downloaded."""


class ScheduleSettings(_Section):
    """Reindexing: how `mentor serve` runs each course's cron schedule (the expression itself
    is per course), and how many runs may wait for the reindex worker."""

    enabled: bool = True
    jitter_seconds: int = Field(120, ge=0)
    """Spread courses that share a schedule, so they do not all embed at once."""
    misfire_grace_seconds: int = Field(3600, ge=1)
    """A run missed while the process was down still happens if it restarts within this."""
    busy_retry_seconds: int = Field(300, ge=1)
    """A scheduled run that finds the reindex queue full is skipped and tried again this much later."""
    queue_size: int = Field(4, ge=0)
    """Reindexes run one at a time, on a worker answers never use; beyond this many waiting, "busy"."""


class ServeSettings(_Section):
    """How `mentor serve` stops."""

    stop_grace_seconds: float = Field(20.0, gt=0)
    """On SIGTERM, answers and reindexes in flight get this long to finish before the index
    closes; askers of those still running are told to ask again in a minute."""


class SlackSettings(_Section):
    """Slack: Socket Mode (bot + app-level token, no public URL) or the HTTP Events API."""

    bot_token: SecretStr | None = None
    app_token: SecretStr | None = None
    """The app-level token (`xapp-…`), for Socket Mode."""
    signing_secret: SecretStr | None = None
    """Verifies HTTP event requests; needed in `http` mode."""
    mode: Literal["socket", "http"] = "socket"
    host: str = "127.0.0.1"
    port: int = Field(3000, ge=1, le=65535)
    path: str = "/slack/events"
    api_url: str = "https://slack.com/api/"
    instructors: list[str] = []
    """User IDs (`U…`) allowed to `/mentor reindex`."""
    channels: dict[str, ChannelRoute] = {}
    """Channel or workspace ID → course name, or `{course, mode, follow_ups}`; others use the default course, `mention` mode."""
    ta_users: list[str] = []
    """User IDs (`U…`) of TAs: a thread a TA has answered in gets no unasked answer from the bot."""

    _channel_routes = field_validator("channels", mode="before")(_routes)

    @property
    def enabled(self) -> bool:
        return self.bot_token is not None


class DiscordSettings(_Section):
    """Discord: one bot token; reading a message that mentions the bot needs no privileged intent."""

    token: SecretStr | None = None
    api_url: str = "https://discord.com/api/v10"
    gateway_url: str | None = None
    instructor_roles: list[int] = []
    """Role IDs allowed to `/reindex`, besides members with Manage Server."""
    guilds: list[int] = []
    """Guild IDs to sync slash commands to at startup (instant); empty syncs globally."""
    channels: dict[str, ChannelRoute] = {}
    """Guild or channel ID → course name, or `{course, mode, follow_ups}`; others use the default course, `mention` mode."""
    ta_roles: list[int] = []
    """Role IDs of TAs: a thread a TA has answered in gets no unasked answer from the bot."""
    ta_users: list[int] = []
    """User IDs of TAs, for TAs without a TA role."""

    _channel_routes = field_validator("channels", mode="before")(_routes)

    @property
    def enabled(self) -> bool:
        return self.token is not None


class WebSettings(_Section):
    """The browser page: a chat to try the bot, and the instructor's page at `/admin`."""

    enabled: bool | None = None
    """Unset: on when no chat platform (Slack, Discord) is configured."""
    host: str = "127.0.0.1"
    port: int = Field(8765, ge=1, le=65535)
    admin_token: SecretStr | None = None
    """Required as a bearer token (or `?token=`) for `/admin`; unset, `/admin` answers only 127.0.0.1."""
    allowed_hosts: list[str] = []
    """Names besides loopback and `host` that a token-less `/admin` answers to (a `Host` header check
    that stops DNS rebinding)."""


class HealthSettings(_Section):
    """`/healthz` and Prometheus `/metrics`, served by `mentor serve` for the operator."""

    enabled: bool = True
    host: str = "127.0.0.1"
    """Loopback by default; a container sets 0.0.0.0 so Prometheus can scrape it."""
    port: int = Field(8766, ge=1, le=65535)


class DedupeSettings(_Section):
    """Where "have we answered this event?" is remembered; several replicas need a shared store."""

    backend: Literal["memory", "redis"] = "memory"
    redis_url: SecretStr | None = None
    """`redis://[user:password@]host:6379/0`, for `backend = "redis"`."""
    ttl_seconds: int = Field(3600, ge=1)


class LogSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"
    """`json`: one JSON object per line, for a log collector."""
    question_text: bool = False
    """Put the question's text in the per-question log line (off: students' words stay out of logs)."""
