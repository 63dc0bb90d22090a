"""The release date a file declares itself: `release:` in Markdown front matter or in a notebook's metadata
(read by `declared_metadata`, which `declared_assignment` reads `assignment:` from too).

It is read apart from the loaders because a reindex needs it for files it does not load
again (unchanged ones), to see whether their release moved.
"""

from __future__ import annotations

import json
from datetime import datetime, tzinfo
from pathlib import Path

import yaml

from ingest.errors import UnreadableFileError
from ingest.loaders.markdown_notes import FRONT_MATTER
from ingest.loaders.textfile import read_text
from models import release_moment

MARKDOWN = (".md", ".markdown")
NOTEBOOK = ".ipynb"


def declared_release(path: Path, source: str, zone: tzinfo) -> datetime | None:
    """The file's own `release:` date, read in `zone` when it has no offset; None when it declares none.

    Front matter that is not YAML, or a date that is not one, is an `UnreadableFileError`:
    the file is reported and left out rather than published early.
    """
    value = declared_metadata(path, source).get("release")
    if value is None:
        return None
    try:
        return release_moment(value, zone)
    except ValueError as exc:
        raise UnreadableFileError(source, f"its `release:` {exc}; fix it and re-ingest") from None


def declared_metadata(path: Path, source: str) -> dict:
    """A Markdown file's front matter or a notebook's metadata (empty for other files); raises
    `UnreadableFileError` when front matter is not YAML."""
    suffix = path.suffix.lower()
    if suffix in MARKDOWN:
        return _front_matter(path, source)
    if suffix == NOTEBOOK:
        return _notebook_metadata(path, source)
    return {}


def _front_matter(path: Path, source: str) -> dict:
    match = FRONT_MATTER.match(read_text(path, source))
    if not match:
        return {}
    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 2}" if where is not None else ""
        raise UnreadableFileError(
            source, f"its front matter is not valid YAML{at} ({getattr(exc, 'problem', None) or exc}); fix it and re-ingest"
        ) from None
    return data if isinstance(data, dict) else {}


def _notebook_metadata(path: Path, source: str) -> dict:
    try:
        metadata = json.loads(read_text(path, source)).get("metadata", {})
    except (json.JSONDecodeError, AttributeError):
        return {}  # the notebook loader reports a notebook that is not one
    return metadata if isinstance(metadata, dict) else {}
