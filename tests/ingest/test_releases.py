"""Release dates end to end: the real loaders, MiniLM and Milvus Lite, with a frozen clock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.app import MentorApp
from bot.config.sections import AnswerSettings
from bot.config.settings import Settings
from ingest.assignments import AssignmentRules
from ingest.calendar import term_calendar
from ingest.chunker import ChunkingPolicy
from ingest.errors import AssignmentOverlapError
from ingest.pipeline import IngestPipeline
from ingest.releases import ReleaseRules
from models import Course, Question, epoch_seconds
from rag.embedder import SentenceTransformerEmbedder
from rag.index import MilvusIndex
from tests.adapters.web_helpers import Web, run_web
from tests.conftest import FrozenClock, catalog_in
from tests.ingest.test_pipeline import CountingEmbedder

START = date(2026, 9, 7)  # a Monday: week 1 of the term
ZONE = "Europe/Berlin"
LOOPS = "# Loops\n\nA for loop repeats its body once for every item of a list or a range.\n"
RECURSION = (
    "# Recursion\n\nA recursive function calls itself. Every recursion needs a base case that stops "
    "the calls, otherwise Python raises RecursionError when the call stack grows too deep.\n"
)
SOLUTION = "# Homework 3 solution\n\nThe knapsack answer fills a table of best values row by row, memoising each subproblem.\n"
RECURSION_QUESTION = "What is a base case in a recursive function, and what happens without one?"


def term_folder(root: Path) -> Path:
    for relative, text in {
        "week-05/loops.md": LOOPS,
        "w06/recursion.md": RECURSION,
        "homework/hw3-solution.md": SOLUTION,
    }.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text, encoding="utf-8")
    return root


def berlin(day: date, hour: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=Course(name="x", sources=(Path("."),), timezone=ZONE).zone)


WEEK_5 = berlin(START + timedelta(weeks=4), 12)
WEEK_6_STARTS = berlin(START + timedelta(weeks=5))
DEADLINE = berlin(START + timedelta(weeks=6), 9)


@pytest.fixture(scope="module")
def term(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MentorApp, FrozenClock]]:
    root = term_folder(tmp_path_factory.mktemp("term") / "materials")
    course = Course(
        name="cs101",
        sources=(root,),
        timezone=ZONE,
        start_date=START,
        releases={"homework/*-solution.md": DEADLINE.replace(tzinfo=None).isoformat()},
    )
    clock = FrozenClock(WEEK_5)
    settings = Settings(data_dir=tmp_path_factory.mktemp("state"), courses=[course], answer=AnswerSettings(mode="quote"))
    app = MentorApp(settings, clock=clock)
    report = app.ingest("cs101")
    assert sorted(report.added) == ["homework/hw3-solution.md", "w06/recursion.md", "week-05/loops.md"], report
    yield app, clock
    app.close()


def sources(app: MentorApp, question: str) -> list[str]:
    return [hit.source for hit in app.search(question, "cs101").hits]


def test_week_six_is_invisible_in_week_five_and_visible_in_week_six_without_a_reindex(term: tuple[MentorApp, FrozenClock]) -> None:
    app, clock = term
    clock.now = WEEK_6_STARTS - timedelta(seconds=1)
    assert "w06/recursion.md" not in sources(app, RECURSION_QUESTION)
    declined = app.ask(Question(text=RECURSION_QUESTION, course="cs101"))
    assert all(citation.source != "w06/recursion.md" for citation in declined.citations)
    # The index holds it all along: only the clock moves, and nothing is written in between.
    chunks = app.index.count_chunks("cs101")
    clock.now = WEEK_6_STARTS
    assert sources(app, RECURSION_QUESTION)[0] == "w06/recursion.md"
    answer = app.ask(Question(text=RECURSION_QUESTION, course="cs101"))
    assert answer.grounded and "w06/recursion.md" in [citation.source for citation in answer.citations]
    assert app.index.count_chunks("cs101") == chunks


def test_a_solution_released_after_the_deadline_is_never_searched_cited_or_served_before_it(
    term: tuple[MentorApp, FrozenClock],
) -> None:
    app, clock = term
    question = "How does the knapsack solution fill its table of best values?"
    path = "/files/cs101/homework/hw3-solution.md"

    async def served(web: Web) -> int:
        async with web.session.get(web.base + path) as response:
            return response.status

    statuses: list[int] = []

    async def scenario(web: Web) -> None:
        statuses.append(await served(web))

    clock.now = DEADLINE - timedelta(minutes=1)
    assert "homework/hw3-solution.md" not in sources(app, question)
    answer = app.ask(Question(text=question, course="cs101"))
    assert "homework/hw3-solution.md" not in [citation.source for citation in answer.citations]
    assert app.course_file("cs101", "homework/hw3-solution.md") is None
    run_web(app, scenario)
    assert statuses == [404]

    clock.now = DEADLINE
    assert "homework/hw3-solution.md" in sources(app, question)
    assert app.course_file("cs101", "homework/hw3-solution.md") is not None
    run_web(app, scenario)
    assert statuses == [404, 200]


def test_the_calendar_lists_each_file_with_the_rule_that_released_it(term: tuple[MentorApp, FrozenClock]) -> None:
    app, clock = term
    clock.now = WEEK_5
    calendar = app.calendar("cs101")
    assert [(item.source, item.release.at, item.release.rule) for item in calendar.released] == [
        ("week-05/loops.md", berlin(START + timedelta(weeks=4)), "week folder week-05"),
    ]
    assert [(item.source, item.release.at) for item in calendar.upcoming] == [
        ("w06/recursion.md", WEEK_6_STARTS),
        ("homework/hw3-solution.md", DEADLINE),
    ]
    assert calendar.next_release == (WEEK_6_STARTS, ["w06/recursion.md"])
    shown = json.dumps(calendar.to_json())
    assert "2026-10-12T00:00:00+02:00" in shown and "homework/*-solution.md" in shown
    status = next(s for s in app.status() if s.course.name == "cs101")
    assert status.next_release == (WEEK_6_STARTS, ["w06/recursion.md"])


@pytest.fixture
def pipeline(lite_index: MilvusIndex, embedder: SentenceTransformerEmbedder, tmp_path: Path) -> tuple[IngestPipeline, CountingEmbedder]:
    counting = CountingEmbedder(embedder)
    return IngestPipeline(lite_index, counting, catalog_in(tmp_path), ChunkingPolicy()), counting  # type: ignore[arg-type]


def visible(index: MilvusIndex, embedder: SentenceTransformerEmbedder, at: datetime, question: str = RECURSION_QUESTION) -> list[str]:
    vector = embedder.embed_query(question)
    return [hit.source for hit in index.search("cs101", question, vector, k=5, released_by=epoch_seconds(at))]


def test_a_date_moved_in_the_config_takes_effect_at_the_next_reindex_without_re_embedding(
    pipeline: tuple[IngestPipeline, CountingEmbedder], embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    ingest, counting = pipeline
    course = Course(name="cs101", sources=(term_folder(tmp_path / "materials"),), timezone=ZONE, start_date=START)
    ingest.ingest(course)
    assert "w06/recursion.md" not in visible(ingest.index, embedder, WEEK_5)

    counting.embedded.clear()
    earlier = Course.model_validate({**course.model_dump(), "releases": {"w06/**": "2026-09-01"}})
    report = ingest.ingest(earlier)
    assert report.rescheduled == ["w06/recursion.md"] and report.unchanged and not report.changed
    assert counting.embedded == []
    assert "w06/recursion.md" in visible(ingest.index, embedder, WEEK_5)
    assert ingest.ingest(earlier).rescheduled == []


def test_front_matter_and_notebook_metadata_win_over_the_config(
    pipeline: tuple[IngestPipeline, CountingEmbedder], embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    ingest, _ = pipeline
    root = term_folder(tmp_path / "materials")
    (root / "w06/recursion.md").write_text("---\ntitle: Recursion\nrelease: 2026-09-01 08:00\n---\n" + RECURSION, encoding="utf-8")
    notebook = {"cells": [{"cell_type": "markdown", "source": ["# Stacks\n", "A stack holds the calls of a recursion, newest on top."]}],
                "metadata": {"release": "2027-01-04T09:00+01:00"}, "nbformat": 4, "nbformat_minor": 5}
    (root / "week-05/stacks.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
    course = Course(name="cs101", sources=(root,), timezone=ZONE, start_date=START)
    rules = ReleaseRules(course)
    assert rules.release_of("w06/recursion.md", root / "w06/recursion.md").at == berlin(date(2026, 9, 1), 8)
    assert rules.release_of("week-05/stacks.ipynb", root / "week-05/stacks.ipynb").at == datetime(2027, 1, 4, 8, tzinfo=timezone.utc)
    ingest.ingest(course)
    assert "w06/recursion.md" in visible(ingest.index, embedder, WEEK_5)
    stacks = "What does a stack hold during a recursion?"
    assert "week-05/stacks.ipynb" not in visible(ingest.index, embedder, WEEK_5, stacks)
    assert "week-05/stacks.ipynb" in visible(ingest.index, embedder, datetime(2027, 1, 4, 8, tzinfo=timezone.utc), stacks)


def test_the_most_specific_glob_wins_over_a_broader_one_and_the_week_folder(tmp_path: Path) -> None:
    course = Course.model_validate(
        {"name": "cs101", "sources": [str(tmp_path)], "start_date": "2026-09-07",
         "releases": {"homework/**": "2026-09-01", "homework/*-solution.md": "2026-12-24T18:00", "w06/*": "2026-11-01"}}
    )
    rules = ReleaseRules(course)
    assert rules.configured("homework/hw3-solution.md").rule == "releases 'homework/*-solution.md'"
    assert rules.configured("homework/hw3.md").rule == "releases 'homework/**'"
    assert rules.configured("w06/recursion.md").at == datetime(2026, 11, 1, tzinfo=timezone.utc)
    assert rules.configured("unit-2/week-05/lab.md").rule == "week folder week-05"
    assert rules.configured("syllabus.md").at is None


def test_bad_front_matter_is_reported_and_the_rest_of_the_course_goes_on(
    pipeline: tuple[IngestPipeline, CountingEmbedder], tmp_path: Path
) -> None:
    ingest, _ = pipeline
    root = term_folder(tmp_path / "materials")
    (root / "week-05/broken.md").write_text("---\nrelease: [2026-10-05\ntitle: x\n---\n# Broken\n\nSome text.\n", encoding="utf-8")
    (root / "week-05/bad-date.md").write_text("---\nrelease: next tuesday\n---\n# Bad date\n\nSome text.\n", encoding="utf-8")
    (root / "week-05/bad-lab.md").write_text("---\nassignment: {due: 2026-10-05}\n---\n# Bad lab\n\nSome text.\n", encoding="utf-8")
    course = Course(name="cs101", sources=(root,), start_date=START, releases={"labs/**": "2026-10-01"})
    report = ingest.ingest(course)
    failed = {failure.source: failure.reason for failure in report.failed}
    assert "front matter is not valid YAML" in failed["week-05/broken.md"]
    assert "'next tuesday' is not a date or date-time" in failed["week-05/bad-date.md"]
    assert "its `assignment:` is neither a name nor a table with a `name`" in failed["week-05/bad-lab.md"]
    assert sorted(report.added) == ["homework/hw3-solution.md", "w06/recursion.md", "week-05/loops.md"]
    assert report.warnings == ["releases 'labs/**' matches no file of the course: check the glob"]


def test_an_index_from_before_release_dates_still_answers_and_the_next_ingest_rebuilds_it_with_them(
    pipeline: tuple[IngestPipeline, CountingEmbedder], embedder: SentenceTransformerEmbedder, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from pymilvus import DataType, MilvusClient

    ingest, _ = pipeline
    index = ingest.index
    # The layout before this change: no `release_at` on the rows (a plain collection under the course's name).
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    for name, length in (("id", 64), ("source", 2048), ("file_hash", 64), ("title", 2048), ("headings", 4096), ("locator", 1024), ("url", 4096), ("text", 65535)):
        schema.add_field(name, DataType.VARCHAR, max_length=length, is_primary=name == "id")
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=embedder.dimension)
    params = index.client.prepare_index_params()
    params.add_index("dense", index_type="HNSW", metric_type="COSINE", params={"M": 16, "efConstruction": 200})
    index.client.create_collection("mentor_cs101", schema=schema, index_params=params, consistency_level="Strong")
    index.client.insert("mentor_cs101", [{
        "id": "old-0", "source": "w06/recursion.md", "file_hash": "0" * 64, "title": "Recursion", "headings": "[]",
        "locator": "{}", "url": "", "text": RECURSION, "dense": embedder.embed_documents([RECURSION])[0],
    }])
    index.client.flush("mentor_cs101")
    with caplog.at_level("WARNING"):
        assert visible(index, embedder, WEEK_5) == ["w06/recursion.md"]
    assert "built before release dates" in caplog.text

    course = Course(name="cs101", sources=(term_folder(tmp_path / "materials"),), timezone=ZONE, start_date=START)
    report = ingest.ingest(course)
    assert report.rebuilt
    assert "w06/recursion.md" not in visible(index, embedder, WEEK_5)
    assert "w06/recursion.md" in visible(index, embedder, WEEK_6_STARTS)


def test_two_equally_specific_assignment_globs_on_one_file_stop_the_ingest_naming_both(
    pipeline: tuple[IngestPipeline, CountingEmbedder], tmp_path: Path
) -> None:
    ingest, counting = pipeline
    root = term_folder(tmp_path / "materials")
    tied = Course.model_validate(
        {"name": "cs101", "sources": [str(root)], "assignments": [
            {"name": "HW3", "files": ["homework/hw3-*.md"], "due": "2026-10-20"},
            {"name": "Solutions", "files": ["**/hw3-solution.md"], "due": "2026-10-27"},
        ]}
    )
    named = r"Course 'cs101': 'homework/hw3-solution.md' matches 'homework/hw3-\*\.md' \(assignment 'HW3'\) and '\*\*/hw3-solution.md'"
    with pytest.raises(AssignmentOverlapError, match=named):
        ingest.ingest(tied)
    assert counting.embedded == [] and ingest.index.live_generation("cs101") is None, "nothing was written"
    with pytest.raises(AssignmentOverlapError, match=named):
        AssignmentRules(tied).touched("how do I start?", ["homework/hw3-solution.md"])
    assert any("'homework/hw3-*.md' (assignment 'HW3')" in problem for problem in term_calendar(tied, WEEK_5).problems)

    # A more specific glob settles it; a file's own front matter would too.
    settled = Course.model_validate(
        {**tied.model_dump(), "assignments": [*tied.model_dump()["assignments"][:1],
                                              {"name": "Solutions", "files": ["homework/hw3-solution.md"], "due": "2026-10-27"}]}
    )
    assert AssignmentRules(settled).of_source("homework/hw3-solution.md").name == "Solutions"
    assert ingest.ingest(settled).added
