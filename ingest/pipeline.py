"""The incremental ingest: new and changed files in, deleted files out, the rest untouched."""

from __future__ import annotations

import hashlib
import time
from collections import deque
from collections.abc import Callable, Container, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ingest.assignments import AssignmentRules
from ingest.chunker import ChunkingPolicy, chunk_document, heading_context
from ingest.declared_assignment import declared_assignment, merged
from ingest.discovery import discover, source_prefix
from ingest.errors import UnreadableFileError
from ingest.exclusion import Exclusions
from ingest.loaders import is_supported, load_document
from ingest.manifest import Manifest
from ingest.releases import ReleaseRules
from models import Chunk, Course, FileFailure, IngestReport, SourceDoc
from rag.embedder import Embedder
from rag.index import MilvusIndex, collection_name, generation_name

# Files parsed ahead of the one being embedded: enough to hide parsing, little memory.
READ_AHEAD = 2
# Bump when the collection schema or what is embedded changes: the next ingest rebuilds.
# 3: generations behind an alias, so a rebuild never takes the live index away.
# 4: the heading path embedded with a chunk is capped, so a long title no longer crowds out its text.
# 5: a PDF page carries its outline's section path (and is cut where a section starts), and its printed page label.
# 6: every row carries its release time (`release_at`), which searches filter on.
INDEX_FORMAT = 6

ProgressCallback = Callable[[int, int, str], None]
"""Called with (files done, files to do, current file) as an ingest goes."""


