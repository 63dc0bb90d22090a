"""The escalation store's contract, on SQLite and a real PostgreSQL (the `database` fixture)."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import column, func, insert, select, table

from bot.store.database import MIGRATIONS, Database, _engine, _parse
from bot.store.escalations import EscalationStore, NewEscalation, Opened
from bot.store.tables import escalations
from models import Citation, ReplyPlace, Turn

PLACE = ReplyPlace(platform="discord", channel="1234567890123456789", link="https://discord.com/channels/1/2/3")


def new(question: str = "When is the midterm?", course: str = "cs101") -> NewEscalation:
    return NewEscalation(
        course=course,
        question=question,
        reason="not covered",
        place=PLACE,
        student="Student 0A1B",
        context=(Turn(role="user", text="hi"), Turn(role="assistant", text="hello")),
        draft="Maybe week 8?",
        sources=(Citation(n=1, title="Syllabus", source="syllabus.md", url="https://example.edu/syllabus.html"),),
    )


def test_an_escalation_keeps_everything_needed_to_answer_later(database: Database) -> None:
    store = EscalationStore(database)
    opened = store.open(new(), now=1_700_000_000)
    again = EscalationStore(database).get(opened.id)  # another replica, or after a restart
    assert again == opened
    assert again.status == "open" and again.place == PLACE and again.context[1].text == "hello"
    assert again.sources[0].url == "https://example.edu/syllabus.html" and again.draft == "Maybe week 8?"
    assert again.created_at.timestamp() == 1_700_000_000 and not again.reposted
    assert store.get(opened.id + 100) is None

    store.set_queue_message(opened.id, "CTA:1700000100.000001")
    assert store.by_queue_message("CTA:1700000100.000001").id == opened.id
    assert store.by_queue_message("CTA:nope") is None


def test_the_first_answer_wins_and_the_second_gets_nothing(database: Database) -> None:
    store = EscalationStore(database)
    opened = store.open(new())
    first = store.close(opened.id, "answered", "Grace", "Week 8, Thursday.", now=1_700_000_600)
    assert first is not None and first.status == "answered" and first.answered_by == "Grace" and first.answer == "Week 8, Thursday."
    assert store.close(opened.id, "dismissed", "Alan") is None, "closed already"
    assert store.claim(opened.id, "Alan") is None, "a closed question cannot be claimed"
    assert store.get(opened.id).answered_by == "Grace"
    assert store.close(opened.id + 100, "answered", "Grace", "x") is None, "unknown"


def test_of_many_tas_clicking_at_once_exactly_one_wins(database: Database) -> None:
    store = EscalationStore(database)
    opened = store.open(new())
    winners: list[str] = []
    start = threading.Barrier(8)

    def click(ta: str) -> None:
        start.wait()
        if EscalationStore(database).close(opened.id, "answered", ta, f"answer by {ta}") is not None:
            winners.append(ta)

    clickers = [threading.Thread(target=click, args=(f"TA{n}",)) for n in range(8)]
    for clicker in clickers:
        clicker.start()
    for clicker in clickers:
        clicker.join()
    assert len(winners) == 1
    assert store.get(opened.id).answer == f"answer by {winners[0]}"


def test_open_ones_are_listed_oldest_first_and_a_stale_one_is_reposted_once(database: Database) -> None:
    store = EscalationStore(database)
    later = store.open(new("later"), now=2_000)
    earlier = store.open(new("earlier"), now=1_000)
    other = store.open(new("other course", course="cs202"), now=1_500)
    closed = store.open(new("closed"), now=500)
    store.close(closed.id, "dismissed", "Grace")
    assert [e.question for e in store.open_ones()] == ["earlier", "other course", "later"]
    assert [e.id for e in store.open_ones("cs101")] == [earlier.id, later.id]
    assert store.mark_reposted(earlier.id) and not store.mark_reposted(earlier.id)
    assert store.get(earlier.id).reposted and not store.mark_reposted(closed.id)
    assert other.course == "cs202"


def test_a_claim_and_a_delivery_problem_are_kept(database: Database) -> None:
    store = EscalationStore(database)
    opened = store.open(new())
    assert store.claim(opened.id, "UTA1").claimed_by == "UTA1"
    store.close(opened.id, "answered", "Grace", "Week 8.")
    store.note_delivery_problem(opened.id, "the student's thread was deleted")
    kept = store.get(opened.id)
    assert kept.delivery_problem == "the student's thread was deleted" and kept.answer == "Week 8."


def test_a_pseudonym_is_stable_per_course_and_differs_between_courses(database: Database) -> None:
    store, other_replica = EscalationStore(database), EscalationStore(database)
    ada = store.pseudonym("cs101", "discord:42")
    assert ada.startswith("Student ") and len(ada) == len("Student 4F2A9C")
    assert other_replica.pseudonym("cs101", "discord:42") == ada
    assert store.pseudonym("cs101", "discord:43") != ada
    assert store.pseudonym("cs202", "discord:42") != ada, "a student is not linkable across courses"


def test_the_digest_counts_a_period_escalations_and_ta_answers(database: Database) -> None:
    store = EscalationStore(database)
    answered = store.open(new(), now=1_700_000_000)
    store.open(new("Is there a Java track?"), now=1_700_000_100)
    dismissed = store.open(new("Where do I park?"), now=1_700_000_200)
    store.open(new("Other course", course="cs202"), now=1_700_000_300)
    store.close(answered.id, "answered", "Grace", "Week 8.", now=1_700_000_400)
    store.close(dismissed.id, "dismissed", "Grace", now=1_700_000_500)
    assert store.counted("cs101", 1_700_000_000, 1_700_001_000) == (3, 1)
    assert store.counted("cs101", 1_700_000_050, 1_700_000_450) == (2, 1), "escalated and answered each in its own window"
    assert store.counted("cs101", 1_800_000_000, 1_800_001_000) == (0, 0)


def test_replicas_racing_to_escalate_one_question_open_it_once_and_all_get_that_one(database: Database) -> None:
    url = database.engine.url.render_as_string(hide_password=False)
    replicas = [Database.open(url) for _ in range(6)]  # an engine each: a process each, one SQLite file or one server
    start = threading.Barrier(len(replicas))
    results: list[Opened] = []

    def escalate(replica: Database, n: int) -> None:
        asked = replace(new("Is the final open book?"), place=PLACE.model_copy(update={"link": f"https://discord.com/channels/1/2/{n}"}))
        start.wait()
        results.append(EscalationStore(replica).open_if_new(asked))

    try:
        racers = [threading.Thread(target=escalate, args=(replica, n)) for n, replica in enumerate(replicas)]
        for racer in racers:
            racer.start()
        for racer in racers:
            racer.join()
    finally:
        for replica in replicas:
            replica.close()
    assert len(results) == len(replicas)
    assert sorted(result.created for result in results) == [False] * (len(replicas) - 1) + [True], "one replica made it"
    assert len({result.escalation.id for result in results}) == 1, "every caller got the same escalation"
    with database.engine.connect() as db:
        assert db.execute(select(func.count()).select_from(escalations).where(escalations.c.question == "Is the final open book?")).scalar() == 1


def test_once_closed_the_same_question_can_be_escalated_again_and_another_thread_is_another_question(database: Database) -> None:
    store = EscalationStore(database)
    first = store.open_if_new(new())
    assert first.created and store.open_if_new(new()) == Opened(first.escalation, created=False)
    elsewhere = replace(new(), place=PLACE.model_copy(update={"channel": "1234567890123456780"}))
    assert store.open_if_new(elsewhere).created, "the same words from another thread are another student's question"
    assert store.open_if_new(new(course="cs202")).created, "and from another course"
    store.close(first.escalation.id, "dismissed", "Grace")
    again = store.open_if_new(new())
    assert again.created and again.escalation.id != first.escalation.id
    assert store.find("cs101", "When is the midterm?", PLACE).id == first.escalation.id, "`find` gives the first one ever"


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'old.sqlite'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")


def test_the_upgrade_keeps_the_oldest_of_duplicate_open_escalations_and_dismisses_the_others(empty_url: str) -> None:
    old = Database(_engine(_parse(empty_url)))
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with old.engine.begin() as db:  # a database of the release before: no one-open-row index
        config.attributes["connection"] = db
        command.upgrade(config, "0004")
    place = json.loads(PLACE.model_dump_json())

    def row(question: str, status: str, created_at: float, **place_update: str) -> dict[str, object]:
        return {"course": "cs101", "question": question, "context": "[]", "reason": "not covered", "place": json.dumps(place | place_update),
                "student": "Student 0A1B", "sources": "[]", "status": status, "created_at": created_at, "reposted": False}

    rows = [
        row("When is the midterm?", "open", 2_000, link="https://discord.com/channels/1/2/second"),  # two replicas opened it twice
        row("When is the midterm?", "open", 1_000),
        row("When is the midterm?", "open", 3_000, link="https://discord.com/channels/1/2/third"),
        row("When is the midterm?", "answered", 500),
        row("When is the midterm?", "open", 1_500, channel="1234567890123456780"),  # another thread: another question
        row("Is there a Java track?", "open", 1_200),
    ]
    with old.engine.begin() as db:
        ids = [db.execute(insert(escalations_0004).values(values).returning(escalations_0004.c.id)).scalar_one() for values in rows]
    old.close()

    upgraded = Database.open(empty_url)
    try:
        store = EscalationStore(upgraded)
        second, oldest, third, answered, other_thread, java = (store.get(i) for i in ids)
        assert oldest.status == "open" and answered.status == "answered" and other_thread.status == "open" and java.status == "open"
        for duplicate in (second, third):
            assert duplicate.status == "dismissed" and duplicate.answer is None, "dismissed without a note: no student is told"
            assert duplicate.answered_by == f"AI Mentor (a duplicate of escalation {oldest.id})"
        assert [e.id for e in store.open_ones()] == [oldest.id, java.id, other_thread.id]
        assert store.open_if_new(new()) == Opened(oldest, created=False), "the upgrade keys old rows as the code does"
        assert store.find("cs101", "When is the midterm?", PLACE).id == second.id, "`find` gives the first row made, in any state"
    finally:
        upgraded.close()


escalations_0004 = table(
    "escalations", *(column(name) for name in ("id", "course", "question", "context", "reason", "place", "student", "sources", "status", "created_at", "reposted"))
)
"""The escalations table as a release before the index wrote it."""
