"""Chunks that come from no file (verified answers): written into every new generation, left alone by an
incremental ingest, and caught up when they change while a rebuild is sealing its generation."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from ingest.chunker import ChunkingPolicy
from ingest.pipeline import IngestPipeline
from models import Chunk, Course, VerifiedAnswer
from rag.embedder import SentenceTransformerEmbedder
from rag.index import MilvusIndex
from tests.conftest import catalog_in

DAY = datetime(2026, 12, 1, 15, 0, tzinfo=timezone.utc)


def verified(n: int, answer: str) -> Chunk:
    return VerifiedAnswer(id=n, course="cs101", question=f"question {n}: when is the midterm?", answer=answer, answered_at=DAY).to_chunk()


class Carried:
    """What the state database would hand over, call after call (`later` from the second call on)."""

    def __init__(self, first: list[Chunk], later: list[Chunk] | None = None) -> None:
        self.first, self.later, self.calls = first, later, 0

    def __call__(self, course: str) -> Sequence[Chunk]:
        self.calls += 1
        return self.first if self.calls == 1 or self.later is None else self.later


def ta_rows(index: MilvusIndex) -> dict[str, str]:
    live = index.live_generation("cs101")
    rows = index.client.query(live, filter='source like "ta-answer:%"', output_fields=["source", "text"], limit=100)
    return {row["source"]: row["text"] for row in rows}


def course_in(tmp_path: Path) -> Course:
    root = tmp_path / "materials"
    root.mkdir(exist_ok=True)
    (root / "syllabus.md").write_text("# Syllabus\n\nOffice hours are on Tuesdays at 3 pm in room 204.\n", encoding="utf-8")
    return Course(name="cs101", sources=(root,))


def test_carried_chunks_survive_rebuilds_and_incremental_ingests(tmp_path: Path, lite_index: MilvusIndex, embedder: SentenceTransformerEmbedder) -> None:
    course, catalog = course_in(tmp_path), catalog_in(tmp_path)
    carried = Carried([verified(1, "Week 8."), verified(2, "In room 204.")])
    first = IngestPipeline(lite_index, embedder, catalog, ChunkingPolicy(), carried=carried).ingest(course)
    assert first.chunks_written == 3 and ta_rows(lite_index).keys() == {"ta-answer:1", "ta-answer:2"}
    [hit] = lite_index.search("cs101", "when is the midterm", embedder.embed_query("question 1: when is the midterm? Week 8."), k=1)
    assert hit.title == "TA answer, 2026-12-01" and hit.url is None

    again = IngestPipeline(lite_index, embedder, catalog, ChunkingPolicy(), carried=Carried([]))
    report = again.ingest(course)
    assert report.removed == [] and report.chunks_written == 0
    assert ta_rows(lite_index).keys() == {"ta-answer:1", "ta-answer:2"}, "an incremental ingest leaves them alone"

    # A rebuild (other chunking), while a TA's answer is edited, another kept and one deleted meanwhile.
    during = Carried([verified(1, "Week 8."), verified(2, "In room 204.")], [verified(1, "Week 9: moved."), verified(3, "Bring a pencil.")])
    rebuilt = IngestPipeline(lite_index, embedder, catalog, ChunkingPolicy(size=120, overlap=20), carried=during).ingest(course)
    assert rebuilt.rebuilt and during.calls == 2
    rows = ta_rows(lite_index)
    assert rows.keys() == {"ta-answer:1", "ta-answer:3"} and "Week 9: moved." in rows["ta-answer:1"]
