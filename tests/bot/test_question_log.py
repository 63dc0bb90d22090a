"""The question log: what was asked, the gaps in the materials, and votes on answers."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from bot.cli import app
from bot.store.question_log import QuestionLog
from models import Answer, Citation, Question


def answer(kind: str = "answer", *cited: str) -> Answer:
    citations = [Citation(n=n, title=title, source=f"{title}.md", url=f"https://example.edu/{title}.html") for n, title in enumerate(cited, 1)]
    return Answer(text="…", citations=citations, grounded=kind == "answer", kind=kind)  # type: ignore[arg-type]


def test_votes_are_kept_with_the_question_course_platform_and_citations(tmp_path: Path) -> None:
    log = QuestionLog(tmp_path / "history.sqlite")
    asked = log.record(Question(text="What does break do?", platform="slack", asker="U1"), "cs101", answer("answer", "loops"))
    log.link_messages(asked, "slack", ["C1:111.222"])

    assert log.question_for_message("slack", "C1:111.222") == asked
    assert log.question_for_message("discord", "C1:111.222") is None
    assert log.set_feedback(asked, "slack", "U2", 1)
    assert log.set_feedback(asked, "slack", "U3", -1)
    assert log.set_feedback(asked, "slack", "U2", -1), "a changed mind replaces the vote"
    assert not log.set_feedback(asked + 100, "slack", "U2", 1), "an unknown answer takes no vote"

    votes = log.feedback()
    assert sorted((v.user, v.vote) for v in votes) == [("U2", -1), ("U3", -1)]
    entry = votes[0].to_json()
    assert entry["course"] == "cs101" and entry["platform"] == "slack" and entry["question"] == "What does break do?"
    assert entry["citations"] == [{"label": "loops", "url": "https://example.edu/loops.html"}]

    log.withdraw_feedback(asked, "slack", "U3", 1)
    assert len(log.feedback()) == 2, "withdrawing a vote the person did not give changes nothing"
    log.withdraw_feedback(asked, "slack", "U3", -1)
    assert [v.user for v in log.feedback()] == ["U2"]
    assert log.feedback(course="other") == []


def test_gaps_count_the_same_question_together_newest_first(tmp_path: Path) -> None:
    log = QuestionLog(tmp_path / "history.sqlite")
    log.record(Question(text="When is the midterm?"), "cs101", answer("not_covered"))
    log.record(Question(text="Is there a Java track?"), "cs101", answer("not_covered"))
    log.record(Question(text="  when is the MIDTERM?  "), "cs101", answer("not_covered"))
    log.record(Question(text="What does break do?"), "cs101", answer("answer", "loops"))
    log.record(Question(text="When is the midterm?"), "cs202", answer("not_covered"))

    gaps = log.gaps(course="cs101")
    assert [(g.count, g.text.strip().lower()) for g in gaps] == [(2, "when is the midterm?"), (1, "is there a java track?")]
    assert {g.course for g in log.gaps()} == {"cs101", "cs202"}
    assert [q.text for q in log.recent("cs101", limit=2)] == ["What does break do?", "  when is the MIDTERM?  "]


def test_mentor_feedback_lists_votes_as_text_and_json(tmp_path: Path) -> None:
    data_dir = tmp_path / "state"
    log = QuestionLog(data_dir / "history.sqlite")
    asked = log.record(Question(text="<b>What</b> does range(5) give?", platform="web"), "default", answer("answer", "range"))
    log.set_feedback(asked, "web", "browser-1", 1)
    env = {"MENTOR_DATA_DIR": str(data_dir)}

    listed = CliRunner().invoke(app, ["feedback", "--json"], env=env, catch_exceptions=False)
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout)[0] | {"at": None} == {
        "at": None,
        "vote": "up",
        "platform": "web",
        "user": "browser-1",
        "course": "default",
        "question": "<b>What</b> does range(5) give?",
        "question_id": asked,
        "kind": "answer",
        "citations": [{"label": "range", "url": "https://example.edu/range.html"}],
    }
    text = CliRunner().invoke(app, ["feedback"], env=env, catch_exceptions=False)
    assert "+1 web default: <b>What</b> does range(5) give?" in " ".join(text.stdout.split())
    unknown = CliRunner().invoke(app, ["feedback", "--course", "nope"], env=env, catch_exceptions=False)
    assert unknown.exit_code == 2 and "No course named 'nope'" in unknown.stderr
