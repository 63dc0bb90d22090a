"""Assignments that files declare themselves: `assignment:` in Markdown front matter or notebook metadata.

A file names the assignment it belongs to (`assignment: Homework 3`), or defines one with
its deadline and modes (`assignment: {name: Homework 3, due: 2026-10-20T17:00, before: hints}`).
Its own word beats every glob (`ingest.assignments`), as its `release:` beats the table.
The ingest reads every file's declaration and keeps them with its report, so questions use
them until the next ingest; `mentor calendar` reads them from the files as they are now.

The order where names meet: an assignment in mentor.toml keeps its deadline and modes, and
the files that name it join it; else the first file (by name) that gives a `due` defines it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import tzinfo
from pathlib import Path

from pydantic import ValidationError

from ingest.declared_release import declared_metadata
from ingest.errors import UnreadableFileError
from models import Assignment, Course, DeclaredAssignment, IngestReport, release_moment


def declared_assignment(path: Path, source: str, zone: tzinfo) -> DeclaredAssignment | None:
    """The file's own `assignment:`, read in `zone` when its `due` has no offset; None when it declares none.

    A declaration that cannot be read is an `UnreadableFileError`: the file is reported and
    left out rather than answered with no policy before its deadline.
    """
    value = declared_metadata(path, source).get("assignment")
    if value is None:
        return None
    if isinstance(value, str) and value.strip():
        return DeclaredAssignment(source=source, name=value.strip())
    if not isinstance(value, dict) or not str(value.get("name") or "").strip():
        raise UnreadableFileError(source, "its `assignment:` is neither a name nor a table with a `name`; fix it and re-ingest")
    name = str(value["name"]).strip()
    if "due" not in value:
        return DeclaredAssignment(source=source, name=name)
    try:
        due = release_moment(value["due"], zone)
        defined = Assignment.model_validate({**value, "name": name, "due": due, "declared": (source,)})
    except ValueError as exc:  # ValidationError is one
        detail = "; ".join(error["msg"] for error in exc.errors()) if isinstance(exc, ValidationError) else str(exc)
        raise UnreadableFileError(source, f"its `assignment:` cannot be read ({detail}); fix it and re-ingest") from None
    return DeclaredAssignment(source=source, name=name, defined=defined)


def merged(course: Course, declarations: Iterable[DeclaredAssignment]) -> tuple[tuple[Assignment, ...], list[str]]:
    """The course's assignments with the declared ones added and the declaring files joined to theirs,
    and a line per declaration that could not be placed (for the report's warnings)."""
    found = sorted(declarations, key=lambda declaration: declaration.source)
    assignments = {assignment.name: assignment for assignment in course.assignments}
    problems: list[str] = []
    for declaration in (d for d in found if d.defined is not None):
        assert declaration.defined is not None
        first = assignments.get(declaration.name)
        if first is None:
            assignments[declaration.name] = declaration.defined
        elif first.due != declaration.defined.due and declaration.name not in {a.name for a in course.assignments}:
            problems.append(
                f"{declaration.source} gives {declaration.name!r} the deadline {declaration.defined.due.isoformat()}, "
                f"another file {first.due.isoformat()}: the first file's is used"
            )
    for declaration in found:
        assignment = assignments.get(declaration.name)
        if assignment is None:
            problems.append(
                f"{declaration.source} names the assignment {declaration.name!r}, which neither mentor.toml nor any "
                "file's front matter defines (give it a `due`)"
            )
        elif declaration.source not in assignment.declared:
            assignments[declaration.name] = assignment.model_copy(update={"declared": (*assignment.declared, declaration.source)})
    return tuple(assignments.values()), problems


def with_declared(course: Course, report: IngestReport | None) -> Course:
    """The course as questions see it: its settings, and the assignments its files declared at the last ingest."""
    if report is None or not report.declarations:
        return course
    return course.model_copy(update={"assignments": merged(course, report.declarations)[0]})


def declarations_in(files: Mapping[str, Path], zone: tzinfo) -> tuple[list[DeclaredAssignment], list[str]]:
    """Every declaration of `files`, and a line for each file whose declaration cannot be read (the calendar's problems)."""
    found: list[DeclaredAssignment] = []
    problems: list[str] = []
    for source, path in files.items():
        try:
            declaration = declared_assignment(path, source, zone)
        except UnreadableFileError as exc:
            problems.append(str(exc))
            continue
        if declaration is not None:
            found.append(declaration)
    return found, problems
