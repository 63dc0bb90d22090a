"""All settings, read once at the edge and passed down.

Sources, strongest first: arguments, `MENTOR_*` environment variables (nested with
`__`, e.g. `MENTOR_CHUNKING__SIZE=160`), a `.env` file, then the TOML config file
(`mentor.toml`, or the file `MENTOR_CONFIG` names). Paths in the TOML file are
relative to the file's own folder.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from bot.config.sections import (
    AnswerSettings,
    AttachmentSettings,
    ChunkingSettings,
    DedupeSettings,
    DiscordSettings,
    EmbeddingSettings,
    HealthSettings,
    LlmSettings,
    LogSettings,
    ScheduleSettings,
    SearchSettings,
    ServeSettings,
    SlackSettings,
    WebSettings,
)
from bot.errors import ConfigError, UnknownCourseError
from ingest.exclusion import compile_glob
from models import Course
from rag.index import collection_name

DEFAULT_CONFIG = Path("mentor.toml")
DEFAULT_COURSE = "default"
EXAMPLE_COURSE = Path("examples/course")


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
    database_url: SecretStr | None = None
    """Where the shared state lives (run history, question log, ingest catalog): `postgresql://user:pass@host/db`
    for replicas; unset means one SQLite file, `<data_dir>/state.sqlite`."""
    milvus_timeout: float = Field(10.0, gt=0)
    milvus_memory_rows: int = Field(200_000, ge=0)
    """Milvus Lite: a course of up to this many chunks is searched from this process's memory (hybrid search
    p95 9 ms against Lite's own 267 ms at 50k chunks, `python -m bench.speed`); larger ones in Milvus Lite
    itself. 0 turns it off."""
    embedding: EmbeddingSettings = EmbeddingSettings()
    chunking: ChunkingSettings = ChunkingSettings()
    search: SearchSettings = SearchSettings()
    llm: LlmSettings = LlmSettings()
    answer: AnswerSettings = AnswerSettings()
    attachments: AttachmentSettings = AttachmentSettings()
    reindex: ScheduleSettings = ScheduleSettings()
    serve: ServeSettings = ServeSettings()
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
            _check_excludes(number, course)
            _check_releases(number, course)
            _check_assignments(number, course)
            _check_exams(number, course)
            clash = seen.setdefault(collection_name(course.name), course.name)
            if clash != course.name:
                raise ValueError(f"courses {clash!r} and {course.name!r} would share one index: rename one")
        return courses

    @model_validator(mode="after")
    def _channels_name_known_courses(self) -> Settings:
        known = set(self.course_names())
        for platform, channels in (("slack", self.slack.channels), ("discord", self.discord.channels)):
            for channel, route in channels.items():
                if route.course is not None and route.course not in known:
                    raise ValueError(
                        f"{platform}.channels maps {channel} to the course {route.course!r}, which is not configured "
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
    def database_url_resolved(self) -> str:
        return self.database_url.get_secret_value() if self.database_url else f"sqlite:///{self.data_dir / 'state.sqlite'}"

    @property
    def legacy_state_files(self) -> tuple[Path, Path]:
        """The run history / question log and the ingest catalog as releases before the state database kept them."""
        return self.data_dir / "history.sqlite", self.data_dir / "catalog.sqlite"

    @property
    def pending_path(self) -> Path:
        """Questions taken and not yet answered (`bot.store.pending`)."""
        return self.data_dir / "pending.sqlite"

    @property
    def locks_dir(self) -> Path:
        return self.data_dir / "locks"

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


def cron_trigger(course: Course, expression: str | None = None, key: str = "schedule") -> CronTrigger:
    """The course's schedule (or another of its cron `expression`s, named `key`) as APScheduler reads
    it, in the course's timezone; raises ValueError naming what is wrong."""
    try:
        zone = ZoneInfo(course.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"timezone {course.timezone!r} is not a known time zone (e.g. 'Europe/Berlin', 'UTC')") from None
    try:
        return CronTrigger.from_crontab(expression or course.schedule, timezone=zone)
    except ValueError as exc:
        raise ValueError(f"{key} {expression or course.schedule!r} is not a cron expression of five fields ({exc})") from None


def _check_schedule(number: int, course: Course) -> None:
    for key, expression in (("schedule", course.schedule), ("digest_schedule", course.digest_schedule)):
        if expression is None:
            continue
        try:
            cron_trigger(course, expression, key)
        except ValueError as exc:
            key = "timezone" if str(exc).startswith("timezone") else key
            raise ValueError(f"courses.{number}.{key} (course {course.name!r}): {exc}") from None


def _check_globs(patterns: Sequence[str], where: str) -> None:
    """Every glob of one setting compiles; `where` names the key and the course in the error."""
    for pattern in patterns:
        try:
            compile_glob(pattern)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None


def _check_excludes(number: int, course: Course) -> None:
    _check_globs(course.exclude, f"courses.{number}.exclude (course {course.name!r})")


def _check_releases(number: int, course: Course) -> None:
    for pattern, _ in course.releases:
        try:
            if compile_glob(pattern).negated:
                raise ValueError(f"pattern {pattern!r} starts with '!', which releases nothing: name the files to release")
        except ValueError as exc:
            raise ValueError(f"courses.{number}.releases (course {course.name!r}): {exc}") from None


def _check_assignments(number: int, course: Course) -> None:
    owners: dict[str, str] = {}
    for assignment in course.assignments:
        where = f"courses.{number}.assignments (course {course.name!r}, {assignment.name!r})"
        _check_globs(assignment.files, where)
        _check_globs(assignment.solutions, where)
        if assignment.declared:
            raise ValueError(f"{where}: `declared` is read from the files' own front matter: list the files in `files`")
        if any(pattern.strip().startswith("!") for pattern in assignment.solutions):
            raise ValueError(f"{where}: a `solutions` glob starts with '!', which names no solution: name the solution files")
        for pattern in assignment.files:
            other = owners.setdefault(pattern, assignment.name)
            if other != assignment.name:
                raise ValueError(
                    f"courses.{number}.assignments (course {course.name!r}): {other!r} and {assignment.name!r} both claim "
                    f"{pattern!r}: give the files to one of them, or make one glob more specific"
                )


def _check_exams(number: int, course: Course) -> None:
    for exam in course.exams:
        _check_globs(exam.logistics, f"courses.{number}.exams (course {course.name!r}, {exam.name!r})")


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
