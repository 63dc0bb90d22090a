"""What an ingest run did, file by file."""

from __future__ import annotations

from pydantic import BaseModel, Field

from models.assignment import DeclaredAssignment


class FileFailure(BaseModel):
    """A file that could not be ingested, and why, in words an instructor can act on."""

    source: str
    reason: str


class IngestReport(BaseModel):
    course: str
    added: list[str] = Field(default_factory=list)
    changed: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    unchanged: list[str] = Field(default_factory=list)
    failed: list[FileFailure] = Field(default_factory=list)
    skipped: list[str] = Field(default_factory=list)
    """Files of a kind no loader reads (images, archives): noted, not failures."""
    chunks_written: int = 0
    chunks_removed: int = 0
    seconds: float = 0.0
    rebuilt: bool = False
    """The index was rebuilt beside the old one (a new model, chunking or schema) and switched to."""
    rescheduled: list[str] = Field(default_factory=list)
    """Unchanged files whose release date moved (the config changed): their rows took it, with their vectors."""
    warnings: list[str] = Field(default_factory=list)
    """Sources that could not be refreshed or found (what they held is kept as it was),
    `releases` globs that match no file, and `assignment:` declarations that name no assignment."""
    declarations: list[DeclaredAssignment] = Field(default_factory=list)
    """Every file's own `assignment:` (front matter, notebook metadata): questions use them until the next ingest."""

    @property
    def changed_anything(self) -> bool:
        return bool(self.added or self.changed or self.removed or self.failed or self.rescheduled or self.warnings)

    def summary(self) -> str:
        text = (
            f"{self.course}: {len(self.added)} added, {len(self.changed)} changed, "
            f"{len(self.removed)} removed, {len(self.unchanged)} unchanged, "
            f"{len(self.failed)} failed; {self.chunks_written} chunks written in {self.seconds:.1f} s"
        )
        if self.rescheduled:
            text += f"; {len(self.rescheduled)} given a new release date"
        return text + (" (index rebuilt and switched)" if self.rebuilt else "")
