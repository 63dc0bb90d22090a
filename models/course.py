"""A course: the unit that owns materials, an index and (later) chat channels."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from models.assignment import Assignment, ExamWindow
from models.release import release_moment

COURSE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class EscalationPolicy(BaseModel):
    """Where a course's questions go when the bot cannot answer them (README, "Escalating to a TA")."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ta_queue: str | None = None
    """The TA queue: a Slack channel id (`C…`); unset: nothing escalates."""
    ta_queue_platform: Literal["slack", "discord"] = "slack"
    """The platform of the queue: a Slack channel id (`C…`), or a private Discord channel's id for a course without Slack."""
    pseudonymous: bool = True
    """TAs see a stable per-course pseudonym ("Student 4F2A") instead of the student's name."""
    name_ta: bool = True
    """The student's answer names the TA who wrote it; off: "a TA"."""
    repost_after_minutes: int = Field(0, ge=0)
    """A question still open this long is posted to the queue again, once; 0: never."""
    on_thumbs_down: bool = False
    """A student's 👎 on an answer sends its question to the TA queue, as "Ask a TA" would."""


class Course(BaseModel):
    """One course: its name, the folders its materials live in, and where they are published.

    `base_url` maps the source folders to a public site (course page, LMS, Git host), so a
    citation of `week1/loops.pdf` page 3 links to `{base_url}/week1/loops.pdf#page=3`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    sources: tuple[Path, ...] = ()
    repository: str | None = None
    """A Git repository of materials (URL or path), cloned into the data dir and refreshed before each ingest."""
    branch: str | None = None
    """The repository's branch to follow; unset means its default branch."""
    base_url: str | None = None
    exclude: tuple[str, ...] = ()
    """Gitignore-style globs of files never indexed nor served, matched inside each source
    folder (e.g. `solutions/**`, `*-solution.*`); a folder's `.mentorignore` adds its own."""
    policy: str | None = None
    """How the mentor behaves for this course, in the instructor's words; unset means the
    default: a patient TA who explains and hints, and never hands out graded solutions."""
    answer_mode: Literal["auto", "generate", "quote"] | None = None
    """This course's `answer.mode`; unset means the global one."""
    schedule: str = "0 3 * * *"
    """When the scheduled re-ingest runs: a five-field cron expression, in `timezone`."""
    timezone: str = "UTC"
    """The zone of `schedule`, `start_date` and the `releases` table."""
    start_date: date | None = None
    """The first day of week 1: material in a folder named `week-05/` or `w05/` is released at
    midnight (in `timezone`) four weeks after it. Unset: week folders release nothing later."""
    releases: tuple[tuple[str, datetime], ...] = ()
    """Glob -> release date-time, in `timezone` unless it names an offset (`"week-06/**" = 2026-10-05T09:00`).
    Written in mentor.toml as a table; the most specific glob matching a file wins (`ingest.releases`)."""
    assignments: tuple[Assignment, ...] = ()
    """Graded tasks: their materials, deadline and answer mode before and after it (README, "Assignment policies")."""
    exams: tuple[ExamWindow, ...] = ()
    """Exam windows: during one the mentor answers only logistics questions, or nothing (README, "Exam windows")."""
    max_code_lines: int = Field(6, ge=0)
    """Before an assignment's deadline, an answer with a code block longer than this is replaced by a hint."""
    solution_overlap: float = Field(0.5, gt=0, le=1)
    """Before an assignment's deadline, an answer with a code block sharing this share (or more) of its
    4-token shingles with one of the assignment's `solutions` files is replaced by a hint."""
    report_channel: str | None = None
    """A chat channel where scheduled runs that changed or failed something are reported."""
    escalation: EscalationPolicy = EscalationPolicy()
    digest_schedule: str | None = "0 8 * * 1"
    """When the instructors' digest of the past period is posted to `report_channel` (cron, in
    `timezone`; default Mondays 08:00); None turns it off."""

    @model_validator(mode="after")
    def _has_materials(self) -> Course:
        if not self.sources and not self.repository:
            raise ValueError("a course needs `sources` (folders) or a `repository` (Git), or both")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return zone_of(self.timezone)

    @field_validator("name")
    @classmethod
    def _name_is_a_slug(cls, value: str) -> str:
        if not COURSE_NAME.match(value):
            raise ValueError(
                "a course name is 1-63 lowercase letters, digits, '-' or '_', starting with a letter "
                f"or digit (got {value!r})"
            )
        return value

    @field_validator("start_date", mode="before")
    @classmethod
    def _start_date(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                raise ValueError(f"{value!r} is not a date (write e.g. 2026-09-07) (course {info.data.get('name')!r})") from None
        return value

    @field_validator("releases", mode="before")
    @classmethod
    def _release_dates(cls, value: Any, info: ValidationInfo) -> Any:
        """Read each date in the course's zone here, so a bad one stops start-up naming the course and the glob."""
        items = value.items() if isinstance(value, dict) else value
        zone = zone_of(info.data.get("timezone", "UTC"))
        parsed = []
        for glob, moment in items:
            try:
                parsed.append((str(glob), release_moment(moment, zone)))
            except ValueError as exc:
                raise ValueError(f"{glob!r}: {exc} (course {info.data.get('name')!r})") from None
        return tuple(parsed)

    @field_validator("assignments", "exams", mode="before")
    @classmethod
    def _dates_in_zone(cls, value: Any, info: ValidationInfo) -> Any:
        """Deadlines and exam times are read in the course's zone, like release dates."""
        if not isinstance(value, list | tuple):
            return value
        zone = zone_of(info.data.get("timezone", "UTC"))
        what = "assignment" if info.field_name == "assignments" else "exam"
        read = []
        for number, item in enumerate(value):
            if isinstance(item, dict):
                for key in ("due", "start", "end"):
                    if key not in item:
                        continue
                    try:
                        item = {**item, key: release_moment(item[key], zone)}
                    except ValueError as exc:
                        raise ValueError(
                            f"{what} {number} ({item.get('name')!r}): {key} {exc} (course {info.data.get('name')!r})"
                        ) from None
            read.append(item)
        return read

    @field_validator("base_url")
    @classmethod
    def _base_url_without_trailing_slash(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if not re.match(r"^https?://", value):
            raise ValueError(f"base_url must start with http:// or https:// (got {value!r})")
        return value.rstrip("/")


def zone_of(name: str) -> ZoneInfo:
    """The course's time zone, or UTC where it names none: settings refuse such a course at start-up
    (`courses.N.timezone`), so dates read in UTC meanwhile are never used."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")
