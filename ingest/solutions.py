"""The code of an assignment's solution files, read from the course folders for the check before its deadline.

Solutions are read here, at check time, and nowhere else before their release: an
instructor who also `exclude`s them (never indexed, never served) still gets the check,
since exclusions say what is published, not what the mentor may compare with.
"""

from __future__ import annotations

import json
import logging
import re

from ingest.discovery import discover
from ingest.errors import UnreadableFileError
from ingest.exclusion import compile_glob
from ingest.loaders.notebook import cell_source
from ingest.loaders.textfile import read_text
from models import Assignment, Course

log = logging.getLogger(__name__)

FENCED_CODE = re.compile(r"^[ \t]*(```|~~~)[^\n]*\n(.*?)^[ \t]*\1", re.MULTILINE | re.DOTALL)


def solution_code(course: Course, assignment: Assignment) -> tuple[str, ...]:
    """The code of each file the assignment's `solutions` globs match in `course.sources`; unreadable ones are logged and skipped."""
    if not assignment.solutions:
        return ()
    globs = [compile_glob(pattern) for pattern in assignment.solutions]
    code: list[str] = []
    for source, path in discover(course.sources, skip_missing=True).items():
        if not any(glob.matches(source) for glob in globs):
            continue
        try:
            text = read_text(path, source)
        except (OSError, UnreadableFileError) as exc:
            log.warning("the solution file %s of %s cannot be read for the check: %s", source, assignment.name, exc)
            continue
        code.append(_code_in(text, path.suffix.lower()))
    return tuple(text for text in code if text.strip())


def _code_in(text: str, suffix: str) -> str:
    """A notebook's code cells, a Markdown file's code blocks (all of it when it has none), any other file whole."""
    if suffix == ".ipynb":
        try:
            cells = json.loads(text).get("cells", [])
        except (json.JSONDecodeError, AttributeError):
            return text
        return "\n".join(cell_source(cell) for cell in cells if isinstance(cell, dict) and cell.get("cell_type") == "code")
    if suffix in (".md", ".markdown"):
        blocks = [match.group(2) for match in FENCED_CODE.finditer(text)]
        return "\n".join(blocks) if blocks else text
    return text
