"""Assignments and the answer mode each one asks for, before and after its deadline; exam windows."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

AssignmentMode = Literal["concepts", "hints", "full"]
"""`concepts`: explain the ideas, no code for this task; `hints`: guiding questions and
pointers, no complete solution; `full`: a normal answer."""


class Assignment(BaseModel):
    """One graded task of a course, as `[[courses.assignments]]` in mentor.toml declares it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    files: tuple[str, ...] = ()
    """Globs of the assignment's materials (as `releases`); a question whose top sources are
    among them, or that names the assignment, is answered under its mode."""
    due: datetime
    """Aware: read in the course's timezone unless it names an offset (`models.course`)."""
    before: AssignmentMode = "hints"
    after: AssignmentMode = "full"
    solutions: tuple[str, ...] = ()
    """Globs of the solution files: released no earlier than `due` (later when a release rule
    says so), and read before it only to catch answers whose code is close to theirs."""
    declared: tuple[str, ...] = ()
    """Files that name this assignment in their own front matter or notebook metadata (set at
    ingest, not in mentor.toml): they belong to it whatever the globs say."""

    def mode_at(self, now: datetime) -> AssignmentMode:
        return self.before if now < self.due else self.after


class DeclaredAssignment(BaseModel):
    """A file's own `assignment:` (Markdown front matter or notebook metadata), as the ingest read it."""

    model_config = ConfigDict(frozen=True)

    source: str
    name: str
    defined: Assignment | None = None
    """The assignment as the file defines it (it gave a `due`); None: it joins one defined elsewhere."""


class ActiveAssignment(BaseModel):
    """The assignment a question touches and the mode it is answered under now: what the answerer needs."""

    model_config = ConfigDict(frozen=True)

    name: str
    due: datetime
    mode: AssignmentMode
    max_code_lines: int
    """Before the deadline, an answer with a longer code block is replaced by a hint."""
    solutions: tuple[str, ...] = ()
    """The code of the assignment's solution files, read from the course folders for this check only."""
    solution_overlap: float = 0.5
    """Before the deadline, a code block sharing at least this share of its token shingles with a
    solution file is replaced by a hint (`rag.code_similarity`)."""

    @property
    def restricted(self) -> bool:
        return self.mode != "full"


class ExamWindow(BaseModel):
    """A time during which the mentor answers only logistics questions, or nothing, and says so."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    start: datetime
    end: datetime
    """Both aware: read in the course's timezone unless they name an offset (`models.course`)."""
    answers: Literal["logistics", "nothing"] = "logistics"
    logistics: tuple[str, ...] = ()
    """Globs of the files that hold logistics (syllabus, exam rules): with `answers = "logistics"`,
    a question is answered only when its best source is one of them."""

    @model_validator(mode="after")
    def _ends_after_it_starts(self) -> ExamWindow:
        if self.end <= self.start:
            raise ValueError(f"exam {self.name!r} ends ({self.end.isoformat()}) before it starts ({self.start.isoformat()})")
        return self

    def covers(self, now: datetime) -> bool:
        return self.start <= now < self.end
