"""When each file of a course is released: its own `release:` date, the course's `releases`
table, or its week folder, the most specific first.

The order (README, "Release dates"): a date the file declares (Markdown front matter,
notebook metadata) beats the `releases` table; there, the glob with the most literal
characters wins, and of two equally specific globs the later date; a glob beats a week
folder (`week-05/`, `w05/`, released at midnight of the week's first day, counted from the
course's `start_date`). A file none of them names is released from the start. An
assignment's solution file (its `solutions` globs) is held until the assignment's deadline
whatever they say: it is released at the later of the two.

>>> ReleaseRules(course).release_of("week-06/lecture.md", path).at      # doctest: +SKIP
datetime.datetime(2026, 10, 12, 0, 0, tzinfo=zoneinfo.ZoneInfo(key='Europe/Berlin'))
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path

from ingest.declared_release import declared_release
from ingest.exclusion import Glob, compile_glob
from models import ALWAYS, Course, epoch_seconds

WEEK_FOLDER = re.compile(r"(?:week|w)[-_ ]?(\d{1,2})", re.IGNORECASE)
WILDCARDS = re.compile(r"\*|\?|\[[^\]]*\]")


@dataclass(frozen=True)
class Release:
    """A file's release time and the rule that set it, for the calendar and the index."""

    at: datetime | None
    """Aware, in the course's zone as configured; None: released from the start."""
    rule: str

    @property
    def epoch(self) -> int:
        return ALWAYS if self.at is None else epoch_seconds(self.at)

    def released(self, now: datetime) -> bool:
        return self.at is None or self.at <= now


UNSCHEDULED = Release(None, "no release date")


@dataclass(frozen=True)
class _ReleaseGlob:
    pattern: str
    glob: Glob
    at: datetime

    @property
    def specificity(self) -> tuple[int, datetime]:
        return len(WILDCARDS.sub("", self.pattern)), self.at


class ReleaseRules:
    """One course's release rules, built once per ingest or request and asked once per file."""

    def __init__(self, course: Course) -> None:
        self.course = course
        globs = [_ReleaseGlob(pattern, compile_glob(pattern), at) for pattern, at in course.releases]
        self._globs = sorted(globs, key=lambda rule: rule.specificity, reverse=True)
        self._solutions = [
            (assignment.name, assignment.due, pattern, compile_glob(pattern))
            for assignment in course.assignments
            for pattern in assignment.solutions
        ]

    def release_of(self, source: str, path: Path) -> Release:
        """The file's release; raises `UnreadableFileError` when its own front matter cannot be read."""
        declared = declared_release(path, source, self.course.zone)
        return self._held(source, Release(declared, "front matter") if declared is not None else self._rules_say(source))

    def configured(self, source: str) -> Release:
        """The release the course's settings give a file, without reading it: its glob, else its week folder."""
        return self._held(source, self._rules_say(source))

    def _rules_say(self, source: str) -> Release:
        for rule in self._globs:
            if rule.glob.matches(source):
                return Release(rule.at, f"releases {rule.pattern!r}")
        return self._week(source) or UNSCHEDULED

    def _held(self, source: str, release: Release) -> Release:
        """A solution file is released no earlier than its assignment's deadline (the latest one, if several claim it)."""
        dues = [(due, name) for name, due, _, glob in self._solutions if glob.matches(source)]
        if not dues:
            return release
        due, name = max(dues)
        if release.at is not None and release.at >= due:
            return release
        return Release(due, f"solution of {name!r}, held until it is due")

    def unmatched(self, sources: Iterable[str]) -> list[str]:
        """The `releases` globs no file of the course matches: most likely a typo that leaves a file public."""
        names = list(sources)
        return [rule.pattern for rule in self._globs if not any(rule.glob.matches(name) for name in names)]

    def unmatched_solutions(self, sources: Iterable[str]) -> list[str]:
        """A line for each `solutions` glob no file matches (excluded files count): a typo that would
        leave a solution released early and the check without it."""
        names = list(sources)
        return [
            f"assignment {name!r}: solutions {pattern!r} matches no file of the course: check the glob"
            for name, _, pattern, glob in self._solutions
            if not any(glob.matches(source) for source in names)
        ]

    def _week(self, source: str) -> Release | None:
        if self.course.start_date is None:
            return None
        # The folder nearest the file names its week (`unit-2/week-05/lab.md` is week 5).
        for folder in reversed(source.split("/")[:-1]):
            match = WEEK_FOLDER.fullmatch(folder)
            if match and int(match[1]) >= 1:
                first_day = self.course.start_date + timedelta(weeks=int(match[1]) - 1)
                return Release(datetime.combine(first_day, time(), tzinfo=self.course.zone), f"week folder {folder}")
        return None
