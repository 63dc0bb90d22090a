"""Which assignment a question touches: one it names, or the one its top sources belong to.

An assignment's `files` are globs as in `releases`; where a file matches globs of two
assignments, the one with the most literal characters wins, and of two equally specific
ones the assignment due first (the stricter). Two assignments may not share a glob
(settings refuse it at start-up, naming both).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from ingest.exclusion import compile_glob
from ingest.releases import WILDCARDS
from models import ActiveAssignment, Assignment, Course

# The sources that decide: the question's best hit, not every passage it brushed (in a small
# course every question's second hit may be the homework).
TOP_SOURCES = 1


class AssignmentRules:
    """One course's assignments, built once per question (cheap) and asked once."""

    def __init__(self, course: Course) -> None:
        self.course = course
        rules = [
            (len(WILDCARDS.sub("", pattern)), assignment, compile_glob(pattern))
            for assignment in course.assignments
            for pattern in assignment.files
        ]
        # Most literal characters first; of equals, the earlier deadline.
        self._rules = sorted(rules, key=lambda rule: (-rule[0], rule[1].due))

    def of_source(self, source: str) -> Assignment | None:
        return next((assignment for _, assignment, glob in self._rules if glob.matches(source)), None)

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
        """The assignment policy this question is answered under now; None: a normal answer."""
        assignment = self.touched(question, sources)
        if assignment is None:
            return None
        return ActiveAssignment(
            name=assignment.name,
            due=assignment.due,
            mode=assignment.mode_at(now),
            max_code_lines=self.course.max_code_lines,
        )
