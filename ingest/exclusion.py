"""What a course leaves out: its `exclude` globs and each source folder's `.mentorignore`.

Instructors keep solutions beside the materials. One `Exclusions` decides for ingest and
for `/files` alike, so a file left out of the index is never served either.

Patterns are gitignore-style and match a file's path inside its source folder: one
without a slash matches a name at any depth (`*.key.*`), one with a slash is anchored to
the folder (`solutions/**`), a trailing slash matches folders only, `!` takes a file back
in, and the last pattern that matches decides. A folder's `.mentorignore` lines come first
and the course's `exclude` last, so the course's configuration has the final word.

>>> Exclusions((Path("course"),), ["solutions/**"]).excludes("solutions/lab1.py")   # doctest: +SKIP
True
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ingest.discovery import root_of
from ingest.errors import ExcludeRulesError

MENTORIGNORE = ".mentorignore"


@dataclass(frozen=True)
class Glob:
    regex: re.Pattern[str]
    negated: bool
    folders_only: bool

    def matches(self, relative: str) -> bool:
        """Whether the file, or a folder it sits in, matches: a matched folder leaves out all it holds."""
        parts = relative.split("/")
        candidates = ["/".join(parts[:end]) for end in range(1, len(parts))]
        if not self.folders_only:
            candidates.append(relative)
        return any(self.regex.fullmatch(candidate) for candidate in candidates)


def compile_glob(pattern: str) -> Glob:
    """One gitignore-style pattern; raises ValueError saying what is wrong with it."""
    text = pattern.strip()
    negated = text.startswith("!")
    text = text.removeprefix("!")
    folders_only = text.endswith("/")
    anchored = "/" in text.rstrip("/")
    segments = text.strip("/").split("/")
    if not text.strip("/") or any(not segment for segment in segments):
        raise ValueError(f"pattern {pattern!r} names no file (empty, or a doubled '/')")
    body = "".join(_segment_regex(segment, last=i == len(segments) - 1) for i, segment in enumerate(segments))
    try:
        regex = re.compile(body if anchored else "(?:.*/)?" + body)
    except re.error as exc:
        raise ValueError(f"pattern {pattern!r} is not a valid glob ({exc})") from None
    return Glob(regex, negated, folders_only)


def _segment_regex(segment: str, last: bool) -> str:
    if segment == "**":
        return ".*" if last else "(?:.*/)?"
    out, i = "", 0
    while i < len(segment):
        char = segment[i]
        if char == "*":
            out += "[^/]*"
        elif char == "?":
            out += "[^/]"
        elif char == "[":
            start = i + 2 if segment[i + 1 : i + 2] in ("!", "^") else i + 1
            end = segment.find("]", start + 1 if segment[start : start + 1] == "]" else start)
            if end < 0:
                raise ValueError(f"'[' in {segment!r} is never closed")
            inner = segment[i + 1 : end]
            out += "[" + ("^" + inner[1:] if inner.startswith("!") else inner).replace("\\", "\\\\") + "]"
            i = end
        elif char == "\\":
            if i + 1 == len(segment):
                raise ValueError(f"{segment!r} ends with a lone backslash")
            i += 1
            out += re.escape(segment[i])
        else:
            out += re.escape(char)
        i += 1
    return out if last else out + "/"


class Exclusions:
    """The rules of one course: built once per ingest or request, asked once per file."""

    def __init__(self, sources: tuple[Path, ...], patterns: Sequence[str] = ()) -> None:
        self.sources = sources
        configured = [_compiled(pattern, "the course's `exclude`") for pattern in patterns]
        self._rules = {root: [*_ignore_file(root), *configured] for root in sources}

    def excludes(self, name: str) -> bool:
        """Whether the course-relative `name` (as ingest names files) is left out."""
        found = root_of(self.sources, name)
        if found is None:
            return True
        root, relative = found
        verdict = False
        for glob in self._rules[root]:
            if glob.matches(relative):
                verdict = not glob.negated
        return verdict


def _compiled(pattern: str, origin: str) -> Glob:
    try:
        return compile_glob(pattern)
    except ValueError as exc:
        raise ExcludeRulesError(f"{origin}: {exc}. Fix or remove the pattern; nothing is ingested until then.") from None


def _ignore_file(root: Path) -> list[Glob]:
    path = root / MENTORIGNORE
    if not path.exists():
        return []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ExcludeRulesError(
            f"Cannot read {path} ({reason}): make it a readable UTF-8 file or remove it. The course is not "
            "ingested until then, so nothing it hides can reach the index."
        ) from None
    return [
        _compiled(line, f"{path}, line {number}")
        for number, line in enumerate(lines, 1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
