"""A course's term as its release rules lay it out: what is released now, what comes next and when.

Built from the files in the source folders and the rules as they stand (not from the
index), so an instructor sees the calendar a config change makes before reindexing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from ingest.assignments import AssignmentRules
from ingest.declared_assignment import declarations_in, merged
from ingest.discovery import discover
from ingest.errors import AssignmentOverlapError, IngestError, UnreadableFileError
from ingest.exclusion import Exclusions
from ingest.loaders import is_supported
from ingest.releases import Release, ReleaseRules
from models import Assignment, Course

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Scheduled:
    source: str
    release: Release

    def to_json(self) -> dict[str, object]:
        at = self.release.at
        return {"source": self.source, "release": at.isoformat() if at else None, "rule": self.release.rule}


@dataclass(frozen=True)
class TermCalendar:
    course: Course
    now: datetime
    files: list[Scheduled]
    """Every file the course indexes, earliest release first (those with none at the top)."""
    problems: list[str] = field(default_factory=list)
    """Files whose own release date cannot be read (left out until fixed), and globs that match nothing."""

    @property
    def assignments(self) -> list[Assignment]:
        """The course's assignments by deadline: `mode_at(now)` says which policy is active."""
        return sorted(self.course.assignments, key=lambda assignment: assignment.due)

    @property
    def released(self) -> list[Scheduled]:
        return [item for item in self.files if item.release.released(self.now)]

    @property
    def upcoming(self) -> list[Scheduled]:
        return [item for item in self.files if not item.release.released(self.now)]

    @property
    def next_release(self) -> tuple[datetime, list[str]] | None:
        """The next release time and the files it releases; None when everything is out."""
        upcoming = self.upcoming
        if not upcoming:
            return None
        first = upcoming[0].release.at
        assert first is not None  # an unreleased file has a release time
        return first, [item.source for item in upcoming if item.release.at == first]

    def to_json(self) -> dict[str, object]:
        following = self.next_release
        return {
            "course": self.course.name,
            "timezone": self.course.timezone,
            "now": self.now.isoformat(),
            "released": [item.to_json() for item in self.released],
            "upcoming": [item.to_json() for item in self.upcoming],
            "next_release": {"at": following[0].isoformat(), "files": following[1]} if following else None,
            "assignments": [
                {"name": a.name, "due": a.due.isoformat(), "before": a.before, "after": a.after, "mode_now": a.mode_at(self.now)}
                for a in self.assignments
            ],
            "exams": [
                {"name": e.name, "start": e.start.isoformat(), "end": e.end.isoformat(), "answers": e.answers, "open": e.covers(self.now)}
                for e in self.course.exams
            ],
            "problems": self.problems,
        }


def term_calendar(course: Course, now: datetime) -> TermCalendar:
    """The course's files and their releases, and its assignments with those its files declare now;
    `course.sources` are the folders an ingest reads."""
    files = discover(course.sources, skip_missing=True, exclusions=Exclusions(course.sources, course.exclude))
    rules = ReleaseRules(course)
    scheduled: list[Scheduled] = []
    problems = [f"releases {pattern!r} matches no file of the course" for pattern in rules.unmatched(files)]
    if any(assignment.solutions for assignment in course.assignments):
        problems.extend(rules.unmatched_solutions(discover(course.sources, skip_missing=True)))
    declarations, unreadable = declarations_in({source: path for source, path in files.items() if is_supported(path)}, course.zone)
    assignments, unplaced = merged(course, declarations)
    course = course.model_copy(update={"assignments": assignments})
    try:
        AssignmentRules(course).check(source for source, path in files.items() if is_supported(path))
    except AssignmentOverlapError as exc:
        problems.append(str(exc))
    for source, path in files.items():
        if not is_supported(path):
            continue
        try:
            scheduled.append(Scheduled(source, rules.release_of(source, path)))
        except UnreadableFileError as exc:
            problems.append(str(exc))
    problems.extend(problem for problem in (*unreadable, *unplaced) if problem not in problems)
    scheduled.sort(key=lambda item: (item.release.epoch, item.source))
    return TermCalendar(course, now.astimezone(course.zone), scheduled, problems)


def upcoming_release(course: Course, now: datetime) -> tuple[datetime, list[str]] | None:
    """The next release, for status pages; None too when the course's rules cannot be read (logged),
    so status still shows the rest."""
    try:
        return term_calendar(course, now).next_release
    except IngestError as exc:
        log.warning("the calendar of %s cannot be read: %s", course.name, exc)
        return None
