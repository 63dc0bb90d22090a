"""A course: the unit that owns materials, an index and (later) chat channels."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

COURSE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class Course(BaseModel):
    """One course: its name, the folders its materials live in, and where they are published.

    `base_url` maps the source folders to a public site (course page, LMS, Git host), so a
    citation of `week1/loops.pdf` page 3 links to `{base_url}/week1/loops.pdf#page=3`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    sources: tuple[Path, ...] = Field(min_length=1)
    base_url: str | None = None
    policy: str | None = None
    """How the mentor behaves for this course, in the instructor's words; unset means the
    default: a patient TA who explains and hints, and never hands out graded solutions."""

    @field_validator("name")
    @classmethod
    def _name_is_a_slug(cls, value: str) -> str:
        if not COURSE_NAME.match(value):
            raise ValueError(
                "a course name is 1-63 lowercase letters, digits, '-' or '_', starting with a letter "
                f"or digit (got {value!r})"
            )
        return value

    @field_validator("base_url")
    @classmethod
    def _base_url_without_trailing_slash(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if not re.match(r"^https?://", value):
            raise ValueError(f"base_url must start with http:// or https:// (got {value!r})")
        return value.rstrip("/")