@dataclass
class IngestPipeline:
    """Brings one course's index in line with its source folders.

    Unchanged files cost a hash; a changed file's chunks are replaced, a deleted
    file's removed; a file that cannot be read is reported and keeps the chunks it had.
    When the fingerprint changes, the index is rebuilt as a new generation beside the
    live one and the course's alias switched to it when it is complete: searches keep
    reading the old one until then, and a run that dies midway is finished by the next.

    >>> pipeline = IngestPipeline(index, embedder, manifest, ChunkingPolicy())
    >>> pipeline.ingest(course).summary()            # doctest: +SKIP
    'cs101: 3 added, 0 changed, 0 removed, 0 unchanged, 0 failed; 41 chunks written in 6.2 s'
    """

    index: MilvusIndex
    embedder: Embedder
    manifest: Manifest
    policy: ChunkingPolicy
    carried: Callable[[str], Sequence[Chunk]] | None = None
    """The course's chunks that come from no file (TA answers kept as verified answers), by course name.

    No manifest knows them, so an incremental ingest never removes them; a new generation
    starts empty, so each one is written into it before it goes live."""

    def fingerprint(self) -> str:
        """What the index was built with; when it changes, an incremental update is not enough."""
        return f"{INDEX_FORMAT}:{self.embedder.fingerprint()}:{self.policy.size}:{self.policy.overlap}"

    def ingest(
        self, course: Course, on_progress: ProgressCallback | None = None, *, warnings: Sequence[str] = ()
    ) -> IngestReport:
        """`warnings` come from whoever prepared the sources (a Git fetch that failed) and go in the report."""
        started = time.perf_counter()
        sources = [str(root.resolve()) for root in course.sources]
        report = IngestReport(course=course.name, warnings=list(warnings))

        fingerprint = self.fingerprint()
        generation = generation_name(course.name, fingerprint)
        live = self.index.live_generation(course.name)
        rebuilding = live != generation
        missing = [root for root in course.sources if not root.is_dir()]
        if missing and (live is None or rebuilding):
            # Nothing to keep yet, or a rebuild that would lose the missing folder's documents.
            discover(course.sources)
        files = discover(course.sources, skip_missing=True, exclusions=Exclusions(course.sources, course.exclude))
        for root in missing:
            report.warnings.append(f"source folder {root} is missing: its documents are kept as they were")
        known = self.manifest.files(generation)
        rules = ReleaseRules(course)
        report.warnings.extend(
            f"releases {pattern!r} matches no file of the course: check the glob" for pattern in rules.unmatched(files)
        )
        if any(assignment.solutions for assignment in course.assignments):
            report.warnings.extend(rules.unmatched_solutions(discover(course.sources, skip_missing=True)))

        todo: list[_Todo] = []
        readable: set[str] = set()
        unchanged_releases: dict[str, int] = {}
        for source, path in files.items():
            if not is_supported(path):
                report.skipped.append(source)
                continue
            readable.add(source)
            try:
                digest = _sha256(path)
                release_at = rules.release_of(source, path).epoch
                declared = declared_assignment(path, source, course.zone)
            except OSError as exc:
                report.failed.append(FileFailure(source=source, reason=f"cannot be read: {exc.strerror or exc}"))
                continue
            except UnreadableFileError as exc:
                report.failed.append(FileFailure(source=source, reason=exc.reason))
                continue
            if declared is not None:
                report.declarations.append(declared)
            if source in known and known[source].sha256 == digest:
                report.unchanged.append(source)
                unchanged_releases[source] = release_at
            else:
                todo.append(_Todo(source, path, digest, release_at))
        assignments, unplaced = merged(course, report.declarations)
        report.warnings.extend(unplaced)
        # Two assignments' globs tied on one file: stop before anything is written, naming both.
        AssignmentRules(course.model_copy(update={"assignments": assignments})).check(readable)
        kept = tuple(source_prefix(course.sources, root) for root in missing)
        removed = sorted(source for source in set(known) - readable if not (kept and source.startswith(kept)))

        if todo or rebuilding:
            self.index.ensure_collection(generation, self.embedder.dimension)
        for done, (item, document) in enumerate(_read_ahead(todo)):
            if on_progress:
                on_progress(done, len(todo), item.source)
            try:
                written = self._ingest_file(course, generation, item, document.result(), files)
            except UnreadableFileError as exc:
                report.failed.append(FileFailure(source=item.source, reason=exc.reason))
                continue
            (report.changed if item.source in known else report.added).append(item.source)
            report.chunks_written += written
        # A date moved in the config: the rows of unchanged files take it, with their vectors as they are.
        for source in sorted(self.index.stale_releases(generation, unchanged_releases)):
            report.chunks_written += self.index.set_release(generation, source, unchanged_releases[source])
            report.rescheduled.append(source)
        carried = list(self.carried(course.name)) if rebuilding and self.carried is not None else []
        report.chunks_written += self._write_carried(generation, carried)
        if rebuilding and live is not None:
            for failure in report.failed:
                if failure.source not in known:
                    self._carry_over(course, live, generation, failure.source, rules)
        for source in removed:
            self.index.delete_document(generation, source)
            self.manifest.forget_file(generation, source)
            report.removed.append(source)
            report.chunks_removed += known[source].chunks
        if report.chunks_written or removed or rebuilding:
            self.index.finalize(generation)
        if rebuilding:
            self.index.publish(course.name, generation)
            self.manifest.keep_only(generation, prefix=collection_name(course.name) + "__")
            report.rebuilt = live is not None
            if self.carried is not None:
                self._catch_up(self.carried, course.name, generation, carried)
        if on_progress:
            on_progress(len(todo), len(todo), "")

        report.seconds = time.perf_counter() - started
        self.manifest.record_run(report, sources, fingerprint)
        return report

    def _write_carried(self, generation: str, chunks: Sequence[Chunk]) -> int:
        """Embedded again with the generation's model, like every other chunk of it."""
        vectors = self.embedder.embed_documents([chunk.embedding_text() for chunk in chunks]) if chunks else []
        for chunk, vector in zip(chunks, vectors, strict=True):
            self.index.write_document(generation, chunk.source, [chunk], [vector])
        return len(chunks)

    def _catch_up(self, carried: Callable[[str], Sequence[Chunk]], course: str, generation: str, written: Sequence[Chunk]) -> None:
        """Carried chunks kept, edited or removed while the generation was sealed went to the old one: apply them here."""
        now = list(carried(course))
        before = {(chunk.id, chunk.file_hash) for chunk in written}
        changed = [chunk for chunk in now if (chunk.id, chunk.file_hash) not in before]
        gone = {chunk.source for chunk in written} - {chunk.source for chunk in now}
        self._write_carried(generation, changed)
        for source in sorted(gone):
            self.index.delete_document(generation, source)
        if changed or gone:
            self.index.finalize(generation)

    def _carry_over(self, course: Course, live: str, generation: str, source: str, rules: ReleaseRules) -> None:
        """Bring a file that could not be read into the new generation with the chunks it had.

        A rebuild must never lose a document to a bad read. Its old texts are embedded again
        rather than their vectors copied: a rebuild happens because the model, the chunking
        or what is embedded changed, so old vectors may not fit or may not mean the same.
        The manifest entry keeps the old hash, so the file is read again next time. Its
        release is the later of the one its rows had and the one the settings give it now:
        a file that cannot be read may hold a front matter date no one can see.
        """
        chunks = self.index.document_chunks(live, course.name, source)
        if source not in self.manifest.files(live) or not chunks:
            return
        configured = rules.configured(source).epoch
        chunks = [
            chunk.model_copy(
                update={
                    "context": heading_context(chunk.title, chunk.headings, self.embedder),
                    "release_at": max(chunk.release_at, configured),
                }
            )
            for chunk in chunks
        ]
        vectors = self.embedder.embed_documents([chunk.embedding_text() for chunk in chunks])
        self.index.write_document(generation, source, chunks, vectors)
        self.manifest.copy_file(live, generation, source)

    def _ingest_file(self, course: Course, generation: str, item: _Todo, document: SourceDoc, files: Container[str]) -> int:
        chunks = chunk_document(
            document,
            course=course.name,
            file_hash=item.digest,
            base_url=course.base_url,
            policy=self.policy,
            counter=self.embedder,
            release_at=item.release_at,
        )
        if not chunks:
            raise UnreadableFileError(item.source, "no text found in the file")
        vectors = self.embedder.embed_documents([chunk.embedding_text() for chunk in chunks])
        self.index.write_document(generation, item.source, chunks, vectors)
        # Only files of the course, not excluded, may be served because a page shows them.
        assets = [asset for asset in document.assets if asset in files]
        self.manifest.record_file(generation, item.source, item.digest, len(chunks), assets)
        return len(chunks)


@dataclass(frozen=True)
class _Todo:
    """A new or changed file to read, embed and write."""

    source: str
    path: Path
    digest: str
    release_at: int


def _read_ahead(todo: list[_Todo]) -> Iterator[tuple[_Todo, Future[SourceDoc]]]:
    """Parse the next files in a thread while the current one is embedded.

    Parsing (lxml, pypdf) and embedding (torch, which releases the GIL) overlap; only the
    loaders run there, never the tokenizer, which must not be used from two threads.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-reader") as reader:
        pending: deque[tuple[_Todo, Future[SourceDoc]]] = deque()
        for item in todo:
            pending.append((item, reader.submit(load_document, item.path, item.source)))
            if len(pending) > READ_AHEAD:
                yield pending.popleft()
        yield from pending


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
