"""Which assignment a question touches: one it names, or the one its top sources belong to.

A file belongs to the assignment its own front matter names (`declared`); else to the
assignment whose `files` glob matching it has the most literal characters. Two equally
specific globs of two assignments matching one file are an `AssignmentOverlapError`
naming both globs and the course: the ingest checks every file and stops before writing
anything, and a question whose best source is such a file fails with it (its log line
names both) rather than being answered under a policy picked by chance. Two assignments may not share a glob at all (settings
refuse it at start-up, naming both).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime

from ingest.errors import AssignmentOverlapError
from ingest.exclusion import compile_glob
from ingest.releases import WILDCARDS
from ingest.solutions import solution_code
from models import ActiveAssignment, Assignment, Course

# The sources that decide: the question's best hit, not every passage it brushed (in a small
# course every question's second hit may be the homework).
TOP_SOURCES = 1


class AssignmentRules:
    """One course's assignments, built once per question or ingest (cheap) and asked per file."""

    def __init__(self, course: Course) -> None:
        self.course = course
        self._declared = {source: assignment for assignment in course.assignments for source in assignment.declared}
        rules = [
            (len(WILDCARDS.sub("", pattern)), pattern, assignment, compile_glob(pattern))
            for assignment in course.assignments
            for pattern in assignment.files
        ]
        self._rules = sorted(rules, key=lambda rule: -rule[0])

    def of_source(self, source: str) -> Assignment | None:
        """The assignment the file belongs to; raises `AssignmentOverlapError` on a tie between two."""
        if source in self._declared:
            return self._declared[source]
        best: tuple[int, str, Assignment] | None = None
        for specificity, pattern, assignment, glob in self._rules:
            if best is not None and specificity < best[0]:
                break
            if not glob.matches(source):
                continue
            if best is None:
                best = (specificity, pattern, assignment)
            elif assignment.name != best[2].name:
                raise AssignmentOverlapError(
                    f"Course {self.course.name!r}: {source!r} matches {best[1]!r} (assignment {best[2].name!r}) and "
                    f"{pattern!r} (assignment {assignment.name!r}), which are equally specific. Make one glob more "
                    "specific, or name the assignment in the file's front matter (README, \"Assignment policies\")."
                )
        return best[2] if best else None

    def check(self, sources: Iterable[str]) -> None:
        """Raise `AssignmentOverlapError` for the first file two equally specific globs of two assignments claim."""
        for source in sources:
            self.of_source(source)

    def touched(self, question: str, sources: Sequence[str]) -> Assignment | None:
        """The assignment the question names, else its best source's."""
        for assignment in self.course.assignments:
            if re.search(rf"(?<!\w){re.escape(assignment.name)}(?!\w)", question, re.IGNORECASE):
                return assignment
        for source in sources[:TOP_SOURCES]:
            if found := self.of_source(source):
                return found
        return None

    def active(self, question: str, sources: Sequence[str], now: datetime) -> ActiveAssignment | None:
        """The assignment policy this question is answered under now; None: a normal answer.

        `self.course.sources` are the folders its solution files are read from (the Git checkout included).
        """
        assignment = self.touched(question, sources)
        if assignment is None:
            return None
        mode = assignment.mode_at(now)
        return ActiveAssignment(
            name=assignment.name,
            due=assignment.due,
            mode=mode,
            max_code_lines=self.course.max_code_lines,
            solutions=solution_code(self.course, assignment) if mode != "full" else (),
            solution_overlap=self.course.solution_overlap,
        )
