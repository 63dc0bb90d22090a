"""Repeat questions: an answered question close to a new one, same course and platform, is linked first."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import update
from typer.testing import CliRunner

from adapters.discord_bot.render import render_answer as discord_answer
from adapters.slack.events import BotIdentity
from adapters.slack.render import render_answer as slack_answer
from bot.cli import app
from bot.config.sections import AnswerSettings
from bot.service.notices import asked_before
from bot.service.repeats import RepeatFinder
from bot.store.database import Database
from bot.store.question_log import QuestionLog
from bot.store.tables import questions
from models import Answer, Citation, PriorQuestion, Question, Turn
from rag.embedder import SentenceTransformerEmbedder

THREAD = "https://cs101.slack.com/archives/C1/p1700000600000100"


def answered(log: QuestionLog, finder: RepeatFinder, text: str, link: str | None, platform: str = "slack", grounded: bool = True) -> int:
    question = Question(text=text, platform=platform, link=link)
    return log.record(question, "cs101", Answer(text="…", grounded=grounded), finder.vector(question))


def test_the_same_question_reworded_links_the_earlier_thread_and_others_do_not(embedder: SentenceTransformerEmbedder, tmp_path: Path) -> None:
    log = QuestionLog(Database.open(f"sqlite:///{tmp_path / 'state.sqlite'}"))
    finder = RepeatFinder(embedder, log, AnswerSettings())
    answered(log, finder, "What does break do in a loop?", THREAD)
    answered(log, finder, "What does break do in a loop?", None)  # asked on the web page: nothing to link
    answered(log, finder, "When is the midterm exam?", "https://cs101.slack.com/archives/C1/p2", grounded=False)  # declined

    def earlier(text: str, platform: str = "slack", **question: object) -> PriorQuestion | None:
        asked = Question(text=text, platform=platform, link="https://cs101.slack.com/archives/C1/p9", **question)
        return finder.earlier(asked, "cs101", finder.vector(asked))

    found = earlier("what does `break` do in a loop")
    assert found is not None and found.link == THREAD and found.similarity >= 0.81
    assert earlier("How do I read a CSV file with pandas?") is None, "a different question"
    assert earlier("What does break do in a loop?", platform="discord") is None, "a Slack thread is no help on Discord"
    assert earlier("When is the midterm exam?") is None, "a declined question has no answer to point to"
    assert earlier("What does break do in a loop?", history=(Turn(role="user", text="hi"),)) is None, "a follow-up stays in its thread"
    assert RepeatFinder(embedder, log, AnswerSettings(repeat_similarity=0)).vector(Question(text="x", link=THREAD)) is None

    answered(log, finder, "How do I stop a while loop?", "https://cs101.slack.com/archives/C1/p3")
    found = earlier("how can I stop a while loop")
    assert found is not None and found.link.endswith("/p3"), "a question answered since the last look is found too"

    with log.engine.begin() as db:
        db.execute(update(questions).values(asked_at=time.time() - 5 * 7 * 24 * 3600))
    finder = RepeatFinder(embedder, log, AnswerSettings())  # the rows were aged behind the first finder's back
    assert earlier("What does break do in a loop?") is None, "older than answer.repeat_weeks"


def test_the_link_comes_first_on_each_platform_worded_by_when() -> None:
    now = datetime(2026, 12, 3, 15, 0, tzinfo=timezone.utc)
    prior = PriorQuestion(text="What does break do?", asked_at=datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc), link=THREAD, similarity=0.9)
    assert asked_before(prior, now) == f"A similar question was asked on Tuesday: {THREAD}"
    assert asked_before(prior.model_copy(update={"asked_at": now - timedelta(hours=1)}), now).startswith("A similar question was asked earlier today")
    assert asked_before(prior.model_copy(update={"asked_at": now - timedelta(days=20)}), now).startswith("A similar question was asked on Nov 13")
    answer = Answer(text="`break` leaves the loop.", grounded=True, asked_before=prior)
    assert discord_answer(answer)[0].startswith("A similar question was asked") and THREAD in discord_answer(answer)[0]
    slack = slack_answer(answer)
    assert THREAD in slack.blocks[0]["text"]["text"] and slack.text.index(THREAD) < slack.text.index("leaves the loop")


def test_a_slack_question_carries_its_permalink() -> None:
    bot = BotIdentity("UBOT", "BBOT", "T1", workspace_url="https://cs101.slack.com/")
    assert bot.link_to({"channel": "C1", "ts": "1700000600.000100"}) == THREAD
    reply = bot.link_to({"channel": "C1", "ts": "1700000700.000200", "thread_ts": "1700000600.000100"})
    assert reply == "https://cs101.slack.com/archives/C1/p1700000700000200?thread_ts=1700000600.000100&cid=C1"
    assert BotIdentity("UBOT", None, None).link_to({"channel": "C1", "ts": "1.2"}) is None


def test_repeats_are_grouped_for_the_instructor_with_their_pages(embedder: SentenceTransformerEmbedder, tmp_path: Path) -> None:
    data_dir = tmp_path / "state"
    log = QuestionLog(Database.open(f"sqlite:///{data_dir / 'state.sqlite'}"))
    finder = RepeatFinder(embedder, log, AnswerSettings())
    loops = Answer(text="…", grounded=True, citations=[Citation(n=1, title="Loops", source="loops.md")])
    for n, text in enumerate(["What does break do in a loop?", "what does break do in a loop", "What does `break` do in a loop?"]):
        question = Question(text=text, platform="slack", link=f"https://cs101.slack.com/archives/C1/p{n}")
        log.record(question, "default", loops, finder.vector(question))
    once = Question(text="How do I open a file?", platform="slack", link="https://cs101.slack.com/archives/C1/p9")
    log.record(once, "default", loops, finder.vector(once))

    (cluster,) = finder.clusters(None, weeks=4)
    assert cluster.count == 3 and cluster.question == "What does break do in a loop?" and cluster.pages == (("Loops", 3),)
    assert len(cluster.wordings) == 3

    result = CliRunner().invoke(app, ["report", "--json"], env={"MENTOR_DATA_DIR": str(data_dir)}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert [(c["count"], c["pages"]) for c in json.loads(result.stdout)] == [(3, [{"label": "Loops", "cited": 3}])]
    text = CliRunner().invoke(app, ["report"], env={"MENTOR_DATA_DIR": str(data_dir)}, catch_exceptions=False)
    assert "3x default: What does break do in a loop?" in " ".join(text.stdout.split())
