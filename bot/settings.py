"""All settings, read once at the edge and passed down.

Sources, strongest first: arguments, `MENTOR_*` environment variables (nested with
`__`, e.g. `MENTOR_CHUNKING__SIZE=160`), a `.env` file, then the TOML config file
(`mentor.toml`, or the file `MENTOR_CONFIG` names). Paths in the TOML file are
relative to the file's own folder.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from bot.errors import ConfigError, UnknownCourseError
from models import Course, SearchMode
from rag.index import collection_name

DEFAULT_CONFIG = Path("mentor.toml")
DEFAULT_COURSE = "default"
EXAMPLE_COURSE = Path("examples/course")


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
    fusion: Literal["weighted", "rrf"] = "weighted"
    dense_weight: float = Field(0.6, ge=0.0, le=1.0)
    rrf_k: int = Field(60, ge=1)


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
    min_relevance: float = Field(0.435, ge=-1.0, le=2.0)
    """Below this grounding score the course is taken not to cover a question (README, "Grounding")."""
    max_question_chars: int = Field(4000, ge=1)
    history_turns: int = Field(10, ge=0, le=100)
    queue_size: int = Field(32, ge=1)
    """Questions waiting for a worker beyond this are turned away with "busy, try again"."""


class ScheduleSettings(_Section):
    """How `mentor serve` runs each course's cron schedule (the expression itself is per course)."""

    enabled: bool = True
    jitter_seconds: int = Field(120, ge=0)
    """Spread courses that share a schedule, so they do not all embed at once."""
    misfire_grace_seconds: int = Field(3600, ge=1)
    """A run missed while the process was down still happens if it restarts within this."""


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
    channels: dict[str, str] = {}
    """Channel ID → course name; other channels use the default course."""

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
    channels: dict[str, str] = {}
    """Guild or channel ID → course name; others use the default course."""

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


class Settings(BaseSettings):
    """Every setting of AI Mentor. Build it with `load_settings()`, once, at the edge."""

    model_config = SettingsConfigDict(
        env_prefix="MENTOR_",
        env_file=".env",
        env_nested_delimiter="__",
        extra="forbid",
    )

    config: Path = DEFAULT_CONFIG
    data_dir: Path = Path(".mentor")
    milvus_uri: str | None = None
    """A Milvus server (`http://host:19530`) or a Milvus Lite file; unset means `<data_dir>/milvus.db`."""
    milvus_token: SecretStr | None = None
    milvus_timeout: float = Field(10.0, gt=0)
    embedding: EmbeddingSettings = EmbeddingSettings()
    chunking: ChunkingSettings = ChunkingSettings()
    search: SearchSettings = SearchSettings()
    llm: LlmSettings = LlmSettings()
    answer: AnswerSettings = AnswerSettings()
    reindex: ScheduleSettings = ScheduleSettings()
    slack: SlackSettings = SlackSettings()
    discord: DiscordSettings = DiscordSettings()
    web: WebSettings = WebSettings()
    health: HealthSettings = HealthSettings()
    dedupe: DedupeSettings = DedupeSettings()
    log: LogSettings = LogSettings()
    courses: list[Course] = []

    @field_validator("courses")
    @classmethod
    def _distinct_courses(cls, courses: list[Course]) -> list[Course]:
        seen: dict[str, str] = {}
        for number, course in enumerate(courses):
            _check_schedule(number, course)
            clash = seen.setdefault(collection_name(course.name), course.name)
            if clash != course.name:
                raise ValueError(f"courses {clash!r} and {course.name!r} would share one index: rename one")
        return courses

    @model_validator(mode="after")
    def _channels_name_known_courses(self) -> Settings:
        known = set(self.course_names())
        for platform, channels in (("slack", self.slack.channels), ("discord", self.discord.channels)):
            for channel, course in channels.items():
                if course not in known:
                    raise ValueError(
                        f"{platform}.channels maps {channel} to the course {course!r}, which is not configured "
                        f"(courses: {', '.join(sorted(known))})"
                    )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = _config_path(init_settings, env_settings, dotenv_settings)
        return init_settings, env_settings, dotenv_settings, TomlFileSource(settings_cls, path), file_secret_settings

    @property
    def milvus_uri_resolved(self) -> str:
        return self.milvus_uri or str(self.data_dir / "milvus.db")

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def history_path(self) -> Path:
        return self.data_dir / "history.sqlite"

    @property
    def locks_dir(self) -> Path:
        return self.data_dir / "locks"

    @property
    def manifest_path(self) -> Path:
        return self.data_dir / "catalog.sqlite"

    def course_names(self) -> list[str]:
        return [course.name for course in self.courses] or [DEFAULT_COURSE]

    def course(self, name: str | None = None, remembered_sources: list[str] | None = None) -> Course:
        """The named course (the first configured one, or `default`, when no name is given).

        The implicit `default` course reads the folder last given to `mentor ingest PATH`,
        else the sample course.
        """
        if not self.courses:
            if name not in (None, DEFAULT_COURSE):
                raise UnknownCourseError(
                    f"No course named {name!r}: no courses are configured, so the only course is "
                    f"{DEFAULT_COURSE!r}. Add a [[courses]] table to {self.config} to define more."
                )
            sources = tuple(Path(s) for s in remembered_sources or []) or (EXAMPLE_COURSE,)
            return Course(name=DEFAULT_COURSE, sources=sources)
        for course in self.courses:
            if name is None or course.name == name:
                return course
        raise UnknownCourseError(
            f"No course named {name!r}. Configured courses: {', '.join(self.course_names())} (in {self.config})."
        )


