"""The course files a browser may open: what the live index holds and what its pages embed.

`/files` serves course materials so citations open on a laptop. Instructors keep
solutions beside the materials, so being inside a source folder is not enough: a file is
served only when the live generation indexed it (or an indexed HTML page shows it, as an
image or a stylesheet), the course's exclusions do not leave it out now, and it is released
(`ingest.releases`, as the course's settings and the file's own front matter say now).
Everything else answers like a missing file.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from ingest.discovery import root_of
from ingest.errors import ExcludeRulesError, UnreadableFileError
from ingest.exclusion import Exclusions
from ingest.manifest import Manifest
from ingest.releases import ReleaseRules
from models import Course


def published_file(course: Course, manifest: Manifest, generation: str | None, name: str, now: datetime) -> Path | None:
    """The file `name` (a citation's `source`) maps to, when the course publishes it by `now`; `course.sources` are its roots.

    Rules that cannot be read publish nothing: a solution must not leak because its
    `.mentorignore` or its front matter broke.
    """
    if generation is None or not manifest.publishes(generation, name):
        return None
    try:
        if Exclusions(course.sources, course.exclude).excludes(name):
            return None
    except ExcludeRulesError:
        return None
    path = locate(course.sources, name)
    try:
        if path is None or not ReleaseRules(course).release_of(name, path).released(now):
            return None
    except UnreadableFileError:
        return None
    return path


def locate(roots: tuple[Path, ...], name: str) -> Path | None:
    """The file a course-relative name maps to, or None when it is not a visible file inside one of `roots`.

    Refuses `..`, absolute paths, hidden files (a checkout's `.git`), directories, and
    symlinks that lead out of the folder.
    """
    parts = name.split("/")
    if not name or "\\" in name or "\x00" in name or any(not part or part.startswith((".", "~$")) for part in parts):
        return None
    found = root_of(roots, name)
    if found is None:
        return None
    base = found[0].resolve()
    path = base.joinpath(*found[1].split("/")).resolve()
    return path if path.is_relative_to(base) and path.is_file() else None
