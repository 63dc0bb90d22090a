"""Finding a course's files: every file under its source folders, minus the clutter."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.errors import SourceFolderError

if TYPE_CHECKING:
    from ingest.exclusion import Exclusions

SKIPPED_DIRS = {"__pycache__", ".ipynb_checkpoints", "node_modules"}


def discover(sources: tuple[Path, ...], *, skip_missing: bool = False, exclusions: Exclusions | None = None) -> dict[str, Path]:
    """Map each file's course-relative name to its path, leaving out what `exclusions` excludes.

    With one source folder, names are relative to it; with several, each name starts
    with its folder's name, so `lectures/week1.pdf` and `labs/week1.pdf` stay apart.
    A missing folder is an error unless `skip_missing`; skipping one changes no other
    folder's names.
    """
    missing = [str(root) for root in sources if not root.is_dir()]
    if missing and not skip_missing:
        raise SourceFolderError(
            f"Source folder not found: {', '.join(missing)}. Check the course's `sources` in mentor.toml "
            "or the PATH given to `mentor ingest`."
        )
    names = [root.resolve().name for root in sources]
    if len(set(names)) != len(names):
        raise SourceFolderError(f"Two source folders of one course share a name ({', '.join(names)}): rename one.")
    files: dict[str, Path] = {}
    for root in sources:
        if not root.is_dir():
            continue
        prefix = source_prefix(sources, root)
        for path in _walk(root):
            name = prefix + path.relative_to(root).as_posix()
            if exclusions is None or not exclusions.excludes(name):
                files[name] = path
    return dict(sorted(files.items()))


def source_prefix(sources: tuple[Path, ...], root: Path) -> str:
    """What the names of `root`'s files start with: nothing for a lone folder, else its name."""
    return f"{root.resolve().name}/" if len(sources) > 1 else ""


def root_of(sources: tuple[Path, ...], name: str) -> tuple[Path, str] | None:
    """The source folder a course-relative name belongs to, and the name inside it (`source_prefix` undone)."""
    if len(sources) == 1:
        return sources[0], name
    first, _, rest = name.partition("/")
    root = next((root for root in sources if root.resolve().name == first), None)
    return (root, rest) if root is not None and rest else None


def _walk(root: Path) -> list[Path]:
    found: list[Path] = []
    base = root.resolve()
    for folder, dirs, filenames in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIPPED_DIRS)
        for filename in filenames:
            # Hidden files and Office's `~$` lock files are never course material.
            if filename.startswith((".", "~$")):
                continue
            path = Path(folder) / filename
            # A symlink out of the folder would index a file from elsewhere (grades, /etc): `/files` refuses it too.
            if path.is_file() and path.resolve().is_relative_to(base):
                found.append(path)
    return found