def cron_trigger(course: Course) -> CronTrigger:
    """The course's schedule as APScheduler reads it; raises ValueError naming what is wrong."""
    try:
        zone = ZoneInfo(course.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"timezone {course.timezone!r} is not a known time zone (e.g. 'Europe/Berlin', 'UTC')") from None
    try:
        return CronTrigger.from_crontab(course.schedule, timezone=zone)
    except ValueError as exc:
        raise ValueError(f"schedule {course.schedule!r} is not a cron expression of five fields ({exc})") from None


def _check_schedule(number: int, course: Course) -> None:
    try:
        cron_trigger(course)
    except ValueError as exc:
        key = "timezone" if str(exc).startswith("timezone") else "schedule"
        raise ValueError(f"courses.{number}.{key} (course {course.name!r}): {exc}") from None


class TomlFileSource(PydanticBaseSettingsSource):
    """The TOML config file, with its relative paths made relative to the file."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path) -> None:
        super().__init__(settings_cls)
        self.path = path

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        if not self.path.exists():
            if self.path != DEFAULT_CONFIG:
                raise ConfigError(f"Config file {self.path} does not exist (named by MENTOR_CONFIG or --config).")
            return {}
        try:
            data = tomllib.loads(self.path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{self.path} is not valid TOML: {exc}") from exc
        except OSError as exc:
            raise ConfigError(f"Cannot read {self.path}: {exc.strerror or exc}") from exc
        return _relative_to(data, self.path.parent)


def _relative_to(data: dict[str, Any], folder: Path) -> dict[str, Any]:
    def anchored(value: Any) -> Any:
        return str(folder / value) if isinstance(value, str) and not Path(value).is_absolute() else value

    if "data_dir" in data:
        data["data_dir"] = anchored(data["data_dir"])
    for course in data.get("courses", []) if isinstance(data.get("courses"), list) else []:
        if isinstance(course, dict) and isinstance(course.get("sources"), list):
            course["sources"] = [anchored(source) for source in course["sources"]]
    return data


def _config_path(*sources: PydanticBaseSettingsSource) -> Path:
    for source in sources:
        values = source.init_kwargs if hasattr(source, "init_kwargs") else source()
        if values.get("config"):
            return Path(values["config"])
    return DEFAULT_CONFIG


def load_settings(**overrides: Any) -> Settings:
    """Build the settings, turning every validation error into one `ConfigError` that names the keys."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(_problem(error) for error in exc.errors())
        raise ConfigError(f"Invalid settings: {problems}") from None


def _problem(error: Any) -> str:
    key, reason = _key(error["loc"]), _reason(error)
    # A validator over a whole list names the exact key itself.
    return reason if reason.startswith(key + ".") else f"{key}: {reason}"


def _key(location: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in location) or "settings"


def _reason(error: Any) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown setting (check its spelling)"
    return re.sub(r"^Value error, ", "", error["msg"])
