"""Errors of the ingest package; each message says what the instructor can do about it."""

from __future__ import annotations


class IngestError(Exception):
    """Root of everything ingest raises on purpose."""


class UnreadableFileError(IngestError):
    """One file could not be read. The ingest goes on with the others and keeps its old chunks."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class SourceFolderError(IngestError):
    """A course's source folder is missing or is not a folder."""


class ExcludeRulesError(IngestError):
    """A course's `exclude` pattern or a `.mentorignore` cannot be read: nothing is ingested or served until it is fixed."""


class AssignmentOverlapError(IngestError):
    """A file matches globs of two assignments that are equally specific: which policy it is under is the instructor's call."""
