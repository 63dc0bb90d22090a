"""What students, instructors and the operator read when a request fails: one module words it all."""

from __future__ import annotations

import logging

import pytest

from bot.errors import (
    BusyError,
    ConfigError,
    NotAllowedError,
    ReindexBusyError,
    SearchUnavailableError,
    ShuttingDownError,
    UnknownCourseError,
)
from bot.service.notices import ANSWER_FAILED, BUSY, NOT_INDEXED, RESTARTING, SEARCH_DOWN, for_instructor, for_student
from ingest.errors import SourceFolderError
from rag.errors import (
    EmbedderUnavailableError,
    EmptyQueryError,
    IndexOperationError,
    IndexUnavailableError,
    QuestionTooLongError,
    UnknownCourseIndexError,
)

OPERATOR_TEXT = [
    EmbedderUnavailableError("The embedding model is missing: set MENTOR_EMBEDDING__MODEL to a local folder."),
    IndexUnavailableError("Cannot reach Milvus at http://10.0.0.5:19530: check MENTOR_MILVUS_URI."),
    IndexOperationError("Milvus refused the search of cs101__v3 (code 65535)."),
    ConfigError("mentor.toml: courses[0].schedule is not a cron expression."),
    SourceFolderError("Source folder not found: /srv/courses/cs101. Check the course's `sources` in mentor.toml."),
    KeyError("questions"),
]


@pytest.mark.parametrize("error", OPERATOR_TEXT, ids=lambda e: type(e).__name__)
def test_a_student_gets_a_kind_line_and_a_reference_never_the_operators_text(
    error: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="mentor.failures"):
        notice = for_student(error, "slack question in CGENERAL")
    assert notice.text == ANSWER_FAILED.format(reference=notice.reference) and notice.kind == "failed"
    assert str(error) not in notice.text and "MENTOR_" not in notice.text
    (record,) = caplog.records
    line = record.getMessage()
    assert notice.reference in line and "slack question in CGENERAL" in line and type(error).__name__ in line
    assert (record.exc_info is not None) == isinstance(error, KeyError), "a traceback only for what we did not raise on purpose"


def test_what_a_student_can_act_on_is_shown_as_it_is_and_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    own = [
        EmptyQueryError("The question is empty: ask something about the course materials."),
        QuestionTooLongError("The question is 5,000 characters long; the limit is 4,000."),
        UnknownCourseError("No course named 'cs999'. Configured courses: cs101"),
        NotAllowedError("Only instructors can reindex the course materials."),
    ]
    with caplog.at_level(logging.INFO, logger="mentor.failures"):
        notices = [for_student(error, "web question in cs101") for error in own]
    assert [n.text for n in notices] == [str(error) for error in own]
    assert [n.kind for n in notices] == ["refused", "refused", "missing", "refused"]
    assert all(n.reference is None for n in notices) and not caplog.records


def test_busy_down_and_not_ingested_are_worded_for_students_and_logged_for_the_operator(caplog: pytest.LogCaptureFixture) -> None:
    cases = [
        (BusyError("33 requests are already waiting: try again in a minute."), BUSY, "busy"),
        (SearchUnavailableError(SEARCH_DOWN), SEARCH_DOWN, "busy"),
        (ShuttingDownError("The service is stopping: work not finished within the grace is given up."), RESTARTING, "busy"),
        (UnknownCourseIndexError("cs101 has no index yet: run `mentor ingest --course cs101`."), NOT_INDEXED, "missing"),
    ]
    with caplog.at_level(logging.INFO, logger="mentor.failures"):
        notices = [for_student(error, "discord question in 42") for error, _, _ in cases]
    assert [(n.text, n.kind) for n in notices] == [(text, kind) for _, text, kind in cases]
    assert [r.getMessage() for r in caplog.records] == [
        f"discord question in 42: {type(error).__name__}: {error} (reference {n.reference})" for (error, _, _), n in zip(cases, notices)
    ]


def test_an_instructor_reads_what_to_do_and_an_unexpected_failure_only_by_reference(caplog: pytest.LogCaptureFixture) -> None:
    busy = ReindexBusyError("A reindex of cs101 is already running since 10:02 UTC, started by prof (slash command).")
    folder = SourceFolderError("Source folder not found: /srv/cs101. Check the course's `sources` in mentor.toml.")
    with caplog.at_level(logging.INFO, logger="mentor.failures"):
        assert (for_instructor(busy, "admin").text, for_instructor(busy, "admin").kind) == (str(busy), "busy")
        told = for_instructor(folder, "admin page reindex of cs101")
        assert (told.text, told.kind) == (str(folder), "failed") and told.reference
        crash = for_instructor(RuntimeError("pymilvus: unexpected {braces} in a message"), "slack /mentor reindex cs101")
    assert crash.kind == "failed" and crash.reference and crash.reference in crash.text
    assert "pymilvus" not in crash.text and "RuntimeError" not in crash.text
    assert caplog.records[-1].exc_info is not None and crash.reference in caplog.records[-1].getMessage()
